//! SQL surface of the isolation forest: `iforest_fit` (aggregate, returns a model) and
//! `iforest_score` (scalar, anomaly score in [0, 1]).
//!
//! Training is distributed: every partition keeps a bounded, content-keyed sample of its
//! rows in an [`IsolationForestPartial`] (its Binary encoding is the aggregate's state);
//! merged samples are the same whatever the partitioning, and the forest is grown once
//! from the merged sample.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, DocSection,
    Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use huntsman_proto::{FeatureSpec, ModelKind, TrainingStats};

use super::{IsolationForestModel, IsolationForestParams, IsolationForestPartial};
use crate::error::{exec_error, plan_error};
use crate::fit::{FitAccumulator, FitPartial, fit_state_fields};
use crate::matrix::matrix_from_list;
use crate::model_io::{ModelMeta, encode};
use crate::scoring::{
    ModelCache, ModelFormat, check_integer, check_model_type, check_vector_type,
    literal_f64, literal_i64, resolve_models, score_with_models,
};

const IFOREST_FIT: &str = "iforest_fit";
const IFOREST_SCORE: &str = "iforest_score";
/// Newest isolation-forest payload format this build writes and reads.
pub const IFOREST_FORMAT_VERSION: u32 = 1;

/// Documentation section of the isolation-forest functions.
pub const IFOREST_SECTION: DocSection = DocSection {
    include: true,
    label: "Isolation forest",
    description: Some(
        "Distributed isolation forest: fit once on all rows, score batches.",
    ),
};

static CACHE: ModelCache<IsolationForestModel> = ModelCache::new();

/// `iforest_fit(features, n_trees, sample_size, seed [, contamination])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IForestFit {
    signature: Signature,
}

impl Default for IForestFit {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn usize_param(name: &str, value: i64) -> Result<usize> {
    usize::try_from(value).map_err(|_| {
        plan_error(
            IFOREST_FIT,
            format!("{name} must be at least 1 (got {value})"),
        )
    })
}

impl AggregateUDFImpl for IForestFit {
    fn name(&self) -> &str {
        IFOREST_FIT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(1..=5).contains(&arg_types.len()) {
            return Err(plan_error(
                IFOREST_FIT,
                format!(
                    "takes (features [, n_trees [, sample_size [, seed [, contamination]]]]), \
                     got {} arguments",
                    arg_types.len()
                ),
            ));
        }
        check_vector_type(IFOREST_FIT, &arg_types[0])?;
        let mut out = vec![arg_types[0].clone()];
        for (t, name) in arg_types[1..]
            .iter()
            .zip(["n_trees", "sample_size", "seed"])
        {
            check_integer(IFOREST_FIT, name, t)?;
            out.push(DataType::Int64);
        }
        if let Some(t) = arg_types.get(4) {
            if !(t.is_numeric() || t == &DataType::Null) {
                return Err(plan_error(
                    IFOREST_FIT,
                    format!("contamination must be a number, got {t}"),
                ));
            }
            out.push(DataType::Float64);
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
        let exprs = acc_args.exprs;
        let mut params = IsolationForestParams::default();
        if let Some(e) = exprs.get(1)
            && let Some(v) = literal_i64(IFOREST_FIT, "n_trees", e)?
        {
            params = params.n_trees(usize_param("n_trees", v)?);
        }
        if let Some(e) = exprs.get(2)
            && let Some(v) = literal_i64(IFOREST_FIT, "sample_size", e)?
        {
            params = params.sample_size(usize_param("sample_size", v)?);
        }
        if let Some(e) = exprs.get(3)
            && let Some(v) = literal_i64(IFOREST_FIT, "seed", e)?
        {
            params = params.seed(v as u64);
        }
        if let Some(e) = exprs.get(4) {
            params = params.contamination(literal_f64(IFOREST_FIT, "contamination", e)?);
        }
        let valid = params.check().map_err(|e| plan_error(IFOREST_FIT, e))?;
        FitAccumulator::boxed(IsolationForestPartial::new(&valid))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                IFOREST_SECTION,
                "Fits an isolation forest (Liu, Ting and Zhou) once on all rows and returns \
                 the model as a Binary value for `iforest_score`. Partitions keep a bounded \
                 sample chosen by a hash of each row's values, so the merged sample (and the \
                 forest) does not depend on how rows were split across partitions or \
                 executors. With `contamination`, the model records the score threshold \
                 that flags that fraction of the training rows. Null vectors are skipped; \
                 returns null for no rows.",
                "iforest_fit(features [, n_trees [, sample_size [, seed [, contamination]]]])",
            )
            .with_argument("features", "List of Float64, the same length in every row.")
            .with_argument("n_trees", "Trees in the forest, integer literal (default 100).")
            .with_argument("sample_size", "Rows per tree, integer literal (default 256).")
            .with_argument("seed", "Random seed, integer literal (default 42).")
            .with_argument(
                "contamination",
                "Expected share of anomalies in (0, 0.5], numeric literal (default 0.05).",
            )
            .with_sql_example(
                "```sql\n> SELECT iforest_score([50.0, 50.0], m) > iforest_score([0.1, 0.1], m) AS \
                 outlier_scores_higher\n  FROM (SELECT iforest_fit(v, 100, 256, 42) AS m FROM \
                 (SELECT [sin(x), cos(x)] AS v FROM generate_series(1, 500) AS t(x)));\n\
                 +-----------------------+\n\
                 | outlier_scores_higher |\n\
                 +-----------------------+\n\
                 | true                  |\n\
                 +-----------------------+\n```",
            )
            .build()
        }))
    }
}

