//! Feature functions: turning raw log fields into the vectors the models train on.
//!
//! The hunts start from text (LDAP filters, command lines), counts and categorical
//! strings (image paths, port names). This family turns them into model inputs:
//!
//! - text: [`tokenize`](tokenize_udf) → [`hash_tf`](hash_tf_udf) (sparse term counts) →
//!   [`idf_fit`](idf_fit_udaf) / [`tfidf`](tfidf_udf) → [`to_dense`](to_dense_udf);
//! - numbers: [`scaler_fit`](scaler_fit_udaf) / [`scale`](scale_udf) (standard or
//!   min-max scaling of dense vectors);
//! - categories: [`category_index_fit`](category_index_fit_udaf) /
//!   [`category_index`](category_index_udf).
//!
//! The `*_fit` aggregates go through [`crate::fit::FitAccumulator`]: their summaries
//! (document frequencies, Chan's running moments, value counts) merge exactly, so the
//! model does not depend on how rows are split into partitions. The sparse vector type
//! lives in [`crate::sparse`].

pub(crate) mod idf;
pub(crate) mod index;
pub(crate) mod scaler;
mod tf;
mod tokenize;

pub use idf::{IdfFit, IdfModel, IdfPartial, Norm, Tfidf, idf_fit_udaf, tfidf_udf};
pub use index::{
    CategoryIndex, CategoryIndexFit, CategoryIndexModel, CategoryIndexPartial,
    category_index_fit_udaf, category_index_udf,
};
pub use scaler::{
    Scale, ScalerFit, ScalerMethod, ScalerModel, ScalerPartial, scale_udf,
    scaler_fit_udaf,
};
pub use tf::{
    HashTf, MAX_DENSE_DIM, MAX_NUM_FEATURES, ToDense, hash_tf, hash_tf_udf, term_hash,
    to_dense_udf,
};
pub use tokenize::{Tokenize, tokenize, tokenize_udf};

use std::sync::Arc;

/// Why a feature function's training state could not be folded, merged, read or
/// finished. The SQL boundary prefixes it with the function's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    /// The input is not what the function reads; the message says what it expected.
    #[error("{0}")]
    Input(String),
    /// Feature vectors that do not form a matrix.
    #[error(transparent)]
    Matrix(#[from] crate::matrix::MatrixError),
    /// Two states built with different settings or widths.
    #[error("{0}")]
    Mismatch(String),
    /// A partial state that does not decode.
    #[error("partial state: {0}")]
    State(#[from] crate::matrix::DecodeError),
    /// Finishing a state that saw no rows.
    #[error("no rows")]
    Empty,
    /// A stored model this build cannot read.
    #[error("{0}")]
    Model(String),
}

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::DocSection;

use crate::error::plan_error;
use crate::sparse::is_sparse;

/// Documentation section of the feature functions.
pub const FEATURES_SECTION: DocSection = DocSection {
    include: true,
    label: "Feature functions",
    description: Some(
        "Turn log fields into model inputs: tokens, hashed term frequencies, TF-IDF, \
         scaling and category indices. Sparse vectors are structs \
         `{dim: Int32, indices: List<Int32>, values: List<Float64>}`.",
    ),
};

/// `List<Float64>`, the dense vector type the models take.
pub(crate) fn dense_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// Whether `t` is a string type.
pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The values of a string array (Utf8, LargeUtf8 or Utf8View), or `None` for other
/// types.
pub(crate) fn str_values(array: &dyn Array) -> Option<Vec<Option<&str>>> {
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().iter().collect()),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().iter().collect()),
        DataType::Utf8View => Some(array.as_string_view().iter().collect()),
        _ => None,
    }
}

