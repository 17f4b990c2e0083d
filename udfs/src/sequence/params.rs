//! Sequence-model parameters: the unchecked [`SequenceParams`] (built with setters or
//! from the JSON options string of `seq_fit`) and the checked [`SequenceValidParams`],
//! which alone can train.

use serde_json::Value;

use crate::matrix::{ByteReader, ByteWriter, DecodeError, invalid};

/// Largest accepted `vocab_size`.
pub const MAX_VOCAB_SIZE: usize = 4096;
/// Largest accepted `embedding_dim` and `hidden_dim`.
pub const MAX_DIM: usize = 4096;
/// Largest accepted `num_layers`.
pub const MAX_LAYERS: usize = 16;
/// Largest accepted `epochs`.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest accepted `batch_size`.
pub const MAX_BATCH_SIZE: usize = 1 << 16;
/// Largest accepted `max_seq_len`.
pub const MAX_SEQ_LEN_LIMIT: usize = 1 << 16;
/// Largest accepted `max_sequences`.
pub const MAX_SEQUENCES_LIMIT: usize = 1 << 24;
/// Largest accepted number of trainable weights, so that a typo cannot exhaust memory.
pub const MAX_WEIGHTS: usize = 1 << 28;

/// The keys `seq_fit`'s options accept, in the order they are documented and written.
pub const CONFIG_KEYS: [&str; 10] = [
    "vocab_size",
    "embedding_dim",
    "hidden_dim",
    "num_layers",
    "epochs",
    "batch_size",
    "max_seq_len",
    "learning_rate",
    "seed",
    "max_sequences",
];

/// Unchecked sequence-model parameters. Build with [`Default`] and the setters (or
/// [`SequenceParams::from_json`]), then [`check`](SequenceParams::check).
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceParams {
    vocab_size: usize,
    embedding_dim: usize,
    hidden_dim: usize,
    num_layers: usize,
    epochs: usize,
    batch_size: usize,
    max_seq_len: usize,
    learning_rate: f64,
    seed: u64,
    max_sequences: usize,
}

impl Default for SequenceParams {
    /// The process-anomaly hunt's settings: `vocab_size = 30`, `embedding_dim = 64`,
    /// `hidden_dim = 256`, `num_layers = 2`, `epochs = 10`, `batch_size = 64`,
    /// `max_seq_len = 128`, `learning_rate = 0.001`, `seed = 42`,
    /// `max_sequences = 100000`.
    fn default() -> Self {
        Self {
            vocab_size: 30,
            embedding_dim: 64,
            hidden_dim: 256,
            num_layers: 2,
            epochs: 10,
            batch_size: 64,
            max_seq_len: 128,
            learning_rate: 0.001,
            seed: 42,
            max_sequences: 100_000,
        }
    }
}

impl SequenceParams {
    /// Output classes, including the three reserved tokens (padding, start, unknown).
    /// Default 30 (`PROCESS_VOCAB_SIZE`); between 4 and [`MAX_VOCAB_SIZE`]. The
    /// `vocab_size - 3` most frequent event ids get their own token.
    pub fn vocab_size(mut self, v: usize) -> Self {
        self.vocab_size = v;
        self
    }

    /// Width of the token embedding. Default 64 (`PROCESS_EMBEDDING_DIM`).
    pub fn embedding_dim(mut self, v: usize) -> Self {
        self.embedding_dim = v;
        self
    }

    /// Width of each LSTM layer's state. Default 256 (`PROCESS_HIDDEN_DIM`).
    pub fn hidden_dim(mut self, v: usize) -> Self {
        self.hidden_dim = v;
        self
    }

    /// Stacked LSTM layers. Default 2 (`PROCESS_NUM_LAYERS`); at most [`MAX_LAYERS`].
    pub fn num_layers(mut self, v: usize) -> Self {
        self.num_layers = v;
        self
    }

    /// Passes over the training set. Default 10 (`PROCESS_NUM_EPOCHS`).
    pub fn epochs(mut self, v: usize) -> Self {
        self.epochs = v;
        self
    }

    /// Sequences per gradient step. Default 64 (`PROCESS_AUTOENCODER_BATCH_SIZE`).
    pub fn batch_size(mut self, v: usize) -> Self {
        self.batch_size = v;
        self
    }

    /// Events kept from the start of each sequence, in training and scoring. Default
    /// 128 (`PROCESS_MAX_SEQ_LEN`).
    pub fn max_seq_len(mut self, v: usize) -> Self {
        self.max_seq_len = v;
        self
    }

    /// Adam's step size. Default 0.001; in `(0, 10]`.
    pub fn learning_rate(mut self, v: f64) -> Self {
        self.learning_rate = v;
        self
    }

    /// Seed of the weight initialisation, the sample kept across partitions and the
    /// batch draws. Default 42.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }

