//! Dense feature matrices, the Arrow boundary, seeded randomness and byte helpers.
//!
//! Every model in this crate trains and scores on a [`FeatureMatrix`]: a dense,
//! row-major `n_rows × n_cols` matrix of finite `f64`. Converting Arrow columns into
//! one happens only here, so the null policy is decided once:
//!
//! - **Null rows are skipped.** A null list (or, for [`matrix_from_columns`], a row
//!   with a null in any column) is left out of the matrix. Fitting never sees it, and
//!   [`ArrowRows::scatter_f64`] gives it a null score.
//! - **Bad values are rejected.** A null element inside a non-null list, a NaN or an
//!   infinity, or a row whose length differs from the others is an error that names
//!   the row (its index in the Arrow array) and, where it applies, the column.
//!
//! The module also holds the one random number generator the models use
//! ([`SeededRng`], xoshiro256** seeded through SplitMix64, identical on every
//! platform), [`derive_seed`] for per-tree or per-partition streams, [`hash_row`]
//! for content-derived keys, and the little-endian byte reader and writer that the
//! model and partial-state encodings share.

mod bytes;
mod rng;

pub use bytes::DecodeError;
pub(crate) use bytes::{ByteReader, ByteWriter, invalid};
pub use rng::{SeededRng, derive_seed, hash_row};
pub(crate) use rng::{canonical_bits, hash_bits};

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, FixedSizeListArray, Float64Array, LargeListArray, ListArray,
    UInt32Array,
};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field};

/// An error building a [`FeatureMatrix`], naming the offending row and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatrixError {
    /// The flat data does not have `n_rows * n_cols` values.
    #[error("matrix data has {len} values, expected {n_rows} rows x {n_cols} columns")]
    Shape {
        /// Number of values given.
        len: usize,
        /// Rows requested.
        n_rows: usize,
        /// Columns requested.
        n_cols: usize,
    },
    /// A matrix with rows must have at least one column.
    #[error("row {row} has no features")]
    EmptyRow {
        /// Row index in the input.
        row: usize,
    },
    /// A row has a different number of values than the first row.
    #[error("row {row} has {got} features, expected {expected}")]
    RaggedRow {
        /// Row index in the input.
        row: usize,
        /// Columns of the first row.
        expected: usize,
        /// Columns of this row.
        got: usize,
    },
    /// A value is NaN or infinite.
    #[error("row {row} column {col} is not finite (got {value})")]
    NonFinite {
        /// Row index in the input.
        row: usize,
        /// Column index.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// A non-null row contains a null element.
    #[error("row {row} column {col} is null")]
    NullElement {
        /// Row index in the input.
        row: usize,
        /// Column index.
        col: usize,
    },
    /// The Arrow array is not a list of Float64 (or a Float64 column).
    #[error("expected a list of float64 features, got {data_type}")]
    UnsupportedType {
        /// The Arrow type found.
        data_type: String,
    },
    /// Columns passed to [`matrix_from_columns`] differ in length.
    #[error("column {col} has {got} rows, expected {expected}")]
    ColumnLength {
        /// Column index.
        col: usize,
        /// Rows of the first column.
        expected: usize,
        /// Rows of this column.
        got: usize,
    },
    /// [`ArrowRows::scatter_f64`] got a different number of values than matrix rows.
    #[error("got {got} values to scatter, expected {expected} (one per non-null row)")]
    ScatterLength {
        /// Rows in the matrix.
        expected: usize,
        /// Values given.
        got: usize,
    },
}

/// A dense, row-major `n_rows × n_cols` matrix of finite `f64` features.
///
/// Every value is finite: constructors reject NaN and infinities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeatureMatrix {
    data: Vec<f64>,
    n_rows: usize,
    n_cols: usize,
}

