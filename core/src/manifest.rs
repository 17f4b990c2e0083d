//! The run manifest (`manifest.json` beside a run's findings): one typed, versioned
//! record that `huntsman hunt` writes and `huntsman eval`, `huntsman serve` and any
//! client read. Version 2 added the pack, the unit and the flag column; a version 1
//! manifest (written before hunts were packs) reads with those absent.

use std::collections::BTreeMap;
use std::hash::BuildHasher as _;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;

/// The `format` every manifest carries.
pub const FORMAT: &str = "huntsman-run";

/// The version this build writes; it reads every version up to it.
pub const VERSION: u32 = 2;

/// One run of one hunt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The manifest's version ([`VERSION`] when written by this build).
    pub version: u32,
    /// The hunt's name.
    pub hunt: String,
    /// The run's id (its folder name).
    pub run_id: String,
    /// When the run started, RFC 3339.
    pub started: String,
    /// When it finished, RFC 3339.
    pub finished: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The events it read.
    pub data: DataScope,
    /// Canonical column → the SQL it was read from (`None`: missing).
    #[serde(default)]
    pub columns: BTreeMap<String, Option<String>>,
    /// Every parameter the hunt reads, with its value and origin.
    #[serde(default)]
    pub parameters: BTreeMap<String, ParamRecord>,
    /// Values the phases computed from the data (placeholder → SQL literal).
    #[serde(default)]
    pub effective: BTreeMap<String, String>,
    /// Where the hunt's pack came from (absent before version 2).
    #[serde(default)]
    pub pack: Option<PackRecord>,
    /// Model name → stored location.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
    /// What the run produced.
    pub results: Results,
    /// What the allow-list did.
    #[serde(default)]
    pub allow_list: Applied,
    /// Each phase's time and size.
    #[serde(default)]
    pub phases: Vec<PhaseTiming>,
}

/// The events a run read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataScope {
    /// The events' location, as given.
    pub location: String,
    /// `--since`, as given.
    #[serde(default)]
    pub since: Option<String>,
    /// `--until`, as given.
    #[serde(default)]
    pub until: Option<String>,
    /// Events in the range the hunt saw.
    #[serde(default)]
    pub events: i64,
    /// The first event it saw, epoch ns.
    #[serde(default)]
    pub first_event_ns: Option<i64>,
    /// The last event it saw, epoch ns.
    #[serde(default)]
    pub last_event_ns: Option<i64>,
    /// The whole data set's fingerprint (labels carry the one they describe).
    #[serde(default)]
    pub fingerprint: Option<Fingerprint>,
}

/// A parameter's value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamRecord {
    /// The value (a number, a flag or text).
    pub value: serde_json::Value,
    /// Where it came from.
    pub origin: Origin,
}

/// The hunt's pack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackRecord {
    /// The pack's name (the hunt's).
    pub name: String,
    /// Its folder (`hunts/<name>` for a built-in one).
    pub source: String,
    /// Whether it is the one built into the binary.
    pub builtin: bool,
    /// Its files that differ from the built-in pack of the same name.
    pub changed: Vec<String>,
}

/// What a run produced and how to read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The findings' location; `None` when there was nothing to score.
    pub findings: Option<String>,
    /// Why there was nothing to score.
    #[serde(default)]
    pub nothing_to_score: Option<String>,
    /// What one finding is (absent before version 2).
    #[serde(default)]
    pub unit: Option<String>,
    /// Columns identifying a finding.
    pub entity: Vec<String>,
    /// The ranking score column.
    pub score: String,
    /// The boolean decision column.
    #[serde(default = "default_flag")]
    pub flag: String,
    /// Findings written.
    pub rows: u64,
    /// Flagged and not suppressed.
    pub flagged: u64,
    /// Flagged and suppressed by the allow-list.
    #[serde(default)]
    pub suppressed: u64,
    /// The ATT&CK ids every finding carries.
    #[serde(default)]
    pub attack_techniques: Vec<String>,
}

fn default_flag() -> String {
    "flagged".to_string()
}

impl RunManifest {
    /// Reads a manifest; `origin` names it in messages.
    ///
    /// # Errors
    /// Not JSON, not a run manifest, a version this build does not read, or a field of
    /// the wrong type; each names `origin`.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| anyhow::anyhow!("{origin}: not a JSON run manifest: {e}"))?;
        let format = value["format"].as_str().unwrap_or("(none)");
        if format != FORMAT {
            bail!(
                "{origin}: format {format:?} is not a Huntsman run manifest ({FORMAT:?})"
            );
        }
        match value["version"].as_u64() {
            Some(v) if (1..=u64::from(VERSION)).contains(&v) => {}
            v => bail!(
                "{origin}: manifest version {} is not one this build reads (1 to {VERSION}); \
                 a newer huntsman wrote it",
                v.map_or("(none)".to_string(), |v| v.to_string())
            ),
        }
        serde_json::from_value(value).map_err(|e| anyhow::anyhow!("{origin}: {e}"))
    }

    /// The manifest as JSON, as it is stored.
    ///
    /// # Errors
    /// A value that JSON cannot hold (a non-finite number of seconds).
    pub fn to_json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(self)?)
    }

    /// A parameter's value as a whole number, when the run recorded it.
    pub fn int_parameter(&self, name: &str) -> Option<i64> {
        let value = &self.parameters.get(name)?.value;
        value.as_i64().or_else(|| value.as_str()?.parse().ok())
    }

    /// A value the run computed, as a whole number, when it did.
    pub fn int_effective(&self, placeholder: &str) -> Option<i64> {
        self.effective.get(placeholder)?.parse().ok()
    }
}

