//! Distributed isolation forest training: a partition-invariant sample pool.
//!
//! Trees need only a few hundred rows each, so a partial state keeps a bounded pool
//! of rows to sample from. The pool is a *bottom-k sketch over distinct rows*: each
//! distinct row gets the key `hash_row(seed, row)`, the pool keeps the `capacity`
//! distinct rows with the smallest keys, and each kept row carries its exact
//! multiplicity.
//!
//! Because a row's key depends only on its values and the seed, the rows kept after
//! merging are the bottom-k of the union whatever the partitioning and merge order,
//! and a row in the union's bottom-k is in the bottom-k of every partial that saw it,
//! so its multiplicity is exact too. Every distinct row is equally likely to be kept,
//! so sampling rows in proportion to their multiplicities from the pool is an
//! unbiased sample of the data. With at most `capacity` distinct rows the pool is
//! simply all the data.

use std::collections::BTreeMap;

use super::IsolationForestValidParams;
use super::tree::grow_forest;
use super::{IsolationForestError, IsolationForestModel, IsolationForestParams};
use crate::matrix::{
    ByteReader, ByteWriter, FeatureMatrix, canonical_bits, hash_bits, invalid,
};
use crate::sketch::{self, Pool};

/// Version byte of the [`IsolationForestPartial::to_bytes`] payload.
const PARTIAL_VERSION: u8 = 1;

/// Mergeable isolation forest training state of one or more partitions.
#[derive(Debug, Clone)]
pub struct IsolationForestPartial {
    params: IsolationForestValidParams,
    n_cols: Option<usize>,
    /// (key, row bits) → multiplicity, in key order.
    pool: Pool<u64>,
    n_rows: u64,
}

impl IsolationForestPartial {
    /// An empty state that will train with `params`.
    pub fn new(params: &IsolationForestValidParams) -> Self {
        Self {
            params: params.clone(),
            n_cols: None,
            pool: BTreeMap::new(),
            n_rows: 0,
        }
    }

    /// The parameters this state trains with.
    pub fn params(&self) -> &IsolationForestValidParams {
        &self.params
    }

    /// Rows seen, over all merged partitions.
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// Distinct rows in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// Approximate heap memory used, in bytes.
    pub fn size_bytes(&self) -> usize {
        let d = self.n_cols.unwrap_or(0);
        // BTreeMap nodes hold up to 11 entries; count entries plus node overhead.
        std::mem::size_of::<Self>()
            + self.pool.len()
                * (std::mem::size_of::<((u64, Box<[u64]>), u64)>() + 16 + d * 8)
    }

    fn check_cols(&mut self, n_cols: usize) -> Result<usize, IsolationForestError> {
        if n_cols == 0 {
            return Err(IsolationForestError::NoColumns);
        }
        match self.n_cols {
            Some(d) if d != n_cols => Err(IsolationForestError::DimensionMismatch {
                expected: d,
                got: n_cols,
            }),
            _ => {
                self.n_cols = Some(n_cols);
                Ok(n_cols)
            }
        }
    }

    fn insert(&mut self, key: u64, bits: &[u64], count: u64) {
        sketch::insert(
            &mut self.pool,
            key,
            bits,
            count,
            self.params.pool_capacity(),
        );
    }

    /// Adds every row of `x`.
    ///
    /// # Errors
    ///
    /// [`IsolationForestError::DimensionMismatch`] when `x` has a different number of
    /// columns than earlier rows; [`IsolationForestError::NoColumns`] for zero-width
    /// rows.
    pub fn update(&mut self, x: &FeatureMatrix) -> Result<(), IsolationForestError> {
        if x.is_empty() {
            return Ok(());
        }
        self.check_cols(x.n_cols())?;
        let seed = self.params.seed();
        let mut bits = Vec::with_capacity(x.n_cols());
        for row in x.rows() {
            bits.clear();
            bits.extend(row.iter().map(|&v| canonical_bits(v)));
            let key = hash_bits(seed, bits.iter().copied());
            self.insert(key, &bits, 1);
            self.n_rows += 1;
        }
        Ok(())
    }

