//! Where a hunt's results and models live, and how a run becomes visible all at once.
//!
//! ```text
//! <BASE_S3_PATH>/results/<hunt>/<run-id>/findings.parquet   every scored entity
//! <BASE_S3_PATH>/results/<hunt>/<run-id>/<extra>.parquet     evidence tables
//! <BASE_S3_PATH>/results/<hunt>/<run-id>/manifest.json       written last
//! <BASE_S3_PATH>/models/<hunt>/<run-id>/<model>.hntm
//! ```
//!
//! A run is complete when its manifest exists; readers ([`Store::completed_runs`], `huntsman
//! eval`) ignore runs without one.
//!
//! - In a local folder, a run is built in a hidden `.<run-id>.partial` folder beside its
//!   final place, the manifest is written last and the folder is renamed into place: a
//!   reader never sees half a run, and a failed run leaves nothing (its partial folder is
//!   removed). A run that could not clean up (killed, machine lost) is swept by the next
//!   run of the same hunt: every run holds an OS file lock on `.<run-id>.lock` while it
//!   lives, which the OS releases however the process ends, so a partial folder whose lock
//!   can be taken belongs to nobody, and it goes with the models its run wrote.
//! - In object storage (`s3://`), which cannot rename a prefix, the parts are written at
//!   their final keys and the manifest is written last, as one `PUT`. A failed run deletes
//!   what it wrote; if the store is gone by then, what is left has no manifest and is
//!   ignored. Intermediate tables go to `<BASE_S3_PATH>/scratch/<hunt>/<run-id>/` so that
//!   remote executors can read them, and are deleted when the run ends.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::location::Location;
pub use crate::location::local_temp;

pub use crate::location::DEFAULT_BASE_S3_PATH;

/// The stored-results root of one process (`BASE_S3_PATH`): a local folder or an
/// `s3://` prefix.
#[derive(Debug, Clone)]
pub struct Store {
    root: Location,
}

impl Store {
    /// Opens the root: a local folder is created; an object-store prefix is only parsed
    /// (the first write tells whether the store is reachable).
    ///
    /// # Errors
    /// An unsupported URL, missing S3 settings, or a folder that cannot be created.
    pub fn open(base: &str) -> Result<Self> {
        let root =
            Location::parse(base).with_context(|| format!("BASE_S3_PATH {base}"))?;
        let root = match root {
            Location::Local(path) => {
                fs::create_dir_all(&path)
                    .with_context(|| format!("BASE_S3_PATH {base}"))?;
                Location::Local(
                    path.canonicalize()
                        .with_context(|| format!("BASE_S3_PATH {base}"))?,
                )
            }
            object => object,
        };
        Ok(Self { root })
    }

    /// The root.
    pub fn root(&self) -> &Location {
        &self.root
    }

