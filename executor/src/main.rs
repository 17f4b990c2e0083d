//! `huntsman-executor`: parse flags, set up logging, run the executor.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use huntsman_executor::{ExecutorError, ExecutorSettings, parse_bytes, run};
use huntsman_udfs::neural::gpu::GpuSettings;

/// Huntsman's Ballista executor: runs feature extraction and model functions next to the
/// data.
#[derive(Debug, Parser)]
#[command(name = "huntsman-executor", version)]
struct Args {
    /// Scheduler host (default localhost).
    #[arg(long, env = "HUNTSMAN_SCHEDULER_HOST", default_value = "localhost")]
    scheduler_host: String,
    /// Scheduler port (default 50050).
    #[arg(long, env = "HUNTSMAN_SCHEDULER_PORT", default_value_t = 50050)]
    scheduler_port: u16,
    /// Seconds to wait for the scheduler at start-up (default 30).
    #[arg(long, env = "HUNTSMAN_SCHEDULER_CONNECT_TIMEOUT", default_value_t = 30)]
    scheduler_connect_timeout: u64,
    /// Address to bind (default 127.0.0.1). Use a private interface, or 0.0.0.0
    /// inside a container on a private network: this port has no authentication.
    #[arg(long, env = "HUNTSMAN_EXECUTOR_BIND_HOST", default_value = "127.0.0.1")]
    bind_host: String,
    /// Host name others use to reach this executor (default: as the scheduler sees it).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_EXTERNAL_HOST")]
    external_host: Option<String>,
    /// Arrow Flight port (default 50051).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_FLIGHT_PORT", default_value_t = 50051)]
    flight_port: u16,
    /// gRPC port (default 50052).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_GRPC_PORT", default_value_t = 50052)]
    grpc_port: u16,
    /// Health-check port serving /healthz and /readyz (default 50053; 0 disables).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_HEALTH_PORT", default_value_t = 50053)]
    health_port: u16,
    /// Task slots (default: the number of CPUs).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_VCORES")]
    vcores: Option<usize>,
    /// Directory for shuffle files and spills (default: a temp directory).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_WORK_DIR")]
    work_dir: Option<PathBuf>,
    /// Memory pool shared by tasks, e.g. 4GiB (default: 70% of memory; 0 = unbounded).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_MEMORY_POOL")]
    memory_pool: Option<String>,
    /// Seconds between heartbeats (default 60).
    #[arg(
        long,
        env = "HUNTSMAN_EXECUTOR_HEARTBEAT_SECONDS",
        default_value_t = 60
    )]
    heartbeat_seconds: u64,
    /// This executor serves GPU work: true or false (default false). Queries choose the
    /// GPU with `huntsman.use_gpu` (the client's USE_GPU); with this set, a start without
    /// a usable device (or a build without `--features cuda`) logs a warning. The backend
    /// is probed at start and reported on /readyz either way.
    #[arg(long, env = "USE_GPU", default_value = "false")]
    use_gpu: String,
    /// CUDA devices the neural models may use, e.g. 0,1 (default: all the driver reports).
    #[arg(long, env = "HUNTSMAN_GPU_DEVICES")]
    gpu_devices: Option<String>,
    /// Model calls sharing one GPU at a time (default 1).
    #[arg(long, env = "HUNTSMAN_GPU_TASKS_PER_DEVICE")]
    gpu_tasks_per_device: Option<String>,
    /// Log filter, e.g. info or huntsman=debug (default info; RUST_LOG also works).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

impl TryFrom<Args> for ExecutorSettings {
    type Error = ExecutorError;

    fn try_from(a: Args) -> Result<Self, ExecutorError> {
        let defaults = ExecutorSettings::default();
        Ok(Self {
            scheduler_host: a.scheduler_host,
            scheduler_port: a.scheduler_port,
            scheduler_connect_timeout: Duration::from_secs(a.scheduler_connect_timeout),
            bind_host: a.bind_host,
            external_host: a.external_host,
            flight_port: a.flight_port,
            grpc_port: a.grpc_port,
            health_port: a.health_port,
            vcores: a.vcores.unwrap_or(defaults.vcores),
            work_dir: a.work_dir,
            memory_pool_bytes: a.memory_pool.as_deref().map(parse_bytes).transpose()?,
            heartbeat_interval_seconds: a.heartbeat_seconds,
            use_gpu: parse_flag("USE_GPU", &a.use_gpu)?,
            gpu: GpuSettings::parse(
                a.gpu_devices.as_deref(),
                a.gpu_tasks_per_device.as_deref(),
            )
            .map_err(|e| ExecutorError::Config(e.to_string()))?,
        })
    }
}

/// A true/false setting, spelled as the client's parameters are.
fn parse_flag(name: &str, text: &str) -> Result<bool, ExecutorError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(ExecutorError::Config(format!(
            "{name} must be true or false, got {text:?}"
        ))),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal.
    let _ = dotenvy::dotenv();
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .with_ansi(false)
        .init();
    let settings = match ExecutorSettings::try_from(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("huntsman-executor: {e}");
            return ExitCode::from(2);
        }
    };
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("huntsman-executor: {e}");
            ExitCode::FAILURE
        }
    }
}
