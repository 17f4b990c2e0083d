//! The flags of `huntsman ingest files` and the step from them to [`super::ingest_paths`].

use std::path::PathBuf;

use anyhow::Context;

use huntsman_core::location::Location;

use super::{DEFAULT_BATCH_SIZE, IngestOptions, IngestReport, ingest_paths};

/// Ingest JSON-lines (winlogbeat 6/7/8, nxlog flat; optionally .gz) and EVTX files into
/// the Parquet lake.
#[derive(Clone, Debug, clap::Args)]
pub struct IngestFilesArgs {
    /// Input files, folders (their *.json, *.jsonl, *.ndjson, *.gz and *.evtx files) or
    /// glob patterns (*, ?, **)
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    /// Lake folder or s3:// prefix: events go to <OUT>/events/day=YYYY-MM-DD/
    /// [default: ./data]
    #[arg(
        long,
        value_name = "OUT",
        default_value = "./data",
        hide_default_value = true
    )]
    pub out: String,
    /// Rows per batch and per Parquet row group; memory grows with it [default: 65536]
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE,
          hide_default_value = true)]
    pub batch_size: usize,
}

/// Runs `huntsman ingest files`: ingests, prints the summary to standard output and
/// returns the report. The caller exits with 2 when [`IngestReport::has_errors`].
///
/// An `s3://` lake is written through a local scratch lake: the parts are uploaded when
/// the whole ingest has finished, each as one object; if an upload fails, the parts already
/// uploaded are deleted again, so the lake gains all of the run's events or none.
///
/// # Errors
/// When the options are invalid or the lake cannot be written (never for bad inputs, which
/// are in the report).
pub async fn run_files(args: IngestFilesArgs) -> anyhow::Result<IngestReport> {
    let opts = IngestOptions::default().batch_size(args.batch_size);
    if !huntsman_udfs::objstore::is_object_url(&args.out) {
        let out = PathBuf::from(&args.out);
        let report =
            tokio::task::spawn_blocking(move || ingest_paths(&args.inputs, &out, &opts))
                .await
                .context("ingest")?
                .with_context(|| format!("ingesting into {}", args.out))?;
        print!("{report}");
        return Ok(report);
    }
    let lake = Location::parse(&args.out)?;
    let scratch = huntsman_core::location::local_temp("ingest");
    let result = async {
        let dir = scratch.clone();
        let inputs = args.inputs.clone();
        let report =
            tokio::task::spawn_blocking(move || ingest_paths(&inputs, &dir, &opts))
                .await
                .context("ingest")??;
        let parts = lake
            .join("events")
            .upload_dir(&scratch.join("events"), |_| false)
            .await?;
        print!("{report}");
        println!("uploaded {parts} part files to {}/events/", args.out);
        anyhow::Ok(report)
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    result.with_context(|| format!("ingesting into {}", args.out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: IngestFilesArgs,
    }

    #[test]
    fn defaults_match_the_library() {
        let cli = Cli::try_parse_from(["ingest", "a.json", "logs/*.gz"]).expect("parses");
        assert_eq!(cli.args.out, "./data");
        assert_eq!(cli.args.batch_size, IngestOptions::default().batch_size);
        assert_eq!(cli.args.inputs.len(), 2);
    }

    #[test]
    fn an_input_is_required() {
        assert!(Cli::try_parse_from(["ingest"]).is_err());
    }
}
