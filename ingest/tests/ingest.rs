//! `huntsman_ingest` through its public API: real OTRF recordings, each source layout,
//! bad inputs, and the lake's file discipline. Parquet is read back with the `parquet`
//! crate's synchronous Arrow reader, independently of DataFusion.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};
use huntsman_ingest::{
    IngestOptions, IngestReport, Layout, Location, RejectKind, ingest_paths,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const OTRF_FILES: [&str; 3] = [
    "empire_monologue_netntlm_downgrade_2019-12-25045202.json",
    "covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json",
    "empire_enable_rdp_2019-05-18203650.json",
];

fn otrf_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/otrf");
    assert!(
        dir.is_dir(),
        "the OTRF sample recordings are missing: expected them in {} (the shared datasets \
         folder beside the repository)",
        dir.display()
    );
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ingest(paths: &[PathBuf], out: &Path) -> IngestReport {
    ingest_with(paths, out, IngestOptions::default())
}

fn ingest_with(paths: &[PathBuf], out: &Path, opts: IngestOptions) -> IngestReport {
    ingest_paths(paths, out, &opts).expect("the lake is writable")
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(all_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The lake's rows, one map of column → value (as text) per row, with the day folder.
struct Lake {
    rows: Vec<BTreeMap<String, Option<String>>>,
}

impl Lake {
    fn read(out: &Path) -> Self {
        let mut rows = Vec::new();
        for path in all_files(&out.join("events")) {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            assert!(
                name.starts_with("part-") && name.ends_with(".parquet"),
                "unexpected file in the lake: {}",
                path.display()
            );
            let day = path
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("day="))
                .expect("parts live in day= folders")
                .to_string();
            let file = File::open(&path).expect("open part");
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .expect("a Parquet file")
                .build()
                .expect("reader");
            for batch in reader {
                let batch = batch.expect("a batch");
                rows.extend(batch_rows(&batch, &day));
            }
        }
        Lake { rows }
    }

    fn counts(&self) -> BTreeMap<(String, i32), u64> {
        let mut out = BTreeMap::new();
        for r in &self.rows {
            let ch = r["winlog_channel"]
                .clone()
                .expect("channel is set")
                .to_lowercase();
            let id: i32 = r["winlog_event_id"]
                .as_deref()
                .and_then(|s| s.parse().ok())
                .expect("id");
            *out.entry((ch, id)).or_default() += 1;
        }
        out
    }

    fn get(&self, i: usize, col: &str) -> Option<&str> {
        self.rows[i]
            .get(col)
            .unwrap_or_else(|| panic!("no column {col}"))
            .as_deref()
    }

    fn find(&self, col: &str, value: &str) -> usize {
        self.rows
            .iter()
            .position(|r| r.get(col).and_then(|v| v.as_deref()) == Some(value))
            .unwrap_or_else(|| panic!("no row with {col} = {value}"))
    }
}

fn batch_rows(batch: &RecordBatch, day: &str) -> Vec<BTreeMap<String, Option<String>>> {
    let schema = batch.schema();
    let mut rows = vec![BTreeMap::new(); batch.num_rows()];
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        for (i, row) in rows.iter_mut().enumerate() {
            let v = if col.is_null(i) {
                None
            } else if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                Some(a.value(i).to_string())
            } else if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
                Some(a.value(i).to_string())
            } else if let Some(a) = col.as_any().downcast_ref::<Int32Array>() {
                Some(a.value(i).to_string())
            } else {
                panic!("unexpected type of {}: {}", field.name(), col.data_type())
            };
            row.insert(field.name().clone(), v);
        }
    }
    for row in &mut rows {
        let ns: i64 = row["event_created"]
            .as_deref()
            .and_then(|s| s.parse().ok())
            .expect("time");
        row.insert("day".into(), Some(day_of(ns)));
        assert_eq!(
            row["day"].as_deref(),
            Some(day),
            "row in the wrong day folder"
        );
    }
    rows
}

/// `YYYY-MM-DD` of epoch nanoseconds, computed independently of the crate.
fn day_of(ns: i64) -> String {
    let days = ns.div_euclid(86_400_000_000_000);
    let (mut y, mut d) = (1970i64, days);
    loop {
        let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            366
        } else {
            365
        };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let months = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while d >= months[m] {
        d -= months[m];
        m += 1;
    }
    format!("{y:04}-{:02}-{:02}", m + 1, d + 1)
}

