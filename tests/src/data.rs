//! Test datasets written at test time, and the expected answers computed here, by code
//! that shares nothing with the functions under test.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use datafusion::arrow::array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One row of the connection dataset.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Host name.
    pub host: String,
    /// Destination address (private, public, or garbage).
    pub dst: String,
    /// Event time, epoch nanoseconds.
    pub ts: i64,
}

/// Expected statistics of one (host, private) group.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// Rows in the group.
    pub count: i64,
    /// Last minus first, seconds.
    pub duration_s: f64,
    /// Mean gap, seconds.
    pub mean_s: f64,
    /// Sample standard deviation of the gaps, seconds.
    pub stddev_s: f64,
    /// Median gap, seconds.
    pub median_s: f64,
    /// Median absolute deviation of the gaps, seconds.
    pub mad_s: f64,
}

/// Generates `rows` connections for `hosts` hosts, with a fixed seed.
pub fn connections(rows: usize, hosts: usize, seed: u64) -> Vec<Connection> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base: i64 = 1_700_000_000_000_000_000;
    (0..rows)
        .map(|_| {
            let host = format!("WS{:02}", rng.random_range(0..hosts));
            let dst = match rng.random_range(0..10) {
                0..=3 => format!(
                    "10.0.{}.{}",
                    rng.random_range(0..4),
                    rng.random_range(1..255)
                ),
                4 => format!("192.168.1.{}", rng.random_range(1..255)),
                5 => "fe80::1%3".to_string(),
                6 => "not-an-ip".to_string(),
                _ => format!(
                    "{}.{}.8.8",
                    rng.random_range(11..100),
                    rng.random_range(0..255)
                ),
            };
            let ts = base + rng.random_range(0..86_400_000_000_000i64);
            Connection { host, dst, ts }
        })
        .collect()
}

/// Private-address rule written out independently of `is_private_ip`.
pub fn expected_private(dst: &str) -> bool {
    dst.starts_with("10.") || dst.starts_with("192.168.") || dst.starts_with("fe80:")
}

/// The statistics per (host, private), computed directly.
pub fn expected_groups(rows: &[Connection]) -> BTreeMap<(String, bool), Expected> {
    let mut groups: BTreeMap<(String, bool), Vec<i64>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.host.clone(), expected_private(&r.dst)))
            .or_default()
            .push(r.ts);
    }
    groups
        .into_iter()
        .map(|(k, mut ts)| {
            ts.sort();
            let gaps: Vec<f64> =
                ts.windows(2).map(|w| (w[1] - w[0]) as f64 / 1e9).collect();
            let n = gaps.len() as f64;
            let mean = gaps.iter().sum::<f64>() / n;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let median = |v: &[f64]| {
                let mut v = v.to_vec();
                v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
                let m = v.len() / 2;
                if v.len().is_multiple_of(2) {
                    (v[m - 1] + v[m]) / 2.0
                } else {
                    v[m]
                }
            };
            let med = median(&gaps);
            let devs: Vec<f64> = gaps.iter().map(|g| (g - med).abs()).collect();
            let e = Expected {
                count: ts.len() as i64,
                duration_s: (ts[ts.len() - 1] - ts[0]) as f64 / 1e9,
                mean_s: mean,
                stddev_s: var.sqrt(),
                median_s: med,
                mad_s: median(&devs),
            };
            (k, e)
        })
        .collect()
}

/// Writes `rows` as `files` Parquet files (columns `host`, `dst_ip`, `ts`) under `dir`,
/// each file holding rows of every host.
///
/// # Errors
/// IO or Parquet errors.
pub fn write_connections(dir: &Path, rows: &[Connection], files: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("dst_ip", DataType::Utf8, true),
        Field::new("ts", DataType::Int64, false),
    ]));
    let per_file = rows.len().div_ceil(files);
    for (i, chunk) in rows.chunks(per_file).enumerate() {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|r| r.host.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|r| r.dst.as_str()),
                )),
                Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.ts))),
            ],
        )?;
        let file = File::create(dir.join(format!("part-{i:03}.parquet")))?;
        let mut writer = ArrowWriter::try_new(file, schema.clone(), None)?;
        writer.write(&batch)?;
        writer.close()?;
    }
    Ok(())
}

/// Relative float comparison used by every end-to-end check.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// One outbound connection as Sysmon logs it (event 3, initiated by the host).
#[derive(Debug, Clone)]
pub struct NetworkEvent {
    /// Event time, epoch nanoseconds.
    pub ts: i64,
    /// Host name.
    pub host: String,
    /// Process GUID.
    pub processguid: String,
    /// Process image path.
    pub image: String,
    /// Source address (the host's own).
    pub sourceip: String,
    /// Destination address.
    pub destinationip: String,
    /// Destination port.
    pub destinationport: String,
}

/// Writes `rows` as one lake-shaped Parquet file at `path`: the columns the `c2-beacon`
/// hunt reads, `event_created` Int64 and `winlog_event_id` Int32, the others Utf8 (null
/// where a connection event has no value).
///
/// # Errors
/// IO or Parquet errors.
pub fn write_network_events(path: &Path, rows: &[NetworkEvent]) -> Result<()> {
    type Column = (&'static str, fn(&NetworkEvent) -> Option<&str>);
    const TEXT: [Column; 13] = [
        ("winlog_computer_name", |r| Some(r.host.as_str())),
        ("winlog_event_data_processguid", |r| {
            Some(r.processguid.as_str())
        }),
        ("winlog_event_data_image", |r| Some(r.image.as_str())),
        ("winlog_event_data_parentimage", |_| None),
        ("winlog_event_data_commandline", |_| None),
        ("winlog_event_data_parentcommandline", |_| None),
        ("winlog_event_data_sourceip", |r| Some(r.sourceip.as_str())),
        ("winlog_event_data_destinationip", |r| {
            Some(r.destinationip.as_str())
        }),
        ("winlog_event_data_destinationport", |r| {
            Some(r.destinationport.as_str())
        }),
        ("winlog_event_data_destinationportname", |_| None),
        ("winlog_event_data_destinationhostname", |_| None),
        ("winlog_event_data_initiated", |_| Some("true")),
        ("winlog_event_data_queryname", |_| None),
    ];
    let mut fields = vec![
        Field::new("event_created", DataType::Int64, false),
        Field::new("winlog_event_id", DataType::Int32, false),
    ];
    fields.extend(
        TEXT.iter()
            .map(|(name, _)| Field::new(*name, DataType::Utf8, true)),
    );
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.ts))),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| 3))),
    ];
    columns.extend(TEXT.iter().map(|(_, value)| {
        Arc::new(StringArray::from_iter(rows.iter().map(value))) as ArrayRef
    }));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let mut writer = ArrowWriter::try_new(File::create(path)?, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}
