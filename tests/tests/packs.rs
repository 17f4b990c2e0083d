//! Hunt packs from the command line: `huntsman hunt new` scaffolds a pack, a hunter edits
//! its SQL, and it runs on a generated lab through a real scheduler and two executors;
//! a broken pack of each kind is refused before anything runs, naming the file and line.

use std::path::Path;
use std::time::Duration;

use huntsman_tests::{
    TestCluster, generate_lab, query_parquet, run_client, succeeded as ok,
};

fn client_ok(args: &[&str], work: &Path) -> String {
    let out = run_client(args, work, Duration::from_secs(600)).expect("client ran");
    ok(&out, &format!("{args:?}"))
}

/// `huntsman hunt new NAME --dir DIR`; the pack's folder.
fn scaffold(work: &Path, name: &str) -> std::path::PathBuf {
    let dir = work.join("my-hunts");
    let out = client_ok(
        &["hunt", "new", name, "--dir", dir.to_str().expect("utf8")],
        work,
    );
    assert!(out.contains(&format!("wrote hunt pack {name}")), "{out}");
    dir.join(name)
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("pack file");
    assert!(text.contains(from), "{} holds {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).expect("edit");
}

/// 1-based line of the first `needle` in `file`.
fn line_of(file: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(file).expect("pack file");
    let at = text.find(needle).expect("needle in file");
    text[..at].matches('\n').count() + 1
}

#[test]
fn a_scaffolded_pack_runs_on_a_cluster_after_an_edit() {
    let work = tempfile::tempdir().expect("tempdir");
    let pack = scaffold(work.path(), "rare-rhythm");
    let pack_arg = pack.to_str().expect("utf8");
    // The hunter's edit: only destinations outside the network.
    edit(
        &pack.join("01_rhythms.sql"),
        "AND winlog_event_data_destinationip IS NOT NULL",
        "AND winlog_event_data_destinationip IS NOT NULL\n    \
         AND NOT is_private_ip(winlog_event_data_destinationip)",
    );
    let checked = client_ok(&["hunt", "--pack", pack_arg, "--check"], work.path());
    assert!(checked.contains("ok (3 phases, 4 parameters)"), "{checked}");
    let listed = client_ok(&["hunt", "--pack", pack_arg, "--list-params"], work.path());
    assert!(listed.contains("RARE_RHYTHM_OUTLIER_Z"), "{listed}");

    let lab = work.path().join("lab");
    generate_lab(work.path(), &lab, 3, 60_000, 5);
    let events = lab.join("events").display().to_string();
    let store = work.path().join("store");
    let base = format!("BASE_S3_PATH={}", store.display());
    let mut cluster = TestCluster::start(work.path(), 2, 2).expect("cluster starts");
    let url = cluster.url();
    let stdout = client_ok(
        &[
            "--scheduler",
            &url,
            "--data",
            &events,
            "hunt",
            "--pack",
            pack_arg,
            "--quiet",
            "--set",
            &base,
            "--set",
            "RARE_RHYTHM_TREES=50",
        ],
        work.path(),
    );
    assert!(stdout.contains("== rare-rhythm: top"), "{stdout}");
    for (i, executor) in cluster.executors.iter().enumerate() {
        assert!(
            executor.log_text().contains("Finished task"),
            "executor {i} ran no task"
        );
    }
    cluster.scheduler.terminate(Duration::from_secs(10));

    let runs = store.join("results/rare-rhythm");
    let run = std::fs::read_dir(&runs)
        .expect("the pack's results folder")
        .flatten()
        .find(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .expect("a completed run")
        .path();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["pack"]["builtin"], false, "{manifest}");
    assert_eq!(manifest["results"]["unit"], "host-image-destination");
    assert_eq!(
        manifest["results"]["attack_techniques"],
        serde_json::json!(["T1071"])
    );
    assert_eq!(
        manifest["parameters"]["RARE_RHYTHM_TREES"]["value"], 50,
        "{manifest}"
    );
    assert!(
        store.join("models/rare-rhythm").is_dir(),
        "the pack's model is stored"
    );
    // The edit ran: no internal destination is scored, and some external ones are.
    let counts = query_parquet(
        work.path(),
        &run.join("findings.parquet"),
        "SELECT count(*) FILTER (WHERE is_private_ip(destination)), count(*) > 0, \
           bool_and(array_to_string(attack_techniques, ',') = 'T1071') FROM events",
    );
    assert_eq!(counts, ["0,true,true"], "the findings");
}

#[test]
fn broken_packs_are_refused_naming_the_file_and_line() {
    let work = tempfile::tempdir().expect("tempdir");
    let check = |pack: &Path| {
        let out = run_client(
            &["hunt", "--pack", pack.to_str().expect("utf8"), "--check"],
            work.path(),
            Duration::from_secs(120),
        )
        .expect("client ran");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} was accepted",
            pack.display()
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line of error: {stderr}"
        );
        stderr
    };

    // An unknown parameter in the SQL.
    let pack = scaffold(work.path(), "unknown-param");
    let sql = pack.join("01_rhythms.sql");
    edit(
        &sql,
        "${UNKNOWN_PARAM_MIN_CONNECTIONS}",
        "${UNKNOWN_PARAM_MIN_CONECTIONS}",
    );
    let at = line_of(&sql, "MIN_CONECTIONS");
    let err = check(&pack);
    assert!(err.contains(&format!("01_rhythms.sql:{at}:")), "{err}");
    assert!(err.contains("UNKNOWN_PARAM_MIN_CONECTIONS"), "{err}");

    // A phase whose SQL file is missing.
    let pack = scaffold(work.path(), "missing-phase");
    std::fs::remove_file(pack.join("02_fit_forest.sql")).expect("remove");
    let at = line_of(&pack.join("hunt.toml"), "name = \"fit isolation forest\"") - 1;
    let err = check(&pack);
    assert!(err.contains(&format!("hunt.toml:{at}:")), "{err}");
    assert!(err.contains("02_fit_forest.sql"), "{err}");

    // A phase that reads a table no earlier phase makes.
    let pack = scaffold(work.path(), "no-table");
    let sql = pack.join("02_fit_forest.sql");
    edit(&sql, "FROM no_table_rhythms", "FROM no_table_rythms");
    let at = line_of(&sql, "no_table_rythms");
    let err = check(&pack);
    assert!(err.contains(&format!("02_fit_forest.sql:{at}:")), "{err}");
    assert!(err.contains("reads table no_table_rythms"), "{err}");

    // A declared column the findings lack.
    let pack = scaffold(work.path(), "no-column");
    let toml = pack.join("hunt.toml");
    edit(
        &toml,
        "entity = [\"host\", \"image\", \"destination\"]",
        "entity = [\"host\", \"process\"]",
    );
    let at = line_of(&toml, "entity = [\"host\", \"process\"]");
    let err = check(&pack);
    assert!(err.contains(&format!("hunt.toml:{at}:")), "{err}");
    assert!(err.contains("findings.entity names process"), "{err}");

    // Running the broken pack is refused the same way, and leaves no run behind.
    let store = work.path().join("store");
    let out = run_client(
        &[
            "hunt",
            "--pack",
            pack.to_str().expect("utf8"),
            "--set",
            &format!("BASE_S3_PATH={}", store.display()),
        ],
        work.path(),
        Duration::from_secs(120),
    )
    .expect("client ran");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !store.join("results/no-column").exists(),
        "no run was started"
    );
}
