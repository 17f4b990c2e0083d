//! Reads one input file, whatever it is, and feeds its records to the lake writer.
//!
//! The file's first bytes decide how it is read: the EVTX magic (`ElfFile\0`) goes to the
//! `evtx` parser, the gzip magic to a multi-member gzip decoder, and text is read as JSON
//! lines (or as one top-level JSON array when it starts with `[`). Anything that goes wrong
//! with one record is a rejection with its line or record number; anything that stops the
//! file (unreadable, binary, truncated gzip, broken EVTX header) is the file's error. Both
//! are in the report, the records read before the problem are kept, and the run goes on.
//! Only failures to write the lake stop the run.

mod readers;

use readers::*;

use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::rc::Rc;

use evtx::{EvtxParser, ParserSettings};
use flate2::read::MultiGzDecoder;
use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

use super::IngestError;
use super::parse::{Parsed, RecordSeed, parse_record};
use super::record::{FieldIndex, Row, into_row};
use super::report::{Counter, FileReport, Location, RejectKind, Rejection};
use super::sink::LakeWriter;

/// Longest line read; longer ones are rejected (and skipped without being held).
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// A file whose first this many lines are all not JSON is given up as not JSON lines.
const GIVE_UP_AFTER: u64 = 1000;
const READ_BUFFER: usize = 1 << 20;
/// A gzip stream that decompresses to more than this many times the compressed bytes
/// read so far is given up as a decompression bomb. Logs compress 5 to 30 times; deflate
/// reaches about 1000 only on repetition.
pub const MAX_GZIP_RATIO: u64 = 200;
/// Decompressed bytes produced before the ratio is checked (small files of repetitive
/// text may compress far better than logs do).
const RATIO_CHECKED_AFTER: u64 = 64 << 20;

const EVTX_MAGIC: &[u8] = b"ElfFile\0";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// Where the rows read go: the lake, or nowhere (fuzzing).
pub(crate) trait RowSink {
    /// Takes one row.
    ///
    /// # Errors
    /// The sink cannot take it (the lake cannot be written): the run stops.
    fn push(&mut self, row: &Row<'_>, idx: &FieldIndex) -> Result<(), IngestError>;
}

impl RowSink for LakeWriter {
    fn push(&mut self, row: &Row<'_>, idx: &FieldIndex) -> Result<(), IngestError> {
        LakeWriter::push(self, row, idx)
    }
}

/// Reads the bytes of one file held in memory as [`ingest_file`] reads a file (EVTX,
/// gzip, JSON lines or array), into `sink`. The fuzz targets' entry.
pub(crate) fn read_bytes(
    data: &[u8],
    sink: &mut dyn RowSink,
    idx: &FieldIndex,
) -> Result<FileReport, IngestError> {
    let mut job = FileJob {
        lake: sink,
        idx,
        report: FileReport::new("<memory>".into()),
        counter: Counter::default(),
    };
    if data.starts_with(EVTX_MAGIC) {
        let parser =
            catch_unwind(AssertUnwindSafe(|| EvtxParser::from_buffer(data.to_vec())));
        job.evtx(parser, data.len() as u64)?;
    } else if data.starts_with(GZIP_MAGIC) {
        job.text(BufReader::new(guarded_gzip(data)), true)?;
    } else {
        job.text(data, false)?;
    }
    Ok(job.report)
}

/// Reads one file into the lake.
///
/// # Errors
/// Only when the lake cannot be written; problems with the file itself are in the report.
pub(crate) fn ingest_file(
    path: &Path,
    lake: &mut LakeWriter,
    idx: &FieldIndex,
) -> Result<FileReport, IngestError> {
    let mut job = FileJob {
        lake,
        idx,
        report: FileReport::new(path.to_path_buf()),
        counter: Counter::default(),
    };
    job.run(path)?;
    let FileJob {
        mut report,
        counter,
        ..
    } = job;
    report.counts = counter.into_counts();
    Ok(report)
}

struct FileJob<'l> {
    lake: &'l mut dyn RowSink,
    idx: &'l FieldIndex,
    report: FileReport,
    counter: Counter,
}

