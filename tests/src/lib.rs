//! `huntsman-tests`: end-to-end tests that start real scheduler, executor and client
//! processes on loopback ports chosen at run time.
//!
//! This crate publishes nothing; it owns the harness ([`TestCluster`], [`bin_path`]) and
//! the scenarios in `tests/`. The binaries come from the running test's target profile
//! directory: build them first with `cargo build --workspace --bins` (or run
//! `cargo test --workspace`, which the README's test command does after building them).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod data;
pub mod faults;
pub mod python;
pub mod s3;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use huntsman_udfs::probe::{http_get, registered_executors};

/// The directory holding the workspace binaries of the running test's profile.
///
/// # Panics
/// When the test executable's path has no parent directories (never under cargo).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf()
}

/// Path of a workspace binary, or an error that says how to build it.
///
/// # Errors
/// When the binary has not been built.
pub fn bin_path(name: &str) -> Result<PathBuf> {
    let path = profile_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build --workspace --bins` before \
             `cargo test -p huntsman-tests`",
            path.display()
        );
    }
    Ok(path)
}

/// A free TCP port on 127.0.0.1.
///
/// # Panics
/// When the OS has no free port.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

/// `n` distinct free loopback ports: every socket is held until all are bound, so the OS
/// cannot hand out one port twice (two `free_port` calls can).
///
/// # Panics
/// When the OS has no free port.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound socket has an address").port())
        .collect()
}

/// A child process that is killed when dropped, with its output in a log file.
#[derive(Debug)]
pub struct ManagedChild {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ManagedChild {
    /// Starts `bin` with `args`, logging stdout and stderr to `<log_dir>/<name>.log`.
    ///
    /// # Errors
    /// The binary is missing or cannot be started.
    pub fn spawn(name: &str, bin: &str, args: &[String], log_dir: &Path) -> Result<Self> {
        Self::spawn_with_env(name, bin, args, log_dir, &[])
    }

    /// [`ManagedChild::spawn`] with extra environment variables.
    ///
    /// # Errors
    /// The binary is missing or cannot be started.
    pub fn spawn_with_env(
        name: &str,
        bin: &str,
        args: &[String],
        log_dir: &Path,
        env: &[(String, String)],
    ) -> Result<Self> {
        let path = bin_path(bin)?;
        let log = log_dir.join(format!("{name}.log"));
        let out =
            File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(&path)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", path.display()))?;
        Ok(Self {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// The exit status, if the process has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM and waits up to `grace` for the process to end.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's name in the harness.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of {} ({}) ----",
                self.name,
                self.log.display()
            );
            eprintln!("{}", self.log_tail(40));
        }
    }
}

/// One scheduler and some executors, each a real process on loopback.
#[derive(Debug)]
pub struct TestCluster {
    /// The scheduler process.
    pub scheduler: ManagedChild,
    /// The executor processes.
    pub executors: Vec<ManagedChild>,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// Health ports of the executors, in order.
    pub executor_health_ports: Vec<u16>,
}

impl TestCluster {
    /// Starts a scheduler and `executors` executors, each with `vcores` task slots, and
    /// waits until all executors are registered.
    ///
    /// # Errors
    /// A binary is missing, a process dies, or registration takes longer than 60 s.
    pub fn start(work: &Path, executors: usize, vcores: usize) -> Result<Self> {
        Self::start_with_env(work, executors, vcores, &[])
    }

    /// [`TestCluster::start`] with extra environment variables for every process (object
    /// store settings, for example).
    ///
    /// # Errors
    /// A binary is missing, a process dies, or registration takes longer than 60 s.
    pub fn start_with_env(
        work: &Path,
        executors: usize,
        vcores: usize,
        env: &[(String, String)],
    ) -> Result<Self> {
        let logs = work.join("logs");
        std::fs::create_dir_all(&logs)?;
        let scheduler_port = free_port();
        let scheduler = ManagedChild::spawn_with_env(
            "scheduler",
            "huntsman-scheduler",
            &[
                "--bind-host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                scheduler_port.to_string(),
                "--external-host".into(),
                "127.0.0.1".into(),
            ],
            &logs,
            env,
        )?;
        let mut cluster = Self {
            scheduler,
            executors: Vec::new(),
            scheduler_port,
            executor_health_ports: Vec::new(),
        };
        for i in 0..executors {
            let work_dir = work.join(format!("executor-{i}"));
            let [health_port, flight_port, grpc_port] = free_ports(3)[..] else {
                unreachable!("free_ports(3) returns three ports");
            };
            let child = ManagedChild::spawn_with_env(
                &format!("executor-{i}"),
                "huntsman-executor",
                &[
                    "--scheduler-host".into(),
                    "127.0.0.1".into(),
                    "--scheduler-port".into(),
                    scheduler_port.to_string(),
                    "--bind-host".into(),
                    "127.0.0.1".into(),
                    "--external-host".into(),
                    "127.0.0.1".into(),
                    "--flight-port".into(),
                    flight_port.to_string(),
                    "--grpc-port".into(),
                    grpc_port.to_string(),
                    "--health-port".into(),
                    health_port.to_string(),
                    "--vcores".into(),
                    vcores.to_string(),
                    "--work-dir".into(),
                    work_dir.display().to_string(),
                    "--heartbeat-seconds".into(),
                    "5".into(),
                ],
                &logs,
                env,
            )?;
            cluster.executors.push(child);
            cluster.executor_health_ports.push(health_port);
        }
        cluster.wait_for_executors(executors, Duration::from_secs(60))?;
        Ok(cluster)
    }

    /// `df://127.0.0.1:<port>` of the scheduler.
    pub fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.scheduler_port)
    }

    /// Waits until the scheduler's `/readyz` reports `count` executors.
    ///
    /// # Errors
    /// A process died or `deadline` passed.
    pub fn wait_for_executors(&mut self, count: usize, deadline: Duration) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let addr = format!("127.0.0.1:{}", self.scheduler_port);
        let start = Instant::now();
        let mut last = String::from("no answer yet");
        while start.elapsed() < deadline {
            if let Some(status) = self.scheduler.try_status() {
                bail!(
                    "scheduler exited with {status}:\n{}",
                    self.scheduler.log_tail(20)
                );
            }
            for e in &mut self.executors {
                if let Some(status) = e.try_status() {
                    bail!("{} exited with {status}:\n{}", e.name, e.log_tail(20));
                }
            }
            match runtime.block_on(http_get(&addr, "/readyz", Duration::from_secs(2))) {
                Ok(answer) => {
                    if registered_executors(&answer.body).is_some_and(|n| n >= count) {
                        return Ok(());
                    }
                    last = answer.body;
                }
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "{count} executors did not register within {deadline:?}; last answer: {last}"
        )
    }
}

