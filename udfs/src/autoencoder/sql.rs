//! SQL surface of the autoencoder: `autoencoder_fit` (aggregate, returns a model) and
//! `autoencoder_score` (scalar, reconstruction MSE per row).
//!
//! Training is distributed: every partition keeps a bounded, content-keyed sample of its
//! rows in an [`AutoencoderPartial`] (its Binary encoding is the aggregate's state); the
//! merged sample is the same whatever the partitioning, and the network is trained once
//! on it. The SQL plumbing is [`crate::model_fn`]'s.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::AggregateFunctionSimplification;
use datafusion::logical_expr::{AggregateUDF, DocSection, Expr, ScalarUDF};
use huntsman_proto::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};
use serde_json::Value;

use super::input::{InputBatch, InputKind};
use super::params::{AutoencoderParams, AutoencoderValidParams, with_use_gpu};
use super::{AutoencoderError, AutoencoderModel, AutoencoderPartial};
use crate::error::plan_error;
use crate::fit::FitPartial;
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param, ScoreSpec, ScoreUdf};
use crate::model_io::{ModelMeta, encode};
use crate::neural::{Accelerator, session_use_gpu};
use crate::scoring::{ModelCache, check_vector_type};
use crate::sparse::is_sparse;

const AUTOENCODER_FIT: &str = "autoencoder_fit";
/// Newest autoencoder payload format this build writes and reads.
pub const AUTOENCODER_FORMAT_VERSION: u32 = 1;

/// Documentation section of the autoencoder functions.
pub const AUTOENCODER_SECTION: DocSection = DocSection {
    include: true,
    label: "Autoencoder",
    description: Some(
        "Distributed reconstruction autoencoder (burn, Adam): fit once on a bounded \
         sample of all rows, score batches by reconstruction error.",
    ),
};

static CACHE: ModelCache<AutoencoderModel> = ModelCache::new();

fn check_input_type(function: &str, t: &DataType) -> Result<()> {
    if is_sparse(t) {
        Ok(())
    } else {
        check_vector_type(function, t).map_err(|_| {
            plan_error(
                function,
                format!(
                    "vec must be a list of Float64 or a sparse vector \
                     (struct of dim, indices, values), got {t}"
                ),
            )
        })
    }
}

fn options_string(value: &ScalarValue) -> Option<Option<&str>> {
    match value {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Some(v.as_deref())
        }
        ScalarValue::Null => Some(None),
        _ => None,
    }
}

/// Parses and checks the options literal (`None`: defaults).
fn parse_options(json: Option<&str>) -> Result<AutoencoderValidParams> {
    AutoencoderParams::from_json(json.unwrap_or(""))
        .and_then(AutoencoderParams::check)
        .map_err(|e| plan_error(AUTOENCODER_FIT, e))
}

fn not_literal() -> datafusion::error::DataFusionError {
    plan_error(
        AUTOENCODER_FIT,
        "options must be a literal JSON string, e.g. '{\"hidden\": [64, 8]}'",
    )
}

/// `autoencoder_fit(vec [, options])`: trains an autoencoder, returns the model.
#[derive(Debug)]
pub struct AutoencoderFit;

/// Checks the options at planning and copies the session's `huntsman.use_gpu` into them
/// (accumulators cannot read the session; the literal travels with the plan).
fn simplify_fit(
    mut agg: AggregateFunction,
    info: &datafusion::logical_expr::simplify::SimplifyContext,
) -> Result<Expr> {
    let options = match agg.params.args.get(1) {
        None => None,
        Some(Expr::Literal(v, _)) => options_string(v).ok_or_else(not_literal)?,
        Some(_) => return Err(not_literal()),
    };
    parse_options(options)?;
    if session_use_gpu(info.config_options())
        && let Some(json) = with_use_gpu(options.unwrap_or(""))
    {
        let lit = Expr::Literal(ScalarValue::Utf8(Some(json)), None);
        if agg.params.args.len() > 1 {
            agg.params.args[1] = lit;
        } else {
            agg.params.args.push(lit);
        }
    }
    Ok(Expr::AggregateFunction(agg))
}

