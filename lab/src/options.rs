//! Lab options: the unchecked [`LabOptions`], their single validation
//! ([`LabOptions::check`]) into [`LabValidOptions`], the scenario names and the errors.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::clock::{self, DAY};
use super::variants::LabProfile;

/// Most hosts a lab may have.
pub const MAX_HOSTS: i64 = 5_000;
/// Most days a lab may span.
pub const MAX_DAYS: i64 = 366;
/// Most events a lab may target.
pub const MAX_EVENTS: i64 = 10_000_000_000;
/// Largest intensity of a scenario.
pub const MAX_INTENSITY: f64 = 10.0;

/// An attack scenario the lab can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// One account slowly enumerates Active Directory over LDAP (1644 on the DC).
    AdEnum,
    /// Two implants beacon to external servers (Sysmon 1, 3, 22).
    C2Beacon,
    /// A macro intrusion: office → cmd → encoded PowerShell, rundll32 from temp, certutil
    /// download, LSASS dump.
    ProcessAnomaly,
    /// Lateral movement from one workstation to many hosts by WMI and remote services.
    WidespreadAttack,
}

impl Scenario {
    /// Every scenario, in the order they are generated.
    pub const ALL: [Scenario; 4] = [
        Scenario::AdEnum,
        Scenario::C2Beacon,
        Scenario::ProcessAnomaly,
        Scenario::WidespreadAttack,
    ];

    /// The scenario's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::AdEnum => "ad-enum",
            Scenario::C2Beacon => "c2-beacon",
            Scenario::ProcessAnomaly => "process-anomaly",
            Scenario::WidespreadAttack => "widespread-attack",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Self, LabError> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| LabError::UnknownScenario(s.to_string()))
    }
}

/// Why lab options were rejected or generation failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Fewer than three hosts, or more than [`MAX_HOSTS`].
    #[error(
        "hosts must be between 3 (a domain controller, a file server and a workstation) and \
         {MAX_HOSTS} (got {0})"
    )]
    Hosts(i64),
    /// Days outside 1..=[`MAX_DAYS`].
    #[error("days must be between 1 and {MAX_DAYS} (got {0})")]
    Days(i64),
    /// Events outside 1..=[`MAX_EVENTS`].
    #[error("events must be between 1 and {MAX_EVENTS} (got {0})")]
    Events(i64),
    /// A scenario name that is not one of [`Scenario::ALL`].
    #[error(
        "unknown scenario {0:?} (expected ad-enum, c2-beacon, process-anomaly, \
         widespread-attack, all or none)"
    )]
    UnknownScenario(String),
    /// A scenario named twice.
    #[error("scenario {0} is given more than once")]
    DuplicateScenario(Scenario),
    /// A profile name that is not one of [`LabProfile::ALL`].
    #[error(
        "unknown profile {0:?} (expected per-user-installs, long-tail, shared-c2, proxy, worm \
         or admin-activity)"
    )]
    UnknownProfile(String),
    /// A profile named twice.
    #[error("profile {0} is given more than once")]
    DuplicateProfile(LabProfile),
    /// An intensity that is not a number in (0, [`MAX_INTENSITY`]].
    #[error(
        "intensity of {scenario} must be a number above 0 and at most {MAX_INTENSITY} (got {value:?})"
    )]
    Intensity {
        /// The scenario, or `all` for the global intensity.
        scenario: String,
        /// The value as given.
        value: String,
    },
    /// A start date that is not `YYYY-MM-DD`.
    #[error("start must be a date like 2024-03-04 (got {0:?})")]
    Start(String),
    /// Too few hosts for a scenario.
    #[error("scenario {scenario} needs at least {needed} hosts (got {got})")]
    HostsForScenario {
        /// The scenario.
        scenario: Scenario,
        /// Hosts it needs.
        needed: i64,
        /// Hosts requested.
        got: i64,
    },
    /// The output folder has other content and `overwrite` was not given.
    #[error("output folder {} is not empty (pass --overwrite to replace its events/ and labels/)", .0.display())]
    OutputNotEmpty(PathBuf),
    /// The output path exists and is not a folder.
    #[error("output path {} is not a folder", .0.display())]
    OutputNotDir(PathBuf),
    /// A file-system error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A Parquet or Arrow error while writing.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// A JSON encoding error.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A generator thread panicked (a bug).
    #[error("a lab generator thread panicked while writing day {0}")]
    Panicked(u32),
}

