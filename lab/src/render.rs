//! Renders compact events into Arrow record batches of the lake schema.
//!
//! One [`RowGroup`] holds a builder per column. Each row sets the columns its event type
//! carries; the rest get a null when the row ends. Strings are copied from the topology, the
//! process table or small stack buffers, so rendering allocates only when a builder grows.

use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, StringBuilder};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use super::model::{Ctx, Ev, Kind, NONE};
use super::topology::{Topology, format_guid};
use huntsman_core::schema::lake_schema;

// String columns, in schema order after `event_created` (0) and `winlog_event_id` (2).
const CODE: usize = 0;
const CHANNEL: usize = 1;
const COMPUTER: usize = 2;
const USER_NAME: usize = 3;
const TASK: usize = 4;
const PROCESSGUID: usize = 5;
const PARENTPROCESSGUID: usize = 6;
const IMAGE: usize = 7;
const COMMANDLINE: usize = 8;
const PARENTIMAGE: usize = 9;
const PARENTCOMMANDLINE: usize = 10;
const CURRENTDIRECTORY: usize = 11;
const USER: usize = 12;
const PARENTUSER: usize = 13;
const SOURCEIP: usize = 14;
const SOURCEPORT: usize = 15;
const SOURCEHOSTNAME: usize = 16;
const DESTINATIONIP: usize = 17;
const DESTINATIONPORT: usize = 18;
const DESTINATIONPORTNAME: usize = 19;
const DESTINATIONHOSTNAME: usize = 20;
const PROTOCOL: usize = 21;
const INITIATED: usize = 22;
const QUERYNAME: usize = 23;
const QUERYRESULTS: usize = 24;
const QUERYSTATUS: usize = 25;
const TARGETFILENAME: usize = 26;
const PARAM2: usize = 27;
const N_STR: usize = 28;
const ALL: u32 = (1 << N_STR) - 1;

/// Column builders for one row group.
pub(crate) struct RowGroup {
    created: Vec<i64>,
    ids: Vec<i32>,
    strs: Vec<StringBuilder>,
    filled: u32,
}

impl RowGroup {
    /// Empty builders sized for `rows` rows.
    pub(crate) fn new(rows: usize) -> Self {
        RowGroup {
            created: Vec::with_capacity(rows),
            ids: Vec::with_capacity(rows),
            strs: (0..N_STR)
                .map(|_| StringBuilder::with_capacity(rows, rows * 16))
                .collect(),
            filled: 0,
        }
    }

    /// Rows appended so far.
    pub(crate) fn len(&self) -> usize {
        self.created.len()
    }

    fn set(&mut self, col: usize, v: &str) {
        debug_assert_eq!(self.filled & (1 << col), 0, "column {col} set twice");
        self.strs[col].append_value(v);
        self.filled |= 1 << col;
    }

    fn set_opt(&mut self, col: usize, v: Option<&str>) {
        if let Some(v) = v {
            self.set(col, v);
        }
    }

    fn set_guid(&mut self, col: usize, g: u128) {
        // Writing into a StringBuilder cannot fail.
        let _ = format_guid(&mut self.strs[col], g);
        self.strs[col].append_value("");
        self.filled |= 1 << col;
    }

    fn set_num(&mut self, col: usize, n: u32) {
        let _ = write!(self.strs[col], "{n}");
        self.strs[col].append_value("");
        self.filled |= 1 << col;
    }

    fn end_row(&mut self) {
        let mut missing = !self.filled & ALL;
        while missing != 0 {
            let col = missing.trailing_zeros() as usize;
            self.strs[col].append_null();
            missing &= missing - 1;
        }
        self.filled = 0;
    }

    /// Appends one event, resolving its strings through `ctx` and `topo`.
    pub(crate) fn push(&mut self, ev: &Ev, ctx: &Ctx, topo: &Topology) {
        let kind = ev.kind;
        self.created.push(ev.ts);
        self.ids.push(kind.event_id());
        self.set(CODE, kind.code());
        self.set(CHANNEL, kind.channel());
        self.set(TASK, kind.task());
        let host = &topo.hosts[usize::from(ev.host)];
        self.set(COMPUTER, &host.fqdn);
        match kind {
            Kind::LdapSearch => {
                self.set(USER_NAME, &topo.users[usize::from(ev.user)].sam);
                self.set(PARAM2, text_span(ctx, ev));
            }
            Kind::Logon => {
                self.set(USER_NAME, &topo.users[usize::from(ev.user)].sam);
                if ev.c == NONE {
                    self.set(SOURCEIP, "127.0.0.1");
                    self.set(SOURCEPORT, "0");
                    self.set(SOURCEHOSTNAME, &host.name);
                } else {
                    let from = &topo.hosts[ev.c as usize];
                    self.set(SOURCEIP, &from.ip);
                    self.set_num(SOURCEPORT, ev.b);
                    self.set(SOURCEHOSTNAME, &from.name);
                }
            }
            Kind::WmiFilter | Kind::WmiConsumer | Kind::WmiBinding => {
                self.set(USER_NAME, "SYSTEM");
                self.set(USER, &topo.users[usize::from(ev.user)].qualified);
            }
            _ => self.push_sysmon(ev, ctx, topo),
        }
        self.end_row();
    }

