//! `huntsman ingest opensearch` against a test double of the OpenSearch 2.x REST API,
//! served on 127.0.0.1 (a port chosen at run time) by a small HTTP/1.1 server written
//! here on tokio, so that faults can be injected at the byte level: 429 with Retry-After,
//! 5xx, an expired point in time, a body cut off mid-way, failed shards.
//!
//! The double implements what the client uses: `POST /<pattern>/_search/point_in_time`,
//! `POST /_search` with `pit`, `size`, `sort` (the field ascending, then `_index`, `_id`),
//! `search_after` and a `bool` filter of `exists`, `range` (`gte`, epoch millis), `term`
//! and `match_all`, and `DELETE /_search/point_in_time`. A PIT is a snapshot of the
//! documents when it was opened, as in OpenSearch.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use datafusion::arrow::array::{Array, Int32Array, StringArray};
use huntsman::ingest::opensearch::{
    CrashPoint, OpenSearchError, OpenSearchOptions, OpenSearchReport, RetryPolicy,
    ingest_opensearch,
};
use huntsman::ingest::{Location, RejectKind};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------
// Documents

/// A document in the double.
#[derive(Clone)]
struct Doc {
    index: String,
    id: String,
    /// `@timestamp` in epoch milliseconds.
    ts: i64,
    /// `_source`, serialised once.
    source: String,
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of epoch milliseconds (civil-from-days, independent of
/// the crate).
fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// 2024-03-01T00:00:00Z.
const T0: i64 = 1_709_251_200_000;

/// The kinds of event the generator cycles through: (channel, event id).
const KINDS: [(&str, i32); 4] = [
    ("Microsoft-Windows-Sysmon/Operational", 1),
    ("Microsoft-Windows-Sysmon/Operational", 3),
    ("Security", 4624),
    ("Security", 4688),
];

/// A winlogbeat-8 document; its `ProcessGuid` is `{<id>}`, so that every lake row can be
/// traced back to its document.
fn winlogbeat8(id: &str, ts: i64, n: usize) -> String {
    let (channel, event_id) = KINDS[n % KINDS.len()];
    let mut data = json!({
        "ProcessGuid": format!("{{{id}}}"),
        "Image": format!("C:\\Windows\\System32\\proc{}.exe", n % 7),
        "CommandLine": format!("proc{} --n {n}", n % 7),
    });
    if channel.starts_with("Microsoft-Windows-Sysmon") {
        // Sysmon's own time wins over @timestamp in the lake; keep them equal.
        let t = rfc3339(ts);
        data["UtcTime"] = json!(format!("{} {}", &t[..10], &t[11..23]));
    } else if event_id == 4624 {
        data["TargetUserName"] = json!(format!("user{}", n % 5));
        data["IpAddress"] = json!("10.0.0.5");
    }
    json!({
        "@timestamp": rfc3339(ts),
        "agent": {"type": "winlogbeat", "version": "8.11.0"},
        "ecs": {"version": "8.0.0"},
        "event": {"code": event_id.to_string(), "kind": "event", "provider": channel},
        "host": {"name": format!("ws{}.corp.local", n % 3)},
        "winlog": {
            "channel": channel,
            "event_id": event_id.to_string(),
            "computer_name": format!("WS{}.corp.local", n % 3),
            "record_id": n,
            "event_data": data,
        },
        "message": "generated for the test double",
    })
    .to_string()
}

/// `n` documents from `first`, `ties` per millisecond, spread over days, in two indices.
fn docs(first: usize, n: usize, start_ms: i64, ties: usize) -> Vec<Doc> {
    (first..first + n)
        .map(|i| {
            let ts = start_ms + ((i - first) / ties) as i64 * 200_123;
            let index = format!("winlogbeat-8.11.0-2024.03.{:02}", 1 + (i % 2));
            let id = format!("doc{i:06}");
            Doc {
                source: winlogbeat8(&id, ts, i),
                index,
                id,
                ts,
            }
        })
        .collect()
}

fn bad_docs(ts: i64) -> Vec<Doc> {
    vec![
        Doc {
            index: "winlogbeat-8.11.0-2024.03.01".into(),
            id: "bad-layout".into(),
            ts,
            source: json!({"@timestamp": rfc3339(ts), "message": "not an event"})
                .to_string(),
        },
        Doc {
            index: "winlogbeat-8.11.0-2024.03.02".into(),
            id: "bad-no-id".into(),
            ts,
            source: json!({"@timestamp": rfc3339(ts), "winlog": {"channel": "Security"}})
                .to_string(),
        },
    ]
}

// ---------------------------------------------------------------------------------------
// The test double

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Answer with this status (and Retry-After seconds) instead.
    Status(u16, Option<u64>),
    /// Send the headers and half the body, then close the connection.
    Truncate,
    /// Forget every PIT, then answer as OpenSearch does for an unknown PIT.
    ExpirePits,
    /// Answer 200 with one of two shards failed and only half the hits.
    ShardFailure,
}

#[derive(Default)]
struct State {
    docs: Vec<Doc>,
    /// PIT id → the documents it sees, sorted by (ts, id).
    pits: HashMap<String, Arc<Vec<Doc>>>,
    pits_opened: u64,
    searches: u64,
    /// Faults for the n-th `_search` (1-based).
    faults: BTreeMap<u64, Fault>,
    /// From this `_search` on, every search answers this status.
    failing_from: Option<(u64, u16)>,
    /// Every request answers this status.
    always: Option<u16>,
    authorizations: Vec<Option<String>>,
    /// Time spent answering (building and sending responses), for the measurement.
    busy: Duration,
}

#[derive(Clone)]
struct Double {
    state: Arc<Mutex<State>>,
    url: String,
}

struct Response {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    truncate: bool,
}

fn respond(status: u16, body: Value) -> Response {
    Response {
        status,
        body: body.to_string().into_bytes(),
        headers: Vec::new(),
        truncate: false,
    }
}

fn error_body(status: u16, ty: &str, reason: &str) -> Response {
    respond(
        status,
        json!({"error": {"root_cause": [{"type": ty, "reason": reason}], "type": ty,
               "reason": reason}, "status": status}),
    )
}

fn shards(failed: u64) -> Value {
    json!({"total": 2, "successful": 2 - failed, "skipped": 0, "failed": failed})
}

impl Double {
    async fn start(docs: Vec<Doc>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            docs,
            ..State::default()
        }));
        let double = Double { state, url };
        let d = double.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let d = d.clone();
                tokio::spawn(async move { d.connection(sock).await });
            }
        });
        double
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("state")
    }

    fn add(&self, docs: Vec<Doc>) {
        self.state().docs.extend(docs);
    }

    async fn connection(&self, mut sock: TcpStream) {
        loop {
            let Some((method, target, headers, body)) = read_request(&mut sock).await
            else {
                return;
            };
            let auth = headers.get("authorization").cloned();
            let started = std::time::Instant::now();
            let resp = self.handle(&method, &target, &body, auth);
            let reason = match resp.status {
                200 => "OK",
                404 => "Not Found",
                429 => "Too Many Requests",
                _ => "Error",
            };
            let mut head = format!(
                "HTTP/1.1 {} {reason}\r\ncontent-type: application/json; charset=UTF-8\r\n\
                 content-length: {}\r\n",
                resp.status,
                resp.body.len()
            );
            for (k, v) in &resp.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let body = if resp.truncate {
                &resp.body[..resp.body.len() / 2]
            } else {
                &resp.body[..]
            };
            let failed = sock.write_all(body).await.is_err();
            self.state().busy += started.elapsed();
            if failed || resp.truncate {
                let _ = sock.shutdown().await;
                return;
            }
        }
    }

    fn handle(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
        auth: Option<String>,
    ) -> Response {
        let mut st = self.state();
        st.authorizations.push(auth);
        if let Some(status) = st.always {
            return error_body(status, "test_failure", "the double always fails");
        }
        let (path, _query) = target.split_once('?').unwrap_or((target, ""));
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return error_body(400, "parse_exception", &e.to_string()),
            }
        };
        match (method, path) {
            ("POST", p) if p.ends_with("/_search/point_in_time") => {
                let pattern = &p[1..p.len() - "/_search/point_in_time".len()];
                let Some(prefix) = pattern.strip_suffix('*') else {
                    return error_body(404, "index_not_found_exception", "no such index");
                };
                let mut snapshot: Vec<Doc> = st
                    .docs
                    .iter()
                    .filter(|d| d.index.starts_with(prefix))
                    .cloned()
                    .collect();
                snapshot.sort_by(|a, b| {
                    (a.ts, &a.index, &a.id).cmp(&(b.ts, &b.index, &b.id))
                });
                st.pits_opened += 1;
                let id = format!("pit-{}", st.pits_opened);
                st.pits.insert(id.clone(), Arc::new(snapshot));
                respond(
                    200,
                    json!({"pit_id": id, "_shards": shards(0), "creation_time": T0}),
                )
            }
            ("DELETE", "/_search/point_in_time") => {
                let ids = body["pit_id"].as_array().cloned().unwrap_or_default();
                let pits: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        let ok =
                            id.as_str().is_some_and(|id| st.pits.remove(id).is_some());
                        json!({"pit_id": id, "successful": ok})
                    })
                    .collect();
                respond(200, json!({ "pits": pits }))
            }
            ("POST", "/_search") => {
                st.searches += 1;
                let n = st.searches;
                if let Some((from, status)) = st.failing_from
                    && n >= from
                {
                    return error_body(status, "test_failure", "the double is down");
                }
                let fault = st.faults.remove(&n);
                match fault {
                    Some(Fault::Status(status, after)) => {
                        let mut r = error_body(status, "test_failure", "injected");
                        if let Some(s) = after {
                            r.headers.push(("retry-after".into(), s.to_string()));
                        }
                        return r;
                    }
                    Some(Fault::ExpirePits) => st.pits.clear(),
                    _ => {}
                }
                let mut r = search(&st, &body);
                match fault {
                    Some(Fault::Truncate) => r.truncate = true,
                    Some(Fault::ShardFailure) if r.status == 200 => {
                        let mut v: Value = serde_json::from_slice(&r.body).expect("json");
                        v["_shards"] = shards(1);
                        v["_shards"]["failures"] = json!([{"shard": 1, "index": "x",
                            "reason": {"type": "node_disconnected_exception",
                                       "reason": "injected"}}]);
                        if let Some(h) = v["hits"]["hits"].as_array_mut() {
                            let half = h.len() / 2;
                            h.truncate(half);
                        }
                        r.body = v.to_string().into_bytes();
                    }
                    _ => {}
                }
                r
            }
            _ => error_body(400, "illegal_argument_exception", "unsupported request"),
        }
    }
}

