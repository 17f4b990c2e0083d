//! The one encoding every trained model travels in: in a Binary SQL value, in files under
//! `models/`, and over the network.
//!
//! Layout: the 4-byte magic `HNTM`, an 8-byte little-endian FNV-1a-64 checksum of the
//! rest, then a protobuf [`ModelEnvelope`] (kind, format version, hyper-parameters as
//! JSON, feature spec, training statistics, payload). The fixed header lets a scoring
//! function recognise a model it already decoded from 12 bytes, without hashing or
//! decoding the whole value for every row. Readers check, in order: length, magic,
//! checksum, protobuf, kind, format version; each failure is its own [`ModelError`].

use huntsman_proto::{FeatureSpec, MODEL_MAGIC, ModelEnvelope, ModelKind, TrainingStats};
use prost::Message;

/// Bytes before the protobuf envelope: magic and checksum.
pub const HEADER_LEN: usize = 12;

/// Why bytes could not be read as a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Fewer bytes than the header.
    #[error("model is truncated: {len} bytes, a model has at least {HEADER_LEN}")]
    Truncated {
        /// Length seen.
        len: usize,
    },
    /// The value does not start with `HNTM`.
    #[error("not a Huntsman model (no HNTM magic bytes)")]
    BadMagic,
    /// The checksum does not match: the bytes were corrupted or cut.
    #[error("model is corrupted: checksum {found:016x} does not match {expected:016x}")]
    Checksum {
        /// Checksum recorded in the header.
        expected: u64,
        /// Checksum of the bytes.
        found: u64,
    },
    /// The envelope does not decode.
    #[error("model envelope does not decode: {0}")]
    Envelope(String),
    /// The model is of another kind than the function expects.
    #[error("expected a {expected} model, got a {found} model")]
    WrongKind {
        /// The kind the caller needs.
        expected: &'static str,
        /// The kind recorded.
        found: &'static str,
    },
    /// Written by a newer Huntsman.
    #[error(
        "{kind} model format version {found} is newer than this build supports \
         ({supported}); upgrade Huntsman"
    )]
    NewerVersion {
        /// The model kind.
        kind: &'static str,
        /// Version recorded.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// The payload does not decode for its kind.
    #[error("{kind} model payload: {reason}")]
    Payload {
        /// The model kind.
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// A human name of a model kind, for messages.
pub fn kind_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Unspecified => "unspecified",
        ModelKind::Kmeans => "k-means",
        ModelKind::IsolationForest => "isolation forest",
        ModelKind::Autoencoder => "autoencoder",
        ModelKind::Sequence => "sequence",
        ModelKind::Idf => "idf",
        ModelKind::Scaler => "scaler",
        ModelKind::CategoryIndex => "category index",
    }
}

/// FNV-1a, 64 bit: detects any single changed byte and is cheap enough for every model.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What a model says about itself besides its payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelMeta {
    /// Hyper-parameters as JSON.
    pub params_json: String,
    /// Input feature description.
    pub features: FeatureSpec,
    /// Training statistics.
    pub stats: TrainingStats,
}

