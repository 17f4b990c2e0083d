//! Entry points for the fuzz targets (`fuzz/`) and for the regression inputs that `cargo
//! test` replays (`tests/fuzz/<target>/`): each reads arbitrary bytes as one parser of
//! outside input does. Whatever the bytes, each returns; a panic, an abort or a hang is a
//! bug.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::columns::ColumnMap;
use crate::hunt::allow::{AllowList, finish_findings};
use crate::hunt::params::Params;

/// A target's entry: reads arbitrary bytes, returns whatever they are.
pub type Entry = fn(&[u8]);

/// Every target: its name (the folder of its regression inputs) and its entry.
pub const TARGETS: &[(&str, Entry)] = &[
    ("ingest_file", ingest_file),
    ("json_record", json_record),
    ("opensearch_response", opensearch_response),
    ("model", model),
    ("column_mapping", column_mapping),
    ("hunt_params", hunt_params),
    ("allow_list", allow_list),
    ("hunt_pack", hunt_pack),
];

/// An input file of any kind `ingest files` takes: EVTX, gzip, JSON lines, a JSON array.
pub fn ingest_file(data: &[u8]) {
    let _ = crate::ingest::read_file_bytes(data);
}

/// One JSON record of any layout (winlogbeat 6/7/8 nested, nxlog flat, ECS), mapped.
pub fn json_record(data: &[u8]) {
    let _ = crate::ingest::map_record(data);
}

/// One OpenSearch `_search` response, as a pull reads it.
pub fn opensearch_response(data: &[u8]) {
    let _ = crate::ingest::opensearch::read_response(data);
}

/// A model file or partial state of every kind.
pub fn model(data: &[u8]) {
    let _ = huntsman_udfs::fuzzing::decode_models(data);
}

/// A column-mapping TOML file (`--columns`).
pub fn column_mapping(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ColumnMap::parse(text, "fuzz input");
    }
}

/// An allow-list TOML file (`--allow-list`), read and then applied to an empty findings
/// table of the columns hunts' findings have (text, number, true/false, list), so that
/// every entity column and `when` predicate goes through the SQL expression parser and
/// the planner's type checks too.
pub fn allow_list(data: &[u8]) {
    use std::sync::Arc;

    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::SessionContext;

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let hunts = ["c2-beacon", "process-anomaly"];
    let Ok(list) = AllowList::parse(std::path::Path::new("fuzz.toml"), text, &hunts)
    else {
        return;
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("processguid", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, true),
        Field::new("connections", DataType::Float64, true),
        Field::new("week", DataType::Int64, true),
        Field::new("flagged", DataType::Boolean, true),
        Field::new(
            "dns_names",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
    ]));
    let ctx = SessionContext::new();
    let Ok(df) = ctx.read_batch(RecordBatch::new_empty(schema)) else {
        return;
    };
    for hunt in hunts {
        let _ = finish_findings(df.clone(), hunt, &["T1071"], Some(&list), "2026-12-03");
    }
}

/// The line that separates a hunt pack's `hunt.toml` from the SQL text in a
/// [`hunt_pack`] input.
pub const PACK_SQL_SEPARATOR: &str = "\n-- sql --\n";

/// A hunt pack: its `hunt.toml`, then (after [`PACK_SQL_SEPARATOR`]) the text every
/// phase's SQL file holds. Loading checks the declaration, each file's placeholders and
/// the tables it reads (through DataFusion's SQL parser).
pub fn hunt_pack(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml, sql) = text.split_once(PACK_SQL_SEPARATOR).unwrap_or((text, ""));
    let _ = crate::hunt::pack::Pack::parse(
        "fuzz",
        toml,
        crate::hunt::pack::Source::Builtin,
        |_| Ok(Some(sql.to_string())),
    );
}

/// Hunt parameters: each line a `--set NAME=VALUE` pair. Whatever the values, once they
/// are taken, every parameter renders as one SQL literal: a statement made of all of
/// them parses to one `SELECT` of as many items (a value cannot end the literal and
/// inject SQL).
pub fn hunt_params(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sets: Vec<String> = text.lines().map(String::from).collect();
    let Ok(catalog) = crate::hunt::pack::builtin_catalog() else {
        return;
    };
    let Ok(params) = Params::resolve_in(catalog, |_| None, &sets) else {
        return;
    };
    let items: Vec<String> = params
        .specs()
        .iter()
        .map(|p| format!("${{{}}}", p.name))
        .collect();
    let template = format!("SELECT {}", items.join(", "));
    let sql = params
        .render(&template, &BTreeMap::new())
        .expect("every parameter renders");
    let statements = Parser::parse_sql(&GenericDialect {}, &sql)
        .unwrap_or_else(|e| panic!("rendered parameters do not parse ({e}): {sql}"));
    assert_eq!(statements.len(), 1, "{sql}");
    let datafusion::sql::sqlparser::ast::Statement::Query(query) = &statements[0] else {
        panic!("not a query: {sql}");
    };
    let datafusion::sql::sqlparser::ast::SetExpr::Select(select) = query.body.as_ref()
    else {
        panic!("not a plain SELECT: {sql}");
    };
    assert_eq!(select.projection.len(), params.specs().len(), "{sql}");
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::TARGETS;

    fn fuzz_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
    }

    /// Every seed and every input a fuzz run once crashed on (`fuzz/seeds/<target>/`,
    /// `fuzz/regressions/<target>/`) goes through its target's entry again: none may
    /// panic. Each target has seeds, and the fuzz crate builds a binary for each.
    #[test]
    fn every_seed_and_regression_input_is_read_without_a_panic() {
        let manifest =
            std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz crate");
        let mut failures = Vec::new();
        let (mut seeds, mut regressions) = (0, 0);
        for (name, entry) in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{name}\"")),
                "fuzz/Cargo.toml has no binary for {name}"
            );
            for (folder, count) in
                [("seeds", &mut seeds), ("regressions", &mut regressions)]
            {
                let dir = fuzz_dir().join(folder).join(name);
                let files = std::fs::read_dir(&dir)
                    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                    .map(|e| e.expect("entry").path())
                    .filter(|p| {
                        !p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    });
                let mut here = 0;
                for path in files {
                    let data = std::fs::read(&path).expect("input");
                    if std::panic::catch_unwind(|| entry(&data)).is_err() {
                        failures.push(path.display().to_string());
                    }
                    here += 1;
                }
                assert!(folder != "seeds" || here > 0, "{name} has no seeds");
                *count += here;
            }
        }
        eprintln!("replayed {seeds} seeds and {regressions} regression inputs");
        assert!(failures.is_empty(), "panicked on {failures:?}");
    }
}
