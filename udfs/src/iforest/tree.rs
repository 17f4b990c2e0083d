//! Growing isolation trees (Liu, Ting and Zhou, 2008) into flat node arrays.
//!
//! Each tree draws `psi = min(sample_size, rows)` rows without replacement from the
//! pool (rows weighted by multiplicity) with its own seeded stream, then splits
//! recursively on a random feature at a uniform threshold between that feature's
//! minimum and maximum in the node, until one row is left, all rows are equal, or the
//! depth limit is reached. A feature that is constant in the node is skipped for
//! another one, as scikit-learn does.
//!
//! Nodes of all trees live in one set of parallel arrays. Leaves point to
//! themselves, so scoring can walk every tree a fixed number of steps (its depth)
//! with no data-dependent loop exit; a leaf's `value` is its depth plus the expected
//! path length `c(size)` of the rows that reached it.

use std::collections::HashSet;

use super::IsolationForestValidParams;
use super::average_path_length;
use crate::matrix::{FeatureMatrix, SeededRng, derive_seed};

/// All trees of a forest as struct-of-arrays nodes.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Forest {
    pub n_cols: usize,
    /// Rows each tree was grown from; scores are normalised by `c(psi)`.
    pub psi: u64,
    /// Root node of each tree.
    pub roots: Vec<u32>,
    /// Depth of each tree: the steps that reach a leaf from its root.
    pub steps: Vec<u8>,
    /// Split feature (0 in leaves).
    pub feature: Vec<u32>,
    /// Split threshold: rows with `x[feature] <= split` go left.
    pub split: Vec<f64>,
    /// Children, two per node: `[left, right]` at `2 i` and `2 i + 1`, so the walk
    /// picks one by index arithmetic instead of a branch.
    pub children: Vec<u32>,
    /// Leaves: depth + `c(size)`. Internal nodes: 0.
    pub value: Vec<f64>,
}

/// Grows `params.n_trees()` trees from the pool (`x`, distinct rows, with
/// multiplicities `counts`; at least 2 rows in all).
pub(super) fn grow_forest(
    params: &IsolationForestValidParams,
    x: &FeatureMatrix,
    counts: &[u64],
) -> Forest {
    let total: u64 = counts.iter().sum();
    let psi = (params.sample_size() as u64).min(total);
    let max_depth = params.depth_limit(psi as usize);
    let mut prefix = Vec::with_capacity(counts.len());
    let mut acc = 0u64;
    for &c in counts {
        acc += c;
        prefix.push(acc);
    }
    let mut forest = Forest {
        n_cols: x.n_cols(),
        psi,
        ..Forest::default()
    };
    let mut sample = Vec::with_capacity(psi as usize);
    let mut taken = HashSet::with_capacity(psi as usize);
    for t in 0..params.n_trees() {
        let mut rng = SeededRng::new(derive_seed(params.seed(), t as u64));
        draw_sample(&prefix, total, psi, &mut rng, &mut taken, &mut sample);
        let mut builder = Builder {
            x,
            max_depth,
            rng,
            features: (0..x.n_cols()).collect(),
            forest: &mut forest,
            deepest: 0,
        };
        let root = builder.grow(&mut sample, 0);
        let deepest = builder.deepest;
        forest.roots.push(root);
        forest.steps.push(deepest as u8);
    }
    forest
}

/// Draws `psi` of the `total` row copies without replacement (Floyd's algorithm),
/// as pool row indices in ascending order.
fn draw_sample(
    prefix: &[u64],
    total: u64,
    psi: u64,
    rng: &mut SeededRng,
    taken: &mut HashSet<u64>,
    sample: &mut Vec<u32>,
) {
    sample.clear();
    let mut copies: Vec<u64> = if psi >= total {
        (0..total).collect()
    } else {
        taken.clear();
        for j in total - psi..total {
            let t = rng.gen_range_u64(j + 1);
            if !taken.insert(t) {
                taken.insert(j);
            }
        }
        taken.iter().copied().collect()
    };
    copies.sort_unstable();
    let mut row = 0;
    for c in copies {
        while prefix[row] <= c {
            row += 1;
        }
        sample.push(row as u32);
    }
}

struct Builder<'a> {
    x: &'a FeatureMatrix,
    max_depth: usize,
    rng: SeededRng,
    features: Vec<usize>,
    forest: &'a mut Forest,
    deepest: usize,
}