impl FitSpec for AutoencoderFit {
    type Partial = AutoencoderPartial;
    const NAME: &'static str = AUTOENCODER_FIT;
    const SECTION: DocSection = AUTOENCODER_SECTION;
    const INPUT: (&'static str, &'static str) = (
        "vec",
        "List of Float64 of a fixed width, or a sparse vector (struct of dim, indices, \
         values).",
    );
    const PARAMS: &'static [Param] = &[Param::json(
        "options",
        "JSON string literal; unknown keys are errors. Keys and defaults: \
         hidden [256, 32] (encoder widths, the decoder mirrors them), activation \
         \"relu\" (relu, tanh, sigmoid), output \"sigmoid\" (sigmoid, linear), \
         epochs 20, batch_size 64, learning_rate 0.001 (Adam), seed 42, max_rows \
         10000 (training sample cap), max_batches none (cap on optimiser steps), \
         min_batches none (floor on optimiser steps: small data trains for more \
         epochs), loss \"mse\", negatives 16 (sparse only), use_gpu (default: the session \
         setting huntsman.use_gpu).",
    )];
    const DESCRIPTION: &'static str = "Trains a reconstruction autoencoder on the rows' vectors and returns the \
     model as a Binary value for `autoencoder_score`. Each partition keeps a \
     bounded sample of its distinct rows chosen by a seeded hash of their \
     contents, so the merged sample (and the model) does not depend on how \
     rows were split; the network is then trained once on it with Adam and \
     an MSE loss, deterministically for a seed on the CPU. Dense input: \
     `D → hidden → … → D`. Sparse input (e.g. 2^18 hashed TF-IDF columns): \
     the first layer is an embedding bag over the indices seen in training, \
     and the loss is evaluated at each row's non-zeros plus `negatives` \
     seeded absent indices (see `autoencoder_score`). Runs on the GPU when \
     `huntsman.use_gpu` is set in a `cuda` build (an error otherwise). \
     Null vectors are skipped; returns null for no rows. The model records \
     the loss of every epoch in its parameters.";
    const EXAMPLE: &'static str = "```sql\n> SELECT autoencoder_score([1.0, 1.0], m) > autoencoder_score([0.3, 0.7], m) \
     AS outlier_scores_higher\n  FROM (SELECT autoencoder_fit(v, '{\"hidden\": [1], \
     \"activation\": \"tanh\", \"epochs\": 200, \"batch_size\": 16, \
     \"learning_rate\": 0.01}') AS m\n  FROM (SELECT [x / 100.0, 1.0 - x / 100.0] AS v \
     FROM generate_series(1, 100) AS t(x)));\n\
     +-----------------------+\n\
     | outlier_scores_higher |\n\
     +-----------------------+\n\
     | true                  |\n\
     +-----------------------+\n```";

    fn coerce_input(t: &DataType) -> Result<DataType> {
        check_input_type(AUTOENCODER_FIT, t)?;
        Ok(t.clone())
    }

    fn partial(params: &Literals<'_>) -> Result<AutoencoderPartial> {
        let options = params.text("options").map_err(|_| not_literal())?;
        Ok(AutoencoderPartial::new(&parse_options(options.as_deref())?))
    }

    fn simplify() -> Option<AggregateFunctionSimplification> {
        Some(Box::new(simplify_fit))
    }
}

