//! The fitted isolation forest: batch scoring over flat node arrays, the
//! contamination threshold, and the model payload.

use super::IsolationForestError;
use super::average_path_length;
use super::tree::Forest;
use crate::matrix::{ByteReader, ByteWriter, DecodeError, FeatureMatrix, invalid};

/// Version byte of the [`IsolationForestModel::to_bytes`] payload.
const MODEL_VERSION: u8 = 1;
/// Rows scored together, so a tree's nodes stay in cache across the block.
const ROW_BLOCK: usize = 256;
/// Rows walked down a tree in lock step, to overlap their memory loads.
const LANES: usize = 8;

/// A fitted isolation forest. Immutable; scores whole batches.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestModel {
    forest: Forest,
    n_rows: u64,
    contamination: Option<f64>,
    threshold: Option<f64>,
}

impl IsolationForestModel {
    /// Validates a forest so that scoring can never index out of bounds.
    pub(super) fn from_forest(
        forest: Forest,
        n_rows: u64,
    ) -> Result<Self, IsolationForestError> {
        validate(&forest)?;
        Ok(Self {
            forest,
            n_rows,
            contamination: None,
            threshold: None,
        })
    }

    pub(super) fn set_threshold(&mut self, contamination: f64, threshold: f64) {
        self.contamination = Some(contamination);
        self.threshold = Some(threshold);
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.forest.roots.len()
    }

    /// Number of features per row.
    pub fn n_cols(&self) -> usize {
        self.forest.n_cols
    }

    /// Rows each tree was grown from (`min(sample_size, training rows)`).
    pub fn sample_size(&self) -> u64 {
        self.forest.psi
    }

    /// Number of training rows.
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// The contamination the threshold was set for, if any.
    pub fn contamination(&self) -> Option<f64> {
        self.contamination
    }

    /// Score threshold: rows scoring strictly above it are anomalies (the
    /// `1 - contamination` quantile of the training scores, as scikit-learn's
    /// `predict`). `None` when fitted without contamination.
    pub fn threshold(&self) -> Option<f64> {
        self.threshold
    }

    /// The anomaly score of each row, `s = 2^(-E[h(x)] / c(psi))` in `(0, 1]`:
    /// near 1 for anomalies, at most about 0.5 for ordinary rows.
    ///
    /// # Errors
    ///
    /// [`IsolationForestError::DimensionMismatch`] when `x` has the wrong number of
    /// columns.
    pub fn score(&self, x: &FeatureMatrix) -> Result<Vec<f64>, IsolationForestError> {
        let d = self.n_cols();
        if x.is_empty() {
            return Ok(Vec::new());
        }
        if x.n_cols() != d {
            return Err(IsolationForestError::DimensionMismatch {
                expected: d,
                got: x.n_cols(),
            });
        }
        let f = &self.forest;
        let mut sums = vec![0.0; x.n_rows()];
        for (rows, acc) in x
            .as_slice()
            .chunks(ROW_BLOCK * d)
            .zip(sums.chunks_mut(ROW_BLOCK))
        {
            for (&root, &steps) in f.roots.iter().zip(&f.steps) {
                walk_block(f, rows, d, root as usize, steps as usize, acc);
            }
        }
        let scale = -1.0 / (self.n_trees() as f64 * average_path_length(f.psi));
        Ok(sums.into_iter().map(|s| (s * scale).exp2()).collect())
    }

    /// Encodes the model as a little-endian payload with a version byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let f = &self.forest;
        let n_nodes = f.feature.len();
        let mut w = ByteWriter::with_capacity(64 + f.roots.len() * 5 + n_nodes * 28);
        w.u8(MODEL_VERSION);
        w.u64(f.n_cols as u64);
        w.u64(f.psi);
        w.u64(self.n_rows);
        w.opt_f64(self.contamination);
        w.opt_f64(self.threshold);
        w.u64(f.roots.len() as u64);
        for (&root, &steps) in f.roots.iter().zip(&f.steps) {
            w.u32(root);
            w.u8(steps);
        }
        w.u64(n_nodes as u64);
        for i in 0..n_nodes {
            w.u32(f.feature[i]);
            w.f64(f.split[i]);
            w.u32(f.children[2 * i]);
            w.u32(f.children[2 * i + 1]);
            w.f64(f.value[i]);
        }
        w.into_inner()
    }

    /// Decodes a payload written by [`IsolationForestModel::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`IsolationForestError::Decode`] for truncated, corrupted or inconsistent
    /// input; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IsolationForestError> {
        let mut r = ByteReader::new(bytes);
        r.version(MODEL_VERSION)?;
        let n_cols = r.usize("column count")?;
        let psi = r.u64()?;
        let n_rows = r.u64()?;
        let contamination = r.opt_f64("contamination")?;
        let threshold = r.opt_f64("threshold")?;
        if contamination.is_some() != threshold.is_some() {
            return Err(invalid("threshold (set without contamination)").into());
        }
        let n_trees = r.count(5, "tree count")?;
        let mut roots = Vec::with_capacity(n_trees);
        let mut steps = Vec::with_capacity(n_trees);
        for _ in 0..n_trees {
            roots.push(r.u32()?);
            steps.push(r.u8()?);
        }
        let n_nodes = r.count(28, "node count")?;
        let mut forest = Forest {
            n_cols,
            psi,
            roots,
            steps,
            feature: Vec::with_capacity(n_nodes),
            split: Vec::with_capacity(n_nodes),
            children: Vec::with_capacity(2 * n_nodes),
            value: Vec::with_capacity(n_nodes),
        };
        for _ in 0..n_nodes {
            forest.feature.push(r.u32()?);
            forest.split.push(r.f64()?);
            forest.children.push(r.u32()?);
            forest.children.push(r.u32()?);
            forest.value.push(r.f64()?);
        }
        r.finish()?;
        let mut model = Self::from_forest(forest, n_rows)?;
        model.contamination = contamination;
        model.threshold = threshold;
        Ok(model)
    }
}

