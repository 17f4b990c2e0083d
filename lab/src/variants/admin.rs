//! `admin-activity`: legitimate administration that looks like an attack.
//!
//! - Remote administration from the first administrator's workstation on every other
//!   weekday: to one to three hosts (servers more often) by RDP (`mstsc`, logon type 10),
//!   PowerShell remoting (`Invoke-Command`, WinRM 5985, `wsmprovhost.exe` on the target)
//!   or PsExec (`PsExec64.exe \\host -s cmd /c ...`: SMB to `ADMIN$`, RPC to the service
//!   manager, `PSEXESVC.exe` → `cmd.exe` → the command).
//! - A PsExec deployment of a monitoring agent from the same workstation to every
//!   workstation, one a minute, on one day.
//! - An audit script run as the second administrator account on Monday, Wednesday and
//!   Friday mornings: a burst of 40 to 70 LDAP searches with enumeration-like filters
//!   (privileged groups, SPNs, delegation, stale and never-expiring accounts, LAPS).
//! - A helpdesk tool used by a person on weekdays: a few bursts a day of lookups of users,
//!   computers, groups and locked accounts.
//!
//! All hard negatives: the admin workstation's source IP, victims and windows for
//! widespread-attack (two groups), the accounts' user-weeks for the AD hunts (two groups).
//! A group whose activity does not fit the lab (no weekday, no other workstation) is left
//! out.

use rand::Rng;

use super::super::Scenario;
use super::super::clock::{DAY, HOUR, MIN, SEC, weekday};
use super::super::labels::{Draft, Entity, Label};
use super::super::scenarios::S;
use super::super::topology::{DC, FS, SYSTEM, Slot, Svc};

pub(super) fn lab(s: &mut S<'_, '_>) {
    remote_administration(s);
    deployment(s);
    audit_script(s);
    helpdesk(s);
}

/// The admin account and the workstation its person uses.
fn admin_seat(s: &S<'_, '_>) -> (u16, usize) {
    let topo = s.b.topo;
    let admin = topo.admins.start;
    let host = topo.workstations().next().unwrap_or(FS);
    (admin, host)
}

fn is_weekday(s: &S<'_, '_>, d: u32) -> bool {
    weekday(s.day_start(d).div_euclid(DAY)) < 5
}