    /// Every completed run in the store, by the folder of `results/` it is in, from one
    /// listing: the built-in hunts and hunters' own packs alike (callers keep the names a
    /// hunt can have). Runs are sorted, oldest first.
    ///
    /// # Errors
    /// The store cannot be listed.
    pub async fn runs_by_hunt(
        &self,
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let listed = self.root.join("results").list().await?;
        let mut runs: std::collections::BTreeMap<String, Vec<String>> =
            Default::default();
        for file in &listed {
            let mut parts = file.relative.split('/');
            let (Some(hunt), Some(run), Some(name), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if name == MANIFEST && !run.starts_with('.') {
                runs.entry(hunt.to_string())
                    .or_default()
                    .push(run.to_string());
            }
        }
        for ids in runs.values_mut() {
            ids.sort();
            ids.dedup();
        }
        Ok(runs)
    }

    /// Where the runs of `hunt` are.
    pub fn results_dir(&self, hunt: &str) -> Location {
        self.root.join(&format!("results/{hunt}"))
    }

    /// Where the models of `hunt` are, one folder per run.
    pub fn models_dir(&self, hunt: &str) -> Location {
        self.root.join(&format!("models/{hunt}"))
    }

    /// Starts a run of `hunt`.
    ///
    /// # Errors
    /// The run exists already, or the local folders cannot be created.
    pub async fn begin(&self, hunt: &str, run_id: &str) -> Result<RunDir> {
        let final_dir = self.results_dir(hunt).join(run_id);
        if final_dir.join(MANIFEST).exists().await? {
            bail!("run {run_id} of {hunt} already exists at {final_dir}");
        }
        let models = self.models_dir(hunt).join(run_id);
        let mut owner = None;
        let (staging, work) = match &self.root {
            Location::Local(root) => {
                let results = root.join("results").join(hunt);
                fs::create_dir_all(&results)
                    .with_context(|| format!("creating {}", results.display()))?;
                // Locked before the partial folder exists, so a sweep never takes a live
                // run's folder for an abandoned one.
                owner = Some(RunLock::hold(&results, run_id)?);
                sweep_abandoned(root, hunt);
                let staging = self.results_dir(hunt).join(&format!(".{run_id}.partial"));
                staging.remove_all().await?;
                let work = staging.join("work");
                for dir in [&work, &models] {
                    if let Location::Local(path) = dir {
                        fs::create_dir_all(path)
                            .with_context(|| format!("creating {}", path.display()))?;
                    }
                }
                (staging, work)
            }
            Location::Object(_) => (
                final_dir.clone(),
                self.root.join(&format!("scratch/{hunt}/{run_id}")),
            ),
        };
        Ok(RunDir {
            run_id: run_id.to_string(),
            staging,
            final_dir,
            work,
            models,
            committed: false,
            owner,
        })
    }

    /// Run ids of `hunt` that completed (have a manifest), oldest first.
    ///
    /// # Errors
    /// The results cannot be listed.
    pub async fn completed_runs(&self, hunt: &str) -> Result<Vec<String>> {
        let listed = self.results_dir(hunt).list().await?;
        let mut runs: Vec<String> = listed
            .iter()
            .filter_map(|f| f.relative.strip_suffix(&format!("/{MANIFEST}")))
            .filter(|run| !run.contains('/') && !run.starts_with('.'))
            .map(String::from)
            .collect();
        runs.sort();
        runs.dedup();
        Ok(runs)
    }
}

/// File name of a run's manifest.
pub const MANIFEST: &str = "manifest.json";

/// A run being written. A local run dropped without [`RunDir::commit`] removes its
/// partial folder; an object-store run needs [`RunDir::discard`] (deletion is a request).
#[derive(Debug)]
pub struct RunDir {
    run_id: String,
    /// Where parts are written (the hidden partial folder, or the final prefix).
    staging: Location,
    final_dir: Location,
    work: Location,
    models: Location,
    committed: bool,
    /// The local run's lock, released (and its file removed) when the run ends.
    owner: Option<RunLock>,
}

impl RunDir {
    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where intermediate tables go (removed when the run ends).
    pub fn work_dir(&self) -> &Location {
        &self.work
    }

    /// Where the run is once committed.
    pub fn final_dir(&self) -> &Location {
        &self.final_dir
    }

    /// The location of a model file.
    pub fn model_location(&self, name: &str) -> Location {
        self.models.join(&format!("{name}.hntm"))
    }

    /// Writes model bytes whole and returns their location.
    ///
    /// # Errors
    /// The write fails; the message names the location.
    pub async fn write_model(&self, name: &str, bytes: &[u8]) -> Result<Location> {
        let location = self.model_location(name);
        location
            .put(bytes.to_vec())
            .await
            .with_context(|| format!("storing model {name}"))?;
        Ok(location)
    }

    /// Where the run's result table `<name>.parquet` is written while the run is built.
    pub fn staging_table(&self, name: &str) -> Location {
        self.staging.join(&format!("{name}.parquet"))
    }

    /// Where the run's result table `<name>.parquet` is once the run is committed.
    pub fn final_table(&self, name: &str) -> Location {
        self.final_dir.join(&format!("{name}.parquet"))
    }