/// Events per (lower-cased channel, event id) counted straight from the raw JSON lines.
fn raw_counts(path: &Path) -> (BTreeMap<(String, i32), u64>, u64) {
    let mut out = BTreeMap::new();
    let mut lines = 0;
    for line in BufReader::new(File::open(path).expect("open")).lines() {
        let line = line.expect("read");
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let v: serde_json::Value =
            serde_json::from_str(&line).expect("OTRF lines are JSON");
        let channel = v
            .get("Channel")
            .or_else(|| v.get("log_name"))
            .and_then(|c| c.as_str());
        let id = v
            .get("EventID")
            .or_else(|| v.get("event_id"))
            .and_then(|i| i.as_i64());
        let key = (
            channel.expect("channel").to_lowercase(),
            id.expect("id") as i32,
        );
        *out.entry(key).or_default() += 1;
    }
    (out, lines)
}

#[test]
fn otrf_recordings_ingest_completely_and_counts_match_the_raw_json() {
    let dir = otrf_dir();
    for name in OTRF_FILES {
        let input = dir.join(name);
        let out = tempfile::tempdir().expect("tempdir");
        let report = ingest(std::slice::from_ref(&input), out.path());
        assert!(!report.has_errors(), "{name}:\n{report}");
        assert_eq!(report.rejected(), 0, "{name}");
        let (expected, lines) = raw_counts(&input);
        assert_eq!(report.events(), lines, "{name}");
        let lake = Lake::read(out.path());
        assert_eq!(lake.rows.len() as u64, lines, "{name}");
        assert_eq!(lake.counts(), expected, "{name}: lake vs raw JSON");
        let reported: BTreeMap<(String, i32), u64> = report
            .counts()
            .into_iter()
            .map(|((c, i), n)| ((c.to_lowercase(), i), n))
            .collect();
        assert_eq!(reported, expected, "{name}: report vs raw JSON");
        // nxlog writes `security` as well as `Security`: the lake has one spelling.
        assert!(
            lake.rows
                .iter()
                .all(|r| r["winlog_channel"].as_deref() != Some("security"))
        );
        assert!(
            lake.rows
                .iter()
                .all(|r| r["winlog_computer_name"].is_some()),
            "{name}"
        );
    }
}

#[test]
fn otrf_empire_beacon_is_mapped_onto_sysmon_columns() {
    let input = otrf_dir().join(OTRF_FILES[0]);
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[input], out.path());
    assert_eq!(report.files[0].layout(), Some(Layout::NxlogFlat));
    let lake = Lake::read(out.path());
    let beacons: Vec<_> = lake
        .rows
        .iter()
        .filter(|r| {
            r["winlog_event_id"].as_deref() == Some("3")
                && r["winlog_event_data_processguid"].as_deref()
                    == Some("{a158f72c-e9e0-5e02-0000-00104038e100}")
                && r["winlog_event_data_destinationip"].as_deref() == Some("172.18.39.8")
        })
        .collect();
    assert_eq!(beacons.len(), 23, "the README's 23 Sysmon 3 beacons");
    for b in &beacons {
        assert_eq!(b["winlog_event_data_initiated"].as_deref(), Some("true"));
        assert_eq!(
            b["winlog_event_data_destinationport"].as_deref(),
            Some("80")
        );
        assert_eq!(
            b["winlog_computer_name"].as_deref(),
            Some("IT001.shire.com")
        );
        assert_eq!(b["event_code"].as_deref(), Some("3"));
        assert_eq!(b["day"].as_deref(), Some("2019-12-25"));
    }
}

#[test]
fn otrf_winlogbeat6_uses_computer_name_not_the_collector() {
    let input = otrf_dir().join(OTRF_FILES[2]);
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[input], out.path());
    assert_eq!(report.files[0].layout(), Some(Layout::Winlogbeat6));
    let lake = Lake::read(out.path());
    assert!(
        lake.rows
            .iter()
            .all(|r| r["winlog_computer_name"].as_deref() != Some("WECserver"))
    );
    let n = lake
        .rows
        .iter()
        .filter(|r| {
            r["winlog_event_data_destinationip"].as_deref() == Some("10.0.10.106")
                && r["winlog_computer_name"].as_deref() == Some("HR001.shire.com")
        })
        .count();
    assert_eq!(n, 40, "three Empire agents on HR001 beacon to 10.0.10.106");
}

