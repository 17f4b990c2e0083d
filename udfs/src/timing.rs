//! Timing statistics of event streams: the C2-beaconing hunt asks whether an entity's
//! connections arrive at regular intervals.
//!
//! `inter_arrival_stats(ts)` is an aggregate whose partial state is the list of timestamps
//! seen so far. Timestamps of one group can arrive in any number of partitions on any
//! number of executors; the final step sorts the merged list, so the answer does not
//! depend on how rows were split or in which order partials were merged.

use std::mem::size_of;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray,
    StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, DocSection, Documentation, EmitTo,
    GroupsAccumulator, Signature, Volatility,
};

use crate::error::exec_error;
use crate::groups::{Grouped, OneGroup, list_offsets, rows_as_states};

const INTER_ARRIVAL_STATS: &str = "inter_arrival_stats";
const NANOS_PER_SECOND: f64 = 1e9;

/// Documentation section of the timing functions.
pub const TIMING_SECTION: DocSection = DocSection {
    include: true,
    label: "Timing functions",
    description: Some("Statistics of when events happen, for beaconing hunts."),
};

/// Summary of the gaps between consecutive events of one entity, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct InterArrivalStats {
    /// Number of (non-null) timestamps.
    pub count: i64,
    /// Last minus first timestamp; 0 for one event, `None` for none.
    pub duration_s: Option<f64>,
    /// Mean gap; `None` with fewer than two events.
    pub mean_s: Option<f64>,
    /// Sample standard deviation of the gaps (n − 1); `None` with fewer than two gaps.
    pub stddev_s: Option<f64>,
    /// Coefficient of variation `stddev_s / mean_s`; `None` when either is missing or the
    /// mean is 0.
    pub cv: Option<f64>,
    /// Median gap; `None` with fewer than two events.
    pub median_s: Option<f64>,
    /// Median absolute deviation of the gaps from their median (unscaled); `None` with
    /// fewer than two events.
    pub mad_s: Option<f64>,
}

impl InterArrivalStats {
    /// Computes the statistics of `timestamps` (epoch nanoseconds, any order). The slice
    /// is sorted in place.
    pub fn from_timestamps(timestamps: &mut [i64]) -> Self {
        timestamps.sort_unstable();
        let count = timestamps.len() as i64;
        let duration_s = match (timestamps.first(), timestamps.last()) {
            (Some(first), Some(last)) => Some(nanos_to_s(last.saturating_sub(*first))),
            _ => None,
        };
        let mut gaps: Vec<f64> = timestamps
            .windows(2)
            .map(|w| nanos_to_s(w[1].saturating_sub(w[0])))
            .collect();
        if gaps.is_empty() {
            return Self {
                count,
                duration_s,
                mean_s: None,
                stddev_s: None,
                cv: None,
                median_s: None,
                mad_s: None,
            };
        }
        let n = gaps.len() as f64;
        let mean = gaps.iter().sum::<f64>() / n;
        let stddev = (gaps.len() >= 2).then(|| {
            let ss: f64 = gaps.iter().map(|g| (g - mean) * (g - mean)).sum();
            (ss / (n - 1.0)).sqrt()
        });
        let cv = stddev.filter(|_| mean > 0.0).map(|s| s / mean);
        let median = median_in_place(&mut gaps);
        let mut deviations: Vec<f64> = gaps.iter().map(|g| (g - median).abs()).collect();
        let mad = median_in_place(&mut deviations);
        Self {
            count,
            duration_s,
            mean_s: Some(mean),
            stddev_s: stddev,
            cv,
            median_s: Some(median),
            mad_s: Some(mad),
        }
    }
}

fn nanos_to_s(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_SECOND
}

/// Median of a non-empty slice (mean of the two middle values for even lengths).
fn median_in_place(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Fields of the struct that `inter_arrival_stats` returns.
pub fn inter_arrival_fields() -> Fields {
    let f = |name: &str, dt: DataType| Field::new(name, dt, true);
    Fields::from(vec![
        Field::new("count", DataType::Int64, false),
        f("duration_s", DataType::Float64),
        f("mean_s", DataType::Float64),
        f("stddev_s", DataType::Float64),
        f("cv", DataType::Float64),
        f("median_s", DataType::Float64),
        f("mad_s", DataType::Float64),
    ])
}

/// `inter_arrival_stats(ts)`: gap statistics of int64 epoch-nanosecond timestamps.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct InterArrivalStatsUdaf {
    signature: Signature,
}