/// Reads one HTTP/1.1 request: method, target, lower-cased headers, body.
async fn read_request(
    sock: &mut TcpStream,
) -> Option<(String, String, HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, target, headers, body))
}

/// A value of a document's source by a dotted path.
fn lookup<'v>(source: &'v Value, field: &str) -> Option<&'v Value> {
    if let Some(v) = source.get(field) {
        return Some(v);
    }
    let mut v = source;
    for part in field.split('.') {
        v = v.get(part)?;
    }
    Some(v)
}

/// Whether `doc` matches `q`; its source is parsed only when a clause needs it.
fn matches(q: &Value, doc: &Doc, source: &mut Option<Value>) -> Result<bool, String> {
    fn src<'s>(doc: &Doc, source: &'s mut Option<Value>) -> &'s Value {
        source.get_or_insert_with(|| serde_json::from_str(&doc.source).expect("source"))
    }
    let Some((kind, arg)) = q.as_object().and_then(|o| o.iter().next()) else {
        return Err(format!("not a query: {q}"));
    };
    match kind.as_str() {
        "match_all" => Ok(true),
        "bool" => {
            for clause in ["filter", "must"] {
                let list = match &arg[clause] {
                    Value::Null => Vec::new(),
                    Value::Array(a) => a.clone(),
                    one => vec![one.clone()],
                };
                for c in &list {
                    if !matches(c, doc, source)? {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
        "exists" => {
            let f = arg["field"].as_str().ok_or("exists without field")?;
            if f == "@timestamp" {
                return Ok(true);
            }
            Ok(lookup(src(doc, source), f).is_some_and(|v| !v.is_null()))
        }
        "range" => {
            let (f, r) = arg
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or("empty range")?;
            if f != "@timestamp" || r["format"] != "epoch_millis" {
                return Err(format!("unsupported range {arg}"));
            }
            let gte = r["gte"].as_i64().ok_or("gte must be epoch millis")?;
            Ok(doc.ts >= gte)
        }
        "term" => {
            let (f, v) = arg
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or("empty term")?;
            let v = v.get("value").unwrap_or(v);
            Ok(lookup(src(doc, source), f) == Some(v))
        }
        other => Err(format!("unsupported query {other}")),
    }
}

fn search(st: &State, body: &Value) -> Response {
    let Some(pit_id) = body["pit"]["id"].as_str() else {
        return error_body(400, "illegal_argument_exception", "no pit");
    };
    let Some(pit) = st.pits.get(pit_id) else {
        return error_body(
            404,
            "search_context_missing_exception",
            &format!("No search context found for id [{pit_id}]"),
        );
    };
    let sort = &body["sort"];
    if sort[0]["@timestamp"]["order"] != "asc"
        || sort[1]["_index"] != "asc"
        || sort[2]["_id"] != "asc"
    {
        return error_body(400, "parsing_exception", &format!("unexpected sort {sort}"));
    }
    let size = body["size"].as_u64().unwrap_or(10) as usize;
    let start = match body["search_after"].as_array() {
        Some(after) => {
            let (Some(ts), Some(index), Some(id)) =
                (after[0].as_i64(), after[1].as_str(), after[2].as_str())
            else {
                return error_body(400, "parsing_exception", "bad search_after");
            };
            pit.partition_point(|d| {
                (d.ts, d.index.as_str(), d.id.as_str()) <= (ts, index, id)
            })
        }
        None => 0,
    };
    let mut hits = Vec::new();
    for d in &pit[start..] {
        if hits.len() == size {
            break;
        }
        match matches(&body["query"], d, &mut None) {
            Ok(true) => hits.push(d),
            Ok(false) => {}
            Err(e) => return error_body(400, "parsing_exception", &e),
        }
    }
    // Built as text, as a server would stream it.
    let mut out = format!(
        r#"{{"pit_id":"{pit_id}","took":1,"timed_out":false,"_shards":{},"hits":{{"total":{{"value":{},"relation":"eq"}},"max_score":null,"hits":["#,
        shards(0),
        hits.len()
    );
    for (i, d) in hits.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"_index":"{}","_id":"{}","_score":null,"_source":{},"sort":[{},"{}","{}"]}}"#,
            d.index, d.id, d.source, d.ts, d.index, d.id
        ));
    }
    out.push_str("]}}");
    Response {
        status: 200,
        body: out.into_bytes(),
        headers: Vec::new(),
        truncate: false,
    }
}

