//! Hunt parameters, with their defaults, read from the environment (and `.env`), then
//! overridden by `--set NAME=VALUE` flags.
//!
//! Three settings are the CLI's own ([`globals`]); every other parameter is declared by a
//! hunt pack (`[[parameter]]` in its `hunt.toml`, see `docs/packs.md`). The names of the
//! built-in hunts' parameters are the original notebooks' variable names, so a hunter's
//! existing `.env` keeps working. Values are typed and checked before any query runs;
//! SQL files refer to them as `${NAME}` and get a correctly quoted literal.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result, bail};

pub use crate::manifest::Origin;

/// The type of a parameter's value, with its range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A whole number within the bounds.
    Int {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// A finite number within the bounds.
    Float {
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// Free text.
    Text,
}

impl Kind {
    /// The type's name in `hunt.toml` (`int`, `float`, `bool`, `text`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Int { .. } => "int",
            Kind::Float { .. } => "float",
            Kind::Bool => "bool",
            Kind::Text => "text",
        }
    }
}

/// One parameter: name, default, type and meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Environment variable and `${NAME}` placeholder.
    pub name: String,
    /// The default, as text.
    pub default: String,
    /// Its type.
    pub kind: Kind,
    /// The hunts that read it (empty for the CLI's own settings, which every hunt reads).
    pub hunts: Vec<String>,
    /// What it does.
    pub help: String,
}

impl ParamSpec {
    /// Whether `hunt` reads this parameter.
    pub fn read_by(&self, hunt: &str) -> bool {
        self.hunts.is_empty() || self.hunts.iter().any(|h| h == hunt)
    }
}

/// The CLI's own settings, which every hunt reads.
pub fn globals() -> Vec<ParamSpec> {
    let global = |name: &str, default: &str, kind, help: &str| ParamSpec {
        name: name.to_string(),
        default: default.to_string(),
        kind,
        hunts: Vec::new(),
        help: help.to_string(),
    };
    vec![
        global(
            "BASE_S3_PATH",
            crate::hunt::store::DEFAULT_BASE_S3_PATH,
            Kind::Text,
            "Root of stored results and models (a folder, or an s3:// prefix).",
        ),
        global(
            "TOP_N",
            "20",
            Kind::Int {
                min: Some(1),
                max: None,
            },
            "Findings printed per hunt.",
        ),
        global(
            "USE_GPU",
            "false",
            Kind::Bool,
            "Train and score neural models on the GPU (needs a cuda build).",
        ),
    ]
}

/// The `--set NAME=VALUE` pairs of `sets` that set one of the CLI's own settings.
pub fn global_sets(sets: &[String]) -> Vec<String> {
    let globals = globals();
    sets.iter()
        .filter(|set| {
            set.split_once('=').is_some_and(|(name, _)| {
                globals
                    .iter()
                    .any(|g| g.name.eq_ignore_ascii_case(name.trim()))
            })
        })
        .cloned()
        .collect()
}

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

/// Every parameter's checked value.
#[derive(Debug, Clone)]
pub struct Params {
    specs: Vec<ParamSpec>,
    values: BTreeMap<String, (Value, Origin)>,
}

/// Parses `text` as a value of `spec`'s type and range.
///
/// # Errors
/// Not of the type, or out of range; the message names the parameter.
pub fn parse(spec: &ParamSpec, text: &str) -> Result<Value> {
    let text = text.trim();
    let name = &spec.name;
    let value = match spec.kind {
        Kind::Int { min, max } => {
            let v: i64 = text.parse().with_context(|| {
                format!("{name} must be a whole number, got {text:?}")
            })?;
            check_range(name, v, min, max)?;
            Value::Int(v)
        }
        Kind::Float { min, max } => {
            let v: f64 = text
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| {
                    format!(
                        "{name} must be {}, got {text:?}",
                        describe_range("a finite number", min, max)
                    )
                })?;
            check_range(name, v, min, max).with_context(|| {
                format!(
                    "{name} must be {}, got {text}",
                    describe_range("a finite number", min, max)
                )
            })?;
            Value::Float(v)
        }
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => bail!("{name} must be true or false, got {text:?}"),
        },
        Kind::Text => Value::Text(text.to_string()),
    };
    Ok(value)
}

fn check_range<T: PartialOrd + fmt::Display + Copy>(
    name: &str,
    v: T,
    min: Option<T>,
    max: Option<T>,
) -> Result<()> {
    match (min, max) {
        (Some(lo), Some(hi)) if v < lo || v > hi => {
            bail!("{name} must be from {lo} to {hi}, got {v}")
        }
        (Some(lo), _) if v < lo => bail!("{name} must be at least {lo}, got {v}"),
        (_, Some(hi)) if v > hi => bail!("{name} must be at most {hi}, got {v}"),
        _ => Ok(()),
    }
}

fn describe_range(what: &str, min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("{what} from {lo} to {hi}"),
        (Some(lo), None) => format!("{what} of at least {lo}"),
        (None, Some(hi)) => format!("{what} of at most {hi}"),
        (None, None) => what.to_string(),
    }
}

