//! The simulated domain: hosts, accounts, network endpoints and DNS names.
//!
//! Everything here is derived from the options alone (no randomness beyond the seed), so the
//! baseline generator of any day and the scenario generator agree on names, addresses and the
//! GUIDs of long-lived processes without talking to each other.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub(crate) use super::names::ATTACKER_SITES;
use super::names::{BACKGROUND, FIRST, LAST, POPULAR, SERVICE_ACCOUNTS, SYLLABLES, TLDS};

/// The NetBIOS domain name.
pub(crate) const DOMAIN: &str = "CONTOSO";
/// The DNS domain name.
pub(crate) const DNS_DOMAIN: &str = "contoso.local";

/// Users table index of `NT AUTHORITY\SYSTEM`.
pub(crate) const SYSTEM: u16 = 0;
/// Users table index of `NT AUTHORITY\NETWORK SERVICE`.
pub(crate) const NETWORK_SERVICE: u16 = 2;
/// Users table index of `NT AUTHORITY\ANONYMOUS LOGON`.
pub(crate) const ANONYMOUS: u16 = 3;

/// What a host does in the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The domain controller (also the DNS server); logs Directory Service 1644.
    DomainController,
    /// The file server, also the Windows Event Forwarding collector and deployment server.
    FileServer,
    /// A user's workstation.
    Workstation,
}

/// One host of the lab.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub name: String,
    pub fqdn: String,
    pub ip: String,
    pub role: Role,
    /// The person who uses this workstation.
    pub user: Option<u16>,
    /// First 32 bits of every process GUID on this host.
    pub guid_prefix: u32,
    /// Boot time (epoch seconds), before the lab starts.
    pub boot_secs: i64,
}

/// What kind of account a user is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// A built-in principal (SYSTEM, LOCAL SERVICE, NETWORK SERVICE, ANONYMOUS LOGON).
    BuiltIn,
    /// A person with a workstation.
    Person,
    /// An administrator's privileged account.
    Admin,
    /// A service account.
    Service,
    /// A computer account (`NAME$`).
    Computer,
}

/// One account.
#[derive(Clone, Debug)]
pub(crate) struct User {
    /// Account name, as in `winlog_user_name` (`mvirtanen`, `SYSTEM`, `WS01$`).
    pub sam: String,
    /// `DOMAIN\name`, as in Sysmon's `User`.
    pub qualified: String,
    /// Display name, used in distinguished names.
    pub display: String,
    pub kind: UserKind,
}

/// A network service somebody connects to.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub ip: String,
    pub port: String,
    pub port_name: Option<&'static str>,
    pub proto: &'static str,
    pub hostname: Option<String>,
}

/// One DNS name with its Sysmon-formatted answer.
#[derive(Clone, Debug)]
pub(crate) struct DnsName {
    pub name: String,
    pub results: String,
}

/// An external site: its DNS name and HTTPS/HTTP endpoints.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site {
    pub dns: u32,
    pub https: u32,
    pub http: u32,
}

/// Services every host listens on, as (port, Sysmon port name, protocol).
pub(crate) const SERVICES: [(u16, &str, &str); 9] = [
    (445, "microsoft-ds", "tcp"),
    (135, "epmap", "tcp"),
    (5985, "wsman", "tcp"),
    (389, "ldap", "tcp"),
    (88, "kerberos", "tcp"),
    (53, "domain", "udp"),
    (3389, "ms-wbt-server", "tcp"),
    (80, "http", "tcp"),
    (443, "https", "tcp"),
];

/// Index of a service in [`SERVICES`].
#[derive(Clone, Copy, Debug)]
#[repr(u32)]
pub(crate) enum Svc {
    Smb = 0,
    Rpc = 1,
    WinRm = 2,
    Ldap = 3,
    Kerberos = 4,
    Dns = 5,
    Rdp = 6,
    Http = 7,
}

