//! The byte-level readers under a file: a gzip decoder behind a decompression-ratio
//! guard, a cap on one JSON array element, and line and prefix reads with bounds.

use super::*;

/// A multi-member gzip decoder over `compressed`, behind a [`RatioGuard`]. No read-ahead
/// sits below the decoder (it buffers 32 KiB itself): the count is of what it has
/// consumed, so the ratio is not diluted by a large buffer.
pub(super) fn guarded_gzip<R: Read>(
    compressed: R,
) -> RatioGuard<MultiGzDecoder<Counted<R>>> {
    let count = Rc::new(Cell::new(0));
    let counted = Counted {
        inner: compressed,
        count: count.clone(),
    };
    RatioGuard {
        inner: MultiGzDecoder::new(counted),
        produced: 0,
        compressed: count,
    }
}

/// What failed when a read of the text failed.
pub(super) fn read_failure(gzip: bool) -> &'static str {
    if gzip {
        "gzip stream is truncated or corrupt"
    } else {
        "read failed"
    }
}

/// Counts the bytes read through it.
pub(super) struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// A decompressed stream that fails (`FileTooLarge`) once it has produced more than
/// [`RATIO_CHECKED_AFTER`] bytes and more than [`MAX_GZIP_RATIO`] times the `compressed`
/// bytes read beneath it: a gzip bomb stops after tens of megabytes, however far it
/// would expand.
pub(super) struct RatioGuard<R> {
    inner: R,
    produced: u64,
    compressed: Rc<Cell<u64>>,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let compressed = self.compressed.get().max(1);
        if self.produced > RATIO_CHECKED_AFTER
            && self.produced / compressed > MAX_GZIP_RATIO
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!(
                    "decompresses to more than {MAX_GZIP_RATIO} times its size ({} bytes \
                     from the first {compressed}): a decompression bomb?",
                    self.produced
                ),
            ));
        }
        Ok(n)
    }
}

/// A reader that fails once more than `max` bytes are read without `since` being reset:
/// the JSON-array reader resets it after every element, so that one element is never
/// held beyond `max` bytes.
pub(super) struct ElementCap<R> {
    pub(super) inner: R,
    pub(super) since: Rc<Cell<u64>>,
    pub(super) max: u64,
}

impl<R: Read> Read for ElementCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.since.set(self.since.get() + n as u64);
        if self.since.get() > self.max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a JSON array element longer than {} bytes", self.max),
            ));
        }
        Ok(n)
    }
}

/// What [`read_line_capped`] read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LineRead {
    /// A line, in the buffer (with its newline, if it had one).
    Line,
    /// A line longer than the limit, skipped; its length.
    TooLong(usize),
    /// The end of the stream.
    Eof,
}

/// Reads one line into `buf`, holding at most `max` bytes of it.
pub(super) fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    let mut len = 0usize;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match len {
                0 => LineRead::Eof,
                n if n > max => LineRead::TooLong(n),
                _ => LineRead::Line,
            });
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        len += chunk.len();
        if len <= max {
            buf.extend_from_slice(chunk);
        } else {
            buf.clear();
        }
        let used = chunk.len();
        r.consume(used);
        if done {
            return Ok(if len > max {
                LineRead::TooLong(len)
            } else {
                LineRead::Line
            });
        }
    }
}

/// Reads up to `buf.len()` bytes, fewer only at the end of the file.
pub(super) fn read_prefix(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
