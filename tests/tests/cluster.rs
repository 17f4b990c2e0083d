//! A real scheduler and two executor processes run a GROUP BY that calls Huntsman's
//! functions over a multi-file Parquet dataset; the answer must equal values computed by
//! the test itself, and the embedded mode must give the same answer.

use std::collections::BTreeMap;
use std::time::Duration;

use huntsman_tests::data::{close, connections, expected_groups, write_connections};
use huntsman_tests::{TestCluster, run_client};
use serde_json::Value;

const QUERY: &str = "SELECT host, is_private_ip(dst_ip) AS private, count(*) AS n, \
     inter_arrival_stats(ts) AS s FROM events \
     GROUP BY host, is_private_ip(dst_ip) ORDER BY host, private";

fn parse_rows(stdout: &[u8]) -> BTreeMap<(String, bool), Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let v: Value =
                serde_json::from_str(line).expect("each line is a JSON object");
            let host = v["host"].as_str().expect("host is a string").to_string();
            let private = v["private"].as_bool().expect("private is a bool");
            ((host, private), v)
        })
        .collect()
}

#[test]
fn cluster_group_by_matches_expected_and_embedded() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    let rows = connections(200_000, 20, 7);
    write_connections(&data, &rows, 8).expect("dataset written");
    let expected = expected_groups(&rows);

    let mut cluster = TestCluster::start(work.path(), 2, 2).expect("cluster starts");
    let data_arg = data.display().to_string();
    let url = cluster.url();
    let remote = run_client(
        &[
            "--scheduler",
            &url,
            "--data",
            &data_arg,
            "sql",
            "--format",
            "json",
            QUERY,
        ],
        work.path(),
        Duration::from_secs(180),
    )
    .expect("client ran");
    assert!(
        remote.status.success(),
        "remote query failed: {}",
        String::from_utf8_lossy(&remote.stderr)
    );
    let got = parse_rows(&remote.stdout);
    assert_eq!(
        got.len(),
        expected.len(),
        "one row per (host, private) group"
    );
    for (key, want) in &expected {
        let row = got
            .get(key)
            .unwrap_or_else(|| panic!("group {key:?} missing"));
        let s = &row["s"];
        let f = |name: &str| s[name].as_f64().unwrap_or_else(|| panic!("{name} in {s}"));
        assert_eq!(row["n"].as_i64(), Some(want.count), "{key:?}");
        assert_eq!(s["count"].as_i64(), Some(want.count), "{key:?}");
        assert!(
            close(f("duration_s"), want.duration_s),
            "{key:?} duration {s}"
        );
        assert!(close(f("mean_s"), want.mean_s), "{key:?} mean {s}");
        assert!(close(f("stddev_s"), want.stddev_s), "{key:?} stddev {s}");
        assert!(
            close(f("cv"), want.stddev_s / want.mean_s),
            "{key:?} cv {s}"
        );
        assert!(close(f("median_s"), want.median_s), "{key:?} median {s}");
        assert!(close(f("mad_s"), want.mad_s), "{key:?} mad {s}");
    }

    // Both executors took part: each one finished tasks of the job.
    for (i, e) in cluster.executors.iter().enumerate() {
        let log = e.log_text();
        assert!(
            log.contains("Finished task"),
            "executor-{i} ran no task:\n{}",
            e.log_tail(30)
        );
    }

    let embedded = run_client(
        &["--data", &data_arg, "sql", "--format", "json", QUERY],
        work.path(),
        Duration::from_secs(180),
    )
    .expect("client ran");
    assert!(
        embedded.status.success(),
        "embedded query failed: {}",
        String::from_utf8_lossy(&embedded.stderr)
    );
    assert_eq!(
        parse_rows(&embedded.stdout),
        got,
        "embedded and cluster answers differ"
    );

    // SIGTERM stops every process cleanly.
    for e in &mut cluster.executors {
        let status = e
            .terminate(Duration::from_secs(30))
            .expect("executor stops on SIGTERM");
        assert!(status.success(), "executor exit status {status}");
    }
    let status = cluster
        .scheduler
        .terminate(Duration::from_secs(30))
        .expect("scheduler stops on SIGTERM");
    assert!(status.success(), "scheduler exit status {status}");
}

/// An executor started with `USE_GPU=true` reports where its neural models run, in its
/// start-up log and on `/readyz`: on this CPU-only machine, the CPU (a build without the
/// `cuda` feature says so; a `cuda` build falls back with the probe's reason).
#[test]
fn executor_reports_its_neural_backend() {
    let work = tempfile::tempdir().expect("tempdir");
    let env = [("USE_GPU".to_string(), "true".to_string())];
    let mut cluster =
        TestCluster::start_with_env(work.path(), 1, 1, &env).expect("cluster starts");
    let addr = format!("127.0.0.1:{}", cluster.executor_health_ports[0]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let start = std::time::Instant::now();
    let answer = loop {
        let answer = runtime
            .block_on(huntsman_udfs::probe::http_get(
                &addr,
                "/readyz",
                Duration::from_secs(2),
            ))
            .expect("the executor's health port answers");
        if answer.status == 200 || start.elapsed() > Duration::from_secs(60) {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(answer.status, 200, "{answer:?}");
    let backend = answer
        .body
        .lines()
        .find_map(|l| l.strip_prefix("neural backend: "))
        .unwrap_or_else(|| panic!("no backend line: {answer:?}"))
        .to_string();
    if huntsman_udfs::neural::gpu_supported() {
        assert!(
            backend.starts_with("GPU (CUDA device")
                || backend.starts_with("CPU (NdArray), fallen back from the GPU"),
            "{backend}"
        );
    } else {
        assert!(
            backend.contains("this build has no GPU support"),
            "{backend}"
        );
    }
    let log = cluster.executors[0].log_text();
    assert!(
        log.contains(&backend),
        "the start-up log names the backend:\n{log}"
    );
    let _ = cluster.executors[0].terminate(Duration::from_secs(10));
}
