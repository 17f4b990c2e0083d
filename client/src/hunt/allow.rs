//! Allow-lists: a deployment's suppressions of findings it knows to be benign.
//!
//! A TOML file of `[[suppress]]` entries, each matching a hunt's findings by entity
//! columns (`entity = { host = "WS07", destinationport = "5985" }`), by a SQL predicate
//! over the findings (`when = "image LIKE '%\\ccmexec.exe'"`), or both, with a reason, an
//! author and an optional expiry date. Matching findings are kept: they gain
//! `suppressed = true` and `suppressed_by` (the entry's id and reason), so nothing a hunt
//! found is lost and a suppression can be audited. An expired entry no longer suppresses
//! and is reported. See docs/hunts.md#allow-lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::manifest::{AllowEntry as Entry, Applied};
use anyhow::{Context, Result, bail};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{ExprSchemable, cast, when};
use datafusion::prelude::{Expr, ident, lit};

/// The column a finding gains: whether an allow-list entry matched it.
pub const SUPPRESSED: &str = "suppressed";
/// The column a finding gains: the matching entry's id and reason (null when none).
pub const SUPPRESSED_BY: &str = "suppressed_by";
/// The column a finding gains: the ATT&CK technique ids of its hunt.
pub const ATTACK_COLUMN: &str = "attack_techniques";

/// The largest allow-list file read (a deployment's list, not a data set).
const MAX_FILE_BYTES: u64 = 8 << 20;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    suppress: Vec<toml::Spanned<RawEntry>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Option<String>,
    hunt: Option<String>,
    #[serde(default)]
    entity: BTreeMap<String, toml::Value>,
    when: Option<String>,
    reason: String,
    author: String,
    expires: Option<toml::Value>,
}

