//! Autoencoder hyper-parameters: the JSON options string of `autoencoder_fit`, parsed and
//! checked once, with an error naming the bad key.

use serde_json::{Map, Value};

/// Keys the options JSON accepts, in documentation order.
pub const KEYS: [&str; 13] = [
    "hidden",
    "activation",
    "output",
    "epochs",
    "batch_size",
    "learning_rate",
    "seed",
    "max_rows",
    "max_batches",
    "min_batches",
    "loss",
    "negatives",
    "use_gpu",
];

/// Largest accepted layer width.
pub const MAX_WIDTH: usize = 1 << 16;
/// Largest accepted number of hidden layers in the encoder.
pub const MAX_LAYERS: usize = 16;
/// Largest accepted `max_rows`.
pub const MAX_ROWS_LIMIT: usize = 10_000_000;
/// Largest accepted `epochs`.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest accepted `batch_size`.
pub const MAX_BATCH_SIZE: usize = 1 << 20;
/// Largest accepted `negatives`.
pub const MAX_NEGATIVES: usize = 4096;

/// Activation of every hidden layer (the latent code included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
}

/// Activation of the reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// Outputs in (0, 1): for min-max scaled features.
    Sigmoid,
    /// Unbounded outputs: for standardised features or TF-IDF weights.
    Linear,
}

impl Activation {
    /// The option value naming it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relu => "relu",
            Self::Tanh => "tanh",
            Self::Sigmoid => "sigmoid",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Relu => 0,
            Self::Tanh => 1,
            Self::Sigmoid => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        [Self::Relu, Self::Tanh, Self::Sigmoid]
            .into_iter()
            .find(|a| a.code() == code)
    }

    /// The activation of one value, as the scorer computes it on the CPU.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Self::Relu => x.max(0.0),
            Self::Tanh => x.tanh(),
            Self::Sigmoid => sigmoid(x),
        }
    }
}

impl Output {
    /// The option value naming it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Linear => "linear",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Sigmoid => 0,
            Self::Linear => 1,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        [Self::Sigmoid, Self::Linear]
            .into_iter()
            .find(|a| a.code() == code)
    }

    /// The output activation of one value.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Self::Sigmoid => sigmoid(x),
            Self::Linear => x,
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Unchecked autoencoder parameters; [`AutoencoderParams::check`] validates them.
///
/// Defaults are the AD-enumeration hunt's network (1000 → 256 → 32 → 256 → 1000 for a
/// 1000-wide input): see each field.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoencoderParams {
    /// Encoder layer widths; the decoder mirrors them. Default `[256, 32]`.
    pub hidden: Vec<usize>,
    /// Hidden activation. Default relu.
    pub activation: Activation,
    /// Output activation. Default sigmoid.
    pub output: Output,
    /// Passes over the training sample. Default 20.
    pub epochs: usize,
    /// Rows per optimiser step. Default 64.
    pub batch_size: usize,
    /// Adam learning rate. Default 0.001.
    pub learning_rate: f64,
    /// Seed of the sample, the initial weights, the shuffles and the negatives. Default 42.
    pub seed: u64,
    /// Cap on the training sample, in rows. Default 10 000.
    pub max_rows: usize,
    /// Cap on optimiser steps over all epochs. Default none.
    pub max_batches: Option<usize>,
    /// Floor on optimiser steps: small data sets (a few dozen rows make one batch per
    /// epoch) train for more epochs until this many steps are taken. Default none.
    pub min_batches: Option<usize>,
    /// Negative indices per sparse row (ignored for dense input). Default 16.
    pub negatives: usize,
    /// Train on the GPU. Default: the session setting `huntsman.use_gpu`.
    pub use_gpu: Option<bool>,
}

impl Default for AutoencoderParams {
    fn default() -> Self {
        Self {
            hidden: vec![256, 32],
            activation: Activation::Relu,
            output: Output::Sigmoid,
            epochs: 20,
            batch_size: 64,
            learning_rate: 0.001,
            seed: 42,
            max_rows: 10_000,
            max_batches: None,
            min_batches: None,
            negatives: 16,
            use_gpu: None,
        }
    }
}

/// Checked autoencoder parameters: the only form that trains.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoencoderValidParams(AutoencoderParams);

impl std::ops::Deref for AutoencoderValidParams {
    type Target = AutoencoderParams;
    fn deref(&self) -> &AutoencoderParams {
        &self.0
    }
}

