//! `huntsman-executor`: a Ballista executor that decodes and runs plans naming Huntsman's
//! functions, with Huntsman's object stores and settings.
//!
//! This crate owns the executor's settings, the wait for the scheduler, the health
//! server, and the start-up of an executor inside another process
//! ([`start_in_process`], the client's embedded cluster); the binary only parses flags.
//! Functions and sessions come from [`huntsman_udfs::session`], shared with the
//! scheduler and the client.
//!
//! At start-up the executor fixes where its neural models run ([`neural_backend`]): in a
//! `cuda` build it probes the CUDA driver once and checks the GPU settings; it logs the
//! backend and reports it on `/readyz` (`neural backend: ...`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), huntsman_executor::ExecutorError> {
//! huntsman_executor::run(huntsman_executor::ExecutorSettings::default()).await
//! # }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod in_process;

pub use in_process::{InProcessExecutor, start_in_process};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_executor::executor_process::{
    ExecutorProcessConfig, start_executor_process,
};
use ballista_executor::health::ExecutorHealth;
use huntsman_udfs::neural::gpu::{GpuSettings, init_gpu};
use huntsman_udfs::probe::wait_for_answer;
use huntsman_udfs::session::{
    MemoryPoolSize, huntsman_function_registry, huntsman_runtime_env,
    huntsman_session_config,
};

/// Executor start-up and run failures.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// A setting is invalid.
    #[error("invalid executor setting: {0}")]
    Config(String),
    /// The scheduler did not answer in time.
    #[error("cannot reach the scheduler at {addr}: {source}")]
    SchedulerUnreachable {
        /// `host:port` of the scheduler.
        addr: String,
        /// The probe's failure.
        source: huntsman_udfs::probe::ProbeError,
    },
    /// The work directory cannot be created.
    #[error("work directory {path}: {source}")]
    WorkDir {
        /// The directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// Ballista failed to start or stopped with an error.
    #[error("executor: {0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    /// The session state (functions, runtime) could not be built.
    #[error("executor session: {0}")]
    Session(#[from] datafusion::error::DataFusionError),
    /// The health server's port cannot be bound.
    #[error("health server on {addr}: {source}")]
    Health {
        /// The address.
        addr: SocketAddr,
        /// The IO error.
        source: std::io::Error,
    },
}

/// Settings of one executor process.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// Scheduler host (default `localhost`).
    pub scheduler_host: String,
    /// Scheduler port (default 50050).
    pub scheduler_port: u16,
    /// How long to wait for the scheduler at start-up (default 30 s).
    pub scheduler_connect_timeout: Duration,
    /// Address to bind (default `127.0.0.1`: loopback until a private interface is
    /// chosen; the port lets anyone who reaches it submit or run jobs).
    pub bind_host: String,
    /// Host name the scheduler and other executors use to reach this one (default: the
    /// address the scheduler sees).
    pub external_host: Option<String>,
    /// Arrow Flight port for shuffle and result data (default 50051).
    pub flight_port: u16,
    /// gRPC port for task launches (default 50052).
    pub grpc_port: u16,
    /// HTTP port for `/healthz` and `/readyz` (default 50053; 0 disables).
    pub health_port: u16,
    /// Task slots advertised to the scheduler (default: CPU count).
    pub vcores: usize,
    /// Directory for shuffle files and spills (default: a temp directory).
    pub work_dir: Option<PathBuf>,
    /// Memory pool in bytes shared by the tasks (default: 70 % of memory; 0 unbounded).
    pub memory_pool_bytes: Option<u64>,
    /// Seconds between heartbeats to the scheduler (default 60).
    pub heartbeat_interval_seconds: u64,
    /// This executor is meant to run the neural models on the GPU (`USE_GPU`): a start
    /// without a usable device is logged as a warning. Queries choose the GPU with the
    /// session setting `huntsman.use_gpu`, which the client sets from its `USE_GPU`.
    pub use_gpu: bool,
    /// Which GPUs the neural models use and how many calls share one.
    pub gpu: GpuSettings,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        Self {
            scheduler_host: "localhost".into(),
            scheduler_port: 50050,
            scheduler_connect_timeout: Duration::from_secs(30),
            bind_host: "127.0.0.1".into(),
            external_host: None,
            flight_port: 50051,
            grpc_port: 50052,
            health_port: 50053,
            vcores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            work_dir: None,
            memory_pool_bytes: None,
            heartbeat_interval_seconds: 60,
            use_gpu: false,
            gpu: GpuSettings::default(),
        }
    }
}

impl ExecutorSettings {
    /// `host:port` of the scheduler.
    pub fn scheduler_addr(&self) -> String {
        format!("{}:{}", self.scheduler_host, self.scheduler_port)
    }

