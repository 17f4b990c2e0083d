//! Loading packs: the built-in ones load and plan; a broken pack of each kind is refused
//! with a message naming the file and line at fault.

use std::collections::BTreeMap;

use super::*;
use crate::hunt::params::Params;

/// The scaffold's files for a hunt called `t-hunt`, as a map a test can edit.
fn template() -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let made = scaffold::new_pack("t-hunt", dir.path()).unwrap();
    std::fs::read_dir(&made)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn parse(files: &BTreeMap<String, String>) -> Result<Pack> {
    let toml = files.get("hunt.toml").cloned().unwrap_or_default();
    Pack::parse("my/t-hunt", &toml, Source::Builtin, |f| {
        Ok(files.get(f).cloned())
    })
}

/// Parses and plans `files`; the error's text.
async fn refused(files: &BTreeMap<String, String>) -> String {
    let pack = match parse(files) {
        Ok(pack) => pack,
        Err(e) => return format!("{e:#}"),
    };
    let specs = catalog([&pack]).unwrap();
    let params = Params::resolve_in(specs, |_| None, &[]).unwrap();
    let pack = Pack {
        source: Source::Folder("my/t-hunt".into()),
        ..pack
    };
    match check::plans(&pack, &params).await {
        Ok(()) => panic!("the pack was accepted"),
        Err(e) => format!("{e:#}"),
    }
}

fn edit(files: &mut BTreeMap<String, String>, file: &str, from: &str, to: &str) {
    let text = files.get_mut(file).unwrap();
    assert!(text.contains(from), "{file} holds {from:?}");
    *text = text.replacen(from, to, 1);
}

/// The line of `needle`'s first occurrence in `text`.
fn line(text: &str, needle: &str) -> usize {
    line_of(text, text.find(needle).unwrap())
}

#[tokio::test]
async fn the_builtin_packs_load_and_every_phase_plans() {
    let packs = builtin().unwrap();
    let names: Vec<&str> = packs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ad-enum-autoencoder",
            "ad-enum-kmeans",
            "c2-beacon",
            "process-anomaly",
            "widespread-attack"
        ]
    );
    for (folder, _) in BUILTIN {
        assert!(
            names.contains(folder),
            "folder {folder} holds a pack of its own name"
        );
    }
    let params = Params::resolve_in(builtin_catalog().unwrap(), |_| None, &[]).unwrap();
    for pack in packs {
        check::plans(pack, &params).await.unwrap();
        assert!(!pack.attack.is_empty(), "{}: ATT&CK ids", pack.name);
        assert!(pack.changed_files().is_empty(), "{}", pack.name);
    }
}

#[tokio::test]
async fn the_scaffold_plans() {
    let files = template();
    let pack = parse(&files).unwrap();
    let params = Params::resolve_in(catalog([&pack]).unwrap(), |_| None, &[]).unwrap();
    check::plans(&pack, &params).await.unwrap();
}

#[tokio::test]
async fn an_unknown_parameter_is_named_by_file_and_line() {
    let mut files = template();
    edit(
        &mut files,
        "01_rhythms.sql",
        "${T_HUNT_MIN_CONNECTIONS}",
        "${T_HUNT_MIN_CONECTIONS}",
    );
    let at = line(&files["01_rhythms.sql"], "T_HUNT_MIN_CONECTIONS");
    let err = refused(&files).await;
    assert!(
        err.contains(&format!("my/t-hunt/01_rhythms.sql:{at}:")),
        "{err}"
    );
    assert!(err.contains("${T_HUNT_MIN_CONECTIONS}"), "{err}");
}

#[tokio::test]
async fn a_value_of_a_later_phase_is_unknown_to_an_earlier_one() {
    let mut files = template();
    edit(
        &mut files,
        "01_rhythms.sql",
        "${T_HUNT_MIN_CONNECTIONS}",
        "${FOREST_MODEL}",
    );
    let err = refused(&files).await;
    assert!(err.contains("my/t-hunt/01_rhythms.sql:"), "{err}");
    assert!(err.contains("nor the value of an earlier phase"), "{err}");
}

#[tokio::test]
async fn a_missing_phase_file_is_named_by_its_phase_line() {
    let mut files = template();
    files.remove("02_fit_forest.sql");
    let at = line(&files["hunt.toml"], "name = \"fit isolation forest\"") - 1;
    let err = refused(&files).await;
    assert!(err.contains(&format!("my/t-hunt/hunt.toml:{at}:")), "{err}");
    assert!(err.contains("02_fit_forest.sql"), "{err}");
}

#[tokio::test]
async fn a_plan_without_its_findings_phase_is_refused() {
    let mut files = template();
    let toml = files["hunt.toml"].clone();
    let cut = toml.rfind("[[phase]]").unwrap();
    files.insert("hunt.toml".into(), toml[..cut].to_string());
    let err = refused(&files).await;
    assert!(err.contains("my/t-hunt/hunt.toml:"), "{err}");
    assert!(err.contains("is not the findings phase"), "{err}");
}

#[tokio::test]
async fn a_table_no_earlier_phase_makes_is_named_by_file_and_line() {
    let mut files = template();
    edit(
        &mut files,
        "02_fit_forest.sql",
        "FROM t_hunt_rhythms",
        "FROM t_hunt_rythms",
    );
    let at = line(&files["02_fit_forest.sql"], "t_hunt_rythms");
    let err = refused(&files).await;
    assert!(
        err.contains(&format!("my/t-hunt/02_fit_forest.sql:{at}:")),
        "{err}"
    );
    assert!(err.contains("reads table t_hunt_rythms"), "{err}");
    // A table of a later phase is not there yet either.
    let mut files = template();
    edit(
        &mut files,
        "hunt.toml",
        "table = \"t_hunt_rhythms\"",
        "table = \"t_hunt_late\"",
    );
    let err = refused(&files).await;
    assert!(err.contains("reads table t_hunt_rhythms"), "{err}");
}