/// Runs the `huntsman` client binary with `args` and a time limit.
///
/// # Errors
/// The binary is missing, cannot start, or runs longer than `limit` (it is killed).
pub fn run_client(args: &[&str], cwd: &Path, limit: Duration) -> Result<Output> {
    run_client_with_env(args, cwd, limit, &[])
}

/// The five hunts `huntsman hunt all` runs, by name.
pub const HUNTS: [&str; 5] = [
    "ad-enum-kmeans",
    "ad-enum-autoencoder",
    "c2-beacon",
    "process-anomaly",
    "widespread-attack",
];

/// Small neural networks and few steps for `huntsman hunt`: debug builds train them in
/// seconds. The process hunt's sequence model keeps its ten epochs: after one it has
/// learned nothing (every loss within 0.2 nats of a uniform guess), and a test would
/// measure the hunt without its behaviour evidence (docs/evaluation.md).
pub const SMALL_MODELS: &[&str] = &[
    "--set",
    "PROCESS_HIDDEN_DIM=16",
    "--set",
    "PROCESS_EMBEDDING_DIM=8",
    "--set",
    "PROCESS_MAX_SEQ_LEN=32",
    "--set",
    "AD_DL_AUTOENCODER_HIDDEN_DIM=32",
    "--set",
    "WS_AUTOENCODER_MAX_BATCHES=100",
    "--set",
    "C2_AUTOENCODER_NUM_EPOCHS=10",
];