/// A rejected autoencoder option; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutoencoderParamsError {
    /// The options string is not a JSON object.
    #[error("options must be a JSON object, e.g. {{\"hidden\": [64, 8]}} ({reason})")]
    NotAnObject {
        /// Why.
        reason: String,
    },
    /// A key this function does not know.
    #[error("unknown option `{key}` (expected one of {})", KEYS.join(", "))]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A value of the wrong type or out of range.
    #[error("option `{key}` {expected} (got {got})")]
    BadValue {
        /// The key.
        key: &'static str,
        /// What it must be.
        expected: String,
        /// The value found.
        got: String,
    },
}

fn bad(
    key: &'static str,
    expected: impl Into<String>,
    got: impl ToString,
) -> AutoencoderParamsError {
    AutoencoderParamsError::BadValue {
        key,
        expected: expected.into(),
        got: got.to_string(),
    }
}

fn int_in(
    key: &'static str,
    v: &Value,
    min: usize,
    max: usize,
) -> Result<usize, AutoencoderParamsError> {
    let expected = format!("must be an integer in {min}..={max}");
    let n = v.as_u64().ok_or_else(|| bad(key, &expected, v))?;
    usize::try_from(n)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| bad(key, &expected, v))
}

impl AutoencoderParams {
    /// Parses the options JSON. An empty string means all defaults.
    ///
    /// # Errors
    /// Not a JSON object, an unknown key, or a value of the wrong type; the message names
    /// the key.
    pub fn from_json(json: &str) -> Result<Self, AutoencoderParamsError> {
        let mut p = Self::default();
        if json.trim().is_empty() {
            return Ok(p);
        }
        let map: Map<String, Value> = match serde_json::from_str(json) {
            Ok(Value::Object(m)) => m,
            Ok(other) => {
                return Err(AutoencoderParamsError::NotAnObject {
                    reason: format!("got {other}"),
                });
            }
            Err(e) => {
                return Err(AutoencoderParamsError::NotAnObject {
                    reason: e.to_string(),
                });
            }
        };
        for (key, v) in &map {
            match key.as_str() {
                "hidden" => {
                    let expected = format!(
                        "must be a non-empty array of at most {MAX_LAYERS} layer widths in \
                         1..={MAX_WIDTH}"
                    );
                    let items =
                        v.as_array().ok_or_else(|| bad("hidden", &expected, v))?;
                    p.hidden = items
                        .iter()
                        .map(|w| int_in("hidden", w, 1, MAX_WIDTH))
                        .collect::<Result<_, _>>()
                        .map_err(|_| bad("hidden", &expected, v))?;
                }
                "activation" => {
                    p.activation = match v.as_str() {
                        Some("relu") => Activation::Relu,
                        Some("tanh") => Activation::Tanh,
                        Some("sigmoid") => Activation::Sigmoid,
                        _ => {
                            return Err(bad(
                                "activation",
                                "must be relu, tanh or sigmoid",
                                v,
                            ));
                        }
                    }
                }
                "output" => {
                    p.output = match v.as_str() {
                        Some("sigmoid") => Output::Sigmoid,
                        Some("linear") => Output::Linear,
                        _ => return Err(bad("output", "must be sigmoid or linear", v)),
                    }
                }
                "epochs" => p.epochs = int_in("epochs", v, 1, MAX_EPOCHS)?,
                "batch_size" => {
                    p.batch_size = int_in("batch_size", v, 1, MAX_BATCH_SIZE)?
                }
                "learning_rate" => {
                    p.learning_rate = v
                        .as_f64()
                        .ok_or_else(|| bad("learning_rate", "must be a number", v))?;
                }
                "seed" => {
                    p.seed = v.as_u64().ok_or_else(|| {
                        bad("seed", "must be a non-negative integer", v)
                    })?;
                }
                "max_rows" => p.max_rows = int_in("max_rows", v, 1, MAX_ROWS_LIMIT)?,
                "max_batches" => {
                    p.max_batches = match v {
                        Value::Null => None,
                        v => Some(int_in("max_batches", v, 1, usize::MAX)?),
                    }
                }
                "min_batches" => {
                    p.min_batches = match v {
                        Value::Null => None,
                        v => Some(int_in("min_batches", v, 1, 10_000_000)?),
                    }
                }
                "loss" => {
                    if v.as_str() != Some("mse") {
                        return Err(bad("loss", "must be mse", v));
                    }
                }
                "negatives" => p.negatives = int_in("negatives", v, 1, MAX_NEGATIVES)?,
                "use_gpu" => {
                    p.use_gpu = match v {
                        Value::Null => None,
                        Value::Bool(b) => Some(*b),
                        v => return Err(bad("use_gpu", "must be true or false", v)),
                    }
                }
                _ => return Err(AutoencoderParamsError::UnknownKey { key: key.clone() }),
            }
        }
        Ok(p)
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// The first rule broken, naming the option.
    pub fn check(self) -> Result<AutoencoderValidParams, AutoencoderParamsError> {
        let hidden = format!("{:?}", self.hidden);
        if self.hidden.is_empty()
            || self.hidden.len() > MAX_LAYERS
            || self.hidden.iter().any(|&w| w == 0 || w > MAX_WIDTH)
        {
            return Err(bad(
                "hidden",
                format!(
                    "must be a non-empty array of at most {MAX_LAYERS} layer widths in \
                     1..={MAX_WIDTH}"
                ),
                hidden,
            ));
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(bad(
                "epochs",
                format!("must be in 1..={MAX_EPOCHS}"),
                self.epochs,
            ));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(bad(
                "batch_size",
                format!("must be in 1..={MAX_BATCH_SIZE}"),
                self.batch_size,
            ));
        }
        if !(self.learning_rate.is_finite()
            && self.learning_rate > 0.0
            && self.learning_rate <= 10.0)
        {
            return Err(bad(
                "learning_rate",
                "must be a number in (0, 10]",
                self.learning_rate,
            ));
        }
        if !(1..=MAX_ROWS_LIMIT).contains(&self.max_rows) {
            return Err(bad(
                "max_rows",
                format!("must be in 1..={MAX_ROWS_LIMIT}"),
                self.max_rows,
            ));
        }
        if self.max_batches == Some(0) {
            return Err(bad("max_batches", "must be at least 1", 0));
        }
        if !(1..=MAX_NEGATIVES).contains(&self.negatives) {
            return Err(bad(
                "negatives",
                format!("must be in 1..={MAX_NEGATIVES}"),
                self.negatives,
            ));
        }
        Ok(AutoencoderValidParams(self))
    }

    /// The parameters as canonical JSON (every key, fixed order), as recorded in the model
    /// and in partial states. `use_gpu` is left out when unset.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("hidden".into(), Value::from(self.hidden.clone()));
        m.insert("activation".into(), Value::from(self.activation.name()));
        m.insert("output".into(), Value::from(self.output.name()));
        m.insert("epochs".into(), Value::from(self.epochs));
        m.insert("batch_size".into(), Value::from(self.batch_size));
        m.insert("learning_rate".into(), Value::from(self.learning_rate));
        m.insert("seed".into(), Value::from(self.seed));
        m.insert("max_rows".into(), Value::from(self.max_rows));
        m.insert(
            "max_batches".into(),
            self.max_batches.map_or(Value::Null, Value::from),
        );
        if let Some(min) = self.min_batches {
            m.insert("min_batches".into(), Value::from(min));
        }
        m.insert("loss".into(), Value::from("mse"));
        m.insert("negatives".into(), Value::from(self.negatives));
        if let Some(g) = self.use_gpu {
            m.insert("use_gpu".into(), Value::from(g));
        }
        Value::Object(m).to_string()
    }
}

