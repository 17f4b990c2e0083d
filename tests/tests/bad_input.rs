//! Bad input gets one clear error that names the problem, within a bounded time.

use std::time::{Duration, Instant};

use huntsman_tests::data::{connections, write_connections};
use huntsman_tests::{ManagedChild, TestCluster, free_port, run_client};

fn stderr_of(args: &[&str], cwd: &std::path::Path) -> String {
    let out = run_client(args, cwd, Duration::from_secs(60)).expect("client ran");
    assert!(!out.status.success(), "{args:?} should fail");
    assert_eq!(out.status.code(), Some(2), "{args:?} exit code");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.starts_with("huntsman: "),
        "one error line expected: {stderr}"
    );
    stderr
}

#[test]
fn unknown_column_lists_the_table_columns() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    write_connections(&data, &connections(100, 2, 1), 1).expect("data");
    let err = stderr_of(
        &[
            "--data",
            data.to_str().expect("utf8"),
            "sql",
            "SELECT nope FROM events",
        ],
        work.path(),
    );
    assert!(err.contains("nope"), "{err}");
    for column in ["host", "dst_ip", "ts"] {
        assert!(
            err.contains(column),
            "error should list column {column}: {err}"
        );
    }
}

#[test]
fn missing_and_empty_data_paths_are_named() {
    let work = tempfile::tempdir().expect("tempdir");
    let missing = work.path().join("nowhere");
    let err = stderr_of(
        &["--data", missing.to_str().expect("utf8"), "sql", "SELECT 1"],
        work.path(),
    );
    assert!(
        err.contains("nowhere") && err.contains("does not exist"),
        "{err}"
    );

    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let err = stderr_of(
        &["--data", empty.to_str().expect("utf8"), "sql", "SELECT 1"],
        work.path(),
    );
    assert!(
        err.contains("empty") && err.contains("no .parquet files"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_parquet_is_named() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    write_connections(&data, &connections(100, 2, 1), 2).expect("data");
    std::fs::write(data.join("broken.parquet"), "host,ts\nWS01,1\n").expect("write");
    let err = stderr_of(
        &["--data", data.to_str().expect("utf8"), "sql", "SELECT 1"],
        work.path(),
    );
    assert!(
        err.contains("broken.parquet") && err.contains("not a Parquet file"),
        "{err}"
    );
}

#[test]
fn unreachable_scheduler_fails_fast() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    write_connections(&data, &connections(100, 2, 1), 1).expect("data");
    let url = format!("df://127.0.0.1:{}", free_port());
    let start = Instant::now();
    let err = stderr_of(
        &[
            "--scheduler",
            &url,
            "--data",
            data.to_str().expect("utf8"),
            "sql",
            "SELECT 1",
        ],
        work.path(),
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        err.contains("cannot reach the scheduler") && err.contains(&url),
        "{err}"
    );
}

#[test]
fn executor_with_unreachable_scheduler_exits_with_an_error() {
    let work = tempfile::tempdir().expect("tempdir");
    let port = free_port().to_string();
    let mut executor = ManagedChild::spawn(
        "executor",
        "huntsman-executor",
        &[
            "--scheduler-host".into(),
            "127.0.0.1".into(),
            "--scheduler-port".into(),
            port.clone(),
            "--scheduler-connect-timeout".into(),
            "2".into(),
            "--bind-host".into(),
            "127.0.0.1".into(),
            "--flight-port".into(),
            free_port().to_string(),
            "--grpc-port".into(),
            free_port().to_string(),
            "--health-port".into(),
            "0".into(),
        ],
        work.path(),
    )
    .expect("executor starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = executor.try_status() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "executor did not give up"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success(), "exit status {status}");
    let log = executor.log_text();
    assert!(
        log.contains("cannot reach the scheduler") && log.contains(&port),
        "{log}"
    );
}

/// A model URI is SQL text: outside the model roots (the store and `--model-root`) it is
/// refused at once, naming the URI, instead of reading `/etc/passwd` whole or `/dev/zero`
/// forever; SQL cannot widen the roots.
#[test]
fn model_uris_outside_the_model_roots_are_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    write_connections(&data, &connections(100, 2, 1), 1).expect("data");
    let data = data.to_str().expect("utf8");
    for uri in ["/etc/passwd", "/dev/zero", "file:///etc/passwd"] {
        let started = Instant::now();
        let sql = format!("SELECT kmeans_assign(make_array(1.0, 2.0), '{uri}')");
        let err = stderr_of(&["--data", data, "sql", &sql], work.path());
        assert!(
            err.contains(&format!(
                "kmeans_assign: model '{uri}' is outside the model roots ("
            )),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    let sql = work.path().join("widen.sql");
    std::fs::write(
        &sql,
        "SET huntsman.model_roots = '/';\nSELECT kmeans_assign(make_array(1.0), '/etc/passwd');",
    )
    .expect("sql file");
    let err = stderr_of(
        &["--data", data, "sql", "-f", sql.to_str().expect("utf8")],
        work.path(),
    );
    assert!(
        err.contains("huntsman.model_roots cannot be set from SQL"),
        "{err}"
    );
}

/// A function that fails on a remote executor reads as its own message first, with the
/// failed job and stage on the second line, instead of Ballista's nested `Debug` text.
#[test]
fn executor_errors_read_as_the_functions_message_then_the_job() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    write_connections(&data, &connections(200, 2, 1), 2).expect("data");
    let data = data.to_str().expect("utf8");
    let models = work.path().join("models");
    std::fs::create_dir_all(&models).expect("models folder");
    let junk = models.join("junk.hntm");
    std::fs::write(&junk, vec![b'x'; 100]).expect("junk model");
    let junk = junk
        .canonicalize()
        .expect("canonical")
        .display()
        .to_string();
    let models = models.to_str().expect("utf8");

    let mut cluster = TestCluster::start(work.path(), 1, 2).expect("cluster starts");
    let url = cluster.url();
    let run = |uri: &str| {
        let sql =
            format!("SELECT kmeans_assign(make_array(1.0, 2.0), '{uri}') FROM events");
        let args = [
            "--scheduler",
            &url,
            "--data",
            data,
            "--model-root",
            models,
            "sql",
            &sql,
        ];
        let err = stderr_of(&args, work.path());
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines.len() >= 2, "{err}");
        (lines[0].to_string(), lines[1].to_string(), err.clone())
    };
    let (first, second, all) = run(&junk);
    assert_eq!(
        first,
        format!(
            "huntsman: kmeans_assign: not a Huntsman model (no HNTM magic bytes): '{junk}'"
        ),
        "{all}"
    );
    assert!(
        second.contains("job ") && second.contains("stage ") && second.contains("failed"),
        "{all}"
    );
    assert!(!all.contains("DataFusionError("), "{all}");
    // The model roots reach the executors through the scheduler: a path outside is
    // refused there, and the roots it lists are the store and --model-root.
    let (first, _, all) = run("/etc/passwd");
    assert!(
        first.starts_with(
            "huntsman: kmeans_assign: model '/etc/passwd' is outside the model roots ("
        ) && first.contains(models),
        "{all}"
    );
    cluster.scheduler.terminate(Duration::from_secs(10));
}

/// A memory pool that is not a size is named, before anything starts.
#[test]
fn bad_memory_pool_sizes_are_named() {
    let work = tempfile::tempdir().expect("tempdir");
    let err = stderr_of(&["--memory-pool", "lots", "sql", "SELECT 1"], work.path());
    assert!(
        err.starts_with("huntsman: --memory-pool / HUNTSMAN_MEMORY_POOL: ")
            && err.contains("\"lots\""),
        "{err}"
    );
}

/// Bad GPU settings stop the executor at once with one line naming the value, before it
/// looks for the scheduler.
#[test]
fn executor_with_bad_gpu_settings_exits_naming_the_value() {
    let work = tempfile::tempdir().expect("tempdir");
    for (flag, value, message) in [
        ("--gpu-devices", "x", "invalid GPU device list \"x\""),
        ("--gpu-devices", "0,0", "device 0 is listed twice"),
        (
            "--gpu-tasks-per-device",
            "0",
            "invalid GPU tasks per device \"0\"",
        ),
        (
            "--use-gpu",
            "maybe",
            "USE_GPU must be true or false, got \"maybe\"",
        ),
    ] {
        let mut executor = ManagedChild::spawn(
            "executor",
            "huntsman-executor",
            &[
                flag.into(),
                value.into(),
                "--scheduler-port".into(),
                free_port().to_string(),
                "--health-port".into(),
                "0".into(),
            ],
            work.path(),
        )
        .expect("executor starts");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = executor.try_status() {
                break status;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{flag} {value}");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(2), "{flag} {value}");
        let log = executor.log_text();
        assert!(
            log.starts_with("huntsman-executor: invalid executor setting: ")
                && log.contains(message)
                && log.trim_end().lines().count() == 1,
            "{flag} {value}: {log}"
        );
    }
}
