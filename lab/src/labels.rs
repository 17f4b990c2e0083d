//! Ground truth and the lab manifest, written as JSON beside the events.
//!
//! `labels/ground_truth.json` lists, per injected activity, the entities each hunt should
//! (malicious) or should not (hard negative) flag, at that hunt's unit of analysis. The types
//! are public and deserialisable so evaluation code can read the file back. `labels/lab.json`
//! records the options and the simulated domain. See `docs/lab.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::clock::{DAY, MIN, iso};

/// The units at which a lab's ground truth keys its entities (a hunt pack's `unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `account-week`: (user, week bucket).
    AccountWeek,
    /// `process-destination`: (process GUID, destination address, port).
    ProcessDestination,
    /// `process`: a process GUID.
    Process,
    /// `source-host`: a source address.
    SourceHost,
    /// Any other unit: the ground truth has no keys for it.
    Other,
}

impl Unit {
    /// The unit a pack's `unit` names.
    pub fn parse(unit: &str) -> Self {
        match unit {
            "account-week" => Unit::AccountWeek,
            "process-destination" => Unit::ProcessDestination,
            "process" => Unit::Process,
            "source-host" => Unit::SourceHost,
            _ => Unit::Other,
        }
    }
}

/// Whether a lab's ground truth has keys at `unit`.
pub fn has_keys_at(unit: &str) -> bool {
    Unit::parse(unit) != Unit::Other
}

/// Format tag of `ground_truth.json`.
pub const GROUND_TRUTH_FORMAT: &str = "huntsman-lab-ground-truth";
/// Format tag of `lab.json`.
pub const MANIFEST_FORMAT: &str = "huntsman-lab-manifest";
/// Version of both formats.
pub const LABELS_VERSION: u32 = 1;
/// Days per week bucket of the AD hunts.
pub const WEEK_BUCKET_DAYS: i64 = 7;
/// Window length of the widespread-attack hunt, minutes.
pub const WINDOW_MINUTES: i64 = 60;
/// Window slide of the widespread-attack hunt, minutes.
pub const WINDOW_SLIDE_MINUTES: i64 = 10;

/// The labelled ground truth of a generated lab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Always [`GROUND_TRUTH_FORMAT`].
    pub format: String,
    /// Always [`LABELS_VERSION`].
    pub version: u32,
    /// The lab's seed.
    pub seed: u64,
    /// Profiles the lab was generated with (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// Time of the earliest event in the lake (epoch ns); week 0 starts here.
    pub earliest_event_ns: i64,
    /// The same, RFC 3339.
    pub earliest_event: String,
    /// Days per week bucket ([`WEEK_BUCKET_DAYS`]).
    pub week_bucket_days: i64,
    /// Window length in minutes ([`WINDOW_MINUTES`]).
    pub window_minutes: i64,
    /// Window slide in minutes ([`WINDOW_SLIDE_MINUTES`]).
    pub window_slide_minutes: i64,
    /// The events these labels describe (absent in labels written before it existed):
    /// `huntsman eval` refuses a run made on other data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<huntsman_core::fingerprint::Fingerprint>,
    /// One group per injected activity, malicious first.
    pub groups: Vec<LabelGroup>,
}

/// Whether a group's entities are malicious or benign look-alikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Injected attack activity: hunts should flag these entities.
    Malicious,
    /// Benign activity built to look like the attack: hunts should not flag these.
    HardNegative,
}

/// One injected activity and its entities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelGroup {
    /// The scenario name (`ad-enum`, `c2-beacon`, `process-anomaly`, `widespread-attack`)
    /// whose hunts the group concerns.
    pub scenario: String,
    /// Short name of this activity, e.g. `fast-implant`.
    pub name: String,
    /// Malicious or hard negative.
    pub label: Label,
    /// The hunts the entities are meant for.
    pub hunts: Vec<String>,
    /// MITRE ATT&CK technique ids.
    pub techniques: Vec<String>,
    /// What happened, in a sentence or two.
    pub description: String,
    /// First event of the activity, epoch ns.
    pub start_ns: i64,
    /// Last event of the activity, epoch ns.
    pub end_ns: i64,
    /// `start_ns` as RFC 3339.
    pub start: String,
    /// `end_ns` as RFC 3339.
    pub end: String,
    /// Events the activity added to the lake.
    pub events: u64,
    /// The labelled entities.
    pub entities: Vec<Entity>,
}

