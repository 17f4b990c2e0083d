//! The source layouts a record can be in.

use std::fmt;

/// A source layout, detected per record from the keys present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// winlogbeat 7 and 8: `winlog.event_id`, `winlog.channel`, `winlog.event_data.*`.
    Winlogbeat,
    /// winlogbeat 6: top-level `event_id`, `log_name`, `computer_name`, `event_data.*`.
    Winlogbeat6,
    /// nxlog-style flat records: `EventID`, `Channel`, `Hostname` and the event data all
    /// at the top level.
    NxlogFlat,
    /// EVTX records, or evtx_dump's JSON of them: `Event.System.*`, `Event.EventData.*`.
    Evtx,
}

impl Layout {
    /// Every layout, in the order reports list them.
    pub const ALL: [Layout; 4] = [
        Layout::Winlogbeat,
        Layout::Winlogbeat6,
        Layout::NxlogFlat,
        Layout::Evtx,
    ];

    /// The layout's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Winlogbeat => "winlogbeat-7/8",
            Layout::Winlogbeat6 => "winlogbeat-6",
            Layout::NxlogFlat => "nxlog-flat",
            Layout::Evtx => "evtx",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
