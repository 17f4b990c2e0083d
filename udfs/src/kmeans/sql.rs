//! SQL surface of k-means: `kmeans_fit` (aggregate, returns a model), `kmeans_assign`,
//! `kmeans_distance` and `kmeans_outlier` (scalar, score a batch against a model).
//!
//! Training is distributed: every partition summarises its rows in a [`KMeansPartial`]
//! (its Binary encoding is the aggregate's state), partials merge in any order, and the
//! final step fits the model on the merged summary. The SQL plumbing is
//! [`crate::model_fn`]'s; this file is the family's parameters, partial and scoring.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{AggregateUDF, DocSection, ScalarUDF};
use huntsman_proto::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};

use super::{KMeansError, KMeansModel, KMeansParams, KMeansPartial};
use crate::fit::FitPartial;
use crate::matrix::matrix_from_list;
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param, ScoreSpec, ScoreUdf};
use crate::model_io::{ModelMeta, encode};
use crate::neural::Accelerator;
use crate::scoring::ModelCache;

const KMEANS_FIT: &str = "kmeans_fit";
/// Newest k-means payload format this build writes and reads.
pub const KMEANS_FORMAT_VERSION: u32 = 1;

/// Documentation section of the k-means functions.
pub const KMEANS_SECTION: DocSection = DocSection {
    include: true,
    label: "k-means",
    description: Some(
        "Distributed k-means: train with an aggregate, score batches against the model.",
    ),
};

static CACHE: ModelCache<KMeansModel> = ModelCache::new();

/// `kmeans_fit(features, k [, seed [, max_iter]])`: trains k-means, returns the model.
#[derive(Debug)]
pub struct KMeansFit;

impl FitSpec for KMeansFit {
    type Partial = KMeansPartial;
    const NAME: &'static str = KMEANS_FIT;
    const SECTION: DocSection = KMEANS_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("features", "List of Float64, the same length in every row.");
    const PARAMS: &'static [Param] = &[
        Param::integer("k", "Number of clusters, an integer literal (default 4)."),
        Param::integer("seed", "Random seed, an integer literal (default 42)."),
        Param::integer("max_iter", "Lloyd iterations at most (default 300)."),
    ];
    const REQUIRED: usize = 1;
    const DESCRIPTION: &'static str = "Trains k-means (k-means++ initialisation, Lloyd \
         iterations) on the rows' feature vectors and returns the model as a Binary value \
         for `kmeans_assign` and `kmeans_distance`. Each partition summarises its rows (all \
         of them while small, a weighted coreset beyond that); summaries merge across \
         partitions and executors in any order, so the model does not depend on how the \
         data is split. Deterministic for a given seed and data. Null vectors are skipped; \
         NaN or infinite values are an error naming the row. Returns null for no rows.";
    const EXAMPLE: &'static str = "```sql\n> SELECT kmeans_assign([0.0, 0.1], m) AS a, \
         kmeans_assign([9.0, 9.1], m) AS b, kmeans_distance([0.0, 0.1], m) AS d\n  FROM \
         (SELECT kmeans_fit(v, 2, 42) AS m FROM (VALUES ([0.0, 0.0]), ([0.0, 0.2]), \
         ([9.0, 9.0]), ([9.0, 9.2])) AS t(v));\n\
         +---+---+-----+\n\
         | a | b | d   |\n\
         +---+---+-----+\n\
         | 0 | 1 | 0.0 |\n\
         +---+---+-----+\n```\n\
         (Cluster numbers depend on the seed; rows of one blob share a cluster.)";

    fn partial(params: &Literals<'_>) -> Result<KMeansPartial> {
        let mut p = KMeansParams::default();
        if let Some(k) = params.count("k")? {
            p = p.k(k);
        }
        if let Some(seed) = params.integer("seed")? {
            p = p.seed(seed as u64);
        }
        if let Some(max_iter) = params.count("max_iter")? {
            p = p.max_iter(max_iter);
        }
        let valid = p
            .check()
            .map_err(|e| crate::error::plan_error(KMEANS_FIT, e))?;
        Ok(KMeansPartial::new(&valid))
    }
}

