//! An executor inside another process: the executor half of the client's embedded
//! cluster.
//!
//! It is built from the same pieces as the `huntsman-executor` binary ([`crate::run`]):
//! the settings ([`ExecutorSettings`], checked the same way), the function registry, the
//! session defaults, the runtime (object stores, spill directory) and the memory-pool
//! policy, all from [`huntsman_udfs::session`]. What differs is only what a process of
//! its own needs and a guest must not do: it binds loopback ports chosen at start-up
//! instead of fixed ones, it installs no signal handler (the host process owns Ctrl-C),
//! and it lives exactly as long as the [`InProcessExecutor`] handle.
//!
//! Tasks are pushed by the scheduler the moment they are runnable and each is reported
//! as it finishes (Ballista's push-staged policy, the binaries' default too).

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::ExecutorRegistration;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::scheduler::{
    ExecutorOperatingSystemSpecification, ExecutorSpecification,
};
use ballista_core::utils::{GrpcServerConfig, create_grpc_server};
use ballista_core::{BALLISTA_PROTOCOL_VERSION, ConfigProducer, RuntimeProducer};
use ballista_executor::executor::Executor;
use ballista_executor::executor_process::ExecutorProcessConfig;
use ballista_executor::executor_server;
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::health::ExecutorHealth;
use ballista_executor::metrics::LoggingMetricsCollector;
use ballista_executor::runtime_cache::{DefaultSessionRuntimeCache, SessionRuntimeCache};
use ballista_executor::shutdown::ShutdownNotifier;
use datafusion::prelude::SessionConfig;
use huntsman_udfs::session::{
    MemoryPoolSize, huntsman_function_registry, huntsman_runtime_env,
    huntsman_session_config, memory_pool_policy,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::server::{Router, TcpIncoming};

use crate::{ExecutorError, ExecutorSettings};

/// Session runtimes (object stores, memory pools) kept per session, as the binary keeps.
const SESSION_RUNTIMES: usize = 16;

/// Tries at binding a free gRPC port (another process can take one between the probe and
/// the bind).
const PORT_ATTEMPTS: usize = 5;

/// A running in-process executor; dropping it stops its servers.
pub struct InProcessExecutor {
    shutdown: ShutdownNotifier,
    servers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for InProcessExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessExecutor")
            .field("servers", &self.servers.len())
            .finish()
    }
}

impl Drop for InProcessExecutor {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
        let _ = self.shutdown.notify_shutdown.send(());
    }
}

