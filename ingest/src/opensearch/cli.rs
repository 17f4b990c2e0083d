//! The flags of `huntsman ingest opensearch`, its secrets, and the `--every` schedule.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::{
    Auth, DEFAULT_COMMIT_EVERY, DEFAULT_PAGE_SIZE, OpenSearchOptions, RetryPolicy,
    Secret, ingest_opensearch,
};
use crate::time::parse_timestamp;

/// Pull winlogbeat 7/8 documents from OpenSearch (2.x; point in time + search_after) into
/// the Parquet lake: a full dump the first time, then only what is new (a checkpoint is
/// kept in the lake).
///
/// Credentials come from environment variables only: basic authentication with --user (or
/// OPENSEARCH_USER) and the password in the variable named by --password-env (default
/// OPENSEARCH_PASSWORD), or an API key in the variable named by --api-key-env (default
/// OPENSEARCH_API_KEY).
#[derive(Clone, Debug, clap::Args)]
pub struct IngestOpenSearchArgs {
    /// Base URL of the cluster, http(s)://host:port (no credentials in it)
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Index pattern to read, e.g. 'winlogbeat-*'
    #[arg(long, value_name = "PATTERN")]
    pub index: String,
    /// Query DSL (JSON) ANDed with the pull's filters, e.g. '{"term":{"winlog.channel":"Security"}}'
    #[arg(long, value_name = "JSON")]
    pub query: Option<String>,
    /// Only documents at or after this time: RFC 3339 (2024-01-02T00:00:00Z) or an age
    /// (7d, 12h, 30m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Lake folder: events go to <OUT>/events/day=YYYY-MM-DD/, the checkpoint to
    /// <OUT>/_ingest/opensearch/ [default: ./data]
    #[arg(
        long,
        value_name = "OUT",
        default_value = "./data",
        hide_default_value = true
    )]
    pub out: PathBuf,
    /// Hits per search request (1 to 10000) [default: 5000]
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PAGE_SIZE, hide_default_value = true)]
    pub batch_size: usize,
    /// Documents per transaction: parts renamed and checkpoint written [default: 1000000]
    #[arg(long, value_name = "N", default_value_t = DEFAULT_COMMIT_EVERY,
          hide_default_value = true)]
    pub commit_every: u64,
    /// The date field the pull is ordered and resumed by, e.g. event.ingested
    /// [default: @timestamp]
    #[arg(
        long,
        value_name = "FIELD",
        default_value = "@timestamp",
        hide_default_value = true
    )]
    pub checkpoint_field: String,
    /// User for basic authentication [env: OPENSEARCH_USER]
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Name of the environment variable holding the password [default: OPENSEARCH_PASSWORD]
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Name of the environment variable holding an API key [default: OPENSEARCH_API_KEY]
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Extra trusted CA certificates (PEM file)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any TLS certificate (testing only)
    #[arg(long)]
    pub insecure: bool,
    /// Keep running: pull again this long after each pull started (e.g. 24h, 15m);
    /// Ctrl-C or SIGTERM stops between pulls
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,
    /// Tries of each request before giving up [default: 8]
    #[arg(long, value_name = "N", default_value_t = 8, hide_default_value = true)]
    pub retries: u32,
    /// Longest time spent on one request, retries and waits included [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          default_value = "5m", hide_default_value = true)]
    pub retry_time: Duration,
    /// Wait before the first retry, doubled each time up to 30 s [default: 500ms]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          default_value = "500ms", hide_default_value = true)]
    pub retry_wait: Duration,
}

/// Parses `500ms`, `90s`, `15m`, `24h`, `7d`, `2w`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("{s:?}: expected a number and a unit (ms, s, m, h, d, w)")
    })?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{s:?}: the unit must be ms, s, m, h, d or w")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?}: too long"))
}

/// Parses `--since` into epoch milliseconds: RFC 3339, or an age before `now_ms`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_since(s: &str, now_ms: i64) -> Result<i64, String> {
    if let Ok(age) = parse_duration(s) {
        let ms =
            i64::try_from(age.as_millis()).map_err(|_| format!("{s:?}: too long"))?;
        return Ok(now_ms - ms);
    }
    parse_timestamp(s)
        .map(|ns| ns.div_euclid(1_000_000))
        .map_err(|why| {
            format!("--since {s:?}: {why} (expected RFC 3339 or an age like 7d)")
        })
}

fn env_secret(var: &str) -> anyhow::Result<Option<Secret>> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
        Ok(_) => Ok(None),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("the environment variable {var} is not valid UTF-8")
        }
    }
}

