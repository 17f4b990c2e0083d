//! Little-endian byte encoding shared by the model and partial-state payloads.

/// An error decoding a model or partial-state payload.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended early.
    #[error("input truncated at byte {offset}: needed {needed} more bytes")]
    Truncated {
        /// Byte offset where reading stopped.
        offset: usize,
        /// Bytes that were needed.
        needed: usize,
    },
    /// The payload's version byte is not one this build reads.
    #[error("unknown payload version {found} (expected {expected})")]
    UnknownVersion {
        /// Version found.
        found: u8,
        /// Version this build writes.
        expected: u8,
    },
    /// Bytes remain after the payload.
    #[error("{count} trailing bytes after the payload")]
    TrailingBytes {
        /// Number of extra bytes.
        count: usize,
    },
    /// A decoded value is out of range or inconsistent.
    #[error("invalid {what}")]
    Invalid {
        /// What is wrong, naming the value.
        what: String,
    },
}

pub(crate) fn invalid(what: impl Into<String>) -> DecodeError {
    DecodeError::Invalid { what: what.into() }
}

#[derive(Debug, Default)]
pub(crate) struct ByteWriter {
    buf: Vec<u8>,
}

impl ByteWriter {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.f64(v);
            }
            None => self.u8(0),
        }
    }
    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

#[derive(Debug)]
pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let out = self
            .buf
            .get(self.pos..self.pos.saturating_add(N))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or(DecodeError::Truncated {
                offset: self.pos,
                needed: N,
            })?;
        self.pos += N;
        Ok(out)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn version(&mut self, expected: u8) -> Result<(), DecodeError> {
        let found = self.u8()?;
        if found == expected {
            Ok(())
        } else {
            Err(DecodeError::UnknownVersion { found, expected })
        }
    }
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    pub(crate) fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    /// A u64 read as usize.
    pub(crate) fn usize(&mut self, what: &str) -> Result<usize, DecodeError> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| invalid(format!("{what} ({v})")))
    }
    /// A finite f64.
    pub(crate) fn finite(&mut self, what: &str) -> Result<f64, DecodeError> {
        let v = self.f64()?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(invalid(format!("{what} ({v})")))
        }
    }
    pub(crate) fn opt_f64(&mut self, what: &str) -> Result<Option<f64>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.finite(what).map(Some),
            t => Err(invalid(format!("{what} flag ({t})"))),
        }
    }
    /// A count of items of `item_bytes` each, checked against the bytes left so that
    /// corrupted counts never cause a huge allocation.
    pub(crate) fn count(
        &mut self,
        item_bytes: usize,
        what: &str,
    ) -> Result<usize, DecodeError> {
        let n = self.usize(what)?;
        match n.checked_mul(item_bytes) {
            Some(total) if total <= self.remaining() => Ok(n),
            _ => Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n.saturating_mul(item_bytes),
            }),
        }
    }
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}
