//! `huntsman-scheduler`: a Ballista scheduler whose sessions carry Huntsman's functions,
//! object stores and `huntsman.*` settings.
//!
//! This crate owns the scheduler's settings and start-up ([`run`] for the binary,
//! [`serve`] on a listener already bound, which the client's embedded cluster uses too);
//! the binary only parses flags.
//! It does not own any function or session logic: both come from
//! [`huntsman_udfs::session`], shared with the executors and the client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), huntsman_scheduler::SchedulerError> {
//! let settings = huntsman_scheduler::SchedulerSettings::default();
//! huntsman_scheduler::run(settings, std::future::pending()).await
//! # }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{
    create_scheduler, start_grpc_service_with_listener,
};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use huntsman_udfs::session::{huntsman_session_config, huntsman_session_state};

/// Scheduler start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// A setting is invalid.
    #[error("invalid scheduler setting: {0}")]
    Config(String),
    /// The scheduler failed to start or stopped with an error.
    #[error("scheduler on {addr}: {source}")]
    Server {
        /// The address the scheduler tried to serve on.
        addr: SocketAddr,
        /// Ballista's error.
        source: ballista_core::error::BallistaError,
    },
}

/// Settings of one scheduler process. Defaults match a single-host lab.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Address to bind (default `127.0.0.1`: loopback until a private interface is
    /// chosen; the port lets anyone who reaches it submit or run jobs).
    pub bind_host: String,
    /// gRPC, health and Flight port (default 50050).
    pub bind_port: u16,
    /// Host name executors and clients use to reach this scheduler (default `localhost`).
    pub external_host: String,
    /// Seconds without a heartbeat after which an executor is considered dead
    /// (default 180).
    pub executor_timeout_seconds: u64,
    /// Seconds between checks for dead executors (default 15).
    pub expire_dead_executor_interval_seconds: u64,
    /// Serve result fetches through this scheduler's port (an embedded Arrow Flight
    /// proxy), so clients reach only this port and never the executors; for labs whose
    /// executors sit on a private network (default off: clients fetch from executors).
    pub flight_proxy: bool,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            bind_host: "127.0.0.1".into(),
            bind_port: 50050,
            external_host: "localhost".into(),
            executor_timeout_seconds: 180,
            expire_dead_executor_interval_seconds: 15,
            flight_proxy: false,
        }
    }
}

impl SchedulerSettings {
    /// The socket address to serve on.
    ///
    /// # Errors
    /// Fails when `bind_host` is not an IP address.
    pub fn address(&self) -> Result<SocketAddr, SchedulerError> {
        format!("{}:{}", self.bind_host, self.bind_port)
            .parse()
            .map_err(|e| {
                SchedulerError::Config(format!(
                    "bind address {}:{} is not valid: {e}",
                    self.bind_host, self.bind_port
                ))
            })
    }

    /// Checks every setting before any server starts.
    ///
    /// # Errors
    /// Names the first invalid setting.
    pub fn check(&self) -> Result<(), SchedulerError> {
        self.address()?;
        if self.executor_timeout_seconds == 0 {
            return Err(SchedulerError::Config(
                "executor timeout must be at least 1 second (got 0)".into(),
            ));
        }
        if self.expire_dead_executor_interval_seconds == 0 {
            return Err(SchedulerError::Config(
                "dead-executor check interval must be at least 1 second (got 0)".into(),
            ));
        }
        if self.external_host.trim().is_empty() {
            return Err(SchedulerError::Config(
                "external host must not be empty".into(),
            ));
        }
        Ok(())
    }

    /// Ballista's scheduler configuration with Huntsman's session hooks installed.
    pub fn to_ballista(&self) -> SchedulerConfig {
        SchedulerConfig {
            bind_host: self.bind_host.clone(),
            bind_port: self.bind_port,
            external_host: self.external_host.clone(),
            executor_timeout_seconds: self.executor_timeout_seconds,
            expire_dead_executor_interval_seconds: self
                .expire_dead_executor_interval_seconds,
            enable_embedded_flight_proxy: self.flight_proxy,
            override_config_producer: Some(Arc::new(huntsman_session_config)),
            override_session_builder: Some(Arc::new(huntsman_session_state)),
            ..Default::default()
        }
    }
}

/// Runs the scheduler on `settings`' bind address until `shutdown` completes.
///
/// # Errors
/// Invalid settings, a bind address that is taken, or a Ballista failure.
pub async fn run(
    settings: SchedulerSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SchedulerError> {
    settings.check()?;
    let addr = settings.address()?;
    let listener = bind(addr).map_err(|e| SchedulerError::Server {
        addr,
        source: ballista_core::error::BallistaError::IoError(e),
    })?;
    serve(settings, listener, shutdown).await
}

/// Binds the scheduler's listener with `TCP_NODELAY`, which the connections it accepts
/// inherit (Linux). Ballista serves the scheduler through axum, which leaves Nagle's
/// algorithm on: each small gRPC answer (a job's status, a task launch) would then wait
/// up to 40 ms for an acknowledgement, several times per query.
///
/// # Errors
/// The address cannot be bound.
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Runs the scheduler on a listener already bound (the binary's port, or a loopback port
/// the client's embedded cluster chose) until `shutdown` completes. The binary and the
/// embedded cluster both start their scheduler here: sessions from
/// [`huntsman_udfs::session`], Ballista's in-memory cluster state, push-staged tasks.
///
/// # Errors
/// Invalid settings or a Ballista failure.
pub async fn serve(
    settings: SchedulerSettings,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SchedulerError> {
    settings.check()?;
    let addr = listener
        .local_addr()
        .map_err(|e| SchedulerError::Config(format!("the scheduler's listener: {e}")))?;
    let config = Arc::new(settings.to_ballista());
    let server_error = |source| SchedulerError::Server { addr, source };
    config.validate().map_err(server_error)?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(server_error)?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
            .await
            .map_err(server_error)?;
    tracing::info!("scheduler listening on {addr}");
    tokio::select! {
        result = start_grpc_service_with_listener(listener, scheduler) => result.map_err(server_error),
        () = shutdown => {
            tracing::info!("scheduler on {addr} shutting down");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SchedulerSettings::default()
            .check()
            .expect("defaults valid");
    }

    #[test]
    fn bad_bind_host_is_named() {
        let s = SchedulerSettings {
            bind_host: "not a host".into(),
            ..Default::default()
        };
        let err = s.check().expect_err("invalid host").to_string();
        assert!(err.contains("not a host"), "{err}");
    }

    #[test]
    fn zero_timeout_is_rejected() {
        let s = SchedulerSettings {
            executor_timeout_seconds: 0,
            ..Default::default()
        };
        assert!(s.check().is_err());
    }
}
