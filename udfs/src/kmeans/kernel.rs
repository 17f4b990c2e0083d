//! Nearest-centroid search over whole batches, shared by scoring and training.
//!
//! The nearest centroid minimises `||c||² − 2 x·c` (the row norm is the same for every
//! centroid), so the search costs one multiply-add per centroid and feature, with the
//! centroid norms precomputed. Two layouts keep the inner loops vectorisable without
//! allocation per row:
//!
//! - few features: centroids are packed in blocks of [`LANES`] with the features
//!   outer and the block lanes inner, so each feature of a row updates [`LANES`]
//!   partial sums at once;
//! - many features: one dot product per centroid with eight independent
//!   accumulators.
//!
//! The exact distance to the chosen centroid is computed afterwards from the
//! differences, so reported distances do not suffer from the cancellation in the
//! norm expansion.
//!
//! The few-features loop is compiled twice: for the baseline x86-64 instruction set and
//! for AVX2 with FMA, chosen at run time ([`crate::cpu::has_avx2_fma`]). A block of
//! [`LANES`] partial sums fills two AVX2 registers, which doubles the rows per second
//! of the k = 50, five-feature C2 model over the baseline build.

/// Centroids per block in the few-features layout.
const LANES: usize = 8;
/// From this many features on, the dot-product layout is used.
const MANY_FEATURES: usize = 16;

/// Precomputed layouts of a set of centroids for fast nearest-centroid search.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NearestCentroid {
    k: usize,
    d: usize,
    /// `k × d`, row-major.
    centroids: Vec<f64>,
    /// `||c||²` per centroid, padded with `+inf` to a whole number of blocks.
    norms: Vec<f64>,
    /// Few features: `-2 c` as `[block][feature][lane]`. Empty otherwise.
    blocks: Vec<f64>,
}

impl NearestCentroid {
    /// Builds the search tables for `k` centroids of `d` features (`centroids` is
    /// `k × d`, row-major, with `k, d >= 1`).
    pub(crate) fn new(centroids: &[f64], d: usize) -> Self {
        let k = centroids.len().checked_div(d).unwrap_or(0);
        let n_blocks = k.div_ceil(LANES);
        let mut norms = vec![f64::INFINITY; n_blocks * LANES];
        for (c, norm) in centroids.chunks_exact(d.max(1)).zip(norms.iter_mut()) {
            *norm = c.iter().map(|v| v * v).sum();
        }
        let mut blocks = Vec::new();
        if d < MANY_FEATURES {
            blocks = vec![0.0; n_blocks * d * LANES];
            for (c, row) in centroids.chunks_exact(d.max(1)).enumerate() {
                let (b, lane) = (c / LANES, c % LANES);
                for (j, v) in row.iter().enumerate() {
                    blocks[(b * d + j) * LANES + lane] = -2.0 * v;
                }
            }
        }
        Self {
            k,
            d,
            centroids: centroids.to_vec(),
            norms,
            blocks,
        }
    }

    /// Centroid `c`.
    pub(crate) fn centroid(&self, c: usize) -> &[f64] {
        &self.centroids[c * self.d..(c + 1) * self.d]
    }

    /// Writes the index of the nearest centroid of each row of `x` (`n × d`,
    /// row-major) into `labels` (length `n`). Ties go to the lowest index.
    pub(crate) fn nearest(&self, x: &[f64], labels: &mut [u32]) {
        if self.d >= MANY_FEATURES {
            for (row, label) in x.chunks_exact(self.d).zip(labels.iter_mut()) {
                *label = self.nearest_many_features(row).0;
            }
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            #[allow(unsafe_code)]
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            unsafe {
                self.nearest_few_avx2(x, labels);
            }
            return;
        }
        self.nearest_few_any(x, labels);
    }