#[test]
fn winlogbeat8_layout() {
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[fixture("winlogbeat8.jsonl")], out.path());
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.files[0].layouts.get(&Layout::Winlogbeat), Some(&3));
    let lake = Lake::read(out.path());
    let i = lake.find("winlog_event_id", "1");
    // Sysmon UtcTime wins over @timestamp and event.created.
    assert_eq!(lake.get(i, "event_created"), Some("1709287201123000000"));
    assert_eq!(
        lake.get(i, "winlog_computer_name"),
        Some("WS01.corp.example")
    );
    assert_eq!(lake.get(i, "winlog_user_name"), Some("SYSTEM"));
    assert_eq!(
        lake.get(i, "winlog_task"),
        Some("Process Create (rule: ProcessCreate)")
    );
    assert_eq!(
        lake.get(i, "winlog_event_data_commandline"),
        Some("cmd.exe /c whoami")
    );
    assert_eq!(lake.get(i, "winlog_event_data_user"), Some("CORP\\alice"));
    let i = lake.find("winlog_event_id", "3");
    assert_eq!(lake.get(i, "event_created"), Some("1709287203000000000"));
    assert_eq!(
        lake.get(i, "winlog_event_data_image"),
        Some("<unknown process>")
    );
    assert_eq!(lake.get(i, "winlog_event_data_initiated"), Some("true"));
    assert_eq!(
        lake.get(i, "winlog_event_data_destinationport"),
        Some("443")
    );
    assert_eq!(lake.get(i, "winlog_event_data_destinationhostname"), None);
    let i = lake.find("winlog_event_id", "4624");
    assert_eq!(lake.get(i, "event_code"), Some("4624"));
    assert_eq!(lake.get(i, "winlog_user_name"), Some("alice"));
    assert_eq!(lake.get(i, "winlog_event_data_sourceip"), Some("10.0.0.5"));
    assert_eq!(
        lake.get(i, "winlog_event_data_sourcehostname"),
        Some("WS01")
    );
    // 2024-03-02T00:00+01:00 is still March 1st in UTC.
    assert_eq!(lake.get(i, "day"), Some("2024-03-01"));
}

#[test]
fn winlogbeat6_layout() {
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[fixture("winlogbeat6.jsonl")], out.path());
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.files[0].layouts.get(&Layout::Winlogbeat6), Some(&2));
    let lake = Lake::read(out.path());
    let i = lake.find("winlog_event_id", "3");
    assert_eq!(lake.get(i, "winlog_computer_name"), Some("HR001.shire.com"));
    assert_eq!(
        lake.get(i, "winlog_channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(lake.get(i, "event_created"), Some("1558211752569000000"));
    assert_eq!(
        lake.get(i, "winlog_event_data_processguid"),
        Some("{03BA39F5-652C-5CE0-0000-0010760BFF01}")
    );
    let i = lake.find("winlog_event_id", "800");
    assert_eq!(lake.get(i, "winlog_channel"), Some("Windows PowerShell"));
    assert_eq!(
        lake.get(i, "winlog_task"),
        Some("Pipeline Execution Details")
    );
}

#[test]
fn nxlog_flat_layout() {
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[fixture("nxlog_flat.jsonl")], out.path());
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.files[0].layouts.get(&Layout::NxlogFlat), Some(&2));
    let lake = Lake::read(out.path());
    let i = lake.find("winlog_event_id", "3");
    assert_eq!(lake.get(i, "winlog_computer_name"), Some("IT001.shire.com"));
    assert_eq!(lake.get(i, "winlog_user_name"), Some("SYSTEM"));
    assert_eq!(
        lake.get(i, "winlog_task"),
        Some("Network connection detected (rule: NetworkConnect)")
    );
    assert_eq!(lake.get(i, "event_created"), Some("1577249520004000000"));
    assert_eq!(
        lake.get(i, "winlog_event_data_destinationip"),
        Some("172.18.39.8")
    );
    let i = lake.find("winlog_event_id", "4658");
    assert_eq!(lake.get(i, "winlog_channel"), Some("Security"));
    assert_eq!(lake.get(i, "event_code"), Some("4658"));
    assert_eq!(lake.get(i, "event_created"), Some("1577249523000000000"));
}