/// Checks (at planning) that `t` can be read as a sparse vector, and returns the type
/// to coerce it to. A struct with the fields `dim`, `indices`, `values` in that order
/// (from `named_struct`, say) is cast to a sparse vector type.
pub(crate) fn coerce_sparse(
    function: &str,
    name: &str,
    t: &DataType,
) -> Result<DataType> {
    if is_sparse(t) || t == &DataType::Null {
        return Ok(t.clone());
    }
    if let DataType::Struct(fs) = t {
        let names: Vec<&str> = fs.iter().map(|f| f.name().as_str()).collect();
        if names == ["dim", "indices", "values"] {
            // Arrow cannot cast a nullable field to a non-null one, so the target keeps
            // every field nullable; `SparseRows` still rejects nulls where they matter.
            let list =
                |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
            return Ok(DataType::Struct(Fields::from(vec![
                Field::new("dim", DataType::Int32, true),
                Field::new("indices", list(DataType::Int32), true),
                Field::new("values", list(DataType::Float64), true),
            ])));
        }
    }
    Err(plan_error(
        function,
        format!(
            "{name} must be a sparse vector (struct of dim Int32, indices List<Int32>, \
             values List<Float64>, as hash_tf returns), got {t}"
        ),
    ))
}

/// Reads an integer argument of a scalar function at planning, where it must be a
/// literal. `None` for a literal null.
pub(crate) fn planning_i64(
    function: &str,
    parameter: &str,
    value: Option<&ScalarValue>,
) -> Result<Option<i64>> {
    let Some(value) = value else {
        return Err(plan_error(
            function,
            format!("{parameter} must be a literal integer"),
        ));
    };
    if value.is_null() {
        return Ok(None);
    }
    match value.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(v)) => Ok(v),
        _ => Err(plan_error(
            function,
            format!("{parameter} must be an integer (got {value})"),
        )),
    }
}

/// Reads a string argument of a scalar function at planning, where it must be a
/// literal. `None` for a literal null.
pub(crate) fn planning_str(
    function: &str,
    parameter: &str,
    value: Option<&ScalarValue>,
) -> Result<Option<String>> {
    let Some(value) = value else {
        return Err(plan_error(
            function,
            format!("{parameter} must be a literal string"),
        ));
    };
    match value {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Ok(v.clone())
        }
        ScalarValue::Null => Ok(None),
        other => Err(plan_error(
            function,
            format!("{parameter} must be a string (got {other})"),
        )),
    }
}

/// The scalar value of a literal argument at execution.
pub(crate) fn scalar_arg(
    arg: &datafusion::logical_expr::ColumnarValue,
) -> Option<&ScalarValue> {
    match arg {
        datafusion::logical_expr::ColumnarValue::Scalar(s) => Some(s),
        datafusion::logical_expr::ColumnarValue::Array(_) => None,
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    use crate::session::{huntsman_session_config, huntsman_session_state};

    /// A context with every Huntsman function, as the client builds it.
    pub(crate) fn ctx() -> SessionContext {
        SessionContext::new_with_state(
            huntsman_session_state(huntsman_session_config()).expect("state builds"),
        )
    }

    /// Runs `sql` and returns its batches.
    pub(crate) async fn run(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
        ctx.sql(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: plans: {e}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{sql}: runs: {e}"))
    }

    /// Runs `sql` and returns its output as the table the docs show.
    pub(crate) async fn table(sql: &str) -> String {
        let batches = run(&ctx(), sql).await;
        pretty_format_batches(&batches)
            .expect("formats")
            .to_string()
    }

    /// The error of `sql`, whether it fails at planning or at execution.
    pub(crate) async fn error(sql: &str) -> String {
        match ctx().sql(sql).await {
            Err(e) => e.to_string(),
            Ok(df) => match df.collect().await {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{sql}: expected an error"),
            },
        }
    }

    /// Checks that a documented example (`> SQL;` then the table) gives that table.
    pub(crate) async fn check_doc_example(example: &str) {
        let body = example
            .trim_start_matches("```sql\n")
            .split("\n```")
            .next()
            .expect("example body");
        let body = body.trim_start_matches("> ");
        let (sql, expected) = body
            .split_once(";\n")
            .expect("example has `;` then a table");
        let got = table(sql).await;
        assert_eq!(got.trim(), expected.trim(), "doc example {sql}");
    }

    /// `|a - b| <= tol` for every pair.
    pub(crate) fn assert_close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
        }
    }
}