fn remote_administration(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    if topo.admins.is_empty() {
        return;
    }
    let (admin, ws) = admin_seat(s);
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::WidespreadAttack.name(),
        "admin-remote-management",
        Label::HardNegative,
        &["widespread-attack"],
        &[],
        format!(
            "administrator {} on {} manages one to three hosts every other weekday by RDP, \
             PowerShell remoting and PsExec",
            topo.users[admin as usize].sam, topo.hosts[ws].name
        ),
    );
    let h = &topo.hosts[ws];
    draft.group.entities.push(Entity::SourceIp {
        sourceip: h.ip.clone(),
        host: h.fqdn.clone(),
    });
    let mut victims = std::collections::BTreeSet::new();
    let user = h.user.unwrap_or(SYSTEM);
    let days: Vec<u32> = (0..s.plan.days).filter(|&d| is_weekday(s, d)).collect();
    for d in days.into_iter().step_by(2) {
        let explorer = s.explorer(ws, d);
        let mut t = s.day_start(d) + s.b.rng.random_range(9 * HOUR..15 * HOUR);
        for _ in 0..s.b.rng.random_range(1..=3) {
            let target = if s.b.rng.random_bool(0.6) {
                [DC, FS][s.b.rng.random_range(0..2)]
            } else {
                s.b.rng.random_range(0..topo.hosts.len())
            };
            if target == ws {
                continue;
            }
            victims.insert(target);
            let name = topo.hosts[target].name.clone();
            match s.b.rng.random_range(0..3) {
                0 => {
                    let p = s.spawn(
                        ws,
                        user,
                        r"C:\Windows\System32\mstsc.exe",
                        &format!(r#""C:\Windows\system32\mstsc.exe" /v:{name}"#),
                        r"C:\Windows\system32\",
                        explorer,
                        t,
                    );
                    t = s.b.loads(p, t, 30) + s.ms(500, 3_000);
                    s.b.net_out(t, p, topo.service(target, Svc::Rdp));
                    draft
                        .lateral
                        .push((h.ip.clone(), topo.hosts[target].ip.clone(), t));
                    let at = t + s.ms(2_000, 8_000);
                    s.b.logon(at, target, admin, 10, Some(ws));
                    t += s.ms(300_000, 1_800_000);
                }
                1 => {
                    let p = s.spawn(
                        ws,
                        admin,
                        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                        &format!(
                            r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -Command "Invoke-Command -ComputerName {name} -ScriptBlock {{ Get-Service | Where-Object Status -eq 'Stopped' }}""#
                        ),
                        r"C:\Windows\system32\",
                        explorer,
                        t,
                    );
                    t = s.b.loads(p, t, 30) + s.ms(300, 1_500);
                    s.b.net_out(t, p, topo.service(target, Svc::WinRm));
                    draft
                        .lateral
                        .push((h.ip.clone(), topo.hosts[target].ip.clone(), t));
                    let winrm = s.b.long_lived(target, Slot::WinRm);
                    let at = t + s.ms(1, 5);
                    s.b.net_in(at, winrm, topo.service(target, Svc::WinRm), ws);
                    let at = t + s.ms(10, 50);
                    s.b.logon(at, target, admin, 3, Some(ws));
                    let dcom = s.b.long_lived(target, Slot::DcomLaunch);
                    let at = t + s.ms(200, 900);
                    let host_proc = s.spawn(
                        target,
                        admin,
                        r"C:\Windows\System32\wsmprovhost.exe",
                        r"C:\Windows\system32\wsmprovhost.exe -Embedding",
                        r"C:\Windows\system32\",
                        dcom,
                        at,
                    );
                    s.b.loads(host_proc, at, 25);
                    draft.group.entities.push(s.process_entity(host_proc));
                    t += s.ms(60_000, 600_000);
                }
                _ => {
                    let command =
                        ["gpupdate /force", "ipconfig /flushdns", "shutdown /r /t 60"]
                            [s.b.rng.random_range(0..3)];
                    let p = s.spawn(
                        ws,
                        admin,
                        r"C:\Tools\Sysinternals\PsExec64.exe",
                        &format!(
                            r#"C:\Tools\Sysinternals\PsExec64.exe \\{name} -accepteula -s cmd /c "{command}""#
                        ),
                        r"C:\Tools\Sysinternals\",
                        explorer,
                        t,
                    );
                    t = s.b.loads(p, t, 15) + s.ms(200, 800);
                    let (svc, at) = super::remote_service(
                        s,
                        &mut draft,
                        ws,
                        p,
                        target,
                        admin,
                        (r"C:\Windows\PSEXESVC.exe", r"C:\Windows\PSEXESVC.exe"),
                        t,
                    );
                    let at = at + s.ms(50, 300);
                    let cmd = s.spawn(
                        target,
                        SYSTEM,
                        r"C:\Windows\System32\cmd.exe",
                        &format!(r#"cmd /c "{command}""#),
                        r"C:\Windows\system32\",
                        svc,
                        at,
                    );
                    s.b.loads(cmd, at, 2);
                    draft.group.entities.push(s.process_entity(p));
                    draft.group.entities.push(s.process_entity(svc));
                    draft.group.entities.push(s.process_entity(cmd));
                    t = at + s.ms(60_000, 600_000);
                }
            }
        }
    }
    for v in victims {
        let vh = &topo.hosts[v];
        draft.group.entities.push(Entity::VictimHost {
            host: vh.fqdn.clone(),
            ip: vh.ip.clone(),
        });
    }
    if s.b.evs.len() > before {
        s.close(draft, before);
    }
}

fn deployment(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    if topo.admins.is_empty() {
        return;
    }
    let (admin, ws) = admin_seat(s);
    let h = &topo.hosts[ws];
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::WidespreadAttack.name(),
        "admin-psexec-deployment",
        Label::HardNegative,
        &["widespread-attack"],
        &[],
        format!(
            "administrator {} deploys a monitoring agent from {} to every workstation with \
             PsExec, one a minute",
            topo.users[admin as usize].sam, h.name
        ),
    );
    draft.group.entities.push(Entity::SourceIp {
        sourceip: h.ip.clone(),
        host: h.fqdn.clone(),
    });
    let day = s.weekday_from(s.plan.days / 4 + 1);
    let explorer = s.explorer(ws, day);
    let mut t = s.day_start(day) + 16 * HOUR + s.ms(0, 1_800_000);
    let msi = r"\\FS01\Deploy\MMASetup-AMD64-10.20.msi";
    for v in topo.workstations().filter(|&v| v != ws) {
        let name = topo.hosts[v].name.clone();
        let p = s.spawn(
            ws,
            admin,
            r"C:\Tools\Sysinternals\PsExec64.exe",
            &format!(
                r#"C:\Tools\Sysinternals\PsExec64.exe \\{name} -accepteula -s msiexec.exe /i {msi} /qn /norestart"#
            ),
            r"C:\Tools\Sysinternals\",
            explorer,
            t,
        );
        let at = s.b.loads(p, t, 15) + s.ms(200, 800);
        let (svc, at) = super::remote_service(
            s,
            &mut draft,
            ws,
            p,
            v,
            admin,
            (r"C:\Windows\PSEXESVC.exe", r"C:\Windows\PSEXESVC.exe"),
            at,
        );
        let at = at + s.ms(50, 300);
        let m = s.spawn(
            v,
            SYSTEM,
            r"C:\Windows\System32\msiexec.exe",
            &format!("msiexec.exe /i {msi} /qn /norestart"),
            r"C:\Windows\system32\",
            svc,
            at,
        );
        let mut tt = s.b.loads(m, at, 12);
        for f in [
            "MonitoringHost.exe",
            "HealthService.exe",
            "AgentControlPanel.exe",
        ] {
            tt += s.ms(30, 300);
            s.file(
                tt,
                m,
                &format!(r"C:\Program Files\Microsoft Monitoring Agent\Agent\{f}"),
            );
        }
        let vh = &topo.hosts[v];
        draft.group.entities.push(Entity::VictimHost {
            host: vh.fqdn.clone(),
            ip: vh.ip.clone(),
        });
        for pid in [p, svc, m] {
            draft.group.entities.push(s.process_entity(pid));
        }
        t += s.ms(45_000, 75_000);
    }
    if s.b.evs.len() > before {
        s.close(draft, before);
    }
}

