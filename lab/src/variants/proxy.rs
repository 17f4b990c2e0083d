//! `proxy`: all web traffic leaves through an explicit proxy. Every connection to an
//! external site (browsers, updaters, telemetry, implants alike) goes to the proxy's
//! internal address, 10.10.0.30:8080, and clients resolve only the proxy's name: each DNS
//! query for an external name becomes a query for `proxy.contoso.local`. Destination IPs
//! therefore no longer tell sites apart. The proxy is an appliance without Sysmon, so it
//! logs nothing here. Internal traffic (SMB, RPC, LDAP, WinRM, RDP) is unchanged.
//!
//! Labels: every process-destination entity with an external address becomes (process,
//! proxy IP, 8080); duplicates within a group are merged.

use super::super::labels::{Draft, Entity};
use super::super::topology::{DNS_DOMAIN, Topology};

/// The proxy's address.
pub(crate) const PROXY_IP: &str = "10.10.0.30";
/// The proxy's port.
pub(crate) const PROXY_PORT: &str = "8080";

fn proxy_fqdn() -> String {
    format!("proxy.{DNS_DOMAIN}")
}

/// Points every external endpoint and DNS answer at the proxy.
pub(super) fn apply(topo: &mut Topology) {
    let fqdn = proxy_fqdn();
    for e in &mut topo.endpoints {
        // External sites are the endpoints without a host name (internal services have one).
        if e.hostname.is_none() {
            e.ip = PROXY_IP.to_string();
            e.port = PROXY_PORT.to_string();
            e.port_name = Some("http-alt");
            e.proto = "tcp";
            e.hostname = Some(fqdn.clone());
        }
    }
    let results = format!("::ffff:{PROXY_IP};");
    for n in topo.names.iter_mut().skip(topo.hosts.len()) {
        n.name = fqdn.clone();
        n.results = results.clone();
    }
}

fn is_private(ip: &str) -> bool {
    let o: Vec<u8> = ip.split('.').filter_map(|x| x.parse().ok()).collect();
    matches!(o.as_slice(), [10, ..] | [192, 168, ..] | [127, ..])
        || matches!(o.as_slice(), [172, b, ..] if (16..32).contains(b))
}

/// Rewrites external destinations of process-destination entities to the proxy.
pub(super) fn relabel(drafts: &mut [Draft]) {
    for d in drafts {
        let g = &mut d.group;
        let mut changed = false;
        let mut out: Vec<Entity> = Vec::with_capacity(g.entities.len());
        for e in g.entities.drain(..) {
            let e = match e {
                Entity::ProcessDestination {
                    processguid,
                    destinationip,
                    ..
                } if !is_private(&destinationip) => {
                    changed = true;
                    Entity::ProcessDestination {
                        processguid,
                        destinationip: PROXY_IP.to_string(),
                        destinationport: PROXY_PORT.to_string(),
                    }
                }
                e => e,
            };
            if !out.contains(&e) {
                out.push(e);
            }
        }
        g.entities = out;
        if changed {
            g.description.push_str(&format!(
                " (through the explicit proxy {PROXY_IP}:{PROXY_PORT}: the logged \
                 destination is the proxy)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognised() {
        assert!(is_private("10.10.0.20"));
        assert!(is_private("172.16.3.4"));
        assert!(!is_private("172.32.3.4"));
        assert!(!is_private("203.0.113.45"));
    }
}