impl IngestOpenSearchArgs {
    /// The library options, with secrets read from the environment.
    ///
    /// # Errors
    /// When the query is not JSON, `--since` does not parse, or the credentials are
    /// incomplete (the messages name variables, never values).
    pub fn options(&self) -> anyhow::Result<OpenSearchOptions> {
        let mut o = OpenSearchOptions::new(&self.url, &self.index);
        if let Some(q) = &self.query {
            let v: serde_json::Value =
                serde_json::from_str(q).context("--query is not valid JSON")?;
            if !v.is_object() {
                bail!("--query must be a JSON object (a query DSL clause)");
            }
            o.query = Some(v);
        }
        if let Some(s) = &self.since {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            o.since = Some(
                parse_since(s, i64::try_from(now).unwrap_or(i64::MAX))
                    .map_err(|e| anyhow::anyhow!(e))?,
            );
        }
        o.page_size = self.batch_size;
        o.commit_every = self.commit_every;
        o.checkpoint_field = self.checkpoint_field.clone();
        o.ca_cert = self.ca_cert.clone();
        o.insecure = self.insecure;
        o.retry = RetryPolicy {
            max_attempts: self.retries,
            initial_backoff: self.retry_wait,
            max_backoff: Duration::from_secs(30).max(self.retry_wait),
            max_elapsed: self.retry_time,
        };
        let key_var = self.api_key_env.as_deref().unwrap_or("OPENSEARCH_API_KEY");
        let user = match &self.user {
            Some(u) => Some(u.clone()),
            None => std::env::var("OPENSEARCH_USER")
                .ok()
                .filter(|u| !u.is_empty()),
        };
        let api_key = env_secret(key_var)?;
        o.auth = match (api_key, user) {
            (Some(key), None) => Auth::ApiKey(key),
            (Some(_), Some(_)) if self.api_key_env.is_some() => {
                bail!("give either --user or --api-key-env, not both")
            }
            (None, None) if self.api_key_env.is_some() => {
                bail!("--api-key-env {key_var}: the variable is not set")
            }
            (_, Some(user)) => {
                let var = self
                    .password_env
                    .as_deref()
                    .unwrap_or("OPENSEARCH_PASSWORD");
                let Some(password) = env_secret(var)? else {
                    bail!("user {user}: the password variable {var} is not set");
                };
                Auth::Basic { user, password }
            }
            (None, None) => {
                if let Some(var) = &self.password_env {
                    bail!("--password-env {var} needs --user (or OPENSEARCH_USER)");
                }
                Auth::None
            }
        };
        Ok(o)
    }
}

/// Runs `huntsman ingest opensearch`: one pull, or with `--every` a pull per period until
/// Ctrl-C or SIGTERM. Prints each pull's report. Returns whether any document was
/// rejected (the caller exits with 2).
///
/// # Errors
/// When the options are invalid, or a single pull fails. With `--every`, a failed pull is
/// reported and the schedule goes on.
pub async fn run_opensearch(args: &IngestOpenSearchArgs) -> anyhow::Result<bool> {
    let opts = args.options()?;
    let Some(every) = args.every else {
        let report = ingest_opensearch(&opts, &args.out).await.with_context(|| {
            format!("ingesting {} into {}", opts.index, args.out.display())
        })?;
        print!("{report}");
        return Ok(report.has_errors());
    };
    let mut stop = Shutdown::new()?;
    let mut rejected = false;
    loop {
        let started = tokio::time::Instant::now();
        match ingest_opensearch(&opts, &args.out).await {
            Ok(report) => {
                print!("{report}");
                rejected |= report.has_errors();
            }
            Err(e) => {
                eprintln!("huntsman: this pull failed, trying again next time: {e}")
            }
        }
        let next = started + every;
        println!(
            "next pull in {:.0} s (Ctrl-C stops)",
            next.saturating_duration_since(tokio::time::Instant::now())
                .as_secs_f64()
        );
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = stop.recv() => {
                println!("stopping: no pull in progress");
                return Ok(rejected);
            }
        }
    }
}

/// Ctrl-C and (on Unix) SIGTERM, caught from the start so that one arriving during a
/// pull lets that pull finish and stops the schedule after it.
struct Shutdown {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn new() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                int: signal(SignalKind::interrupt()).context("catching Ctrl-C")?,
                term: signal(SignalKind::terminate()).context("catching SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_since() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(parse_since("1d", 100_000_000), Ok(100_000_000 - 86_400_000));
        assert_eq!(parse_since("1970-01-01T00:00:01Z", 0), Ok(1000));
        assert!(parse_since("yesterday", 0).is_err());
    }
}
