//! `scaler_fit(vec [, method])` and `scale(vec, model)`: per-column standard or
//! min-max scaling of dense feature vectors.
//!
//! Each partition keeps, per column, the mean and the sum of squared deviations (M2)
//! of its rows, plus the minimum and maximum. Partials merge with Chan et al.'s
//! parallel formula, which is exact up to rounding, so the model does not depend on how
//! the rows were split. Standard scaling uses the population standard deviation
//! (scikit-learn's `StandardScaler`); a constant column scales to 0, never NaN.

mod udf;

pub use udf::{Scale, ScalerFit, scale_udf, scaler_fit_udaf};

use std::mem::size_of;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, Float64Builder, ListBuilder, new_null_array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use huntsman_proto::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};

use super::FeatureError;
use super::{FEATURES_SECTION, dense_type};
use crate::error::plan_error;
#[cfg(test)]
use crate::fit::FitAccumulator;
use crate::fit::FitPartial;
use crate::matrix::{
    ByteReader, ByteWriter, DecodeError, FeatureMatrix, invalid, matrix_from_list,
};
use crate::model_io::{ModelMeta, encode};
use crate::scoring::ModelCache;
#[cfg(test)]
use datafusion::logical_expr::Accumulator;

const SCALER_FIT: &str = "scaler_fit";
const SCALE: &str = "scale";
/// Newest scaler payload format this build writes and reads.
pub const SCALER_FORMAT_VERSION: u32 = 1;
const STATE_VERSION: u8 = 1;

static CACHE: ModelCache<ScalerModel> = ModelCache::new();

/// How `scale` maps each column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalerMethod {
    /// `(x - mean) / std`, population standard deviation.
    Standard,
    /// `(x - min) / (max - min)`: the training range maps to `[0, 1]`.
    MinMax,
}

impl ScalerMethod {
    /// Parses `'standard'` or `'minmax'` (case-insensitive; `'min_max'` too).
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "standard" => Ok(Self::Standard),
            "minmax" | "min_max" => Ok(Self::MinMax),
            _ => Err(format!("method must be 'standard' or 'minmax' (got '{s}')")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::MinMax => "minmax",
        }
    }

    fn tag(self) -> u8 {
        match self {
            Self::Standard => 0,
            Self::MinMax => 1,
        }
    }

    fn from_tag(tag: u8) -> std::result::Result<Self, DecodeError> {
        match tag {
            0 => Ok(Self::Standard),
            1 => Ok(Self::MinMax),
            t => Err(invalid(format!("scaler method tag {t}"))),
        }
    }
}

