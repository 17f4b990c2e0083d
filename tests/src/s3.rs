//! A real S3-compatible server for tests: Garage, single node, on loopback ports chosen at
//! run time, with one access key and one bucket. Faults in front of it come from
//! [`crate::faults::FaultProxy`].
//!
//! The Garage binary is `$HUNTSMAN_GARAGE`, else `garage` on `PATH`, else the one in
//! `$HOME/.cache/huntsman/garage/bin/`, which is installed there (`cargo install`, once per
//! machine) when missing.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::free_port;

/// Access key id of the test key (Garage ids are `GK` and 24 hex digits).
pub const ACCESS_KEY: &str = "GK5e1f0c2a9b7d3e4f6a8b0c1d";
/// The bucket every test writes to.
pub const BUCKET: &str = "lake";

/// The Garage release the tests run against.
pub const GARAGE_VERSION: &str = "2.5.0";

/// Finds the Garage binary, installing it once per machine when none is there (so that
/// `cargo test --workspace` needs nothing else on a fresh machine; `.ci/run` installs it
/// up front).
///
/// # Errors
/// None is installed and `cargo install` fails; the message says how to install it.
pub fn garage_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("HUNTSMAN_GARAGE") {
        return Ok(PathBuf::from(path));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("garage");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let root = home.join(".cache/huntsman/garage");
    let installed = root.join("bin/garage");
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if installed.is_file() {
        return Ok(installed);
    }
    eprintln!(
        "installing Garage {GARAGE_VERSION} into {} (once per machine)",
        root.display()
    );
    let status =
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "install",
                "garage",
                "--locked",
                "--version",
                GARAGE_VERSION,
                "--root",
            ])
            .arg(&root)
            .env(
                "CARGO_TARGET_DIR",
                home.join(".cache/huntsman/garage-target"),
            )
            .status()
            .context("running cargo install garage")?;
    if !status.success() || !installed.is_file() {
        bail!(
            "no Garage binary and `cargo install garage --locked --version {GARAGE_VERSION} \
             --root {}` failed ({status}); install it or set HUNTSMAN_GARAGE",
            root.display()
        );
    }
    Ok(installed)
}

/// A running single-node Garage with bucket [`BUCKET`] and key [`ACCESS_KEY`].
#[derive(Debug)]
pub struct Garage {
    child: Child,
    /// The S3 API port on 127.0.0.1.
    pub port: u16,
    secret: String,
    log: PathBuf,
}

impl Garage {
    /// Starts Garage with its data under `dir` and waits until the bucket answers.
    ///
    /// # Errors
    /// No binary, a start failure, or no answer within 60 s (the log is included).
    pub fn start(dir: &Path) -> Result<Self> {
        let binary = garage_binary()?;
        std::fs::create_dir_all(dir)?;
        let port = free_port();
        let rpc = free_port();
        let secret: String = (0..64)
            .map(|i| char::from(b"0123456789abcdef"[(i * 7 + port as usize) % 16]))
            .collect();
        let rpc_secret: String = (0..64)
            .map(|i| char::from(b"0123456789abcdef"[(i * 5 + rpc as usize) % 16]))
            .collect();
        let config = dir.join("garage.toml");
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{meta}\"\n\
                 data_dir = \"{data}\"\n\
                 db_engine = \"sqlite\"\n\
                 replication_factor = 1\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_secret = \"{rpc_secret}\"\n\
                 [s3_api]\n\
                 s3_region = \"us-east-1\"\n\
                 api_bind_addr = \"127.0.0.1:{port}\"\n",
                meta = dir.join("meta").display(),
                data = dir.join("data").display(),
            ),
        )?;
        let log = dir.join("garage.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&binary)
            .args(["-c"])
            .arg(&config)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", ACCESS_KEY)
            .env("GARAGE_DEFAULT_SECRET_KEY", &secret)
            .env("GARAGE_DEFAULT_BUCKET", BUCKET)
            .env("GARAGE_ALLOW_WORLD_READABLE_SECRETS", "true")
            .env("RUST_LOG", "garage=info")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut garage = Self {
            child,
            port,
            secret,
            log,
        };
        garage.wait_ready(Duration::from_secs(60))?;
        Ok(garage)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("garage exited with {status}:\n{}", self.log_text());
            }
            let text = self.log_text();
            if text.contains("S3 API server listening")
                && text.contains(&format!("default bucket `{BUCKET}`"))
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("garage not ready within {limit:?}:\n{}", self.log_text())
    }

    /// Garage's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The secret key (for asserting that it never shows).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The environment a Huntsman process needs to reach this store at `endpoint` (this
    /// server's, or a proxy's), in the original stack's MinIO variables.
    pub fn env_for(&self, endpoint: &str) -> Vec<(String, String)> {
        vec![
            ("MINIO_ENDPOINT".into(), endpoint.to_string()),
            ("MINIO_ACCESS_KEY".into(), ACCESS_KEY.into()),
            ("MINIO_SECRET_KEY".into(), self.secret.clone()),
            ("MINIO_PATH_STYLE_ACCESS".into(), "true".into()),
        ]
    }

    /// [`Garage::env_for`] this server's own endpoint.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_for(&self.endpoint())
    }

    /// Keys below `prefix` in [`BUCKET`], listed by a client independent of Huntsman
    /// (`object_store` directly).
    ///
    /// # Errors
    /// The listing fails.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        use object_store::ObjectStore;
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(&self.secret)
            .build()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let prefix = object_store::path::Path::from(prefix);
        let mut keys: Vec<String> = runtime.block_on(async {
            store
                .list(Some(&prefix))
                .map_ok(|m| m.location.to_string())
                .try_collect::<Vec<_>>()
                .await
        })?;
        keys.sort();
        Ok(keys)
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("---- last lines of garage ----");
            eprintln!("{}", lines[lines.len().saturating_sub(30)..].join("\n"));
        }
    }
}