/// SplitMix64 finaliser: a cheap, well-mixed hash of a 64-bit value.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives a sub-seed from a seed and a list of tags (stream id, day, host, ...).
pub(crate) fn derive(seed: u64, tags: &[u64]) -> u64 {
    tags.iter().fold(mix(seed), |acc, &t| mix(acc ^ mix(t)))
}

/// Builds a Sysmon-style process GUID `{pppppppp-tttt-tttt-rrrr-rrrrrrrrrrrr}` from the host
/// prefix, the process start time (epoch seconds) and 64 random bits.
pub(crate) fn process_guid(prefix: u32, start_secs: i64, random: u64) -> u128 {
    (u128::from(prefix) << 96)
        | (u128::from(start_secs as u32) << 64)
        | u128::from(random)
}

/// Formats a GUID as Sysmon does, with braces.
pub(crate) fn format_guid(out: &mut impl std::fmt::Write, g: u128) -> std::fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 38];
    buf[0] = b'{';
    buf[37] = b'}';
    let mut pos = 1;
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            buf[pos] = b'-';
            pos += 1;
        }
        let nibble = (g >> (124 - 4 * i)) & 0xF;
        buf[pos] = HEX[nibble as usize];
        pos += 1;
    }
    // Only ASCII bytes were written.
    out.write_str(std::str::from_utf8(&buf).unwrap_or_default())
}

/// A long-running process that exists on a host before the lab starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    System,
    Services,
    Schedule,
    DcomLaunch,
    WinRm,
    Defender,
    SearchIndexer,
    Lsass,
    Updater,
    DiagTrack,
    CcmExec,
    DnsServer,
    Winlogon,
    /// The monitoring agent of the `shared-c2` profile.
    Agent,
}

impl Slot {
    /// Image, command line and user of the slot's process, or `None` where the host's role
    /// does not run it.
    pub(crate) fn spec(self, role: Role) -> Option<(&'static str, &'static str, u16)> {
        let ws = role == Role::Workstation;
        Some(match self {
            Slot::System => ("System", "", SYSTEM),
            Slot::Services => (
                r"C:\Windows\System32\services.exe",
                r"C:\Windows\system32\services.exe",
                SYSTEM,
            ),
            Slot::Schedule => (
                r"C:\Windows\System32\svchost.exe",
                r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
                SYSTEM,
            ),
            Slot::DcomLaunch => (
                r"C:\Windows\System32\svchost.exe",
                r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
                SYSTEM,
            ),
            Slot::WinRm => (
                r"C:\Windows\System32\svchost.exe",
                r"C:\Windows\System32\svchost.exe -k NetworkService -p -s WinRM",
                NETWORK_SERVICE,
            ),
            Slot::Defender => (
                r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MsMpEng.exe",
                r#""C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MsMpEng.exe""#,
                SYSTEM,
            ),
            Slot::SearchIndexer if ws => (
                r"C:\Windows\System32\SearchIndexer.exe",
                r"C:\Windows\system32\SearchIndexer.exe /Embedding",
                SYSTEM,
            ),
            Slot::Lsass => (
                r"C:\Windows\System32\lsass.exe",
                r"C:\Windows\system32\lsass.exe",
                SYSTEM,
            ),
            Slot::Updater if ws => (
                r"C:\Program Files\Dell\UpdateService\ServiceShell.exe",
                r#""C:\Program Files\Dell\UpdateService\ServiceShell.exe""#,
                SYSTEM,
            ),
            Slot::DiagTrack => (
                r"C:\Windows\System32\svchost.exe",
                r"C:\Windows\System32\svchost.exe -k utcsvc -p",
                SYSTEM,
            ),
            Slot::CcmExec => (
                r"C:\Windows\CCM\CcmExec.exe",
                r"C:\Windows\CCM\CcmExec.exe",
                SYSTEM,
            ),
            Slot::DnsServer if role == Role::DomainController => (
                r"C:\Windows\System32\dns.exe",
                r"C:\Windows\system32\dns.exe",
                SYSTEM,
            ),
            Slot::Agent => (
                r"C:\Program Files\Microsoft Monitoring Agent\Agent\MonitoringHost.exe",
                r#""C:\Program Files\Microsoft Monitoring Agent\Agent\MonitoringHost.exe" -Embedding"#,
                SYSTEM,
            ),
            Slot::Winlogon => {
                (r"C:\Windows\System32\winlogon.exe", "winlogon.exe", SYSTEM)
            }
            _ => return None,
        })
    }
}

