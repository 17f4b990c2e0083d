//! [`FaultProxy`]: a TCP relay on 127.0.0.1 in front of an HTTP server (the S3 store) that
//! injects the faults of a flaky network or a sick store:
//!
//! - **drop**: the connection is closed once the request has arrived, before the server
//!   sees it;
//! - **stall**: the response is held back for a while before its first byte;
//! - **cut**: the response stops in the middle (of its body when it has one, else of its
//!   head) and the connection is closed.
//!
//! In the transient mode every `every`-th distinct request (method, target and range) gets
//! one of the three faults, in turn, and no request is faulted twice: a client that retries
//! each failed request once always gets through. Once armed with a trigger, the first
//! request whose line matches it turns the relay persistently sick: from then on every
//! request gets the persistent fault, retried or not (a store that stays broken).
//!
//! The relay adds `Connection: close` to every request, so each request comes on its own
//! connection and passes through the fault decision (a pooled connection would otherwise
//! carry many requests past it).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection once the request has arrived; the server never sees it.
    Drop,
    /// Hold the response back this long before relaying it.
    Stall(Duration),
    /// Relay half the response, then close the connection.
    Cut,
}

/// How many faults of each kind the relay injected, and how many requests it relayed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests seen (one per connection).
    pub requests: u64,
    /// Connections dropped.
    pub drops: u64,
    /// Responses stalled.
    pub stalls: u64,
    /// Responses cut.
    pub cuts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    drops: AtomicU64,
    stalls: AtomicU64,
    cuts: AtomicU64,
}

#[derive(Debug)]
struct Plan {
    /// Fault every n-th distinct request (0: none).
    every: u64,
    /// How long a transient stall lasts.
    stall: Duration,
    /// Distinct requests seen so far (method, target, range).
    seen: Mutex<HashSet<String>>,
    /// (method, needle, fault): the request line that makes the relay persistently sick.
    trigger: Mutex<Option<(String, String, Fault)>>,
    /// The persistent fault, once tripped.
    sick: Mutex<Option<Fault>>,
    tripped: AtomicBool,
    counters: Counters,
}

/// The fault-injecting relay. Runs until the test process ends.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    /// The relay's port on 127.0.0.1.
    pub port: u16,
    plan: Arc<Plan>,
}

impl FaultProxy {
    /// Starts a relay to `127.0.0.1:<target>` that faults every `every`-th distinct
    /// request (`every` 0: none) with a drop, a stall of `stall`, or a cut, in turn.
    ///
    /// # Errors
    /// No free port.
    pub fn start(target: u16, every: u64, stall: Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let plan = Arc::new(Plan {
            every,
            stall,
            seen: Mutex::new(HashSet::new()),
            trigger: Mutex::new(None),
            sick: Mutex::new(None),
            tripped: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let shared = plan.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let plan = shared.clone();
                std::thread::spawn(move || serve(client, target, &plan));
            }
        });
        Ok(Self { port, plan })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Arms the relay: the first request whose line starts with `method` and contains
    /// `needle` (and every request after it) gets `fault`.
    pub fn sicken_at(&self, method: &str, needle: &str, fault: Fault) {
        *lock(&self.plan.trigger) = Some((method.to_string(), needle.to_string(), fault));
    }

    /// Whether the trigger of [`FaultProxy::sicken_at`] was seen.
    pub fn tripped(&self) -> bool {
        self.plan.tripped.load(Ordering::SeqCst)
    }

    /// Heals the relay: no persistent fault, no trigger; transient faults go on.
    pub fn heal(&self) {
        *lock(&self.plan.trigger) = None;
        *lock(&self.plan.sick) = None;
    }

