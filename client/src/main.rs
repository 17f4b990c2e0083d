//! `huntsman`: the command line. Parses flags, reads `.env`, and hands each subcommand
//! to its module in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use huntsman::connect::Cluster;
use huntsman::demo::DemoArgs;
use huntsman::ingest::IngestFilesArgs;
use huntsman::ingest::opensearch::IngestOpenSearchArgs;
use huntsman::lab::LabGenerateArgs;
use huntsman::report::error_report;
use huntsman::sql::SqlArgs;
use huntsman::tables::{DEFAULT_DATA_PATH, EVENTS_TABLE, TableSource};

/// Machine-learning-assisted threat hunting over Windows endpoint logs in Parquet.
#[derive(Debug, Parser)]
#[command(name = "huntsman", version, propagate_version = true)]
struct Cli {
    /// Remote scheduler, e.g. df://host:50050 (default: an embedded cluster in this
    /// process).
    #[arg(long, global = true, env = "HUNTSMAN_SCHEDULER")]
    scheduler: Option<String>,
    /// The events dataset: a folder or glob of Parquet files (default ./data/events).
    #[arg(long, global = true, env = "DATA_PATH", default_value = DEFAULT_DATA_PATH)]
    data: String,
    /// More tables, as name=path (repeatable).
    #[arg(long = "table", global = true, value_name = "NAME=PATH")]
    tables: Vec<String>,
    /// Task slots of the embedded executor (default: the number of CPUs).
    #[arg(long, global = true, env = "HUNTSMAN_PARALLELISM")]
    parallelism: Option<usize>,
    /// Memory pool of the embedded executor, shared by its tasks as in
    /// huntsman-executor: bytes or 512MiB, 4GiB, 1.5GB (default: 70% of memory; 0 =
    /// unbounded). Operators spill to disk when it runs short.
    #[arg(
        long,
        global = true,
        env = "HUNTSMAN_MEMORY_POOL",
        value_name = "BYTES"
    )]
    memory_pool: Option<String>,
    /// Log filter for diagnostics on standard error (default: warnings, with the
    /// embedded scheduler's and executor's own shutdown chatter left out).
    #[arg(long, global = true, env = "HUNTSMAN_LOG")]
    log: Option<String>,
    /// More places scoring functions may read models named by URI, besides the store
    /// (BASE_S3_PATH): a folder or an s3:// prefix (repeatable; comma-separated in the
    /// environment).
    #[arg(
        long = "model-root",
        global = true,
        env = "HUNTSMAN_MODEL_ROOTS",
        value_delimiter = ',',
        value_name = "FOLDER|s3://PREFIX"
    )]
    model_roots: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run SQL over the events table (and any --table).
    Sql(SqlArgs),
    /// Run hunts end to end: findings printed, results and models stored.
    Hunt(huntsman::hunt::HuntArgs),
    /// Score stored hunt runs against a lab's ground truth.
    Eval(huntsman::eval::EvalArgs),
    /// Simulated Windows lab with injected attacks and ground truth.
    #[command(subcommand)]
    Lab(LabCommand),
    /// The quick start: generate a lab if there is no data, then run a first hunt.
    Demo(DemoArgs),
    /// Bring logs into the Parquet lake.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Arrow Flight SQL endpoint: stored hunt runs as tables and live SQL on the
    /// cluster, for notebooks, BI tools and SIEM connectors (users and TLS required).
    Serve(huntsman::serve::ServeArgs),
    /// Hash a password for the Flight SQL users file (the password is read from
    /// standard input; prints name:<hash>).
    HashPassword(HashPasswordArgs),
}

#[derive(Debug, clap::Args)]
struct HashPasswordArgs {
    /// The user's name.
    #[arg(long)]
    user: String,
}

#[derive(Debug, Subcommand)]
enum IngestCommand {
    /// JSON lines (winlogbeat 6/7/8, nxlog flat; .gz too) and EVTX files.
    Files(IngestFilesArgs),
    /// Pull winlogbeat documents from OpenSearch, incrementally (checkpoint in the lake).
    #[command(name = "opensearch")]
    OpenSearch(Box<IngestOpenSearchArgs>),
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Write the lab's events (Parquet, by day) and labels.
    Generate(LabGenerateArgs),
}