impl FeatureMatrix {
    /// Builds a matrix from row-major `data` of `n_rows * n_cols` values.
    ///
    /// # Errors
    ///
    /// [`MatrixError::Shape`] if the length is wrong, [`MatrixError::EmptyRow`] for rows
    /// with zero columns, [`MatrixError::NonFinite`] for NaN or infinite values.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        data: Vec<f64>,
    ) -> Result<Self, MatrixError> {
        if n_rows.checked_mul(n_cols) != Some(data.len()) {
            return Err(MatrixError::Shape {
                len: data.len(),
                n_rows,
                n_cols,
            });
        }
        if n_cols == 0 && n_rows > 0 {
            return Err(MatrixError::EmptyRow { row: 0 });
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            return Err(MatrixError::NonFinite {
                row: pos / n_cols,
                col: pos % n_cols,
                value: data[pos],
            });
        }
        Ok(Self {
            data,
            n_rows,
            n_cols,
        })
    }

    /// Builds a matrix from a slice of rows, which must all have the same length.
    ///
    /// # Errors
    ///
    /// As [`FeatureMatrix::new`], plus [`MatrixError::RaggedRow`].
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self, MatrixError> {
        let n_cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut m = Self::empty(n_cols);
        for (i, row) in rows.iter().enumerate() {
            m.push_row_at(row.as_ref(), i)?;
        }
        Ok(m)
    }

    /// An empty matrix (zero rows) with `n_cols` columns.
    pub fn empty(n_cols: usize) -> Self {
        Self {
            data: Vec::new(),
            n_rows: 0,
            n_cols,
        }
    }

    /// Appends one row.
    ///
    /// # Errors
    ///
    /// [`MatrixError::RaggedRow`], [`MatrixError::EmptyRow`] or
    /// [`MatrixError::NonFinite`], naming the new row's index.
    pub fn push_row(&mut self, row: &[f64]) -> Result<(), MatrixError> {
        self.push_row_at(row, self.n_rows)
    }

    fn push_row_at(&mut self, row: &[f64], at: usize) -> Result<(), MatrixError> {
        if self.n_rows == 0 && self.n_cols == 0 {
            self.n_cols = row.len();
        }
        if row.is_empty() {
            return Err(MatrixError::EmptyRow { row: at });
        }
        if row.len() != self.n_cols {
            return Err(MatrixError::RaggedRow {
                row: at,
                expected: self.n_cols,
                got: row.len(),
            });
        }
        if let Some(col) = row.iter().position(|v| !v.is_finite()) {
            return Err(MatrixError::NonFinite {
                row: at,
                col,
                value: row[col],
            });
        }
        self.data.extend_from_slice(row);
        self.n_rows += 1;
        Ok(())
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (features per row).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// True when the matrix has no rows.
    pub fn is_empty(&self) -> bool {
        self.n_rows == 0
    }

    /// Row `i` as a slice of `n_cols` values.
    ///
    /// # Panics
    ///
    /// If `i >= n_rows`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// The value at (`row`, `col`), or `None` outside the matrix.
    pub fn get(&self, row: usize, col: usize) -> Option<f64> {
        if row < self.n_rows && col < self.n_cols {
            Some(self.data[row * self.n_cols + col])
        } else {
            None
        }
    }

    /// Iterates over the rows.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> {
        self.data.chunks_exact(self.n_cols.max(1))
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Consumes the matrix, returning its row-major values.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// The matrix as an Arrow `FixedSizeList<Float64>` array with one list per row.
    pub fn to_arrow(&self) -> FixedSizeListArray {
        let field = Arc::new(Field::new_list_field(DataType::Float64, false));
        let values: ArrayRef = Arc::new(Float64Array::from(self.data.clone()));
        let size = i32::try_from(self.n_cols).unwrap_or(i32::MAX);
        // The values array has exactly n_rows * n_cols non-null values and the field
        // is non-nullable, which is all try_new checks.
        FixedSizeListArray::try_new(field, size, values, None)
            .expect("values length is n_rows * n_cols by construction")
    }
}

/// A [`FeatureMatrix`] built from an Arrow column, remembering which input rows were
/// null (and so skipped), to put scores back in place.
#[derive(Debug, Clone)]
pub struct ArrowRows {
    matrix: FeatureMatrix,
    nulls: Option<NullBuffer>,
    len: usize,
}

impl ArrowRows {
    /// The matrix of the non-null rows, in input order.
    pub fn matrix(&self) -> &FeatureMatrix {
        &self.matrix
    }

