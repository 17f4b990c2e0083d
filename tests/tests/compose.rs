//! A many-node lab in docker compose (`docker-compose.yml`, `deploy/lab.sh`): images built
//! here without a registry, a scheduler, executors that scale, and a Garage store, all on
//! a private network. From the host: a generated lab written into the compose store, `hunt
//! all` on the cluster equal to the same lab run embedded, an executor killed in the
//! middle of the longest hunt, the store stopped in the middle of a hunt, a fourth
//! executor, and a teardown that leaves nothing behind.
//!
//! Needs the Docker engine (`.ci/run` runs on a machine kind that has it) and the debug
//! binaries (`cargo build --workspace --bins`), which the images are made from.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use huntsman_tests::{
    HUNTS, SMALL_MODELS, bin_path, free_port, run_client_with_env, succeeded as ok,
};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(1800);
/// Log filter of every process in the test: Huntsman's, Ballista's, DataFusion's and the
/// object store's own diagnostics at debug, so that the secrets check reads what an
/// operator chasing a problem would turn on.
const VERBOSE: &str =
    "info,huntsman=debug,ballista=debug,datafusion=debug,object_store=debug";
/// Events in the generated lab: `HUNTSMAN_COMPOSE_EVENTS`, else 300 000 (a debug build
/// on two cores runs `hunt all` on 300 k events in about 70 s on three executors; the
/// same test with `HUNTSMAN_COMPOSE_EVENTS=2000000` is the full-size run).
fn events() -> String {
    std::env::var("HUNTSMAN_COMPOSE_EVENTS").unwrap_or_else(|_| "300000".into())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository")
        .to_path_buf()
}

/// One compose lab with its own project name, settings file and host ports; taken down
/// (containers, network, volumes) when dropped, also when the test fails.
struct Lab {
    project: String,
    env_file: PathBuf,
    scheduler_port: u16,
    s3_port: u16,
    client_env: Vec<(String, String)>,
    /// Everything the clients printed, for the secrets check.
    transcript: std::sync::Mutex<Vec<u8>>,
}

impl Lab {
    fn new(work: &Path) -> Self {
        let project = format!("huntsman-test-{}", std::process::id());
        Self {
            project,
            env_file: work.join("lab.env"),
            scheduler_port: free_port(),
            s3_port: free_port(),
            client_env: Vec::new(),
            transcript: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn record(&self, bytes: &[u8]) {
        let mut seen = self.transcript.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend_from_slice(bytes);
        seen.push(b'\n');
    }

    /// The setting `name` of the lab's settings file.
    fn setting(&self, name: &str) -> String {
        let text = std::fs::read_to_string(&self.env_file).expect("lab settings");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// Logs of every Huntsman container of the project, stopped ones included.
    fn huntsman_logs(&self) -> String {
        let mut text = String::new();
        for service in ["scheduler", "executor"] {
            let out = Command::new("docker")
                .args([
                    "ps",
                    "-aq",
                    "--filter",
                    &format!("label=com.docker.compose.project={}", self.project),
                    "--filter",
                    &format!("label=com.docker.compose.service={service}"),
                ])
                .output()
                .expect("docker ps");
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let logs = Command::new("docker")
                    .args(["logs", id])
                    .output()
                    .expect("docker logs");
                text.push_str(&String::from_utf8_lossy(&logs.stdout));
                text.push_str(&String::from_utf8_lossy(&logs.stderr));
            }
        }
        text
    }

    fn script(&self, args: &[&str]) -> Output {
        Command::new(repo_root().join("deploy/lab.sh"))
            .args(args)
            .env("HUNTSMAN_LAB_PROJECT", &self.project)
            .env("HUNTSMAN_LAB_ENV_FILE", &self.env_file)
            .env(
                "HUNTSMAN_SCHEDULER_HOST_PORT",
                self.scheduler_port.to_string(),
            )
            .env("HUNTSMAN_LAB_S3_HOST_PORT", self.s3_port.to_string())
            .env("HUNTSMAN_IMAGE_TAG", "test")
            .env("HUNTSMAN_LAB_LOG", VERBOSE)
            .stdin(Stdio::null())
            .output()
            .expect("deploy/lab.sh runs")
    }

    fn must(&self, args: &[&str]) -> String {
        let out = self.script(args);
        ok(&out, &format!("deploy/lab.sh {}", args.join(" ")))
    }

    fn up(&mut self, executors: usize) {
        let n = executors.to_string();
        self.must(&["up", "--executors", &n, "--profile", "debug", "--rebuild"]);
        let exports = self.must(&["env"]);
        self.client_env = exports
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .filter(|(k, _)| k != "HUNTSMAN_SCHEDULER" && k != "DATA_PATH")
            .collect();
        self.client_env
            .push(("HUNTSMAN_LOG".into(), VERBOSE.into()));
    }

    fn scheduler(&self) -> String {
        format!("df://127.0.0.1:{}", self.scheduler_port)
    }

    /// Container ids of a service.
    fn containers(&self, service: &str) -> Vec<String> {
        let out = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=com.docker.compose.project={}", self.project),
                "--filter",
                &format!("label=com.docker.compose.service={service}"),
            ])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// The scheduler's `/readyz` body ("ready: N executors registered").
    fn readyz(&self) -> String {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.scheduler_port))
        else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    }

    /// What is left of the project: containers, networks, volumes.
    fn leftovers(&self) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.project);
        let mut left = Vec::new();
        for kind in [
            &["ps", "-aq"][..],
            &["network", "ls", "-q"],
            &["volume", "ls", "-q"],
        ] {
            let out = Command::new("docker")
                .args(kind)
                .args(["--filter", &label])
                .output()
                .expect("docker lists");
            left.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| format!("{} {l}", kind[0])),
            );
        }
        left
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.script(&["down"]);
        if !out.status.success() {
            eprintln!("lab down failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        remove_test_images();
    }
}

