//! Huntsman's session settings, carried as a DataFusion [`ConfigExtension`] so they travel
//! with every query from the client to the scheduler and the executors.
//!
//! Keys are `huntsman.<name>`; `SET huntsman.<name> = ...` works in SQL. The generated
//! reference is `docs/config.md` (see the `gen-docs` binary).

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

/// Prefix of every Huntsman session key.
pub const HUNTSMAN_PREFIX: &str = "huntsman";
/// Key of [`HuntsmanConfig::use_gpu`].
pub const HUNTSMAN_USE_GPU: &str = "huntsman.use_gpu";
/// Key of [`HuntsmanConfig::model_cache_entries`].
pub const HUNTSMAN_MODEL_CACHE_ENTRIES: &str = "huntsman.model_cache_entries";

/// Default of [`HuntsmanConfig::model_cache_entries`].
pub const DEFAULT_MODEL_CACHE_ENTRIES: usize = 64;

extensions_options! {
    /// Huntsman's session settings (prefix `huntsman`).
    pub struct HuntsmanConfig {
        /// Train and score the neural models (autoencoder, sequence model) on an NVIDIA
        /// GPU with burn-cuda (the original's `USE_GPU`). Needs a build with the `cuda`
        /// feature; otherwise the neural functions fail with a clear error when it is on.
        /// A `cuda` build without a usable device runs them on the CPU and logs a
        /// warning; see docs/gpu.md for the device settings.
        pub use_gpu: bool, default = false
        /// How many decoded models each process keeps in its scoring cache, keyed by
        /// model URI and checksum.
        pub model_cache_entries: usize, default = DEFAULT_MODEL_CACHE_ENTRIES
    }
}

impl ConfigExtension for HuntsmanConfig {
    const PREFIX: &'static str = HUNTSMAN_PREFIX;
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::config::ExtensionOptions;

    #[test]
    fn keys_match_constants() {
        let keys: Vec<String> = HuntsmanConfig::default()
            .entries()
            .into_iter()
            .map(|e| format!("{HUNTSMAN_PREFIX}.{}", e.key))
            .collect();
        assert!(keys.contains(&HUNTSMAN_USE_GPU.to_string()), "{keys:?}");
        assert!(
            keys.contains(&HUNTSMAN_MODEL_CACHE_ENTRIES.to_string()),
            "{keys:?}"
        );
    }

    #[test]
    fn set_parses_typed_values_and_rejects_garbage() {
        let mut c = HuntsmanConfig::default();
        c.set("use_gpu", "true").expect("bool parses");
        assert!(c.use_gpu);
        assert!(c.set("model_cache_entries", "many").is_err());
    }
}