impl AutoencoderValidParams {
    /// The checked parameters.
    pub fn params(&self) -> &AutoencoderParams {
        &self.0
    }
}

/// Adds `"use_gpu": true` to an options JSON string that does not set `use_gpu`; the SQL
/// layer uses it to carry the session setting into the plan. Returns `None` when the
/// string already sets it or is not a JSON object.
pub fn with_use_gpu(json: &str) -> Option<String> {
    let mut map: Map<String, Value> = if json.trim().is_empty() {
        Map::new()
    } else {
        match serde_json::from_str(json) {
            Ok(Value::Object(m)) => m,
            _ => return None,
        }
    };
    if map.contains_key("use_gpu") {
        return None;
    }
    map.insert("use_gpu".into(), Value::Bool(true));
    Some(Value::Object(map).to_string())
}

/// Checked parameters from JSON, for the module's tests.
#[cfg(test)]
pub(crate) fn test_params(json: &str) -> AutoencoderValidParams {
    AutoencoderParams::from_json(json)
        .and_then(AutoencoderParams::check)
        .expect("valid test params")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match AutoencoderParams::from_json(json).and_then(|p| p.check()) {
            Ok(p) => panic!("{json} was accepted: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_are_the_ad_hunt_network() {
        let p = AutoencoderParams::from_json("").expect("empty is defaults");
        assert_eq!(p, AutoencoderParams::default());
        assert_eq!(p.hidden, vec![256, 32]);
        assert_eq!((p.epochs, p.batch_size, p.learning_rate), (20, 64, 0.001));
        assert_eq!(p.activation, Activation::Relu);
        assert_eq!(p.output, Output::Sigmoid);
        assert!(
            AutoencoderParams::from_json("{}")
                .expect("ok")
                .check()
                .is_ok()
        );
    }

    #[test]
    fn every_key_parses() {
        let p = AutoencoderParams::from_json(
            r#"{"hidden": [8, 3], "activation": "tanh", "output": "linear", "epochs": 50,
                "batch_size": 16, "learning_rate": 0.01, "seed": 7, "max_rows": 500,
                "max_batches": 100, "loss": "mse", "negatives": 4, "use_gpu": false}"#,
        )
        .expect("valid");
        assert_eq!(p.hidden, vec![8, 3]);
        assert_eq!(p.activation, Activation::Tanh);
        assert_eq!(p.output, Output::Linear);
        assert_eq!(
            (p.epochs, p.batch_size, p.seed, p.max_rows),
            (50, 16, 7, 500)
        );
        assert_eq!(p.max_batches, Some(100));
        assert_eq!(p.negatives, 4);
        assert_eq!(p.use_gpu, Some(false));
        let again = AutoencoderParams::from_json(&p.to_json()).expect("round trip");
        assert_eq!(again, p);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err(r#"{"epochs": 2, "hiden": [4]}"#);
        assert!(e.starts_with("unknown option `hiden`"), "{e}");
        assert!(e.contains("hidden, activation"), "{e}");
    }

    #[test]
    fn not_an_object_is_rejected() {
        assert!(err("[1, 2]").contains("must be a JSON object"));
        assert!(err("{epochs: 2}").contains("must be a JSON object"));
    }

    #[test]
    fn hidden_must_be_positive_widths() {
        assert!(err(r#"{"hidden": []}"#).starts_with("option `hidden`"));
        assert!(err(r#"{"hidden": [4, 0]}"#).starts_with("option `hidden`"));
        assert!(err(r#"{"hidden": "4"}"#).starts_with("option `hidden`"));
    }

    #[test]
    fn activations_are_named() {
        assert!(err(r#"{"activation": "gelu"}"#).starts_with("option `activation`"));
        assert!(err(r#"{"output": "relu"}"#).starts_with("option `output`"));
    }

    #[test]
    fn counts_must_be_positive_integers() {
        assert_eq!(
            err(r#"{"epochs": 0}"#),
            "option `epochs` must be an integer in 1..=100000 (got 0)"
        );
        assert!(err(r#"{"epochs": "x"}"#).contains("(got \"x\")"));
        assert!(err(r#"{"batch_size": 1.5}"#).starts_with("option `batch_size`"));
        assert!(err(r#"{"max_rows": -1}"#).starts_with("option `max_rows`"));
        assert!(err(r#"{"max_batches": 0}"#).starts_with("option `max_batches`"));
        assert!(err(r#"{"negatives": 0}"#).starts_with("option `negatives`"));
        assert!(err(r#"{"seed": -3}"#).starts_with("option `seed`"));
    }

    #[test]
    fn learning_rate_must_be_positive() {
        assert!(err(r#"{"learning_rate": 0}"#).starts_with("option `learning_rate`"));
        assert!(
            err(r#"{"learning_rate": "fast"}"#).starts_with("option `learning_rate`")
        );
    }

    #[test]
    fn loss_must_be_mse_and_use_gpu_a_bool() {
        assert!(err(r#"{"loss": "mae"}"#).starts_with("option `loss`"));
        assert!(err(r#"{"use_gpu": "yes"}"#).starts_with("option `use_gpu`"));
    }

    #[test]
    fn with_use_gpu_only_adds_a_missing_key() {
        let j = with_use_gpu(r#"{"epochs": 2}"#).expect("added");
        let p = AutoencoderParams::from_json(&j).expect("valid");
        assert_eq!((p.epochs, p.use_gpu), (2, Some(true)));
        assert_eq!(with_use_gpu(r#"{"use_gpu": false}"#), None);
        assert!(with_use_gpu("").is_some());
        assert_eq!(with_use_gpu("nope"), None);
    }
}