    /// Consumes `self`, returning the matrix of the non-null rows.
    pub fn into_matrix(self) -> FeatureMatrix {
        self.matrix
    }

    /// Number of rows in the Arrow input, null rows included.
    pub fn input_len(&self) -> usize {
        self.len
    }

    /// Whether input row `i` was present (non-null) and so is in the matrix.
    pub fn is_present(&self, i: usize) -> bool {
        i < self.len && self.nulls.as_ref().is_none_or(|n| n.is_valid(i))
    }

    /// Spreads one value per matrix row back over the input rows: null rows get null.
    ///
    /// # Errors
    ///
    /// [`MatrixError::ScatterLength`] if `values` does not have one value per matrix row.
    pub fn scatter_f64(&self, values: &[f64]) -> Result<Float64Array, MatrixError> {
        let out = self.scatter(values, 0.0)?;
        Ok(Float64Array::new(
            ScalarBuffer::from(out),
            self.nulls.clone(),
        ))
    }

    /// As [`ArrowRows::scatter_f64`], for cluster labels.
    ///
    /// # Errors
    ///
    /// [`MatrixError::ScatterLength`] if `values` does not have one value per matrix row.
    pub fn scatter_u32(&self, values: &[u32]) -> Result<UInt32Array, MatrixError> {
        let out = self.scatter(values, 0)?;
        Ok(UInt32Array::new(
            ScalarBuffer::from(out),
            self.nulls.clone(),
        ))
    }

    fn scatter<T: Copy>(&self, values: &[T], fill: T) -> Result<Vec<T>, MatrixError> {
        if values.len() != self.matrix.n_rows() {
            return Err(MatrixError::ScatterLength {
                expected: self.matrix.n_rows(),
                got: values.len(),
            });
        }
        match &self.nulls {
            None => Ok(values.to_vec()),
            Some(nulls) => {
                let mut it = values.iter();
                Ok((0..self.len)
                    .map(|i| {
                        if nulls.is_valid(i) {
                            it.next().copied().unwrap_or(fill)
                        } else {
                            fill
                        }
                    })
                    .collect())
            }
        }
    }
}

/// Converts a list column (`List`, `LargeList` or `FixedSizeList` of Float64, one
/// feature vector per row) into a [`FeatureMatrix`], skipping null rows.
///
/// # Errors
///
/// [`MatrixError::UnsupportedType`] for any other type; [`MatrixError::NullElement`],
/// [`MatrixError::NonFinite`], [`MatrixError::RaggedRow`] or [`MatrixError::EmptyRow`]
/// naming the first bad row.
pub fn matrix_from_list(array: &dyn Array) -> Result<ArrowRows, MatrixError> {
    let any = array.as_any();
    if let Some(list) = any.downcast_ref::<ListArray>() {
        let offsets = list.value_offsets();
        let ranges = offsets
            .windows(2)
            .map(|w| (w[0].max(0) as usize, w[1].max(0) as usize));
        collect_rows(list.values(), list.nulls(), list.len(), ranges, None)
    } else if let Some(list) = any.downcast_ref::<LargeListArray>() {
        let offsets = list.value_offsets();
        let ranges = offsets
            .windows(2)
            .map(|w| (w[0].max(0) as usize, w[1].max(0) as usize));
        collect_rows(list.values(), list.nulls(), list.len(), ranges, None)
    } else if let Some(list) = any.downcast_ref::<FixedSizeListArray>() {
        let size = list.value_length().max(0) as usize;
        let ranges = (0..list.len()).map(|i| (i * size, (i + 1) * size));
        collect_rows(list.values(), list.nulls(), list.len(), ranges, Some(size))
    } else {
        Err(MatrixError::UnsupportedType {
            data_type: array.data_type().to_string(),
        })
    }
}