/// A deployment's allow-list, read and checked.
#[derive(Debug, Clone)]
pub struct AllowList {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl AllowList {
    /// Reads and checks the allow-list at `path`; `hunts` are the names an entry may give.
    ///
    /// # Errors
    /// An unreadable or malformed file, or an entry that is not usable; one line naming
    /// the file and the entry's line.
    pub fn load(path: &Path, hunts: &[&str]) -> Result<Self> {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .with_context(|| format!("allow-list {shown}"))?
            .len();
        if size > MAX_FILE_BYTES {
            bail!(
                "allow-list {shown}: {size} bytes, larger than the 8 MiB an allow-list may be"
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("allow-list {shown}"))?;
        Self::parse(path, &text, hunts)
    }

    /// Parses allow-list `text`, read from `path`.
    ///
    /// # Errors
    /// As [`AllowList::load`].
    pub fn parse(path: &Path, text: &str, hunts: &[&str]) -> Result<Self> {
        let shown = path.display();
        let line_of = |offset: usize| {
            let before = &text.as_bytes()[..offset.min(text.len())];
            before.iter().filter(|b| **b == b'\n').count() + 1
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(s.start));
            anyhow::anyhow!("allow-list {shown}:{line}: {}", e.message().trim())
        })?;
        let mut entries = Vec::with_capacity(raw.suppress.len());
        let mut ids = BTreeMap::new();
        for spanned in raw.suppress {
            let line = line_of(spanned.span().start);
            let at = format!("allow-list {shown}:{line}");
            let entry = check_entry(spanned.into_inner(), line, hunts)
                .with_context(|| at.clone())?;
            if let Some(first) = ids.insert(entry.id.clone(), line) {
                bail!(
                    "{at}: id '{}' is also the id of the entry at line {first}",
                    entry.id
                );
            }
            entries.push(entry);
        }
        Ok(Self {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries that apply to `hunt` on `today` (`YYYY-MM-DD`), and those that would
    /// but have expired.
    pub fn for_hunt<'a>(
        &'a self,
        hunt: &str,
        today: &str,
    ) -> (Vec<&'a Entry>, Vec<&'a Entry>) {
        self.entries
            .iter()
            .filter(|e| e.hunt.as_deref().is_none_or(|h| h == hunt))
            .partition(|e| e.expires.as_deref().is_none_or(|last| today <= last))
    }
}

fn check_entry(raw: RawEntry, line: usize, hunts: &[&str]) -> Result<Entry> {
    if raw.reason.trim().is_empty() {
        bail!("an entry needs a reason");
    }
    if raw.author.trim().is_empty() {
        bail!("an entry needs an author");
    }
    if let Some(hunt) = &raw.hunt
        && !hunts.contains(&hunt.as_str())
    {
        bail!("no hunt is named '{hunt}' (hunts: {})", hunts.join(", "));
    }
    if raw.when.is_some() && raw.hunt.is_none() {
        bail!("a `when` predicate reads one hunt's columns: name the hunt");
    }
    if raw.entity.is_empty() && raw.when.is_none() && raw.hunt.is_none() {
        bail!(
            "an entry needs a hunt, entity columns or a `when` predicate (it would suppress everything)"
        );
    }
    if raw.when.as_deref().is_some_and(|w| w.trim().is_empty()) {
        bail!("`when` is empty");
    }
    let mut entity = Vec::with_capacity(raw.entity.len());
    for (column, value) in raw.entity {
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!(
                "entity column '{column}': {} is not a text, whole number or true/false",
                other.type_str()
            ),
        };
        entity.push((column, text));
    }
    let expires = raw.expires.map(expiry).transpose()?;
    Ok(Entry {
        id: raw.id.unwrap_or_else(|| format!("line {line}")),
        line,
        hunt: raw.hunt,
        entity,
        when: raw.when,
        reason: raw.reason,
        author: raw.author,
        expires,
    })
}

/// An expiry (a TOML date or a `YYYY-MM-DD` string) as `YYYY-MM-DD`.
fn expiry(value: toml::Value) -> Result<String> {
    let text = match value {
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => {
            d.to_string()
        }
        toml::Value::String(s) => s,
        other => bail!("expires: {other} is not a date (write expires = 2027-01-31)"),
    };
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && (1..=12).contains(&text[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&text[8..10].parse::<u8>().unwrap_or(0));
    if !ok {
        bail!("expires: '{text}' is not a date (write expires = 2027-01-31)");
    }
    Ok(text)
}

/// Adds the columns every hunt's findings carry to the findings plan `df`: the hunt's
/// ATT&CK technique ids, and `suppressed`/`suppressed_by` from `allow` (false and null
/// without one). An entry matches a finding when every entity column equals its value
/// (as text) and its predicate holds; the first matching entry is recorded.
///
/// # Errors
/// An entry naming a column the findings lack (for an entry of this hunt), a predicate
/// that does not parse or is not true/false; each names the file and line.
pub fn finish_findings(
    df: DataFrame,
    hunt: &str,
    attack: &[&str],
    allow: Option<&AllowList>,
    today: &str,
) -> Result<(DataFrame, Applied)> {
    let mut applied = Applied::default();
    let techniques = if attack.is_empty() {
        lit(ScalarValue::List(ScalarValue::new_list_nullable(
            &[],
            &DataType::Utf8,
        )))
    } else {
        make_array(attack.iter().map(|t| lit(*t)).collect())
    };
    let mut matched: Option<
        datafusion::logical_expr::conditional_expressions::CaseBuilder,
    > = None;
    if let Some(list) = allow {
        applied.file = Some(list.path().display().to_string());
        let (active, expired) = list.for_hunt(hunt, today);
        applied.expired = expired.into_iter().cloned().collect();
        for entry in active {
            let Some(condition) = entry_condition(&df, entry, list.path())? else {
                continue;
            };
            let label = lit(format!("{}: {}", entry.id, entry.reason));
            matched = Some(match matched {
                None => when(condition, label),
                Some(mut case) => case.when(condition, label),
            });
            applied.entries.push(entry.clone());
        }
    }
    let suppressed_by = match matched {
        Some(mut case) => case.otherwise(lit(ScalarValue::Utf8(None)))?,
        None => lit(ScalarValue::Utf8(None)),
    };
    let df = df
        .with_column(ATTACK_COLUMN, techniques)?
        .with_column(SUPPRESSED_BY, suppressed_by)?
        .with_column(SUPPRESSED, ident(SUPPRESSED_BY).is_not_null())?;
    Ok((df, applied))
}

/// The condition of `entry` over the findings `df`; `None` when an entry that names no
/// hunt does not fit this hunt's findings (a column it lacks).
fn entry_condition(df: &DataFrame, entry: &Entry, path: &Path) -> Result<Option<Expr>> {
    let at = || format!("allow-list {}:{}", path.display(), entry.line);
    let schema = df.schema();
    let mut parts = Vec::new();
    for (column, value) in &entry.entity {
        let Ok(field) = schema.field_with_unqualified_name(column) else {
            if entry.hunt.is_none() {
                return Ok(None);
            }
            let names: Vec<&str> =
                schema.fields().iter().map(|f| f.name().as_str()).collect();
            bail!(
                "{}: the findings have no column '{column}' (they have: {})",
                at(),
                names.join(", ")
            );
        };
        if field.data_type().is_nested() {
            bail!(
                "{}: column '{column}' holds {}, not one value to compare",
                at(),
                field.data_type()
            );
        }
        parts.push(cast(ident(column), DataType::Utf8).eq(lit(value.clone())));
    }
    if let Some(predicate) = &entry.when {
        let expr = df.parse_sql_expr(predicate).map_err(|e| {
            anyhow::anyhow!("{}: `when`: {}", at(), first_line(&e.to_string()))
        })?;
        let kind = expr.get_type(schema).map_err(|e| {
            anyhow::anyhow!("{}: `when`: {}", at(), first_line(&e.to_string()))
        })?;
        if kind != DataType::Boolean {
            bail!("{}: `when` is {kind}, not true/false", at());
        }
        parts.push(expr);
    }
    Ok(Some(
        parts
            .into_iter()
            .reduce(Expr::and)
            .unwrap_or_else(|| lit(true)),
    ))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUNTS: &[&str] = &["c2-beacon", "process-anomaly"];

    fn parse(text: &str) -> Result<AllowList> {
        AllowList::parse(Path::new("allow.toml"), text, HUNTS)
    }

    #[test]
    fn entries_are_read_with_their_lines_and_ids() {
        let list = parse(
            "# ours\n\n[[suppress]]\nid = \"wef\"\nhunt = \"c2-beacon\"\n\
             entity = { destinationport = 5985, host = \"FS01\" }\nreason = \"event forwarding\"\n\
             author = \"ana\"\nexpires = 2027-01-31\n\n[[suppress]]\nhunt = \"process-anomaly\"\n\
             when = \"image LIKE '%ccmexec.exe'\"\nreason = \"SCCM\"\nauthor = \"bo\"\n",
        )
        .unwrap();
        let e = list.entries();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].id.as_str(), e[0].line), ("wef", 3));
        assert_eq!(
            e[0].entity,
            vec![
                ("destinationport".to_string(), "5985".to_string()),
                ("host".to_string(), "FS01".to_string())
            ]
        );
        assert_eq!(e[0].expires.as_deref(), Some("2027-01-31"));
        assert_eq!((e[1].id.as_str(), e[1].line), ("line 11", 11));
        let (active, expired) = list.for_hunt("c2-beacon", "2027-02-01");
        assert!(active.is_empty());
        assert_eq!(expired.len(), 1);
        let (active, _) = list.for_hunt("c2-beacon", "2027-01-31");
        assert_eq!(active.len(), 1);
    }

    #[test]
    fn an_oversized_allow_list_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.toml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = format!("{:#}", AllowList::load(&path, HUNTS).unwrap_err());
        assert!(
            e.contains("huge.toml") && e.contains("larger than the 8 MiB"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            AllowList::load(&dir.path().join("none.toml"), HUNTS).unwrap_err()
        );
        assert!(
            e.starts_with("allow-list ") && e.contains("none.toml"),
            "{e}"
        );
    }

    #[test]
    fn unusable_entries_are_refused_naming_the_file_and_line() {
        let cases = [
            (
                "[[suppress]]\nhunt = \"nope\"\nreason = \"r\"\nauthor = \"a\"\n",
                ":1",
                "no hunt is named 'nope'",
            ),
            (
                "[[suppress]]\nreason = \"r\"\nauthor = \"a\"\n",
                ":1",
                "would suppress everything",
            ),
            (
                "\n[[suppress]]\nwhen = \"true\"\nreason = \"r\"\nauthor = \"a\"\n",
                ":2",
                "name the hunt",
            ),
            (
                "[[suppress]]\nhunt = \"c2-beacon\"\nreason = \" \"\nauthor = \"a\"\n",
                ":1",
                "needs a reason",
            ),
            (
                "[[suppress]]\nhunt = \"c2-beacon\"\nreason = \"r\"\n",
                ":1",
                "author",
            ),
            (
                "[[suppress]]\nhunt = \"c2-beacon\"\nreason = \"r\"\nauthor = \"a\"\nexpires = \"soon\"\n",
                ":1",
                "not a date",
            ),
            (
                "[[suppress]]\nhunt = \"c2-beacon\"\nreason = \"r\"\nauthor = \"a\"\nentity = { x = 1.5 }\n",
                ":1",
                "entity column 'x'",
            ),
            (
                "[[suppress]]\nhunt = \"c2-beacon\"\nreason = \"r\"\nauthor = \"a\"\ncolour = 1\n",
                ":",
                "colour",
            ),
            (
                "[[suppress]]\nid = \"a\"\nhunt = \"c2-beacon\"\nreason = \"r\"\nauthor = \"a\"\n\
              [[suppress]]\nid = \"a\"\nhunt = \"c2-beacon\"\nreason = \"r\"\nauthor = \"a\"\n",
                ":6",
                "also the id",
            ),
            ("[[suppress]\n", ":1", "allow-list"),
        ];
        for (text, line, want) in cases {
            let e = format!("{:#}", parse(text).unwrap_err());
            assert!(
                e.starts_with(&format!("allow-list allow.toml{line}")),
                "{e}"
            );
            assert!(e.contains(want), "{want}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
