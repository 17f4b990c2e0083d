//! Hunt 3 of HUNTS.md, `c2-beacon`: regular outbound connections per (process,
//! destination), scored by k-means distance over timing features and an autoencoder over
//! timing plus context, fused into one beacon score.

use super::runner::{HuntSpec, Step};

/// The hunt's name.
pub const NAME: &str = "c2-beacon";

/// ATT&CK: command and control over an application-layer or other protocol.
const ATTACK: &[&str] = &["T1071", "T1095"];

/// The hunt, declared.
pub const SPEC: HuntSpec = HuntSpec {
    name: NAME,
    columns: &[
        "event_created",
        "winlog_event_id",
        "winlog_computer_name",
        "winlog_event_data_processguid",
        "winlog_event_data_image",
        "winlog_event_data_parentimage",
        "winlog_event_data_commandline",
        "winlog_event_data_parentcommandline",
        "winlog_event_data_sourceip",
        "winlog_event_data_destinationip",
        "winlog_event_data_destinationport",
        "winlog_event_data_destinationportname",
        "winlog_event_data_destinationhostname",
        "winlog_event_data_initiated",
        "winlog_event_data_queryname",
    ],
    folder: "c2-beacon",
    files: &sql_files!(
        "c2-beacon",
        "01_entities",
        "02_fit_image_index",
        "03_fit_parent_index",
        "04_fit_portname_index",
        "05_features",
        "06_effective_k",
        "07_fit_timing_scaler",
        "08_fit_kmeans",
        "09_fit_context_scaler",
        "10_fit_autoencoder",
        "11_score",
        "12_findings",
    ),
    aliases: &[],
    steps: &[
        Step::Table {
            phase: "entities",
            table: "c2_entities",
            file: "01_entities",
            empty: Some(
                "no process made C2_MIN_CONNECTIONS or more outbound connections \
                 (Sysmon 3, initiated) in the data",
            ),
        },
        Step::Fit {
            phase: "fit image index",
            model: "image_index",
            placeholder: "IMAGE_INDEX",
            file: "02_fit_image_index",
        },
        Step::Fit {
            phase: "fit parent index",
            model: "parent_index",
            placeholder: "PARENT_INDEX",
            file: "03_fit_parent_index",
        },
        Step::Fit {
            phase: "fit port-name index",
            model: "portname_index",
            placeholder: "PORTNAME_INDEX",
            file: "04_fit_portname_index",
        },
        Step::Table {
            phase: "features",
            table: "c2_features",
            file: "05_features",
            empty: None,
        },
        Step::Value {
            phase: "effective k",
            placeholder: "EFFECTIVE_K",
            file: "06_effective_k",
        },
        Step::Fit {
            phase: "fit timing scaler",
            model: "timing_scaler",
            placeholder: "TIMING_SCALER",
            file: "07_fit_timing_scaler",
        },
        Step::Fit {
            phase: "fit k-means",
            model: "kmeans",
            placeholder: "KMEANS_MODEL",
            file: "08_fit_kmeans",
        },
        Step::Fit {
            phase: "fit context scaler",
            model: "context_scaler",
            placeholder: "CONTEXT_SCALER",
            file: "09_fit_context_scaler",
        },
        Step::Fit {
            phase: "fit autoencoder",
            model: "autoencoder",
            placeholder: "AUTOENCODER_MODEL",
            file: "10_fit_autoencoder",
        },
        Step::Table {
            phase: "score",
            table: "c2_scored",
            file: "11_score",
            empty: None,
        },
        Step::Findings {
            phase: "findings",
            file: "12_findings",
        },
    ],
    entity: &["processguid", "destinationip", "destinationport"],
    score: "c2_score",
    display: &[
        "host",
        "image",
        "destinationip",
        "destinationport",
        "connections",
        "mean_s",
        "cv",
        "regularity",
        "pair_hosts",
        "destination_hosts",
        "beacon_score",
        "c2_score",
        "dns_names",
        "commandline",
        "parent_image",
    ],
    attack: ATTACK,
};