    /// Merges `other` into `self`; the result is independent of merge order and
    /// partitioning.
    ///
    /// # Errors
    ///
    /// [`IsolationForestError::ParamsMismatch`] when the states were built with
    /// different parameters, [`IsolationForestError::DimensionMismatch`] when their
    /// widths differ.
    pub fn merge(
        &mut self,
        other: &IsolationForestPartial,
    ) -> Result<(), IsolationForestError> {
        if self.params != other.params {
            return Err(IsolationForestError::ParamsMismatch);
        }
        let Some(d) = other.n_cols else {
            return Ok(());
        };
        self.check_cols(d)?;
        for ((key, bits), &count) in &other.pool {
            self.insert(*key, bits, count);
        }
        self.n_rows += other.n_rows;
        Ok(())
    }

    /// The pool as a matrix of distinct rows (in key order) and their multiplicities.
    pub fn pool(&self) -> (FeatureMatrix, Vec<u64>) {
        let d = self.n_cols.unwrap_or(0);
        let mut data = Vec::with_capacity(self.pool.len() * d);
        let mut counts = Vec::with_capacity(self.pool.len());
        for ((_, bits), &c) in &self.pool {
            data.extend(bits.iter().map(|&b| f64::from_bits(b)));
            counts.push(c);
        }
        let n = counts.len();
        // Pool values were finite when inserted or decoded.
        let m =
            FeatureMatrix::new(n, d, data).unwrap_or_else(|_| FeatureMatrix::empty(d));
        (m, counts)
    }

    /// Grows the forest from the pool and, when `contamination` is set, sets the
    /// score threshold from the pool's scores.
    ///
    /// # Errors
    ///
    /// [`IsolationForestError::Empty`] with no rows, [`IsolationForestError::TooFewRows`]
    /// with a single row.
    pub fn finish(&self) -> Result<IsolationForestModel, IsolationForestError> {
        if self.n_rows == 0 || self.pool.is_empty() {
            return Err(IsolationForestError::Empty);
        }
        let (pool, counts) = self.pool();
        let total: u64 = counts.iter().sum();
        if total < 2 {
            return Err(IsolationForestError::TooFewRows { n_rows: total });
        }
        let forest = grow_forest(&self.params, &pool, &counts);
        let mut model = IsolationForestModel::from_forest(forest, self.n_rows)?;
        if let Some(c) = self.params.contamination() {
            let scores = model.score(&pool)?;
            let threshold = super::model::weighted_quantile(&scores, &counts, 1.0 - c);
            model.set_threshold(c, threshold);
        }
        Ok(model)
    }

