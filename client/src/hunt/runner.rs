//! Running one hunt: its SQL phases in order, each timed and shown with a progress
//! spinner; intermediate tables materialised as Parquet the cluster reads back; models
//! written to the store and handed to scoring queries by location.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use indicatif::{ProgressBar, ProgressStyle};

use super::params::Params;
use super::store::{RunDir, write_parquet};
use crate::sql::run_statements;

/// Timing of one phase, for the manifest and the summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseTiming {
    /// Phase name.
    pub phase: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Rows the phase produced.
    pub rows: u64,
}

/// One hunt's execution context.
pub struct HuntRun<'a> {
    /// The session (embedded or remote).
    pub ctx: &'a SessionContext,
    /// Checked parameters.
    pub params: &'a Params,
    /// The hunt's name.
    pub hunt: &'static str,
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
        hunt: &'static str,
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
        let result = work.await;
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
        });
        Ok(value)
    }

    fn show(&self, phase: &str, sql: &str) {
        if self.show_sql {
            println!("-- {} / {phase}\n{}\n", self.hunt, sql.trim());
        }
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
        let sql = self.render(template)?;
        self.show(phase, &sql);
        let ctx = self.ctx;
        let origin = format!("{} {phase}.sql", self.hunt);
        self.timed(phase, async move {
            let (batches, schema) = run_statements(ctx, &sql, &origin).await?;
            let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
            Ok(((batches, schema), rows))
        })
        .await
    }

    /// Runs `template` and registers its rows as table `name`, materialised as Parquet in
    /// the run's scratch folder so later phases (and remote executors) read it back.
    ///
    /// # Errors
    /// The query fails or the table cannot be written.
    pub async fn materialize(
        &mut self,
        phase: &str,
        name: &str,
        template: &str,
    ) -> Result<u64> {
        let sql = self.render(template)?;
        self.show(phase, &sql);
        let ctx = self.ctx;
        let path = self.dir.work_dir().join(format!("{name}.parquet"));
        let origin = format!("{} {phase}.sql", self.hunt);
        let table = name.to_string();
        self.timed(phase, async move {
            let (batches, schema) = run_statements(ctx, &sql, &origin).await?;
            let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            write_parquet(&path, &schema, &batches)?;
            let _ = ctx.deregister_table(&table);
            ctx.register_parquet(
                &table,
                &path.to_string_lossy(),
                ParquetReadOptions::default(),
            )
            .await
            .with_context(|| format!("registering {}", path.display()))?;
            Ok((rows, rows))
        })
        .await
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
    ) -> Result<PathBuf> {
        let sql = self.render(template)?;
        self.show(phase, &sql);
        let ctx = self.ctx;
        let origin = format!("{} {phase}.sql", self.hunt);
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
        let path = self.dir.write_model(model, &bytes)?;
        let location = path.to_string_lossy().into_owned();
        self.extra.insert(
            placeholder.to_string(),
            format!("'{}'", location.replace('\'', "''")),
        );
        self.models.insert(model.to_string(), location);
        Ok(path)
    }

    /// Runs `template` for a single number (the first column of the first row).
    ///
    /// # Errors
    /// The query fails or returns no number.
    pub async fn scalar(&mut self, phase: &str, template: &str) -> Result<Option<f64>> {
        let (batches, _) = self.query(phase, template).await?;
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let col = datafusion::arrow::compute::cast(
            batch.column(0),
            &datafusion::arrow::datatypes::DataType::Float64,
        )?;
        let col = col.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        Ok((!col.is_null(0)).then(|| col.value(0)))
    }
}
