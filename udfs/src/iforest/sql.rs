//! SQL surface of the isolation forest: `iforest_fit` (aggregate, returns a model) and
//! `iforest_score` (scalar, anomaly score in [0, 1]).
//!
//! Training is distributed: every partition keeps a bounded, content-keyed sample of its
//! rows in an [`IsolationForestPartial`] (its Binary encoding is the aggregate's state);
//! merged samples are the same whatever the partitioning, and the forest is grown once
//! from the merged sample. The SQL plumbing is [`crate::model_fn`]'s.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{AggregateUDF, DocSection, ScalarUDF};
use huntsman_proto::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};

use super::{
    IsolationForestError, IsolationForestModel, IsolationForestParams,
    IsolationForestPartial,
};
use crate::error::plan_error;
use crate::fit::FitPartial;
use crate::matrix::matrix_from_list;
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param, ScoreSpec, ScoreUdf};
use crate::model_io::{ModelMeta, encode};
use crate::neural::Accelerator;
use crate::scoring::ModelCache;

const IFOREST_FIT: &str = "iforest_fit";
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

/// `iforest_fit(features [, n_trees [, sample_size [, seed [, contamination]]]])`.
#[derive(Debug)]
pub struct IForestFit;

impl FitSpec for IForestFit {
    type Partial = IsolationForestPartial;
    const NAME: &'static str = IFOREST_FIT;
    const SECTION: DocSection = IFOREST_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("features", "List of Float64, the same length in every row.");
    const PARAMS: &'static [Param] = &[
        Param::integer(
            "n_trees",
            "Trees in the forest, integer literal (default 100).",
        ),
        Param::integer(
            "sample_size",
            "Rows per tree, integer literal (default 256).",
        ),
        Param::integer("seed", "Random seed, integer literal (default 42)."),
        Param::number(
            "contamination",
            "Expected share of anomalies in (0, 0.5], numeric literal (default 0.05).",
        ),
    ];
    const DESCRIPTION: &'static str = "Fits an isolation forest (Liu, Ting and Zhou) once \
         on all rows and returns the model as a Binary value for `iforest_score`. \
         Partitions keep a bounded sample chosen by a hash of each row's values, so the \
         merged sample (and the forest) does not depend on how rows were split across \
         partitions or executors. With `contamination`, the model records the score \
         threshold that flags that fraction of the training rows. Null vectors are \
         skipped; returns null for no rows.";
    const EXAMPLE: &'static str = "```sql\n> SELECT iforest_score([50.0, 50.0], m) > \
         iforest_score([0.1, 0.1], m) AS outlier_scores_higher\n  FROM (SELECT \
         iforest_fit(v, 100, 256, 42) AS m FROM (SELECT [sin(x), cos(x)] AS v FROM \
         generate_series(1, 500) AS t(x)));\n\
         +-----------------------+\n\
         | outlier_scores_higher |\n\
         +-----------------------+\n\
         | true                  |\n\
         +-----------------------+\n```";

    fn partial(params: &Literals<'_>) -> Result<IsolationForestPartial> {
        let mut p = IsolationForestParams::default();
        if let Some(v) = params.count("n_trees")? {
            p = p.n_trees(v);
        }
        if let Some(v) = params.count("sample_size")? {
            p = p.sample_size(v);
        }
        if let Some(v) = params.integer("seed")? {
            p = p.seed(v as u64);
        }
        if params.given("contamination")? {
            p = p.contamination(params.number("contamination")?);
        }
        let valid = p.check().map_err(|e| plan_error(IFOREST_FIT, e))?;
        Ok(IsolationForestPartial::new(&valid))
    }
}

impl FitPartial for IsolationForestPartial {
    type Error = IsolationForestError;
    const FUNCTION: &'static str = IFOREST_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> Result<(), IsolationForestError> {
        let Some(features) = args.first() else {
            return Ok(());
        };
        let rows = matrix_from_list(features.as_ref())?;
        if rows.matrix().n_rows() == 0 {
            return Ok(());
        }
        IsolationForestPartial::update(self, rows.matrix())
    }

    fn merge(&mut self, other: Self) -> Result<(), IsolationForestError> {
        IsolationForestPartial::merge(self, &other)
    }

    fn to_state(&self) -> Vec<u8> {
        self.to_bytes()
    }

    fn from_state(bytes: &[u8]) -> Result<Self, IsolationForestError> {
        Self::from_bytes(bytes)
    }

    fn n_rows(&self) -> u64 {
        IsolationForestPartial::n_rows(self)
    }

    fn size_bytes(&self) -> usize {
        IsolationForestPartial::size_bytes(self)
    }

    fn finish(&mut self) -> Result<Vec<u8>, IsolationForestError> {
        let model = IsolationForestPartial::finish(self)?;
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
#[derive(Debug)]
pub struct IForestScore;

impl ScoreSpec for IForestScore {
    type Model = IsolationForestModel;
    type Output = ();
    type Error = IsolationForestError;
    const KIND: ModelKind = ModelKind::IsolationForest;
    const VERSION: u32 = IFOREST_FORMAT_VERSION;
    const FIT: &'static str = IFOREST_FIT;
    const SECTION: DocSection = IFOREST_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("features", "List of Float64 of the model's width.");

    fn cache() -> &'static ModelCache<IsolationForestModel> {
        &CACHE
    }

    fn decode(
        envelope: &ModelEnvelope,
    ) -> Result<IsolationForestModel, IsolationForestError> {
        IsolationForestModel::from_bytes(&envelope.payload)
    }

    fn name((): ()) -> &'static str {
        "iforest_score"
    }

    fn return_type((): ()) -> DataType {
        DataType::Float64
    }

    fn doc((): ()) -> (&'static str, &'static str) {
        (
            "The standard isolation-forest anomaly score `2^(-E[h(x)] / c(n))` in [0, 1] \
             of each feature vector under a model from `iforest_fit`: near 1 for anomalies, \
             about 0.5 or less for ordinary rows. Null for a null vector or model.",
            "```sql\n> SELECT iforest_score([0.0, 1.0], m) BETWEEN 0 AND 1 AS in_range FROM \
             (SELECT iforest_fit(v) AS m FROM (SELECT [sin(x), cos(x)] AS v FROM \
             generate_series(1, 300) AS t(x)));\n\
             +----------+\n| in_range |\n+----------+\n| true     |\n+----------+\n```",
        )
    }

    fn score(
        (): (),
        model: &IsolationForestModel,
        features: &ArrayRef,
        _accelerator: Accelerator,
    ) -> Result<ArrayRef, IsolationForestError> {
        let rows = matrix_from_list(features.as_ref())?;
        if rows.matrix().n_rows() == 0 {
            return Ok(new_null_array(&DataType::Float64, rows.input_len()));
        }
        let scores = model.score(rows.matrix())?;
        Ok(Arc::new(rows.scatter_f64(&scores)?))
    }
}

/// The `iforest_fit` aggregate.
pub fn iforest_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(FitUdaf::<IForestFit>::default())))
        .clone()
}

/// The `iforest_score` scalar function.
pub fn iforest_score_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(ScoreUdf::<IForestScore>::new(()))))
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
