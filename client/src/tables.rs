//! Tables a hunt reads: `events` over the Parquet dataset plus any `--table name=path`.
//!
//! Inputs are checked before DataFusion sees them, so that a wrong path, an empty folder
//! or a file that is not Parquet is reported with its name instead of as a planning error
//! deep inside a query.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::{StreamExt, TryStreamExt};
use huntsman_udfs::objstore::{describe, is_object_url};

use crate::location::{Listed, Location};

/// The table every hunt reads.
pub const EVENTS_TABLE: &str = "events";

/// Default location of the `events` dataset.
pub const DEFAULT_DATA_PATH: &str = "./data/events";

/// A table name and where its Parquet files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSource {
    /// SQL table name.
    pub name: String,
    /// A folder, a file, or a glob of Parquet files.
    pub location: String,
}

impl TableSource {
    /// Parses `name=path`.
    ///
    /// # Errors
    /// Names the argument when it is not `name=path` or the name is not an identifier.
    pub fn parse(arg: &str) -> Result<Self> {
        let Some((name, location)) = arg.split_once('=') else {
            bail!("--table {arg:?} must look like name=path");
        };
        let name = name.trim();
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            bail!("--table {arg:?}: {name:?} is not a valid table name");
        }
        if location.trim().is_empty() {
            bail!("--table {arg:?}: the path is empty");
        }
        Ok(Self {
            name: name.to_string(),
            location: location.trim().to_string(),
        })
    }
}

/// A table whose location passed [`check_tables`]: absolute, and every file is Parquet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTable {
    /// Table name in SQL.
    pub name: String,
    /// Absolute location the executors can open.
    pub location: String,
    /// The location as the user gave it, for messages.
    pub given: String,
}

/// Checks every table's files before any cluster starts, so bad input fails fast and
/// alone.
///
/// # Errors
/// Names the table and the path: missing path, no Parquet files, or a file that is not
/// Parquet.
pub async fn check_tables(sources: &[TableSource]) -> Result<Vec<CheckedTable>> {
    let mut checked = Vec::with_capacity(sources.len());
    for source in sources {
        let location = if is_object_url(&source.location) {
            check_object_location(&source.location).await
        } else {
            check_location(&source.location)
        }
        .with_context(|| format!("table {}", source.name))?;
        checked.push(CheckedTable {
            name: source.name.clone(),
            location,
            given: source.location.clone(),
        });
    }
    Ok(checked)
}

/// Checks an `s3://` location: the bucket answers, the prefix holds Parquet files, and
/// each file starts and ends with the Parquet magic. Returns the URL with a trailing `/`
/// for a prefix.
async fn check_object_location(location: &str) -> Result<String> {
    let root =
        Location::parse(location).with_context(|| format!("data path {location}"))?;
    if is_glob(location) {
        return Ok(location.to_string());
    }
    let listed = root
        .list()
        .await
        .with_context(|| format!("data path {location}"))?;
    let files: Vec<_> = listed
        .iter()
        .filter(|f| f.relative.is_empty() || f.relative.ends_with(".parquet"))
        .filter(|f| {
            !f.relative
                .split('/')
                .any(|c| c.starts_with('.') || c.starts_with('_'))
        })
        .collect();
    if files.is_empty() {
        bail!(
            "data path {location} holds no .parquet files (an empty or missing prefix; \
             set --data or DATA_PATH)"
        );
    }
    let Location::Object(object) = &root else {
        bail!("internal: {location} is not an object location");
    };
    // Two small range reads per file; several files at once, so a lake of many parts
    // does not pay one round trip after another before the query starts.
    let check = |file: &Listed| {
        let key = if file.relative.is_empty() {
            object.clone()
        } else {
            object.join(&file.relative)
        };
        let size = file.size;
        async move {
            if size < 12 {
                bail!("{} is not a Parquet file (only {size} bytes)", key.url);
            }
            let magic = key
                .store
                .get_ranges(&key.path, &[0..4, size - 4..size])
                .await
                .map_err(|e| anyhow::anyhow!("reading {}: {}", key.url, describe(&e)))?;
            if magic.iter().any(|m| m.as_ref() != b"PAR1") {
                bail!("{} is not a Parquet file (no PAR1 magic bytes)", key.url);
            }
            Ok(())
        }
    };
    futures::stream::iter(files.iter().map(|f| check(f)))
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    let single = files.len() == 1 && files[0].relative.is_empty();
    let mut text = location.to_string();
    if !single && !text.ends_with('/') {
        text.push('/');
    }
    Ok(text)
}