    fn push_sysmon(&mut self, ev: &Ev, ctx: &Ctx, topo: &Topology) {
        self.set(USER_NAME, "SYSTEM");
        let p = &ctx.procs[ev.proc as usize];
        self.set_guid(PROCESSGUID, p.guid);
        self.set(IMAGE, ctx.text(p.image));
        self.set(USER, &topo.users[usize::from(p.user)].qualified);
        match ev.kind {
            Kind::ProcessCreate => {
                self.set(COMMANDLINE, ctx.text(p.cmd));
                self.set(CURRENTDIRECTORY, ctx.text(p.cwd));
                if p.parent != NONE {
                    let parent = &ctx.procs[p.parent as usize];
                    self.set_guid(PARENTPROCESSGUID, parent.guid);
                    self.set(PARENTIMAGE, ctx.text(parent.image));
                    self.set(PARENTCOMMANDLINE, ctx.text(parent.cmd));
                    self.set(PARENTUSER, &topo.users[usize::from(parent.user)].qualified);
                }
            }
            Kind::NetworkConnect => {
                let dst = &topo.endpoints[ev.a as usize];
                let host = &topo.hosts[usize::from(ev.host)];
                if ev.c == NONE {
                    self.set(SOURCEIP, &host.ip);
                    self.set(SOURCEHOSTNAME, &host.fqdn);
                    self.set(INITIATED, "true");
                } else {
                    let from = &topo.hosts[ev.c as usize];
                    self.set(SOURCEIP, &from.ip);
                    self.set(SOURCEHOSTNAME, &from.fqdn);
                    self.set(INITIATED, "false");
                }
                self.set_num(SOURCEPORT, ev.b);
                self.set(PROTOCOL, dst.proto);
                self.set(DESTINATIONIP, &dst.ip);
                self.set(DESTINATIONPORT, &dst.port);
                self.set_opt(DESTINATIONPORTNAME, dst.port_name);
                self.set_opt(DESTINATIONHOSTNAME, dst.hostname.as_deref());
            }
            Kind::DnsQuery => {
                let name = &topo.names[ev.a as usize];
                self.set(QUERYNAME, &name.name);
                self.set(QUERYSTATUS, "0");
                self.set(QUERYRESULTS, &name.results);
            }
            Kind::FileCreate => self.set(TARGETFILENAME, text_span(ctx, ev)),
            _ => {}
        }
    }

    /// Turns the builders into a record batch of the lake schema and empties them.
    ///
    /// # Errors
    /// If Arrow rejects the columns (a bug: lengths and types are fixed here).
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let created = Int64Array::from(std::mem::take(&mut self.created));
        let ids = Int32Array::from(std::mem::take(&mut self.ids));
        let mut strs = self
            .strs
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(30);
        columns.push(Arc::new(created));
        columns.extend(strs.next());
        columns.push(Arc::new(ids));
        columns.extend(strs);
        RecordBatch::try_new(lake_schema(), columns)
    }
}

fn text_span<'c>(ctx: &'c Ctx, ev: &Ev) -> &'c str {
    &ctx.arena[ev.a as usize..(ev.a + ev.b) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Builder, Text};
    use crate::topology::{Slot, Svc};
    use datafusion::arrow::array::{Array, AsArray};

    #[test]
    fn rows_fill_only_their_fields() {
        let topo = Topology::new(3, 1, 1_700_000_000);
        let mut b = Builder::new(&topo, 1);
        let parent = b.long_lived(2, Slot::Services);
        let p = b.spawn(
            2,
            4,
            Text::Static(r"C:\x.exe"),
            Text::Static("x.exe /y"),
            Text::Static(r"C:\"),
            parent,
            10,
        );
        b.dns(11, p, 0);
        let ep = topo.service(0, Svc::Ldap);
        b.net_out(12, p, ep);
        let (ctx, evs) = b.finish();
        let mut rg = RowGroup::new(4);
        for ev in &evs {
            rg.push(ev, &ctx, &topo);
        }
        let batch = rg.finish().expect("valid batch");
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(batch.schema(), lake_schema());
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .expect("column")
                .as_string::<i32>()
        };
        let cmd = col("winlog_event_data_commandline");
        assert_eq!(cmd.value(0), "x.exe /y");
        assert!(cmd.is_null(1) && cmd.is_null(2));
        let parent_image = col("winlog_event_data_parentimage");
        assert_eq!(parent_image.value(0), r"C:\Windows\System32\services.exe");
        assert_eq!(
            col("winlog_event_data_queryname").value(1),
            "DC01.contoso.local"
        );
        assert!(col("winlog_event_data_destinationip").is_null(1));
        assert_eq!(
            col("winlog_event_data_destinationip").value(2),
            "10.10.0.10"
        );
        assert_eq!(col("winlog_event_data_destinationport").value(2), "389");
        assert_eq!(col("winlog_event_data_initiated").value(2), "true");
        assert_eq!(col("event_code").value(2), "3");
    }
}
