//! `worm`: self-spreading lateral movement that runs one identical payload command on every
//! victim, as worms and ransomware do, and the macro intrusion chain of `process-anomaly`
//! repeated on several hosts on one day (a phishing wave).
//!
//! The worm starts on one workstation halfway through the lab: a downloaded
//! `Payroll_update.exe` installs `C:\Windows\wsvc64.exe` and runs it. Every copy then infects
//! up to three hosts not yet infected, one to three minutes after it starts, psexec-style
//! (SMB to `ADMIN$` with a stolen administrator account, then the service control manager
//! over RPC), so victims infect further victims; at most 24 hosts (all if fewer). On every
//! infected host the payload runs as `"C:\Windows\wsvc64.exe" -s -spread`, deletes shadow
//! copies through one identical `cmd.exe` line and encrypts documents.
//!
//! Labels: one `widespread-attack` group with every infecting host's source IP, the victims,
//! the windows and the processes; one `process-anomaly` group per repeated intrusion.

use rand::seq::SliceRandom;

use super::super::Scenario;
use super::super::clock::HOUR;
use super::super::labels::{Draft, Entity, Label};
use super::super::scenarios::S;
use super::super::topology::SYSTEM;

/// The payload's path on every host, and its command line.
pub(crate) const PAYLOAD: &str = r"C:\Windows\wsvc64.exe";
pub(crate) const PAYLOAD_CMD: &str = r#""C:\Windows\wsvc64.exe" -s -spread"#;
const SHADOWS_CMD: &str = r#"C:\Windows\system32\cmd.exe /c vssadmin.exe delete shadows /all /quiet & wbadmin delete catalog -quiet"#;
/// Most hosts the worm reaches.
const MAX_VICTIMS: usize = 24;

pub(super) fn lab(s: &mut S<'_, '_>) {
    spread(s);
    campaign(s);
}

