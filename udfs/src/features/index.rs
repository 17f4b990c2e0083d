//! `category_index_fit(value [, max_categories])` and `category_index(value, model)`:
//! categorical strings (image paths, port names) as integer features.
//!
//! Training counts every distinct value exactly; counts add across partitions, and
//! the categories are ordered by descending count, then by value (byte order), so
//! the model is identical however the rows were split and merged. Index 0 is the most
//! frequent value; any value not in the model maps to one shared "other" index, the
//! number of categories.

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use huntsman_proto::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};

use super::FeatureError;
use super::{FEATURES_SECTION, is_string, str_values};
use crate::error::plan_error;
#[cfg(test)]
use crate::fit::FitAccumulator;
use crate::fit::FitPartial;
use crate::matrix::{ByteReader, ByteWriter, DecodeError, invalid};
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param, ScoreSpec, ScoreUdf};
use crate::model_io::{ModelMeta, encode};
use crate::neural::Accelerator;
use crate::scoring::ModelCache;
#[cfg(test)]
use datafusion::logical_expr::Accumulator;
use datafusion::logical_expr::DocSection;

const CATEGORY_INDEX_FIT: &str = "category_index_fit";
const CATEGORY_INDEX: &str = "category_index";
/// Newest category-index payload format this build writes and reads.
pub const CATEGORY_INDEX_FORMAT_VERSION: u32 = 1;
const STATE_VERSION: u8 = 1;

static CACHE: ModelCache<CategoryIndexModel> = ModelCache::new();

/// The type a value argument is read as: strings as they are, integers and booleans
/// cast to Utf8 (so that `443` and `'443'` are the same category).
fn coerce_value(function: &str, t: &DataType) -> Result<DataType> {
    if is_string(t) {
        Ok(t.clone())
    } else if t.is_integer() || matches!(t, DataType::Boolean | DataType::Null) {
        Ok(DataType::Utf8)
    } else {
        Err(plan_error(
            function,
            format!("value must be a string or an integer, got {t}"),
        ))
    }
}

/// The values of a (coerced) value column as strings.
fn values_of(array: &ArrayRef) -> std::result::Result<Vec<Option<String>>, String> {
    let array = if is_string(array.data_type()) {
        array.clone()
    } else {
        cast(array, &DataType::Utf8).map_err(|e| e.to_string())?
    };
    let values = str_values(array.as_ref())
        .ok_or_else(|| format!("value must be a string, got {}", array.data_type()))?;
    Ok(values.into_iter().map(|v| v.map(str::to_owned)).collect())
}

/// Value counts of one partition's rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CategoryIndexPartial {
    /// At most this many categories in the model; `None` for all.
    max_categories: Option<usize>,
    counts: HashMap<String, u64>,
    n: u64,
}

impl CategoryIndexPartial {
    /// An empty summary keeping at most `max_categories` categories in the model.
    pub fn new(max_categories: Option<usize>) -> Self {
        Self {
            max_categories,
            ..Self::default()
        }
    }

    /// Counts one value.
    pub fn add(&mut self, value: &str) {
        self.n += 1;
        match self.counts.get_mut(value) {
            Some(c) => *c += 1,
            None => {
                self.counts.insert(value.to_owned(), 1);
            }
        }
    }

