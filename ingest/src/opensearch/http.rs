//! HTTP to OpenSearch: one request with its authentication, and the retry budget that
//! bounds how long a failing request is tried again.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};

use super::{OpenSearchError, OpenSearchOptions};

/// A secret (password, API key): never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How requests authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: ApiKey <key>` (the base64 `id:key` form OpenSearch and
    /// Elasticsearch hand out).
    ApiKey(Secret),
}

/// Bounds on retrying a request that failed in a way that may pass: a dropped connection,
/// a truncated body, 429, 5xx, failed shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries of one request, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// Longest wait between two tries (a longer `Retry-After` is honoured, within
    /// `max_elapsed`).
    pub max_backoff: Duration,
    /// Longest time spent on one request, waits included.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

/// One request's tries so far.
pub(crate) struct Attempts<'p> {
    policy: &'p RetryPolicy,
    what: String,
    start: Instant,
    tries: u32,
    pub(crate) retries: u64,
}

impl<'p> Attempts<'p> {
    pub(crate) fn new(policy: &'p RetryPolicy, what: String) -> Self {
        Self {
            policy,
            what,
            start: Instant::now(),
            tries: 0,
            retries: 0,
        }
    }

    /// Counts a failed try and waits before the next one, or gives up with `reason` once
    /// the tries or the time are spent.
    pub(crate) async fn failed(
        &mut self,
        reason: String,
        retry_after: Option<Duration>,
        index: &str,
    ) -> Result<(), OpenSearchError> {
        self.tries += 1;
        let elapsed = self.start.elapsed();
        let backoff = self
            .policy
            .initial_backoff
            .saturating_mul(1 << (self.tries - 1).min(20))
            .min(self.policy.max_backoff);
        let wait = retry_after.unwrap_or(backoff);
        if self.tries >= self.policy.max_attempts
            || elapsed + wait > self.policy.max_elapsed
        {
            return Err(OpenSearchError::GaveUp {
                what: self.what.clone(),
                index: index.to_owned(),
                attempts: self.tries,
                secs: elapsed.as_secs_f64(),
                last: reason,
            });
        }
        tracing::warn!(
            "{}: {reason}; retrying in {:.1} s (try {} of {})",
            self.what,
            wait.as_secs_f64(),
            self.tries + 1,
            self.policy.max_attempts
        );
        self.retries += 1;
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// What one try of a request gave.
pub(crate) enum Reply {
    /// A 2xx status and the whole body.
    Ok(bytes::Bytes),
    /// The point in time is gone (expired, or its node restarted).
    PitMissing,
    /// A failure worth retrying, and the `Retry-After` to honour.
    Retry(String, Option<Duration>),
    /// A failure that retrying will not fix (bad query, authentication, missing index).
    Fatal(StatusCode, String),
}

/// The HTTP client for one source (cheap to clone: the connection pool is shared).
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    base: String,
    auth: Auth,
}

impl Http {
    /// A client for the options' URL, TLS settings and timeout.
    ///
    /// # Errors
    /// When the CA certificate cannot be read or the TLS setup fails.
    pub(crate) fn new(opts: &OpenSearchOptions) -> Result<Self, OpenSearchError> {
        let mut b = reqwest::Client::builder()
            .timeout(opts.request_timeout)
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("huntsman/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &opts.ca_cert {
            let pem = std::fs::read(ca).map_err(|e| {
                OpenSearchError::Config(format!("--ca-cert {}: {e}", ca.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                OpenSearchError::Config(format!(
                    "--ca-cert {}: not PEM certificates: {e}",
                    ca.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(OpenSearchError::Config(format!(
                    "--ca-cert {}: no certificate found",
                    ca.display()
                )));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if opts.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b.build().map_err(|e| {
            OpenSearchError::Config(format!("HTTP client: {}", chain(&e)))
        })?;
        Ok(Self {
            client,
            base: opts.url.trim_end_matches('/').to_owned(),
            auth: opts.auth.clone(),
        })
    }

    /// `METHOD <url><path>`, for messages.
    pub(crate) fn describe(&self, method: &Method, path: &str) -> String {
        format!("{method} {}{path}", self.base)
    }

    /// One try of a request with a JSON body.
    pub(crate) async fn send(&self, method: Method, path: &str, body: Vec<u8>) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .client
            .request(method, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        match &self.auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                req = req.basic_auth(user, Some(password.expose()));
            }
            Auth::ApiKey(key) => {
                if let Ok(mut v) =
                    HeaderValue::from_str(&format!("ApiKey {}", key.expose()))
                {
                    v.set_sensitive(true);
                    req = req.header(AUTHORIZATION, v);
                }
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Reply::Retry(format!("request failed: {}", chain(&e)), None);
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Reply::Retry(
                    format!(
                        "HTTP {status}, but the connection dropped while reading the body: {}",
                        chain(&e)
                    ),
                    None,
                );
            }
        };
        if status.is_success() {
            return Reply::Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        if text.contains("search_context_missing_exception") {
            return Reply::PitMissing;
        }
        let reason = error_reason(&text);
        if status == StatusCode::TOO_MANY_REQUESTS {
            Reply::Retry(format!("HTTP 429 Too Many Requests: {reason}"), retry_after)
        } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Reply::Retry(format!("HTTP {status}: {reason}"), None)
        } else {
            Reply::Fatal(status, reason)
        }
    }
}

/// The `type: reason` of an OpenSearch error body, or the start of the body.
fn error_reason(text: &str) -> String {
    let v: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let err = v.as_ref().and_then(|v| v.get("error"));
    let root = err
        .and_then(|e| e.get("root_cause"))
        .and_then(|r| r.get(0))
        .or(err);
    match root {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(e) => {
            let ty = e.get("type").and_then(|t| t.as_str()).unwrap_or("error");
            let reason = e.get("reason").and_then(|t| t.as_str()).unwrap_or("");
            format!("{ty}: {reason}")
        }
        None => {
            let t: String = text.chars().take(300).collect();
            if t.is_empty() {
                "(empty body)".into()
            } else {
                t
            }
        }
    }
}

/// An error and its causes, `a: b: c`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let auth = Auth::Basic {
            user: "alice".into(),
            password: Secret::new("hunter2"),
        };
        let shown = format!("{auth:?}");
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(!format!("{:?}", Auth::ApiKey(Secret::new("k3y"))).contains("k3y"));
    }

    #[test]
    fn error_reasons_come_from_the_root_cause() {
        let body = r#"{"error":{"root_cause":[{"type":"index_not_found_exception",
            "reason":"no such index [x]"}],"type":"index_not_found_exception"},"status":404}"#;
        assert_eq!(
            error_reason(body),
            "index_not_found_exception: no such index [x]"
        );
        assert_eq!(error_reason("Bad Gateway"), "Bad Gateway");
        assert_eq!(error_reason(""), "(empty body)");
    }
}
