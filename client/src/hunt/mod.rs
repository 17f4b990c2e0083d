//! `huntsman hunt`: the hunts of HUNTS.md end to end. Feature extraction runs as SQL on
//! the cluster, training as `*_fit` aggregates, scoring as scoring functions; findings
//! are printed ranked and stored with a manifest (see [`store`]).
//!
//! Each hunt's SQL lives in `client/sql/hunts/<hunt>/` as numbered files a hunter can read,
//! copy and adapt (`--show-sql` prints them with the parameters filled in).

/// `[(name, text)]` of a hunt's SQL files under `client/sql/hunts/<hunt>/`.
macro_rules! sql_files {
    ($hunt:literal, $($file:literal),+ $(,)?) => {
        [$(($file, include_str!(concat!("../../sql/hunts/", $hunt, "/", $file, ".sql")))),+]
    };
}

pub mod ad;
pub mod allow;
pub mod c2;
pub mod columns;
pub mod params;
pub mod process;
pub mod runner;
pub mod store;
pub mod widespread;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::functions::math::expr_fn::round;
use datafusion::prelude::{Expr, ParquetReadOptions, SessionContext, ident, lit};

use crate::connect::{Cluster, connect};
use crate::fingerprint::Fingerprint;
use crate::location::Location;
use crate::output::{Format, schema_of, write_results};
use crate::sql::write_statements;
use crate::tables::{DEFAULT_DATA_PATH, TableSource, check_tables, register_tables};
use columns::{ColumnMap, ColumnReport, SOURCE_TABLE, prepare_events};
use params::Params;
use runner::{Findings, HuntRun, HuntSpec};
use store::Store;

/// The hunts `huntsman hunt` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HuntName {
    /// AD enumeration per (account, week): k-means over TF-IDF of LDAP queries.
    AdEnumKmeans,
    /// AD enumeration per (account, week): autoencoder over LDAP query terms.
    AdEnumAutoencoder,
    /// Regular outbound connections per (process, destination).
    C2Beacon,
    /// Processes whose event sequence and activity deviate from their kind's.
    ProcessAnomaly,
    /// One internal host reaching many others and acting on them.
    WidespreadAttack,
    /// Every hunt this build implements, one after another.
    All,
}

impl HuntName {
    /// The hunts this selection runs.
    pub fn expand(self) -> Vec<&'static str> {
        match self {
            HuntName::AdEnumKmeans => vec![ad::KMEANS],
            HuntName::AdEnumAutoencoder => vec![ad::AUTOENCODER],
            HuntName::C2Beacon => vec![c2::NAME],
            HuntName::ProcessAnomaly => vec![process::NAME],
            HuntName::WidespreadAttack => vec![widespread::NAME],
            HuntName::All => HUNTS.iter().map(|s| s.name).collect(),
        }
    }
}

/// Arguments of `huntsman hunt`.
#[derive(Debug, Clone, clap::Args)]
pub struct HuntArgs {
    /// Which hunt to run.
    #[arg(value_enum, required_unless_present_any = ["list_params", "export_sql"])]
    pub hunt: Option<HuntName>,
    /// Override a parameter: NAME=VALUE (repeatable; beats the environment and .env).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Print every parameter with its value and where it came from, then exit.
    #[arg(long)]
    pub list_params: bool,
    /// Print each SQL statement (parameters filled in) before it runs.
    #[arg(long)]
    pub show_sql: bool,
    /// Run your own copies of the hunts' SQL: `<DIR>/<hunt folder>/<file>.sql` replaces
    /// the built-in file of that name (see --export-sql); the manifest lists those that
    /// differ.
    #[arg(long, value_name = "DIR", env = "HUNTSMAN_SQL_DIR")]
    pub sql_dir: Option<PathBuf>,
    /// Write every hunt's built-in SQL files into DIR (as `<hunt folder>/<file>.sql`),
    /// to copy and adapt with --sql-dir, then exit.
    #[arg(long, value_name = "DIR", conflicts_with = "sql_dir")]
    pub export_sql: Option<PathBuf>,
    /// Map the data's columns onto the hunts' names with this TOML file.
    #[arg(
        long = "columns",
        value_name = "MAPPING.toml",
        conflicts_with = "profile"
    )]
    pub columns: Option<PathBuf>,
    /// Map the data's columns with a built-in profile (winlogbeat-flat, nxlog-flat).
    #[arg(long)]
    pub profile: Option<String>,
    /// Only events at or after this time (e.g. 2026-03-02 or 2026-03-02T08:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Score with the models of an earlier run (its run id, or a models folder) instead
    /// of training new ones.
    #[arg(long, value_name = "RUN-ID|FOLDER")]
    pub models: Option<String>,
    /// Evaluate the runs against this lab's ground truth when the hunts are done
    /// (default: the labels/ folder beside the data, when there is one).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Suppress known-benign findings with this allow-list (TOML, see docs/hunts.md):
    /// matching findings stay in the results, marked suppressed with the entry's reason.
    #[arg(long, value_name = "FILE.toml", env = "HUNTSMAN_ALLOW_LIST")]
    pub allow_list: Option<PathBuf>,
    /// Do not print progress, only findings.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `huntsman hunt`. Scoring functions read models from the store, the `--models`