/// Generates a simulated lab of `days` and about `events` events into `out` with
/// `seed`, running the client from `cwd`.
///
/// # Panics
/// When the client cannot run or the generation fails; the message shows its stderr.
pub fn generate_lab(cwd: &Path, out: &Path, days: u32, events: u64, seed: u64) {
    let (days, events, seed) = (days.to_string(), events.to_string(), seed.to_string());
    let out_arg = out.to_str().expect("lab path is UTF-8");
    let args = [
        "lab", "generate", "--out", out_arg, "--days", &days, "--events", &events,
        "--seed", &seed,
    ];
    let run = run_client(&args, cwd, Duration::from_secs(300)).expect("client ran");
    succeeded(&run, "lab generate");
}

/// [`run_client`] with extra environment variables.
///
/// # Errors
/// The binary is missing, cannot start, or runs longer than `limit` (it is killed).
pub fn run_client_with_env(
    args: &[&str],
    cwd: &Path,
    limit: Duration,
    env: &[(String, String)],
) -> Result<Output> {
    run_client_measured(args, cwd, limit, env).map(|(out, _)| out)
}

/// [`run_client_with_env`], also returning the client's peak resident memory in bytes
/// (its `VmHWM`, sampled every 50 ms while it runs: growth in its last 50 ms is missed).
///
/// # Errors
/// As [`run_client_with_env`].
pub fn run_client_measured(
    args: &[&str],
    cwd: &Path,
    limit: Duration,
    env: &[(String, String)],
) -> Result<(Output, u64)> {
    let path = bin_path("huntsman")?;
    let child = Command::new(&path)
        .args(args)
        .current_dir(cwd)
        .env_remove("DATA_PATH")
        .env_remove("HUNTSMAN_SCHEDULER")
        .env_remove("HUNTSMAN_MODEL_ROOTS")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", path.display()))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    // Read the pipes on another thread so a chatty child never blocks on a full pipe.
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let status = format!("/proc/{pid}/status");
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(text) = std::fs::read_to_string(&status) else {
                    break;
                };
                let kib = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| {
                        v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
                    });
                peak = peak.max(kib.unwrap_or(0) * 1024);
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    let waited = rx.recv_timeout(limit);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    match waited {
        Ok(output) => Ok((output?, peak)),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            bail!("huntsman {args:?} still running after {limit:?}; it was killed")
        }
    }
}

/// The standard output of a command that must have succeeded.
///
/// # Panics
/// When it failed: the message names `what` and shows its standard error.
pub fn succeeded(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The folder of the latest completed run of `hunt` in the results of `store` (visible,
/// with its manifest; run ids sort by time).
///
/// # Panics
/// When the store holds no completed run of the hunt.
pub fn latest_run(store: &Path, hunt: &str) -> PathBuf {
    let runs = store.join("results").join(hunt);
    let mut ids: Vec<_> = std::fs::read_dir(&runs)
        .unwrap_or_else(|e| panic!("results folder {}: {e}", runs.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && runs.join(n).join("manifest.json").is_file())
        .collect();
    ids.sort();
    runs.join(ids.last().expect("a completed run"))
}

/// The CSV rows (header dropped) of `sql` over one Parquet file (as table `events`), run
/// by `huntsman sql` from `cwd`.
///
/// # Panics
/// When the client cannot run or the query fails; the message shows its stderr.
pub fn query_parquet(cwd: &Path, file: &Path, sql: &str) -> Vec<String> {
    let file = file.to_str().expect("Parquet path is UTF-8");
    let out = run_client(
        &["--data", file, "sql", "--format", "csv", sql],
        cwd,
        Duration::from_secs(120),
    )
    .expect("sql ran");
    succeeded(&out, "huntsman sql")
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}