#[test]
fn evtx_json_layout() {
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[fixture("evtx_dump.jsonl")], out.path());
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.files[0].layouts.get(&Layout::Evtx), Some(&2));
    let lake = Lake::read(out.path());
    let i = lake.find("winlog_event_id", "1644");
    assert_eq!(lake.get(i, "winlog_channel"), Some("Directory Service"));
    assert_eq!(
        lake.get(i, "winlog_event_data_param2"),
        Some("(&(objectClass=user)(adminCount=1))")
    );
    assert_eq!(lake.get(i, "winlog_user_name"), Some("S-1-5-21-1-2-3-1105"));
    assert_eq!(lake.get(i, "event_created"), Some("1685606400123456700"));
    let i = lake.find("winlog_event_id", "4624");
    assert_eq!(lake.get(i, "winlog_user_name"), Some("bob"));
    assert_eq!(lake.get(i, "winlog_event_data_sourceip"), Some("10.0.0.9"));
}

#[test]
fn mixed_good_and_bad_lines_keep_the_good_and_name_the_bad() {
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[fixture("mixed.jsonl")], out.path());
    assert!(report.has_errors());
    let file = &report.files[0];
    assert_eq!(file.events, 3);
    assert_eq!(file.rejected, 7);
    assert!(file.error.is_none(), "{report}");
    let got: Vec<(Location, RejectKind)> = file
        .examples
        .iter()
        .map(|r| (r.location.clone(), r.rejection.kind))
        .collect();
    assert_eq!(
        got,
        [
            (Location::Line(2), RejectKind::NotJson),
            (Location::Line(3), RejectKind::NotObject),
            (Location::Line(6), RejectKind::MissingEventId),
            (Location::Line(7), RejectKind::MissingChannel),
            (Location::Line(8), RejectKind::MissingTimestamp),
            (Location::Line(9), RejectKind::BadTimestamp),
            (Location::Line(11), RejectKind::NotJson),
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains(
            "mixed.jsonl:line 9: bad timestamp: @timestamp \"01/01/2020 00:00\""
        ),
        "{text}"
    );
    let lake = Lake::read(out.path());
    let mut images: Vec<_> = lake
        .rows
        .iter()
        .filter_map(|r| r["winlog_event_data_image"].clone())
        .collect();
    images.sort();
    assert_eq!(images, ["a.exe", "b.exe", "c.exe"]);
}

#[test]
fn a_top_level_json_array_is_accepted() {
    let out = tempfile::tempdir().expect("tempdir");
    let report = ingest(&[fixture("array.json")], out.path());
    let file = &report.files[0];
    assert_eq!(file.events, 2, "{report}");
    assert_eq!(file.rejected, 1);
    assert_eq!(file.examples[0].location, Location::Element(2));
    assert_eq!(file.examples[0].rejection.kind, RejectKind::NotObject);
    assert_eq!(Lake::read(out.path()).rows.len(), 2);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("compress");
    enc.finish().expect("compress")
}

#[test]
fn gzip_whole_and_truncated() {
    let raw = std::fs::read(otrf_dir().join(OTRF_FILES[0])).expect("read");
    let total = raw.iter().filter(|&&b| b == b'\n').count() as u64;
    let gz = gzip(&raw);
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole.json.gz");
    std::fs::write(&whole, &gz).expect("write");
    let cut = dir.path().join("cut.json.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).expect("write");

    let out = dir.path().join("lake-whole");
    let report = ingest(&[whole], &out);
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.events(), total);

    let out = dir.path().join("lake-cut");
    let report = ingest(&[cut], &out);
    assert!(report.has_errors());
    let file = &report.files[0];
    let err = file.error.as_deref().expect("a file error");
    assert!(
        err.contains("gzip stream is truncated or corrupt after line"),
        "{err}"
    );
    assert_eq!(file.rejected, 0, "{report}");
    assert!(file.events > 100 && file.events < total, "{}", file.events);
    assert_eq!(Lake::read(&out).rows.len() as u64, file.events);
}

