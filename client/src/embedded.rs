//! The embedded cluster: a Ballista scheduler and one executor inside the client process,
//! on loopback ports chosen at start-up.
//!
//! Ballista's own standalone mode (`SessionContext::standalone_with_state`) runs its
//! executor in pull mode: the executor asks the scheduler for work every 50 ms when idle
//! and reports a finished task only with its next request. A two-stage query then waits
//! out several polling intervals. Here the scheduler pushes tasks to the executor the
//! moment they become runnable and the executor reports each task as it finishes, as in
//! a remote cluster started from the `huntsman-scheduler` and `huntsman-executor`
//! binaries. Both halves build their sessions from [`huntsman_udfs::session`], like
//! those binaries.
//!
//! The executor's work directory (shuffle files) is a temporary directory removed when
//! the last [`EmbeddedCluster`] handle is dropped.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow_flight::flight_service_server::FlightServiceServer;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::ExecutorRegistration;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpcServer;
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
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::metrics::default_metrics_collector;
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion::prelude::SessionConfig;
use huntsman_udfs::session::{
    MemoryPoolSize, huntsman_function_registry, huntsman_runtime_env,
    huntsman_session_state, memory_pool_policy,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::server::{Router, TcpIncoming};

/// How often the embedded executor tells the scheduler it is alive. Push mode reports
/// tasks as they finish, so this only keeps the executor registered.
const HEARTBEAT_SECONDS: u64 = 30;

/// Sessions whose runtime (object stores, spill directory) the embedded executor keeps,
/// as Ballista's executor process does.
const SESSION_RUNTIMES: usize = 16;

/// Attempts at finding a free executor gRPC port (the port is chosen before the server
/// binds it, so another process may take it in between).
const PORT_ATTEMPTS: usize = 5;

/// A running embedded cluster. Dropping the last clone stops its executor's task runner
/// and removes the work directory.
#[derive(Clone)]
pub struct EmbeddedCluster {
    inner: Arc<Inner>,
}

struct Inner {
    scheduler: SocketAddr,
    work_dir: tempfile::TempDir,
    shutdown: ShutdownNotifier,
    servers: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
        // Ends the executor's heartbeat and task-runner loops.
        let _ = self.shutdown.notify_shutdown.send(());
    }
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("scheduler", &self.inner.scheduler)
            .field("work_dir", &self.inner.work_dir.path())
            .finish()
    }
}

impl EmbeddedCluster {
    /// Starts a scheduler and one executor with `slots` task slots and a memory pool of
    /// `memory_pool` bytes, shared by its tasks as in `huntsman-executor` (see
    /// [`huntsman_udfs::session::memory_pool_policy`]; `None`: 70 % of memory, `Some(0)`:
    /// unbounded).
    ///
    /// # Errors
    /// No loopback port can be bound, the work directory cannot be created, the pool is
    /// smaller than the slots, or the executor cannot register with the scheduler.
    pub async fn start(
        config: &SessionConfig,
        slots: usize,
        memory_pool: Option<u64>,
    ) -> Result<Self> {
        let work_dir = tempfile::Builder::new()
            .prefix("huntsman-embedded-")
            .tempdir()
            .context("creating the embedded executor's work directory")?;
        let mut servers = Vec::new();
        let scheduler = start_scheduler(config, &mut servers).await?;
        let shutdown = ShutdownNotifier::new();
        start_executor(
            config,
            scheduler,
            work_dir.path(),
            (slots.max(1), memory_pool),
            &shutdown,
            &mut servers,
        )
        .await?;
        Ok(Self {
            inner: Arc::new(Inner {
                scheduler,
                work_dir,
                shutdown,
                servers,
            }),
        })
    }

    /// The scheduler's address, `df://127.0.0.1:<port>`.
    pub fn scheduler_url(&self) -> String {
        format!("df://{}", self.inner.scheduler)
    }

    /// Where the executor keeps shuffle files.
    pub fn work_dir(&self) -> &Path {
        self.inner.work_dir.path()
    }
}

fn codec(config: &SessionConfig) -> BallistaCodec {
    BallistaCodec::new(
        config.ballista_logical_extension_codec(),
        config.ballista_physical_extension_codec(),
    )
}