/// Lab options as given: checked by [`LabOptions::check`].
#[derive(Clone, Debug, PartialEq)]
pub struct LabOptions {
    /// Hosts, including the domain controller and the file server (default 11).
    pub hosts: i64,
    /// Days simulated (default 14).
    pub days: i64,
    /// Target event total; scenarios add a fixed number and the baseline fills the rest
    /// (default 200 000).
    pub events: i64,
    /// Seed of every random choice (default 42).
    pub seed: u64,
    /// First day, `YYYY-MM-DD`, UTC (default `2024-03-04`, a Monday).
    pub start: String,
    /// Scenarios, each `name` or `name:intensity`; `all` and `none` are accepted (default
    /// all four).
    pub scenarios: Vec<String>,
    /// Intensity of scenarios that give none (default 1.0).
    pub intensity: f64,
    /// Whether to add the hard negatives (default true).
    pub hard_negatives: bool,
    /// Worker threads, 0 for one per core (default 0). Output does not depend on it.
    pub threads: usize,
    /// Profiles (named variations of the lab, see `docs/lab.md`), combinable (default
    /// none: the lab as it always was).
    pub profiles: Vec<String>,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            hosts: 11,
            days: 14,
            events: 200_000,
            seed: 42,
            start: "2024-03-04".to_string(),
            scenarios: Scenario::ALL.iter().map(|s| s.name().to_string()).collect(),
            intensity: 1.0,
            hard_negatives: true,
            threads: 0,
            profiles: Vec::new(),
        }
    }
}

impl LabOptions {
    /// Sets the number of hosts.
    pub fn hosts(mut self, hosts: i64) -> Self {
        self.hosts = hosts;
        self
    }

    /// Sets the number of days.
    pub fn days(mut self, days: i64) -> Self {
        self.days = days;
        self
    }