impl FitPartial for IsolationForestPartial {
    const FUNCTION: &'static str = IFOREST_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> std::result::Result<(), String> {
        let features = args.first().ok_or("expects features")?;
        let rows = matrix_from_list(features.as_ref()).map_err(|e| e.to_string())?;
        if rows.matrix().n_rows() == 0 {
            return Ok(());
        }
        IsolationForestPartial::update(self, rows.matrix()).map_err(|e| e.to_string())
    }

    fn merge(&mut self, other: Self) -> std::result::Result<(), String> {
        IsolationForestPartial::merge(self, &other).map_err(|e| e.to_string())
    }

    fn to_state(&self) -> Vec<u8> {
        self.to_bytes()
    }

    fn from_state(bytes: &[u8]) -> std::result::Result<Self, String> {
        Self::from_bytes(bytes).map_err(|e| e.to_string())
    }

    fn n_rows(&self) -> u64 {
        IsolationForestPartial::n_rows(self)
    }

    fn size_bytes(&self) -> usize {
        IsolationForestPartial::size_bytes(self)
    }

    fn finish(&mut self) -> std::result::Result<Vec<u8>, String> {
        let model = IsolationForestPartial::finish(self).map_err(|e| e.to_string())?;
        let params = self.params();
        let meta = ModelMeta {
            params_json: format!(
                "{{\"n_trees\":{},\"sample_size\":{},\"seed\":{},\"contamination\":{}}}",
                params.n_trees(),
                params.sample_size(),
                params.seed(),
                params
                    .contamination()
                    .map_or("null".to_string(), |c| c.to_string())
            ),
            features: FeatureSpec {
                dimensions: model.n_cols() as u32,
                names: Vec::new(),
                sparse: false,
            },
            stats: TrainingStats {
                rows: model.n_rows(),
                ..Default::default()
            },
        };
        Ok(encode(
            ModelKind::IsolationForest,
            IFOREST_FORMAT_VERSION,
            meta,
            model.to_bytes(),
        ))
    }
}

/// `iforest_score(features, model)`: the anomaly score of each row.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IForestScore {
    signature: Signature,
}