/// Removes the images this test built (tag `test`, and the content-hash tags of the same
/// images), so that repeated runs do not pile up images; other tags are left alone.
fn remove_test_images() {
    let Ok(out) = Command::new("docker")
        .args([
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
            "huntsman/*",
        ])
        .output()
    else {
        return;
    };
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<(&str, &str)> =
        listed.lines().filter_map(|l| l.split_once(' ')).collect();
    let ids: Vec<&str> = rows
        .iter()
        .filter(|(name, _)| name.ends_with(":test"))
        .map(|&(_, id)| id)
        .collect();
    for (name, id) in &rows {
        let tag = name.rsplit(':').next().unwrap_or_default();
        let hash_tag = tag.len() == 12 && tag.bytes().all(|b| b.is_ascii_hexdigit());
        if ids.contains(id) && (tag == "test" || hash_tag) {
            let _ = Command::new("docker").args(["rmi", name]).output();
        }
    }
}

fn client(lab: &Lab, work: &Path, args: &[&str]) -> Output {
    let out =
        run_client_with_env(args, work, LIMIT, &lab.client_env).expect("huntsman ran");
    lab.record(&out.stdout);
    lab.record(&out.stderr);
    out
}

fn hunt_args<'a>(
    scheduler: Option<&'a str>,
    base: &'a str,
    hunt: &'a str,
) -> Vec<&'a str> {
    let mut args = Vec::new();
    if let Some(url) = scheduler {
        args.extend(["--scheduler", url]);
    }
    args.extend([
        "--data",
        "s3://lake/lab/events",
        "hunt",
        hunt,
        "--set",
        base,
    ]);
    args.extend(SMALL_MODELS);
    args
}

/// Flagged entity keys per hunt in the newest run under `prefix`, read back from the
/// stored findings with `huntsman sql`.
fn flagged(
    lab: &Lab,
    work: &Path,
    prefix: &str,
    hunts: &[&str],
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for &hunt in hunts {
        let manifest = newest_manifest(lab, prefix, hunt);
        let entity: Vec<String> = manifest["results"]["entity"]
            .as_array()
            .expect("entity columns")
            .iter()
            .map(|v| v.as_str().expect("name").to_string())
            .collect();
        let findings = manifest["results"]["findings"]
            .as_str()
            .expect("findings location")
            .to_string();
        let sql = format!(
            "SELECT {cols} FROM events WHERE flagged ORDER BY {cols}",
            cols = entity.join(", ")
        );
        let rows = client(
            lab,
            work,
            &["--data", &findings, "sql", "--format", "csv", &sql],
        );
        let text = ok(&rows, "reading findings");
        out.insert(
            hunt.to_string(),
            text.lines().skip(1).map(String::from).collect(),
        );
    }
    out
}

