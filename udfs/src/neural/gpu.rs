//! GPU devices for the neural models: the settings that pick them, the one probe of the
//! CUDA driver per process, the bound on concurrent work per device, and the fall back
//! to the CPU when no device is usable.
//!
//! - **Settings** ([`GpuSettings`]): which CUDA devices to use (`HUNTSMAN_GPU_DEVICES`,
//!   `--gpu-devices 0,1` on the executor; default every device the driver reports) and
//!   how many model calls may use one device at a time (`HUNTSMAN_GPU_TASKS_PER_DEVICE`,
//!   default 1).
//! - **Probe** ([`probe_cuda`]): asks the CUDA driver how many devices it has, once per
//!   process, without panicking when there is no driver.
//! - **Runtime** ([`GpuRuntime`], one per process in a [`OnceLock`]): the probe's answer
//!   and, when devices were found, the [`GpuPool`] of their permits. The executor builds
//!   it at start-up ([`init_gpu`]); otherwise the first GPU request builds it from the
//!   environment ([`gpu_runtime`]).
//! - **Placement** ([`super::place`]): a model call that asks for the GPU takes a permit
//!   on the least busy allowed device, waiting while every device is at its bound, and
//!   holds it until its device work is done. A `cuda` build whose probe found no device
//!   runs the call on the CPU and logs a warning once ([`Route::CpuFallback`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use burn::tensor::Device;

use super::{Accelerator, NeuralError, gpu_supported};

/// Environment variable of [`GpuSettings::devices`].
pub const GPU_DEVICES_ENV: &str = "HUNTSMAN_GPU_DEVICES";
/// Environment variable of [`GpuSettings::tasks_per_device`].
pub const GPU_TASKS_PER_DEVICE_ENV: &str = "HUNTSMAN_GPU_TASKS_PER_DEVICE";
/// Largest accepted [`GpuSettings::tasks_per_device`].
pub const MAX_TASKS_PER_DEVICE: usize = 1024;

/// A GPU setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuSettingsError {
    /// The device list is not a list of indices.
    #[error(
        "invalid GPU device list {value:?}: expected device indices separated by commas \
         (such as 0,1) or `all`"
    )]
    Devices {
        /// The text given.
        value: String,
    },
    /// A device is listed twice.
    #[error("invalid GPU device list {value:?}: device {index} is listed twice")]
    DuplicateDevice {
        /// The text given.
        value: String,
        /// The repeated index.
        index: usize,
    },
    /// The tasks per device is not a number in range.
    #[error(
        "invalid GPU tasks per device {value:?}: expected a whole number from 1 to \
         {MAX_TASKS_PER_DEVICE}"
    )]
    TasksPerDevice {
        /// The text given.
        value: String,
    },
    /// A listed device is not one the driver reports.
    #[error(
        "GPU device {index} is not present: the CUDA driver reports {found} device(s), \
         numbered from 0 (check HUNTSMAN_GPU_DEVICES / --gpu-devices)"
    )]
    UnknownDevice {
        /// The listed index.
        index: usize,
        /// Devices the driver reports.
        found: usize,
    },
}

/// Which GPUs the neural models may use and how many calls share one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuSettings {
    /// CUDA device indices; `None`: every device the driver reports.
    pub devices: Option<Vec<usize>>,
    /// Model calls that may run on one device at a time (at least 1). Each call holds
    /// its network, a batch and their activations in device memory, so this bounds the
    /// device memory the executor's task slots can claim together.
    pub tasks_per_device: usize,
}

impl Default for GpuSettings {
    fn default() -> Self {
        Self {
            devices: None,
            tasks_per_device: 1,
        }
    }
}

