//! Where scoring functions may read a model named by URI from.
//!
//! A model URI is SQL text, so without a bound any query could make an executor read any
//! file it can open (`/etc/passwd`) or one that never ends (`/dev/zero`). A URI is
//! accepted only inside the session's model roots (`huntsman.model_roots`, a
//! comma-separated list of local folders and `s3://` prefixes that the client fills with
//! its store, `BASE_S3_PATH`, the models folder a run reuses and any `--model-root`), and
//! only when it names a regular file or object of at most [`MAX_MODEL_BYTES`].
//!
//! Checks, in order: the scheme (local path, `file://`, `s3://`, `s3a://`); no `.` or `..`
//! component; the path as written inside a root; for local files, the path with symbolic
//! links resolved inside a root; a regular file; the size. The size and the type are read
//! before any byte of the file.

use std::path::{Component, Path, PathBuf};

use datafusion::config::ConfigOptions;

use crate::config::HuntsmanConfig;

/// The largest model file or object a scoring function reads (2 GiB).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

/// The session's model roots, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelRoots {
    roots: Vec<Root>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    /// A local folder: absolute as written, and with links resolved when it exists.
    Local {
        absolute: PathBuf,
        canonical: Option<PathBuf>,
    },
    /// An object-store prefix, `s3://bucket/prefix/` (`s3a://` written as `s3://`),
    /// ending with `/`.
    Object(String),
}

/// A model URI that passed the root check: where to read it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// A regular local file (links resolved) and its length.
    Local(PathBuf, u64),
    /// An object URL inside a root; its size is checked when it is read.
    Object(String),
}

impl ModelRoots {
    /// Parses a comma-separated list of local folders and `s3://`/`s3a://` prefixes;
    /// empty entries are ignored.
    pub fn parse(list: &str) -> Self {
        let roots = list
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .filter_map(|r| {
                if crate::objstore::is_object_url(r) {
                    let mut url = object_url(r);
                    if !url.ends_with('/') {
                        url.push('/');
                    }
                    Some(Root::Object(url))
                } else {
                    let path = r.strip_prefix("file://").unwrap_or(r);
                    let absolute = std::path::absolute(path).ok()?;
                    let canonical = std::fs::canonicalize(&absolute).ok();
                    Some(Root::Local {
                        absolute,
                        canonical,
                    })
                }
            })
            .collect();
        Self { roots }
    }

    /// The roots of a session (`huntsman.model_roots`); none when the setting is absent.
    pub fn from_config(config: &ConfigOptions) -> Self {
        config
            .extensions
            .get::<HuntsmanConfig>()
            .map_or_else(Self::default, |c| Self::parse(&c.model_roots))
    }

