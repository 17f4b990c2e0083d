//! k-means clustering, trainable across partitions.
//!
//! The hunts use k-means twice: AD enumeration (`k = 4` on about 2,000 TF-IDF
//! features; the smallest cluster is the anomaly cluster) and C2 beaconing (`k = 50`
//! on five timing features; distance to the assigned centroid is the score). The
//! flow follows linfa:
//!
//! ```
//! use huntsman_udfs::kmeans::{KMeansParams, KMeansPartial};
//! use huntsman_udfs::matrix::FeatureMatrix;
//!
//! let params = KMeansParams::default().k(2).check()?;
//! let x = FeatureMatrix::from_rows(&[[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])?;
//!
//! // One pass ...
//! let model = params.fit(&x)?;
//! // ... or per partition, merged in any order.
//! let mut a = KMeansPartial::new(&params);
//! a.update(&x)?;
//! let b = KMeansPartial::from_bytes(&KMeansPartial::new(&params).to_bytes())?;
//! a.merge(&b)?;
//! assert_eq!(a.finish()?, model);
//!
//! let labels = model.assign(&x)?;
//! assert_eq!(labels[0], labels[1]);
//! let distances = model.distance(&x)?;
//! assert!(distances.iter().all(|&d| d < 0.1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See [`KMeansPartial`] for why merging does not depend on partitioning.

mod kernel;
mod lloyd;
mod model;
mod params;
mod partial;
pub mod sql;

pub use model::KMeansModel;
pub use params::{
    KMeansParams, KMeansParamsError, KMeansValidParams, MAX_ITER_LIMIT, N_INIT_LIMIT,
};
pub use partial::KMeansPartial;
pub use sql::{
    kmeans_assign_udf, kmeans_distance_udf, kmeans_fit_udaf, kmeans_outlier_udf,
};

use crate::matrix::{DecodeError, MatrixError};

/// An error fitting, merging, scoring or decoding k-means.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansError {
    /// Fitting saw no rows.
    #[error("cannot fit k-means on zero rows")]
    Empty,
    /// Fewer rows than clusters.
    #[error("k ({k}) exceeds the number of rows ({n_rows})")]
    TooFewRows {
        /// Requested clusters.
        k: usize,
        /// Rows seen.
        n_rows: u64,
    },
    /// Rows with zero features.
    #[error("feature vectors must have at least one column")]
    NoColumns,
    /// A model needs at least one centroid with at least one feature.
    #[error("a k-means model needs at least one centroid with at least one feature")]
    NoCentroids,
    /// The input width differs from the model's or from earlier rows'.
    #[error("matrix has {got} columns, the model expects {expected}")]
    DimensionMismatch {
        /// Columns expected.
        expected: usize,
        /// Columns found.
        got: usize,
    },
    /// Partial states built with different parameters cannot be merged.
    #[error("cannot merge k-means states built with different parameters")]
    ParamsMismatch,
    /// A bad matrix value.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// A payload could not be decoded.
    #[error("invalid k-means payload: {0}")]
    Decode(#[from] DecodeError),
}
