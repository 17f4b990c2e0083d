//! `idf_fit(tf)` and `tfidf(tf, model [, norm])`: inverse document frequency.
//!
//! Training counts, for every column, how many documents (non-null rows) have a
//! non-zero entry there. Counts add up exactly across partitions, so the model is the
//! same however the rows are split. The weight is scikit-learn's smooth idf,
//! `ln((1 + n) / (1 + df)) + 1`: never zero, so a term present in every document still
//! counts, and finite for columns no training document used (`df = 0`).

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use huntsman_proto::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};

use super::FeatureError;
use super::{FEATURES_SECTION, coerce_sparse, planning_str, scalar_arg};
use crate::error::{exec_error, plan_error};
#[cfg(test)]
use crate::fit::FitAccumulator;
use crate::fit::FitPartial;
use crate::matrix::{ByteReader, ByteWriter, DecodeError, invalid};
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param};
use crate::model_io::{ModelMeta, encode};
use crate::scoring::{
    ModelCache, ModelFormat, check_model_type, resolve_models, score_with_models,
};
use crate::sparse::{SparseBuilder, SparseRows, sparse_type};
#[cfg(test)]
use datafusion::logical_expr::Accumulator;
use datafusion::logical_expr::DocSection;

const IDF_FIT: &str = "idf_fit";
const TFIDF: &str = "tfidf";
/// Newest idf payload format this build writes and reads.
pub const IDF_FORMAT_VERSION: u32 = 1;
const STATE_VERSION: u8 = 1;

static CACHE: ModelCache<IdfModel> = ModelCache::new();

/// Document frequencies of one partition's rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdfPartial {
    /// Dimension of the vectors seen; `None` before the first non-null row.
    dim: Option<usize>,
    n_docs: u64,
    df: HashMap<i32, u64>,
}

impl IdfPartial {
    /// Folds a batch of sparse vectors in; null rows are skipped.
    ///
    /// # Errors
    /// Malformed vectors, or a dimension other than the one seen so far.
    pub fn update_rows(&mut self, rows: &SparseRows) -> std::result::Result<(), String> {
        for i in 0..rows.len() {
            if rows.is_null(i) {
                continue;
            }
            self.check_dim(rows.row_dim(i))?;
            self.n_docs += 1;
            let (indices, values) = rows.row(i);
            for (&j, &v) in indices.iter().zip(values) {
                if v != 0.0 {
                    *self.df.entry(j).or_insert(0) += 1;
                }
            }
        }
        Ok(())
    }

    fn check_dim(&mut self, dim: usize) -> std::result::Result<(), String> {
        match self.dim {
            None => {
                self.dim = Some(dim);
                Ok(())
            }
            Some(d) if d == dim => Ok(()),
            Some(d) => Err(format!(
                "term-frequency vectors differ in dimension: {d} and {dim}"
            )),
        }
    }

    /// The document frequencies as ascending `(index, df)` pairs.
    fn sorted(&self) -> Vec<(i32, u64)> {
        let mut pairs: Vec<(i32, u64)> = self.df.iter().map(|(&i, &d)| (i, d)).collect();
        pairs.sort_unstable();
        pairs
    }

    fn encode_pairs(w: &mut ByteWriter, pairs: &[(i32, u64)]) {
        w.u64(pairs.len() as u64);
        for &(i, d) in pairs {
            w.u32(i as u32);
            w.u64(d);
        }
    }

    fn decode_pairs(
        r: &mut ByteReader<'_>,
        dim: usize,
    ) -> std::result::Result<Vec<(i32, u64)>, DecodeError> {
        let n = r.count(12, "document-frequency count")?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let i = r.u32()?;
            let d = r.u64()?;
            if i as usize >= dim {
                return Err(invalid(format!("index {i} for dimension {dim}")));
            }
            if pairs.last().is_some_and(|&(p, _)| p >= i as i32) {
                return Err(invalid(format!("index order at {i}")));
            }
            pairs.push((i as i32, d));
        }
        Ok(pairs)
    }

    /// The fitted model; `None` before any row.
    pub fn model(&self) -> Option<IdfModel> {
        let dim = self.dim?;
        Some(IdfModel::new(dim, self.n_docs, self.sorted()))
    }
}

