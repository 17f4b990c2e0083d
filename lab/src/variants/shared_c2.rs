//! `shared-c2`: one implant family on several hosts calling one C2 address, among benign
//! cloud and CDN addresses that many processes on many hosts share.
//!
//! - Malicious: on 3 to 8 workstations (a sixth of them, at least 3, all if fewer), on
//!   different days, the user opens a fake remittance advice from a downloaded archive
//!   (`explorer.exe` → `Remittance_advice.exe`), which drops
//!   `%APPDATA%\SysMetrics\metricsvc.exe` and starts it; the implant resolves
//!   `api.metrics-cloud.example.net` and calls 203.0.113.150:443 every 90 s ± 30 % for
//!   20 hours. Labelled per host: both processes (process-anomaly) and the implant with the
//!   C2 address (c2-beacon).
//! - Benign: six Microsoft CDN names (Office, Teams, sign-in, monitoring) answer one address,
//!   13.107.246.45. A monitoring agent (`MonitoringHost.exe`, long-lived) on every host polls
//!   one of them every 900 s ± 10 % all lab long (hard negative for c2-beacon, one process
//!   and destination per host); WebView2 processes of the users' Office and Teams, Defender
//!   and the telemetry service reach the others now and then.

use rand::Rng;

use super::super::Scenario;
use super::super::baseline::{DayGen, Periodic, periodic_times};
use super::super::clock::{HOUR, MIN, SEC};
use super::super::labels::{Draft, Entity, Label};
use super::super::profiles::{Act, Profile, Who};
use super::super::scenarios::S;
use super::super::topology::{Slot, Topology};

/// The shared CDN address and the names it answers.
pub(crate) const CDN_IP: &str = "13.107.246.45";
const CDN_NAMES: [&str; 6] = [
    "res.cdn.office.net",
    "aadcdn.msftauth.net",
    "statics.teams.cdn.office.net",
    "agent.monitor.azureedge.net",
    "js.monitor.azure.com",
    "ecs.office.com",
];
/// The name the monitoring agent polls.
const AGENT_SITE: &str = "agent.monitor.azureedge.net";
/// The implant family's C2 (documentation address, reserved name).
pub(crate) const C2: (&str, &str) = ("api.metrics-cloud.example.net", "203.0.113.150");

/// The monitoring agent's poll.
const AGENT: Periodic = Periodic {
    slot: Slot::Agent,
    period_s: 900,
    jitter: 0.10,
};

pub(super) fn sites(topo: &mut Topology) {
    for name in CDN_NAMES {
        topo.ensure_site(name, Some(CDN_IP));
    }
    topo.ensure_site(C2.0, Some(C2.1));
}

pub(super) fn day(g: &mut DayGen<'_>, host: usize) {
    let topo = g.b.topo;
    let agent = g.b.long_lived(host, Slot::Agent);
    let site = topo.site(AGENT_SITE);
    for t in periodic_times(topo.seed, &AGENT, host, g.ds, g.de) {
        let lookup = (t - g.b.rng.random_range(2..40) * 1_000_000).max(g.ds);
        g.b.dns(lookup, agent, site.dns);
        g.b.net_out(t, agent, site.https);
    }
    for _ in 0..g.b.rng.random_range(1..=3) {
        let slot = if g.b.rng.random_bool(0.5) {
            Slot::DiagTrack
        } else {
            Slot::Defender
        };
        let p = g.b.long_lived(host, slot);
        let name = CDN_NAMES[g.b.rng.random_range(0..CDN_NAMES.len())];
        let s = topo.site(name);
        let t = g.any_time();
        g.b.dns(t, p, s.dns);
        g.b.net_out(t + 20 * 1_000_000, p, s.https);
    }
    let Some(user) = topo.hosts[host].user else {
        return;
    };
    if g.day.weekend {
        return;
    }
    let explorer = super::explorer(g, host, user);
    let (from, to) = (g.ds + 9 * HOUR + 30 * MIN, g.ds + 15 * HOUR + 30 * MIN);
    for _ in 0..g.b.rng.random_range(2..=5) {
        let t = g.work_time(from, to);
        g.run_profile(host, &WEBVIEW, explorer, user, t, to, 0);
    }
}

static WEBVIEW: Profile = Profile {
    image: r"C:\Program Files (x86)\Microsoft\EdgeWebView\Application\122.0.2365.{hv}\msedgewebview2.exe",
    cmds: &[
        r#""C:\Program Files (x86)\Microsoft\EdgeWebView\Application\122.0.2365.{hv}\msedgewebview2.exe" --embedded-browser-webview=1 --webview-exe-name=OUTLOOK.EXE --user-data-dir="C:\Users\{user}\AppData\Local\Microsoft\Olk\EBWebView" --noerrdialogs"#,
        r#""C:\Program Files (x86)\Microsoft\EdgeWebView\Application\122.0.2365.{hv}\msedgewebview2.exe" --embedded-browser-webview=1 --webview-exe-name=ms-teams.exe --user-data-dir="C:\Users\{user}\AppData\Local\Packages\MSTeams_8wekyb3d8bbwe\LocalCache\Microsoft\MSTeams\EBWebView" --noerrdialogs"#,
    ],
    cwd: r"C:\Users\{user}\",
    who: Who::Session,
    loads: (20, 35),
    life_s: (60, 3_600),
    steps: (2, 8),
    acts: &[
        (Act::Site("res.cdn.office.net"), 4),
        (Act::Site("aadcdn.msftauth.net"), 2),
        (Act::Site("statics.teams.cdn.office.net"), 3),
        (Act::Site("js.monitor.azure.com"), 1),
        (Act::Site("ecs.office.com"), 2),
    ],
    children: &[],
};

