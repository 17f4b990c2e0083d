//! How an error reads at the command line.
//!
//! A function that fails on an executor reaches the client wrapped in Ballista's job
//! failure: `Job 038HKK6KW0000 failed: Job failed due to stage 1 failed: Task failed due
//! to runtime execution error: DataFusionError(Shared(External(DataFusionError(Execution(
//! "kmeans_assign: …")))))`, the executor's error in Rust's `Debug` form. [`error_report`]
//! puts the innermost message first, as the function wrote it, and which job and stage
//! failed on a second line; any other error reads as before.

/// The lines printed for a failed command (without the `huntsman: ` prefix), from the
/// error's full text (`format!("{e:#}")`).
pub fn error_report(text: &str) -> String {
    if let Some(report) = task_retries_report(text) {
        return report;
    }
    if let Some(report) = transport_report(text) {
        return report;
    }
    match parse_job_failure(text) {
        Some(failure) => {
            let mut where_ = format!("job {}", failure.job);
            if let Some(stage) = failure.stage {
                where_.push_str(&format!(", stage {stage}"));
            }
            let context = failure.context.trim();
            // One line: a message of several (a memory pool's list of its largest
            // consumers) is joined, so the first line says the whole of what failed.
            let message = failure
                .message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            if context.is_empty() {
                format!("{message}\n  ({where_} failed)")
            } else {
                format!("{message}\n  ({context}: {where_} failed)")
            }
        }
        None => text.to_string(),
    }
}

/// A Ballista job failure taken apart.
#[derive(Debug, PartialEq, Eq)]
struct JobFailure {
    /// What the client was doing (its error contexts), e.g. `running query`.
    context: String,
    job: String,
    stage: Option<String>,
    /// The innermost message.
    message: String,
}

const JOB_FAILED: &str = "Job failed due to stage ";
const TASK_FAILED: &str = "Task failed due to runtime execution error: ";