/// The manifest of the newest completed run of `hunt` under `prefix`.
fn newest_manifest(lab: &Lab, prefix: &str, hunt: &str) -> Value {
    let runs = manifests(lab, prefix, hunt);
    let (_, text) = runs
        .into_iter()
        .next_back()
        .unwrap_or_else(|| panic!("{hunt}: no completed run under {prefix}"));
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// Every `results/<hunt>/<run>/manifest.json` under `prefix` in the compose store, by
/// run id, read with `object_store` directly (a client independent of Huntsman).
fn manifests(lab: &Lab, prefix: &str, hunt: &str) -> BTreeMap<String, String> {
    use futures::TryStreamExt;
    use object_store::{ObjectStore, ObjectStoreExt};
    let env = |name: &str| {
        lab.client_env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("deploy/lab.sh env gave no {name}"))
    };
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(env("MINIO_ENDPOINT"))
        .with_allow_http(true)
        .with_bucket_name("lake")
        .with_region("us-east-1")
        .with_access_key_id(env("MINIO_ACCESS_KEY"))
        .with_secret_access_key(env("MINIO_SECRET_KEY"))
        .build()
        .expect("an S3 client for the compose store");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let root = object_store::path::Path::from(format!("{prefix}/results/{hunt}"));
        let keys: Vec<_> = store
            .list(Some(&root))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .expect("listing the compose store");
        let mut out = BTreeMap::new();
        for key in keys {
            let text = key.to_string();
            let Some(run) = text
                .strip_suffix("/manifest.json")
                .and_then(|k| k.rsplit('/').next())
            else {
                continue;
            };
            let body = store
                .get(&key)
                .await
                .expect("get")
                .bytes()
                .await
                .expect("body");
            out.insert(run.to_string(), String::from_utf8_lossy(&body).into_owned());
        }
        out
    })
}

/// Starts `huntsman` with `args` and returns the child, with stderr piped.
fn spawn_client(lab: &Lab, work: &Path, args: &[&str]) -> Child {
    Command::new(bin_path("huntsman").expect("client binary"))
        .args(args)
        .current_dir(work)
        .env_remove("DATA_PATH")
        .env_remove("HUNTSMAN_SCHEDULER")
        .envs(lab.client_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("huntsman starts")
}

/// Reads the child's stderr until `hunt` reports a finished phase (`  <hunt>  <phase>
/// <rows> rows <seconds> s`; returns the lines so far), then keeps draining it on a
/// thread; the rest comes back from the join handle.
fn wait_for_phase(
    child: &mut Child,
    hunt: &str,
) -> (Vec<String>, std::thread::JoinHandle<Vec<String>>) {
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        let hit = line.trim_start().starts_with(hunt) && line.contains(" rows ");
        seen.push(line);
        if hit {
            break;
        }
    }
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    (seen, rest)
}

/// Waits for `child` at most `limit`; kills it and fails the test past that, saying
/// `after` what (the fault the client was left with).
fn wait_bounded(
    child: &mut Child,
    limit: Duration,
    after: &str,
) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the client can be waited on") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the client was still running {limit:?} after {after}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts `c2-beacon` on the cluster with results under `s3://lake/<prefix>`, breaks the
/// cluster with `lab <fault...>` once its first phase runs, and waits (bounded) for the
/// client to fail. Returns the user's error line (`huntsman: ...`) and all the client
/// printed.
fn hunt_through_fault(
    lab: &Lab,
    work: &Path,
    scheduler: &str,
    prefix: &str,
    fault: &[&str],
    what: &str,
) -> (String, String) {
    let base = format!("BASE_S3_PATH=s3://lake/{prefix}");
    let args = hunt_args(Some(scheduler), &base, "c2-beacon");
    let mut child = spawn_client(lab, work, &args);
    let (_, rest) = wait_for_phase(&mut child, "c2-beacon");
    lab.must(fault);
    let at = Instant::now();
    let status = wait_bounded(&mut child, Duration::from_secs(300), what);
    let after = at.elapsed();
    let stderr = rest.join().unwrap_or_default().join("\n");
    lab.record(stderr.as_bytes());
    assert!(
        !status.success(),
        "the hunt succeeded after {what}:\n{stderr}"
    );
    let error = stderr
        .lines()
        .rfind(|l| l.starts_with("huntsman: "))
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "{what}: the hunt failed {:.0} s later: {error}",
        after.as_secs_f64()
    );
    (error, stderr)
}

/// After `hunt_through_fault` and the cluster's repair: the failed run left no manifest,
/// and the same command now succeeds with exactly one.
fn rerun_after_repair(lab: &Lab, work: &Path, scheduler: &str, prefix: &str, what: &str) {
    assert!(
        manifests(lab, prefix, "c2-beacon").is_empty(),
        "a complete-looking run was left after {what}"
    );
    let base = format!("BASE_S3_PATH=s3://lake/{prefix}");
    let args = hunt_args(Some(scheduler), &base, "c2-beacon");
    ok(
        &client(lab, work, &args),
        &format!("the same hunt after {what} was repaired"),
    );
    assert_eq!(manifests(lab, prefix, "c2-beacon").len(), 1);
}

