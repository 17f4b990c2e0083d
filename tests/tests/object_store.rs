//! Data, models and results in a real S3 server (Garage on loopback): through a scheduler
//! and two executors and embedded; the store's failures, each with a clear error in
//! bounded time; and a store that stops in the middle of writing results.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use huntsman_tests::faults::{Fault, FaultProxy};
use huntsman_tests::s3::{BUCKET, Garage};
use huntsman_tests::{TestCluster, free_port, run_client_with_env, succeeded as ok};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(600);
/// A bound on how long a failing command may take; far above the retry budget.
const FAIL_LIMIT: Duration = Duration::from_secs(90);

fn run(args: &[&str], work: &Path, env: &[(String, String)], limit: Duration) -> Output {
    run_client_with_env(args, work, limit, env).expect("huntsman ran")
}

fn fails(out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lab_args(out: &str) -> Vec<&str> {
    vec![
        "lab", "generate", "--out", out, "--days", "7", "--events", "150000", "--seed",
        "7",
    ]
}

/// Run ids under `results/<hunt>/` of a store prefix that have a manifest.
fn completed(garage: &Garage, prefix: &str, hunt: &str) -> Vec<String> {
    let keys = garage
        .list(&format!("{prefix}/results/{hunt}"))
        .expect("listing");
    keys.iter()
        .filter_map(|k| k.strip_suffix("/manifest.json"))
        .filter_map(|k| k.rsplit('/').next().map(String::from))
        .collect()
}

/// The flagged (process, destination) keys of a stored c2-beacon run, read back
/// from the bucket with `huntsman sql`.
fn flagged(
    work: &Path,
    env: &[(String, String)],
    prefix: &str,
    run_id: &str,
) -> BTreeSet<String> {
    let findings =
        format!("s3://{BUCKET}/{prefix}/results/c2-beacon/{run_id}/findings.parquet");
    let out = run(
        &[
            "--data",
            &findings,
            "sql",
            "--format",
            "csv",
            "SELECT processguid, destinationip, destinationport FROM events WHERE flagged",
        ],
        work,
        env,
        LIMIT,
    );
    let text = ok(&out, "reading the findings back");
    text.lines().skip(1).map(String::from).collect()
}

#[test]
fn lab_hunt_and_models_live_in_s3_through_a_cluster_and_embedded() {
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let garage = Garage::start(&work.join("garage")).expect("garage starts");
    let env = garage.env();

    // The same lab in the bucket and in a local folder (a seed gives identical output).
    ok(
        &run(&lab_args("s3://lake/lab"), work, &env, LIMIT),
        "lab generate to s3",
    );
    let local = work.join("lab");
    ok(
        &run(&lab_args(local.to_str().expect("utf8")), work, &env, LIMIT),
        "lab generate locally",
    );
    let keys = garage.list("lab").expect("listing");
    assert!(
        keys.iter().any(|k| k.starts_with("lab/events/day=")),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"lab/labels/ground_truth.json".to_string()),
        "{keys:?}"
    );
    // Lab generation refuses to overwrite without --overwrite, in S3 as on disk.
    let again = fails(
        &run(&lab_args("s3://lake/lab"), work, &env, LIMIT),
        "second lab",
    );
    assert!(again.contains("--overwrite"), "{again}");

    // Real logs ingested into the bucket hold the same events as ingested to disk.
    let otrf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/otrf");
    let otrf = otrf.to_str().expect("utf8");
    ok(
        &run(
            &["ingest", "files", "--out", "s3://lake/otrf", otrf],
            work,
            &env,
            LIMIT,
        ),
        "ingest files to s3",
    );
    let otrf_local = work.join("otrf");
    let otrf_local = otrf_local.to_str().expect("utf8");
    ok(
        &run(
            &["ingest", "files", "--out", otrf_local, otrf],
            work,
            &[],
            LIMIT,
        ),
        "ingest files locally",
    );
    let per_channel = "SELECT winlog_channel, winlog_event_id, count(*) AS n FROM events \
                       GROUP BY 1, 2 ORDER BY 1, 2";
    let sql_over = |data: &str| {
        let out = run(
            &["--data", data, "sql", "--format", "csv", per_channel],
            work,
            &env,
            LIMIT,
        );
        ok(&out, "counting ingested events")
    };
    let in_bucket = sql_over("s3://lake/otrf/events");
    assert_eq!(in_bucket, sql_over(&format!("{otrf_local}/events")));
    assert!(in_bucket.lines().count() > 3, "{in_bucket}");

    let mut cluster =
        TestCluster::start_with_env(work, 2, 2, &env).expect("cluster starts");
    let url = cluster.url();
    let count = "SELECT winlog_channel, winlog_event_id, count(*) AS n FROM events \
                 GROUP BY 1, 2 ORDER BY 1, 2";
    let from_s3 = ok(
        &run(
            &[
                "--scheduler",
                &url,
                "--data",
                "s3://lake/lab/events",
                "sql",
                "--format",
                "csv",
                count,
            ],
            work,
            &env,
            LIMIT,
        ),
        "sql over s3 on the cluster",
    );
    let local_events = local.join("events");
    let from_disk = ok(
        &run(
            &[
                "--data",
                local_events.to_str().expect("utf8"),
                "sql",
                "--format",
                "csv",
                count,
            ],
            work,
            &[],
            LIMIT,
        ),
        "sql over local files",
    );
    assert_eq!(from_s3, from_disk);
    assert!(from_s3.lines().count() > 5, "{from_s3}");

    // A hunt on the cluster: data, models and results in the bucket. The executors load
    // the models from s3:// locations with their own credentials.
    let hunt = |scheduler: Option<&str>, prefix: &str, extra: &[&str]| {
        let base = format!("BASE_S3_PATH=s3://lake/{prefix}");
        let mut args = Vec::new();
        if let Some(url) = scheduler {
            args.extend(["--scheduler", url]);
        }
        args.extend(["--data", "s3://lake/lab/events", "hunt", "c2-beacon", "-q"]);
        args.extend(["--set", &base, "--set", "C2_AUTOENCODER_NUM_EPOCHS=10"]);
        args.extend(extra);
        run(&args, work, &env, LIMIT)
    };
    ok(&hunt(Some(&url), "runs", &[]), "c2-beacon on the cluster");
    let runs = completed(&garage, "runs", "c2-beacon");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_id = &runs[0];
    let keys = garage.list("runs").expect("listing");
    assert!(
        keys.contains(&format!("runs/results/c2-beacon/{run_id}/findings.parquet")),
        "{keys:?}"
    );
    let models: Vec<_> = keys
        .iter()
        .filter(|k| k.starts_with(&format!("runs/models/c2-beacon/{run_id}/")))
        .collect();
    assert!(models.iter().any(|k| k.ends_with(".hntm")), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.starts_with("runs/scratch/")),
        "intermediate tables were left behind: {keys:?}"
    );
    for (i, executor) in cluster.executors.iter().enumerate() {
        assert!(
            executor.log_text().contains("Finished task"),
            "executor {i} ran no task"
        );
    }

    // The stored run evaluates against the lab's ground truth.
    let labels = local.join("labels");
    let eval = run(
        &[
            "eval",
            "--labels",
            labels.to_str().expect("utf8"),
            "--format",
            "json",
            "--set",
            "BASE_S3_PATH=s3://lake/runs",
        ],
        work,
        &env,
        LIMIT,
    );
    let eval: Value = serde_json::from_str(&ok(&eval, "eval")).expect("JSON");
    assert_eq!(
        eval["hunts"]["c2-beacon"]["recall"].as_f64(),
        Some(1.0),
        "{eval}"
    );
    let keys = garage.list("runs/eval/c2-beacon").expect("listing");
    assert!(
        keys.iter().any(|k| k.ends_with("confusion.svg")),
        "{keys:?}"
    );

    // Scoring again with the stored models, by run id, on the cluster.
    ok(
        &hunt(Some(&url), "runs", &["--models", run_id]),
        "c2-beacon with stored models",
    );
    assert_eq!(completed(&garage, "runs", "c2-beacon").len(), 2);

    // Embedded: the same hunt flags the same entities.
    ok(&hunt(None, "embedded", &[]), "c2-beacon embedded");
    let embedded = completed(&garage, "embedded", "c2-beacon");
    assert_eq!(embedded.len(), 1);
    let on_cluster = flagged(work, &env, "runs", run_id);
    assert!(!on_cluster.is_empty());
    assert_eq!(on_cluster, flagged(work, &env, "embedded", &embedded[0]));

    // The secret key never shows: not in any process's log, not in the client's output.
    cluster.scheduler.terminate(Duration::from_secs(10));
    let secret = garage.secret();
    for process in cluster.executors.iter().chain([&cluster.scheduler]) {
        assert!(
            !process.log_text().contains(secret),
            "{} logged the secret key",
            process.name()
        );
    }
    let help = run(&["--help"], work, &env, LIMIT);
    assert!(!String::from_utf8_lossy(&help.stdout).contains(secret));
}

