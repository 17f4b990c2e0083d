//! `huntsman hunt`: the hunts of HUNTS.md end to end. Feature extraction runs as SQL on
//! the cluster, training as `*_fit` aggregates, scoring as scoring functions; findings
//! are printed ranked and stored with a manifest (see [`store`]).
//!
//! Each hunt is a pack ([`pack`]): a folder with `hunt.toml` and numbered SQL files a
//! hunter can read, copy and adapt. The built-in ones live in the repository's `hunts/`
//! folder; `--pack DIR` runs a hunter's own, `huntsman hunt new NAME` scaffolds one.

pub mod allow;
mod execute;
pub mod pack;
pub mod params;
pub mod runner;
pub mod store;
mod summary;

#[cfg(test)]
mod sql_tests;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::columns::{ColumnMap, SOURCE_TABLE};
use crate::connect::{Cluster, connect};
use crate::tables::{DEFAULT_DATA_PATH, TableSource, check_tables, register_tables};
use execute::{Shared, check_store_shared, run_one};
use pack::Pack;
use params::Params;
use store::Store;

/// What `huntsman hunt` does besides running hunts.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum HuntAction {
    /// Write a new hunt pack that runs as it is (rare outbound rhythms scored by an
    /// isolation forest) into DIR/NAME, to change into your own hunt.
    New {
        /// The hunt's name: lower-case letters, digits and '-'.
        name: String,
        /// The folder to create the pack in.
        #[arg(long, default_value = "hunts")]
        dir: PathBuf,
    },
}

/// Arguments of `huntsman hunt`.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HuntArgs {
    /// Which hunt to run: a built-in one (ad-enum-kmeans, ad-enum-autoencoder,
    /// c2-beacon, process-anomaly, widespread-attack), one a --pack declares, or `all`.
    /// Without a name, the --pack hunts run.
    pub hunt: Option<String>,
    /// Run the hunt pack in this folder (repeatable): its `hunt.toml` and SQL files (see
    /// docs/packs.md). A pack named like a built-in hunt replaces it for this run.
    #[arg(long = "pack", value_name = "DIR")]
    pub packs: Vec<PathBuf>,
    /// Check the packs (each phase planned against an empty events table) and exit.
    #[arg(long)]
    pub check: bool,
    /// Override a parameter: NAME=VALUE (repeatable; beats the environment and .env).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Print every parameter with its value and where it came from, then exit.
    #[arg(long)]
    pub list_params: bool,
    /// Print each SQL statement (parameters filled in) before it runs.
    #[arg(long)]
    pub show_sql: bool,
    /// Write every built-in hunt as a pack folder into DIR (`DIR/<hunt>/hunt.toml` and its
    /// SQL files), to copy and adapt and run with --pack, then exit.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
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
    /// `huntsman hunt new NAME`.
    #[command(subcommand)]
    pub action: Option<HuntAction>,
}

/// The built-in packs, then each `--pack` (replacing a built-in one of the same name).
/// Returns the packs and the names of those `--pack` gave.
///
/// # Errors
/// A pack that does not load, or two `--pack` folders of the same hunt.
pub fn load_packs(dirs: &[PathBuf]) -> Result<(Vec<Pack>, Vec<String>)> {
    let mut packs = pack::builtin()?.to_vec();
    let mut given = Vec::new();
    for dir in dirs {
        let loaded = Pack::load(dir)?;
        if given.contains(&loaded.name) {
            bail!(
                "--pack {}: a second pack of hunt {}",
                dir.display(),
                loaded.name
            );
        }
        given.push(loaded.name.clone());
        match packs.iter_mut().find(|p| p.name == loaded.name) {
            Some(slot) => *slot = loaded,
            None => packs.push(loaded),
        }
    }
    Ok((packs, given))
}