    /// [`NearestCentroid::nearest_few_any`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn nearest_few_avx2(&self, x: &[f64], labels: &mut [u32]) {
        self.nearest_few_any(x, labels);
    }

    /// One monomorphised loop per small width, so the feature loop is unrolled.
    #[inline(always)]
    fn nearest_few_any(&self, x: &[f64], labels: &mut [u32]) {
        match self.d {
            1 => self.nearest_few::<1>(x, labels),
            2 => self.nearest_few::<2>(x, labels),
            3 => self.nearest_few::<3>(x, labels),
            4 => self.nearest_few::<4>(x, labels),
            5 => self.nearest_few::<5>(x, labels),
            6 => self.nearest_few::<6>(x, labels),
            7 => self.nearest_few::<7>(x, labels),
            8 => self.nearest_few::<8>(x, labels),
            9 => self.nearest_few::<9>(x, labels),
            10 => self.nearest_few::<10>(x, labels),
            11 => self.nearest_few::<11>(x, labels),
            12 => self.nearest_few::<12>(x, labels),
            13 => self.nearest_few::<13>(x, labels),
            14 => self.nearest_few::<14>(x, labels),
            // 15: wider rows take the dot-product layout (`nearest` checks).
            _ => self.nearest_few::<15>(x, labels),
        }
    }

    #[inline(always)]
    fn nearest_few<const D: usize>(&self, x: &[f64], labels: &mut [u32]) {
        // The centroid index is packed into the low mantissa bits of each value, so
        // one vector minimum tracks value and index together. This perturbs values by
        // at most 2^index_bits ulps, which only reorders near-ties.
        let bits = usize::BITS - (self.norms.len().max(2) - 1).leading_zeros();
        let mask = (1u64 << bits) - 1;
        for (row, label) in x.chunks_exact(D).zip(labels.iter_mut()) {
            let mut best = [f64::INFINITY; LANES];
            let blocks = self.blocks.chunks_exact(D * LANES);
            for (b, (block, norms)) in
                blocks.zip(self.norms.chunks_exact(LANES)).enumerate()
            {
                let mut acc = [0.0; LANES];
                acc.copy_from_slice(norms);
                for (lanes, &xj) in block.chunks_exact(LANES).zip(row) {
                    for l in 0..LANES {
                        acc[l] += xj * lanes[l];
                    }
                }
                let base = (b * LANES) as u64;
                for l in 0..LANES {
                    let packed =
                        f64::from_bits((acc[l].to_bits() & !mask) | (base + l as u64));
                    best[l] = if packed < best[l] { packed } else { best[l] };
                }
            }
            *label = min_label(&best, mask);
        }
    }

    /// Nearest centroid of one wide row, with `||c||² − 2 x·c` for it and `||x||²`.
    /// Centroids go four at a time, so the row is read once per four.
    fn nearest_many_features(&self, row: &[f64]) -> (u32, f64, f64) {
        let d = self.d;
        let mut best = f64::INFINITY;
        let mut best_i = 0u32;
        let mut x_norm = None;
        let groups = self.centroids.chunks_exact(4 * d);
        let rest = groups.remainder();
        for (g, (group, norms)) in groups.zip(self.norms.chunks_exact(4)).enumerate() {
            let (dots, xx) = dot4(row, group, d);
            x_norm.get_or_insert(xx);
            for q in 0..4 {
                let v = norms[q] - 2.0 * dots[q];
                if v < best {
                    best = v;
                    best_i = (4 * g + q) as u32;
                }
            }
        }
        let first_rest = self.k - rest.len() / d;
        for (q, centroid) in rest.chunks_exact(d).enumerate() {
            let c = first_rest + q;
            let v = self.norms[c] - 2.0 * dot(row, centroid);
            if v < best {
                best = v;
                best_i = c as u32;
            }
        }
        let x_norm = x_norm.unwrap_or_else(|| dot(row, row));
        (best_i, best, x_norm)
    }

    /// As [`NearestCentroid::nearest`], also writing the squared distance of each row
    /// to its centroid into `sq`.
    pub(crate) fn nearest_with_sq_dist(
        &self,
        x: &[f64],
        labels: &mut [u32],
        sq: &mut [f64],
    ) {
        let d = self.d.max(1);
        if self.d < MANY_FEATURES {
            self.nearest(x, labels);
            for ((row, &l), out) in
                x.chunks_exact(d).zip(labels.iter()).zip(sq.iter_mut())
            {
                *out = self.sq_dist(row, l as usize);
            }
            return;
        }
        let rows = x.chunks_exact(d).zip(labels.iter_mut()).zip(sq.iter_mut());
        for ((row, label), out) in rows {
            let (c, v, x_norm) = self.nearest_many_features(row);
            *label = c;
            // The expansion loses precision when the distance is tiny next to the
            // norms; recompute those exactly.
            let expanded = x_norm + v;
            *out = if expanded >= 1e-6 * (x_norm + self.norms[c as usize]) {
                expanded
            } else {
                self.sq_dist(row, c as usize)
            };
        }
    }

    /// Exact squared Euclidean distance from `row` to centroid `c`.
    pub(crate) fn sq_dist(&self, row: &[f64], c: usize) -> f64 {
        sq_dist(row, self.centroid(c))
    }
}

/// The index packed into the smallest of the lane minima.
fn min_label(best: &[f64; LANES], mask: u64) -> u32 {
    let mut min = best[0];
    for &v in &best[1..] {
        min = if v < min { v } else { min };
    }
    (min.to_bits() & mask) as u32
}