    /// The counts ordered as the model orders categories: descending count, then value.
    fn ordered(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> =
            self.counts.iter().map(|(k, &c)| (k.as_str(), c)).collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// The fitted model; `None` before any non-null value.
    pub fn model(&self) -> Option<CategoryIndexModel> {
        if self.n == 0 {
            return None;
        }
        let mut ordered = self.ordered();
        if let Some(max) = self.max_categories {
            ordered.truncate(max);
        }
        Some(CategoryIndexModel::new(
            self.n,
            ordered
                .into_iter()
                .map(|(k, c)| (k.to_owned(), c))
                .collect(),
        ))
    }
}

/// Writes `(value, count)` pairs: the count, every count, every length, then the
/// concatenated UTF-8 bytes.
fn write_pairs<'a>(
    w: &mut ByteWriter,
    pairs: impl ExactSizeIterator<Item = (&'a str, u64)> + Clone,
) {
    w.u64(pairs.len() as u64);
    for (_, c) in pairs.clone() {
        w.u64(c);
    }
    for (k, _) in pairs.clone() {
        w.u32(k.len() as u32);
    }
    for (k, _) in pairs {
        for b in k.as_bytes() {
            w.u8(*b);
        }
    }
}

/// Reads what [`write_pairs`] wrote, up to the end of `bytes`.
fn read_pairs(
    bytes: &[u8],
    r: &mut ByteReader<'_>,
) -> std::result::Result<Vec<(String, u64)>, DecodeError> {
    let n = r.count(12, "category count")?;
    let counts = (0..n)
        .map(|_| r.u64())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let lens = (0..n)
        .map(|_| r.u32())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut blob = &bytes[bytes.len() - r.remaining()..];
    let total: usize = lens.iter().map(|&l| l as usize).sum();
    if total != blob.len() {
        return Err(invalid(format!(
            "category bytes ({} for {total} expected)",
            blob.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    for (len, count) in lens.into_iter().zip(counts) {
        let (head, rest) = blob.split_at(len as usize);
        let value = std::str::from_utf8(head)
            .map_err(|_| invalid("category value (not UTF-8)"))?;
        out.push((value.to_owned(), count));
        blob = rest;
    }
    Ok(out)
}

impl FitPartial for CategoryIndexPartial {
    type Error = FeatureError;
    const FUNCTION: &'static str = CATEGORY_INDEX_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> std::result::Result<(), FeatureError> {
        let values = args
            .first()
            .ok_or_else(|| FeatureError::Input("expects a value".into()))?;
        if values.data_type() == &DataType::Null {
            return Ok(());
        }
        for v in values_of(values)
            .map_err(FeatureError::Input)?
            .iter()
            .flatten()
        {
            self.add(v);
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) -> std::result::Result<(), FeatureError> {
        self.n += other.n;
        for (k, c) in other.counts {
            *self.counts.entry(k).or_insert(0) += c;
        }
        Ok(())
    }

    fn to_state(&self) -> Vec<u8> {
        let mut w = ByteWriter::default();
        w.u8(STATE_VERSION);
        w.u64(self.max_categories.map_or(u64::MAX, |m| m as u64));
        w.u64(self.n);
        let mut pairs: Vec<(&str, u64)> =
            self.counts.iter().map(|(k, &c)| (k.as_str(), c)).collect();
        pairs.sort_unstable();
        write_pairs(&mut w, pairs.into_iter());
        w.into_inner()
    }

    fn from_state(bytes: &[u8]) -> std::result::Result<Self, FeatureError> {
        let mut r = ByteReader::new(bytes);
        let mut read = || -> std::result::Result<Self, DecodeError> {
            r.version(STATE_VERSION)?;
            let max_categories = match r.u64()? {
                u64::MAX => None,
                m => Some(usize::try_from(m).map_err(|_| invalid("max_categories"))?),
            };
            let n = r.u64()?;
            let pairs = read_pairs(bytes, &mut r)?;
            Ok(Self {
                max_categories,
                counts: pairs.into_iter().collect(),
                n,
            })
        };
        Ok(read()?)
    }

    fn n_rows(&self) -> u64 {
        self.n
    }

    fn size_bytes(&self) -> usize {
        self.counts.capacity() * (size_of::<(String, u64)>() + 1)
            + self.counts.keys().map(String::capacity).sum::<usize>()
    }

    fn finish(&mut self) -> std::result::Result<Vec<u8>, FeatureError> {
        let model = self.model().ok_or(FeatureError::Empty)?;
        Ok(model.encode())
    }
}

/// A fitted category index: categories in index order, with their training counts.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryIndexModel {
    n: u64,
    categories: Vec<(String, u64)>,
    lookup: HashMap<String, i64>,
}

impl CategoryIndexModel {
    fn new(n: u64, categories: Vec<(String, u64)>) -> Self {
        let lookup = categories
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i as i64))
            .collect();
        Self {
            n,
            categories,
            lookup,
        }
    }

    /// The categories in index order, with their training counts.
    pub fn categories(&self) -> &[(String, u64)] {
        &self.categories
    }

    /// The index of `value`: its position, or the number of categories if unseen.
    pub fn index(&self, value: &str) -> i64 {
        self.lookup
            .get(value)
            .copied()
            .unwrap_or(self.categories.len() as i64)
    }

    fn transform(&self, values: &ArrayRef) -> std::result::Result<ArrayRef, String> {
        if values.data_type() == &DataType::Null {
            return Ok(Arc::new(Int64Array::new_null(values.len())));
        }
        let values = values_of(values)?;
        let out: Int64Array = values
            .iter()
            .map(|v| v.as_deref().map(|v| self.index(v)))
            .collect();
        Ok(Arc::new(out))
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::default();
        w.u64(self.n);
        write_pairs(
            &mut w,
            self.categories.iter().map(|(k, c)| (k.as_str(), *c)),
        );
        let meta = ModelMeta {
            params_json: format!("{{\"categories\":{}}}", self.categories.len()),
            features: FeatureSpec {
                dimensions: 1,
                names: Vec::new(),
                sparse: false,
            },
            stats: TrainingStats {
                rows: self.n,
                ..TrainingStats::default()
            },
        };
        encode(
            ModelKind::CategoryIndex,
            CATEGORY_INDEX_FORMAT_VERSION,
            meta,
            w.into_inner(),
        )
    }

    pub(crate) fn decode(env: &ModelEnvelope) -> std::result::Result<Self, String> {
        let bytes = &env.payload;
        let mut r = ByteReader::new(bytes);
        let mut read = || -> std::result::Result<Self, DecodeError> {
            let n = r.u64()?;
            let categories = read_pairs(bytes, &mut r)?;
            Ok(Self::new(n, categories))
        };
        read().map_err(|e| e.to_string())
    }
}

/// `category_index_fit(value [, max_categories])`: learns a category index.
#[derive(Debug)]
pub struct CategoryIndexFit;

impl FitSpec for CategoryIndexFit {
    type Partial = CategoryIndexPartial;
    const NAME: &'static str = CATEGORY_INDEX_FIT;
    const SECTION: DocSection = FEATURES_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("value", "Utf8 (or an integer) categorical value.");
    const PARAMS: &'static [Param] = &[Param::integer(
        "max_categories",
        "Keep at most this many categories, an integer literal >= 1 (default: \
         all).",
    )];
    const DESCRIPTION: &'static str = "Learns an index of categorical values and returns the model (Binary) \
     for `category_index`. Categories are ordered by descending count, then \
     by value, so index 0 is the most frequent and the order does not depend \
     on partitioning; with max_categories only that many most frequent are \
     kept. Integers and booleans are indexed by their text. Every distinct \
     value is counted exactly, so the partial state grows with the number \
     of distinct values. Nulls are skipped; returns null for no values.";
    const EXAMPLE: &'static str = CATEGORY_INDEX_FIT_EXAMPLE;