impl FitPartial for KMeansPartial {
    type Error = KMeansError;
    const FUNCTION: &'static str = KMEANS_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> Result<(), KMeansError> {
        let Some(features) = args.first() else {
            return Ok(());
        };
        let rows = matrix_from_list(features.as_ref())?;
        if rows.matrix().n_rows() == 0 {
            return Ok(());
        }
        KMeansPartial::update(self, rows.matrix())
    }

    fn merge(&mut self, other: Self) -> Result<(), KMeansError> {
        KMeansPartial::merge(self, &other)
    }

    fn to_state(&self) -> Vec<u8> {
        self.to_bytes()
    }

    fn from_state(bytes: &[u8]) -> Result<Self, KMeansError> {
        Self::from_bytes(bytes)
    }

    fn n_rows(&self) -> u64 {
        KMeansPartial::n_rows(self)
    }

    fn size_bytes(&self) -> usize {
        KMeansPartial::size_bytes(self)
    }

    fn finish(&mut self) -> Result<Vec<u8>, KMeansError> {
        let model = KMeansPartial::finish(self)?;
        Ok(encode_model(&model, self.params()))
    }
}

fn encode_model(model: &KMeansModel, params: &super::KMeansValidParams) -> Vec<u8> {
    let meta = ModelMeta {
        params_json: format!(
            "{{\"k\":{},\"seed\":{},\"max_iter\":{}}}",
            params.k(),
            params.seed(),
            params.max_iter()
        ),
        features: FeatureSpec {
            dimensions: model.n_cols() as u32,
            names: Vec::new(),
            sparse: false,
        },
        stats: TrainingStats {
            rows: model.n_rows(),
            partitions: 0,
            loss: model.inertia(),
            iterations: model.n_iter() as u32,
            trained_at_unix_ms: 0,
        },
    };
    encode(
        ModelKind::Kmeans,
        KMEANS_FORMAT_VERSION,
        meta,
        model.to_bytes(),
    )
}

/// What a k-means scoring function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KMeansOutput {
    /// `kmeans_assign`: the nearest centroid.
    Assign,
    /// `kmeans_distance`: the distance to it.
    Distance,
    /// `kmeans_outlier`: the cluster-based outlier score.
    Outlier,
}

/// The k-means scoring functions.
#[derive(Debug)]
pub struct KMeansScore;

impl ScoreSpec for KMeansScore {
    type Model = KMeansModel;
    type Output = KMeansOutput;
    type Error = KMeansError;
    const KIND: ModelKind = ModelKind::Kmeans;
    const VERSION: u32 = KMEANS_FORMAT_VERSION;
    const FIT: &'static str = KMEANS_FIT;
    const SECTION: DocSection = KMEANS_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("features", "List of Float64 of the model's width.");

    fn cache() -> &'static ModelCache<KMeansModel> {
        &CACHE
    }

    fn decode(envelope: &ModelEnvelope) -> Result<KMeansModel, KMeansError> {
        KMeansModel::from_bytes(&envelope.payload)
    }

    fn name(output: KMeansOutput) -> &'static str {
        match output {
            KMeansOutput::Assign => "kmeans_assign",
            KMeansOutput::Distance => "kmeans_distance",
            KMeansOutput::Outlier => "kmeans_outlier",
        }
    }

    fn return_type(output: KMeansOutput) -> DataType {
        match output {
            KMeansOutput::Assign => DataType::UInt32,
            KMeansOutput::Distance | KMeansOutput::Outlier => DataType::Float64,
        }
    }

    fn doc(output: KMeansOutput) -> (&'static str, &'static str) {
        const EXAMPLE: &str = "```sql\n> SELECT kmeans_distance([3.0, 4.0], m) AS d FROM \
             (SELECT kmeans_fit(v, 1, 42) AS m FROM (VALUES ([0.0, 0.0])) AS t(v));\n\
             +-----+\n| d   |\n+-----+\n| 5.0 |\n+-----+\n```";
        let description = match output {
            KMeansOutput::Assign => {
                "The cluster (0-based, UInt32) of each feature vector under a model from \
                 `kmeans_fit`: the nearest centroid by Euclidean distance. Null for a null \
                 vector or model."
            }
            KMeansOutput::Distance => {
                "Euclidean distance of each feature vector to its nearest centroid under a \
                 model from `kmeans_fit` (Float64); rank by it to find outliers. Null for a \
                 null vector or model."
            }
            KMeansOutput::Outlier => {
                "Cluster-based outlier score of each feature vector under a model from \
                 `kmeans_fit` (Float64; unweighted CBLOF): the distance to its nearest \
                 centroid when that cluster is large, else the distance to the nearest \
                 large centroid. Large clusters are, by training size, the largest ones \
                 that together hold 90 % of the training rows, or up to a cluster five \
                 times the size of the next. A few outliers that form a cluster of their \
                 own score by how far they are from the bulk, not zero. Null for a null \
                 vector or model."
            }
        };
        (description, EXAMPLE)
    }

    fn score(
        output: KMeansOutput,
        model: &KMeansModel,
        features: &ArrayRef,
        _accelerator: Accelerator,
    ) -> Result<ArrayRef, KMeansError> {
        let rows = matrix_from_list(features.as_ref())?;
        let matrix = rows.matrix();
        if matrix.n_rows() == 0 {
            return Ok(new_null_array(&Self::return_type(output), rows.input_len()));
        }
        Ok(match output {
            KMeansOutput::Assign => Arc::new(rows.scatter_u32(&model.assign(matrix)?)?),
            KMeansOutput::Distance => {
                Arc::new(rows.scatter_f64(&model.distance(matrix)?)?)
            }
            KMeansOutput::Outlier => {
                Arc::new(rows.scatter_f64(&model.outlier_distance(matrix)?)?)
            }
        })
    }
}

