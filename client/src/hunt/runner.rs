//! Running one hunt: its SQL phases in order, each timed and shown with a progress
//! spinner; intermediate tables materialised as Parquet the cluster reads back; models
//! written to the store and handed to scoring queries by location.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use crate::manifest::PhaseTiming;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use indicatif::{ProgressBar, ProgressStyle};

use super::allow::{AllowList, Applied, finish_findings};
use super::pack::{Pack, Step};
use super::params::Params;
use super::store::RunDir;
use crate::location::Location;
use crate::sql::{
    received_bytes, run_statements, write_statements, write_statements_with,
};

/// One hunt's execution context.
pub struct HuntRun<'a> {
    /// The session (embedded or remote).
    pub ctx: &'a SessionContext,
    /// Checked parameters.
    pub params: &'a Params,
    /// The hunt's name.
    pub hunt: &'a str,
    /// The run being written.
    pub dir: RunDir,
    /// `${NAME}` values beyond the parameters: model locations, computed constants.
    pub extra: BTreeMap<String, String>,
    /// Phase timings so far.
    pub timings: Vec<PhaseTiming>,
    /// Model name → stored location.
    pub models: BTreeMap<String, String>,
    /// Print each statement before it runs.
    pub show_sql: bool,
    /// Score with the models stored in this folder instead of training new ones.
    pub reuse: Option<Location>,
    /// Values computed from the data (placeholder, value), for the manifest.
    pub effective: Vec<(String, String)>,
    /// The deployment's allow-list, applied to the findings.
    pub allow: Option<&'a AllowList>,
    /// Today (UTC, `YYYY-MM-DD`), against which allow-list expiries are read.
    pub today: String,
    /// What the allow-list did to the findings, for the manifest.
    pub applied: Applied,
    quiet: bool,
}

