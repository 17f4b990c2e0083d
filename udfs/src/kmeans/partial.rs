//! Distributed k-means training: the mergeable per-partition summary.
//!
//! A [`KMeansPartial`] is a weighted point set plus the squared error it has
//! already folded away:
//!
//! - **Exact while small.** Rows are kept as distinct points with their
//!   multiplicities. Merging adds multiplicities, which is associative and
//!   commutative, and every consumer reads the points in one canonical order (by the
//!   bit patterns of their values). So as long as no partial outgrows its budget,
//!   the merged summary, and therefore the fitted model, is identical however the
//!   rows were partitioned and in whatever order partials were merged.
//! - **A coreset when large.** When a partial holds more than
//!   `max(max_summary_values / n_cols, 40 k)` distinct points it compresses itself:
//!   weighted D² seeding picks `max(coreset_size, 20 k)` centres (capped at half the
//!   budget), every point joins its nearest centre, and each group is replaced by one
//!   point at its weighted mean carrying the group's weight. The squared error of
//!   the points around their group means is added to `sse`; by the parallel-axis
//!   theorem a final model's inertia on the summary plus `sse` is exactly its
//!   inertia on the original rows. The random choices are seeded from the
//!   parameters' seed and a hash of the summary's content, never from the partition
//!   index, so compression too is a function of the data seen.
//!
//! [`KMeansPartial::finish`] runs `n_init` greedy k-means++ initialisations and
//! weighted Lloyd on the summary and keeps the lowest inertia.

use std::collections::HashMap;

use super::lloyd::{Points, d2_groups, fit_points};
use super::{KMeansError, KMeansModel, KMeansParams, KMeansValidParams};
use crate::matrix::{
    ByteReader, ByteWriter, FeatureMatrix, SeededRng, canonical_bits, derive_seed,
    hash_bits, invalid,
};

/// Version byte of the [`KMeansPartial::to_bytes`] payload.
const PARTIAL_VERSION: u8 = 1;

/// Mergeable k-means training state of one or more partitions.
#[derive(Debug, Clone)]
pub struct KMeansPartial {
    params: KMeansValidParams,
    n_cols: Option<usize>,
    /// Distinct points (as canonical bit patterns) and their weights.
    points: HashMap<Box<[u64]>, u64>,
    n_rows: u64,
    sse: f64,
    compressed: bool,
}

impl KMeansPartial {
    /// An empty state that will train with `params`.
    pub fn new(params: &KMeansValidParams) -> Self {
        Self {
            params: params.clone(),
            n_cols: None,
            points: HashMap::new(),
            n_rows: 0,
            sse: 0.0,
            compressed: false,
        }
    }

    /// The parameters this state trains with.
    pub fn params(&self) -> &KMeansValidParams {
        &self.params
    }

    /// Rows seen, over all merged partitions.
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// Number of weighted points in the summary.
    pub fn n_points(&self) -> usize {
        self.points.len()
    }

    /// True while the summary holds every distinct row exactly (no compression yet).
    pub fn is_exact(&self) -> bool {
        !self.compressed
    }

    /// Approximate heap memory used, in bytes.
    pub fn size_bytes(&self) -> usize {
        let d = self.n_cols.unwrap_or(0);
        std::mem::size_of::<Self>()
            + self.points.capacity() * (std::mem::size_of::<(Box<[u64]>, u64)>() + 1)
            + self.points.len() * d * 8
    }

    fn check_cols(&mut self, n_cols: usize) -> Result<usize, KMeansError> {
        if n_cols == 0 {
            return Err(KMeansError::NoColumns);
        }
        match self.n_cols {
            Some(d) if d != n_cols => Err(KMeansError::DimensionMismatch {
                expected: d,
                got: n_cols,
            }),
            _ => {
                self.n_cols = Some(n_cols);
                Ok(n_cols)
            }
        }
    }

    /// Most distinct points kept before compressing.
    fn cap(&self, d: usize) -> usize {
        let k = self.params.k();
        (self.params.max_summary_values() / d).max(40 * k)
    }

