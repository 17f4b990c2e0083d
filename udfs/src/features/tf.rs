//! `hash_tf(tokens, num_features)`: hashed term frequencies as sparse vectors, and
//! `to_dense(sparse)` for models that take dense vectors.
//!
//! The hash is FNV-1a 64 of the token's UTF-8 bytes, reduced modulo `num_features`.
//! It is written out here, not borrowed from a library or `std` (whose hasher is
//! randomised per process), because every executor, and every future version, must map
//! a token to the same column or models trained yesterday would score garbage today.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Builder, ListBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};

use super::{
    FEATURES_SECTION, coerce_sparse, dense_type, is_string, planning_i64, scalar_arg,
};
use crate::error::{exec_error, plan_error};
use crate::sparse::{SparseBuilder, SparseRows, sparse_type};

const HASH_TF: &str = "hash_tf";
const TO_DENSE: &str = "to_dense";

/// Largest `num_features` of `hash_tf`: 2^24 columns.
pub const MAX_NUM_FEATURES: usize = 1 << 24;

/// Largest dimension `to_dense` expands: 2^16 columns.
pub const MAX_DENSE_DIM: usize = 1 << 16;

/// The stable 64-bit hash of a term: FNV-1a of its UTF-8 bytes.
pub fn term_hash(term: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in term.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Hashed term counts of `tokens` over `num_features` columns: ascending column
/// indices and the number of tokens that hash to each. `num_features` must be in
/// `1..=MAX_NUM_FEATURES` (callers check it; 0 yields no entries).
pub fn hash_tf<'a>(
    tokens: impl IntoIterator<Item = &'a str>,
    num_features: usize,
) -> (Vec<i32>, Vec<f64>) {
    let mut counts: BTreeMap<i32, f64> = BTreeMap::new();
    if num_features == 0 {
        return (Vec::new(), Vec::new());
    }
    for t in tokens {
        // `num_features <= 2^24`, so the remainder fits in i32.
        let index = (term_hash(t) % num_features as u64) as i32;
        *counts.entry(index).or_insert(0.0) += 1.0;
    }
    counts.into_iter().unzip()
}

fn check_num_features(value: Option<i64>) -> Result<usize> {
    let Some(n) = value else {
        return Err(plan_error(HASH_TF, "num_features must not be null"));
    };
    match usize::try_from(n) {
        Ok(n) if (1..=MAX_NUM_FEATURES).contains(&n) => Ok(n),
        _ => Err(plan_error(
            HASH_TF,
            format!("num_features must be between 1 and {MAX_NUM_FEATURES} (got {n})"),
        )),
    }
}

/// `hash_tf(tokens, num_features)`: sparse hashed term counts.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HashTf {
    signature: Signature,
}

