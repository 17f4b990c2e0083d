//! Hunt 4 of HUNTS.md, `process-anomaly`: each process's time-ordered event sequence
//! scored by an LSTM next-event model, its activity and rarity by one isolation forest
//! over the whole data set; flagged on how few processes share its lineage (parent image >
//! image), weighted by the two models. The original's fusion with an image-rarity boost is
//! kept as evidence.

use super::runner::{HuntSpec, Step};

/// The hunt's name.
pub const NAME: &str = "process-anomaly";

/// ATT&CK: interpreters, user execution and masquerading: what a rare lineage often is.
const ATTACK: &[&str] = &["T1059", "T1204", "T1036"];

/// The hunt, declared.
pub const SPEC: HuntSpec = HuntSpec {
    name: NAME,
    columns: &[
        "event_created",
        "winlog_event_id",
        "winlog_channel",
        "winlog_computer_name",
        "winlog_event_data_processguid",
        "winlog_event_data_image",
        "winlog_event_data_commandline",
        "winlog_event_data_parentimage",
        "winlog_event_data_parentcommandline",
        "winlog_event_data_destinationip",
        "winlog_event_data_queryname",
    ],
    folder: "process-anomaly",
    files: &sql_files!(
        "process-anomaly",
        "01_processes",
        "02_rarity",
        "03_features",
        "04_fit_iforest",
        "05_fit_sequence",
        "06_score_sequences",
        "07_findings",
    ),
    aliases: &[],
    steps: &[
        Step::Table {
            phase: "processes",
            table: "pa_processes",
            file: "01_processes",
            empty: Some(
                "no Sysmon events with a process GUID (channel \
                 Microsoft-Windows-Sysmon/Operational) in the data",
            ),
        },
        Step::Table {
            phase: "rarity",
            table: "pa_rarity",
            file: "02_rarity",
            empty: None,
        },
        Step::Table {
            phase: "features",
            table: "pa_features",
            file: "03_features",
            empty: None,
        },
        Step::Fit {
            phase: "fit isolation forest",
            model: "iforest",
            placeholder: "IFOREST_MODEL",
            file: "04_fit_iforest",
        },
        Step::Fit {
            phase: "fit sequence model",
            model: "sequence",
            placeholder: "SEQUENCE_MODEL",
            file: "05_fit_sequence",
        },
        Step::Table {
            phase: "score sequences",
            table: "pa_sequence_scores",
            file: "06_score_sequences",
            empty: None,
        },
        Step::Findings {
            phase: "score and fuse",
            file: "07_findings",
        },
    ],
    entity: &["processguid"],
    score: "pa_score",
    display: &[
        "host",
        "image",
        "pa_score",
        "lineage_processes",
        "lineage_hosts",
        "behaviour",
        "seq_norm",
        "iforest",
        "rarity",
        "final_score",
        "image_zscore",
        "event_sequence",
        "commandline",
        "parent_image",
    ],
    attack: ATTACK,
};
