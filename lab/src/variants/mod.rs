//! Profiles (`--profile NAME`, repeatable): named variations of the lab that add or change
//! what real networks have and the plain lab lacks, each with its labels and hard negatives.
//!
//! Each profile lives in its own module and may take part in four places, none of which runs
//! without profiles, so a lab without any stays byte-identical:
//!
//! - [`prepare_topology`]: sites (and for `proxy` the rewrite of every external endpoint and
//!   DNS answer), appended after the built-in lists so no existing index moves;
//! - [`lab`]: activity generated once for the whole lab beside the scenarios (worm, implants,
//!   administration), after the scenarios and hard negatives, from its own seed stream;
//! - [`day`]: daily activity per host (installs, long tail, shared CDN traffic), generated
//!   with each day from a stream per (profile, day, host) and taken out of that host's
//!   baseline budget so the event total stays near the target;
//! - [`relabel`]: label changes (`proxy`: destinations become the proxy).
//!
//! Profiles draw from their own streams, so adding one leaves the others' events unchanged
//! (the baseline's budget shrinks by the events the daily profiles add).

mod admin;
mod long_tail;
mod per_user;
mod proxy;
mod shared_c2;
mod worm;

use std::fmt;
use std::str::FromStr;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::LabError;
use super::baseline::{DayGen, DaySpec};
use super::clock::DAY;
use super::labels::{Draft, Entity};
use super::model::{Builder, Ctx, Ev, NONE, Text};
use super::scenarios::S;
use super::topology::{Topology, derive, format_guid};

/// A named variation of the lab (`--profile`); profiles combine freely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabProfile {
    /// Programs installed per user under the profile folder (Zoom, VS Code, Slack, OneDrive
    /// and Teams updaters): one program, a different path on every host.
    PerUserInstalls,
    /// A long tail of rare benign activity: versioned and GUID-named installers and
    /// updaters, scheduled tasks, developer tools, administrators' one-off commands.
    LongTail,
    /// One implant family on several hosts calling one C2 address, and benign CDN addresses
    /// shared by many processes and hosts (a monitoring agent polls one periodically).
    SharedC2,
    /// Every connection to an external site goes to an explicit proxy (10.10.0.30:8080),
    /// and clients resolve only the proxy's name.
    Proxy,
    /// A worm: one identical payload command on every victim, spreading from victims too;
    /// and the macro intrusion chain repeated on several hosts on one day.
    Worm,
    /// Legitimate remote administration and deployment from an admin workstation, and
    /// administrators' audit and helpdesk bursts of enumeration-like LDAP searches.
    AdminActivity,
}

impl LabProfile {
    /// Every profile, in the order they are generated.
    pub const ALL: [LabProfile; 6] = [
        LabProfile::PerUserInstalls,
        LabProfile::LongTail,
        LabProfile::SharedC2,
        LabProfile::Proxy,
        LabProfile::Worm,
        LabProfile::AdminActivity,
    ];

    /// The profile's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            LabProfile::PerUserInstalls => "per-user-installs",
            LabProfile::LongTail => "long-tail",
            LabProfile::SharedC2 => "shared-c2",
            LabProfile::Proxy => "proxy",
            LabProfile::Worm => "worm",
            LabProfile::AdminActivity => "admin-activity",
        }
    }
}

impl fmt::Display for LabProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LabProfile {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Self, LabError> {
        LabProfile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| LabError::UnknownProfile(s.to_string()))
    }
}

/// Adds the profiles' sites to the domain; `proxy` last, as it rewrites every external one.
pub(crate) fn prepare_topology(topo: &mut Topology, profiles: &[LabProfile]) {
    for p in profiles {
        match p {
            LabProfile::PerUserInstalls => per_user::sites(topo),
            LabProfile::LongTail => long_tail::sites(topo),
            LabProfile::SharedC2 => shared_c2::sites(topo),
            _ => {}
        }
    }
    if profiles.contains(&LabProfile::Proxy) {
        proxy::apply(topo);
    }
}

/// The profiles' lab-wide activity, after the scenarios and hard negatives.
pub(crate) fn lab(s: &mut S<'_, '_>) {
    let profiles = s.plan.profiles.clone();
    for p in profiles {
        s.b.rng = ChaCha8Rng::seed_from_u64(derive(s.b.topo.seed, &[0x9F0F, p as u64]));
        match p {
            LabProfile::SharedC2 => shared_c2::lab(s),
            LabProfile::Worm => worm::lab(s),
            LabProfile::AdminActivity => admin::lab(s),
            _ => {}
        }
    }
}

/// The profiles' activity of one day.
pub(crate) struct DayOutput {
    pub ctx: Ctx,
    pub evs: Vec<Ev>,
    pub drafts: Vec<Draft>,
    /// Events per host (taken out of the host's baseline budget).
    pub per_host: Vec<u64>,
}

/// Generates the profiles' daily activity of one day.
pub(crate) fn day(topo: &Topology, spec: DaySpec, profiles: &[LabProfile]) -> DayOutput {
    let n = topo.hosts.len();
    let mut g = DayGen {
        b: Builder::new(topo, 0),
        day: spec,
        ds: spec.start,
        de: spec.start + DAY,
    };
    let mut drafts = Vec::new();
    let mut per_host = vec![0u64; n];
    for p in profiles {
        if !matches!(
            p,
            LabProfile::PerUserInstalls | LabProfile::LongTail | LabProfile::SharedC2
        ) {
            continue;
        }
        for (host, count) in per_host.iter_mut().enumerate() {
            g.b.rng = ChaCha8Rng::seed_from_u64(derive(
                topo.seed,
                &[0x9F0D, *p as u64, u64::from(spec.index), host as u64],
            ));
            let before = g.b.evs.len();
            match p {
                LabProfile::PerUserInstalls => per_user::day(&mut g, host),
                LabProfile::LongTail => long_tail::day(&mut g, host, &mut drafts),
                LabProfile::SharedC2 => shared_c2::day(&mut g, host),
                _ => {}
            }
            *count += (g.b.evs.len() - before) as u64;
        }
    }
    let (ctx, evs) = g.b.finish();
    DayOutput {
        ctx,
        evs,
        drafts,
        per_host,
    }
}

