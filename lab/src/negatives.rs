//! Hard negatives: benign activity built to resemble each attack, labelled as such.
//!
//! - beaconing look-alikes: Windows Event Forwarding (every host but the collector, to
//!   `FS01:5985` every 15 min ± 5 %) and an updater service (workstations, HTTPS every
//!   30 min ± 15 %). Their events come from the baseline generator; only labels are made here.
//! - an administrator who enumerates AD with console tools once a week;
//! - a software deployment from the file server that touches every host within an hour by
//!   SMB and remote services, then installs a package;
//! - Configuration Manager running an inventory script as encoded PowerShell once per
//!   workstation.

use rand::Rng;

use super::Scenario;
use super::baseline::{self, Periodic, UPDATER, WEF, periodic_times};
use super::clock::{HOUR, MIN, SEC};
use super::labels::{Draft, Entity, Label};
use super::scenarios::{S, encode_command};
use super::topology::{FS, Slot, Svc};

/// Adds every hard negative to `s`.
pub(crate) fn build(s: &mut S<'_, '_>) {
    for stream in [WEF, UPDATER] {
        periodic_labels(s, &stream);
    }
    admin_enumeration(s);
    deployment(s);
    compliance_scripts(s);
}

fn periodic_labels(s: &mut S<'_, '_>, stream: &Periodic) {
    let topo = s.b.topo;
    let (from, to) = (s.day_start(0), s.day_start(s.plan.days));
    let (endpoint, _) = baseline::stream_target(stream, topo);
    let dest = &topo.endpoints[endpoint as usize];
    let (what, desc) = match stream.slot {
        Slot::WinRm => (
            "windows-event-forwarding",
            "svchost.exe (WinRM) forwards events to the collector FS01:5985 every 900 s with \
             5 % jitter",
        ),
        _ => (
            "updater-service",
            "an updater service polls its vendor over HTTPS every 1800 s with 15 % jitter",
        ),
    };
    let mut draft = Draft::new(
        Scenario::C2Beacon.name(),
        what,
        Label::HardNegative,
        &["c2-beacon"],
        &[],
        desc.to_string(),
    );
    for host in 0..topo.hosts.len() {
        if !baseline::runs(stream, topo, host) {
            continue;
        }
        let times = periodic_times(topo.seed, stream, host, from, to);
        let g = &mut draft.group;
        g.events += 2 * times.len() as u64;
        if let (Some(first), Some(last)) = (times.first(), times.last()) {
            g.start_ns = g.start_ns.min(*first);
            g.end_ns = g.end_ns.max(*last);
        }
        let pid = s.b.long_lived(host, stream.slot);
        let guid = s.guid(pid);
        draft.group.entities.push(s.process_entity(pid));
        draft.group.entities.push(Entity::ProcessDestination {
            processguid: guid,
            destinationip: dest.ip.clone(),
            destinationport: dest.port.clone(),
        });
    }
    s.drafts.push(draft);
}

fn admin_enumeration(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    if topo.admins.is_empty() {
        return;
    }
    let admin = topo.admins.start;
    let sam = topo.users[admin as usize].sam.clone();
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::AdEnum.name(),
        "admin-console-review",
        Label::HardNegative,
        &["ad-enum-kmeans", "ad-enum-autoencoder"],
        &[],
        format!(
            "administrator {sam} reviews users, groups, computers and OUs with the AD console \
             once a week: one burst of broad LDAP searches"
        ),
    );
    let mut d = 1.min(s.plan.days - 1);
    while d < s.plan.days {
        let day = s.weekday_from(d);
        let mut t = s.day_start(day) + s.b.rng.random_range(10 * HOUR..15 * HOUR);
        for _ in 0..s.b.rng.random_range(15..=30) {
            let q = ADMIN_QUERIES[s.b.rng.random_range(0..ADMIN_QUERIES.len())];
            let text = s.b.text(q);
            s.b.ldap(t, admin, text);
            draft.ldap.push((sam.clone(), t));
            t += s.b.rng.random_range(2..30) * SEC;
        }
        d += 7;
    }
    s.close(draft, before);
}

