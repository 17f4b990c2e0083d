//! The `huntsman sql` command line: statement files, output formats, `.env` precedence.

use std::time::Duration;

use huntsman_tests::data::{connections, write_connections};
use huntsman_tests::run_client;

fn ok_stdout(args: &[&str], cwd: &std::path::Path) -> String {
    let out = run_client(args, cwd, Duration::from_secs(120)).expect("client ran");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 output")
}

#[test]
fn statement_file_runs_every_statement_and_prints_the_last() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    let rows = connections(1_000, 3, 3);
    write_connections(&data, &rows, 2).expect("data");
    let sql = work.path().join("hunt.sql");
    std::fs::write(
        &sql,
        "-- a view, then a query over it\n\
         CREATE VIEW private AS SELECT host FROM events WHERE is_private_ip(dst_ip);\n\
         SELECT host, count(*) AS n FROM private GROUP BY host ORDER BY host;\n",
    )
    .expect("write sql");
    let csv = ok_stdout(
        &[
            "--data",
            data.to_str().expect("utf8"),
            "sql",
            "-f",
            sql.to_str().expect("utf8"),
            "--format",
            "csv",
        ],
        work.path(),
    );
    let mut expected: std::collections::BTreeMap<String, usize> = Default::default();
    for r in rows
        .iter()
        .filter(|r| huntsman_tests::data::expected_private(&r.dst))
    {
        *expected.entry(r.host.clone()).or_default() += 1;
    }
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("host,n"), "{csv}");
    let got: std::collections::BTreeMap<String, usize> = lines
        .map(|l| {
            let (h, n) = l.split_once(',').expect("two columns");
            (h.to_string(), n.parse().expect("count"))
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn dotenv_supplies_defaults_and_flags_win() {
    let work = tempfile::tempdir().expect("tempdir");
    let small = work.path().join("small");
    let large = work.path().join("large");
    write_connections(&small, &connections(10, 2, 1), 1).expect("data");
    write_connections(&large, &connections(25, 2, 1), 1).expect("data");
    std::fs::write(
        work.path().join(".env"),
        format!("DATA_PATH={}\n", small.display()),
    )
    .expect("write .env");
    let q = "SELECT count(*) AS n FROM events";
    let from_env = ok_stdout(&["sql", "--format", "json", q], work.path());
    assert_eq!(from_env.trim(), "{\"n\":10}");
    let from_flag = ok_stdout(
        &[
            "--data",
            large.to_str().expect("utf8"),
            "sql",
            "--format",
            "json",
            q,
        ],
        work.path(),
    );
    assert_eq!(from_flag.trim(), "{\"n\":25}");
}

#[test]
fn out_file_gets_the_rows_and_nothing_else_is_left() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("events");
    write_connections(&data, &connections(50, 2, 9), 1).expect("data");
    let results = work.path().join("results");
    std::fs::create_dir(&results).expect("mkdir");
    let out = results.join("rows.json");
    ok_stdout(
        &[
            "--data",
            data.to_str().expect("utf8"),
            "sql",
            "--format",
            "json",
            "--out",
            out.to_str().expect("utf8"),
            "SELECT host, ts FROM events",
        ],
        work.path(),
    );
    let text = std::fs::read_to_string(&out).expect("output written");
    assert_eq!(text.lines().count(), 50);
    let names: Vec<_> = std::fs::read_dir(&results)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left behind: {names:?}");
}

#[test]
fn an_exported_builtin_pack_can_be_edited_and_run_in_place_of_the_built_in_hunt() {
    let work = tempfile::tempdir().expect("tempdir");
    let packs = work.path().join("packs");
    let packs_arg = packs.to_str().expect("utf8");
    let out = ok_stdout(&["hunt", "--export", packs_arg], work.path());
    assert!(out.contains("wrote 5 hunt packs"), "{out}");
    let pack = packs.join("ad-enum-kmeans");
    assert!(
        pack.join("hunt.toml").is_file(),
        "the export holds hunt.toml"
    );
    let top = pack.join("03_top_queries.sql");
    let text = std::fs::read_to_string(&top).expect("exported file");
    assert!(text.contains("WHERE r <= 5"), "{text}");
    // A second export never overwrites the hunter's edits.
    let again = run_client(
        &["hunt", "--export", packs_arg],
        work.path(),
        Duration::from_secs(60),
    )
    .expect("client ran");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("must not exist yet"));

    // Keep only each week's most frequent query.
    std::fs::write(&top, text.replace("WHERE r <= 5", "WHERE r <= 1")).expect("edit");
    let lab = work.path().join("lab");
    huntsman_tests::generate_lab(work.path(), &lab, 7, 20_000, 42);
    let store = work.path().join("store");
    let base = format!("BASE_S3_PATH={}", store.display());
    let events = lab.join("events");
    ok_stdout(
        &[
            "--data",
            events.to_str().expect("utf8"),
            "hunt",
            "ad-enum-kmeans",
            "--quiet",
            "--set",
            &base,
            "--pack",
            pack.to_str().expect("utf8"),
        ],
        work.path(),
    );
    let runs = store.join("results/ad-enum-kmeans");
    let run = std::fs::read_dir(&runs)
        .expect("runs")
        .flatten()
        .find(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .expect("a completed run");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.path().join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["pack"]["builtin"], false, "{manifest}");
    assert_eq!(
        manifest["pack"]["changed"],
        serde_json::json!(["03_top_queries.sql"]),
        "{manifest}"
    );
    assert_eq!(manifest["results"]["unit"], "account-week", "{manifest}");
    let sql_out = ok_stdout(
        &[
            "--data",
            run.path().join("findings.parquet").to_str().expect("utf8"),
            "sql",
            "SELECT max(array_length(top_queries)) AS most FROM events",
        ],
        work.path(),
    );
    assert!(
        sql_out.lines().any(|l| l.trim() == "1"),
        "the edited file ran: {sql_out}"
    );
}
