//! Writes mapped events into the lake: `<out>/events/day=YYYY-MM-DD/part-<run>-<n>.parquet`.
//!
//! Events arrive in input order, which may hop between days. Each day has its own column
//! builders; when the rows buffered over all days reach the batch size, every day's rows go
//! to that day's Parquet writer, and writers holding more than a batch of encoded rows flush
//! a row group. Memory therefore stays bounded by about two batches whatever the input size,
//! and at most [`MAX_OPEN_PARTS`] files are open (the least recently used is finished when
//! another day needs one; a later event of its day starts a new part).
//!
//! Every part is written as `.part-<run>-<n>.parquet.tmp` and renamed only when the whole
//! run commits, so readers (which look for `*.parquet`) never see a half-written file and
//! a run that fails leaves no complete-looking part: [`LakeWriter`]'s `Drop` removes the
//! temporary files of a run that did not commit.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Builder, Int64Builder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use huntsman_core::schema::{
    COLUMNS, EVENT_CODE, EVENT_CREATED, WINLOG_CHANNEL, WINLOG_COMPUTER_NAME,
    WINLOG_EVENT_ID, WINLOG_TASK, WINLOG_USER_NAME, lake_schema,
};

use super::IngestError;
use super::parse::Val;
use super::record::{FieldIndex, Row};
use super::time::{NANOS_PER_DAY, date_string};

/// Most part files open at once.
pub const MAX_OPEN_PARTS: usize = 32;

/// Positions of the header columns in the lake schema.
struct HeaderColumns {
    created: usize,
    code: usize,
    event_id: usize,
    channel: usize,
    computer: usize,
    user: usize,
    task: usize,
}

impl HeaderColumns {
    fn find(schema: &SchemaRef) -> Result<Self, IngestError> {
        let pos = |name: &str| {
            COLUMNS.iter().position(|c| *c == name).ok_or_else(|| {
                IngestError::Schema(format!("the lake schema has no column {name}"))
            })
        };
        let cols = Self {
            created: pos(EVENT_CREATED)?,
            code: pos(EVENT_CODE)?,
            event_id: pos(WINLOG_EVENT_ID)?,
            channel: pos(WINLOG_CHANNEL)?,
            computer: pos(WINLOG_COMPUTER_NAME)?,
            user: pos(WINLOG_USER_NAME)?,
            task: pos(WINLOG_TASK)?,
        };
        for (i, field) in schema.fields().iter().enumerate() {
            let expected = if i == cols.created {
                DataType::Int64
            } else if i == cols.event_id {
                DataType::Int32
            } else {
                DataType::Utf8
            };
            if field.data_type() != &expected || field.name() != COLUMNS[i] {
                return Err(IngestError::Schema(format!(
                    "column {} is {} (ingest writes {expected})",
                    field.name(),
                    field.data_type()
                )));
            }
        }
        Ok(cols)
    }
}

/// One day's rows being gathered.
struct Builders {
    created: Int64Builder,
    event_id: Int32Builder,
    /// One per schema column; the two non-string columns' builders stay empty.
    strings: Vec<StringBuilder>,
    len: usize,
}

impl Builders {
    fn new(n_columns: usize) -> Self {
        Self {
            created: Int64Builder::new(),
            event_id: Int32Builder::new(),
            strings: (0..n_columns).map(|_| StringBuilder::new()).collect(),
            len: 0,
        }
    }

    fn append(&mut self, row: &Row<'_>, cols: &HeaderColumns, idx: &FieldIndex) {
        self.created.append_value(row.created);
        self.event_id.append_value(row.event_id);
        let code = &mut self.strings[cols.code];
        match &row.code {
            Some(v) if !matches!(v, Val::Null) => append_val(code, Some(v)),
            _ => {
                let _ = write!(code, "{}", row.event_id);
                code.append_value("");
            }
        }
        append_text(&mut self.strings[cols.channel], &row.channel);
        append_val(&mut self.strings[cols.computer], row.computer.as_ref());
        append_val(&mut self.strings[cols.user], row.user.as_ref());
        append_val(&mut self.strings[cols.task], row.task.as_ref());
        for &(slot, col) in &idx.data_columns {
            append_val(&mut self.strings[col], row.data.vals[slot].as_ref());
        }
        self.len += 1;
    }

