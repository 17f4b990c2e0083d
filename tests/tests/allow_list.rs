//! A deployment's allow-list end to end: `huntsman hunt --allow-list` on a generated lab
//! suppresses findings by entity and by predicate, keeps them in the results marked with
//! the entry that matched, counts them apart, warns about an expired entry, and refuses
//! an entry that does not fit the findings before anything is stored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use huntsman_tests::{
    SMALL_MODELS, generate_lab, query_parquet, run_client, succeeded as ok,
};
use serde_json::Value;

/// Runs `c2-beacon` embedded on `data` into `store`, with `extra` arguments.
fn c2(work: &Path, data: &str, store: &Path, extra: &[&str]) -> std::process::Output {
    let base = format!("BASE_S3_PATH={}", store.display());
    let mut args = vec!["--data", data, "hunt", "c2-beacon", "--set", &base];
    args.extend(SMALL_MODELS);
    args.extend(extra);
    run_client(&args, work, Duration::from_secs(600)).expect("hunt ran")
}

/// The one completed run of c2-beacon in `store`.
fn only_run(store: &Path) -> PathBuf {
    let runs = store.join("results").join("c2-beacon");
    let ids: Vec<_> = std::fs::read_dir(&runs)
        .expect("results folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    assert_eq!(ids.len(), 1, "one visible run in {runs:?}: {ids:?}");
    ids[0].clone()
}

/// CSV rows (header dropped) of `sql` over the findings of `run`.
fn query(work: &Path, run: &Path, sql: &str) -> Vec<String> {
    query_parquet(work, &run.join("findings.parquet"), sql)
}

fn manifest(run: &Path) -> Value {
    let text = std::fs::read_to_string(run.join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest is JSON")
}

#[test]
fn suppressed_findings_stay_in_the_results_marked_and_counted_apart() {
    let work = tempfile::tempdir().expect("tempdir");
    let lab = work.path().join("lab");
    generate_lab(work.path(), &lab, 7, 150_000, 11);
    let data = lab.join("events").display().to_string();

    // The run without an allow-list: what the hunt flags on its own.
    let plain = work.path().join("plain");
    let out = c2(work.path(), &data, &plain, &["--quiet"]);
    ok(&out, "c2-beacon without an allow-list");
    let run = only_run(&plain);
    let flagged = query(
        work.path(),
        &run,
        "SELECT processguid, destinationip, destinationport FROM events WHERE flagged \
         ORDER BY c2_score DESC",
    );
    assert!(
        flagged.len() >= 2,
        "the lab's beacons are flagged: {flagged:?}"
    );
    let rows = query(work.path(), &run, "SELECT count(*) FROM events");
    let unsuppressed = query(
        work.path(),
        &run,
        "SELECT count(*) FROM events WHERE NOT suppressed AND suppressed_by IS NULL \
         AND array_has(attack_techniques, 'T1071')",
    );
    assert_eq!(
        rows, unsuppressed,
        "every finding carries the columns, none suppressed"
    );
    let top: Vec<&str> = flagged[0].split(',').collect();
    let (guid, ip) = (top[0], top[1]);
    // What the two entries below should match, counted on the run without them: the top
    // beacon, and event forwarding to the collector (a hard negative of every lab).
    let one = format!("processguid = '{guid}' AND destinationip = '{ip}'");
    let expected = query(
        work.path(),
        &run,
        &format!(
            "SELECT count(*) FILTER (WHERE {one}), \
                    count(*) FILTER (WHERE destinationport = '5985' AND NOT ({one})), \
                    count(*) FILTER (WHERE flagged AND ({one} OR destinationport = '5985')) \
             FROM events"
        ),
    );
    let expected: Vec<u64> = expected[0]
        .split(',')
        .map(|n| n.parse().expect("count"))
        .collect();
    let (by_one, by_wef, suppressed_flagged) = (expected[0], expected[1], expected[2]);
    assert!(by_wef > 0, "the lab forwards events on port 5985");

    let list = work.path().join("allow.toml");
    std::fs::write(
        &list,
        format!(
            "# our network's known-benign activity\n\
             [[suppress]]\n\
             id = \"beacon-one\"\n\
             hunt = \"c2-beacon\"\n\
             entity = {{ processguid = \"{guid}\", destinationip = \"{ip}\" }}\n\
             reason = \"tested under change 42\"\n\
             author = \"ana\"\n\
             expires = 2999-12-31\n\
             \n\
             [[suppress]]\n\
             hunt = \"c2-beacon\"\n\
             when = \"destinationport = '5985' AND connections > 0\"\n\
             reason = \"event forwarding to the collector\"\n\
             author = \"bo\"\n\
             \n\
             [[suppress]]\n\
             id = \"old\"\n\
             hunt = \"c2-beacon\"\n\
             when = \"true\"\n\
             reason = \"a freeze that is over\"\n\
             author = \"cy\"\n\
             expires = 2020-01-31\n"
        ),
    )
    .expect("allow-list");
    let listed = work.path().join("listed");
    let list_arg = list.to_str().expect("utf8");
    let out = c2(work.path(), &data, &listed, &["--allow-list", list_arg]);
    let stdout = ok(&out, "c2-beacon with an allow-list");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "allow-list {list_arg}:16: entry 'old' expired on 2020-01-31"
        )),
        "{stderr}"
    );
    let still = flagged.len() as u64 - suppressed_flagged;
    assert!(
        stdout.contains(&format!(
            "({still} flagged, {suppressed_flagged} more suppressed by the allow-list)"
        )),
        "{stdout}"
    );

    let run = only_run(&listed);
    assert_eq!(
        query(work.path(), &run, "SELECT count(*) FROM events"),
        rows,
        "nothing lost"
    );
    let by_entry = query(
        work.path(),
        &run,
        "SELECT suppressed_by, count(*) FROM events WHERE suppressed \
         GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(
        by_entry,
        vec![
            format!("beacon-one: tested under change 42,{by_one}"),
            format!("line 10: event forwarding to the collector,{by_wef}"),
        ]
    );
    let leaked = query(
        work.path(),
        &run,
        &format!(
            "SELECT count(*) FROM events WHERE suppressed <> (suppressed_by IS NOT NULL) \
             OR (suppressed AND NOT (processguid = '{guid}' OR destinationport = '5985'))"
        ),
    );
    assert_eq!(leaked, vec!["0".to_string()]);
    let m = manifest(&run);
    assert_eq!(m["results"]["flagged"], still);
    assert_eq!(m["results"]["suppressed"], suppressed_flagged);
    assert_eq!(m["results"]["attack_techniques"][0], "T1071");
    let ids: Vec<&str> = m["allow_list"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["beacon-one", "line 10"]);
    assert_eq!(m["allow_list"]["expired"][0]["id"], "old");
}