    /// What the relay has done so far.
    pub fn counts(&self) -> FaultCounts {
        let c = &self.plan.counters;
        FaultCounts {
            requests: c.requests.load(Ordering::SeqCst),
            drops: c.drops.load(Ordering::SeqCst),
            stalls: c.stalls.load(Ordering::SeqCst),
            cuts: c.cuts.load(Ordering::SeqCst),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads from `stream` until the end of an HTTP head (`\r\n\r\n`), at most 64 KiB.
/// Returns everything read (the head and whatever followed it) and the head's length,
/// or `None` as the length when the stream ended or the head is too long.
fn read_head(stream: &mut TcpStream) -> (Vec<u8>, Option<usize>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            return (data, Some(end + 4));
        }
        if data.len() > 64 * 1024 {
            return (data, None);
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return (data, None),
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// The value of header `name` (case-insensitive) in an HTTP head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The fault for one request, given its request line and range.
fn decide(plan: &Plan, line: &str, range: &str) -> Option<Fault> {
    let method = line.split(' ').next().unwrap_or("");
    if let Some((m, needle, fault)) = lock(&plan.trigger).clone()
        && method == m
        && line.contains(&needle)
    {
        plan.tripped.store(true, Ordering::SeqCst);
        *lock(&plan.sick) = Some(fault);
    }
    if let Some(fault) = *lock(&plan.sick) {
        return Some(fault);
    }
    if plan.every == 0 {
        return None;
    }
    let mut seen = lock(&plan.seen);
    if !seen.insert(format!("{line} {range}")) {
        return None;
    }
    let n = seen.len() as u64;
    n.is_multiple_of(plan.every)
        .then(|| match (n / plan.every) % 3 {
            1 => Fault::Drop,
            2 => Fault::Stall(plan.stall),
            _ => Fault::Cut,
        })
}

/// One connection: one request, relayed with its fault.
fn serve(mut client: TcpStream, target: u16, plan: &Plan) {
    let (data, head_len) = read_head(&mut client);
    let Some(head_len) = head_len else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let head = String::from_utf8_lossy(&data[..head_len]).into_owned();
    let line = head.split("\r\n").next().unwrap_or("").to_string();
    plan.counters.requests.fetch_add(1, Ordering::SeqCst);
    let fault = decide(plan, &line, header(&head, "range").unwrap_or(""));
    if fault == Some(Fault::Drop) {
        plan.counters.drops.fetch_add(1, Ordering::SeqCst);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    // The head again, with `Connection: close` instead of any connection header.
    let mut rewritten = String::new();
    for (i, l) in head[..head_len - 2].split("\r\n").enumerate() {
        if l.is_empty() {
            continue;
        }
        if i > 0
            && l.split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        rewritten.push_str(l);
        rewritten.push_str("\r\n");
    }
    rewritten.push_str("Connection: close\r\n\r\n");
    if server.write_all(rewritten.as_bytes()).is_err()
        || server.write_all(&data[head_len..]).is_err()
    {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    // The rest of the request body, client → server, on its own thread.
    let (Ok(mut client_in), Ok(mut server_out)) =
        (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
    });
    match fault {
        Some(Fault::Stall(how_long)) => {
            plan.counters.stalls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(how_long);
            let _ = std::io::copy(&mut server, &mut client);
        }
        Some(Fault::Cut) => {
            plan.counters.cuts.fetch_add(1, Ordering::SeqCst);
            let (mut response, response_head) = read_head(&mut server);
            let cut_at = match response_head {
                Some(head_end) => {
                    let text =
                        String::from_utf8_lossy(&response[..head_end]).into_owned();
                    let body = header(&text, "content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body >= 2 && !line.starts_with("HEAD ") {
                        // Read up to half the body, relay the head and that half.
                        let want = head_end + body / 2;
                        let mut buf = [0u8; 16 * 1024];
                        while response.len() < want {
                            match server.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => response.extend_from_slice(&buf[..n]),
                            }
                        }
                        want.min(response.len())
                    } else {
                        head_end / 2
                    }
                }
                None => response.len() / 2,
            };
            let _ = client.write_all(&response[..cut_at]);
        }
        _ => {
            let _ = std::io::copy(&mut server, &mut client);
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = upload.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(every: u64) -> Plan {
        Plan {
            every,
            stall: Duration::from_secs(1),
            seen: Mutex::new(HashSet::new()),
            trigger: Mutex::new(None),
            sick: Mutex::new(None),
            tripped: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }

    #[test]
    fn every_nth_distinct_request_is_faulted_once_in_turn() {
        let p = plan(2);
        let faults: Vec<_> = (0..6)
            .map(|i| decide(&p, &format!("GET /lake/{i} HTTP/1.1"), ""))
            .collect();
        assert_eq!(
            faults,
            [
                None,
                Some(Fault::Drop),
                None,
                Some(Fault::Stall(Duration::from_secs(1))),
                None,
                Some(Fault::Cut)
            ]
        );
        // A retry of a faulted request is not faulted again.
        assert_eq!(decide(&p, "GET /lake/1 HTTP/1.1", ""), None);
        // Another range of the same object is another request.
        assert_eq!(decide(&p, "GET /lake/1 HTTP/1.1", "bytes=0-9"), None);
        assert_eq!(
            decide(&p, "GET /lake/1 HTTP/1.1", "bytes=10-19"),
            Some(Fault::Drop)
        );
    }

    #[test]
    fn a_trigger_makes_every_later_request_sick_until_healed() {
        let p = plan(0);
        *lock(&p.trigger) = Some(("PUT".into(), "/scratch/".into(), Fault::Cut));
        assert_eq!(decide(&p, "GET /lake/a HTTP/1.1", ""), None);
        assert_eq!(
            decide(&p, "PUT /lake/x/scratch/t.parquet HTTP/1.1", ""),
            Some(Fault::Cut)
        );
        assert!(p.tripped.load(Ordering::SeqCst));
        assert_eq!(decide(&p, "GET /lake/a HTTP/1.1", ""), Some(Fault::Cut));
        *lock(&p.sick) = None;
        *lock(&p.trigger) = None;
        assert_eq!(decide(&p, "GET /lake/a HTTP/1.1", ""), None);
    }

    #[test]
    fn headers_are_found_in_any_case() {
        let head = "GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n";
        assert_eq!(header(head, "range"), Some("bytes=1-2"));
        assert_eq!(header(head, "content-length"), None);
    }
}