    /// Adds every row of `x`.
    ///
    /// # Errors
    ///
    /// [`KMeansError::DimensionMismatch`] when `x` has a different number of columns
    /// than earlier rows; [`KMeansError::NoColumns`] for zero-width rows.
    pub fn update(&mut self, x: &FeatureMatrix) -> Result<(), KMeansError> {
        if x.is_empty() {
            return Ok(());
        }
        let d = self.check_cols(x.n_cols())?;
        let cap = self.cap(d);
        let mut key = Vec::with_capacity(d);
        for row in x.rows() {
            key.clear();
            key.extend(row.iter().map(|&v| canonical_bits(v)));
            self.n_rows += 1;
            match self.points.get_mut(key.as_slice()) {
                Some(w) => *w += 1,
                None => {
                    self.points.insert(key.clone().into_boxed_slice(), 1);
                    if self.points.len() > cap {
                        self.compress(d);
                    }
                }
            }
        }
        Ok(())
    }

    /// Merges `other` into `self`. The result does not depend on merge order or on
    /// how rows were split, as long as neither state was compressed (see the module
    /// docs).
    ///
    /// # Errors
    ///
    /// [`KMeansError::ParamsMismatch`] when the states were built with different
    /// parameters, [`KMeansError::DimensionMismatch`] when their widths differ.
    pub fn merge(&mut self, other: &KMeansPartial) -> Result<(), KMeansError> {
        if self.params != other.params {
            return Err(KMeansError::ParamsMismatch);
        }
        let Some(d) = other.n_cols else {
            return Ok(());
        };
        let d = self.check_cols(d)?;
        for (key, &w) in &other.points {
            *self.points.entry(key.clone()).or_insert(0) += w;
        }
        self.n_rows += other.n_rows;
        self.sse += other.sse;
        self.compressed |= other.compressed;
        if self.points.len() > self.cap(d) {
            self.compress(d);
        }
        Ok(())
    }

    /// The summary in canonical order: points (`n × d`) and weights.
    fn canonical(&self) -> (Vec<f64>, Vec<f64>) {
        let mut entries: Vec<(&Box<[u64]>, &u64)> = self.points.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let d = self.n_cols.unwrap_or(0);
        let mut data = Vec::with_capacity(entries.len() * d);
        let mut weights = Vec::with_capacity(entries.len());
        for (key, &w) in entries {
            data.extend(key.iter().map(|&b| f64::from_bits(b)));
            weights.push(w as f64);
        }
        (data, weights)
    }

    /// Replaces the summary by a weighted coreset (see the module docs).
    fn compress(&mut self, d: usize) {
        let k = self.params.k();
        let m = self
            .params
            .coreset_size()
            .max(20 * k)
            .min(self.cap(d) / 2)
            .max(1);
        let (data, weights) = self.canonical();
        let content = hash_bits(
            self.params.seed(),
            data.iter()
                .map(|v| v.to_bits())
                .chain(weights.iter().map(|w| w.to_bits())),
        );
        let mut rng = SeededRng::new(derive_seed(self.params.seed(), content));
        let p = Points {
            data: &data,
            weights: &weights,
            d,
        };
        let (groups, m) = d2_groups(p, m, &mut rng);
        let mut sums = vec![0.0; m * d];
        let mut totals = vec![0.0; m];
        for (i, &g) in groups.iter().enumerate() {
            let g = g as usize;
            totals[g] += weights[i];
            for (s, v) in sums[g * d..(g + 1) * d].iter_mut().zip(p.row(i)) {
                *s += weights[i] * v;
            }
        }
        for (g, &t) in totals.iter().enumerate() {
            if t > 0.0 {
                sums[g * d..(g + 1) * d].iter_mut().for_each(|s| *s /= t);
            }
        }
        let mut sse = 0.0;
        for (i, &g) in groups.iter().enumerate() {
            let g = g as usize;
            sse +=
                weights[i] * super::kernel::sq_dist(p.row(i), &sums[g * d..(g + 1) * d]);
        }
        self.points.clear();
        for (g, &t) in totals.iter().enumerate() {
            if t > 0.0 {
                let key: Box<[u64]> = sums[g * d..(g + 1) * d]
                    .iter()
                    .map(|&v| canonical_bits(v))
                    .collect();
                *self.points.entry(key).or_insert(0) += t as u64;
            }
        }
        self.sse += sse;
        self.compressed = true;
    }

