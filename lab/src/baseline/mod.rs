//! Benign activity of one day: the events that fill the lab around the scenarios.
//!
//! Each (day, host) gets an event budget and its own RNG seeded from the lab seed, the day and
//! the host, so a day's output depends on nothing else and days can be generated in any order
//! on any thread. Workstations have a user session in working hours on weekdays (logon,
//! userinit, explorer, the user's applications) and system activity around the clock; the
//! domain controller adds LDAP searches (1644), logons and inbound LDAP/Kerberos/DNS; the file
//! server adds SMB logons and connections and a nightly backup. Strongly periodic benign
//! streams (Windows Event Forwarding, an updater service) are the hard negatives of the
//! beaconing hunt and are generated from a counter-based hash so they continue across days.

mod process;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::clock::{DAY, HOUR, MIN, SEC};
use super::model::{Builder, Ctx, Ev, Kind, NONE, Text};
use super::profiles::{Act, P, Profile, Target, Who, profile};
use super::topology::{
    DC, FS, NETWORK_SERVICE, Role, SYSTEM, Slot, Svc, Topology, derive,
};

/// One day of the lab.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DaySpec {
    pub index: u32,
    /// Midnight UTC, epoch nanoseconds.
    pub start: i64,
    pub weekend: bool,
}

/// A strictly periodic benign stream of a long-lived process (hard negative for C2 hunting).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Periodic {
    pub slot: Slot,
    pub period_s: i64,
    /// Jitter as a fraction of the period, uniform in ±jitter.
    pub jitter: f64,
}

/// Windows Event Forwarding to the collector (the file server) on 5985.
pub(crate) const WEF: Periodic = Periodic {
    slot: Slot::WinRm,
    period_s: 900,
    jitter: 0.05,
};
/// An updater service polling its vendor over HTTPS.
pub(crate) const UPDATER: Periodic = Periodic {
    slot: Slot::Updater,
    period_s: 1_800,
    jitter: 0.15,
};
/// The vendor site the updater polls.
pub(crate) const UPDATER_SITE: &str = "downloads.dell.com";

/// Relative share of the lab's events a (host, day) gets.
pub(crate) fn weight(role: Role, weekend: bool) -> f64 {
    match (role, weekend) {
        (Role::DomainController, false) => 1.6,
        (Role::DomainController, true) => 0.9,
        (Role::FileServer, false) => 1.0,
        (Role::FileServer, true) => 0.5,
        (Role::Workstation, false) => 1.0,
        (Role::Workstation, true) => 0.2,
    }
}

/// Hosts that run a periodic stream.
pub(crate) fn runs(stream: &Periodic, topo: &Topology, host: usize) -> bool {
    match stream.slot {
        Slot::WinRm => host != FS,
        _ => topo.hosts[host].role == Role::Workstation,
    }
}

/// The destination endpoint and DNS name of a periodic stream.
pub(crate) fn stream_target(stream: &Periodic, topo: &Topology) -> (u32, u32) {
    match stream.slot {
        Slot::WinRm => (topo.service(FS, Svc::WinRm), topo.host_name(FS)),
        _ => {
            let s = topo.site(UPDATER_SITE);
            (s.https, s.dns)
        }
    }
}