    /// Cap on the training set: the most distinct sequences kept (a seeded hash
    /// chooses which), and the most sequences drawn per epoch. Default 100,000.
    pub fn max_sequences(mut self, v: usize) -> Self {
        self.max_sequences = v;
        self
    }

    /// Reads `seq_fit`'s JSON options over the defaults: an object whose keys are
    /// among [`CONFIG_KEYS`]. Integers must be JSON integers; `learning_rate` any
    /// number. A `null` value keeps the default.
    ///
    /// # Errors
    ///
    /// [`SequenceParamsError::Json`], [`SequenceParamsError::NotAnObject`],
    /// [`SequenceParamsError::UnknownKey`] or [`SequenceParamsError::WrongType`],
    /// naming the key.
    pub fn from_json(json: &str) -> Result<Self, SequenceParamsError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| SequenceParamsError::Json(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(SequenceParamsError::NotAnObject);
        };
        let mut p = Self::default();
        for (key, value) in &map {
            if value.is_null() {
                continue;
            }
            let int = || {
                value
                    .as_u64()
                    .and_then(|v| usize::try_from(v).ok())
                    .ok_or_else(|| SequenceParamsError::WrongType {
                        key: key.clone(),
                        expected: "a non-negative integer",
                        got: value.to_string(),
                    })
            };
            match key.as_str() {
                "vocab_size" => p.vocab_size = int()?,
                "embedding_dim" => p.embedding_dim = int()?,
                "hidden_dim" => p.hidden_dim = int()?,
                "num_layers" => p.num_layers = int()?,
                "epochs" => p.epochs = int()?,
                "batch_size" => p.batch_size = int()?,
                "max_seq_len" => p.max_seq_len = int()?,
                "max_sequences" => p.max_sequences = int()?,
                "seed" => {
                    p.seed =
                        value
                            .as_u64()
                            .ok_or_else(|| SequenceParamsError::WrongType {
                                key: key.clone(),
                                expected: "a non-negative integer",
                                got: value.to_string(),
                            })?;
                }
                "learning_rate" => {
                    p.learning_rate =
                        value
                            .as_f64()
                            .ok_or_else(|| SequenceParamsError::WrongType {
                                key: key.clone(),
                                expected: "a number",
                                got: value.to_string(),
                            })?;
                }
                _ => return Err(SequenceParamsError::UnknownKey { key: key.clone() }),
            }
        }
        Ok(p)
    }

    /// Validates every parameter.
    ///
    /// # Errors
    ///
    /// One [`SequenceParamsError`] variant per rule, naming the key.
    pub fn check(self) -> Result<SequenceValidParams, SequenceParamsError> {
        let ranges: [(&'static str, usize, usize, usize); 8] = [
            ("vocab_size", self.vocab_size, 4, MAX_VOCAB_SIZE),
            ("embedding_dim", self.embedding_dim, 1, MAX_DIM),
            ("hidden_dim", self.hidden_dim, 1, MAX_DIM),
            ("num_layers", self.num_layers, 1, MAX_LAYERS),
            ("epochs", self.epochs, 1, MAX_EPOCHS),
            ("batch_size", self.batch_size, 1, MAX_BATCH_SIZE),
            ("max_seq_len", self.max_seq_len, 1, MAX_SEQ_LEN_LIMIT),
            ("max_sequences", self.max_sequences, 1, MAX_SEQUENCES_LIMIT),
        ];
        for (key, got, min, max) in ranges {
            if !(min..=max).contains(&got) {
                return Err(SequenceParamsError::OutOfRange { key, got, min, max });
            }
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 10.0) {
            return Err(SequenceParamsError::InvalidLearningRate {
                learning_rate: self.learning_rate,
            });
        }
        let weights = weight_count(
            self.vocab_size,
            self.embedding_dim,
            self.hidden_dim,
            self.num_layers,
        );
        if weights > MAX_WEIGHTS {
            return Err(SequenceParamsError::TooManyWeights { weights });
        }
        Ok(SequenceValidParams(self))
    }
}

/// Trainable weights of a network of these sizes (saturating).
pub(crate) fn weight_count(
    vocab: usize,
    embed: usize,
    hidden: usize,
    layers: usize,
) -> usize {
    let gates = hidden.saturating_mul(4);
    let first = embed.saturating_add(hidden).saturating_mul(gates);
    let rest = hidden
        .saturating_mul(2)
        .saturating_mul(gates)
        .saturating_mul(layers.saturating_sub(1));
    vocab
        .saturating_mul(embed)
        .saturating_add(first)
        .saturating_add(rest)
        .saturating_add(gates.saturating_mul(layers))
        .saturating_add(hidden.saturating_mul(vocab))
        .saturating_add(vocab)
}

