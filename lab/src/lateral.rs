//! The widespread-attack scenario: lateral movement from one workstation to many hosts by
//! WMI process creation and remote service creation, acting on each victim.

use rand::seq::SliceRandom;

use super::Scenario;
use super::clock::{HOUR, MIN};
use super::labels::{Draft, Entity, Label};
use super::scenarios::S;
use super::topology::{SYSTEM, Slot, Svc};

impl S<'_, '_> {
    pub(super) fn widespread(&mut self, intensity: f64) {
        let topo = self.b.topo;
        let attacker = self.ws(4);
        let admin = if topo.admins.is_empty() {
            topo.persons.start
        } else {
            topo.admins.start
        };
        let admin_sam = topo.users[admin as usize].qualified.clone();
        let mut victims: Vec<usize> =
            (0..topo.hosts.len()).filter(|&h| h != attacker).collect();
        victims.shuffle(&mut self.b.rng);
        let k = (6 + (2.0 * intensity).round() as usize).min(victims.len());
        victims.truncate(k);
        let day = self.weekday_from(self.plan.days * 2 / 3);
        let t0 = self.day_start(day) + 13 * HOUR + self.ms(0, 1_800_000);
        let before = self.b.evs.len();
        let a = &topo.hosts[attacker];
        let mut draft = Draft::new(
            Scenario::WidespreadAttack.name(),
            "wmi-and-service-lateral-movement",
            Label::Malicious,
            &["widespread-attack"],
            &["T1047", "T1569.002", "T1021.002", "T1570", "T1486", "T1490"],
            format!(
                "from {} ({}), with the stolen credentials of {admin_sam}, WMI process creation \
                 and remote service creation reach {k} hosts within an hour; on each victim a \
                 payload encrypts documents and deletes shadow copies",
                a.name, a.ip
            ),
        );
        draft.group.entities.push(Entity::SourceIp {
            sourceip: a.ip.clone(),
            host: a.fqdn.clone(),
        });
        let explorer = self.explorer(attacker, day);
        let shell = self.spawn(
            attacker,
            a.user.unwrap_or(SYSTEM),
            r"C:\Windows\System32\cmd.exe",
            r#""C:\Windows\system32\cmd.exe" "#,
            r"C:\Users\Public\",
            explorer,
            t0 - 4 * MIN,
        );
        self.b.loads(shell, t0 - 4 * MIN, 3);
        draft.group.entities.push(self.process_entity(shell));
        let files = ((12.0 * intensity).round() as usize).max(3);
        let step = 40 * MIN / k as i64;
        for (i, &v) in victims.iter().enumerate() {
            let t = t0 + i as i64 * step + self.ms(0, 60_000);
            let pids = self.lateral(attacker, shell, v, admin, t, files, &mut draft);
            for pid in pids {
                draft.group.entities.push(self.process_entity(pid));
            }
            let vh = &topo.hosts[v];
            draft.group.entities.push(Entity::VictimHost {
                host: vh.fqdn.clone(),
                ip: vh.ip.clone(),
            });
        }
        self.close(draft, before);
    }