fn collect_rows(
    values: &ArrayRef,
    nulls: Option<&NullBuffer>,
    len: usize,
    ranges: impl Iterator<Item = (usize, usize)>,
    fixed_cols: Option<usize>,
) -> Result<ArrowRows, MatrixError> {
    let child = values
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| MatrixError::UnsupportedType {
            data_type: format!("list of {}", values.data_type()),
        })?;
    let raw = child.values();
    let mut n_cols = fixed_cols;
    let mut data = Vec::new();
    let mut n_rows = 0;
    for (row, (start, end)) in ranges.enumerate() {
        if nulls.is_some_and(|n| n.is_null(row)) {
            continue;
        }
        let end = end.min(raw.len());
        let start = start.min(end);
        let width = end - start;
        let expected = *n_cols.get_or_insert(width);
        if width == 0 {
            return Err(MatrixError::EmptyRow { row });
        }
        if width != expected {
            return Err(MatrixError::RaggedRow {
                row,
                expected,
                got: width,
            });
        }
        for (col, &v) in raw[start..end].iter().enumerate() {
            if child.is_null(start + col) {
                return Err(MatrixError::NullElement { row, col });
            }
            if !v.is_finite() {
                return Err(MatrixError::NonFinite { row, col, value: v });
            }
        }
        data.extend_from_slice(&raw[start..end]);
        n_rows += 1;
    }
    let n_cols = n_cols.unwrap_or(0);
    let nulls = nulls.filter(|n| n.null_count() > 0).cloned();
    Ok(ArrowRows {
        matrix: FeatureMatrix {
            data,
            n_rows,
            n_cols,
        },
        nulls,
        len,
    })
}

