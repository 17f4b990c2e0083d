//! Weighted k-means on a summary: greedy k-means++ seeding, Lloyd iterations, and the
//! D² clustering that compresses a partial state into a coreset.
//!
//! Every routine takes points with integer-valued weights (row multiplicities), so the
//! same code trains on raw rows and on compressed summaries. The steps follow
//! scikit-learn's `KMeans(algorithm="lloyd")`: greedy k-means++ with
//! `2 + ln k` candidates per centre, a tolerance relative to the mean feature
//! variance, empty clusters moved to the farthest points, and a final assignment
//! step so that labels match the returned centroids.

use super::kernel::{NearestCentroid, sq_dist};
use crate::matrix::SeededRng;

/// Weighted points: `data` is `n × d` row-major, one weight per row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Points<'a> {
    pub data: &'a [f64],
    pub weights: &'a [f64],
    pub d: usize,
}

impl Points<'_> {
    pub fn n(&self) -> usize {
        self.weights.len()
    }
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
    fn rows(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.d)
    }

    /// Mean over features of the weighted per-feature variance.
    pub fn mean_variance(&self) -> f64 {
        let total: f64 = self.weights.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        let mut mean = vec![0.0; self.d];
        for (row, &w) in self.rows().zip(self.weights) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += w * v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= total);
        let mut var = 0.0;
        for (row, &w) in self.rows().zip(self.weights) {
            var += w * sq_dist(row, &mean);
        }
        var / total / self.d as f64
    }
}

/// A fitted clustering of some points.
#[derive(Debug, Clone)]
pub(super) struct Clustering {
    /// `k × d`, row-major.
    pub centroids: Vec<f64>,
    pub labels: Vec<u32>,
    /// Weighted sum of squared distances to the assigned centroids.
    pub inertia: f64,
    pub n_iter: usize,
}

/// Index of the first prefix sum above `r`, clamped into range.
fn pick(prefix: &[f64], r: f64) -> usize {
    prefix
        .partition_point(|&p| p <= r)
        .min(prefix.len().saturating_sub(1))
}

fn prefix_sums(values: impl Iterator<Item = f64>, out: &mut Vec<f64>) -> f64 {
    out.clear();
    let mut acc = 0.0;
    for v in values {
        acc += v;
        out.push(acc);
    }
    acc
}

/// Greedy weighted k-means++: the first centre is drawn by weight, each further one
/// is the best of `2 + ln k` candidates drawn by weight × squared distance. Stops
/// early (fewer than `k` centres) only if every point already coincides with a
/// centre.
pub(super) fn kmeans_plus_plus(p: Points<'_>, k: usize, rng: &mut SeededRng) -> Vec<f64> {
    let n = p.n();
    let mut prefix = Vec::with_capacity(n);
    let total = prefix_sums(p.weights.iter().copied(), &mut prefix);
    let first = pick(&prefix, rng.next_f64() * total);
    let mut centres = p.row(first).to_vec();
    let mut closest: Vec<f64> = p.rows().map(|r| sq_dist(r, p.row(first))).collect();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut candidate = vec![0.0; n];
    let mut best_dist = vec![0.0; n];
    for _ in 1..k {
        let pot = prefix_sums(
            closest.iter().zip(p.weights).map(|(c, w)| c * w),
            &mut prefix,
        );
        if pot <= 0.0 {
            break;
        }
        let mut best: Option<(f64, usize)> = None;
        for _ in 0..trials {
            let idx = pick(&prefix, rng.next_f64() * pot);
            let cand = p.row(idx);
            let mut cand_pot = 0.0;
            for ((row, old), (new, w)) in p
                .rows()
                .zip(&closest)
                .zip(candidate.iter_mut().zip(p.weights))
            {
                *new = old.min(sq_dist(row, cand));
                cand_pot += w * *new;
            }
            if best.is_none_or(|(b, _)| cand_pot < b) {
                best = Some((cand_pot, idx));
                std::mem::swap(&mut best_dist, &mut candidate);
            }
        }
        if let Some((_, idx)) = best {
            centres.extend_from_slice(p.row(idx));
            std::mem::swap(&mut closest, &mut best_dist);
        }
    }
    centres
}

