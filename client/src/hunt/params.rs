//! Every hunt parameter of HUNTS.md, with its default, read from the environment (and
//! `.env`), then overridden by `--set NAME=VALUE` flags.
//!
//! The names are the original notebooks' variable names, so a hunter's existing `.env`
//! keeps working. Values are typed and checked before any query runs; SQL files refer to
//! them as `${NAME}` and get a correctly quoted literal.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result, bail};

/// The type of a parameter's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A whole number, at least the given minimum.
    Int(i64),
    /// A finite number, at least the given minimum.
    Float(f64),
    /// A share: a number from 0 to 1.
    Share,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    Bool,
    /// Free text.
    Text,
}

/// One parameter: name, default, type and meaning.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// Environment variable and `${NAME}` placeholder.
    pub name: &'static str,
    /// The default, as text.
    pub default: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The hunts that read it (`all` for shared settings).
    pub hunts: &'static str,
    /// What it does.
    pub help: &'static str,
}

const fn p(
    name: &'static str,
    default: &'static str,
    kind: Kind,
    hunts: &'static str,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        default,
        kind,
        hunts,
        help,
    }
}

const INT: Kind = Kind::Int(1);
const INT0: Kind = Kind::Int(0);
const POS: Kind = Kind::Float(0.0);

/// Every parameter, in the order `huntsman hunt --list-params` prints them.
pub const PARAMS: &[ParamSpec] = &[
    p(
        "BASE_S3_PATH",
        crate::hunt::store::DEFAULT_BASE_S3_PATH,
        Kind::Text,
        "all",
        "Root of stored results and models (a folder; s3:// arrives with object storage).",
    ),
    p("TOP_N", "20", INT, "all", "Findings printed per hunt."),
    p(
        "USE_GPU",
        "false",
        Kind::Bool,
        "all",
        "Train and score neural models on the GPU (needs a cuda build).",
    ),
    p(
        "AD_WEEK_BUCKET_SIZE_DAYS",
        "7",
        INT,
        "ad-enum-kmeans,ad-enum-autoencoder",
        "Days per (user, week) bucket, counted from the earliest event.",
    ),
    p(
        "AD_TFIDF_NUM_FEATURES",
        "2000",
        INT,
        "ad-enum-kmeans",
        "Hashed term-frequency dimensions of the LDAP queries.",
    ),
    p(
        "AD_KMEANS_K",
        "4",
        INT,
        "ad-enum-kmeans",
        "Number of k-means clusters.",
    ),
    p(
        "AD_KMEANS_SEED",
        "42",
        INT0,
        "ad-enum-kmeans",
        "k-means seed.",
    ),
    p(
        "AD_PERSISTENT_MIN_WEEKS",
        "2",
        INT,
        "ad-enum-kmeans",
        "Flagged weeks that make a user persistent.",
    ),
    p(
        "AD_OUTLIER_Z",
        "3.5",
        POS,
        "ad-enum-kmeans",
        "Flag an (account, week) whose cluster-based outlier score lies more than this many robust standard deviations (1.4826 MAD) above the median.",
    ),
    p(
        "AD_DL_TFIDF_NUM_FEATURES",
        "1000",
        INT,
        "ad-enum-autoencoder",
        "Hashed term-frequency dimensions (autoencoder input).",
    ),
    p(
        "AD_DL_AUTOENCODER_INPUT_DIM",
        "1000",
        INT,
        "ad-enum-autoencoder",
        "Autoencoder input width (must equal AD_DL_TFIDF_NUM_FEATURES).",
    ),
    p(
        "AD_DL_AUTOENCODER_HIDDEN_DIM",
        "256",
        INT,
        "ad-enum-autoencoder",
        "Hidden layer width.",
    ),
    p(
        "AD_DL_AUTOENCODER_LATENT_DIM",
        "32",
        INT,
        "ad-enum-autoencoder",
        "Latent width.",
    ),
    p(
        "AD_DL_AUTOENCODER_LEARNING_RATE",
        "0.001",
        POS,
        "ad-enum-autoencoder",
        "Adam learning rate.",
    ),
    p(
        "AD_DL_AUTOENCODER_NUM_EPOCHS",
        "20",
        INT,
        "ad-enum-autoencoder",
        "Training epochs.",
    ),
    p(
        "AD_DL_AUTOENCODER_BATCH_SIZE",
        "64",
        INT,
        "ad-enum-autoencoder",
        "Mini-batch size.",
    ),
    p(
        "AD_DL_ANOMALY_THRESHOLD",
        "0.02",
        POS,
        "ad-enum-autoencoder",
        "Reconstruction MSE above which a user-week is flagged (the original's 0.01 was for raw term counts; with term presence the MSE is about the share of the 1000 columns the model cannot explain).",
    ),
    p(
        "C2_KMEANS_K",
        "50",
        INT,
        "c2-beacon",
        "k-means clusters of the timing features.",
    ),
    p(
        "C2_KMEANS_SEED",
        "42",
        INT0,
        "c2-beacon",
        "k-means and autoencoder seed.",
    ),
    p(
        "C2_MIN_CONNECTIONS",
        "3",
        INT,
        "c2-beacon",
        "Fewest connections an entity needs to be scored (the original kept more than 2).",
    ),
    p(
        "C2_AUTOENCODER_INPUT_DIM",
        "10",
        INT,
        "c2-beacon",
        "Autoencoder input width (timing plus context features).",
    ),
    p(
        "C2_AUTOENCODER_HIDDEN_DIM",
        "8",
        INT,
        "c2-beacon",
        "Hidden layer width.",
    ),
    p(
        "C2_AUTOENCODER_LATENT_DIM",
        "3",
        INT,
        "c2-beacon",
        "Latent width.",
    ),
    p(
        "C2_AUTOENCODER_NUM_EPOCHS",
        "50",
        INT,
        "c2-beacon",
        "Training epochs.",
    ),
    p(
        "C2_AUTOENCODER_BATCH_SIZE",
        "64",
        INT,
        "c2-beacon",
        "Mini-batch size.",
    ),
    p(
        "C2_AUTOENCODER_LEARNING_RATE",
        "0.001",
        POS,
        "c2-beacon",
        "Adam learning rate.",
    ),
    p(
        "C2_BEACON_SCORE_THRESHOLD",
        "0.8",
        POS,
        "c2-beacon",
        "The original's flag: beacon_score above this sets beacon_flag.",
    ),
    p(
        "C2_SCORE_THRESHOLD",
        "0.3",
        POS,
        "c2-beacon",
        "Flag above this c2_score: regularity x support x prevalence modifier x (0.5 + beacon_score / 4).",
    ),
    p(
        "C2_PREVALENCE_WEIGHT",
        "0.75",
        Kind::Share,
        "c2-beacon",
        "Prevalence modifier = 1 - this x the share of other hosts running the same program to the same destination; at 0.75 a pair on every host stays under C2_SCORE_THRESHOLD.",
    ),
    p(
        "C2_BEACON_THRESHOLD_LOW",
        "0.8",
        POS,
        "c2-beacon",
        "Lower bound of the mean-interval filter band, seconds.",
    ),
    p(
        "C2_BEACON_THRESHOLD_HIGH",
        "8.0",
        POS,
        "c2-beacon",
        "Upper bound of the mean-interval filter band, seconds.",
    ),
    p(
        "C2_INTERVAL_FILTER",
        "false",
        Kind::Bool,
        "c2-beacon",
        "Keep only entities whose mean interval lies in the band.",
    ),
    p(
        "PROCESS_MAX_SEQ_LEN",
        "128",
        INT,
        "process-anomaly",
        "Longest event sequence per process (time order).",
    ),
    p(
        "PROCESS_VOCAB_SIZE",
        "30",
        INT,
        "process-anomaly",
        "Event-id vocabulary of the sequence model.",
    ),
    p(
        "PROCESS_EMBEDDING_DIM",
        "64",
        INT,
        "process-anomaly",
        "Embedding width.",
    ),
    p(
        "PROCESS_HIDDEN_DIM",
        "256",
        INT,
        "process-anomaly",
        "LSTM hidden width.",
    ),
    p(
        "PROCESS_NUM_LAYERS",
        "2",
        INT,
        "process-anomaly",
        "LSTM layers.",
    ),
    p(
        "PROCESS_NUM_EPOCHS",
        "10",
        INT,
        "process-anomaly",
        "Training epochs.",
    ),
    p(
        "PROCESS_AUTOENCODER_BATCH_SIZE",
        "64",
        INT,
        "process-anomaly",
        "Mini-batch size of the sequence model.",
    ),
    p(
        "PROCESS_MAX_SEQUENCES",
        "256",
        INT,
        "process-anomaly",
        "Distinct sequences the sequence model trains on (a seeded subset), and draws per epoch; bounds its training time.",
    ),
    p(
        "PROCESS_IF_N_ESTIMATORS",
        "100",
        INT,
        "process-anomaly",
        "Isolation-forest trees.",
    ),
    p(
        "PROCESS_IF_CONTAMINATION",
        "0.05",
        POS,
        "process-anomaly",
        "Expected share of anomalies (sets the forest's threshold).",
    ),
    p(
        "PROCESS_IF_RANDOM_STATE",
        "42",
        INT0,
        "process-anomaly",
        "Isolation-forest seed.",
    ),
    p(
        "PROCESS_SEQ_WEIGHT",
        "0.3",
        POS,
        "process-anomaly",
        "Weight of the normalised sequence score.",
    ),
    p(
        "PROCESS_IFOREST_WEIGHT",
        "0.3",
        POS,
        "process-anomaly",
        "Weight of the isolation-forest score.",
    ),
    p(
        "PROCESS_RARITY_WEIGHT",
        "3.0",
        POS,
        "process-anomaly",
        "Weight of the image-rarity boost.",
    ),
    p(
        "PROCESS_FINAL_ANOMALY_THRESHOLD",
        "3.3",
        POS,
        "process-anomaly",
        "The original's flag: final_score above this sets final_flag.",
    ),
    p(
        "PROCESS_SCORE_THRESHOLD",
        "0.2",
        POS,
        "process-anomaly",
        "Flag above this pa_score: 1 / processes sharing the lineage x (0.5 + behaviour / 2).",
    ),
    p(
        "WS_WINDOW_DURATION",
        "60",
        INT,
        "widespread-attack",
        "Sliding-window length, minutes.",
    ),
    p(
        "WS_WINDOW_SLIDE",
        "10",
        INT,
        "widespread-attack",
        "Sliding-window slide, minutes.",
    ),
    p(
        "WS_VICTIM_MIN_COUNT",
        "2",
        INT,
        "widespread-attack",
        "Fewest distinct private destinations per (window, source).",
    ),
    p(
        "WS_ATTRIBUTION_MINUTES",
        "5",
        INT,
        "widespread-attack",
        "An action is attributed to the source whose connection to its host preceded it by at most this many minutes.",
    ),
    p(
        "WS_TFIDF_NUM_FEATURES",
        "262144",
        INT,
        "widespread-attack",
        "Hashed text dimensions (sparse).",
    ),
    p(
        "WS_NORMAL_SAMPLE_FRACTION",
        "0.05",
        POS,
        "widespread-attack",
        "Share of normal activity the autoencoder trains on.",
    ),
    p(
        "WS_MIN_TRAINING_ACTIONS",
        "1000",
        INT,
        "widespread-attack",
        "Fewest actions the autoencoder trains on: a smaller share than WS_NORMAL_SAMPLE_FRACTION grows to this many (all actions of a small data set).",
    ),
    p(
        "WS_AUTOENCODER_LATENT_DIM",
        "64",
        INT,
        "widespread-attack",
        "Latent width.",
    ),
    p(
        "WS_AUTOENCODER_LEARNING_RATE",
        "0.01",
        POS,
        "widespread-attack",
        "Adam learning rate.",
    ),
    p(
        "WS_AUTOENCODER_BATCH_SIZE",
        "64",
        INT,
        "widespread-attack",
        "Mini-batch size.",
    ),
    p(
        "WS_AUTOENCODER_MAX_BATCHES",
        "1000",
        INT,
        "widespread-attack",
        "Most optimiser steps.",
    ),
    p(
        "WS_ANOMALY_THRESHOLD",
        "10.0",
        POS,
        "widespread-attack",
        "Reconstruction error above which an action is anomalous.",
    ),
    p(
        "WS_CAMPAIGN_MIN_WINDOWS",
        "1",
        INT0,
        "widespread-attack",
        "A campaign needs more windows than this.",
    ),
    p(
        "WS_CAMPAIGN_MIN_TARGETS",
        "2",
        INT0,
        "widespread-attack",
        "A campaign needs more target hosts than this.",
    ),
    p(
        "WS_CAMPAIGN_MIN_ACTIONS",
        "2",
        INT0,
        "widespread-attack",
        "A campaign needs more distinct anomalous commands (process creations) than this.",
    ),
];

