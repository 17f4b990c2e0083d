//! Health probes of a running scheduler or executor over plain HTTP/1.1.
//!
//! Every Huntsman process that talks to a scheduler checks it first, so that an
//! unreachable or wrong address becomes one clear error within a bounded time instead of
//! a hang inside a gRPC retry loop. Ballista serves `/healthz` and `/readyz` on the
//! scheduler's gRPC port and on the executor's health port.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A probe that did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No TCP connection or no HTTP answer within the time allowed.
    #[error("no answer from {addr} within {waited:?}: {reason}")]
    Unreachable {
        /// `host:port` probed.
        addr: String,
        /// How long the probe tried.
        waited: Duration,
        /// The last failure seen.
        reason: String,
    },
}

/// The status code and body of one HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    /// HTTP status code.
    pub status: u16,
    /// Response body.
    pub body: String,
}

/// Sends `GET path` to `addr` (`host:port`) once, waiting at most `timeout`.
///
/// # Errors
/// [`ProbeError::Unreachable`] when nothing answers in time.
pub async fn http_get(
    addr: &str,
    path: &str,
    timeout: Duration,
) -> Result<ProbeAnswer, ProbeError> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|e| e.to_string())?;
        parse_answer(&raw).ok_or_else(|| "the answer is not HTTP".to_string())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(reason)) => Err(ProbeError::Unreachable {
            addr: addr.to_string(),
            waited: timeout,
            reason,
        }),
        Err(_) => Err(ProbeError::Unreachable {
            addr: addr.to_string(),
            waited: timeout,
            reason: "timed out".into(),
        }),
    }
}

/// Probes `GET path` until it answers (any status) or `deadline` passes, retrying every
/// 250 ms.
///
/// # Errors
/// [`ProbeError::Unreachable`] with the last failure when `deadline` passes.
pub async fn wait_for_answer(
    addr: &str,
    path: &str,
    deadline: Duration,
) -> Result<ProbeAnswer, ProbeError> {
    let start = Instant::now();
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        match http_get(addr, path, left.min(Duration::from_secs(5))).await {
            Ok(answer) => return Ok(answer),
            Err(ProbeError::Unreachable { reason, .. }) => {
                if start.elapsed() + Duration::from_millis(250) >= deadline {
                    return Err(ProbeError::Unreachable {
                        addr: addr.to_string(),
                        waited: start.elapsed(),
                        reason,
                    });
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// The number of executors a scheduler's `/readyz` body reports (`ready: 2 executors
/// registered` or `not ready: 0/1 executors registered`).
pub fn registered_executors(readyz_body: &str) -> Option<usize> {
    let words: Vec<&str> = readyz_body.split_whitespace().collect();
    let pos = words.iter().position(|w| *w == "executors")?;
    let count = words.get(pos.checked_sub(1)?)?;
    count.split('/').next()?.parse().ok()
}

fn parse_answer(raw: &[u8]) -> Option<ProbeAnswer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some(ProbeAnswer {
        status,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_readyz_bodies() {
        assert_eq!(
            registered_executors("ready: 2 executors registered\n"),
            Some(2)
        );
        assert_eq!(
            registered_executors("not ready: 0/1 executors registered"),
            Some(0)
        );
        assert_eq!(registered_executors("nonsense"), None);
    }

    #[test]
    fn parses_http_answers() {
        let a =
            parse_answer(b"HTTP/1.1 503 Service Unavailable\r\nx: y\r\n\r\nnot ready")
                .expect("http");
        assert_eq!(a.status, 503);
        assert_eq!(a.body, "not ready");
        assert!(parse_answer(b"garbage").is_none());
    }

    #[tokio::test]
    async fn closed_port_is_unreachable_quickly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        drop(listener);
        let start = Instant::now();
        let err = wait_for_answer(&addr, "/healthz", Duration::from_secs(1))
            .await
            .expect_err("nothing listens");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains(&addr), "{err}");
    }
}
