//! `huntsman sql`: run one query, or a file of statements, and print the last one's rows.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, UInt64Type};
use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::logical_expr::{LogicalPlan, Statement};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;

use crate::connect::{Cluster, allow_store_models, connect};
use crate::output::{Format, schema_of, write_results};
use crate::tables::{TableSource, check_tables, register_tables};

/// Arguments of `huntsman sql`.
#[derive(Debug, Clone, clap::Args)]
pub struct SqlArgs {
    /// The query to run (or use -f).
    #[arg(conflicts_with = "file", required_unless_present = "file")]
    pub query: Option<String>,
    /// A file of SQL statements separated by `;`; the last one's rows are printed.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Output format (default table).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the rows to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl SqlArgs {
    /// The SQL text and a name for error messages (the file, or "query").
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn source(&self) -> Result<(String, String)> {
        match (&self.query, &self.file) {
            (Some(q), _) => Ok((q.clone(), "query".into())),
            (None, Some(path)) => Ok((read_sql_file(path)?, path.display().to_string())),
            (None, None) => bail!("give a query or -f <file>"),
        }
    }
}

fn read_sql_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading SQL file {}", path.display()))
}

/// `huntsman sql`: checks the tables, connects, runs the statements and writes the last
/// one's rows.
///
/// # Errors
/// A table that cannot be read, a cluster that cannot be reached, a statement that fails
/// (named), or output that cannot be written.
pub async fn run(
    cluster: &Cluster,
    sources: &[TableSource],
    model_roots: &[String],
    args: &SqlArgs,
) -> Result<()> {
    let (sql, origin) = args.source()?;
    let tables = check_tables(sources).await?;
    let ctx = connect(cluster).await?;
    allow_store_models(&ctx, model_roots)?;
    register_tables(&ctx, &tables).await?;
    let (batches, schema) = run_statements(&ctx, &sql, &origin).await?;
    let schema = schema_of(&batches, schema);
    write_results(&batches, &schema, args.format, args.out.as_deref()).with_context(
        || match &args.out {
            Some(p) => format!("writing results to {}", p.display()),
            None => "writing results".to_string(),
        },
    )
}

/// Runs every statement of `sql` in order and returns the rows and schema of the last.
///
/// # Errors
/// Names the statement (by position in `origin`) that failed to parse, plan or run.
pub async fn run_statements(
    ctx: &SessionContext,
    sql: &str,
    origin: &str,
) -> Result<(Vec<RecordBatch>, SchemaRef)> {
    let (df, which) = run_all_but_last(ctx, sql, origin).await?;
    let schema: SchemaRef = df.schema().inner().clone();
    let batches = df
        .collect()
        .await
        .with_context(|| format!("running {which}"))?;
    let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
    RECEIVED_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    Ok((batches, schema))
}

/// Arrow bytes this process has received as query results (see [`received_bytes`]).
static RECEIVED_BYTES: AtomicU64 = AtomicU64::new(0);

/// How many bytes of query results (in Arrow memory) [`run_statements`] has brought into
/// this process so far; a hunt records what each phase received, which shows that the
/// tables the cluster writes never pass through the client.
pub fn received_bytes() -> u64 {
    RECEIVED_BYTES.load(Ordering::Relaxed)
}

/// Runs every statement of `sql` in order; the last one's rows are written by the
/// cluster as one Parquet file at `target` (a path or URL ending in `.parquet`) and never
/// pass through this process. Returns the rows written and their schema.
///
/// # Errors
/// Names the statement that failed to parse, plan or run, and the target.
pub async fn write_statements(
    ctx: &SessionContext,
    sql: &str,
    origin: &str,
    target: &str,
) -> Result<(u64, SchemaRef)> {
    write_statements_with(ctx, sql, origin, target, Ok).await
}

/// [`write_statements`], with `finish` applied to the last statement's plan before the
/// cluster runs it (columns every hunt's findings gain, for example).
///
/// # Errors
/// As [`write_statements`], and whatever `finish` reports.
pub async fn write_statements_with(
    ctx: &SessionContext,
    sql: &str,
    origin: &str,
    target: &str,
    finish: impl FnOnce(DataFrame) -> Result<DataFrame>,
) -> Result<(u64, SchemaRef)> {
    let (df, which) = run_all_but_last(ctx, sql, origin).await?;
    let df = finish(df).with_context(|| format!("planning {which}"))?;
    let schema: SchemaRef = df.schema().inner().clone();
    let counts = df
        .write_parquet(target, DataFrameWriteOptions::new(), None)
        .await
        .with_context(|| format!("running {which} into {target}"))?;
    let mut rows = 0;
    for batch in &counts {
        let Some(column) = batch.columns().first() else {
            continue;
        };
        let column = cast(column, &DataType::UInt64)
            .with_context(|| format!("{which}: the count of rows written to {target}"))?;
        rows += column
            .as_primitive::<UInt64Type>()
            .iter()
            .flatten()
            .sum::<u64>();
    }
    Ok((rows, schema))
}

/// Plans and runs every statement of `sql` but the last, in order, and returns the last
/// one planned (not run) with its name for messages.
async fn run_all_but_last(
    ctx: &SessionContext,
    sql: &str,
    origin: &str,
) -> Result<(DataFrame, String)> {
    let statements =
        DFParser::parse_sql(sql).with_context(|| format!("parsing SQL from {origin}"))?;
    if statements.is_empty() {
        bail!("{origin} holds no SQL statement");
    }
    let count = statements.len();
    let mut last: Option<(DataFrame, String)> = None;
    for (i, statement) in statements.into_iter().enumerate() {
        if let Some((df, which)) = last.take() {
            df.collect()
                .await
                .with_context(|| format!("running {which}"))?;
        }
        let which = if count == 1 {
            origin.to_string()
        } else {
            format!("statement {} of {count} in {origin}", i + 1)
        };
        let plan = ctx
            .state()
            .statement_to_plan(statement)
            .await
            .with_context(|| format!("planning {which}"))?;
        refuse_model_roots(&plan).with_context(|| format!("planning {which}"))?;
        let df = ctx
            .execute_logical_plan(plan)
            .await
            .with_context(|| format!("planning {which}"))?;
        last = Some((df, which));
    }
    last.context("no statement ran")
}

/// SQL cannot widen where scoring functions read models from: `huntsman.model_roots` is
/// set by the client from its store and `--model-root` only.
fn refuse_model_roots(plan: &LogicalPlan) -> Result<()> {
    if let LogicalPlan::Statement(Statement::SetVariable(set)) = plan
        && set
            .variable
            .eq_ignore_ascii_case(huntsman_udfs::config::HUNTSMAN_MODEL_ROOTS)
    {
        bail!(
            "{} cannot be set from SQL (use --model-root or HUNTSMAN_MODEL_ROOTS)",
            huntsman_udfs::config::HUNTSMAN_MODEL_ROOTS
        );
    }
    Ok(())
}