impl Default for InterArrivalStatsUdaf {
    fn default() -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for InterArrivalStatsUdaf {
    fn name(&self) -> &str {
        INTER_ARRIVAL_STATS
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(inter_arrival_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Field::new_list_field(DataType::Int64, true);
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "timestamps"),
            DataType::List(Arc::new(item)),
            true,
        ))])
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<InterArrivalAccumulator>::default())
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::<TimingGroups>::default())
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                TIMING_SECTION,
                "Statistics of the gaps between the sorted timestamps of a group, in \
                 seconds: `count` (timestamps), `duration_s` (last - first), `mean_s`, \
                 `stddev_s` (sample, n - 1), `cv` (stddev / mean), `median_s` and `mad_s` \
                 (median absolute deviation from the median gap, unscaled). Nulls are \
                 ignored. Gap statistics are null with fewer than two timestamps \
                 (`stddev_s` and `cv` with fewer than three). Exact: the partial state is \
                 the group's timestamps, merged across partitions and executors.",
                "inter_arrival_stats(ts)",
            )
            .with_argument("ts", "Event time as Int64 epoch nanoseconds.")
            .with_sql_example(
                "```sql\n> SELECT inter_arrival_stats(ts) AS s FROM (VALUES \
                 (0), (10000000000), (20000000000), (40000000000)) AS t(ts);\n\
                 +------------------------------------------------------------------------------------------------+\n\
                 | s                                                                                              |\n\
                 +------------------------------------------------------------------------------------------------+\n\
                 | {count: 4, duration_s: 40.0, mean_s: 13.333333333333334, stddev_s: 5.773502691896258, \
                 cv: 0.4330127018922193, median_s: 10.0, mad_s: 0.0} |\n\
                 +------------------------------------------------------------------------------------------------+\n```",
            )
            .build()
        }))
    }
}

/// The timestamps of every group, for grouped aggregation: plain vectors indexed by group,
/// emitted as arrays (no per-group accumulator objects or scalar values).
#[derive(Debug, Default)]
struct TimingGroups {
    timestamps: Vec<Vec<i64>>,
    /// Capacity (in timestamps) of all the groups' vectors, kept current so that
    /// [`GroupsAccumulator::size`], called after every batch, does not walk the groups.
    allocated: usize,
}

/// The single argument (or partial-state column) as Int64 timestamps.
fn timestamps_arg(values: &[ArrayRef]) -> Result<&Int64Array> {
    let Some(values) = values.first() else {
        return Err(exec_error(INTER_ARRIVAL_STATS, "expects one argument"));
    };
    values.as_primitive_opt::<Int64Type>().ok_or_else(|| {
        exec_error(
            INTER_ARRIVAL_STATS,
            format!("expects Int64 timestamps, got {}", values.data_type()),
        )
    })
}

impl TimingGroups {
    fn push(&mut self, group: usize, ts: i64) {
        let list = &mut self.timestamps[group];
        let before = list.capacity();
        list.push(ts);
        self.allocated += list.capacity() - before;
    }

