//! What a hunt's findings add up to: how many are flagged and suppressed, and the
//! ranked table the terminal prints.

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::functions::math::expr_fn::round;
use datafusion::prelude::{Expr, ParquetReadOptions, SessionContext, ident, lit};

use super::pack::Pack;
use super::{allow, runner};
use crate::location::Location;
use crate::output::{Format, schema_of, write_results};

/// How many findings a hunt flagged.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    /// Flagged and not suppressed: what the hunter is asked to look at.
    pub(super) flagged: u64,
    /// Flagged, and suppressed by an allow-list entry.
    pub(super) suppressed: u64,
}

impl Counts {
    pub(super) fn describe(self) -> String {
        match self.suppressed {
            0 => format!("{} flagged", self.flagged),
            n => format!(
                "{} flagged, {n} more suppressed by the allow-list",
                self.flagged
            ),
        }
    }
}

/// How many of the stored findings are flagged, and how many of those an allow-list
/// suppressed, counted on the cluster (0 when the findings have no `flagged` column).
pub(super) async fn count_flagged(
    ctx: &SessionContext,
    findings: &Location,
    flag: &str,
) -> Result<Counts> {
    let df = ctx
        .read_parquet(findings.table_url(), ParquetReadOptions::default())
        .await
        .with_context(|| format!("reading the findings at {findings}"))?;
    match df.schema().field_with_unqualified_name(flag) {
        Ok(field) if field.data_type() == &DataType::Boolean => {}
        Ok(field) => bail!(
            "findings column {flag} is {}, not boolean",
            field.data_type()
        ),
        Err(_) => return Ok(Counts::default()),
    }
    let batches = df
        .filter(ident(flag))
        .and_then(|df| {
            df.aggregate(
                vec![ident(allow::SUPPRESSED)],
                vec![datafusion::functions_aggregate::expr_fn::count(lit(1))],
            )
        })
        .context("counting the flagged findings")?
        .collect()
        .await
        .with_context(|| format!("counting the flagged findings at {findings}"))?;
    let mut counts = Counts::default();
    for batch in &batches {
        let suppressed = batch.column(0).as_boolean_opt();
        for i in 0..batch.num_rows() {
            let n = runner::int_at(batch.column(1), i)?
                .unwrap_or(0)
                .unsigned_abs();
            if suppressed.is_some_and(|s| s.is_valid(i) && s.value(i)) {
                counts.suppressed += n;
            } else {
                counts.flagged += n;
            }
        }
    }
    Ok(counts)
}

/// Prints the `top` highest-scored findings. The ranking runs on the cluster, so only
/// the printed rows reach this process.
pub(super) async fn print_top(
    ctx: &SessionContext,
    pack: &Pack,
    findings: &Location,
    top: usize,
    total: u64,
    counts: Counts,
) -> Result<()> {
    let df = ctx
        .read_parquet(findings.table_url(), ParquetReadOptions::default())
        .await
        .with_context(|| format!("reading the findings at {findings}"))?;
    let schema = df.schema().inner().clone();
    let columns: Vec<Expr> = pack
        .display
        .iter()
        .filter_map(|c| schema.field_with_name(c).ok())
        .map(|f| match f.data_type() {
            DataType::Float64 => round(vec![ident(f.name()), lit(3)]).alias(f.name()),
            _ => ident(f.name()),
        })
        .chain(
            schema
                .field_with_name(&pack.flag)
                .ok()
                .filter(|_| !pack.display.contains(&pack.flag))
                .map(|_| ident(&pack.flag)),
        )
        .chain(
            (counts.suppressed > 0
                && schema.field_with_name(allow::SUPPRESSED_BY).is_ok())
            .then(|| ident(allow::SUPPRESSED_BY)),
        )
        .collect();
    // Suppressed findings rank after the others: the allow-list's point is that the top
    // of the list is what a hunter has not already explained.
    let mut order = Vec::new();
    if schema.field_with_name(allow::SUPPRESSED).is_ok() {
        order.push(ident(allow::SUPPRESSED).sort(true, true));
    }
    order.push(ident(&pack.score).sort(false, false));
    let ranked = df
        .sort(order)
        .and_then(|df| df.limit(0, Some(top)))
        .and_then(|df| df.select(columns))
        .context("ranking the findings")?;
    let schema: SchemaRef = ranked.schema().inner().clone();
    let batches = ranked.collect().await.context("ranking the findings")?;
    println!(
        "== {}: top {} of {total} ({})",
        pack.name,
        (top as u64).min(total),
        counts.describe()
    );
    let schema = schema_of(&batches, schema);
    write_results(&batches, &schema, Format::Table, None)?;
    println!();
    Ok(())
}