/// A checked parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Whole number.
    Int(i64),
    /// Number.
    Float(f64),
    /// Flag.
    Bool(bool),
    /// Text.
    Text(String),
}

impl Value {
    /// The value as a SQL literal (text quoted, quotes doubled).
    pub fn sql_literal(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Float(v) => format!("{v:?}"),
            Value::Bool(v) => v.to_string(),
            Value::Text(v) => format!("'{}'", v.replace('\'', "''")),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Text(v) => f.write_str(v),
        }
    }
}

/// Where a value came from, for the run manifest and `--list-params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The environment or `.env`.
    Env,
    /// A `--set` flag.
    Flag,
}

/// Every parameter's checked value.
#[derive(Debug, Clone)]
pub struct Params {
    values: BTreeMap<&'static str, (Value, Origin)>,
}

fn parse(spec: &ParamSpec, text: &str) -> Result<Value> {
    let text = text.trim();
    let value = match spec.kind {
        Kind::Int(min) => {
            let v: i64 = text.parse().with_context(|| {
                format!("{} must be a whole number, got {text:?}", spec.name)
            })?;
            if v < min {
                bail!("{} must be at least {min}, got {v}", spec.name);
            }
            Value::Int(v)
        }
        Kind::Float(min) => {
            let v: f64 = text.parse().with_context(|| {
                format!("{} must be a number, got {text:?}", spec.name)
            })?;
            if !v.is_finite() || v < min {
                bail!(
                    "{} must be a finite number of at least {min}, got {text}",
                    spec.name
                );
            }
            Value::Float(v)
        }
        Kind::Share => {
            let v: f64 = text.parse().with_context(|| {
                format!("{} must be a number from 0 to 1, got {text:?}", spec.name)
            })?;
            if !(0.0..=1.0).contains(&v) {
                bail!("{} must be a number from 0 to 1, got {text}", spec.name);
            }
            Value::Float(v)
        }
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => bail!("{} must be true or false, got {text:?}", spec.name),
        },
        Kind::Text => Value::Text(text.to_string()),
    };
    Ok(value)
}

