//! The declaration of a pack as `hunt.toml` spells it, and its conversion into checked
//! parameters and phases.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::Spanned;

use super::{Phase, Step, is_placeholder};
use crate::hunt::params::{Kind, ParamSpec, parse as parse_value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPack {
    pub(super) name: Spanned<String>,
    pub(super) title: String,
    pub(super) unit: Spanned<String>,
    pub(super) hypothesis: String,
    #[serde(default)]
    pub(super) attack: Vec<Spanned<String>>,
    pub(super) columns: Vec<Spanned<String>>,
    pub(super) findings: RawFindings,
    #[serde(default, rename = "parameter")]
    pub(super) parameters: Vec<Spanned<RawParam>>,
    #[serde(default, rename = "phase")]
    pub(super) phases: Vec<Spanned<RawPhase>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFindings {
    pub(super) entity: Spanned<Vec<String>>,
    pub(super) score: Spanned<String>,
    pub(super) flag: Spanned<String>,
    #[serde(default)]
    pub(super) display: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) default: toml::Value,
    pub(super) min: Option<toml::Value>,
    pub(super) max: Option<toml::Value>,
    pub(super) help: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhase {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) sql: String,
    pub(super) table: Option<String>,
    pub(super) model: Option<String>,
    pub(super) placeholder: Option<String>,
    pub(super) empty: Option<String>,
}

pub(super) fn is_attack_id(id: &str) -> bool {
    let b = id.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

pub(super) fn param_spec(raw: &RawParam, hunt: &str) -> Result<ParamSpec> {
    if !is_placeholder(&raw.name) {
        bail!(
            "parameter {:?}: a name is upper-case letters, digits and '_', starting with a letter",
            raw.name
        );
    }
    let bound_int = |v: &Option<toml::Value>, what: &str| -> Result<Option<i64>> {
        match v {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i)),
            Some(other) => bail!(
                "parameter {}: {what} {other} is not a whole number",
                raw.name
            ),
        }
    };
    let bound_float = |v: &Option<toml::Value>, what: &str| -> Result<Option<f64>> {
        match v {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
            Some(other) => {
                bail!("parameter {}: {what} {other} is not a number", raw.name)
            }
        }
    };
    let kind = match raw.kind.as_str() {
        "int" => Kind::Int {
            min: bound_int(&raw.min, "min")?,
            max: bound_int(&raw.max, "max")?,
        },
        "float" => Kind::Float {
            min: bound_float(&raw.min, "min")?,
            max: bound_float(&raw.max, "max")?,
        },
        "bool" | "text" => {
            if raw.min.is_some() || raw.max.is_some() {
                bail!("parameter {}: a {} has no min or max", raw.name, raw.kind);
            }
            if raw.kind == "bool" {
                Kind::Bool
            } else {
                Kind::Text
            }
        }
        other => bail!(
            "parameter {}: type {other:?} is not one of int, float, bool, text",
            raw.name
        ),
    };
    let default = match (&raw.default, kind) {
        (toml::Value::Integer(i), Kind::Int { .. }) => i.to_string(),
        (toml::Value::Float(f), Kind::Float { .. }) => format!("{f:?}"),
        (toml::Value::Integer(i), Kind::Float { .. }) => format!("{:?}", *i as f64),
        (toml::Value::Boolean(b), Kind::Bool) => b.to_string(),
        (toml::Value::String(s), Kind::Text) => s.clone(),
        (other, _) => bail!(
            "parameter {}: default {other} is not of type {}",
            raw.name,
            raw.kind
        ),
    };
    let spec = ParamSpec {
        name: raw.name.clone(),
        default,
        kind,
        hunts: vec![hunt.to_string()],
        help: raw.help.trim().to_string(),
    };
    parse_value(&spec, &spec.default)
        .with_context(|| format!("parameter {}: its default", spec.name))?;
    Ok(spec)
}

pub(super) fn phase(raw: &RawPhase, line: usize) -> Result<Phase> {
    let name = &raw.name;
    let needs = |field: &Option<String>, what: &str| -> Result<String> {
        field
            .clone()
            .with_context(|| format!("phase '{name}': a {} phase needs {what}", raw.kind))
    };
    let unused = |fields: &[(&Option<String>, &str)]| -> Result<()> {
        for (field, what) in fields {
            if field.is_some() {
                bail!("phase '{name}': a {} phase has no {what}", raw.kind);
            }
        }
        Ok(())
    };
    let (table, model, placeholder, empty) =
        (&raw.table, &raw.model, &raw.placeholder, &raw.empty);
    let step = match raw.kind.as_str() {
        "table" => {
            unused(&[(model, "model"), (placeholder, "placeholder")])?;
            Step::Table {
                table: needs(table, "a table")?,
                empty: empty.clone(),
            }
        }
        "fit" => {
            unused(&[(table, "table"), (empty, "empty")])?;
            Step::Fit {
                model: needs(model, "a model")?,
                placeholder: needs(placeholder, "a placeholder")?,
            }
        }
        "value" => {
            unused(&[(table, "table"), (model, "model"), (empty, "empty")])?;
            Step::Value {
                placeholder: needs(placeholder, "a placeholder")?,
            }
        }
        "findings" => {
            unused(&[
                (table, "table"),
                (model, "model"),
                (placeholder, "placeholder"),
                (empty, "empty"),
            ])?;
            Step::Findings
        }
        other => bail!(
            "phase '{name}': kind {other:?} is not one of table, fit, value, findings"
        ),
    };
    let sql = raw.sql.clone();
    let plain =
        !sql.contains(['/', '\\']) && !sql.starts_with('.') && sql.ends_with(".sql");
    if !plain {
        bail!(
            "phase '{name}': sql {sql:?} must name a .sql file in the pack's own folder"
        );
    }
    Ok(Phase {
        name: name.clone(),
        sql,
        step,
        line,
    })
}