fn spinner(hunt: &str, phase: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(hunt.to_string());
    bar.set_message(phase.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

impl<'a> HuntRun<'a> {
    /// A run of `hunt` writing into `dir`.
    pub fn new(
        ctx: &'a SessionContext,
        params: &'a Params,
        hunt: &'a str,
        dir: RunDir,
        show_sql: bool,
        quiet: bool,
    ) -> Self {
        Self {
            ctx,
            params,
            hunt,
            dir,
            extra: BTreeMap::new(),
            timings: Vec::new(),
            models: BTreeMap::new(),
            show_sql,
            reuse: None,
            effective: Vec::new(),
            allow: None,
            today: super::now_iso().chars().take(10).collect(),
            applied: Applied::default(),
            quiet,
        }
    }

    /// Renders a SQL template with the parameters and the run's extra values.
    ///
    /// # Errors
    /// An unknown placeholder.
    pub fn render(&self, template: &str) -> Result<String> {
        self.params.render(template, &self.extra)
    }

    async fn timed<T>(
        &mut self,
        phase: &str,
        work: impl std::future::Future<Output = Result<(T, u64)>>,
    ) -> Result<T> {
        let bar = spinner(self.hunt, phase, self.quiet);
        let start = Instant::now();
        let received = received_bytes();
        let result = work.await;
        let client_bytes = received_bytes().saturating_sub(received);
        bar.finish_and_clear();
        let (value, rows) =
            result.with_context(|| format!("{}: phase {phase}", self.hunt))?;
        let seconds = start.elapsed().as_secs_f64();
        if !self.quiet {
            eprintln!(
                "  {:<20} {phase:<28} {rows:>10} rows {seconds:>8.2} s",
                self.hunt
            );
        }
        self.timings.push(PhaseTiming {
            phase: phase.to_string(),
            seconds,
            rows,
            client_bytes,
        });
        Ok(value)
    }

    /// Renders a phase's SQL, prints it under `--show-sql`, and names it for errors.
    fn prepare(&self, phase: &str, template: &str) -> Result<(String, String)> {
        let sql = self.render(template)?;
        if self.show_sql {
            println!("-- {} / {phase}\n{}\n", self.hunt, sql.trim());
        }
        Ok((sql, format!("{} {phase}.sql", self.hunt)))
    }

    /// Runs the statements of `template` and returns the last one's rows.
    ///
    /// # Errors
    /// Any statement failing, named.
    pub async fn query(
        &mut self,
        phase: &str,
        template: &str,
    ) -> Result<(Vec<RecordBatch>, SchemaRef)> {
        let (sql, origin) = self.prepare(phase, template)?;
        let ctx = self.ctx;
        self.timed(phase, async move {
            let (batches, schema) = run_statements(ctx, &sql, &origin).await?;
            let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
            Ok(((batches, schema), rows))
        })
        .await
    }

    /// Runs `template` and registers its rows as table `name`: the cluster writes them as
    /// Parquet into the run's scratch folder, and later phases read them back from
    /// there. The rows never pass through this process. Returns the number of rows.
    ///
    /// # Errors
    /// The query fails or the table cannot be written.
    pub async fn materialize(
        &mut self,
        phase: &str,
        name: &str,
        template: &str,
    ) -> Result<u64> {
        let location = self.dir.work_dir().join(&format!("{name}.parquet"));
        let rows = self.write(phase, template, &location).await?;
        let ctx = self.ctx;
        let _ = ctx.deregister_table(name);
        ctx.register_parquet(name, &location.table_url(), ParquetReadOptions::default())
            .await
            .with_context(|| format!("registering {location}"))?;
        Ok(rows)
    }

    /// Runs `template` and has the cluster write its rows as one Parquet file at
    /// `location`. Returns the number of rows written.
    ///
    /// # Errors
    /// The query or the write fails.
    pub async fn write(
        &mut self,
        phase: &str,
        template: &str,
        location: &Location,
    ) -> Result<u64> {
        let (sql, origin) = self.prepare(phase, template)?;
        let ctx = self.ctx;
        let target = location.table_url();
        self.timed(phase, async move {
            let (rows, _) = write_statements(ctx, &sql, &origin, &target).await?;
            Ok((rows, rows))
        })
        .await
    }

    /// Runs the findings `template` and has the cluster write its rows at `location`,
    /// with the columns every hunt's findings gain (see [`finish_findings`]). Returns the
    /// number of rows written.
    ///
    /// # Errors
    /// The query or the write fails, or an allow-list entry does not fit the findings.
    pub async fn write_findings(
        &mut self,
        phase: &str,
        template: &str,
        location: &Location,
        attack: &[String],
    ) -> Result<u64> {
        let attack: Vec<&str> = attack.iter().map(String::as_str).collect();
        let (sql, origin) = self.prepare(phase, template)?;
        let (ctx, hunt, allow) = (self.ctx, self.hunt, self.allow);
        let today = self.today.clone();
        let target = location.table_url();
        let mut applied = Applied::default();
        let rows = self
            .timed(phase, async {
                let finish = |df: DataFrame| -> Result<DataFrame> {
                    let (df, done) = finish_findings(df, hunt, &attack, allow, &today)?;
                    applied = done;
                    Ok(df)
                };
                let (rows, _) =
                    write_statements_with(ctx, &sql, &origin, &target, finish).await?;
                Ok((rows, rows))
            })
            .await?;
        self.applied = applied;
        Ok(rows)
    }

    /// Runs a training query (one row, one Binary column: the model), stores the model
    /// and makes its location available to later SQL as `${<placeholder>}`.
    ///
    /// # Errors
    /// The query fails, returns no model (no training rows), or the model cannot be
    /// stored.
    pub async fn fit(
        &mut self,
        phase: &str,
        model: &str,
        placeholder: &str,
        template: &str,
    ) -> Result<Location> {
        if let Some(dir) = &self.reuse {
            let location = dir.join(&format!("{model}.hntm"));
            let bytes = location.get().await.with_context(|| {
                format!("{}: reading stored model {location}", self.hunt)
            })?;
            huntsman_udfs::model_io::verify(&bytes).with_context(|| {
                format!("{}: stored model {location} is not usable", self.hunt)
            })?;
            return Ok(self.use_model(model, placeholder, location));
        }
        let (sql, origin) = self.prepare(phase, template)?;
        let ctx = self.ctx;
        let bytes = self
            .timed(phase, async move {
                let (batches, _) = run_statements(ctx, &sql, &origin).await?;
                let column = batches
                    .iter()
                    .find(|b| b.num_rows() > 0)
                    .map(|b| b.column(0).clone());
                let Some(column) = column else {
                    bail!("training returned no rows");
                };
                let Some(binary) = column.as_binary_opt::<i32>() else {
                    bail!("training returned {} instead of a model", column.data_type());
                };
                if binary.is_null(0) {
                    bail!("no rows to train on: the features are empty (check the data range and filters)");
                }
                Ok((binary.value(0).to_vec(), 1))
            })
            .await?;
        let location = self.dir.write_model(model, &bytes).await?;
        Ok(self.use_model(model, placeholder, location))
    }

    fn use_model(
        &mut self,
        model: &str,
        placeholder: &str,
        location: Location,
    ) -> Location {
        let text = location.table_url();
        self.extra.insert(
            placeholder.to_string(),
            format!("'{}'", text.replace('\'', "''")),
        );
        self.models.insert(model.to_string(), text);
        location
    }

    /// Runs `template` for a single number (first column of the first row) and returns
    /// it as a SQL literal: whole numbers stay exact (nanosecond timestamps do not fit
    /// a double).
    ///
    /// # Errors
    /// The query fails or returns something that is not a number.
    pub async fn scalar(
        &mut self,
        phase: &str,
        template: &str,
    ) -> Result<Option<String>> {
        use datafusion::arrow::datatypes::{DataType, Float64Type};
        let (batches, _) = self.query(phase, template).await?;
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let column = batch.column(0);
        if column.data_type().is_integer() {
            return Ok(int_at(column, 0)?.map(|v| v.to_string()));
        }
        if !column.data_type().is_numeric() {
            bail!(
                "phase {phase} returned {}, not a number",
                column.data_type()
            );
        }
        if column.is_null(0) {
            return Ok(None);
        }
        let col = datafusion::arrow::compute::cast(column, &DataType::Float64)?;
        let value = col.as_primitive::<Float64Type>().value(0);
        Ok(Some(format!("{value:?}")))
    }
}

/// Row `i` of an integer (or timestamp) column as an i64; `None` when null.
///
/// # Errors
/// The column cannot be cast to Int64.
pub fn int_at(column: &ArrayRef, i: usize) -> Result<Option<i64>> {
    use datafusion::arrow::datatypes::{DataType, Int64Type};
    if column.is_null(i) {
        return Ok(None);
    }
    let col = datafusion::arrow::compute::cast(column, &DataType::Int64)?;
    Ok(Some(col.as_primitive::<Int64Type>().value(i)))
}

/// Runs `pack`'s plan.
///
/// # Errors
/// A failing step.
/// Returns the findings step's rows and schema, or why there was nothing to score (a
/// table the plan cannot go on without came out empty); values computed from the data are
/// left in `run.effective`.
pub async fn run_pack(pack: &Pack, run: &mut HuntRun<'_>) -> Result<Findings> {
    let mut findings = None;
    for phase in &pack.phases {
        let sql = pack.file(&phase.sql)?;
        let name = phase.name.as_str();
        match &phase.step {
            Step::Table { table, empty } => {
                let rows = run.materialize(name, table, sql).await?;
                if rows == 0
                    && let Some(why) = empty
                {
                    return Ok(Findings::Nothing(why.clone()));
                }
            }
            Step::Fit { model, placeholder } => {
                run.fit(name, model, placeholder, sql).await?;
            }
            Step::Value { placeholder } => {
                let Some(value) = run.scalar(name, sql).await? else {
                    bail!("{}: phase {name} returned no value", pack.name);
                };
                run.extra.insert(placeholder.clone(), value.clone());
                run.effective.push((placeholder.clone(), value));
            }
            Step::Findings => {
                let location = run.dir.staging_table("findings");
                let rows = run
                    .write_findings(name, sql, &location, &pack.attack)
                    .await?;
                findings = Some(Findings::Stored { location, rows });
            }
        }
    }
    findings.with_context(|| format!("internal: {} has no findings phase", pack.name))
}

/// What a hunt's plan ended with.
#[derive(Debug)]
pub enum Findings {
    /// Every scored entity with its evidence, written by the cluster into the run.
    Stored {
        /// Where the findings are while the run is written.
        location: Location,
        /// How many entities were scored.
        rows: u64,
    },
    /// The data held nothing this hunt can score, and why: an empty result, not an error.
    Nothing(String),
}