    fn finish(
        &mut self,
        schema: &SchemaRef,
        cols: &HeaderColumns,
    ) -> Result<RecordBatch, IngestError> {
        let arrays: Vec<ArrayRef> = (0..schema.fields().len())
            .map(|i| -> ArrayRef {
                if i == cols.created {
                    Arc::new(self.created.finish())
                } else if i == cols.event_id {
                    Arc::new(self.event_id.finish())
                } else {
                    Arc::new(self.strings[i].finish())
                }
            })
            .collect();
        self.len = 0;
        RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| IngestError::Schema(format!("building a batch: {e}")))
    }
}

/// Appends a value as text: null and empty strings as null, numbers in decimal, booleans
/// (and the strings `True`/`FALSE`...) lower-case, HTML entities decoded.
fn append_val(b: &mut StringBuilder, v: Option<&Val<'_>>) {
    match v {
        None | Some(Val::Null) => b.append_null(),
        Some(Val::Str(s)) => append_text(b, s),
        Some(Val::Int(i)) => {
            let _ = write!(b, "{i}");
            b.append_value("");
        }
        Some(Val::UInt(u)) => {
            let _ = write!(b, "{u}");
            b.append_value("");
        }
        Some(Val::Float(x)) => {
            let _ = write!(b, "{x}");
            b.append_value("");
        }
        Some(Val::Bool(x)) => b.append_value(if *x { "true" } else { "false" }),
    }
}

fn append_text(b: &mut StringBuilder, s: &str) {
    if s.is_empty() {
        b.append_null();
    } else if s.contains('&') {
        unescape_html(b, s);
        b.append_value("");
    } else if s.eq_ignore_ascii_case("true") {
        b.append_value("true");
    } else if s.eq_ignore_ascii_case("false") {
        b.append_value("false");
    } else {
        b.append_value(s);
    }
}

/// Writes `s` with the HTML/XML entities some collectors leave in (`&lt;unknown
/// process&gt;`) decoded: `&lt; &gt; &amp; &quot; &apos;` and numeric `&#NN;`/`&#xHH;`.
/// Anything else that starts with `&` is kept as it is.
pub(crate) fn unescape_html(out: &mut impl std::fmt::Write, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        let _ = out.write_str(&rest[..i]);
        let tail = &rest[i..];
        match entity(tail) {
            Some((ch, len)) => {
                let _ = out.write_char(ch);
                rest = &tail[len..];
            }
            None => {
                let _ = out.write_char('&');
                rest = &tail[1..];
            }
        }
    }
    let _ = out.write_str(rest);
}

/// The character and byte length of the entity `s` starts with.
fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.as_bytes().iter().take(12).position(|&c| c == b';')?;
    let name = &s[1..end];
    let ch = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((ch, end + 1))
}

/// A part file being written.
struct OpenPart {
    tmp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
}

/// One day's buffered rows and its open part, if any.
struct DayPart {
    builders: Builders,
    part: Option<OpenPart>,
    last_used: u64,
}

/// Writes one run's events into the lake, partitioned by day.
pub(crate) struct LakeWriter {
    events_dir: PathBuf,
    run_id: String,
    batch_size: usize,
    schema: SchemaRef,
    cols: HeaderColumns,
    props: WriterProperties,
    days: HashMap<i64, DayPart>,
    /// Rows in builders, over all days.
    buffered: usize,
    tick: u64,
    next_part: u64,
    /// Finished parts waiting for the commit: (temporary, final) paths.
    finished: Vec<(PathBuf, PathBuf)>,
    committed: bool,
}