impl GpuSettings {
    /// Settings from the texts of [`GPU_DEVICES_ENV`] and [`GPU_TASKS_PER_DEVICE_ENV`]
    /// (or the executor's flags); `None` or blank keeps the default.
    ///
    /// # Errors
    /// Names the value that is not a device list or not a count.
    pub fn parse(
        devices: Option<&str>,
        tasks_per_device: Option<&str>,
    ) -> Result<Self, GpuSettingsError> {
        let devices = match devices {
            Some(text) => parse_gpu_devices(text)?,
            None => None,
        };
        let tasks_per_device = match tasks_per_device.map(str::trim) {
            None | Some("") => 1,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_TASKS_PER_DEVICE).contains(&n) => n,
                _ => {
                    return Err(GpuSettingsError::TasksPerDevice {
                        value: text.to_string(),
                    });
                }
            },
        };
        Ok(Self {
            devices,
            tasks_per_device,
        })
    }

    /// Settings from the environment.
    ///
    /// # Errors
    /// As [`GpuSettings::parse`].
    pub fn from_env() -> Result<Self, GpuSettingsError> {
        let devices = std::env::var(GPU_DEVICES_ENV).ok();
        let tasks = std::env::var(GPU_TASKS_PER_DEVICE_ENV).ok();
        Self::parse(devices.as_deref(), tasks.as_deref())
    }
}

/// Parses a device list such as `0,1`; blank or `all` means every device (`None`).
///
/// # Errors
/// Names the text when an entry is not an index or an index is repeated.
pub fn parse_gpu_devices(text: &str) -> Result<Option<Vec<usize>>, GpuSettingsError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let mut out = Vec::new();
    for part in trimmed.split(',') {
        let index: usize =
            part.trim().parse().map_err(|_| GpuSettingsError::Devices {
                value: text.to_string(),
            })?;
        if out.contains(&index) {
            return Err(GpuSettingsError::DuplicateDevice {
                value: text.to_string(),
                index,
            });
        }
        out.push(index);
    }
    Ok(Some(out))
}

/// What the probe of the CUDA driver found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuProbe {
    /// This build has no GPU support (no `cuda` feature); nothing was probed.
    NotCompiled,
    /// No usable device: no driver, a driver that failed to start, or no device.
    Unavailable(String),
    /// The driver reports this many devices (at least one).
    Devices(usize),
}

/// Asks the CUDA driver how many devices it has. Never panics: a missing driver (which
/// cudarc reports by panicking) is [`GpuProbe::Unavailable`] with the reason.
pub fn probe_cuda() -> GpuProbe {
    probe_driver()
}

#[cfg(feature = "cuda")]
fn probe_driver() -> GpuProbe {
    match catch_quietly(cudarc::driver::CudaContext::device_count) {
        Ok(Ok(n)) if n > 0 => GpuProbe::Devices(n as usize),
        Ok(Ok(_)) => GpuProbe::Unavailable("the CUDA driver reports no device".into()),
        Ok(Err(e)) => {
            GpuProbe::Unavailable(format!("the CUDA driver failed to start: {e}"))
        }
        Err(reason) => GpuProbe::Unavailable(format!(
            "the CUDA driver could not be loaded: {reason}"
        )),
    }
}

#[cfg(not(feature = "cuda"))]
fn probe_driver() -> GpuProbe {
    GpuProbe::NotCompiled
}

/// The panic hook type of the standard library.
type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Runs `f`, turning a panic into its message. The panic is not printed: while `f` runs
/// the panic hook skips this thread's panics (others still reach the previous hook), so a
/// missing driver does not put a panic report in the log above the warning that explains
/// it.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Mutex<()> = Mutex::new(());
    let _swap = HOOK.lock().unwrap_or_else(PoisonError::into_inner);
    let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
    let me = std::thread::current().id();
    let others = Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != me {
            others(info);
        }
    }));
    let result = catch_unwind(AssertUnwindSafe(f));
    // Dropping the quiet hook drops its clone of `previous`.
    drop(std::panic::take_hook());
    match Arc::try_unwrap(previous) {
        Ok(hook) => std::panic::set_hook(hook),
        Err(shared) => std::panic::set_hook(Box::new(move |info| shared(info))),
    }
    result.map_err(|panic| super::panic_message(panic.as_ref()))
}