impl Params {
    /// Defaults, then the environment (`env` looks a name up), then `--set` pairs.
    ///
    /// # Errors
    /// An unknown name in `--set`, or a value of the wrong type or range, named.
    pub fn resolve(
        env: impl Fn(&str) -> Option<String>,
        sets: &[String],
    ) -> Result<Self> {
        let mut values = BTreeMap::new();
        for spec in PARAMS {
            let (text, origin) = match env(spec.name) {
                Some(v) => (v, Origin::Env),
                None => (spec.default.to_string(), Origin::Default),
            };
            let value = parse(spec, &text).with_context(|| match origin {
                Origin::Env => format!("environment variable {}", spec.name),
                _ => format!("default of {}", spec.name),
            })?;
            values.insert(spec.name, (value, origin));
        }
        for set in sets {
            let Some((name, text)) = set.split_once('=') else {
                bail!("--set {set:?}: expected NAME=VALUE");
            };
            let name = name.trim();
            let Some(spec) = PARAMS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
            else {
                bail!(
                    "--set {name}: no such parameter (see `huntsman hunt --list-params`)"
                );
            };
            let value = parse(spec, text).with_context(|| format!("--set {name}"))?;
            values.insert(spec.name, (value, Origin::Flag));
        }
        Ok(Self { values })
    }