    /// The attacker on `from` reaches `victim` by WMI and a remote service; returns the
    /// processes created (on both hosts).
    #[allow(clippy::too_many_arguments)] // The attack's context, one argument each.
    fn lateral(
        &mut self,
        from: usize,
        shell: u32,
        victim: usize,
        admin: u16,
        t0: i64,
        files: usize,
        draft: &mut Draft,
    ) -> Vec<u32> {
        let topo = self.b.topo;
        let (src, dst) = (&topo.hosts[from], &topo.hosts[victim]);
        let attacker_user = src.user.unwrap_or(SYSTEM);
        let mut out = Vec::new();
        let lateral = |t: i64, draft: &mut Draft| {
            draft.lateral.push((src.ip.clone(), dst.ip.clone(), t));
        };
        // Copy the payload to ADMIN$ (SMB by the System process).
        let mut t = t0;
        let system = self.b.long_lived(from, Slot::System);
        self.b.net_out(t, system, topo.service(victim, Svc::Smb));
        lateral(t, draft);
        let v_system = self.b.long_lived(victim, Slot::System);
        let at = t + self.ms(1, 5);
        self.b
            .net_in(at, v_system, topo.service(victim, Svc::Smb), from);
        let at = t + self.ms(5, 20);
        self.b.logon(at, victim, admin, 3, Some(from));
        let payload = format!(r"C:\Windows\Temp\svc{}.exe", victim);
        let at = t + self.ms(30, 200);
        self.file(at, v_system, &payload);
        // WMI process creation.
        t += self.ms(2_000, 20_000);
        let wmic = self.spawn(
            from,
            attacker_user,
            r"C:\Windows\System32\wbem\WMIC.exe",
            &format!(
                r#"wmic  /node:"{}" /user:"{}" process call create "cmd.exe /c {payload} -e""#,
                dst.ip, topo.users[admin as usize].qualified
            ),
            r"C:\Users\Public\",
            shell,
            t,
        );
        out.push(wmic);
        t = self.b.loads(wmic, t, 8) + self.ms(50, 300);
        self.b.net_out(t, wmic, topo.service(victim, Svc::Rpc));
        lateral(t, draft);
        let dcom = self.b.long_lived(victim, Slot::DcomLaunch);
        let at = t + self.ms(1, 5);
        self.b
            .net_in(at, dcom, topo.service(victim, Svc::Rpc), from);
        t += self.ms(300, 1_500);
        let wmiprvse = self.spawn(
            victim,
            super::topology::NETWORK_SERVICE,
            r"C:\Windows\System32\wbem\WmiPrvSE.exe",
            r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
            r"C:\Windows\system32\",
            dcom,
            t,
        );
        t = self.b.loads(wmiprvse, t, 12) + self.ms(100, 800);
        let cmd = self.spawn(
            victim,
            admin,
            r"C:\Windows\System32\cmd.exe",
            &format!("cmd.exe /c {payload} -e"),
            r"C:\Windows\system32\",
            wmiprvse,
            t,
        );
        t = self.b.loads(cmd, t, 2) + self.ms(20, 200);
        let enc = self.spawn(
            victim,
            admin,
            &payload,
            &format!("{payload} -e"),
            r"C:\Windows\system32\",
            cmd,
            t,
        );
        t = self.b.loads(enc, t, 6);
        let owner = dst.user.map_or("Administrator".to_string(), |u| {
            topo.users[u as usize].sam.clone()
        });
        for f in 0..files {
            t += self.ms(50, 2_000);
            let doc = ENCRYPTED_DOCS[f % ENCRYPTED_DOCS.len()];
            self.file(t, enc, &format!(r"C:\Users\{owner}\Documents\{doc}.locked"));
        }
        let at = t + self.ms(10, 100);
        self.file(
            at,
            enc,
            &format!(r"C:\Users\{owner}\Desktop\README_RESTORE.txt"),
        );
        out.extend([wmiprvse, cmd, enc]);
        // Remote service creation and start.
        t += self.ms(5_000, 30_000);
        for (verb, args) in [
            (
                "create",
                r#"binPath= "C:\Windows\Temp\upd.exe" start= demand"#,
            ),
            ("start", ""),
        ] {
            let sc = self.spawn(
                from,
                attacker_user,
                r"C:\Windows\System32\sc.exe",
                format!(r"sc.exe  \\{} {verb} WinUpdSvc {args}", dst.name).trim_end(),
                r"C:\Users\Public\",
                shell,
                t,
            );
            out.push(sc);
            t = self.b.loads(sc, t, 3) + self.ms(20, 200);
            self.b.net_out(t, sc, topo.service(victim, Svc::Rpc));
            lateral(t, draft);
            t += self.ms(500, 3_000);
        }
        let services = self.b.long_lived(victim, Slot::Services);
        let svc = self.spawn(
            victim,
            SYSTEM,
            r"C:\Windows\Temp\upd.exe",
            r"C:\Windows\Temp\upd.exe",
            r"C:\Windows\system32\",
            services,
            t,
        );
        t = self.b.loads(svc, t, 4) + self.ms(100, 500);
        let vss = self.spawn(
            victim,
            SYSTEM,
            r"C:\Windows\System32\vssadmin.exe",
            "vssadmin.exe  delete shadows /all /quiet",
            r"C:\Windows\system32\",
            svc,
            t,
        );
        t = self.b.loads(vss, t, 3);
        let at = t + self.ms(100, 900);
        self.file(at, svc, r"C:\Windows\Temp\upd.log");
        out.extend([svc, vss]);
        out
    }
}

/// Documents the payload encrypts on each victim.
const ENCRYPTED_DOCS: [&str; 8] = [
    "Q3_report.docx",
    "budget_2024.xlsx",
    "customer_list.xlsx",
    "contract_draft.docx",
    "roadmap.pptx",
    "payroll.xlsx",
    "minutes.docx",
    "project_plan.docx",
];