impl FileJob<'_> {
    fn fail(&mut self, msg: String) {
        tracing::warn!("{}: {msg}", self.report.path.display());
        self.report.error = Some(msg);
    }

    fn run(&mut self, path: &Path) -> Result<(), IngestError> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.fail(format!("cannot open: {e}"));
                return Ok(());
            }
        };
        let mut magic = [0u8; 8];
        let n = match read_prefix(&mut file, &mut magic) {
            Ok(n) => n,
            Err(e) => {
                self.fail(format!("cannot read: {e}"));
                return Ok(());
            }
        };
        let magic = &magic[..n];
        if magic.starts_with(EVTX_MAGIC) {
            let len = file.metadata().map_or(0, |m| m.len());
            return self.evtx(
                catch_unwind(AssertUnwindSafe(|| EvtxParser::from_path(path))),
                len,
            );
        }
        // Reopen rather than seek, so that a pipe or a special file works too.
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.fail(format!("cannot open: {e}"));
                return Ok(());
            }
        };
        if magic.starts_with(GZIP_MAGIC) {
            self.text(
                BufReader::with_capacity(READ_BUFFER, guarded_gzip(file)),
                true,
            )
        } else {
            self.text(BufReader::with_capacity(READ_BUFFER, file), false)
        }
    }

    /// JSON lines or a JSON array, from a plain or decompressed stream.
    fn text<R: BufRead>(&mut self, mut r: R, gzip: bool) -> Result<(), IngestError> {
        let head = match r.fill_buf() {
            Ok(h) => h,
            Err(e) => {
                let what = if gzip {
                    "cannot decompress (corrupt gzip?)"
                } else {
                    "cannot read"
                };
                self.fail(format!("{what}: {e}"));
                return Ok(());
            }
        };
        if gzip && head.starts_with(EVTX_MAGIC) {
            self.fail("a gzip-compressed EVTX file: decompress it first".into());
            return Ok(());
        }
        if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
            self.fail("UTF-16 text: convert it to UTF-8 JSON lines first".into());
            return Ok(());
        }
        if let Some(at) = head.iter().position(|&b| b == 0) {
            self.fail(format!(
                "binary data (a NUL byte at offset {at}), not JSON lines, a JSON array or EVTX"
            ));
            return Ok(());
        }
        let bom = if head.starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            0
        };
        let is_array =
            head[bom..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        r.consume(bom);
        if is_array {
            self.array(r, gzip)
        } else {
            self.lines(r, gzip)
        }
    }

    fn lines<R: BufRead>(&mut self, mut r: R, gzip: bool) -> Result<(), IngestError> {
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut line = 0u64;
        let mut not_json_prefix = true;
        loop {
            buf.clear();
            let read = match read_line_capped(&mut r, &mut buf, MAX_LINE_BYTES) {
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                    self.fail(format!("{e}; gave up after line {line}"));
                    return Ok(());
                }
                Err(e) => {
                    let what = read_failure(gzip);
                    self.fail(format!("{what} after line {line}: {e}"));
                    return Ok(());
                }
            };
            line += 1;
            let loc = Location::Line(line);
            match read {
                LineRead::Eof => return Ok(()),
                LineRead::TooLong(n) => {
                    let why =
                        format!("{n} bytes, more than the limit of {MAX_LINE_BYTES}");
                    self.report
                        .reject(loc, Rejection::new(RejectKind::TooLong, why));
                }
                LineRead::Line => {
                    let text = buf.trim_ascii();
                    if text.is_empty() {
                        continue;
                    }
                    let before = self
                        .report
                        .rejected_by_kind
                        .get(&RejectKind::NotJson)
                        .copied();
                    self.json(text, loc, None)?;
                    let after = self
                        .report
                        .rejected_by_kind
                        .get(&RejectKind::NotJson)
                        .copied();
                    not_json_prefix &= after != before;
                }
            }
            if not_json_prefix && line >= GIVE_UP_AFTER {
                self.fail(format!(
                    "the first {line} lines are not JSON: not a JSON-lines file; gave up"
                ));
                return Ok(());
            }
        }
    }

    /// A top-level JSON array, element by element as it is read: a file or decompressed
    /// stream of any size is never held, and one element is held up to
    /// [`MAX_LINE_BYTES`] (beyond that the file is given up, naming the element).
    fn array<R: BufRead>(&mut self, r: R, gzip: bool) -> Result<(), IngestError> {
        let since = Rc::new(Cell::new(0u64));
        let capped = ElementCap {
            inner: r,
            since: since.clone(),
            max: MAX_LINE_BYTES as u64,
        };
        let mut fatal = None;
        let mut count = 0;
        let mut de = serde_json::Deserializer::from_reader(capped);
        let res = de
            .deserialize_seq(ArrayVisitor {
                job: self,
                fatal: &mut fatal,
                count: &mut count,
                since: &since,
            })
            .and_then(|()| de.end());
        if let Some(e) = fatal {
            return Err(e);
        }
        match res {
            Ok(()) => {}
            Err(_) if since.get() > MAX_LINE_BYTES as u64 => self.fail(format!(
                "JSON array element {} is longer than {MAX_LINE_BYTES} bytes; gave up",
                count + 1
            )),
            Err(e) if e.io_error_kind() == Some(std::io::ErrorKind::FileTooLarge) => {
                let why =
                    std::error::Error::source(&e).map_or_else(|| e.to_string(), chain);
                self.fail(format!("{why}; gave up after JSON array element {count}"));
            }
            Err(e) if e.is_io() => {
                let what = read_failure(gzip);
                self.fail(format!("{what} after JSON array element {count}: {e}"));
            }
            Err(e) => self.fail(format!("invalid JSON array after element {count}: {e}")),
        }
        Ok(())
    }

    /// An EVTX file is a 4 KiB header and whole 64 KiB chunks, as many as its header
    /// names (Windows allocates them whole): a file cut short reads as fewer chunks
    /// without an error from the parser, so it is reported here (the records of its
    /// whole chunks are kept). Only when nothing else stopped the file.
    ///
    /// `(chunks, header_bytes)`: the chunk count and header size its header gives.
    fn check_evtx_length(&mut self, (chunks, header_bytes): (u16, u16), len: u64) {
        const CHUNK: u64 = 65536;
        let named = u64::from(chunks);
        let body = len.saturating_sub(u64::from(header_bytes));
        let (whole, rest) = (body / CHUNK, body % CHUNK);
        if self.report.error.is_none() && (rest != 0 || whole < named) {
            self.fail(format!(
                "truncated EVTX file: its header names {named} chunks of 64 KiB, the file \
                 holds {whole} whole chunks and {rest} more bytes; the records of whole \
                 chunks were read"
            ));
        }
    }

    /// The records of an EVTX file of `len` bytes, from its parser as opened (a panic
    /// while opening caught as the `Err` of `parser`).
    fn evtx<T: std::io::Read + std::io::Seek>(
        &mut self,
        parser: std::thread::Result<evtx::err::Result<EvtxParser<T>>>,
        len: u64,
    ) -> Result<(), IngestError> {
        let settings = ParserSettings::new()
            .validate_checksums(true)
            .indent(false)
            .num_threads(1);
        let mut parser = match parser {
            Ok(Ok(p)) => p.with_configuration(settings),
            Ok(Err(e)) => {
                self.fail(format!("not a readable EVTX file: {}", chain(&e)));
                return Ok(());
            }
            Err(_) => {
                self.fail("the EVTX parser failed on the file header".into());
                return Ok(());
            }
        };
        let shape = (
            parser.header().chunk_count,
            parser.header().header_block_size,
        );
        let mut records = parser.records_json_bytes();
        let mut n = 0u64;
        loop {
            let next = catch_unwind(AssertUnwindSafe(|| records.next()));
            n += 1;
            let loc = Location::Record(n);
            match next {
                Ok(None) => {
                    self.check_evtx_length(shape, len);
                    return Ok(());
                }
                Ok(Some(Ok(rec))) => {
                    let id = rec.event_record_id;
                    self.json(&rec.data, loc, Some(id))?;
                }
                Ok(Some(Err(e))) => {
                    let why = Rejection::new(RejectKind::BadEvtxRecord, chain(&e));
                    self.report.reject(loc, why);
                }
                Err(_) => {
                    self.fail(format!("the EVTX parser failed after {} records", n - 1));
                    return Ok(());
                }
            }
        }
    }

    /// One JSON text: parse, map, write, count.
    fn json(
        &mut self,
        text: &[u8],
        loc: Location,
        evtx_id: Option<u64>,
    ) -> Result<(), IngestError> {
        let parsed = parse_record(text, self.idx)
            .map_err(|e| Rejection::new(RejectKind::NotJson, e.to_string()));
        self.parsed(parsed, loc, evtx_id)
    }

    fn parsed(
        &mut self,
        parsed: Result<Parsed<'_>, Rejection>,
        loc: Location,
        evtx_id: Option<u64>,
    ) -> Result<(), IngestError> {
        let row = parsed.and_then(|p| match p {
            Parsed::Object(d) => into_row(*d, self.idx),
            Parsed::NotObject(what) => Err(Rejection::new(
                RejectKind::NotObject,
                format!("found {what}"),
            )),
        });
        match row {
            Ok(row) => {
                self.lake.push(&row, self.idx)?;
                self.report.events += 1;
                *self.report.layouts.entry(row.layout).or_default() += 1;
                self.counter.add(&row.channel, row.event_id);
            }
            Err(mut why) => {
                if let Some(id) = evtx_id {
                    why.detail = format!("EVTX record id {id}: {}", why.detail);
                }
                self.report.reject(loc, why);
            }
        }
        Ok(())
    }
}