    /// Defaults, then the process environment (and `.env`, already loaded into it; an
    /// empty variable counts as unset), then `--set` pairs.
    ///
    /// # Errors
    /// As [`Params::resolve`].
    pub fn from_env(sets: &[String]) -> Result<Self> {
        Self::resolve(
            |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            sets,
        )
    }

    /// Defaults only (tests, docs).
    pub fn defaults() -> Self {
        let mut values = BTreeMap::new();
        for spec in PARAMS {
            if let Ok(v) = parse(spec, spec.default) {
                values.insert(spec.name, (v, Origin::Default));
            }
        }
        Self { values }
    }

    /// The value of `name`, if it is a parameter.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// A whole-number parameter.
    ///
    /// # Errors
    /// `name` is not a whole-number parameter.
    pub fn int(&self, name: &str) -> Result<i64> {
        match self.get(name) {
            Some(Value::Int(v)) => Ok(*v),
            _ => bail!("internal: {name} is not a whole-number parameter"),
        }
    }

    /// A number parameter.
    ///
    /// # Errors
    /// `name` is not a number parameter.
    pub fn float(&self, name: &str) -> Result<f64> {
        match self.get(name) {
            Some(Value::Float(v)) => Ok(*v),
            Some(Value::Int(v)) => Ok(*v as f64),
            _ => bail!("internal: {name} is not a number parameter"),
        }
    }

