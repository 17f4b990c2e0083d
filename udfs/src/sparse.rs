//! The sparse vector type shared by the text features (`hash_tf`, `tfidf`, `to_dense`)
//! and any model that reads them.
//!
//! Hashed term frequencies have up to 2^24 columns and a handful of non-zeros per row,
//! so they travel as an Arrow struct instead of a dense list:
//! `Struct { dim: Int32 not null, indices: List<Int32>, values: List<Float64> }`.
//! Within a row the indices are strictly ascending and below `dim`, and `indices` and
//! `values` have the same length. [`SparseRows`] checks all of that once when it reads
//! an array, so the code that consumes rows can index without further checks;
//! [`SparseBuilder`] writes the same layout.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int32Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields};

/// Largest dimension a sparse vector may declare (indices are Int32).
pub const MAX_SPARSE_DIM: usize = i32::MAX as usize;

fn fields() -> Fields {
    Fields::from(vec![
        Field::new("dim", DataType::Int32, false),
        Field::new(
            "indices",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int32, false))),
            false,
        ),
        Field::new(
            "values",
            DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false))),
            false,
        ),
    ])
}

/// The Arrow type of a sparse vector column.
pub fn sparse_type() -> DataType {
    DataType::Struct(fields())
}

/// Whether `t` is a sparse vector type: a struct with `dim` (Int32), `indices`
/// (List<Int32>) and `values` (List<Float64>), whatever the fields' nullability.
pub fn is_sparse(t: &DataType) -> bool {
    let DataType::Struct(fs) = t else {
        return false;
    };
    let field = |name: &str| fs.iter().find(|f| f.name() == name).map(|f| f.data_type());
    let list_of = |t: Option<&DataType>, inner: &DataType| matches!(t, Some(DataType::List(f)) if f.data_type() == inner);
    fs.len() == 3
        && field("dim") == Some(&DataType::Int32)
        && list_of(field("indices"), &DataType::Int32)
        && list_of(field("values"), &DataType::Float64)
}

/// A checked batch of sparse vectors, read from an Arrow array of [`sparse_type`].
///
/// Every non-null row has strictly ascending indices in `0..dim`, as many values as
/// indices, and finite values.
#[derive(Debug, Clone)]
pub struct SparseRows {
    nulls: Option<NullBuffer>,
    dims: Vec<usize>,
    /// Row `i` spans `offsets[i]..offsets[i + 1]` of `indices` and `values`.
    offsets: Vec<usize>,
    indices: Vec<i32>,
    values: Vec<f64>,
}