#[tokio::test]
async fn a_declared_column_the_findings_lack_is_named_by_its_line() {
    let mut files = template();
    edit(
        &mut files,
        "hunt.toml",
        "score = \"score\"",
        "score = \"anomaly\"",
    );
    let at = line(&files["hunt.toml"], "score = \"anomaly\"");
    let err = refused(&files).await;
    assert!(err.contains(&format!("my/t-hunt/hunt.toml:{at}:")), "{err}");
    assert!(err.contains("findings.score names anomaly"), "{err}");
    let mut files = template();
    edit(
        &mut files,
        "hunt.toml",
        "\"cv\", \"hosts\"",
        "\"cv\", \"host_count\"",
    );
    let err = refused(&files).await;
    assert!(err.contains("findings.display names host_count"), "{err}");
}

#[tokio::test]
async fn a_flag_that_is_not_boolean_is_refused() {
    let mut files = template();
    edit(
        &mut files,
        "hunt.toml",
        "flag = \"flagged\"",
        "flag = \"score\"",
    );
    let err = refused(&files).await;
    assert!(err.contains("findings.flag score is Float64"), "{err}");
}

#[tokio::test]
async fn a_fit_phase_must_return_a_model() {
    let mut files = template();
    edit(
        &mut files,
        "02_fit_forest.sql",
        "SELECT iforest_fit(",
        "SELECT count(*), iforest_fit(",
    );
    let err = refused(&files).await;
    assert!(
        err.contains("02_fit_forest.sql: fit phase 'fit isolation forest'"),
        "{err}"
    );
}

#[tokio::test]
async fn sql_that_does_not_parse_or_plan_is_named() {
    let mut files = template();
    edit(
        &mut files,
        "03_findings.sql",
        "CROSS JOIN centre c\nCROSS",
        "CROSS JOIN centre c\nCROS",
    );
    let err = refused(&files).await;
    assert!(err.contains("my/t-hunt/03_findings.sql"), "{err}");
    let mut files = template();
    edit(
        &mut files,
        "01_rhythms.sql",
        "p.s['cv']",
        "p.s['cv'] + no_such_column",
    );
    let err = refused(&files).await;
    assert!(
        err.contains("my/t-hunt/01_rhythms.sql: phase 'rhythms' does not plan"),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_declarations_are_named_by_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "name = \"t-hunt\"",
            "name = \"T Hunt\"",
            "lower-case letters",
        ),
        (
            "type = \"int\"",
            "type = \"integer\"",
            "is not one of int, float, bool, text",
        ),
        ("default = 5", "default = \"five\"", "is not of type int"),
        ("default = 5", "default = 1", "must be at least 2"),
        (
            "kind = \"fit\"",
            "kind = \"train\"",
            "is not one of table, fit, value, findings",
        ),
        (
            "sql = \"01_rhythms.sql\"",
            "sql = \"../01_rhythms.sql\"",
            "in the pack's own folder",
        ),
        (
            "attack = [\"T1071\"]",
            "attack = [\"C2\"]",
            "not an ATT&CK technique id",
        ),
        (
            "placeholder = \"FOREST_MODEL\"",
            "placeholder = \"T_HUNT_SEED\"",
            "is the name of a parameter",
        ),
        ("unit = ", "units = ", "unknown field"),
        ("[findings]", "[findings", "hunt.toml:"),
    ];
    for (from, to, needle) in cases {
        let mut files = template();
        edit(&mut files, "hunt.toml", from, to);
        let err = refused(&files).await;
        assert!(err.contains("my/t-hunt/hunt.toml:"), "{to}: {err}");
        assert!(err.contains(needle), "{to}: {err}");
    }
}

#[test]
fn a_pack_folder_is_read_with_its_files_capped() {
    let dir = tempfile::tempdir().unwrap();
    let made = scaffold::new_pack("capped", dir.path()).unwrap();
    let big = "-- padding\n".repeat(100_000);
    std::fs::write(made.join("01_rhythms.sql"), big).unwrap();
    let err = format!("{:#}", Pack::load(&made).unwrap_err());
    assert!(
        err.contains("01_rhythms.sql") && err.contains("more than a pack file may hold"),
        "{err}"
    );
    let err = format!("{:#}", Pack::load(&dir.path().join("none")).unwrap_err());
    assert!(err.contains("not a folder"), "{err}");
}

#[test]
fn a_pack_with_another_packs_parameter_must_declare_it_alike() {
    let mut files = template();
    edit(
        &mut files,
        "hunt.toml",
        "name = \"T_HUNT_TREES\"",
        "name = \"C2_KMEANS_K\"",
    );
    edit(
        &mut files,
        "02_fit_forest.sql",
        "${T_HUNT_TREES}",
        "${C2_KMEANS_K}",
    );
    let pack = parse(&files).unwrap();
    let err = format!(
        "{:#}",
        catalog(builtin().unwrap().iter().chain([&pack])).unwrap_err()
    );
    assert!(
        err.contains("C2_KMEANS_K is also declared by c2-beacon"),
        "{err}"
    );
}

#[test]
fn changed_files_name_what_differs_from_the_builtin_pack() {
    let builtin = Pack::builtin_named("c2-beacon").unwrap();
    let mut copy = builtin.clone();
    copy.source = Source::Folder("mine".into());
    assert!(copy.changed_files().is_empty());
    copy.files.insert("11_score.sql".into(), "SELECT 1".into());
    copy.score = "beacon_score".into();
    assert_eq!(copy.changed_files(), ["hunt.toml", "11_score.sql"]);
}
