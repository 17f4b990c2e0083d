//! The model argument of scoring functions, resolved once per batch.
//!
//! A scoring function (`kmeans_distance(vec, model)`, `iforest_score(vec, model)`, …)
//! receives its model as bytes (a literal, or a column holding the output of a `*_fit`
//! aggregate joined onto the rows) or as a model URI (a local path, a `file://` URL, or an
//! `s3://`/`s3a://` URL resolved with the executor's own S3 settings) inside the session's
//! model roots (`huntsman.model_roots`, see [`crate::model_roots`]).
//! Decoding a model can cost far more than scoring a batch, so each process keeps a small
//! cache keyed by the model's checksum and length (read from its 12-byte header, see
//! [`crate::model_io`]): identical models are decoded once per process, however many rows
//! and batches carry them.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, new_null_array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use huntsman_proto::{ModelEnvelope, ModelKind};

use crate::error::{exec_error, plan_error};
use crate::model_io::{decode, model_key};
use crate::model_roots::{Checked, MAX_MODEL_BYTES, ModelRoots, read_local};

/// Decoded models of one kind, shared by every batch a process scores. Its size is the
/// session setting `huntsman.model_cache_entries`, read at every lookup.
#[derive(Debug)]
pub struct ModelCache<M> {
    entries: Mutex<Vec<CacheEntry<M>>>,
}

/// A decoded model and its identity (checksum, length).
type CacheEntry<M> = ((u64, usize), Arc<M>);

impl<M> Default for ModelCache<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> ModelCache<M> {
    /// An empty cache.
    pub const fn new() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The decoded model for `bytes`, decoding it with `build` on a miss.
    ///
    /// # Errors
    /// The bytes are not a model of `kind`, or `build` fails; the message starts with
    /// `function`.
    pub fn get_or_decode<E: std::fmt::Display>(
        &self,
        capacity: usize,
        function: &str,
        bytes: &[u8],
        kind: ModelKind,
        supported_version: u32,
        build: impl Fn(&ModelEnvelope) -> std::result::Result<M, E>,
    ) -> Result<Arc<M>> {
        let key = model_key(bytes).map_err(|e| exec_error(function, e))?;
        if let Some(hit) = self.lookup(key) {
            return Ok(hit);
        }
        let envelope = decode(bytes, kind, supported_version)
            .map_err(|e| exec_error(function, e))?;
        let model = Arc::new(build(&envelope).map_err(|e| exec_error(function, e))?);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        while entries.len() >= capacity.max(1) {
            entries.remove(0);
        }
        entries.push((key, model.clone()));
        Ok(model)
    }

    fn lookup(&self, key: (u64, usize)) -> Option<Arc<M>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, m)| m.clone())
    }
}

/// The models for the rows of one batch.
#[derive(Debug)]
pub enum BatchModels<M> {
    /// One model (or none, for a null model) for every row.
    Single(Option<Arc<M>>),
    /// A model per row, when the rows carry different models.
    PerRow(Vec<Option<Arc<M>>>),
}

/// Reads a model named by a URI: a local path, a `file://` URL, or an `s3://`/`s3a://`
/// URL, inside the session's model roots (see [`crate::model_roots`]: the URI is checked,
/// and a file's type and size are read before its bytes). The bytes of the last
/// [`URI_MODEL_CACHE`] URIs are kept, so a model is read once per process, not once per
/// batch. A local file is re-read when its length or modification time changes (one
/// check and `stat` per batch); an object is fetched once, since Huntsman writes every
/// run's models under a new run id and never rewrites one.
fn read_model_uri(function: &str, uri: &str, roots: &ModelRoots) -> Result<Arc<Vec<u8>>> {
    static READ: Mutex<Vec<UriEntry>> = Mutex::new(Vec::new());
    let failed = |e: String| exec_error(function, e);
    let checked = roots.check(uri).map_err(failed)?;
    let stamp = match &checked {
        Checked::Object(_) => None,
        Checked::Local(path, len) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| failed(format!("model '{uri}': {e}")))?;
            Some((*len, meta.modified().ok()))
        }
    };
    let cached = {
        let read = READ.lock().unwrap_or_else(|p| p.into_inner());
        read.iter()
            .find(|(u, s, _)| u == uri && *s == stamp)
            .map(|(_, _, b)| b.clone())
    };
    if let Some(bytes) = cached {
        return Ok(bytes);
    }
    let bytes = Arc::new(match &checked {
        Checked::Object(url) => crate::objstore::read_blocking(url, MAX_MODEL_BYTES)
            .map_err(|e| failed(format!("model URI {e}")))?,
        Checked::Local(path, _) => read_local(uri, path).map_err(failed)?,
    });
    let mut read = READ.lock().unwrap_or_else(|p| p.into_inner());
    read.retain(|(u, _, _)| u != uri);
    if read.len() >= URI_MODEL_CACHE {
        read.remove(0);
    }
    read.push((uri.to_string(), stamp, bytes.clone()));
    Ok(bytes)
}