impl FitPartial for IdfPartial {
    type Error = FeatureError;
    const FUNCTION: &'static str = IDF_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> std::result::Result<(), FeatureError> {
        let tf = args.first().ok_or_else(|| {
            FeatureError::Input("expects a term-frequency vector".into())
        })?;
        if tf.data_type() == &DataType::Null {
            return Ok(());
        }
        let rows = SparseRows::from_array(tf.as_ref()).map_err(FeatureError::Input)?;
        self.update_rows(&rows).map_err(FeatureError::Input)
    }

    fn merge(&mut self, other: Self) -> std::result::Result<(), FeatureError> {
        if let Some(d) = other.dim {
            self.check_dim(d).map_err(FeatureError::Mismatch)?;
        }
        self.n_docs += other.n_docs;
        for (i, d) in other.df {
            *self.df.entry(i).or_insert(0) += d;
        }
        Ok(())
    }

    fn to_state(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(32 + 12 * self.df.len());
        w.u8(STATE_VERSION);
        w.u64(self.dim.map_or(u64::MAX, |d| d as u64));
        w.u64(self.n_docs);
        Self::encode_pairs(&mut w, &self.sorted());
        w.into_inner()
    }

    fn from_state(bytes: &[u8]) -> std::result::Result<Self, FeatureError> {
        let decode = || -> std::result::Result<Self, DecodeError> {
            let mut r = ByteReader::new(bytes);
            r.version(STATE_VERSION)?;
            let dim = match r.u64()? {
                u64::MAX => None,
                d => Some(usize::try_from(d).map_err(|_| invalid("dimension"))?),
            };
            let n_docs = r.u64()?;
            let pairs = Self::decode_pairs(&mut r, dim.unwrap_or(0))?;
            r.finish()?;
            Ok(Self {
                dim,
                n_docs,
                df: pairs.into_iter().collect(),
            })
        };
        Ok(decode()?)
    }

    fn n_rows(&self) -> u64 {
        self.n_docs
    }

    fn size_bytes(&self) -> usize {
        // hashbrown stores one control byte per bucket beside each entry.
        self.df.capacity() * (size_of::<(i32, u64)>() + 1)
    }

    fn finish(&mut self) -> std::result::Result<Vec<u8>, FeatureError> {
        let model = self.model().ok_or(FeatureError::Empty)?;
        Ok(model.encode())
    }
}

/// A fitted idf model: document frequencies of the columns that occurred.
#[derive(Debug, Clone, PartialEq)]
pub struct IdfModel {
    dim: usize,
    n_docs: u64,
    indices: Vec<i32>,
    df: Vec<u64>,
    idf: Vec<f64>,
    unseen_idf: f64,
}

/// Normalisation `tfidf` applies to each output row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Norm {
    /// Raw `tf × idf` (Spark's `IDFModel`, what the original hunts used).
    None,
    /// Each row divided by its Euclidean norm (scikit-learn's `TfidfTransformer`).
    L2,
}

impl Norm {
    fn parse(s: Option<&str>) -> std::result::Result<Self, String> {
        match s.map(str::to_ascii_lowercase).as_deref() {
            None | Some("none") => Ok(Norm::None),
            Some("l2") => Ok(Norm::L2),
            Some(other) => Err(format!("norm must be 'none' or 'l2' (got '{other}')")),
        }
    }
}

impl IdfModel {
    /// A model from ascending `(index, df)` pairs over `n_docs` documents.
    pub fn new(dim: usize, n_docs: u64, pairs: Vec<(i32, u64)>) -> Self {
        let weight = |df: u64| ((1.0 + n_docs as f64) / (1.0 + df as f64)).ln() + 1.0;
        let (indices, df): (Vec<i32>, Vec<u64>) = pairs.into_iter().unzip();
        let idf = df.iter().map(|&d| weight(d)).collect();
        Self {
            dim,
            n_docs,
            indices,
            df,
            idf,
            unseen_idf: weight(0),
        }
    }

