//! The flags of `huntsman ingest files` and the step from them to [`super::ingest_paths`].

use std::path::PathBuf;

use anyhow::Context;

use super::{DEFAULT_BATCH_SIZE, IngestOptions, IngestReport, ingest_paths};

/// Ingest JSON-lines (winlogbeat 6/7/8, nxlog flat; optionally .gz) and EVTX files into
/// the Parquet lake.
#[derive(Clone, Debug, clap::Args)]
pub struct IngestFilesArgs {
    /// Input files, folders (their *.json, *.jsonl, *.ndjson, *.gz and *.evtx files) or
    /// glob patterns (*, ?, **)
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    /// Lake folder: events go to <OUT>/events/day=YYYY-MM-DD/ [default: ./data]
    #[arg(
        long,
        value_name = "OUT",
        default_value = "./data",
        hide_default_value = true
    )]
    pub out: PathBuf,
    /// Rows per batch and per Parquet row group; memory grows with it [default: 65536]
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE,
          hide_default_value = true)]
    pub batch_size: usize,
}

/// Runs `huntsman ingest files`: ingests, prints the summary to standard output and
/// returns the report. The caller exits with 2 when [`IngestReport::has_errors`].
///
/// # Errors
/// When the options are invalid or the lake cannot be written (never for bad inputs, which
/// are in the report).
pub fn run_files(args: IngestFilesArgs) -> anyhow::Result<IngestReport> {
    let opts = IngestOptions::default().batch_size(args.batch_size);
    let report = ingest_paths(&args.inputs, &args.out, &opts)
        .with_context(|| format!("ingesting into {}", args.out.display()))?;
    print!("{report}");
    Ok(report)
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
        assert_eq!(cli.args.out, PathBuf::from("./data"));
        assert_eq!(cli.args.batch_size, IngestOptions::default().batch_size);
        assert_eq!(cli.args.inputs.len(), 2);
    }

    #[test]
    fn an_input_is_required() {
        assert!(Cli::try_parse_from(["ingest"]).is_err());
    }
}
