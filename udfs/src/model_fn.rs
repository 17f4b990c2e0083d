//! One shape for every model function.
//!
//! A model family is its parameters, its partial training state and its scoring. It says
//! so by implementing [`FitSpec`] (the `*_fit` aggregate: the input, the literal
//! parameters, how they make an empty [`FitPartial`]) and [`ScoreSpec`] (the scoring
//! functions: how a stored model decodes and how it scores a batch). [`FitUdaf`] and
//! [`ScoreUdf`] do the rest once for every family: the signature and its checks, reading
//! literal parameters, the documentation (syntax and arguments generated from the
//! parameter list), the distributed accumulator ([`crate::fit`]), resolving the model
//! argument (bytes or a URI inside the model roots) and the per-process model cache
//! ([`crate::scoring`]).
//!
//! ```
//! use huntsman_udfs::model_fn::{Param, syntax};
//! let params = [Param::integer("k", "clusters"), Param::integer("seed", "random seed")];
//! assert_eq!(syntax("kmeans_fit", "features", &params, 1), "kmeans_fit(features, k [, seed])");
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, DocSection, Documentation,
    ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;
use huntsman_proto::ModelKind;

use crate::error::{exec_error, plan_error};
use crate::fit::{FitAccumulator, FitPartial, fit_state_fields};
use crate::neural::{Accelerator, session_use_gpu};
use crate::scoring::{
    ModelCache, ModelFormat, check_integer, check_model_type, check_vector_type,
    resolve_models, score_with_models,
};

/// The type of a literal parameter of a fit aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// An integer literal (counts, seeds), coerced to Int64.
    Integer,
    /// A numeric literal (fractions, rates), coerced to Float64.
    Number,
    /// A JSON object as a string literal (a family's whole option set).
    Json,
    /// A boolean literal.
    Boolean,
}

impl ParamKind {
    fn bare(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Json => "JSON string",
            Self::Boolean => "boolean",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Json => "a JSON string",
            Self::Boolean => "a boolean",
        }
    }

    /// The type the argument is coerced to, or an error naming the parameter.
    fn coerce(self, function: &str, name: &str, t: &DataType) -> Result<DataType> {
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
            Self::Json => match t {
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

    fn arg(&self, name: &str) -> Result<&Arg> {
        let i = self
            .params
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| exec_error(self.function, format!("no parameter {name}")))?;
        Ok(&self.values[i])
    }

    fn value(&self, name: &str, kind: ParamKind) -> Result<&ScalarValue> {
        const NULL: &ScalarValue = &ScalarValue::Null;
        match self.arg(name)? {
            Arg::Absent => Ok(NULL),
            Arg::Literal(v) => Ok(v),
            Arg::Expression => Err(plan_error(
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
        Ok(!matches!(self.arg(name)?, Arg::Absent))
    }

    /// An integer parameter; `None` when not given or null.
    ///
    /// # Errors
    /// Not a literal, or not an integer.
    pub fn integer(&self, name: &str) -> Result<Option<i64>> {
        match self.value(name, ParamKind::Integer)? {
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
        match self.value(name, ParamKind::Number)? {
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
        match self.value(name, ParamKind::Json)? {
            ScalarValue::Null => Ok(None),
            ScalarValue::Utf8(v)
            | ScalarValue::LargeUtf8(v)
            | ScalarValue::Utf8View(v) => Ok(v.clone()),
            v => Err(plan_error(
                self.function,
                format!("{name} must be a JSON string, got {}", v.data_type()),
            )),
        }
    }

    /// A boolean parameter; `None` when not given or null.
    ///
    /// # Errors
    /// Not a literal, or not a boolean.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>> {
        match self.value(name, ParamKind::Boolean)? {
            ScalarValue::Null => Ok(None),
            ScalarValue::Boolean(b) => Ok(*b),
            v => Err(plan_error(
                self.function,
                format!("{name} must be a boolean, got {}", v.data_type()),
            )),
        }
    }
}

/// A model family's training aggregate, as SQL sees it. [`FitUdaf`] implements the
/// aggregate from it.
pub trait FitSpec: Send + Sync + 'static {
    /// The partial training state every partition folds its rows into.
    type Partial: FitPartial;
    /// The aggregate's SQL name.
    const NAME: &'static str;
    /// The documentation section of the family.
    const SECTION: DocSection;
    /// The input argument's name (`features`, `vec`, `ids`) and its documentation.
    const INPUT: (&'static str, &'static str);
    /// The literal parameters after the input, in order.
    const PARAMS: &'static [Param];
    /// How many of [`FitSpec::PARAMS`] must be given.
    const REQUIRED: usize = 0;
    /// What the aggregate computes (the documentation's description).
    const DESCRIPTION: &'static str;
    /// A complete SQL example with its output, in a fenced block.
    const EXAMPLE: &'static str;

    /// The type the input is coerced to, or a planning error naming it. Lists of
    /// Float64 by default.
    ///
    /// # Errors
    /// An input type the family cannot train on.
    fn coerce_input(t: &DataType) -> Result<DataType> {
        check_vector_type(Self::NAME, t)?;
        Ok(t.clone())
    }

    /// An empty partial state for the call's parameters.
    ///
    /// # Errors
    /// A parameter that is not a literal of its type or out of its range, as a planning
    /// error naming it.
    fn partial(params: &Literals<'_>) -> Result<Self::Partial>;

    /// A rewrite of the call while planning (to check options early, or to pin session
    /// settings as literal arguments so every executor trains alike).
    fn simplify() -> Option<AggregateFunctionSimplification> {
        None
    }
}

/// The `*_fit` aggregate of any [`FitSpec`].
pub struct FitUdaf<S> {
    signature: Signature,
    doc: Documentation,
    spec: PhantomData<fn() -> S>,
}

impl<S: FitSpec> Default for FitUdaf<S> {
    fn default() -> Self {
        let (input, input_doc) = S::INPUT;
        let mut doc = Documentation::builder(
            S::SECTION,
            S::DESCRIPTION,
            syntax(S::NAME, input, S::PARAMS, S::REQUIRED),
        )
        .with_argument(input, input_doc);
        for p in S::PARAMS {
            doc = doc.with_argument(p.name, p.doc);
        }
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: doc.with_sql_example(S::EXAMPLE).build(),
            spec: PhantomData,
        }
    }
}

impl<S: FitSpec> fmt::Debug for FitUdaf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FitUdaf").field("name", &S::NAME).finish()
    }
}

impl<S> PartialEq for FitUdaf<S> {
    fn eq(&self, _: &Self) -> bool {
        // One type per family, and nothing in it varies.
        true
    }
}

impl<S> Eq for FitUdaf<S> {}

impl<S: FitSpec> Hash for FitUdaf<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        S::NAME.hash(state);
    }
}

