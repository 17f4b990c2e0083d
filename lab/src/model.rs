//! Compact in-memory events and the builder both generators emit them through.
//!
//! An event is 40 bytes of numbers ([`Ev`]); its strings live in the process table and a
//! per-generator text arena ([`Ctx`]) or in the [`Topology`]. Rows are rendered to Arrow
//! strings only when a row group is written, so a day of events fits in memory and the hot
//! path makes no per-event allocations.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::clock::SEC;
use super::topology::{Slot, Topology, process_guid};
use huntsman_core::schema::{
    CHANNEL_DIRECTORY_SERVICE, CHANNEL_SECURITY, CHANNEL_SYSMON,
};

/// "No process" / "no host" marker.
pub(crate) const NONE: u32 = u32::MAX;

/// Event types the lab emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    ProcessCreate,
    NetworkConnect,
    ImageLoad,
    FileCreate,
    PipeCreated,
    PipeConnected,
    WmiFilter,
    WmiConsumer,
    WmiBinding,
    DnsQuery,
    LdapSearch,
    Logon,
}

impl Kind {
    /// The Windows event id.
    pub(crate) fn event_id(self) -> i32 {
        match self {
            Kind::ProcessCreate => 1,
            Kind::NetworkConnect => 3,
            Kind::ImageLoad => 7,
            Kind::FileCreate => 11,
            Kind::PipeCreated => 17,
            Kind::PipeConnected => 18,
            Kind::WmiFilter => 19,
            Kind::WmiConsumer => 20,
            Kind::WmiBinding => 21,
            Kind::DnsQuery => 22,
            Kind::LdapSearch => 1644,
            Kind::Logon => 4624,
        }
    }

    /// The event id as the string `event_code` holds.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Kind::ProcessCreate => "1",
            Kind::NetworkConnect => "3",
            Kind::ImageLoad => "7",
            Kind::FileCreate => "11",
            Kind::PipeCreated => "17",
            Kind::PipeConnected => "18",
            Kind::WmiFilter => "19",
            Kind::WmiConsumer => "20",
            Kind::WmiBinding => "21",
            Kind::DnsQuery => "22",
            Kind::LdapSearch => "1644",
            Kind::Logon => "4624",
        }
    }

    /// The task name winlogbeat reports.
    pub(crate) fn task(self) -> &'static str {
        match self {
            Kind::ProcessCreate => "Process Create (rule: ProcessCreate)",
            Kind::NetworkConnect => "Network connection detected (rule: NetworkConnect)",
            Kind::ImageLoad => "Image loaded (rule: ImageLoad)",
            Kind::FileCreate => "File created (rule: FileCreate)",
            Kind::PipeCreated => "Pipe Created (rule: PipeEvent)",
            Kind::PipeConnected => "Pipe Connected (rule: PipeEvent)",
            Kind::WmiFilter => "WmiEventFilter activity detected (rule: WmiEvent)",
            Kind::WmiConsumer => "WmiEventConsumer activity detected (rule: WmiEvent)",
            Kind::WmiBinding => {
                "WmiEventConsumerToFilter activity detected (rule: WmiEvent)"
            }
            Kind::DnsQuery => "Dns query (rule: DnsQuery)",
            Kind::LdapSearch => "Field Engineering",
            Kind::Logon => "Logon",
        }
    }

    /// The channel the event is logged to.
    pub(crate) fn channel(self) -> &'static str {
        match self {
            Kind::LdapSearch => CHANNEL_DIRECTORY_SERVICE,
            Kind::Logon => CHANNEL_SECURITY,
            _ => CHANNEL_SYSMON,
        }
    }
}

/// One event, compactly. The meaning of `a`, `b` and `c` depends on the kind:
///
/// - network connect: `a` endpoint (destination), `b` source port, `c` the remote source host
///   for inbound connections (`NONE` for outbound);
/// - DNS query: `a` DNS name;
/// - file create, LDAP search: `a`/`b` the arena span of the file name or filter;
/// - logon: `a` logon type, `c` source host (`NONE`: local);
/// - WMI: `a` which subscription.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ev {
    pub ts: i64,
    pub proc: u32,
    pub a: u32,
    pub b: u32,
    pub c: u32,
    pub host: u16,
    pub user: u16,
    pub kind: Kind,
}

/// A string of a process record: static, or a span of the arena.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Text {
    Static(&'static str),
    Arena(u32, u32),
}

/// A process record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Proc {
    pub guid: u128,
    pub host: u16,
    pub user: u16,
    pub image: Text,
    pub cmd: Text,
    pub cwd: Text,
    /// Index of the parent in the same table, or `NONE`.
    pub parent: u32,
}