    /// Sets the target event total.
    pub fn events(mut self, events: i64) -> Self {
        self.events = events;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the first day (`YYYY-MM-DD`).
    pub fn start(mut self, start: &str) -> Self {
        self.start = start.to_string();
        self
    }

    /// Sets the scenarios (`name` or `name:intensity`).
    pub fn scenarios<S: AsRef<str>>(mut self, scenarios: &[S]) -> Self {
        self.scenarios = scenarios.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    /// Sets the default intensity.
    pub fn intensity(mut self, intensity: f64) -> Self {
        self.intensity = intensity;
        self
    }

    /// Turns the hard negatives on or off.
    pub fn hard_negatives(mut self, on: bool) -> Self {
        self.hard_negatives = on;
        self
    }

    /// Sets the profiles (`per-user-installs`, `long-tail`, `shared-c2`, `proxy`, `worm`,
    /// `admin-activity`).
    pub fn profiles<S: AsRef<str>>(mut self, profiles: &[S]) -> Self {
        self.profiles = profiles.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    /// Sets the worker threads (0: one per core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Checks every option.
    ///
    /// # Errors
    /// The first invalid option, naming its value.
    pub fn check(self) -> Result<LabValidOptions, LabError> {
        if !(3..=MAX_HOSTS).contains(&self.hosts) {
            return Err(LabError::Hosts(self.hosts));
        }
        if !(1..=MAX_DAYS).contains(&self.days) {
            return Err(LabError::Days(self.days));
        }
        if !(1..=MAX_EVENTS).contains(&self.events) {
            return Err(LabError::Events(self.events));
        }
        let valid_intensity = |x: f64| x > 0.0 && x <= MAX_INTENSITY;
        if !valid_intensity(self.intensity) {
            return Err(LabError::Intensity {
                scenario: "all".to_string(),
                value: self.intensity.to_string(),
            });
        }
        let start_day = clock::parse_date(&self.start)
            .ok_or_else(|| LabError::Start(self.start.clone()))?;
        let mut scenarios: Vec<(Scenario, f64)> = Vec::new();
        for item in &self.scenarios {
            let item = item.trim();
            match item {
                "" | "none" => continue,
                "all" => {
                    for s in Scenario::ALL {
                        if !scenarios.iter().any(|x| x.0 == s) {
                            scenarios.push((s, self.intensity));
                        }
                    }
                    continue;
                }
                _ => {}
            }
            let (name, intensity) = match item.split_once(':') {
                Some((name, value)) => {
                    let scenario: Scenario = name.trim().parse()?;
                    let x = value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|&x| valid_intensity(x));
                    let x = x.ok_or_else(|| LabError::Intensity {
                        scenario: scenario.to_string(),
                        value: value.to_string(),
                    })?;
                    (scenario, x)
                }
                None => (item.parse()?, self.intensity),
            };
            if scenarios.iter().any(|x| x.0 == name) {
                return Err(LabError::DuplicateScenario(name));
            }
            scenarios.push((name, intensity));
        }
        scenarios.sort_by_key(|x| x.0);
        if scenarios.iter().any(|x| x.0 == Scenario::WidespreadAttack) && self.hosts < 7 {
            return Err(LabError::HostsForScenario {
                scenario: Scenario::WidespreadAttack,
                needed: 7,
                got: self.hosts,
            });
        }
        let mut profiles: Vec<LabProfile> = Vec::new();
        for item in &self.profiles {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let p: LabProfile = item.parse()?;
            if profiles.contains(&p) {
                return Err(LabError::DuplicateProfile(p));
            }
            profiles.push(p);
        }
        profiles.sort();
        let threads = if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        };
        Ok(LabValidOptions {
            hosts: self.hosts as usize,
            days: self.days as u32,
            events: self.events as u64,
            seed: self.seed,
            start_date: clock::date_string(start_day),
            start_ns: start_day * DAY,
            scenarios,
            hard_negatives: self.hard_negatives,
            threads,
            profiles,
        })
    }
}

/// Checked lab options: the only input of [`generate`](super::generate).
#[derive(Clone, Debug, PartialEq)]
pub struct LabValidOptions {
    pub(super) hosts: usize,
    pub(super) days: u32,
    pub(super) events: u64,
    pub(super) seed: u64,
    pub(super) start_date: String,
    pub(super) start_ns: i64,
    pub(super) scenarios: Vec<(Scenario, f64)>,
    pub(super) hard_negatives: bool,
    pub(super) threads: usize,
    pub(super) profiles: Vec<LabProfile>,
}

impl LabValidOptions {
    /// Hosts, including the domain controller and the file server.
    pub fn hosts(&self) -> usize {
        self.hosts
    }
    /// Days simulated.
    pub fn days(&self) -> u32 {
        self.days
    }
    /// Target event total.
    pub fn events(&self) -> u64 {
        self.events
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// First day, `YYYY-MM-DD`.
    pub fn start_date(&self) -> &str {
        &self.start_date
    }
    /// Lab start, epoch nanoseconds (midnight UTC of the first day).
    pub fn start_ns(&self) -> i64 {
        self.start_ns
    }
    /// Enabled scenarios with their intensities, in [`Scenario::ALL`] order.
    pub fn scenarios(&self) -> &[(Scenario, f64)] {
        &self.scenarios
    }
    /// Whether hard negatives are generated.
    pub fn hard_negatives(&self) -> bool {
        self.hard_negatives
    }
    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }
    /// Profiles, in [`LabProfile::ALL`] order.
    pub fn profiles(&self) -> &[LabProfile] {
        &self.profiles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let v = LabOptions::default().check().expect("defaults are valid");
        assert_eq!(v.hosts(), 11);
        assert_eq!(v.days(), 14);
        assert_eq!(v.events(), 200_000);
        assert_eq!(v.scenarios().len(), 4);
        assert_eq!(v.start_date(), "2024-03-04");
        assert!(v.hard_negatives());
    }