/// Adds each row's path length in one tree to `acc`. `rows` holds `acc.len()` rows.
///
/// Leaves point to themselves, so every row takes exactly `steps` steps, and the
/// child is chosen by index arithmetic: no data-dependent branches.
fn walk_block(
    f: &Forest,
    rows: &[f64],
    d: usize,
    root: usize,
    steps: usize,
    acc: &mut [f64],
) {
    let mut lanes = rows.chunks_exact(LANES * d);
    let mut acc_lanes = acc.chunks_exact_mut(LANES);
    for (block, out) in (&mut lanes).zip(&mut acc_lanes) {
        let mut node = [root; LANES];
        for _ in 0..steps {
            for (l, n) in node.iter_mut().enumerate() {
                let i = *n;
                let v = block[l * d + f.feature[i] as usize];
                *n = f.children[2 * i + usize::from(v > f.split[i])] as usize;
            }
        }
        for (o, &n) in out.iter_mut().zip(&node) {
            *o += f.value[n];
        }
    }
    for (row, o) in lanes
        .remainder()
        .chunks_exact(d)
        .zip(acc_lanes.into_remainder())
    {
        let mut i = root;
        for _ in 0..steps {
            let v = row[f.feature[i] as usize];
            i = f.children[2 * i + usize::from(v > f.split[i])] as usize;
        }
        *o += f.value[i];
    }
}

/// Checks every index and value a forest's scoring relies on.
fn validate(f: &Forest) -> Result<(), DecodeError> {
    let n = f.feature.len();
    if f.n_cols == 0 {
        return Err(invalid("column count (0)"));
    }
    if f.psi < 2 {
        return Err(invalid(format!("sample size ({})", f.psi)));
    }
    if f.roots.is_empty() || f.roots.len() != f.steps.len() {
        return Err(invalid("tree count (0)"));
    }
    if [
        f.split.len(),
        f.children.len() / 2,
        f.children.len() % 2,
        f.value.len(),
    ] != [n, n, 0, n]
    {
        return Err(invalid("node arrays (lengths differ)"));
    }
    if n > u32::MAX as usize {
        return Err(invalid(format!("node count ({n})")));
    }
    for (&root, &steps) in f.roots.iter().zip(&f.steps) {
        if root as usize >= n || usize::from(steps) > super::MAX_DEPTH_LIMIT {
            return Err(invalid(format!("tree (root {root}, depth {steps})")));
        }
    }
    for i in 0..n {
        let ok = (f.feature[i] as usize) < f.n_cols
            && (f.children[2 * i] as usize) < n
            && (f.children[2 * i + 1] as usize) < n
            && !f.split[i].is_nan()
            && f.value[i].is_finite()
            && f.value[i] >= 0.0;
        if !ok {
            return Err(invalid(format!("node {i}")));
        }
    }
    Ok(())
}

/// The `q` quantile (linear interpolation, as numpy's default) of `values` where
/// value `i` occurs `counts[i]` times. `values` must be non-empty.
pub(super) fn weighted_quantile(values: &[f64], counts: &[u64], q: f64) -> f64 {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return f64::NAN;
    }
    let h = q.clamp(0.0, 1.0) * (total - 1) as f64;
    let lo = h.floor() as u64;
    let hi = (lo + 1).min(total - 1);
    let at = |pos: u64| {
        let mut seen = 0;
        for &i in &order {
            seen += counts[i];
            if seen > pos {
                return values[i];
            }
        }
        values[order[order.len() - 1]]
    };
    let (a, b) = (at(lo), at(hi));
    a + (h - lo as f64) * (b - a)
}