    /// Checks every setting before any server starts.
    ///
    /// # Errors
    /// Names the first invalid setting.
    pub fn check(&self) -> Result<(), ExecutorError> {
        let bad = |m: String| Err(ExecutorError::Config(m));
        if self.scheduler_host.trim().is_empty() {
            return bad("scheduler host must not be empty".into());
        }
        if self.vcores == 0 {
            return bad("vcores must be at least 1 (got 0)".into());
        }
        if self.heartbeat_interval_seconds == 0 {
            return bad("heartbeat interval must be at least 1 second (got 0)".into());
        }
        let ports = [self.flight_port, self.grpc_port];
        if ports.contains(&0) {
            return bad(format!(
                "flight and grpc ports must be non-zero (got {} and {})",
                self.flight_port, self.grpc_port
            ));
        }
        if self.flight_port == self.grpc_port
            || self.health_port == self.flight_port
            || self.health_port == self.grpc_port
        {
            return bad(format!(
                "flight ({}), grpc ({}) and health ({}) ports must differ",
                self.flight_port, self.grpc_port, self.health_port
            ));
        }
        self.health_addr()?;
        Ok(())
    }

    fn health_addr(&self) -> Result<SocketAddr, ExecutorError> {
        format!("{}:{}", self.bind_host, self.health_port)
            .parse()
            .map_err(|e| {
                ExecutorError::Config(format!(
                    "bind host {} is not an IP address: {e}",
                    self.bind_host
                ))
            })
    }

    fn work_dir_or_temp(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "huntsman-executor-{}-{}",
                std::process::id(),
                self.flight_port
            ))
        })
    }
}

/// Fixes where this process's neural models run and describes it in one line: probes
/// the CUDA driver once (in a `cuda` build) with `settings.gpu`, and logs the result (a
/// warning when `use_gpu` is set and no GPU is usable).
///
/// # Errors
/// The GPU settings list a device the probe did not find.
pub fn neural_backend(settings: &ExecutorSettings) -> Result<String, ExecutorError> {
    let runtime = init_gpu(settings.gpu.clone())
        .map_err(|e| ExecutorError::Config(e.to_string()))?;
    let gpu = runtime.describe();
    let line = if settings.use_gpu {
        gpu
    } else {
        format!(
            "CPU (NdArray); USE_GPU is off (queries that set huntsman.use_gpu: {gpu})"
        )
    };
    if settings.use_gpu && runtime.pool().is_none() {
        tracing::warn!("USE_GPU is set but the neural models run on the CPU: {line}");
    } else {
        tracing::info!("neural backend: {line}");
    }
    Ok(line)
}

/// Serves `/healthz` (always `ok`) and `/readyz` on `listener` until `shutdown` fires.
/// `/readyz` answers 200 once the last heartbeat succeeded and 503 before, as Ballista's
/// own health server does, and adds a line `neural backend: <backend>`.
///
/// # Errors
/// The server failed.
pub async fn serve_health(
    listener: tokio::net::TcpListener,
    health: ExecutorHealth,
    backend: String,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::get;

    let backend: Arc<str> = backend.into();
    let router = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(
                |State((health, backend)): State<(ExecutorHealth, Arc<str>)>| async move {
                    if health.is_ready() {
                        (
                            StatusCode::OK,
                            format!("ready\nneural backend: {backend}\n"),
                        )
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!(
                                "not ready: no successful heartbeat yet\n\
                                 neural backend: {backend}\n"
                            ),
                        )
                    }
                },
            ),
        )
        .with_state((health, backend));
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.await;
        })
        .await
}

