//! One hunt from its columns check to its committed results: the time range, the run
//! folder, the phases, the manifest, and what the terminal shows.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use datafusion::prelude::SessionContext;

use super::pack::{self, Pack};
use super::params::Params;
use super::runner::{self, Findings, HuntRun, run_pack};
use super::store::Store;
use super::summary::{Counts, count_flagged, print_top};
use super::{HuntArgs, allow, now_iso};
use crate::columns::{ColumnMap, ColumnReport, prepare_events};
use crate::connect::Cluster;
use crate::fingerprint::Fingerprint;
use crate::location::Location;
use crate::manifest::{self, DataScope, PackRecord, Results, RunManifest};
use crate::sql::write_statements;

/// What every hunt of one `huntsman hunt` shares.
#[derive(Clone, Copy)]
pub(super) struct Shared<'a> {
    /// The session (embedded or remote).
    pub(super) ctx: &'a SessionContext,
    /// Checked parameters.
    pub(super) params: &'a Params,
    /// Where runs are written.
    pub(super) store: &'a Store,
    /// The events' location, as given.
    pub(super) data: &'a str,
    /// How the data's columns map onto the hunts' names.
    pub(super) map: &'a ColumnMap,
    /// The command line.
    pub(super) args: &'a HuntArgs,
    /// The deployment's allow-list.
    pub(super) allow: Option<&'a allow::AllowList>,
}

pub(super) async fn run_one(
    shared: Shared<'_>,
    pack: &Pack,
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
    let hunt = pack.name.as_str();
    let columns: Vec<&str> = pack.columns.iter().map(String::as_str).collect();
    let report = prepare_events(ctx, map, &columns)
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
    let run_id = crate::manifest::new_run_id();
    let reuse = match &args.models {
        Some(models) => Some(stored_models(store, hunt, models).await?),
        None => None,
    };
    let dir = store.begin(hunt, &run_id).await?;
    let mut run = HuntRun::new(ctx, params, hunt, dir, args.show_sql, args.quiet);
    run.reuse = reuse;
    run.allow = allow;
    let outcome = execute(
        &mut run,
        pack,
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
    print_top(ctx, pack, &stored, top as usize, total, counts).await?;
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
pub(super) async fn stored_models(
    store: &Store,
    hunt: &str,
    models: &str,
) -> Result<Location> {
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
pub(super) async fn execute(
    run: &mut HuntRun<'_>,
    pack: &Pack,
    shared: Shared<'_>,
    report: &ColumnReport,
    (fingerprint, range): (Fingerprint, DataRange),
    (started, started_at): (Instant, &str),
) -> Result<(Findings, Counts, Location)> {
    let Shared {
        params, data, args, ..
    } = shared;
    let hunt = pack.name.as_str();
    let findings = run_pack(pack, run).await?;
    let (findings_path, total, counts, nothing) = match &findings {
        Findings::Stored { location, rows } => {
            let counts = count_flagged(run.ctx, location, &pack.flag).await?;
            let path = run.dir.final_table("findings");
            (Some(path.table_url()), *rows, counts, None)
        }
        Findings::Nothing(why) => (None, 0, Counts::default(), Some(why.clone())),
    };
    let manifest = RunManifest {
        format: manifest::FORMAT.to_string(),
        version: manifest::VERSION,
        hunt: hunt.to_string(),
        run_id: run.dir.run_id().to_string(),
        started: started_at.to_string(),
        finished: now_iso(),
        seconds: started.elapsed().as_secs_f64(),
        data: DataScope {
            location: data.to_string(),
            since: args.since.clone(),
            until: args.until.clone(),
            events: range.events,
            first_event_ns: range.first_ns,
            last_event_ns: range.last_ns,
            fingerprint: Some(fingerprint),
        },
        columns: report
            .columns
            .iter()
            .map(|c| (c.canonical.clone(), c.source.clone()))
            .collect(),
        parameters: params.for_hunt(hunt),
        effective: run.effective.iter().cloned().collect(),
        pack: Some(PackRecord {
            name: pack.name.clone(),
            source: pack.label(),
            builtin: pack.source == pack::Source::Builtin,
            changed: pack.changed_files(),
        }),
        models: run.models.clone(),
        results: Results {
            findings: findings_path,
            nothing_to_score: nothing,
            unit: Some(pack.unit.clone()),
            entity: pack.entity.clone(),
            score: pack.score.clone(),
            flag: pack.flag.clone(),
            rows: total,
            flagged: counts.flagged,
            suppressed: counts.suppressed,
            attack_techniques: pack.attack.clone(),
        },
        allow_list: run.applied.clone(),
        phases: run.timings.clone(),
    };
    let final_dir = run.dir.commit(&manifest.to_json()?).await?;
    Ok((findings, counts, final_dir))
}

/// Narrows the `events` view to `--since`/`--until`.
pub(super) async fn restrict_time(ctx: &SessionContext, args: &HuntArgs) -> Result<()> {
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
pub(super) struct DataRange {
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
pub(super) async fn measure(ctx: &SessionContext) -> Result<DataRange> {
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
pub(super) fn check_not_empty(range: &DataRange, args: &HuntArgs) -> Result<()> {
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
pub(super) async fn check_store_shared(
    ctx: &SessionContext,
    store: &Store,
    cluster: &Cluster,
) -> Result<()> {
    let (Cluster::Remote(url), Location::Local(root)) = (cluster, store.root()) else {
        return Ok(());
    };
    let probe = store.root().join(&format!(
        "scratch/.probe-{}.parquet",
        crate::manifest::new_run_id()
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