    /// A flag parameter.
    ///
    /// # Errors
    /// `name` is not a flag.
    pub fn flag(&self, name: &str) -> Result<bool> {
        match self.get(name) {
            Some(Value::Bool(v)) => Ok(*v),
            _ => bail!("internal: {name} is not a flag parameter"),
        }
    }

    /// A text parameter.
    ///
    /// # Errors
    /// `name` is not a text parameter.
    pub fn text(&self, name: &str) -> Result<&str> {
        match self.get(name) {
            Some(Value::Text(v)) => Ok(v),
            _ => bail!("internal: {name} is not a text parameter"),
        }
    }

    /// The parameters a hunt reads, with their values and origins, for its manifest.
    pub fn for_hunt(&self, hunt: &str) -> BTreeMap<String, serde_json::Value> {
        PARAMS
            .iter()
            .filter(|s| s.hunts == "all" || s.hunts.split(',').any(|h| h == hunt))
            .filter_map(|s| {
                let (v, origin) = self.values.get(s.name)?;
                let value = match v {
                    Value::Int(i) => serde_json::json!(i),
                    Value::Float(f) => serde_json::json!(f),
                    Value::Bool(b) => serde_json::json!(b),
                    Value::Text(t) => serde_json::json!(t),
                };
                Some((
                    s.name.to_string(),
                    serde_json::json!({"value": value, "origin": origin}),
                ))
            })
            .collect()
    }

