//! Object storage: where `s3://` (and `s3a://`) locations resolve in every process.
//!
//! The client (planning lists files), the scheduler (planning again) and every executor
//! (reading Parquet, loading models) resolve object-store URLs through one
//! [`StoreRegistry`], installed in the runtime environment by
//! [`crate::session::huntsman_runtime_env`]. Each process reads its S3 settings from its
//! **own** environment ([`S3Settings::from_env`]): credentials never travel in query
//! plans, task properties or session options, and they are redacted from `Debug`.
//!
//! Settings, first match wins (the original stack's MinIO variables, then AWS's):
//!
//! | setting | variables | default |
//! |---|---|---|
//! | endpoint | `MINIO_ENDPOINT`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT` | AWS |
//! | access key | `MINIO_ACCESS_KEY`, `AWS_ACCESS_KEY_ID` | none |
//! | secret key | `MINIO_SECRET_KEY`, `AWS_SECRET_ACCESS_KEY` | none |
//! | session token | `AWS_SESSION_TOKEN` | none |
//! | region | `AWS_REGION`, `AWS_DEFAULT_REGION` | `us-east-1` |
//! | path-style | `MINIO_PATH_STYLE_ACCESS`; not `AWS_VIRTUAL_HOSTED_STYLE_REQUEST` | true with an endpoint |
//! | plain http | the endpoint starts with `http://`, or `AWS_ALLOW_HTTP` | false |
//!
//! Requests are bounded so that an unreachable or stopped store fails a run instead of
//! hanging it: `HUNTSMAN_S3_CONNECT_TIMEOUT_S` (5), `HUNTSMAN_S3_TIMEOUT_S` (120, one
//! request), `HUNTSMAN_S3_MAX_RETRIES` (3) and `HUNTSMAN_S3_RETRY_TIMEOUT_S` (20, all
//! retries of one request).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::{
    DefaultObjectStoreRegistry, ObjectStoreRegistry,
};
use object_store::aws::AmazonS3Builder;

use crate::list_retry::ListRetry;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig,
};
use url::Url;

/// URL schemes served by the S3 client.
pub const S3_SCHEMES: &[&str] = &["s3", "s3a"];

/// True when `location` is an object-store URL this build resolves (`s3://`, `s3a://`).
pub fn is_object_url(location: &str) -> bool {
    S3_SCHEMES
        .iter()
        .any(|s| location.len() > s.len() + 3 && location.starts_with(&format!("{s}://")))
}

/// A secret value: usable, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that signs requests.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How this process reaches S3-compatible storage. `Debug` redacts the secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    /// Endpoint URL (`http://127.0.0.1:3900`); `None` means AWS.
    pub endpoint: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<Secret>,
    /// Session token of temporary credentials.
    pub session_token: Option<Secret>,
    /// Signing region.
    pub region: String,
    /// Bucket in the path (`endpoint/bucket/key`) instead of the host name.
    pub path_style: bool,
    /// Plain-http endpoints allowed.
    pub allow_http: bool,
    /// Unsigned (anonymous) requests.
    pub anonymous: bool,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for one request.
    pub request_timeout: Duration,
    /// Retries of a failed request.
    pub max_retries: usize,
    /// Time for all retries of one request.
    pub retry_timeout: Duration,
}