/// Dot products of `x` with the four centroids in `group` (`4 × d`), and `x·x`.
fn dot4(x: &[f64], group: &[f64], d: usize) -> ([f64; 4], f64) {
    let (c0, r) = group.split_at(d);
    let (c1, r) = r.split_at(d);
    let (c2, c3) = r.split_at(d);
    let mut acc = [[0.0; 4]; 4];
    let mut xx = [0.0; 4];
    let chunks = x
        .chunks_exact(4)
        .zip(c0.chunks_exact(4))
        .zip(c1.chunks_exact(4))
        .zip(c2.chunks_exact(4))
        .zip(c3.chunks_exact(4));
    for ((((xs, a), b), c), e) in chunks {
        for l in 0..4 {
            acc[0][l] += xs[l] * a[l];
            acc[1][l] += xs[l] * b[l];
            acc[2][l] += xs[l] * c[l];
            acc[3][l] += xs[l] * e[l];
            xx[l] += xs[l] * xs[l];
        }
    }
    let tail = x.len() - x.len() % 4;
    let mut out = [0.0; 4];
    for (q, centroid) in [c0, c1, c2, c3].iter().enumerate() {
        let a = &acc[q];
        out[q] = (a[0] + a[2]) + (a[1] + a[3]) + dot(&x[tail..], &centroid[tail..]);
    }
    let xx = (xx[0] + xx[2]) + (xx[1] + xx[3]) + dot(&x[tail..], &x[tail..]);
    (out, xx)
}

/// Dot product with eight independent accumulators, so it vectorises.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5]))
        + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
        + tail
}

/// Squared Euclidean distance with eight independent accumulators.
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        let t = x - y;
        tail += t * t;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5]))
        + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
        + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::SeededRng;

    fn brute(x: &[f64], centroids: &[f64], d: usize) -> u32 {
        let mut best = (f64::INFINITY, 0);
        for (c, cen) in centroids.chunks_exact(d).enumerate() {
            let v = sq_dist(x, cen);
            if v < best.0 {
                best = (v, c as u32);
            }
        }
        best.1
    }

    #[test]
    fn both_layouts_agree_with_brute_force() {
        let mut rng = SeededRng::new(7);
        for (k, d) in [
            (1, 1),
            (3, 2),
            (5, 5),
            (50, 5),
            (4, 16),
            (7, 33),
            (9, 61),
            (4, 200),
        ] {
            let centroids: Vec<f64> = (0..k * d).map(|_| rng.next_f64() * 10.0).collect();
            let x: Vec<f64> = (0..100 * d).map(|_| rng.next_f64() * 10.0).collect();
            let nc = NearestCentroid::new(&centroids, d);
            assert_eq!(nc.k, k);
            let mut labels = vec![0; 100];
            nc.nearest(&x, &mut labels);
            for (row, &l) in x.chunks_exact(d).zip(&labels) {
                let b = brute(row, &centroids, d) as usize;
                // Allow near-ties, which the norm expansion may order differently.
                let diff = nc.sq_dist(row, l as usize) - nc.sq_dist(row, b);
                assert!(diff.abs() < 1e-9, "k={k} d={d}");
            }
        }
    }

    #[test]
    fn squared_distances_match_the_exact_formula() {
        let mut rng = SeededRng::new(3);
        for (k, d) in [(3, 4), (6, 40), (4, 2002)] {
            let centroids: Vec<f64> = (0..k * d).map(|_| rng.next_f64()).collect();
            let mut x: Vec<f64> = (0..20 * d).map(|_| rng.next_f64()).collect();
            // A row on a centroid: the expansion would cancel, so it is recomputed.
            x[..d].copy_from_slice(&centroids[d..2 * d]);
            let nc = NearestCentroid::new(&centroids, d);
            let (mut labels, mut sq) = (vec![0; 20], vec![0.0; 20]);
            nc.nearest_with_sq_dist(&x, &mut labels, &mut sq);
            assert_eq!(labels[0], 1);
            assert_eq!(sq[0], 0.0);
            for ((row, &l), &s) in x.chunks_exact(d).zip(&labels).zip(&sq) {
                let exact = nc.sq_dist(row, l as usize);
                assert!((s - exact).abs() <= 1e-9 * exact.max(1.0), "k={k} d={d}");
            }
        }
    }

    #[test]
    fn baseline_and_runtime_selected_kernels_agree() {
        // On an AVX2 machine `nearest` runs the AVX2 build; both must give the same
        // labels, since neither contracts multiply-adds.
        let mut rng = SeededRng::new(11);
        for (k, d) in [(50, 5), (1, 1), (9, 15), (17, 7), (8, 3)] {
            let centroids: Vec<f64> = (0..k * d).map(|_| rng.next_f64() * 4.0).collect();
            let x: Vec<f64> = (0..1000 * d).map(|_| rng.next_f64() * 4.0).collect();
            let nc = NearestCentroid::new(&centroids, d);
            let (mut dispatched, mut baseline) = (vec![0; 1000], vec![0; 1000]);
            nc.nearest(&x, &mut dispatched);
            nc.nearest_few_any(&x, &mut baseline);
            assert_eq!(dispatched, baseline, "k={k} d={d}");
        }
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        let nc = NearestCentroid::new(&[1.0, 1.0, -1.0, 1.0, 1.0], 1);
        let mut labels = [9];
        nc.nearest(&[0.0], &mut labels);
        assert_eq!(labels, [0]);
    }
}