fn audit_script(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    if topo.admins.is_empty() {
        return;
    }
    let account = topo.admins.end - 1;
    let sam = topo.users[account as usize].sam.clone();
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::AdEnum.name(),
        "admin-ad-audit-script",
        Label::HardNegative,
        &["ad-enum-kmeans", "ad-enum-autoencoder"],
        &[],
        format!(
            "a scheduled AD audit script run as {sam} on Monday, Wednesday and Friday \
             mornings: 40 to 70 LDAP searches for privileged groups, SPNs, delegation, stale \
             and never-expiring accounts and LAPS"
        ),
    );
    for d in 0..s.plan.days {
        let wd = weekday(s.day_start(d).div_euclid(DAY));
        if !matches!(wd, 0 | 2 | 4) {
            continue;
        }
        let mut t = s.day_start(d) + 6 * HOUR + 30 * MIN + s.ms(0, 300_000);
        for _ in 0..s.b.rng.random_range(40..=70) {
            let q = AUDIT_QUERIES[s.b.rng.random_range(0..AUDIT_QUERIES.len())];
            let text = s.b.text(q);
            s.b.ldap(t, account, text);
            draft.ldap.push((sam.clone(), t));
            t += s.b.rng.random_range(200..3_000) * 1_000_000;
        }
    }
    if s.b.evs.len() > before {
        s.close(draft, before);
    }
}