impl S3Settings {
    /// The settings of this process's environment.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The settings from a variable lookup (the environment, a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: &[&str]| {
            names.iter().find_map(|n| {
                var(n)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            })
        };
        let flag = |names: &[&str]| first(names).map(|v| is_true(&v));
        let seconds = |name: &str, default: u64| {
            Duration::from_secs_f64(
                first(&[name])
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .unwrap_or(default as f64),
            )
        };
        let endpoint = first(&["MINIO_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"])
            .map(|e| {
                let e = e.trim_end_matches('/').to_string();
                if e.contains("://") {
                    e
                } else {
                    format!("https://{e}")
                }
            });
        let allow_http = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
            || flag(&["AWS_ALLOW_HTTP"]).unwrap_or(false);
        let path_style = match flag(&["MINIO_PATH_STYLE_ACCESS"]) {
            Some(v) => v,
            None => match flag(&["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"]) {
                Some(virtual_hosted) => !virtual_hosted,
                None => endpoint.is_some(),
            },
        };
        Self {
            endpoint,
            access_key_id: first(&["MINIO_ACCESS_KEY", "AWS_ACCESS_KEY_ID"]),
            secret_access_key: first(&["MINIO_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"])
                .map(Secret),
            session_token: first(&["AWS_SESSION_TOKEN"]).map(Secret),
            region: first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
                .unwrap_or_else(|| "us-east-1".into()),
            path_style,
            allow_http,
            anonymous: flag(&["AWS_SKIP_SIGNATURE"]).unwrap_or(false),
            connect_timeout: seconds("HUNTSMAN_S3_CONNECT_TIMEOUT_S", 5),
            request_timeout: seconds("HUNTSMAN_S3_TIMEOUT_S", 120),
            max_retries: first(&["HUNTSMAN_S3_MAX_RETRIES"])
                .and_then(|v| v.parse().ok())
                .unwrap_or(3),
            retry_timeout: seconds("HUNTSMAN_S3_RETRY_TIMEOUT_S", 20),
        }
    }

    /// A client for `bucket`.
    ///
    /// # Errors
    /// Missing credentials (named by their variables), or settings object_store refuses.
    pub fn build(
        &self,
        bucket: &str,
    ) -> std::result::Result<Arc<dyn ObjectStore>, String> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_allow_http(self.allow_http)
            .with_virtual_hosted_style_request(!self.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(self.allow_http)
                    .with_connect_timeout(self.connect_timeout)
                    .with_timeout(self.request_timeout),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                max_retries: self.max_retries,
                retry_timeout: self.retry_timeout,
            });
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret.expose());
                if let Some(token) = &self.session_token {
                    builder = builder.with_token(token.expose());
                }
            }
            _ if self.anonymous => builder = builder.with_skip_signature(true),
            (Some(_), None) => {
                return Err("S3 access key is set but the secret key is not \
                            (MINIO_SECRET_KEY or AWS_SECRET_ACCESS_KEY)"
                    .into());
            }
            (None, _) => {
                return Err(
                    "no S3 credentials: set MINIO_ACCESS_KEY and MINIO_SECRET_KEY \
                            (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or \
                            AWS_SKIP_SIGNATURE=true for a public bucket"
                        .into(),
                );
            }
        }
        let s3 = builder
            .build()
            .map_err(|e| format!("S3 client for bucket {bucket}: {e}"))?;
        Ok(Arc::new(ListRetry::new(Arc::new(s3), self.max_retries)))
    }
}

fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Resolves `file://` through DataFusion's default registry and `s3://`/`s3a://` through
/// S3 clients built on first use from this process's [`S3Settings`], one per bucket.
pub struct StoreRegistry {
    settings: S3Settings,
    buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    default: DefaultObjectStoreRegistry,
}

impl fmt::Debug for StoreRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreRegistry")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl StoreRegistry {
    /// A registry using `settings` for every S3 bucket.
    pub fn new(settings: S3Settings) -> Self {
        Self {
            settings,
            buckets: Mutex::new(HashMap::new()),
            default: DefaultObjectStoreRegistry::new(),
        }
    }

    /// The settings S3 clients are built with.
    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    fn s3_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let bucket = url.host_str().unwrap_or_default();
        if bucket.is_empty() {
            return Err(DataFusionError::Configuration(format!(
                "{url}: an S3 URL needs a bucket (s3://bucket/prefix)"
            )));
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = buckets.get(bucket) {
            return Ok(store.clone());
        }
        let store = self
            .settings
            .build(bucket)
            .map_err(DataFusionError::Configuration)?;
        buckets.insert(bucket.to_string(), store.clone());
        Ok(store)
    }
}

impl ObjectStoreRegistry for StoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        if S3_SCHEMES.contains(&url.scheme()) {
            let bucket = url.host_str().unwrap_or_default().to_string();
            let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            return buckets.insert(bucket, store);
        }
        self.default.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if S3_SCHEMES.contains(&url.scheme()) {
            return self.s3_store(url);
        }
        self.default.get_store(url)
    }
}

/// The registry of this process, built from its environment on first use.
pub fn registry() -> Arc<StoreRegistry> {
    static REGISTRY: OnceLock<Arc<StoreRegistry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| Arc::new(StoreRegistry::new(S3Settings::from_env())))
        .clone()
}

/// An object-store location split into its store and the key (or prefix) inside it.
#[derive(Clone)]
pub struct ObjectLocation {
    /// `s3://bucket/key` as given, without a trailing slash.
    pub url: String,
    /// The bucket's client.
    pub store: Arc<dyn ObjectStore>,
    /// The key or prefix inside the bucket.
    pub path: ObjectPath,
}

impl fmt::Debug for ObjectLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl ObjectLocation {
    /// Parses `s3://bucket/key` and finds the bucket's client in [`registry`].
    ///
    /// # Errors
    /// Not an object-store URL, no bucket, or no usable S3 settings.
    pub fn parse(location: &str) -> std::result::Result<Self, String> {
        Self::parse_with(location, |url| {
            registry().get_store(url).map_err(|e| strip_df(&e))
        })
    }