/// One allow-list entry, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AllowEntry {
    /// The entry's id (given, or `line N`).
    pub id: String,
    /// Where it is written: the file's line.
    pub line: usize,
    /// The hunt it applies to; every hunt with its entity columns when absent.
    pub hunt: Option<String>,
    /// Column → value, all of which must match (compared as text).
    pub entity: Vec<(String, String)>,
    /// A SQL predicate over the findings' columns.
    pub when: Option<String>,
    /// Why these findings are benign.
    pub reason: String,
    /// Who decided it.
    pub author: String,
    /// The last day (UTC, `YYYY-MM-DD`) the entry suppresses.
    pub expires: Option<String>,
}

/// What the allow-list applied to one hunt's findings (`hunt::allow::finish_findings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Applied {
    /// The allow-list file.
    pub file: Option<String>,
    /// The entries that could suppress this hunt's findings.
    pub entries: Vec<AllowEntry>,
    /// The entries that have expired (not applied).
    pub expired: Vec<AllowEntry>,
}

/// Where a parameter's value came from, for the run manifest and `--list-params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The environment or `.env`.
    Env,
    /// A `--set` flag.
    Flag,
}

/// Timing of one phase, for the manifest and the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseTiming {
    /// Phase name.
    pub phase: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Rows the phase produced.
    pub rows: u64,
    /// Bytes of query results (Arrow memory) the phase brought into the client: a
    /// model or a number; never a table, which the cluster writes to the store.
    pub client_bytes: u64,
}

/// A run id: the UTC start time, then 32 random bits, e.g. `20240102T030405Z-1a2b3c4d`.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or(0);
    // std's RandomState is seeded randomly per process; hashing the time and pid with it
    // gives bits that differ between runs started in the same second.
    let bits =
        std::hash::RandomState::new().hash_one((now.as_nanos(), std::process::id()));
    format!("{}-{:08x}", crate::clock::compact_utc(secs), bits as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written() -> RunManifest {
        RunManifest {
            format: FORMAT.into(),
            version: VERSION,
            hunt: "c2-beacon".into(),
            run_id: "20261203T000000Z-00000000".into(),
            data: DataScope {
                location: "/lake".into(),
                first_event_ns: Some(1),
                last_event_ns: Some(2),
                ..DataScope::default()
            },
            pack: Some(PackRecord {
                name: "c2-beacon".into(),
                source: "hunts/c2-beacon".into(),
                builtin: true,
                changed: Vec::new(),
            }),
            results: Results {
                unit: Some("process-destination".into()),
                entity: vec!["processguid".into()],
                score: "c2_score".into(),
                flag: "flagged".into(),
                ..Results::default()
            },
            ..RunManifest::default()
        }
    }

    #[test]
    fn a_written_manifest_reads_back_as_it_was() {
        let manifest = written();
        let bytes = serde_json::to_vec(&manifest.to_json().unwrap()).unwrap();
        assert_eq!(RunManifest::parse(&bytes, "m").unwrap(), manifest);
    }

    #[test]
    fn a_version_1_manifest_reads_without_pack_unit_or_flag() {
        let v1 = serde_json::json!({
            "format": FORMAT, "version": 1, "hunt": "c2-beacon", "run_id": "r",
            "started": "", "finished": "", "seconds": 1.0,
            "data": {"location": "/lake"},
            "sql_overrides": [],
            "results": {"findings": null, "entity": ["processguid"], "score": "c2_score",
                        "rows": 0, "flagged": 0},
        });
        let m = RunManifest::parse(v1.to_string().as_bytes(), "old").unwrap();
        assert_eq!((m.pack, m.results.unit), (None, None));
        assert_eq!(m.results.flag, "flagged");
    }

    #[test]
    fn other_formats_and_newer_versions_are_refused_by_name() {
        let mut newer = written().to_json().unwrap();
        newer["version"] = serde_json::json!(VERSION + 1);
        let err = RunManifest::parse(newer.to_string().as_bytes(), "m.json").unwrap_err();
        assert!(
            format!("{err:#}").contains("m.json: manifest version 3"),
            "{err:#}"
        );
        let err = RunManifest::parse(b"{\"format\": \"x\"}", "m.json").unwrap_err();
        assert!(
            format!("{err:#}").contains("not a Huntsman run manifest"),
            "{err:#}"
        );
        let err = RunManifest::parse(b"[1", "m.json").unwrap_err();
        assert!(format!("{err:#}").contains("m.json: not a JSON"), "{err:#}");
        let mut wrong = written().to_json().unwrap();
        wrong["results"]["rows"] = serde_json::json!("many");
        assert!(RunManifest::parse(wrong.to_string().as_bytes(), "m.json").is_err());
    }
}