const DOCS: [&str; 12] = [
    "Q3_report",
    "budget_2024",
    "meeting_notes",
    "project_plan",
    "presentation_final",
    "contract_draft",
    "travel_expenses",
    "onboarding",
    "roadmap",
    "customer_list",
    "invoice_0419",
    "minutes",
];
const EXES: [&str; 6] = [
    "SVCHOST.EXE",
    "CHROME.EXE",
    "TASKHOSTW.EXE",
    "DLLHOST.EXE",
    "CONHOST.EXE",
    "MSEDGE.EXE",
];
const USER_APPS: [(P, u32); 9] = [
    (P::Chrome, 22),
    (P::Edge, 8),
    (P::Word, 12),
    (P::Excel, 12),
    (P::PowerPoint, 3),
    (P::Acrobat, 6),
    (P::Notepad, 6),
    (P::Cmd, 1),
    (P::Teams, 1),
];
const ADMIN_APPS: [(P, u32); 3] = [(P::PowerShell, 6), (P::Mstsc, 3), (P::Cmd, 4)];
/// System programs and the long-lived process that starts them.
const SYSTEM_PROCS: [((P, Slot), u32); 12] = [
    ((P::SvchostShort, Slot::Services), 15),
    ((P::Taskhostw, Slot::Schedule), 10),
    ((P::MpCmdRun, Slot::Schedule), 4),
    ((P::WmiPrvSe, Slot::DcomLaunch), 6),
    ((P::Dllhost, Slot::DcomLaunch), 8),
    ((P::CompatTelRunner, Slot::Schedule), 2),
    ((P::MoUsoCoreWorker, Slot::DcomLaunch), 3),
    ((P::Sppsvc, Slot::Services), 3),
    ((P::CcmEval, Slot::Schedule), 3),
    // Workstations only from here on.
    ((P::SearchProtocolHost, Slot::SearchIndexer), 12),
    ((P::RuntimeBroker, Slot::DcomLaunch), 6),
    ((P::BackgroundTaskHost, Slot::DcomLaunch), 4),
];

/// Generates the benign events of one day; `budgets[h]` is host h's event target.
pub(crate) fn generate_day(
    topo: &Topology,
    day: DaySpec,
    budgets: &[u64],
    hard_negatives: bool,
) -> (Ctx, Vec<Ev>) {
    let total: u64 = budgets.iter().sum();
    let mut g = DayGen {
        b: Builder::new(topo, derive(topo.seed, &[0xDA7, u64::from(day.index)])),
        day,
        ds: day.start,
        de: day.start + DAY,
    };
    g.b.evs.reserve(total as usize + total as usize / 8);
    for (host, &budget) in budgets.iter().enumerate() {
        g.b.rng = ChaCha8Rng::seed_from_u64(derive(
            topo.seed,
            &[0xBA5E, u64::from(day.index), host as u64],
        ));
        let until = g.b.evs.len() + budget as usize;
        if hard_negatives {
            for stream in [WEF, UPDATER] {
                if runs(&stream, topo, host) {
                    g.periodic(host, &stream);
                }
            }
        }
        match topo.hosts[host].role {
            Role::Workstation => g.workstation(host, until),
            Role::DomainController => g.domain_controller(until),
            Role::FileServer => g.file_server(until),
        }
    }
    g.b.finish()
}

/// Generation state of one day; the LDAP part lives in `ldap.rs`.
pub(super) struct DayGen<'t> {
    pub(super) b: Builder<'t>,
    pub(super) day: DaySpec,
    /// Day start and end, epoch ns.
    pub(super) ds: i64,
    pub(super) de: i64,
}