    fn extend(&mut self, group: usize, values: &[i64]) {
        let list = &mut self.timestamps[group];
        let before = list.capacity();
        list.extend_from_slice(values);
        self.allocated += list.capacity() - before;
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Vec<i64>> {
        let taken = emit_to.take_needed(&mut self.timestamps);
        let freed: usize = taken.iter().map(Vec::capacity).sum();
        self.allocated = self.allocated.saturating_sub(freed);
        taken
    }
}

impl GroupsAccumulator for TimingGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let ts = timestamps_arg(values)?;
        self.timestamps.resize_with(total_num_groups, Vec::new);
        for (row, &group) in group_indices.iter().enumerate() {
            let keep = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if keep && ts.is_valid(row) {
                self.push(group, ts.value(row));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let taken = self.take(emit_to);
        let mut count = Vec::with_capacity(taken.len());
        let mut columns: [Vec<Option<f64>>; 6] = Default::default();
        for mut timestamps in taken {
            let s = InterArrivalStats::from_timestamps(&mut timestamps);
            count.push(s.count);
            let values = [
                s.duration_s,
                s.mean_s,
                s.stddev_s,
                s.cv,
                s.median_s,
                s.mad_s,
            ];
            for (column, value) in columns.iter_mut().zip(values) {
                column.push(value);
            }
        }
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(count))];
        arrays.extend(
            columns
                .into_iter()
                .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef),
        );
        Ok(Arc::new(StructArray::try_new(
            inter_arrival_fields(),
            arrays,
            None,
        )?))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let taken = self.take(emit_to);
        let offsets = list_offsets(INTER_ARRIVAL_STATS, taken.iter().map(Vec::len))?;
        let values = Int64Array::from(taken.concat());
        let item = Arc::new(Field::new_list_field(DataType::Int64, true));
        let list = ListArray::try_new(item, offsets, Arc::new(values), None)?;
        Ok(vec![Arc::new(list)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let Some(lists) = values.first().and_then(|s| s.as_list_opt::<i32>()) else {
            return Err(exec_error(
                INTER_ARRIVAL_STATS,
                "partial state must be a list of Int64 timestamps",
            ));
        };
        let Some(items) = lists.values().as_primitive_opt::<Int64Type>() else {
            return Err(exec_error(
                INTER_ARRIVAL_STATS,
                format!(
                    "partial state holds {} values, not Int64",
                    lists.values().data_type()
                ),
            ));
        };
        self.timestamps.resize_with(total_num_groups, Vec::new);
        let offsets = lists.value_offsets();
        for (row, &group) in group_indices.iter().enumerate() {
            if lists.is_null(row) {
                continue;
            }
            let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
            if items.null_count() == 0 {
                self.extend(group, &items.values()[from..to]);
            } else {
                for ts in items.slice(from, to - from).iter().flatten() {
                    self.push(group, ts);
                }
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        rows_as_states::<Self>(values, opt_filter)
    }

    fn size(&self) -> usize {
        size_of::<Self>()
            + self.timestamps.capacity() * size_of::<Vec<i64>>()
            + self.allocated * size_of::<i64>()
    }
}

/// The one-group form, for aggregates without `GROUP BY`.
type InterArrivalAccumulator = OneGroup<TimingGroups>;

impl Grouped for TimingGroups {
    fn reserve_groups(&mut self, n: usize) {
        if self.timestamps.len() < n {
            self.timestamps.resize_with(n, Vec::new);
        }
    }
}

/// The `inter_arrival_stats` aggregate function.
pub fn inter_arrival_stats_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(InterArrivalStatsUdaf::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::prelude::SessionContext;

    const S: i64 = 1_000_000_000;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs().max(1.0))
    }

    #[test]
    fn regular_beacon_has_zero_spread() {
        let mut ts: Vec<i64> = (0..10).rev().map(|i| i * 60 * S).collect();
        let s = InterArrivalStats::from_timestamps(&mut ts);
        assert_eq!(s.count, 10);
        assert!(close(s.duration_s, 540.0));
        assert!(close(s.mean_s, 60.0));
        assert!(close(s.stddev_s, 0.0));
        assert!(close(s.cv, 0.0));
        assert!(close(s.median_s, 60.0));
        assert!(close(s.mad_s, 0.0));
    }

    #[test]
    fn known_gaps() {
        // gaps 10, 10, 20: mean 40/3, sample sd sqrt(((10-m)^2*2+(20-m)^2)/2)
        let mut ts = vec![20 * S, 0, 40 * S, 10 * S];
        let s = InterArrivalStats::from_timestamps(&mut ts);
        let mean = 40.0 / 3.0;
        let sd =
            (((10.0f64 - mean).powi(2) * 2.0 + (20.0f64 - mean).powi(2)) / 2.0).sqrt();
        assert!(close(s.mean_s, mean));
        assert!(close(s.stddev_s, sd));
        assert!(close(s.cv, sd / mean));
        assert!(close(s.median_s, 10.0));
        assert!(close(s.mad_s, 0.0));
    }

    #[test]
    fn empty_and_single() {
        let s = InterArrivalStats::from_timestamps(&mut []);
        assert_eq!(s.count, 0);
        assert_eq!(s.duration_s, None);
        assert_eq!(s.mean_s, None);
        let s = InterArrivalStats::from_timestamps(&mut [5 * S]);
        assert_eq!(s.count, 1);
        assert!(close(s.duration_s, 0.0));
        assert_eq!(s.mean_s, None);
        let s = InterArrivalStats::from_timestamps(&mut [0, 5 * S]);
        assert!(close(s.mean_s, 5.0));
        assert_eq!(s.stddev_s, None);
        assert_eq!(s.cv, None);
    }

    #[test]
    fn split_merge_equals_single_pass() {
        // Deterministic pseudo-random timestamps, split into uneven chunks, merged in
        // reverse order: the result must equal one pass over all rows.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let ts: Vec<i64> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 1_000_000) as i64 * S / 1000
            })
            .collect();
        let mut single = InterArrivalAccumulator::default();
        single
            .update_batch(&[Arc::new(Int64Array::from(ts.clone()))])
            .expect("update");
        let expected = single.evaluate().expect("evaluate");

        let mut states = Vec::new();
        for chunk in ts.chunks(137) {
            let mut acc = InterArrivalAccumulator::default();
            acc.update_batch(&[Arc::new(Int64Array::from(chunk.to_vec()))])
                .expect("update");
            states.push(acc.state().expect("state").remove(0));
        }
        states.reverse();
        let mut merged = InterArrivalAccumulator::default();
        for s in states {
            merged
                .merge_batch(&[s.to_array().expect("array")])
                .expect("merge");
        }
        assert_eq!(merged.evaluate().expect("evaluate"), expected);
    }

    #[test]
    fn nulls_are_ignored() {
        let mut acc = InterArrivalAccumulator::default();
        let input = Int64Array::from(vec![Some(0), None, Some(2 * S)]);
        acc.update_batch(&[Arc::new(input)]).expect("update");
        assert_eq!(acc.0.timestamps, vec![vec![0, 2 * S]]);
    }

    #[tokio::test]
    async fn documented_example_holds_in_sql() {
        let ctx = SessionContext::new();
        ctx.register_udaf(inter_arrival_stats_udaf().as_ref().clone());
        let batches = ctx
            .sql(
                "SELECT s['count'] AS c, s['duration_s'] AS d, s['median_s'] AS m, \
                 s['mad_s'] AS mad FROM (SELECT inter_arrival_stats(ts) AS s FROM (VALUES \
                 (0), (10000000000), (20000000000), (40000000000)) AS t(ts))",
            )
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let b = &batches[0];
        assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), 4);
        let f = |i: usize| b.column(i).as_primitive::<Float64Type>().value(0);
        assert_eq!(f(1), 40.0);
        assert_eq!(f(2), 10.0);
        assert_eq!(f(3), 0.0);
    }

    #[tokio::test]
    async fn grouped_over_partitions_equals_each_group_alone() {
        use datafusion::arrow::array::{RecordBatch, StringArray};
        use datafusion::arrow::datatypes::Schema;
        use datafusion::datasource::MemTable;

        // 40 groups with 0..=39 timestamps each (some null), spread over 3 partitions
        // of several batches, so partial states of one group meet in the final step.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rows: Vec<(String, Option<i64>)> = Vec::new();
        for g in 0..40 {
            for i in 0..g {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let ts = (i % 7 != 3).then_some((x % 1_000_000) as i64 * S / 100);
                rows.push((format!("g{g:02}"), ts));
            }
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Utf8, false),
            Field::new("ts", DataType::Int64, true),
        ]));
        let batch = |chunk: &[(String, Option<i64>)]| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(chunk.iter().map(|r| &r.0))),
                    Arc::new(Int64Array::from_iter(chunk.iter().map(|r| r.1))),
                ],
            )
            .expect("batch")
        };
        let partitions: Vec<Vec<RecordBatch>> = (0..3)
            .map(|p| {
                let mine: Vec<_> = rows.iter().skip(p).step_by(3).cloned().collect();
                mine.chunks(50).map(batch).collect()
            })
            .collect();
        let ctx = SessionContext::new();
        ctx.register_udaf(inter_arrival_stats_udaf().as_ref().clone());
        let table = MemTable::try_new(schema.clone(), partitions).expect("table");
        ctx.register_table("t", Arc::new(table)).expect("register");
        let batches = ctx
            .sql("SELECT g, inter_arrival_stats(ts) AS s FROM t GROUP BY g ORDER BY g")
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let mut seen = 0;
        for b in &batches {
            let (groups, stats) =
                (b.column(0).as_string::<i32>(), b.column(1).as_struct());
            for row in 0..b.num_rows() {
                let mut alone: Vec<i64> = rows
                    .iter()
                    .filter(|r| r.0 == groups.value(row))
                    .filter_map(|r| r.1)
                    .collect();
                let want = InterArrivalStats::from_timestamps(&mut alone);
                let column = |i: usize| {
                    let c = stats.column(i).as_primitive::<Float64Type>();
                    c.is_valid(row).then(|| c.value(row))
                };
                let count = stats.column(0).as_primitive::<Int64Type>().value(row);
                let got = InterArrivalStats {
                    count,
                    duration_s: column(1),
                    mean_s: column(2),
                    stddev_s: column(3),
                    cv: column(4),
                    median_s: column(5),
                    mad_s: column(6),
                };
                assert_eq!(got, want, "group {}", groups.value(row));
                seen += 1;
            }
        }
        // Group g00 has no rows at all, so it does not appear.
        assert_eq!(seen, 39);
    }

    #[tokio::test]
    async fn wrong_type_fails_at_planning() {
        let ctx = SessionContext::new();
        ctx.register_udaf(inter_arrival_stats_udaf().as_ref().clone());
        let err = ctx
            .sql("SELECT inter_arrival_stats(x) FROM (VALUES ('a')) AS t(x)")
            .await
            .expect_err("a string argument must be rejected");
        assert!(err.to_string().contains("inter_arrival_stats"), "{err}");
    }
}
