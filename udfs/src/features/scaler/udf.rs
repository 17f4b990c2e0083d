//! The SQL functions `scaler_fit` and `scale` over [`ScalerPartial`] and [`ScalerModel`].

use super::*;
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param, ScoreSpec, ScoreUdf};
use crate::neural::Accelerator;
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

/// `scale(vec, model)`: the vectors scaled by a model from `scaler_fit`.
#[derive(Debug)]
pub struct Scale;

impl ScoreSpec for Scale {
    type Model = ScalerModel;
    type Output = ();
    type Error = FeatureError;
    const KIND: ModelKind = ModelKind::Scaler;
    const VERSION: u32 = SCALER_FORMAT_VERSION;
    const SECTION: DocSection = FEATURES_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("vec", "List of Float64 of the model's width.");
    const FIT: &'static str = SCALER_FIT;

    fn cache() -> &'static ModelCache<ScalerModel> {
        &CACHE
    }

    fn decode(
        envelope: &ModelEnvelope,
    ) -> std::result::Result<ScalerModel, FeatureError> {
        ScalerModel::decode(envelope).map_err(FeatureError::Model)
    }

    fn name((): ()) -> &'static str {
        SCALE
    }

    fn return_type((): ()) -> DataType {
        dense_type()
    }

    fn doc((): ()) -> (&'static str, &'static str) {
        (
            "Scales dense feature vectors with a model from `scaler_fit` (standard or \
             min-max, as fitted). Returns a List of Float64 of the same length; a \
             constant training column gives 0. The vector's length must match the \
             model's. Null for a null vector or model.",
            SCALE_EXAMPLE,
        )
    }

    fn score(
        (): (),
        model: &ScalerModel,
        vec: &ArrayRef,
        _accelerator: Accelerator,
    ) -> std::result::Result<ArrayRef, FeatureError> {
        model.transform(vec).map_err(FeatureError::Input)
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
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(ScoreUdf::<Scale>::new(()))))
        .clone()
}
