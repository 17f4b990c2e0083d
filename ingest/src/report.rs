//! What an ingest run did: events per channel and event id, rejected records with their
//! file and line, and files that failed.
//!
//! Nothing is dropped silently: every line or record that was read is either counted as an
//! event or counted as rejected with a reason, and every file that could not be read to its
//! end says why. The report keeps the first few rejections of each file verbatim and counts
//! the rest by reason, so that a file of garbage does not fill memory.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::layout::Layout;

/// Rejections kept verbatim per file; the rest are only counted.
pub const MAX_EXAMPLES_PER_FILE: usize = 20;

/// Why a record was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    /// The line is not valid JSON (or not UTF-8).
    NotJson,
    /// Valid JSON, but not an object.
    NotObject,
    /// A line longer than the limit.
    TooLong,
    /// An object in none of the known layouts.
    UnknownLayout,
    /// No event id.
    MissingEventId,
    /// An event id that is not an integer in range.
    BadEventId,
    /// No channel.
    MissingChannel,
    /// None of the time fields.
    MissingTimestamp,
    /// A time field that does not parse.
    BadTimestamp,
    /// An EVTX record (or chunk) the parser could not read.
    BadEvtxRecord,
    /// An OpenSearch hit without `_source` (disabled in the index mapping).
    MissingSource,
}

impl RejectKind {
    /// Short name of the reason.
    pub fn name(self) -> &'static str {
        match self {
            RejectKind::NotJson => "not JSON",
            RejectKind::NotObject => "not a JSON object",
            RejectKind::TooLong => "line too long",
            RejectKind::UnknownLayout => "unknown layout",
            RejectKind::MissingEventId => "missing event id",
            RejectKind::BadEventId => "bad event id",
            RejectKind::MissingChannel => "missing channel",
            RejectKind::MissingTimestamp => "missing timestamp",
            RejectKind::BadTimestamp => "bad timestamp",
            RejectKind::BadEvtxRecord => "unreadable EVTX record",
            RejectKind::MissingSource => "no _source",
        }
    }
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why one record was rejected: the reason and a detail naming the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The reason.
    pub kind: RejectKind,
    /// What exactly was wrong, e.g. `@timestamp "yesterday": expected a 4-digit year`.
    pub detail: String,
}

impl Rejection {
    pub(crate) fn new(kind: RejectKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Where in its file (or its OpenSearch index) a record was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a JSON-lines file.
    Line(u64),
    /// 1-based element of a top-level JSON array.
    Element(u64),
    /// 1-based position of a record in an EVTX file, in the order the parser yields them
    /// (the EVTX record id is in the detail when known).
    Record(u64),
    /// An OpenSearch document, by its index and id.
    Document {
        /// The hit's `_index`.
        index: String,
        /// The hit's `_id`.
        id: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Element(n) => write!(f, "element {n}"),
            Location::Record(n) => write!(f, "record {n}"),
            Location::Document { index, id } => write!(f, "document {index}/{id}"),
        }
    }
}

/// One rejected record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// Where it was.
    pub location: Location,
    /// Why it was rejected.
    pub rejection: Rejection,
}

/// What happened to one input file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// The file as given (or as found under a folder or by a pattern).
    pub path: PathBuf,
    /// Events ingested.
    pub events: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejected records by reason.
    pub rejected_by_kind: BTreeMap<RejectKind, u64>,
    /// The first [`MAX_EXAMPLES_PER_FILE`] rejected records.
    pub examples: Vec<Reject>,
    /// Events by layout.
    pub layouts: BTreeMap<Layout, u64>,
    /// Events by (channel, event id).
    pub counts: BTreeMap<(String, i32), u64>,
    /// Why the file could not be read to its end, if it could not (records read before the
    /// error are kept).
    pub error: Option<String>,
}

impl FileReport {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            ..Self::default()
        }
    }

    pub(crate) fn reject(&mut self, location: Location, rejection: Rejection) {
        self.rejected += 1;
        *self.rejected_by_kind.entry(rejection.kind).or_default() += 1;
        if self.examples.len() < MAX_EXAMPLES_PER_FILE {
            self.examples.push(Reject {
                location,
                rejection,
            });
        }
    }

    /// The layout most of the file's events had, if any event was ingested.
    pub fn layout(&self) -> Option<Layout> {
        self.layouts
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(l, _)| *l)
    }

    /// Whether a record was rejected or the file failed.
    pub fn has_errors(&self) -> bool {
        self.rejected > 0 || self.error.is_some()
    }
}