#[test]
fn binary_and_missing_files_are_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("blob.json");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&bin, [&[0x7f, b'E', b'L', b'F', 0, 1][..], &bytes].concat())
        .expect("write");
    let missing = dir.path().join("missing.json");
    let nothing = dir.path().join("*.nomatch");
    let good = fixture("nxlog_flat.jsonl");
    let out = dir.path().join("lake");
    let report = ingest(&[bin, missing, nothing, good], &out);
    assert!(report.has_errors());
    let errors: Vec<&str> = report
        .files
        .iter()
        .map(|f| f.error.as_deref().unwrap_or(""))
        .collect();
    assert!(
        errors[0].starts_with("binary data (a NUL byte at offset 4)"),
        "{}",
        errors[0]
    );
    assert!(errors[1].starts_with("cannot open"), "{}", errors[1]);
    assert_eq!(errors[2], "no file matches this pattern");
    assert_eq!(errors[3], "");
    assert_eq!(report.events(), 2);
    assert_eq!(Lake::read(&out).rows.len(), 2);
}

#[test]
fn garbage_evtx_gives_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.evtx");
    let mut bytes = b"ElfFile\0".to_vec();
    bytes.extend((0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8));
    std::fs::write(&bad, &bytes).expect("write");
    let short = dir.path().join("short.evtx");
    std::fs::write(&short, b"ElfFile\0").expect("write");
    let out = dir.path().join("lake");
    let report = ingest(&[bad, short], &out);
    for f in &report.files {
        let err = f.error.as_deref().unwrap_or("");
        let rejected = f
            .rejected_by_kind
            .get(&RejectKind::BadEvtxRecord)
            .copied()
            .unwrap_or(0);
        assert!(err.contains("EVTX") || rejected > 0, "{report}");
        assert_eq!(f.events, 0);
    }
    assert!(report.has_errors());
}

/// A minimal EVTX writer for tests: a file header and one chunk per slice of records, each
/// record plain BinXML elements (no templates). The byte layout follows the `evtx` crate's
/// own test fixtures (MIT/Apache-2.0) and MS-EVEN6.
mod evtx_synth {
    /// Size of the file header block.
    pub const FILE_HEADER: usize = 4096;
    /// Size of a chunk header.
    pub const CHUNK_HEADER: usize = 512;
    const CHUNK: usize = 65536;
    const RECORD_HEADER: usize = 24;

    /// The fields of one Sysmon network-connection record.
    pub struct SysmonRecord {
        pub event_id: u32,
        pub time: String,
        pub utc_time: String,
        pub computer: String,
        pub guid: String,
        pub destination_ip: String,
    }

    struct BinXml {
        bytes: Vec<u8>,
        base: u32,
    }

