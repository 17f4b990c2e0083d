//! Huntsman's session settings, carried as a DataFusion [`ConfigExtension`] so they travel
//! with every query from the client to the scheduler and the executors.
//!
//! Keys are `huntsman.<name>`; `SET huntsman.<name> = ...` works in SQL. The generated
//! reference is `docs/config.md` (see the `gen-docs` binary).

use std::any::Any;
use std::ops::{Deref, DerefMut};

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::extensions_options;

/// Prefix of every Huntsman session key.
pub const HUNTSMAN_PREFIX: &str = "huntsman";
/// Key of [`HuntsmanConfig::use_gpu`].
pub const HUNTSMAN_USE_GPU: &str = "huntsman.use_gpu";
/// Key of [`HuntsmanConfig::model_cache_entries`].
pub const HUNTSMAN_MODEL_CACHE_ENTRIES: &str = "huntsman.model_cache_entries";

/// Key of [`HuntsmanConfig::model_roots`].
pub const HUNTSMAN_MODEL_ROOTS: &str = "huntsman.model_roots";

/// Default of [`HuntsmanConfig::model_cache_entries`].
pub const DEFAULT_MODEL_CACHE_ENTRIES: usize = 64;

extensions_options! {
    /// Huntsman's session settings (prefix `huntsman`); registered on sessions as
    /// [`HuntsmanConfig`].
    pub struct HuntsmanSettings {
        /// Train and score the neural models (autoencoder, sequence model) on an NVIDIA
        /// GPU with burn-cuda (the original's `USE_GPU`). Needs a build with the `cuda`
        /// feature; otherwise the neural functions fail with a clear error when it is on.
        /// A `cuda` build without a usable device runs them on the CPU and logs a
        /// warning; see docs/gpu.md for the device settings.
        pub use_gpu: bool, default = false
        /// How many decoded models each process keeps in its scoring cache, keyed by
        /// model URI and checksum.
        pub model_cache_entries: usize, default = DEFAULT_MODEL_CACHE_ENTRIES
        /// Where scoring functions may read a model named by URI: a comma-separated list
        /// of local folders and `s3://` prefixes. The client sets it to its store
        /// (`BASE_S3_PATH`), the models folder a hunt reuses and every `--model-root`; a
        /// URI elsewhere, with a `..` component, naming something other than a regular
        /// file, or larger than 2 GiB is refused. Empty: every model URI is refused
        /// (models passed as bytes always work).
        pub model_roots: String, default = String::new()
    }
}

/// [`HuntsmanSettings`] as the session extension `huntsman`.
///
/// DataFusion 55 lists an extension's entries without its prefix (`use_gpu`, not
/// `huntsman.use_gpu`), and Ballista ships a session's settings to the scheduler and on to
/// the executors as exactly those entries: the receiving side cannot place a bare
/// `use_gpu` and drops it, so a macro-built extension never leaves the client. This
/// wrapper lists its entries as `huntsman.<name>`, which the scheduler and the executors
/// set on their own `huntsman` extension.
#[derive(Debug, Clone, Default)]
pub struct HuntsmanConfig(pub HuntsmanSettings);

impl Deref for HuntsmanConfig {
    type Target = HuntsmanSettings;

    fn deref(&self) -> &HuntsmanSettings {
        &self.0
    }
}

impl DerefMut for HuntsmanConfig {
    fn deref_mut(&mut self) -> &mut HuntsmanSettings {
        &mut self.0
    }
}

impl ExtensionOptions for HuntsmanConfig {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::common::Result<()> {
        self.0.set(key, value)
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.0
            .entries()
            .into_iter()
            .map(|e| ConfigEntry {
                key: format!("{HUNTSMAN_PREFIX}.{}", e.key),
                ..e
            })
            .collect()
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
            .map(|e| e.key)
            .collect();
        assert!(keys.contains(&HUNTSMAN_USE_GPU.to_string()), "{keys:?}");
        assert!(
            keys.contains(&HUNTSMAN_MODEL_CACHE_ENTRIES.to_string()),
            "{keys:?}"
        );
        assert!(keys.contains(&HUNTSMAN_MODEL_ROOTS.to_string()), "{keys:?}");
    }

    #[test]
    fn set_parses_typed_values_and_rejects_garbage() {
        let mut c = HuntsmanConfig::default();
        c.set("use_gpu", "true").expect("bool parses");
        assert!(c.use_gpu);
        assert!(c.set("model_cache_entries", "many").is_err());
    }

    /// Ballista ships `ConfigOptions::entries()` and sets each on the other side: the
    /// Huntsman keys must come out prefixed so that they land in the extension there.
    #[test]
    fn settings_survive_the_trip_through_session_entries() {
        use datafusion::config::ConfigOptions;
        let mut sent = ConfigOptions::new();
        sent.extensions.insert(HuntsmanConfig::default());
        sent.set(HUNTSMAN_MODEL_ROOTS, "/srv/store,s3://lake/m")
            .expect("set");
        sent.set(HUNTSMAN_USE_GPU, "true").expect("set");
        let mut received = ConfigOptions::new();
        received.extensions.insert(HuntsmanConfig::default());
        for entry in sent.entries() {
            // As Ballista does: a key the receiver cannot place is skipped.
            if let Some(value) = entry.value {
                let _ = received.set(&entry.key, &value);
            }
        }
        let got = received
            .extensions
            .get::<HuntsmanConfig>()
            .expect("extension");
        assert_eq!(got.model_roots, "/srv/store,s3://lake/m");
        assert!(got.use_gpu);
    }
}
