//! Hostile scale, added to a generated lab: one process with millions of connection
//! events, a million distinct accounts issuing LDAP queries, and one account issuing a
//! million distinct queries (its hunt keeps a per-account list of query terms). Every
//! hunt that reads them, embedded with `--memory-pool 1GiB`, completes or fails with a
//! clear one-line error: never a panic, an abort or a kill. Peak memory is printed.
//!
//! Sizes are the times `HUNTSMAN_HOSTILE_SCALE` (default 0.01 for a debug build on
//! two cores, where the models' arithmetic is unoptimised: 100 k events, 10 k accounts,
//! 10 k queries; the AD hunts' term columns cut from 2000 to 64 there). The full size is
//! `HUNTSMAN_HOSTILE_SCALE=1 cargo test --release --workspace --test scale -- --nocapture`
//! (numbers in docs/reliability.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatchReader;
use datafusion::arrow::array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, new_null_array,
};
use datafusion::arrow::datatypes::SchemaRef;
use huntsman_tests::{SMALL_MODELS, generate_lab, run_client_measured};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const LIMIT: Duration = Duration::from_secs(3600);
const ROWS_PER_BATCH: usize = 256 * 1024;
const NARROW_TERMS: &[&str] = &[
    "--set",
    "AD_TFIDF_NUM_FEATURES=64",
    "--set",
    "AD_DL_TFIDF_NUM_FEATURES=64",
];

fn scale() -> f64 {
    std::env::var("HUNTSMAN_HOSTILE_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.01)
}

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("lab folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            parquet_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
}

/// The lab's schema, the folder of one of its part files, and its earliest event time.
fn lab_layout(events: &Path) -> (SchemaRef, PathBuf, i64) {
    let mut files = Vec::new();
    parquet_files(events, &mut files);
    files.sort();
    let first = files.first().expect("the lab has part files");
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(first).expect("part file"),
    )
    .expect("parquet")
    .build()
    .expect("reader");
    let schema = reader.schema();
    let mut earliest = i64::MAX;
    for batch in reader {
        let batch = batch.expect("batch");
        let created = batch
            .column_by_name("event_created")
            .expect("event_created")
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("event_created is Int64");
        earliest = earliest.min(created.iter().flatten().min().unwrap_or(i64::MAX));
    }
    (
        schema,
        first.parent().expect("folder").to_path_buf(),
        earliest,
    )
}

/// Writes `rows` events into `<folder>/<name>.parquet` with the lab's schema, batch by
/// batch: `column(name, range)` gives a column's values for rows `range`, or `None` for
/// nulls.
fn write_events(
    schema: &SchemaRef,
    folder: &Path,
    name: &str,
    rows: usize,
    column: impl Fn(&str, std::ops::Range<usize>) -> Option<ArrayRef>,
) {
    let path = folder.join(format!("{name}.parquet"));
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = ArrowWriter::try_new(file, schema.clone(), None).expect("writer");
    let mut start = 0;
    while start < rows {
        let end = (start + ROWS_PER_BATCH).min(rows);
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                column(f.name(), start..end)
                    .unwrap_or_else(|| new_null_array(f.data_type(), end - start))
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
        writer.write(&batch).expect("write");
        start = end;
    }
    writer.close().expect("close");
}

fn constant(value: &str, rows: std::ops::Range<usize>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
        value,
        rows.len(),
    )))
}

fn strings(rows: std::ops::Range<usize>, f: impl Fn(usize) -> String) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.map(f)))
}