/// Starts an executor in this process, registered with the scheduler at `scheduler`, its
/// shuffle files and spills in `work_dir`. `settings` gives the slots (`vcores`), the
/// memory pool and the heartbeat; its ports and hosts are not used (loopback, chosen
/// here).
///
/// # Errors
/// Invalid settings, no free loopback port, an unreachable scheduler, or Ballista's
/// start-up failing.
pub async fn start_in_process(
    settings: &ExecutorSettings,
    scheduler: SocketAddr,
    work_dir: &Path,
) -> Result<InProcessExecutor, ExecutorError> {
    settings.check()?;
    let slots = settings.vcores;
    let work = work_dir.to_string_lossy().into_owned();
    let config = huntsman_session_config();
    let limit = config.ballista_grpc_client_max_message_size();
    let mut servers = Vec::new();

    let flight = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| config_error("binding the executor's Flight port", e))?;
    let flight_port = flight
        .local_addr()
        .map_err(|e| config_error("the executor's Flight port", e))?
        .port();
    let service = FlightServiceServer::new(BallistaFlightService::new(work.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    servers.push(serve(
        create_grpc_server(&GrpcServerConfig::default()).add_service(service),
        flight,
        "executor's Flight server",
    ));

    let defaults = config.clone();
    let config_producer: ConfigProducer = Arc::new(move || defaults.clone());
    let spill_dir = work_dir.to_path_buf();
    let runtime_producer: RuntimeProducer =
        Arc::new(move |config| huntsman_runtime_env(config, Some(&spill_dir)));
    let registry = Arc::new(huntsman_function_registry()?);
    let pool_bytes = MemoryPoolSize::from_option(settings.memory_pool_bytes).resolve();
    let policy = memory_pool_policy(pool_bytes, slots)?;
    tracing::debug!(
        "in-process executor memory pool: {pool_bytes:?} bytes over {slots} slots"
    );
    let runtimes: Arc<dyn SessionRuntimeCache> =
        Arc::new(DefaultSessionRuntimeCache::new(
            runtime_producer.clone(),
            policy,
            SESSION_RUNTIMES,
        ));

    let client = SchedulerGrpcClient::connect(format!("http://{scheduler}"))
        .await
        .map_err(|e| {
            ExecutorError::Config(format!(
                "connecting to the scheduler at {scheduler}: {e}"
            ))
        })?
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let shutdown = ShutdownNotifier::new();
    let mut attempt = 1;
    loop {
        let grpc_port = free_loopback_port()?;
        let metadata = ExecutorRegistration {
            id: ballista_core::ids::new_instance_id(),
            host: Some(Ipv4Addr::LOCALHOST.to_string()),
            port: u32::from(flight_port),
            grpc_port: u32::from(grpc_port),
            specification: Some(
                ExecutorSpecification::default()
                    .with_vcores(u32::try_from(slots).unwrap_or(u32::MAX))
                    .into(),
            ),
            os_info: Some(ExecutorOperatingSystemSpecification::default().into()),
            ballista_protocol_version: BALLISTA_PROTOCOL_VERSION,
        };
        let executor = Arc::new(
            Executor::with_default_execution_engine(
                metadata,
                &work,
                runtime_producer.clone(),
                config_producer.clone(),
                registry.clone(),
                Arc::new(LoggingMetricsCollector::default()),
                slots,
            )
            .with_session_runtime_cache(Some(runtimes.clone())),
        );
        let process = ExecutorProcessConfig {
            bind_host: Ipv4Addr::LOCALHOST.to_string(),
            port: flight_port,
            grpc_port,
            vcores: slots,
            work_dir: Some(work.clone()),
            executor_heartbeat_interval_seconds: settings.heartbeat_interval_seconds,
            ..ExecutorProcessConfig::default()
        };
        // Push mode stops the executor through this channel; an in-process executor lives
        // as long as its handle instead.
        let (stop, _stopped) = tokio::sync::mpsc::channel(1);
        match executor_server::startup(
            client.clone(),
            Arc::new(process),
            executor,
            codec(&config),
            stop,
            &shutdown,
            ExecutorHealth::new(),
        )
        .await
        {
            Ok(server) => {
                servers.push(tokio::spawn(async move {
                    if let Ok(Err(e)) = server.await {
                        tracing::error!("in-process executor stopped: {e}");
                    }
                }));
                return Ok(InProcessExecutor { shutdown, servers });
            }
            Err(e) if attempt == PORT_ATTEMPTS => return Err(ExecutorError::Ballista(e)),
            Err(e) => {
                tracing::debug!("in-process executor, attempt {attempt}: {e}");
                attempt += 1;
            }
        }
    }
}

fn codec(config: &SessionConfig) -> BallistaCodec {
    BallistaCodec::new(
        config.ballista_logical_extension_codec(),
        config.ballista_physical_extension_codec(),
    )
}

fn config_error(what: &str, e: std::io::Error) -> ExecutorError {
    ExecutorError::Config(format!("{what}: {e}"))
}

fn serve(router: Router, listener: TcpListener, what: &'static str) -> JoinHandle<()> {
    tokio::spawn(async move {
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        if let Err(e) = router.serve_with_incoming(incoming).await {
            tracing::error!("in-process {what} stopped: {e}");
        }
    })
}

fn free_loopback_port() -> Result<u16, ExecutorError> {
    let probe = StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| config_error("finding a free loopback port", e))?;
    Ok(probe
        .local_addr()
        .map_err(|e| config_error("finding a free loopback port", e))?
        .port())
}