/// The whole simulated domain.
#[derive(Clone, Debug)]
pub(crate) struct Topology {
    pub seed: u64,
    pub hosts: Vec<Host>,
    pub users: Vec<User>,
    pub endpoints: Vec<Endpoint>,
    pub names: Vec<DnsName>,
    /// Browsing destinations, most popular first.
    pub browse: Vec<Site>,
    pub sites: HashMap<String, Site>,
    /// Users table index of the first person, admin and service account and computer.
    pub persons: std::ops::Range<u16>,
    pub admins: std::ops::Range<u16>,
    pub services: std::ops::Range<u16>,
    pub computers: std::ops::Range<u16>,
}

/// Host index of the domain controller.
pub(crate) const DC: usize = 0;
/// Host index of the file server.
pub(crate) const FS: usize = 1;

impl Topology {
    /// Builds the domain for `n_hosts` hosts (at least 3) from the seed.
    pub(crate) fn new(n_hosts: usize, seed: u64, start_secs: i64) -> Self {
        let mut users = vec![
            builtin("SYSTEM"),
            builtin("LOCAL SERVICE"),
            builtin("NETWORK SERVICE"),
            builtin("ANONYMOUS LOGON"),
        ];
        let n_ws = n_hosts - 2;
        let first_person = users.len() as u16;
        let mut taken = std::collections::HashSet::new();
        for i in 0..n_ws {
            let h = derive(seed, &[0x05E4, i as u64]);
            let first = FIRST[(h % 20) as usize];
            let last = LAST[((h >> 8) % 20) as usize];
            let base = format!("{}{}", &first[..1], last).to_lowercase();
            let mut sam = base.clone();
            let mut k = 2;
            while !taken.insert(sam.clone()) {
                sam = format!("{base}{k}");
                k += 1;
            }
            users.push(User {
                qualified: format!("{DOMAIN}\\{sam}"),
                sam,
                display: format!("{first} {last}"),
                kind: UserKind::Person,
            });
        }
        let first_admin = users.len() as u16;
        for i in 0..n_ws.min(2) {
            let person = users[first_person as usize + i].clone();
            let sam = format!("adm-{}", person.sam);
            users.push(User {
                qualified: format!("{DOMAIN}\\{sam}"),
                sam,
                display: format!("{} (admin)", person.display),
                kind: UserKind::Admin,
            });
        }
        let first_service = users.len() as u16;
        for sam in SERVICE_ACCOUNTS {
            users.push(User {
                qualified: format!("{DOMAIN}\\{sam}"),
                sam: sam.to_string(),
                display: sam.to_string(),
                kind: UserKind::Service,
            });
        }
        let first_computer = users.len() as u16;

        let mut hosts = Vec::with_capacity(n_hosts);
        for i in 0..n_hosts {
            let (name, ip, role) = match i {
                DC => (
                    "DC01".to_string(),
                    "10.10.0.10".to_string(),
                    Role::DomainController,
                ),
                FS => (
                    "FS01".to_string(),
                    "10.10.0.20".to_string(),
                    Role::FileServer,
                ),
                _ => {
                    let w = i - 2;
                    let name = if n_ws < 100 {
                        format!("WS{:02}", w + 1)
                    } else {
                        format!("WS{:04}", w + 1)
                    };
                    let ip = format!("10.10.{}.{}", 1 + w / 200, 20 + w % 200);
                    (name, ip, Role::Workstation)
                }
            };
            let h = derive(seed, &[0x4057, i as u64]);
            let user = (role == Role::Workstation).then(|| first_person + (i - 2) as u16);
            hosts.push(Host {
                fqdn: format!("{name}.{DNS_DOMAIN}"),
                name,
                ip,
                role,
                user,
                guid_prefix: (h >> 32) as u32,
                // Booted between one and ten days before the lab starts.
                boot_secs: start_secs - 86_400 - (h % (9 * 86_400)) as i64,
            });
        }
        for host in &hosts {
            let sam = format!("{}$", host.name);
            users.push(User {
                qualified: format!("{DOMAIN}\\{sam}"),
                sam,
                display: host.name.clone(),
                kind: UserKind::Computer,
            });
        }
        let end_computer = users.len() as u16;

        let mut topo = Topology {
            seed,
            hosts,
            users,
            endpoints: Vec::new(),
            names: Vec::new(),
            browse: Vec::new(),
            sites: HashMap::new(),
            persons: first_person..first_admin,
            admins: first_admin..first_service,
            services: first_service..first_computer,
            computers: first_computer..end_computer,
        };
        for i in 0..n_hosts {
            for (port, port_name, proto) in SERVICES {
                topo.endpoints.push(Endpoint {
                    ip: topo.hosts[i].ip.clone(),
                    port: port.to_string(),
                    port_name: Some(port_name),
                    proto,
                    hostname: Some(topo.hosts[i].fqdn.clone()),
                });
            }
            let (fqdn, ip) = (topo.hosts[i].fqdn.clone(), topo.hosts[i].ip.clone());
            topo.add_name(&fqdn, &ip);
        }
        for name in POPULAR {
            let site = topo.add_site(name, &public_ip(seed, name));
            topo.browse.push(site);
        }
        for i in 0..400u64 {
            let h = derive(seed, &[0x517E, i]);
            let name = format!(
                "{}{}{}{}",
                if h.is_multiple_of(3) { "www." } else { "" },
                SYLLABLES[((h >> 8) % 24) as usize],
                SYLLABLES[((h >> 16) % 24) as usize],
                TLDS[((h >> 24) % 6) as usize]
            );
            if topo.sites.contains_key(&name) {
                continue;
            }
            let site = topo.add_site(&name, &public_ip(seed, &name));
            topo.browse.push(site);
        }
        for name in BACKGROUND {
            topo.add_site(name, &public_ip(seed, name));
        }
        for (name, ip) in ATTACKER_SITES {
            topo.add_site(name, ip);
        }
        topo
    }