    /// Dimension of the vectors the model was trained on.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of training documents.
    pub fn n_docs(&self) -> u64 {
        self.n_docs
    }

    /// Document frequency of column `index`.
    pub fn df(&self, index: i32) -> u64 {
        self.indices.binary_search(&index).map_or(0, |k| self.df[k])
    }

    /// Smooth idf of column `index`: `ln((1 + n) / (1 + df)) + 1`.
    pub fn idf(&self, index: i32) -> f64 {
        self.indices
            .binary_search(&index)
            .map_or(self.unseen_idf, |k| self.idf[k])
    }

    /// Weights a batch of term-frequency vectors.
    ///
    /// # Errors
    /// A vector whose dimension differs from the model's.
    pub fn transform(
        &self,
        rows: &SparseRows,
        norm: Norm,
    ) -> std::result::Result<ArrayRef, String> {
        let mut out = SparseBuilder::new(self.dim);
        let mut values = Vec::new();
        for i in 0..rows.len() {
            if rows.is_null(i) {
                out.append_null();
                continue;
            }
            if rows.row_dim(i) != self.dim {
                return Err(format!(
                    "row {i}: vector has dimension {} but the model was fitted on \
                     dimension {}",
                    rows.row_dim(i),
                    self.dim
                ));
            }
            let (indices, tf) = rows.row(i);
            values.clear();
            values.extend(indices.iter().zip(tf).map(|(&j, &v)| v * self.idf(j)));
            if norm == Norm::L2 {
                let len = values.iter().map(|v| v * v).sum::<f64>().sqrt();
                if len > 0.0 {
                    values.iter_mut().for_each(|v| *v /= len);
                }
            }
            out.append(indices, &values);
        }
        Ok(out.finish())
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(32 + 12 * self.indices.len());
        w.u64(self.dim as u64);
        w.u64(self.n_docs);
        let pairs: Vec<(i32, u64)> = self
            .indices
            .iter()
            .copied()
            .zip(self.df.iter().copied())
            .collect();
        IdfPartial::encode_pairs(&mut w, &pairs);
        let meta = ModelMeta {
            params_json: "{\"smooth_idf\":true}".into(),
            features: FeatureSpec {
                dimensions: self.dim as u32,
                names: Vec::new(),
                sparse: true,
            },
            stats: TrainingStats {
                rows: self.n_docs,
                ..TrainingStats::default()
            },
        };
        encode(ModelKind::Idf, IDF_FORMAT_VERSION, meta, w.into_inner())
    }

    pub(crate) fn decode(env: &ModelEnvelope) -> std::result::Result<Self, String> {
        let mut r = ByteReader::new(&env.payload);
        let read = |r: &mut ByteReader<'_>| -> std::result::Result<Self, DecodeError> {
            let dim = r.usize("dimension")?;
            let n_docs = r.u64()?;
            let pairs = IdfPartial::decode_pairs(r, dim)?;
            Ok(Self::new(dim, n_docs, pairs))
        };
        let model = read(&mut r).map_err(|e| e.to_string())?;
        r.finish().map_err(|e| e.to_string())?;
        Ok(model)
    }
}

/// `idf_fit(tf)`: document frequencies of sparse term-frequency vectors, as a model.
#[derive(Debug)]
pub struct IdfFit;

impl FitSpec for IdfFit {
    type Partial = IdfPartial;
    const NAME: &'static str = IDF_FIT;
    const SECTION: DocSection = FEATURES_SECTION;
    const INPUT: (&'static str, &'static str) = (
        "tf",
        "Sparse vector, typically `hash_tf(tokenize(text), n)`.",
    );
    const PARAMS: &'static [Param] = &[];
    const DESCRIPTION: &'static str = "Fits inverse document frequencies on sparse term-frequency vectors and \
     returns the model (Binary) for `tfidf`. Counts, per column, the \
     documents (non-null rows) with a non-zero entry; counts merge exactly \
     across partitions. The weight is scikit-learn's smooth idf, \
     ln((1 + n) / (1 + df)) + 1. Every row must have the same dimension. \
     Null rows are skipped; returns null for no rows.";
    const EXAMPLE: &'static str = IDF_FIT_EXAMPLE;

