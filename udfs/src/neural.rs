//! Shared plumbing of the neural models (the autoencoder, the sequence model): where they
//! run, how tensors cross between Rust vectors and burn, and the optimiser they train with.
//!
//! burn 0.22 chooses the backend at run time through its [`Device`]. Huntsman uses two:
//!
//! - **CPU**, burn's NdArray backend, always compiled in. Training wraps it in autodiff.
//! - **GPU**, burn's CUDA backend, compiled in only with this crate's `cuda` cargo feature
//!   and used only when the session setting `huntsman.use_gpu` is true. Asking for the GPU
//!   in a build without the feature is an error ([`NeuralError::NoGpuSupport`]), never a
//!   silent fall back to the CPU. A `cuda` build whose probe of the driver finds no device
//!   runs on the CPU and logs a warning once; [`gpu`] has the probe, the device settings
//!   and the per-device bound on concurrent calls, and [`place`] applies them to a call.
//!
//! Devices are always built explicitly: `Device::default()` would silently prefer CUDA in a
//! `cuda` build. Weights are initialised by the models themselves from
//! [`crate::matrix::SeededRng`], never from burn's random functions, whose NdArray seed is a
//! process-wide global and so not reproducible when several models train at once.

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use datafusion::config::ConfigOptions;

use crate::config::HuntsmanConfig;
use crate::matrix::SeededRng;

pub mod gpu;

/// Why a neural model could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NeuralError {
    /// `huntsman.use_gpu` is true in a build without the `cuda` feature.
    #[error(
        "huntsman.use_gpu is true but this build has no GPU support (rebuild with the \
         `cuda` feature, or SET huntsman.use_gpu = false)"
    )]
    NoGpuSupport,
    /// A GPU setting is invalid (`HUNTSMAN_GPU_DEVICES`, `HUNTSMAN_GPU_TASKS_PER_DEVICE`).
    #[error(transparent)]
    GpuSettings(#[from] gpu::GpuSettingsError),
    /// The backend failed (for example out of device memory).
    #[error("{what} failed on the {accelerator}: {reason}")]
    Backend {
        /// What was running.
        what: String,
        /// `CPU` or `GPU`.
        accelerator: &'static str,
        /// The backend's message.
        reason: String,
    },
}

/// Where a neural model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accelerator {
    /// burn's NdArray backend.
    Cpu,
    /// burn's CUDA backend (needs the `cuda` feature).
    Gpu,
}

impl Accelerator {
    /// The accelerator a `use_gpu` setting asks for.
    pub fn from_use_gpu(use_gpu: bool) -> Self {
        if use_gpu { Self::Gpu } else { Self::Cpu }
    }

    /// `CPU` or `GPU`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "CPU",
            Self::Gpu => "GPU",
        }
    }

    /// Checks that this build can run on the accelerator.
    ///
    /// # Errors
    /// [`NeuralError::NoGpuSupport`] for the GPU in a build without the `cuda` feature.
    pub fn check_available(self) -> Result<(), NeuralError> {
        match self {
            Self::Cpu => Ok(()),
            Self::Gpu if gpu_supported() => Ok(()),
            Self::Gpu => Err(NeuralError::NoGpuSupport),
        }
    }
}

/// Whether this build has GPU support (the `cuda` cargo feature).
pub const fn gpu_supported() -> bool {
    cfg!(feature = "cuda")
}

/// The session setting `huntsman.use_gpu` (false when the Huntsman extension is absent).
pub fn session_use_gpu(config: &ConfigOptions) -> bool {
    config
        .extensions
        .get::<HuntsmanConfig>()
        .is_some_and(|c| c.use_gpu)
}

/// Where one model call runs: the accelerator actually used (the CPU after a fall back),
/// its burn device, and for the GPU the permit on that device ([`gpu::DevicePermit`]),
/// held until the placement is dropped.
#[derive(Debug)]
pub struct Placement {
    accelerator: Accelerator,
    device: Device,
    permit: Option<gpu::DevicePermit>,
}

impl Placement {
    /// The CPU (NdArray).
    pub fn cpu() -> Self {
        Self {
            accelerator: Accelerator::Cpu,
            device: cpu_device(),
            permit: None,
        }
    }

    /// The device of `permit`, which the placement holds.
    pub fn on(permit: gpu::DevicePermit) -> Self {
        Self {
            accelerator: Accelerator::Gpu,
            device: permit.device(),
            permit: Some(permit),
        }
    }

    /// Where the work runs (not necessarily what was asked for).
    pub fn accelerator(&self) -> Accelerator {
        self.accelerator
    }

    /// The device for inference.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The device for training: the inference device with autodiff.
    pub fn training_device(&self) -> Device {
        self.device.clone().autodiff()
    }

    /// The CUDA index of the device (`None` on the CPU).
    pub fn ordinal(&self) -> Option<usize> {
        self.permit.as_ref().map(gpu::DevicePermit::ordinal)
    }
}

