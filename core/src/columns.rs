//! Column mapping: the hunts read the flattened winlogbeat names of HUNTS.md; data in
//! another layout is mapped onto them by a profile or a `--columns mapping.toml` file,
//! and every hunt checks the columns it needs before it runs.
//!
//! A mapping file is a `[columns]` table of `canonical_name = "SQL expression over the
//! source columns"`:
//!
//! ```toml
//! profile = "nxlog-flat"          # optional: start from a built-in profile
//! [columns]
//! winlog_computer_name = "lower(Hostname)"
//! event_created = "CAST(to_timestamp(UtcTime) AS BIGINT)"
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use datafusion::prelude::SessionContext;

/// The source table the events view is built on.
pub const SOURCE_TABLE: &str = "events_source";

/// Built-in profiles (`--profile`).
pub const PROFILES: &[&str] = &["winlogbeat-flat", "nxlog-flat"];

/// Canonical column → SQL expression over the source table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnMap {
    entries: BTreeMap<String, String>,
}

/// Sysmon field names of the nxlog flat layout (OTRF recordings), by canonical suffix.
const NXLOG_FIELDS: &[(&str, &str)] = &[
    ("processguid", "ProcessGuid"),
    ("parentprocessguid", "ParentProcessGuid"),
    ("image", "Image"),
    ("commandline", "CommandLine"),
    ("parentimage", "ParentImage"),
    ("parentcommandline", "ParentCommandLine"),
    ("currentdirectory", "CurrentDirectory"),
    ("user", "User"),
    ("sourceip", "SourceIp"),
    ("sourceport", "SourcePort"),
    ("sourcehostname", "SourceHostname"),
    ("destinationip", "DestinationIp"),
    ("destinationport", "DestinationPort"),
    ("destinationportname", "DestinationPortName"),
    ("destinationhostname", "DestinationHostname"),
    ("protocol", "Protocol"),
    ("initiated", "Initiated"),
    ("queryname", "QueryName"),
    ("queryresults", "QueryResults"),
    ("querystatus", "QueryStatus"),
    ("targetfilename", "TargetFilename"),
];

impl ColumnMap {
    /// A built-in profile.
    ///
    /// # Errors
    /// An unknown profile name, with the known ones.
    pub fn profile(name: &str) -> Result<Self> {
        let mut entries = BTreeMap::new();
        match name {
            "winlogbeat-flat" => {}
            "nxlog-flat" => {
                for (canonical, source) in [
                    ("winlog_event_id", "CAST(\"EventID\" AS BIGINT)"),
                    ("event_code", "CAST(\"EventID\" AS VARCHAR)"),
                    ("winlog_channel", "\"Channel\""),
                    ("winlog_computer_name", "\"Hostname\""),
                    ("winlog_user_name", "\"AccountName\""),
                    ("winlog_task", "CAST(\"Task\" AS VARCHAR)"),
                    ("event_created", "CAST(to_timestamp(\"UtcTime\") AS BIGINT)"),
                ] {
                    entries.insert(canonical.to_string(), source.to_string());
                }
                for (suffix, source) in NXLOG_FIELDS {
                    entries.insert(
                        format!("winlog_event_data_{suffix}"),
                        format!("\"{source}\""),
                    );
                }
            }
            other => bail!(
                "unknown column profile {other:?} (known: {})",
                PROFILES.join(", ")
            ),
        }
        Ok(Self { entries })
    }

    /// Reads a mapping file (optionally starting from a profile it names).
    ///
    /// # Errors
    /// The file cannot be read or parsed; names the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading column mapping {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Reads a mapping from its text; `origin` names it in errors.
    ///
    /// # Errors
    /// The text is not a mapping, or names an unknown profile; names `origin`.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            profile: Option<String>,
            #[serde(default)]
            columns: BTreeMap<String, String>,
        }
        let file: File = toml::from_str(text)
            .with_context(|| format!("parsing column mapping {origin}"))?;
        let mut map = match &file.profile {
            Some(p) => Self::profile(p).with_context(|| format!("in {origin}"))?,
            None => Self::default(),
        };
        map.entries.extend(file.columns);
        Ok(map)
    }

    /// The expression mapped to `canonical`, if any.
    pub fn get(&self, canonical: &str) -> Option<&str> {
        self.entries.get(canonical).map(String::as_str)
    }
}

/// One needed column and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The canonical name.
    pub canonical: String,
    /// The SQL producing it, or `None` when it is missing.
    pub source: Option<String>,
}