/// A labelled entity at one hunt's unit of analysis.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "unit", rename_all = "snake_case")]
pub enum Entity {
    /// AD hunts: an account (`winlog_user_name`) in a week counted from the earliest event.
    UserWeek {
        /// The account.
        user: String,
        /// Week index, `floor((t - earliest_event_ns) / 7 days)`.
        week: i64,
        /// LDAP searches of this activity by the account in that week.
        queries: u64,
    },
    /// Process hunts: one process.
    Process {
        /// `winlog_event_data_processguid`.
        processguid: String,
        /// `winlog_computer_name`.
        host: String,
        /// `winlog_event_data_image`.
        image: String,
        /// `winlog_event_data_commandline`.
        commandline: String,
    },
    /// C2 hunt: a process and one destination it connected to.
    ProcessDestination {
        /// `winlog_event_data_processguid`.
        processguid: String,
        /// `winlog_event_data_destinationip`.
        destinationip: String,
        /// `winlog_event_data_destinationport`.
        destinationport: String,
    },
    /// Widespread hunt: the source of the lateral movement.
    SourceIp {
        /// `winlog_event_data_sourceip`.
        sourceip: String,
        /// Its host's fully qualified name.
        host: String,
    },
    /// Widespread hunt: a window (start aligned to the slide) in which the source connected
    /// to `victims` distinct private destinations.
    SourceWindow {
        /// `winlog_event_data_sourceip`.
        sourceip: String,
        /// Window start, epoch ns, a multiple of the slide.
        window_start_ns: i64,
        /// Window end (exclusive), epoch ns.
        window_end_ns: i64,
        /// Window start, RFC 3339.
        window_start: String,
        /// Distinct destination IPs of the source in the window.
        victims: u32,
    },
    /// Widespread hunt: a host the source reached and acted on.
    VictimHost {
        /// Fully qualified name (`winlog_computer_name`).
        host: String,
        /// Its IP.
        ip: String,
    },
}

/// A label group being built, before the earliest event time is known.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    pub group: LabelGroup,
    /// LDAP searches as (account, time), turned into user-week entities at the end.
    pub ldap: Vec<(String, i64)>,
    /// Lateral connections as (source IP, destination IP, time), turned into windows.
    pub lateral: Vec<(String, String, i64)>,
}

impl Draft {
    /// An empty draft.
    pub(crate) fn new(
        scenario: &str,
        name: &str,
        label: Label,
        hunts: &[&str],
        techniques: &[&str],
        description: String,
    ) -> Self {
        Draft {
            group: LabelGroup {
                scenario: scenario.to_string(),
                name: name.to_string(),
                label,
                hunts: hunts.iter().map(|s| s.to_string()).collect(),
                techniques: techniques.iter().map(|s| s.to_string()).collect(),
                description,
                start_ns: i64::MAX,
                end_ns: i64::MIN,
                start: String::new(),
                end: String::new(),
                events: 0,
                entities: Vec::new(),
            },
            ldap: Vec::new(),
            lateral: Vec::new(),
        }
    }

    /// Completes the group: time range strings, user-weeks and windows.
    pub(crate) fn finish(mut self, earliest: i64) -> LabelGroup {
        let g = &mut self.group;
        if g.start_ns > g.end_ns {
            g.start_ns = earliest;
            g.end_ns = earliest;
        }
        g.start = iso(g.start_ns);
        g.end = iso(g.end_ns);
        let mut weeks: BTreeMap<(String, i64), u64> = BTreeMap::new();
        for (user, t) in self.ldap {
            let week = (t - earliest).div_euclid(WEEK_BUCKET_DAYS * DAY);
            *weeks.entry((user, week)).or_default() += 1;
        }
        for ((user, week), queries) in weeks {
            g.entities.push(Entity::UserWeek {
                user,
                week,
                queries,
            });
        }
        g.entities.extend(windows(&self.lateral));
        self.group
    }
}

/// Merges drafts of the same activity (scenario, name and label), e.g. one per day, into one
/// draft each, in order of first appearance.
pub(crate) fn merge_drafts(drafts: Vec<Draft>) -> Vec<Draft> {
    let mut out: Vec<Draft> = Vec::new();
    for d in drafts {
        let same = |o: &&mut Draft| {
            o.group.scenario == d.group.scenario
                && o.group.name == d.group.name
                && o.group.label == d.group.label
        };
        match out.iter_mut().find(same) {
            Some(o) => {
                let (g, h) = (&mut o.group, d.group);
                g.start_ns = g.start_ns.min(h.start_ns);
                g.end_ns = g.end_ns.max(h.end_ns);
                g.events += h.events;
                g.entities.extend(h.entities);
                o.ldap.extend(d.ldap);
                o.lateral.extend(d.lateral);
            }
            None => out.push(d),
        }
    }
    out
}

