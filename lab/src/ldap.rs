//! LDAP searches the domain controller logs (Directory Service 1644) in the baseline: who
//! asks (users' applications, computer accounts, service accounts, `SYSTEM`, anonymous LDAP
//! pings), when, and with which filters.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::baseline::DayGen;
use super::clock::HOUR;
use super::model::Text;
use super::topology::{ANONYMOUS, SYSTEM};

impl DayGen<'_> {
    pub(super) fn ldap_search(&mut self) {
        let topo = self.b.topo;
        let r = self.b.rng.random_range(0..100);
        let persons = topo.persons.clone();
        let other = self.b.rng.random_range(persons.clone());
        let host = self.b.rng.random_range(0..topo.hosts.len());
        let (user, t, filter): (u16, i64, &str) = if r < 30 && !self.day.weekend {
            let user = self.b.rng.random_range(persons.clone());
            let t = self.work_time(self.ds + 7 * HOUR, self.ds + 18 * HOUR);
            let f = *pick_str(&mut self.b.rng, PERSON_FILTERS);
            (user, t, f)
        } else if r < 35 && !self.day.weekend && !topo.admins.is_empty() {
            let user = self.b.rng.random_range(topo.admins.clone());
            let t = self.work_time(self.ds + 8 * HOUR, self.ds + 17 * HOUR);
            (user, t, *pick_str(&mut self.b.rng, ADMIN_FILTERS))
        } else if r < 60 {
            let user = topo.computer_account(host);
            (
                user,
                self.any_time(),
                *pick_str(&mut self.b.rng, COMPUTER_FILTERS),
            )
        } else if r < 80 {
            let k = self.b.rng.random_range(0..SERVICE_FILTERS.len());
            let t = if k == 0 {
                self.b.time_in(self.ds + 2 * HOUR, self.ds + 3 * HOUR)
            } else {
                self.any_time()
            };
            let list = SERVICE_FILTERS[k];
            (
                topo.services.start + k as u16,
                t,
                *pick_str(&mut self.b.rng, list),
            )
        } else if r < 90 {
            (
                SYSTEM,
                self.any_time(),
                *pick_str(&mut self.b.rng, SYSTEM_FILTERS),
            )
        } else {
            (ANONYMOUS, self.any_time(), ANONYMOUS_FILTER)
        };
        let text = self.expand_ldap(filter, user, other, host);
        self.b.ldap(t, user, text);
    }

    fn expand_ldap(
        &mut self,
        filter: &'static str,
        user: u16,
        other: u16,
        host: usize,
    ) -> Text {
        if !filter.contains('{') {
            return Text::Static(filter);
        }
        let topo = self.b.topo;
        let u = &topo.users[user as usize];
        let o = &topo.users[other as usize];
        let start = self.b.begin();
        let out = &mut self.b.ctx.arena;
        let mut rest = filter;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let j = after.find('}').unwrap_or(after.len());
            match &after[..j] {
                "self" => out.push_str(&u.sam),
                "selfdisplay" => out.push_str(&u.display),
                "other" => out.push_str(&o.sam),
                "prefix" => out.push_str(&o.display[..3.min(o.display.len())]),
                "host" => out.push_str(&topo.hosts[host].name),
                key => {
                    out.push('{');
                    out.push_str(key);
                    out.push('}');
                }
            }
            rest = after.get(j + 1..).unwrap_or("");
        }
        out.push_str(rest);
        self.b.end(start)
    }
}

fn pick_str<'a>(rng: &mut ChaCha8Rng, list: &'a [&'static str]) -> &'a &'static str {
    &list[rng.random_range(0..list.len())]
}

const PERSON_FILTERS: &[&str] = &[
    "(objectClass=*)",
    "(objectClass=*)",
    "(&(objectClass=user)(sAMAccountName={self}))",
    "(&(objectClass=user)(sAMAccountName={self}))",
    "(&(objectCategory=person)(objectClass=user)(userPrincipalName={self}@contoso.local))",
    "(anr={prefix})",
    "(anr={prefix})",
    "(&(objectCategory=person)(objectClass=user)(sAMAccountName={other}))",
    "(&(objectClass=group)(member=CN={selfdisplay},OU=Staff,DC=contoso,DC=local))",
    "(&(objectCategory=printQueue)(serverName=FS01.contoso.local))",
];
const ADMIN_FILTERS: &[&str] = &[
    "(&(objectClass=user)(sAMAccountName={other}))",
    "(&(objectClass=user)(sAMAccountName={other}))",
    "(&(objectClass=computer)(cn={host}))",
    "(&(objectClass=group)(cn=Domain Admins))",
    "(objectClass=organizationalUnit)",
];
const COMPUTER_FILTERS: &[&str] = &[
    "(objectClass=*)",
    "(&(objectClass=computer)(sAMAccountName={host}$))",
    "(&(objectClass=computer)(sAMAccountName={host}$))",
    "(&(objectCategory=groupPolicyContainer)(cn={31B2F340-016D-11D2-945F-00C04FB984F9}))",
    "(&(objectCategory=groupPolicyContainer)(cn={6AC1786C-016F-11D2-945F-00C04FB984F9}))",
    "(&(objectClass=site)(cn=Default-First-Site-Name))",
];
/// Filters of the service accounts, in the order of `Topology::services`.
const SERVICE_FILTERS: [&[&str]; 5] = [
    &["(&(objectCategory=computer)(operatingSystem=Windows*))"],
    &[
        "(&(objectClass=user)(sAMAccountName={other}))",
        "(objectClass=*)",
    ],
    &[
        "(&(objectCategory=computer)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
        "(&(objectCategory=person)(objectClass=user))",
        "(objectCategory=group)",
    ],
    &[
        "(&(objectClass=user)(sAMAccountName={other}))",
        "(&(objectClass=group)(cn=WebUsers))",
    ],
    &[
        "(&(objectCategory=printQueue)(serverName=FS01.contoso.local))",
        "(objectClass=*)",
    ],
];
const SYSTEM_FILTERS: &[&str] = &[
    "(objectClass=*)",
    "(&(objectClass=nTDSConnection)(enabledConnection=TRUE))",
    "(objectClass=dnsNode)",
    "(&(objectClass=dnsZone)(!(dc=RootDNSServers)))",
];
const ANONYMOUS_FILTER: &str = r"(&(DnsDomain=contoso.local)(NtVer=\06\00\00\00))";