    /// Replaces every `${NAME}` in `sql` with the parameter's SQL literal, or with an
    /// entry of `extra` (already a literal).
    ///
    /// # Errors
    /// A placeholder that names no parameter, or an unclosed `${`.
    pub fn render(&self, sql: &str, extra: &BTreeMap<String, String>) -> Result<String> {
        let mut out = String::with_capacity(sql.len());
        let mut rest = sql;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                bail!(
                    "unclosed ${{ in SQL near {:?}",
                    &rest[start..(start + 30).min(rest.len())]
                );
            };
            let name = &after[..end];
            if let Some(literal) = extra.get(name) {
                out.push_str(literal);
            } else if let Some(v) = self.get(name) {
                out.push_str(&v.sql_literal());
            } else {
                bail!("SQL placeholder ${{{name}}} names no parameter");
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The table `--list-params` prints.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for spec in PARAMS {
            let (value, origin) = self
                .values
                .get(spec.name)
                .map_or(("?".to_string(), Origin::Default), |(v, o)| {
                    (v.to_string(), *o)
                });
            let marker = match origin {
                Origin::Default => "",
                Origin::Env => " (env)",
                Origin::Flag => " (--set)",
            };
            out.push_str(&format!(
                "{:<34} {:<16} {}\n{:<34} {}\n",
                spec.name,
                format!("{value}{marker}"),
                spec.hunts,
                "",
                spec.help
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_names_are_unique() {
        let params = Params::defaults();
        assert_eq!(params.values.len(), PARAMS.len());
        assert_eq!(params.int("AD_KMEANS_K").unwrap(), 4);
        assert_eq!(params.float("C2_BEACON_SCORE_THRESHOLD").unwrap(), 0.8);
        assert!(!params.flag("USE_GPU").unwrap());
    }

    #[test]
    fn flags_beat_env_beats_defaults() {
        let env = |name: &str| match name {
            "AD_KMEANS_K" => Some("6".to_string()),
            "C2_KMEANS_K" => Some("9".to_string()),
            _ => None,
        };
        let params = Params::resolve(env, &["ad_kmeans_k=8".to_string()]).unwrap();
        assert_eq!(params.int("AD_KMEANS_K").unwrap(), 8);
        assert_eq!(params.int("C2_KMEANS_K").unwrap(), 9);
        assert_eq!(params.int("AD_KMEANS_SEED").unwrap(), 42);
        let manifest = params.for_hunt("c2-beacon");
        assert_eq!(manifest["C2_KMEANS_K"]["origin"], "env");
        assert!(!manifest.contains_key("AD_KMEANS_K"));
    }

    #[test]
    fn bad_values_are_named() {
        let none = |_: &str| None;
        let err = Params::resolve(none, &["AD_KMEANS_K=zero".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("AD_KMEANS_K"), "{err:#}");
        let err = Params::resolve(none, &["AD_KMEANS_K=0".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("at least 1"), "{err:#}");
        let err = Params::resolve(none, &["NOPE=1".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("no such parameter"), "{err:#}");
        for bad in ["1.5", "-0.1", "NaN"] {
            let set = format!("C2_PREVALENCE_WEIGHT={bad}");
            let err = Params::resolve(none, &[set]).unwrap_err();
            assert!(format!("{err:#}").contains("from 0 to 1"), "{bad}: {err:#}");
        }
        let params = Params::resolve(none, &["C2_PREVALENCE_WEIGHT=1".into()]).unwrap();
        assert_eq!(params.float("C2_PREVALENCE_WEIGHT").unwrap(), 1.0);
        let env = |n: &str| (n == "USE_GPU").then(|| "maybe".to_string());
        let err = Params::resolve(env, &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("environment variable USE_GPU"),
            "{err:#}"
        );
    }

    #[test]
    fn render_quotes_text_and_refuses_unknown_placeholders() {
        let params =
            Params::resolve(|n| (n == "BASE_S3_PATH").then(|| "it's".to_string()), &[])
                .unwrap();
        let mut extra = BTreeMap::new();
        extra.insert("MODEL".to_string(), "'m.hntm'".to_string());
        let sql = params
            .render("SELECT ${AD_KMEANS_K}, ${BASE_S3_PATH}, ${MODEL}", &extra)
            .unwrap();
        assert_eq!(sql, "SELECT 4, 'it''s', 'm.hntm'");
        assert!(params.render("SELECT ${NOPE}", &extra).is_err());
        assert!(params.render("SELECT ${AD", &extra).is_err());
    }
}