/// Sliding windows (aligned to the slide from the epoch) that contain lateral connections,
/// with the distinct destinations of each source in each.
pub(crate) fn windows(lateral: &[(String, String, i64)]) -> Vec<Entity> {
    let (len, slide) = (WINDOW_MINUTES * MIN, WINDOW_SLIDE_MINUTES * MIN);
    let mut per: BTreeMap<(String, i64), BTreeSet<&str>> = BTreeMap::new();
    for (src, dst, t) in lateral {
        let last = t.div_euclid(slide) * slide;
        let mut s = last;
        while s > t - len {
            per.entry((src.clone(), s)).or_default().insert(dst);
            s -= slide;
        }
    }
    per.into_iter()
        .map(|((sourceip, s), dsts)| Entity::SourceWindow {
            sourceip,
            window_start_ns: s,
            window_end_ns: s + len,
            window_start: iso(s),
            victims: dsts.len() as u32,
        })
        .collect()
}

/// The options and the simulated domain of a generated lab (`labels/lab.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabManifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Always [`LABELS_VERSION`].
    pub version: u32,
    /// Seed of every random choice.
    pub seed: u64,
    /// Hosts, including the domain controller and the file server.
    pub hosts: usize,
    /// Days simulated.
    pub days: u32,
    /// First day, `YYYY-MM-DD` (UTC midnight).
    pub start_date: String,
    /// Lab start, epoch ns.
    pub start_ns: i64,
    /// Lab end (exclusive), epoch ns.
    pub end_ns: i64,
    /// The requested event total.
    pub events_target: u64,
    /// Events written.
    pub events_written: u64,
    /// Whether the hard negatives were generated.
    pub hard_negatives: bool,
    /// Scenarios with their intensity and event counts.
    pub scenarios: Vec<ManifestScenario>,
    /// Profiles the lab was generated with (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// NetBIOS domain.
    pub domain: String,
    /// DNS domain.
    pub dns_domain: String,
    /// Windows Event Forwarding collector (fully qualified name).
    pub wef_collector: String,
    /// Every host.
    pub host_list: Vec<ManifestHost>,
    /// Every account.
    pub users: Vec<ManifestUser>,
    /// Event files, relative to the output folder, with their row counts.
    pub files: Vec<ManifestFile>,
}

/// A scenario in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestScenario {
    /// Scenario name.
    pub name: String,
    /// Intensity multiplier.
    pub intensity: f64,
    /// Events the scenario added.
    pub events: u64,
}

/// A host in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestHost {
    /// Short name, e.g. `WS01`.
    pub name: String,
    /// Fully qualified name, as in `winlog_computer_name`.
    pub fqdn: String,
    /// IPv4 address.
    pub ip: String,
    /// Role in the domain.
    pub role: super::topology::Role,
    /// The person using the workstation.
    pub user: Option<String>,
}

/// An account in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestUser {
    /// Account name (`winlog_user_name`).
    pub name: String,
    /// `DOMAIN\name`, as in Sysmon's `User`.
    pub qualified: String,
    /// Kind of account.
    pub kind: super::topology::UserKind,
}

/// An event file in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path relative to the output folder, with `/` separators.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_each_connection_six_times() {
        let t0 = 1_000 * WINDOW_SLIDE_MINUTES * MIN + 5 * MIN;
        let lateral = vec![
            ("10.0.0.1".to_string(), "10.0.0.2".to_string(), t0),
            (
                "10.0.0.1".to_string(),
                "10.0.0.3".to_string(),
                t0 + 15 * MIN,
            ),
        ];
        let w = windows(&lateral);
        assert_eq!(w.len(), 8);
        let both = w
            .iter()
            .filter(|e| matches!(e, Entity::SourceWindow { victims: 2, .. }))
            .count();
        assert_eq!(both, 4);
        for e in &w {
            if let Entity::SourceWindow {
                window_start_ns, ..
            } = e
            {
                assert_eq!(window_start_ns % (WINDOW_SLIDE_MINUTES * MIN), 0);
            }
        }
    }

    #[test]
    fn user_weeks_count_from_the_earliest_event() {
        let mut d = Draft::new("ad-enum", "x", Label::Malicious, &[], &[], String::new());
        d.ldap.push(("eve".into(), 10));
        d.ldap.push(("eve".into(), 10 + 7 * DAY));
        d.ldap.push(("eve".into(), 11 + 7 * DAY));
        let g = d.finish(10);
        assert_eq!(
            g.entities,
            vec![
                Entity::UserWeek {
                    user: "eve".into(),
                    week: 0,
                    queries: 1
                },
                Entity::UserWeek {
                    user: "eve".into(),
                    week: 1,
                    queries: 2
                },
            ]
        );
    }

    #[test]
    fn entities_serialise_with_their_unit() {
        let e = Entity::VictimHost {
            host: "WS02.contoso.local".into(),
            ip: "10.10.1.21".into(),
        };
        let json = serde_json::to_string(&e).expect("serialisable");
        assert_eq!(
            json,
            r#"{"unit":"victim_host","host":"WS02.contoso.local","ip":"10.10.1.21"}"#
        );
        let back: Entity = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, e);
    }
}
