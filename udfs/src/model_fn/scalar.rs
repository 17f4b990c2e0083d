//! [`ScoreUdf`]: one scoring function of any [`ScoreSpec`].

use std::fmt;
use std::hash::{Hash, Hasher};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDFImpl,
    Signature, Volatility,
};
use huntsman_proto::{ModelEnvelope, ModelKind};

use crate::error::{exec_error, plan_error};
use crate::neural::{Accelerator, session_use_gpu};
use crate::scoring::{
    ModelCache, ModelFormat, check_model_type, check_vector_type, resolve_models,
    score_with_models,
};

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

    /// Decodes a model from its envelope (kind, version and checksum are checked
    /// already).
    ///
    /// # Errors
    /// A payload this build cannot read.
    fn decode(envelope: &ModelEnvelope) -> std::result::Result<Self::Model, Self::Error>;

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
            S::decode,
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
