//! Input rows of the autoencoder, dense or sparse, read from Arrow in one place; their
//! canonical encoding (what the training sample stores and hashes); and the deterministic
//! negative indices of the sparse reconstruction loss.

use datafusion::arrow::array::Array;

use crate::matrix::{
    FeatureMatrix, SeededRng, canonical_bits, derive_seed, hash_bits, matrix_from_list,
};
use crate::sparse::{SparseRows, is_sparse};

/// Whether a model reads dense lists or sparse vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// `List<Float64>` of a fixed width.
    Dense,
    /// The sparse vector struct of [`crate::sparse`].
    Sparse,
}

impl InputKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Dense => 1,
            Self::Sparse => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Dense),
            2 => Some(Self::Sparse),
            _ => None,
        }
    }

    /// `dense` or `sparse`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Sparse => "sparse",
        }
    }
}

/// One Arrow batch of input vectors. Null rows are skipped (and score null); bad values
/// are errors naming the row.
#[derive(Debug)]
pub enum InputBatch {
    /// Dense rows.
    Dense(crate::matrix::ArrowRows),
    /// Sparse rows.
    Sparse(SparseRows),
}

impl InputBatch {
    /// Reads a dense list column or a sparse vector column.
    ///
    /// # Errors
    /// Neither type, or a bad row (the message names it).
    pub fn read(array: &dyn Array) -> Result<Self, String> {
        if is_sparse(array.data_type()) {
            Ok(Self::Sparse(SparseRows::from_array(array)?))
        } else {
            matrix_from_list(array)
                .map(Self::Dense)
                .map_err(|e| e.to_string())
        }
    }

    /// The kind of the rows.
    pub fn kind(&self) -> InputKind {
        match self {
            Self::Dense(_) => InputKind::Dense,
            Self::Sparse(_) => InputKind::Sparse,
        }
    }

    /// The width shared by the non-null rows (`None` when there are none).
    ///
    /// # Errors
    /// Sparse rows that declare different dimensions.
    pub fn dim(&self) -> Result<Option<usize>, String> {
        match self {
            Self::Dense(rows) => {
                let m = rows.matrix();
                Ok((m.n_rows() > 0).then_some(m.n_cols()))
            }
            Self::Sparse(rows) => {
                let any = (0..rows.len()).any(|i| !rows.is_null(i));
                Ok(if any { Some(rows.dim()?) } else { None })
            }
        }
    }

    /// Whether the batch has no rows at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of input rows, nulls included.
    pub fn len(&self) -> usize {
        match self {
            Self::Dense(rows) => rows.input_len(),
            Self::Sparse(rows) => rows.len(),
        }
    }

    /// Whether input row `i` is present (non-null).
    pub fn is_present(&self, i: usize) -> bool {
        match self {
            Self::Dense(rows) => rows.is_present(i),
            Self::Sparse(rows) => i < rows.len() && !rows.is_null(i),
        }
    }

    /// The canonical encoding of every non-null row, in order (see [`encode_dense`] and
    /// [`encode_sparse`]).
    pub fn encoded_rows(&self) -> Vec<Box<[u64]>> {
        match self {
            Self::Dense(rows) => rows.matrix().rows().map(encode_dense).collect(),
            Self::Sparse(rows) => (0..rows.len())
                .filter(|&i| !rows.is_null(i))
                .map(|i| {
                    let (idx, val) = rows.row(i);
                    encode_sparse(idx.iter().map(|&i| i as u32), val.iter().copied())
                })
                .collect(),
        }
    }
}

/// The canonical encoding of a dense row: the bit pattern of each value (`-0.0` as `0.0`).
pub fn encode_dense(row: &[f64]) -> Box<[u64]> {
    row.iter().map(|&v| canonical_bits(v)).collect()
}

/// The canonical encoding of a sparse row: `index, value bits` pairs in ascending index
/// order, explicit zeros left out (so a stored zero and an absent entry are the same row).
pub fn encode_sparse(
    indices: impl Iterator<Item = u32>,
    values: impl Iterator<Item = f64>,
) -> Box<[u64]> {
    let mut out = Vec::new();
    for (i, v) in indices.zip(values) {
        if v != 0.0 {
            out.push(u64::from(i));
            out.push(canonical_bits(v));
        }
    }
    out.into_boxed_slice()
}

/// The `(index, value)` pairs of a sparse encoding.
pub fn sparse_pairs(encoded: &[u64]) -> impl Iterator<Item = (u32, f64)> + '_ {
    encoded
        .chunks_exact(2)
        .map(|p| (p[0] as u32, f64::from_bits(p[1])))
}

/// The values of a dense encoding.
pub fn dense_values(encoded: &[u64]) -> impl Iterator<Item = f64> + '_ {
    encoded.iter().map(|&b| f64::from_bits(b))
}