#[test]
fn store_failures_are_named_and_bounded() {
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let garage = Garage::start(&work.join("garage")).expect("garage starts");
    let env = garage.env();
    ok(
        &run(
            &[
                "lab",
                "generate",
                "--out",
                "s3://lake/lab",
                "--days",
                "2",
                "--events",
                "20000",
            ],
            work,
            &env,
            LIMIT,
        ),
        "lab generate",
    );
    let query = ["sql", "SELECT count(*) FROM events"];
    let sql = |data: &str, env: &[(String, String)]| {
        let mut args = vec!["--data", data];
        args.extend(query);
        run(&args, work, env, FAIL_LIMIT)
    };
    // Sanity: the good settings work.
    ok(&sql("s3://lake/lab/events", &env), "sql over the lab");

    let with = |key: &str, value: &str| {
        let mut env = garage.env();
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
        env
    };
    // Unreachable: nothing listens on the port.
    let down = format!("http://127.0.0.1:{}", free_port());
    let err = fails(
        &sql("s3://lake/lab/events", &with("MINIO_ENDPOINT", &down)),
        "unreachable",
    );
    assert!(err.contains("cannot reach the S3 endpoint"), "{err}");
    assert!(err.contains("s3://lake/lab/events"), "{err}");

    // Wrong credentials.
    let err = fails(
        &sql(
            "s3://lake/lab/events",
            &with("MINIO_SECRET_KEY", &"0".repeat(64)),
        ),
        "wrong secret",
    );
    assert!(err.contains("access denied"), "{err}");
    assert!(
        !err.contains(&"0".repeat(64)),
        "the secret is printed: {err}"
    );
    assert!(!err.contains(garage.secret()), "{err}");
    let err = fails(
        &sql(
            "s3://lake/lab/events",
            &with("MINIO_ACCESS_KEY", "GK000000000000000000000000"),
        ),
        "unknown key",
    );
    assert!(err.contains("access denied"), "{err}");

    // No credentials at all: named, and no request to any metadata service.
    let mut none = garage.env();
    none.retain(|(k, _)| k != "MINIO_SECRET_KEY" && k != "MINIO_ACCESS_KEY");
    let err = fails(&sql("s3://lake/lab/events", &none), "no credentials");
    assert!(err.contains("no S3 credentials"), "{err}");

    // Missing bucket and missing prefix.
    let err = fails(&sql("s3://nosuchbucket/events", &env), "missing bucket");
    assert!(err.contains("bucket does not exist"), "{err}");
    assert!(err.contains("s3://nosuchbucket/events"), "{err}");
    let err = fails(&sql("s3://lake/nothing-here", &env), "missing prefix");
    assert!(err.contains("holds no .parquet files"), "{err}");

    // Results to a store that cannot be reached: the hunt fails and says where.
    let err = fails(
        &run(
            &[
                "--data",
                "s3://lake/lab/events",
                "hunt",
                "c2-beacon",
                "-q",
                "--set",
                "BASE_S3_PATH=s3://nosuchbucket/runs",
            ],
            work,
            &env,
            FAIL_LIMIT,
        ),
        "results to a missing bucket",
    );
    assert!(err.contains("bucket does not exist"), "{err}");
}