/// Checked sequence-model parameters; the only form that can train.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceValidParams(SequenceParams);

impl SequenceValidParams {
    /// Writes the parameters (length-prefixed canonical JSON) into a model or state.
    pub(crate) fn write_to(&self, w: &mut ByteWriter) {
        let json = self.to_json();
        w.u64(json.len() as u64);
        for b in json.bytes() {
            w.u8(b);
        }
    }

    /// Reads parameters written by [`SequenceValidParams::write_to`].
    ///
    /// # Errors
    /// Truncated input, bad UTF-8, or parameters that do not check.
    pub(crate) fn read_from(r: &mut ByteReader<'_>) -> Result<Self, DecodeError> {
        let n = r.count(1, "parameter length")?;
        let json: Vec<u8> = (0..n).map(|_| r.u8()).collect::<Result<_, _>>()?;
        let json =
            String::from_utf8(json).map_err(|_| invalid("parameters (not UTF-8)"))?;
        Self::from_json(&json).map_err(|e| invalid(format!("parameters: {e}")))
    }

    /// Output classes including the three reserved tokens.
    pub fn vocab_size(&self) -> usize {
        self.0.vocab_size
    }
    /// Embedding width.
    pub fn embedding_dim(&self) -> usize {
        self.0.embedding_dim
    }
    /// LSTM state width.
    pub fn hidden_dim(&self) -> usize {
        self.0.hidden_dim
    }
    /// LSTM layers.
    pub fn num_layers(&self) -> usize {
        self.0.num_layers
    }
    /// Training epochs.
    pub fn epochs(&self) -> usize {
        self.0.epochs
    }
    /// Sequences per step.
    pub fn batch_size(&self) -> usize {
        self.0.batch_size
    }
    /// Events kept per sequence.
    pub fn max_seq_len(&self) -> usize {
        self.0.max_seq_len
    }
    /// Adam step size.
    pub fn learning_rate(&self) -> f64 {
        self.0.learning_rate
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }
    /// Cap on the training set.
    pub fn max_sequences(&self) -> usize {
        self.0.max_sequences
    }

    /// Trainable weights of the network these parameters describe.
    pub fn weight_count(&self) -> usize {
        weight_count(
            self.0.vocab_size,
            self.0.embedding_dim,
            self.0.hidden_dim,
            self.0.num_layers,
        )
    }

    /// The unchecked parameters, e.g. to change one and check again.
    pub fn into_params(self) -> SequenceParams {
        self.0
    }

    /// Every parameter as a JSON object with the keys in [`CONFIG_KEYS`] order; reading
    /// it back with [`SequenceParams::from_json`] gives the same parameters.
    pub fn to_json(&self) -> String {
        let p = &self.0;
        format!(
            "{{\"vocab_size\":{},\"embedding_dim\":{},\"hidden_dim\":{},\"num_layers\":{},\
             \"epochs\":{},\"batch_size\":{},\"max_seq_len\":{},\"learning_rate\":{:?},\
             \"seed\":{},\"max_sequences\":{}}}",
            p.vocab_size,
            p.embedding_dim,
            p.hidden_dim,
            p.num_layers,
            p.epochs,
            p.batch_size,
            p.max_seq_len,
            p.learning_rate,
            p.seed,
            p.max_sequences
        )
    }

    /// Reads parameters written by [`SequenceValidParams::to_json`] and checks them.
    ///
    /// # Errors
    ///
    /// As [`SequenceParams::from_json`] and [`SequenceParams::check`].
    pub fn from_json(json: &str) -> Result<Self, SequenceParamsError> {
        SequenceParams::from_json(json)?.check()
    }
}