/// Weighted Lloyd iterations from `init` (`k × d`) until the labels stop changing,
/// the squared centroid movement falls to `tol_abs`, or `max_iter` iterations.
pub(super) fn lloyd(
    p: Points<'_>,
    init: Vec<f64>,
    max_iter: usize,
    tol_abs: f64,
) -> Clustering {
    let d = p.d;
    let k = init.len() / d;
    let n = p.n();
    let mut centres = init;
    let mut labels = vec![u32::MAX; n];
    let mut new_labels = vec![0u32; n];
    let mut sums = vec![0.0; k * d];
    let mut weights = vec![0.0; k];
    let mut n_iter = 0;
    let mut converged_strictly = false;
    for iter in 1..=max_iter {
        n_iter = iter;
        let search = NearestCentroid::new(&centres, d);
        search.nearest(p.data, &mut new_labels);
        sums.iter_mut().for_each(|s| *s = 0.0);
        weights.iter_mut().for_each(|w| *w = 0.0);
        for ((row, &w), &l) in p.rows().zip(p.weights).zip(&new_labels) {
            let l = l as usize;
            weights[l] += w;
            for (s, v) in sums[l * d..(l + 1) * d].iter_mut().zip(row) {
                *s += w * v;
            }
        }
        relocate_empty(p, &search, &new_labels, &mut sums, &mut weights);
        let mut shift = 0.0;
        for c in 0..k {
            let new = &mut sums[c * d..(c + 1) * d];
            if weights[c] > 0.0 {
                new.iter_mut().for_each(|v| *v /= weights[c]);
            } else {
                new.copy_from_slice(&centres[c * d..(c + 1) * d]);
            }
            shift += sq_dist(new, &centres[c * d..(c + 1) * d]);
        }
        std::mem::swap(&mut centres, &mut sums);
        if new_labels == labels {
            converged_strictly = true;
            break;
        }
        std::mem::swap(&mut labels, &mut new_labels);
        if shift <= tol_abs {
            break;
        }
    }
    let search = NearestCentroid::new(&centres, d);
    if !converged_strictly {
        search.nearest(p.data, &mut labels);
    } else {
        labels = new_labels;
    }
    let inertia = p
        .rows()
        .zip(p.weights)
        .zip(&labels)
        .map(|((row, w), &l)| w * search.sq_dist(row, l as usize))
        .sum();
    Clustering {
        centroids: centres,
        labels,
        inertia,
        n_iter,
    }
}

/// Moves each empty cluster onto the point farthest from its centroid (as
/// scikit-learn), taking that point's weight from its old cluster.
fn relocate_empty(
    p: Points<'_>,
    search: &NearestCentroid,
    labels: &[u32],
    sums: &mut [f64],
    weights: &mut [f64],
) {
    let d = p.d;
    let empty: Vec<usize> = (0..weights.len()).filter(|&c| weights[c] <= 0.0).collect();
    if empty.is_empty() {
        return;
    }
    let mut far: Vec<(f64, usize)> = p
        .rows()
        .zip(labels)
        .enumerate()
        .map(|(i, (row, &l))| (search.sq_dist(row, l as usize), i))
        .collect();
    // Farthest first; equal distances in index order, for determinism.
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (&c, &(_, i)) in empty.iter().zip(&far) {
        let old = labels[i] as usize;
        let w = p.weights[i];
        if weights[old] <= w {
            // Never empty another cluster: its one point stays.
            continue;
        }
        weights[old] -= w;
        for (s, v) in sums[old * d..(old + 1) * d].iter_mut().zip(p.row(i)) {
            *s -= w * v;
        }
        weights[c] = w;
        for (s, v) in sums[c * d..(c + 1) * d].iter_mut().zip(p.row(i)) {
            *s = w * v;
        }
    }
}

/// Runs `n_init` seeded k-means++ + Lloyd fits and keeps the lowest inertia (the
/// first on ties). Requires at least `k` distinct points.
pub(super) fn fit_points(
    p: Points<'_>,
    k: usize,
    seed: u64,
    n_init: usize,
    max_iter: usize,
    tol: f64,
) -> Clustering {
    let tol_abs = tol * p.mean_variance();
    let mut best: Option<Clustering> = None;
    for run in 0..n_init {
        let mut rng = SeededRng::new(crate::matrix::derive_seed(seed, run as u64));
        let init = kmeans_plus_plus(p, k, &mut rng);
        let fit = lloyd(p, init, max_iter, tol_abs);
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
    }
    best.unwrap_or_else(|| lloyd(p, p.data[..k * p.d].to_vec(), max_iter, tol_abs))
}

