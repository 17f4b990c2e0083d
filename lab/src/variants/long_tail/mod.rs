//! `long-tail`: the long tail of rare benign activity every real network has and the plain
//! lab lacks. Each item is rare and most are distinct: their paths carry GUIDs, versions
//! fixed per host or random names, their command lines packages, repositories or hosts.
//!
//! - Installers and updaters (all hosts; about one weekday in three, one in ten at
//!   weekends): the Visual C++ runtime from `C:\ProgramData\Package Cache\{GUID}` and its
//!   `C:\Windows\Temp\{GUID}\.be` engine, Google and Edge updaters under versioned folders and
//!   their `Install\{GUID}` setups, Defender and MSRT packages from `SoftwareDistribution`,
//!   `DismHost.exe` from `C:\Windows\Temp\{GUID}`, Adobe and Office updaters, MSI custom
//!   actions from `C:\Windows\Installer\MSIxxxx.tmp`, and user-run setups from Downloads.
//! - Scheduled maintenance tasks (every host, one or two a day): defrag, cleanmgr, disk
//!   snapshots, device census, update scans, error reporting and the like.
//! - Developer tools on a seeded three in ten workstations: git clones, pip, npm, MSBuild
//!   and dotnet builds from a shell, with their downloads.
//! - Administrators' one-off commands on their workstations (run as the admin account):
//!   ipconfig, whoami, gpupdate, gpresult, net use, net user, nltest, klist, netstat, ...
//!
//! Labels: every installer process (`long-tail-installers`) and every admin command with
//! its shell (`long-tail-admin-commands`) as hard negatives for process-anomaly.

use rand::Rng;

use super::super::Scenario;
use super::super::baseline::DayGen;
use super::super::clock::{HOUR, MIN};
use super::super::labels::{Draft, Label};
use super::super::topology::{SYSTEM, Slot, Topology, derive};

mod tables;
use tables::{ADMIN, DEV, INSTALLERS, PROJECTS, TASKS};

const SITES: [&str; 7] = [
    "update.googleapis.com",
    "msedge.api.cdp.microsoft.com",
    "armmf.adobe.com",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "api.nuget.org",
];

pub(super) fn sites(topo: &mut Topology) {
    for name in SITES {
        topo.ensure_site(name, None);
    }
}

/// One process of a chain; each step is the child of the one before.
pub(super) struct Step {
    pub(super) image: &'static str,
    pub(super) cmd: &'static str,
    pub(super) loads: u32,
    pub(super) files: &'static [&'static str],
    pub(super) site: Option<&'static str>,
}

pub(super) const fn step(image: &'static str, cmd: &'static str, loads: u32) -> Step {
    Step {
        image,
        cmd,
        loads,
        files: &[],
        site: None,
    }
}

/// Who starts a chain.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum From {
    /// The Task Scheduler, as SYSTEM.
    Schedule,
    /// The service control manager, as SYSTEM.
    Services,
    /// The workstation user's explorer.exe.
    User,
}

pub(super) struct Chain {
    pub(super) from: From,
    pub(super) steps: &'static [Step],
}

pub(super) fn day(g: &mut DayGen<'_>, host: usize, drafts: &mut Vec<Draft>) {
    let topo = g.b.topo;
    let weekend = g.day.weekend;
    let ws_user = topo.hosts[host].user;
    // Installers and updaters.
    if g.b.rng.random_bool(if weekend { 0.1 } else { 0.3 }) {
        let k = g.b.rng.random_range(0..INSTALLERS.len());
        let chain = &INSTALLERS[k];
        if let Some(user) = session(chain.from, ws_user, weekend) {
            let before = g.b.evs.len();
            let pids = run_chain(g, host, chain, user);
            let entities = pids
                .iter()
                .map(|&p| super::process_entity(&g.b, p))
                .collect();
            super::record(drafts, installers_draft, &g.b, before, entities);
        }
    }
    // Scheduled maintenance.
    for _ in 0..g.b.rng.random_range(1..=2) {
        let k = g.b.rng.random_range(0..TASKS.len());
        run_chain(g, host, &TASKS[k], SYSTEM);
    }
    let Some(user) = ws_user else {
        return;
    };
    if weekend {
        return;
    }
    // Developer tools.
    if derive(topo.seed, &[0x9E2, host as u64]) % 10 < 3 {
        for _ in 0..g.b.rng.random_range(1..=4) {
            let k = g.b.rng.random_range(0..DEV.len());
            run_chain(g, host, &DEV[k], user);
        }
    }
    // Administrators' one-off commands, as their admin account.
    let sam = &topo.users[user as usize].sam;
    let admin = topo
        .admins
        .clone()
        .find(|&a| topo.users[a as usize].sam == format!("adm-{sam}"));
    if let Some(admin) = admin
        && g.b.rng.random_bool(0.6)
    {
        for _ in 0..g.b.rng.random_range(1..=3) {
            let k = g.b.rng.random_range(0..ADMIN.len());
            let chain = Chain {
                from: From::User,
                steps: &ADMIN[k],
            };
            let before = g.b.evs.len();
            let pids = run_chain_as(g, host, &chain, user, admin);
            let entities = pids
                .iter()
                .map(|&p| super::process_entity(&g.b, p))
                .collect();
            super::record(drafts, admin_draft, &g.b, before, entities);
        }
    }
}