impl FitPartial for AutoencoderPartial {
    type Error = AutoencoderError;
    const FUNCTION: &'static str = AUTOENCODER_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> Result<(), AutoencoderError> {
        let Some(vec) = args.first() else {
            return Ok(());
        };
        if vec.data_type() == &DataType::Null {
            return Ok(());
        }
        let input = InputBatch::read(vec.as_ref()).map_err(AutoencoderError::Input)?;
        AutoencoderPartial::update(self, &input)
    }

    fn merge(&mut self, other: Self) -> Result<(), AutoencoderError> {
        AutoencoderPartial::merge(self, &other)
    }

    fn to_state(&self) -> Vec<u8> {
        self.to_bytes()
    }

    fn from_state(bytes: &[u8]) -> Result<Self, AutoencoderError> {
        Self::from_bytes(bytes)
    }

    fn n_rows(&self) -> u64 {
        AutoencoderPartial::n_rows(self)
    }

    fn size_bytes(&self) -> usize {
        AutoencoderPartial::size_bytes(self)
    }

    fn finish(&mut self) -> Result<Vec<u8>, AutoencoderError> {
        let accelerator =
            Accelerator::from_use_gpu(self.params().use_gpu.unwrap_or(false));
        let (model, report) = AutoencoderPartial::finish(self, accelerator)?;
        let mut params = match serde_json::from_str(&self.params().to_json()) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let mut training = serde_json::Map::new();
        training.insert("input".into(), Value::from(model.kind().name()));
        training.insert(
            "loss_curve".into(),
            Value::from(report.epoch_losses.clone()),
        );
        training.insert("steps".into(), Value::from(report.steps));
        training.insert("training_rows".into(), Value::from(report.training_rows));
        training.insert("sample_rows".into(), Value::from(self.sample_len()));
        if model.kind() == InputKind::Sparse {
            training.insert("vocabulary".into(), Value::from(model.vocabulary().len()));
        }
        params.insert("training".into(), Value::Object(training));
        let meta = ModelMeta {
            params_json: Value::Object(params).to_string(),
            features: FeatureSpec {
                dimensions: u32::try_from(model.dim()).unwrap_or(u32::MAX),
                names: Vec::new(),
                sparse: model.kind() == InputKind::Sparse,
            },
            stats: TrainingStats {
                rows: self.n_rows(),
                loss: report.epoch_losses.last().copied().unwrap_or(0.0),
                iterations: u32::try_from(report.steps).unwrap_or(u32::MAX),
                ..Default::default()
            },
        };
        Ok(encode(
            ModelKind::Autoencoder,
            AUTOENCODER_FORMAT_VERSION,
            meta,
            model.to_bytes(),
        ))
    }
}

/// `autoencoder_score(vec, model)`: the reconstruction MSE of each row.
#[derive(Debug)]
pub struct AutoencoderScore;

impl ScoreSpec for AutoencoderScore {
    type Model = AutoencoderModel;
    type Output = ();
    type Error = AutoencoderError;
    const KIND: ModelKind = ModelKind::Autoencoder;
    const VERSION: u32 = AUTOENCODER_FORMAT_VERSION;
    const FIT: &'static str = AUTOENCODER_FIT;
    const SECTION: DocSection = AUTOENCODER_SECTION;
    const INPUT: (&'static str, &'static str) = (
        "vec",
        "List of Float64 or sparse vector of the model's width (a dense model \
         also reads sparse vectors, and a sparse model dense lists).",
    );
    const ACCELERATED: bool = true;

    fn cache() -> &'static ModelCache<AutoencoderModel> {
        &CACHE
    }

    fn coerce_input(function: &str, t: &DataType) -> Result<DataType> {
        check_input_type(function, t)?;
        Ok(t.clone())
    }

    fn decode(envelope: &ModelEnvelope) -> Result<AutoencoderModel, AutoencoderError> {
        AutoencoderModel::from_bytes(&envelope.payload)
    }

    fn name((): ()) -> &'static str {
        "autoencoder_score"
    }

    fn return_type((): ()) -> DataType {
        DataType::Float64
    }

    fn doc((): ()) -> (&'static str, &'static str) {
        (
            "The reconstruction error of each vector under a model from \
             `autoencoder_fit`; higher is more anomalous. Dense input: the mean \
             squared error over all coordinates. Sparse input: the mean squared error \
             over the row's non-zeros plus the model's `negatives` absent indices \
             drawn from the training vocabulary by a seeded hash of the row (indices \
             never seen in training are reconstructed as 0), so identical rows always \
             score the same. Rows are scored in batches, identical rows once per \
             batch. Null for a null vector or model; an error when the width differs \
             from the model's. Uses the GPU when `huntsman.use_gpu` is set in a `cuda` \
             build (an error otherwise); sparse rows are always scored on the CPU.",
            "```sql\n> SELECT autoencoder_score([0.5, 0.5], m) >= 0 AS non_negative FROM \
             (SELECT autoencoder_fit(v, '{\"hidden\": [1], \"epochs\": 2}') AS m FROM \
             (SELECT [x / 10.0, 1.0 - x / 10.0] AS v FROM generate_series(1, 10) AS t(x)));\n\
             +--------------+\n| non_negative |\n+--------------+\n| true         |\n\
             +--------------+\n```",
        )
    }

    fn score(
        (): (),
        model: &AutoencoderModel,
        vec: &ArrayRef,
        accelerator: Accelerator,
    ) -> Result<ArrayRef, AutoencoderError> {
        if vec.data_type() == &DataType::Null {
            return Ok(new_null_array(&DataType::Float64, vec.len()));
        }
        let input = InputBatch::read(vec.as_ref()).map_err(AutoencoderError::Input)?;
        Ok(Arc::new(model.score(&input, accelerator)?))
    }
}

