//! `huntsman serve` with real Arrow clients from PyPI (the ADBC Flight SQL driver and
//! pyarrow.flight, run by tests/python/flight_client.py): the stored runs as tables,
//! live SQL with Huntsman's functions on a scheduler with two executors, prepared
//! statements, authentication that refuses everything but a live token, abandoned
//! streams, and the same over TLS with a certificate made here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use huntsman_tests::python::run_script;
use huntsman_tests::{
    ManagedChild, TestCluster, bin_path, generate_lab, run_client, succeeded as ok,
};
use serde_json::Value;

const USER: &str = "hunter";
const PASSWORD: &str = "correct horse battery staple";

/// A users file with [`USER`], made with `huntsman hash-password`.
fn users_file(work: &Path) -> PathBuf {
    let mut child = Command::new(bin_path("huntsman").expect("built"))
        .args(["hash-password", "--user", USER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hash-password starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password written");
    let out = child.wait_with_output().expect("hash-password ran");
    let line = ok(&out, "huntsman hash-password");
    assert!(line.starts_with(&format!("{USER}:$argon2id$")), "{line}");
    assert!(
        !line.contains(PASSWORD),
        "the hash holds the password: {line}"
    );
    let path = work.join("users");
    std::fs::write(&path, format!("# Flight SQL users\n{line}")).expect("users file");
    path
}

/// `huntsman serve` on a free port; returns the process and its URI once it listens.
fn serve(
    work: &Path,
    name: &str,
    args: &[String],
    store: &Path,
) -> (ManagedChild, String) {
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let env = [
        ("BASE_S3_PATH".to_string(), store.display().to_string()),
        ("HUNTSMAN_LOG".to_string(), "info".to_string()),
    ];
    let mut child =
        ManagedChild::spawn_with_env(name, "huntsman", args, &logs, &env).expect("serve");
    let start = Instant::now();
    loop {
        let log = child.log_text();
        if let Some(at) = log.find("Flight SQL at ") {
            let rest = &log[at + "Flight SQL at ".len()..];
            let uri = rest.lines().next().expect("a line").trim().to_string();
            return (child, uri);
        }
        if let Some(status) = child.try_status() {
            panic!("serve exited with {status}:\n{log}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "serve did not start:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a mode of the Python clients and parses its JSON.
fn clients(mode: &str, uri: &str, extra: &[String]) -> Value {
    let mut args = vec![
        mode.to_string(),
        "--uri".into(),
        uri.to_string(),
        "--user".into(),
        USER.into(),
        "--password".into(),
        PASSWORD.into(),
    ];
    args.extend_from_slice(extra);
    let out = run_script("flight_client.py", &args, Duration::from_secs(600))
        .expect("the Python clients ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "flight_client.py {mode} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The newest completed run of `hunt`: its id and folder.
fn latest_run(store: &Path, hunt: &str) -> (String, PathBuf) {
    let dir = huntsman_tests::latest_run(store, hunt);
    let id = dir
        .file_name()
        .expect("a run folder")
        .to_string_lossy()
        .into_owned();
    (id, dir)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// A lab with one c2-beacon run in `store`, hunted on `scheduler` (or embedded).
fn lab_with_run(work: &Path, store: &Path, scheduler: Option<&str>) -> String {
    let lab = work.join("lab");
    generate_lab(work, &lab, 3, 60_000, 5);
    let data = lab.join("events").display().to_string();
    let base = format!("BASE_S3_PATH={}", store.display());
    let mut args = Vec::new();
    if let Some(url) = scheduler {
        args.extend(["--scheduler", url]);
    }
    args.extend([
        "--data",
        &data,
        "hunt",
        "c2-beacon",
        "--quiet",
        "--set",
        &base,
    ]);
    ok(
        &run_client(&args, work, Duration::from_secs(600)).expect("hunt ran"),
        "huntsman hunt c2-beacon",
    );
    data
}

#[test]
fn real_clients_list_fetch_query_and_are_refused_without_a_live_token() {
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let cluster = TestCluster::start(work, 2, 2).expect("cluster starts");
    let store = work.join("store");
    let data = lab_with_run(work, &store, Some(&cluster.url()));
    let (run, dir) = latest_run(&store, "c2-beacon");
    let users = users_file(work);
    let args: Vec<String> = [
        "--scheduler",
        &cluster.url(),
        "--data",
        &data,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--users-file",
        &users.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (mut server, uri) = serve(work, "serve", &args, &store);
    assert!(uri.starts_with("grpc://127.0.0.1:"), "{uri}");

    let findings = dir.join("findings.parquet").display().to_string();
    let e2e = clients(
        "e2e",
        &uri,
        &[
            "--findings".into(),
            findings.clone(),
            "--events".into(),
            data.clone(),
        ],
    );
    let tables: Vec<&str> = e2e["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for table in [
        "public.events".to_string(),
        "findings.c2-beacon".to_string(),
        format!("findings.c2-beacon_{run}"),
    ] {
        assert!(
            tables.contains(&table.as_str()),
            "{table} not listed: {tables:?}"
        );
    }
    assert!(
        e2e["findings_schema_columns"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "c2_score")),
        "{e2e}"
    );
    assert!(int(&e2e, "stored_rows") > 0, "{e2e}");
    assert_eq!(
        int(&e2e, "findings_rows"),
        int(&e2e, "stored_rows"),
        "{e2e}"
    );
    assert_eq!(e2e["findings_equal"], true, "served findings differ: {e2e}");
    assert!(int(&e2e, "timing_groups") > 10, "{e2e}");
    assert_eq!(e2e["timing_mismatches"], serde_json::json!([]), "{e2e}");
    assert_eq!(int(&e2e, "timing_extra"), 0, "{e2e}");
    let (checked, private) = (int(&e2e, "ips_checked"), int(&e2e, "ips_private"));
    assert!(checked > 5 && private > 0 && private < checked, "{e2e}");
    assert_eq!(e2e["ip_mismatches"], serde_json::json!([]), "{e2e}");
    let rows = int(&e2e, "stored_rows");
    assert_eq!(
        e2e["prepared_counts"],
        serde_json::json!([rows, rows]),
        "{e2e}"
    );
    assert_eq!(int(&e2e, "pyarrow_flight_count"), rows, "{e2e}");

    let refused = clients("refused", &uri, &[]);
    for case in ["wrong_password", "no_credentials"] {
        let said = text(&refused, case).to_lowercase();
        assert!(said.contains("unauthenticated"), "{case}: {refused}");
    }
    for case in ["raw_no_credentials", "forged_token", "malformed_header"] {
        assert!(
            text(&refused, case).starts_with("Unauthenticated"),
            "{case}: {refused}"
        );
    }
    assert!(
        text(&refused, "forged_token").contains("unknown token"),
        "{refused}"
    );
    assert!(
        text(&refused, "unknown_table").contains("no-such-hunt"),
        "{refused}"
    );
    let syntax = text(&refused, "syntax_error");
    assert!(
        syntax.contains("SQL error") && syntax.contains("SELEC"),
        "syntax error without DataFusion's text: {refused}"
    );
    assert_ne!(text(&refused, "ddl"), "accepted", "{refused}");
    assert_eq!(refused["still_serving"], true, "{refused}");
    let log = server.log_text();
    assert!(
        !log.contains(PASSWORD),
        "the password is in the server's log"
    );
    assert!(
        log.contains("failed login"),
        "failed logins are not logged:\n{log}"
    );

    // Clients that drop their streams after one batch leave the server serving the
    // others, with the right answers, and what their streams held is freed: once warm,
    // eight more abandoned streams of the whole events table leave the server's memory
    // where it was (a stream kept alive holds its share of the table and more).
    let abandon = |rounds: u32| {
        clients(
            "abandon",
            &uri,
            &[
                "--rounds".into(),
                rounds.to_string(),
                "--sql".into(),
                "SELECT * FROM events".into(),
            ],
        )
    };
    let warm = abandon(8);
    let events = int(&warm, "count_after");
    assert!(events > 50_000, "{warm}");
    let before = rss_kib(server.pid());
    let after_rounds = abandon(8);
    assert_eq!(int(&after_rounds, "abandoned"), 8, "{after_rounds}");
    assert_eq!(int(&after_rounds, "count_after"), events, "{after_rounds}");
    assert!(
        server.try_status().is_none(),
        "serve died:\n{}",
        server.log_tail(40)
    );
    let after = rss_kib(server.pid());
    eprintln!("serve RSS: {before} KiB before, {after} KiB after 8 abandoned streams");
    assert!(
        after < before + 48 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 8 abandoned streams"
    );
}

#[test]
fn tls_with_a_generated_certificate_and_tokens_that_expire() {
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let store = work.join("store");
    let users = users_file(work);
    let users_arg = users.display().to_string();

    // Refused before anything starts: plaintext off loopback, no users, bad TLS files.
    let refuse = |args: &[&str], env: &[(String, String)], needle: &str| {
        let out =
            huntsman_tests::run_client_with_env(args, work, Duration::from_secs(60), env)
                .expect("serve ran");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
    };
    refuse(
        &["serve", "--listen", "0.0.0.0:0", "--users-file", &users_arg],
        &[],
        "needs TLS",
    );
    refuse(&["serve", "--listen", "127.0.0.1:0"], &[], "no users");
    let garbage = work.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let garbage_arg = garbage.display().to_string();
    refuse(
        &[
            "serve",
            "--users-file",
            &users_arg,
            "--tls-cert",
            &garbage_arg,
            "--tls-key",
            &garbage_arg,
        ],
        &[],
        "garbage.pem",
    );
    refuse(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("HUNTSMAN_FLIGHT_USERS".into(), "hunter:plain-text".into())],
        "not a PHC string",
    );

    let data = lab_with_run(work, &store, None);
    let (cert, key) = (work.join("cert.pem"), work.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let args: Vec<String> = [
        "--data",
        &data,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--users-file",
        &users_arg,
        "--tls-cert",
        &cert.display().to_string(),
        "--tls-key",
        &key.display().to_string(),
        "--token-ttl",
        "4s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (_server, uri) = serve(work, "serve-tls", &args, &store);
    assert!(uri.starts_with("grpc+tls://127.0.0.1:"), "{uri}");
    let tls = ["--tls-root".to_string(), cert.display().to_string()];

    let (_, dir) = latest_run(&store, "c2-beacon");
    let mut extra = tls.to_vec();
    extra.extend([
        "--findings".into(),
        dir.join("findings.parquet").display().to_string(),
        "--events".into(),
        data.clone(),
    ]);
    let e2e = clients("e2e", &uri, &extra);
    assert_eq!(e2e["findings_equal"], true, "{e2e}");
    assert!(int(&e2e, "stored_rows") > 0, "{e2e}");
    assert_eq!(e2e["ip_mismatches"], serde_json::json!([]), "{e2e}");

    let mut extra = tls.to_vec();
    extra.extend(["--wait".into(), "5".into()]);
    let expiry = clients("expiry", &uri, &extra);
    assert_eq!(int(&expiry, "before"), 42, "{expiry}");
    let after = text(&expiry, "after");
    assert!(
        after.starts_with("Unauthenticated") && after.contains("expired"),
        "an expired token was not refused: {expiry}"
    );
    assert_eq!(int(&expiry, "again"), 7, "{expiry}");

    // A client that does not trust the certificate gets nothing.
    let plain = clients("probe", &uri.replace("grpc+tls", "grpc"), &[]);
    assert!(
        plain["error"].is_string(),
        "plaintext reached a TLS server: {plain}"
    );
}
