//! LSTM next-event model of process behaviour, trainable across partitions.
//!
//! The process-anomaly hunt models each process as the event ids it produced, in time
//! order (Sysmon 1, 3, 7, 11, 22, ...). A network of embedding → LSTM layers → linear
//! → softmax learns, with teacher forcing, to predict each event from the ones before
//! it; a process is scored by the mean cross-entropy of its events, so behaviour that
//! the data rarely shows scores high. (The original notebook sorted the ids, losing the
//! order, and fed the target to its decoder, so it learned to copy.)
//!
//! ```
//! use huntsman_udfs::neural::Accelerator;
//! use huntsman_udfs::sequence::{SequenceParams, SequencePartial};
//!
//! let params = SequenceParams::default()
//!     .embedding_dim(4)
//!     .hidden_dim(8)
//!     .num_layers(1)
//!     .epochs(3)
//!     .check()?;
//! let mut partial = SequencePartial::new(&params);
//! for _ in 0..20 {
//!     partial.add(&[1, 3, 3, 22]);
//! }
//! let fit = partial.finish()?;
//! let scores = fit.model.score(&[vec![1, 3, 3, 22], vec![]], Accelerator::Cpu)?;
//! assert!(scores[0].is_some_and(|s| s >= 0.0));
//! assert_eq!(scores[1], None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On the CPU, scoring walks a prefix trie of plain matrices and training uses a CPU
//! trainer; on the GPU both run on burn's CUDA backend (padded batches, autodiff),
//! holding a device permit ([`crate::neural::place`]).
//!
//! See [`SequencePartial`] for how training data is merged across partitions,
//! [`vocab`] for how ids become tokens and [`SequenceModel`] for the score.

mod cpu_math;
mod cpu_train;
mod infer;
mod model;
mod network;
mod params;
mod partial;
pub mod sql;
mod train;
pub mod vocab;

pub use model::SequenceModel;
pub use params::{
    CONFIG_KEYS, MAX_BATCH_SIZE, MAX_DIM, MAX_EPOCHS, MAX_LAYERS, MAX_SEQ_LEN_LIMIT,
    MAX_SEQUENCES_LIMIT, MAX_VOCAB_SIZE, MAX_WEIGHTS, SequenceParams,
    SequenceParamsError, SequenceValidParams,
};
pub use partial::{FitOutcome, MAX_DISTINCT_IDS, SequencePartial};
pub use sql::{seq_fit_udaf, seq_score_udf};
pub use vocab::Vocabulary;

use crate::matrix::DecodeError;
use crate::neural::NeuralError;

/// An error training, merging, scoring or decoding a sequence model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SequenceError {
    /// The input column is not what the function reads.
    #[error("{0}")]
    Input(String),
    /// Training saw no non-empty sequence.
    #[error("cannot fit a sequence model on zero sequences")]
    Empty,
    /// Partial states built with different parameters cannot be merged.
    #[error("cannot merge sequence-model states built with different parameters")]
    ParamsMismatch,
    /// No GPU support in this build, or the tensor backend failed (no usable device,
    /// training diverged).
    #[error(transparent)]
    Neural(#[from] NeuralError),
    /// A bad parameter.
    #[error(transparent)]
    Params(#[from] SequenceParamsError),
    /// A payload could not be decoded.
    #[error("invalid sequence-model payload: {0}")]
    Decode(#[from] DecodeError),
}
