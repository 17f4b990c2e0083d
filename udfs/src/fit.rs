//! The one accumulator behind every `*_fit` aggregate.
//!
//! Distributed training has the same shape for every model: each partition folds its rows
//! into a partial summary, the partial crosses the shuffle as one Binary state value,
//! partials merge in any order, and the final step turns the merged summary into an
//! encoded model envelope. A model type implements [`FitPartial`]; [`FitAccumulator`]
//! does the DataFusion plumbing once.

use std::fmt::Debug;
use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::Accumulator;
use datafusion::logical_expr::function::StateFieldsArgs;
use datafusion::logical_expr::utils::format_state_name;

use crate::error::exec_error;

/// A mergeable training summary: what one partition knows about its rows.
///
/// Errors are the family's own type; the accumulator prefixes them with the function
/// name at the SQL boundary.
pub trait FitPartial: Debug + Send + Sync + Sized + 'static {
    /// Why folding, merging, decoding or training failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The SQL function name, used in every error message.
    const FUNCTION: &'static str;

    /// Folds one batch of argument columns (the aggregate's arguments, in order) into
    /// the summary. Null rows are skipped by the implementation.
    fn update(&mut self, args: &[ArrayRef]) -> std::result::Result<(), Self::Error>;

    /// Merges another partition's summary into this one.
    fn merge(&mut self, other: Self) -> std::result::Result<(), Self::Error>;

    /// Encodes the summary as the aggregate's state.
    fn to_state(&self) -> Vec<u8>;

    /// Decodes a summary written by [`FitPartial::to_state`] (on any executor).
    fn from_state(bytes: &[u8]) -> std::result::Result<Self, Self::Error>;

    /// How many rows the summary has seen (zero means the model is null).
    fn n_rows(&self) -> u64;

    /// Heap bytes held, for DataFusion's memory accounting.
    fn size_bytes(&self) -> usize;

    /// Trains the model on the merged summary and returns the encoded envelope.
    fn finish(&mut self) -> std::result::Result<Vec<u8>, Self::Error>;
}

/// The state field of every fit aggregate: one Binary value named `partial`.
pub fn fit_state_fields(args: &StateFieldsArgs) -> Vec<FieldRef> {
    vec![Arc::new(Field::new(
        format_state_name(args.name, "partial"),
        DataType::Binary,
        true,
    ))]
}

/// DataFusion accumulator over a [`FitPartial`].
#[derive(Debug)]
pub struct FitAccumulator<P> {
    partial: P,
}

impl<P: FitPartial> FitAccumulator<P> {
    /// Wraps an empty summary.
    pub fn new(partial: P) -> Self {
        Self { partial }
    }

    /// Boxed, as `AggregateUDFImpl::accumulator` returns it.
    pub fn boxed(partial: P) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Self::new(partial)))
    }
}

impl<P: FitPartial> Accumulator for FitAccumulator<P> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if values.first().is_none_or(|v| v.is_empty()) {
            return Ok(());
        }
        self.partial
            .update(values)
            .map_err(|e| exec_error(P::FUNCTION, e))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.partial.n_rows() == 0 {
            return Ok(ScalarValue::Binary(None));
        }
        let model = self
            .partial
            .finish()
            .map_err(|e| exec_error(P::FUNCTION, e))?;
        Ok(ScalarValue::Binary(Some(model)))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.partial.size_bytes()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.partial.to_state()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first().and_then(|s| s.as_binary_opt::<i32>()) else {
            return Err(exec_error(P::FUNCTION, "partial state must be Binary"));
        };
        for bytes in states.iter().flatten() {
            let other = P::from_state(bytes).map_err(|e| exec_error(P::FUNCTION, e))?;
            self.partial
                .merge(other)
                .map_err(|e| exec_error(P::FUNCTION, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, Int64Array};

    /// A sum "model": enough to check the plumbing without any real training.
    #[derive(Debug, Default)]
    struct Sum {
        rows: u64,
        total: i64,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct SumError(&'static str);

    impl FitPartial for Sum {
        type Error = SumError;
        const FUNCTION: &'static str = "sum_fit";
        fn update(&mut self, args: &[ArrayRef]) -> std::result::Result<(), SumError> {
            let values = args[0]
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or(SumError("expects int64"))?;
            for v in values.iter().flatten() {
                self.rows += 1;
                self.total += v;
            }
            Ok(())
        }
        fn merge(&mut self, other: Self) -> std::result::Result<(), SumError> {
            self.rows += other.rows;
            self.total += other.total;
            Ok(())
        }
        fn to_state(&self) -> Vec<u8> {
            let mut out = self.rows.to_le_bytes().to_vec();
            out.extend(self.total.to_le_bytes());
            out
        }
        fn from_state(bytes: &[u8]) -> std::result::Result<Self, SumError> {
            let rows = bytes.get(..8).ok_or(SumError("short state"))?;
            let total = bytes.get(8..16).ok_or(SumError("short state"))?;
            Ok(Self {
                rows: u64::from_le_bytes(
                    rows.try_into().map_err(|_| SumError("bad state"))?,
                ),
                total: i64::from_le_bytes(
                    total.try_into().map_err(|_| SumError("bad state"))?,
                ),
            })
        }
        fn n_rows(&self) -> u64 {
            self.rows
        }
        fn size_bytes(&self) -> usize {
            0
        }
        fn finish(&mut self) -> std::result::Result<Vec<u8>, SumError> {
            Ok(self.total.to_le_bytes().to_vec())
        }
    }

    fn ints(v: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(v.to_vec()))
    }

    #[test]
    fn partial_states_merge_to_the_single_pass_answer() {
        let mut whole = FitAccumulator::new(Sum::default());
        whole
            .update_batch(&[ints(&[Some(1), Some(2), None, Some(4)])])
            .unwrap();

        let mut left = FitAccumulator::new(Sum::default());
        left.update_batch(&[ints(&[Some(1), Some(2)])]).unwrap();
        let mut right = FitAccumulator::new(Sum::default());
        right.update_batch(&[ints(&[None, Some(4)])]).unwrap();
        let mut merged = FitAccumulator::new(Sum::default());
        let states: Vec<Option<Vec<u8>>> = [left.state(), right.state()]
            .into_iter()
            .map(|s| match &s.unwrap()[0] {
                ScalarValue::Binary(b) => b.clone(),
                other => panic!("state is not binary: {other:?}"),
            })
            .collect();
        let array: ArrayRef = Arc::new(BinaryArray::from_iter(states));
        merged.merge_batch(&[array]).unwrap();
        assert_eq!(whole.evaluate().unwrap(), merged.evaluate().unwrap());
    }

    #[test]
    fn no_rows_gives_a_null_model_and_bad_state_names_the_function() {
        let mut empty = FitAccumulator::new(Sum::default());
        assert_eq!(empty.evaluate().unwrap(), ScalarValue::Binary(None));
        let junk: ArrayRef = Arc::new(BinaryArray::from_iter_values([b"x".as_slice()]));
        let err = empty.merge_batch(&[junk]).unwrap_err().to_string();
        assert!(err.contains("sum_fit: short state"), "{err}");
        let wrong: ArrayRef = ints(&[Some(1)]);
        let err = empty.merge_batch(&[wrong]).unwrap_err().to_string();
        assert!(err.contains("sum_fit") && err.contains("Binary"), "{err}");
    }
}
