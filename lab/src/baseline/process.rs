//! Running one program of the table on a host: its creation, image loads and activity
//! mix, its children, and the placeholders of its command lines and paths.

use rand::Rng;

use super::*;

impl DayGen<'_> {
    /// Runs one program of the table: see [`Self::run_profile`].
    #[allow(clippy::too_many_arguments)] // The process's context, one argument each.
    pub(super) fn run(
        &mut self,
        host: usize,
        p: P,
        parent: u32,
        session_user: u16,
        start: i64,
        end_limit: i64,
        depth: u32,
    ) -> u32 {
        self.run_profile(
            host,
            profile(p),
            parent,
            session_user,
            start,
            end_limit,
            depth,
        )
    }

    /// Runs one program: its Sysmon 1, image loads, activity steps and children.
    #[allow(clippy::too_many_arguments)] // The process's context, one argument each.
    pub(crate) fn run_profile(
        &mut self,
        host: usize,
        prof: &'static Profile,
        parent: u32,
        session_user: u16,
        start: i64,
        end_limit: i64,
        depth: u32,
    ) -> u32 {
        let topo = self.b.topo;
        let user = match prof.who {
            Who::Session => session_user,
            Who::System => SYSTEM,
            Who::NetworkService => NETWORK_SERVICE,
            Who::Parent if parent != NONE => self.b.ctx.procs[parent as usize].user,
            Who::Parent => session_user,
            Who::Service(k) => topo.services.start + k,
        };
        let image = self.expand(prof.image, user, host);
        let k = self.b.rng.random_range(0..prof.cmds.len());
        let cmd = self.expand(prof.cmds[k], user, host);
        let cwd = self.expand(prof.cwd, user, host);
        let pid = self.b.spawn(host, user, image, cmd, cwd, parent, start);
        let n_loads = self.rand(prof.loads);
        let mut t = self.b.loads(pid, start, n_loads);
        let (lo, hi) = (f64::from(prof.life_s.0).ln(), f64::from(prof.life_s.1).ln());
        let life = (lo + self.b.rng.random::<f64>() * (hi - lo)).exp();
        let end = (start + (life * SEC as f64) as i64)
            .min(end_limit)
            .max(t + SEC);
        let steps = self.rand(prof.steps) as usize;
        if steps > 0 {
            let mut times: Vec<i64> =
                (0..steps).map(|_| self.b.time_in(t, end)).collect();
            times.sort_unstable();
            for st in times {
                let st = st.max(t + 1_000_000);
                t = self.act(prof.acts, pid, host, user, st);
            }
        }
        if depth < 2 {
            for &(child, lo, hi) in prof.children {
                for _ in 0..self.rand((lo, hi)) {
                    let ct = self.b.time_in(start + 50_000_000, end);
                    self.run_profile(host, child, pid, user, ct, end, depth + 1);
                }
            }
        }
        pid
    }

    /// One activity step of `pid` at `t`; returns the time of its last event.
    fn act(
        &mut self,
        acts: &'static [(Act, u32)],
        pid: u32,
        host: usize,
        user: u16,
        t: i64,
    ) -> i64 {
        let topo = self.b.topo;
        let act = self.pick(acts);
        let ms = 1_000_000;
        match act {
            Act::Browse => {
                let n = topo.browse.len();
                let u: f64 = self.b.rng.random();
                let i = ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1);
                let site = topo.browse[i];
                self.b.dns(t, pid, site.dns);
                let conns = self.b.rng.random_range(1..=3);
                let mut tt = t;
                for _ in 0..conns {
                    tt += self.b.rng.random_range(5..120) * ms;
                    let ep = if self.b.rng.random_bool(0.9) {
                        site.https
                    } else {
                        site.http
                    };
                    self.b.net_out(tt, pid, ep);
                }
                tt
            }
            Act::Site(name) => {
                let site = topo.site(name);
                self.b.dns(t, pid, site.dns);
                let tt = t + self.b.rng.random_range(5..80) * ms;
                self.b.net_out(tt, pid, site.https);
                tt
            }
            Act::Internal(target, svc) => {
                let server = match target {
                    Target::Dc => DC,
                    Target::Fs => FS,
                };
                let mut tt = t;
                if self.b.rng.random_bool(0.3) {
                    self.b.dns(t, pid, topo.host_name(server));
                    tt += self.b.rng.random_range(1..10) * ms;
                }
                self.b.net_out(tt, pid, topo.service(server, svc));
                tt
            }
            Act::File(templates) => {
                let k = self.b.rng.random_range(0..templates.len());
                let path = self.expand_arena(templates[k], user, host);
                self.b.file(t, pid, path);
                t
            }
            Act::PipeCreate => {
                self.b.push(Kind::PipeCreated, t, pid);
                t
            }
            Act::PipeConnect => {
                self.b.push(Kind::PipeConnected, t, pid);
                t
            }
            Act::Load => {
                self.b.push(Kind::ImageLoad, t, pid);
                t
            }
        }
    }

    pub(crate) fn expand(&mut self, tpl: &'static str, user: u16, host: usize) -> Text {
        if tpl.contains('{') {
            self.expand_arena(tpl, user, host)
        } else {
            Text::Static(tpl)
        }
    }

    /// Expands `{user}`, `{host}`, `{doc}`, `{exe}`, `{n}`, `{n4}`, `{hex4}`, `{hex6}`,
    /// `{hex8}` and `{guid}` into the arena, and `{hv}`/`{hv3}` into numbers fixed per host
    /// (installed versions; they draw nothing from the RNG); other braces are copied.
    pub(crate) fn expand_arena(&mut self, tpl: &str, user: u16, host: usize) -> Text {
        use std::fmt::Write as _;
        let topo = self.b.topo;
        let start = self.b.begin();
        let rng = &mut self.b.rng;
        let out = &mut self.b.ctx.arena;
        let mut rest = tpl;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let key = after.find('}').map(|j| &after[..j]);
            let known = match key {
                Some("user") => {
                    out.push_str(&topo.users[user as usize].sam);
                    true
                }
                Some("host") => {
                    out.push_str(&topo.hosts[host].name);
                    true
                }
                Some("doc") => {
                    out.push_str(DOCS[rng.random_range(0..DOCS.len())]);
                    true
                }
                Some("exe") => {
                    out.push_str(EXES[rng.random_range(0..EXES.len())]);
                    true
                }
                Some("hv") => {
                    let h = derive(topo.seed, &[0x7E5, host as u64]);
                    write!(out, "{}", 10 + h % 90).is_ok()
                }
                Some("hv3") => {
                    let h = derive(topo.seed, &[0x7E53, host as u64]);
                    write!(out, "{}", 100 + h % 900).is_ok()
                }
                Some("n") => write!(out, "{}", rng.random_range(1..64u32)).is_ok(),
                Some("n4") => {
                    write!(out, "{}", rng.random_range(1000..10_000u32)).is_ok()
                }
                Some("hex4") => write!(out, "{:04X}", rng.random::<u16>()).is_ok(),
                Some("hex6") => write!(out, "{:06x}", rng.random::<u32>() >> 8).is_ok(),
                Some("hex8") => write!(out, "{:08X}", rng.random::<u32>()).is_ok(),
                Some("guid") => {
                    let g: u128 = rng.random();
                    write!(
                        out,
                        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
                        (g >> 96) as u32,
                        (g >> 80) as u16,
                        (g >> 64) as u16,
                        (g >> 48) as u16,
                        g & 0xFFFF_FFFF_FFFF
                    )
                    .is_ok()
                }
                _ => false,
            };
            match (known, key) {
                (true, Some(k)) => rest = &after[k.len() + 1..],
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        self.b.end(start)
    }
}
