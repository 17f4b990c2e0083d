//! `event_sequence(ts, id, max_len)`: a group's event ids in time order, the first
//! `max_len` of them.
//!
//! The process hunt needs each process's event ids in the order they happened, cut to the
//! sequence model's length. `array_slice(array_agg(id ORDER BY ts), 1, n)` computes the
//! same list but keeps every event of every group (and its ordering key) until the end:
//! on a 20-million-event lab that is most of the input held in memory at once. This
//! aggregate keeps at most `2 · max_len` (time, id) pairs per group and compacts to the
//! earliest `max_len` whenever that fills up, so its memory is bounded by the number of
//! groups, not events.
//!
//! The answer does not depend on how rows are split into batches or partitions: the
//! earliest `max_len` of a union are among the earliest `max_len` of each part, and
//! ties in time are broken by the id, so the order is total.

use std::mem::size_of;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, ListArray, PrimitiveArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo,
    GroupsAccumulator, Signature, Volatility,
};

use crate::error::exec_error;
use crate::groups::{Grouped, OneGroup, list_offsets, rows_as_states};
use crate::timing::TIMING_SECTION;

const EVENT_SEQUENCE: &str = "event_sequence";

/// The function's return type, and the type of both lists of its partial state:
/// `List(Int64)`.
fn id_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
}

/// The `event_sequence` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
struct EventSequenceUdaf {
    signature: Signature,
}

impl Default for EventSequenceUdaf {
    fn default() -> Self {
        Self {
            signature: Signature::uniform(
                3,
                vec![DataType::Int64],
                Volatility::Immutable,
            ),
        }
    }
}

impl AggregateUDFImpl for EventSequenceUdaf {
    fn name(&self) -> &str {
        EVENT_SEQUENCE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(id_list())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "ts"),
                id_list(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "ids"),
                id_list(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "max_len"),
                DataType::Int64,
                true,
            )),
        ])
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup(Groups::default())))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Groups::default()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                TIMING_SECTION,
                "The group's event ids in time order (ties broken by id), the earliest \
                 `max_len` of them: `array_slice(array_agg(id ORDER BY ts, id), 1, \
                 max_len)` in memory bounded by `max_len` per group instead of every \
                 event. Rows with a null time or id are ignored; a group with none gives \
                 an empty list.",
                "event_sequence(ts, id, max_len)",
            )
            .with_argument("ts", "Event time (Int64, e.g. epoch nanoseconds).")
            .with_argument("id", "Event id (Int64).")
            .with_argument("max_len", "How many of the earliest events to keep (≥ 1).")
            .with_sql_example(
                "```sql\n> SELECT event_sequence(ts, id, 3) AS s FROM (VALUES \
                 (30, 3), (10, 1), (20, 7), (40, 11)) AS t(ts, id);\n\
                 +-----------+\n\
                 | s         |\n\
                 +-----------+\n\
                 | [1, 7, 3] |\n\
                 +-----------+\n```",
            )
            .build()
        }))
    }
}

/// The kept events of one group.
#[derive(Debug, Default, Clone)]
struct Kept {
    events: Vec<(i64, i64)>,
}

impl Kept {
    fn push(&mut self, ts: i64, id: i64, max_len: usize) {
        self.events.push((ts, id));
        if self.events.len() >= 2 * max_len {
            self.compact(max_len);
        }
    }

    /// Keeps only the earliest `max_len` events (in no particular order).
    fn compact(&mut self, max_len: usize) {
        if self.events.len() > max_len {
            self.events.select_nth_unstable(max_len);
            self.events.truncate(max_len);
        }
    }

    /// The earliest `max_len` events, sorted.
    fn finish(&mut self, max_len: usize) -> &[(i64, i64)] {
        self.compact(max_len);
        self.events.sort_unstable();
        &self.events
    }
}

/// The state of every group of one aggregation.
#[derive(Debug, Default)]
struct Groups {
    groups: Vec<Kept>,
    /// From the `max_len` argument (or a partial state); 0 until the first row.
    max_len: usize,
    /// Capacity (in events) of all the groups' vectors, kept current so that
    /// [`GroupsAccumulator::size`], called after every batch, does not walk the groups.
    allocated: usize,
}

fn int64<'a>(array: &'a ArrayRef, what: &str) -> Result<&'a PrimitiveArray<Int64Type>> {
    array.as_primitive_opt::<Int64Type>().ok_or_else(|| {
        exec_error(
            EVENT_SEQUENCE,
            format!("{what} must be Int64, got {}", array.data_type()),
        )
    })
}

impl Groups {
    fn push(&mut self, group: usize, ts: i64, id: i64) {
        let kept = &mut self.groups[group];
        let before = kept.events.capacity();
        kept.push(ts, id, self.max_len);
        self.allocated += kept.events.capacity() - before;
    }