/// Hosts of the implant family: a sixth of the workstations, 3 to 8, all if fewer.
fn infected(s: &S<'_, '_>) -> Vec<usize> {
    let n = (s.ws.len() / 6).clamp(3, 8).min(s.ws.len());
    (0..n).map(|i| s.ws(5 + i)).collect()
}

pub(super) fn lab(s: &mut S<'_, '_>) {
    implants(s);
    agent_labels(s);
}

fn implants(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    let hosts = infected(s);
    let names: Vec<&str> = hosts.iter().map(|&h| topo.hosts[h].name.as_str()).collect();
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::C2Beacon.name(),
        "shared-c2-implant-family",
        Label::Malicious,
        &["c2-beacon", "process-anomaly"],
        &["T1204.002", "T1547.001", "T1071.001", "T1105"],
        format!(
            "one implant family on {} ({}): a fake remittance advice run from a downloaded \
             archive drops metricsvc.exe in the user's AppData and starts it; every copy \
             calls {} ({}:443) every 90 s with 30% jitter for 20 hours",
            hosts.len(),
            names.join(", "),
            C2.0,
            C2.1
        ),
    );
    let c2 = topo.site(C2.0);
    let n = hosts.len() as u32;
    for (i, &host) in hosts.iter().enumerate() {
        let user = topo.hosts[host].user.unwrap_or(topo.persons.start);
        let sam = topo.users[user as usize].sam.clone();
        let day = s.weekday_from(s.plan.days * (i as u32 + 1) / (n + 2));
        let explorer = s.explorer(host, day);
        let t0 = s.day_start(day) + s.b.rng.random_range(10 * HOUR..15 * HOUR);
        let tmp = format!(
            r"C:\Users\{sam}\AppData\Local\Temp\Rar$EXa{}.{}",
            s.b.rng.random_range(2_000..20_000),
            s.b.rng.random_range(10_000..40_000)
        );
        let dropper = s.spawn(
            host,
            user,
            &format!(r"{tmp}\Remittance_advice.exe"),
            &format!(r#""{tmp}\Remittance_advice.exe" "#),
            &format!(r"{tmp}\"),
            explorer,
            t0,
        );
        let mut t = s.b.loads(dropper, t0, 14) + s.ms(200, 900);
        let dir = format!(r"C:\Users\{sam}\AppData\Roaming\SysMetrics");
        let image = format!(r"{dir}\metricsvc.exe");
        s.file(t, dropper, &image);
        t += s.ms(100, 400);
        let implant = s.spawn(
            host,
            user,
            &image,
            &format!(r#""{image}" --service"#),
            &format!(r"{dir}\"),
            dropper,
            t,
        );
        t = s.b.loads(implant, t, 11) + 2 * SEC;
        let end = (t + 20 * HOUR).min(s.lab_end());
        while t < end {
            let at = t - s.ms(20, 80);
            s.b.dns(at, implant, c2.dns);
            s.b.net_out(t, implant, c2.https);
            let u: f64 = s.b.rng.random_range(-1.0..=1.0);
            t += (90.0 * (1.0 + 0.3 * u) * SEC as f64) as i64;
        }
        let guid = s.guid(implant);
        draft.group.entities.push(s.process_entity(dropper));
        draft.group.entities.push(s.process_entity(implant));
        draft.group.entities.push(Entity::ProcessDestination {
            processguid: guid,
            destinationip: C2.1.to_string(),
            destinationport: "443".to_string(),
        });
    }
    s.close(draft, before);
}

fn agent_labels(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    let (from, to) = (s.day_start(0), s.day_start(s.plan.days));
    let mut draft = Draft::new(
        Scenario::C2Beacon.name(),
        "cdn-monitoring-agent",
        Label::HardNegative,
        &["c2-beacon"],
        &[],
        format!(
            "a monitoring agent (MonitoringHost.exe) on every host polls {AGENT_SITE} \
             ({CDN_IP}:443, a CDN address shared by five other Microsoft names and many \
             processes) every 900 s with 10% jitter"
        ),
    );
    for host in 0..topo.hosts.len() {
        let times = periodic_times(topo.seed, &AGENT, host, from, to);
        let g = &mut draft.group;
        g.events += 2 * times.len() as u64;
        if let (Some(first), Some(last)) = (times.first(), times.last()) {
            g.start_ns = g.start_ns.min(*first);
            g.end_ns = g.end_ns.max(*last);
        }
        let pid = s.b.long_lived(host, Slot::Agent);
        let guid = s.guid(pid);
        draft.group.entities.push(s.process_entity(pid));
        draft.group.entities.push(Entity::ProcessDestination {
            processguid: guid,
            destinationip: CDN_IP.to_string(),
            destinationport: "443".to_string(),
        });
    }
    s.drafts.push(draft);
}

#[cfg(test)]
mod tests {
    #[test]
    fn webview_is_well_formed() {
        super::super::super::profiles::check(&super::WEBVIEW);
    }
}