    #[test]
    fn hosts_must_be_at_least_three() {
        for bad in [0, 2, -1, MAX_HOSTS + 1] {
            let e = LabOptions::default()
                .hosts(bad)
                .check()
                .expect_err("rejected");
            assert!(matches!(e, LabError::Hosts(h) if h == bad));
            assert!(e.to_string().contains(&format!("(got {bad})")), "{e}");
        }
    }

    #[test]
    fn days_must_be_positive() {
        for bad in [0, -3, MAX_DAYS + 1] {
            let e = LabOptions::default()
                .days(bad)
                .check()
                .expect_err("rejected");
            assert!(e.to_string().contains(&format!("(got {bad})")), "{e}");
        }
    }

    #[test]
    fn events_must_be_positive() {
        let e = LabOptions::default()
            .events(0)
            .check()
            .expect_err("rejected");
        assert_eq!(
            e.to_string(),
            format!("events must be between 1 and {MAX_EVENTS} (got 0)")
        );
    }

    #[test]
    fn unknown_scenario_is_named() {
        let e = LabOptions::default()
            .scenarios(&["ad-enum", "dns-tunnel"])
            .check()
            .expect_err("rejected");
        assert!(e.to_string().contains("\"dns-tunnel\""), "{e}");
    }

    #[test]
    fn duplicate_scenario_is_rejected() {
        let e = LabOptions::default()
            .scenarios(&["ad-enum", "ad-enum:2"])
            .check()
            .expect_err("rejected");
        assert!(matches!(e, LabError::DuplicateScenario(Scenario::AdEnum)));
    }

    #[test]
    fn intensity_must_be_in_range() {
        for bad in ["c2-beacon:0", "c2-beacon:-1", "c2-beacon:x", "c2-beacon:11"] {
            let e = LabOptions::default()
                .scenarios(&[bad])
                .check()
                .expect_err("rejected");
            assert!(matches!(e, LabError::Intensity { .. }), "{bad}: {e}");
        }
        let e = LabOptions::default()
            .intensity(0.0)
            .check()
            .expect_err("rejected");
        assert!(e.to_string().contains("(got \"0\")"), "{e}");
    }

    #[test]
    fn per_scenario_intensity_and_keywords() {
        let v = LabOptions::default()
            .scenarios(&["c2-beacon:0.5", "ad-enum"])
            .intensity(2.0)
            .check()
            .expect("valid");
        assert_eq!(
            v.scenarios(),
            &[(Scenario::AdEnum, 2.0), (Scenario::C2Beacon, 0.5)]
        );
        let none = LabOptions::default()
            .scenarios(&["none"])
            .check()
            .expect("valid");
        assert!(none.scenarios().is_empty());
        let all = LabOptions::default()
            .scenarios(&["all"])
            .check()
            .expect("valid");
        assert_eq!(all.scenarios().len(), 4);
    }

    #[test]
    fn start_must_be_a_date() {
        let e = LabOptions::default()
            .start("2024-02-30")
            .check()
            .expect_err("rejected");
        assert!(e.to_string().contains("2024-02-30"), "{e}");
    }

    #[test]
    fn widespread_needs_seven_hosts() {
        let e = LabOptions::default()
            .hosts(5)
            .check()
            .expect_err("rejected");
        assert!(matches!(
            e,
            LabError::HostsForScenario {
                needed: 7,
                got: 5,
                ..
            }
        ));
        LabOptions::default()
            .hosts(5)
            .scenarios(&["ad-enum", "c2-beacon", "process-anomaly"])
            .check()
            .expect("fine without widespread-attack");
    }
}