/// The process table and text arena that a list of events refers to.
#[derive(Default, Debug)]
pub(crate) struct Ctx {
    pub procs: Vec<Proc>,
    pub arena: String,
}

impl Ctx {
    /// The string a [`Text`] stands for.
    pub(crate) fn text(&self, t: Text) -> &str {
        match t {
            Text::Static(s) => s,
            Text::Arena(start, len) => {
                &self.arena[start as usize..(start + len) as usize]
            }
        }
    }
}

/// Emits events and processes into a [`Ctx`] with one seeded RNG.
pub(crate) struct Builder<'t> {
    pub topo: &'t Topology,
    pub ctx: Ctx,
    pub evs: Vec<Ev>,
    pub rng: ChaCha8Rng,
    long_lived: HashMap<(usize, Slot), u32>,
}

impl<'t> Builder<'t> {
    /// A builder whose RNG is seeded with `seed`.
    pub(crate) fn new(topo: &'t Topology, seed: u64) -> Self {
        Builder {
            topo,
            ctx: Ctx::default(),
            evs: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            long_lived: HashMap::new(),
        }
    }

    /// Copies a string into the arena.
    pub(crate) fn text(&mut self, s: &str) -> Text {
        let start = self.ctx.arena.len() as u32;
        self.ctx.arena.push_str(s);
        Text::Arena(start, s.len() as u32)
    }

    /// Starts a span written by the caller straight into the arena; finish with [`Self::end`].
    pub(crate) fn begin(&mut self) -> usize {
        self.ctx.arena.len()
    }

    /// Ends a span started by [`Self::begin`].
    pub(crate) fn end(&mut self, start: usize) -> Text {
        Text::Arena(start as u32, (self.ctx.arena.len() - start) as u32)
    }

