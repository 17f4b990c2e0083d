//! Isolation forest parameters: the unchecked [`IsolationForestParams`] and the
//! checked [`IsolationForestValidParams`], which alone can fit.

use super::{IsolationForestError, IsolationForestModel, IsolationForestPartial};
use crate::matrix::FeatureMatrix;

/// Largest accepted `max_depth`.
pub const MAX_DEPTH_LIMIT: usize = 64;
/// Largest accepted `n_trees * sample_size` (and `pool_size`), so node indices fit
/// in 32 bits and a corrupted value cannot exhaust memory.
pub const MAX_TOTAL_SAMPLES: usize = 1 << 28;

/// Unchecked isolation forest parameters. Build with [`Default`] and the setters,
/// then [`check`](IsolationForestParams::check).
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestParams {
    n_trees: usize,
    sample_size: usize,
    seed: u64,
    contamination: Option<f64>,
    max_depth: Option<usize>,
    pool_size: Option<usize>,
}

impl Default for IsolationForestParams {
    /// `n_trees = 100`, `sample_size = 256`, `seed = 42`,
    /// `contamination = Some(0.05)`, `max_depth = None` (`ceil(log2(sample size))`),
    /// `pool_size = None` (`n_trees * sample_size`).
    fn default() -> Self {
        Self {
            n_trees: 100,
            sample_size: 256,
            seed: 42,
            contamination: Some(0.05),
            max_depth: None,
            pool_size: None,
        }
    }
}

impl IsolationForestParams {
    /// Number of trees. Default 100 (`PROCESS_IF_N_ESTIMATORS`). At least 1.
    pub fn n_trees(mut self, n_trees: usize) -> Self {
        self.n_trees = n_trees;
        self
    }

    /// Rows drawn (without replacement) to grow each tree. Default 256 (as
    /// scikit-learn's `max_samples="auto"`). At least 2. Smaller data sets use all
    /// their rows.
    pub fn sample_size(mut self, sample_size: usize) -> Self {
        self.sample_size = sample_size;
        self
    }

    /// Seed of every random choice. Default 42 (`PROCESS_IF_RANDOM_STATE`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Expected share of anomalies, used only to set the model's score threshold:
    /// the `1 - contamination` quantile of the training scores. Default
    /// `Some(0.05)` (`PROCESS_IF_CONTAMINATION`); `None` sets no threshold. In
    /// `(0, 0.5]`.
    pub fn contamination(mut self, contamination: Option<f64>) -> Self {
        self.contamination = contamination;
        self
    }

    /// Depth limit of each tree. Default `None`: `ceil(log2(sample size))`, as in
    /// Liu et al. and scikit-learn. Between 1 and [`MAX_DEPTH_LIMIT`].
    pub fn max_depth(mut self, max_depth: Option<usize>) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Most distinct rows a partial state keeps as the pool the trees sample from.
    /// Default `None`: `n_trees * sample_size` (25,600), so that with fewer rows every
    /// tree samples from all of them. At least `sample_size`, at most
    /// [`MAX_TOTAL_SAMPLES`].
    pub fn pool_size(mut self, pool_size: Option<usize>) -> Self {
        self.pool_size = pool_size;
        self
    }

    /// Validates every parameter.
    ///
    /// # Errors
    ///
    /// One [`IsolationForestParamsError`] variant per rule.
    pub fn check(self) -> Result<IsolationForestValidParams, IsolationForestParamsError> {
        use IsolationForestParamsError as E;
        if self.n_trees == 0 {
            return Err(E::ZeroTrees);
        }
        if self.sample_size < 2 {
            return Err(E::SampleSizeTooSmall {
                sample_size: self.sample_size,
            });
        }
        if self.n_trees.saturating_mul(self.sample_size) > MAX_TOTAL_SAMPLES {
            return Err(E::TooLarge {
                n_trees: self.n_trees,
                sample_size: self.sample_size,
            });
        }
        if let Some(c) = self.contamination
            && !(c > 0.0 && c <= 0.5)
        {
            return Err(E::InvalidContamination { contamination: c });
        }
        if let Some(depth) = self.max_depth
            && !(1..=MAX_DEPTH_LIMIT).contains(&depth)
        {
            return Err(E::InvalidMaxDepth { max_depth: depth });
        }
        if let Some(pool) = self.pool_size
            && !(self.sample_size..=MAX_TOTAL_SAMPLES).contains(&pool)
        {
            return Err(E::InvalidPoolSize {
                pool_size: pool,
                sample_size: self.sample_size,
            });
        }
        Ok(IsolationForestValidParams(self))
    }
}

/// Checked isolation forest parameters; the only form that can fit.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestValidParams(IsolationForestParams);

