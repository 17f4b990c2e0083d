//! The `huntsman lab generate` flags and their entry point.
//!
//! The flags map one to one onto [`LabOptions`]; validation happens once, in
//! [`LabOptions::check`], so the CLI and library callers get the same messages.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use huntsman_core::location::Location;

use super::{LabOptions, generate};

/// Flags of `huntsman lab generate`.
#[derive(Clone, Debug, clap::Args)]
pub struct LabGenerateArgs {
    /// Hosts, including the domain controller and the file server [default: 11]
    #[arg(long, default_value_t = 11, allow_negative_numbers = true)]
    pub hosts: i64,
    /// Days to simulate [default: 14]
    #[arg(long, default_value_t = 14, allow_negative_numbers = true)]
    pub days: i64,
    /// Target number of events; scenarios add a fixed few thousand and the benign baseline
    /// fills the rest [default: 200000]
    #[arg(long, default_value_t = 200_000, allow_negative_numbers = true)]
    pub events: i64,
    /// Seed; the same seed and flags give byte-identical output [default: 42]
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output folder or s3:// prefix: events go to <OUT>/events/, labels to <OUT>/labels/
    /// [default: ./data]
    #[arg(long, default_value = "./data")]
    pub out: String,
    /// Scenarios to inject, comma separated, each NAME or NAME:INTENSITY; `all` or `none`
    /// [default: ad-enum,c2-beacon,process-anomaly,widespread-attack]
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ad-enum,c2-beacon,process-anomaly,widespread-attack"
    )]
    pub scenarios: Vec<String>,
    /// Intensity of scenarios that give none: scales their duration and volume [default: 1.0]
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub intensity: f64,
    /// First simulated day, YYYY-MM-DD, UTC [default: 2024-03-04]
    #[arg(long, default_value = "2024-03-04")]
    pub start: String,
    /// Leave out the hard negatives (benign look-alikes of the attacks)
    #[arg(long)]
    pub no_hard_negatives: bool,
    /// Replace <OUT>/events/ and <OUT>/labels/ if the folder is not empty
    #[arg(long)]
    pub overwrite: bool,
    /// Worker threads, 0 for one per core; the output does not depend on it [default: 0]
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// A named variation of the lab, repeatable or comma separated: per-user-installs,
    /// long-tail, shared-c2, proxy, worm, admin-activity (see docs/lab.md) [default: none]
    #[arg(long = "profile", value_delimiter = ',')]
    pub profiles: Vec<String>,
}

impl From<&LabGenerateArgs> for LabOptions {
    fn from(a: &LabGenerateArgs) -> Self {
        LabOptions {
            hosts: a.hosts,
            days: a.days,
            events: a.events,
            seed: a.seed,
            start: a.start.clone(),
            scenarios: a.scenarios.clone(),
            intensity: a.intensity,
            hard_negatives: !a.no_hard_negatives,
            threads: a.threads,
            profiles: a.profiles.clone(),
        }
    }
}

/// Runs `huntsman lab generate`: checks the flags, generates the lab and prints a summary.
///
/// # Errors
/// Invalid flags, a non-empty output folder without `--overwrite`, or an IO error, with the
/// output folder named.
pub async fn run(args: LabGenerateArgs) -> anyhow::Result<()> {
    let opts = LabOptions::from(&args)
        .check()
        .context("invalid lab options")?;
    if !huntsman_udfs::objstore::is_object_url(&args.out) {
        let out = PathBuf::from(&args.out);
        let summary =
            tokio::task::spawn_blocking(move || generate(&opts, &out, args.overwrite))
                .await
                .context("lab generator")?
                .with_context(|| format!("generating the lab in {}", args.out))?;
        println!("{summary}");
        return Ok(());
    }
    // Object storage: generate in a local scratch folder, then upload every file (events
    // first, the labels last), each as one object completed only when whole.
    let root = Location::parse(&args.out)?;
    let existing = root
        .list()
        .await
        .with_context(|| format!("checking {}", args.out))?;
    let ours = |f: &&huntsman_core::location::Listed| {
        f.relative.starts_with("events/") || f.relative.starts_with("labels/")
    };
    if existing.iter().any(|f| ours(&f)) {
        if !args.overwrite {
            bail!(
                "{} already holds events/ or labels/; pass --overwrite to replace them",
                args.out
            );
        }
        root.join("events").remove_all().await?;
        root.join("labels").remove_all().await?;
    }
    let scratch = huntsman_core::location::local_temp("lab");
    let result = async {
        let dir = scratch.clone();
        let summary = tokio::task::spawn_blocking(move || generate(&opts, &dir, true))
            .await
            .context("lab generator")??;
        root.upload_dir(&scratch, |f| f.starts_with("labels/"))
            .await?;
        anyhow::Ok(summary)
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    let summary =
        result.with_context(|| format!("generating the lab in {}", args.out))?;
    println!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: LabGenerateArgs,
    }

    #[test]
    fn defaults_match_the_library() {
        let cli = Cli::try_parse_from(["lab"]).expect("parses");
        let opts = LabOptions::from(&cli.args);
        assert_eq!(opts, LabOptions::default());
        assert_eq!(cli.args.out, "./data");
    }

    #[test]
    fn flags_map_onto_options() {
        let cli = Cli::try_parse_from([
            "lab",
            "--hosts",
            "5",
            "--days",
            "-1",
            "--scenarios",
            "ad-enum,c2-beacon:0.5",
            "--no-hard-negatives",
            "--profile",
            "proxy",
            "--profile",
            "worm,long-tail",
        ])
        .expect("parses");
        let opts = LabOptions::from(&cli.args);
        assert_eq!(opts.hosts, 5);
        assert_eq!(opts.days, -1);
        assert_eq!(opts.scenarios, vec!["ad-enum", "c2-beacon:0.5"]);
        assert!(!opts.hard_negatives);
        assert_eq!(opts.profiles, vec!["proxy", "worm", "long-tail"]);
        let e = opts.check().expect_err("negative days");
        assert!(e.to_string().contains("(got -1)"));
    }
}