    /// The record of a long-lived process (started before the lab), added once per builder.
    pub(crate) fn long_lived(&mut self, host: usize, slot: Slot) -> u32 {
        if let Some(&i) = self.long_lived.get(&(host, slot)) {
            return i;
        }
        let role = self.topo.hosts[host].role;
        // Slots missing on a role fall back to services.exe, which every host runs.
        let (image, cmd, user) = slot
            .spec(role)
            .or_else(|| Slot::Services.spec(role))
            .unwrap_or(("System", "", 0));
        let proc = Proc {
            guid: self.topo.long_lived_guid(host, slot),
            host: host as u16,
            user,
            image: Text::Static(image),
            cmd: Text::Static(cmd),
            cwd: Text::Static(r"C:\Windows\system32\"),
            parent: NONE,
        };
        self.ctx.procs.push(proc);
        let i = (self.ctx.procs.len() - 1) as u32;
        self.long_lived.insert((host, slot), i);
        i
    }

    /// Adds a process record without a process-create event.
    #[allow(clippy::too_many_arguments)] // One argument per Sysmon field of the record.
    pub(crate) fn record(
        &mut self,
        host: usize,
        user: u16,
        image: Text,
        cmd: Text,
        cwd: Text,
        parent: u32,
        start: i64,
    ) -> u32 {
        let h = &self.topo.hosts[host];
        let guid = process_guid(h.guid_prefix, start.div_euclid(SEC), self.rng.random());
        self.ctx.procs.push(Proc {
            guid,
            host: host as u16,
            user,
            image,
            cmd,
            cwd,
            parent,
        });
        (self.ctx.procs.len() - 1) as u32
    }

    /// Creates a process and its Sysmon 1 event at `ts`.
    #[allow(clippy::too_many_arguments)] // One argument per Sysmon field of the event.
    pub(crate) fn spawn(
        &mut self,
        host: usize,
        user: u16,
        image: Text,
        cmd: Text,
        cwd: Text,
        parent: u32,
        ts: i64,
    ) -> u32 {
        let p = self.record(host, user, image, cmd, cwd, parent, ts);
        self.push(Kind::ProcessCreate, ts, p);
        p
    }

    fn ev(&mut self, kind: Kind, ts: i64, proc: u32, host: usize, user: u16) -> &mut Ev {
        self.evs.push(Ev {
            ts,
            proc,
            a: 0,
            b: 0,
            c: NONE,
            host: host as u16,
            user,
            kind,
        });
        let last = self.evs.len() - 1;
        &mut self.evs[last]
    }

    /// An event of a process that carries no fields beyond the process's own (1, 7, 17, 18).
    pub(crate) fn push(&mut self, kind: Kind, ts: i64, proc: u32) {
        let p = self.ctx.procs[proc as usize];
        self.ev(kind, ts, proc, usize::from(p.host), p.user);
    }

    /// `n` image loads one to forty milliseconds apart from `ts`; returns the last time.
    pub(crate) fn loads(&mut self, proc: u32, mut ts: i64, n: u32) -> i64 {
        for _ in 0..n {
            ts += self.rng.random_range(1_000_000..40_000_000);
            self.push(Kind::ImageLoad, ts, proc);
        }
        ts
    }

    /// An outbound connection of `proc` to an endpoint.
    pub(crate) fn net_out(&mut self, ts: i64, proc: u32, endpoint: u32) {
        let p = self.ctx.procs[proc as usize];
        let port = self.rng.random_range(49_152..65_535);
        let e = self.ev(Kind::NetworkConnect, ts, proc, usize::from(p.host), p.user);
        e.a = endpoint;
        e.b = port;
    }

    /// An inbound connection accepted by `proc` on `endpoint` (a service of its host) from
    /// host `from`.
    pub(crate) fn net_in(&mut self, ts: i64, proc: u32, endpoint: u32, from: usize) {
        let p = self.ctx.procs[proc as usize];
        let port = self.rng.random_range(49_152..65_535);
        let e = self.ev(Kind::NetworkConnect, ts, proc, usize::from(p.host), p.user);
        e.a = endpoint;
        e.b = port;
        e.c = from as u32;
    }

    /// A DNS query of `proc` for DNS name `name`.
    pub(crate) fn dns(&mut self, ts: i64, proc: u32, name: u32) {
        let p = self.ctx.procs[proc as usize];
        self.ev(Kind::DnsQuery, ts, proc, usize::from(p.host), p.user)
            .a = name;
    }

    /// A file created by `proc`; `path` must be an arena text.
    pub(crate) fn file(&mut self, ts: i64, proc: u32, path: Text) {
        let p = self.ctx.procs[proc as usize];
        let (a, b) = self.span(path);
        let e = self.ev(Kind::FileCreate, ts, proc, usize::from(p.host), p.user);
        e.a = a;
        e.b = b;
    }

    /// An LDAP search by `user` logged on the domain controller.
    pub(crate) fn ldap(&mut self, ts: i64, user: u16, filter: Text) {
        let (a, b) = self.span(filter);
        let e = self.ev(Kind::LdapSearch, ts, NONE, super::topology::DC, user);
        e.a = a;
        e.b = b;
    }

    /// A successful logon of `user` on `host`, from host `from` (`None`: local).
    pub(crate) fn logon(
        &mut self,
        ts: i64,
        host: usize,
        user: u16,
        logon_type: u32,
        from: Option<usize>,
    ) {
        let e = self.ev(Kind::Logon, ts, NONE, host, user);
        e.a = logon_type;
        e.c = from.map_or(NONE, |f| f as u32);
    }

    /// A WMI subscription event (19, 20 or 21) on `host` by `user`.
    pub(crate) fn wmi(&mut self, kind: Kind, ts: i64, host: usize, user: u16) {
        self.ev(kind, ts, NONE, host, user);
    }

    fn span(&mut self, t: Text) -> (u32, u32) {
        match t {
            Text::Arena(a, b) => (a, b),
            Text::Static(s) => match self.text(s) {
                Text::Arena(a, b) => (a, b),
                Text::Static(_) => (0, 0),
            },
        }
    }

    /// A uniform random time in `[from, to)` (nanoseconds); `from` if the range is empty.
    pub(crate) fn time_in(&mut self, from: i64, to: i64) -> i64 {
        if to <= from {
            from
        } else {
            self.rng.random_range(from..to)
        }
    }

    /// Sorts the events by time; ties keep their emission order.
    pub(crate) fn finish(mut self) -> (Ctx, Vec<Ev>) {
        self.evs.sort_by_key(|e| e.ts);
        (self.ctx, self.evs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ev_stays_small() {
        assert!(std::mem::size_of::<Ev>() <= 40);
    }

    #[test]
    fn arena_texts_round_trip() {
        let topo = Topology::new(3, 1, 1_700_000_000);
        let mut b = Builder::new(&topo, 1);
        let t = b.text("hello");
        assert_eq!(b.ctx.text(t), "hello");
        assert_eq!(b.ctx.text(Text::Static("x")), "x");
    }

    #[test]
    fn long_lived_records_are_shared() {
        let topo = Topology::new(3, 1, 1_700_000_000);
        let mut b = Builder::new(&topo, 1);
        let a = b.long_lived(2, Slot::Schedule);
        assert_eq!(b.long_lived(2, Slot::Schedule), a);
        assert_eq!(
            b.ctx.procs[a as usize].guid,
            topo.long_lived_guid(2, Slot::Schedule)
        );
    }
}
