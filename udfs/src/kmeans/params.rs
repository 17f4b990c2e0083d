//! k-means parameters: the unchecked [`KMeansParams`] and the checked
//! [`KMeansValidParams`], which alone can fit.

use super::{KMeansError, KMeansModel, KMeansPartial};
use crate::matrix::FeatureMatrix;

/// Largest accepted `max_iter`, so a corrupted or mistyped value cannot stall a fit.
pub const MAX_ITER_LIMIT: usize = 100_000;
/// Largest accepted `n_init`.
pub const N_INIT_LIMIT: usize = 1_000;

/// Unchecked k-means parameters. Build with [`Default`] and the setters, then
/// [`check`](KMeansParams::check).
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    k: usize,
    seed: u64,
    max_iter: usize,
    tol: f64,
    n_init: usize,
    max_summary_values: usize,
    coreset_size: usize,
}

impl Default for KMeansParams {
    /// `k = 4`, `seed = 42`, `max_iter = 300`, `tol = 1e-4`, `n_init = 1`,
    /// `max_summary_values = 2_097_152`, `coreset_size = 2048`.
    fn default() -> Self {
        Self {
            k: 4,
            seed: 42,
            max_iter: 300,
            tol: 1e-4,
            n_init: 1,
            max_summary_values: 1 << 21,
            coreset_size: 2048,
        }
    }
}

impl KMeansParams {
    /// Number of clusters. Default 4 (`AD_KMEANS_K`). Must be at least 1.
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Seed of every random choice (initialisation, summary compression). Default 42.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Most Lloyd iterations per initialisation. Default 300 (as scikit-learn).
    /// Between 1 and [`MAX_ITER_LIMIT`].
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Convergence tolerance, relative to the mean per-feature variance of the data
    /// (as scikit-learn): Lloyd stops when the squared centroid movement falls to
    /// `tol * mean variance`. Default `1e-4`. Finite and non-negative.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Number of k-means++ initialisations; the lowest-inertia run wins. Default 1.
    /// Between 1 and [`N_INIT_LIMIT`].
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Most feature values (rows × columns) a partial state keeps exactly before it
    /// compresses itself into a weighted coreset. Default 2,097,152 (16 MiB of f64).
    /// At least 1; a partial always keeps at least `40 * k` rows.
    pub fn max_summary_values(mut self, max_summary_values: usize) -> Self {
        self.max_summary_values = max_summary_values;
        self
    }

    /// Number of weighted points a compressed partial keeps (raised to `20 * k` when
    /// smaller). Default 2048. At least 1.
    pub fn coreset_size(mut self, coreset_size: usize) -> Self {
        self.coreset_size = coreset_size;
        self
    }

    /// Validates every parameter.
    ///
    /// # Errors
    ///
    /// One [`KMeansParamsError`] variant per rule.
    pub fn check(self) -> Result<KMeansValidParams, KMeansParamsError> {
        if self.k == 0 {
            return Err(KMeansParamsError::ZeroClusters);
        }
        if self.k > u32::MAX as usize / 64 {
            return Err(KMeansParamsError::TooManyClusters { k: self.k });
        }
        if self.max_iter == 0 || self.max_iter > MAX_ITER_LIMIT {
            return Err(KMeansParamsError::InvalidMaxIter {
                max_iter: self.max_iter,
            });
        }
        if !self.tol.is_finite() || self.tol < 0.0 {
            return Err(KMeansParamsError::InvalidTol { tol: self.tol });
        }
        if self.n_init == 0 || self.n_init > N_INIT_LIMIT {
            return Err(KMeansParamsError::InvalidInit {
                n_init: self.n_init,
            });
        }
        if self.max_summary_values == 0 {
            return Err(KMeansParamsError::ZeroSummaryValues);
        }
        if self.coreset_size == 0 {
            return Err(KMeansParamsError::ZeroCoresetSize);
        }
        Ok(KMeansValidParams(self))
    }
}

/// Checked k-means parameters; the only form that can fit.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

impl KMeansValidParams {
    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.0.k
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }
    /// Most Lloyd iterations per initialisation.
    pub fn max_iter(&self) -> usize {
        self.0.max_iter
    }
    /// Relative convergence tolerance.
    pub fn tol(&self) -> f64 {
        self.0.tol
    }
    /// Number of initialisations.
    pub fn n_init(&self) -> usize {
        self.0.n_init
    }
    /// Most feature values a partial keeps exactly.
    pub fn max_summary_values(&self) -> usize {
        self.0.max_summary_values
    }
    /// Weighted points a compressed partial keeps.
    pub fn coreset_size(&self) -> usize {
        self.0.coreset_size
    }

    /// The unchecked parameters, e.g. to change one and check again.
    pub fn into_params(self) -> KMeansParams {
        self.0
    }

    /// Fits k-means on all rows of `x` in one pass (one partition).
    ///
    /// # Errors
    ///
    /// As [`KMeansPartial::update`] and [`KMeansPartial::finish`].
    pub fn fit(&self, x: &FeatureMatrix) -> Result<KMeansModel, KMeansError> {
        let mut partial = KMeansPartial::new(self);
        partial.update(x)?;
        partial.finish()
    }
}

