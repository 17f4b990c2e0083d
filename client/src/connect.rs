//! Connecting to a cluster: an embedded Ballista scheduler and executor in this process
//! (the default, see [`crate::embedded`]), or a remote scheduler given as
//! `df://host:port`.
//!
//! Both paths build their session from [`huntsman_udfs::session`], then register
//! Huntsman's functions again on the returned context: Ballista replaces the client's
//! function lists when it upgrades a session.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ballista::prelude::SessionContextExt;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::embedded::EmbeddedCluster;
use huntsman_udfs::config::HUNTSMAN_MODEL_ROOTS;
use huntsman_udfs::objstore::is_object_url;
use huntsman_udfs::probe::wait_for_answer;
use huntsman_udfs::session::{
    huntsman_session_config, huntsman_session_state, register_all_on_context,
};

/// How long the client waits for a remote scheduler to answer before giving up.
pub const SCHEDULER_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where queries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// An in-process scheduler and executor.
    Embedded {
        /// Task slots of the embedded executor (default: CPU count).
        parallelism: Option<usize>,
        /// The embedded executor's memory pool in bytes (default: as `huntsman-executor`,
        /// 70 % of memory; 0 unbounded).
        memory_pool: Option<u64>,
    },
    /// A remote scheduler.
    Remote(SchedulerUrl),
}

impl Cluster {
    /// Embedded unless a scheduler URL is given.
    ///
    /// # Errors
    /// The URL is not `df://host[:port]`.
    pub fn from_option(scheduler: Option<&str>) -> Result<Self> {
        match scheduler.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Cluster::Embedded {
                parallelism: None,
                memory_pool: None,
            }),
            Some(url) => Ok(Cluster::Remote(SchedulerUrl::parse(url)?)),
        }
    }
}

/// A scheduler address, `df://host:port` (port defaults to 50050).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerUrl {
    /// Host name or IP.
    pub host: String,
    /// gRPC port.
    pub port: u16,
}

impl SchedulerUrl {
    /// Parses `df://host[:port]`, `http://host[:port]` or `host[:port]`.
    ///
    /// # Errors
    /// Names the text when it has no host or a bad port.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = text
            .strip_prefix("df://")
            .or_else(|| text.strip_prefix("http://"))
            .unwrap_or(text)
            .trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') => (
                h,
                p.parse::<u16>().with_context(|| {
                    format!("scheduler URL {text:?}: port {p:?} is not a number")
                })?,
            ),
            _ => (rest, 50050),
        };
        if host.is_empty() || host.contains('/') {
            bail!("scheduler URL {text:?} must look like df://host:50050");
        }
        Ok(Self {
            host: host.trim_matches(['[', ']']).to_string(),
            port,
        })
    }

    fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for SchedulerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "df://{}", self.host_port())
    }
}

/// The session configuration the client starts from.
///
/// Embedded mode plans as many partitions as the embedded executor has task slots:
/// Ballista's default of 16 would queue 16 small tasks per stage on a 2-core machine, each
/// paying a scheduling round trip. A remote cluster keeps Ballista's default, which suits
/// several executors.
pub fn client_config(cluster: &Cluster) -> SessionConfig {
    let mut config = huntsman_session_config();
    if let Cluster::Embedded { parallelism, .. } = cluster {
        let slots = parallelism
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            })
            .max(1);
        config = config.with_target_partitions(slots);
    }
    config
}

/// Connects to the cluster and returns a context with every Huntsman function.
///
/// # Errors
/// A remote scheduler that does not answer within [`SCHEDULER_PROBE_TIMEOUT`], or a
/// failure to start the embedded cluster.
pub async fn connect(cluster: &Cluster) -> Result<SessionContext> {
    let config = client_config(cluster);
    let ctx = match cluster {
        Cluster::Embedded { memory_pool, .. } => {
            let slots = config.target_partitions();
            let embedded = EmbeddedCluster::start(slots, *memory_pool)
                .await
                .context("starting the embedded scheduler and executor")?;
            let url = embedded.scheduler_url();
            // The context keeps the cluster running: it stops with the last user.
            let state = huntsman_session_state(config.with_extension(Arc::new(embedded)))
                .context("building the session state")?;
            SessionContext::remote_with_state(&url, state)
                .await
                .context("connecting to the embedded scheduler")?
        }
        Cluster::Remote(url) => {
            let state =
                huntsman_session_state(config).context("building the session state")?;
            wait_for_answer(&url.host_port(), "/healthz", SCHEDULER_PROBE_TIMEOUT)
                .await
                .with_context(|| format!("cannot reach the scheduler at {url}"))?;
            SessionContext::remote_with_state(&format!("df://{}", url.host_port()), state)
                .await
                .with_context(|| format!("connecting to the scheduler at {url}"))?
        }
    };
    register_all_on_context(&ctx);
    Ok(ctx)
}

