//! The options, errors and report of an OpenSearch pull.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::checkpoint::SourceKey;
use super::http::{Auth, RetryPolicy};
use crate::IngestError;
use crate::report::IngestReport;

/// Default hits per `_search` request.
pub const DEFAULT_PAGE_SIZE: usize = 5000;
/// Default documents per transaction (parts renamed and checkpoint written).
pub const DEFAULT_COMMIT_EVERY: u64 = 1_000_000;
/// Times in a row a PIT may vanish before the pull gives up.
pub(super) const MAX_PIT_LOSSES: u32 = 5;

/// Where a test can make a run stop as if the process had died.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The first transaction's parts are complete but no journal names them.
    BeforeJournal,
    /// The journal is written, nothing renamed.
    AfterJournal,
    /// The parts are renamed, the checkpoint not written.
    AfterRename,
}

/// Options of a pull.
#[derive(Clone, Debug)]
pub struct OpenSearchOptions {
    /// `http(s)://host:port`, without credentials.
    pub url: String,
    /// Index pattern, e.g. `winlogbeat-*`.
    pub index: String,
    /// A query (OpenSearch query DSL) ANDed with the pull's own filters.
    pub query: Option<Value>,
    /// Only documents at or after this time (epoch milliseconds).
    pub since: Option<i64>,
    /// The date field the pull is ordered and resumed by.
    pub checkpoint_field: String,
    /// Hits per `_search` request (at most 10000, OpenSearch's default result window).
    pub page_size: usize,
    /// Documents per transaction.
    pub commit_every: u64,
    /// Authentication.
    pub auth: Auth,
    /// Extra trusted CA certificates (PEM).
    pub ca_cert: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure: bool,
    /// Retry bounds of each request.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// PIT keep-alive, e.g. `5m`.
    pub keep_alive: String,
    #[doc(hidden)]
    pub crash: Option<CrashPoint>,
}

impl OpenSearchOptions {
    /// Defaults for a source: `@timestamp`, 5000 hits a page, no authentication.
    pub fn new(url: impl Into<String>, index: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            index: index.into(),
            query: None,
            since: None,
            checkpoint_field: "@timestamp".into(),
            page_size: DEFAULT_PAGE_SIZE,
            commit_every: DEFAULT_COMMIT_EVERY,
            auth: Auth::None,
            ca_cert: None,
            insecure: false,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(120),
            keep_alive: "5m".into(),
            crash: None,
        }
    }

    pub(super) fn validate(&self) -> Result<(), OpenSearchError> {
        let bad = |m: String| Err(OpenSearchError::Config(m));
        let Some(rest) = self
            .url
            .strip_prefix("http://")
            .or_else(|| self.url.strip_prefix("https://"))
        else {
            return bad("--url must start with http:// or https://".into());
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            // Not echoed: it holds a credential.
            return bad(
                "--url must not contain credentials; use --user with --password-env, or \
                 --api-key-env"
                    .into(),
            );
        }
        if authority.is_empty() || rest.contains(['?', '#']) {
            return bad(format!(
                "--url {}: expected http(s)://host[:port]",
                self.url
            ));
        }
        if self.index.is_empty()
            || self.index.contains(|c: char| {
                c.is_whitespace() || matches!(c, '/' | '?' | '#' | '&')
            })
        {
            return bad(format!("--index {:?} is not an index pattern", self.index));
        }
        if self.page_size == 0 || self.page_size > 10_000 {
            return bad(format!(
                "--batch-size must be from 1 to 10000 (got {})",
                self.page_size
            ));
        }
        if self.commit_every == 0 {
            return bad("--commit-every must be at least 1".into());
        }
        if self.checkpoint_field.is_empty() {
            return bad("--checkpoint-field must not be empty".into());
        }
        if self.retry.max_attempts == 0 {
            return bad("--retries must be at least 1".into());
        }
        Ok(())
    }

    /// The source key of the checkpoint.
    pub fn source_key(&self) -> SourceKey {
        SourceKey {
            url: self.url.trim_end_matches('/').to_owned(),
            index: self.index.clone(),
            query: self.query.clone(),
            field: self.checkpoint_field.clone(),
        }
    }
}

/// Errors that stop a pull.
#[derive(Debug, thiserror::Error)]
pub enum OpenSearchError {
    /// Invalid options.
    #[error("{0}")]
    Config(String),
    /// A request kept failing.
    #[error(
        "giving up on {what} (index {index}) after {attempts} tries in {secs:.1} s: {last}"
    )]
    GaveUp {
        /// The request, `METHOD url`.
        what: String,
        /// The index pattern.
        index: String,
        /// Tries made.
        attempts: u32,
        /// Seconds spent.
        secs: f64,
        /// The last failure.
        last: String,
    },
    /// The server refused a request in a way retrying will not fix.
    #[error("{what} (index {index}): HTTP {status}: {reason}")]
    Refused {
        /// The request.
        what: String,
        /// The index pattern.
        index: String,
        /// The status.
        status: StatusCode,
        /// The server's error type and reason.
        reason: String,
    },
    /// The lake could not be written.
    #[error(transparent)]
    Lake(#[from] IngestError),
    /// The checkpoint, journal or lock file.
    #[error("{}: {detail}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A simulated crash (tests).
    #[doc(hidden)]
    #[error("simulated crash at {0:?}")]
    Crash(CrashPoint),
}

/// What a pull did.
#[derive(Clone, Debug, Default)]
pub struct OpenSearchReport {
    /// Events, rejections (located by `_index`/`_id`) and parts, as for `ingest files`;
    /// its one "file" is the source.
    pub ingest: IngestReport,
    /// HTTP requests made (tries included).
    pub requests: u64,
    /// Tries that failed and were retried.
    pub retries: u64,
    /// Points in time opened (more than one when one expired).
    pub pits_opened: u64,
    /// Documents skipped because an earlier transaction or run had read them (at the
    /// high-water mark).
    pub skipped_seen: u64,
    /// Transactions committed.
    pub transactions: u64,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// The high-water mark after the run, RFC 3339.
    pub mark: Option<String>,
    /// What was recovered from an interrupted run, if anything.
    pub recovered: Option<String>,
}

impl OpenSearchReport {
    /// Whether any document was rejected.
    pub fn has_errors(&self) -> bool {
        self.ingest.has_errors()
    }
}

impl fmt::Display for OpenSearchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.recovered {
            writeln!(f, "recovered: {r}")?;
        }
        write!(f, "{}", self.ingest)?;
        writeln!(
            f,
            "opensearch: {} requests ({} retried), {} points in time, {} transactions, \
             {} documents skipped as already ingested",
            self.requests,
            self.retries,
            self.pits_opened,
            self.transactions,
            self.skipped_seen
        )?;
        writeln!(
            f,
            "checkpoint: {} (high-water mark {})",
            self.checkpoint.display(),
            self.mark.as_deref().unwrap_or("none yet")
        )
    }
}