// ---------------------------------------------------------------------------------------
// The lake

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

/// The lake's rows as (ProcessGuid, channel, event id), checking that only complete part
/// files are there.
fn lake_rows(out: &Path) -> Vec<(String, String, i32)> {
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
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("open"))
                .expect("parquet")
                .build()
                .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let col = |n: &str| batch.column_by_name(n).expect("column").clone();
            let guid = col("winlog_event_data_processguid");
            let guid = guid.as_any().downcast_ref::<StringArray>().expect("utf8");
            let ch = col("winlog_channel");
            let ch = ch.as_any().downcast_ref::<StringArray>().expect("utf8");
            let id = col("winlog_event_id");
            let id = id.as_any().downcast_ref::<Int32Array>().expect("int32");
            for i in 0..batch.num_rows() {
                assert!(!guid.is_null(i), "a row without ProcessGuid");
                rows.push((
                    guid.value(i).to_string(),
                    ch.value(i).to_string(),
                    id.value(i),
                ));
            }
        }
    }
    rows
}

/// Asserts the lake holds each of `expected` exactly once (and nothing else), with its
/// channel and event id.
fn assert_lake_is(out: &Path, expected: &[Doc]) {
    let rows = lake_rows(out);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (guid, _, _) in &rows {
        *seen.entry(guid.as_str()).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicated events: {dupes:?}");
    let want: HashMap<String, &Doc> = expected
        .iter()
        .map(|d| (format!("{{{}}}", d.id), d))
        .collect();
    let missing: Vec<_> = want
        .keys()
        .filter(|k| !seen.contains_key(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} events missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let extra: Vec<_> = seen.keys().filter(|k| !want.contains_key(**k)).collect();
    assert!(extra.is_empty(), "unexpected events: {extra:?}");
    // Count per (channel, event id), against the documents.
    let mut got: BTreeMap<(String, i32), u64> = BTreeMap::new();
    for (_, ch, id) in &rows {
        *got.entry((ch.clone(), *id)).or_default() += 1;
    }
    let mut exp: BTreeMap<(String, i32), u64> = BTreeMap::new();
    for d in expected {
        let v: Value = serde_json::from_str(&d.source).expect("source");
        let ch = v["winlog"]["channel"]
            .as_str()
            .expect("channel")
            .to_string();
        let id: i32 = v["winlog"]["event_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("int");
        *exp.entry((ch, id)).or_default() += 1;
    }
    assert_eq!(got, exp);
}

fn checkpoints(out: &Path) -> Vec<PathBuf> {
    all_files(&out.join("_ingest/opensearch"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".lock"))
        .collect()
}

fn options(d: &Double) -> OpenSearchOptions {
    let mut o = OpenSearchOptions::new(&d.url, "winlogbeat-*");
    o.page_size = 97;
    o.retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(60),
    };
    o
}

async fn pull(o: &OpenSearchOptions, out: &Path) -> OpenSearchReport {
    ingest_opensearch(o, out).await.expect("the pull succeeds")
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_dump_matches_the_documents() {
    let good = docs(0, 2_000, T0, 3);
    let mut all = good.clone();
    all.extend(bad_docs(T0 + 5_000));
    let d = Double::start(all).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = options(&d);
    o.commit_every = 700;
    let r = pull(&o, dir.path()).await;
    println!("{r}");
    assert_lake_is(dir.path(), &good);
    assert_eq!(r.ingest.events(), 2_000);
    assert_eq!(r.ingest.rejected(), 2);
    assert!(r.transactions >= 3, "{r}");
    assert_eq!(r.pits_opened, 1);
    let file = &r.ingest.files[0];
    let locations: Vec<String> = file
        .examples
        .iter()
        .map(|e| e.location.to_string())
        .collect();
    assert!(
        locations
            .contains(&"document winlogbeat-8.11.0-2024.03.01/bad-layout".to_string()),
        "{locations:?}"
    );
    assert!(file.examples.iter().any(|e| e.location
        == Location::Document {
            index: "winlogbeat-8.11.0-2024.03.02".into(),
            id: "bad-no-id".into()
        }
        && e.rejection.kind == RejectKind::MissingEventId));
    // Counts in the report match the documents too.
    assert_eq!(r.ingest.counts().values().sum::<u64>(), 2_000);
    // The PIT was deleted, and the checkpoint is the last document's time.
    assert!(d.state().pits.is_empty(), "the PIT was not deleted");
    let last = good.iter().map(|d| d.ts).max().expect("docs");
    assert_eq!(r.mark.as_deref(), Some(rfc3339(last).as_str()));
    assert_eq!(
        checkpoints(dir.path()).len(),
        1,
        "only the checkpoint file stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_query_is_anded() {
    let all = docs(0, 400, T0, 1);
    let d = Double::start(all.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = options(&d);
    o.query = Some(json!({"term": {"winlog.channel": "Security"}}));
    let r = pull(&o, dir.path()).await;
    let security: Vec<Doc> = all
        .into_iter()
        .filter(|d| d.source.contains(r#""channel":"Security""#))
        .collect();
    assert_eq!(r.ingest.events(), security.len() as u64);
    assert_lake_is(dir.path(), &security);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried() {
    let all = docs(0, 1_000, T0, 2);
    let d = Double::start(all.clone()).await;
    {
        let mut st = d.state();
        st.faults.insert(2, Fault::Status(429, Some(1)));
        st.faults.insert(4, Fault::Status(503, None));
        st.faults.insert(6, Fault::Status(502, None));
        st.faults.insert(8, Fault::ShardFailure);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let r = pull(&options(&d), dir.path()).await;
    assert_lake_is(dir.path(), &all);
    assert_eq!(r.retries, 4, "{r}");
    assert!(d.state().faults.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_pit_is_reopened_without_duplicates_or_gaps() {
    // Seven documents per millisecond and 97 hits a page: pages end inside runs of equal
    // timestamps, where only the seen-set tells what was read.
    let all = docs(0, 1_500, T0, 7);
    let d = Double::start(all.clone()).await;
    {
        let mut st = d.state();
        st.faults.insert(3, Fault::ExpirePits);
        st.faults.insert(9, Fault::ExpirePits);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let r = pull(&options(&d), dir.path()).await;
    assert_lake_is(dir.path(), &all);
    assert_eq!(r.pits_opened, 3, "{r}");
    assert!(r.skipped_seen > 0, "the reopened PIT re-read the mark: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_body_retries_the_batch() {
    let all = docs(0, 800, T0, 1);
    let d = Double::start(all.clone()).await;
    {
        let mut st = d.state();
        st.faults.insert(2, Fault::Truncate);
        st.faults.insert(5, Fault::Truncate);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let r = pull(&options(&d), dir.path()).await;
    assert_lake_is(dir.path(), &all);
    assert_eq!(r.retries, 2, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_errors_fail_clearly_and_leave_nothing() {
    let d = Double::start(docs(0, 1_000, T0, 1)).await;
    d.state().failing_from = Some((3, 503));
    let dir = tempfile::tempdir().expect("tempdir");
    let err = ingest_opensearch(&options(&d), dir.path())
        .await
        .expect_err("gives up");
    let msg = err.to_string();
    assert!(
        matches!(err, OpenSearchError::GaveUp { attempts: 4, .. }),
        "{msg}"
    );
    assert!(msg.contains(&format!("POST {}/_search", d.url)), "{msg}");
    assert!(msg.contains("winlogbeat-*") && msg.contains("503"), "{msg}");
    assert!(
        all_files(&dir.path().join("events")).is_empty(),
        "parts were left"
    );
    assert!(checkpoints(dir.path()).is_empty(), "a checkpoint was left");
    // Nothing was lost either: the next pull, with the server back, gets everything.
    d.state().failing_from = None;
    let r = pull(&options(&d), dir.path()).await;
    assert_eq!(r.ingest.events(), 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_pulls_add_each_new_document_once() {
    let first = docs(0, 600, T0, 4);
    let d = Double::start(first.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let o = options(&d);
    let r1 = pull(&o, dir.path()).await;
    assert_eq!(r1.ingest.events(), 600);
    let mark = first.iter().map(|d| d.ts).max().expect("docs");

    // New documents: some at exactly the high-water mark (ids sorting before and after
    // the ones already read), some later, and one that arrived late with an older
    // timestamp (the documented limitation: it is not pulled).
    let mut added = Vec::new();
    for (i, id) in ["a-early-id", "zz-late-id", "m-middle"].iter().enumerate() {
        added.push(Doc {
            index: "winlogbeat-8.11.0-2024.03.01".into(),
            id: (*id).into(),
            ts: mark,
            source: winlogbeat8(id, mark, i),
        });
    }
    added.extend(docs(10_000, 300, mark + 1, 3));
    let late = Doc {
        index: "winlogbeat-8.11.0-2024.03.01".into(),
        id: "late-arrival".into(),
        ts: mark - 60_000,
        source: winlogbeat8("late-arrival", mark - 60_000, 0),
    };
    d.add(added.clone());
    d.add(vec![late]);

    let r2 = pull(&o, dir.path()).await;
    println!("{r2}");
    assert_eq!(r2.ingest.events(), 303, "{r2}");
    assert_eq!(
        r2.skipped_seen, 4,
        "the four documents at the old mark: {r2}"
    );
    let mut expected = first.clone();
    expected.extend(added);
    assert_lake_is(dir.path(), &expected);

    // Nothing new: nothing written.
    let parts_before = all_files(&dir.path().join("events")).len();
    let r3 = pull(&o, dir.path()).await;
    assert_eq!(r3.ingest.events(), 0);
    assert!(r3.ingest.parts.is_empty());
    assert_eq!(all_files(&dir.path().join("events")).len(), parts_before);
    assert_lake_is(dir.path(), &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_parts_and_checkpoint_is_recovered() {
    for crash in [
        CrashPoint::BeforeJournal,
        CrashPoint::AfterJournal,
        CrashPoint::AfterRename,
    ] {
        let all = docs(0, 900, T0, 2);
        let d = Double::start(all[..500].to_vec()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut o = options(&d);
        o.commit_every = 200;
        // A first pull commits, then a second one crashes in its first transaction.
        pull(&o, dir.path()).await;
        d.add(all[500..].to_vec());
        let mut crashing = o.clone();
        crashing.crash = Some(crash);
        let err = ingest_opensearch(&crashing, dir.path())
            .await
            .expect_err("crashes");
        assert!(
            matches!(err, OpenSearchError::Crash(c) if c == crash),
            "{err}"
        );
        // The next pull recovers and ends with every document once.
        let r = pull(&o, dir.path()).await;
        match crash {
            CrashPoint::BeforeJournal => {
                let rec = r.recovered.as_deref().unwrap_or_default();
                assert!(rec.contains("removed"), "{crash:?}: {rec}");
            }
            _ => {
                let rec = r.recovered.as_deref().unwrap_or_default();
                assert!(rec.contains("rolled forward"), "{crash:?}: {rec}");
            }
        }
        assert_lake_is(dir.path(), &all);
        let names: Vec<PathBuf> = checkpoints(dir.path());
        assert_eq!(names.len(), 1, "{crash:?}: {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_show() {
    const SECRET: &str = "S3cr3t-Pa55word";
    let d = Double::start(docs(0, 10, T0, 1)).await;
    d.state().always = Some(503);
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_huntsman");
    let url = d.url.clone();
    let out = dir.path().to_path_buf();
    let run = move |args: Vec<String>| {
        std::process::Command::new(bin)
            .args(args)
            .env("OPENSEARCH_PASSWORD", SECRET)
            .env("MY_KEY", SECRET)
            .env("HUNTSMAN_LOG", "debug")
            .output()
            .expect("runs")
    };
    let common = vec![
        "ingest".to_string(),
        "opensearch".into(),
        "--url".into(),
        url.clone(),
        "--index".into(),
        "winlogbeat-*".into(),
        "--out".into(),
        out.display().to_string(),
        "--retries".into(),
        "2".into(),
        "--retry-wait".into(),
        "10ms".into(),
    ];
    let mut basic = common.clone();
    basic.extend(["--user".into(), "alice".into()]);
    let mut api_key = common.clone();
    api_key.extend(["--api-key-env".into(), "MY_KEY".into()]);
    let help = vec!["ingest".to_string(), "opensearch".into(), "--help".into()];
    let mut no_password = common.clone();
    no_password.extend([
        "--user".into(),
        "alice".into(),
        "--password-env".into(),
        "UNSET_VAR_X".into(),
    ]);
    let output = tokio::task::spawn_blocking(move || run(no_password))
        .await
        .expect("joined");
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("UNSET_VAR_X is not set"), "{text}");
    for args in [basic, api_key, help] {
        let is_help = args.contains(&"--help".to_string());
        let output = tokio::task::spawn_blocking(move || run(args))
            .await
            .expect("joined");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains(SECRET), "the secret shows:\n{text}");
        // Nor its base64 (basic authentication encodes user:password).
        assert!(
            !text.contains("UzNjcjN0"),
            "the encoded secret shows:\n{text}"
        );
        if !is_help {
            assert_eq!(output.status.code(), Some(2), "{text}");
            assert!(text.contains("giving up") && text.contains(&url), "{text}");
        }
    }
    // The credentials did reach the server.
    let auths = d.state().authorizations.clone();
    assert!(
        auths
            .iter()
            .any(|a| a.as_deref().is_some_and(|a| a.starts_with("Basic ")))
    );
    assert!(
        auths
            .iter()
            .any(|a| a.as_deref() == Some(&format!("ApiKey {SECRET}")[..]))
    );
}

/// Events/s of the whole path (HTTP, parse, Parquet) against the double, which runs in
/// the same process and shares the cores; the process's CPU time and the double's share
/// of it are printed too. Run in release:
/// `cargo test --release --workspace --test ingest_opensearch -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand in release"]
async fn throughput() {
    let n = 300_000;
    let all = docs(0, n, T0, 2);
    let bytes: usize = all.iter().map(|d| d.source.len()).sum();
    let d = Double::start(all).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = options(&d);
    o.page_size = 5_000;
    let cpu0 = process_cpu_secs();
    let start = std::time::Instant::now();
    let r = pull(&o, dir.path()).await;
    let secs = start.elapsed().as_secs_f64();
    let cpu = process_cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    assert_eq!(r.ingest.events(), n as u64);
    let double = d.state().busy.as_secs_f64();
    println!(
        "opensearch double: {n} events ({:.0} MB of _source) in {secs:.2} s wall: {:.0} \
         events/s; process CPU {} s, of which the double answering about {double:.2} s",
        bytes as f64 / 1e6,
        n as f64 / secs,
        cpu.map_or("?".into(), |c| format!("{c:.2}")),
    );
    if let Some(cpu) = cpu {
        println!(
            "client CPU (process minus the double): about {:.0} events per CPU-second",
            n as f64 / (cpu - double).max(1e-9)
        );
    }
}

/// User plus system CPU seconds of this process, from /proc (Linux only).
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 =
        fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_stop_at_once_with_the_servers_reason() {
    let d = Double::start(docs(0, 10, T0, 1)).await;
    d.state().always = Some(401);
    let dir = tempfile::tempdir().expect("tempdir");
    let err = ingest_opensearch(&options(&d), dir.path())
        .await
        .expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, OpenSearchError::Refused { .. }), "{msg}");
    assert!(msg.contains("401") && msg.contains("test_failure"), "{msg}");
    // One try only: authentication does not fix itself.
    assert_eq!(d.state().authorizations.len(), 1);
    assert!(checkpoints(dir.path()).is_empty());
}

/// `--every` pulls, waits, and stops on SIGTERM between pulls with exit code 0.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_runs_on_a_schedule_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let all = docs(0, 50, T0, 1);
    let d = Double::start(all.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_path_buf();
    let url = d.url.clone();
    let (status, stdout) = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_huntsman"))
            .args([
                "ingest",
                "opensearch",
                "--url",
                &url,
                "--index",
                "winlogbeat-*",
            ])
            .arg("--out")
            .arg(&out)
            .args(["--every", "1h"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut text = String::new();
        // The first pull's report, then the wait.
        for line in lines.by_ref() {
            let line = line.expect("line");
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("next pull in") {
                break;
            }
        }
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        for line in lines {
            text.push_str(&line.expect("line"));
            text.push('\n');
        }
        (child.wait().expect("waits"), text)
    })
    .await
    .expect("joined");
    assert!(status.success(), "{status:?}\n{stdout}");
    assert!(stdout.contains("ingested 50 events"), "{stdout}");
    assert!(stdout.contains("stopping"), "{stdout}");
    assert_lake_is(dir.path(), &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pit_that_keeps_vanishing_is_a_clear_error() {
    let d = Double::start(docs(0, 100, T0, 1)).await;
    {
        let mut st = d.state();
        for n in 1..=20 {
            st.faults.insert(n, Fault::ExpirePits);
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let err = ingest_opensearch(&options(&d), dir.path())
        .await
        .expect_err("gives up");
    let msg = err.to_string();
    assert!(msg.contains("point in time vanished"), "{msg}");
    assert!(all_files(&dir.path().join("events")).is_empty());
    assert!(checkpoints(dir.path()).is_empty());
}