    /// Takes `max_len` from a column holding it (the argument, or a partial state's).
    fn set_max_len(&mut self, column: &ArrayRef) -> Result<()> {
        let column = int64(column, "max_len")?;
        let Some(value) = column.iter().flatten().next() else {
            // No rows, or a null max_len: only the former is fine once it is known.
            if column.is_empty() || self.max_len != 0 {
                return Ok(());
            }
            return Err(exec_error(EVENT_SEQUENCE, "max_len must not be null"));
        };
        let Some(max_len) = usize::try_from(value).ok().filter(|&m| m > 0) else {
            return Err(exec_error(
                EVENT_SEQUENCE,
                format!("max_len must be at least 1, got {value}"),
            ));
        };
        if self.max_len != 0 && self.max_len != max_len {
            return Err(exec_error(
                EVENT_SEQUENCE,
                format!(
                    "max_len must be constant, got {} and {max_len}",
                    self.max_len
                ),
            ));
        }
        self.max_len = max_len;
        Ok(())
    }

    /// Finishes the emitted groups, handing each one's sorted events to `each`; returns
    /// their lengths.
    fn emit(
        &mut self,
        emit_to: EmitTo,
        mut each: impl FnMut(&[(i64, i64)]),
    ) -> Vec<usize> {
        let max_len = self.max_len.max(1);
        let mut taken = emit_to.take_needed(&mut self.groups);
        let freed: usize = taken.iter().map(|k| k.events.capacity()).sum();
        self.allocated = self.allocated.saturating_sub(freed);
        taken
            .iter_mut()
            .map(|kept| {
                let events = kept.finish(max_len);
                each(events);
                events.len()
            })
            .collect()
    }
}

/// A list array of `values` cut into `lengths`.
///
/// # Errors
/// More than `i32::MAX` values.
fn int64_lists(lengths: &[usize], values: Vec<i64>) -> Result<ListArray> {
    Ok(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Int64, true)),
        list_offsets(EVENT_SEQUENCE, lengths.iter().copied())?,
        Arc::new(Int64Array::from(values)),
        None,
    ))
}

