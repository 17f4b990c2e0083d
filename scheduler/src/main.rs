//! `huntsman-scheduler`: parse flags, set up logging, start the scheduler.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use huntsman_scheduler::{SchedulerSettings, run};

/// Huntsman's Ballista scheduler: plans SQL hunts and hands their stages to executors.
#[derive(Debug, Parser)]
#[command(name = "huntsman-scheduler", version)]
struct Args {
    /// Address to bind (default 127.0.0.1). Use a private interface, or 0.0.0.0
    /// inside a container on a private network: this port has no authentication.
    #[arg(
        long,
        env = "HUNTSMAN_SCHEDULER_BIND_HOST",
        default_value = "127.0.0.1"
    )]
    bind_host: String,
    /// Port for gRPC, health checks (/healthz, /readyz) and Flight (default 50050).
    #[arg(long, env = "HUNTSMAN_SCHEDULER_PORT", default_value_t = 50050)]
    port: u16,
    /// Host name executors and clients use to reach this scheduler (default localhost).
    #[arg(
        long,
        env = "HUNTSMAN_SCHEDULER_EXTERNAL_HOST",
        default_value = "localhost"
    )]
    external_host: String,
    /// Seconds without a heartbeat before an executor is dropped (default 180).
    #[arg(long, env = "HUNTSMAN_EXECUTOR_TIMEOUT_SECONDS", default_value_t = 180)]
    executor_timeout_seconds: u64,
    /// Seconds between checks for dead executors (default 15).
    #[arg(
        long,
        env = "HUNTSMAN_EXPIRE_DEAD_EXECUTOR_INTERVAL_SECONDS",
        default_value_t = 15
    )]
    expire_dead_executor_interval_seconds: u64,
    /// Serve result fetches through this port (an embedded Flight proxy), so clients
    /// need not reach the executors: true or false (default false).
    #[arg(
        long,
        env = "HUNTSMAN_SCHEDULER_FLIGHT_PROXY",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    flight_proxy: bool,
    /// Log filter, e.g. info or huntsman=debug (default info; RUST_LOG also works).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

impl From<&Args> for SchedulerSettings {
    fn from(a: &Args) -> Self {
        Self {
            bind_host: a.bind_host.clone(),
            bind_port: a.port,
            external_host: a.external_host.clone(),
            executor_timeout_seconds: a.executor_timeout_seconds,
            expire_dead_executor_interval_seconds: a
                .expire_dead_executor_interval_seconds,
            flight_proxy: a.flight_proxy,
        }
    }
}

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is not worth refusing to start over.
    let _ = dotenvy::dotenv();
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .with_ansi(false)
        .init();
    let settings = SchedulerSettings::from(&args);
    if let Err(e) = settings.check() {
        eprintln!("huntsman-scheduler: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("huntsman-scheduler: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("huntsman-scheduler: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