    /// Removes the intermediate tables, writes the manifest (last) and, in a local
    /// folder, renames the run into place.
    ///
    /// # Errors
    /// IO or store errors, naming the location; the run is then not complete.
    pub async fn commit(&mut self, manifest: &serde_json::Value) -> Result<Location> {
        if let Err(e) = self.work.remove_all().await {
            tracing::warn!("removing intermediate tables: {e:#}");
        }
        let text =
            serde_json::to_string_pretty(manifest).context("encoding the manifest")?;
        self.staging
            .join(MANIFEST)
            .put(text.into_bytes())
            .await
            .context("writing the run manifest")?;
        if let (Location::Local(from), Location::Local(to)) =
            (&self.staging, &self.final_dir)
        {
            fs::rename(from, to).with_context(|| {
                format!("moving the run into place at {}", to.display())
            })?;
        }
        self.committed = true;
        self.owner = None;
        Ok(self.final_dir.clone())
    }

    /// Removes what an unfinished run wrote (its parts, models and intermediate tables).
    /// When the store cannot be reached the leftovers stay, without a manifest, and a
    /// warning names them.
    ///
    /// The three folders are removed at once: on a store that stays sick each removal
    /// spends the whole retry budget, and one after the other they would triple the time
    /// a failed hunt takes to report its error.
    pub async fn discard(&mut self) {
        if self.committed {
            return;
        }
        // A local run's work folder lies inside its staging folder and goes with it, so
        // two removals never walk one tree at the same time.
        let mut locations = vec![&self.staging, &self.models];
        if !is_inside(&self.work, &self.staging) {
            locations.push(&self.work);
        }
        let removed =
            futures::future::join_all(locations.iter().map(|l| l.remove_all())).await;
        for (location, result) in locations.iter().zip(removed) {
            if let Err(e) = result {
                eprintln!(
                    "huntsman: could not remove the unfinished run's files at {location} \
                     ({e:#}); they have no manifest, so no reader takes them for a run"
                );
            }
        }
        self.committed = true;
    }
}

/// Whether `inner` is `outer` or a folder below it, both local.
fn is_inside(inner: &Location, outer: &Location) -> bool {
    matches!((inner, outer), (Location::Local(i), Location::Local(o)) if i.starts_with(o))
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for location in [&self.staging, &self.models] {
            if let Location::Local(path) = location {
                let _ = fs::remove_dir_all(path);
            }
        }
        // Only now: the folders are gone before the lock is.
        self.owner = None;
    }
}

/// A local run's claim on its id: an exclusive OS lock on `.<run-id>.lock` in the hunt's
/// results folder, held while the run lives. Dropping it removes the file, then unlocks.
#[derive(Debug)]
struct RunLock {
    path: PathBuf,
    _file: fs::File,
}

impl RunLock {
    fn path(results: &Path, run_id: &str) -> PathBuf {
        results.join(format!(".{run_id}.lock"))
    }