async fn start_scheduler(
    config: &SessionConfig,
    servers: &mut Vec<JoinHandle<()>>,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding the embedded scheduler to a loopback port")?;
    let addr = listener.local_addr()?;
    let defaults = config.clone();
    let config_producer: ConfigProducer = Arc::new(move || defaults.clone());
    let cluster = BallistaCluster::new_memory(
        addr.to_string(),
        Arc::new(huntsman_session_state),
        config_producer,
    );
    let scheduler_config = SchedulerConfig {
        bind_host: Ipv4Addr::LOCALHOST.to_string(),
        bind_port: addr.port(),
        external_host: Ipv4Addr::LOCALHOST.to_string(),
        scheduling_policy: ballista_core::config::TaskSchedulingPolicy::PushStaged,
        ..SchedulerConfig::default()
    };
    let metrics = default_metrics_collector().context("scheduler metrics")?;
    let mut server = SchedulerServer::new(
        addr.to_string(),
        cluster,
        codec(config),
        Arc::new(scheduler_config),
        metrics,
    );
    server
        .init()
        .await
        .context("starting the embedded scheduler")?;
    let limit = config.ballista_grpc_client_max_message_size();
    let service = SchedulerGrpcServer::new(server)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let router = create_grpc_server(&GrpcServerConfig::default()).add_service(service);
    servers.push(serve(router, listener, "scheduler"));
    Ok(addr)
}

async fn start_executor(
    config: &SessionConfig,
    scheduler: SocketAddr,
    work_dir: &Path,
    (slots, memory_pool): (usize, Option<u64>),
    shutdown: &ShutdownNotifier,
    servers: &mut Vec<JoinHandle<()>>,
) -> Result<()> {
    let work = work_dir.to_string_lossy().into_owned();
    let flight = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding the embedded executor's Flight port")?;
    let flight_port = flight.local_addr()?.port();
    let limit = config.ballista_grpc_client_max_message_size();
    let service = FlightServiceServer::new(BallistaFlightService::new(work.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let router = create_grpc_server(&GrpcServerConfig::default()).add_service(service);
    servers.push(serve(router, flight, "executor's Flight server"));

    let defaults = config.clone().upgrade_for_ballista();
    let config_producer: ConfigProducer = Arc::new(move || defaults.clone());
    let spill_dir: PathBuf = work_dir.to_path_buf();
    let runtime_producer: RuntimeProducer =
        Arc::new(move |config| huntsman_runtime_env(config, Some(&spill_dir)));
    let registry = Arc::new(
        huntsman_function_registry().context("building the executor's functions")?,
    );
    // The pool policy of huntsman-executor: each task a FairSpillPool of its slots' share.
    let pool_bytes = MemoryPoolSize::from_option(memory_pool).resolve();
    let policy = memory_pool_policy(pool_bytes, slots)
        .context("the embedded executor's memory pool")?;
    tracing::debug!(
        "embedded executor memory pool: {pool_bytes:?} bytes over {slots} slots"
    );
    let runtimes: Arc<dyn SessionRuntimeCache> =
        Arc::new(DefaultSessionRuntimeCache::new(
            runtime_producer.clone(),
            policy,
            SESSION_RUNTIMES,
        ));

    let scheduler = SchedulerGrpcClient::connect(format!("http://{scheduler}"))
        .await
        .context("connecting the embedded executor to its scheduler")?
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
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
                    .with_vcores(slots as u32)
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
            executor_heartbeat_interval_seconds: HEARTBEAT_SECONDS,
            ..ExecutorProcessConfig::default()
        };
        // Push mode stops the executor through this channel; the embedded executor
        // lives as long as the cluster handle instead.
        let (stop, _stopped) = tokio::sync::mpsc::channel(1);
        match executor_server::startup(
            scheduler.clone(),
            Arc::new(process),
            executor,
            codec(config),
            stop,
            shutdown,
            ExecutorHealth::new(),
        )
        .await
        {
            Ok(server) => {
                servers.push(tokio::spawn(async move {
                    if let Ok(Err(e)) = server.await {
                        tracing::error!("embedded executor stopped: {e}");
                    }
                }));
                return Ok(());
            }
            Err(e) if attempt == PORT_ATTEMPTS => {
                return Err(
                    anyhow::Error::new(e).context("starting the embedded executor")
                );
            }
            Err(e) => {
                tracing::debug!("embedded executor, attempt {attempt}: {e}");
                attempt += 1;
            }
        }
    }
}