/// Encodes a model: header, then the envelope around `payload`.
pub fn encode(
    kind: ModelKind,
    format_version: u32,
    meta: ModelMeta,
    payload: Vec<u8>,
) -> Vec<u8> {
    let envelope = ModelEnvelope {
        magic: MODEL_MAGIC.to_string(),
        format_version,
        kind: kind as i32,
        params_json: meta.params_json,
        features: Some(meta.features),
        stats: Some(meta.stats),
        checksum: fnv1a64(&payload),
        payload,
    };
    let body = envelope.encode_to_vec();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MODEL_MAGIC.as_bytes());
    out.extend_from_slice(&fnv1a64(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The identity of an encoded model (its checksum and length), read from the header
/// without decoding; scoring caches are keyed by it.
///
/// # Errors
/// Truncated input or a missing magic.
pub fn model_key(bytes: &[u8]) -> Result<(u64, usize), ModelError> {
    if bytes.len() < HEADER_LEN {
        return Err(ModelError::Truncated { len: bytes.len() });
    }
    if &bytes[..4] != MODEL_MAGIC.as_bytes() {
        return Err(ModelError::BadMagic);
    }
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&bytes[4..HEADER_LEN]);
    Ok((u64::from_le_bytes(sum), bytes.len()))
}

/// Decodes a model of any kind and checks its integrity (header, checksums), so a stored
/// model can be vetted before a query ships its location to the executors.
///
/// # Errors
/// Truncated, corrupted or non-model bytes; see [`ModelError`].
pub fn verify(bytes: &[u8]) -> Result<ModelEnvelope, ModelError> {
    let (checksum, _) = model_key(bytes)?;
    let body = &bytes[HEADER_LEN..];
    let found = fnv1a64(body);
    if found != checksum {
        return Err(ModelError::Checksum {
            expected: checksum,
            found,
        });
    }
    let envelope =
        ModelEnvelope::decode(body).map_err(|e| ModelError::Envelope(e.to_string()))?;
    if envelope.magic != MODEL_MAGIC {
        return Err(ModelError::BadMagic);
    }
    if fnv1a64(&envelope.payload) != envelope.checksum {
        let kind = ModelKind::try_from(envelope.kind).unwrap_or(ModelKind::Unspecified);
        return Err(ModelError::Payload {
            kind: kind_name(kind),
            reason: "payload checksum does not match".into(),
        });
    }
    Ok(envelope)
}

/// Decodes and checks a model of `expected` kind, readable up to `supported_version`.
///
/// # Errors
/// Every way bytes can fail to be such a model; see [`ModelError`].
pub fn decode(
    bytes: &[u8],
    expected: ModelKind,
    supported_version: u32,
) -> Result<ModelEnvelope, ModelError> {
    let envelope = verify(bytes)?;
    let kind = ModelKind::try_from(envelope.kind).unwrap_or(ModelKind::Unspecified);
    if kind != expected {
        return Err(ModelError::WrongKind {
            expected: kind_name(expected),
            found: kind_name(kind),
        });
    }
    if envelope.format_version > supported_version {
        return Err(ModelError::NewerVersion {
            kind: kind_name(kind),
            found: envelope.format_version,
            supported: supported_version,
        });
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let meta = ModelMeta {
            params_json: "{\"k\":4}".into(),
            features: FeatureSpec {
                dimensions: 3,
                names: vec![],
                sparse: false,
            },
            stats: TrainingStats {
                rows: 100,
                ..Default::default()
            },
        };
        encode(ModelKind::Kmeans, 1, meta, (0u8..200).collect())
    }

    #[test]
    fn round_trips() {
        let bytes = sample();
        let env = decode(&bytes, ModelKind::Kmeans, 1).expect("decodes");
        assert_eq!(env.payload, (0u8..200).collect::<Vec<u8>>());
        assert_eq!(env.params_json, "{\"k\":4}");
        assert_eq!(env.stats.expect("stats").rows, 100);
    }

    #[test]
    fn wrong_kind_and_newer_version_are_named() {
        let bytes = sample();
        let err = decode(&bytes, ModelKind::IsolationForest, 1).expect_err("kind");
        assert_eq!(
            err.to_string(),
            "expected a isolation forest model, got a k-means model"
        );
        let err = decode(&bytes, ModelKind::Kmeans, 0).expect_err("version");
        assert!(err.to_string().contains("newer than this build"), "{err}");
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let bytes = sample();
        assert!(matches!(
            decode(&bytes[..5], ModelKind::Kmeans, 1),
            Err(ModelError::Truncated { .. })
        ));
        assert!(matches!(
            decode(b"PAR1 something", ModelKind::Kmeans, 1),
            Err(ModelError::BadMagic)
        ));
        for cut in [HEADER_LEN, HEADER_LEN + 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                decode(&bytes[..cut], ModelKind::Kmeans, 1).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn random_corruption_never_panics_and_is_always_caught() {
        let bytes = sample();
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = bytes.clone();
            let flips = 1 + (x % 4) as usize;
            for f in 0..flips {
                let pos = ((x >> (8 * f)) as usize) % b.len();
                let delta = ((x >> 40) as u8) | 1;
                b[pos] ^= delta;
            }
            let cut = if x.is_multiple_of(5) {
                (x >> 20) as usize % b.len()
            } else {
                b.len()
            };
            if cut == b.len() && b == bytes {
                continue; // two flips cancelled out: nothing was corrupted
            }
            assert!(decode(&b[..cut], ModelKind::Kmeans, 1).is_err());
        }
    }
}