/// Places a model call that asks for `requested`: the CPU, or a permit on the least busy
/// allowed GPU (waiting while every device is at its bound), or the CPU with a warning
/// logged once when a `cuda` build finds no usable device. The first GPU request of a
/// process probes the driver unless [`gpu::init_gpu`] did at start-up.
///
/// # Errors
/// [`NeuralError::NoGpuSupport`] for the GPU in a build without the `cuda` feature;
/// [`NeuralError::GpuSettings`] for bad GPU settings in the environment.
pub fn place(requested: Accelerator) -> Result<Placement, NeuralError> {
    if requested == Accelerator::Cpu {
        return Ok(Placement::cpu());
    }
    requested.check_available()?;
    let runtime = gpu::gpu_runtime()?;
    place_in(requested, runtime)
}

/// [`place`] in a given GPU state.
///
/// # Errors
/// As [`gpu::route`].
pub fn place_in(
    requested: Accelerator,
    runtime: &gpu::GpuRuntime,
) -> Result<Placement, NeuralError> {
    Ok(match gpu::route(requested, runtime)? {
        gpu::Route::Cpu => Placement::cpu(),
        gpu::Route::CpuFallback { reason } => {
            gpu::warn_fallback_once(&reason);
            Placement::cpu()
        }
        gpu::Route::Gpu(pool) => Placement::on(pool.acquire()),
    })
}

// NdArray is deprecated in burn 0.22 in favour of `flex`, which the pinned workspace
// features do not enable; NdArray is the CPU backend this workspace ships.
#[allow(deprecated)]
pub(crate) fn cpu_device() -> Device {
    Device::ndarray()
}

/// Adam with PyTorch's defaults (betas 0.9 and 0.999, epsilon 1e-8), which the original
/// notebooks trained with; burn's own default epsilon is 1e-5.
pub fn adam() -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .init()
}

/// Runs backend work, turning a backend panic (burn reports device failures by panicking)
/// into [`NeuralError::Backend`] and an error message from `f` into the same.
///
/// # Errors
/// `f` failed or panicked.
pub fn guarded<T>(
    what: &str,
    accelerator: Accelerator,
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, NeuralError> {
    let backend = |reason: String| NeuralError::Backend {
        what: what.to_string(),
        accelerator: accelerator.name(),
        reason,
    };
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(reason)) => Err(backend(reason)),
        Err(panic) => Err(backend(panic_message(panic.as_ref()))),
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the backend panicked".to_string())
}

/// A `[rows, cols]` float tensor from row-major values.
pub fn float2(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A `[n]` float tensor.
pub fn float1(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// A `[n]` integer tensor (indices for `select`).
pub fn int1(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// Reads a float tensor back as row-major `f32` values.
///
/// # Errors
/// The backend could not read the tensor.
pub fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, String> {
    tensor
        .try_into_data()
        .map_err(|e| format!("reading a tensor: {e:?}"))?
        .try_into_vec::<f32>()
        .map_err(|e| format!("reading a tensor: {e:?}"))
}

/// Reads a one-element float tensor (a loss) as `f64`.
///
/// # Errors
/// The backend could not read the tensor, or it was empty.
pub fn read_scalar(tensor: Tensor<1>) -> Result<f64, String> {
    read_f32(tensor)?
        .first()
        .map(|&v| f64::from(v))
        .ok_or_else(|| "reading a scalar: empty tensor".to_string())
}

/// `n` values uniform in `[-bound, bound)`: PyTorch's default initialisation of a linear
/// layer with `bound = 1 / sqrt(fan_in)`, drawn from our own seeded generator.
pub fn uniform(rng: &mut SeededRng, n: usize, bound: f64) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_without_the_feature_is_a_clear_error() {
        let err = Accelerator::Gpu.check_available();
        if gpu_supported() {
            assert!(err.is_ok());
        } else {
            let msg = err.expect_err("no gpu support").to_string();
            assert!(msg.contains("no GPU support"), "{msg}");
            assert_eq!(
                place(Accelerator::Gpu).expect_err("refused"),
                NeuralError::NoGpuSupport
            );
        }
    }

    #[test]
    fn tensors_round_trip_through_the_cpu_device() {
        let placement = place(Accelerator::Cpu).expect("cpu");
        let device = placement.device();
        let t = float2(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3, device);
        let picked = t.select(0, int1(vec![1], device));
        assert_eq!(read_f32(picked).expect("reads"), vec![4.0, 5.0, 6.0]);
        let s = float1(vec![1.5, 2.5], device).sum();
        assert_eq!(read_scalar(s).expect("reads"), 4.0);
    }

    #[test]
    fn panics_become_errors() {
        let err = guarded::<()>("test", Accelerator::Cpu, || panic!("boom"))
            .expect_err("panic is caught");
        assert_eq!(err.to_string(), "test failed on the CPU: boom");
        let err = guarded::<()>("test", Accelerator::Cpu, || Err("bad".into()))
            .expect_err("error passes");
        assert!(err.to_string().ends_with("bad"));
    }

    #[test]
    fn uniform_is_seeded_and_bounded() {
        let a = uniform(&mut SeededRng::new(1), 100, 0.5);
        let b = uniform(&mut SeededRng::new(1), 100, 0.5);
        assert_eq!(a, b);
        assert!(a.iter().all(|v| v.abs() <= 0.5));
    }
}