impl Default for HashTf {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for HashTf {
    fn name(&self) -> &str {
        HASH_TF
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [tokens, n] = arg_types else {
            return Err(plan_error(
                HASH_TF,
                format!(
                    "takes (tokens, num_features), got {} arguments",
                    arg_types.len()
                ),
            ));
        };
        let tokens_ok = match tokens {
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::FixedSizeList(f, _) => {
                is_string(f.data_type()) || f.data_type() == &DataType::Null
            }
            DataType::Null => true,
            _ => false,
        };
        if !tokens_ok {
            return Err(plan_error(
                HASH_TF,
                format!("tokens must be a list of strings (see tokenize), got {tokens}"),
            ));
        }
        if !(n.is_integer() || n == &DataType::Null) {
            return Err(plan_error(
                HASH_TF,
                format!("num_features must be an integer, got {n}"),
            ));
        }
        Ok(vec![
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            DataType::Int64,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(sparse_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // Checked here so that a bad width is a planning error.
        let n = args.scalar_arguments.get(1).copied().flatten();
        check_num_features(planning_i64(HASH_TF, "num_features", n)?)?;
        Ok(Arc::new(Field::new(HASH_TF, sparse_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [tokens, n] = args.args.as_slice() else {
            return Err(exec_error(HASH_TF, "takes (tokens, num_features)"));
        };
        let n =
            check_num_features(planning_i64(HASH_TF, "num_features", scalar_arg(n))?)?;
        let tokens = tokens.to_array(args.number_rows)?;
        let Some(lists) = tokens.as_list_opt::<i32>() else {
            return Err(exec_error(
                HASH_TF,
                format!("tokens must be a list of Utf8, got {}", tokens.data_type()),
            ));
        };
        let Some(strings) = lists.values().as_string_opt::<i32>() else {
            return Err(exec_error(
                HASH_TF,
                format!("tokens must be a list of Utf8, got {}", tokens.data_type()),
            ));
        };
        let offsets = lists.value_offsets();
        let mut out = SparseBuilder::new(n);
        for row in 0..lists.len() {
            if lists.is_null(row) {
                out.append_null();
                continue;
            }
            let (a, b) = (offsets[row] as usize, offsets[row + 1] as usize);
            let terms = (a..b)
                .filter(|&i| strings.is_valid(i))
                .map(|i| strings.value(i));
            let (indices, values) = hash_tf(terms, n);
            out.append(&indices, &values);
        }
        Ok(ColumnarValue::Array(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                FEATURES_SECTION,
                "Hashed term frequencies: each token is hashed with FNV-1a 64 (of its \
                 UTF-8 bytes) modulo num_features, and the sparse vector holds how many \
                 tokens fell in each column. The hash is fixed, so every executor and \
                 every version agree. Null tokens are skipped; a null list gives null. \
                 Returns a sparse vector struct {dim, indices, values}.",
                "hash_tf(tokens, num_features)",
            )
            .with_argument("tokens", "List of Utf8, typically `tokenize(text)`.")
            .with_argument(
                "num_features",
                "Number of columns, an integer literal from 1 to 16777216 (2^24).",
            )
            .with_sql_example(HASH_TF_EXAMPLE)
            .build()
        }))
    }
}

const HASH_TF_EXAMPLE: &str = "```sql\n\
> SELECT to_dense(hash_tf(['a', 'b', 'a'], 4)) AS tf;\n\
+----------------------+\n\
| tf                   |\n\
+----------------------+\n\
| [2.0, 1.0, 0.0, 0.0] |\n\
+----------------------+\n\
```";

/// `to_dense(sparse)`: a sparse vector as a dense `List<Float64>`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToDense {
    signature: Signature,
}

impl Default for ToDense {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToDense {
    fn name(&self) -> &str {
        TO_DENSE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [v] = arg_types else {
            return Err(plan_error(
                TO_DENSE,
                format!("takes (sparse), got {} arguments", arg_types.len()),
            ));
        };
        Ok(vec![coerce_sparse(TO_DENSE, "sparse", v)?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(dense_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [v] = args.args.as_slice() else {
            return Err(exec_error(TO_DENSE, "takes (sparse)"));
        };
        let v = v.to_array(args.number_rows)?;
        if v.data_type() == &DataType::Null {
            return Ok(ColumnarValue::Array(
                datafusion::arrow::array::new_null_array(&dense_type(), v.len()),
            ));
        }
        let rows =
            SparseRows::from_array(v.as_ref()).map_err(|e| exec_error(TO_DENSE, e))?;
        Ok(ColumnarValue::Array(to_dense(&rows)?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                FEATURES_SECTION,
                "Expands a sparse vector into a dense List of Float64 of length dim, for \
                 the models that take dense vectors (k-means, scaler_fit, autoencoders). \
                 Refuses dimensions over 65536: keep wider vectors sparse or hash into \
                 fewer columns. Null for null.",
                "to_dense(sparse)",
            )
            .with_argument("sparse", "Sparse vector, as hash_tf or tfidf return.")
            .with_sql_example(TO_DENSE_EXAMPLE)
            .build()
        }))
    }
}

const TO_DENSE_EXAMPLE: &str = "```sql\n\
> SELECT to_dense(named_struct('dim', 4, 'indices', [0, 3], 'values', [2.5, 1.0])) AS v;\n\
+----------------------+\n\
| v                    |\n\
+----------------------+\n\
| [2.5, 0.0, 0.0, 1.0] |\n\
+----------------------+\n\
```";

fn to_dense(rows: &SparseRows) -> Result<ArrayRef> {
    let mut out = ListBuilder::new(Float64Builder::new());
    for i in 0..rows.len() {
        if rows.is_null(i) {
            out.append(false);
            continue;
        }
        let dim = rows.row_dim(i);
        if dim > MAX_DENSE_DIM {
            return Err(exec_error(
                TO_DENSE,
                format!(
                    "dimension {dim} is over the limit of {MAX_DENSE_DIM} for dense \
                     vectors; keep the vector sparse or hash into fewer features"
                ),
            ));
        }
        let mut dense = vec![0.0; dim];
        let (indices, values) = rows.row(i);
        for (&j, &v) in indices.iter().zip(values) {
            // SparseRows guarantees 0 <= j < dim.
            if let Some(slot) = dense.get_mut(j as usize) {
                *slot = v;
            }
        }
        out.values().append_slice(&dense);
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// The `hash_tf` scalar function.
pub fn hash_tf_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(HashTf::default())))
        .clone()
}

/// The `to_dense` scalar function.
pub fn to_dense_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(ToDense::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::test_util::{check_doc_example, ctx, error, run};

    #[test]
    fn term_hash_is_fnv1a_64() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(term_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(term_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(term_hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn counts_land_in_hash_mod_n_columns() {
        let n = 1000;
        let col = |t: &str| (term_hash(t) % n as u64) as i32;
        let (idx, vals) = hash_tf(["person", "objectcategory", "person"], n);
        let mut expected = vec![(col("person"), 2.0), (col("objectcategory"), 1.0)];
        expected.sort_by_key(|e| e.0);
        let got: Vec<(i32, f64)> = idx.into_iter().zip(vals).collect();
        assert_eq!(got, expected);
        // One column: everything collides.
        assert_eq!(hash_tf(["a", "b", "c"], 1), (vec![0], vec![3.0]));
        assert_eq!(hash_tf([], 8), (vec![], vec![]));
    }

    #[tokio::test]
    async fn sql_hash_tf_gives_sparse_counts() {
        let b = run(
            &ctx(),
            "SELECT hash_tf(tokenize(t), 2000) AS v FROM \
             (VALUES ('(objectClass=user)(objectClass=*)'), (NULL), ('')) AS x(t)",
        )
        .await;
        let rows = SparseRows::from_array(b[0].column(0).as_ref()).expect("sparse");
        assert_eq!(rows.dim(), Ok(2000));
        let (idx, vals) = rows.row(0);
        let (e_idx, e_vals) = hash_tf(["objectclass", "user", "objectclass"], 2000);
        assert_eq!((idx.to_vec(), vals.to_vec()), (e_idx, e_vals));
        assert!(rows.is_null(1));
        assert_eq!(rows.row(2), (&[][..], &[][..]));
    }

    #[tokio::test]
    async fn bad_num_features_fail_at_planning() {
        for (sql, expected) in [
            ("SELECT hash_tf(['a'], 0)", "between 1 and 16777216 (got 0)"),
            ("SELECT hash_tf(['a'], 16777217)", "(got 16777217)"),
            ("SELECT hash_tf(['a'], -5)", "(got -5)"),
            (
                "SELECT hash_tf(['a'], x) FROM (VALUES (4)) t(x)",
                "must be a literal",
            ),
            (
                "SELECT hash_tf(['a'], 'many')",
                "num_features must be an integer",
            ),
            (
                "SELECT hash_tf('a b', 4)",
                "tokens must be a list of strings",
            ),
            (
                "SELECT hash_tf([1, 2], 4)",
                "tokens must be a list of strings",
            ),
        ] {
            let ctx = ctx();
            let err = ctx.sql(sql).await.map(|_| ()).expect_err(sql).to_string();
            assert!(
                err.contains("hash_tf") && err.contains(expected),
                "{sql}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn to_dense_expands_and_refuses_huge_dims() {
        let b = run(
            &ctx(),
            "SELECT to_dense(hash_tf(['a', 'a', 'b'], 3)) AS v, \
             to_dense(hash_tf(CAST(NULL AS VARCHAR[]), 3)) AS n, to_dense(NULL) AS z",
        )
        .await;
        let list = b[0].column(0).as_list::<i32>().value(0);
        let got: Vec<f64> = list
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .values()
            .to_vec();
        let mut expected = vec![0.0; 3];
        expected[(term_hash("a") % 3) as usize] += 2.0;
        expected[(term_hash("b") % 3) as usize] += 1.0;
        assert_eq!(got, expected);
        assert!(b[0].column(1).is_null(0));
        assert!(b[0].column(2).is_null(0));

        let err = error("SELECT to_dense(hash_tf(['a'], 65537))").await;
        assert!(
            err.contains("to_dense: dimension 65537 is over the limit of 65536"),
            "{err}"
        );
        let b = run(&ctx(), "SELECT to_dense(hash_tf(['a'], 65536)) AS v").await;
        assert_eq!(b[0].column(0).as_list::<i32>().value(0).len(), 65536);
    }

    #[tokio::test]
    async fn to_dense_checks_its_input() {
        let err = error("SELECT to_dense([1.0, 2.0])").await;
        assert!(
            err.contains("to_dense: sparse must be a sparse vector"),
            "{err}"
        );
        let err = error(
            "SELECT to_dense(named_struct('dim', 2, 'indices', [1, 0], 'values', [1.0, 1.0]))",
        )
        .await;
        assert!(
            err.contains("to_dense") && err.contains("not strictly ascending"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn documented_examples_hold() {
        check_doc_example(HASH_TF_EXAMPLE).await;
        check_doc_example(TO_DENSE_EXAMPLE).await;
    }
}