    impl BinXml {
        fn pos(&self) -> u32 {
            self.base + self.bytes.len() as u32
        }
        fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.bytes.extend_from_slice(b);
            self
        }
        fn u16(&mut self, v: u16) -> &mut Self {
            self.raw(&v.to_le_bytes())
        }
        fn u32(&mut self, v: u32) -> &mut Self {
            self.raw(&v.to_le_bytes())
        }
        fn utf16(&mut self, s: &str) -> &mut Self {
            for unit in s.encode_utf16() {
                self.u16(unit);
            }
            self
        }
        /// An inline name: next-string offset, hash, length, UTF-16, NUL.
        fn name(&mut self, name: &str) -> &mut Self {
            let at = self.pos() + 4;
            self.u32(at)
                .u32(0)
                .u16(0)
                .u16(name.encode_utf16().count() as u16);
            self.utf16(name).u16(0)
        }
        fn open(&mut self, name: &str, attributes: bool) -> &mut Self {
            self.raw(&[if attributes { 0x41 } else { 0x01 }])
                .u32(0)
                .name(name);
            if attributes {
                self.u32(0);
            }
            self
        }
        fn attribute(&mut self, name: &str, value: &str) -> &mut Self {
            self.raw(&[0x06]).name(name).text(value)
        }
        fn text(&mut self, s: &str) -> &mut Self {
            self.raw(&[0x05, 0x01])
                .u16(s.encode_utf16().count() as u16)
                .utf16(s)
        }
        fn element(&mut self, name: &str, text: &str) -> &mut Self {
            self.open(name, false).raw(&[0x02]).text(text).raw(&[0x04])
        }
        fn record(&mut self, r: &SysmonRecord) {
            self.raw(&[0x0f, 1, 1, 0]);
            self.open("Event", false).raw(&[0x02]);
            self.open("System", false).raw(&[0x02]);
            self.element("EventID", &r.event_id.to_string());
            self.open("TimeCreated", true)
                .attribute("SystemTime", &r.time)
                .raw(&[0x03]);
            self.element("Channel", "Microsoft-Windows-Sysmon/Operational");
            self.element("Computer", &r.computer);
            self.open("Security", true)
                .attribute("UserID", "S-1-5-18")
                .raw(&[0x03]);
            self.raw(&[0x04]);
            self.open("EventData", false).raw(&[0x02]);
            for (name, value) in [
                ("UtcTime", &r.utc_time),
                ("ProcessGuid", &r.guid),
                ("DestinationIp", &r.destination_ip),
            ] {
                self.open("Data", true).attribute("Name", name).raw(&[0x02]);
                self.text(value).raw(&[0x04]);
            }
            self.raw(&[0x04, 0x04, 0x00]);
        }
    }

    fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// An EVTX file with one chunk per slice; record ids count from 1 across chunks.
    pub fn evtx_file(chunks: &[&[SysmonRecord]]) -> Vec<u8> {
        let mut file = vec![0; FILE_HEADER + CHUNK * chunks.len()];
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        put(&mut file, 0, b"ElfFile\0");
        put(&mut file, 16, &(chunks.len() as u64 - 1).to_le_bytes());
        put(&mut file, 24, &(total as u64 + 1).to_le_bytes());
        put(&mut file, 32, &128u32.to_le_bytes());
        put(&mut file, 36, &1u16.to_le_bytes());
        put(&mut file, 38, &3u16.to_le_bytes());
        put(&mut file, 40, &(FILE_HEADER as u16).to_le_bytes());
        put(&mut file, 42, &(chunks.len() as u16).to_le_bytes());
        let sum = evtx::checksum_ieee(&file[..120]);
        put(&mut file, 124, &sum.to_le_bytes());
        let mut next_id = 1u64;
        for (n, records) in chunks.iter().enumerate() {
            let chunk = &mut file[FILE_HEADER + n * CHUNK..FILE_HEADER + (n + 1) * CHUNK];
            let first_id = next_id;
            let mut start = CHUNK_HEADER;
            let mut last = start;
            for r in records.iter() {
                let mut x = BinXml {
                    bytes: Vec::new(),
                    base: (start + RECORD_HEADER) as u32,
                };
                x.record(r);
                let size = RECORD_HEADER + x.bytes.len() + 4;
                let rec = &mut chunk[start..start + size];
                put(rec, 0, b"**\0\0");
                put(rec, 4, &(size as u32).to_le_bytes());
                put(rec, 8, &next_id.to_le_bytes());
                put(rec, 16, &131_000_000_000_000_000u64.to_le_bytes());
                put(rec, RECORD_HEADER, &x.bytes);
                put(rec, size - 4, &(size as u32).to_le_bytes());
                next_id += 1;
                last = start;
                start += size;
            }
            let last_id = next_id - 1;
            put(chunk, 0, b"ElfChnk\0");
            let local_last = records.len() as u64;
            for (at, id) in [(8, 1), (16, local_last), (24, first_id), (32, last_id)] {
                put(chunk, at, &id.to_le_bytes());
            }
            put(chunk, 40, &128u32.to_le_bytes());
            put(chunk, 44, &(last as u32).to_le_bytes());
            put(chunk, 48, &(start as u32).to_le_bytes());
            let events = evtx::checksum_ieee(&chunk[CHUNK_HEADER..start]);
            put(chunk, 52, &events.to_le_bytes());
            let header =
                evtx::checksum_ieee(&[&chunk[..120], &chunk[128..CHUNK_HEADER]].concat());
            put(chunk, 124, &header.to_le_bytes());
        }
        file
    }
}

