//! Unit tests of single SQL files of the built-in packs, on hand-made events.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;

use super::pack::Pack;
use super::params::Params;

/// (event id, host, source ip, initiated, query name, query results)
type Row = (
    i32,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

async fn host_addresses(rows: &[Row]) -> Vec<(String, String)> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("winlog_event_id", DataType::Int32, false),
        Field::new("winlog_computer_name", DataType::Utf8, true),
        Field::new("winlog_event_data_sourceip", DataType::Utf8, true),
        Field::new("winlog_event_data_initiated", DataType::Utf8, true),
        Field::new("winlog_event_data_queryname", DataType::Utf8, true),
        Field::new("winlog_event_data_queryresults", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.3))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.4))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.5))),
        ],
    )
    .expect("batch");
    let batches =
        run_on("widespread-attack", vec![("events", batch)], "02_hosts.sql").await;
    let mut pairs = Vec::new();
    for b in &batches {
        let ips = b.column(0).as_string::<i32>();
        let hosts = b.column(1).as_string::<i32>();
        for i in 0..b.num_rows() {
            pairs.push((ips.value(i).to_string(), hosts.value(i).to_string()));
        }
    }
    pairs.sort();
    pairs
}

#[tokio::test]
async fn hosts_are_found_by_their_outbound_addresses_and_by_dns() {
    let rows: &[Row] = &[
        // WS1 connects out over IPv4: its source address is its own.
        (
            3,
            "WS1.corp.local",
            Some("10.0.0.21"),
            Some("true"),
            None,
            None,
        ),
        // An inbound connection's source is not taken as the receiver's address
        // (shippers disagree on which side it names).
        (
            3,
            "WS1.corp.local",
            Some("10.0.0.99"),
            Some("false"),
            None,
            None,
        ),
        // DC1 talks only IPv6 and loopback; WS1 resolves its name.
        (
            3,
            "DC1.corp.local",
            Some("fe80:0:0:0:1:2:3:4"),
            Some("true"),
            None,
            None,
        ),
        (
            3,
            "DC1.corp.local",
            Some("0:0:0:0:0:0:0:1"),
            Some("true"),
            None,
            None,
        ),
        (
            22,
            "WS1.corp.local",
            None,
            None,
            Some("dc1.CORP.local"),
            Some("::ffff:10.0.0.5;type:  5 alias.example;"),
        ),
        // An external name's answer is no host's address.
        (
            22,
            "WS1.corp.local",
            None,
            None,
            Some("www.example.com"),
            Some("::ffff:93.184.216.34;"),
        ),
    ];
    let found = host_addresses(rows).await;
    let expected = [
        ("10.0.0.21", "WS1.corp.local"),
        ("10.0.0.5", "DC1.corp.local"),
        ("fe80:0:0:0:1:2:3:4", "DC1.corp.local"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(found, expected.to_vec());
}

/// A process of `pa_processes` for the delivery phase: (guid, host, first seen, image,
/// command line, parent guid).
type Proc = (
    &'static str,
    &'static str,
    i64,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// Registers `tables` (name, batch) on a fresh context with the UDFs and runs files of
/// the built-in `pack` on them in order, rendered with the parameters' defaults and
/// `extra` placeholders as a hunt renders them: each of `phases` (file, table) becomes
/// the table it names (a view, read by the files after it), then `last` is collected.
async fn run_phases_on(
    pack: &str,
    extra: &std::collections::BTreeMap<String, String>,
    tables: Vec<(&str, RecordBatch)>,
    phases: &[(&str, &str)],
    last: &str,
) -> Vec<RecordBatch> {
    let ctx = SessionContext::new();
    huntsman_udfs::register_all_on_context(&ctx);
    for (name, batch) in tables {
        ctx.register_batch(name, batch).expect("register");
    }
    let pack = Pack::builtin_named(pack).expect("pack");
    let params =
        Params::resolve_in(pack.parameters.clone(), |_| None, &[]).expect("defaults");
    let render = |file: &str| {
        params
            .render(pack.file(file).expect("file"), extra)
            .expect("render")
    };
    for (file, table) in phases {
        let frame = ctx.sql(&render(file)).await.expect("plan");
        ctx.register_table(*table, frame.into_view())
            .expect("register");
    }
    ctx.sql(&render(last))
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run")
}

/// [`run_phases_on`] with the defaults alone and no intermediate phase.
async fn run_on(
    pack: &str,
    tables: Vec<(&str, RecordBatch)>,
    last: &str,
) -> Vec<RecordBatch> {
    run_phases_on(pack, &Default::default(), tables, &[], last).await
}

/// Runs process-anomaly's `04_runs.sql` and `05_delivered.sql` on `processes` and on
/// file-creation events (writer guid, host, time, path); returns each process's
/// `delivered`.
async fn delivered(
    processes: &[Proc],
    writes: &[(&'static str, &'static str, i64, &'static str)],
) -> std::collections::BTreeMap<String, f64> {
    let strings = |f: fn(&Proc) -> &'static str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(processes.iter().map(f)))
    };
    let processes = RecordBatch::try_from_iter([
        ("processguid", strings(|p| p.0)),
        ("host", strings(|p| p.1)),
        (
            "first_seen_ns",
            Arc::new(Int64Array::from_iter_values(processes.iter().map(|p| p.2)))
                as ArrayRef,
        ),
        ("image", strings(|p| p.3)),
        ("commandline", strings(|p| p.4)),
        (
            "parent_processguid",
            Arc::new(StringArray::from_iter(processes.iter().map(|p| p.5))),
        ),
    ])
    .expect("processes");
    let events = RecordBatch::try_from_iter([
        (
            "winlog_channel",
            Arc::new(StringArray::from_iter_values(
                writes
                    .iter()
                    .map(|_| "Microsoft-Windows-Sysmon/Operational"),
            )) as ArrayRef,
        ),
        (
            "winlog_event_id",
            Arc::new(Int32Array::from_iter_values(writes.iter().map(|_| 11))),
        ),
        (
            "winlog_computer_name",
            Arc::new(StringArray::from_iter_values(writes.iter().map(|w| w.1))),
        ),
        (
            "winlog_event_data_processguid",
            Arc::new(StringArray::from_iter_values(writes.iter().map(|w| w.0))),
        ),
        (
            "event_created",
            Arc::new(Int64Array::from_iter_values(writes.iter().map(|w| w.2))),
        ),
        (
            "winlog_event_data_targetfilename",
            Arc::new(StringArray::from_iter_values(writes.iter().map(|w| w.3))),
        ),
    ])
    .expect("events");
    let batches = run_phases_on(
        "process-anomaly",
        &Default::default(),
        vec![("pa_processes", processes), ("events", events)],
        &[("04_runs.sql", "pa_runs")],
        "05_delivered.sql",
    )
    .await;
    let mut out = std::collections::BTreeMap::new();
    for b in &batches {
        let guids = b.column(0).as_string::<i32>();
        let values = b.column(1).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.insert(guids.value(i).to_string(), values.value(i));
        }
    }
    out
}

#[tokio::test]
async fn a_file_written_then_run_by_another_process_is_delivery_weighed_by_prevalence() {
    let dll = r"C:\Users\bob\AppData\Local\Temp\upd4821.dll";
    let runner =
        r"C:\Windows\AdminArsenal\PDQDeployRunner\service-1\PDQDeployRunner-1.exe";
    let processes: &[Proc] = &[
        // On A: PowerShell writes a DLL, rundll32 runs it; rundll32 starts a shell and a
        // second child, the shell starts certutil.
        (
            "ps",
            "A",
            100,
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            "powershell -enc x",
            None,
        ),
        (
            "rundll",
            "A",
            200,
            r"C:\Windows\System32\rundll32.exe",
            r#""C:\Windows\System32\rundll32.exe" C:\Users\bob\AppData\Local\Temp\upd4821.dll,DllRegisterServer"#,
            Some("ps"),
        ),
        (
            "cmd",
            "A",
            300,
            r"C:\Windows\System32\cmd.exe",
            "cmd /c certutil",
            Some("rundll"),
        ),
        (
            "dump",
            "A",
            310,
            r"C:\Windows\System32\rundll32.exe",
            "rundll32 comsvcs.dll, MiniDump",
            Some("rundll"),
        ),
        (
            "certutil",
            "A",
            400,
            r"C:\Windows\System32\certutil.exe",
            "certutil -urlcache",
            Some("cmd"),
        ),
        // Named the DLL before it was written: not a run of it.
        (
            "early",
            "A",
            50,
            r"C:\Windows\System32\cmd.exe",
            r"cmd /c del C:\Users\bob\AppData\Local\Temp\upd4821.dll",
            None,
        ),
        // A text file written and opened: not an executable.
        (
            "notepad",
            "A",
            500,
            r"C:\Windows\notepad.exe",
            r"notepad C:\Users\bob\notes.txt",
            None,
        ),
        // The same path on another host, where nothing wrote it.
        (
            "other",
            "B",
            600,
            r"C:\Windows\System32\rundll32.exe",
            r#""C:\Windows\System32\rundll32.exe" C:\Users\bob\AppData\Local\Temp\upd4821.dll,DllRegisterServer"#,
            None,
        ),
        // A deployment tool System copies to every host and services.exe starts there.
        ("system-a", "A", 0, "System", "", None),
        ("system-b", "B", 0, "System", "", None),
        ("system-c", "C", 0, "System", "", None),
        ("system-d", "D", 0, "System", "", None),
        ("pdq-a", "A", 20, runner, runner, None),
        ("pdq-b", "B", 20, runner, runner, None),
        ("pdq-c", "C", 20, runner, runner, None),
        ("pdq-d", "D", 20, runner, runner, None),
    ];
    let writes = &[
        ("ps", "A", 150, dll),
        ("notepad", "A", 450, r"C:\Users\bob\notes.txt"),
        ("system-a", "A", 10, runner),
        ("system-b", "B", 10, runner),
        ("system-c", "C", 10, runner),
        ("system-d", "D", 10, runner),
    ];
    let got = delivered(processes, writes).await;
    let close = |guid: &str, want: f64| {
        let value = got.get(guid).copied();
        assert!(
            value.is_some_and(|v| (v - want).abs() < 1e-9),
            "{guid}: delivered {value:?}, expected {want}: {got:?}"
        );
    };
    // Run on one host of four: 1 - 0.75 / 4, for the writer and the runner.
    let payload = 1.0 - 0.75 / 4.0;
    close("ps", payload);
    close("rundll", payload);
    // The runner's two children each lose ln(2) / ln(processes); the grandchild, an
    // only child, inherits its parent's share whole.
    let child = payload - 2f64.ln() / (processes.len() as f64).ln();
    close("cmd", child);
    close("dump", child);
    close("certutil", child);
    // A tool run on every host weighs a quarter.
    for guid in ["system-a", "system-b", "pdq-a", "pdq-d"] {
        close(guid, 0.25);
    }
    for guid in ["early", "notepad", "other"] {
        assert!(!got.contains_key(guid), "{guid} has no delivery: {got:?}");
    }
}

/// Runs the AD hunts' `04_search_shapes.sql` and `05_novelty.sql` on LDAP searches
/// (account, day, filter) in both packs; returns each (account, week)'s (shapes, new
/// shapes, novel share), the same in both.
async fn novelty(
    searches: &[(&'static str, i64, &'static str)],
) -> std::collections::BTreeMap<(String, i64), (i64, i64, f64)> {
    const DAY_NS: i64 = 86_400_000_000_000;
    let events = RecordBatch::try_from_iter([
        (
            "event_code",
            Arc::new(StringArray::from_iter_values(
                searches.iter().map(|_| "1644"),
            )) as ArrayRef,
        ),
        (
            "winlog_event_id",
            Arc::new(Int32Array::from_iter_values(searches.iter().map(|_| 1644))),
        ),
        (
            "winlog_user_name",
            Arc::new(StringArray::from_iter_values(searches.iter().map(|s| s.0))),
        ),
        (
            "event_created",
            Arc::new(Int64Array::from_iter_values(
                searches.iter().map(|s| s.1 * DAY_NS + 3_600_000_000_000),
            )),
        ),
        (
            "winlog_event_data_param2",
            Arc::new(StringArray::from_iter_values(searches.iter().map(|s| s.2))),
        ),
    ])
    .expect("events");
    let mut results = Vec::new();
    for name in ["ad-enum-kmeans", "ad-enum-autoencoder"] {
        let extra = [("EARLIEST_NS".to_string(), "0".to_string())].into();
        let batches = run_phases_on(
            name,
            &extra,
            vec![("events", events.clone())],
            &[("04_search_shapes.sql", "ad_search_shapes")],
            "05_novelty.sql",
        )
        .await;
        let mut out = std::collections::BTreeMap::new();
        for b in &batches {
            let col = |name: &str| b.column_by_name(name).expect(name);
            let users = col("user").as_string::<i32>();
            let weeks =
                col("week").as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let shapes =
                col("shapes").as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let new = col("new_shapes")
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let share = col("novel_share").as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                out.insert(
                    (users.value(i).to_string(), weeks.value(i)),
                    (shapes.value(i), new.value(i), share.value(i)),
                );
            }
        }
        results.push(out);
    }
    assert_eq!(results[0], results[1], "the two AD packs' novelty differs");
    results.swap_remove(0)
}

#[tokio::test]
async fn ldap_novelty_compares_an_accounts_query_shapes_with_its_first_day() {
    let lookup = "(&(objectClass=user)(sAMAccountName=alice))";
    let searches = &[
        // A service account looks up a different user each day and expands a different
        // group: one shape each, both on its first day, so nothing is new in either week.
        ("svc", 0, lookup),
        (
            "svc",
            0,
            "(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,DC=x)",
        ),
        ("svc", 1, "(&(objectClass=user)(sAMAccountName=bob))"),
        (
            "svc",
            1,
            "(memberOf:1.2.840.113556.1.4.1941:=CN=Backup Operators,CN=Users,DC=x)",
        ),
        ("svc", 8, "(&(objectClass=User)(sAMAccountName=carol))"),
        // An account that looks itself up on day 0 and asks for SPNs and adminCount on
        // day 3: two new shapes, weighted by rarity against the routine lookup.
        ("eve", 0, "(&(objectClass=user)(sAMAccountName=eve))"),
        ("eve", 3, "(servicePrincipalName=*)"),
        ("eve", 3, "(adminCount=1)"),
        ("eve", 4, "(adminCount=0)"),
        // The kind of object sought is part of the shape: two new shapes.
        ("bob", 0, "(&(objectClass=user)(sAMAccountName=bob))"),
        ("bob", 2, "(objectCategory=computer)"),
        ("bob", 2, "(objectCategory=person)"),
        // Seen on one day only: no baseline, everything counts as new.
        ("once", 5, "(adminCount=1)"),
        // Anonymous pings are not an account's searching and do not count as accounts.
        (
            "ANONYMOUS LOGON",
            0,
            "(&(DnsDomain=x)(NtVer=\\06\\00\\00\\00))",
        ),
        ("ANONYMOUS LOGON", 6, "(adminCount=1)"),
    ];
    let got = novelty(searches).await;
    let weeks: Vec<_> = got.keys().cloned().collect();
    let key = |u: &str, w: i64| (u.to_string(), w);
    assert_eq!(
        weeks,
        vec![
            key("bob", 0),
            key("eve", 0),
            key("once", 0),
            key("svc", 0),
            key("svc", 1)
        ]
    );
    // Rarity over the 4 accounts: the lookup is used by 3 of them, adminCount by 2, the
    // SPN, object-category and memberOf shapes by 1.
    let ln4 = 4f64.ln();
    let lookup_w = (4.0f64 / 3.0).ln() / ln4;
    let admin_count_w = 2f64.ln() / ln4;
    let close = |k: (String, i64), shapes: i64, new: i64, share: f64| {
        let (s, n, v) = got[&k];
        assert_eq!((s, n), (shapes, new), "{k:?}: {got:?}");
        assert!(
            (v - share).abs() < 1e-9,
            "{k:?}: share {v}, expected {share}"
        );
    };
    close(key("svc", 0), 2, 0, 0.0);
    close(key("svc", 1), 1, 0, 0.0);
    close(
        key("eve", 0),
        3,
        2,
        (1.0 + admin_count_w) / (lookup_w + 1.0 + admin_count_w),
    );
    close(key("bob", 0), 3, 2, 2.0 / (lookup_w + 2.0));
    close(key("once", 0), 1, 1, 1.0);
}

#[tokio::test]
async fn ldap_novelty_without_rarity_is_the_plain_share_of_new_shapes() {
    // One account: every shape is used by every account, so no shape is rarer than
    // another; the week's share is the plain share of its new shapes.
    let got = novelty(&[
        ("solo", 0, "(&(objectClass=user)(sAMAccountName=solo))"),
        ("solo", 2, "(servicePrincipalName=*)"),
        ("solo", 9, "(adminCount=1)"),
    ])
    .await;
    assert_eq!(got[&("solo".to_string(), 0)], (2, 1, 0.5), "{got:?}");
    assert_eq!(got[&("solo".to_string(), 1)], (1, 1, 1.0), "{got:?}");
    // Seen on one day only: no baseline, everything is new.
    let got = novelty(&[("once", 4, "(objectClass=*)")]).await;
    assert_eq!(got[&("once".to_string(), 0)], (1, 1, 1.0), "{got:?}");
}

const SEC_NS: i64 = 1_000_000_000;

/// A string column from optional values.
fn text_column<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

/// A connection for widespread-attack's attribution (Sysmon 3): (host, time in seconds,
/// source ip, destination ip).
type Connection = (&'static str, i64, &'static str, &'static str);

/// A process creation on a victim, as `ws_actions` keeps it: (host, time in seconds,
/// guid, parent guid, parent image).
type Spawn = (&'static str, i64, &'static str, &'static str, &'static str);

/// An anomalous action: (host, time in seconds, event id, process guid, image, text).
type Action = (
    &'static str,
    i64,
    i32,
    &'static str,
    &'static str,
    &'static str,
);

fn seconds(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(values.map(|t| t * SEC_NS)))
}

/// Runs widespread-attack's `08_attribution.sql` on the connections, the hosts'
/// addresses, the victims' process creations and the anomalous `actions`; returns each
/// attributed action's text and its source.
async fn attributed(
    connections: &[Connection],
    hosts: &[(&'static str, &'static str)],
    spawns: &[Spawn],
    actions: &[Action],
) -> std::collections::BTreeMap<String, String> {
    let events = RecordBatch::try_from_iter([
        (
            "winlog_event_id",
            Arc::new(Int32Array::from_iter_values(connections.iter().map(|_| 3)))
                as ArrayRef,
        ),
        (
            "winlog_computer_name",
            text_column(connections.iter().map(|c| Some(c.0))),
        ),
        ("event_created", seconds(connections.iter().map(|c| c.1))),
        (
            "winlog_event_data_sourceip",
            text_column(connections.iter().map(|c| Some(c.2))),
        ),
        (
            "winlog_event_data_destinationip",
            text_column(connections.iter().map(|c| Some(c.3))),
        ),
    ])
    .expect("events");
    let hosts = RecordBatch::try_from_iter([
        ("ip", text_column(hosts.iter().map(|h| Some(h.0)))),
        ("host", text_column(hosts.iter().map(|h| Some(h.1)))),
    ])
    .expect("hosts");
    let created = RecordBatch::try_from_iter([
        ("host", text_column(spawns.iter().map(|p| Some(p.0)))),
        ("event_created", seconds(spawns.iter().map(|p| p.1))),
        (
            "event_id",
            Arc::new(Int32Array::from_iter_values(spawns.iter().map(|_| 1))) as ArrayRef,
        ),
        ("processguid", text_column(spawns.iter().map(|p| Some(p.2)))),
        ("parent_guid", text_column(spawns.iter().map(|p| Some(p.3)))),
        (
            "parent_image",
            text_column(spawns.iter().map(|p| Some(p.4))),
        ),
    ])
    .expect("process creations");
    let anomalous = RecordBatch::try_from_iter([
        ("host", text_column(actions.iter().map(|a| Some(a.0)))),
        ("event_created", seconds(actions.iter().map(|a| a.1))),
        (
            "event_id",
            Arc::new(Int32Array::from_iter_values(actions.iter().map(|a| a.2))),
        ),
        (
            "processguid",
            text_column(actions.iter().map(|a| Some(a.3))),
        ),
        ("image", text_column(actions.iter().map(|a| Some(a.4)))),
        ("text", text_column(actions.iter().map(|a| Some(a.5)))),
        (
            "error",
            Arc::new(datafusion::arrow::array::Float64Array::from_iter_values(
                actions.iter().map(|_| 20.0),
            )),
        ),
    ])
    .expect("actions");
    let batches = run_on(
        "widespread-attack",
        vec![
            ("events", events),
            ("ws_hosts", hosts),
            ("ws_actions", created),
            ("ws_anomalous", anomalous),
        ],
        "08_attribution.sql",
    )
    .await;
    let mut out = std::collections::BTreeMap::new();
    for b in &batches {
        let col = |name: &str| b.column_by_name(name).expect(name).as_string::<i32>();
        let (texts, sources) = (col("text"), col("sourceip"));
        for i in 0..b.num_rows() {
            out.insert(texts.value(i).to_string(), sources.value(i).to_string());
        }
    }
    out
}

#[tokio::test]
async fn only_an_action_that_can_have_come_over_the_network_is_attributed() {
    const EXPLORER: &str = r"C:\Windows\Explorer.EXE";
    let (admin, deployer, victim) = ("10.0.0.21", "10.0.0.30", "10.0.0.5");
    let connect = |t: i64, from: &'static str| -> Connection { ("V", t, from, victim) };
    let spawn = |t: i64, guid, parent, parent_image| -> Spawn {
        ("V", t, guid, parent, parent_image)
    };
    let connections = [
        connect(90, admin),
        connect(100, deployer),
        connect(1000, admin),
    ];
    let spawns = [
        // The logged-on user's shell started before the data: its creation is not logged.
        spawn(130, "psexec", "shell", EXPLORER),
        spawn(135, "cmd", "shell", EXPLORER),
        spawn(140, "whoami", "cmd", r"C:\Windows\System32\cmd.exe"),
        // The service manager starts PsExec's service, which starts a shell.
        spawn(
            145,
            "psexesvc",
            "services",
            r"C:\Windows\System32\services.exe",
        ),
        spawn(150, "svc-cmd", "psexesvc", r"C:\Windows\PSEXESVC.exe"),
        // A remote desktop session (the connection at 1000 s): its shell starts after it.
        spawn(
            1010,
            "rdp-shell",
            "userinit",
            r"C:\Windows\System32\userinit.exe",
        ),
        spawn(1100, "rdp-cmd", "rdp-shell", EXPLORER),
    ];
    let actions: &[Action] = &[
        (
            "V",
            130,
            1,
            "psexec",
            r"C:\Tools\PsExec64.exe",
            "user's psexec",
        ),
        (
            "V",
            140,
            1,
            "whoami",
            r"C:\Windows\System32\whoami.exe",
            "user's grandchild",
        ),
        (
            "V",
            150,
            1,
            "svc-cmd",
            r"C:\Windows\System32\cmd.exe",
            "service's shell",
        ),
        ("V", 160, 11, "system", "System", "file written over SMB"),
        ("V", 170, 11, "shell", EXPLORER, "file the shell wrote"),
        (
            "V",
            1100,
            1,
            "rdp-cmd",
            r"C:\Windows\System32\cmd.exe",
            "remote desktop's shell",
        ),
    ];
    let hosts = [(admin, "A"), (deployer, "D"), (victim, "V")];
    let got = attributed(&connections, &hosts, &spawns, actions).await;
    let expected: std::collections::BTreeMap<String, String> = [
        ("service's shell", deployer),
        ("file written over SMB", deployer),
        ("remote desktop's shell", admin),
    ]
    .into_iter()
    .map(|(t, s)| (t.to_string(), s.to_string()))
    .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_campaign_is_a_burst_within_one_window_not_commands_added_up_over_days() {
    const MIN_NS: i64 = 60 * SEC_NS;
    const DAY_NS: i64 = 1440 * MIN_NS;
    // Two sources each act on three hosts with three distinct commands. The intruder does
    // it within twenty minutes; the administrator on days 0, 4 and 8, one host a day.
    let acts: &[(&str, i64, &str, &str)] = &[
        ("10.0.0.66", 10 * MIN_NS, "B", "whoami"),
        ("10.0.0.66", 20 * MIN_NS, "C", "vssadmin delete shadows"),
        ("10.0.0.66", 30 * MIN_NS, "D", "payload.exe"),
        ("10.0.0.21", 10 * MIN_NS, "B", "gpupdate /force"),
        ("10.0.0.21", 4 * DAY_NS + 10 * MIN_NS, "C", "shutdown /r"),
        (
            "10.0.0.21",
            8 * DAY_NS + 10 * MIN_NS,
            "D",
            "ipconfig /flushdns",
        ),
    ];
    // Every source's windows: the hour starting ten minutes before each action and the
    // one starting at it, so each action lies in two windows.
    let windows: Vec<(&str, i64)> = acts
        .iter()
        .flat_map(|a| [(a.0, a.1 - 10 * MIN_NS), (a.0, a.1)])
        .collect();
    let int64 = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    let attributed = RecordBatch::try_from_iter([
        ("host", text_column(acts.iter().map(|a| Some(a.2)))),
        ("event_created", int64(acts.iter().map(|a| a.1).collect())),
        (
            "event_id",
            Arc::new(Int32Array::from_iter_values(acts.iter().map(|_| 1))) as ArrayRef,
        ),
        ("processguid", text_column(acts.iter().map(|a| Some(a.3)))),
        ("text", text_column(acts.iter().map(|a| Some(a.3)))),
        (
            "error",
            Arc::new(datafusion::arrow::array::Float64Array::from_iter_values(
                acts.iter().map(|_| 20.0),
            )),
        ),
        ("sourceip", text_column(acts.iter().map(|a| Some(a.0)))),
        (
            "connected_ns",
            int64(acts.iter().map(|a| a.1 - SEC_NS).collect()),
        ),
    ])
    .expect("attributed");
    let windows = RecordBatch::try_from_iter([
        ("sourceip", text_column(windows.iter().map(|w| Some(w.0)))),
        ("window_start", int64(windows.iter().map(|w| w.1).collect())),
        (
            "window_end",
            int64(windows.iter().map(|w| w.1 + 60 * MIN_NS).collect()),
        ),
        ("victims", int64(windows.iter().map(|_| 2).collect())),
    ])
    .expect("windows");
    let replicated = RecordBatch::try_from_iter([
        ("sourceip", text_column(std::iter::empty())),
        ("source_host", text_column(std::iter::empty())),
        ("target_host", text_column(std::iter::empty())),
        ("cmd", text_column(std::iter::empty())),
        ("first_ns", int64(vec![])),
    ])
    .expect("replicated");
    let hosts = RecordBatch::try_from_iter([
        (
            "ip",
            text_column([Some("10.0.0.66"), Some("10.0.0.21")].into_iter()),
        ),
        ("host", text_column([Some("X"), Some("ADM")].into_iter())),
    ])
    .expect("hosts");
    let batches = run_on(
        "widespread-attack",
        vec![
            ("ws_attributed", attributed),
            ("ws_windows", windows),
            ("ws_replicated", replicated),
            ("ws_hosts", hosts),
        ],
        "12_findings.sql",
    )
    .await;
    let mut got = std::collections::BTreeMap::new();
    for b in &batches {
        let col = |name: &str| b.column_by_name(name).expect(name);
        let sources = col("sourceip").as_string::<i32>();
        let flagged = col("flagged").as_boolean();
        let targets =
            col("targets").as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let burst = col("burst_commands")
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            got.insert(
                sources.value(i).to_string(),
                (flagged.value(i), targets.value(i), burst.value(i)),
            );
        }
    }
    // Both acted on three hosts; only the intruder did it within one window.
    assert_eq!(got["10.0.0.66"], (true, 3, 3), "{got:?}");
    assert_eq!(got["10.0.0.21"], (false, 3, 1), "{got:?}");
}