/// Permits for model calls on the allowed devices: at most `tasks_per_device` calls hold
/// one device at a time. One mutex guards every device's count, so picking the least
/// busy device and taking its permit is one step.
#[derive(Clone)]
pub struct GpuPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    ordinals: Vec<usize>,
    per_device: usize,
    busy: Mutex<Vec<usize>>,
    freed: Condvar,
    device_of: fn(usize) -> Device,
}

impl std::fmt::Debug for GpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuPool")
            .field("ordinals", &self.inner.ordinals)
            .field("per_device", &self.inner.per_device)
            .field("busy", &self.busy())
            .finish()
    }
}

impl GpuPool {
    /// A pool over devices `ordinals` (non-empty), `per_device` permits each, whose
    /// burn device for an ordinal is `device_of(ordinal)`.
    pub(crate) fn new(
        ordinals: Vec<usize>,
        per_device: usize,
        device_of: fn(usize) -> Device,
    ) -> Self {
        let busy = vec![0; ordinals.len()];
        Self {
            inner: Arc::new(PoolInner {
                ordinals,
                per_device: per_device.max(1),
                busy: Mutex::new(busy),
                freed: Condvar::new(),
                device_of,
            }),
        }
    }

    /// The CUDA indices of the allowed devices.
    pub fn ordinals(&self) -> &[usize] {
        &self.inner.ordinals
    }

    /// Permits per device.
    pub fn tasks_per_device(&self) -> usize {
        self.inner.per_device
    }

    /// Permits held now, per device (in [`GpuPool::ordinals`] order).
    pub fn busy(&self) -> Vec<usize> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<usize>> {
        self.inner
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a permit on the least busy device (the lowest index among equals), waiting
    /// while every device is at its bound.
    pub fn acquire(&self) -> DevicePermit {
        let mut busy = self.lock();
        loop {
            if let Some(permit) = self.take(&mut busy) {
                return permit;
            }
            busy = self
                .inner
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A permit if one is free now.
    pub fn try_acquire(&self) -> Option<DevicePermit> {
        let mut busy = self.lock();
        self.take(&mut busy)
    }

    fn take(&self, busy: &mut [usize]) -> Option<DevicePermit> {
        let slot = busy
            .iter()
            .enumerate()
            .filter(|(_, n)| **n < self.inner.per_device)
            .min_by_key(|(_, n)| **n)
            .map(|(slot, _)| slot)?;
        busy[slot] += 1;
        Some(DevicePermit {
            pool: self.clone(),
            slot,
        })
    }
}

/// The right to run model work on one device, returned to its pool when dropped.
pub struct DevicePermit {
    pool: GpuPool,
    slot: usize,
}

impl std::fmt::Debug for DevicePermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicePermit")
            .field("ordinal", &self.ordinal())
            .finish()
    }
}

impl DevicePermit {
    /// The CUDA index of the device.
    pub fn ordinal(&self) -> usize {
        self.pool.inner.ordinals[self.slot]
    }

    /// The burn device.
    pub fn device(&self) -> Device {
        (self.pool.inner.device_of)(self.ordinal())
    }
}

impl Drop for DevicePermit {
    fn drop(&mut self) {
        let mut busy = self.pool.lock();
        busy[self.slot] = busy[self.slot].saturating_sub(1);
        drop(busy);
        self.pool.inner.freed.notify_all();
    }
}

/// The GPU state of a process: the settings, what the probe found, and the device
/// permits when it found devices.
#[derive(Debug)]
pub struct GpuRuntime {
    settings: GpuSettings,
    probe: GpuProbe,
    pool: Option<GpuPool>,
}

impl GpuRuntime {
    /// The runtime for `settings` given what `probe` found; the burn device of an index is
    /// the CUDA device.
    ///
    /// # Errors
    /// [`GpuSettingsError::UnknownDevice`] when the settings list a device the probe did
    /// not find.
    pub fn new(settings: GpuSettings, probe: GpuProbe) -> Result<Self, GpuSettingsError> {
        Self::with_devices(settings, probe, cuda_device)
    }