    fn coerce_input(t: &DataType) -> Result<DataType> {
        coerce_sparse(IDF_FIT, "tf", t)
    }

    fn partial(_params: &Literals<'_>) -> Result<IdfPartial> {
        Ok(IdfPartial::default())
    }
}

const IDF_FIT_EXAMPLE: &str = "```sql\n\
> SELECT to_dense(tfidf(hash_tf(['a', 'b'], 2), m)) AS w FROM (SELECT idf_fit(hash_tf(tokenize(q), 2)) AS m FROM (VALUES ('a'), ('a b'), ('a a')) AS t(q));\n\
+---------------------------+\n\
| w                         |\n\
+---------------------------+\n\
| [1.0, 1.6931471805599454] |\n\
+---------------------------+\n\
```";

/// `tfidf(tf, model [, norm])`: term frequencies weighted by an idf model.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Tfidf {
    signature: Signature,
}

impl Default for Tfidf {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Tfidf {
    fn name(&self) -> &str {
        TFIDF
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&arg_types.len()) {
            return Err(plan_error(
                TFIDF,
                format!(
                    "takes (tf, model [, norm]), got {} arguments",
                    arg_types.len()
                ),
            ));
        }
        let mut out = vec![coerce_sparse(TFIDF, "tf", &arg_types[0])?];
        check_model_type(TFIDF, &arg_types[1])?;
        out.push(arg_types[1].clone());
        if let Some(norm) = arg_types.get(2) {
            if !(super::is_string(norm) || norm == &DataType::Null) {
                return Err(plan_error(
                    TFIDF,
                    format!("norm must be the string 'none' or 'l2', got {norm}"),
                ));
            }
            out.push(DataType::Utf8);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(sparse_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if args.arg_fields.len() > 2 {
            let norm = args.scalar_arguments.get(2).copied().flatten();
            let norm = planning_str(TFIDF, "norm", norm)?;
            Norm::parse(norm.as_deref()).map_err(|e| plan_error(TFIDF, e))?;
        }
        Ok(Arc::new(Field::new(TFIDF, sparse_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (tf, model) = match args.args.as_slice() {
            [tf, model] | [tf, model, _] => (tf, model),
            _ => return Err(exec_error(TFIDF, "takes (tf, model [, norm])")),
        };
        let norm = match args.args.get(2) {
            Some(n) => planning_str(TFIDF, "norm", scalar_arg(n))?,
            None => None,
        };
        let norm = Norm::parse(norm.as_deref()).map_err(|e| exec_error(TFIDF, e))?;
        let rows = args.number_rows;
        let tf = tf.to_array(rows)?;
        let models = resolve_models(
            TFIDF,
            model,
            rows,
            &CACHE,
            &args.config_options,
            ModelFormat {
                kind: ModelKind::Idf,
                supported_version: IDF_FORMAT_VERSION,
            },
            IdfModel::decode,
        )?;
        let out = score_with_models(&tf, models, &sparse_type(), |m, f| {
            if f.data_type() == &DataType::Null {
                return Ok(new_null_array(&sparse_type(), f.len()));
            }
            let sparse =
                SparseRows::from_array(f.as_ref()).map_err(|e| exec_error(TFIDF, e))?;
            m.transform(&sparse, norm).map_err(|e| exec_error(TFIDF, e))
        })?;
        Ok(ColumnarValue::Array(out))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                FEATURES_SECTION,
                "Weights sparse term frequencies by an idf model from `idf_fit`: each \
                 entry becomes tf × idf. By default the result is not normalised, as in \
                 Spark's IDFModel that the original hunts used (standardise or scale it \
                 afterwards as the hunt needs); with norm 'l2' each row is divided by its \
                 Euclidean length, as scikit-learn's TfidfTransformer does, so long \
                 and short documents compare by their mix of terms alone. The vector's \
                 dimension must match the model's. Null for a null vector or model.",
                "tfidf(tf, model [, norm])",
            )
            .with_argument("tf", "Sparse vector from hash_tf, of the model's dimension.")
            .with_argument(
                "model",
                "Binary model from idf_fit, or a Utf8 path / file:// URI of a stored \
                 model; decoded once per process and cached by checksum.",
            )
            .with_argument("norm", "'none' (default) or 'l2', a string literal.")
            .with_sql_example(TFIDF_EXAMPLE)
            .build()
        }))
    }
}

const TFIDF_EXAMPLE: &str = "```sql\n\
> SELECT to_dense(tfidf(hash_tf(['a', 'b'], 2), m, 'l2')) AS w FROM (SELECT idf_fit(hash_tf(tokenize(q), 2)) AS m FROM (VALUES ('a'), ('a b'), ('a a')) AS t(q));\n\
+------------------------------------------+\n\
| w                                        |\n\
+------------------------------------------+\n\
| [0.5085423203783267, 0.8610369959439764] |\n\
+------------------------------------------+\n\
```";

/// The `idf_fit` aggregate.
pub fn idf_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(FitUdaf::<IdfFit>::default())))
        .clone()
}