    fn coerce_input(t: &DataType) -> Result<DataType> {
        coerce_value(CATEGORY_INDEX_FIT, t)
    }

    fn partial(params: &Literals<'_>) -> Result<CategoryIndexPartial> {
        let max = params.integer("max_categories")?;
        let max = match max {
            None => None,
            Some(m) => match usize::try_from(m) {
                Ok(m) if m >= 1 => Some(m),
                _ => {
                    return Err(plan_error(
                        CATEGORY_INDEX_FIT,
                        format!("max_categories must be at least 1 (got {m})"),
                    ));
                }
            },
        };
        Ok(CategoryIndexPartial::new(max))
    }
}

const CATEGORY_INDEX_FIT_EXAMPLE: &str = "```sql\n\
> SELECT v, category_index(v, m) AS i FROM (VALUES ('cmd.exe'), ('explorer.exe'), ('rundll32.exe')) AS t(v), (SELECT category_index_fit(img, 2) AS m FROM (VALUES ('powershell.exe'), ('cmd.exe'), ('cmd.exe'), ('rundll32.exe'), ('explorer.exe'), ('explorer.exe')) AS s(img)) ORDER BY v;\n\
+--------------+---+\n\
| v            | i |\n\
+--------------+---+\n\
| cmd.exe      | 0 |\n\
| explorer.exe | 1 |\n\
| rundll32.exe | 2 |\n\
+--------------+---+\n\
```";

