//! The one place that builds the DataFusion session every Huntsman process uses: the
//! client (embedded or remote), the scheduler's session builder and the executors'
//! function registry all come from here, so they cannot drift apart.

use std::path::Path;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
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
    let mut disks =
        DiskManagerBuilder::default().with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN);
    if let Some(dir) = spill_dir {
        disks = disks.with_mode(DiskManagerMode::Directories(vec![dir.to_path_buf()]));
    }
    RuntimeEnvBuilder::new()
        .with_object_store_registry(crate::objstore::registry())
        .with_disk_manager_builder(disks)
        .build_arc()
}

/// How many sorted spill files one merge pass reads at once. DataFusion's default (no
/// bound) lets a sort that spilled reserve one batch per spill file for its merge, as much
/// of the pool as it can get and none of it spillable: on the 20 M-event lab, with
/// `--memory-pool 1GiB`, two such merges held 770 MB and the process hunt's next sort
/// could not take its first batch. Eight files a pass bounds a merge to eight batches and
/// adds a pass only past eight spill files.
pub const SPILL_MERGE_FAN_IN: usize = 8;

/// The share of memory an executor's pool takes when no size is given: what Ballista's
/// executor process takes (the rest absorbs what operators do not count: batches in
/// flight, shuffle buffers, fragmentation).
pub const DEFAULT_MEMORY_POOL_FRACTION: f64 = 0.70;

/// The memory pool an executor's tasks share, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryPoolSize {
    /// Not configured: [`DEFAULT_MEMORY_POOL_FRACTION`] of the cgroup limit or of the
    /// host's memory, whichever is smaller; unbounded when neither can be read.
    Auto,
    /// `0`: no bound, nothing spills.
    Unbounded,
    /// A bound in bytes.
    Bytes(u64),
}

impl MemoryPoolSize {
    /// The setting of `--memory-pool` / `--memory-pool`-like options: absent is
    /// [`MemoryPoolSize::Auto`], `0` unbounded.
    pub fn from_option(bytes: Option<u64>) -> Self {
        match bytes {
            None => Self::Auto,
            Some(0) => Self::Unbounded,
            Some(n) => Self::Bytes(n),
        }
    }

    /// The pool's total size in bytes; `None` for no bound.
    pub fn resolve(self) -> Option<u64> {
        match self {
            Self::Bytes(n) => Some(n),
            Self::Unbounded => None,
            Self::Auto => {
                let limit = match (host_memory(), cgroup_memory_limit()) {
                    (Some(h), Some(c)) => Some(h.min(c)),
                    (h, c) => h.or(c),
                };
                limit.map(|l| (l as f64 * DEFAULT_MEMORY_POOL_FRACTION) as u64)
            }
        }
    }
}

/// Total memory from `/proc/meminfo`.
fn host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The cgroup (v2, then v1) memory limit of this process's container, if any.
fn cgroup_memory_limit() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok();
    read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
}

/// How a task's runtime gets its memory pool: from the executor's shared runtime, the
/// session's configuration and the task slots (vcores) the task takes.
pub type MemoryPoolPolicy = Arc<
    dyn Fn(Arc<RuntimeEnv>, &SessionConfig, u32) -> Result<Arc<RuntimeEnv>> + Send + Sync,
>;

/// How many of a task's largest memory consumers an out-of-memory error names.
const TRACKED_CONSUMERS: std::num::NonZeroUsize =
    std::num::NonZeroUsize::new(3).expect("3 > 0");

/// The memory-pool policy of every Huntsman executor, Ballista's executor process's
/// policy: a pool of `total` bytes split evenly over `vcores` task slots, each task
/// getting a fresh [`FairSpillPool`] of its slots' share (operators spill to the work
/// directory when it runs short), tracked so that running out names the top consumers.
/// `None`: the shared runtime's unbounded pool.
///
/// `huntsman-executor` hands the size resolved by [`MemoryPoolSize::resolve`] to
/// Ballista's executor process, which applies this same split (its own function is not
/// public); the embedded executor applies this one.
///
/// # Errors
/// A pool smaller than one byte per slot.
pub fn memory_pool_policy(total: Option<u64>, vcores: usize) -> Result<MemoryPoolPolicy> {
    let Some(total) = total else {
        return Ok(Arc::new(|base, _, _| Ok(base)));
    };
    let per_vcore = usize::try_from(total / vcores.max(1) as u64).unwrap_or(usize::MAX);
    if per_vcore == 0 {
        return Err(datafusion::error::DataFusionError::Configuration(format!(
            "memory pool of {total} bytes is smaller than one byte per task slot \
             ({vcores} slots)"
        )));
    }
    Ok(Arc::new(move |base, _config, vcores_consumed| {
        let size = per_vcore.saturating_mul(vcores_consumed.max(1) as usize);
        // Tracked, so that a query that runs out names what held the memory (the top
        // consumers and whether each could spill), not only the one that asked last.
        let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(size),
            TRACKED_CONSUMERS,
        ));
        RuntimeEnvBuilder::from_runtime_env(&base)
            .with_memory_pool(pool)
            .build_arc()
    }))
}