/// The `kmeans_fit` aggregate.
pub fn kmeans_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(FitUdaf::<KMeansFit>::default())))
        .clone()
}

fn score_udf(
    cell: &'static OnceLock<Arc<ScalarUDF>>,
    output: KMeansOutput,
) -> Arc<ScalarUDF> {
    cell.get_or_init(|| Arc::new(ScalarUDF::from(ScoreUdf::<KMeansScore>::new(output))))
        .clone()
}

/// The `kmeans_assign` scalar function.
pub fn kmeans_assign_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    score_udf(&UDF, KMeansOutput::Assign)
}

/// The `kmeans_distance` scalar function.
pub fn kmeans_distance_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    score_udf(&UDF, KMeansOutput::Distance)
}

/// The `kmeans_outlier` scalar function.
pub fn kmeans_outlier_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    score_udf(&UDF, KMeansOutput::Outlier)
}

/// Binary array of encoded partial states, for tests of the state round trip.
#[cfg(test)]
fn states_of(partials: &[KMeansPartial]) -> ArrayRef {
    Arc::new(datafusion::arrow::array::BinaryArray::from_iter_values(
        partials.iter().map(|p| p.to_bytes()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::FitAccumulator;
    use crate::matrix::FeatureMatrix;
    use datafusion::arrow::array::{Float64Array, UInt32Array};
    use datafusion::logical_expr::Accumulator;
    use datafusion::prelude::SessionContext;

    fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_udaf(kmeans_fit_udaf().as_ref().clone());
        ctx.register_udf(kmeans_assign_udf().as_ref().clone());
        ctx.register_udf(kmeans_distance_udf().as_ref().clone());
        ctx
    }

    async fn one_row(
        ctx: &SessionContext,
        sql: &str,
    ) -> datafusion::arrow::array::RecordBatch {
        let batches = ctx
            .sql(sql)
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        batches
            .into_iter()
            .find(|b| b.num_rows() > 0)
            .expect("a row")
    }

    #[tokio::test]
    async fn documented_examples_hold() {
        let ctx = ctx();
        let b = one_row(
            &ctx,
            "SELECT kmeans_assign([0.0, 0.1], m) AS a, kmeans_assign([9.0, 9.1], m) AS b, \
             kmeans_distance([0.0, 0.1], m) AS d FROM (SELECT kmeans_fit(v, 2, 42) AS m FROM \
             (VALUES ([0.0, 0.0]), ([0.0, 0.2]), ([9.0, 9.0]), ([9.0, 9.2])) AS t(v))",
        )
        .await;
        let a = b
            .column(0)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .expect("u32")
            .value(0);
        let bb = b
            .column(1)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .expect("u32")
            .value(0);
        let d = b
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64")
            .value(0);
        assert_ne!(a, bb, "the two blobs must be different clusters");
        assert!(d.abs() < 1e-9, "distance to own centroid: {d}");

        let b = one_row(
            &ctx,
            "SELECT kmeans_distance([3.0, 4.0], m) AS d FROM (SELECT kmeans_fit(v, 1, 42) AS m \
             FROM (VALUES ([0.0, 0.0])) AS t(v))",
        )
        .await;
        let d = b
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64")
            .value(0);
        assert!((d - 5.0).abs() < 1e-12, "{d}");
    }

    #[tokio::test]
    async fn wrong_types_fail_at_planning() {
        let ctx = ctx();
        for sql in [
            "SELECT kmeans_fit(x, 2) FROM (VALUES ('a')) AS t(x)",
            "SELECT kmeans_fit([1.0], 'two') FROM (VALUES (1)) AS t(x)",
            "SELECT kmeans_distance([1.0], 42)",
        ] {
            let err = match ctx.sql(sql).await {
                Err(e) => e,
                Ok(df) => df.collect().await.expect_err(sql),
            };
            assert!(err.to_string().contains("kmeans_"), "{sql}: {err}");
        }
    }

    #[tokio::test]
    async fn bad_k_is_a_planning_error_naming_the_parameter() {
        let ctx = ctx();
        let err = ctx
            .sql("SELECT kmeans_fit(v, 0) FROM (VALUES ([1.0])) AS t(v)")
            .await
            .expect("plans")
            .collect()
            .await
            .expect_err("k = 0");
        assert!(
            err.to_string().contains("kmeans_fit") && err.to_string().contains('k'),
            "{err}"
        );
    }

    #[tokio::test]
    async fn corrupt_model_is_a_clear_error() {
        let ctx = ctx();
        let err = ctx
            .sql("SELECT kmeans_distance([1.0], X'484e544d00000000')")
            .await
            .expect("plans")
            .collect()
            .await
            .expect_err("corrupt");
        assert!(err.to_string().contains("kmeans_distance"), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn state_round_trip_matches_single_pass() {
        let params = KMeansParams::default().k(3).check().expect("valid");
        let rows: Vec<Vec<f64>> = (0..300)
            .map(|i| {
                vec![
                    (i % 3) as f64 * 10.0 + (i as f64 * 0.37).sin(),
                    (i % 7) as f64,
                ]
            })
            .collect();
        let matrix = FeatureMatrix::from_rows(&rows).expect("matrix");
        let single = params.fit(&matrix).expect("fit");

        let mut partials = Vec::new();
        for chunk in rows.chunks(70) {
            let mut p = KMeansPartial::new(&params);
            p.update(&FeatureMatrix::from_rows(chunk).expect("chunk"))
                .expect("update");
            partials.push(p);
        }
        partials.reverse();
        let mut acc = FitAccumulator::new(KMeansPartial::new(&params));
        acc.merge_batch(&[states_of(&partials)]).expect("merge");
        let datafusion::common::ScalarValue::Binary(Some(bytes)) =
            acc.evaluate().expect("evaluate")
        else {
            panic!("kmeans_fit returned no model");
        };
        let env =
            crate::model_io::decode(&bytes, ModelKind::Kmeans, KMEANS_FORMAT_VERSION)
                .expect("a k-means model");
        let merged = KMeansModel::from_bytes(&env.payload).expect("payload");
        let rel = (merged.inertia() - single.inertia()).abs() / single.inertia();
        assert!(
            rel < 0.01,
            "inertia {} vs {}",
            merged.inertia(),
            single.inertia()
        );
    }

    /// Model URIs are SQL text: outside the session's model roots they are refused before
    /// anything is opened (`/dev/zero` used to be read forever, `/etc/passwd` whole).
    #[tokio::test]
    async fn model_uris_outside_the_roots_are_refused() {
        use crate::features::test_util::{ctx, run};
        let dir = std::env::temp_dir()
            .join(format!("huntsman-km-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ctx = ctx();
        run(
            &ctx,
            &format!("SET huntsman.model_roots = '{}'", dir.display()),
        )
        .await;
        let error = |uri: &'static str| {
            let ctx = ctx.clone();
            async move {
                let sql = format!("SELECT kmeans_assign(make_array(1.0, 2.0), '{uri}')");
                match ctx.sql(&sql).await.expect("plans").collect().await {
                    Ok(_) => panic!("{sql}: expected an error"),
                    Err(e) => e.to_string(),
                }
            }
        };
        for uri in ["/etc/passwd", "/dev/zero", "file:///etc/passwd"] {
            let err = error(uri).await;
            assert!(
                err.contains(&format!(
                    "kmeans_assign: model '{uri}' is outside the model roots ({})",
                    dir.display()
                )),
                "{err}"
            );
        }
        let err = error("/tmp/../etc/passwd").await;
        assert!(err.contains("'..' component"), "{err}");
        // Inside the roots: a file that is not a model is read (it is small) and refused
        // by its content.
        std::fs::write(dir.join("junk.hntm"), b"not a model at all").expect("write");
        let junk = format!("{}/junk.hntm", dir.display());
        let sql = format!("SELECT kmeans_assign(make_array(1.0, 2.0), '{junk}')");
        let err = ctx
            .sql(&sql)
            .await
            .expect("plans")
            .collect()
            .await
            .expect_err("junk");
        assert!(err.to_string().contains("kmeans_assign: "), "{err}");
        assert!(!err.to_string().contains("outside"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
