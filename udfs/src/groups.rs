//! What every grouped aggregate of this crate shares: the one-group (row accumulator) form
//! and the row-per-state conversion, both written once over the groups accumulator.

use std::fmt::Debug;

use datafusion::arrow::array::{ArrayRef, BooleanArray};
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
