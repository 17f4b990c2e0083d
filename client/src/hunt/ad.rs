//! Hunts 1 and 2 of HUNTS.md: AD enumeration per (account, week), by k-means over TF-IDF
//! of the week's LDAP queries (`ad-enum-kmeans`) and by a dense autoencoder over their
//! hashed term counts (`ad-enum-autoencoder`). Both share the week bucketing and the
//! evidence (the week's most frequent queries).

use super::runner::{HuntSpec, Step};

/// Name of the k-means hunt.
pub const KMEANS: &str = "ad-enum-kmeans";
/// Name of the autoencoder hunt.
pub const AUTOENCODER: &str = "ad-enum-autoencoder";

const COLUMNS: &[&str] = &[
    "event_created",
    "event_code",
    "winlog_event_id",
    "winlog_user_name",
    "winlog_event_data_param2",
];

const SHARED: [Step; 3] = [
    Step::Value {
        phase: "earliest event",
        placeholder: "EARLIEST_NS",
        file: "01_earliest",
    },
    Step::Table {
        phase: "user weeks",
        table: "ad_user_weeks",
        file: "02_user_weeks",
        empty: Some(
            "no LDAP searches (Directory Service event 1644 with a user and a query in \
             param2) in the data",
        ),
    },
    Step::Table {
        phase: "top queries",
        table: "ad_top_queries",
        file: "03_top_queries",
        empty: None,
    },
];

/// ATT&CK: domain account and group discovery, trust and remote system discovery over LDAP.
const ATTACK: &[&str] = &["T1087.002", "T1069.002", "T1482", "T1018"];

/// `ad-enum-kmeans`, declared.
pub const KMEANS_SPEC: HuntSpec = HuntSpec {
    name: KMEANS,
    columns: COLUMNS,
    folder: "ad-enum",
    files: &sql_files!(
        "ad-enum",
        "01_earliest",
        "02_user_weeks",
        "03_top_queries",
        "kmeans_04_fit_idf",
        "kmeans_05_features",
        "kmeans_06_fit_scaler",
        "kmeans_07_effective_k",
        "kmeans_08_fit_kmeans",
        "kmeans_09_findings",
    ),
    aliases: &[("TF_DIM", "AD_TFIDF_NUM_FEATURES")],
    steps: &[
        SHARED[0],
        SHARED[1],
        SHARED[2],
        Step::Fit {
            phase: "fit idf",
            model: "idf",
            placeholder: "IDF_MODEL",
            file: "kmeans_04_fit_idf",
        },
        Step::Table {
            phase: "features",
            table: "ad_features",
            file: "kmeans_05_features",
            empty: None,
        },
        Step::Fit {
            phase: "fit scaler",
            model: "scaler",
            placeholder: "SCALER_MODEL",
            file: "kmeans_06_fit_scaler",
        },
        Step::Value {
            phase: "effective k",
            placeholder: "EFFECTIVE_K",
            file: "kmeans_07_effective_k",
        },
        Step::Fit {
            phase: "fit k-means",
            model: "kmeans",
            placeholder: "KMEANS_MODEL",
            file: "kmeans_08_fit_kmeans",
        },
        Step::Findings {
            phase: "score and explain",
            file: "kmeans_09_findings",
        },
    ],
    entity: &["user", "week"],
    score: "ad_score",
    display: &[
        "user",
        "week",
        "queries",
        "distinct_queries",
        "cluster",
        "cluster_size",
        "distance",
        "outlier",
        "ad_score",
        "persistent",
        "top_queries",
    ],
    attack: ATTACK,
};

/// `ad-enum-autoencoder`, declared.
pub const AUTOENCODER_SPEC: HuntSpec = HuntSpec {
    name: AUTOENCODER,
    columns: COLUMNS,
    folder: "ad-enum",
    files: &sql_files!(
        "ad-enum",
        "01_earliest",
        "02_user_weeks",
        "03_top_queries",
        "autoencoder_04_features",
        "autoencoder_05_fit_scaler",
        "autoencoder_06_fit_autoencoder",
        "autoencoder_07_findings",
    ),
    aliases: &[("TF_DIM", "AD_DL_TFIDF_NUM_FEATURES")],
    steps: &[
        SHARED[0],
        SHARED[1],
        SHARED[2],
        Step::Table {
            phase: "features",
            table: "ad_features",
            file: "autoencoder_04_features",
            empty: None,
        },
        Step::Fit {
            phase: "fit scaler",
            model: "scaler",
            placeholder: "SCALER_MODEL",
            file: "autoencoder_05_fit_scaler",
        },
        Step::Fit {
            phase: "fit autoencoder",
            model: "autoencoder",
            placeholder: "AUTOENCODER_MODEL",
            file: "autoencoder_06_fit_autoencoder",
        },
        Step::Findings {
            phase: "score and explain",
            file: "autoencoder_07_findings",
        },
    ],
    entity: &["user", "week"],
    score: "mse",
    display: &[
        "user",
        "week",
        "queries",
        "distinct_queries",
        "mse",
        "top_queries",
    ],
    attack: ATTACK,
};