/// The packs a `huntsman hunt` runs: the named one, every one for `all`, or the
/// `--pack` ones when no name is given.
fn select<'a>(
    packs: &'a [Pack],
    given: &[String],
    name: Option<&str>,
) -> Result<Vec<&'a Pack>> {
    let names = || {
        packs
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some("all") => Ok(packs.iter().collect()),
        Some(name) => match packs.iter().find(|p| p.name == name) {
            Some(p) => Ok(vec![p]),
            None => bail!("no hunt {name:?}: the hunts are {}, and all", names()),
        },
        None if !given.is_empty() => {
            Ok(packs.iter().filter(|p| given.contains(&p.name)).collect())
        }
        None => bail!(
            "name a hunt ({}, or all), give --pack DIR, or use --list-params, --export",
            names()
        ),
    }
}

/// Runs `huntsman hunt`. Scoring functions read models from the store, the `--models`
/// folder and `model_roots` only (`huntsman.model_roots`). Returns the lab labels the
/// runs are to be evaluated against (`--labels`, or a lab's `labels/` beside the data),
/// when a hunt that ran is at a unit a lab's ground truth keys.
///
/// # Errors
/// Bad parameters, a bad pack, bad input data, a failing phase; each named.
pub async fn run(
    cluster: &Cluster,
    data: &str,
    args: &HuntArgs,
    model_roots: &[String],
) -> Result<Option<PathBuf>> {
    if let Some(HuntAction::New { name, dir }) = &args.action {
        let made = pack::scaffold::new_pack(name, dir)?;
        println!(
            "wrote hunt pack {name} into {}; run it with `huntsman hunt --pack {}`",
            made.display(),
            made.display()
        );
        return Ok(None);
    }
    let (packs, given) = load_packs(&args.packs)?;
    let params = Params::from_env_in(pack::catalog(&packs)?, &args.sets)?;
    if args.list_params {
        print!("{}", params.describe());
        return Ok(None);
    }
    if let Some(dir) = &args.export {
        for pack in pack::builtin()? {
            let toml = pack::builtin_toml(&pack.name).unwrap_or_default();
            pack.export(&dir.join(&pack.name), toml)?;
        }
        println!(
            "wrote {} hunt packs under {}",
            pack::builtin()?.len(),
            dir.display()
        );
        return Ok(None);
    }
    let selected = select(&packs, &given, args.hunt.as_deref())?;
    for pack in &selected {
        pack::check::plans(pack, &params).await?;
    }
    if args.check {
        for pack in &selected {
            println!(
                "{}: ok ({} phases, {} parameters)",
                pack.label(),
                pack.phases.len(),
                pack.parameters.len()
            );
        }
        return Ok(None);
    }
    let all = args.hunt.as_deref() == Some("all");
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
    let names: Vec<&str> = packs.iter().map(|p| p.name.as_str()).collect();
    let allow = match &args.allow_list {
        Some(path) => Some(allow::AllowList::load(path, &names)?),
        None => None,
    };
    // A lab's ground truth scores the hunts at its units; a pack at another unit has
    // nothing to be evaluated on.
    let labels = args
        .labels
        .clone()
        .or_else(|| labels_beside(&data))
        .filter(|_| selected.iter().any(|p| crate::lab::has_keys_at(&p.unit)));
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
    for pack in selected {
        let hunt = pack.name.as_str();
        let shared = Shared {
            ctx: &ctx,
            params: &params,
            store: &store,
            data: &data,
            map: &map,
            args,
            allow: allow.as_ref(),
        };
        let result = run_one(shared, pack, &mut range);
        if let Err(e) = result.await {
            if !all {
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
    Ok(labels)
}

/// `<data>/../labels` when it holds a ground truth (a generated lab's layout).
fn labels_beside(data: &str) -> Option<PathBuf> {
    let labels = std::path::Path::new(data).parent()?.join("labels");
    labels.join("ground_truth.json").is_file().then_some(labels)
}

/// Now as RFC 3339 (UTC, milliseconds).
pub(crate) fn now_iso() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    crate::clock::iso(ns)
}