/// A local file's identity for the URI cache: length and modification time.
type FileStamp = (u64, Option<std::time::SystemTime>);

/// A cached model file: its URI, its stamp (local files only) and its bytes.
type UriEntry = (String, Option<FileStamp>, Arc<Vec<u8>>);

/// How many model URIs a process keeps the bytes of.
pub const URI_MODEL_CACHE: usize = 16;

/// The model-cache size of a session (`huntsman.model_cache_entries`).
pub fn cache_capacity(config: &datafusion::config::ConfigOptions) -> usize {
    config
        .extensions
        .get::<crate::config::HuntsmanConfig>()
        .map_or(crate::config::DEFAULT_MODEL_CACHE_ENTRIES, |c| {
            c.model_cache_entries
        })
}

/// What a scoring function accepts: the model kind and the newest format it reads.
#[derive(Debug, Clone, Copy)]
pub struct ModelFormat {
    /// The kind of model the function scores with.
    pub kind: ModelKind,
    /// The newest payload format version this build reads.
    pub supported_version: u32,
}

/// Resolves the model argument of a scoring function for a batch of `rows` rows.
///
/// # Errors
/// A model that does not decode, a URI that cannot be read, or a model argument that is
/// neither Binary nor Utf8.
pub fn resolve_models<M, E: std::fmt::Display>(
    function: &str,
    arg: &ColumnarValue,
    rows: usize,
    cache: &ModelCache<M>,
    config: &datafusion::config::ConfigOptions,
    format: ModelFormat,
    build: impl Fn(&ModelEnvelope) -> std::result::Result<M, E>,
) -> Result<BatchModels<M>> {
    let ModelFormat {
        kind,
        supported_version,
    } = format;
    let capacity = cache_capacity(config);
    let roots = ModelRoots::from_config(config);
    let one = |bytes: &[u8]| {
        cache.get_or_decode(capacity, function, bytes, kind, supported_version, &build)
    };
    let from_uri = |uri: &str| {
        let bytes = read_model_uri(function, uri, &roots)?;
        // A file that is not a model of this kind: name it.
        one(&bytes).map_err(|e| match e {
            DataFusionError::Execution(m) => {
                DataFusionError::Execution(format!("{m}: '{uri}'"))
            }
            other => other,
        })
    };
    match arg {
        ColumnarValue::Scalar(s) => Ok(BatchModels::Single(match s {
            ScalarValue::Binary(v)
            | ScalarValue::LargeBinary(v)
            | ScalarValue::BinaryView(v) => v.as_deref().map(one).transpose()?,
            ScalarValue::Utf8(v)
            | ScalarValue::LargeUtf8(v)
            | ScalarValue::Utf8View(v) => v.as_deref().map(from_uri).transpose()?,
            ScalarValue::Null => None,
            other => {
                return Err(exec_error(
                    function,
                    format!(
                        "model must be Binary or a Utf8 URI, got {}",
                        other.data_type()
                    ),
                ));
            }
        })),
        ColumnarValue::Array(array) => {
            resolve_array(function, array, rows, &one, &from_uri)
        }
    }
}