/// The score threshold that flags the top `contamination` share of `scores`: their
/// `1 - contamination` quantile (linear interpolation). Rows scoring strictly above
/// it are anomalies, as in scikit-learn.
///
/// # Errors
///
/// [`IsolationForestError::Empty`] with no scores,
/// [`IsolationForestError::InvalidContamination`] outside `(0, 0.5]`, and
/// [`IsolationForestError::NonFiniteScore`] for NaN or infinite scores.
pub fn threshold_for_contamination(
    scores: &[f64],
    contamination: f64,
) -> Result<f64, IsolationForestError> {
    if !(contamination > 0.0 && contamination <= 0.5) {
        return Err(IsolationForestError::InvalidContamination { contamination });
    }
    if scores.is_empty() {
        return Err(IsolationForestError::Empty);
    }
    if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
        return Err(IsolationForestError::NonFiniteScore { row });
    }
    Ok(weighted_quantile(
        scores,
        &vec![1; scores.len()],
        1.0 - contamination,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iforest::IsolationForestParams;
    use crate::matrix::SeededRng;

    fn model() -> IsolationForestModel {
        let mut rng = SeededRng::new(4);
        let rows: Vec<[f64; 2]> = (0..100)
            .map(|_| [rng.next_f64(), rng.next_f64() * 3.0])
            .collect();
        IsolationForestParams::default()
            .n_trees(10)
            .sample_size(64)
            .check()
            .expect("valid test input")
            .fit(&FeatureMatrix::from_rows(&rows).expect("valid test input"))
            .expect("valid test input")
    }

    #[test]
    fn block_and_lane_remainders_score_like_single_rows() {
        let m = model();
        let mut rng = SeededRng::new(9);
        let x = FeatureMatrix::new(
            ROW_BLOCK + LANES + 3,
            2,
            (0..(ROW_BLOCK + LANES + 3) * 2)
                .map(|_| rng.next_f64() * 2.0)
                .collect(),
        )
        .expect("valid test input");
        let batch = m.score(&x).expect("valid test input");
        for (i, &s) in batch.iter().enumerate() {
            let one =
                FeatureMatrix::new(1, 2, x.row(i).to_vec()).expect("valid test input");
            assert_eq!(m.score(&one).expect("valid test input"), vec![s]);
        }
    }

    #[test]
    fn wrong_column_count_is_an_error() {
        let x = FeatureMatrix::from_rows(&[[1.0, 2.0, 3.0]]).expect("valid test input");
        assert_eq!(
            model().score(&x).expect_err("must be rejected").to_string(),
            "matrix has 3 columns, the model expects 2"
        );
        assert!(
            model()
                .score(&FeatureMatrix::empty(0))
                .expect("valid test input")
                .is_empty()
        );
    }

    #[test]
    fn threshold_matches_numpy_percentile() {
        // numpy.percentile([1, 2, 3, 4, 10], 95) == 8.8
        let t = threshold_for_contamination(&[4.0, 1.0, 10.0, 3.0, 2.0], 0.05)
            .expect("valid test input");
        assert!((t - 8.8).abs() < 1e-12);
        assert_eq!(
            threshold_for_contamination(&[0.3], 0.5).expect("valid test input"),
            0.3
        );
        assert!(matches!(
            threshold_for_contamination(&[], 0.1),
            Err(IsolationForestError::Empty)
        ));
        assert!(matches!(
            threshold_for_contamination(&[0.1], 0.0),
            Err(IsolationForestError::InvalidContamination { .. })
        ));
        assert!(matches!(
            threshold_for_contamination(&[0.1, f64::NAN], 0.1),
            Err(IsolationForestError::NonFiniteScore { row: 1 })
        ));
        // Multiplicities count as repeated values.
        let w = weighted_quantile(&[1.0, 2.0], &[3, 1], 0.5);
        assert_eq!(w, 1.0);
    }

    #[test]
    fn model_bytes_round_trip() {
        let m = model();
        let back =
            IsolationForestModel::from_bytes(&m.to_bytes()).expect("valid test input");
        assert_eq!(back, m);
        assert_eq!(back.threshold(), m.threshold());
    }

    #[test]
    fn corrupted_model_bytes_are_errors_not_panics() {
        let bytes = model().to_bytes();
        let x = FeatureMatrix::from_rows(&[[0.5, 0.5], [3.0, -1.0]])
            .expect("valid test input");
        let mut rng = SeededRng::new(23);
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
            if let Ok(m) = IsolationForestModel::from_bytes(&b)
                && m.n_cols() == 2
            {
                // Whatever decodes scores without panicking.
                assert_eq!(m.score(&x).expect("valid test input").len(), 2);
            }
        }
    }
}
