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