    /// Parses `s3://bucket/key` with the client `store_for` gives for its URL.
    fn parse_with(
        location: &str,
        store_for: impl FnOnce(&Url) -> std::result::Result<Arc<dyn ObjectStore>, String>,
    ) -> std::result::Result<Self, String> {
        let url = Url::parse(location).map_err(|e| format!("{location}: {e}"))?;
        if !S3_SCHEMES.contains(&url.scheme()) {
            return Err(format!("{location}: not an s3:// or s3a:// URL"));
        }
        let store = store_for(&url).map_err(|e| format!("{location}: {e}"))?;
        let path = ObjectPath::from_url_path(url.path())
            .map_err(|e| format!("{location}: {e}"))?;
        Ok(Self {
            url: location.trim_end_matches('/').to_string(),
            store,
            path,
        })
    }

    /// The location of `child` (a relative key with `/` separators) below this one.
    pub fn join(&self, child: &str) -> Self {
        let mut path = self.path.clone();
        for part in child.split('/').filter(|p| !p.is_empty()) {
            path = path.clone().join(part);
        }
        Self {
            url: format!("{}/{}", self.url, child.trim_matches('/')),
            store: self.store.clone(),
            path,
        }
    }
}

/// DataFusion wraps messages in its own prefixes; the user wants the cause.
fn strip_df(e: &DataFusionError) -> String {
    match e {
        DataFusionError::Configuration(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Reads a whole object of at most `max` bytes (its size is asked for first) synchronously, from code that runs inside query execution
/// (scoring functions loading a model): on a multi-threaded Tokio runtime the worker
/// blocks in place; elsewhere a short-lived thread with its own runtime and its own
/// client does the read.
///
/// # Errors
/// The URL is not usable or the read fails; the message names the URL.
pub fn read_blocking(location: &str, max: u64) -> std::result::Result<Vec<u8>, String> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let get = |loc: ObjectLocation| async move {
        let head = loc
            .store
            .head(&loc.path)
            .await
            .map_err(|e| format!("{}: {}", loc.url, describe(&e)))?;
        if head.size > max {
            return Err(format!(
                "{}: {} bytes, more than the {max}-byte limit",
                loc.url, head.size
            ));
        }
        // Only the bytes the head announced: an object replaced since is not read past them.
        loc.store
            .get_range(&loc.path, 0..head.size)
            .await
            .map(|b| b.to_vec())
            .map_err(|e| format!("{}: {}", loc.url, describe(&e)))
    };
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            let loc = ObjectLocation::parse(location)?;
            tokio::task::block_in_place(|| handle.block_on(get(loc)))
        }
        _ => {
            // A client is tied to the runtime that first drives its connections, so the
            // shared one is not used from a throw-away runtime: this read gets its own.
            let loc = ObjectLocation::parse_with(location, |url| {
                registry()
                    .settings()
                    .build(url.host_str().unwrap_or_default())
            })?;
            std::thread::scope(|s| {
                s.spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("{location}: {e}"))?
                        .block_on(get(loc))
                })
                .join()
                .unwrap_or_else(|_| Err(format!("{location}: the reading thread failed")))
            })
        }
    }
}

/// A short, user-facing description of an object-store error: what went wrong first
/// (missing bucket, refused credentials, unreachable endpoint), then the request.
pub fn describe(e: &object_store::Error) -> String {
    match e {
        object_store::Error::NotFound { path, .. } => format!("not found ({path})"),
        other => describe_text(&other.to_string()),
    }
}