impl LakeWriter {
    /// A writer for one run into `<out>/events/`.
    ///
    /// # Errors
    /// When the lake schema is not what ingest writes.
    pub(crate) fn new(
        out: &Path,
        run_id: &str,
        batch_size: usize,
    ) -> Result<Self, IngestError> {
        let schema = lake_schema();
        let cols = HeaderColumns::find(&schema)?;
        // Level 1 is in zstd's valid range; the fallback is never taken.
        let zstd = ZstdLevel::try_new(1).unwrap_or_default();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(zstd))
            .set_max_row_group_row_count(Some(batch_size))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .build();
        Ok(Self {
            events_dir: out.join("events"),
            run_id: run_id.to_owned(),
            batch_size,
            schema,
            cols,
            props,
            days: HashMap::new(),
            buffered: 0,
            tick: 0,
            next_part: 0,
            finished: Vec::new(),
            committed: false,
        })
    }

    /// Adds one event.
    ///
    /// # Errors
    /// When a part file cannot be created or written.
    pub(crate) fn push(
        &mut self,
        row: &Row<'_>,
        idx: &FieldIndex,
    ) -> Result<(), IngestError> {
        let day = row.created.div_euclid(NANOS_PER_DAY);
        self.tick += 1;
        let n_columns = self.schema.fields().len();
        let entry = self.days.entry(day).or_insert_with(|| DayPart {
            builders: Builders::new(n_columns),
            part: None,
            last_used: 0,
        });
        entry.last_used = self.tick;
        entry.builders.append(row, &self.cols, idx);
        self.buffered += 1;
        if self.buffered >= self.batch_size {
            self.flush_builders()?;
        }
        Ok(())
    }

    /// Hands every day's buffered rows to its part file.
    fn flush_builders(&mut self) -> Result<(), IngestError> {
        let mut pending: Vec<i64> = self
            .days
            .iter()
            .filter(|(_, d)| d.builders.len > 0)
            .map(|(k, _)| *k)
            .collect();
        pending.sort_unstable();
        for day in pending {
            if self.days.get(&day).is_some_and(|d| d.part.is_none()) {
                self.make_room(day)?;
                let part = self.open_part(day)?;
                if let Some(d) = self.days.get_mut(&day) {
                    d.part = Some(part);
                }
            }
            let Some(d) = self.days.get_mut(&day) else {
                continue;
            };
            let batch = d.builders.finish(&self.schema, &self.cols)?;
            if let Some(part) = d.part.as_mut() {
                part.writer
                    .write(&batch)
                    .map_err(|source| IngestError::Parquet {
                        path: part.tmp.clone(),
                        source,
                    })?;
            }
        }
        self.buffered = 0;
        // Bound the encoded rows held in open row groups to about one batch.
        loop {
            let open = self.days.values_mut().filter_map(|d| d.part.as_mut());
            let (total, largest) =
                open.fold((0, None::<&mut OpenPart>), |(t, big), p| {
                    let rows = p.writer.in_progress_rows();
                    let bigger = match big {
                        Some(b) if b.writer.in_progress_rows() >= rows => Some(b),
                        _ => Some(p),
                    };
                    (t + rows, bigger)
                });
            match largest {
                Some(p) if total > self.batch_size => {
                    p.writer.flush().map_err(|source| IngestError::Parquet {
                        path: p.tmp.clone(),
                        source,
                    })?
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Finishes the least recently used part when [`MAX_OPEN_PARTS`] are open.
    fn make_room(&mut self, keep: i64) -> Result<(), IngestError> {
        let open = self.days.values().filter(|d| d.part.is_some()).count();
        if open < MAX_OPEN_PARTS {
            return Ok(());
        }
        let lru = self
            .days
            .iter()
            .filter(|(k, d)| **k != keep && d.part.is_some())
            .min_by_key(|(_, d)| d.last_used)
            .map(|(k, _)| *k);
        if let Some(part) = lru
            .and_then(|k| self.days.get_mut(&k))
            .and_then(|d| d.part.take())
        {
            self.finish_part(part)?;
        }
        Ok(())
    }

    fn open_part(&mut self, day: i64) -> Result<OpenPart, IngestError> {
        let dir = self.events_dir.join(format!("day={}", date_string(day)));
        std::fs::create_dir_all(&dir).map_err(|source| IngestError::Io {
            path: dir.clone(),
            source,
        })?;
        loop {
            let n = self.next_part;
            self.next_part += 1;
            let name = format!("part-{}-{n:05}.parquet", self.run_id);
            let path = dir.join(&name);
            let tmp = dir.join(format!(".{name}.tmp"));
            if path.exists() {
                continue;
            }
            let file = match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(IngestError::Io { path: tmp, source }),
            };
            let sink = BufWriter::with_capacity(1 << 20, file);
            let writer =
                ArrowWriter::try_new(sink, self.schema.clone(), Some(self.props.clone()))
                    .map_err(|source| IngestError::Parquet {
                        path: tmp.clone(),
                        source,
                    })?;
            tracing::debug!("writing {}", tmp.display());
            return Ok(OpenPart { tmp, path, writer });
        }
    }

    fn finish_part(&mut self, part: OpenPart) -> Result<(), IngestError> {
        let OpenPart { tmp, path, writer } = part;
        // Recorded first, so that `Drop` removes the file if finishing fails.
        self.finished.push((tmp.clone(), path));
        let sink = writer.into_inner().map_err(|source| IngestError::Parquet {
            path: tmp.clone(),
            source,
        })?;
        let file = sink.into_inner().map_err(|e| IngestError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        // On disk before anything (a journal, a rename) can name it as complete.
        file.sync_all().map_err(|source| IngestError::Io {
            path: tmp.clone(),
            source,
        })?;
        Ok(())
    }

    /// Numbers this writer's parts from `n` on, so that several writers of one run (one
    /// per OpenSearch transaction) never pick the same name.
    pub(crate) fn first_part(mut self, n: u64) -> Self {
        self.next_part = n;
        self
    }

    /// The number the next part would get.
    pub(crate) fn next_part(&self) -> u64 {
        self.next_part
    }

    /// Writes what is buffered and finishes every part under its temporary name, flushed
    /// to disk. Returns the `(temporary, final)` paths; from here on the caller owns the
    /// temporary files (see [`publish`]).
    ///
    /// # Errors
    /// When a part cannot be written or finished; the temporary files are removed.
    pub(crate) fn finish(mut self) -> Result<Vec<(PathBuf, PathBuf)>, IngestError> {
        self.flush_builders()?;
        let mut days: Vec<i64> = self.days.keys().copied().collect();
        days.sort_unstable();
        for day in days {
            if let Some(part) = self.days.get_mut(&day).and_then(|d| d.part.take()) {
                self.finish_part(part)?;
            }
        }
        self.committed = true;
        Ok(std::mem::take(&mut self.finished))
    }

    /// Writes what is buffered, finishes every part and renames them all to their final
    /// names. Returns the final paths.
    ///
    /// # Errors
    /// When a part cannot be written, finished or renamed; the temporary files left are
    /// removed.
    pub(crate) fn commit(self) -> Result<Vec<PathBuf>, IngestError> {
        publish(self.finish()?, true)
    }
}

/// Renames finished parts from their temporary to their final names, in order. A part
/// whose temporary file is gone but whose final file exists counts as renamed (a journal
/// being rolled forward a second time).
///
/// # Errors
/// When a rename fails; the temporary files not yet renamed are then removed if
/// `remove_on_error` (a journal that names them keeps them instead, to be rolled forward
/// later).
pub(crate) fn publish(
    parts: Vec<(PathBuf, PathBuf)>,
    remove_on_error: bool,
) -> Result<Vec<PathBuf>, IngestError> {
    let mut done = Vec::with_capacity(parts.len());
    let mut rest = parts.into_iter();
    while let Some((tmp, path)) = rest.next() {
        if let Err(source) = std::fs::rename(&tmp, &path) {
            if source.kind() == std::io::ErrorKind::NotFound && path.exists() {
                done.push(path);
                continue;
            }
            if remove_on_error {
                let _ = std::fs::remove_file(&tmp);
                for (tmp, _) in rest {
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            return Err(IngestError::Io { path, source });
        }
        done.push(path);
    }
    Ok(done)
}

impl Drop for LakeWriter {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let open = self.days.values_mut().filter_map(|d| d.part.take());
        let tmps: Vec<PathBuf> = open
            .map(|p| p.tmp)
            .chain(self.finished.drain(..).map(|(tmp, _)| tmp))
            .collect();
        for tmp in tmps {
            if let Err(e) = std::fs::remove_file(&tmp)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("could not remove {}: {e}", tmp.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescaped(s: &str) -> String {
        let mut out = String::new();
        unescape_html(&mut out, s);
        out
    }

    #[test]
    fn html_entities_are_decoded() {
        assert_eq!(unescaped("&lt;unknown process&gt;"), "<unknown process>");
        assert_eq!(
            unescaped("a &amp;&amp; b &quot;c&quot; &#39;d&#x27;"),
            "a && b \"c\" 'd'"
        );
    }

    #[test]
    fn unknown_or_broken_entities_stay() {
        assert_eq!(unescaped("R&D &nbsp; & &#xZZ; &"), "R&D &nbsp; & &#xZZ; &");
        assert_eq!(unescaped("é&é;"), "é&é;");
    }

    #[test]
    fn values_become_text() {
        let mut b = StringBuilder::new();
        for v in [
            Some(Val::Int(-3)),
            Some(Val::UInt(7)),
            Some(Val::Bool(true)),
            Some(Val::Str("True".into())),
            Some(Val::Str("".into())),
            Some(Val::Null),
            None,
        ] {
            append_val(&mut b, v.as_ref());
        }
        let a = b.finish();
        let got: Vec<Option<&str>> = a.iter().collect();
        assert_eq!(
            got,
            [
                Some("-3"),
                Some("7"),
                Some("true"),
                Some("true"),
                None,
                None,
                None
            ]
        );
    }
}