impl Params {
    /// The defaults of `specs`, then the environment (`env` looks a name up), then
    /// `--set` pairs.
    ///
    /// # Errors
    /// An unknown name in `--set`, or a value of the wrong type or range, named.
    pub fn resolve_in(
        specs: Vec<ParamSpec>,
        env: impl Fn(&str) -> Option<String>,
        sets: &[String],
    ) -> Result<Self> {
        let mut values = BTreeMap::new();
        for spec in &specs {
            let (text, origin) = match env(&spec.name) {
                Some(v) => (v, Origin::Env),
                None => (spec.default.clone(), Origin::Default),
            };
            let value = parse(spec, &text).with_context(|| match origin {
                Origin::Env => format!("environment variable {}", spec.name),
                _ => format!("default of {}", spec.name),
            })?;
            values.insert(spec.name.clone(), (value, origin));
        }
        for set in sets {
            let Some((name, text)) = set.split_once('=') else {
                bail!("--set {set:?}: expected NAME=VALUE");
            };
            let name = name.trim();
            let Some(spec) = specs.iter().find(|s| s.name.eq_ignore_ascii_case(name))
            else {
                bail!(
                    "--set {name}: no such parameter (see `huntsman hunt --list-params`)"
                );
            };
            let value = parse(spec, text).with_context(|| format!("--set {name}"))?;
            values.insert(spec.name.clone(), (value, Origin::Flag));
        }
        Ok(Self { specs, values })
    }

    /// [`Params::from_env`] over the parameters `specs`.
    ///
    /// # Errors
    /// As [`Params::resolve_in`].
    pub fn from_env_in(specs: Vec<ParamSpec>, sets: &[String]) -> Result<Self> {
        Self::resolve_in(
            specs,
            |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            sets,
        )
    }

    /// The parameters these values are of.
    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
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
    pub fn for_hunt(&self, hunt: &str) -> BTreeMap<String, crate::manifest::ParamRecord> {
        self.specs
            .iter()
            .filter(|s| s.read_by(hunt))
            .filter_map(|s| {
                let (v, origin) = self.values.get(&s.name)?;
                let value = match v {
                    Value::Int(i) => serde_json::json!(i),
                    Value::Float(f) => serde_json::json!(f),
                    Value::Bool(b) => serde_json::json!(b),
                    Value::Text(t) => serde_json::json!(t),
                };
                let record = crate::manifest::ParamRecord {
                    value,
                    origin: *origin,
                };
                Some((s.name.clone(), record))
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
        for spec in &self.specs {
            let (value, origin) = self
                .values
                .get(&spec.name)
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
                if spec.hunts.is_empty() {
                    "all".to_string()
                } else {
                    spec.hunts.join(",")
                },
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

    fn builtin() -> Vec<ParamSpec> {
        crate::hunt::pack::builtin_catalog().unwrap()
    }

    #[test]
    fn defaults_parse_and_names_are_unique() {
        let params = Params::resolve_in(builtin(), |_| None, &[]).unwrap();
        assert_eq!(params.values.len(), params.specs.len());
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
        let params =
            Params::resolve_in(builtin(), env, &["ad_kmeans_k=8".to_string()]).unwrap();
        assert_eq!(params.int("AD_KMEANS_K").unwrap(), 8);
        assert_eq!(params.int("C2_KMEANS_K").unwrap(), 9);
        assert_eq!(params.int("AD_KMEANS_SEED").unwrap(), 42);
        let manifest = params.for_hunt("c2-beacon");
        assert_eq!(manifest["C2_KMEANS_K"].origin, Origin::Env);
        assert!(!manifest.contains_key("AD_KMEANS_K"));
    }

    #[test]
    fn bad_values_are_named() {
        let none = |_: &str| None;
        let err = Params::resolve_in(builtin(), none, &["AD_KMEANS_K=zero".into()])
            .unwrap_err();
        assert!(format!("{err:#}").contains("AD_KMEANS_K"), "{err:#}");
        let err =
            Params::resolve_in(builtin(), none, &["AD_KMEANS_K=0".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("at least 1"), "{err:#}");
        let err = Params::resolve_in(builtin(), none, &["NOPE=1".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("no such parameter"), "{err:#}");
        for bad in ["1.5", "-0.1", "NaN"] {
            let set = format!("C2_PREVALENCE_WEIGHT={bad}");
            let err = Params::resolve_in(builtin(), none, &[set]).unwrap_err();
            assert!(format!("{err:#}").contains("from 0 to 1"), "{bad}: {err:#}");
        }
        let params =
            Params::resolve_in(builtin(), none, &["C2_PREVALENCE_WEIGHT=1".into()])
                .unwrap();
        assert_eq!(params.float("C2_PREVALENCE_WEIGHT").unwrap(), 1.0);
        let env = |n: &str| (n == "USE_GPU").then(|| "maybe".to_string());
        let err = Params::resolve_in(builtin(), env, &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("environment variable USE_GPU"),
            "{err:#}"
        );
    }

    #[test]
    fn render_quotes_text_and_refuses_unknown_placeholders() {
        let params = Params::resolve_in(
            builtin(),
            |n| (n == "BASE_S3_PATH").then(|| "it's".to_string()),
            &[],
        )
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
