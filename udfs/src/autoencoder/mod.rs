//! Reconstruction autoencoders, trainable across partitions: the deep scores of the
//! AD-enumeration (hunt 2), C2-beaconing (hunt 3) and widespread-attack (hunt 5) hunts.
//!
//! `autoencoder_fit(vec [, options])` trains on a deterministic bounded sample of the rows
//! ([`AutoencoderPartial`]) with burn (autodiff + Adam); `autoencoder_score(vec, model)`
//! returns each row's reconstruction error. Input is a dense `List<Float64>` of a fixed
//! width or a sparse vector ([`crate::sparse`]).
//!
//! ```
//! use huntsman_udfs::autoencoder::{AutoencoderParams, AutoencoderPartial, InputBatch};
//! use huntsman_udfs::matrix::FeatureMatrix;
//! use huntsman_udfs::neural::Accelerator;
//!
//! let rows: Vec<[f64; 3]> = (0..64).map(|i| {
//!     let t = f64::from(i) / 64.0;
//!     [t, 1.0 - t, 0.5]
//! }).collect();
//! let x = InputBatch::read(&FeatureMatrix::from_rows(&rows)?.to_arrow())?;
//! let params = AutoencoderParams::from_json(r#"{"hidden": [2], "epochs": 5}"#)?.check()?;
//! let mut partial = AutoencoderPartial::new(&params);
//! partial.update(&x)?;
//! let (model, report) = partial.finish(Accelerator::Cpu)?;
//! assert_eq!(report.epoch_losses.len(), 5);
//! let scores = model.score(&x, Accelerator::Cpu)?;
//! assert_eq!(scores.len(), 64);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the score means
//!
//! **Dense input** of width `D`: the mean squared error over all `D` coordinates between
//! the row and the network's reconstruction, `Σ_i (x_i − x̂_i)² / D`.
//!
//! **Sparse input** (hashed TF-IDF of up to 2^24 columns): evaluating all columns of every
//! row would cost `D` outputs per row, so the loss and the score are a *sampled* MSE over
//! a small, deterministic set of coordinates:
//!
//! - The model's **vocabulary** `V` is the set of input indices with a non-zero in the
//!   training sample. The embedding bag and the output layer have one row per vocabulary
//!   index (not per column of `D`). An index outside `V` never moves the code and is
//!   reconstructed as exactly 0: the model predicts the absence of anything it never saw.
//! - For a row with non-zeros `S` (values `x_i`), the evaluated set is `S ∪ N`, where the
//!   **negatives** `N` are `negatives` (default 16) distinct vocabulary indices not in `S`
//!   (all of them if fewer remain), drawn from a generator seeded by the model seed and a
//!   hash of the row's contents. Identical rows get identical negatives, so the score is a
//!   pure function of the row and the model.
//! - The score is `(Σ_{i∈S} (x_i − x̂_i)² + Σ_{j∈N} x̂_j²) / (|S| + |N|)`: the error on the
//!   row's own terms (including its terms the model never saw, each contributing `x_i²`)
//!   plus how much the model "hallucinates" terms the row lacks, averaged over the
//!   evaluated coordinates. An empty row scores the negatives only.
//! - Training minimises the mean of the same quantity over each minibatch, with the
//!   negatives redrawn every epoch (seeded by the row and the epoch).
//!
//! Scores are therefore comparable between rows scored by the same model, not with dense
//! scores or between models.
//!
//! # Where it runs
//!
//! Training and dense scoring run on burn's NdArray backend on the CPU, or on burn's CUDA
//! backend in a `cuda` build when the GPU is asked for: `autoencoder_score` reads the
//! session setting `huntsman.use_gpu` at execution; `autoencoder_fit` (whose accumulator
//! cannot see the session) gets it at planning, when the setting is copied into the
//! options literal as `"use_gpu": true` unless the options already set `use_gpu`. Sparse
//! scoring always runs on the CPU: it touches only a row's non-zeros and negatives.
//! A GPU call holds a permit on one device for its device work and a `cuda` build
//! without a usable device runs on the CPU instead ([`crate::neural::place`]).

mod input;
mod layer;
mod model;
mod net;
mod params;
mod partial;
pub mod sql;
mod train;

pub use input::{InputBatch, InputKind};
pub use model::{AutoencoderModel, MAX_LAYER_ELEMENTS, SCORE_CHUNK_ROWS};
pub use params::{
    Activation, AutoencoderParams, AutoencoderParamsError, AutoencoderValidParams, Output,
};
pub use partial::AutoencoderPartial;
pub use sql::{autoencoder_fit_udaf, autoencoder_score_udf};
pub use train::TrainReport;

use crate::matrix::DecodeError;
use crate::neural::NeuralError;

/// An error fitting, merging, scoring or decoding an autoencoder.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutoencoderError {
    /// No rows to train on.
    #[error("cannot fit an autoencoder on zero rows")]
    Empty,
    /// Sparse training rows with no non-zero at all.
    #[error(
        "cannot fit a sparse autoencoder: the training rows have no non-zero entries"
    )]
    NoNonZeros,
    /// The input width differs from the model's or from earlier rows'.
    #[error("input has {got} dimensions, the model expects {expected}")]
    DimensionMismatch {
        /// Width expected.
        expected: usize,
        /// Width found.
        got: usize,
    },
    /// Dense and sparse rows in one fit.
    #[error("cannot mix dense and sparse vectors in one autoencoder")]
    KindMismatch,
    /// Partial states built with different parameters.
    #[error("cannot merge autoencoder states built with different parameters")]
    ParamsMismatch,
    /// A weight matrix over [`MAX_LAYER_ELEMENTS`].
    #[error(
        "a {rows} x {cols} layer is too large (at most {MAX_LAYER_ELEMENTS} weights); \
         use sparse vectors or narrower layers"
    )]
    TooLarge {
        /// Rows of the layer.
        rows: usize,
        /// Columns of the layer.
        cols: usize,
    },
    /// A bad input row.
    #[error("{0}")]
    Input(String),
    /// Inconsistent trained weights.
    #[error("invalid autoencoder payload: {0}")]
    Payload(String),
    /// A payload or partial state could not be decoded.
    #[error("invalid autoencoder payload: {0}")]
    Decode(#[from] DecodeError),
    /// The backend failed or is not available.
    #[error(transparent)]
    Neural(#[from] NeuralError),
}
