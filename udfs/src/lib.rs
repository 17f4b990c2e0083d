//! `huntsman-udfs`: every SQL function Huntsman adds, the models behind them, and the one
//! function that builds the session state of every Huntsman process.
//!
//! This crate owns pure compute and its SQL surface. It deliberately owns no command line,
//! no network server and no file layout: those belong to the client, the scheduler and the
//! executor binaries, which all build their sessions through [`session`].
//!
//! ```
//! use huntsman_udfs::session::{huntsman_session_config, huntsman_session_state};
//! let state = huntsman_session_state(huntsman_session_config()).unwrap();
//! assert!(state.scalar_functions().contains_key("is_private_ip"));
//! ```
#![warn(missing_docs)]

pub mod autoencoder;
pub mod config;
#[cfg(target_arch = "x86_64")]
mod cpu;
pub mod error;
pub mod event_sequence;
pub mod features;
pub mod fit;
#[doc(hidden)]
pub mod fuzzing;
mod groups;
pub mod iforest;
pub mod kmeans;
pub mod list_retry;
pub mod matrix;
pub mod model_fn;
pub mod model_io;
pub mod model_roots;
pub mod net;
pub mod neural;
pub mod normalize;
pub mod objstore;
mod parallel;
pub mod probe;
pub mod rhythm;
pub mod scoring;
pub mod sequence;
pub mod session;
pub mod sketch;
pub mod sparse;
pub mod timing;

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

pub use config::HuntsmanConfig;
pub use session::{
    huntsman_function_registry, huntsman_runtime_env, huntsman_session_config,
    huntsman_session_state, register_all, register_all_on_context,
};

/// Every scalar function Huntsman adds. This list and [`aggregate_functions`] are the only
/// registry: the client, the scheduler and the executors are all built from them.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        net::is_private_ip_udf(),
        rhythm::rhythm_p_value_udf(),
        normalize::normalize_path_udf(),
        normalize::admin_folder_udf(),
        features::tokenize_udf(),
        features::hash_tf_udf(),
        features::to_dense_udf(),
        features::tfidf_udf(),
        features::scale_udf(),
        features::category_index_udf(),
        kmeans::kmeans_assign_udf(),
        kmeans::kmeans_distance_udf(),
        kmeans::kmeans_outlier_udf(),
        iforest::iforest_score_udf(),
        autoencoder::autoencoder_score_udf(),
        sequence::seq_score_udf(),
    ]
}

/// Every aggregate function Huntsman adds.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        timing::inter_arrival_stats_udaf(),
        event_sequence::event_sequence_udaf(),
        features::idf_fit_udaf(),
        features::scaler_fit_udaf(),
        features::category_index_fit_udaf(),
        kmeans::kmeans_fit_udaf(),
        iforest::iforest_fit_udaf(),
        autoencoder::autoencoder_fit_udaf(),
        sequence::seq_fit_udaf(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn all_names() -> Vec<(String, bool)> {
        let mut names = Vec::new();
        for f in scalar_functions() {
            names.push((f.name().to_string(), f.documentation().is_some()));
            names.extend(f.aliases().iter().map(|a| (a.clone(), true)));
        }
        for f in aggregate_functions() {
            names.push((f.name().to_string(), f.documentation().is_some()));
            names.extend(f.aliases().iter().map(|a| (a.clone(), true)));
        }
        names
    }

    #[test]
    fn names_and_aliases_are_unique_ignoring_case() {
        let mut seen = HashSet::new();
        for (name, _) in all_names() {
            assert!(
                seen.insert(name.to_lowercase()),
                "duplicate function name {name}"
            );
        }
    }

    #[test]
    fn every_function_is_documented() {
        for (name, documented) in all_names() {
            assert!(documented, "{name} has no documentation()");
        }
    }
}
