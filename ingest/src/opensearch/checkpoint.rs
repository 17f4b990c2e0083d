//! Where an OpenSearch pull stands, kept in the lake beside the events it wrote.
//!
//! Under `<out>/_ingest/opensearch/` each source (URL, index pattern, query and checkpoint
//! field) has a key, a hash of those four, and up to four files:
//!
//! - `<key>.json`, the checkpoint: the high-water mark (the last sort value of the
//!   checkpoint field that was ingested) and the `(_index, _id)` of every document seen at
//!   exactly that mark. The next pull asks for `field >= mark` and skips those documents,
//!   so documents that arrive later with the same timestamp are still ingested once.
//! - `<key>.journal.json`, a transaction being committed: the temporary and final names of
//!   its part files and the checkpoint that holds once they are in place. It is written
//!   only after every part is complete on disk; a run that finds it rolls it forward
//!   (renames what is left, writes the checkpoint) before anything else.
//! - `<key>.run.json`, the id of the run in progress. A run that finds one left by a run
//!   that crashed removes that run's temporary part files (never named by a journal, so
//!   never visible): the transaction is rolled back and its events are pulled again.
//! - `<key>.lock`, held with an OS file lock while a run works on the source, so that
//!   two runs on one lake and source do not interleave (the lock goes when the process
//!   does, however it ends).
//!
//! Every file is written to a temporary name, flushed and renamed.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::OpenSearchError;
use crate::sink::publish;

/// The checkpoint file's format version.
const VERSION: u32 = 1;

/// The source a checkpoint belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceKey {
    /// The base URL, without credentials.
    pub url: String,
    /// The index pattern.
    pub index: String,
    /// The user's query, if any.
    pub query: Option<Value>,
    /// The field the pull is ordered and resumed by.
    pub field: String,
}

impl SourceKey {
    /// 16 hex digits naming the source's files: FNV-1a over the four parts, stable across
    /// builds and platforms.
    pub fn hash(&self) -> String {
        let query = self
            .query
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [&self.url, &self.index, &query, &self.field] {
            for b in part.bytes().chain([0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }
}

/// A high-water mark and the documents seen at it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The source.
    pub source: Option<SourceKey>,
    /// The checkpoint field's sort value (epoch milliseconds) of the last document
    /// ingested; `None` before the first.
    pub mark: Option<Value>,
    /// The mark as RFC 3339 UTC, for people reading the file.
    pub mark_time: Option<String>,
    /// `[_index, _id]` of every document at exactly the mark that was ingested (or
    /// rejected: either way it was read and reported).
    pub at_mark: Vec<(String, String)>,
    /// Documents read from this source over all runs (events and rejections).
    pub documents: u64,
}

impl Checkpoint {
    /// The documents at the mark as a set.
    pub fn seen(&self) -> HashSet<(String, String)> {
        self.at_mark.iter().cloned().collect()
    }
}

/// A transaction being committed.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// Part files as `[temporary, final]`, relative to the lake folder.
    parts: Vec<(String, String)>,
    /// The checkpoint once the parts are in place.
    checkpoint: Checkpoint,
}

/// The run in progress.
#[derive(Debug, Serialize, Deserialize)]
struct RunMarker {
    run_id: String,
}

/// One source's files in one lake, locked for this run.
pub(crate) struct Store {
    out: PathBuf,
    key: SourceKey,
    checkpoint_path: PathBuf,
    journal_path: PathBuf,
    run_path: PathBuf,
    /// Held for the store's life; the OS lock goes with it.
    _lock: File,
}

impl Store {
    /// Opens (and locks) the source's files, and recovers from a run that did not finish:
    /// a journal is rolled forward, a crashed run's temporary parts are removed. Returns
    /// the store and what was recovered, if anything.
    ///
    /// # Errors
    /// When the folder cannot be written, another run holds the lock, or a journal cannot
    /// be rolled forward.
    pub(crate) fn open(
        out: &Path,
        key: SourceKey,
    ) -> Result<(Self, Option<String>), OpenSearchError> {
        let dir = out.join("_ingest").join("opensearch");
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let hash = key.hash();
        let lock_path = dir.join(format!("{hash}.lock"));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OpenSearchError::Checkpoint {
                    path: lock_path,
                    detail: "another run is ingesting this source into this lake".into(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path, e)),
        }
        let store = Self {
            out: out.to_path_buf(),
            checkpoint_path: dir.join(format!("{hash}.json")),
            journal_path: dir.join(format!("{hash}.journal.json")),
            run_path: dir.join(format!("{hash}.run.json")),
            key,
            _lock: lock,
        };
        let recovered = store.recover()?;
        Ok((store, recovered))
    }