/// Per-column running moments of one partition's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalerPartial {
    method: ScalerMethod,
    n: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl ScalerPartial {
    /// An empty summary for `method`.
    pub fn new(method: ScalerMethod) -> Self {
        Self {
            method,
            n: 0,
            mean: Vec::new(),
            m2: Vec::new(),
            min: Vec::new(),
            max: Vec::new(),
        }
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Folds a matrix of rows in: its own moments first, then merged with Chan's formula.
    ///
    /// # Errors
    /// A width other than the one seen so far.
    pub fn update_matrix(
        &mut self,
        m: &FeatureMatrix,
    ) -> std::result::Result<(), String> {
        if m.n_rows() == 0 {
            return Ok(());
        }
        let d = m.n_cols();
        let n = m.n_rows() as f64;
        let mut batch = Self::new(self.method);
        batch.n = m.n_rows() as u64;
        batch.mean = vec![0.0; d];
        batch.m2 = vec![0.0; d];
        batch.min = vec![f64::INFINITY; d];
        batch.max = vec![f64::NEG_INFINITY; d];
        for row in m.rows() {
            for (j, &x) in row.iter().enumerate() {
                batch.mean[j] += x;
                batch.min[j] = batch.min[j].min(x);
                batch.max[j] = batch.max[j].max(x);
            }
        }
        batch.mean.iter_mut().for_each(|s| *s /= n);
        for row in m.rows() {
            for (j, &x) in row.iter().enumerate() {
                let dx = x - batch.mean[j];
                batch.m2[j] += dx * dx;
            }
        }
        self.merge_moments(&batch)
    }

    fn merge_moments(&mut self, other: &Self) -> std::result::Result<(), String> {
        if other.n == 0 {
            return Ok(());
        }
        if self.n == 0 {
            let method = self.method;
            *self = other.clone();
            self.method = method;
            return Ok(());
        }
        if self.dim() != other.dim() {
            return Err(format!(
                "vectors differ in length: {} and {}",
                self.dim(),
                other.dim()
            ));
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        for j in 0..self.dim() {
            let delta = other.mean[j] - self.mean[j];
            self.mean[j] += delta * nb / n;
            self.m2[j] += other.m2[j] + delta * delta * na * nb / n;
            self.min[j] = self.min[j].min(other.min[j]);
            self.max[j] = self.max[j].max(other.max[j]);
        }
        self.n += other.n;
        Ok(())
    }

    /// The fitted model; `None` before any row.
    pub fn model(&self) -> Option<ScalerModel> {
        if self.n == 0 {
            return None;
        }
        Some(ScalerModel {
            method: self.method,
            n: self.n,
            mean: self.mean.clone(),
            std: self
                .m2
                .iter()
                .map(|m2| (m2 / self.n as f64).max(0.0).sqrt())
                .collect(),
            min: self.min.clone(),
            max: self.max.clone(),
        })
    }

    fn write(&self, w: &mut ByteWriter) {
        w.u8(self.method.tag());
        w.u64(self.n);
        w.u64(self.dim() as u64);
        for column in [&self.mean, &self.m2, &self.min, &self.max] {
            column.iter().for_each(|v| w.f64(*v));
        }
    }

    fn read(r: &mut ByteReader<'_>) -> std::result::Result<Self, DecodeError> {
        let method = ScalerMethod::from_tag(r.u8()?)?;
        let n = r.u64()?;
        let d = r.count(32, "column count")?;
        let mut column = |what: &str| {
            (0..d)
                .map(|_| r.finite(what))
                .collect::<std::result::Result<Vec<_>, _>>()
        };
        let mean = column("mean")?;
        let m2 = column("m2")?;
        let min = column("min")?;
        let max = column("max")?;
        Ok(Self {
            method,
            n,
            mean,
            m2,
            min,
            max,
        })
    }
}

impl FitPartial for ScalerPartial {
    type Error = FeatureError;
    const FUNCTION: &'static str = SCALER_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> std::result::Result<(), FeatureError> {
        let v = args
            .first()
            .ok_or_else(|| FeatureError::Input("expects a feature vector".into()))?;
        if v.data_type() == &DataType::Null {
            return Ok(());
        }
        let rows = matrix_from_list(v.as_ref())?;
        self.update_matrix(rows.matrix())
            .map_err(FeatureError::Input)
    }

    fn merge(&mut self, other: Self) -> std::result::Result<(), FeatureError> {
        if other.method != self.method {
            return Err(FeatureError::Mismatch(format!(
                "cannot merge a {} partial into a {} one",
                other.method.name(),
                self.method.name()
            )));
        }
        self.merge_moments(&other).map_err(FeatureError::Mismatch)
    }

    fn to_state(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(24 + 32 * self.dim());
        w.u8(STATE_VERSION);
        self.write(&mut w);
        w.into_inner()
    }

    fn from_state(bytes: &[u8]) -> std::result::Result<Self, FeatureError> {
        let mut r = ByteReader::new(bytes);
        let read = |r: &mut ByteReader<'_>| {
            r.version(STATE_VERSION)?;
            let p = Self::read(r)?;
            Ok::<_, DecodeError>(p)
        };
        let p = read(&mut r)?;
        r.finish()?;
        Ok(p)
    }

    fn n_rows(&self) -> u64 {
        self.n
    }

    fn size_bytes(&self) -> usize {
        4 * self.mean.capacity() * size_of::<f64>()
    }

    fn finish(&mut self) -> std::result::Result<Vec<u8>, FeatureError> {
        let model = self.model().ok_or(FeatureError::Empty)?;
        Ok(model.encode())
    }
}