fn resolve_array<M>(
    function: &str,
    array: &ArrayRef,
    rows: usize,
    one: &dyn Fn(&[u8]) -> Result<Arc<M>>,
    from_uri: &dyn Fn(&str) -> Result<Arc<M>>,
) -> Result<BatchModels<M>> {
    // Rows usually all carry the same model (a fit joined onto every row); detect that from
    // the 12-byte headers and decode once.
    let values: Vec<Option<&[u8]>> = match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => array.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => array.as_binary_view().iter().collect(),
        DataType::Utf8 => {
            return per_uri(array.as_string::<i32>().iter(), rows, from_uri);
        }
        DataType::LargeUtf8 => {
            return per_uri(array.as_string::<i64>().iter(), rows, from_uri);
        }
        DataType::Utf8View => {
            return per_uri(array.as_string_view().iter(), rows, from_uri);
        }
        other => {
            return Err(exec_error(
                function,
                format!("model must be Binary or a Utf8 URI, got {other}"),
            ));
        }
    };
    let keys: Vec<Option<(u64, usize)>> = values
        .iter()
        .map(|v| {
            v.map(|b| model_key(b).map_err(|e| exec_error(function, e)))
                .transpose()
        })
        .collect::<Result<_>>()?;
    let first = keys.iter().flatten().next().copied();
    let uniform = keys.iter().all(|k| k.is_none() || *k == first);
    if uniform && array.null_count() == 0 {
        let model = values.iter().flatten().next().map(|b| one(b)).transpose()?;
        return Ok(BatchModels::Single(model));
    }
    let mut out = Vec::with_capacity(rows);
    let mut last: Option<((u64, usize), Arc<M>)> = None;
    for (value, key) in values.iter().zip(&keys) {
        out.push(match (value, key) {
            (Some(bytes), Some(key)) => match &last {
                Some((k, m)) if k == key => Some(m.clone()),
                _ => {
                    let m = one(bytes)?;
                    last = Some((*key, m.clone()));
                    Some(m)
                }
            },
            _ => None,
        });
    }
    Ok(BatchModels::PerRow(out))
}

fn per_uri<'a, M>(
    values: impl Iterator<Item = Option<&'a str>>,
    rows: usize,
    from_uri: &dyn Fn(&str) -> Result<Arc<M>>,
) -> Result<BatchModels<M>> {
    let mut out = Vec::with_capacity(rows);
    let mut last: Option<(&str, Arc<M>)> = None;
    for v in values {
        out.push(match v {
            None => None,
            Some(uri) => match &last {
                Some((u, m)) if *u == uri => Some(m.clone()),
                _ => {
                    let m = from_uri(uri)?;
                    last = Some((uri, m.clone()));
                    Some(m)
                }
            },
        });
    }
    let first = out.first().cloned().flatten();
    if out.iter().all(|m| match (m, &first) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }) {
        return Ok(BatchModels::Single(first));
    }
    Ok(BatchModels::PerRow(out))
}

/// Checks that `t` is a list of Float64 (the feature-vector type every model takes).
pub fn check_vector_type(function: &str, t: &DataType) -> Result<()> {
    let inner = match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type()
        }
        DataType::Null => return Ok(()),
        other => {
            return Err(plan_error(
                function,
                format!("features must be a list of Float64, got {other}"),
            ));
        }
    };
    if inner != &DataType::Float64 {
        return Err(plan_error(
            function,
            format!("features must be a list of Float64, got a list of {inner}"),
        ));
    }
    Ok(())
}

/// Checks that `t` can carry a model: Binary bytes or a Utf8 URI.
pub fn check_model_type(function: &str, t: &DataType) -> Result<()> {
    match t {
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Null => Ok(()),
        other => Err(plan_error(
            function,
            format!(
                "model must be Binary (from a *_fit function) or a Utf8 URI, got {other}"
            ),
        )),
    }
}

/// Checks that `t` is an integer type (for literal parameters).
pub fn check_integer(function: &str, name: &str, t: &DataType) -> Result<()> {
    if t.is_integer() || t == &DataType::Null {
        Ok(())
    } else {
        Err(plan_error(
            function,
            format!("{name} must be an integer, got {t}"),
        ))
    }
}

/// Scores a batch of feature vectors with the models [`resolve_models`] found: one call of
/// `score` for the whole batch when every row shares a model, one per row otherwise.
///
/// # Errors
/// Whatever `score` returns.
pub fn score_with_models<M>(
    features: &ArrayRef,
    models: BatchModels<M>,
    out_type: &DataType,
    score: impl Fn(&M, &ArrayRef) -> Result<ArrayRef>,
) -> Result<ArrayRef> {
    let rows = features.len();
    match models {
        BatchModels::Single(None) => Ok(new_null_array(out_type, rows)),
        BatchModels::Single(Some(m)) => score(&m, features),
        BatchModels::PerRow(models) => {
            let mut pieces = Vec::with_capacity(rows);
            for (i, m) in models.iter().enumerate() {
                let row = features.slice(i, 1);
                pieces.push(match m {
                    Some(m) => score(m, &row)?,
                    None => new_null_array(out_type, 1),
                });
            }
            let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
            Ok(datafusion::arrow::compute::concat(&refs)?)
        }
    }
}
