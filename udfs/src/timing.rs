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
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, DocSection, Documentation, Signature,
    Volatility,
};

use crate::error::exec_error;

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

/// Collects the timestamps of one group.
#[derive(Debug, Default)]
struct InterArrivalAccumulator {
    timestamps: Vec<i64>,
}

impl InterArrivalAccumulator {
    fn extend_from(&mut self, values: &Int64Array) {
        if values.null_count() == 0 {
            self.timestamps.extend_from_slice(values.values());
        } else {
            self.timestamps.extend(values.iter().flatten());
        }
    }
}

impl Accumulator for InterArrivalAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else {
            return Err(exec_error(INTER_ARRIVAL_STATS, "expects one argument"));
        };
        let Some(values) = values.as_primitive_opt::<Int64Type>() else {
            return Err(exec_error(
                INTER_ARRIVAL_STATS,
                format!("expects Int64 timestamps, got {}", values.data_type()),
            ));
        };
        self.extend_from(values);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let stats = InterArrivalStats::from_timestamps(&mut self.timestamps);
        let f = |v: Option<f64>| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![stats.count])),
            f(stats.duration_s),
            f(stats.mean_s),
            f(stats.stddev_s),
            f(stats.cv),
            f(stats.median_s),
            f(stats.mad_s),
        ];
        let array = StructArray::try_new(inter_arrival_fields(), columns, None)?;
        Ok(ScalarValue::Struct(Arc::new(array)))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.timestamps.capacity() * size_of::<i64>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Int64Array::from(std::mem::take(&mut self.timestamps));
        let item = Arc::new(Field::new_list_field(DataType::Int64, true));
        let offsets = OffsetBuffer::from_lengths([values.len()]);
        let list = ListArray::try_new(item, offsets, Arc::new(values), None)?;
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(lists) = states.first().and_then(|s| s.as_list_opt::<i32>()) else {
            return Err(exec_error(
                INTER_ARRIVAL_STATS,
                "partial state must be a list of Int64 timestamps",
            ));
        };
        for list in lists.iter().flatten() {
            let Some(values) = list.as_primitive_opt::<Int64Type>() else {
                return Err(exec_error(
                    INTER_ARRIVAL_STATS,
                    format!("partial state holds {} values, not Int64", list.data_type()),
                ));
            };
            self.extend_from(values);
        }
        Ok(())
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
        assert_eq!(acc.timestamps, vec![0, 2 * S]);
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
        let f = |i: usize| {
            b.column(i)
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .value(0)
        };
        assert_eq!(f(1), 40.0);
        assert_eq!(f(2), 10.0);
        assert_eq!(f(3), 0.0);
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