/// A fitted scaler: per-column statistics and the method that uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalerModel {
    method: ScalerMethod,
    n: u64,
    mean: Vec<f64>,
    std: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl ScalerModel {
    /// Number of columns.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The scaling method.
    pub fn method(&self) -> ScalerMethod {
        self.method
    }

    /// Per-column means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-column population standard deviations.
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// Per-column minimum and maximum seen in training.
    pub fn range(&self) -> (&[f64], &[f64]) {
        (&self.min, &self.max)
    }

    /// Scales one value of column `j`; a constant column gives 0.
    fn scale_value(&self, j: usize, x: f64) -> f64 {
        let (offset, width) = match self.method {
            ScalerMethod::Standard => (self.mean[j], self.std[j]),
            ScalerMethod::MinMax => (self.min[j], self.max[j] - self.min[j]),
        };
        if width > 0.0 {
            (x - offset) / width
        } else {
            0.0
        }
    }

    /// Scales a dense row in place.
    ///
    /// # Errors
    /// The row's length differs from the model's.
    pub fn scale_row(&self, row: &mut [f64]) -> std::result::Result<(), String> {
        if row.len() != self.dim() {
            return Err(format!(
                "vector has {} columns but the model was fitted on {}",
                row.len(),
                self.dim()
            ));
        }
        for (j, x) in row.iter_mut().enumerate() {
            *x = self.scale_value(j, *x);
        }
        Ok(())
    }

    fn transform(&self, features: &ArrayRef) -> std::result::Result<ArrayRef, String> {
        if features.data_type() == &DataType::Null {
            return Ok(new_null_array(&dense_type(), features.len()));
        }
        let rows = matrix_from_list(features.as_ref()).map_err(|e| e.to_string())?;
        let matrix = rows.matrix();
        if matrix.n_rows() > 0 && matrix.n_cols() != self.dim() {
            return Err(format!(
                "vectors have {} columns but the model was fitted on {}",
                matrix.n_cols(),
                self.dim()
            ));
        }
        let mut out = ListBuilder::with_capacity(
            Float64Builder::with_capacity(matrix.as_slice().len()),
            rows.input_len(),
        );
        let mut next = matrix.rows();
        let mut buf = Vec::with_capacity(self.dim());
        for i in 0..rows.input_len() {
            if !rows.is_present(i) {
                out.append(false);
                continue;
            }
            let row = next.next().ok_or("matrix has fewer rows than the input")?;
            buf.clear();
            buf.extend_from_slice(row);
            self.scale_row(&mut buf)?;
            out.values().append_slice(&buf);
            out.append(true);
        }
        Ok(Arc::new(out.finish()))
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(24 + 32 * self.dim());
        w.u8(self.method.tag());
        w.u64(self.n);
        w.u64(self.dim() as u64);
        for column in [&self.mean, &self.std, &self.min, &self.max] {
            column.iter().for_each(|v| w.f64(*v));
        }
        let meta = ModelMeta {
            params_json: format!("{{\"method\":\"{}\"}}", self.method.name()),
            features: FeatureSpec {
                dimensions: self.dim() as u32,
                names: Vec::new(),
                sparse: false,
            },
            stats: TrainingStats {
                rows: self.n,
                ..TrainingStats::default()
            },
        };
        encode(
            ModelKind::Scaler,
            SCALER_FORMAT_VERSION,
            meta,
            w.into_inner(),
        )
    }

    pub(crate) fn decode(env: &ModelEnvelope) -> std::result::Result<Self, String> {
        let mut r = ByteReader::new(&env.payload);
        let read = |r: &mut ByteReader<'_>| -> std::result::Result<Self, DecodeError> {
            // Same layout as a partial, with the standard deviation in place of M2.
            let p = ScalerPartial::read(r)?;
            if p.m2.iter().any(|s| *s < 0.0) {
                return Err(invalid("negative standard deviation"));
            }
            Ok(Self {
                method: p.method,
                n: p.n,
                mean: p.mean,
                std: p.m2,
                min: p.min,
                max: p.max,
            })
        };
        let model = read(&mut r).map_err(|e| e.to_string())?;
        r.finish().map_err(|e| e.to_string())?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::test_util::{assert_close, check_doc_example, ctx, error, run};
    use crate::matrix::SeededRng;
    use datafusion::arrow::array::{Array, AsArray, BinaryArray};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::common::ScalarValue;

    fn list(rows: &[Option<Vec<f64>>]) -> ArrayRef {
        let mut b = ListBuilder::new(Float64Builder::new());
        for r in rows {
            match r {
                Some(v) => {
                    b.values().append_slice(v);
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    fn fitted(method: ScalerMethod, rows: &[Option<Vec<f64>>]) -> ScalerModel {
        let mut p = ScalerPartial::new(method);
        FitPartial::update(&mut p, &[list(rows)]).expect("valid");
        p.model().expect("rows")
    }

    #[test]
    fn statistics_match_hand_computed_values() {
        // Column 0: 1, 2, 3, 6 -> mean 3, population variance (4+1+0+9)/4 = 3.5.
        // Column 1: constant 5.
        let rows = [
            Some(vec![1.0, 5.0]),
            Some(vec![2.0, 5.0]),
            None,
            Some(vec![3.0, 5.0]),
            Some(vec![6.0, 5.0]),
        ];
        let m = fitted(ScalerMethod::Standard, &rows);
        assert_close(m.mean(), &[3.0, 5.0], 1e-12);
        assert_close(m.std(), &[3.5f64.sqrt(), 0.0], 1e-12);
        assert_eq!(m.range(), (&[1.0, 5.0][..], &[6.0, 5.0][..]));
        let mut row = [6.0, 9.0];
        m.scale_row(&mut row).expect("same width");
        assert_close(&row, &[3.0 / 3.5f64.sqrt(), 0.0], 1e-12);

        let m = fitted(ScalerMethod::MinMax, &rows);
        let mut row = [2.0, 5.0];
        m.scale_row(&mut row).expect("same width");
        assert_close(&row, &[0.2, 0.0], 1e-12);
        let mut row = [11.0, 1.0];
        m.scale_row(&mut row).expect("same width");
        assert_close(&row, &[2.0, 0.0], 1e-12);
        let err = m.scale_row(&mut [1.0]).unwrap_err();
        assert_eq!(err, "vector has 1 columns but the model was fitted on 2");
    }

    fn state(acc: &mut FitAccumulator<ScalerPartial>) -> Option<Vec<u8>> {
        match acc.state().expect("state").remove(0) {
            ScalarValue::Binary(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merged_partials_match_a_single_pass() {
        let mut rng = SeededRng::new(7);
        let rows: Vec<Option<Vec<f64>>> = (0..200)
            .map(|i| {
                (i % 17 != 0)
                    .then(|| vec![rng.next_f64() * 1e6 + 1e9, rng.next_f64() - 0.5, 3.0])
            })
            .collect();
        for method in [ScalerMethod::Standard, ScalerMethod::MinMax] {
            let single = fitted(method, &rows);
            let mut states = Vec::new();
            for chunk in rows.chunks(23) {
                let mut acc = FitAccumulator::new(ScalerPartial::new(method));
                acc.update_batch(&[list(chunk)]).expect("update");
                states.push(state(&mut acc));
            }
            states.push(state(&mut FitAccumulator::new(ScalerPartial::new(method))));
            states.reverse();
            let mut merged = FitAccumulator::new(ScalerPartial::new(method));
            let array: ArrayRef = Arc::new(BinaryArray::from(
                states.iter().map(|s| s.as_deref()).collect::<Vec<_>>(),
            ));
            merged.merge_batch(&[array]).expect("merge");
            let ScalarValue::Binary(Some(bytes)) = merged.evaluate().expect("evaluate")
            else {
                panic!("no model")
            };
            let env =
                crate::model_io::decode(&bytes, ModelKind::Scaler, 1).expect("model");
            let m = ScalerModel::decode(&env).expect("decodes");
            assert_eq!(m.n, single.n);
            for j in 0..3 {
                let tol = 1e-9 * single.mean[j].abs().max(1.0);
                assert!((m.mean[j] - single.mean[j]).abs() <= tol);
                assert!(
                    (m.std[j] - single.std[j]).abs() <= 1e-9 * single.std[j].max(1.0)
                );
            }
            assert_eq!(
                (m.min.clone(), m.max.clone()),
                (single.min.clone(), single.max.clone())
            );
            assert_eq!(m.std[2], 0.0);
        }
    }

    #[test]
    fn bad_inputs_and_states_are_errors() {
        let mut p = ScalerPartial::new(ScalerMethod::Standard);
        let err = FitPartial::update(&mut p, &[list(&[Some(vec![1.0, f64::NAN])])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 0 column 1 is not finite"), "{err}");
        FitPartial::update(&mut p, &[list(&[Some(vec![1.0, 2.0])])]).expect("ok");
        let err = FitPartial::update(&mut p, &[list(&[Some(vec![1.0])])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 and 1"), "{err}");
        let q = ScalerPartial::new(ScalerMethod::MinMax);
        assert!(p.merge(q).is_err());
        assert!(ScalerPartial::from_state(&[1, 0]).is_err());
        let mut bytes = ScalerPartial::new(ScalerMethod::MinMax).to_state();
        assert_eq!(
            ScalerPartial::from_state(&bytes),
            Ok(ScalerPartial::new(ScalerMethod::MinMax))
        );
        bytes.push(1);
        assert!(ScalerPartial::from_state(&bytes).is_err());
    }

    async fn dense(sql: &str) -> Vec<Option<Vec<f64>>> {
        let b = run(&ctx(), sql).await;
        let l = b[0].column(0).as_list::<i32>();
        (0..l.len())
            .map(|i| {
                (!l.is_null(i))
                    .then(|| l.value(i).as_primitive::<Float64Type>().values().to_vec())
            })
            .collect()
    }

    #[tokio::test]
    async fn sql_scaling_uses_the_fitted_statistics() {
        let rows = dense(
            "WITH d AS (SELECT * FROM (VALUES (1, [1.0, 10.0]), (2, [3.0, 10.0]), \
             (3, NULL)) AS t(id, v)), m AS (SELECT scaler_fit(v) AS m FROM d) \
             SELECT scale(v, m.m) FROM d CROSS JOIN m ORDER BY id",
        )
        .await;
        assert_eq!(
            rows,
            vec![Some(vec![-1.0, 0.0]), Some(vec![1.0, 0.0]), None]
        );
        let rows = dense(
            "SELECT scale([2.0], scaler_fit(v, 'MinMax')) FROM \
             (VALUES ([0.0]), ([8.0])) AS t(v)",
        )
        .await;
        assert_eq!(rows, vec![Some(vec![0.25])]);
    }

    #[tokio::test]
    async fn errors_name_the_function_and_the_problem() {
        let err =
            error("SELECT scaler_fit(v, 'robust') FROM (VALUES ([1.0])) AS t(v)").await;
        assert!(
            err.contains(
                "scaler_fit: method must be 'standard' or 'minmax' (got 'robust')"
            ),
            "{err}"
        );
        let err = error("SELECT scaler_fit(v, 3) FROM (VALUES ([1.0])) AS t(v)").await;
        assert!(
            err.contains("scaler_fit: method must be a string, got Int64"),
            "{err}"
        );
        let err = error("SELECT scaler_fit('x')").await;
        assert!(
            err.contains("scaler_fit: features must be a list of Float64"),
            "{err}"
        );
        let err = error("SELECT scale([1.0], 5)").await;
        assert!(err.contains("scale: model must be Binary"), "{err}");
        let err = error(
            "SELECT scale([1.0, 2.0, 3.0], m) FROM (SELECT scaler_fit(v) AS m FROM \
             (VALUES ([1.0, 2.0])) AS t(v))",
        )
        .await;
        assert!(
            err.contains("scale: vectors have 3 columns but the model was fitted on 2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn no_rows_give_a_null_model_and_null_output() {
        let rows = dense(
            "SELECT scale([1.0], m) FROM (SELECT scaler_fit(v) AS m FROM \
             (VALUES (CAST(NULL AS DOUBLE[]))) AS t(v))",
        )
        .await;
        assert_eq!(rows, vec![None]);
    }

    #[tokio::test]
    async fn documented_examples_hold() {
        check_doc_example(super::udf::SCALER_FIT_EXAMPLE).await;
        check_doc_example(super::udf::SCALE_EXAMPLE).await;
    }
}