/// Runs an executor: fixes the neural backend, waits for the scheduler, registers,
/// serves tasks until SIGTERM or Ctrl-C, then drains running tasks.
///
/// # Errors
/// Invalid settings (including a GPU device the probe did not find), an unreachable
/// scheduler (after `scheduler_connect_timeout`), a work directory that cannot be
/// created, or a Ballista failure.
pub async fn run(settings: ExecutorSettings) -> Result<(), ExecutorError> {
    settings.check()?;
    let backend = neural_backend(&settings)?;
    let scheduler_addr = settings.scheduler_addr();
    wait_for_answer(
        &scheduler_addr,
        "/healthz",
        settings.scheduler_connect_timeout,
    )
    .await
    .map_err(|source| ExecutorError::SchedulerUnreachable {
        addr: scheduler_addr.clone(),
        source,
    })?;

    let work_dir = settings.work_dir_or_temp();
    std::fs::create_dir_all(&work_dir).map_err(|source| ExecutorError::WorkDir {
        path: work_dir.clone(),
        source,
    })?;
    let registry = huntsman_function_registry()?;
    let spill_dir = work_dir.clone();
    let config = ExecutorProcessConfig {
        scheduler_host: settings.scheduler_host.clone(),
        scheduler_port: settings.scheduler_port,
        // The scheduler answered above; Ballista's own retry loop is not needed.
        scheduler_connect_timeout_seconds: 0,
        bind_host: settings.bind_host.clone(),
        external_host: settings.external_host.clone(),
        port: settings.flight_port,
        grpc_port: settings.grpc_port,
        vcores: settings.vcores,
        work_dir: Some(work_dir.to_string_lossy().into_owned()),
        // Resolved as the embedded executor resolves it (huntsman_udfs::session); Ballista
        // then gives each task a FairSpillPool of its slots' share, as
        // `memory_pool_policy` does in the embedded executor. 0: unbounded.
        memory_pool_size: Some(
            MemoryPoolSize::from_option(settings.memory_pool_bytes)
                .resolve()
                .unwrap_or(0),
        ),
        executor_heartbeat_interval_seconds: settings.heartbeat_interval_seconds,
        override_function_registry: Some(Arc::new(registry)),
        override_config_producer: Some(Arc::new(huntsman_session_config)),
        override_runtime_producer: Some(Arc::new(move |config| {
            huntsman_runtime_env(config, Some(&spill_dir))
        })),
        ..Default::default()
    };

    let (health_stop, health_stopped) = tokio::sync::oneshot::channel();
    let health = if settings.health_port == 0 {
        None
    } else {
        let addr = settings.health_addr()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ExecutorError::Health { addr, source })?;
        tracing::info!("executor health server listening on {addr}");
        Some(tokio::spawn(serve_health(
            listener,
            config.health.clone(),
            backend,
            health_stopped,
        )))
    };
    let result = start_executor_process(Arc::new(config)).await;
    let _ = health_stop.send(());
    if let Some(handle) = health {
        match handle.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("health server ended abnormally: {e}"),
            Err(e) => tracing::warn!("health server ended abnormally: {e}"),
        }
    }
    result.map_err(ExecutorError::from)
}

/// Parses a byte size such as `4GiB`, `512MiB`, `1.5GB` or `1048576`.
///
/// # Errors
/// Names the text that is not a size.
pub fn parse_bytes(text: &str) -> Result<u64, ExecutorError> {
    huntsman_udfs::session::parse_byte_size(text).map_err(ExecutorError::Config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("1024").expect("plain"), 1024);
        assert_eq!(parse_bytes("4GiB").expect("gib"), 4 << 30);
        assert_eq!(parse_bytes("512 MiB").expect("mib"), 512 << 20);
        assert_eq!(parse_bytes("0").expect("zero"), 0);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
        assert!(parse_bytes("-1").is_err());
    }

    #[test]
    fn clashing_ports_are_rejected() {
        let s = ExecutorSettings {
            grpc_port: 50051,
            ..Default::default()
        };
        assert!(
            s.check()
                .expect_err("same ports")
                .to_string()
                .contains("must differ")
        );
    }

    #[test]
    fn zero_vcores_rejected() {
        let s = ExecutorSettings {
            vcores: 0,
            ..Default::default()
        };
        assert!(s.check().is_err());
    }

    #[test]
    fn the_backend_is_described_once_per_process() {
        let line = neural_backend(&ExecutorSettings::default()).expect("backend");
        assert!(line.starts_with("CPU (NdArray); USE_GPU is off"), "{line}");
        let gpu = neural_backend(&ExecutorSettings {
            use_gpu: true,
            ..Default::default()
        })
        .expect("backend");
        if !huntsman_udfs::neural::gpu_supported() {
            assert!(gpu.contains("no GPU support"), "{gpu}");
        } else if !std::path::Path::new("/proc/driver/nvidia/version").exists() {
            assert!(gpu.starts_with("CPU (NdArray), fallen back"), "{gpu}");
        }
    }

    #[tokio::test]
    async fn readyz_reports_the_backend() {
        use huntsman_udfs::probe::http_get;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let health = ExecutorHealth::new();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(serve_health(
            listener,
            health.clone(),
            "CPU (NdArray); test".into(),
            stopped,
        ));
        let wait = Duration::from_secs(10);
        let ok = http_get(&addr, "/healthz", wait).await.expect("healthz");
        assert_eq!((ok.status, ok.body.as_str()), (200, "ok\n"));
        let before = http_get(&addr, "/readyz", wait).await.expect("readyz");
        assert_eq!(before.status, 503);
        assert!(
            before.body.contains("neural backend: CPU (NdArray); test"),
            "{before:?}"
        );
        health.mark_heartbeat_ok();
        let after = http_get(&addr, "/readyz", wait).await.expect("readyz");
        assert_eq!(after.status, 200);
        assert_eq!(after.body, "ready\nneural backend: CPU (NdArray); test\n");
        stop.send(()).expect("stop");
        server.await.expect("joins").expect("serves");
    }

    #[tokio::test]
    async fn unreachable_scheduler_is_a_clear_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let s = ExecutorSettings {
            scheduler_host: "127.0.0.1".into(),
            scheduler_port: port,
            scheduler_connect_timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let err = run(s).await.expect_err("no scheduler").to_string();
        assert!(err.contains("cannot reach the scheduler"), "{err}");
        assert!(err.contains(&port.to_string()), "{err}");
    }
}
