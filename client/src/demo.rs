//! `huntsman demo`: the quick start's main job. Generates a simulated lab when no data is
//! there yet, then runs a first beaconing hunt over it and prints the findings.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::connect::{Cluster, connect};
use crate::lab::{LabOptions, generate};
use crate::output::{Format, schema_of, write_results};
use crate::sql::run_statements;
use crate::tables::{EVENTS_TABLE, TableSource, check_tables, register_tables};

/// The demo hunt, also shipped as `client/sql/demo_beacon_timing.sql`.
pub const DEMO_SQL: &str = include_str!("../sql/demo_beacon_timing.sql");

/// Arguments of `huntsman demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where to generate the lab when the data path holds no Parquet files
    /// (default ./data; events go to <LAB>/events).
    #[arg(long, default_value = "./data")]
    pub lab: PathBuf,
}

pub(crate) fn has_parquet(path: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(path) else {
        return path.extension().is_some_and(|e| e == "parquet");
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            has_parquet(&p)
        } else {
            p.extension().is_some_and(|x| x == "parquet")
        }
    })
}

/// Generates a simulated lab with the default options in `lab` because `data` holds no
/// Parquet files, and returns the location of its events.
///
/// # Errors
/// The lab cannot be generated there (for example a non-empty folder).
pub(crate) fn generate_default_lab(data: &str, lab: &Path) -> Result<String> {
    let options = LabOptions::default()
        .check()
        .context("default lab options")?;
    eprintln!(
        "no Parquet files at {data}: generating a simulated lab in {}",
        lab.display()
    );
    let summary = generate(&options, lab, false)
        .with_context(|| format!("generating the lab in {}", lab.display()))?;
    eprintln!("{summary}");
    Ok(lab.join("events").display().to_string())
}

/// Runs the demo on `cluster` over `data` (generating the lab first if `data` is empty).
///
/// # Errors
/// Lab generation, connection or query failures, with the input named.
pub async fn run(cluster: &Cluster, data: &str, args: &DemoArgs) -> Result<()> {
    let mut location = data.to_string();
    if !data.contains("://") && !has_parquet(Path::new(data)) {
        location = generate_default_lab(data, &args.lab)?;
    }
    let tables = check_tables(&[TableSource {
        name: EVENTS_TABLE.into(),
        location: location.clone(),
    }])
    .await?;
    let ctx = connect(cluster).await?;
    register_tables(&ctx, &tables).await?;
    eprintln!("hunting for regular outbound callers in {location}\n");
    let (batches, schema) = run_statements(&ctx, DEMO_SQL, "the demo hunt").await?;
    let schema = schema_of(&batches, schema);
    write_results(&batches, &schema, Format::Table, None)
}