fn helpdesk(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    // A person other than the ad-enum account (ws(2)'s user) and the first admin's person.
    let enum_user = topo.hosts[s.ws(2)].user;
    let Some(person) = topo
        .persons
        .clone()
        .rev()
        .find(|&p| Some(p) != enum_user && p != topo.persons.start)
    else {
        return;
    };
    let sam = topo.users[person as usize].sam.clone();
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::AdEnum.name(),
        "helpdesk-directory-tool",
        Label::HardNegative,
        &["ad-enum-kmeans", "ad-enum-autoencoder"],
        &[],
        format!(
            "helpdesk person {sam} looks up users, computers, groups and locked accounts with \
             a directory tool a few times each weekday"
        ),
    );
    let others: Vec<String> = topo
        .persons
        .clone()
        .map(|p| topo.users[p as usize].sam.clone())
        .collect();
    let days: Vec<u32> = (0..s.plan.days).filter(|&d| is_weekday(s, d)).collect();
    for d in days {
        for _ in 0..s.b.rng.random_range(2..=5) {
            let mut t = s.day_start(d) + s.b.rng.random_range(8 * HOUR..17 * HOUR);
            for _ in 0..s.b.rng.random_range(6..=15) {
                let q = HELPDESK_QUERIES[s.b.rng.random_range(0..HELPDESK_QUERIES.len())];
                let other = &others[s.b.rng.random_range(0..others.len())];
                let host = &topo.hosts[s.b.rng.random_range(0..topo.hosts.len())].name;
                let q = q.replace("{other}", other).replace("{host}", host);
                let text = s.b.text(&q);
                s.b.ldap(t, person, text);
                draft.ldap.push((sam.clone(), t));
                t += s.b.rng.random_range(1..20) * SEC;
            }
        }
    }
    if s.b.evs.len() > before {
        s.close(draft, before);
    }
}

const AUDIT_QUERIES: [&str; 14] = [
    "(&(objectClass=group)(adminCount=1))",
    "(&(objectClass=user)(adminCount=1))",
    "(memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,DC=contoso,DC=local)",
    "(&(samAccountType=805306368)(servicePrincipalName=*))",
    "(userAccountControl:1.2.840.113556.1.4.803:=524288)",
    "(msDS-AllowedToDelegateTo=*)",
    "(&(objectCategory=person)(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=65536))",
    "(&(objectCategory=person)(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=4194304))",
    "(&(objectCategory=computer)(lastLogonTimestamp<=133500000000000000))",
    "(&(objectCategory=person)(objectClass=user)(pwdLastSet<=133400000000000000))",
    "(&(objectCategory=computer)(ms-Mcs-AdmPwdExpirationTime<=133560000000000000))",
    "(objectCategory=computer)",
    "(&(objectCategory=person)(objectClass=user))",
    "(objectClass=groupPolicyContainer)",
];

const HELPDESK_QUERIES: [&str; 8] = [
    "(&(objectCategory=person)(objectClass=user)(sAMAccountName={other}))",
    "(anr={other})",
    "(&(objectCategory=computer)(cn={host}))",
    "(&(objectCategory=person)(objectClass=user)(lockoutTime>=1))",
    "(&(objectClass=group)(member=CN={other},OU=Staff,DC=contoso,DC=local))",
    "(&(objectCategory=person)(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=2))",
    "(&(objectCategory=computer)(operatingSystem=Windows 1*))",
    "(objectCategory=group)",
];