/// A sequence-model parameter that breaks a rule; every message names the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SequenceParamsError {
    /// The options are not valid JSON.
    #[error("options are not valid JSON: {0}")]
    Json(String),
    /// The options are JSON but not an object.
    #[error("options must be a JSON object such as {{\"epochs\": 5}}")]
    NotAnObject,
    /// A key this function does not know.
    #[error(
        "unknown key `{key}` (known keys: vocab_size, embedding_dim, hidden_dim, \
         num_layers, epochs, batch_size, max_seq_len, learning_rate, seed, max_sequences)"
    )]
    UnknownKey {
        /// The key given.
        key: String,
    },
    /// A value of the wrong JSON type.
    #[error("{key} must be {expected} (got {got})")]
    WrongType {
        /// The key.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// The JSON value given.
        got: String,
    },
    /// An integer outside its range.
    #[error("{key} must be between {min} and {max} (got {got})")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The value given.
        got: usize,
        /// Smallest accepted.
        min: usize,
        /// Largest accepted.
        max: usize,
    },
    /// `learning_rate` outside `(0, 10]` or not finite.
    #[error("learning_rate must be in (0, 10] (got {learning_rate})")]
    InvalidLearningRate {
        /// The value given.
        learning_rate: f64,
    },
    /// The network would have more than [`MAX_WEIGHTS`] weights.
    #[error(
        "vocab_size, embedding_dim, hidden_dim and num_layers give {weights} weights, \
         more than {MAX_WEIGHTS}"
    )]
    TooManyWeights {
        /// Weights the sizes imply.
        weights: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> SequenceParamsError {
        SequenceParams::from_json(json)
            .and_then(SequenceParams::check)
            .expect_err(json)
    }

    #[test]
    fn defaults_are_the_hunts_settings() {
        let p = SequenceParams::default()
            .check()
            .expect("defaults are valid");
        assert_eq!(
            (
                p.vocab_size(),
                p.embedding_dim(),
                p.hidden_dim(),
                p.num_layers(),
                p.epochs(),
                p.batch_size(),
                p.max_seq_len(),
                p.seed(),
                p.max_sequences()
            ),
            (30, 64, 256, 2, 10, 64, 128, 42, 100_000)
        );
        assert_eq!(p.learning_rate(), 0.001);
        // 30*64 + (64+256)*1024 + 512*1024 + 2*1024 + 256*30 + 30
        assert_eq!(p.weight_count(), 863_646);
    }

    #[test]
    fn json_overrides_defaults_and_round_trips() {
        let p = SequenceParams::from_json(
            r#"{"epochs": 3, "learning_rate": 0.01, "seed": 7, "hidden_dim": null}"#,
        )
        .expect("valid")
        .check()
        .expect("valid");
        assert_eq!((p.epochs(), p.seed(), p.hidden_dim()), (3, 7, 256));
        assert_eq!(p.learning_rate(), 0.01);
        let back = SequenceValidParams::from_json(&p.to_json()).expect("round trip");
        assert_eq!(back, p);
        assert_eq!(
            SequenceParams::from_json("{}").expect("empty object"),
            SequenceParams::default()
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err(r#"{"epoch": 3}"#);
        assert!(
            matches!(e, SequenceParamsError::UnknownKey { ref key } if key == "epoch")
        );
        assert!(e.to_string().starts_with("unknown key `epoch`"), "{e}");
    }

    #[test]
    fn options_must_be_a_json_object() {
        assert!(matches!(err("[1, 2]"), SequenceParamsError::NotAnObject));
        assert!(matches!(err("{epochs: 3"), SequenceParamsError::Json(_)));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = err(r#"{"epochs": "ten"}"#);
        assert_eq!(
            e.to_string(),
            "epochs must be a non-negative integer (got \"ten\")"
        );
        let e = err(r#"{"hidden_dim": 2.5}"#);
        assert!(e.to_string().starts_with("hidden_dim must be"), "{e}");
        let e = err(r#"{"seed": -1}"#);
        assert!(e.to_string().starts_with("seed must be"), "{e}");
        let e = err(r#"{"learning_rate": "fast"}"#);
        assert!(
            e.to_string().starts_with("learning_rate must be a number"),
            "{e}"
        );
    }

    #[test]
    fn every_integer_has_a_range() {
        for (json, key) in [
            (r#"{"vocab_size": 3}"#, "vocab_size"),
            (r#"{"vocab_size": 5000}"#, "vocab_size"),
            (r#"{"embedding_dim": 0}"#, "embedding_dim"),
            (r#"{"hidden_dim": 0}"#, "hidden_dim"),
            (r#"{"num_layers": 0}"#, "num_layers"),
            (r#"{"num_layers": 17}"#, "num_layers"),
            (r#"{"epochs": 0}"#, "epochs"),
            (r#"{"batch_size": 0}"#, "batch_size"),
            (r#"{"max_seq_len": 0}"#, "max_seq_len"),
            (r#"{"max_sequences": 0}"#, "max_sequences"),
        ] {
            let e = err(json);
            assert!(
                matches!(e, SequenceParamsError::OutOfRange { key: k, .. } if k == key),
                "{json}: {e}"
            );
            assert!(e.to_string().starts_with(key), "{e}");
        }
    }

    #[test]
    fn learning_rate_must_be_positive_and_finite() {
        for lr in [0.0, -0.1, 11.0, f64::NAN] {
            let e = SequenceParams::default()
                .learning_rate(lr)
                .check()
                .expect_err("rejected");
            assert!(matches!(e, SequenceParamsError::InvalidLearningRate { .. }));
        }
    }

    #[test]
    fn huge_networks_are_refused() {
        let e = err(r#"{"hidden_dim": 4096, "num_layers": 16}"#);
        assert!(
            matches!(e, SequenceParamsError::TooManyWeights { .. }),
            "{e}"
        );
    }
}