fn deployment(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    let fs = &topo.hosts[FS];
    let sccm = topo.services.start + 2;
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::WidespreadAttack.name(),
        "software-deployment",
        Label::HardNegative,
        &["widespread-attack"],
        &[],
        format!(
            "the deployment service on {} pushes a 7-Zip package to every host within an hour \
             over SMB and a remote service, which runs msiexec",
            fs.name
        ),
    );
    draft.group.entities.push(Entity::SourceIp {
        sourceip: fs.ip.clone(),
        host: fs.fqdn.clone(),
    });
    let day = s.weekday_from((s.plan.days / 2 + 1).min(s.plan.days - 1));
    let t0 = s.day_start(day) + 12 * HOUR + 10 * MIN + s.ms(0, 600_000);
    let service = s.b.record(
        FS,
        sccm,
        super::model::Text::Static(
            r"C:\Program Files (x86)\Admin Arsenal\PDQ Deploy\PDQDeployService.exe",
        ),
        super::model::Text::Static(
            r#""C:\Program Files (x86)\Admin Arsenal\PDQ Deploy\PDQDeployService.exe""#,
        ),
        super::model::Text::Static(r"C:\Windows\system32\"),
        super::model::NONE,
        s.day_start(0) - 3 * 24 * HOUR,
    );
    let targets: Vec<usize> = (0..topo.hosts.len()).filter(|&h| h != FS).collect();
    let step = 50 * MIN / targets.len().max(1) as i64;
    for (i, &v) in targets.iter().enumerate() {
        let vh = &topo.hosts[v];
        let mut t = t0 + i as i64 * step + s.ms(0, 20_000);
        s.b.net_out(t, service, topo.service(v, Svc::Smb));
        draft.lateral.push((fs.ip.clone(), vh.ip.clone(), t));
        let system = s.b.long_lived(v, Slot::System);
        let at = t + s.ms(1, 5);
        s.b.net_in(at, system, topo.service(v, Svc::Smb), FS);
        let at = t + s.ms(5, 30);
        s.b.logon(at, v, sccm, 3, Some(FS));
        let runner =
            r"C:\Windows\AdminArsenal\PDQDeployRunner\service-1\PDQDeployRunner-1.exe";
        let at = t + s.ms(100, 900);
        s.file(at, system, runner);
        t += s.ms(1_000, 4_000);
        s.b.net_out(t, service, topo.service(v, Svc::Rpc));
        draft.lateral.push((fs.ip.clone(), vh.ip.clone(), t));
        let services = s.b.long_lived(v, Slot::Services);
        t += s.ms(500, 2_000);
        let r = s.spawn(
            v,
            super::topology::SYSTEM,
            runner,
            runner,
            r"C:\Windows\system32\",
            services,
            t,
        );
        t = s.b.loads(r, t, 10) + s.ms(200, 800);
        let msi =
            r"C:\Windows\AdminArsenal\PDQDeployRunner\service-1\exec\7z2301-x64.msi";
        s.file(t, r, msi);
        t += s.ms(500, 2_000);
        let m = s.spawn(
            v,
            super::topology::SYSTEM,
            r"C:\Windows\System32\msiexec.exe",
            &format!(r#""C:\Windows\System32\msiexec.exe" /i "{msi}" /qn /norestart"#),
            r"C:\Windows\AdminArsenal\PDQDeployRunner\service-1\exec\",
            r,
            t,
        );
        t = s.b.loads(m, t, 12);
        for f in ["7z.exe", "7z.dll", "7zFM.exe", "7zG.exe", "Uninstall.exe"] {
            t += s.ms(30, 300);
            s.file(t, m, &format!(r"C:\Program Files\7-Zip\{f}"));
        }
        draft.group.entities.push(s.process_entity(r));
        draft.group.entities.push(s.process_entity(m));
        draft.group.entities.push(Entity::VictimHost {
            host: vh.fqdn.clone(),
            ip: vh.ip.clone(),
        });
    }
    s.close(draft, before);
}

fn compliance_scripts(s: &mut S<'_, '_>) {
    let topo = s.b.topo;
    let before = s.b.evs.len();
    let mut draft = Draft::new(
        Scenario::ProcessAnomaly.name(),
        "configmgr-inventory-script",
        Label::HardNegative,
        &["process-anomaly"],
        &[],
        "Configuration Manager runs an inventory script as encoded PowerShell with \
         -ExecutionPolicy Bypass once on every workstation"
            .to_string(),
    );
    let enc = encode_command(
        "Get-CimInstance Win32_Product | Select-Object Name,Version,Vendor | ConvertTo-Json",
    );
    let cmd = format!(
        r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoLogo -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {enc}"#
    );
    for (i, host) in topo.workstations().enumerate() {
        let day = (i as u32 * 3 + 1) % s.plan.days;
        let mut t = s.day_start(day) + s.b.rng.random_range(11 * HOUR..14 * HOUR);
        let ccm = s.b.long_lived(host, Slot::CcmExec);
        let ps = s.spawn(
            host,
            super::topology::SYSTEM,
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            &cmd,
            r"C:\Windows\CCM\",
            ccm,
            t,
        );
        t = s.b.loads(ps, t, 28) + s.ms(100, 500);
        let hex = s.b.rng.random::<u32>();
        s.file(
            t,
            ps,
            &format!(r"C:\Windows\Temp\__PSScriptPolicyTest_{hex:08X}.ps1"),
        );
        t += s.ms(2_000, 20_000);
        s.b.net_out(t, ps, topo.service(FS, Svc::Http));
        draft.group.entities.push(s.process_entity(ps));
    }
    s.close(draft, before);
}

const ADMIN_QUERIES: [&str; 8] = [
    "(&(objectCategory=person)(objectClass=user))",
    "(objectCategory=group)",
    "(objectCategory=computer)",
    "(objectClass=organizationalUnit)",
    "(&(objectCategory=person)(objectClass=user)(lockoutTime>=1))",
    "(&(objectCategory=person)(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=2))",
    "(&(objectClass=group)(cn=Domain Admins))",
    "(&(objectCategory=computer)(operatingSystem=Windows 10*))",
];