/// Parses a byte size such as `4GiB`, `512MiB`, `1.5GB` or `1048576` (`0`: unbounded,
/// where a memory pool is meant).
///
/// # Errors
/// A message naming the text that is not a size.
pub fn parse_byte_size(text: &str) -> std::result::Result<u64, String> {
    let bad =
        || format!("{text:?} is not a byte size (e.g. 1073741824, 512MiB, 4GiB, 1.5GB)");
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown size unit in {text:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let bytes = value * factor;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
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
    fn byte_sizes_parse_and_bad_ones_are_named() {
        assert_eq!(parse_byte_size("1024"), Ok(1024));
        assert_eq!(parse_byte_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_byte_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_byte_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_byte_size("0"), Ok(0));
        for bad in ["lots", "-1GiB", "1 parsec", "", "1e400"] {
            let err = parse_byte_size(bad).expect_err(bad);
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn pools_split_over_slots_and_zero_is_unbounded() {
        assert_eq!(MemoryPoolSize::from_option(Some(0)).resolve(), None);
        assert_eq!(MemoryPoolSize::from_option(Some(7)).resolve(), Some(7));
        if let Some(auto) = MemoryPoolSize::from_option(None).resolve() {
            assert!(auto > 0);
        }
        let base = RuntimeEnvBuilder::new().build_arc().expect("runtime");
        let policy = memory_pool_policy(Some(64 << 20), 4).expect("policy");
        let config = SessionConfig::new();
        let one = policy(base.clone(), &config, 1).expect("runtime");
        let two = policy(base.clone(), &config, 2).expect("runtime");
        use datafusion::execution::memory_pool::MemoryLimit;
        assert!(
            matches!(one.memory_pool.memory_limit(), MemoryLimit::Finite(n) if n == 16 << 20)
        );
        assert!(
            matches!(two.memory_pool.memory_limit(), MemoryLimit::Finite(n) if n == 32 << 20)
        );
        let unbounded = memory_pool_policy(None, 4).expect("policy");
        assert!(Arc::ptr_eq(
            &unbounded(base.clone(), &config, 1).expect("same"),
            &base
        ));
        assert!(memory_pool_policy(Some(3), 4).is_err());
    }

    /// A task that runs out of its pool names what held the memory, not only the
    /// consumer that asked last.
    #[test]
    fn running_out_of_a_task_pool_names_the_largest_consumers() {
        use datafusion::execution::memory_pool::MemoryConsumer;
        let base = RuntimeEnvBuilder::new().build_arc().expect("runtime");
        let policy = memory_pool_policy(Some(1 << 20), 1).expect("policy");
        let task = policy(base, &SessionConfig::new(), 1).expect("runtime");
        let hog = MemoryConsumer::new("HashJoinInput[3]").register(&task.memory_pool);
        hog.try_grow(900 << 10).expect("fits");
        let sorter = MemoryConsumer::new("ExternalSorter[0]")
            .with_can_spill(true)
            .register(&task.memory_pool);
        let err = sorter
            .try_grow(300 << 10)
            .expect_err("does not fit")
            .to_string();
        assert!(
            err.contains("HashJoinInput[3]") && err.contains("can spill: false"),
            "{err}"
        );
    }

    /// Operators spill into the directory given, and a merge of spill files reads at most
    /// [`SPILL_MERGE_FAN_IN`] of them at a time (in the executors' and the client's
    /// runtime alike).
    #[test]
    fn spills_go_to_the_work_directory_and_merges_are_bounded() {
        let dir =
            std::env::temp_dir().join(format!("huntsman-spill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("spill dir");
        let config = SessionConfig::new();
        let runtime = huntsman_runtime_env(&config, Some(&dir)).expect("runtime");
        assert_eq!(
            runtime.disk_manager.max_spill_merge_fan_in(),
            SPILL_MERGE_FAN_IN
        );
        let file = runtime
            .disk_manager
            .create_tmp_file("test")
            .expect("spill file");
        let made: Vec<String> = std::fs::read_dir(&dir)
            .expect("listed")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            made.iter().any(|n| n.starts_with("datafusion-")),
            "{made:?}"
        );
        drop(file);
        drop(runtime);
        let _ = std::fs::remove_dir_all(&dir);
        let client = huntsman_runtime_env(&config, None).expect("runtime");
        assert_eq!(
            client.disk_manager.max_spill_merge_fan_in(),
            SPILL_MERGE_FAN_IN
        );
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