    /// Fits the model on the summary.
    ///
    /// Needs at least `k` rows. When the rows hold fewer than `k` distinct values, the
    /// model has one centroid per distinct value (fewer than `k`).
    ///
    /// # Errors
    ///
    /// [`KMeansError::Empty`] with no rows, [`KMeansError::TooFewRows`] with fewer
    /// than `k` rows.
    pub fn finish(&self) -> Result<KMeansModel, KMeansError> {
        let k = self.params.k();
        let d = match self.n_cols {
            Some(d) if self.n_rows > 0 => d,
            _ => return Err(KMeansError::Empty),
        };
        if self.n_rows < k as u64 {
            return Err(KMeansError::TooFewRows {
                k,
                n_rows: self.n_rows,
            });
        }
        let (data, weights) = self.canonical();
        let n = weights.len();
        let p = Points {
            data: &data,
            weights: &weights,
            d,
        };
        if n <= k {
            let sizes = weights.iter().map(|&w| w as u64).collect();
            let centroids = FeatureMatrix::new(n, d, data.clone())?;
            return KMeansModel::from_parts(centroids, sizes, self.sse, 0, self.n_rows);
        }
        let p_ = &self.params;
        let fit = fit_points(p, k, p_.seed(), p_.n_init(), p_.max_iter(), p_.tol());
        let k_fit = fit.centroids.len() / d;
        let mut sizes = vec![0u64; k_fit];
        for (&l, &w) in fit.labels.iter().zip(&weights) {
            sizes[l as usize] += w as u64;
        }
        let centroids = FeatureMatrix::new(k_fit, d, fit.centroids)?;
        let inertia = fit.inertia + self.sse;
        KMeansModel::from_parts(centroids, sizes, inertia, fit.n_iter, self.n_rows)
    }