    /// [`GpuRuntime::new`] with another burn device per index (tests run the GPU code
    /// paths on the CPU backend this way).
    pub(crate) fn with_devices(
        settings: GpuSettings,
        probe: GpuProbe,
        device_of: fn(usize) -> Device,
    ) -> Result<Self, GpuSettingsError> {
        let pool = match &probe {
            GpuProbe::Devices(found) => {
                let ordinals = match &settings.devices {
                    Some(list) => {
                        if let Some(&index) = list.iter().find(|&&i| i >= *found) {
                            return Err(GpuSettingsError::UnknownDevice {
                                index,
                                found: *found,
                            });
                        }
                        list.clone()
                    }
                    None => (0..*found).collect(),
                };
                (!ordinals.is_empty())
                    .then(|| GpuPool::new(ordinals, settings.tasks_per_device, device_of))
            }
            GpuProbe::NotCompiled | GpuProbe::Unavailable(_) => None,
        };
        Ok(Self {
            settings,
            probe,
            pool,
        })
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &GpuSettings {
        &self.settings
    }

    /// What the probe found.
    pub fn probe(&self) -> &GpuProbe {
        &self.probe
    }

    /// The device permits, when the probe found devices.
    pub fn pool(&self) -> Option<&GpuPool> {
        self.pool.as_ref()
    }

    /// Where GPU work runs, in one line (for logs and `/readyz`).
    pub fn describe(&self) -> String {
        match (&self.probe, &self.pool) {
            (_, Some(pool)) => {
                let list: Vec<String> =
                    pool.ordinals().iter().map(ToString::to_string).collect();
                let per = pool.tasks_per_device();
                format!(
                    "GPU (CUDA device{} {}; {per} task{} per device)",
                    if list.len() == 1 { "" } else { "s" },
                    list.join(","),
                    if per == 1 { "" } else { "s" },
                )
            }
            (GpuProbe::NotCompiled, None) => {
                "CPU (NdArray): this build has no GPU support (no `cuda` feature)".into()
            }
            (GpuProbe::Unavailable(reason), None) => {
                format!("CPU (NdArray), fallen back from the GPU: {reason}")
            }
            (GpuProbe::Devices(_), None) => "CPU (NdArray): no GPU device allowed".into(),
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(ordinal: usize) -> Device {
    Device::cuda(ordinal)
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_ordinal: usize) -> Device {
    // Unreachable: without the feature the probe is `NotCompiled` and no pool is built.
    super::cpu_device()
}

/// Where a model call runs.
#[derive(Debug)]
pub enum Route<'a> {
    /// On the CPU, as asked.
    Cpu,
    /// On a device of this pool.
    Gpu(&'a GpuPool),
    /// On the CPU although the GPU was asked for: a `cuda` build with no usable device.
    CpuFallback {
        /// Why no device is usable.
        reason: String,
    },
}

/// Where a call that asks for `requested` runs in a process whose GPU state is
/// `runtime`.
///
/// # Errors
/// [`NeuralError::NoGpuSupport`] when the GPU is asked for in a build without the `cuda`
/// feature: that is a configuration mistake, not a missing device, so it is not hidden.
pub fn route(
    requested: Accelerator,
    runtime: &GpuRuntime,
) -> Result<Route<'_>, NeuralError> {
    match requested {
        Accelerator::Cpu => Ok(Route::Cpu),
        Accelerator::Gpu => match (&runtime.probe, &runtime.pool) {
            (_, Some(pool)) => Ok(Route::Gpu(pool)),
            (GpuProbe::NotCompiled, None) => Err(NeuralError::NoGpuSupport),
            (GpuProbe::Unavailable(reason), None) => Ok(Route::CpuFallback {
                reason: reason.clone(),
            }),
            (GpuProbe::Devices(_), None) => Ok(Route::CpuFallback {
                reason: "no GPU device is allowed".into(),
            }),
        },
    }
}

/// This process's GPU state, built by the first of [`init_gpu`] and [`gpu_runtime`].
static GPU: OnceLock<Result<GpuRuntime, GpuSettingsError>> = OnceLock::new();

/// Probes the CUDA driver (in a `cuda` build) and fixes this process's GPU state with
/// `settings`. Only the first call probes; later calls (and [`gpu_runtime`]) return the
/// same state, whatever their settings.
///
/// # Errors
/// The settings list a device the probe did not find.
pub fn init_gpu(settings: GpuSettings) -> Result<&'static GpuRuntime, GpuSettingsError> {
    GPU.get_or_init(|| build_runtime(Ok(settings)))
        .as_ref()
        .map_err(Clone::clone)
}

/// This process's GPU state; the first call probes with the settings of the environment
/// ([`GpuSettings::from_env`]).
///
/// # Errors
/// A bad setting in the environment, or a listed device the probe did not find.
pub fn gpu_runtime() -> Result<&'static GpuRuntime, GpuSettingsError> {
    GPU.get_or_init(|| build_runtime(GpuSettings::from_env()))
        .as_ref()
        .map_err(Clone::clone)
}

fn build_runtime(
    settings: Result<GpuSettings, GpuSettingsError>,
) -> Result<GpuRuntime, GpuSettingsError> {
    let settings = settings?;
    let probe = if gpu_supported() {
        probe_cuda()
    } else {
        GpuProbe::NotCompiled
    };
    GpuRuntime::new(settings, probe)
}

/// Logs, once per process, that GPU work runs on the CPU.
pub(crate) fn warn_fallback_once(reason: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the GPU was asked for (USE_GPU / huntsman.use_gpu) but no CUDA device is \
             usable ({reason}); the neural models run on the CPU (NdArray) instead"
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A pool whose "devices" are the CPU backend: the GPU code paths (permits, device
    /// batching, burn training) run through the NdArray kernels.
    pub(crate) fn simulated_pool(devices: usize, per_device: usize) -> GpuPool {
        GpuPool::new((0..devices).collect(), per_device, |_| {
            super::super::cpu_device()
        })
    }

    /// Absolute tolerance of the device-path tests on a real GPU: CUDA reductions sum in
    /// another order than NdArray, and autotune may pick TF32 matrix kernels (10-bit
    /// mantissa) for f32 products.
    pub(crate) const REAL_GPU_TOLERANCE: f64 = 1e-2;

    /// The devices the device-path tests of the models run on.
    pub(crate) struct TestDevices {
        /// Their permits.
        pub pool: GpuPool,
        /// Real CUDA devices (`USE_GPU=true` in a `cuda` build on a GPU machine), not
        /// NdArray behind a simulated pool.
        pub real: bool,
    }

    impl TestDevices {
        /// Real GPUs when `USE_GPU` is true and the process has some; otherwise a
        /// simulated pool of `devices` devices and `per_device` permits each.
        pub(crate) fn new(devices: usize, per_device: usize) -> Self {
            let wanted = std::env::var("USE_GPU").is_ok_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "true" | "1" | "yes" | "on"
                )
            });
            if wanted
                && gpu_supported()
                && let Ok(runtime) = gpu_runtime()
                && let Some(pool) = runtime.pool()
            {
                return Self {
                    pool: pool.clone(),
                    real: true,
                };
            }
            Self {
                pool: simulated_pool(devices, per_device),
                real: false,
            }
        }