#[test]
fn a_store_lost_while_writing_results_leaves_no_complete_run_and_a_rerun_succeeds() {
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let garage = Garage::start(&work.join("garage")).expect("garage starts");
    // The results go through a relay that drops the store at the manifest's upload: the
    // findings and models are written, the run's last write fails.
    let proxy = FaultProxy::start(garage.port, 0, Duration::ZERO).expect("relay");
    proxy.sicken_at("PUT", "/manifest.json", Fault::Drop);
    let lab = work.join("lab");
    ok(
        &run(
            &[
                "lab",
                "generate",
                "--out",
                lab.to_str().expect("utf8"),
                "--days",
                "7",
                "--events",
                "100000",
            ],
            work,
            &[],
            LIMIT,
        ),
        "lab generate",
    );
    let data = lab.join("events");
    let env = garage.env_for(&proxy.endpoint());
    let hunt = || {
        run(
            &[
                "--data",
                data.to_str().expect("utf8"),
                "hunt",
                "c2-beacon",
                "-q",
                "--set",
                "BASE_S3_PATH=s3://lake/cut",
                "--set",
                "C2_AUTOENCODER_NUM_EPOCHS=5",
            ],
            work,
            &env,
            LIMIT,
        )
    };
    let err = fails(&hunt(), "hunt while the store goes away");
    assert!(
        proxy.tripped(),
        "the manifest upload was never attempted:\n{err}"
    );
    assert!(err.contains("manifest"), "{err}");
    assert!(err.contains("cannot reach the S3 endpoint"), "{err}");
    // What the failed run wrote before the store went away has no manifest: no reader
    // takes it for a run.
    assert!(completed(&garage, "cut", "c2-beacon").is_empty());
    let left = garage.list("cut/results").expect("listing");
    assert!(
        left.iter().all(|k| !k.ends_with("manifest.json")),
        "{left:?}"
    );
    let eval = run(
        &[
            "eval",
            "--labels",
            lab.join("labels").to_str().expect("utf8"),
            "--set",
            "BASE_S3_PATH=s3://lake/cut",
        ],
        work,
        &garage.env(),
        FAIL_LIMIT,
    );
    let err = fails(&eval, "eval of a store with only a failed run");
    assert!(err.contains("no completed hunt runs"), "{err}");

    // The store is back: the same command succeeds, and exactly one run is complete.
    proxy.heal();
    ok(&hunt(), "hunt after the store is back");
    let runs = completed(&garage, "cut", "c2-beacon");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let keys = garage
        .list(&format!("cut/results/c2-beacon/{}", runs[0]))
        .expect("listing");
    assert!(
        keys.iter().any(|k| k.ends_with("findings.parquet")),
        "{keys:?}"
    );
}