/// Serves `router` on `listener` until the task is aborted.
///
/// Accepted connections get `TCP_NODELAY`: tonic sets it only on listeners it binds
/// itself, and without it Nagle's algorithm and delayed acknowledgements hold small
/// gRPC messages (a job's final status, a task launch) for up to 40 ms.
fn serve(router: Router, listener: TcpListener, what: &'static str) -> JoinHandle<()> {
    tokio::spawn(async move {
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let served = router.serve_with_incoming(incoming).await;
        if let Err(e) = served {
            tracing::error!("embedded {what} stopped: {e}");
        }
    })
}

/// A loopback port nothing listens on right now.
fn free_loopback_port() -> Result<u16> {
    let probe = StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("finding a free loopback port for the embedded executor")?;
    Ok(probe.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{Cluster, connect};
    use datafusion::arrow::array::{Array, Int64Array};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_a_shuffled_query_and_removes_its_work_dir_when_dropped() {
        let ctx = connect(&Cluster::Embedded {
            parallelism: Some(2),
            memory_pool: None,
        })
        .await
        .expect("embedded cluster starts");
        // A group-by plans two stages with a shuffle between them.
        let batches = ctx
            .sql("SELECT k, count(*) AS n FROM (VALUES (1), (2), (1), (1)) t(k) GROUP BY k ORDER BY k")
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let counts: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                let n = b
                    .column(1)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("counts");
                (0..n.len()).map(|i| n.value(i)).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(counts, vec![3, 1]);

        let cluster = ctx
            .state()
            .config()
            .get_extension::<EmbeddedCluster>()
            .expect("the context holds its cluster");
        let work_dir = cluster.work_dir().to_path_buf();
        assert!(work_dir.is_dir());
        assert!(cluster.scheduler_url().starts_with("df://127.0.0.1:"));
        drop(cluster);
        drop(ctx);
        assert!(!work_dir.exists(), "{} left behind", work_dir.display());
    }

    /// The embedded executor bounds its tasks' memory as huntsman-executor does: with an
    /// 8 MiB pool over 2 slots, a hash join whose build side cannot spill is refused, and
    /// a sort of far more data than the pool completes by spilling.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_memory_pool_is_enforced_and_sorts_spill() {
        let ctx = connect(&Cluster::Embedded {
            parallelism: Some(2),
            memory_pool: Some(8 << 20),
        })
        .await
        .expect("embedded cluster starts");
        let run = |sql: &'static str| {
            let ctx = ctx.clone();
            async move { ctx.sql(sql).await.expect("plans").collect().await }
        };
        // Rows made on the executor by unnest: generate_series is a table function Ballista
        // cannot ship, and random() keeps the planner from folding the range into the plan.
        let err = run("SELECT count(*) FROM (SELECT unnest(range(0, 2000000 + CAST(floor(random()) AS BIGINT))) AS value) a \
             JOIN (SELECT unnest(range(0, 2000000 + CAST(floor(random()) AS BIGINT))) AS value) b ON a.value = b.value")
        .await
        .expect_err("the build side does not fit the pool");
        assert!(err.to_string().contains("ResourcesExhausted"), "{err}");
        // A sort keeps 10 MB for merging its spills by default, more than a task's share.
        run("SET datafusion.execution.sort_spill_reservation_bytes = 1048576")
            .await
            .expect("set");
        // About 80 MB of rows sorted in 4 MiB per task: only possible by spilling.
        let batches = run("SELECT count(*) AS n, min(rn) AS first FROM ( \
               SELECT row_number() OVER (ORDER BY v, pad) AS rn FROM ( \
                 SELECT random() AS v, repeat('x', 24) || CAST(value AS VARCHAR) AS pad \
                 FROM (SELECT unnest(range(0, 2000000 + CAST(floor(random()) AS BIGINT))) AS value))) WHERE rn % 100000 = 1")
        .await
        .expect("the sort spills and completes");
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("count")
            .value(0);
        assert_eq!(n, 20);
    }
}