fn parse_job_failure(text: &str) -> Option<JobFailure> {
    // "Job <id> failed: "
    let (start, job, rest) = text.match_indices("Job ").find_map(|(i, _)| {
        let after = &text[i + 4..];
        let (id, rest) = after.split_once(" failed: ")?;
        (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .then(|| (i, id.to_string(), rest))
    })?;
    let context = clean_context(&text[..start]).to_string();
    let (stage, rest) = match rest.strip_prefix(JOB_FAILED) {
        Some(after) => match after.split_once(" failed: ") {
            Some((stage, rest)) if stage.chars().all(|c| c.is_ascii_digit()) => {
                (Some(stage.to_string()), rest)
            }
            _ => (None, rest),
        },
        None => (None, rest),
    };
    let detail = rest.strip_prefix(TASK_FAILED).unwrap_or(rest).trim();
    let message = store_failure(detail)
        .or_else(|| innermost_message(detail))
        .unwrap_or_else(|| detail.to_string());
    Some(JobFailure {
        context,
        job,
        stage,
        message,
    })
}

/// What the client was doing, from the text before a cluster error: without the
/// trailing `: Execution error:` DataFusion puts between them.
fn clean_context(text: &str) -> &str {
    text.trim_end()
        .trim_end_matches(':')
        .trim_end_matches("Execution error")
        .trim_end()
        .trim_end_matches(':')
        .trim()
}

/// A stage the scheduler gave up on after retrying a task: `Task 0 in Stage 2 failed 4
/// times, fail the stage, most recent failure reason: "Task failed due to IO error:
/// DataFusionError(…)"`. The reason's own message comes first (a store request reads as
/// [`store_failure`] words it), then the stage and how often it was tried.
fn task_retries_report(text: &str) -> Option<String> {
    const REASON: &str = ", fail the stage, most recent failure reason: ";
    let (head, reason) = text.split_once(REASON)?;
    let task_at = head.rfind("Task ")?;
    let (context, task) = head.split_at(task_at);
    // "Task 0 in Stage 2 failed 4 times"
    let words: Vec<&str> = task.split_whitespace().collect();
    let [_, _, _, _, stage, _, times, _] = words.as_slice() else {
        return None;
    };
    let reason = reason.trim().trim_matches('"');
    let message = store_failure(reason)
        .or_else(|| innermost_message(&reason.replace("\\\"", "\"")))
        .unwrap_or_else(|| reason.to_string());
    // "<context>: Execution error: Job <id> failed: Job failed due to stage <n> failed: "
    let (context, job) = match context.find("Job ") {
        Some(at) => (&context[..at], context[at + 4..].split_whitespace().next()),
        None => (context, None),
    };
    let context = clean_context(context);
    let where_ = match job {
        Some(job) => format!("job {job}, stage {stage} failed {times} times"),
        None => format!("stage {stage} failed {times} times"),
    };
    Some(if context.is_empty() {
        format!("{message}\n  ({where_})")
    } else {
        format!("{message}\n  ({context}: {where_})")
    })
}

/// A lost connection to the cluster, from the text of tonic's and hyper's errors: the
/// scheduler refused the connection (`ConnectError("tcp connect error", 127.0.0.1:50050,
/// Os { .. message: "Connection refused" })`), or the connection broke while a job ran
/// (`h2 protocol error: error reading a body from connection`, or a call cancelled with
/// `hyper::Error(Canceled, "connection closed")`), as when the scheduler restarts or is
/// killed. What happened and what to do come first; what the client was doing second.
fn transport_report(text: &str) -> Option<String> {
    const CONNECT: &str = "ConnectError(\"tcp connect error\", ";
    // A body read that broke (a restarted scheduler), and a request in flight that tonic
    // cancelled because its connection closed (a killed one).
    // Any failure of the HTTP/2 connection itself once it was up (reset, closed, broken
    // pipe) is tonic's `Transport` error around a hyper error; a refused connection was
    // caught above.
    const BROKE: [&str; 2] = [
        "h2 protocol error: error reading a body from connection",
        "tonic::transport::Error(Transport, hyper::Error(",
    ];
    // Only gRPC's own errors: an object store's HTTP client words its failures alike.
    let grpc = text.contains("tonic::transport::Error") || text.contains("code: '");
    if !grpc || text.contains("RetryError") {
        return None;
    }
    let message = if let Some(at) = text.find(CONNECT) {
        let rest = &text[at + CONNECT.len()..];
        let addr = rest.split(',').next().unwrap_or_default().trim();
        let why = rest
            .split_once("message: \"")
            .and_then(|(_, r)| r.split_once('"'))
            .map_or("no answer", |(m, _)| m);
        format!(
            "cannot connect to the cluster at {addr} ({why}); if the scheduler is \
             restarting, run the command again once its executors have registered"
        )
    } else if BROKE.iter().any(|sign| text.contains(sign)) {
        "the connection to the cluster broke while the job ran (the scheduler went away \
         or restarted); run the command again once its executors have registered"
            .to_string()
    } else {
        return None;
    };
    let context =
        clean_context(text.split_once("Execution error: ").map_or("", |(c, _)| c));
    Some(if context.is_empty() {
        message
    } else {
        format!("{message}\n  ({context})")
    })
}

/// An object store request that failed, from the `Debug` text of object_store's retry
/// error (`RetryError(RetryErrorImpl { method: PUT, uri: Some(http://…), retries: 3, …
/// error: "failed to lookup address information: …" … })`) or from its `Display` text,
/// which a Parquet reader wraps in its own message (`Failed to fetch metadata for file …:
/// Object Store error: … Error performing GET http://… in 13.2s, after 3 retries, …  -
/// HTTP error: error sending request`): `the store did not answer: PUT http://… (3
/// retries): failed to lookup address information: …`. `None` when the text is not such
/// an error.
pub fn store_failure(debug: &str) -> Option<String> {
    let text = debug.replace("\\\"", "\"");
    let (method, uri, retries, reason) = match text.find("RetryError") {
        Some(retry) => retry_debug(&text, retry)?,
        None => retry_display(&text)?,
    };
    let tries = if retries.is_empty() {
        String::new()
    } else {
        format!(" ({retries} retries)")
    };
    Some(format!(
        "the store did not answer: {method} {uri}{tries}: {reason}"
    ))
}

/// Method, URI, retries and reason of a retry error in `Debug` form, `retry` the offset
/// of its `RetryError`.
fn retry_debug(text: &str, retry: usize) -> Option<(String, String, String, String)> {
    let after = |key: &str, end: char| -> Option<String> {
        let at = text.find(key)? + key.len();
        let rest = &text[at..];
        Some(rest[..rest.find(end)?].trim().to_string())
    };
    let method = after("method: ", ',')?;
    let uri = after("uri: Some(", ')')?;
    let retries = after("retries: ", ',').unwrap_or_default();
    // The most specific words are the last string in the error: the OS's or the server's.
    let reason = text[retry..]
        .rsplit_once("error: \"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(r, _)| r.to_string())
        .or_else(|| innermost_message(&text[retry..]))
        .unwrap_or_else(|| "no answer".to_string());
    Some((method, uri, retries, reason))
}

/// Method, URI, retries and reason of a retry error in `Display` form: `Error performing
/// GET http://… in 13.2s, after 3 retries, max_retries: 3, retry_timeout: 20s  - HTTP
/// error: error sending request`, possibly inside a `Debug` string (closing quotes and
/// parentheses after it are not part of the reason).
fn retry_display(text: &str) -> Option<(String, String, String, String)> {
    const PERFORMING: &str = "Error performing ";
    let rest = &text[text.find(PERFORMING)? + PERFORMING.len()..];
    let mut words = rest.split_whitespace();
    let method = words.next()?.to_string();
    let uri = words.next()?.to_string();
    if !uri.contains("://") {
        return None;
    }
    let retries = rest
        .split_once(", after ")
        .and_then(|(_, r)| r.split_once(" retries"))
        .map(|(n, _)| n.trim())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_default()
        .to_string();
    let reason = rest
        .split_once(" - ")
        .map(|(_, r)| r.trim_end_matches(['"', ')']).trim())
        .filter(|r| !r.is_empty())
        .unwrap_or("no answer")
        .to_string();
    Some((method, uri, retries, reason))
}

/// The innermost message of a `Debug`-formatted error such as
/// `DataFusionError(Shared(External(DataFusionError(Execution("…")))))`: the string that
/// is the first argument of the most deeply nested tuple variant (`Execution("…")`,
/// `InvalidArgumentError("…")`), unescaped. `None` when the text holds no such string.
pub fn innermost_message(debug: &str) -> Option<String> {
    let chars: Vec<char> = debug.chars().collect();
    let mut depth = 0usize;
    let mut best: Option<(usize, String)> = None;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            '"' => {
                let (value, end) = read_string(&chars, i)?;
                // A variant's message: `Name("…")`, the string right after the paren.
                let is_message = i > 0
                    && chars[i - 1] == '('
                    && i > 1
                    && (chars[i - 2].is_alphanumeric() || chars[i - 2] == '_');
                if is_message && best.as_ref().is_none_or(|(d, _)| depth > *d) {
                    best = Some((depth, value));
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    best.map(|(_, message)| message)
}

/// Reads the string literal that opens at `chars[start]` (a `"`), undoing `Debug`'s
/// escapes. Returns the value and the index of the closing quote; `None` when the
/// literal does not end.
fn read_string(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return Some((out, i)),
            '\\' => {
                i += 1;
                match chars.get(i)? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    'u' if chars.get(i + 1) == Some(&'{') => {
                        let close = (i + 2..chars.len()).find(|&j| chars[j] == '}')?;
                        let hex: String = chars[i + 2..close].iter().collect();
                        if let Some(c) =
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            out.push(c);
                        }
                        i = close;
                    }
                    other => out.push(*other),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the client printed it before, from a real embedded run.
    const BAD_MAGIC: &str = "running query: Execution error: Job 038HKK6KW0000 failed: Job \
        failed due to stage 1 failed: Task failed due to runtime execution error: \
        DataFusionError(Shared(External(DataFusionError(Execution(\"kmeans_assign: not a \
        Huntsman model (no HNTM magic bytes): '/srv/m.hntm'\")))))";

    #[test]
    fn the_innermost_message_comes_first_and_the_job_second() {
        assert_eq!(
            error_report(BAD_MAGIC),
            "kmeans_assign: not a Huntsman model (no HNTM magic bytes): '/srv/m.hntm'\n  \
             (running query: job 038HKK6KW0000, stage 1 failed)"
        );
    }

    #[test]
    fn a_memory_pool_message_of_several_lines_reads_as_one() {
        let text = r#"Job 038HWC8NZ4000 failed: Job failed due to stage 3 failed: Task failed due to runtime execution error: DataFusionError(ResourcesExhausted("Additional allocation failed for ExternalSorter[1] with top memory consumers (across reservations) as:\n  ExternalSorterMerge[0]#58(can spill: false) consumed 1008.2 MB, peak 1008.2 MB,\n  ExternalSorter[1]#69(can spill: true) consumed 0.0 B, peak 0.0 B.\nError: Failed to allocate additional 126.6 MB for ExternalSorter[1]"))"#;
        assert_eq!(
            error_report(text),
            "Additional allocation failed for ExternalSorter[1] with top memory consumers \
             (across reservations) as: ExternalSorterMerge[0]#58(can spill: false) consumed \
             1008.2 MB, peak 1008.2 MB, ExternalSorter[1]#69(can spill: true) consumed 0.0 B, \
             peak 0.0 B. Error: Failed to allocate additional 126.6 MB for ExternalSorter[1]\n  \
             (job 038HWC8NZ4000, stage 3 failed)"
        );
    }

    #[test]
    fn escaped_quotes_and_backslashes_are_undone() {
        let text = r#"Execution error: Job 038HP8M752000 failed: Job failed due to stage 2 failed: Task failed due to runtime execution error: DataFusionError(External(DataFusionError(Execution("tfidf: model 'C:\\models\\\"odd\".hntm' is outside the model roots (/srv)"))))"#;
        assert_eq!(
            error_report(text),
            "tfidf: model 'C:\\models\\\"odd\".hntm' is outside the model roots (/srv)\n  \
             (job 038HP8M752000, stage 2 failed)"
        );
        // A parenthesis inside the message does not confuse the nesting.
        let text = r#"Job 1 failed: Task failed due to runtime execution error: ArrowError(InvalidArgumentError("bad (\"x\") value\nsecond"), None)"#;
        assert_eq!(
            error_report(text),
            "bad (\"x\") value second\n  (job 1 failed)"
        );
    }

    /// As a compose lab's client printed it when the store was stopped mid-hunt.
    const STORE_GONE: &str = r#"c2-beacon: phase features: Task 0 in Stage 2 failed 4 times, fail the stage, most recent failure reason: "Task failed due to IO error: DataFusionError(Shared(External(DataFusionError(IoError(Custom { kind: Other, error: Generic { store: \"S3\", source: RetryError(RetryErrorImpl { method: PUT, uri: Some(http://s3:3900/lake/cut/scratch/c2-beacon/20261202T175448Z-268f38f5/c2_features.parquet), retries: 3, max_retries: 3, elapsed: 606.862699ms, retry_timeout: 20s, inner: Http(HttpError { kind: Connect, source: reqwest::Error { kind: Request, source: hyper_util::client::legacy::Error(Connect, ConnectError(\"dns error\", Custom { kind: Uncategorized, error: \"failed to lookup address information: Name or service not known\" })) } }) }) } })))))""#;

    #[test]
    fn an_input_file_the_store_stopped_serving_names_the_request() {
        // As a compose lab's client got it when the store stopped while the executors
        // read the events: the Parquet reader's message around object_store's retry error
        // in its Display form.
        let text = r#"c2-beacon: phase features: running 02_features.sql: Execution error: Job 038J3HY5GA000 failed: Job failed due to stage 1 failed: Task failed due to runtime execution error: DataFusionError(Shared(ParquetError(General("Failed to fetch metadata for file lab/events/day=2024-03-11/part-00000.parquet: Object Store error: Generic S3 error: Error performing GET http://s3:3900/lake/lab/events/day%3D2024-03-11/part-00000.parquet in 13.16828804s, after 3 retries, max_retries: 3, retry_timeout: 20s  - HTTP error: error sending request"))))"#;
        assert_eq!(
            error_report(text),
            "the store did not answer: GET http://s3:3900/lake/lab/events/day%3D2024-03-11/\
             part-00000.parquet (3 retries): HTTP error: error sending request\n  \
             (c2-beacon: phase features: running 02_features.sql: job 038J3HY5GA000, \
             stage 1 failed)"
        );
        // Words that only look like it are left alone.
        assert_eq!(store_failure("Error performing the ritual"), None);
    }

    #[test]
    fn a_stage_given_up_on_names_the_store_request_first() {
        assert_eq!(
            error_report(STORE_GONE),
            "the store did not answer: PUT http://s3:3900/lake/cut/scratch/c2-beacon/\
             20261202T175448Z-268f38f5/c2_features.parquet (3 retries): failed to lookup \
             address information: Name or service not known\n  (c2-beacon: phase features: \
             stage 2 failed 4 times)"
        );
        // Inside a job failure, as the compose lab's client printed it.
        let text = format!(
            "c2-beacon: phase score: running score.sql into s3://lake/x.parquet: \
             Execution error: Job 038HQXMDK4000 failed: Job failed due to stage 10 \
             failed: {}",
            STORE_GONE.split_once("features: ").map_or("", |(_, t)| t)
        );
        let report = error_report(&text);
        assert!(
            report.starts_with("the store did not answer: PUT http://s3:3900/lake/cut/"),
            "{report}"
        );
        assert!(
            report.ends_with(
                "\n  (c2-beacon: phase score: running score.sql into s3://lake/x.parquet: \
                 job 038HQXMDK4000, stage 2 failed 4 times)"
            ),
            "{report}"
        );
        // A retried task whose reason is a function's own message.
        let text = r#"Task 3 in Stage 1 failed 4 times, fail the stage, most recent failure reason: "Task failed due to runtime execution error: DataFusionError(Execution(\"kmeans_assign: truncated\"))""#;
        assert_eq!(
            error_report(text),
            "kmeans_assign: truncated\n  (stage 1 failed 4 times)"
        );
    }

    #[test]
    fn a_lost_scheduler_reads_as_what_happened_and_what_to_do() {
        // As `hunt all` printed them when the scheduler container was restarted mid-hunt.
        let broke = r#"c2-beacon: phase entities: running c2-beacon entities.sql into s3://lake/x.parquet: Execution error: code: 'Unknown error', message: "h2 protocol error: error reading a body from connection", source: hyper::Error(Body, Error { kind: Io(Custom { kind: BrokenPipe, error: "stream closed because of a broken pipe" }) })"#;
        assert_eq!(
            error_report(broke),
            "the connection to the cluster broke while the job ran (the scheduler went \
             away or restarted); run the command again once its executors have \
             registered\n  (c2-beacon: phase entities: running c2-beacon entities.sql \
             into s3://lake/x.parquet)"
        );
        // As it printed them when the scheduler container was killed mid-hunt.
        let killed = r#"c2-beacon: phase effective k: running c2-beacon effective k.sql: Execution error: Status { code: Cancelled, message: "operation was canceled", source: Some(tonic::transport::Error(Transport, hyper::Error(Canceled, "connection closed"))) }"#;
        assert_eq!(
            error_report(killed),
            "the connection to the cluster broke while the job ran (the scheduler went \
             away or restarted); run the command again once its executors have \
             registered\n  (c2-beacon: phase effective k: running c2-beacon effective \
             k.sql)"
        );
        let reset = r#"c2-beacon: phase features: running c2-beacon features.sql into s3://lake/lost/x.parquet: Execution error: Status { code: Unknown, message: "transport error", source: Some(tonic::transport::Error(Transport, hyper::Error(Io, Kind(ConnectionReset)))) }"#;
        assert!(
            error_report(reset).starts_with("the connection to the cluster broke while"),
            "{}",
            error_report(reset)
        );
        let refused = r#"process-anomaly: phase processes: running processes.sql into s3://lake/y.parquet: Execution error: tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", 127.0.0.1:51050, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })))"#;
        // An object store's connection errors are not the cluster's.
        let store = r#"storing model: Generic S3 error: hyper_util::client::legacy::Error(Connect, ConnectError("tcp connect error", 127.0.0.1:3900, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }))"#;
        assert_eq!(error_report(store), store);
        assert_eq!(
            error_report(refused),
            "cannot connect to the cluster at 127.0.0.1:51050 (Connection refused); if \
             the scheduler is restarting, run the command again once its executors have \
             registered\n  (process-anomaly: phase processes: running processes.sql into \
             s3://lake/y.parquet)"
        );
    }

    #[test]
    fn the_deepest_message_wins_over_outer_context() {
        let debug =
            r#"Context("reading model", Execution("iforest_score: truncated \u{e9}"))"#;
        assert_eq!(
            innermost_message(debug).as_deref(),
            Some("iforest_score: truncated é")
        );
        // Struct fields are not messages.
        assert_eq!(
            innermost_message(r#"Custom { kind: Other, error: "x" }"#),
            None
        );
    }

    #[test]
    fn failures_without_a_debug_message_keep_their_text() {
        let text = "Job 038HP Z failed"; // not a job failure at all
        assert_eq!(error_report(text), text);
        let text = "running query: Job 038HQ failed: Job failed due to stage 3 failed: \
                    Executor lost";
        assert_eq!(
            error_report(text),
            "Executor lost\n  (running query: job 038HQ, stage 3 failed)"
        );
    }

    #[test]
    fn plain_errors_are_unchanged() {
        for text in [
            "BASE_S3_PATH s3://x: no credentials",
            "planning query: Schema error: No field named nope. Valid fields are \"host\"",
            "",
        ] {
            assert_eq!(error_report(text), text);
        }
    }
}
