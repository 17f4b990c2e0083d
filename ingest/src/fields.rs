//! Where a record's event-data keys go: the value slots of a parsed record (the
//! mapping's helper fields, then the lake's event-data columns) and the case-insensitive
//! lookup from a source key to its slot.

use std::sync::OnceLock;

use huntsman_core::schema::{COLUMNS, SOURCEHOSTNAME, SOURCEIP, SOURCEPORT};

/// Value slots per record: the mapping's helper fields, then the event-data columns.
pub(crate) const MAX_SLOTS: usize = 40;

/// Sysmon `UtcTime`, the preferred event time.
pub(super) const X_UTCTIME: usize = 0;
/// Security 4624 `TargetUserName`, the logged-on account.
pub(super) const X_TARGETUSERNAME: usize = 1;
/// Security 4624 `IpAddress`, stored as the source IP.
pub(super) const X_IPADDRESS: usize = 2;
/// Security 4624 `IpPort`, stored as the source port.
pub(super) const X_IPPORT: usize = 3;
/// Security 4624 `WorkstationName`, stored as the source host name.
pub(super) const X_WORKSTATIONNAME: usize = 4;
/// Lower-cased names of the helper slots, in slot order.
const HELPER_NAMES: [&str; 5] = [
    "utctime",
    "targetusername",
    "ipaddress",
    "ipport",
    "workstationname",
];

const _: () = assert!(COLUMNS.len() + HELPER_NAMES.len() <= MAX_SLOTS);

/// Prefix of the lake's event-data columns.
pub(super) const DATA_PREFIX: &str = "winlog_event_data_";

/// Where event-data keys go: a case-insensitive lookup from a source key to its slot, and
/// from each slot to its lake column.
pub(crate) struct FieldIndex {
    /// Lower-case names and slots, bucketed by name length for a fast lookup.
    by_len: Vec<Vec<(&'static str, usize)>>,
    /// `(slot, column index in the lake schema)` of every event-data column.
    pub data_columns: Vec<(usize, usize)>,
    /// Slots of the columns the 4624 helper fields fill.
    pub(super) sourceip: Option<usize>,
    pub(super) sourceport: Option<usize>,
    pub(super) sourcehostname: Option<usize>,
}

impl FieldIndex {
    /// The index built from the lake schema's column list.
    pub(crate) fn get() -> &'static FieldIndex {
        static INDEX: OnceLock<FieldIndex> = OnceLock::new();
        INDEX.get_or_init(FieldIndex::new)
    }

    fn new() -> Self {
        let mut names: Vec<(&'static str, usize)> = HELPER_NAMES
            .iter()
            .enumerate()
            .map(|(slot, &n)| (n, slot))
            .collect();
        let mut data_columns = Vec::new();
        for (col, name) in COLUMNS.iter().enumerate() {
            let Some(suffix) = name.strip_prefix(DATA_PREFIX) else {
                continue;
            };
            // A column named like a helper shares its slot.
            let slot = match names.iter().find(|(n, _)| *n == suffix) {
                Some(&(_, slot)) => slot,
                None => {
                    names.push((suffix, names.len()));
                    names.len() - 1
                }
            };
            data_columns.push((slot, col));
        }
        let max_len = names.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut by_len = vec![Vec::new(); max_len + 1];
        for &(n, slot) in &names {
            by_len[n.len()].push((n, slot));
        }
        let slot_of = |column: &str| {
            let suffix = column.strip_prefix(DATA_PREFIX)?;
            names.iter().find(|(n, _)| *n == suffix).map(|&(_, s)| s)
        };
        FieldIndex {
            sourceip: slot_of(SOURCEIP),
            sourceport: slot_of(SOURCEPORT),
            sourcehostname: slot_of(SOURCEHOSTNAME),
            by_len,
            data_columns,
        }
    }

    /// The slot of a source key, compared case-insensitively, if the lake keeps it.
    pub(crate) fn slot(&self, key: &str) -> Option<usize> {
        self.by_len
            .get(key.len())?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
            .map(|&(_, slot)| slot)
    }
}