impl Builder<'_> {
    fn leaf(&mut self, node: usize, size: usize, depth: usize) -> u32 {
        let f = &mut *self.forest;
        f.value[node] = depth as f64 + average_path_length(size as u64);
        f.children[2 * node] = node as u32;
        f.children[2 * node + 1] = node as u32;
        self.deepest = self.deepest.max(depth);
        node as u32
    }

    /// Grows the subtree of the rows `idx` at `depth`, returning its root.
    fn grow(&mut self, idx: &mut [u32], depth: usize) -> u32 {
        let f = &mut *self.forest;
        let node = f.feature.len();
        f.feature.push(0);
        f.split.push(0.0);
        f.children.extend([0, 0]);
        f.value.push(0.0);
        if idx.len() <= 1 || depth >= self.max_depth {
            return self.leaf(node, idx.len(), depth);
        }
        let Some((feature, split)) = self.pick_split(idx) else {
            return self.leaf(node, idx.len(), depth);
        };
        // Partition in place: rows at or below the threshold first.
        let mut n_left = 0;
        for i in 0..idx.len() {
            if self.x.row(idx[i] as usize)[feature] <= split {
                idx.swap(i, n_left);
                n_left += 1;
            }
        }
        self.forest.feature[node] = feature as u32;
        self.forest.split[node] = split;
        let (lo, hi) = idx.split_at_mut(n_left);
        let left = self.grow(lo, depth + 1);
        let right = self.grow(hi, depth + 1);
        self.forest.children[2 * node] = left;
        self.forest.children[2 * node + 1] = right;
        node as u32
    }

    /// A random non-constant feature and a uniform threshold in `[min, max)`, or
    /// `None` when every feature is constant on these rows.
    fn pick_split(&mut self, idx: &[u32]) -> Option<(usize, f64)> {
        let d = self.features.len();
        for i in 0..d {
            let j = i + self.rng.gen_range(d - i);
            self.features.swap(i, j);
            let feature = self.features[i];
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in idx {
                let v = self.x.row(r as usize)[feature];
                min = min.min(v);
                max = max.max(v);
            }
            if max > min {
                let mut split = min + self.rng.next_f64() * (max - min);
                // Rounding may land on max, which would leave the right side empty.
                if split >= max {
                    split = min;
                }
                return Some((feature, split));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iforest::IsolationForestParams;

    #[test]
    fn sample_without_replacement_respects_multiplicities() {
        // Rows 0, 1, 2 with multiplicities 1, 3, 1000.
        let prefix = [1, 4, 1004];
        let mut rng = SeededRng::new(5);
        let mut taken = HashSet::new();
        let mut sample = Vec::new();
        let mut hits = [0usize; 3];
        for _ in 0..200 {
            draw_sample(&prefix, 1004, 10, &mut rng, &mut taken, &mut sample);
            assert_eq!(sample.len(), 10);
            assert!(sample.windows(2).all(|w| w[0] <= w[1]));
            for &s in &sample {
                hits[s as usize] += 1;
            }
        }
        assert!(sample.iter().filter(|&&s| s == 1).count() <= 3);
        assert!(hits[2] > hits[1] * 50, "{hits:?}");
        draw_sample(&prefix, 1004, 1004, &mut rng, &mut taken, &mut sample);
        assert_eq!(sample.len(), 1004);
    }

    #[test]
    fn trees_isolate_and_stay_within_the_depth_limit() {
        let x =
            FeatureMatrix::from_rows(&[[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [9.0, 1.0]])
                .expect("valid test input");
        let params = IsolationForestParams::default()
            .n_trees(5)
            .check()
            .expect("valid test input");
        let forest = grow_forest(&params, &x, &[1, 1, 1, 1]);
        assert_eq!(forest.psi, 4);
        assert_eq!(forest.roots.len(), 5);
        assert!(forest.steps.iter().all(|&s| (1..=2).contains(&s)));
        // Feature 1 is constant, so every split is on feature 0.
        for (i, &f) in forest.feature.iter().enumerate() {
            if forest.children[2 * i] != i as u32 {
                assert_eq!(f, 0);
            }
        }
    }

    #[test]
    fn identical_rows_make_a_single_leaf() {
        let x = FeatureMatrix::from_rows(&[[3.0]]).expect("valid test input");
        let params = IsolationForestParams::default()
            .n_trees(2)
            .check()
            .expect("valid test input");
        let forest = grow_forest(&params, &x, &[5]);
        assert_eq!(forest.feature.len(), 2);
        assert_eq!(forest.steps, vec![0, 0]);
        assert_eq!(forest.value[0], average_path_length(5));
    }
}