#[test]
fn evtx_files_are_read_and_a_broken_chunk_is_reported() {
    use evtx_synth::{SysmonRecord, evtx_file};
    let rec = |i: u32| SysmonRecord {
        event_id: 3,
        time: format!("2019-05-18T20:36:{:02}.5000000Z", 10 + i),
        utc_time: format!("2019-05-18 20:36:{:02}.123", 10 + i),
        computer: "HR001.shire.com".into(),
        guid: format!("{{03ba39f5-652c-5ce0-0000-00107600{i:04}}}"),
        destination_ip: "10.0.10.106".into(),
    };
    let good: Vec<SysmonRecord> = (0..3).map(rec).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = dir.path().join("ok.evtx");
    std::fs::write(&ok, evtx_file(&[&good[..2], &good[2..]])).expect("write");
    let out = dir.path().join("lake");
    let report = ingest(std::slice::from_ref(&ok), &out);
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.files[0].layout(), Some(Layout::Evtx));
    let lake = Lake::read(&out);
    assert_eq!(lake.rows.len(), 3);
    let i = lake.find(
        "winlog_event_data_processguid",
        "{03ba39f5-652c-5ce0-0000-001076000001}",
    );
    assert_eq!(
        lake.get(i, "winlog_channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(lake.get(i, "winlog_computer_name"), Some("HR001.shire.com"));
    assert_eq!(lake.get(i, "winlog_user_name"), Some("SYSTEM"));
    assert_eq!(
        lake.get(i, "winlog_event_data_destinationip"),
        Some("10.0.10.106")
    );
    // UtcTime (20:36:11.123) wins over TimeCreated (20:36:11.5).
    assert_eq!(lake.get(i, "event_created"), Some("1558211771123000000"));

    // Damage the first chunk's records: its checksum no longer holds.
    let mut bytes = std::fs::read(&ok).expect("read");
    let at = evtx_synth::FILE_HEADER + evtx_synth::CHUNK_HEADER + 100;
    bytes[at] ^= 0xff;
    let broken = dir.path().join("broken.evtx");
    std::fs::write(&broken, bytes).expect("write");
    let out = dir.path().join("lake-broken");
    let report = ingest(&[broken], &out);
    assert!(report.has_errors());
    let file = &report.files[0];
    assert_eq!(file.events, 1, "{report}");
    assert_eq!(
        file.rejected_by_kind.get(&RejectKind::BadEvtxRecord),
        Some(&1),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("broken.evtx:record 1: unreadable EVTX record"),
        "{report}"
    );
    assert_eq!(Lake::read(&out).rows.len(), 1);
}

#[test]
fn runs_add_parts_atomically_and_never_overwrite() {
    let input = otrf_dir().join(OTRF_FILES[1]);
    let out = tempfile::tempdir().expect("tempdir");
    let first = ingest(std::slice::from_ref(&input), out.path());
    let files_1 = all_files(out.path());
    assert!(!files_1.is_empty());
    assert_eq!(files_1, first.parts);
    let sizes_1: Vec<u64> = files_1
        .iter()
        .map(|p| p.metadata().expect("stat").len())
        .collect();
    let second = ingest(&[input], out.path());
    assert_ne!(first.run_id, second.run_id);
    let files_2 = all_files(out.path());
    assert_eq!(files_2.len(), 2 * files_1.len());
    for (p, size) in files_1.iter().zip(&sizes_1) {
        assert_eq!(
            p.metadata().expect("stat").len(),
            *size,
            "{} changed",
            p.display()
        );
    }
    for p in &files_2 {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(!name.ends_with(".tmp") && !name.starts_with('.'), "{name}");
        assert!(
            name.contains(&first.run_id) || name.contains(&second.run_id),
            "{name}"
        );
    }
    assert_eq!(Lake::read(out.path()).rows.len() as u64, 2 * first.events());
}

#[test]
fn small_batches_and_many_days_keep_every_event_in_its_day() {
    // 40 days in shuffled order with batches of 7 rows: more days than open parts.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("days.jsonl");
    let mut text = String::new();
    for i in 0..400u64 {
        let day = (i * 17) % 40 + 1;
        let (m, d) = if day <= 31 { (1, day) } else { (2, day - 31) };
        text.push_str(&format!(
            "{{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\
             \"@timestamp\":\"2021-{m:02}-{d:02}T12:00:00Z\",\"Image\":\"p{i}.exe\"}}\n"
        ));
    }
    std::fs::write(&input, text).expect("write");
    let out = dir.path().join("lake");
    let report = ingest_with(&[input], &out, IngestOptions::default().batch_size(7));
    assert!(!report.has_errors(), "{report}");
    let lake = Lake::read(&out);
    assert_eq!(lake.rows.len(), 400);
    let days: std::collections::BTreeSet<_> =
        lake.rows.iter().filter_map(|r| r["day"].clone()).collect();
    assert_eq!(days.len(), 40);
    assert!(report.parts.len() >= 40);
    assert!(
        all_files(&out)
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".tmp"))
    );
}