impl DayGen<'_> {
    pub(super) fn rand(&mut self, (lo, hi): (u32, u32)) -> u32 {
        if hi <= lo {
            lo
        } else {
            self.b.rng.random_range(lo..=hi)
        }
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|i| i.1).sum();
        let mut r = self.b.rng.random_range(0..total.max(1));
        for &(item, w) in items {
            if r < w {
                return item;
            }
            r -= w;
        }
        items[0].0
    }

    /// A time in working hours of this day, with a lunch dip.
    pub(super) fn work_time(&mut self, from: i64, to: i64) -> i64 {
        loop {
            let t = self.b.time_in(from, to);
            let hour = (t - self.ds) / HOUR;
            if hour != 11 || self.b.rng.random_bool(0.5) {
                return t;
            }
        }
    }

    /// A time anywhere in the day, busier in office hours.
    pub(super) fn any_time(&mut self) -> i64 {
        if self.b.rng.random_bool(0.4) {
            self.b.time_in(self.ds + 7 * HOUR, self.ds + 18 * HOUR)
        } else {
            self.b.time_in(self.ds, self.de - MIN)
        }
    }

    fn periodic(&mut self, host: usize, stream: &Periodic) {
        let topo = self.b.topo;
        let proc = self.b.long_lived(host, stream.slot);
        let (endpoint, name) = stream_target(stream, topo);
        // The connection time decides the day; the lookup just precedes it.
        for t in periodic_times(topo.seed, stream, host, self.ds, self.de) {
            let lookup = (t - self.b.rng.random_range(2..40) * 1_000_000).max(self.ds);
            self.b.dns(lookup, proc, name);
            self.b.net_out(t, proc, endpoint);
        }
    }

    fn workstation(&mut self, host: usize, until: usize) {
        let user = self.b.topo.hosts[host].user;
        let works = !self.day.weekend || self.b.rng.random_bool(0.12);
        if let (true, Some(user)) = (works, user) {
            let (arrive, leave) = if self.day.weekend {
                let a = self.b.time_in(self.ds + 10 * HOUR, self.ds + 14 * HOUR);
                (a, a + self.b.rng.random_range(HOUR..3 * HOUR))
            } else {
                (
                    self.b
                        .time_in(self.ds + 7 * HOUR, self.ds + 9 * HOUR + 15 * MIN),
                    self.b.time_in(
                        self.ds + 15 * HOUR + 45 * MIN,
                        self.ds + 18 * HOUR + 30 * MIN,
                    ),
                )
            };
            let start = self.b.evs.len();
            let share = if self.day.weekend { 0.5 } else { 0.75 };
            let user_until =
                start + ((until.saturating_sub(start)) as f64 * share) as usize;
            self.session(host, user, arrive, leave, user_until);
        }
        self.system(host, until);
    }

    fn session(&mut self, host: usize, user: u16, arrive: i64, leave: i64, until: usize) {
        let topo = self.b.topo;
        self.b.logon(arrive, host, user, 2, None);
        self.b
            .logon(arrive + 400 * 1_000_000, DC, user, 3, Some(host));
        let winlogon = self.b.long_lived(host, Slot::Winlogon);
        let userinit =
            self.run(host, P::Userinit, winlogon, user, arrive + SEC, leave, 0);
        let explorer = self.run(
            host,
            P::Explorer,
            userinit,
            user,
            arrive + 3 * SEC,
            leave,
            0,
        );
        self.b.ctx.procs[explorer as usize].guid = topo.explorer_guid(host, self.ds);
        for p in [P::Outlook, P::Teams, P::OneDrive] {
            let t = arrive + self.b.rng.random_range(20..300) * SEC;
            self.run(host, p, explorer, user, t, leave, 0);
        }
        let admin_sam = format!("adm-{}", topo.users[user as usize].sam);
        let admin = topo
            .admins
            .clone()
            .any(|a| topo.users[a as usize].sam == admin_sam);
        while self.b.evs.len() < until {
            let t = self.work_time(arrive + 5 * MIN, leave - MIN);
            let p = if admin && self.b.rng.random_bool(0.2) {
                self.pick(&ADMIN_APPS)
            } else {
                self.pick(&USER_APPS)
            };
            self.run(host, p, explorer, user, t, leave, 0);
        }
    }

    fn system(&mut self, host: usize, until: usize) {
        let topo = self.b.topo;
        let role = topo.hosts[host].role;
        let session_user = topo.hosts[host].user.unwrap_or(SYSTEM);
        if self.b.rng.random_bool(0.15) {
            // Configuration Manager re-registering its WMI event subscription.
            let t = self.any_time();
            let user = topo.services.start + 2;
            self.b.wmi(Kind::WmiFilter, t, host, user);
            self.b.wmi(Kind::WmiConsumer, t + 3_000_000, host, user);
            self.b.wmi(Kind::WmiBinding, t + 6_000_000, host, user);
        }
        while self.b.evs.len() < until {
            let r = self.b.rng.random_range(0..100);
            let t = self.any_time();
            if r < 15 {
                let p = self.b.long_lived(host, Slot::DiagTrack);
                let s = topo.site("v10.events.data.microsoft.com");
                self.b.dns(t, p, s.dns);
                self.b.net_out(t + 30_000_000, p, s.https);
            } else if r < 22 {
                let p = self.b.long_lived(host, Slot::Defender);
                let s = topo.site("wdcp.microsoft.com");
                self.b.dns(t, p, s.dns);
                self.b.net_out(t + 25_000_000, p, s.https);
            } else if r < 26 {
                let p = self.b.long_lived(host, Slot::CcmExec);
                self.b.net_out(t, p, topo.service(FS, Svc::Http));
            } else {
                let n = if role == Role::Workstation {
                    SYSTEM_PROCS.len()
                } else {
                    9
                };
                let (p, slot) = self.pick(&SYSTEM_PROCS[..n]);
                let parent = self.b.long_lived(host, slot);
                self.run(host, p, parent, session_user, t, self.de - SEC, 0);
            }
        }
    }

    fn domain_controller(&mut self, until: usize) {
        let start = self.b.evs.len();
        let budget = until.saturating_sub(start);
        let ldap_until = start + budget * 35 / 100;
        while self.b.evs.len() < ldap_until {
            self.ldap_search();
        }
        let logon_until = self.b.evs.len() + budget * 20 / 100;
        let topo = self.b.topo;
        let n = topo.hosts.len();
        while self.b.evs.len() < logon_until {
            let from = self.b.rng.random_range(0..n);
            let (user, t) = self.account_of(from);
            self.b.logon(t, DC, user, 3, Some(from));
        }
        let inbound_until = self.b.evs.len() + budget * 12 / 100;
        let lsass = self.b.long_lived(DC, Slot::Lsass);
        let dns = self.b.long_lived(DC, Slot::DnsServer);
        while self.b.evs.len() < inbound_until {
            let from = self.b.rng.random_range(1..n);
            let t = self.any_time();
            match self.b.rng.random_range(0..3) {
                0 => self.b.net_in(t, lsass, topo.service(DC, Svc::Ldap), from),
                1 => self
                    .b
                    .net_in(t, lsass, topo.service(DC, Svc::Kerberos), from),
                _ => self.b.net_in(t, dns, topo.service(DC, Svc::Dns), from),
            }
        }
        self.system(DC, until);
    }

    fn file_server(&mut self, until: usize) {
        let topo = self.b.topo;
        let start = self.b.evs.len();
        let budget = until.saturating_sub(start);
        // The nightly backup job.
        let t = self.ds + HOUR + self.b.rng.random_range(0..20) * MIN;
        let parent = self.b.long_lived(FS, Slot::Schedule);
        self.run(FS, P::BackupAgent, parent, SYSTEM, t, self.ds + 5 * HOUR, 0);
        let logon_until = self.b.evs.len() + budget * 20 / 100;
        let n = topo.hosts.len();
        while self.b.evs.len() < logon_until {
            let from = self.b.rng.random_range(2..n);
            let (user, t) = self.account_of(from);
            self.b.logon(t, FS, user, 3, Some(from));
        }
        let smb_until = self.b.evs.len() + budget * 20 / 100;
        let system = self.b.long_lived(FS, Slot::System);
        while self.b.evs.len() < smb_until {
            let from = self.b.rng.random_range(2..n);
            let t = if self.day.weekend {
                self.any_time()
            } else {
                self.work_time(self.ds + 7 * HOUR, self.ds + 18 * HOUR)
            };
            self.b.net_in(t, system, topo.service(FS, Svc::Smb), from);
        }
        self.system(FS, until);
    }

    /// The account logging on from host `from`, and when: the person in office hours on
    /// weekdays, otherwise the computer account at any time.
    fn account_of(&mut self, from: usize) -> (u16, i64) {
        let topo = self.b.topo;
        match topo.hosts[from].user {
            Some(u) if !self.day.weekend && self.b.rng.random_bool(0.6) => {
                (u, self.work_time(self.ds + 7 * HOUR, self.ds + 18 * HOUR))
            }
            _ => (topo.computer_account(from), self.any_time()),
        }
    }
}

