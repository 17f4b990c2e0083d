//! Isolation forest anomaly scores, trainable across partitions.
//!
//! The process-anomaly hunt fits one forest on the whole data set (100 trees of
//! 256 rows, seed 42) and uses the continuous score. The flow follows linfa:
//!
//! ```
//! use huntsman_udfs::iforest::{IsolationForestParams, IsolationForestPartial};
//! use huntsman_udfs::matrix::FeatureMatrix;
//!
//! let params = IsolationForestParams::default().n_trees(50).check()?;
//! let mut rows: Vec<[f64; 2]> = (0..200).map(|i| [(i % 20) as f64, (i / 20) as f64]).collect();
//! rows.push([100.0, 100.0]);
//! let x = FeatureMatrix::from_rows(&rows)?;
//!
//! // One pass ...
//! let model = params.fit(&x)?;
//! // ... or per partition, merged in any order: the same model.
//! let (a, b) = (FeatureMatrix::from_rows(&rows[..90])?, FeatureMatrix::from_rows(&rows[90..])?);
//! let mut pa = IsolationForestPartial::new(&params);
//! pa.update(&a)?;
//! let mut pb = IsolationForestPartial::new(&params);
//! pb.update(&b)?;
//! pb.merge(&pa)?;
//! assert_eq!(pb.finish()?, model);
//!
//! let scores = model.score(&x)?;
//! assert!(scores[..200].iter().all(|&s| s < scores[200]));
//! assert!(scores[200] > model.threshold().unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See [`IsolationForestPartial`] for why the pool does not depend on partitioning.

mod model;
mod params;
mod partial;
pub mod sql;
mod tree;

pub use model::{IsolationForestModel, threshold_for_contamination};
pub use params::{
    IsolationForestParams, IsolationForestParamsError, IsolationForestValidParams,
    MAX_DEPTH_LIMIT, MAX_TOTAL_SAMPLES,
};
pub use partial::IsolationForestPartial;
pub use sql::{iforest_fit_udaf, iforest_score_udf};

use crate::matrix::{DecodeError, MatrixError};

/// An error fitting, merging, scoring or decoding an isolation forest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IsolationForestError {
    /// Fitting saw no rows, or no scores were given.
    #[error("cannot fit an isolation forest on zero rows")]
    Empty,
    /// Fitting saw a single row, which gives no path-length scale.
    #[error("an isolation forest needs at least 2 rows (got {n_rows})")]
    TooFewRows {
        /// Rows seen.
        n_rows: u64,
    },
    /// Rows with zero features.
    #[error("feature vectors must have at least one column")]
    NoColumns,
    /// The input width differs from the model's or from earlier rows'.
    #[error("matrix has {got} columns, the model expects {expected}")]
    DimensionMismatch {
        /// Columns expected.
        expected: usize,
        /// Columns found.
        got: usize,
    },
    /// Partial states built with different parameters cannot be merged.
    #[error("cannot merge isolation forest states built with different parameters")]
    ParamsMismatch,
    /// `contamination` outside `(0, 0.5]`.
    #[error("contamination must be in (0, 0.5] (got {contamination})")]
    InvalidContamination {
        /// The value given.
        contamination: f64,
    },
    /// A score passed to [`threshold_for_contamination`] is NaN or infinite.
    #[error("score {row} is not finite")]
    NonFiniteScore {
        /// Index of the score.
        row: usize,
    },
    /// A bad matrix value.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// A payload could not be decoded.
    #[error("invalid isolation forest payload: {0}")]
    Decode(#[from] DecodeError),
}

/// `c(n)`, the average path length of an unsuccessful binary-search-tree lookup
/// among `n` rows: `2 H(n - 1) - 2 (n - 1) / n`, with `c(1) = 0` and `c(2) = 1`
/// (Liu et al.; scikit-learn's `_average_path_length`).
pub fn average_path_length(n: u64) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_matches_scikit_learn() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // sklearn.ensemble._iforest._average_path_length([256])
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
    }
}