impl Default for IForestScore {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IForestScore {
    fn name(&self) -> &str {
        IFOREST_SCORE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [features, model] = arg_types else {
            return Err(plan_error(
                IFOREST_SCORE,
                format!("takes (features, model), got {} arguments", arg_types.len()),
            ));
        };
        check_vector_type(IFOREST_SCORE, features)?;
        check_model_type(IFOREST_SCORE, model)?;
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [features, model] = args.args.as_slice() else {
            return Err(exec_error(IFOREST_SCORE, "takes (features, model)"));
        };
        let rows = args.number_rows;
        let features = features.to_array(rows)?;
        let models = resolve_models(
            IFOREST_SCORE,
            model,
            rows,
            &CACHE,
            &args.config_options,
            ModelFormat {
                kind: ModelKind::IsolationForest,
                supported_version: IFOREST_FORMAT_VERSION,
            },
            |env| {
                IsolationForestModel::from_bytes(&env.payload).map_err(|e| e.to_string())
            },
        )?;
        let out = score_with_models(&features, models, &DataType::Float64, |m, f| {
            let rows =
                matrix_from_list(f.as_ref()).map_err(|e| exec_error(IFOREST_SCORE, e))?;
            if rows.matrix().n_rows() == 0 {
                return Ok(new_null_array(&DataType::Float64, rows.input_len()));
            }
            let scores = m
                .score(rows.matrix())
                .map_err(|e| exec_error(IFOREST_SCORE, e))?;
            Ok(Arc::new(
                rows.scatter_f64(&scores)
                    .map_err(|e| exec_error(IFOREST_SCORE, e))?,
            ) as ArrayRef)
        })?;
        Ok(ColumnarValue::Array(out))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                IFOREST_SECTION,
                "The standard isolation-forest anomaly score `2^(-E[h(x)] / c(n))` in \
                 [0, 1] of each feature vector under a model from `iforest_fit`: near 1 for \
                 anomalies, about 0.5 or less for ordinary rows. Null for a null vector or \
                 model.",
                "iforest_score(features, model)",
            )
            .with_argument("features", "List of Float64 of the model's width.")
            .with_argument(
                "model",
                "Binary model from iforest_fit, or a Utf8 path / file:// URI of a stored \
                 model; decoded once per process and cached by checksum.",
            )
            .with_sql_example(
                "```sql\n> SELECT iforest_score([0.0, 1.0], m) BETWEEN 0 AND 1 AS in_range FROM \
                 (SELECT iforest_fit(v) AS m FROM (SELECT [sin(x), cos(x)] AS v FROM \
                 generate_series(1, 300) AS t(x)));\n\
                 +----------+\n| in_range |\n+----------+\n| true     |\n+----------+\n```",
            )
            .build()
        }))
    }
}

/// The `iforest_fit` aggregate.
pub fn iforest_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(IForestFit::default())))
        .clone()
}

/// The `iforest_score` scalar function.
pub fn iforest_score_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(IForestScore::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::BooleanArray;
    use datafusion::prelude::SessionContext;

    fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_udaf(iforest_fit_udaf().as_ref().clone());
        ctx.register_udf(iforest_score_udf().as_ref().clone());
        ctx
    }

    async fn first_bool(ctx: &SessionContext, sql: &str) -> bool {
        let batches = ctx
            .sql(sql)
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
        b.column(0)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("bool")
            .value(0)
    }

    #[tokio::test]
    async fn documented_examples_hold() {
        let ctx = ctx();
        assert!(
            first_bool(
                &ctx,
                "SELECT iforest_score([50.0, 50.0], m) > iforest_score([0.1, 0.1], m) AS \
                 outlier_scores_higher FROM (SELECT iforest_fit(v, 100, 256, 42) AS m FROM \
                 (SELECT [sin(x), cos(x)] AS v FROM generate_series(1, 500) AS t(x)))"
            )
            .await
        );
        assert!(
            first_bool(
                &ctx,
                "SELECT iforest_score([0.0, 1.0], m) BETWEEN 0 AND 1 AS in_range FROM \
                 (SELECT iforest_fit(v) AS m FROM (SELECT [sin(x), cos(x)] AS v FROM \
                 generate_series(1, 300) AS t(x)))"
            )
            .await
        );
    }

    #[tokio::test]
    async fn bad_parameters_fail_at_planning_naming_them() {
        let ctx = ctx();
        for (sql, needle) in [
            (
                "SELECT iforest_fit(v, 0) FROM (VALUES ([1.0])) AS t(v)",
                "n_trees",
            ),
            (
                "SELECT iforest_fit(v, 10, 256, 1, 0.9) FROM (VALUES ([1.0])) AS t(v)",
                "contamination",
            ),
            (
                "SELECT iforest_fit(x) FROM (VALUES ('a')) AS t(x)",
                "features",
            ),
        ] {
            let err = match ctx.sql(sql).await {
                Err(e) => e,
                Ok(df) => df.collect().await.expect_err(sql),
            };
            let text = err.to_string();
            assert!(
                text.contains("iforest_fit") && text.contains(needle),
                "{sql}: {text}"
            );
        }
    }

    #[tokio::test]
    async fn kmeans_model_is_refused_by_iforest_score() {
        let ctx = ctx();
        ctx.register_udaf(crate::kmeans::sql::kmeans_fit_udaf().as_ref().clone());
        let err = ctx
            .sql(
                "SELECT iforest_score([1.0], m) FROM (SELECT kmeans_fit(v, 1) AS m FROM \
                 (VALUES ([1.0])) AS t(v))",
            )
            .await
            .expect("plans")
            .collect()
            .await
            .expect_err("wrong kind");
        assert!(
            err.to_string()
                .contains("expected a isolation forest model"),
            "{err}"
        );
    }
}