/// The user a chain runs as, or `None` when it cannot run (a user chain without a user).
fn session(from: From, user: Option<u16>, weekend: bool) -> Option<u16> {
    match from {
        From::User if weekend => None,
        From::User => user,
        _ => Some(SYSTEM),
    }
}

fn installers_draft() -> Draft {
    Draft::new(
        Scenario::ProcessAnomaly.name(),
        "long-tail-installers",
        Label::HardNegative,
        &["process-anomaly"],
        &[],
        "installers and updaters with versioned or GUID-named paths (Package Cache, \
         Windows\\Temp\\{GUID}, Google and Edge updaters, Defender and MSRT packages, MSI \
         custom actions, user-run setups): rare, each path seen once or on one host"
            .to_string(),
    )
}

fn admin_draft() -> Draft {
    Draft::new(
        Scenario::ProcessAnomaly.name(),
        "long-tail-admin-commands",
        Label::HardNegative,
        &["process-anomaly"],
        &[],
        "administrators' one-off commands from a shell run as their admin account \
         (ipconfig, whoami, gpupdate, net use, net user, nltest, klist, ...)"
            .to_string(),
    )
}

fn run_chain(g: &mut DayGen<'_>, host: usize, chain: &Chain, user: u16) -> Vec<u32> {
    run_chain_as(g, host, chain, user, user)
}

/// Runs a chain with the user's explorer (as `person`) or a service as its root, each
/// process as `user`; returns the processes.
fn run_chain_as(
    g: &mut DayGen<'_>,
    host: usize,
    chain: &Chain,
    person: u16,
    user: u16,
) -> Vec<u32> {
    let topo = g.b.topo;
    let (mut parent, mut t) = match chain.from {
        From::User => {
            let e = super::explorer(g, host, person);
            let t = g.work_time(g.ds + 9 * HOUR + 30 * MIN, g.ds + 15 * HOUR + 30 * MIN);
            (e, t)
        }
        From::Schedule => (g.b.long_lived(host, Slot::Schedule), g.any_time()),
        From::Services => (g.b.long_lived(host, Slot::Services), g.any_time()),
    };
    let vars = Vars::draw(g, host, person);
    let mut pids = Vec::with_capacity(chain.steps.len());
    for st in chain.steps {
        let image = vars.fill(st.image);
        let cmd = vars.fill(st.cmd);
        let cwd = match image.rfind('\\') {
            _ if chain.from == From::User => format!(r"C:\Users\{}\", vars.user),
            Some(i) => image[..=i].to_string(),
            None => r"C:\Windows\system32\".to_string(),
        };
        let (i, c, w) = (g.b.text(&image), g.b.text(&cmd), g.b.text(&cwd));
        let pid = g.b.spawn(host, user, i, c, w, parent, t);
        t = g.b.loads(pid, t, st.loads);
        if let Some(site) = st.site {
            let s = topo.site(site);
            t += g.b.rng.random_range(50..400) * 1_000_000;
            g.b.dns(t, pid, s.dns);
            t += g.b.rng.random_range(5..60) * 1_000_000;
            g.b.net_out(t, pid, s.https);
        }
        for f in st.files {
            t += g.b.rng.random_range(20..500) * 1_000_000;
            let path = g.b.text(&vars.fill(f));
            g.b.file(t, pid, path);
        }
        t += g.b.rng.random_range(50..2_000) * 1_000_000;
        pids.push(pid);
        parent = pid;
    }
    pids
}

/// The values a chain's templates draw once, so a path and the command line naming it
/// agree: `{G}`, `{G2}` GUIDs, `{X}` hex, `{N}` a small number, `{V}` a version fixed per
/// host, `{P}` a project or package, `{user}`, `{host}` another host, `{other}` another user.
struct Vars {
    g1: String,
    g2: String,
    x: String,
    n: u32,
    v: u64,
    p: &'static str,
    user: String,
    host: String,
    other: String,
}

impl Vars {
    fn draw(g: &mut DayGen<'_>, host: usize, user: u16) -> Self {
        let topo = g.b.topo;
        let guid = |g: &mut DayGen<'_>| {
            let v: u128 = g.b.rng.random();
            format!(
                "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
                (v >> 96) as u32,
                (v >> 80) as u16,
                (v >> 64) as u16,
                (v >> 48) as u16,
                v & 0xFFFF_FFFF_FFFF
            )
        };
        let (g1, g2) = (guid(g), guid(g));
        let other = g.b.rng.random_range(topo.persons.clone());
        Vars {
            g1,
            g2,
            x: format!("{:08X}", g.b.rng.random::<u32>()),
            n: g.b.rng.random_range(1..10),
            v: 100 + derive(topo.seed, &[0x7E57, host as u64]) % 900,
            p: PROJECTS[g.b.rng.random_range(0..PROJECTS.len())],
            user: topo.users[user as usize].sam.clone(),
            host: topo.hosts[g.b.rng.random_range(0..topo.hosts.len())]
                .name
                .clone(),
            other: topo.users[other as usize].sam.clone(),
        }
    }

    fn fill(&self, tpl: &str) -> String {
        tpl.replace("{G2}", &self.g2)
            .replace("{G}", &self.g1)
            .replace("{X}", &self.x)
            .replace("{N}", &self.n.to_string())
            .replace("{V}", &self.v.to_string())
            .replace("{P}", self.p)
            .replace("{user}", &self.user)
            .replace("{host}", &self.host)
            .replace("{other}", &self.other)
    }
}
