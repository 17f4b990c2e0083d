//! A real S3-compatible server for tests: Garage, single node, on loopback ports chosen at
//! run time, with one access key and one bucket; and [`CutProxy`], a TCP relay in front of
//! it that plays a store going away in the middle of a run.
//!
//! The Garage binary is `$HUNTSMAN_GARAGE`, else `garage` on `PATH`, else the one in
//! `$HOME/.cache/huntsman/garage/bin/`, which is installed there (`cargo install`, once per
//! machine) when missing.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A TCP relay on 127.0.0.1 in front of a server that goes down (refuses every request)
/// as soon as a client starts an HTTP request whose first line matches a trigger, before
/// that request reaches the server, and comes back on [`CutProxy::restore`].
#[derive(Debug)]
pub struct CutProxy {
    /// The relay's port.
    pub port: u16,
    down: Arc<AtomicBool>,
    tripped: Arc<AtomicBool>,
}

impl CutProxy {
    /// Starts a relay to `127.0.0.1:<target>` that goes down at the first request line
    /// starting with `method` and containing `needle`.
    ///
    /// # Errors
    /// No free port.
    pub fn start(target: u16, method: &str, needle: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let down = Arc::new(AtomicBool::new(false));
        let tripped = Arc::new(AtomicBool::new(false));
        let trigger = Arc::new((format!("{method} "), needle.to_string()));
        let (d, t) = (down.clone(), tripped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (d, t, trigger) = (d.clone(), t.clone(), trigger.clone());
                std::thread::spawn(move || relay(client, server, &d, &t, &trigger));
            }
        });
        Ok(Self {
            port,
            down,
            tripped,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether the trigger was seen (and the relay went down).
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// Brings the relay back; the trigger stays disarmed.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// Copies client → server (watching request lines) and server → client, until either side
/// closes or the relay goes down.
fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    down: &AtomicBool,
    tripped: &AtomicBool,
    trigger: &(String, String),
) {
    let (Ok(mut client_out), Ok(mut server_in)) =
        (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_in, &mut client_out);
        let _ = client_out.shutdown(Shutdown::Both);
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail = String::new();
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if down.load(Ordering::SeqCst) {
            break;
        }
        if !tripped.load(Ordering::SeqCst) {
            tail.push_str(&String::from_utf8_lossy(&buf[..n]));
            // A request line follows the previous request's body directly, so look for
            // the method anywhere, not only at line starts.
            let hit = tail.match_indices(trigger.0.as_str()).any(|(i, _)| {
                let line = tail[i..].split("\r\n").next().unwrap_or("");
                line.contains(&trigger.1) && line.contains(" HTTP/1")
            });
            if hit {
                tripped.store(true, Ordering::SeqCst);
                down.store(true, Ordering::SeqCst);
                break;
            }
            // Keep only what a request line split across reads needs.
            if tail.len() > 8192 {
                let cut = tail.len() - 4096;
                let cut = (cut..tail.len())
                    .find(|i| tail.is_char_boundary(*i))
                    .unwrap_or(tail.len());
                tail.drain(..cut);
            }
        }
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
    let _ = back.join();
}
