//! Ingest of Windows event logs into the Parquet lake: `huntsman ingest files`.
//!
//! Real logs come in several shapes: winlogbeat 7/8 and 6 JSON, nxlog-style flat JSON, and
//! EVTX files straight from a host. The hunts read one flattened winlogbeat layout (see
//! [`huntsman_core::schema`]), so this crate maps each shape onto it and writes zstd
//! Parquet under `<out>/events/day=YYYY-MM-DD/`, the same lake `huntsman lab generate`
//! writes. It streams: memory is bounded by the batch size, not the input size. It does
//! not own the schema (`huntsman-core` does, for the lab, ingest and the hunts alike).
//! [`opensearch`] pulls from OpenSearch into the same lake, incrementally, with a
//! checkpoint kept in the lake.
//!
//! Every record read is either ingested or rejected with its file, line and reason; a
//! file that cannot be read to its end is reported and the run goes on. See
//! `docs/ingest.md` for the field mapping, the time precedence and the file layout.
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use huntsman_ingest::{IngestOptions, ingest_paths};
//! let report = ingest_paths(
//!     &[PathBuf::from("logs/sysmon.json.gz")],
//!     Path::new("data"),
//!     &IngestOptions::default(),
//! )?;
//! print!("{report}");
//! assert!(!report.has_errors());
//! # Ok::<(), huntsman_ingest::IngestError>(())
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod cli;
mod fields;
mod input;
mod layout;
pub mod opensearch;
mod parse;
mod paths;
mod record;
mod report;
mod sink;
mod time;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use cli::{IngestFilesArgs, run_files};
pub use input::MAX_LINE_BYTES;
pub use paths::INPUT_EXTENSIONS;
pub use record::Layout;
pub use report::{
    FileReport, IngestReport, Location, MAX_EXAMPLES_PER_FILE, Reject, RejectKind,
    Rejection,
};
pub use sink::MAX_OPEN_PARTS;

use paths::{Expanded, expand};
use record::FieldIndex;
use sink::LakeWriter;

/// Reads the bytes of one input file held in memory (EVTX, gzip, JSON lines or a JSON
/// array) as `ingest files` reads a file, discarding the rows. The fuzz targets' entry.
///
/// # Errors
/// None in practice: the rows go nowhere, so nothing can fail to be written.
#[doc(hidden)]
pub fn read_file_bytes(data: &[u8]) -> Result<FileReport, IngestError> {
    struct Discard;
    impl input::RowSink for Discard {
        fn push(
            &mut self,
            _: &record::Row<'_>,
            _: &FieldIndex,
        ) -> Result<(), IngestError> {
            Ok(())
        }
    }
    input::read_bytes(data, &mut Discard, FieldIndex::get())
}

/// Reads one JSON text as a record of any layout and maps it to a row; whether it became
/// one. The fuzz targets' entry.
#[doc(hidden)]
pub fn map_record(text: &[u8]) -> bool {
    let idx = FieldIndex::get();
    match parse::parse_record(text, idx) {
        Ok(parse::Parsed::Object(draft)) => record::into_row(*draft, idx).is_ok(),
        _ => false,
    }
}

/// Default rows per batch and per Parquet row group.
pub const DEFAULT_BATCH_SIZE: usize = 64 * 1024;

/// Options of an ingest run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestOptions {
    /// Rows gathered before they are written, and the largest Parquet row group (default
    /// [`DEFAULT_BATCH_SIZE`]). Memory grows with it: about two batches of rows.
    pub batch_size: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl IngestOptions {
    /// Sets the batch size.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows;
        self
    }
}

/// Errors that stop an ingest run. Problems with individual input files do not: they are
/// in the [`IngestReport`].
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The batch size is zero.
    #[error("batch size must be at least 1 (got {0})")]
    BatchSize(usize),
    /// No input was given.
    #[error("no input files given")]
    NoInputs,
    /// The lake schema is not what ingest writes.
    #[error("lake schema: {0}")]
    Schema(String),
    /// A lake file or folder could not be created, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
}

/// Ingests files, folders (the input files under them) and glob patterns into the lake at
/// `out` (events go under `out/events/`), as one run: every part file it writes is named
/// with the run id, and appears only when the run completes.
///
/// # Errors
/// When the options are invalid or the lake cannot be written; then no part file of this
/// run is left. Unreadable or malformed inputs are not errors here: see
/// [`IngestReport::has_errors`].
pub fn ingest_paths(
    paths: &[PathBuf],
    out: &Path,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    if opts.batch_size == 0 {
        return Err(IngestError::BatchSize(0));
    }
    if paths.is_empty() {
        return Err(IngestError::NoInputs);
    }
    let start = Instant::now();
    let run_id = new_run_id();
    let idx = FieldIndex::get();
    let mut lake = LakeWriter::new(out, &run_id, opts.batch_size)?;
    let mut files = Vec::new();
    for input in paths {
        match expand(input) {
            Expanded::Nothing(why) => {
                let mut report = FileReport::new(input.clone());
                report.error = Some(why);
                files.push(report);
            }
            Expanded::Files(found) => {
                for path in found {
                    tracing::info!("ingesting {}", path.display());
                    files.push(input::ingest_file(&path, &mut lake, idx)?);
                }
            }
        }
    }
    let parts = lake.commit()?;
    Ok(IngestReport {
        run_id,
        out: out.to_path_buf(),
        files,
        parts,
        elapsed: start.elapsed(),
    })
}

pub(crate) use huntsman_core::manifest::new_run_id;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_differ_and_sort_by_time() {
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), "20240102T030405Z-1a2b3c4d".len());
        assert!(a.as_bytes()[8] == b'T' && a.as_bytes()[15] == b'Z', "{a}");
    }

    #[test]
    fn zero_batch_size_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = ingest_paths(
            &[dir.path().join("x.json")],
            dir.path(),
            &IngestOptions::default().batch_size(0),
        )
        .expect_err("refused");
        assert_eq!(err.to_string(), "batch size must be at least 1 (got 0)");
    }
}
