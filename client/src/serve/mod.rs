//! `huntsman serve`: an Arrow Flight SQL endpoint for notebooks, BI tools and SIEM
//! connectors, with the stored hunt runs as tables and live SQL on the cluster.
//!
//! It is a client command, not a scheduler feature, because what it serves is the
//! client's: the run store and its commit protocol (`findings.*`), the `events` table and
//! any `--table`, Huntsman's functions, and the choice of an embedded or remote cluster.
//! Ballista's own Flight SQL (scheduler feature `flight-sql`) plans on the scheduler,
//! which knows none of the stored runs, shares one session among anonymous clients and
//! sits on the scheduler's gRPC port, which must stay private: executors and clients
//! submit jobs there. This server runs on its own port, with its own users and TLS.

pub mod auth;
pub mod catalog;
pub mod service;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use arrow_flight::flight_service_server::FlightServiceServer;
use clap::Args;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::connect::{Cluster, allow_store_models, connect};
use crate::hunt::store::Store;
use crate::tables::{TableSource, check_tables, register_tables};
use auth::{Tokens, Users};
use catalog::{FINDINGS_SCHEMA, FindingsSchema};
use service::HuntsmanFlightSql;

/// Environment variable with inline users (`name:<hash>` entries, `;` or newline
/// separated), used when no users file is given.
pub const USERS_ENV: &str = "HUNTSMAN_FLIGHT_USERS";

/// `huntsman serve` flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(
        long,
        env = "HUNTSMAN_FLIGHT_LISTEN",
        default_value = "127.0.0.1:50060"
    )]
    pub listen: String,
    /// Users: a file of `name:<argon2id PHC hash>` lines (make them with `huntsman
    /// hash-password`). Without it, HUNTSMAN_FLIGHT_USERS holds the entries.
    #[arg(long, env = "HUNTSMAN_FLIGHT_USERS_FILE", value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// How long a login's bearer token lives: seconds, or with s, m, h.
    #[arg(long, env = "HUNTSMAN_FLIGHT_TOKEN_TTL", default_value = "1h")]
    pub token_ttl: String,
    /// TLS certificate chain (PEM); with --tls-key.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); with --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Listen on a non-loopback address without TLS (passwords and tokens then cross
    /// the network in clear text).
    #[arg(long)]
    pub insecure_plaintext: bool,
}

/// Parses a token lifetime: `3600`, `90s`, `30m`, `1h`.
///
/// # Errors
/// Anything else, or zero.
pub fn parse_ttl(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds_per = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => bail!("token lifetime {text:?}: use seconds, or a number with s, m or h"),
    };
    let n: u64 = number
        .parse()
        .with_context(|| format!("token lifetime {text:?}: not a number"))?;
    if n == 0 {
        bail!("token lifetime {text:?}: must be more than zero");
    }
    Ok(Duration::from_secs(n.saturating_mul(seconds_per)))
}

fn load_users(args: &ServeArgs) -> Result<Users> {
    match &args.users_file {
        Some(path) => Users::from_file(path),
        None => match std::env::var(USERS_ENV) {
            Ok(text) if !text.trim().is_empty() => Users::parse(&text, USERS_ENV),
            _ => bail!(
                "no users: give --users-file FILE or {USERS_ENV} (entries name:<hash> from \
                 `huntsman hash-password`); the server has no anonymous access"
            ),
        },
    }
}

fn tls(args: &ServeArgs) -> Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let cert_pem = std::fs::read(cert)
        .with_context(|| format!("TLS certificate {}", cert.display()))?;
    let key_pem =
        std::fs::read(key).with_context(|| format!("TLS key {}", key.display()))?;
    if !String::from_utf8_lossy(&cert_pem).contains("-----BEGIN CERTIFICATE-----") {
        bail!(
            "TLS certificate {}: no PEM certificate in it",
            cert.display()
        );
    }
    if !String::from_utf8_lossy(&key_pem).contains("PRIVATE KEY-----") {
        bail!("TLS key {}: no PEM private key in it", key.display());
    }
    Ok(Some(
        ServerTlsConfig::new().identity(Identity::from_pem(cert_pem, key_pem)),
    ))
}

/// Runs the server until SIGINT or SIGTERM.
///
/// # Errors
/// No users, bad TLS files, an address that cannot be bound, plaintext on a
/// non-loopback address without `--insecure-plaintext`, or a cluster that cannot be
/// reached.
pub async fn run(
    cluster: &Cluster,
    sources: &[TableSource],
    model_roots: &[String],
    args: &ServeArgs,
) -> Result<()> {
    let users = load_users(args)?;
    let ttl = parse_ttl(&args.token_ttl)?;
    let tls = tls(args)?;
    let addr: SocketAddr = args
        .listen
        .parse()
        .with_context(|| format!("--listen {:?}: not an address:port", args.listen))?;
    if tls.is_none() && !addr.ip().is_loopback() && !args.insecure_plaintext {
        bail!(
            "--listen {addr}: a non-loopback address needs TLS (--tls-cert, --tls-key), or \
             --insecure-plaintext to send passwords and tokens in clear text"
        );
    }
    let tables = check_tables(sources).await?;
    let ctx = connect(cluster).await?;
    let store_root = allow_store_models(&ctx, model_roots)?;
    // Stored strings are read as the classic Utf8 every Arrow client takes, not as
    // DataFusion's Utf8View: served rows then need no cast on their way out.
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    register_tables(&ctx, &tables).await?;
    let store = Store::open(&store_root)?;
    let findings = Arc::new(FindingsSchema::new(store, ctx.state()));
    findings
        .refresh()
        .await
        .with_context(|| format!("listing the runs in {store_root}"))?;
    let catalog = ctx
        .catalog(&ctx.state().config().options().catalog.default_catalog)
        .context("the session has no default catalog")?;
    catalog
        .register_schema(FINDINGS_SCHEMA, Arc::clone(&findings) as _)
        .context("registering the findings schema")?;

    let user_count = users.len();
    let service = HuntsmanFlightSql::new(ctx, findings, users, Tokens::new(ttl))
        .context("building the Flight SQL service")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--listen {addr}: cannot bind"))?;
    let bound = listener.local_addr().context("the bound address")?;
    let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
    let mut server = Server::builder();
    if let Some(tls) = tls {
        server = server
            .tls_config(tls)
            .context("the TLS certificate and key do not make a TLS identity")?;
    }
    // Printed on stdout for scripts and tests (port 0 picks one); the rest on stderr.
    println!("huntsman serve: Flight SQL at {scheme}://{bound}");
    eprintln!(
        "huntsman serve: {user_count} user(s), tokens live {}s; tables: events, {} and \
         findings.\"<hunt>\" / findings.\"<hunt>_<run id>\" from {store_root}",
        ttl.as_secs(),
        if sources.len() > 1 {
            "the --table tables"
        } else {
            "no --table"
        },
    );
    let svc =
        FlightServiceServer::new(service).max_decoding_message_size(16 * 1024 * 1024);
    server
        .add_service(svc)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown_signal())
        .await
        .context("the Flight SQL server failed")?;
    eprintln!("huntsman serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetimes_parse() {
        assert_eq!(parse_ttl("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "0", "1d", "h", "-5", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
    }
}