        /// `simulated` on the simulated pool, at least [`REAL_GPU_TOLERANCE`] on a GPU.
        pub(crate) fn tolerance(&self, simulated: f64) -> f64 {
            if self.real {
                simulated.max(REAL_GPU_TOLERANCE)
            } else {
                simulated
            }
        }

        /// No permit is held.
        pub(crate) fn idle(&self) -> bool {
            self.pool.busy().iter().all(|&b| b == 0)
        }
    }

    #[test]
    fn settings_parse_lists_counts_and_defaults() {
        let s = GpuSettings::parse(Some(" 0, 2 "), Some("3")).expect("valid");
        assert_eq!(s.devices, Some(vec![0, 2]));
        assert_eq!(s.tasks_per_device, 3);
        assert_eq!(
            GpuSettings::parse(None, None).expect("defaults"),
            GpuSettings::default()
        );
        assert_eq!(GpuSettings::default().tasks_per_device, 1);
        assert_eq!(parse_gpu_devices("all").expect("all"), None);
        assert_eq!(parse_gpu_devices("  ").expect("blank"), None);
        assert_eq!(parse_gpu_devices("1").expect("one"), Some(vec![1]));
    }

    #[test]
    fn bad_settings_name_the_value() {
        for bad in ["x", "0,x", "0,,1", "-1", "1.5"] {
            let err = parse_gpu_devices(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
            assert!(err.starts_with("invalid GPU device list"), "{err}");
        }
        let err = parse_gpu_devices("1,1").expect_err("twice").to_string();
        assert!(
            err.contains("\"1,1\"") && err.contains("listed twice"),
            "{err}"
        );
        for bad in ["0", "many", "-2", "100000"] {
            let err = GpuSettings::parse(None, Some(bad))
                .expect_err(bad)
                .to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
            assert!(err.starts_with("invalid GPU tasks per device"), "{err}");
        }
    }

    #[test]
    fn a_device_the_probe_did_not_find_is_an_error() {
        let settings = GpuSettings::parse(Some("0,3"), None).expect("valid");
        let err = GpuRuntime::new(settings.clone(), GpuProbe::Devices(2))
            .expect_err("device 3 is absent")
            .to_string();
        assert!(err.contains("GPU device 3 is not present"), "{err}");
        assert!(err.contains("reports 2 device(s)"), "{err}");
        // Without a driver there is no device to check: the runtime falls back instead.
        let rt = GpuRuntime::new(settings, GpuProbe::Unavailable("no driver".into()))
            .expect("falls back");
        assert!(rt.pool().is_none());
    }

    #[test]
    fn the_fallback_picks_the_cpu() {
        let none = GpuRuntime::new(
            GpuSettings::default(),
            GpuProbe::Unavailable("libcuda.so not found".into()),
        )
        .expect("runtime");
        assert!(matches!(
            route(Accelerator::Gpu, &none).expect("falls back"),
            Route::CpuFallback { reason } if reason == "libcuda.so not found"
        ));
        assert!(matches!(route(Accelerator::Cpu, &none), Ok(Route::Cpu)));
        assert!(
            none.describe()
                .starts_with("CPU (NdArray), fallen back from the GPU")
        );
        // A build without GPU support refuses instead of hiding the mistake.
        let cpu_build =
            GpuRuntime::new(GpuSettings::default(), GpuProbe::NotCompiled).expect("rt");
        assert_eq!(
            route(Accelerator::Gpu, &cpu_build).expect_err("refused"),
            NeuralError::NoGpuSupport
        );
        assert!(cpu_build.describe().contains("no GPU support"));
        // With devices the GPU is used, only the allowed ones.
        let two = GpuRuntime::with_devices(
            GpuSettings::parse(Some("1"), Some("2")).expect("valid"),
            GpuProbe::Devices(2),
            |_| super::super::cpu_device(),
        )
        .expect("runtime");
        let Ok(Route::Gpu(pool)) = route(Accelerator::Gpu, &two) else {
            panic!("expected the GPU");
        };
        assert_eq!(pool.ordinals(), &[1]);
        assert_eq!(two.describe(), "GPU (CUDA device 1; 2 tasks per device)");
    }

    #[test]
    fn this_process_has_no_gpu_to_route_to() {
        // The process-wide state: no device on this machine, or no GPU support.
        let rt = gpu_runtime().expect("the environment's settings are valid");
        match route(Accelerator::Gpu, rt) {
            Ok(Route::Gpu(_)) => {} // a GPU machine
            Ok(Route::CpuFallback { .. }) => assert!(gpu_supported()),
            Ok(Route::Cpu) => panic!("the GPU was asked for"),
            Err(e) => {
                assert!(!gpu_supported());
                assert_eq!(e, NeuralError::NoGpuSupport);
            }
        }
    }

    #[test]
    fn permits_go_to_the_least_busy_device_and_are_bounded() {
        let pool = simulated_pool(2, 2);
        let a = pool.acquire();
        let b = pool.acquire();
        assert_eq!((a.ordinal(), b.ordinal()), (0, 1));
        let c = pool.acquire();
        assert_eq!(c.ordinal(), 0);
        drop(b);
        // Device 1 is now the least busy.
        let d = pool.acquire();
        assert_eq!(d.ordinal(), 1);
        let e = pool.acquire();
        assert_eq!(e.ordinal(), 1);
        assert_eq!(pool.busy(), vec![2, 2]);
        assert!(pool.try_acquire().is_none(), "every device is at its bound");
        // A fifth call waits until a permit comes back.
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let p = pool.acquire();
                tx.send(p.ordinal()).expect("send");
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "must wait"
        );
        drop(c);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).expect("woken"), 0);
        waiter.join().expect("waiter");
        drop((a, d, e));
        assert_eq!(pool.busy(), vec![0, 0]);
    }

    #[test]
    fn concurrent_calls_never_exceed_the_bound() {
        let pool = simulated_pool(2, 1);
        let peak = Arc::new(Mutex::new(vec![0usize; 2]));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (pool, peak) = (pool.clone(), Arc::clone(&peak));
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _permit = pool.acquire();
                        let busy = pool.busy();
                        {
                            let mut peak = peak.lock().expect("peak");
                            for (p, b) in peak.iter_mut().zip(busy) {
                                *p = (*p).max(b);
                            }
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        // Which devices the threads happened to share depends on the timing; no device
        // ever held more than its one permit.
        let peak = peak.lock().expect("peak").clone();
        assert!(peak.iter().all(|&p| p <= 1) && peak[0] == 1, "{peak:?}");
        assert_eq!(pool.busy(), vec![0, 0]);
    }

    #[test]
    fn a_panic_is_caught_quietly() {
        let err = catch_quietly(|| -> u8 { panic!("no libcuda") }).expect_err("caught");
        assert_eq!(err, "no libcuda");
        assert_eq!(catch_quietly(|| 7).expect("no panic"), 7);
    }

    /// The probe on this machine: it never panics, and without an NVIDIA driver it
    /// reports no GPU (on a GPU machine it reports the devices).
    #[cfg(feature = "cuda")]
    #[test]
    fn the_probe_reports_no_gpu_without_a_driver() {
        let probe = probe_cuda();
        let driver = std::path::Path::new("/proc/driver/nvidia/version").exists();
        match &probe {
            GpuProbe::Devices(n) => assert!(driver && *n > 0, "{probe:?}"),
            GpuProbe::Unavailable(reason) => assert!(!reason.is_empty()),
            GpuProbe::NotCompiled => panic!("a cuda build probes"),
        }
        if !driver {
            assert!(matches!(probe, GpuProbe::Unavailable(_)), "{probe:?}");
            let rt = GpuRuntime::new(GpuSettings::default(), probe).expect("runtime");
            assert!(matches!(
                route(Accelerator::Gpu, &rt),
                Ok(Route::CpuFallback { .. })
            ));
        }
    }
}