#[test]
fn a_compose_lab_runs_the_hunts_survives_a_lost_executor_and_tears_down_clean() {
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let mut lab = Lab::new(work);

    // 1. Images from the debug binaries, three executors, all registered.
    lab.up(3);
    assert!(
        lab.readyz().contains("ready: 3 executors registered"),
        "{}",
        lab.readyz()
    );
    assert_eq!(lab.containers("executor").len(), 3);

    // 2. A generated lab in the compose store; `hunt all` on the cluster and embedded.
    let events = events();
    ok(
        &client(
            &lab,
            work,
            &[
                "lab",
                "generate",
                "--out",
                "s3://lake/lab",
                "--days",
                "14",
                "--events",
                &events,
                "--seed",
                "11",
            ],
        ),
        "lab generate into the compose store",
    );
    let scheduler = lab.scheduler();
    let started = Instant::now();
    let remote = client(
        &lab,
        work,
        &hunt_args(Some(&scheduler), "BASE_S3_PATH=s3://lake/remote", "all"),
    );
    ok(&remote, "hunt all on the compose cluster");
    let remote_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let embedded = client(
        &lab,
        work,
        &hunt_args(None, "BASE_S3_PATH=s3://lake/embedded", "all"),
    );
    ok(&embedded, "hunt all embedded");
    eprintln!(
        "hunt all on {events} events: compose cluster (3 executors) {remote_seconds:.0} s, \
         embedded {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let on_cluster = flagged(&lab, work, "remote", &HUNTS);
    let in_process = flagged(&lab, work, "embedded", &HUNTS);
    for hunt in HUNTS {
        assert_eq!(
            on_cluster[hunt], in_process[hunt],
            "{hunt}: the compose cluster and the embedded run flag different entities"
        );
    }
    assert!(
        on_cluster.values().any(|rows| !rows.is_empty()),
        "no hunt flagged anything: {on_cluster:?}"
    );
    // The executors wrote every table: what reached the client in a phase was a model or
    // a number (one row), never a table.
    for hunt in HUNTS {
        let manifest = newest_manifest(&lab, "remote", hunt);
        let phases = manifest["phases"].as_array().expect("phases");
        let mut received = 0;
        for phase in phases {
            let bytes = phase["client_bytes"].as_u64().expect("client_bytes");
            let rows = phase["rows"].as_u64().expect("rows");
            assert!(
                bytes == 0 || rows <= 1,
                "{hunt}: phase {} brought {rows} rows ({bytes} bytes) into the client",
                phase["phase"]
            );
            received += bytes;
        }
        eprintln!("{hunt}: {received} bytes of results reached the client");
    }
    // A store in a folder of the host is one the executors cannot see: refused up front.
    let local_store = work.join("local-store");
    let local_base = format!("BASE_S3_PATH={}", local_store.display());
    let refused = client(
        &lab,
        work,
        &hunt_args(Some(&scheduler), &local_base, "c2-beacon"),
    );
    assert!(
        !refused.status.success(),
        "a store the executors cannot see was taken"
    );
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("is a folder on this machine") && why.contains("s3://"),
        "{why}"
    );

    // 3. The longest hunt again; one executor killed after its first phase.
    let longest = "process-anomaly";
    let args = hunt_args(Some(&scheduler), "BASE_S3_PATH=s3://lake/killed", longest);
    let started = Instant::now();
    let mut child = spawn_client(&lab, work, &args);
    let (_, rest) = wait_for_phase(&mut child, longest);
    let victim = lab.containers("executor").remove(0);
    let killed_at = started.elapsed();
    let kill = Command::new("docker")
        .args(["kill", &victim])
        .output()
        .expect("docker kill");
    ok(&kill, "docker kill an executor");
    let status = wait_bounded(
        &mut child,
        Duration::from_secs(900),
        "an executor was killed",
    );
    let stderr = rest.join().unwrap_or_default().join("\n");
    lab.record(stderr.as_bytes());
    assert!(
        status.success(),
        "{longest} did not survive a lost executor:\n{stderr}"
    );
    let seconds = |prefix: &str| {
        newest_manifest(&lab, prefix, longest)["seconds"]
            .as_f64()
            .expect("run seconds")
    };
    eprintln!(
        "{longest} with an executor killed at {:.0} s: run took {:.0} s (without the \
         kill: {:.0} s); the command finished in {:.0} s",
        killed_at.as_secs_f64(),
        seconds("killed"),
        seconds("remote"),
        started.elapsed().as_secs_f64()
    );
    let after = flagged(&lab, work, "killed", &[longest]);
    assert_eq!(
        after[longest], on_cluster[longest],
        "{longest}: the run that lost an executor flags different entities"
    );
    let _ = lab.must(&["scale", "3"]);

    // 4. The store stopped in the middle of a hunt: a clear error naming it, no complete
    //    run; the same command succeeds once it is back.
    let (error, stderr) = hunt_through_fault(
        &lab,
        work,
        &scheduler,
        "cut",
        &["compose", "stop", "s3"],
        "the store was stopped",
    );
    // The error the user reads (`huntsman: ...`) names the store location, in one line,
    // without Rust's debug dump of the nested error: the run's own files under
    // `lake/cut/`, or the events under `lake/lab/` when the store stopped while the
    // executors were still reading them (a loaded machine reads slower).
    assert!(
        (error.contains("lake/cut/") || error.contains("lake/lab/events/"))
            && !error.contains("DataFusionError("),
        "the error does not name the store plainly:\n{stderr}"
    );
    lab.must(&["compose", "start", "s3"]);
    lab.must(&["up", "--executors", "3", "--profile", "debug"]);
    rerun_after_repair(&lab, work, &scheduler, "cut", "the store was stopped");

    // 4b. The scheduler killed in the middle of a hunt: the client reports the lost job in
    //     one line within a bounded time, leaves no complete run, and the same command
    //     succeeds once the scheduler is back and the executors have registered again.
    let (error, stderr) = hunt_through_fault(
        &lab,
        work,
        &scheduler,
        "lost",
        &["compose", "kill", "scheduler"],
        "the scheduler was killed",
    );
    assert!(
        error.contains("cluster")
            && !error.contains("h2 protocol")
            && !error.contains("DataFusionError("),
        "the lost scheduler does not read as a lost cluster:\n{stderr}"
    );
    lab.must(&["compose", "start", "scheduler"]);
    lab.must(&["up", "--executors", "3", "--profile", "debug"]);
    rerun_after_repair(&lab, work, &scheduler, "lost", "the scheduler was killed");

    // 5. A fourth executor; a query whose tasks reach all of them.
    lab.must(&["scale", "4"]);
    let executors = lab.containers("executor");
    assert_eq!(executors.len(), 4);
    let spread = "SELECT winlog_computer_name, count(*) AS n, \
                  approx_distinct(winlog_event_data_processguid) AS p \
                  FROM events GROUP BY winlog_computer_name";
    for _ in 0..3 {
        ok(
            &client(
                &lab,
                work,
                &[
                    "--scheduler",
                    &scheduler,
                    "--data",
                    "s3://lake/lab/events",
                    "sql",
                    "--format",
                    "csv",
                    spread,
                ],
            ),
            "a query on four executors",
        );
    }
    for id in &executors {
        let logs = Command::new("docker")
            .args(["logs", id])
            .output()
            .expect("docker logs");
        let text = String::from_utf8_lossy(&logs.stdout).into_owned()
            + &String::from_utf8_lossy(&logs.stderr);
        assert!(text.contains("Finished task"), "executor {id} ran no task");
    }

    // 6. No secret in any log of the run: the scheduler's and every executor's (debug
    //    level, the killed ones included), everything the clients printed, and the run
    //    manifests.
    let mut seen = lab.huntsman_logs();
    seen.push_str(&String::from_utf8_lossy(
        &lab.transcript.lock().unwrap_or_else(|e| e.into_inner()),
    ));
    for prefix in ["remote", "embedded", "killed", "cut", "lost"] {
        for hunt in HUNTS {
            for manifest in manifests(&lab, prefix, hunt).into_values() {
                seen.push_str(&manifest);
            }
        }
    }
    assert!(
        seen.len() > 100_000,
        "too little was logged for the check to mean anything ({} bytes)",
        seen.len()
    );
    for name in [
        "HUNTSMAN_LAB_S3_SECRET_KEY",
        "HUNTSMAN_LAB_GARAGE_RPC_SECRET",
    ] {
        let secret = lab.setting(name);
        assert!(secret.len() >= 32, "{name} is not a generated secret");
        assert!(
            !seen.contains(&secret),
            "{name}'s value appears in a log, a client's output or a manifest"
        );
    }
    eprintln!(
        "secrets check: {} bytes of logs and manifests read",
        seen.len()
    );

    // 7. Down: nothing of the project is left.
    lab.must(&["down"]);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}