/// Checks a decoded encoding: a dense row has `dim` finite values; a sparse row has
/// strictly ascending indices below `dim` and finite non-zero values.
pub fn check_encoded(kind: InputKind, dim: usize, encoded: &[u64]) -> Result<(), String> {
    match kind {
        InputKind::Dense => {
            if encoded.len() != dim {
                return Err(format!(
                    "dense row of {} values, expected {dim}",
                    encoded.len()
                ));
            }
            if dense_values(encoded).any(|v| !v.is_finite()) {
                return Err("dense row has a non-finite value".into());
            }
        }
        InputKind::Sparse => {
            if !encoded.len().is_multiple_of(2) {
                return Err("sparse row has an odd number of words".into());
            }
            let mut prev: Option<u64> = None;
            for p in encoded.chunks_exact(2) {
                let v = f64::from_bits(p[1]);
                if p[0] >= dim as u64 || prev.is_some_and(|q| q >= p[0]) {
                    return Err(format!("sparse row has a bad index {}", p[0]));
                }
                if !v.is_finite() || v == 0.0 {
                    return Err(format!("sparse row has a bad value {v}"));
                }
                prev = Some(p[0]);
            }
        }
    }
    Ok(())
}

/// The key of an encoded row under `seed`: orders the bounded training sample and seeds
/// the row's negative indices.
pub fn row_key(seed: u64, encoded: &[u64]) -> u64 {
    hash_bits(seed, encoded.iter().copied())
}

/// Converts dense rows to their sparse encoding (non-zeros only).
pub fn dense_to_sparse(m: &FeatureMatrix) -> Vec<Box<[u64]>> {
    m.rows()
        .map(|r| encode_sparse((0..r.len()).map(|i| i as u32), r.iter().copied()))
        .collect()
}

/// The negative indices of one sparse row: up to `k` distinct positions in `0..vocab_len`
/// (the model's vocabulary) that are not in `present` (the row's own vocabulary positions,
/// ascending), drawn from a generator seeded by `seed`, the row's key and `round`
/// (0 when scoring, `epoch + 1` when training). All of them when fewer than `k` remain.
///
/// The result is ascending.
pub fn negatives(
    seed: u64,
    key: u64,
    round: u64,
    vocab_len: usize,
    present: &[usize],
    k: usize,
) -> Vec<usize> {
    let remaining = vocab_len.saturating_sub(present.len());
    let is_present = |i: &usize| present.binary_search(i).is_ok();
    if remaining <= k {
        return (0..vocab_len).filter(|i| !is_present(i)).collect();
    }
    let mut rng = SeededRng::new(derive_seed(derive_seed(seed, key), round));
    let mut out: Vec<usize> = Vec::with_capacity(k);
    if remaining < 2 * k || remaining * 2 < vocab_len {
        // Dense in the vocabulary: a partial Fisher-Yates over the complement.
        let mut pool: Vec<usize> = (0..vocab_len).filter(|i| !is_present(i)).collect();
        for j in 0..k {
            let pick = j + rng.gen_range(pool.len() - j);
            pool.swap(j, pick);
        }
        out.extend_from_slice(&pool[..k]);
    } else {
        // At least half the vocabulary is free and at most half of that is taken, so
        // each draw is accepted with probability at least 1/4.
        while out.len() < k {
            let i = rng.gen_range(vocab_len);
            if !is_present(&i) && !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_encoding_drops_zeros_and_round_trips() {
        let e = encode_sparse([1u32, 4, 9].into_iter(), [0.5, 0.0, -2.0].into_iter());
        assert_eq!(
            sparse_pairs(&e).collect::<Vec<_>>(),
            vec![(1, 0.5), (9, -2.0)]
        );
        assert!(check_encoded(InputKind::Sparse, 10, &e).is_ok());
        assert!(check_encoded(InputKind::Sparse, 9, &e).is_err());
        assert!(check_encoded(InputKind::Dense, 2, &encode_dense(&[1.0, -0.0])).is_ok());
        assert_eq!(encode_dense(&[-0.0]), encode_dense(&[0.0]));
    }

    #[test]
    fn negatives_are_deterministic_distinct_and_absent() {
        for vocab in [8usize, 10, 30, 1000] {
            let present = vec![2, 5, 7];
            let a = negatives(1, 99, 0, vocab, &present, 6);
            let b = negatives(1, 99, 0, vocab, &present, 6);
            assert_eq!(a, b);
            let want = 6.min(vocab - present.len());
            assert_eq!(a.len(), want, "vocab {vocab}");
            assert!(a.windows(2).all(|w| w[0] < w[1]));
            assert!(a.iter().all(|i| *i < vocab && !present.contains(i)));
        }
        assert_ne!(
            negatives(1, 99, 0, 1000, &[2, 5, 7], 6),
            negatives(1, 99, 1, 1000, &[2, 5, 7], 6)
        );
    }
}