/// The `tfidf` scalar function.
pub fn tfidf_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(Tfidf::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::test_util::{assert_close, check_doc_example, ctx, error, run};
    use datafusion::arrow::array::{AsArray, BinaryArray};
    use datafusion::common::ScalarValue;

    fn sparse(dim: usize, rows: &[Option<(&[i32], &[f64])>]) -> ArrayRef {
        let mut b = SparseBuilder::new(dim);
        for r in rows {
            match r {
                Some((i, v)) => b.append(i, v),
                None => b.append_null(),
            }
        }
        b.finish()
    }

    /// Four documents over 5 columns; df = [3, 1, 0, 2, 0] (the explicit zero in the
    /// last document does not count), n = 4.
    fn docs() -> ArrayRef {
        sparse(
            5,
            &[
                Some((&[0, 1], &[2.0, 1.0])),
                Some((&[0, 3], &[1.0, 1.0])),
                None,
                Some((&[0], &[5.0])),
                Some((&[3, 4], &[1.0, 0.0])),
            ],
        )
    }

    #[test]
    fn smooth_idf_matches_hand_computed_values() {
        let mut p = IdfPartial::default();
        FitPartial::update(&mut p, &[docs()]).expect("valid");
        let m = p.model().expect("rows");
        assert_eq!(m.n_docs(), 4);
        assert_eq!(
            (m.df(0), m.df(1), m.df(2), m.df(3), m.df(4)),
            (3, 1, 0, 2, 0)
        );
        // ln(5/4)+1, ln(5/2)+1, ln(5/1)+1, ln(5/3)+1
        assert!((m.idf(0) - 1.223_143_551_314_209_7).abs() < 1e-12);
        assert!((m.idf(1) - 1.916_290_731_874_155).abs() < 1e-12);
        assert!((m.idf(2) - 2.609_437_912_434_100_3).abs() < 1e-12);
        assert!((m.idf(3) - 1.510_825_623_765_990_7).abs() < 1e-12);

        let out = m
            .transform(
                &SparseRows::from_array(docs().as_ref()).expect("valid"),
                Norm::None,
            )
            .expect("transforms");
        let out = SparseRows::from_array(out.as_ref()).expect("valid");
        assert_eq!(out.row(0).0, &[0, 1]);
        assert_close(out.row(0).1, &[2.0 * m.idf(0), m.idf(1)], 1e-12);
        assert!(out.is_null(2));

        let out = m
            .transform(
                &SparseRows::from_array(docs().as_ref()).expect("valid"),
                Norm::L2,
            )
            .expect("transforms");
        let out = SparseRows::from_array(out.as_ref()).expect("valid");
        let (a, b): (f64, f64) = (2.0 * 1.223_143_551_314_209_7, 1.916_290_731_874_155);
        let len = (a * a + b * b).sqrt();
        assert_close(out.row(0).1, &[a / len, b / len], 1e-12);
        // An explicit zero stays zero; the other entry becomes a unit vector.
        assert_close(out.row(4).1, &[1.0, 0.0], 1e-12);
        // A row whose weights are all zero stays zero instead of NaN.
        let zero = sparse(5, &[Some((&[2], &[0.0]))]);
        let out = m
            .transform(
                &SparseRows::from_array(zero.as_ref()).expect("valid"),
                Norm::L2,
            )
            .expect("transforms");
        let out = SparseRows::from_array(out.as_ref()).expect("valid");
        assert_eq!(out.row(0), (&[2][..], &[0.0][..]));
    }

    #[test]
    fn model_from_one_accumulator_equals_merged_partials() {
        let all = docs();
        let mut whole = FitAccumulator::new(IdfPartial::default());
        whole
            .update_batch(std::slice::from_ref(&all))
            .expect("update");
        let expected = whole.evaluate().expect("evaluate");

        for split in 0..=all.len() {
            let mut left = FitAccumulator::new(IdfPartial::default());
            left.update_batch(&[all.slice(0, split)]).expect("update");
            let mut right = FitAccumulator::new(IdfPartial::default());
            right
                .update_batch(&[all.slice(split, all.len() - split)])
                .expect("update");
            let state = |acc: &mut FitAccumulator<IdfPartial>| match acc.state() {
                Ok(s) => match &s[0] {
                    ScalarValue::Binary(b) => b.clone(),
                    other => panic!("{other:?}"),
                },
                Err(e) => panic!("{e}"),
            };
            let states: ArrayRef = Arc::new(BinaryArray::from(vec![
                state(&mut right).as_deref(),
                state(&mut left).as_deref(),
            ]));
            let mut merged = FitAccumulator::new(IdfPartial::default());
            merged.merge_batch(&[states]).expect("merge");
            assert_eq!(
                merged.evaluate().expect("evaluate"),
                expected,
                "split {split}"
            );
        }
    }

    #[test]
    fn mixed_dimensions_and_bad_states_are_errors() {
        let mut p = IdfPartial::default();
        FitPartial::update(&mut p, &[sparse(5, &[Some((&[1], &[1.0]))])]).expect("ok");
        let err = FitPartial::update(&mut p, &[sparse(6, &[Some((&[1], &[1.0]))])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("5 and 6"), "{err}");
        let mut q = IdfPartial::default();
        FitPartial::update(&mut q, &[sparse(7, &[Some((&[1], &[1.0]))])]).expect("ok");
        assert!(p.merge(q).is_err());
        assert!(IdfPartial::from_state(b"\x01\x00").is_err());
        let mut good = IdfPartial::default().to_state();
        good.push(0);
        assert!(
            IdfPartial::from_state(&good)
                .unwrap_err()
                .to_string()
                .contains("trailing")
        );
        assert_eq!(
            IdfPartial::from_state(&IdfPartial::default().to_state()),
            Ok(IdfPartial::default())
        );
    }

    #[test]
    fn model_round_trips_through_the_envelope() {
        let mut p = IdfPartial::default();
        FitPartial::update(&mut p, &[docs()]).expect("valid");
        let bytes = p.finish().expect("model");
        let env = crate::model_io::decode(&bytes, ModelKind::Idf, IDF_FORMAT_VERSION)
            .expect("decodes");
        assert_eq!(IdfModel::decode(&env), Ok(p.model().expect("rows")));
    }

    #[tokio::test]
    async fn sql_tfidf_weights_by_document_frequency() {
        // Documents "a", "a b", "a a" hashed into 2 columns: a -> 0, b -> 1.
        // n = 3, df(a) = 3, df(b) = 1: idf(a) = 1, idf(b) = ln(4/2) + 1.
        let b = run(
            &ctx(),
            "WITH d AS (SELECT * FROM (VALUES (1, 'a'), (2, 'a b'), (3, 'a a')) AS t(id, q)), \
             m AS (SELECT idf_fit(hash_tf(tokenize(q), 2)) AS m FROM d) \
             SELECT id, to_dense(tfidf(hash_tf(tokenize(q), 2), m.m)) AS w \
             FROM d CROSS JOIN m ORDER BY id",
        )
        .await;
        let w = b[0].column(1).as_list::<i32>();
        let row = |i: usize| {
            w.value(i)
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .values()
                .to_vec()
        };
        let idf_b = 2f64.ln() + 1.0;
        assert_close(&row(0), &[1.0, 0.0], 1e-12);
        assert_close(&row(1), &[1.0, idf_b], 1e-12);
        assert_close(&row(2), &[2.0, 0.0], 1e-12);
    }

    #[tokio::test]
    async fn models_load_from_paths_and_file_uris() {
        let mut p = IdfPartial::default();
        FitPartial::update(&mut p, &[docs()]).expect("valid");
        let bytes = p.finish().expect("model");
        let dir =
            std::env::temp_dir().join(format!("huntsman-idf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("idf.model");
        std::fs::write(&path, &bytes).expect("writes");
        let path = path.display().to_string();
        let ctx = ctx();
        run(
            &ctx,
            &format!("SET huntsman.model_roots = '{}'", dir.display()),
        )
        .await;
        for uri in [path.clone(), format!("file://{path}")] {
            let b = run(
                &ctx,
                &format!(
                    "SELECT to_dense(tfidf(named_struct('dim', 5, 'indices', [2], \
                     'values', [1.0]), '{uri}')) AS w"
                ),
            )
            .await;
            let w = b[0].column(0).as_list::<i32>().value(0);
            let w = w.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            assert_close(w.values(), &[0.0, 0.0, 5f64.ln() + 1.0, 0.0, 0.0], 1e-12);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn errors_name_the_function_and_the_problem() {
        let err = error("SELECT idf_fit(x) FROM (VALUES (1.0)) AS t(x)").await;
        assert!(err.contains("idf_fit: tf must be a sparse vector"), "{err}");
        let err = error("SELECT tfidf(hash_tf(['a'], 2), 42)").await;
        assert!(err.contains("tfidf: model must be Binary"), "{err}");
        let err = error("SELECT tfidf(hash_tf(['a'], 2), X'00', 'l1')").await;
        assert!(
            err.contains("tfidf: norm must be 'none' or 'l2' (got 'l1')"),
            "{err}"
        );
        let err = error(
            "SELECT tfidf(hash_tf(['a'], 3), m) FROM \
             (SELECT idf_fit(hash_tf(['a'], 2)) AS m)",
        )
        .await;
        assert!(
            err.contains("tfidf")
                && err.contains("dimension 3")
                && err.contains("dimension 2"),
            "{err}"
        );
        let err = error("SELECT tfidf(hash_tf(['a'], 2), X'484e544d00')").await;
        assert!(err.contains("tfidf") && err.contains("truncated"), "{err}");
    }

    #[tokio::test]
    async fn nulls_and_empty_input_give_null() {
        let b = run(
            &ctx(),
            "SELECT idf_fit(hash_tf(t, 4)) AS m FROM (VALUES (CAST(NULL AS VARCHAR[]))) AS x(t)",
        )
        .await;
        assert!(b[0].column(0).is_null(0));
        let b = run(
            &ctx(),
            "SELECT tfidf(hash_tf(['a'], 4), CAST(NULL AS BYTEA)) AS w, \
             tfidf(hash_tf(CAST(NULL AS VARCHAR[]), 4), m) AS x \
             FROM (SELECT idf_fit(hash_tf(['a'], 4)) AS m)",
        )
        .await;
        assert!(b[0].column(0).is_null(0));
        assert!(b[0].column(1).is_null(0));
    }

    #[tokio::test]
    async fn documented_examples_hold() {
        check_doc_example(IDF_FIT_EXAMPLE).await;
        check_doc_example(TFIDF_EXAMPLE).await;
    }
}