impl SparseRows {
    /// Reads and checks a sparse vector array.
    ///
    /// # Errors
    /// A message naming the problem (and the row): not a sparse vector type, a negative
    /// or too large `dim`, a null or out-of-range index, indices not strictly
    /// ascending, a length mismatch between indices and values, a null or non-finite
    /// value.
    pub fn from_array(array: &dyn Array) -> Result<SparseRows, String> {
        if !is_sparse(array.data_type()) {
            return Err(format!(
                "expected a sparse vector (struct of dim Int32, indices List<Int32>, \
                 values List<Float64>), got {}",
                array.data_type()
            ));
        }
        let s = array
            .as_struct_opt()
            .ok_or("sparse vector array is not a struct array")?;
        let column = |name: &str| {
            s.column_by_name(name)
                .ok_or_else(|| format!("sparse vector has no {name} field"))
        };
        let dim = column("dim")?
            .as_primitive_opt::<datafusion::arrow::datatypes::Int32Type>()
            .ok_or("sparse vector dim is not Int32")?
            .clone();
        let idx = column("indices")?
            .as_list_opt::<i32>()
            .ok_or("sparse vector indices are not a list")?
            .clone();
        let val = column("values")?
            .as_list_opt::<i32>()
            .ok_or("sparse vector values are not a list")?
            .clone();
        let idx_values = idx
            .values()
            .as_primitive_opt::<datafusion::arrow::datatypes::Int32Type>()
            .ok_or("sparse vector indices are not Int32")?;
        let val_values = val
            .values()
            .as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>()
            .ok_or("sparse vector values are not Float64")?;

        let n = s.len();
        let nulls = s.logical_nulls();
        let mut out = SparseRows {
            nulls: nulls.clone(),
            dims: Vec::with_capacity(n),
            offsets: Vec::with_capacity(n + 1),
            indices: Vec::new(),
            values: Vec::new(),
        };
        out.offsets.push(0);
        for row in 0..n {
            if nulls.as_ref().is_some_and(|nb| nb.is_null(row)) {
                out.dims.push(0);
                out.offsets.push(out.indices.len());
                continue;
            }
            if dim.is_null(row) {
                return Err(format!("row {row}: sparse vector dim is null"));
            }
            let d = dim.value(row);
            let d = usize::try_from(d)
                .map_err(|_| format!("row {row}: sparse vector dim is negative ({d})"))?;
            let (i0, i1) = list_range(&idx, row);
            let (v0, v1) = list_range(&val, row);
            if i1 - i0 != v1 - v0 {
                return Err(format!(
                    "row {row}: sparse vector has {} indices but {} values",
                    i1 - i0,
                    v1 - v0
                ));
            }
            let mut prev: Option<i32> = None;
            for (k, (ip, vp)) in (i0..i1).zip(v0..v1).enumerate() {
                if idx_values.is_null(ip) {
                    return Err(format!("row {row}: sparse index {k} is null"));
                }
                if val_values.is_null(vp) {
                    return Err(format!("row {row}: sparse value {k} is null"));
                }
                let i = idx_values.value(ip);
                let v = val_values.value(vp);
                if i < 0 || i as usize >= d {
                    return Err(format!(
                        "row {row}: sparse index {i} is out of range for dim {d}"
                    ));
                }
                if let Some(p) = prev
                    && p >= i
                {
                    return Err(format!(
                        "row {row}: sparse indices are not strictly ascending \
                         ({p} then {i})"
                    ));
                }
                if !v.is_finite() {
                    return Err(format!(
                        "row {row}: sparse value at index {i} is not finite (got {v})"
                    ));
                }
                prev = Some(i);
                out.indices.push(i);
                out.values.push(v);
            }
            out.dims.push(d);
            out.offsets.push(out.indices.len());
        }
        Ok(out)
    }

    /// Number of rows, nulls included.
    pub fn len(&self) -> usize {
        self.dims.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.dims.is_empty()
    }

    /// Whether row `i` is null.
    pub fn is_null(&self, i: usize) -> bool {
        self.nulls.as_ref().is_some_and(|nb| nb.is_null(i))
    }

    /// The dimension of row `i` (0 for a null row).
    pub fn row_dim(&self, i: usize) -> usize {
        self.dims.get(i).copied().unwrap_or(0)
    }