impl GroupsAccumulator for Groups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let [ts, ids, max_len] = values else {
            return Err(exec_error(EVENT_SEQUENCE, "expects (ts, id, max_len)"));
        };
        self.set_max_len(max_len)?;
        let (ts, ids) = (int64(ts, "ts")?, int64(ids, "id")?);
        self.groups.resize_with(total_num_groups, Kept::default);
        for (row, &group) in group_indices.iter().enumerate() {
            let keep = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if keep && ts.is_valid(row) && ids.is_valid(row) {
                self.push(group, ts.value(row), ids.value(row));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut ids = Vec::new();
        let lengths = self.emit(emit_to, |events| ids.extend(events.iter().map(|e| e.1)));
        Ok(Arc::new(int64_lists(&lengths, ids)?))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (mut ts, mut ids) = (Vec::new(), Vec::new());
        let lengths = self.emit(emit_to, |events| {
            ts.extend(events.iter().map(|e| e.0));
            ids.extend(events.iter().map(|e| e.1));
        });
        let (ts, ids) = (int64_lists(&lengths, ts)?, int64_lists(&lengths, ids)?);
        let max_len = i64::try_from(self.max_len).unwrap_or(i64::MAX);
        let max_len = Int64Array::from(vec![max_len; ts.len()]);
        Ok(vec![Arc::new(ts), Arc::new(ids), Arc::new(max_len)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let [ts, ids, max_len] = values else {
            return Err(exec_error(
                EVENT_SEQUENCE,
                "partial state must have 3 columns",
            ));
        };
        self.set_max_len(max_len)?;
        let lists = |a: &ArrayRef| {
            a.as_list_opt::<i32>().cloned().ok_or_else(|| {
                exec_error(EVENT_SEQUENCE, "partial state must hold Int64 lists")
            })
        };
        let (ts, ids) = (lists(ts)?, lists(ids)?);
        self.groups.resize_with(total_num_groups, Kept::default);
        for (row, &group) in group_indices.iter().enumerate() {
            if ts.is_null(row) || ids.is_null(row) {
                continue;
            }
            let (t, i) = (ts.value(row), ids.value(row));
            let (t, i) = (int64(&t, "ts")?, int64(&i, "id")?);
            if t.len() != i.len() {
                return Err(exec_error(
                    EVENT_SEQUENCE,
                    "partial state's ts and id lists differ in length",
                ));
            }
            for (&t, &i) in t.values().iter().zip(i.values()) {
                self.push(group, t, i);
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
            + self.groups.capacity() * size_of::<Kept>()
            + self.allocated * size_of::<(i64, i64)>()
    }
}

impl Grouped for Groups {
    fn reserve_groups(&mut self, n: usize) {
        if self.groups.len() < n {
            self.groups.resize_with(n, Kept::default);
        }
    }
}

/// The `event_sequence` aggregate function.
pub fn event_sequence_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(EventSequenceUdaf::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    /// A context with `t(g, ts, id)` split into `parts` partitions of small batches, so
    /// partial states are built and merged.
    async fn ctx(rows: &[(i64, i64, i64)], parts: usize) -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int64, false),
            Field::new("ts", DataType::Int64, true),
            Field::new("id", DataType::Int64, true),
        ]));
        let mut partitions = vec![Vec::new(); parts];
        for (n, chunk) in rows.chunks(3).enumerate() {
            let col = |f: fn(&(i64, i64, i64)) -> i64| {
                Arc::new(Int64Array::from(chunk.iter().map(f).collect::<Vec<_>>()))
                    as ArrayRef
            };
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![col(|r| r.0), col(|r| r.1), col(|r| r.2)],
            )
            .expect("batch");
            partitions[n % parts].push(batch);
        }
        let ctx = SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new().with_target_partitions(parts),
        );
        ctx.register_udaf(event_sequence_udaf().as_ref().clone());
        let table = MemTable::try_new(schema, partitions).expect("table");
        ctx.register_table("t", Arc::new(table)).expect("register");
        ctx
    }

    async fn column(ctx: &SessionContext, sql: &str) -> Vec<Vec<i64>> {
        let batches = ctx
            .sql(sql)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run");
        let mut out = Vec::new();
        for b in batches {
            let lists = b.column(0).as_list::<i32>();
            for i in 0..lists.len() {
                let v = lists.value(i);
                out.push(v.as_primitive::<Int64Type>().values().to_vec());
            }
        }
        out
    }

    /// Pseudo-random rows: 40 groups, ties in time, events in no order.
    fn rows() -> Vec<(i64, i64, i64)> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..3_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (
                    (x % 40) as i64,
                    ((x >> 8) % 500) as i64,
                    ((x >> 20) % 30) as i64,
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn equals_the_ordered_array_agg_it_replaces_however_the_rows_are_split() {
        let rows = rows();
        for parts in [1, 4] {
            let ctx = ctx(&rows, parts).await;
            // About 75 events per group: cut short, and longer than any group.
            for max_len in [1, 5, 60, 500] {
                let ours = column(
                    &ctx,
                    &format!(
                        "SELECT event_sequence(ts, id, {max_len}) FROM t GROUP BY g ORDER BY g"
                    ),
                )
                .await;
                let reference = column(
                    &ctx,
                    &format!(
                        "SELECT array_slice(array_agg(id ORDER BY ts, id), 1, {max_len}) \
                         FROM t GROUP BY g ORDER BY g"
                    ),
                )
                .await;
                assert_eq!(ours, reference, "max_len {max_len}, {parts} partitions");
                assert!(ours.iter().all(|s| s.len() == max_len.min(s.len())));
                if max_len <= 60 {
                    assert!(ours.iter().any(|s| s.len() == max_len), "{max_len}");
                }
            }
        }
    }

    #[tokio::test]
    async fn without_group_by_and_with_nulls() {
        let ctx = SessionContext::new();
        ctx.register_udaf(event_sequence_udaf().as_ref().clone());
        let out = column(
            &ctx,
            "SELECT event_sequence(ts, id, 3) FROM (VALUES (30, 3), (10, 1), (NULL, 5), \
             (20, 7), (40, 11), (5, NULL)) AS t(ts, id)",
        )
        .await;
        assert_eq!(out, vec![vec![1, 7, 3]]);
    }

    #[tokio::test]
    async fn bad_max_len_is_an_error_naming_the_function() {
        let ctx = SessionContext::new();
        ctx.register_udaf(event_sequence_udaf().as_ref().clone());
        // 0 keeps nothing; NULL would keep nothing silently: both are errors.
        for (max_len, expected) in [("0", "at least 1"), ("NULL", "must not be null")] {
            let sql = format!(
                "SELECT event_sequence(ts, id, {max_len}) FROM (VALUES (1, 2)) AS t(ts, id)"
            );
            let err = ctx
                .sql(&sql)
                .await
                .expect("plan")
                .collect()
                .await
                .expect_err(max_len);
            let msg = err.to_string();
            assert!(
                msg.contains("event_sequence") && msg.contains("max_len"),
                "{msg}"
            );
            assert!(msg.contains(expected), "{msg}");
        }
    }
}