/// Changes the labels as the profiles require.
pub(crate) fn relabel(drafts: &mut [Draft], profiles: &[LabProfile]) {
    if profiles.contains(&LabProfile::Proxy) {
        proxy::relabel(drafts);
    }
}

/// The explorer.exe of a workstation's user on the day, as a parent record (the baseline
/// emits its creation; the GUID is the same).
pub(super) fn explorer(g: &mut DayGen<'_>, host: usize, user: u16) -> u32 {
    let p = g.b.record(
        host,
        user,
        Text::Static(r"C:\Windows\explorer.exe"),
        Text::Static(r"C:\Windows\Explorer.EXE"),
        Text::Static(r"C:\Windows\system32\"),
        NONE,
        g.ds,
    );
    g.b.ctx.procs[p as usize].guid = g.b.topo.explorer_guid(host, g.ds);
    p
}

/// A process of a builder as a labelled entity.
pub(super) fn process_entity(b: &Builder<'_>, pid: u32) -> Entity {
    let p = &b.ctx.procs[pid as usize];
    let mut guid = String::with_capacity(38);
    let _ = format_guid(&mut guid, p.guid);
    Entity::Process {
        processguid: guid,
        host: b.topo.hosts[usize::from(p.host)].fqdn.clone(),
        image: b.ctx.text(p.image).to_string(),
        commandline: b.ctx.text(p.cmd).to_string(),
    }
}

/// Adds the events of `b` since `before` and `entities` to the draft named like `make`'s
/// in `drafts` (created with `make` when missing).
pub(super) fn record(
    drafts: &mut Vec<Draft>,
    make: impl FnOnce() -> Draft,
    b: &Builder<'_>,
    before: usize,
    entities: Vec<Entity>,
) {
    let fresh = make();
    let i = match drafts.iter().position(|d| d.group.name == fresh.group.name) {
        Some(i) => i,
        None => {
            drafts.push(fresh);
            drafts.len() - 1
        }
    };
    let g = &mut drafts[i].group;
    for e in &b.evs[before..] {
        g.start_ns = g.start_ns.min(e.ts);
        g.end_ns = g.end_ns.max(e.ts);
    }
    g.events += (b.evs.len() - before) as u64;
    g.entities.extend(entities);
}

/// A psexec-style remote service start from `proc` on `from` to `victim`: SMB to the
/// victim's `ADMIN$` (its System accepts, the account logs on, `binary` is written), RPC to
/// its service control manager, then `services.exe` starts `binary` with `cmd` as SYSTEM.
/// Both connections are pushed to `draft.lateral`. Returns the service process and the time
/// after it started.
#[allow(clippy::too_many_arguments)] // Source, victim, account, payload and time, one each.
pub(super) fn remote_service(
    s: &mut S<'_, '_>,
    draft: &mut Draft,
    from: usize,
    proc: u32,
    victim: usize,
    account: u16,
    (binary, cmd): (&str, &str),
    mut t: i64,
) -> (u32, i64) {
    use super::topology::{SYSTEM, Slot, Svc};
    let topo = s.b.topo;
    let (src, dst) = (topo.hosts[from].ip.clone(), topo.hosts[victim].ip.clone());
    s.b.net_out(t, proc, topo.service(victim, Svc::Smb));
    draft.lateral.push((src.clone(), dst.clone(), t));
    let system = s.b.long_lived(victim, Slot::System);
    let at = t + s.ms(1, 5);
    s.b.net_in(at, system, topo.service(victim, Svc::Smb), from);
    let at = t + s.ms(5, 30);
    s.b.logon(at, victim, account, 3, Some(from));
    let at = t + s.ms(100, 900);
    s.file(at, system, binary);
    t += s.ms(1_000, 3_000);
    s.b.net_out(t, proc, topo.service(victim, Svc::Rpc));
    draft.lateral.push((src, dst, t));
    let services = s.b.long_lived(victim, Slot::Services);
    let at = t + s.ms(1, 5);
    s.b.net_in(at, services, topo.service(victim, Svc::Rpc), from);
    t += s.ms(300, 1_500);
    let pid = s.spawn(
        victim,
        SYSTEM,
        binary,
        cmd,
        r"C:\Windows\system32\",
        services,
        t,
    );
    let t = s.b.loads(pid, t, 6);
    (pid, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for p in LabProfile::ALL {
            assert_eq!(p.name().parse::<LabProfile>().expect("parses"), p);
        }
        let e = "vpn".parse::<LabProfile>().expect_err("unknown");
        assert!(e.to_string().contains("\"vpn\""), "{e}");
    }

    #[test]
    fn options_sort_profiles_and_reject_duplicates() {
        let v = crate::LabOptions::default()
            .profiles(&["worm", "proxy"])
            .check()
            .expect("valid");
        assert_eq!(v.profiles(), &[LabProfile::Proxy, LabProfile::Worm]);
        let e = crate::LabOptions::default()
            .profiles(&["worm", "worm"])
            .check()
            .expect_err("duplicate");
        assert!(matches!(e, LabError::DuplicateProfile(LabProfile::Worm)));
    }
}
