//! A place the client reads or writes: a local path or an object-store URL.
//!
//! `BASE_S3_PATH`, `DATA_PATH`, `lab generate --out` and stored models all accept either a
//! local folder (`./data`, `file:///srv/lake`) or an `s3://`/`s3a://` URL. Object-store
//! URLs resolve through [`huntsman_udfs::objstore`], so the client uses the same S3
//! settings (its own environment) as the session it plans queries with.
//!
//! Writes are whole-object: a local file is written beside its final name and renamed, an
//! object is one `PUT` (or a multipart upload completed only at the end), so a reader sees
//! the old state or the new one, never half a file.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use futures::TryStreamExt;
use huntsman_udfs::objstore::{ObjectLocation, describe, is_object_url};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

/// A local path or an object-store location.
#[derive(Clone, Debug)]
pub enum Location {
    /// A local file or folder.
    Local(PathBuf),
    /// An object or prefix in a bucket.
    Object(ObjectLocation),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::Object(o) => f.write_str(&o.url),
        }
    }
}

/// A file found under a location: its path relative to the location and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Relative path with `/` separators.
    pub relative: String,
    /// Size in bytes.
    pub size: u64,
}

impl Location {
    /// Parses a local path, a `file://` URL or an `s3://`/`s3a://` URL.
    ///
    /// # Errors
    /// Another URL scheme, or an object-store URL this process has no usable settings
    /// for (no credentials, no bucket).
    pub fn parse(text: &str) -> Result<Self> {
        if is_object_url(text) {
            return ObjectLocation::parse(text)
                .map(Self::Object)
                .map_err(|e| anyhow!(e));
        }
        if let Some(path) = text.strip_prefix("file://") {
            return Ok(Self::Local(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            bail!(
                "{text}: {scheme}:// locations are not supported (use a local path, s3:// or s3a://)"
            );
        }
        Ok(Self::Local(PathBuf::from(text)))
    }

    /// True for an object-store location.
    pub fn is_object(&self) -> bool {
        matches!(self, Self::Object(_))
    }

    /// The location of `child` (a relative path with `/` separators) below this one.
    pub fn join(&self, child: &str) -> Self {
        match self {
            Self::Local(p) => Self::Local(
                child
                    .split('/')
                    .filter(|c| !c.is_empty())
                    .fold(p.clone(), |p, c| p.join(c)),
            ),
            Self::Object(o) => Self::Object(o.join(child)),
        }
    }

    /// The location as DataFusion and the executors name it: an absolute local path or
    /// the URL.
    pub fn table_url(&self) -> String {
        match self {
            Self::Local(p) => std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .to_string_lossy()
                .into_owned(),
            Self::Object(o) => o.url.clone(),
        }
    }

    /// Writes `bytes` as the whole file or object.
    ///
    /// # Errors
    /// The write fails; the message names the location.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<()> {
        match self {
            Self::Local(path) => {
                let tmp = prepare_local(path).await?;
                tokio::fs::write(&tmp, bytes)
                    .await
                    .with_context(|| format!("writing {}", tmp.display()))?;
                tokio::fs::rename(&tmp, path)
                    .await
                    .with_context(|| format!("writing {}", path.display()))
            }
            Self::Object(o) => o
                .store
                .put(&o.path, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| anyhow!("writing {}: {}", o.url, describe(&e))),
        }
    }

    /// Copies the local file `source` to this location, streaming (a multipart upload
    /// for objects, completed only when the whole file is sent).
    ///
    /// # Errors
    /// Reading the source or writing the destination fails; both are named.
    pub async fn upload(&self, source: &Path) -> Result<()> {
        match self {
            Self::Local(path) => {
                let tmp = prepare_local(path).await?;
                tokio::fs::copy(source, &tmp).await.with_context(|| {
                    format!("copying {} to {}", source.display(), tmp.display())
                })?;
                tokio::fs::rename(&tmp, path)
                    .await
                    .with_context(|| format!("writing {}", path.display()))
            }
            Self::Object(o) => {
                let mut file = tokio::fs::File::open(source)
                    .await
                    .with_context(|| format!("reading {}", source.display()))?;
                let upload = o
                    .store
                    .put_multipart(&o.path)
                    .await
                    .map_err(|e| anyhow!("writing {}: {}", o.url, describe(&e)))?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = file
                        .read(&mut buf)
                        .await
                        .with_context(|| format!("reading {}", source.display()))?;
                    if n == 0 {
                        break;
                    }
                    writer
                        .wait_for_capacity(4)
                        .await
                        .map_err(|e| anyhow!("writing {}: {}", o.url, describe(&e)))?;
                    writer.write(&buf[..n]);
                }
                writer
                    .finish()
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow!("writing {}: {}", o.url, describe(&e)))
            }
        }
    }

    /// Copies every file below the local folder `source` to the same relative paths
    /// below this location and returns how many were copied. Files whose relative path
    /// `last` accepts are copied after all others (labels after the events they describe).
    /// If a copy fails, the files already copied are removed again, so the destination
    /// gains all of them or none (as far as the store lets the removal through).
    ///
    /// # Errors
    /// Listing the source or a copy fails; the message names the file.
    pub async fn upload_dir(
        &self,
        source: &Path,
        last: impl Fn(&str) -> bool,
    ) -> Result<usize> {
        let mut files = Location::Local(source.to_path_buf()).list().await?;
        files.sort_by_key(|f| last(&f.relative));
        let mut copied: Vec<Location> = Vec::with_capacity(files.len());
        for file in &files {
            let target = self.join(&file.relative);
            if let Err(e) = target.upload(&source.join(&file.relative)).await {
                for done in &copied {
                    let _ = done.remove_all().await;
                }
                return Err(e);
            }
            copied.push(target);
        }
        Ok(copied.len())
    }

    /// Reads the whole file or object.
    ///
    /// # Errors
    /// Missing or unreadable; the message names the location.
    pub async fn get(&self) -> Result<Vec<u8>> {
        match self {
            Self::Local(path) => tokio::fs::read(path)
                .await
                .with_context(|| format!("reading {}", path.display())),
            Self::Object(o) => {
                let got = o
                    .store
                    .get(&o.path)
                    .await
                    .map_err(|e| anyhow!("reading {}: {}", o.url, describe(&e)))?;
                got.bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| anyhow!("reading {}: {}", o.url, describe(&e)))
            }
        }
    }

    /// Whether the file or object exists.
    ///
    /// # Errors
    /// The store cannot answer (unreachable, access denied).
    pub async fn exists(&self) -> Result<bool> {
        match self {
            Self::Local(path) => Ok(path.exists()),
            Self::Object(o) => match o.store.head(&o.path).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(anyhow!("checking {}: {}", o.url, describe(&e))),
            },
        }
    }

    /// Every file below this location (recursively), sorted; an empty list when nothing
    /// is there. A location that is itself a file is listed as one entry with an empty
    /// relative path. Hidden local entries (starting with `.`) are skipped.
    ///
    /// # Errors
    /// The folder or bucket cannot be listed (missing bucket, access denied,
    /// unreachable store); the message names the location.
    pub async fn list(&self) -> Result<Vec<Listed>> {
        let mut out = match self {
            Self::Local(root) => {
                let root = root.clone();
                tokio::task::spawn_blocking(move || list_local(&root))
                    .await
                    .context("listing")??
            }
            Self::Object(o) => {
                let prefix = o.path.clone();
                let skip = prefix.as_ref().len();
                let objects: Vec<object_store::ObjectMeta> = o
                    .store
                    .list(Some(&prefix))
                    .try_collect()
                    .await
                    .map_err(|e| anyhow!("listing {}: {}", o.url, describe(&e)))?;
                if objects.is_empty() && !prefix.as_ref().is_empty() {
                    // A prefix lists what is below it; the location may be one object.
                    return match o.store.head(&prefix).await {
                        Ok(meta) => Ok(vec![Listed {
                            relative: String::new(),
                            size: meta.size,
                        }]),
                        Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
                        Err(e) => Err(anyhow!("reading {}: {}", o.url, describe(&e))),
                    };
                }
                objects
                    .into_iter()
                    .map(|m| Listed {
                        relative: m.location.as_ref()[skip..]
                            .trim_start_matches('/')
                            .to_string(),
                        size: m.size,
                    })
                    .collect()
            }
        };
        out.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(out)
    }

    /// Removes everything below this location. Missing is fine.
    ///
    /// # Errors
    /// The store refuses or cannot be reached; the message names the location.
    pub async fn remove_all(&self) -> Result<()> {
        match self {
            Self::Local(path) => match tokio::fs::remove_dir_all(path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
            },
            Self::Object(o) => {
                let listed = self.list().await?;
                for item in listed {
                    let key = o.join(&item.relative);
                    match o.store.delete(&key.path).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => bail!("removing {}: {}", key.url, describe(&e)),
                    }
                }
                Ok(())
            }
        }
    }
}