/// `category_index(value, model)`: the index of each value under a category index.
#[derive(Debug)]
pub struct CategoryIndex;

impl ScoreSpec for CategoryIndex {
    type Model = CategoryIndexModel;
    type Output = ();
    type Error = FeatureError;
    const KIND: ModelKind = ModelKind::CategoryIndex;
    const VERSION: u32 = CATEGORY_INDEX_FORMAT_VERSION;
    const SECTION: DocSection = FEATURES_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("value", "Utf8 (or an integer) categorical value.");
    const FIT: &'static str = CATEGORY_INDEX_FIT;

    fn cache() -> &'static ModelCache<CategoryIndexModel> {
        &CACHE
    }

    fn coerce_input(function: &str, t: &DataType) -> Result<DataType> {
        coerce_value(function, t)
    }

    fn decode(
        envelope: &ModelEnvelope,
    ) -> std::result::Result<CategoryIndexModel, FeatureError> {
        CategoryIndexModel::decode(envelope).map_err(FeatureError::Model)
    }

    fn name((): ()) -> &'static str {
        CATEGORY_INDEX
    }

    fn return_type((): ()) -> DataType {
        DataType::Int64
    }

    fn doc((): ()) -> (&'static str, &'static str) {
        (
            "The Int64 index of a categorical value under a model from \
             `category_index_fit`: 0 for the most frequent training value, and one \
             shared \"other\" index, equal to the number of categories, for any value \
             the model does not hold. Null for a null value or model.",
            CATEGORY_INDEX_EXAMPLE,
        )
    }

    fn score(
        (): (),
        model: &CategoryIndexModel,
        value: &ArrayRef,
        _accelerator: Accelerator,
    ) -> std::result::Result<ArrayRef, FeatureError> {
        model.transform(value).map_err(FeatureError::Input)
    }
}

const CATEGORY_INDEX_EXAMPLE: &str = "```sql\n\
> SELECT category_index(443, m) AS https, category_index('8080', m) AS other FROM (SELECT category_index_fit(port) AS m FROM (VALUES (443), (443), (80)) AS t(port));\n\
+-------+-------+\n\
| https | other |\n\
+-------+-------+\n\
| 0     | 2     |\n\
+-------+-------+\n\
```";

/// The `category_index_fit` aggregate.
pub fn category_index_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| {
        Arc::new(AggregateUDF::from(FitUdaf::<CategoryIndexFit>::default()))
    })
    .clone()
}

