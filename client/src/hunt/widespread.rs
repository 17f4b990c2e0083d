//! Hunt 5 of HUNTS.md, `widespread-attack`: internal sources that reach many hosts in a
//! sliding window (blast radius), correlated with anomalous actions on those hosts in the
//! same window, judged by an autoencoder over TF-IDF of the actions' text.

use super::runner::{HuntSpec, Step};

/// The hunt's name.
pub const NAME: &str = "widespread-attack";

/// The hunt, declared.
pub const SPEC: HuntSpec = HuntSpec {
    name: NAME,
    columns: &[
        "event_created",
        "winlog_event_id",
        "winlog_computer_name",
        "winlog_event_data_processguid",
        "winlog_event_data_image",
        "winlog_event_data_commandline",
        "winlog_event_data_parentcommandline",
        "winlog_event_data_targetfilename",
        "winlog_event_data_sourceip",
        "winlog_event_data_destinationip",
        "winlog_event_data_initiated",
        "winlog_event_data_queryname",
        "winlog_event_data_queryresults",
    ],
    folder: "widespread-attack",
    files: &sql_files!(
        "widespread-attack",
        "01_windows",
        "02_hosts",
        "03_actions",
        "04_sample_size",
        "05_fit_idf",
        "06_fit_autoencoder",
        "07_anomalous",
        "08_attribution",
        "09_findings",
    ),
    aliases: &[],
    steps: &[
        Step::Table {
            phase: "windows and blast radius",
            table: "ws_windows",
            file: "01_windows",
            empty: Some(
                "no internal source connected to WS_VICTIM_MIN_COUNT or more private hosts \
                 within one window (Sysmon 3, private source and destination)",
            ),
        },
        Step::Table {
            phase: "host addresses",
            table: "ws_hosts",
            file: "02_hosts",
            empty: None,
        },
        Step::Table {
            phase: "actions on victims",
            table: "ws_actions",
            file: "03_actions",
            empty: Some(
                "no process or file creations (Sysmon 1, 11) on the hosts that were reached",
            ),
        },
        Step::Value {
            phase: "training sample",
            placeholder: "SAMPLE_CUT",
            file: "04_sample_size",
        },
        Step::Fit {
            phase: "fit idf",
            model: "idf",
            placeholder: "IDF_MODEL",
            file: "05_fit_idf",
        },
        Step::Fit {
            phase: "fit autoencoder",
            model: "autoencoder",
            placeholder: "AUTOENCODER_MODEL",
            file: "06_fit_autoencoder",
        },
        Step::Table {
            phase: "anomalous actions",
            table: "ws_anomalous",
            file: "07_anomalous",
            empty: None,
        },
        Step::Table {
            phase: "attribution",
            table: "ws_attributed",
            file: "08_attribution",
            empty: None,
        },
        Step::Findings {
            phase: "campaigns",
            file: "09_findings",
        },
    ],
    entity: &["sourceip"],
    score: "campaign_score",
    display: &[
        "sourceip",
        "source_host",
        "windows",
        "max_victims",
        "anomalous_windows",
        "targets",
        "anomalous_actions",
        "anomalous_commands",
        "campaign_score",
        "target_hosts",
        "top_actions",
    ],
};
