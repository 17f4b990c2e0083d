//! Bad input gets one clear error that names the problem, within a bounded time.

use std::time::{Duration, Instant};

use huntsman_tests::data::{connections, write_connections};
use huntsman_tests::{ManagedChild, free_port, run_client};

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