    /// The dimension every non-null row shares; 0 when all rows are null.
    ///
    /// # Errors
    /// Rows declare different dimensions; the message names the first two.
    pub fn dim(&self) -> Result<usize, String> {
        let mut found: Option<(usize, usize)> = None;
        for (row, &d) in self.dims.iter().enumerate() {
            if self.is_null(row) {
                continue;
            }
            match found {
                None => found = Some((row, d)),
                Some((r0, d0)) if d0 != d => {
                    return Err(format!(
                        "sparse vectors differ in dimension: row {r0} has {d0}, \
                         row {row} has {d}"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(found.map_or(0, |(_, d)| d))
    }

    /// The indices and values of row `i` (both empty for a null row or `i` out of range).
    pub fn row(&self, i: usize) -> (&[i32], &[f64]) {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => (&self.indices[a..b], &self.values[a..b]),
            _ => (&[], &[]),
        }
    }

    /// Number of stored (non-zero) entries over all rows.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
}

fn list_range(list: &ListArray, row: usize) -> (usize, usize) {
    let offsets = list.value_offsets();
    if list.is_null(row) {
        return (0, 0);
    }
    (offsets[row] as usize, offsets[row + 1] as usize)
}

/// Builds an Arrow array of [`sparse_type`], one row at a time.
#[derive(Debug)]
pub struct SparseBuilder {
    dim: i32,
    indices: Vec<i32>,
    values: Vec<f64>,
    offsets: Vec<i32>,
    valid: Vec<bool>,
}

impl SparseBuilder {
    /// A builder for vectors of dimension `dim` (clamped to [`MAX_SPARSE_DIM`]).
    pub fn new(dim: usize) -> Self {
        Self {
            dim: i32::try_from(dim).unwrap_or(i32::MAX),
            indices: Vec::new(),
            values: Vec::new(),
            offsets: vec![0],
            valid: Vec::new(),
        }
    }

    /// Appends a row. The caller supplies strictly ascending indices in `0..dim` and as
    /// many values as indices; extra entries of the longer slice are dropped.
    pub fn append(&mut self, indices: &[i32], values: &[f64]) {
        let n = indices.len().min(values.len());
        self.indices.extend_from_slice(&indices[..n]);
        self.values.extend_from_slice(&values[..n]);
        self.offsets
            .push(i32::try_from(self.indices.len()).unwrap_or(i32::MAX));
        self.valid.push(true);
    }

    /// Appends a null row.
    pub fn append_null(&mut self) {
        self.offsets
            .push(i32::try_from(self.indices.len()).unwrap_or(i32::MAX));
        self.valid.push(false);
    }

    /// Number of rows appended.
    pub fn len(&self) -> usize {
        self.valid.len()
    }

    /// Whether no rows were appended.
    pub fn is_empty(&self) -> bool {
        self.valid.is_empty()
    }

    /// The finished array.
    pub fn finish(self) -> ArrayRef {
        let n = self.valid.len();
        let fs = fields();
        let nulls = if self.valid.iter().all(|v| *v) {
            None
        } else {
            Some(NullBuffer::from(self.valid))
        };
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        let item = |t: DataType| Arc::new(Field::new_list_field(t, false));
        let indices = ListArray::new(
            item(DataType::Int32),
            offsets.clone(),
            Arc::new(Int32Array::from(self.indices)),
            None,
        );
        let values = ListArray::new(
            item(DataType::Float64),
            offsets,
            Arc::new(Float64Array::from(self.values)),
            None,
        );
        let dim = Int32Array::from(vec![self.dim; n]);
        Arc::new(StructArray::new(
            fs,
            vec![Arc::new(dim), Arc::new(indices), Arc::new(values)],
            nulls,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Builder, Int32Builder, ListBuilder};

    fn built() -> ArrayRef {
        let mut b = SparseBuilder::new(10);
        b.append(&[1, 4], &[2.0, 0.5]);
        b.append_null();
        b.append(&[], &[]);
        b.append(&[9], &[-1.0]);
        b.finish()
    }

    #[test]
    fn builder_output_has_the_sparse_type_and_reads_back() {
        let a = built();
        assert_eq!(a.data_type(), &sparse_type());
        assert!(is_sparse(a.data_type()));
        let rows = SparseRows::from_array(a.as_ref()).expect("valid");
        assert_eq!(rows.len(), 4);
        assert_eq!(rows.dim(), Ok(10));
        assert_eq!(rows.row(0), (&[1, 4][..], &[2.0, 0.5][..]));
        assert!(rows.is_null(1));
        assert!(!rows.is_null(2));
        assert_eq!(rows.row(1), (&[][..], &[][..]));
        assert_eq!(rows.row(2), (&[][..], &[][..]));
        assert_eq!(rows.row(3), (&[9][..], &[-1.0][..]));
        assert_eq!(rows.row(7), (&[][..], &[][..]));
        assert_eq!(rows.nnz(), 3);
    }

    #[test]
    fn sliced_arrays_read_the_right_rows() {
        let a = built().slice(2, 2);
        let rows = SparseRows::from_array(a.as_ref()).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.row(0), (&[][..], &[][..]));
        assert_eq!(rows.row(1), (&[9][..], &[-1.0][..]));
    }

    #[test]
    fn other_types_are_not_sparse() {
        assert!(!is_sparse(&DataType::Int32));
        assert!(!is_sparse(&DataType::new_list(DataType::Float64, true)));
        let err = SparseRows::from_array(&Int32Array::from(vec![1])).unwrap_err();
        assert!(err.contains("expected a sparse vector"), "{err}");
    }

    /// A sparse array from raw parts, bypassing the builder's assumptions.
    fn raw(dims: &[i32], rows: &[(Vec<i32>, Vec<f64>)]) -> ArrayRef {
        let mut ib = ListBuilder::new(Int32Builder::new())
            .with_field(Arc::new(Field::new_list_field(DataType::Int32, false)));
        let mut vb = ListBuilder::new(Float64Builder::new())
            .with_field(Arc::new(Field::new_list_field(DataType::Float64, false)));
        for (i, v) in rows {
            ib.values().append_slice(i);
            ib.append(true);
            vb.values().append_slice(v);
            vb.append(true);
        }
        Arc::new(StructArray::new(
            fields(),
            vec![
                Arc::new(Int32Array::from(dims.to_vec())),
                Arc::new(ib.finish()),
                Arc::new(vb.finish()),
            ],
            None,
        ))
    }

    #[test]
    fn bad_rows_are_rejected_naming_the_problem() {
        type Case = (Vec<i32>, Vec<(Vec<i32>, Vec<f64>)>, &'static str);
        let cases: Vec<Case> = vec![
            (
                vec![4],
                vec![(vec![4], vec![1.0])],
                "row 0: sparse index 4 is out of range",
            ),
            (vec![4], vec![(vec![-1], vec![1.0])], "out of range"),
            (
                vec![4],
                vec![(vec![2, 1], vec![1.0, 1.0])],
                "not strictly ascending (2 then 1)",
            ),
            (
                vec![4],
                vec![(vec![1, 1], vec![1.0, 1.0])],
                "not strictly ascending",
            ),
            (vec![4], vec![(vec![1], vec![f64::NAN])], "not finite"),
            (vec![4], vec![(vec![1], vec![f64::INFINITY])], "not finite"),
            (
                vec![4],
                vec![(vec![1, 2], vec![1.0])],
                "2 indices but 1 values",
            ),
            (vec![-3], vec![(vec![], vec![])], "dim is negative (-3)"),
        ];
        for (dims, rows, expected) in cases {
            let err = SparseRows::from_array(raw(&dims, &rows).as_ref()).unwrap_err();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn mixed_dimensions_are_an_error_naming_both() {
        let a = raw(
            &[4, 4, 6],
            &[(vec![], vec![]), (vec![], vec![]), (vec![5], vec![1.0])],
        );
        let rows = SparseRows::from_array(a.as_ref()).expect("each row is valid");
        assert_eq!(rows.row_dim(2), 6);
        let err = rows.dim().unwrap_err();
        assert!(
            err.contains("row 0 has 4") && err.contains("row 2 has 6"),
            "{err}"
        );
    }

    #[test]
    fn all_null_rows_have_dim_zero() {
        let mut b = SparseBuilder::new(3);
        b.append_null();
        let rows = SparseRows::from_array(b.finish().as_ref()).expect("valid");
        assert_eq!(rows.dim(), Ok(0));
        let empty = SparseBuilder::new(3).finish();
        let rows = SparseRows::from_array(empty.as_ref()).expect("valid");
        assert!(rows.is_empty());
        assert_eq!(rows.dim(), Ok(0));
    }
}