/// Creates the parent folder of `path` and returns the hidden temporary name it is
/// written under before the rename.
async fn prepare_local(path: &Path) -> Result<PathBuf> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(hidden_tmp(path))
}

fn hidden_tmp(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn list_local(root: &Path) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    if root.is_file() {
        let size = root
            .metadata()
            .with_context(|| format!("reading {}", root.display()))?
            .len();
        out.push(Listed {
            relative: String::new(),
            size,
        });
        return Ok(out);
    }
    if !root.exists() {
        return Ok(out);
    }
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let relative = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = entry
                .metadata()
                .with_context(|| format!("reading {}", entry.path().display()))?;
            if meta.is_dir() {
                stack.push((entry.path(), relative));
            } else {
                out.push(Listed {
                    relative,
                    size: meta.len(),
                });
            }
        }
    }
    Ok(out)
}

/// `BASE_S3_PATH` when it is not set: results and models under the working directory.
pub const DEFAULT_BASE_S3_PATH: &str = "./huntsman-store";

/// The store root for this process: `BASE_S3_PATH` when set and not blank, else
/// [`DEFAULT_BASE_S3_PATH`].
pub fn store_root_from_env() -> String {
    std::env::var("BASE_S3_PATH")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_S3_PATH.to_string())
}

/// A fresh local temporary file path (not created).
pub fn local_temp(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "huntsman-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_put_get_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::parse(dir.path().to_str().unwrap()).unwrap();
        root.join("a/b/x.bin").put(b"xyz".to_vec()).await.unwrap();
        root.join("a/y.bin").put(b"12".to_vec()).await.unwrap();
        assert_eq!(root.join("a/b/x.bin").get().await.unwrap(), b"xyz");
        let listed = root.join("a").list().await.unwrap();
        assert_eq!(
            listed,
            vec![
                Listed {
                    relative: "b/x.bin".into(),
                    size: 3
                },
                Listed {
                    relative: "y.bin".into(),
                    size: 2
                }
            ]
        );
        assert!(root.join("a/y.bin").exists().await.unwrap());
        root.join("a").remove_all().await.unwrap();
        assert!(root.join("a").list().await.unwrap().is_empty());
        assert!(!root.join("a/y.bin").exists().await.unwrap());
    }

    #[test]
    fn other_schemes_are_refused_by_name() {
        let err = Location::parse("gs://bucket/x").unwrap_err().to_string();
        assert!(err.contains("gs://"), "{err}");
        assert!(matches!(
            Location::parse("file:///tmp/x").unwrap(),
            Location::Local(p) if p == Path::new("/tmp/x")
        ));
    }
}
