//! What every grouped aggregate of this crate shares: the one-group (row accumulator) form
//! and the row-per-state conversion, both written once over the groups accumulator.

use std::fmt::Debug;

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// A groups accumulator that can be made to hold at least `n` groups, so the one-group
/// form can evaluate a group that saw no rows.
pub(crate) trait Grouped: GroupsAccumulator + Default + Debug + Sync {
    fn reserve_groups(&mut self, n: usize);
}

/// The row-at-a-time form (one group), for plans that do not use groups accumulators.
#[derive(Debug, Default)]
pub(crate) struct OneGroup<G>(pub G);

fn zeros(values: &[ArrayRef]) -> Vec<usize> {
    vec![0; values.first().map_or(0, |v| v.len())]
}

impl<G: Grouped> Accumulator for OneGroup<G> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.update_batch(values, &zeros(values), None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.reserve_groups(1);
        ScalarValue::try_from_array(&self.0.evaluate(EmitTo::All)?, 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.reserve_groups(1);
        self.0
            .state(EmitTo::All)?
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge_batch(states, &zeros(states), 1)
    }
}

/// Each row as its own partial state (for aggregations that skip the partial step):
/// the body of every [`GroupsAccumulator::convert_to_state`] here.
pub(crate) fn rows_as_states<G: Grouped>(
    values: &[ArrayRef],
    opt_filter: Option<&BooleanArray>,
) -> Result<Vec<ArrayRef>> {
    let rows = values.first().map_or(0, |v| v.len());
    let mut groups = G::default();
    groups.update_batch(values, &(0..rows).collect::<Vec<_>>(), opt_filter, rows)?;
    groups.state(EmitTo::All)
}

/// The `i32` offsets of lists of `lengths`. Arrow's `OffsetBuffer::from_lengths` panics
/// when the values add up past `i32::MAX` (a state or result of more than 2^31 values);
/// this says so as an error of `function` instead.
///
/// # Errors
/// The lengths add up to more than `i32::MAX`.
pub(crate) fn list_offsets(
    function: &str,
    lengths: impl IntoIterator<Item = usize>,
) -> Result<OffsetBuffer<i32>> {
    let lengths = lengths.into_iter();
    let mut offsets = Vec::with_capacity(lengths.size_hint().0 + 1);
    offsets.push(0i32);
    let mut total = 0i32;
    for len in lengths {
        total = i32::try_from(len)
            .ok()
            .and_then(|len| total.checked_add(len))
            .ok_or_else(|| {
                crate::error::exec_error(
                    function,
                    format!(
                        "more than {} values in one list array (its offsets are 32-bit); \
                         spread the rows over more groups or partitions",
                        i32::MAX
                    ),
                )
            })?;
        offsets.push(total);
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(offsets)))
}

#[cfg(test)]
mod offset_tests {
    use super::*;

    #[test]
    fn list_offsets_add_up_and_overflow_is_an_error() {
        let offsets = list_offsets("f", [1, 0, 2]).expect("small");
        assert_eq!(offsets.as_ref(), &[0, 1, 1, 3]);
        let max = i32::MAX as usize;
        assert_eq!(
            list_offsets("f", [max - 1, 1]).expect("fits").last(),
            Some(&i32::MAX)
        );
        // One value past the largest offset: Arrow's from_lengths would panic here.
        for lengths in [
            vec![max, 1],
            vec![max / 2 + 1, max / 2 + 1],
            vec![usize::MAX],
        ] {
            let err = list_offsets("inter_arrival_stats", lengths).expect_err("overflow");
            assert!(
                err.to_string()
                    .contains("inter_arrival_stats: more than 2147483647 values"),
                "{err}"
            );
        }
    }
}