impl Cli {
    fn cluster(&self) -> Result<Cluster> {
        let cluster = Cluster::from_option(self.scheduler.as_deref())?;
        let memory_pool = self
            .memory_pool
            .as_deref()
            .map(|text| {
                huntsman_udfs::session::parse_byte_size(text).map_err(|e| {
                    anyhow::anyhow!("--memory-pool / HUNTSMAN_MEMORY_POOL: {e}")
                })
            })
            .transpose()?;
        Ok(match cluster {
            Cluster::Embedded { .. } => Cluster::Embedded {
                parallelism: self.parallelism,
                memory_pool,
            },
            remote => remote,
        })
    }

    fn table_sources(&self) -> Result<Vec<TableSource>> {
        let mut sources = vec![TableSource {
            name: EVENTS_TABLE.to_string(),
            location: self.data.clone(),
        }];
        for arg in &self.tables {
            sources.push(TableSource::parse(arg)?);
        }
        Ok(sources)
    }
}

/// Where Ballista's client logs a failed job; the error reaches the user once, from
/// `main`.
const JOB_FAILURE_LOG: &str = "ballista_core::execution_plans::distributed_query";

impl Cli {
    /// The tracing filter. Ballista's in-process scheduler and executor log errors
    /// such as closed channels while the process exits; query errors reach the user
    /// through the client anyway (its own Ballista client logs each failed job too), so
    /// by default only the client's warnings show.
    fn log_filter(&self) -> String {
        match &self.log {
            Some(filter) => filter.clone(),
            None if self.scheduler.is_none() => format!(
                "warn,ballista_scheduler=off,ballista_executor=off,ballista_core=error,\
                 {JOB_FAILURE_LOG}=off"
            ),
            None => format!("warn,{JOB_FAILURE_LOG}=off"),
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Sql(args) => {
            huntsman::sql::run(
                &cli.cluster()?,
                &cli.table_sources()?,
                &cli.model_roots,
                args,
            )
            .await
        }
        Command::Hunt(args) => {
            let labels =
                huntsman::hunt::run(&cli.cluster()?, &cli.data, args, &cli.model_roots)
                    .await?;
            let Some(labels) = labels else {
                return Ok(());
            };
            println!("== evaluation against {}", labels.display());
            huntsman::eval::run(&huntsman::eval::EvalArgs {
                labels,
                run: None,
                format: huntsman::eval::EvalFormat::Table,
                pictures: None,
                // Evaluation reads the store's location only: the packs' own
                // parameters are not its business.
                sets: huntsman::hunt::params::global_sets(&args.sets),
            })
            .await
        }
        Command::Eval(args) => huntsman::eval::run(args).await,
        Command::Lab(LabCommand::Generate(args)) => {
            huntsman::lab::run(args.clone()).await
        }
        Command::Demo(args) => {
            huntsman::demo::run(&cli.cluster()?, &cli.data, args).await
        }
        Command::Serve(args) => {
            huntsman::serve::run(
                &cli.cluster()?,
                &cli.table_sources()?,
                &cli.model_roots,
                args,
            )
            .await
        }
        Command::HashPassword(args) => {
            huntsman::serve::auth::hash_password_command(&args.user)
        }
        Command::Ingest(IngestCommand::Files(args)) => {
            let report = huntsman::ingest::run_files(args.clone()).await?;
            if report.has_errors() {
                anyhow::bail!(
                    "some inputs could not be ingested (see the report above); \
                     everything else was written"
                );
            }
            Ok(())
        }
        Command::Ingest(IngestCommand::OpenSearch(args)) => {
            if huntsman::ingest::opensearch::run_opensearch(args).await? {
                anyhow::bail!(
                    "some documents could not be ingested (see the report above); \
                     everything else was written"
                );
            }
            Ok(())
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.to_string().contains("Broken pipe")
    })
}

fn main() -> ExitCode {
    // A missing .env is normal; values from it never override the real environment.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(cli.log_filter()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    if let Err(e) = &dotenv
        && !e.not_found()
    {
        eprintln!("huntsman: ignoring .env: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("huntsman: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(cli));
    // Embedded servers keep background tasks; do not wait for them at exit.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("huntsman: {}", error_report(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
