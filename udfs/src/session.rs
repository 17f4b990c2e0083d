//! The one place that builds the DataFusion session every Huntsman process uses: the
//! client (embedded or remote), the scheduler's session builder and the executors'
//! function registry all come from here, so they cannot drift apart.

use std::path::Path;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::config::HuntsmanConfig;
use crate::{aggregate_functions, scalar_functions};

/// The session configuration of every Huntsman process: Ballista's settings, the
/// information schema (`SHOW COLUMNS`) and the `huntsman.*` extension.
///
/// Usable as Ballista's `ConfigProducer`.
pub fn huntsman_session_config() -> SessionConfig {
    let mut config = SessionConfig::new_with_ballista()
        .with_information_schema(true)
        .with_option_extension(HuntsmanConfig::default());
    // Ballista 55's adaptive planner re-plans a job forever when a stage's output is
    // empty (an empty join side: "stages to be cancelled but its not implemented", then
    // thousands of new stages), and it does not cover executor failure. Huntsman's hunts
    // routinely join empty evidence tables, so the static planner is used.
    if let Err(e) = config
        .options_mut()
        .set("ballista.planner.adaptive.enabled", "false")
    {
        tracing::warn!("cannot turn Ballista's adaptive planner off: {e}");
    }
    config
}

/// The runtime environment (object stores, spill directory) for a session. Object-store
/// URLs resolve through [`crate::objstore::registry`], built from this process's own
/// environment.
///
/// `spill_dir` is where operators spill when memory runs short; the executors pass their
/// work directory, other processes the system temp directory.
///
/// # Errors
/// Fails when the runtime cannot be built (for example an unusable spill directory).
pub fn huntsman_runtime_env(
    _config: &SessionConfig,
    spill_dir: Option<&Path>,
) -> Result<Arc<RuntimeEnv>> {
    let mut builder =
        RuntimeEnvBuilder::new().with_object_store_registry(crate::objstore::registry());
    if let Some(dir) = spill_dir {
        builder = builder.with_temp_file_path(dir);
    }
    builder.build_arc()
}

/// A session state with DataFusion's default functions plus every Huntsman function.
///
/// Usable as the scheduler's `SessionBuilder`.
///
/// # Errors
/// Fails when the runtime environment cannot be built.
pub fn huntsman_session_state(config: SessionConfig) -> Result<SessionState> {
    let runtime = huntsman_runtime_env(&config, None)?;
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    // Register one by one: `with_scalar_functions` would replace the default list.
    register_all(&mut state)?;
    Ok(state)
}

/// Registers every Huntsman function on a registry (a `SessionState`, for example).
///
/// # Errors
/// Propagates the registry's error.
pub fn register_all(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for udf in scalar_functions() {
        registry.register_udf(udf)?;
    }
    for udaf in aggregate_functions() {
        registry.register_udaf(udaf)?;
    }
    Ok(())
}

/// Registers every Huntsman function on a context. Ballista's `standalone_with_state` and
/// `remote_with_state` replace the function lists of the state they are given, so the
/// client calls this on the context they return.
pub fn register_all_on_context(ctx: &SessionContext) {
    for udf in scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
}

/// The function registry the executors decode task plans with: DataFusion's defaults
/// (nested functions included) plus every Huntsman function.
///
/// # Errors
/// Fails when the session state cannot be built.
pub fn huntsman_function_registry() -> Result<BallistaFunctionRegistry> {
    let state = huntsman_session_state(huntsman_session_config())?;
    Ok(BallistaFunctionRegistry::from(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_process_sees_every_function() {
        let registry = huntsman_function_registry().expect("registry builds");
        for f in scalar_functions() {
            assert!(
                registry.scalar_functions.contains_key(f.name()),
                "{}",
                f.name()
            );
        }
        for f in aggregate_functions() {
            assert!(
                registry.aggregate_functions.contains_key(f.name()),
                "{}",
                f.name()
            );
        }
        // DataFusion's nested functions must survive (Ballista's default registry lacks
        // them).
        assert!(registry.scalar_functions.contains_key("make_array"));
    }

    #[test]
    fn config_carries_the_huntsman_extension() {
        let config = huntsman_session_config();
        assert!(
            config
                .options()
                .extensions
                .get::<HuntsmanConfig>()
                .is_some()
        );
    }
}