    /// Encodes the state as a little-endian payload with a version byte. Points are
    /// written in canonical order, so equal states encode to equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = self.n_cols.unwrap_or(0);
        let mut w = ByteWriter::with_capacity(80 + self.points.len() * (d + 1) * 8);
        w.u8(PARTIAL_VERSION);
        let p = &self.params;
        w.u64(p.k() as u64);
        w.u64(p.seed());
        w.u64(p.max_iter() as u64);
        w.f64(p.tol());
        w.u64(p.n_init() as u64);
        w.u64(p.max_summary_values() as u64);
        w.u64(p.coreset_size() as u64);
        w.u64(d as u64);
        w.u64(self.n_rows);
        w.f64(self.sse);
        w.u8(u8::from(self.compressed));
        let (data, weights) = self.canonical();
        w.u64(weights.len() as u64);
        for (row, &wt) in data.chunks_exact(d.max(1)).zip(&weights) {
            for &v in row {
                w.f64(v);
            }
            w.u64(wt as u64);
        }
        w.into_inner()
    }

    /// Decodes a payload written by [`KMeansPartial::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`KMeansError::Decode`] for truncated, corrupted or inconsistent input; never
    /// panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KMeansError> {
        let mut r = ByteReader::new(bytes);
        r.version(PARTIAL_VERSION)?;
        let params = KMeansParams::default()
            .k(r.usize("k")?)
            .seed(r.u64()?)
            .max_iter(r.usize("max_iter")?)
            .tol(r.f64()?)
            .n_init(r.usize("n_init")?)
            .max_summary_values(r.usize("max_summary_values")?)
            .coreset_size(r.usize("coreset_size")?)
            .check()
            .map_err(|e| invalid(format!("parameters: {e}")))?;
        let d = r.usize("column count")?;
        let n_rows = r.u64()?;
        let sse = r.finite("sse")?;
        if sse < 0.0 {
            return Err(invalid(format!("sse ({sse})")).into());
        }
        let compressed = match r.u8()? {
            0 => false,
            1 => true,
            t => return Err(invalid(format!("compressed flag ({t})")).into()),
        };
        let item = d
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .ok_or_else(|| invalid(format!("column count ({d})")))?;
        let n = r.count(item, "point count")?;
        if d == 0 && (n > 0 || n_rows > 0) {
            return Err(invalid("column count (0 with points)").into());
        }
        let mut points = HashMap::with_capacity(n);
        let mut total = 0u64;
        for _ in 0..n {
            let mut key = Vec::with_capacity(d);
            for _ in 0..d {
                key.push(canonical_bits(r.finite("point value")?));
            }
            let w = r.u64()?;
            if w == 0 {
                return Err(invalid("point weight (0)").into());
            }
            total = total
                .checked_add(w)
                .ok_or_else(|| invalid("point weights (overflow)"))?;
            if points.insert(key.into_boxed_slice(), w).is_some() {
                return Err(invalid("points (duplicate point)").into());
            }
        }
        if total != n_rows {
            return Err(
                invalid(format!("row count ({n_rows}, weights sum to {total})")).into(),
            );
        }
        r.finish()?;
        Ok(Self {
            params,
            n_cols: (d > 0).then_some(d),
            points,
            n_rows,
            sse,
            compressed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(n: usize, d: usize, k: usize, seed: u64) -> FeatureMatrix {
        let mut rng = SeededRng::new(seed);
        let centres: Vec<f64> = (0..k * d).map(|_| rng.next_f64() * 20.0).collect();
        let mut data = Vec::with_capacity(n * d);
        for i in 0..n {
            let c = i % k;
            for j in 0..d {
                // Sum of uniforms: roughly normal noise.
                let noise: f64 = (0..4).map(|_| rng.next_f64() - 0.5).sum();
                data.push(centres[c * d + j] + noise);
            }
        }
        FeatureMatrix::new(n, d, data).expect("valid test input")
    }

    fn chunks(x: &FeatureMatrix, parts: usize, rotate: usize) -> Vec<FeatureMatrix> {
        let n = x.n_rows();
        let mut out: Vec<FeatureMatrix> = (0..parts)
            .map(|_| FeatureMatrix::empty(x.n_cols()))
            .collect();
        for i in 0..n {
            let r = (i + rotate) % n;
            out[(i * 7 + rotate) % parts]
                .push_row(x.row(r))
                .expect("valid test input");
        }
        out
    }

    fn params(k: usize) -> KMeansValidParams {
        KMeansParams::default()
            .k(k)
            .n_init(3)
            .check()
            .expect("valid test input")
    }

    #[test]
    fn fit_on_zero_rows_is_an_error() {
        let p = params(2);
        assert!(matches!(
            p.fit(&FeatureMatrix::empty(3)),
            Err(KMeansError::Empty)
        ));
        assert_eq!(
            KMeansPartial::new(&p)
                .finish()
                .expect_err("must be rejected")
                .to_string(),
            "cannot fit k-means on zero rows"
        );
    }

    #[test]
    fn one_row_with_k_one_is_its_own_centroid() {
        let x = FeatureMatrix::from_rows(&[[1.0, 2.0]]).expect("valid test input");
        let m = params(1).fit(&x).expect("valid test input");
        assert_eq!(m.centroids().row(0), &[1.0, 2.0]);
        assert_eq!(m.inertia(), 0.0);
        assert_eq!(m.cluster_sizes(), &[1]);
    }

    #[test]
    fn k_above_row_count_is_an_error() {
        let x = FeatureMatrix::from_rows(&[[1.0], [2.0]]).expect("valid test input");
        let err = params(3).fit(&x).expect_err("must be rejected");
        assert_eq!(err.to_string(), "k (3) exceeds the number of rows (2)");
    }

    #[test]
    fn fewer_distinct_rows_than_k_gives_one_centroid_each() {
        let x = FeatureMatrix::from_rows(&[[1.0], [1.0], [2.0], [2.0], [2.0]])
            .expect("valid test input");
        let m = params(3).fit(&x).expect("valid test input");
        assert_eq!(m.n_clusters(), 2);
        assert_eq!(m.cluster_sizes(), &[2, 3]);
        assert_eq!(m.inertia(), 0.0);
    }

    #[test]
    fn width_changes_are_errors() {
        let mut p = KMeansPartial::new(&params(1));
        p.update(&FeatureMatrix::from_rows(&[[1.0, 2.0]]).expect("valid test input"))
            .expect("valid test input");
        let err = p
            .update(&FeatureMatrix::from_rows(&[[1.0]]).expect("valid test input"))
            .expect_err("must be rejected");
        assert!(matches!(err, KMeansError::DimensionMismatch { .. }));
        let other = KMeansPartial::new(
            &KMeansParams::default()
                .k(2)
                .check()
                .expect("valid test input"),
        );
        assert!(matches!(p.merge(&other), Err(KMeansError::ParamsMismatch)));
    }

    #[test]
    fn fit_is_deterministic() {
        let x = blobs(400, 3, 4, 5);
        let a = params(4).fit(&x).expect("valid test input");
        let b = params(4).fit(&x).expect("valid test input");
        assert_eq!(a, b);
    }

    #[test]
    fn merge_order_and_partitioning_do_not_change_the_model() {
        let x = blobs(600, 4, 5, 9);
        let p = params(5);
        let single = p.fit(&x).expect("valid test input");
        let mut rng = SeededRng::new(3);
        for trial in 0..6 {
            let parts = chunks(&x, 1 + trial, trial * 13);
            let mut partials: Vec<KMeansPartial> = parts
                .iter()
                .map(|c| {
                    let mut s = KMeansPartial::new(&p);
                    s.update(c).expect("valid test input");
                    s
                })
                .collect();
            // Merge in a random order, through a byte round trip.
            let mut acc = KMeansPartial::new(&p);
            while !partials.is_empty() {
                let s = partials.swap_remove(rng.gen_range(partials.len()));
                let s =
                    KMeansPartial::from_bytes(&s.to_bytes()).expect("valid test input");
                acc.merge(&s).expect("valid test input");
            }
            assert!(acc.is_exact());
            assert_eq!(
                acc.finish().expect("valid test input"),
                single,
                "trial {trial}"
            );
        }
    }

    #[test]
    fn compressed_summaries_stay_close_to_the_exact_fit() {
        let x = blobs(6000, 3, 6, 21);
        let exact = params(6).fit(&x).expect("valid test input");
        // A small budget forces compression in each of the eight partitions.
        let p = KMeansParams::default()
            .k(6)
            .n_init(3)
            .max_summary_values(1500)
            .coreset_size(200)
            .check()
            .expect("valid test input");
        let mut acc = KMeansPartial::new(&p);
        for c in chunks(&x, 8, 5).iter().rev() {
            let mut s = KMeansPartial::new(&p);
            s.update(c).expect("valid test input");
            assert!(!s.is_exact());
            acc.merge(&s).expect("valid test input");
        }
        assert!(acc.n_points() <= 1500 / 3);
        assert_eq!(acc.n_rows(), 6000);
        let approx = acc.finish().expect("valid test input");
        let rel = (approx.inertia() - exact.inertia()).abs() / exact.inertia();
        assert!(
            rel < 0.01,
            "exact {} approx {}",
            exact.inertia(),
            approx.inertia()
        );
        // The reported inertia matches the model's true inertia on the rows.
        let true_inertia: f64 = approx
            .distance(&x)
            .expect("valid test input")
            .iter()
            .map(|d| d * d)
            .sum();
        let rel = (approx.inertia() - true_inertia).abs() / true_inertia;
        assert!(
            rel < 0.01,
            "reported {} true {true_inertia}",
            approx.inertia()
        );
        assert_eq!(approx.cluster_sizes().iter().sum::<u64>(), 6000);
    }

    #[test]
    fn partial_bytes_round_trip() {
        let mut s = KMeansPartial::new(&params(2));
        assert_eq!(
            KMeansPartial::from_bytes(&s.to_bytes())
                .expect("valid test input")
                .to_bytes(),
            s.to_bytes()
        );
        s.update(&blobs(50, 2, 2, 1)).expect("valid test input");
        let back = KMeansPartial::from_bytes(&s.to_bytes()).expect("valid test input");
        assert_eq!(back.to_bytes(), s.to_bytes());
        assert_eq!(
            back.finish().expect("valid test input"),
            s.finish().expect("valid test input")
        );
    }

    #[test]
    fn corrupted_partial_bytes_are_errors_not_panics() {
        let mut s = KMeansPartial::new(&params(2));
        s.update(&blobs(20, 2, 2, 4)).expect("valid test input");
        let bytes = s.to_bytes();
        let mut rng = SeededRng::new(99);
        let mut decoded = 0;
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
            if let Ok(p) = KMeansPartial::from_bytes(&b) {
                decoded += 1;
                // Whatever decodes must be usable without panicking.
                let _ = p.finish();
            }
        }
        assert!(decoded < 2000);
    }
}
