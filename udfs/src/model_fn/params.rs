//! The literal parameters of a fit aggregate: their declaration ([`Param`]), the syntax
//! line generated from them, and how a call's literals are read ([`Literals`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

use crate::error::{exec_error, plan_error};
use crate::scoring::check_integer;

/// The type of a literal parameter of a fit aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// An integer literal (counts, seeds), coerced to Int64.
    Integer,
    /// A numeric literal (fractions, rates), coerced to Float64.
    Number,
    /// A JSON object as a string literal (a family's whole option set).
    Json,
    /// A string literal (a method's name).
    Text,
    /// A boolean literal.
    Boolean,
}

impl ParamKind {
    fn bare(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Json => "JSON string",
            Self::Text => "string",
            Self::Boolean => "boolean",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Json => "a JSON string",
            Self::Text => "a string",
            Self::Boolean => "a boolean",
        }
    }

    /// The type the argument is coerced to, or an error naming the parameter.
    pub(super) fn coerce(
        self,
        function: &str,
        name: &str,
        t: &DataType,
    ) -> Result<DataType> {
        let fail =
            || plan_error(function, format!("{name} must be {}, got {t}", self.noun()));
        match self {
            Self::Integer => {
                check_integer(function, name, t)?;
                Ok(DataType::Int64)
            }
            Self::Number if t.is_numeric() || t == &DataType::Null => {
                Ok(DataType::Float64)
            }
            Self::Json | Self::Text => match t {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    Ok(t.clone())
                }
                DataType::Null => Ok(DataType::Utf8),
                _ => Err(fail()),
            },
            Self::Boolean if matches!(t, DataType::Boolean | DataType::Null) => {
                Ok(DataType::Boolean)
            }
            Self::Number | Self::Boolean => Err(fail()),
        }
    }
}

/// A literal parameter of a fit aggregate: its name, type and one line of documentation
/// (with its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param {
    /// The name in the syntax and in error messages.
    pub name: &'static str,
    /// Its type.
    pub kind: ParamKind,
    /// What it means and its default, for the function's documentation.
    pub doc: &'static str,
}

impl Param {
    /// An integer parameter.
    pub const fn integer(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: ParamKind::Integer,
            doc,
        }
    }

    /// A numeric parameter.
    pub const fn number(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: ParamKind::Number,
            doc,
        }
    }

    /// A JSON options parameter.
    pub const fn json(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: ParamKind::Json,
            doc,
        }
    }

    /// A string parameter.
    pub const fn text(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: ParamKind::Text,
            doc,
        }
    }

    /// A boolean parameter.
    pub const fn boolean(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: ParamKind::Boolean,
            doc,
        }
    }
}

/// The syntax line of a function of `input` and `params`, the first `required` of them
/// mandatory: `f(input, a [, b [, c]])`.
pub fn syntax(function: &str, input: &str, params: &[Param], required: usize) -> String {
    let mut out = format!("{function}({input}");
    for p in &params[..required.min(params.len())] {
        out.push_str(", ");
        out.push_str(p.name);
    }
    let optional = &params[required.min(params.len())..];
    for p in optional {
        out.push_str(" [, ");
        out.push_str(p.name);
    }
    out.push_str(&"]".repeat(optional.len()));
    out.push(')');
    out
}

/// The literal parameters one fit aggregate was called with, read by name.
#[derive(Debug)]
pub struct Literals<'a> {
    function: &'static str,
    params: &'a [Param],
    /// One per declared parameter.
    values: Vec<Arg>,
}

/// One argument as the aggregate was called.
#[derive(Debug)]
enum Arg {
    /// Not given: the family's default applies.
    Absent,
    /// A literal, possibly null.
    Literal(ScalarValue),
    /// An expression that is not a literal.
    Expression,
}

impl<'a> Literals<'a> {
    /// Reads the arguments after the input; `exprs` are the aggregate's physical
    /// arguments, input first.
    pub fn read(
        function: &'static str,
        params: &'a [Param],
        exprs: &[Arc<dyn PhysicalExpr>],
    ) -> Self {
        let values = (0..params.len())
            .map(|i| match exprs.get(i + 1) {
                None => Arg::Absent,
                Some(e) => match e.downcast_ref::<Literal>() {
                    Some(l) => Arg::Literal(l.value().clone()),
                    None => Arg::Expression,
                },
            })
            .collect();
        Self {
            function,
            params,
            values,
        }
    }