impl IsolationForestValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.0.n_trees
    }
    /// Rows per tree.
    pub fn sample_size(&self) -> usize {
        self.0.sample_size
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }
    /// Expected share of anomalies, if set.
    pub fn contamination(&self) -> Option<f64> {
        self.0.contamination
    }
    /// Depth limit, if set explicitly.
    pub fn max_depth(&self) -> Option<usize> {
        self.0.max_depth
    }
    /// Depth limit for trees grown from `psi` rows: the explicit limit, else
    /// `ceil(log2(psi))` (at least 1).
    pub fn depth_limit(&self, psi: usize) -> usize {
        self.0.max_depth.unwrap_or_else(|| {
            let psi = psi.max(2);
            (usize::BITS - (psi - 1).leading_zeros()) as usize
        })
    }
    /// Pool size, if set explicitly.
    pub fn pool_size(&self) -> Option<usize> {
        self.0.pool_size
    }
    /// Most distinct rows a partial keeps.
    pub fn pool_capacity(&self) -> usize {
        self.0
            .pool_size
            .unwrap_or(self.0.n_trees * self.0.sample_size)
    }

    /// The unchecked parameters, e.g. to change one and check again.
    pub fn into_params(self) -> IsolationForestParams {
        self.0
    }

    /// Fits a forest on all rows of `x` in one pass (one partition).
    ///
    /// # Errors
    ///
    /// As [`IsolationForestPartial::update`] and [`IsolationForestPartial::finish`].
    pub fn fit(
        &self,
        x: &FeatureMatrix,
    ) -> Result<IsolationForestModel, IsolationForestError> {
        let mut partial = IsolationForestPartial::new(self);
        partial.update(x)?;
        partial.finish()
    }
}

/// An isolation forest parameter that breaks a rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IsolationForestParamsError {
    /// `n_trees` is 0.
    #[error("n_trees must be at least 1 (got 0)")]
    ZeroTrees,
    /// `sample_size` is below 2.
    #[error("sample_size must be at least 2 (got {sample_size})")]
    SampleSizeTooSmall {
        /// The value given.
        sample_size: usize,
    },
    /// `n_trees * sample_size` is above [`MAX_TOTAL_SAMPLES`].
    #[error(
        "n_trees * sample_size must be at most {MAX_TOTAL_SAMPLES} \
         (got {n_trees} * {sample_size})"
    )]
    TooLarge {
        /// Trees requested.
        n_trees: usize,
        /// Rows per tree requested.
        sample_size: usize,
    },
    /// `contamination` is outside `(0, 0.5]`.
    #[error("contamination must be in (0, 0.5] (got {contamination})")]
    InvalidContamination {
        /// The value given.
        contamination: f64,
    },
    /// `max_depth` is outside `1..=MAX_DEPTH_LIMIT`.
    #[error("max_depth must be between 1 and {MAX_DEPTH_LIMIT} (got {max_depth})")]
    InvalidMaxDepth {
        /// The value given.
        max_depth: usize,
    },
    /// `pool_size` is below `sample_size` or above [`MAX_TOTAL_SAMPLES`].
    #[error(
        "pool_size must be between sample_size ({sample_size}) and {MAX_TOTAL_SAMPLES} \
         (got {pool_size})"
    )]
    InvalidPoolSize {
        /// The value given.
        pool_size: usize,
        /// The sample size it must reach.
        sample_size: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let p = IsolationForestParams::default()
            .check()
            .expect("valid test input");
        assert_eq!(p.n_trees(), 100);
        assert_eq!(p.sample_size(), 256);
        assert_eq!(p.seed(), 42);
        assert_eq!(p.contamination(), Some(0.05));
        assert_eq!(p.max_depth(), None);
        assert_eq!(p.depth_limit(256), 8);
        assert_eq!(p.depth_limit(257), 9);
        assert_eq!(p.depth_limit(2), 1);
        assert_eq!(p.depth_limit(1), 1);
        assert_eq!(p.pool_capacity(), 25_600);
    }

    #[test]
    fn n_trees_must_be_at_least_one() {
        let err = IsolationForestParams::default()
            .n_trees(0)
            .check()
            .expect_err("must be rejected");
        assert_eq!(err, IsolationForestParamsError::ZeroTrees);
        assert_eq!(err.to_string(), "n_trees must be at least 1 (got 0)");
    }

    #[test]
    fn sample_size_must_be_at_least_two() {
        let err = IsolationForestParams::default()
            .sample_size(1)
            .check()
            .expect_err("must be rejected");
        assert_eq!(
            err,
            IsolationForestParamsError::SampleSizeTooSmall { sample_size: 1 }
        );
    }

    #[test]
    fn total_samples_must_be_bounded() {
        let err = IsolationForestParams::default()
            .n_trees(1 << 20)
            .sample_size(1 << 10)
            .check()
            .expect_err("must be rejected");
        assert!(matches!(err, IsolationForestParamsError::TooLarge { .. }));
    }

    #[test]
    fn contamination_must_be_in_half_open_unit_half() {
        for c in [0.0, -0.1, 0.51, f64::NAN] {
            let err = IsolationForestParams::default()
                .contamination(Some(c))
                .check()
                .expect_err("must be rejected");
            assert!(matches!(
                err,
                IsolationForestParamsError::InvalidContamination { .. }
            ));
        }
        let none = IsolationForestParams::default().contamination(None).check();
        assert!(none.is_ok());
        let half = IsolationForestParams::default()
            .contamination(Some(0.5))
            .check();
        assert!(half.is_ok());
    }

    #[test]
    fn max_depth_must_be_in_range() {
        for d in [0, MAX_DEPTH_LIMIT + 1] {
            let err = IsolationForestParams::default()
                .max_depth(Some(d))
                .check()
                .expect_err("must be rejected");
            assert_eq!(
                err,
                IsolationForestParamsError::InvalidMaxDepth { max_depth: d }
            );
        }
    }

    #[test]
    fn pool_size_must_hold_one_sample() {
        let err = IsolationForestParams::default()
            .pool_size(Some(100))
            .check()
            .expect_err("must be rejected");
        assert!(matches!(
            err,
            IsolationForestParamsError::InvalidPoolSize { pool_size: 100, .. }
        ));
    }
}