/// Converts Float64 columns (one feature each) into a [`FeatureMatrix`]; a row with
/// a null in any column is skipped.
///
/// # Errors
///
/// [`MatrixError::UnsupportedType`] for a column that is not Float64,
/// [`MatrixError::ColumnLength`] when lengths differ, [`MatrixError::NonFinite`] for
/// NaN or infinite values.
pub fn matrix_from_columns(columns: &[ArrayRef]) -> Result<ArrowRows, MatrixError> {
    let mut cols = Vec::with_capacity(columns.len());
    for c in columns {
        let f = c.as_any().downcast_ref::<Float64Array>().ok_or_else(|| {
            MatrixError::UnsupportedType {
                data_type: c.data_type().to_string(),
            }
        })?;
        cols.push(f);
    }
    let len = cols.first().map_or(0, |c| c.len());
    for (col, c) in cols.iter().enumerate() {
        if c.len() != len {
            return Err(MatrixError::ColumnLength {
                col,
                expected: len,
                got: c.len(),
            });
        }
    }
    let nulls = cols
        .iter()
        .fold(None, |acc: Option<NullBuffer>, c| {
            NullBuffer::union(acc.as_ref(), c.nulls())
        })
        .filter(|n| n.null_count() > 0);
    let mut data = Vec::with_capacity(len * cols.len());
    let mut n_rows = 0;
    for row in 0..len {
        if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
            continue;
        }
        for (col, c) in cols.iter().enumerate() {
            let v = c.value(row);
            if !v.is_finite() {
                return Err(MatrixError::NonFinite { row, col, value: v });
            }
            data.push(v);
        }
        n_rows += 1;
    }
    if cols.is_empty() && len > 0 {
        return Err(MatrixError::EmptyRow { row: 0 });
    }
    Ok(ArrowRows {
        matrix: FeatureMatrix {
            data,
            n_rows,
            n_cols: cols.len(),
        },
        nulls,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Builder, ListBuilder};

    fn list(rows: &[Option<Vec<Option<f64>>>]) -> ListArray {
        let mut b = ListBuilder::new(Float64Builder::new());
        for r in rows {
            match r {
                Some(vals) => {
                    for v in vals {
                        b.values().append_option(*v);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        b.finish()
    }

    #[test]
    fn new_checks_shape() {
        assert!(matches!(
            FeatureMatrix::new(2, 3, vec![0.0; 5]),
            Err(MatrixError::Shape { len: 5, .. })
        ));
        let m = FeatureMatrix::new(2, 3, (0..6).map(f64::from).collect())
            .expect("valid test input");
        assert_eq!(m.row(1), &[3.0, 4.0, 5.0]);
        assert_eq!(m.get(1, 2), Some(5.0));
        assert_eq!(m.get(2, 0), None);
        assert_eq!(m.rows().count(), 2);
    }

    #[test]
    fn new_rejects_nan_naming_the_row() {
        let err = FeatureMatrix::new(2, 2, vec![0.0, 1.0, f64::NAN, 2.0])
            .expect_err("must be rejected");
        assert!(matches!(err, MatrixError::NonFinite { row: 1, col: 0, .. }));
        assert_eq!(err.to_string(), "row 1 column 0 is not finite (got NaN)");
    }

    #[test]
    fn from_rows_rejects_ragged_and_infinite_rows() {
        let err = FeatureMatrix::from_rows(&[vec![1.0, 2.0], vec![1.0]])
            .expect_err("must be rejected");
        assert_eq!(err.to_string(), "row 1 has 1 features, expected 2");
        let err = FeatureMatrix::from_rows(&[vec![1.0], vec![f64::INFINITY]])
            .expect_err("must be rejected");
        assert!(matches!(err, MatrixError::NonFinite { row: 1, col: 0, .. }));
        let empty: [Vec<f64>; 0] = [];
        assert!(
            FeatureMatrix::from_rows(&empty)
                .expect("valid test input")
                .is_empty()
        );
    }

    #[test]
    fn null_rows_are_skipped_and_scatter_back_as_null() {
        let arr = list(&[
            Some(vec![Some(1.0), Some(2.0)]),
            None,
            Some(vec![Some(3.0), Some(4.0)]),
        ]);
        let rows = matrix_from_list(&arr).expect("valid test input");
        assert_eq!(rows.matrix().n_rows(), 2);
        assert_eq!(rows.matrix().row(1), &[3.0, 4.0]);
        assert!(!rows.is_present(1));
        let scores = rows.scatter_f64(&[0.5, 0.7]).expect("valid test input");
        assert_eq!(scores.len(), 3);
        assert!(scores.is_null(1));
        assert_eq!(scores.value(2), 0.7);
        let labels = rows.scatter_u32(&[3, 4]).expect("valid test input");
        assert_eq!(labels.value(0), 3);
        assert!(labels.is_null(1));
        assert!(rows.scatter_f64(&[1.0]).is_err());
    }

    #[test]
    fn null_element_and_nan_in_list_are_errors_naming_the_row() {
        let arr = list(&[
            Some(vec![Some(1.0), Some(2.0)]),
            Some(vec![Some(1.0), None]),
        ]);
        let err = matrix_from_list(&arr).expect_err("must be rejected");
        assert_eq!(err.to_string(), "row 1 column 1 is null");
        let arr = list(&[None, Some(vec![Some(f64::NAN)])]);
        let err = matrix_from_list(&arr).expect_err("must be rejected");
        assert!(matches!(err, MatrixError::NonFinite { row: 1, col: 0, .. }));
        let arr = list(&[Some(vec![Some(1.0)]), Some(vec![Some(1.0), Some(2.0)])]);
        assert!(matches!(
            matrix_from_list(&arr),
            Err(MatrixError::RaggedRow { row: 1, .. })
        ));
        let arr = list(&[Some(vec![])]);
        assert!(matches!(
            matrix_from_list(&arr),
            Err(MatrixError::EmptyRow { row: 0 })
        ));
    }

    #[test]
    fn sliced_large_and_fixed_size_lists_convert() {
        let arr = list(&[
            Some(vec![Some(9.0)]),
            Some(vec![Some(1.0)]),
            None,
            Some(vec![Some(2.0)]),
        ]);
        let sliced = arr.slice(1, 3);
        let rows = matrix_from_list(&sliced).expect("valid test input");
        assert_eq!(rows.matrix().as_slice(), &[1.0, 2.0]);
        assert_eq!(rows.input_len(), 3);

        let large = LargeListArray::from_iter_primitive::<
            datafusion::arrow::datatypes::Float64Type,
            _,
            _,
        >(vec![Some(vec![Some(1.0), Some(2.0)]), None]);
        let rows = matrix_from_list(&large).expect("valid test input");
        assert_eq!(rows.matrix().n_rows(), 1);

        let m = FeatureMatrix::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
            .expect("valid test input");
        let fixed = m.to_arrow();
        let back = matrix_from_list(&fixed.slice(1, 2)).expect("valid test input");
        assert_eq!(back.matrix().as_slice(), &[3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn wrong_types_are_rejected() {
        let arr = Float64Array::from(vec![1.0]);
        assert!(matches!(
            matrix_from_list(&arr),
            Err(MatrixError::UnsupportedType { .. })
        ));
        let ints = ListArray::from_iter_primitive::<
            datafusion::arrow::datatypes::Int32Type,
            _,
            _,
        >(vec![Some(vec![Some(1)])]);
        assert!(matrix_from_list(&ints).is_err());
    }

    #[test]
    fn columns_skip_rows_with_any_null() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), None, Some(3.0)]));
        let b: ArrayRef =
            Arc::new(Float64Array::from(vec![Some(4.0), Some(5.0), Some(6.0)]));
        let rows = matrix_from_columns(&[a.clone(), b]).expect("valid test input");
        assert_eq!(rows.matrix().as_slice(), &[1.0, 4.0, 3.0, 6.0]);
        assert!(!rows.is_present(1));
        let short: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        assert!(matches!(
            matrix_from_columns(&[a, short]),
            Err(MatrixError::ColumnLength { col: 1, .. })
        ));
        let nan: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN]));
        assert!(matches!(
            matrix_from_columns(&[nan]),
            Err(MatrixError::NonFinite { row: 0, .. })
        ));
    }

    #[test]
    fn rng_is_deterministic_and_uniform_enough() {
        let mut a = SeededRng::new(42);
        let mut b = SeededRng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(SeededRng::new(1).next_u64(), SeededRng::new(2).next_u64());
        let mut counts = [0usize; 10];
        let mut sum = 0.0;
        for _ in 0..100_000 {
            counts[a.gen_range(10)] += 1;
            let f = a.next_f64();
            assert!((0.0..1.0).contains(&f));
            sum += f;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)));
        assert!((sum / 100_000.0 - 0.5).abs() < 0.01);
        assert_eq!(a.gen_range(0), 0);
    }

    #[test]
    fn rng_output_is_pinned() {
        // Pins the generator, the seed derivation and the row hash: every model's
        // determinism across platforms and versions rests on these values.
        let mut r = SeededRng::new(42);
        assert_eq!(r.next_u64(), 1_546_998_764_402_558_742);
        assert_eq!(r.next_u64(), 6_990_951_692_964_543_102);
        assert_eq!(derive_seed(42, 7), 16_618_754_923_341_898_632);
        assert_ne!(derive_seed(42, 0), derive_seed(42, 1));
        assert_ne!(derive_seed(42, 0), derive_seed(43, 0));
        assert_eq!(hash_row(42, &[1.0, -2.5, 0.0]), 11_756_715_369_101_628_958);
    }

    #[test]
    fn hash_row_treats_negative_zero_as_zero() {
        assert_eq!(hash_row(1, &[0.0, 1.0]), hash_row(1, &[-0.0, 1.0]));
        assert_ne!(hash_row(1, &[0.0, 1.0]), hash_row(2, &[0.0, 1.0]));
        assert_ne!(hash_row(1, &[1.0, 0.0]), hash_row(1, &[0.0, 1.0]));
    }

    #[test]
    fn reader_reports_truncation_and_trailing_bytes() {
        let mut w = ByteWriter::default();
        w.u8(1);
        w.u64(3);
        w.f64(1.5);
        let bytes = w.into_inner();
        let mut r = ByteReader::new(&bytes);
        r.version(1).expect("valid test input");
        assert!(r.count(8, "n").is_err());
        let mut r = ByteReader::new(&bytes[..5]);
        assert!(matches!(
            r.version(2),
            Err(DecodeError::UnknownVersion { .. })
        ));
        assert!(matches!(r.u64(), Err(DecodeError::Truncated { .. })));
        let mut r = ByteReader::new(&bytes);
        r.u8().expect("valid test input");
        assert!(r.finish().is_err());
    }
}