/// folder and `model_roots` only (`huntsman.model_roots`).
///
/// # Errors
/// Bad parameters, bad input data, a failing phase; each named.
pub async fn run(
    cluster: &Cluster,
    data: &str,
    args: &HuntArgs,
    model_roots: &[String],
) -> Result<()> {
    let params = Params::from_env(&args.sets)?;
    if args.list_params {
        print!("{}", params.describe());
        return Ok(());
    }
    if let Some(dir) = &args.export_sql {
        let written = export_sql(dir)?;
        println!("wrote {written} SQL files under {}", dir.display());
        return Ok(());
    }
    let Some(selection) = args.hunt else {
        bail!("name a hunt (or --list-params, --export-sql)");
    };
    if let Some(dir) = &args.sql_dir
        && !dir.is_dir()
    {
        bail!("--sql-dir {}: not a folder", dir.display());
    }
    let map = match (&args.columns, &args.profile) {
        (Some(path), _) => ColumnMap::load(path)?,
        (None, Some(p)) => ColumnMap::profile(p)?,
        (None, None) => ColumnMap::default(),
    };
    let mut data = data.to_string();
    if data == DEFAULT_DATA_PATH && !crate::demo::has_parquet(std::path::Path::new(&data))
    {
        // The quick start: no data configured and none at the default path.
        let lab = std::path::Path::new(DEFAULT_DATA_PATH)
            .parent()
            .unwrap_or(std::path::Path::new("."));
        data = crate::demo::generate_default_lab(&data, lab)?;
    }
    let names: Vec<&str> = HUNTS.iter().map(|s| s.name).collect();
    let allow = match &args.allow_list {
        Some(path) => Some(allow::AllowList::load(path, &names)?),
        None => None,
    };
    let labels = args.labels.clone().or_else(|| labels_beside(&data));
    let tables = check_tables(&[TableSource {
        name: SOURCE_TABLE.into(),
        location: data.clone(),
    }])
    .await?;
    let store = Store::open(params.text("BASE_S3_PATH")?)?;
    let ctx = connect(cluster).await?;
    check_store_shared(&ctx, &store, cluster).await?;
    let mut roots = vec![store.root().table_url()];
    if let Some(models) = &args.models
        && (std::path::Path::new(models).is_dir()
            || huntsman_udfs::objstore::is_object_url(models))
    {
        roots.push(models.clone());
    }
    roots.extend(model_roots.iter().cloned());
    crate::connect::set_model_roots(&ctx, &roots)?;
    if params.flag("USE_GPU")? {
        if matches!(cluster, Cluster::Embedded { .. }) {
            // The embedded executor runs in this process: probe its GPU once, now, so a
            // bad HUNTSMAN_GPU_DEVICES fails here and the backend is reported up front.
            let gpu = huntsman_udfs::neural::gpu::gpu_runtime()
                .context("USE_GPU=true: the GPU settings")?;
            if gpu.pool().is_some() {
                eprintln!("huntsman: neural backend: {}", gpu.describe());
            } else {
                eprintln!(
                    "huntsman: warning: USE_GPU=true but the neural backend is {}",
                    gpu.describe()
                );
            }
        }
        ctx.sql("SET huntsman.use_gpu = true")
            .await
            .context("USE_GPU=true")?
            .collect()
            .await
            .context("USE_GPU=true")?;
    }
    register_tables(&ctx, &tables).await?;
    let mut failures = Vec::new();
    // Every hunt reads the same events, so their count and time range are measured once.
    let mut range = None;
    for hunt in selection.expand() {
        let shared = Shared {
            ctx: &ctx,
            params: &params,
            store: &store,
            data: &data,
            map: &map,
            args,
            allow: allow.as_ref(),
        };
        let result = run_one(shared, hunt, &mut range);
        if let Err(e) = result.await {
            if selection != HuntName::All {
                return Err(e);
            }
            eprintln!(
                "huntsman: {hunt} failed: {}",
                crate::report::error_report(&format!("{e:#}"))
            );
            failures.push(hunt);
        }
    }
    if !failures.is_empty() {
        bail!("{} hunt(s) failed: {}", failures.len(), failures.join(", "));
    }
    if let Some(labels) = labels {
        println!("== evaluation against {}", labels.display());
        crate::eval::run(&crate::eval::EvalArgs {
            labels,
            run: None,
            format: crate::eval::EvalFormat::Table,
            pictures: None,
            sets: args.sets.clone(),
        })
        .await?;
    }
    Ok(())
}