fn spread(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    let zero = s.ws(6);
    let account = if topo.admins.is_empty() {
        topo.persons.start
    } else {
        topo.admins.start
    };
    let mut rest: Vec<usize> = (0..topo.hosts.len()).filter(|&h| h != zero).collect();
    rest.shuffle(&mut s.b.rng);
    rest.truncate(MAX_VICTIMS);
    let day = s.weekday_from(s.plan.days / 2);
    let t0 = s.day_start(day) + 11 * HOUR + s.ms(0, 3_600_000);
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::WidespreadAttack.name(),
        "worm-identical-payload",
        Label::Malicious,
        &["widespread-attack"],
        &[
            "T1570",
            "T1021.002",
            "T1569.002",
            "T1078.002",
            "T1486",
            "T1490",
        ],
        format!(
            "a worm from {} spreads psexec-style with the stolen account {} to {} hosts, \
             each copy infecting up to three more; every infected host runs {PAYLOAD_CMD}",
            topo.hosts[zero].name,
            topo.users[account as usize].sam,
            rest.len()
        ),
    );
    // Patient zero: the user runs the dropper, which installs and starts the payload.
    let user = topo.hosts[zero].user.unwrap_or(SYSTEM);
    let sam = topo.users[user as usize].sam.clone();
    let explorer = s.explorer(zero, day);
    let dropper = s.spawn(
        zero,
        user,
        &format!(r"C:\Users\{sam}\Downloads\Payroll_update.exe"),
        &format!(r#""C:\Users\{sam}\Downloads\Payroll_update.exe" "#),
        &format!(r"C:\Users\{sam}\Downloads\"),
        explorer,
        t0,
    );
    let mut t = s.b.loads(dropper, t0, 10) + s.ms(200, 800);
    s.file(t, dropper, PAYLOAD);
    t += s.ms(100, 500);
    let first = s.spawn(
        zero,
        user,
        PAYLOAD,
        PAYLOAD_CMD,
        r"C:\Windows\system32\",
        dropper,
        t,
    );
    t = s.b.loads(first, t, 6);
    draft.group.entities.push(s.process_entity(dropper));
    // Breadth first: (host, payload process, time it is ready).
    let mut queue = std::collections::VecDeque::from([(zero, first, t)]);
    let mut next = 0;
    while let Some((host, payload, ready)) = queue.pop_front() {
        impact(s, &mut draft, host, payload, ready);
        draft.group.entities.push(s.process_entity(payload));
        let mut t = ready + s.ms(60_000, 180_000);
        let mut infected_any = false;
        for _ in 0..3 {
            let Some(&victim) = rest.get(next) else {
                break;
            };
            next += 1;
            infected_any = true;
            let (pid, at) = super::remote_service(
                s,
                &mut draft,
                host,
                payload,
                victim,
                account,
                (PAYLOAD, PAYLOAD_CMD),
                t,
            );
            let vh = &topo.hosts[victim];
            draft.group.entities.push(Entity::VictimHost {
                host: vh.fqdn.clone(),
                ip: vh.ip.clone(),
            });
            queue.push_back((victim, pid, at));
            t = at + s.ms(20_000, 60_000);
        }
        if infected_any {
            let h = &topo.hosts[host];
            draft.group.entities.push(Entity::SourceIp {
                sourceip: h.ip.clone(),
                host: h.fqdn.clone(),
            });
        }
    }
    s.close(draft, before);
}

/// The payload's work on one host: shadow copies deleted, documents encrypted.
fn impact(s: &mut S<'_, '_>, draft: &mut Draft, host: usize, payload: u32, mut t: i64) {
    let topo = s.b.topo;
    t += s.ms(2_000, 10_000);
    let cmd = s.spawn(
        host,
        SYSTEM,
        r"C:\Windows\System32\cmd.exe",
        SHADOWS_CMD,
        r"C:\Windows\system32\",
        payload,
        t,
    );
    t = s.b.loads(cmd, t, 2) + s.ms(20, 200);
    let vss = s.spawn(
        host,
        SYSTEM,
        r"C:\Windows\System32\vssadmin.exe",
        "vssadmin.exe  delete shadows /all /quiet",
        r"C:\Windows\system32\",
        cmd,
        t,
    );
    t = s.b.loads(vss, t, 3);
    let owner = topo.hosts[host]
        .user
        .map_or("Administrator".to_string(), |u| {
            topo.users[u as usize].sam.clone()
        });
    for doc in [
        "Q3_report.docx",
        "budget_2024.xlsx",
        "contract_draft.docx",
        "minutes.docx",
    ] {
        t += s.ms(50, 1_500);
        s.file(
            t,
            payload,
            &format!(r"C:\Users\{owner}\Documents\{doc}.wsv"),
        );
    }
    let at = t + s.ms(10, 100);
    s.file(
        at,
        payload,
        &format!(r"C:\Users\{owner}\Desktop\HOW_TO_DECRYPT.txt"),
    );
    draft.group.entities.push(s.process_entity(cmd));
    draft.group.entities.push(s.process_entity(vss));
}

/// The macro intrusion of `process-anomaly` on several hosts on one day.
fn campaign(s: &mut S<'_, '_>) {
    let day = s.weekday_from(s.plan.days / 3);
    let n = s.ws.len().min(3);
    for i in 0..n {
        let host = s.ws(7 + i);
        let before = s.b.evs.len();
        let mut draft = Draft::new(
            Scenario::ProcessAnomaly.name(),
            &format!("worm-campaign-intrusion-{}", i + 1),
            Label::Malicious,
            &["process-anomaly"],
            &[
                "T1566.001",
                "T1204.002",
                "T1059.001",
                "T1218.011",
                "T1105",
                "T1003.001",
            ],
            format!(
                "one phishing wave, the same day on {n} hosts; on {}: the macro intrusion \
                 chain of process-anomaly (cmd, encoded PowerShell, rundll32 from temp, \
                 certutil, LSASS dump)",
                s.b.topo.hosts[host].name
            ),
        );
        for pid in s.intrusion(host, day) {
            draft.group.entities.push(s.process_entity(pid));
        }
        s.close(draft, before);
    }
}
