//! The SQL functions `scaler_fit` and `scale` over [`ScalerPartial`] and [`ScalerModel`].

use super::*;
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param};
use datafusion::logical_expr::DocSection;

/// `scaler_fit(vec [, method])`: fits a per-column scaler, returns the model.
#[derive(Debug)]
pub struct ScalerFit;

impl FitSpec for ScalerFit {
    type Partial = ScalerPartial;
    const NAME: &'static str = SCALER_FIT;
    const SECTION: DocSection = FEATURES_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("vec", "List of Float64, the same length in every row.");
    const PARAMS: &'static [Param] = &[Param::text(
        "method",
        "'standard' (default) or 'minmax', a string literal.",
    )];
    const DESCRIPTION: &'static str = "Fits a per-column scaler on dense feature vectors and returns the model \
     (Binary) for `scale`. 'standard' maps x to (x - mean) / std with the \
     population standard deviation (scikit-learn's StandardScaler); \
     'minmax' maps the training range to [0, 1] (values outside it scale \
     outside [0, 1]). A constant column scales to 0. Moments merge across \
     partitions with Chan's parallel formula, so the model does not depend on \
     the split. Null vectors are skipped; NaN, null elements or rows of \
     different lengths are errors naming the row. Null for no rows.";
    const EXAMPLE: &'static str = SCALER_FIT_EXAMPLE;

    fn partial(params: &Literals<'_>) -> Result<ScalerPartial> {
        let method = match params.text("method")? {
            Some(m) => ScalerMethod::parse(&m).map_err(|e| plan_error(SCALER_FIT, e))?,
            None => ScalerMethod::Standard,
        };
        Ok(ScalerPartial::new(method))
    }
}

pub(super) const SCALER_FIT_EXAMPLE: &str = "```sql\n\
> SELECT scale([3.0, 7.0], m) AS v FROM (SELECT scaler_fit(v, 'minmax') AS m FROM (VALUES ([1.0, 7.0]), ([5.0, 7.0])) AS t(v));\n\
+------------+\n\
| v          |\n\
+------------+\n\
| [0.5, 0.0] |\n\
+------------+\n\
```";

/// `scale(vec, model)`: applies a scaler from `scaler_fit`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Scale {
    signature: Signature,
}

impl Default for Scale {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Scale {
    fn name(&self) -> &str {
        SCALE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [v, model] = arg_types else {
            return Err(plan_error(
                SCALE,
                format!("takes (vec, model), got {} arguments", arg_types.len()),
            ));
        };
        check_vector_type(SCALE, v)?;
        check_model_type(SCALE, model)?;
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(dense_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [v, model] = args.args.as_slice() else {
            return Err(exec_error(SCALE, "takes (vec, model)"));
        };
        let rows = args.number_rows;
        let v = v.to_array(rows)?;
        let models = resolve_models(
            SCALE,
            model,
            rows,
            &CACHE,
            &args.config_options,
            ModelFormat {
                kind: ModelKind::Scaler,
                supported_version: SCALER_FORMAT_VERSION,
            },
            ScalerModel::decode,
        )?;
        let out = score_with_models(&v, models, &dense_type(), |m, f| {
            m.transform(f).map_err(|e| exec_error(SCALE, e))
        })?;
        Ok(ColumnarValue::Array(out))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                FEATURES_SECTION,
                "Scales dense feature vectors with a model from `scaler_fit` (standard or \
                 min-max, as fitted). Returns a List of Float64 of the same length; a \
                 constant training column gives 0. The vector's length must match the \
                 model's. Null for a null vector or model.",
                "scale(vec, model)",
            )
            .with_argument("vec", "List of Float64 of the model's width.")
            .with_argument(
                "model",
                "Binary model from scaler_fit, or a Utf8 path / file:// URI of a stored \
                 model; decoded once per process and cached by checksum.",
            )
            .with_sql_example(SCALE_EXAMPLE)
            .build()
        }))
    }
}

pub(super) const SCALE_EXAMPLE: &str = "```sql\n\
> SELECT scale([6.0, 9.0], m) AS v FROM (SELECT scaler_fit(v, 'standard') AS m FROM (VALUES ([1.0, 7.0]), ([5.0, 7.0])) AS t(v));\n\
+------------+\n\
| v          |\n\
+------------+\n\
| [1.5, 0.0] |\n\
+------------+\n\
```";

/// The `scaler_fit` aggregate.
pub fn scaler_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(FitUdaf::<ScalerFit>::default())))
        .clone()
}

/// The `scale` scalar function.
pub fn scale_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(Scale::default())))
        .clone()
}