    fn hold(results: &Path, run_id: &str) -> Result<Self> {
        let path = Self::path(results, run_id);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating the run lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path, _file: file }),
            Err(fs::TryLockError::WouldBlock) => {
                bail!(
                    "run {run_id} is being written by another process ({})",
                    path.display()
                )
            }
            Err(fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes the partial folders (and the models) of runs of `hunt` under the local store
/// `root` whose process is gone: no lock file, or one nobody holds. Best effort: what
/// cannot be removed stays for the next sweep, and is never read as a run.
fn sweep_abandoned(root: &Path, hunt: &str) {
    let results = root.join("results").join(hunt);
    let Ok(entries) = fs::read_dir(&results) else {
        return;
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_prefix('.')?;
            let id = id
                .strip_suffix(".partial")
                .or_else(|| id.strip_suffix(".lock"))?;
            Some(id.to_string())
        })
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let lock_path = RunLock::path(&results, &id);
        let claim = match fs::OpenOptions::new().write(true).open(&lock_path) {
            Ok(file) => match file.try_lock() {
                Ok(()) => Some(file),
                // Alive (or the lock cannot be read): leave it.
                Err(_) => continue,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => continue,
        };
        let _ = fs::remove_dir_all(results.join(format!(".{id}.partial")));
        if !results.join(&id).join(MANIFEST).exists() {
            let _ = fs::remove_dir_all(root.join("models").join(hunt).join(&id));
        }
        if claim.is_some() {
            let _ = fs::remove_file(&lock_path);
        }
        tracing::info!("removed the abandoned partial run {id} of {hunt}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a new temporary folder (kept while the guard lives) and its root path.
    fn local_store() -> (tempfile::TempDir, Store, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        let Location::Local(root) = store.root().clone() else {
            panic!("local")
        };
        (dir, store, root)
    }

    #[tokio::test]
    async fn a_run_is_invisible_until_committed_and_vanishes_on_failure() {
        let (_dir, store, root) = local_store();
        {
            let run = store.begin("c2-beacon", "r1").await.unwrap();
            run.write_model("m", b"bytes").await.unwrap();
            assert!(store.completed_runs("c2-beacon").await.unwrap().is_empty());
            // dropped without commit: a failed run
        }
        assert!(store.completed_runs("c2-beacon").await.unwrap().is_empty());
        assert!(!root.join("models/c2-beacon/r1").exists());
        assert_eq!(
            fs::read_dir(root.join("results/c2-beacon"))
                .unwrap()
                .count(),
            0
        );

        let mut run = store.begin("c2-beacon", "r2").await.unwrap();
        let model = run.write_model("m", b"bytes").await.unwrap();
        let final_dir = run.commit(&serde_json::json!({"ok": true})).await.unwrap();
        assert_eq!(store.completed_runs("c2-beacon").await.unwrap(), vec!["r2"]);
        assert!(final_dir.join(MANIFEST).exists().await.unwrap());
        assert!(!final_dir.join("work").exists().await.unwrap());
        assert_eq!(model.get().await.unwrap(), b"bytes");
        assert!(store.begin("c2-beacon", "r2").await.is_err());
    }

    #[tokio::test]
    async fn a_run_killed_before_it_could_clean_up_is_swept_by_the_next() {
        let (_dir, store, root) = local_store();
        let results = root.join("results/c2-beacon");
        // A run still going: its lock is held (by this process, through its own file).
        let live = store.begin("c2-beacon", "live").await.unwrap();
        live.write_model("m", b"bytes").await.unwrap();
        // A killed run left its folders and a lock file nobody holds; a run from before
        // locks existed left folders only.
        for id in ["killed", "older"] {
            fs::create_dir_all(results.join(format!(".{id}.partial/work"))).unwrap();
            fs::create_dir_all(root.join(format!("models/c2-beacon/{id}"))).unwrap();
        }
        fs::write(results.join(".killed.lock"), b"").unwrap();

        let next = store.begin("c2-beacon", "next").await.unwrap();
        assert!(
            results.join(".live.partial").is_dir(),
            "the live run is left alone"
        );
        assert!(root.join("models/c2-beacon/live/m.hntm").is_file());
        for id in ["killed", "older"] {
            assert!(!results.join(format!(".{id}.partial")).exists(), "{id}");
            assert!(
                !root.join(format!("models/c2-beacon/{id}")).exists(),
                "{id}"
            );
        }
        assert!(!results.join(".killed.lock").exists());

        drop(next);
        drop(live);
        let left: Vec<_> = fs::read_dir(&results)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "ended runs leave nothing: {left:?}");
    }

    #[tokio::test]
    async fn a_discarded_run_leaves_no_folder_behind() {
        let (_dir, store, root) = local_store();
        let mut run = store.begin("c2-beacon", "r1").await.unwrap();
        run.write_model("m", b"bytes").await.unwrap();
        for table in [run.staging_table("part"), run.work_dir().join("t.parquet")] {
            table.put(b"rows".to_vec()).await.unwrap();
        }
        assert!(is_inside(run.work_dir(), &run.staging));
        run.discard().await;
        assert!(!root.join("models/c2-beacon/r1").exists());
        let left = || -> Vec<_> {
            fs::read_dir(root.join("results/c2-beacon"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect()
        };
        // Only the run's lock, held until the run is dropped.
        assert_eq!(left(), vec![std::ffi::OsString::from(".r1.lock")]);
        drop(run);
        assert!(left().is_empty(), "{:?}", left());
        assert!(store.completed_runs("c2-beacon").await.unwrap().is_empty());
    }

    #[test]
    fn unsupported_urls_are_refused_clearly() {
        let err = format!("{:#}", Store::open("gs://bucket/x").unwrap_err());
        assert!(err.contains("gs://bucket/x"), "{err}");
    }
}
