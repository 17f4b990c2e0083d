//! `huntsman ingest files` on EVTX: a hand-built file of Sysmon and Security records
//! (`fuzz/seeds/ingest_file/sysmon.evtx`, written by `fuzz/seed-evtx.py` in Windows' own
//! layout, checked against python-evtx) becomes rows with the fields the hunts read, and a
//! damaged copy is reported naming the file instead of stopping the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use huntsman_tests::run_client;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/ingest_file/sysmon.evtx")
}

fn ok(args: &[&str], cwd: &Path) -> (String, String) {
    let out = run_client(args, cwd, Duration::from_secs(120)).expect("client ran");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// Runs `huntsman ingest files`; its report, and whether it exited 0.
fn ingest(files: &[&Path], lake: &Path, cwd: &Path) -> (String, Option<i32>) {
    let mut args = vec!["ingest", "files", "--out", lake.to_str().expect("utf8")];
    args.extend(files.iter().map(|f| f.to_str().expect("utf8")));
    let out = run_client(&args, cwd, Duration::from_secs(120)).expect("client ran");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (report, out.status.code())
}

/// The lake's rows as CSV, in record order.
fn rows(lake: &Path, cwd: &Path) -> Vec<Vec<String>> {
    let events = lake.join("events");
    let (csv, _) = ok(
        &[
            "--data",
            events.to_str().expect("utf8"),
            "sql",
            "--format",
            "csv",
            "SELECT winlog_event_id, winlog_channel, winlog_computer_name, \
             winlog_event_data_processguid, winlog_event_data_image, \
             winlog_event_data_commandline, winlog_event_data_parentimage, \
             winlog_event_data_destinationip, winlog_event_data_destinationport, \
             winlog_user_name, winlog_event_data_sourceip, \
             arrow_cast(event_created, 'Int64') AS created \
             FROM events ORDER BY event_created",
        ],
        cwd,
    );
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn evtx_records_become_rows_with_the_fields_the_hunts_read() {
    let work = tempfile::tempdir().expect("tempdir");
    let lake = work.path().join("lake");
    let (report, code) = ingest(&[&sample()], &lake, work.path());
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("ingested 3 events from 1 files"),
        "{report}"
    );
    assert!(
        report.contains("rejected: 0 records; files with errors: 0"),
        "{report}"
    );

    let got = rows(&lake, work.path());
    let powershell = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
    let guid = "{11111111-2222-3333-4444-555555555555}";
    // 2024-03-01T10:00:00Z in nanoseconds, then 5 s apart.
    let t0: i64 = 1_709_287_200_000_000_000;
    let created = |s: i64| (t0 + s * 1_000_000_000).to_string();
    let expected: Vec<Vec<String>> = [
        [
            "1",
            "Microsoft-Windows-Sysmon/Operational",
            "ws01.corp.example",
            guid,
            powershell,
            "powershell.exe -nop -w hidden -enc SQBFAFgA",
            r"C:\Windows\explorer.exe",
            "",
            "",
            "SYSTEM",
            "",
        ],
        [
            "3",
            "Microsoft-Windows-Sysmon/Operational",
            "ws01.corp.example",
            guid,
            powershell,
            "",
            "",
            "203.0.113.7",
            "443",
            "SYSTEM",
            "10.0.0.5",
        ],
        [
            "4624",
            "Security",
            "ws01.corp.example",
            "",
            "",
            "",
            "",
            "",
            "",
            "alice",
            "10.0.0.9",
        ],
    ]
    .iter()
    .zip([0, 5, 10])
    .map(|(row, s)| {
        let mut row: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        row.push(created(s));
        row
    })
    .collect();
    // The user column is the record's Security/@UserID (S-1-5-18, named SYSTEM) for Sysmon
    // and the logon's target user for 4624, as winlogbeat fills it.
    assert_eq!(got, expected);
}

/// A copy whose second record has one byte changed fails the chunk's checksum, and a copy
/// cut in the middle of its chunk is truncated (the parser alone reads it as an empty
/// file): each is reported naming the file, the run says some inputs could not be
/// ingested (exit 2, as for any file with an error), and the intact file given beside
/// them is ingested whole.
#[test]
fn damaged_evtx_files_are_reported_by_name_and_the_others_ingested() {
    let work = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(sample()).expect("sample");
    let record2 = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x2a, 0x2a, 0, 0])
        .nth(1)
        .map(|(i, _)| i)
        .expect("a second record");
    let mut flipped = bytes.clone();
    flipped[record2 + 200] ^= 0x55;
    let corrupt = work.path().join("corrupt.evtx");
    std::fs::write(&corrupt, flipped).expect("write");
    let cut = work.path().join("cut.evtx");
    std::fs::write(&cut, &bytes[..record2 + 100]).expect("write");

    let lake = work.path().join("lake");
    let (report, code) = ingest(&[&corrupt, &cut, &sample()], &lake, work.path());
    assert_eq!(code, Some(2), "{report}");
    assert!(
        report.contains("some inputs could not be ingested"),
        "{report}"
    );
    let line = |name: &str| {
        report
            .lines()
            .filter(|l| l.contains(name))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let corrupt_lines = line("corrupt.evtx");
    assert!(corrupt_lines.contains("corrupt.evtx: 0 events"), "{report}");
    assert!(
        corrupt_lines.contains("CRC32 invalid"),
        "the damaged chunk is named as failing its checksum:\n{report}"
    );
    let cut_lines = line("cut.evtx");
    assert!(
        cut_lines.contains("error: ") && cut_lines.contains("truncated EVTX file"),
        "the truncated file is reported:\n{report}"
    );
    assert!(report.contains("sysmon.evtx: 3 events"), "{report}");
    assert_eq!(
        rows(&lake, work.path())
            .iter()
            .filter(|r| r[0] == "4624")
            .count(),
        1,
        "{report}"
    );
}