    /// Encodes the state as a little-endian payload with a version byte. Rows are
    /// written in key order, so equal states encode to equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = self.n_cols.unwrap_or(0);
        let mut w = ByteWriter::with_capacity(64 + self.pool.len() * (d + 1) * 8);
        w.u8(PARTIAL_VERSION);
        let p = &self.params;
        w.u64(p.n_trees() as u64);
        w.u64(p.sample_size() as u64);
        w.u64(p.seed());
        w.opt_f64(p.contamination());
        w.u64(p.max_depth().unwrap_or(0) as u64);
        w.u64(p.pool_size().unwrap_or(0) as u64);
        w.u64(d as u64);
        w.u64(self.n_rows);
        w.u64(self.pool.len() as u64);
        for ((_, bits), &c) in &self.pool {
            for &b in bits.iter() {
                w.u64(b);
            }
            w.u64(c);
        }
        w.into_inner()
    }

    /// Decodes a payload written by [`IsolationForestPartial::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`IsolationForestError::Decode`] for truncated, corrupted or inconsistent
    /// input; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IsolationForestError> {
        let mut r = ByteReader::new(bytes);
        r.version(PARTIAL_VERSION)?;
        let n_trees = r.usize("n_trees")?;
        let sample_size = r.usize("sample_size")?;
        let seed = r.u64()?;
        let contamination = r.opt_f64("contamination")?;
        let max_depth = r.usize("max_depth")?;
        let pool_size = r.usize("pool_size")?;
        let params = IsolationForestParams::default()
            .n_trees(n_trees)
            .sample_size(sample_size)
            .seed(seed)
            .contamination(contamination)
            .max_depth((max_depth > 0).then_some(max_depth))
            .pool_size((pool_size > 0).then_some(pool_size))
            .check()
            .map_err(|e| invalid(format!("parameters: {e}")))?;
        let d = r.usize("column count")?;
        let n_rows = r.u64()?;
        let item = d
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .ok_or_else(|| invalid(format!("column count ({d})")))?;
        let n = r.count(item, "pool length")?;
        if n > params.pool_capacity() {
            return Err(invalid(format!("pool length ({n})")).into());
        }
        if d == 0 && (n > 0 || n_rows > 0) {
            return Err(invalid("column count (0 with rows)").into());
        }
        let mut pool = BTreeMap::new();
        let mut total = 0u64;
        // Grown as values are read: `d` is the input's claim (fuzzing found a partial of
        // no rows claiming 2^45 columns, which a capacity taken from it tried to allocate).
        let mut bits = Vec::new();
        for _ in 0..n {
            bits.clear();
            for _ in 0..d {
                let v = f64::from_bits(r.u64()?);
                if !v.is_finite() {
                    return Err(invalid(format!("pool value ({v})")).into());
                }
                bits.push(canonical_bits(v));
            }
            let c = r.u64()?;
            if c == 0 {
                return Err(invalid("row multiplicity (0)").into());
            }
            total = total
                .checked_add(c)
                .ok_or_else(|| invalid("row multiplicities (overflow)"))?;
            let key = hash_bits(seed, bits.iter().copied());
            if pool.insert((key, bits.as_slice().into()), c).is_some() {
                return Err(invalid("pool (duplicate row)").into());
            }
        }
        if total > n_rows {
            return Err(
                invalid(format!("row count ({n_rows} < pool total {total})")).into(),
            );
        }
        r.finish()?;
        Ok(Self {
            params,
            n_cols: (d > 0).then_some(d),
            pool,
            n_rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::SeededRng;

    /// 300 inliers near the origin and 6 far outliers, 3 features.
    fn data(seed: u64) -> FeatureMatrix {
        let mut rng = SeededRng::new(seed);
        let mut rows = Vec::new();
        for _ in 0..300 {
            rows.push([rng.next_f64(), rng.next_f64(), rng.next_f64()]);
        }
        for i in 0..6 {
            rows.push([5.0 + i as f64, -4.0, 3.0]);
        }
        FeatureMatrix::from_rows(&rows).expect("valid test input")
    }

    fn params() -> IsolationForestValidParams {
        IsolationForestParams::default()
            .n_trees(40)
            .check()
            .expect("valid test input")
    }

    fn split(x: &FeatureMatrix, parts: usize, rotate: usize) -> Vec<FeatureMatrix> {
        let mut out: Vec<FeatureMatrix> = (0..parts)
            .map(|_| FeatureMatrix::empty(x.n_cols()))
            .collect();
        for i in 0..x.n_rows() {
            let r = (i + rotate) % x.n_rows();
            out[(i * 5 + rotate) % parts]
                .push_row(x.row(r))
                .expect("valid test input");
        }
        out
    }

    #[test]
    fn fit_on_zero_rows_is_an_error() {
        let err = params()
            .fit(&FeatureMatrix::empty(2))
            .expect_err("must be rejected");
        assert_eq!(err, IsolationForestError::Empty);
    }

    #[test]
    fn fit_on_one_row_is_an_error() {
        let x = FeatureMatrix::from_rows(&[[1.0]]).expect("valid test input");
        let err = params().fit(&x).expect_err("must be rejected");
        assert_eq!(
            err.to_string(),
            "an isolation forest needs at least 2 rows (got 1)"
        );
    }

    #[test]
    fn identical_rows_all_score_one_half() {
        let x = FeatureMatrix::from_rows(&[[1.0, 2.0], [1.0, 2.0]])
            .expect("valid test input");
        let m = params().fit(&x).expect("valid test input");
        assert_eq!(m.score(&x).expect("valid test input"), vec![0.5, 0.5]);
    }

    #[test]
    fn outliers_score_higher_than_inliers() {
        let x = data(1);
        let m = params().fit(&x).expect("valid test input");
        let s = m.score(&x).expect("valid test input");
        let max_inlier = s[..300].iter().cloned().fold(0.0, f64::max);
        let min_outlier = s[300..].iter().cloned().fold(1.0, f64::min);
        assert!(min_outlier > max_inlier, "{min_outlier} <= {max_inlier}");
        assert!(s.iter().all(|&v| v > 0.0 && v <= 1.0));
        // About 5 % of the training rows lie above the threshold.
        let t = m.threshold().expect("valid test input");
        let flagged = s.iter().filter(|&&v| v > t).count();
        assert!((14..=17).contains(&flagged), "{flagged}");
    }

    #[test]
    fn merge_order_and_partitioning_do_not_change_the_model() {
        let x = data(2);
        let single = params().fit(&x).expect("valid test input");
        let mut rng = SeededRng::new(8);
        for trial in 0..6 {
            let mut partials: Vec<IsolationForestPartial> =
                split(&x, 1 + trial, trial * 7)
                    .iter()
                    .map(|c| {
                        let mut p = IsolationForestPartial::new(&params());
                        p.update(c).expect("valid test input");
                        p
                    })
                    .collect();
            let mut acc = IsolationForestPartial::new(&params());
            while !partials.is_empty() {
                let p = partials.swap_remove(rng.gen_range(partials.len()));
                acc.merge(
                    &IsolationForestPartial::from_bytes(&p.to_bytes())
                        .expect("valid test input"),
                )
                .expect("valid test input");
            }
            assert_eq!(
                acc.finish().expect("valid test input"),
                single,
                "trial {trial}"
            );
        }
    }

    #[test]
    fn a_bounded_pool_is_the_same_bottom_k_for_any_partitioning() {
        let x = data(3);
        let p = IsolationForestParams::default()
            .n_trees(10)
            .sample_size(32)
            .pool_size(Some(64))
            .check()
            .expect("valid test input");
        let mut single = IsolationForestPartial::new(&p);
        single.update(&x).expect("valid test input");
        // Duplicated rows keep exact multiplicities.
        single.update(&x).expect("valid test input");
        assert_eq!(single.pool_len(), 64);
        assert_eq!(single.n_rows(), 612);
        let mut acc = IsolationForestPartial::new(&p);
        for c in split(&x, 7, 3).iter().chain(split(&x, 3, 1).iter()).rev() {
            let mut part = IsolationForestPartial::new(&p);
            part.update(c).expect("valid test input");
            acc.merge(&part).expect("valid test input");
        }
        assert_eq!(acc.to_bytes(), single.to_bytes());
        assert!(acc.pool().1.iter().all(|&c| c == 2));
        assert_eq!(
            acc.finish().expect("valid test input"),
            single.finish().expect("valid test input")
        );
    }

    #[test]
    fn mismatched_partials_do_not_merge() {
        let mut a = IsolationForestPartial::new(&params());
        a.update(&FeatureMatrix::from_rows(&[[1.0, 2.0]]).expect("valid test input"))
            .expect("valid test input");
        let mut b = IsolationForestPartial::new(&params());
        b.update(&FeatureMatrix::from_rows(&[[1.0]]).expect("valid test input"))
            .expect("valid test input");
        assert!(matches!(
            a.merge(&b),
            Err(IsolationForestError::DimensionMismatch { .. })
        ));
        let other = IsolationForestParams::default()
            .seed(1)
            .check()
            .expect("valid test input");
        assert_eq!(
            a.merge(&IsolationForestPartial::new(&other)),
            Err(IsolationForestError::ParamsMismatch)
        );
    }

    #[test]
    fn corrupted_partial_bytes_are_errors_not_panics() {
        let mut p = IsolationForestPartial::new(
            &IsolationForestParams::default()
                .n_trees(3)
                .sample_size(8)
                .check()
                .expect("valid test input"),
        );
        p.update(
            &FeatureMatrix::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 0.5]])
                .expect("valid test input"),
        )
        .expect("valid test input");
        let bytes = p.to_bytes();
        assert_eq!(
            IsolationForestPartial::from_bytes(&bytes)
                .expect("valid test input")
                .to_bytes(),
            bytes
        );
        let mut rng = SeededRng::new(17);
        for case in 0..2000 {
            let mut b = bytes.clone();
            match case % 3 {
                0 => b.truncate(rng.gen_range(b.len())),
                1 => {
                    let i = rng.gen_range(b.len());
                    b[i] ^= 1 << rng.gen_range(8);
                }
                _ => {
                    for _ in 0..3 {
                        let i = rng.gen_range(b.len());
                        b[i] = rng.next_u64() as u8;
                    }
                }
            }
            if let Ok(decoded) = IsolationForestPartial::from_bytes(&b)
                && decoded.params().n_trees() * decoded.params().sample_size() < 100_000
            {
                let _ = decoded.finish();
            }
        }
    }
}