/// Connection times of a periodic stream on `host` in `[from, to)`, epoch ns. The baseline
/// generator emits exactly these, preceded by a DNS lookup each.
pub(crate) fn periodic_times(
    seed: u64,
    stream: &Periodic,
    host: usize,
    from: i64,
    to: i64,
) -> Vec<i64> {
    let period = stream.period_s * SEC;
    let key = super::topology::derive(seed, &[0x9E51, host as u64, stream.slot as u64]);
    let base = (key % period as u64) as i64;
    let first = (from - base).div_euclid(period) - 1;
    let last = (to - base).div_euclid(period) + 1;
    (first..=last)
        .filter_map(|k| {
            let u =
                (super::topology::mix(key ^ k as u64) >> 11) as f64 / (1u64 << 53) as f64;
            let offset = ((2.0 * u - 1.0) * stream.jitter * period as f64) as i64;
            let t = base + k * period + offset;
            (from..to).contains(&t).then_some(t)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use huntsman_core::clock::days_from_civil;

    fn day() -> DaySpec {
        DaySpec {
            index: 0,
            start: days_from_civil(2024, 3, 4) * DAY,
            weekend: false,
        }
    }

    #[test]
    fn day_meets_its_budget_roughly_and_stays_in_the_day() {
        let topo = Topology::new(5, 3, 1_709_510_400);
        let budgets = [4000, 2000, 3000, 3000, 3000];
        let (ctx, evs) = generate_day(&topo, day(), &budgets, true);
        let total: u64 = budgets.iter().sum();
        assert!(evs.len() as u64 >= total, "{} < {total}", evs.len());
        assert!((evs.len() as u64) < total * 13 / 10, "{} events", evs.len());
        let d = day();
        assert!(evs.iter().all(|e| e.ts >= d.start && e.ts < d.start + DAY));
        assert!(evs.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert!(ctx.procs.len() > 50);
    }

    #[test]
    fn a_process_starts_with_its_creation() {
        let topo = Topology::new(4, 9, 1_709_510_400);
        let (ctx, evs) = generate_day(&topo, day(), &[1000, 1000, 3000, 3000], false);
        let mut first = vec![None; ctx.procs.len()];
        for e in evs.iter().filter(|e| e.proc != NONE) {
            first[e.proc as usize].get_or_insert(e.kind);
        }
        let created: Vec<_> = evs
            .iter()
            .filter(|e| e.kind == Kind::ProcessCreate)
            .collect();
        assert!(!created.is_empty());
        for e in created {
            assert_eq!(first[e.proc as usize], Some(Kind::ProcessCreate));
        }
    }

    #[test]
    fn periodic_streams_are_continuous_across_days() {
        let topo = Topology::new(4, 9, 1_709_510_400);
        let mut times = Vec::new();
        for index in 0..2 {
            let d = DaySpec {
                index,
                start: day().start + i64::from(index) * DAY,
                weekend: false,
            };
            let (ctx, evs) = generate_day(&topo, d, &[0, 0, 0, 0], true);
            let guid = topo.long_lived_guid(2, Slot::Updater);
            times.extend(
                evs.iter()
                    .filter(|e| e.kind == Kind::NetworkConnect)
                    .filter(|e| ctx.procs[e.proc as usize].guid == guid)
                    .map(|e| e.ts),
            );
        }
        assert!(times.len() >= 90, "{} updater connections", times.len());
        for w in times.windows(2) {
            let gap = (w[1] - w[0]) as f64 / SEC as f64;
            assert!(
                (1_800.0 * 0.69..=1_800.0 * 1.31).contains(&gap),
                "gap {gap}"
            );
        }
    }

    #[test]
    fn placeholders_expand() {
        let topo = Topology::new(3, 1, 1_709_510_400);
        let mut g = DayGen {
            b: Builder::new(&topo, 1),
            day: day(),
            ds: day().start,
            de: day().start + DAY,
        };
        let t = g.expand_arena(r"C:\Users\{user}\x_{hex4}\{{guid}}\{nope}", 4, 2);
        let s = g.b.ctx.text(t).to_string();
        assert!(
            s.starts_with(&format!(r"C:\Users\{}\x_", topo.users[4].sam)),
            "{s}"
        );
        assert!(s.ends_with(r"}\{nope}"), "{s}");
        assert!(!s.contains("{user}") && !s.contains("{guid}"), "{s}");
    }
}