/// Throughput on 1M synthetic winlogbeat-8 Sysmon lines and on the OTRF recordings
/// repeated. Run in release: `cargo test --release --test ingest -- --ignored
/// --nocapture throughput`.
#[test]
#[ignore = "a measurement, run by hand in release"]
fn throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let synthetic = dir.path().join("synthetic.jsonl");
    let mut w = std::io::BufWriter::new(File::create(&synthetic).expect("create"));
    for i in 0..1_000_000u64 {
        let (s, ms) = (i / 1000, i % 1000);
        let id = [1, 3, 22, 11][(i % 4) as usize];
        writeln!(
            w,
            r#"{{"@timestamp":"2024-03-0{}T{:02}:{:02}:{:02}.{ms:03}Z","event":{{"code":"{id}","kind":"event"}},"host":{{"name":"ws{}"}},"winlog":{{"event_id":{id},"channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"WS{}.corp.example","record_id":{i},"task":"Network connection detected (rule: NetworkConnect)","user":{{"name":"SYSTEM"}},"event_data":{{"UtcTime":"2024-03-0{} {:02}:{:02}:{:02}.{ms:03}","ProcessGuid":"{{a158f72c-e9e0-5e02-0000-{i:012x}}}","ProcessId":"{}","Image":"C:\\Windows\\System32\\svchost.exe","User":"NT AUTHORITY\\SYSTEM","Protocol":"tcp","Initiated":"true","SourceIp":"10.0.{}.{}","SourcePort":"{}","DestinationIp":"172.18.39.{}","DestinationPort":"443","QueryName":"host{}.example.com"}}}}}}"#,
            1 + s / 86_400 % 7, s / 3600 % 24, s / 60 % 60, s % 60, i % 50, i % 50,
            1 + s / 86_400 % 7, s / 3600 % 24, s / 60 % 60, s % 60, i % 9000,
            i % 200, i % 250, 40_000 + i % 20_000, i % 250, i % 1000
        )
        .expect("write");
    }
    w.flush().expect("flush");
    drop(w);
    let real = dir.path().join("otrf.jsonl");
    let mut w = std::io::BufWriter::new(File::create(&real).expect("create"));
    for name in OTRF_FILES {
        let text = std::fs::read(otrf_dir().join(name)).expect("read");
        for _ in 0..20 {
            w.write_all(&text).expect("write");
        }
    }
    w.flush().expect("flush");
    drop(w);
    for input in [synthetic, real] {
        let bytes = input.metadata().expect("stat").len() as f64;
        let out = dir.path().join("lake");
        let report = ingest(std::slice::from_ref(&input), &out);
        assert!(!report.has_errors());
        let secs = report.elapsed.as_secs_f64();
        eprintln!(
            "{}: {} events, {:.0} MB in {secs:.2} s: {:.0} events/s, {:.0} MB/s; {}",
            input
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default(),
            report.events(),
            bytes / 1e6,
            report.events() as f64 / secs,
            bytes / 1e6 / secs,
            peak_memory()
        );
        std::fs::remove_dir_all(&out).expect("clean");
    }
}

/// The process's peak resident memory so far, where Linux reports it.
fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: unknown");
    format!("peak RSS {}", hwm.trim_start_matches("VmHWM:").trim())
}