    /// The checkpoint file's path.
    pub(crate) fn checkpoint_path(&self) -> &Path {
        &self.checkpoint_path
    }

    fn recover(&self) -> Result<Option<String>, OpenSearchError> {
        let mut notes = Vec::new();
        if let Some(journal) = read_json::<Journal>(&self.journal_path)? {
            let n = journal.parts.len();
            self.roll_forward(journal)?;
            notes.push(format!(
                "rolled forward a transaction interrupted after its {n} part files were \
                 complete"
            ));
        }
        if let Some(run) = read_json::<RunMarker>(&self.run_path)? {
            let removed = remove_tmp_parts(&self.out.join("events"), &run.run_id);
            if removed > 0 {
                notes.push(format!(
                    "removed {removed} unfinished part files of interrupted run {} (their \
                     events are pulled again)",
                    run.run_id
                ));
            }
            remove(&self.run_path)?;
        }
        Ok((!notes.is_empty()).then(|| notes.join("; ")))
    }

    /// The stored checkpoint, or an empty one.
    ///
    /// # Errors
    /// When the file cannot be read or belongs to another source.
    pub(crate) fn load(&self) -> Result<Checkpoint, OpenSearchError> {
        let Some(cp) = read_json::<Checkpoint>(&self.checkpoint_path)? else {
            return Ok(Checkpoint {
                version: VERSION,
                source: Some(self.key.clone()),
                ..Checkpoint::default()
            });
        };
        if cp.version != VERSION || cp.source.as_ref() != Some(&self.key) {
            return Err(OpenSearchError::Checkpoint {
                path: self.checkpoint_path.clone(),
                detail: "written for another source or format version".into(),
            });
        }
        Ok(cp)
    }

    /// Records the run in progress, so that a crash leaves a trace to clean up after.
    pub(crate) fn begin_run(&self, run_id: &str) -> Result<(), OpenSearchError> {
        write_json(
            &self.run_path,
            &RunMarker {
                run_id: run_id.to_owned(),
            },
        )
    }

    /// The run ended (committed or failed cleanly): forgets its marker.
    pub(crate) fn end_run(&self) -> Result<(), OpenSearchError> {
        remove(&self.run_path)
    }

    /// Step 1 of a commit: the journal naming the finished temporary parts and the new
    /// checkpoint.
    pub(crate) fn write_journal(
        &self,
        parts: &[(PathBuf, PathBuf)],
        checkpoint: &Checkpoint,
    ) -> Result<(), OpenSearchError> {
        let rel = |p: &Path| -> Result<String, OpenSearchError> {
            p.strip_prefix(&self.out)
                .ok()
                .and_then(|r| r.to_str())
                .map(|s| s.replace('\\', "/"))
                .ok_or_else(|| OpenSearchError::Checkpoint {
                    path: p.to_path_buf(),
                    detail: "a part outside the lake folder".into(),
                })
        };
        let parts = parts
            .iter()
            .map(|(t, f)| Ok((rel(t)?, rel(f)?)))
            .collect::<Result<Vec<_>, OpenSearchError>>()?;
        write_json(
            &self.journal_path,
            &Journal {
                parts,
                checkpoint: checkpoint.clone(),
            },
        )
    }