impl<S: FitSpec> AggregateUDFImpl for FitUdaf<S> {
    fn name(&self) -> &str {
        S::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (input, _) = S::INPUT;
        let given = arg_types.len().saturating_sub(1);
        if arg_types.is_empty() || given < S::REQUIRED || given > S::PARAMS.len() {
            return Err(plan_error(
                S::NAME,
                format!(
                    "takes {}, got {} arguments",
                    &syntax(S::NAME, input, S::PARAMS, S::REQUIRED)[S::NAME.len()..],
                    arg_types.len()
                ),
            ));
        }
        let mut out = vec![S::coerce_input(&arg_types[0])?];
        for (t, p) in arg_types[1..].iter().zip(S::PARAMS) {
            out.push(p.kind.coerce(S::NAME, p.name, t)?);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(fit_state_fields(&args))
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let literals = Literals::read(S::NAME, S::PARAMS, acc_args.exprs);
        FitAccumulator::boxed(S::partial(&literals)?)
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        S::simplify()
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

/// A model family's scoring functions, as SQL sees them. [`ScoreUdf`] implements one
/// scalar function per [`ScoreSpec::Output`] from it: `name(input, model)`.
pub trait ScoreSpec: Send + Sync + 'static {
    /// The decoded model.
    type Model: Send + Sync + 'static;
    /// What a function of the family returns (one value per scoring function; `()` when
    /// the family has one).
    type Output: Copy + fmt::Debug + Eq + Hash + Send + Sync + 'static;
    /// Why decoding or scoring failed.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The model envelope's kind.
    const KIND: ModelKind;
    /// The payload format version this build reads.
    const VERSION: u32;
    /// The documentation section of the family.
    const SECTION: DocSection;
    /// The input argument's name and its documentation.
    const INPUT: (&'static str, &'static str);
    /// The aggregate that trains the family's models.
    const FIT: &'static str;
    /// Scoring runs where the session's `huntsman.use_gpu` says; the accelerator is
    /// checked before any model is read.
    const ACCELERATED: bool = false;

    /// The process-wide cache of decoded models of the family.
    fn cache() -> &'static ModelCache<Self::Model>;

    /// The type the input is coerced to (lists of Float64 by default).
    ///
    /// # Errors
    /// An input type the family cannot score.
    fn coerce_input(function: &str, t: &DataType) -> Result<DataType> {
        check_vector_type(function, t)?;
        Ok(t.clone())
    }

    /// Decodes a model's payload (the envelope is checked already).
    ///
    /// # Errors
    /// A payload this build cannot read.
    fn decode(payload: &[u8]) -> std::result::Result<Self::Model, Self::Error>;

    /// The SQL name of the function returning `output`.
    fn name(output: Self::Output) -> &'static str;

    /// The type `output` returns.
    fn return_type(output: Self::Output) -> DataType;

    /// What the function computes, and a complete SQL example with its output.
    fn doc(output: Self::Output) -> (&'static str, &'static str);

    /// Scores one batch of inputs with one model. Null inputs score null.
    ///
    /// # Errors
    /// Inputs the model cannot score (wrong width, non-finite values).
    fn score(
        output: Self::Output,
        model: &Self::Model,
        input: &ArrayRef,
        accelerator: Accelerator,
    ) -> std::result::Result<ArrayRef, Self::Error>;
}

/// One scoring function of any [`ScoreSpec`].
pub struct ScoreUdf<S: ScoreSpec> {
    signature: Signature,
    output: S::Output,
    doc: Documentation,
}

impl<S: ScoreSpec> ScoreUdf<S> {
    /// The function returning `output`.
    pub fn new(output: S::Output) -> Self {
        let name = S::name(output);
        let (input, input_doc) = S::INPUT;
        let (description, example) = S::doc(output);
        let doc = Documentation::builder(
            S::SECTION,
            description,
            format!("{name}({input}, model)"),
        )
        .with_argument(input, input_doc)
        .with_argument(
            "model",
            format!(
                "Binary model from {}, or a Utf8 path / file:// or s3:// URI of a stored \
                 model inside the session's model roots; decoded once per process and \
                 cached by checksum.",
                S::FIT
            ),
        )
        .with_sql_example(example)
        .build();
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            output,
            doc,
        }
    }
}

impl<S: ScoreSpec> fmt::Debug for ScoreUdf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScoreUdf")
            .field("name", &S::name(self.output))
            .finish()
    }
}