    /// Adds a DNS name answering `ip`; returns its index.
    pub(crate) fn add_name(&mut self, name: &str, ip: &str) -> u32 {
        self.names.push(DnsName {
            name: name.to_string(),
            results: format!("::ffff:{ip};"),
        });
        (self.names.len() - 1) as u32
    }

    /// Adds an external site at `ip` unless the name exists (profiles add theirs after the
    /// built-in lists, so the built-in indices never move).
    pub(crate) fn ensure_site(&mut self, name: &str, ip: Option<&str>) -> Site {
        if let Some(&site) = self.sites.get(name) {
            return site;
        }
        let ip = ip.map_or_else(|| public_ip(self.seed, name), str::to_string);
        self.add_site(name, &ip)
    }

    fn add_site(&mut self, name: &str, ip: &str) -> Site {
        let dns = self.add_name(name, ip);
        let mut endpoint = |port: &str, port_name| {
            self.endpoints.push(Endpoint {
                ip: ip.to_string(),
                port: port.to_string(),
                port_name: Some(port_name),
                proto: "tcp",
                hostname: None,
            });
            (self.endpoints.len() - 1) as u32
        };
        let site = Site {
            dns,
            https: endpoint("443", "https"),
            http: endpoint("80", "http"),
        };
        self.sites.insert(name.to_string(), site);
        site
    }

    /// The site of a DNS name added at construction.
    ///
    /// # Panics
    /// If the name is not one of the built-in site lists (a bug in this module).
    pub(crate) fn site(&self, name: &str) -> Site {
        *self
            .sites
            .get(name)
            .unwrap_or_else(|| panic!("site {name} must be in the built-in site lists"))
    }

    /// The endpoint index of `svc` on host `host`.
    pub(crate) fn service(&self, host: usize, svc: Svc) -> u32 {
        (host * SERVICES.len()) as u32 + svc as u32
    }