    /// Steps 2 and 3 of a commit: the parts renamed, the checkpoint written, the journal
    /// removed. Returns the final part paths.
    pub(crate) fn apply_journal(&self) -> Result<Vec<PathBuf>, OpenSearchError> {
        match read_json::<Journal>(&self.journal_path)? {
            Some(j) => self.roll_forward(j),
            None => Ok(Vec::new()),
        }
    }

    /// Renames a journal's parts (only), for a simulated crash between the two steps.
    pub(crate) fn rename_parts_only(&self) -> Result<(), OpenSearchError> {
        if let Some(j) = read_json::<Journal>(&self.journal_path)? {
            publish(self.part_paths(&j)?, false)?;
        }
        Ok(())
    }

    fn part_paths(
        &self,
        j: &Journal,
    ) -> Result<Vec<(PathBuf, PathBuf)>, OpenSearchError> {
        let mut out = Vec::with_capacity(j.parts.len());
        for (tmp, fin) in &j.parts {
            let (tmp, fin) = (self.out.join(tmp), self.out.join(fin));
            if !tmp.exists() && !fin.exists() {
                return Err(OpenSearchError::Checkpoint {
                    path: self.journal_path.clone(),
                    detail: format!(
                        "the journal names {} but neither it nor its temporary file exists \
                         (was the lake changed by hand?)",
                        fin.display()
                    ),
                });
            }
            out.push((tmp, fin));
        }
        Ok(out)
    }

    fn roll_forward(&self, j: Journal) -> Result<Vec<PathBuf>, OpenSearchError> {
        let parts = publish(self.part_paths(&j)?, false)?;
        write_json(&self.checkpoint_path, &j.checkpoint)?;
        remove(&self.journal_path)?;
        Ok(parts)
    }
}

/// Removes `.part-<run_id>-*.parquet.tmp` under the day folders; returns how many.
fn remove_tmp_parts(events: &Path, run_id: &str) -> usize {
    let prefix = format!(".part-{run_id}-");
    let mut n = 0;
    let Ok(days) = std::fs::read_dir(events) else {
        return 0;
    };
    for day in days.flatten() {
        let Ok(files) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".parquet.tmp") {
                match std::fs::remove_file(f.path()) {
                    Ok(()) => n += 1,
                    Err(e) => {
                        tracing::warn!("could not remove {}: {e}", f.path().display())
                    }
                }
            }
        }
    }
    n
}

fn io_err(path: &Path, e: std::io::Error) -> OpenSearchError {
    OpenSearchError::Checkpoint {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, OpenSearchError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| OpenSearchError::Checkpoint {
            path: path.to_path_buf(),
            detail: format!("not a valid file: {e}"),
        })
}

/// Writes `value` as JSON to a temporary file, flushes it and renames it over `path`.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), OpenSearchError> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| OpenSearchError::Checkpoint {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(&bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        // Makes the rename durable where the platform allows syncing a folder.
        let _ = d.sync_all();
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), OpenSearchError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SourceKey {
        SourceKey {
            url: "http://localhost:9200".into(),
            index: "winlogbeat-*".into(),
            query: None,
            field: "@timestamp".into(),
        }
    }

    #[test]
    fn hash_is_stable_and_depends_on_every_part() {
        let k = key();
        assert_eq!(k.hash(), k.clone().hash());
        assert_eq!(k.hash().len(), 16);
        let mut other = key();
        other.field = "event.ingested".into();
        assert_ne!(k.hash(), other.hash());
        let mut q = key();
        q.query = Some(serde_json::json!({"match_all": {}}));
        assert_ne!(k.hash(), q.hash());
    }

    #[test]
    fn a_second_store_on_the_same_source_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_a, _) = Store::open(dir.path(), key()).expect("first");
        let err = Store::open(dir.path(), key()).err().expect("locked");
        assert!(err.to_string().contains("another run"), "{err}");
    }

    #[test]
    fn checkpoint_of_another_source_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = Store::open(dir.path(), key()).expect("open");
        let mut cp = store.load().expect("empty");
        cp.source = Some(SourceKey {
            index: "other".into(),
            ..key()
        });
        write_json(store.checkpoint_path(), &cp).expect("write");
        assert!(store.load().is_err());
    }
}