/// Transient faults between Huntsman and the store (connections dropped, responses stalled
/// past the request timeout, bodies cut mid-read; each request faulted at most once) are
/// retried: the hunt finishes with the findings of a run without faults. A store that
/// stays sick (every response stalled, from the first table the hunt writes) fails the
/// hunt within the retry budget, with one error naming the request, and leaves no
/// complete-looking run; healed, the same command succeeds.
#[test]
fn transient_store_faults_are_retried_and_a_store_that_stays_sick_fails_cleanly() {
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let garage = Garage::start(&work.join("garage")).expect("garage starts");
    ok(
        &run(&lab_args("s3://lake/lab"), work, &garage.env(), LIMIT),
        "lab generate to s3",
    );
    let hunt = |env: &[(String, String)], prefix: &str, limit: Duration| {
        let base = format!("BASE_S3_PATH=s3://lake/{prefix}");
        run(
            &[
                "--data",
                "s3://lake/lab/events",
                "hunt",
                "c2-beacon",
                "-q",
                "--set",
                &base,
                "--set",
                "C2_AUTOENCODER_NUM_EPOCHS=10",
            ],
            work,
            env,
            limit,
        )
    };
    ok(&hunt(&garage.env(), "clean", LIMIT), "hunt without faults");

    // Every 7th distinct request faulted: a drop, a stall, a cut, in turn. A stall lasts
    // past the request timeout, so the client gives up on it and asks again.
    let proxy = FaultProxy::start(garage.port, 7, Duration::from_secs(8)).expect("relay");
    let mut env = garage.env_for(&proxy.endpoint());
    env.push(("HUNTSMAN_S3_TIMEOUT_S".into(), "3".into()));
    env.push(("HUNTSMAN_S3_RETRY_TIMEOUT_S".into(), "15".into()));
    ok(&hunt(&env, "flaky", LIMIT), "hunt through transient faults");
    let counts = proxy.counts();
    assert!(
        counts.drops > 0 && counts.stalls > 0 && counts.cuts > 0,
        "the relay injected too little to prove anything: {counts:?}"
    );
    let clean = completed(&garage, "clean", "c2-beacon");
    let flaky = completed(&garage, "flaky", "c2-beacon");
    assert_eq!((clean.len(), flaky.len()), (1, 1), "{clean:?} {flaky:?}");
    let expected = flagged(work, &garage.env(), "clean", &clean[0]);
    assert!(!expected.is_empty(), "the clean run flagged nothing");
    assert_eq!(flagged(work, &garage.env(), "flaky", &flaky[0]), expected);

    // Sick from the first table the hunt writes: every response stalls for good.
    proxy.sicken_at("PUT", "/scratch/", Fault::Stall(Duration::from_secs(600)));
    let err = fails(
        &hunt(&env, "sick", FAIL_LIMIT),
        "hunt on a store that stays sick",
    );
    assert!(proxy.tripped(), "the hunt never wrote a table:\n{err}");
    let port = proxy.port.to_string();
    assert!(
        err.contains(&port) || err.contains("s3://lake/sick"),
        "the error does not name the store:\n{err}"
    );
    assert!(
        !err.contains("DataFusionError(") && !err.contains("RetryErrorImpl"),
        "a debug dump reached the user:\n{err}"
    );
    assert!(completed(&garage, "sick", "c2-beacon").is_empty());
    let left = garage.list("sick").expect("listing");
    assert!(
        left.iter().all(|k| !k.ends_with("manifest.json")),
        "{left:?}"
    );
    proxy.heal();
    ok(&hunt(&env, "sick", LIMIT), "hunt once the store has healed");
    assert_eq!(completed(&garage, "sick", "c2-beacon").len(), 1);
}