    fn arg(&self, name: &str) -> Result<(&Arg, ParamKind)> {
        let i = self
            .params
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| exec_error(self.function, format!("no parameter {name}")))?;
        Ok((&self.values[i], self.params[i].kind))
    }

    fn value(&self, name: &str) -> Result<&ScalarValue> {
        const NULL: &ScalarValue = &ScalarValue::Null;
        match self.arg(name)? {
            (Arg::Absent, _) => Ok(NULL),
            (Arg::Literal(v), _) => Ok(v),
            (Arg::Expression, kind) => Err(plan_error(
                self.function,
                format!("{name} must be a literal {}", kind.bare()),
            )),
        }
    }

    /// Whether the call gave the parameter at all (a null literal counts as given).
    ///
    /// # Errors
    /// A name the family did not declare.
    pub fn given(&self, name: &str) -> Result<bool> {
        Ok(!matches!(self.arg(name)?.0, Arg::Absent))
    }

    /// An integer parameter; `None` when not given or null.
    ///
    /// # Errors
    /// Not a literal, or not an integer.
    pub fn integer(&self, name: &str) -> Result<Option<i64>> {
        match self.value(name)? {
            ScalarValue::Null => Ok(None),
            v => match v.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(i)) => Ok(i),
                _ => Err(plan_error(
                    self.function,
                    format!("{name} must be an integer (got {v})"),
                )),
            },
        }
    }

    /// A count parameter (trees, clusters, iterations); negative values are refused
    /// here, zero by the family's own parameter check.
    ///
    /// # Errors
    /// As [`Literals::integer`], or a negative value.
    pub fn count(&self, name: &str) -> Result<Option<usize>> {
        self.integer(name)?
            .map(|v| {
                usize::try_from(v).map_err(|_| {
                    plan_error(
                        self.function,
                        format!("{name} must be at least 1 (got {v})"),
                    )
                })
            })
            .transpose()
    }

    /// A numeric parameter; `None` when not given or null.
    ///
    /// # Errors
    /// Not a literal, or not a number.
    pub fn number(&self, name: &str) -> Result<Option<f64>> {
        match self.value(name)? {
            ScalarValue::Null => Ok(None),
            v => match v.cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(f)) => Ok(f),
                _ => Err(plan_error(
                    self.function,
                    format!("{name} must be a number (got {v})"),
                )),
            },
        }
    }

    /// A string parameter; `None` when not given or null.
    ///
    /// # Errors
    /// Not a literal, or not a string.
    pub fn text(&self, name: &str) -> Result<Option<String>> {
        match self.value(name)? {
            ScalarValue::Null => Ok(None),
            ScalarValue::Utf8(v)
            | ScalarValue::LargeUtf8(v)
            | ScalarValue::Utf8View(v) => Ok(v.clone()),
            v => Err(plan_error(
                self.function,
                format!("{name} must be a string, got {}", v.data_type()),
            )),
        }
    }

    /// A boolean parameter; `None` when not given or null.
    ///
    /// # Errors
    /// Not a literal, or not a boolean.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>> {
        match self.value(name)? {
            ScalarValue::Null => Ok(None),
            ScalarValue::Boolean(b) => Ok(*b),
            v => Err(plan_error(
                self.function,
                format!("{name} must be a boolean, got {}", v.data_type()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_nests_the_optional_parameters() {
        let p = [
            Param::integer("a", ""),
            Param::number("b", ""),
            Param::json("c", ""),
        ];
        assert_eq!(syntax("f", "x", &p, 0), "f(x [, a [, b [, c]]])");
        assert_eq!(syntax("f", "x", &p, 2), "f(x, a, b [, c])");
        assert_eq!(syntax("f", "x", &[], 0), "f(x)");
    }

    #[test]
    fn parameter_types_are_checked_by_name() {
        let err = ParamKind::Boolean
            .coerce("f", "use_gpu", &DataType::Int64)
            .expect_err("an integer is not a boolean")
            .to_string();
        assert!(
            err.contains("f: use_gpu must be a boolean, got Int64"),
            "{err}"
        );
        assert_eq!(
            ParamKind::Json
                .coerce("f", "o", &DataType::Null)
                .expect("null"),
            DataType::Utf8
        );
        assert!(ParamKind::Number.coerce("f", "c", &DataType::Utf8).is_err());
    }
}