#[test]
fn hostile_volumes_complete_or_fail_with_one_clear_line() {
    let scale = scale();
    let process_events = (10_000_000.0 * scale) as usize;
    let accounts = (1_000_000.0 * scale) as usize;
    let queries = (1_000_000.0 * scale) as usize;
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    let lab = work.join("lab");
    generate_lab(work, &lab, 14, 50_000, 5);
    // The labels describe the lab as generated; the hunts would refuse to score the
    // changed data against them.
    std::fs::remove_dir_all(lab.join("labels")).expect("labels");
    let events = lab.join("events");
    let (schema, folder, earliest) = lab_layout(&events);
    let written = Instant::now();

    // One process with `process_events` connections, every 100 ms, to one address.
    write_events(
        &schema,
        &folder,
        "flood",
        process_events + 1,
        |name, rows| {
            Some(match name {
                "event_created" => Arc::new(Int64Array::from_iter_values(
                    rows.map(|i| earliest + i as i64 * 100_000_000),
                )),
                "winlog_event_id" => Arc::new(Int32Array::from_iter_values(
                    rows.map(|i| if i == 0 { 1 } else { 3 }),
                )),
                "winlog_channel" => {
                    constant("Microsoft-Windows-Sysmon/Operational", rows)
                }
                "winlog_computer_name" => constant("ws-flood.lab.local", rows),
                "winlog_user_name" => constant("flood", rows),
                "winlog_event_data_processguid" => {
                    constant("{F100D000-0000-0000-0000-000000000001}", rows)
                }
                "winlog_event_data_processid" => constant("4242", rows),
                "winlog_event_data_image" => {
                    constant("C:\\Users\\Public\\flood.exe", rows)
                }
                "winlog_event_data_commandline" => constant("flood.exe --forever", rows),
                "winlog_event_data_parentimage" => {
                    constant("C:\\Windows\\explorer.exe", rows)
                }
                "winlog_event_data_initiated" => constant("true", rows),
                "winlog_event_data_destinationip" => constant("203.0.113.7", rows),
                "winlog_event_data_destinationport" => constant("443", rows),
                "winlog_event_data_sourceip" => constant("10.0.9.9", rows),
                _ => return None,
            })
        },
    );
    // `accounts` accounts issuing one query each, and one account issuing `queries`
    // distinct ones: Directory Service 1644 on the domain controller.
    let ldap = accounts + queries;
    write_events(&schema, &folder, "ldap", ldap, |name, rows| {
        Some(match name {
            "event_created" => Arc::new(Int64Array::from_iter_values(
                rows.map(|i| earliest + (i as i64 % 1_000_000) * 1_000_000_000),
            )),
            "winlog_event_id" => {
                Arc::new(Int32Array::from_iter_values(rows.map(|_| 1644)))
            }
            "event_code" => constant("1644", rows),
            "winlog_channel" => constant("Directory Service", rows),
            "winlog_computer_name" => constant("dc-flood.lab.local", rows),
            "winlog_user_name" => strings(rows, |i| {
                if i < accounts {
                    format!("LAB\\account{i:07}")
                } else {
                    "LAB\\talker".to_string()
                }
            }),
            "winlog_event_data_param2" => strings(rows, |i| {
                if i < accounts {
                    format!("(&(objectClass=user)(sAMAccountName=account{i:07}))")
                } else {
                    format!("(&(objectClass=computer)(description=*term{i:07}*))")
                }
            }),
            _ => return None,
        })
    });
    eprintln!(
        "scale {scale}: {process_events} events of one process, {accounts} accounts, \
         {queries} queries of one account, written in {:.0} s",
        written.elapsed().as_secs_f64()
    );

    let data = events.to_str().expect("UTF-8 path");
    // HUNTSMAN_HOSTILE_HUNTS=ad-enum-kmeans,... runs only those.
    let only = std::env::var("HUNTSMAN_HOSTILE_HUNTS").unwrap_or_default();
    for hunt in [
        "c2-beacon",
        "process-anomaly",
        "ad-enum-kmeans",
        "ad-enum-autoencoder",
    ]
    .into_iter()
    .filter(|h| only.is_empty() || only.split(',').any(|o| o.trim() == *h))
    {
        let base = format!("BASE_S3_PATH={}", work.join("runs").display());
        let mut args = vec![
            "--memory-pool",
            "1GiB",
            "--data",
            data,
            "hunt",
            hunt,
            "--set",
            &base,
        ];
        args.extend(SMALL_MODELS);
        if cfg!(debug_assertions) {
            // Unoptimised k-means over 2000 term columns takes minutes per thousand
            // accounts; the number of rows is the point here, not their width.
            args.extend(NARROW_TERMS);
        }
        let started = Instant::now();
        let (out, peak) =
            run_client_measured(&args, work, LIMIT, &[]).expect("client ran");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let outcome = if out.status.success() {
            "completed".to_string()
        } else {
            // The error's first line (the second names the job and stage).
            let error = stderr
                .lines()
                .find(|l| l.starts_with("huntsman: "))
                .or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()))
                .unwrap_or_default();
            format!("failed: {error}")
        };
        // Each phase's line (name, rows, seconds), for where the time went.
        for line in stderr
            .lines()
            .filter(|l| l.starts_with("  ") && l.ends_with(" s"))
        {
            eprintln!("{line}");
        }
        eprintln!(
            "{hunt}: {outcome} in {:.0} s, peak RSS {:.0} MiB",
            started.elapsed().as_secs_f64(),
            peak as f64 / f64::from(1 << 20)
        );
        assert!(
            out.status.code().is_some(),
            "{hunt} was killed by a signal ({:?}):\n{stderr}",
            out.status
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("memory allocation of"),
            "{hunt} panicked or aborted:\n{stderr}"
        );
        if !out.status.success() {
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("huntsman: "))
                .collect();
            assert!(
                errors.len() == 1 && !errors[0].contains("DataFusionError("),
                "{hunt} failed without one clear error line:\n{stderr}"
            );
        }
    }
}