/// Registers tables that passed [`check_tables`].
///
/// # Errors
/// Names the table and the path when DataFusion cannot read the schema.
pub async fn register_tables(
    ctx: &SessionContext,
    tables: &[CheckedTable],
) -> Result<()> {
    for table in tables {
        ctx.register_parquet(&table.name, &table.location, ParquetReadOptions::default())
            .await
            .with_context(|| {
                format!(
                    "table {}: reading the schema of {}",
                    table.name, table.given
                )
            })?;
    }
    Ok(())
}

fn is_glob(location: &str) -> bool {
    location.contains(['*', '?', '['])
}

/// Checks a local location and returns it in the absolute form executors can open.
fn check_location(location: &str) -> Result<String> {
    if let Some(scheme) = ["gs://", "az://", "http://", "https://"]
        .iter()
        .find(|s| location.starts_with(**s))
    {
        bail!(
            "{location}: {scheme} data paths are not supported; use a local folder, \
             s3:// or s3a://"
        );
    }
    let location = location.strip_prefix("file://").unwrap_or(location);
    if is_glob(location) {
        // DataFusion expands the glob; make the fixed prefix absolute for the executors.
        let absolute = std::path::absolute(location)
            .with_context(|| format!("data path {location}"))?;
        return Ok(absolute.to_string_lossy().into_owned());
    }
    let path = Path::new(location);
    if !path.exists() {
        bail!("data path {location} does not exist (set --data or DATA_PATH)");
    }
    let absolute = path
        .canonicalize()
        .with_context(|| format!("data path {location}"))?;
    let files = if absolute.is_dir() {
        let mut files = Vec::new();
        collect_parquet_files(&absolute, &mut files)?;
        if files.is_empty() {
            bail!("data path {location} holds no .parquet files");
        }
        files
    } else {
        vec![absolute.clone()]
    };
    for file in &files {
        check_parquet_magic(file)?;
    }
    let mut text = absolute.to_string_lossy().into_owned();
    if absolute.is_dir() && !text.ends_with('/') {
        text.push('/');
    }
    Ok(text)
}

fn collect_parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if file_type.is_dir() {
            collect_parquet_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// A Parquet file starts and ends with `PAR1`.
fn check_parquet_magic(file: &Path) -> Result<()> {
    let not_parquet = || format!("{} is not a Parquet file", file.display());
    let mut f =
        File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let len = f
        .metadata()
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if len < 12 {
        bail!("{} (only {len} bytes)", not_parquet());
    }
    let mut head = [0u8; 4];
    let mut tail = [0u8; 4];
    f.read_exact(&mut head).with_context(not_parquet)?;
    f.seek(SeekFrom::End(-4)).with_context(not_parquet)?;
    f.read_exact(&mut tail).with_context(not_parquet)?;
    if &head != b"PAR1" || &tail != b"PAR1" {
        bail!("{} (no PAR1 magic bytes)", not_parquet());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_args() {
        let t = TableSource::parse("dns=/data/dns").expect("valid");
        assert_eq!(t.name, "dns");
        assert_eq!(t.location, "/data/dns");
        assert!(TableSource::parse("nodelimiter").is_err());
        assert!(TableSource::parse("1bad=/x").is_err());
        assert!(TableSource::parse("ok=").is_err());
    }

    #[test]
    fn missing_and_empty_paths_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        let err = check_location(missing.to_str().expect("utf8")).expect_err("missing");
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = check_location(dir.path().to_str().expect("utf8")).expect_err("empty");
        assert!(err.to_string().contains("no .parquet files"), "{err}");
    }

    #[test]
    fn non_parquet_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("part-0.parquet");
        std::fs::write(&bad, b"this is a csv file, not parquet").expect("write");
        let err = check_location(dir.path().to_str().expect("utf8")).expect_err("bad");
        assert!(err.to_string().contains("part-0.parquet"), "{err}");
        assert!(err.to_string().contains("not a Parquet file"), "{err}");
    }
}
