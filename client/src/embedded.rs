//! The embedded cluster: a Ballista scheduler and one executor inside the client process,
//! on loopback ports chosen at start-up.
//!
//! Both halves are started by the same code as the binaries: the scheduler by
//! [`huntsman_scheduler::serve`] (on a loopback listener instead of the binary's bound
//! port), the executor by [`huntsman_executor::start_in_process`] (the binary's settings,
//! functions, session and memory-pool policy, without its signal handling). Tasks are
//! pushed to the executor the moment they become runnable and reported as each
//! finishes, as in a remote cluster; Ballista's own standalone mode would poll every
//! 50 ms instead.
//!
//! The executor's work directory (shuffle files) is a temporary directory removed when
//! the last [`EmbeddedCluster`] handle is dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use huntsman_executor::{ExecutorSettings, InProcessExecutor, start_in_process};
use huntsman_scheduler::SchedulerSettings;
use tokio::task::JoinHandle;

/// A running embedded cluster. Cloning shares it; the last clone dropped stops the
/// servers and removes the work directory.
#[derive(Clone)]
pub struct EmbeddedCluster {
    inner: Arc<Inner>,
}

struct Inner {
    scheduler: SocketAddr,
    // Dropped before the work directory: the executor stops writing first.
    executor: Option<InProcessExecutor>,
    scheduler_task: JoinHandle<()>,
    work_dir: tempfile::TempDir,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.executor.take();
        self.scheduler_task.abort();
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
    /// Starts a scheduler and one executor with `slots` task slots and an optional
    /// memory pool (bytes; `None` sizes it from the machine, see
    /// [`huntsman_udfs::session::MemoryPoolSize`]).
    ///
    /// # Errors
    /// No free loopback port, or the scheduler or executor failing to start.
    pub async fn start(slots: usize, memory_pool: Option<u64>) -> Result<Self> {
        let work_dir = tempfile::Builder::new()
            .prefix("huntsman-embedded-")
            .tempdir()
            .context("creating the embedded executor's work directory")?;
        let listener =
            huntsman_scheduler::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .context("binding the embedded scheduler to a loopback port")?;
        let scheduler = listener.local_addr()?;
        let settings = SchedulerSettings {
            bind_host: Ipv4Addr::LOCALHOST.to_string(),
            bind_port: scheduler.port(),
            external_host: Ipv4Addr::LOCALHOST.to_string(),
            ..SchedulerSettings::default()
        };
        let scheduler_task = tokio::spawn(async move {
            if let Err(e) =
                huntsman_scheduler::serve(settings, listener, std::future::pending())
                    .await
            {
                tracing::error!("embedded scheduler stopped: {e}");
            }
        });
        let settings = ExecutorSettings {
            vcores: slots.max(1),
            memory_pool_bytes: memory_pool,
            heartbeat_interval_seconds: HEARTBEAT_SECONDS,
            ..ExecutorSettings::default()
        };
        let executor = match start_in_process(&settings, scheduler, work_dir.path()).await
        {
            Ok(executor) => executor,
            Err(e) => {
                scheduler_task.abort();
                return Err(
                    anyhow::Error::new(e).context("starting the embedded executor")
                );
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                scheduler,
                executor: Some(executor),
                scheduler_task,
                work_dir,
            }),
        })
    }

    /// The scheduler's URL, `df://127.0.0.1:PORT`.
    pub fn scheduler_url(&self) -> String {
        format!("df://{}", self.inner.scheduler)
    }

    /// The executor's work directory (removed with the last handle).
    pub fn work_dir(&self) -> &Path {
        self.inner.work_dir.path()
    }
}

/// Seconds between the executor's heartbeats: nothing expires an embedded executor, so
/// rarely.
const HEARTBEAT_SECONDS: u64 = 30;

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
