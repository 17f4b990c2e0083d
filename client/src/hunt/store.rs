//! Where a hunt's results and models live, and how a run becomes visible all at once.
//!
//! ```text
//! <BASE_S3_PATH>/results/<hunt>/<run-id>/findings.parquet   every scored entity
//! <BASE_S3_PATH>/results/<hunt>/<run-id>/<extra>.parquet     evidence tables
//! <BASE_S3_PATH>/results/<hunt>/<run-id>/manifest.json       written last
//! <BASE_S3_PATH>/models/<hunt>/<run-id>/<model>.hntm
//! ```
//!
//! A run is built in a hidden `.<run-id>.partial` folder beside its final place, the
//! manifest is written last, and the folder is renamed into place: a reader listing
//! `results/<hunt>/` never sees half a run, and a failed run leaves nothing visible
//! (its partial folder is removed).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use crate::output::{Format, write_results};

/// The stored-results root of one process (`BASE_S3_PATH`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (and creates) the root folder.
    ///
    /// # Errors
    /// An object-store URL (not supported by this build yet) or a folder that cannot be
    /// created.
    pub fn open(base: &str) -> Result<Self> {
        if base.contains("://") && !base.starts_with("file://") {
            bail!(
                "BASE_S3_PATH {base}: only local folders are supported by this build \
                 (object storage arrives with the S3 issue)"
            );
        }
        let base = base.strip_prefix("file://").unwrap_or(base);
        fs::create_dir_all(base).with_context(|| format!("BASE_S3_PATH {base}"))?;
        let root = Path::new(base)
            .canonicalize()
            .with_context(|| format!("BASE_S3_PATH {base}"))?;
        Ok(Self { root })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder holding the runs of `hunt`.
    pub fn results_dir(&self, hunt: &str) -> PathBuf {
        self.root.join("results").join(hunt)
    }

    /// Folder holding the models of `hunt`, one subfolder per run.
    pub fn models_dir(&self, hunt: &str) -> PathBuf {
        self.root.join("models").join(hunt)
    }

    /// Starts a run of `hunt`: a fresh partial folder and a models folder.
    ///
    /// # Errors
    /// The folders cannot be created.
    pub fn begin(&self, hunt: &str, run_id: &str) -> Result<RunDir> {
        let parent = self.results_dir(hunt);
        let partial = parent.join(format!(".{run_id}.partial"));
        let final_dir = parent.join(run_id);
        if final_dir.exists() {
            bail!(
                "run {run_id} of {hunt} already exists at {}",
                final_dir.display()
            );
        }
        if partial.exists() {
            fs::remove_dir_all(&partial)
                .with_context(|| format!("removing {}", partial.display()))?;
        }
        fs::create_dir_all(partial.join("work"))
            .with_context(|| format!("creating {}", partial.display()))?;
        let models = self.models_dir(hunt).join(run_id);
        fs::create_dir_all(&models)
            .with_context(|| format!("creating {}", models.display()))?;
        Ok(RunDir {
            partial,
            final_dir,
            models,
            committed: false,
        })
    }

    /// Run ids of `hunt` that completed (have a manifest), oldest first.
    ///
    /// # Errors
    /// The results folder cannot be listed.
    pub fn completed_runs(&self, hunt: &str) -> Result<Vec<String>> {
        let dir = self.results_dir(hunt);
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut runs = Vec::new();
        for entry in
            fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().join(MANIFEST).is_file() {
                runs.push(name);
            }
        }
        runs.sort();
        Ok(runs)
    }
}

/// File name of a run's manifest.
pub const MANIFEST: &str = "manifest.json";

/// A run being written. Dropped without [`RunDir::commit`], it removes its partial folder.
#[derive(Debug)]
pub struct RunDir {
    partial: PathBuf,
    final_dir: PathBuf,
    models: PathBuf,
    committed: bool,
}

impl RunDir {
    /// Scratch folder for intermediate tables (removed before the run is committed).
    pub fn work_dir(&self) -> PathBuf {
        self.partial.join("work")
    }

    /// Where the run will be once committed.
    pub fn final_dir(&self) -> &Path {
        &self.final_dir
    }

    /// Path of a model file (written atomically by [`RunDir::write_model`]).
    pub fn model_path(&self, name: &str) -> PathBuf {
        self.models.join(format!("{name}.hntm"))
    }

    /// Writes model bytes atomically and returns the path.
    ///
    /// # Errors
    /// IO errors, naming the file.
    pub fn write_model(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.model_path(name);
        let tmp = path.with_extension("hntm.tmp");
        fs::write(&tmp, bytes)
            .with_context(|| format!("writing model {}", tmp.display()))?;
        fs::rename(&tmp, &path)
            .with_context(|| format!("writing model {}", path.display()))?;
        Ok(path)
    }

    /// Writes a result table as `<name>.parquet` inside the run.
    ///
    /// # Errors
    /// IO or Parquet errors, naming the file.
    pub fn write_table(
        &self,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<PathBuf> {
        let path = self.partial.join(format!("{name}.parquet"));
        write_results(batches, schema, Format::Parquet, Some(&path))?;
        Ok(self.final_dir.join(format!("{name}.parquet")))
    }

    /// Writes the manifest, removes the scratch folder and renames the run into place.
    ///
    /// # Errors
    /// IO errors, naming the path.
    pub fn commit(mut self, manifest: &serde_json::Value) -> Result<PathBuf> {
        let work = self.work_dir();
        if work.exists() {
            fs::remove_dir_all(&work)
                .with_context(|| format!("removing {}", work.display()))?;
        }
        let text =
            serde_json::to_string_pretty(manifest).context("encoding the manifest")?;
        let path = self.partial.join(MANIFEST);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        fs::rename(&self.partial, &self.final_dir).with_context(|| {
            format!("moving the run into place at {}", self.final_dir.display())
        })?;
        self.committed = true;
        Ok(self.final_dir.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.partial);
            let _ = fs::remove_dir_all(&self.models);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_invisible_until_committed_and_vanishes_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        {
            let run = store.begin("c2-beacon", "r1").unwrap();
            run.write_model("m", b"bytes").unwrap();
            assert!(store.completed_runs("c2-beacon").unwrap().is_empty());
            // dropped without commit: a failed run
        }
        assert!(store.completed_runs("c2-beacon").unwrap().is_empty());
        assert!(!store.root().join("models/c2-beacon/r1").exists());
        assert_eq!(
            fs::read_dir(store.results_dir("c2-beacon"))
                .unwrap()
                .count(),
            0
        );

        let run = store.begin("c2-beacon", "r2").unwrap();
        let model = run.write_model("m", b"bytes").unwrap();
        let final_dir = run.commit(&serde_json::json!({"ok": true})).unwrap();
        assert_eq!(store.completed_runs("c2-beacon").unwrap(), vec!["r2"]);
        assert!(final_dir.join(MANIFEST).is_file());
        assert!(!final_dir.join("work").exists());
        assert_eq!(fs::read(model).unwrap(), b"bytes");
        assert!(store.begin("c2-beacon", "r2").is_err());
    }

    #[test]
    fn object_store_urls_are_refused_clearly() {
        let err = Store::open("s3://bucket/x").unwrap_err().to_string();
        assert!(err.contains("s3://bucket/x"), "{err}");
    }
}
