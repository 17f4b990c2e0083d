//! A data set's fingerprint: how many events it holds and the time of its first and last
//! one. A lab writes it into its ground truth, a hunt run into its manifest, and
//! `huntsman eval` refuses to score a run against labels of other data.

use serde::{Deserialize, Serialize};

/// What identifies the events a run or a set of labels describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Rows of the events table.
    pub events: u64,
    /// Earliest `event_created`, epoch ns.
    pub first_event_ns: i64,
    /// Latest `event_created`, epoch ns.
    pub last_event_ns: i64,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events from {} to {}",
            self.events,
            crate::clock::iso(self.first_event_ns),
            crate::clock::iso(self.last_event_ns)
        )
    }
}