/// Writes every hunt's built-in SQL files under `dir`; returns how many.
///
/// # Errors
/// A file that cannot be written, named; an existing file is never replaced.
fn export_sql(dir: &std::path::Path) -> Result<usize> {
    let mut written = std::collections::BTreeSet::new();
    for spec in HUNTS {
        let folder = dir.join(spec.folder);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        for (name, text) in spec.files {
            let path = folder.join(format!("{name}.sql"));
            if !written.insert(path.clone()) {
                continue;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .with_context(|| {
                    format!("writing {} (it must not exist yet)", path.display())
                })?;
            std::io::Write::write_all(&mut file, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(written.len())
}

/// `<data>/../labels` when it holds a ground truth (a generated lab's layout).
fn labels_beside(data: &str) -> Option<PathBuf> {
    let labels = std::path::Path::new(data).parent()?.join("labels");
    labels.join("ground_truth.json").is_file().then_some(labels)
}

/// Every hunt this build implements.
pub const HUNTS: &[&HuntSpec] = &[
    &ad::KMEANS_SPEC,
    &ad::AUTOENCODER_SPEC,
    &c2::SPEC,
    &process::SPEC,
    &widespread::SPEC,
];

fn spec(hunt: &str) -> Result<&'static HuntSpec> {
    HUNTS
        .iter()
        .copied()
        .find(|s| s.name == hunt)
        .ok_or_else(|| anyhow::anyhow!("internal: unknown hunt {hunt}"))
}

/// What every hunt of one `huntsman hunt` shares.
#[derive(Clone, Copy)]
struct Shared<'a> {
    ctx: &'a SessionContext,
    params: &'a Params,
    store: &'a Store,
    /// The events' location, as given.
    data: &'a str,
    map: &'a ColumnMap,
    args: &'a HuntArgs,
    allow: Option<&'a allow::AllowList>,
}

async fn run_one(
    shared: Shared<'_>,
    hunt: &'static str,
    range: &mut Option<(Fingerprint, DataRange)>,
) -> Result<()> {
    let Shared {
        ctx,
        params,
        store,
        data: _,
        map,
        args,
        allow,
    } = shared;
    let started = Instant::now();
    let started_at = now_iso();
    let spec = spec(hunt)?;
    let report = prepare_events(ctx, map, spec.columns)
        .await
        .with_context(|| format!("{hunt}: checking the input columns"))?;
    if !args.quiet {
        eprintln!("{hunt}: columns\n{}", report.describe());
    }
    let (fingerprint, range) = match *range {
        Some(r) => {
            restrict_time(ctx, args).await?;
            r
        }
        None => {
            // The whole data set's fingerprint, then the range the hunt sees.
            let whole = measure(ctx).await?;
            restrict_time(ctx, args).await?;
            let seen = if args.since.is_none() && args.until.is_none() {
                whole
            } else {
                measure(ctx).await?
            };
            check_not_empty(&seen, args)?;
            *range.insert((whole.fingerprint(), seen))
        }
    };
    let run_id = crate::ingest::new_run_id();
    let reuse = match &args.models {
        Some(models) => Some(stored_models(store, hunt, models).await?),
        None => None,
    };
    let dir = store.begin(hunt, &run_id).await?;
    let mut run = HuntRun::new(ctx, params, hunt, dir, args.show_sql, args.quiet);
    run.reuse = reuse;
    run.allow = allow;
    run.sql_dir.clone_from(&args.sql_dir);
    let outcome = execute(
        &mut run,
        spec,
        shared,
        &report,
        (fingerprint, range),
        (started, &started_at),
    )
    .await;
    for entry in &run.applied.expired {
        eprintln!(
            "huntsman: warning: allow-list {}:{}: entry '{}' expired on {}; it no longer \
             suppresses {hunt} findings",
            run.applied.file.as_deref().unwrap_or("?"),
            entry.line,
            entry.id,
            entry.expires.as_deref().unwrap_or("?"),
        );
    }
    let (findings, counts, final_dir) = match outcome {
        Ok(done) => done,
        Err(e) => {
            run.dir.discard().await;
            return Err(e);
        }
    };
    let total = match findings {
        Findings::Stored { rows, .. } => rows,
        Findings::Nothing(why) => {
            // An empty result is a result: said, stored, and not an error.
            println!("== {hunt}: nothing to score: {why}\n");
            if !args.quiet {
                eprintln!(
                    "{hunt}: 0 entities scored, {:.1} s; run recorded in {final_dir}\n",
                    started.elapsed().as_secs_f64(),
                );
            }
            return Ok(());
        }
    };
    let top = params.int("TOP_N")?;
    let stored = run.dir.final_table("findings");
    print_top(ctx, spec, &stored, top as usize, total, counts).await?;
    if !args.quiet {
        eprintln!(
            "{hunt}: {total} entities scored, {}, {:.1} s; results in {final_dir}\n",
            counts.describe(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(())
}

/// The models folder `--models` names: a local folder, an `s3://` prefix, or a run id of
/// `hunt` in the store.
async fn stored_models(store: &Store, hunt: &str, models: &str) -> Result<Location> {
    let local = std::path::Path::new(models);
    let folder = if local.is_dir() {
        Location::Local(
            local
                .canonicalize()
                .with_context(|| format!("--models {models}"))?,
        )
    } else if huntsman_udfs::objstore::is_object_url(models) {
        Location::parse(models).with_context(|| format!("--models {models}"))?
    } else {
        store.models_dir(hunt).join(models)
    };
    let listed = folder
        .list()
        .await
        .with_context(|| format!("{hunt}: --models {models}"))?;
    if listed.is_empty() {
        bail!("{hunt}: --models {models}: no such run or models folder ({folder})");
    }
    Ok(folder)
}

/// Runs a prepared hunt to its committed results: the phases, the findings, the manifest.
async fn execute(
    run: &mut HuntRun<'_>,
    spec: &HuntSpec,
    shared: Shared<'_>,
    report: &ColumnReport,
    (fingerprint, range): (Fingerprint, DataRange),
    (started, started_at): (Instant, &str),
) -> Result<(Findings, Counts, Location)> {
    let Shared {
        params, data, args, ..
    } = shared;
    let hunt = spec.name;
    let findings = spec.run(run).await?;
    let (findings_path, total, counts, nothing) = match &findings {
        Findings::Stored { location, rows } => {
            let counts = count_flagged(run.ctx, location).await?;
            let path = run.dir.final_table("findings");
            (Some(path.table_url()), *rows, counts, None)
        }
        Findings::Nothing(why) => (None, 0, Counts::default(), Some(why.clone())),
    };
    let manifest = serde_json::json!({
        "format": "huntsman-run",
        "version": 1,
        "hunt": hunt,
        "run_id": run.dir.run_id(),
        "started": started_at,
        "finished": now_iso(),
        "seconds": started.elapsed().as_secs_f64(),
        "data": {
            "location": data,
            "since": args.since,
            "until": args.until,
            "events": range.events,
            "first_event_ns": range.first_ns,
            "last_event_ns": range.last_ns,
            "fingerprint": fingerprint,
        },
        "columns": report.columns.iter().map(|c| (c.canonical.clone(), c.source.clone()))
            .collect::<std::collections::BTreeMap<_, _>>(),
        "parameters": params.for_hunt(hunt),
        "effective": run.effective.iter().cloned()
            .collect::<std::collections::BTreeMap<_, _>>(),
        "sql_overrides": run.sql_overrides,
        "models": run.models,
        "results": {
            "findings": findings_path,
            "nothing_to_score": nothing,
            "entity": spec.entity,
            "score": spec.score,
            "rows": total,
            "flagged": counts.flagged,
            "suppressed": counts.suppressed,
            "attack_techniques": spec.attack,
        },
        "allow_list": run.applied,
        "phases": run.timings,
    });
    let final_dir = run.dir.commit(&manifest).await?;
    Ok((findings, counts, final_dir))
}

/// Narrows the `events` view to `--since`/`--until`.
async fn restrict_time(ctx: &SessionContext, args: &HuntArgs) -> Result<()> {
    // Bounds are parsed by evaluating them here, in-process: planning alone does not
    // evaluate a literal, and a bad one would otherwise fail deep inside the first job.
    let local = SessionContext::new();
    let mut conditions = Vec::new();
    for (bound, op, flag) in [
        (&args.since, ">=", "--since"),
        (&args.until, "<", "--until"),
    ] {
        if let Some(t) = bound {
            let literal = format!("'{}'", t.replace('\'', "''"));
            let check = format!("SELECT to_timestamp_nanos({literal})");
            async { local.sql(&check).await?.collect().await }
                .await
                .with_context(|| format!("{flag} {t}: not a date or time"))?;
            conditions.push(format!(
                "event_created {op} CAST(to_timestamp_nanos({literal}) AS BIGINT)"
            ));
        }
    }
    if conditions.is_empty() {
        return Ok(());
    }
    let inner = ctx.table("events").await.context("the events view")?;
    let _ = ctx.deregister_table("events_mapped");
    ctx.register_table("events_mapped", inner.into_view())
        .context("narrowing the time range")?;
    ctx.sql(&format!(
        "CREATE OR REPLACE VIEW events AS SELECT * FROM events_mapped WHERE {}",
        conditions.join(" AND ")
    ))
    .await
    .context("narrowing the time range")?
    .collect()
    .await
    .context("narrowing the time range")?;
    Ok(())
}

/// How many events a hunt saw, and their first and last time (epoch ns).
#[derive(Debug, Clone, Copy)]
struct DataRange {
    events: i64,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
}

impl DataRange {
    /// The fingerprint of these events (an empty range has zero times).
    fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            events: u64::try_from(self.events).unwrap_or(0),
            first_event_ns: self.first_ns.unwrap_or(0),
            last_event_ns: self.last_ns.unwrap_or(0),
        }
    }
}

/// The count and time range of the `events` view.
async fn measure(ctx: &SessionContext) -> Result<DataRange> {
    let batches = ctx
        .sql("SELECT count(*), min(event_created), max(event_created) FROM events")
        .await
        .context("measuring the data range")?
        .collect()
        .await
        .context("measuring the data range")?;
    let Some(batch) = batches.first() else {
        bail!("measuring the data range returned nothing");
    };
    Ok(DataRange {
        events: runner::int_at(batch.column(0), 0)?.unwrap_or(0),
        first_ns: runner::int_at(batch.column(1), 0)?,
        last_ns: runner::int_at(batch.column(2), 0)?,
    })
}

/// An empty range is an error: there is nothing to hunt in.
fn check_not_empty(range: &DataRange, args: &HuntArgs) -> Result<()> {
    if range.events == 0 {
        match (&args.since, &args.until) {
            (None, None) => bail!("the events data holds no rows"),
            (since, until) => bail!(
                "no events in the time range {} .. {}",
                since.as_deref().unwrap_or("(start)"),
                until.as_deref().unwrap_or("(end)")
            ),
        }
    }
    Ok(())
}

/// The executors write every table of a run into the store themselves. With a remote
/// cluster and the store in a local folder, that folder must be the executors' too (one
/// machine, or a mount at the same path): refused before anything runs when a probe
/// file the cluster writes there does not arrive here.
async fn check_store_shared(
    ctx: &SessionContext,
    store: &Store,
    cluster: &Cluster,
) -> Result<()> {
    let (Cluster::Remote(url), Location::Local(root)) = (cluster, store.root()) else {
        return Ok(());
    };
    let probe = store.root().join(&format!(
        "scratch/.probe-{}.parquet",
        crate::ingest::new_run_id()
    ));
    let written = write_statements(
        ctx,
        "SELECT 1 AS probe",
        "the store probe",
        &probe.table_url(),
    )
    .await;
    let arrived = probe.exists().await.unwrap_or(false);
    if let Location::Local(file) = &probe {
        let _ = std::fs::remove_file(file);
    }
    let why = match (written, arrived) {
        (Ok(_), true) => return Ok(()),
        (Ok(_), false) => "a file the executors wrote there did not arrive".to_string(),
        (Err(e), _) => format!(
            "the executors could not write there: {}",
            crate::report::error_report(&format!("{e:#}"))
        ),
    };
    bail!(
        "BASE_S3_PATH {} is a folder on this machine, and the executors of {url} write \
         the hunts' tables into the store themselves ({why}); set BASE_S3_PATH to an \
         s3:// store that every executor reaches, or mount the folder at the same path on \
         every executor",
        root.display()
    )
}

/// How many findings a hunt flagged.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    /// Flagged and not suppressed: what the hunter is asked to look at.
    flagged: u64,
    /// Flagged, and suppressed by an allow-list entry.
    suppressed: u64,
}

impl Counts {
    fn describe(self) -> String {
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
async fn count_flagged(ctx: &SessionContext, findings: &Location) -> Result<Counts> {
    let df = ctx
        .read_parquet(findings.table_url(), ParquetReadOptions::default())
        .await
        .with_context(|| format!("reading the findings at {findings}"))?;
    match df.schema().field_with_unqualified_name("flagged") {
        Ok(field) if field.data_type() == &DataType::Boolean => {}
        Ok(field) => bail!("internal: flagged is {}, not boolean", field.data_type()),
        Err(_) => return Ok(Counts::default()),
    }
    let batches = df
        .filter(ident("flagged"))
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
async fn print_top(
    ctx: &SessionContext,
    spec: &HuntSpec,
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
    let columns: Vec<Expr> = spec
        .display
        .iter()
        .filter_map(|c| schema.field_with_name(c).ok())
        .map(|f| match f.data_type() {
            DataType::Float64 => round(vec![ident(f.name()), lit(3)]).alias(f.name()),
            _ => ident(f.name()),
        })
        .chain(
            schema
                .field_with_name("flagged")
                .ok()
                .map(|_| ident("flagged")),
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
    order.push(ident(spec.score).sort(false, false));
    let ranked = df
        .sort(order)
        .and_then(|df| df.limit(0, Some(top)))
        .and_then(|df| df.select(columns))
        .context("ranking the findings")?;
    let schema: SchemaRef = ranked.schema().inner().clone();
    let batches = ranked.collect().await.context("ranking the findings")?;
    println!(
        "== {}: top {} of {total} ({})",
        spec.name,
        (top as u64).min(total),
        counts.describe()
    );
    let schema = schema_of(&batches, schema);
    write_results(&batches, &schema, Format::Table, None)?;
    println!();
    Ok(())
}

/// Now as RFC 3339 (UTC, milliseconds).
fn now_iso() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    crate::lab::clock::iso(ns)
}