/// The outcome of checking a hunt's columns.
#[derive(Debug, Clone)]
pub struct ColumnReport {
    /// Every needed column.
    pub columns: Vec<Resolved>,
}

impl ColumnReport {
    /// Names of the missing columns.
    pub fn missing(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.source.is_none())
            .map(|c| c.canonical.as_str())
            .collect()
    }

    /// Human-readable lines: found (and from where) and missing.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for c in &self.columns {
            match &c.source {
                Some(s) if s == &quote(&c.canonical) => {
                    let _ = writeln!(out, "  found    {}", c.canonical);
                }
                Some(s) => {
                    let _ = writeln!(out, "  found    {} <- {s}", c.canonical);
                }
                None => {
                    let _ = writeln!(out, "  MISSING  {}", c.canonical);
                }
            }
        }
        out
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks that the source table provides `needed` (directly or through `map`) and
/// registers the view `events` with exactly those columns under their canonical names.
///
/// # Errors
/// Missing columns (all listed, with what was found), or a mapping expression that does
/// not plan against the source table.
pub async fn prepare_events(
    ctx: &SessionContext,
    map: &ColumnMap,
    needed: &[&str],
) -> Result<ColumnReport> {
    let source = ctx
        .table(SOURCE_TABLE)
        .await
        .context("reading the events table's schema")?;
    let have: Vec<String> = source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut columns = Vec::new();
    for &canonical in needed {
        let source = match map.get(canonical) {
            Some(expr) => Some(expr.to_string()),
            None => have
                .iter()
                .any(|h| h == canonical)
                .then(|| quote(canonical)),
        };
        columns.push(Resolved {
            canonical: canonical.to_string(),
            source,
        });
    }
    let report = ColumnReport { columns };
    let missing = report.missing();
    if !missing.is_empty() {
        bail!(
            "the events data lacks {} column(s) this hunt needs: {}\n{}\
             map them with --columns mapping.toml or --profile ({})",
            missing.len(),
            missing.join(", "),
            report.describe(),
            PROFILES.join(", ")
        );
    }
    let select = report
        .columns
        .iter()
        .filter_map(|c| {
            c.source
                .as_ref()
                .map(|s| format!("{s} AS {}", quote(&c.canonical)))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let view =
        format!("CREATE OR REPLACE VIEW events AS SELECT {select} FROM {SOURCE_TABLE}");
    ctx.sql(&view)
        .await
        .with_context(|| format!("mapping the event columns:\n{}", report.describe()))?
        .collect()
        .await
        .context("creating the events view")?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_and_files_map_columns() {
        let nx = ColumnMap::profile("nxlog-flat").unwrap();
        assert_eq!(nx.get("winlog_event_data_image"), Some("\"Image\""));
        assert!(
            ColumnMap::profile("nope")
                .unwrap_err()
                .to_string()
                .contains("nxlog-flat")
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.toml");
        std::fs::write(
            &path,
            "profile = \"nxlog-flat\"\n[columns]\nwinlog_computer_name = \"lower(\\\"Hostname\\\")\"\n",
        )
        .unwrap();
        let map = ColumnMap::load(&path).unwrap();
        assert_eq!(map.get("winlog_computer_name"), Some("lower(\"Hostname\")"));
        assert_eq!(map.get("winlog_event_data_image"), Some("\"Image\""));

        std::fs::write(&path, "colums = 1\n").unwrap();
        let err = format!("{:#}", ColumnMap::load(&path).unwrap_err());
        assert!(err.contains("map.toml"), "{err}");
    }

    #[tokio::test]
    async fn missing_columns_are_all_listed_and_found_ones_shown() {
        let ctx = SessionContext::new();
        ctx.sql(&format!(
            "CREATE VIEW {SOURCE_TABLE} AS SELECT 1 AS winlog_event_id, 'h' AS \"Hostname\""
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
        let mut map = ColumnMap::default();
        map.entries
            .insert("winlog_computer_name".into(), "\"Hostname\"".into());
        let err = prepare_events(
            &ctx,
            &map,
            &[
                "winlog_event_id",
                "winlog_computer_name",
                "event_created",
                "winlog_channel",
            ],
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("event_created, winlog_channel"), "{err}");
        assert!(
            err.contains("winlog_computer_name <- \"Hostname\""),
            "{err}"
        );

        let report =
            prepare_events(&ctx, &map, &["winlog_event_id", "winlog_computer_name"])
                .await
                .unwrap();
        assert!(report.missing().is_empty());
        let rows = ctx
            .sql("SELECT winlog_computer_name FROM events")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(rows[0].num_rows(), 1);
    }
}