/// A model root as every process names it: an `s3://`/`s3a://` prefix as written, a local
/// folder (or `file://` URL) made absolute, since executors resolve a relative path
/// against their own working directory.
///
/// # Errors
/// Another URL scheme, or a comma (the separator of `huntsman.model_roots`).
pub fn model_root(root: &str) -> Result<String> {
    let root = root.trim();
    if root.contains(',') {
        bail!("model root {root:?}: a comma cannot be part of a model root");
    }
    if is_object_url(root) {
        return Ok(root.to_string());
    }
    let path = root.strip_prefix("file://").unwrap_or(root);
    if path.contains("://") {
        bail!("model root {root:?}: use a local folder, file://, s3:// or s3a://");
    }
    let absolute =
        std::path::absolute(path).with_context(|| format!("model root {root:?}"))?;
    // A folder that exists is named with its links resolved, as the executors compare.
    Ok(absolute
        .canonicalize()
        .unwrap_or(absolute)
        .to_string_lossy()
        .into_owned())
}

/// Sets where scoring functions may read models named by URI (`huntsman.model_roots`):
/// the store, a reused models folder and any `--model-root`. The setting travels with
/// every query to the scheduler and the executors.
///
/// # Errors
/// A root [`model_root`] refuses.
pub fn set_model_roots(ctx: &SessionContext, roots: &[String]) -> Result<()> {
    let roots = roots
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| model_root(r))
        .collect::<Result<Vec<_>>>()?;
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .set(HUNTSMAN_MODEL_ROOTS, &roots.join(","))
        .context("setting huntsman.model_roots")
}

/// Lets scoring functions read models from the store (`BASE_S3_PATH`) and from every
/// `--model-root`, as `huntsman sql` and `huntsman serve` do; returns the store root.
///
/// # Errors
/// A root [`model_root`] refuses.
pub fn allow_store_models(
    ctx: &SessionContext,
    model_roots: &[String],
) -> Result<String> {
    let store = crate::location::store_root_from_env();
    let mut roots = vec![store.clone()];
    roots.extend(model_roots.iter().cloned());
    set_model_roots(ctx, &roots)?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scheduler_urls() {
        let u = SchedulerUrl::parse("df://sched:6000").expect("valid");
        assert_eq!((u.host.as_str(), u.port), ("sched", 6000));
        let u = SchedulerUrl::parse("localhost").expect("valid");
        assert_eq!(u.port, 50050);
        assert_eq!(u.to_string(), "df://localhost:50050");
        assert!(SchedulerUrl::parse("df://").is_err());
        assert!(SchedulerUrl::parse("df://h:notaport").is_err());
    }

    #[test]
    fn embedded_plans_one_partition_per_slot() {
        let config = client_config(&Cluster::Embedded {
            parallelism: Some(3),
            memory_pool: None,
        });
        assert_eq!(config.target_partitions(), 3);
        let remote =
            client_config(&Cluster::Remote(SchedulerUrl::parse("h").expect("url")));
        assert_ne!(remote.target_partitions(), 3);
    }

    #[test]
    fn model_roots_are_absolute_and_urls_stay() {
        assert_eq!(
            model_root("s3a://lake/runs").expect("url"),
            "s3a://lake/runs"
        );
        let local = model_root("some/relative").expect("path");
        assert!(std::path::Path::new(&local).is_absolute(), "{local}");
        assert!(local.ends_with("some/relative"), "{local}");
        assert_eq!(
            model_root("file:///srv/models").expect("file"),
            "/srv/models"
        );
        assert!(model_root("/a,/b").is_err());
        assert!(model_root("http://x/").is_err());
        let ctx = SessionContext::new_with_config(huntsman_session_config());
        set_model_roots(&ctx, &["/srv/store".into(), "s3://lake/m".into()]).expect("set");
        let state = ctx.state();
        let config = state
            .config()
            .options()
            .extensions
            .get::<huntsman_udfs::config::HuntsmanConfig>()
            .expect("extension");
        assert_eq!(config.model_roots, "/srv/store,s3://lake/m");
    }

    #[test]
    fn empty_scheduler_means_embedded() {
        assert_eq!(
            Cluster::from_option(Some("  ")).expect("embedded"),
            Cluster::Embedded {
                parallelism: None,
                memory_pool: None,
            }
        );
    }
}