/// The `category_index` scalar function.
pub fn category_index_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(ScoreUdf::<CategoryIndex>::new(()))))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::test_util::{check_doc_example, ctx, error, run};
    use datafusion::arrow::array::{AsArray, BinaryArray, StringArray};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::common::ScalarValue;

    fn strings(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    fn sample() -> Vec<Option<&'static str>> {
        vec![
            Some("b"),
            Some("a"),
            None,
            Some("c"),
            Some("b"),
            Some("a"),
            Some("d"),
            Some("b"),
            Some(""),
        ]
    }

    #[test]
    fn categories_are_ordered_by_count_then_value() {
        let mut p = CategoryIndexPartial::new(None);
        FitPartial::update(&mut p, &[strings(&sample())]).expect("valid");
        let m = p.model().expect("values");
        let names: Vec<(&str, u64)> = m
            .categories()
            .iter()
            .map(|(k, c)| (k.as_str(), *c))
            .collect();
        assert_eq!(names, [("b", 3), ("a", 2), ("", 1), ("c", 1), ("d", 1)]);
        assert_eq!((m.index("b"), m.index("a"), m.index("d")), (0, 1, 4));
        assert_eq!(m.index("zzz"), 5);

        let mut p = CategoryIndexPartial::new(Some(2));
        FitPartial::update(&mut p, &[strings(&sample())]).expect("valid");
        let m = p.model().expect("values");
        assert_eq!((m.index("b"), m.index("a"), m.index("c")), (0, 1, 2));
        let out = m
            .transform(&strings(&[Some("a"), None, Some("q")]))
            .expect("ok");
        let out = out.as_primitive::<Int64Type>();
        assert_eq!(out.iter().collect::<Vec<_>>(), [Some(1), None, Some(2)]);
    }

    fn state(acc: &mut FitAccumulator<CategoryIndexPartial>) -> Option<Vec<u8>> {
        match acc.state().expect("state").remove(0) {
            ScalarValue::Binary(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn model_from_one_accumulator_equals_merged_partials() {
        let values = sample();
        let mut whole = FitAccumulator::new(CategoryIndexPartial::new(Some(3)));
        whole.update_batch(&[strings(&values)]).expect("update");
        let expected = whole.evaluate().expect("evaluate");
        for size in 1..values.len() {
            let mut states: Vec<Option<Vec<u8>>> = values
                .chunks(size)
                .map(|chunk| {
                    let mut acc = FitAccumulator::new(CategoryIndexPartial::new(Some(3)));
                    acc.update_batch(&[strings(chunk)]).expect("update");
                    state(&mut acc)
                })
                .collect();
            states.reverse();
            let array: ArrayRef = Arc::new(BinaryArray::from(
                states.iter().map(|s| s.as_deref()).collect::<Vec<_>>(),
            ));
            let mut merged = FitAccumulator::new(CategoryIndexPartial::new(Some(3)));
            merged.merge_batch(&[array]).expect("merge");
            assert_eq!(
                merged.evaluate().expect("evaluate"),
                expected,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn states_and_models_round_trip_and_reject_corruption() {
        let mut p = CategoryIndexPartial::new(Some(7));
        FitPartial::update(&mut p, &[strings(&sample())]).expect("valid");
        p.add("ünïcödé");
        let bytes = p.to_state();
        assert_eq!(CategoryIndexPartial::from_state(&bytes), Ok(p.clone()));
        assert!(CategoryIndexPartial::from_state(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(b'x');
        assert!(CategoryIndexPartial::from_state(&longer).is_err());

        let model = p.finish().expect("model");
        let env =
            crate::model_io::decode(&model, ModelKind::CategoryIndex, 1).expect("ok");
        assert_eq!(
            CategoryIndexModel::decode(&env),
            Ok(p.model().expect("values"))
        );
    }

    #[tokio::test]
    async fn sql_indexes_strings_and_integers() {
        let b = run(
            &ctx(),
            "WITH d AS (SELECT * FROM (VALUES (1, 'svchost.exe'), (2, 'cmd.exe'), \
             (3, 'svchost.exe'), (4, NULL), (5, 'evil.exe')) AS t(id, img)), \
             m AS (SELECT category_index_fit(img, 2) AS m FROM d WHERE id < 5) \
             SELECT category_index(img, m.m) FROM d CROSS JOIN m ORDER BY id",
        )
        .await;
        let got: Vec<Option<i64>> = b
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_primitive::<Int64Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(got, [Some(0), Some(1), Some(0), None, Some(2)]);
    }

    #[tokio::test]
    async fn errors_name_the_function_and_the_argument() {
        let err = error("SELECT category_index_fit(v) FROM (VALUES (1.5)) AS t(v)").await;
        assert!(
            err.contains("category_index_fit: value must be a string"),
            "{err}"
        );
        let err =
            error("SELECT category_index_fit(v, 0) FROM (VALUES ('a')) AS t(v)").await;
        assert!(
            err.contains("category_index_fit: max_categories must be at least 1 (got 0)"),
            "{err}"
        );
        let err =
            error("SELECT category_index_fit(v, 'x') FROM (VALUES ('a')) AS t(v)").await;
        assert!(err.contains("max_categories must be an integer"), "{err}");
        let err = error("SELECT category_index('a', 1.0)").await;
        assert!(
            err.contains("category_index: model must be Binary"),
            "{err}"
        );
        let err = error("SELECT category_index([1.0], X'00')").await;
        assert!(
            err.contains("category_index: value must be a string"),
            "{err}"
        );
        let err = error("SELECT category_index('a', X'484e544d0000000000000000')").await;
        assert!(err.contains("category_index"), "{err}");
    }

    #[tokio::test]
    async fn documented_examples_hold() {
        check_doc_example(CATEGORY_INDEX_FIT_EXAMPLE).await;
        check_doc_example(CATEGORY_INDEX_EXAMPLE).await;
    }
}