/// Visits the elements of a top-level JSON array one by one.
struct ArrayVisitor<'j, 'l, 'f> {
    job: &'j mut FileJob<'l>,
    fatal: &'f mut Option<IngestError>,
    count: &'f mut u64,
    /// Bytes read since the current element began (see [`ElementCap`]).
    since: &'f Cell<u64>,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let idx = self.job.idx;
        while let Some(parsed) = seq.next_element_seed(RecordSeed { idx })? {
            self.since.set(0);
            *self.count += 1;
            let loc = Location::Element(*self.count);
            if let Err(e) = self.job.parsed(Ok(parsed), loc, None) {
                *self.fatal = Some(e);
                return Err(de::Error::custom("writing the lake failed"));
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ArrayVisitor<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// An error and its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_without_being_held() {
        let text = b"short\nthis line is too long\nok";
        let mut r = BufReader::with_capacity(4, &text[..]);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        loop {
            buf.clear();
            match read_line_capped(&mut r, &mut buf, 10).expect("reads") {
                LineRead::Eof => break,
                other => got.push((other, String::from_utf8_lossy(&buf).into_owned())),
            }
        }
        assert_eq!(
            got,
            [
                (LineRead::Line, "short\n".to_string()),
                (LineRead::TooLong(22), String::new()),
                (LineRead::Line, "ok".to_string()),
            ]
        );
    }

    /// Writes `parts` as one gzip file, compressing as it goes.
    fn gzip(path: &Path, parts: impl Iterator<Item = Vec<u8>>) {
        use std::io::Write;
        let file = File::create(path).expect("create");
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        for part in parts {
            gz.write_all(&part).expect("write");
        }
        gz.finish().expect("finish");
    }

    /// Ingests one file into `<dir>/lake`.
    fn ingest_into(path: &std::path::Path, dir: &std::path::Path) -> crate::IngestReport {
        crate::ingest_paths(
            std::slice::from_ref(&path.to_path_buf()),
            &dir.join("lake"),
            &crate::IngestOptions::default(),
        )
        .expect("ingest runs")
    }

    /// A gzip JSON array that decompresses to about twice [`MAX_LINE_BYTES`] is read
    /// element by element: every element counted, no file error. (Reading the whole file
    /// would pass this too: it checks the streamed parse, not the memory.)
    #[test]
    fn a_large_gzip_json_array_is_streamed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.json.gz");
        let element = format!("{{\"pad\":\"{}\"}}", "x".repeat(1000));
        let n = 2 * MAX_LINE_BYTES / element.len();
        let parts = std::iter::once(b"[".to_vec())
            .chain((0..n).map(|i| {
                let mut e = if i == 0 { Vec::new() } else { b",".to_vec() };
                e.extend_from_slice(element.as_bytes());
                e
            }))
            .chain(std::iter::once(b"]".to_vec()));
        gzip(&path, parts);
        assert!(std::fs::metadata(&path).expect("meta").len() < (1 << 20));
        let report = ingest_into(&path, dir.path());
        let file = &report.files[0];
        assert_eq!(file.error, None, "{report}");
        assert_eq!(file.events + file.rejected, n as u64, "{report}");
    }

    /// A gzip of `members` copies of one compressed member (gzip allows concatenated
    /// members), framed by `head` and `tail` members: 10 GiB of text costs megabytes.
    fn gzip_members(path: &Path, head: &[u8], body: &[u8], members: usize, tail: &[u8]) {
        use std::io::Write;
        let member = |text: &[u8]| {
            let mut gz =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(text).expect("compress");
            gz.finish().expect("finish")
        };
        let body = member(body);
        let mut file = std::io::BufWriter::new(File::create(path).expect("create"));
        file.write_all(&member(head)).expect("write");
        for _ in 0..members {
            file.write_all(&body).expect("write");
        }
        file.write_all(&member(tail)).expect("write");
        file.flush().expect("flush");
    }

    const EVENT: &str = r#"{"@timestamp":"2024-05-01T10:00:00.000Z","winlog":{"event_id":1,"computer_name":"ws01.lab","channel":"Microsoft-Windows-Sysmon/Operational","event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami"}}}"#;

    /// A gzip that decompresses to 10 GiB of JSON, as lines and as one array, in under
    /// 64 MB: given up once it has expanded past [`MAX_GZIP_RATIO`], with the file named
    /// and the events read before kept, instead of decompressing for minutes into the lake.
    #[test]
    fn a_gzip_bomb_of_ten_gigabytes_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body_bytes = 8usize << 20;
        let members = (10usize << 30) / body_bytes;
        let line = format!("{EVENT}\n");
        let lines = line.repeat(body_bytes / line.len());
        let element = format!(",{EVENT}");
        let elements = element.repeat(body_bytes / element.len());
        let cases = [
            ("bomb-lines.json.gz", "", lines.as_str(), ""),
            ("bomb-array.json.gz", "[{}", elements.as_str(), "]"),
        ];
        for (name, head, body, tail) in cases {
            let path = dir.path().join(name);
            gzip_members(
                &path,
                head.as_bytes(),
                body.as_bytes(),
                members,
                tail.as_bytes(),
            );
            let size = std::fs::metadata(&path).expect("meta").len();
            assert!(size < 64 << 20, "{name}: {size} bytes");
            let report = ingest_into(&path, dir.path());
            let file = &report.files[0];
            let error = file.error.as_deref().unwrap_or_default();
            assert!(
                error.contains("decompression bomb") && error.contains("gave up after"),
                "{name}: {report}"
            );
            assert!(report.to_string().contains(name), "{report}");
            // What came before the limit was read and kept: at most the limit's worth.
            let read = file.events + file.rejected;
            let most =
                (RATIO_CHECKED_AFTER + 2 * READ_BUFFER as u64) / EVENT.len() as u64;
            assert!(read > 0 && read <= most, "{name}: {read} records: {report}");
        }
    }

    /// One event whose command line is 1 GiB, between two ordinary ones, as JSON lines
    /// and as a JSON array: the line is skipped and reported by number (the events around
    /// it kept); the array is given up at that element (the one before it kept). The
    /// long value is streamed past in read-buffer steps, never held.
    #[test]
    fn an_event_with_a_one_gigabyte_command_line_is_skipped_or_refused() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, open: &str, sep: &str, close: &str| {
            let path = dir.path().join(name);
            let mut f = std::io::BufWriter::new(File::create(&path).expect("create"));
            write!(f, "{open}{EVENT}{sep}").expect("write");
            let (head, _) = EVENT
                .split_once("cmd.exe /c whoami")
                .expect("a command line");
            f.write_all(head.as_bytes()).expect("write");
            let chunk = vec![b'A'; 1 << 20];
            for _ in 0..1024 {
                f.write_all(&chunk).expect("write");
            }
            write!(f, "\"}}}}}}{sep}{EVENT}{close}").expect("write");
            f.flush().expect("flush");
            path
        };
        let lines = write("long-line.json", "", "\n", "\n");
        let report = ingest_into(&lines, dir.path());
        let file = &report.files[0];
        assert_eq!(file.error, None, "{report}");
        assert_eq!(file.rejected, 1, "{report}");
        assert!(report.to_string().contains("line 2"), "{report}");

        let array = write("long-element.json", "[", ",", "]");
        let report = ingest_into(&array, dir.path());
        let file = &report.files[0];
        assert_eq!(
            file.error.as_deref(),
            Some("JSON array element 2 is longer than 16777216 bytes; gave up"),
            "{report}"
        );
        assert_eq!(file.events + file.rejected, 1, "{report}");
    }

    /// One element of more than [`MAX_LINE_BYTES`] (a gzip of a few kilobytes) gives the
    /// file up naming the element, instead of holding the whole decompressed text.
    #[test]
    fn an_oversized_json_array_element_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bomb.json.gz");
        let chunk = vec![b'a'; 1 << 20];
        let parts = std::iter::once(b"[{\"x\":1},\"".to_vec())
            .chain(std::iter::repeat_n(chunk, 64))
            .chain(std::iter::once(b"\"]".to_vec()));
        gzip(&path, parts);
        assert!(std::fs::metadata(&path).expect("meta").len() < (1 << 20));
        let report = ingest_into(&path, dir.path());
        let file = &report.files[0];
        assert_eq!(
            file.error.as_deref(),
            Some("JSON array element 2 is longer than 16777216 bytes; gave up"),
            "{report}"
        );
        assert!(report.to_string().contains("bomb.json.gz"), "{report}");
    }
}