    /// The DNS name index of host `host`.
    pub(crate) fn host_name(&self, host: usize) -> u32 {
        host as u32
    }

    /// Indices of the workstations.
    pub(crate) fn workstations(&self) -> std::ops::Range<usize> {
        2..self.hosts.len()
    }

    /// Users table index of a host's computer account.
    pub(crate) fn computer_account(&self, host: usize) -> u16 {
        self.computers.start + host as u16
    }

    /// GUID of the explorer.exe a workstation's user starts on the day beginning at
    /// `day_start` (epoch ns), so scenarios can name it as a parent.
    pub(crate) fn explorer_guid(&self, host: usize, day_start: i64) -> u128 {
        let h = &self.hosts[host];
        process_guid(
            h.guid_prefix,
            day_start / 1_000_000_000 + 8 * 3600,
            derive(self.seed, &[0xE791, host as u64, day_start as u64]),
        )
    }

    /// GUID of a long-lived process: stable across days, derived from seed, host and slot.
    pub(crate) fn long_lived_guid(&self, host: usize, slot: Slot) -> u128 {
        let h = &self.hosts[host];
        let started = h.boot_secs + 5 + slot as i64 * 3;
        process_guid(
            h.guid_prefix,
            started,
            derive(self.seed, &[0x5107, host as u64, slot as u64]),
        )
    }
}

fn builtin(name: &str) -> User {
    User {
        sam: name.to_string(),
        qualified: format!("NT AUTHORITY\\{name}"),
        display: name.to_string(),
        kind: UserKind::BuiltIn,
    }
}

/// A stable, plausible public IPv4 address for a name, outside private and documentation
/// ranges.
fn public_ip(seed: u64, name: &str) -> String {
    const FIRST_OCTETS: [u8; 12] = [13, 20, 23, 34, 40, 52, 104, 140, 142, 151, 185, 199];
    let h = name
        .bytes()
        .fold(derive(seed, &[0x1B]), |acc, b| mix(acc ^ u64::from(b)));
    format!(
        "{}.{}.{}.{}",
        FIRST_OCTETS[(h % 12) as usize],
        (h >> 8) & 0xFF,
        (h >> 16) & 0xFF,
        1 + (h >> 24) % 254
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_has_dc_fs_and_workstations() {
        let t = Topology::new(11, 42, 1_700_000_000);
        assert_eq!(t.hosts.len(), 11);
        assert_eq!(t.hosts[DC].role, Role::DomainController);
        assert_eq!(t.hosts[FS].role, Role::FileServer);
        assert_eq!(t.workstations().len(), 9);
        assert!(t.hosts[2..].iter().all(|h| h.user.is_some()));
        let mut ips: Vec<&str> = t.hosts.iter().map(|h| h.ip.as_str()).collect();
        ips.sort_unstable();
        ips.dedup();
        assert_eq!(ips.len(), 11);
        assert_eq!(t.users[t.computer_account(0) as usize].sam, "DC01$");
    }

    #[test]
    fn guid_format_is_sysmon_like() {
        let mut s = String::new();
        format_guid(
            &mut s,
            process_guid(0xdeadbeef, 0x0102_0304, 0x1122_3344_5566_7788),
        )
        .expect("writing to a String cannot fail");
        assert_eq!(s, "{deadbeef-0102-0304-1122-334455667788}");
    }

    #[test]
    fn long_lived_guids_are_stable_and_distinct() {
        let a = Topology::new(5, 7, 1_700_000_000);
        let b = Topology::new(5, 7, 1_700_000_000);
        assert_eq!(
            a.long_lived_guid(2, Slot::WinRm),
            b.long_lived_guid(2, Slot::WinRm)
        );
        assert_ne!(
            a.long_lived_guid(2, Slot::WinRm),
            a.long_lived_guid(3, Slot::WinRm)
        );
        assert_ne!(
            a.long_lived_guid(2, Slot::WinRm),
            a.long_lived_guid(2, Slot::Updater)
        );
    }
}