/// A k-means parameter that breaks a rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansParamsError {
    /// `k` is 0.
    #[error("k must be at least 1 (got 0)")]
    ZeroClusters,
    /// `k` is too large to index clusters.
    #[error("k must be at most {} (got {k})", u32::MAX as usize / 64)]
    TooManyClusters {
        /// The value given.
        k: usize,
    },
    /// `max_iter` is 0 or above [`MAX_ITER_LIMIT`].
    #[error("max_iter must be between 1 and {MAX_ITER_LIMIT} (got {max_iter})")]
    InvalidMaxIter {
        /// The value given.
        max_iter: usize,
    },
    /// `tol` is negative, NaN or infinite.
    #[error("tol must be finite and non-negative (got {tol})")]
    InvalidTol {
        /// The value given.
        tol: f64,
    },
    /// `n_init` is 0 or above [`N_INIT_LIMIT`].
    #[error("n_init must be between 1 and {N_INIT_LIMIT} (got {n_init})")]
    InvalidInit {
        /// The value given.
        n_init: usize,
    },
    /// `max_summary_values` is 0.
    #[error("max_summary_values must be at least 1 (got 0)")]
    ZeroSummaryValues,
    /// `coreset_size` is 0.
    #[error("coreset_size must be at least 1 (got 0)")]
    ZeroCoresetSize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let p = KMeansParams::default().check().expect("valid test input");
        assert_eq!(p.k(), 4);
        assert_eq!(p.seed(), 42);
        assert_eq!(p.max_iter(), 300);
        assert_eq!(p.tol(), 1e-4);
        assert_eq!(p.n_init(), 1);
        assert_eq!(p.max_summary_values(), 2_097_152);
        assert_eq!(p.coreset_size(), 2048);
    }

    #[test]
    fn k_must_be_at_least_one() {
        let err = KMeansParams::default()
            .k(0)
            .check()
            .expect_err("must be rejected");
        assert_eq!(err, KMeansParamsError::ZeroClusters);
        assert_eq!(err.to_string(), "k must be at least 1 (got 0)");
    }

    #[test]
    fn k_must_fit_cluster_labels() {
        let err = KMeansParams::default()
            .k(usize::MAX)
            .check()
            .expect_err("must be rejected");
        assert!(matches!(err, KMeansParamsError::TooManyClusters { .. }));
    }

    #[test]
    fn max_iter_must_be_between_one_and_the_limit() {
        let err = KMeansParams::default()
            .max_iter(0)
            .check()
            .expect_err("must be rejected");
        assert_eq!(err, KMeansParamsError::InvalidMaxIter { max_iter: 0 });
        assert_eq!(
            err.to_string(),
            "max_iter must be between 1 and 100000 (got 0)"
        );
        let too_many = KMeansParams::default().max_iter(MAX_ITER_LIMIT + 1).check();
        assert!(too_many.is_err());
    }

    #[test]
    fn tol_must_be_finite_and_non_negative() {
        for tol in [-1e-9, f64::NAN, f64::INFINITY] {
            let err = KMeansParams::default()
                .tol(tol)
                .check()
                .expect_err("must be rejected");
            assert!(matches!(err, KMeansParamsError::InvalidTol { .. }));
        }
        assert!(KMeansParams::default().tol(0.0).check().is_ok());
    }

    #[test]
    fn n_init_must_be_between_one_and_the_limit() {
        let err = KMeansParams::default()
            .n_init(0)
            .check()
            .expect_err("must be rejected");
        assert_eq!(err, KMeansParamsError::InvalidInit { n_init: 0 });
        let too_many = KMeansParams::default().n_init(N_INIT_LIMIT + 1).check();
        assert!(too_many.is_err());
    }

    #[test]
    fn max_summary_values_must_be_at_least_one() {
        let err = KMeansParams::default()
            .max_summary_values(0)
            .check()
            .expect_err("must be rejected");
        assert_eq!(err, KMeansParamsError::ZeroSummaryValues);
    }

    #[test]
    fn coreset_size_must_be_at_least_one() {
        let err = KMeansParams::default()
            .coreset_size(0)
            .check()
            .expect_err("must be rejected");
        assert_eq!(err, KMeansParamsError::ZeroCoresetSize);
    }
}