    /// The roots as an error message lists them.
    pub fn describe(&self) -> String {
        if self.roots.is_empty() {
            return "none configured: set huntsman.model_roots or the client's \
                    BASE_S3_PATH / --model-root"
                .to_string();
        }
        self.roots
            .iter()
            .map(|r| match r {
                Root::Local { absolute, .. } => absolute.display().to_string(),
                Root::Object(url) => url.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks a model URI against the roots and, for a local file, its type and size.
    ///
    /// # Errors
    /// A one-line message naming the URI: an unsupported scheme, a `.`/`..` component, a
    /// location outside the roots, a missing file, something other than a regular file,
    /// or a file larger than [`MAX_MODEL_BYTES`].
    pub fn check(&self, uri: &str) -> Result<Checked, String> {
        let outside = || {
            format!(
                "model '{uri}' is outside the model roots ({})",
                self.describe()
            )
        };
        if crate::objstore::is_object_url(uri) {
            let url = object_url(uri);
            let key = url.splitn(4, '/').nth(3).unwrap_or_default();
            if key.split('/').any(is_dot_segment) {
                return Err(format!(
                    "model '{uri}' has a '.' or '..' component (not allowed)"
                ));
            }
            let inside = self
                .roots
                .iter()
                .any(|r| matches!(r, Root::Object(prefix) if url.starts_with(prefix)));
            return if inside {
                Ok(Checked::Object(uri.to_string()))
            } else {
                Err(outside())
            };
        }
        if uri.contains("://") && !uri.starts_with("file://") {
            return Err(format!(
                "model '{uri}': only local paths, file://, s3:// and s3a:// URLs are \
                 supported"
            ));
        }
        let path = Path::new(uri.strip_prefix("file://").unwrap_or(uri));
        if path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
            || uri.split('/').any(|s| s == ".")
        {
            return Err(format!(
                "model '{uri}' has a '.' or '..' component (not allowed)"
            ));
        }
        let absolute =
            std::path::absolute(path).map_err(|e| format!("model '{uri}': {e}"))?;
        let written_inside = self.roots.iter().any(|r| match r {
            Root::Local {
                absolute: a,
                canonical: c,
            } => {
                absolute.starts_with(a)
                    || c.as_ref().is_some_and(|c| absolute.starts_with(c))
            }
            Root::Object(_) => false,
        });
        if !written_inside {
            return Err(outside());
        }
        // Links inside a root may point anywhere: the resolved path must be inside too.
        let canonical = std::fs::canonicalize(&absolute)
            .map_err(|e| format!("model '{uri}': {e}"))?;
        let resolved_inside = self.roots.iter().any(|r| match r {
            Root::Local {
                absolute: a,
                canonical: c,
            } => canonical.starts_with(c.as_ref().unwrap_or(a)),
            Root::Object(_) => false,
        });
        if !resolved_inside {
            return Err(format!(
                "model '{uri}' resolves to {} outside the model roots ({})",
                canonical.display(),
                self.describe()
            ));
        }
        let meta =
            std::fs::metadata(&canonical).map_err(|e| format!("model '{uri}': {e}"))?;
        let len = check_file(uri, &meta)?;
        Ok(Checked::Local(canonical, len))
    }
}

/// Checks that `meta` describes a regular file of at most [`MAX_MODEL_BYTES`]; returns
/// its length.
///
/// # Errors
/// A one-line message naming the URI.
pub fn check_file(uri: &str, meta: &std::fs::Metadata) -> Result<u64, String> {
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err(format!("model '{uri}' is {kind}"));
    }
    check_size(uri, meta.len())?;
    Ok(meta.len())
}

/// Checks a model's size against [`MAX_MODEL_BYTES`].
///
/// # Errors
/// A one-line message naming the URI and both sizes.
pub fn check_size(uri: &str, len: u64) -> Result<(), String> {
    if len > MAX_MODEL_BYTES {
        return Err(format!(
            "model '{uri}' is {len} bytes, more than the {MAX_MODEL_BYTES}-byte limit \
             on models"
        ));
    }
    Ok(())
}

/// Reads a checked local model: opens it, checks the open file's type and size again (it
/// may have been replaced since the check), and reads at most [`MAX_MODEL_BYTES`].
///
/// # Errors
/// A one-line message naming the URI.
pub fn read_local(uri: &str, path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("model '{uri}': {e}"))?;
    let meta = file.metadata().map_err(|e| format!("model '{uri}': {e}"))?;
    let len = check_file(uri, &meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("model '{uri}': {e}"))?;
    check_size(uri, bytes.len() as u64)?;
    Ok(bytes)
}

/// `s3a://` written as `s3://`, so roots and URIs compare alike.
fn object_url(url: &str) -> String {
    match url.strip_prefix("s3a://") {
        Some(rest) => format!("s3://{rest}"),
        None => url.to_string(),
    }
}

/// `.` or `..`, also percent-encoded.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("huntsman-roots-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn files_inside_a_root_pass_with_their_length() {
        let dir = temp("inside");
        std::fs::create_dir_all(dir.join("models/k")).expect("dir");
        let model = dir.join("models/k/m.hntm");
        std::fs::write(&model, b"HNTM1234").expect("write");
        let roots = ModelRoots::parse(&format!("s3://lake/x, {}", dir.display()));
        let uri = model.display().to_string();
        let canonical = std::fs::canonicalize(&model).expect("canonical");
        assert_eq!(roots.check(&uri), Ok(Checked::Local(canonical.clone(), 8)));
        assert_eq!(
            roots.check(&format!("file://{uri}")),
            Ok(Checked::Local(canonical, 8))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn paths_outside_the_roots_are_refused_naming_the_uri() {
        let dir = temp("outside");
        let roots = ModelRoots::parse(&dir.display().to_string());
        for uri in ["/etc/passwd", "file:///etc/passwd", "/dev/zero"] {
            let err = roots.check(uri).expect_err(uri);
            assert_eq!(
                err,
                format!(
                    "model '{uri}' is outside the model roots ({})",
                    dir.display()
                )
            );
        }
        // No roots at all: everything is refused, and the message says how to set them.
        let err = ModelRoots::default()
            .check("/etc/passwd")
            .expect_err("refused");
        assert!(err.contains("none configured"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dot_dot_components_are_refused_even_when_they_stay_inside() {
        let dir = temp("dotdot");
        std::fs::create_dir_all(dir.join("a")).expect("dir");
        std::fs::write(dir.join("m.hntm"), b"x").expect("write");
        let roots = ModelRoots::parse(&format!("{},s3://lake/runs", dir.display()));
        for uri in [
            format!("{}/a/../m.hntm", dir.display()),
            format!("{}/a/../../../etc/passwd", dir.display()),
            format!("{}/./m.hntm", dir.display()),
            "s3://lake/runs/../secrets/key".to_string(),
            "s3a://lake/runs/%2E%2e/secrets/key".to_string(),
        ] {
            let err = roots.check(&uri).expect_err(&uri);
            assert!(err.contains(&uri) && err.contains("'..'"), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn links_that_leave_the_root_are_refused() {
        let dir = temp("link");
        let link = dir.join("passwd.hntm");
        std::os::unix::fs::symlink("/etc/passwd", &link).expect("symlink");
        let roots = ModelRoots::parse(&dir.display().to_string());
        let uri = link.display().to_string();
        let err = roots.check(&uri).expect_err("refused");
        assert!(
            err.starts_with(&format!("model '{uri}' resolves to /etc/passwd outside")),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn directories_devices_and_fifos_are_refused_before_reading() {
        let dir = temp("kinds");
        std::fs::create_dir_all(dir.join("folder")).expect("dir");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).expect("symlink");
        // The device itself, under a root that contains it.
        let dev = ModelRoots::parse("/dev");
        let err = dev.check("/dev/zero").expect_err("device");
        assert_eq!(
            err,
            "model '/dev/zero' is not a regular file (a device, FIFO or socket)"
        );
        let roots = ModelRoots::parse(&dir.display().to_string());
        let uri = dir.join("folder").display().to_string();
        assert_eq!(
            roots.check(&uri).expect_err("directory"),
            format!("model '{uri}' is a directory")
        );
        // A FIFO is refused without opening it (opening would block for a writer).
        let uri = fifo.display().to_string();
        assert!(
            roots
                .check(&uri)
                .expect_err("fifo")
                .contains("not a regular file")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sizes_beyond_the_bound_are_refused() {
        assert!(check_size("m", MAX_MODEL_BYTES).is_ok());
        let err = check_size("s3://lake/m", MAX_MODEL_BYTES + 1).expect_err("too big");
        assert!(
            err.starts_with("model 's3://lake/m' is 2147483649 bytes, more than"),
            "{err}"
        );
        // A sparse file of more than the bound: refused from its metadata, unread.
        let dir = temp("big");
        let big = dir.join("big.hntm");
        let f = std::fs::File::create(&big).expect("create");
        f.set_len(MAX_MODEL_BYTES + 1).expect("sparse length");
        let roots = ModelRoots::parse(&dir.display().to_string());
        let err = roots
            .check(&big.display().to_string())
            .expect_err("too big");
        assert!(err.contains("more than the 2147483648-byte limit"), "{err}");
        let err = read_local("big", &big).expect_err("too big");
        assert!(err.contains("more than"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn object_urls_must_share_a_root_prefix() {
        let roots = ModelRoots::parse("s3a://lake/runs");
        assert_eq!(
            roots.check("s3://lake/runs/models/k/m.hntm"),
            Ok(Checked::Object(
                "s3://lake/runs/models/k/m.hntm".to_string()
            ))
        );
        assert!(roots.check("s3a://lake/runs/m.hntm").is_ok());
        // A sibling prefix that merely starts with the same letters is outside.
        for uri in ["s3://lake/runs-other/m.hntm", "s3://other/runs/m.hntm"] {
            let err = roots.check(uri).expect_err(uri);
            assert_eq!(
                err,
                format!("model '{uri}' is outside the model roots (s3://lake/runs/)")
            );
        }
        let err = roots.check("http://x/m").expect_err("scheme");
        assert!(err.contains("only local paths"), "{err}");
    }
}