/// Plain weighted D² seeding of up to `m` centres, returning for each point the
/// index of its nearest chosen centre and the number of centres chosen. Used to
/// compress a summary: each group becomes one weighted point at its mean.
pub(super) fn d2_groups(
    p: Points<'_>,
    m: usize,
    rng: &mut SeededRng,
) -> (Vec<u32>, usize) {
    let n = p.n();
    let total: f64 = p.weights.iter().sum();
    let first = pick_linear(p.weights.iter().copied(), rng.next_f64() * total, n);
    let mut centre = p.row(first).to_vec();
    let mut closest: Vec<f64> = p.rows().map(|r| sq_dist(r, &centre)).collect();
    let mut group = vec![0u32; n];
    let mut chosen = 1;
    while chosen < m {
        let pot: f64 = closest.iter().zip(p.weights).map(|(c, w)| c * w).sum();
        if pot <= 0.0 {
            break;
        }
        let r = rng.next_f64() * pot;
        let idx = pick_linear(closest.iter().zip(p.weights).map(|(c, w)| c * w), r, n);
        centre.copy_from_slice(p.row(idx));
        for ((row, c), g) in p.rows().zip(closest.iter_mut()).zip(group.iter_mut()) {
            let dist = sq_dist(row, &centre);
            if dist < *c {
                *c = dist;
                *g = chosen as u32;
            }
        }
        chosen += 1;
    }
    (group, chosen)
}

fn pick_linear(values: impl Iterator<Item = f64>, r: f64, n: usize) -> usize {
    let mut acc = 0.0;
    let mut last_positive = 0;
    for (i, v) in values.enumerate() {
        if v > 0.0 {
            last_positive = i;
        }
        acc += v;
        if acc > r {
            return i;
        }
    }
    last_positive.min(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(n_per: usize, centres: &[[f64; 2]], seed: u64) -> Vec<f64> {
        let mut rng = SeededRng::new(seed);
        let mut out = Vec::new();
        for c in centres {
            for _ in 0..n_per {
                out.push(c[0] + rng.next_f64() - 0.5);
                out.push(c[1] + rng.next_f64() - 0.5);
            }
        }
        out
    }

    #[test]
    fn lloyd_finds_separated_blobs() {
        let data = blobs(50, &[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], 1);
        let w = vec![1.0; 150];
        let p = Points {
            data: &data,
            weights: &w,
            d: 2,
        };
        let fit = fit_points(p, 3, 42, 3, 300, 1e-4);
        // Uniform noise of width 1 has variance 1/12 per feature.
        assert!(fit.inertia < 150.0 * 2.0 / 12.0 * 1.3, "{}", fit.inertia);
        assert_eq!(fit.labels[0], fit.labels[49]);
        assert_ne!(fit.labels[0], fit.labels[50]);
    }

    #[test]
    fn weights_act_as_multiplicities() {
        let data = [0.0, 1.0, 10.0];
        let w = [3.0, 1.0, 2.0];
        let expanded = [0.0, 0.0, 0.0, 1.0, 10.0, 10.0];
        let ones = [1.0; 6];
        let a = lloyd(
            Points {
                data: &data,
                weights: &w,
                d: 1,
            },
            vec![0.0, 10.0],
            100,
            0.0,
        );
        let b = lloyd(
            Points {
                data: &expanded,
                weights: &ones,
                d: 1,
            },
            vec![0.0, 10.0],
            100,
            0.0,
        );
        assert_eq!(a.centroids, b.centroids);
        assert!((a.inertia - b.inertia).abs() < 1e-12);
        assert_eq!(a.centroids, vec![0.25, 10.0]);
    }

    #[test]
    fn empty_clusters_are_relocated() {
        let data = [0.0, 1.0, 2.0, 100.0];
        let w = [1.0; 4];
        // Both initial centres far left: one starts empty.
        let fit = lloyd(
            Points {
                data: &data,
                weights: &w,
                d: 1,
            },
            vec![1.0, -50.0],
            100,
            0.0,
        );
        assert!(fit.centroids.contains(&100.0), "{:?}", fit.centroids);
        assert!((fit.inertia - 2.0).abs() < 1e-12);
    }

    #[test]
    fn d2_groups_cover_distinct_points() {
        let data = [0.0, 0.0, 5.0, 9.0];
        let w = [1.0; 4];
        let p = Points {
            data: &data,
            weights: &w,
            d: 1,
        };
        let (groups, m) = d2_groups(p, 10, &mut SeededRng::new(3));
        assert_eq!(m, 3);
        assert_eq!(groups[0], groups[1]);
        assert_ne!(groups[2], groups[3]);
    }
}