impl<S: ScoreSpec> PartialEq for ScoreUdf<S> {
    fn eq(&self, other: &Self) -> bool {
        self.output == other.output
    }
}

impl<S: ScoreSpec> Eq for ScoreUdf<S> {}

impl<S: ScoreSpec> Hash for ScoreUdf<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        S::name(self.output).hash(state);
    }
}

impl<S: ScoreSpec> ScalarUDFImpl for ScoreUdf<S> {
    fn name(&self) -> &str {
        S::name(self.output)
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = S::name(self.output);
        let [input, model] = arg_types else {
            return Err(plan_error(
                name,
                format!(
                    "takes ({}, model), got {} arguments",
                    S::INPUT.0,
                    arg_types.len()
                ),
            ));
        };
        let input = S::coerce_input(name, input)?;
        check_model_type(name, model)?;
        Ok(vec![input, model.clone()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(S::return_type(self.output))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = S::name(self.output);
        let [input, model] = args.args.as_slice() else {
            return Err(exec_error(name, format!("takes ({}, model)", S::INPUT.0)));
        };
        let accelerator = if S::ACCELERATED {
            let accelerator =
                Accelerator::from_use_gpu(session_use_gpu(&args.config_options));
            accelerator
                .check_available()
                .map_err(|e| exec_error(name, e))?;
            accelerator
        } else {
            Accelerator::Cpu
        };
        let rows = args.number_rows;
        let input = input.to_array(rows)?;
        let models = resolve_models(
            name,
            model,
            rows,
            S::cache(),
            &args.config_options,
            ModelFormat {
                kind: S::KIND,
                supported_version: S::VERSION,
            },
            |env| S::decode(&env.payload),
        )?;
        let out_type = S::return_type(self.output);
        let out = score_with_models(&input, models, &out_type, |m, batch| {
            S::score(self.output, m, batch, accelerator).map_err(|e| exec_error(name, e))
        })?;
        Ok(ColumnarValue::Array(out))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
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