/// The `autoencoder_fit` aggregate.
pub fn autoencoder_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| {
        Arc::new(AggregateUDF::from(FitUdaf::<AutoencoderFit>::default()))
    })
    .clone()
}

/// The `autoencoder_score` scalar function.
pub fn autoencoder_score_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(ScoreUdf::<AutoencoderScore>::new(()))))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, BooleanArray, Float64Array};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::prelude::{SessionConfig, SessionContext};

    fn ctx_with(config: SessionConfig) -> SessionContext {
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udaf(autoencoder_fit_udaf().as_ref().clone());
        ctx.register_udf(autoencoder_score_udf().as_ref().clone());
        ctx
    }

    fn ctx() -> SessionContext {
        ctx_with(
            SessionConfig::new().with_option_extension(crate::HuntsmanConfig::default()),
        )
    }

    async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
        ctx.sql(sql).await?.collect().await
    }

    async fn error(ctx: &SessionContext, sql: &str) -> String {
        match ctx.sql(sql).await {
            Err(e) => e.to_string(),
            Ok(df) => df.collect().await.expect_err(sql).to_string(),
        }
    }

    fn first_bool(batches: &[RecordBatch]) -> bool {
        let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
        b.column(0)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("bool")
            .value(0)
    }

    const FIT: &str = "(SELECT autoencoder_fit(v, '{\"hidden\": [1], \"epochs\": 2}') AS m FROM \
                       (SELECT [x / 10.0, 1.0 - x / 10.0] AS v FROM generate_series(1, 10) AS t(x)))";

    #[tokio::test]
    async fn documented_examples_hold() {
        let ctx = ctx();
        let b = run(
            &ctx,
            "SELECT autoencoder_score([1.0, 1.0], m) > autoencoder_score([0.3, 0.7], m) AS \
             outlier_scores_higher FROM (SELECT autoencoder_fit(v, '{\"hidden\": [1], \
             \"activation\": \"tanh\", \"epochs\": 200, \"batch_size\": 16, \
             \"learning_rate\": 0.01}') AS m FROM (SELECT [x / 100.0, 1.0 - x / 100.0] AS v \
             FROM generate_series(1, 100) AS t(x)))",
        )
        .await
        .expect("runs");
        assert!(first_bool(&b));
        let b = run(
            &ctx,
            &format!(
                "SELECT autoencoder_score([0.5, 0.5], m) >= 0 AS non_negative FROM {FIT}"
            ),
        )
        .await
        .expect("runs");
        assert!(first_bool(&b));
    }

    #[tokio::test]
    async fn bad_options_fail_at_planning_naming_the_key() {
        let ctx = ctx();
        for (options, needle) in [
            ("'{\"hiden\": [4]}'", "unknown option `hiden`"),
            ("'{\"epochs\": 0}'", "option `epochs`"),
            ("'{\"activation\": \"gelu\"}'", "option `activation`"),
            ("'not json'", "must be a JSON object"),
            ("v2", "literal"),
        ] {
            let sql = format!(
                "SELECT autoencoder_fit(v, {options}) FROM (VALUES ([1.0], 'x')) AS t(v, v2)"
            );
            // Planning alone (no execution) must fail.
            let err = match ctx.sql(&sql).await {
                Ok(df) => match df.create_physical_plan().await {
                    Ok(_) => panic!("{sql} planned"),
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            assert!(
                err.contains("autoencoder_fit") && err.contains(needle),
                "{sql}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn wrong_argument_types_fail_at_planning() {
        let ctx = ctx();
        for (sql, needle) in [
            (
                "SELECT autoencoder_fit(x) FROM (VALUES ('a')) AS t(x)",
                "vec must be",
            ),
            (
                "SELECT autoencoder_fit([1.0], 3)",
                "options must be a JSON string",
            ),
            ("SELECT autoencoder_score([1.0], 3)", "model must be"),
            ("SELECT autoencoder_score(['a'], X'00')", "vec must be"),
        ] {
            let err = error(&ctx, sql).await;
            assert!(err.contains(needle), "{sql}: {err}");
        }
    }

    #[tokio::test]
    async fn nulls_empty_input_and_one_row() {
        let ctx = ctx();
        let b = run(
            &ctx,
            &format!(
                "SELECT autoencoder_score(v, m) AS s FROM (VALUES ([0.5, 0.5]), (NULL)) AS t(v), {FIT}"
            ),
        )
        .await
        .expect("runs");
        let s = b[0]
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64");
        assert!(s.is_valid(0) && s.is_null(1));
        let b = run(
            &ctx,
            &format!("SELECT autoencoder_score(NULL, m) IS NULL AS n FROM {FIT}"),
        )
        .await
        .expect("runs");
        assert!(first_bool(&b));
        // No rows: a null model, which scores null.
        let b = run(
            &ctx,
            "SELECT autoencoder_score([1.0], m) IS NULL AS n FROM (SELECT autoencoder_fit(v) AS m \
             FROM (SELECT [1.0] AS v WHERE false))",
        )
        .await
        .expect("runs");
        assert!(first_bool(&b));
        // One row trains.
        let b = run(
            &ctx,
            "SELECT autoencoder_score([1.0, 2.0], m) >= 0 AS ok FROM (SELECT autoencoder_fit([1.0, 2.0], \
             '{\"hidden\": [1], \"epochs\": 1, \"output\": \"linear\"}') AS m)",
        )
        .await
        .expect("runs");
        assert!(first_bool(&b));
    }

    #[tokio::test]
    async fn gpu_setting_reaches_fit_and_score() {
        let ctx = ctx_with(crate::session::huntsman_session_config());
        run(&ctx, "SET huntsman.use_gpu = true").await.expect("set");
        if crate::neural::gpu_supported() {
            return;
        }
        let err = error(&ctx, &format!("SELECT m IS NULL FROM {FIT}")).await;
        assert!(
            err.contains("autoencoder_fit") && err.contains("no GPU support"),
            "{err}"
        );
        let err = error(&ctx, "SELECT autoencoder_fit([1.0])").await;
        assert!(err.contains("no GPU support"), "{err}");
        let err = error(&ctx, "SELECT autoencoder_score([1.0], X'00')").await;
        assert!(
            err.contains("autoencoder_score") && err.contains("no GPU support"),
            "{err}"
        );
        // An explicit option wins over the session setting.
        let b = run(
            &ctx,
            "SELECT autoencoder_fit([1.0], '{\"use_gpu\": false, \"epochs\": 1}') IS NOT NULL",
        )
        .await
        .expect("runs on the CPU");
        assert!(first_bool(&b));
    }

    #[tokio::test]
    async fn other_models_and_junk_are_refused_by_score() {
        let ctx = ctx();
        ctx.register_udaf(crate::kmeans::sql::kmeans_fit_udaf().as_ref().clone());
        let err = error(
            &ctx,
            "SELECT autoencoder_score([1.0], m) FROM (SELECT kmeans_fit(v, 1) AS m FROM \
             (VALUES ([1.0])) AS t(v))",
        )
        .await;
        assert!(err.contains("expected a autoencoder model"), "{err}");
        let err = error(&ctx, "SELECT autoencoder_score([1.0], X'484E544D0102')").await;
        assert!(
            err.contains("autoencoder_score: model is truncated"),
            "{err}"
        );
        let err = error(
            &ctx,
            &format!("SELECT autoencoder_score([1.0, 2.0, 3.0], m) FROM {FIT}"),
        )
        .await;
        assert!(
            err.contains("input has 3 dimensions, the model expects 2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_model_records_its_loss_curve() {
        let ctx = ctx();
        let b = run(&ctx, &format!("SELECT m FROM {FIT}"))
            .await
            .expect("runs");
        let bytes = b[0]
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::BinaryArray>()
            .expect("binary")
            .value(0)
            .to_vec();
        let env =
            crate::model_io::decode(&bytes, ModelKind::Autoencoder, 1).expect("decodes");
        let params: Value = serde_json::from_str(&env.params_json).expect("json");
        let curve = params["training"]["loss_curve"].as_array().expect("curve");
        assert_eq!(curve.len(), 2);
        let stats = env.stats.expect("stats");
        assert_eq!(stats.rows, 10);
        assert_eq!(Some(stats.loss), curve[1].as_f64());
        assert_eq!(params["hidden"], serde_json::json!([1]));
        assert_eq!(env.features.expect("features").dimensions, 2);
    }
}