fn describe_text(raw: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = raw.find(&open)? + open.len();
        let end = raw[start..].find(&format!("</{name}>"))? + start;
        Some(raw[start..end].to_string())
    };
    // The request (method and URL), without object_store's retry bookkeeping.
    let request = raw
        .find("Error performing ")
        .map(|i| &raw[i + "Error performing ".len()..])
        .and_then(|r| r.split(" in ").next())
        .unwrap_or("");
    let code = tag("Code");
    let message = tag("Message").unwrap_or_default();
    let what = match code.as_deref() {
        Some("NoSuchBucket") => format!("the bucket does not exist ({message})"),
        Some(
            "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "Forbidden",
        ) => format!(
            "access denied: check the S3 credentials (MINIO_ACCESS_KEY/MINIO_SECRET_KEY \
             or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) ({message})"
        ),
        Some(code) => format!("S3 error {code}: {message}"),
        None if raw.contains("error sending request")
            || raw.contains("connect")
            || raw.contains("timed out") =>
        {
            let retries = raw
                .find("after ")
                .and_then(|i| raw[i..].split(',').next())
                .map(|r| format!(", {r}"))
                .unwrap_or_default();
            format!("cannot reach the S3 endpoint (connection failed{retries})")
        }
        None => return raw.to_string(),
    };
    if request.is_empty() {
        what
    } else {
        format!("{what} [{request}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> S3Settings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        S3Settings::from_vars(|n| map.get(n).cloned())
    }

    #[test]
    fn minio_variables_win_and_http_endpoints_are_allowed() {
        let s = settings(&[
            ("MINIO_ENDPOINT", "http://minio:9000/"),
            ("AWS_ENDPOINT_URL", "https://s3.example"),
            ("MINIO_ACCESS_KEY", "minio"),
            ("AWS_ACCESS_KEY_ID", "aws"),
            ("MINIO_SECRET_KEY", "hunter2-secret"),
        ]);
        assert_eq!(s.endpoint.as_deref(), Some("http://minio:9000"));
        assert_eq!(s.access_key_id.as_deref(), Some("minio"));
        assert!(s.allow_http && s.path_style);
        assert_eq!(s.region, "us-east-1");
        assert!(s.build("lake").is_ok());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = settings(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "hunter2-secret"),
            ("AWS_SESSION_TOKEN", "token-secret"),
        ]);
        let shown = format!("{s:?} {:?}", StoreRegistry::new(s.clone()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("token-secret"), "{shown}");
        assert!(shown.contains("AKIAEXAMPLE"), "{shown}");
    }

    #[test]
    fn aws_defaults_and_path_style_switches() {
        let s = settings(&[]);
        assert!(s.endpoint.is_none() && !s.path_style && !s.allow_http);
        let s = settings(&[("MINIO_ENDPOINT", "minio:9000")]);
        assert_eq!(s.endpoint.as_deref(), Some("https://minio:9000"));
        assert!(s.path_style && !s.allow_http);
        let s = settings(&[
            ("AWS_ENDPOINT_URL", "http://x:1"),
            ("MINIO_PATH_STYLE_ACCESS", "false"),
        ]);
        assert!(!s.path_style);
        let s = settings(&[
            ("HUNTSMAN_S3_MAX_RETRIES", "0"),
            ("HUNTSMAN_S3_TIMEOUT_S", "2.5"),
        ]);
        assert_eq!(s.max_retries, 0);
        assert_eq!(s.request_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn missing_credentials_are_named_instead_of_asking_instance_metadata() {
        let err = settings(&[("MINIO_ENDPOINT", "http://127.0.0.1:9")])
            .build("lake")
            .expect_err("refused");
        assert!(err.contains("MINIO_ACCESS_KEY"), "{err}");
        let err = settings(&[("AWS_ACCESS_KEY_ID", "id")])
            .build("lake")
            .expect_err("refused");
        assert!(err.contains("secret key"), "{err}");
        assert!(
            settings(&[("AWS_SKIP_SIGNATURE", "true")])
                .build("public")
                .is_ok()
        );
    }

    #[test]
    fn store_errors_are_described_by_cause() {
        let missing = "Generic S3 error: Error performing list request: Error performing GET \
            http://127.0.0.1:1/nobucket?list-type=2 in 2ms - Server returned non-2xx status \
            code: 404 Not Found: <Error><Code>NoSuchBucket</Code><Message>Bucket not found: \
            nobucket</Message></Error>";
        let text = describe_text(missing);
        assert!(text.starts_with("the bucket does not exist"), "{text}");
        assert!(text.contains("GET http://127.0.0.1:1/nobucket"), "{text}");
        let denied = "Error performing GET http://h/b in 1ms - 403 Forbidden: \
            <Error><Code>AccessDenied</Code><Message>Invalid signature</Message></Error>";
        assert!(describe_text(denied).starts_with("access denied"));
        let down = "Error performing GET http://127.0.0.1:9/lake in 421ms, after 3 retries, \
            max_retries: 3, retry_timeout: 20s  - HTTP error: error sending request";
        let text = describe_text(down);
        assert!(
            text.contains("cannot reach") && text.contains("after 3 retries"),
            "{text}"
        );
        assert_eq!(describe_text("something else"), "something else");
    }

    #[test]
    fn object_urls_are_recognised() {
        assert!(is_object_url("s3://lake/events"));
        assert!(is_object_url("s3a://lake"));
        assert!(!is_object_url("s3://"));
        assert!(!is_object_url("./data/events"));
        assert!(!is_object_url("file:///tmp/x"));
    }

    #[test]
    fn registry_serves_s3_and_s3a_per_bucket() {
        let registry = StoreRegistry::new(settings(&[
            ("MINIO_ENDPOINT", "http://127.0.0.1:9"),
            ("MINIO_ACCESS_KEY", "k"),
            ("MINIO_SECRET_KEY", "s"),
        ]));
        let a = registry
            .get_store(&Url::parse("s3://lake/x").expect("url"))
            .expect("s3");
        let b = registry
            .get_store(&Url::parse("s3a://lake/y").expect("url"))
            .expect("s3a");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(
            registry
                .get_store(&Url::parse("file:///").expect("url"))
                .is_ok()
        );
        assert!(
            registry
                .get_store(&Url::parse("gs://other/x").expect("url"))
                .is_err()
        );
    }
}