#[test]
fn an_entry_that_does_not_fit_the_findings_is_refused_before_anything_is_stored() {
    let work = tempfile::tempdir().expect("tempdir");
    let lab = work.path().join("lab");
    generate_lab(work.path(), &lab, 2, 20_000, 3);
    let data = lab.join("events").display().to_string();
    let store = work.path().join("store");
    for (entry, want) in [
        (
            "entity = { colour = \"blue\" }",
            "allow.toml:1: the findings have no column 'colour'",
        ),
        ("when = \"c2_score +\"", "allow.toml:1: `when`:"),
        (
            "when = \"c2_score\"",
            "allow.toml:1: `when` is Float64, not true/false",
        ),
        ("expires = 2027-01-31T10:00:00", "allow.toml:1: expires:"),
    ] {
        let list = work.path().join("allow.toml");
        std::fs::write(
            &list,
            format!("[[suppress]]\nhunt = \"c2-beacon\"\n{entry}\nreason = \"r\"\nauthor = \"a\"\n"),
        )
        .expect("allow-list");
        let out = c2(
            work.path(),
            &data,
            &store,
            &["--allow-list", list.to_str().expect("utf8")],
        );
        assert_eq!(out.status.code(), Some(2), "{entry}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.contains("allow.toml:"))
            .unwrap_or_else(|| panic!("{entry}: no error naming the file: {stderr}"));
        assert!(line.contains(want), "{entry}: {line}");
        let runs = store.join("results").join("c2-beacon");
        let visible = std::fs::read_dir(&runs).map_or(0, |d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        });
        assert_eq!(visible, 0, "{entry}: no visible run");
    }
}