/// Counts per (channel, event id) while a file is read, without allocating per event.
#[derive(Default)]
pub(crate) struct Counter {
    by_channel: HashMap<String, HashMap<i32, u64>>,
}

impl Counter {
    pub(crate) fn add(&mut self, channel: &str, event_id: i32) {
        let ids = match self.by_channel.get_mut(channel) {
            Some(ids) => ids,
            None => self.by_channel.entry(channel.to_owned()).or_default(),
        };
        *ids.entry(event_id).or_default() += 1;
    }

    pub(crate) fn into_counts(self) -> BTreeMap<(String, i32), u64> {
        let mut out = BTreeMap::new();
        for (channel, ids) in self.by_channel {
            for (id, n) in ids {
                out.insert((channel.clone(), id), n);
            }
        }
        out
    }
}

/// The result of an ingest run.
#[derive(Clone, Debug, Default)]
pub struct IngestReport {
    /// This run's id, part of every file name it wrote.
    pub run_id: String,
    /// The lake folder (the parent of `events/`).
    pub out: PathBuf,
    /// One entry per input file, in the order read.
    pub files: Vec<FileReport>,
    /// The Parquet files written, complete and renamed.
    pub parts: Vec<PathBuf>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl IngestReport {
    /// Events ingested, over all files.
    pub fn events(&self) -> u64 {
        self.files.iter().map(|f| f.events).sum()
    }

    /// Records rejected, over all files.
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }

    /// Events per (channel, event id), over all files.
    pub fn counts(&self) -> BTreeMap<(String, i32), u64> {
        let mut out = BTreeMap::new();
        for f in &self.files {
            for (k, n) in &f.counts {
                *out.entry(k.clone()).or_default() += n;
            }
        }
        out
    }

    /// Whether any record was rejected or any file failed: the CLI then exits with 2.
    pub fn has_errors(&self) -> bool {
        self.files.iter().any(FileReport::has_errors)
    }
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let events = self.events();
        writeln!(
            f,
            "ingested {events} events from {} files into {} (run {}, {} part files) in \
             {secs:.2} s ({:.0} events/s)",
            self.files.len(),
            self.out.join("events").display(),
            self.run_id,
            self.parts.len(),
            events as f64 / secs.max(1e-9),
        )?;
        let counts = self.counts();
        if !counts.is_empty() {
            let width = counts
                .keys()
                .map(|(c, _)| c.len())
                .max()
                .unwrap_or(0)
                .max(7);
            writeln!(f, "events by channel and event id:")?;
            writeln!(
                f,
                "  {:<width$}  {:>8}  {:>10}",
                "channel", "event id", "events"
            )?;
            for ((channel, id), n) in &counts {
                writeln!(f, "  {channel:<width$}  {id:>8}  {n:>10}")?;
            }
        }
        let failed = self.files.iter().filter(|f| f.error.is_some()).count();
        writeln!(
            f,
            "rejected: {} records; files with errors: {failed}",
            self.rejected()
        )?;
        for file in &self.files {
            write!(f, "{}: {} events", file.path.display(), file.events)?;
            if let Some(layout) = file.layout() {
                let others = file.layouts.len() - 1;
                if others == 0 {
                    write!(f, " ({layout})")?;
                } else {
                    write!(f, " (mostly {layout}, {others} other layouts)")?;
                }
            }
            if file.rejected > 0 {
                let reasons: Vec<String> = file
                    .rejected_by_kind
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect();
                write!(f, ", {} rejected ({})", file.rejected, reasons.join(", "))?;
            }
            writeln!(f)?;
            for ex in &file.examples {
                writeln!(
                    f,
                    "  {}:{}: {}: {}",
                    file.path.display(),
                    ex.location,
                    ex.rejection.kind,
                    ex.rejection.detail
                )?;
            }
            if file.rejected > file.examples.len() as u64 {
                writeln!(
                    f,
                    "  ... {} more",
                    file.rejected - file.examples.len() as u64
                )?;
            }
            if let Some(err) = &file.error {
                writeln!(f, "  error: {}: {err}", file.path.display())?;
            }
        }
        Ok(())
    }
}
