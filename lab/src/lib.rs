//! Simulated Windows lab with ground truth: `huntsman lab generate`.
//!
//! Generates a small Windows domain's endpoint logs (Sysmon, Directory Service 1644, Security
//! 4624) as a Parquet event lake in the flattened winlogbeat layout of [`schema`], with four
//! switchable attack scenarios and benign hard negatives, and writes the ground truth beside
//! it. Profiles ([`LabProfile`], `--profile`, in `variants/`) add the habits of real networks
//! the plain lab lacks, each with its labels. The same options and seed give byte-identical
//! files. The lab exists so the hunts can be
//! developed, tested and evaluated without real data; it does not try to be a full Windows
//! model. See `docs/lab.md` for the layout and the label format.
//!
//! ```no_run
//! use huntsman_lab::{LabOptions, generate};
//! let opts = LabOptions::default().events(50_000).days(7).check()?;
//! let summary = generate(&opts, std::path::Path::new("data"), false)?;
//! println!("{summary}");
//! # Ok::<(), huntsman_lab::LabError>(())
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod baseline;
mod cli;
pub(crate) use huntsman_core::clock;
pub mod labels;
mod lateral;
mod ldap;
mod model;
mod names;
mod negatives;
mod options;
mod plan;
mod profiles;
mod render;
mod scenarios;
pub use huntsman_core::schema;
mod topology;
mod variants;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use cli::{LabGenerateArgs, run};
pub use labels::{Unit, has_keys_at};

pub use labels::{Entity, GroundTruth, LabManifest, Label, LabelGroup};
pub use options::{
    LabError, LabOptions, LabValidOptions, MAX_DAYS, MAX_EVENTS, MAX_HOSTS,
    MAX_INTENSITY, Scenario,
};
pub use topology::{Role, UserKind};
pub use variants::LabProfile;

use clock::{DAY, SEC};
use labels::{
    GROUND_TRUTH_FORMAT, LABELS_VERSION, MANIFEST_FORMAT, ManifestFile, ManifestHost,
    ManifestScenario, ManifestUser, WEEK_BUCKET_DAYS, WINDOW_MINUTES,
    WINDOW_SLIDE_MINUTES,
};

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
pub struct LabSummary {
    /// The output folder.
    pub out: PathBuf,
    /// Events written.
    pub events: u64,
    /// Of which baseline (benign background, including periodic hard negatives).
    pub baseline_events: u64,
    /// Events per scenario.
    pub scenario_events: Vec<(Scenario, u64)>,
    /// Events of the injected hard negatives (admin review, deployment, scripts).
    pub hard_negative_events: u64,
    /// The profiles the lab was generated with.
    pub profiles: Vec<LabProfile>,
    /// Events the profiles added (the baseline gives up as many of its budget).
    pub profile_events: u64,
    /// Parquet files written.
    pub files: usize,
    /// Bytes of Parquet written.
    pub bytes: u64,
    /// Wall time taken.
    pub elapsed: Duration,
}

impl fmt::Display for LabSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "wrote {} events in {} files ({:.1} MiB) to {} in {:.2} s ({:.0} events/s)",
            self.events,
            self.files,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.out.display(),
            secs,
            self.events as f64 / secs.max(1e-9)
        )?;
        writeln!(f, "  baseline: {}", self.baseline_events)?;
        for (s, n) in &self.scenario_events {
            writeln!(f, "  {s}: {n}")?;
        }
        write!(
            f,
            "  hard negatives (injected): {}",
            self.hard_negative_events
        )?;
        if !self.profiles.is_empty() {
            let names: Vec<&str> = self.profiles.iter().map(|p| p.name()).collect();
            write!(
                f,
                "\n  profiles ({}): {}",
                names.join(", "),
                self.profile_events
            )?;
        }
        Ok(())
    }
}

/// Generates the lab into `out`: events under `out/events/day=YYYY-MM-DD/`, labels under
/// `out/labels/`.
///
/// # Errors
/// If `out` is not empty and `overwrite` is false, if it is not a folder, or on any IO or
/// Parquet error (naming the file).
pub fn generate(
    opts: &LabValidOptions,
    out: &Path,
    overwrite: bool,
) -> Result<LabSummary, LabError> {
    let started = Instant::now();
    prepare_out(out, overwrite)?;
    let mut topo = topology::Topology::new(opts.hosts, opts.seed, opts.start_ns / SEC);
    variants::prepare_topology(&mut topo, &opts.profiles);
    let plan = scenarios::Plan {
        start_ns: opts.start_ns,
        days: opts.days,
        scenarios: opts.scenarios.clone(),
        hard_negatives: opts.hard_negatives,
        profiles: opts.profiles.clone(),
    };
    let scen = plan::build(&topo, &plan);
    let budgets = budgets(
        &topo,
        opts,
        opts.events.saturating_sub(scen.evs.len() as u64),
    );

    let next = AtomicU32::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<DayResult, LabError>>>> =
        Mutex::new((0..opts.days).map(|_| None).collect());
    let workers = opts.threads.clamp(1, opts.days as usize);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let d = next.fetch_add(1, Ordering::Relaxed);
                    if d >= opts.days || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = write_one_day(opts, out, &topo, &scen, &budgets, d);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut slots) = results.lock() {
                        slots[d as usize] = Some(r);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let mut files = Vec::with_capacity(results.len());
    let mut day_drafts = Vec::new();
    let mut day_profile_events = 0;
    for (d, r) in results.into_iter().enumerate() {
        match r {
            Some(Ok(r)) => {
                files.push(r.file);
                day_drafts.extend(r.drafts);
                day_profile_events += r.profile_events;
            }
            Some(Err(e)) => return Err(e),
            None if failed.load(Ordering::Relaxed) => continue,
            None => return Err(LabError::Panicked(d as u32)),
        }
    }
    if failed.load(Ordering::Relaxed) {
        return Err(LabError::Panicked(0));
    }
    let events: u64 = files.iter().map(|f| f.rows).sum();
    let earliest = files
        .iter()
        .filter_map(|f| f.first_ts)
        .min()
        .unwrap_or(opts.start_ns);
    let data = huntsman_core::fingerprint::Fingerprint {
        events,
        first_event_ns: earliest,
        last_event_ns: files
            .iter()
            .filter_map(|f| f.last_ts)
            .max()
            .unwrap_or(earliest),
    };
    let mut drafts = scen.drafts.clone();
    drafts.extend(labels::merge_drafts(day_drafts));
    variants::relabel(&mut drafts, &opts.profiles);
    write_labels(opts, out, drafts, data)?;
    write_manifest(opts, out, &topo, &scen, &files, events)?;
    let scenario_total: u64 = scen.counts.iter().map(|c| c.1).sum();
    let profile_events = scen.profile_events + day_profile_events;
    Ok(LabSummary {
        out: out.to_path_buf(),
        events,
        baseline_events: events
            - scenario_total
            - scen.hard_negative_events
            - profile_events,
        scenario_events: scen.counts.clone(),
        hard_negative_events: scen.hard_negative_events,
        profiles: opts.profiles.clone(),
        profile_events,
        files: files.len(),
        bytes: files.iter().map(|f| f.bytes).sum(),
        elapsed: started.elapsed(),
    })
}

fn day_spec(opts: &LabValidOptions, d: u32) -> baseline::DaySpec {
    let start = opts.start_ns + i64::from(d) * DAY;
    baseline::DaySpec {
        index: d,
        start,
        weekend: clock::weekday(start.div_euclid(DAY)) >= 5,
    }
}

/// Baseline event budget per (day, host): the total split by role and weekday weights.
fn budgets(
    topo: &topology::Topology,
    opts: &LabValidOptions,
    total: u64,
) -> Vec<Vec<u64>> {
    let weights: Vec<Vec<f64>> = (0..opts.days)
        .map(|d| {
            let weekend = day_spec(opts, d).weekend;
            topo.hosts
                .iter()
                .map(|h| baseline::weight(h.role, weekend))
                .collect()
        })
        .collect();
    let sum: f64 = weights.iter().flatten().sum();
    weights
        .iter()
        .map(|row| {
            row.iter()
                .map(|w| (total as f64 * w / sum).floor() as u64)
                .collect()
        })
        .collect()
}

/// One written day: its file, the label drafts of its profile activity and their events.
struct DayResult {
    file: writer::DayFile,
    drafts: Vec<labels::Draft>,
    profile_events: u64,
}

fn write_one_day(
    opts: &LabValidOptions,
    out: &Path,
    topo: &topology::Topology,
    scen: &plan::ScenarioOutput,
    budgets: &[Vec<u64>],
    d: u32,
) -> Result<DayResult, LabError> {
    let spec = day_spec(opts, d);
    // The profiles' daily activity comes first and out of each host's baseline budget, so
    // the event total stays near the target; without profiles nothing changes.
    let day = variants::day(topo, spec, &opts.profiles);
    let budget: Vec<u64> = budgets[d as usize]
        .iter()
        .zip(&day.per_host)
        .map(|(b, v)| b.saturating_sub(*v))
        .collect();
    let (ctx, evs) = baseline::generate_day(topo, spec, &budget, opts.hard_negatives);
    let lo = scen.evs.partition_point(|e| e.ts < spec.start);
    let hi = scen.evs.partition_point(|e| e.ts < spec.start + DAY);
    let dir = out.join("events").join(format!(
        "day={}",
        clock::date_string(spec.start.div_euclid(DAY))
    ));
    std::fs::create_dir_all(&dir).map_err(|source| LabError::Io {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join("part-00000.parquet");
    tracing::debug!(
        day = d,
        events = evs.len() + hi - lo,
        "writing {}",
        path.display()
    );
    let file = writer::write_day(
        &path,
        topo,
        &[
            (&ctx, &evs),
            (&scen.ctx, &scen.evs[lo..hi]),
            (&day.ctx, &day.evs),
        ],
    )?;
    Ok(DayResult {
        file,
        drafts: day.drafts,
        profile_events: day.evs.len() as u64,
    })
}

/// Refuses a non-empty `out` unless `overwrite`; with it, removes `events/` and `labels/`.
fn prepare_out(out: &Path, overwrite: bool) -> Result<(), LabError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LabError::Io { path, source }
    };
    if out.exists() {
        if !out.is_dir() {
            return Err(LabError::OutputNotDir(out.to_path_buf()));
        }
        let mut entries = std::fs::read_dir(out).map_err(io(out))?;
        if entries.next().is_some() {
            if !overwrite {
                return Err(LabError::OutputNotEmpty(out.to_path_buf()));
            }
            for sub in ["events", "labels"] {
                let p = out.join(sub);
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).map_err(io(&p))?;
                } else if p.exists() {
                    std::fs::remove_file(&p).map_err(io(&p))?;
                }
            }
        }
    }
    for sub in ["events", "labels"] {
        let p = out.join(sub);
        std::fs::create_dir_all(&p).map_err(io(&p))?;
    }
    Ok(())
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), LabError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|source| LabError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    bytes.push(b'\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(|source| LabError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| LabError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_labels(
    opts: &LabValidOptions,
    out: &Path,
    drafts: Vec<labels::Draft>,
    data: huntsman_core::fingerprint::Fingerprint,
) -> Result<(), LabError> {
    let earliest = data.first_event_ns;
    let mut groups: Vec<LabelGroup> =
        drafts.into_iter().map(|d| d.finish(earliest)).collect();
    groups.sort_by_key(|g| (g.label == Label::HardNegative, g.scenario.clone()));
    let truth = GroundTruth {
        format: GROUND_TRUTH_FORMAT.to_string(),
        version: LABELS_VERSION,
        seed: opts.seed,
        profiles: profile_names(opts),
        earliest_event_ns: earliest,
        earliest_event: clock::iso(earliest),
        week_bucket_days: WEEK_BUCKET_DAYS,
        window_minutes: WINDOW_MINUTES,
        window_slide_minutes: WINDOW_SLIDE_MINUTES,
        data: Some(data),
        groups,
    };
    write_json(&out.join("labels").join("ground_truth.json"), &truth)
}

fn profile_names(opts: &LabValidOptions) -> Vec<String> {
    opts.profiles.iter().map(|p| p.name().to_string()).collect()
}

fn write_manifest(
    opts: &LabValidOptions,
    out: &Path,
    topo: &topology::Topology,
    scen: &plan::ScenarioOutput,
    files: &[writer::DayFile],
    events: u64,
) -> Result<(), LabError> {
    let manifest = LabManifest {
        format: MANIFEST_FORMAT.to_string(),
        version: LABELS_VERSION,
        seed: opts.seed,
        hosts: opts.hosts,
        days: opts.days,
        start_date: opts.start_date.clone(),
        start_ns: opts.start_ns,
        end_ns: opts.start_ns + i64::from(opts.days) * DAY,
        events_target: opts.events,
        events_written: events,
        hard_negatives: opts.hard_negatives,
        scenarios: opts
            .scenarios
            .iter()
            .zip(&scen.counts)
            .map(|(&(s, intensity), &(_, n))| ManifestScenario {
                name: s.name().to_string(),
                intensity,
                events: n,
            })
            .collect(),
        profiles: profile_names(opts),
        domain: topology::DOMAIN.to_string(),
        dns_domain: topology::DNS_DOMAIN.to_string(),
        wef_collector: topo.hosts[topology::FS].fqdn.clone(),
        host_list: topo
            .hosts
            .iter()
            .map(|h| ManifestHost {
                name: h.name.clone(),
                fqdn: h.fqdn.clone(),
                ip: h.ip.clone(),
                role: h.role,
                user: h.user.map(|u| topo.users[u as usize].sam.clone()),
            })
            .collect(),
        users: topo
            .users
            .iter()
            .map(|u| ManifestUser {
                name: u.sam.clone(),
                qualified: u.qualified.clone(),
                kind: u.kind,
            })
            .collect(),
        files: files
            .iter()
            .map(|f| ManifestFile {
                path: f
                    .path
                    .strip_prefix(out)
                    .unwrap_or(&f.path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/"),
                rows: f.rows,
            })
            .collect(),
    };
    write_json(&out.join("labels").join("lab.json"), &manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_split_the_total() {
        let opts = LabOptions::default().check().expect("valid");
        let topo = topology::Topology::new(11, 42, opts.start_ns() / SEC);
        let b = budgets(&topo, &opts, 1_000_000);
        let sum: u64 = b.iter().flatten().sum();
        assert!(sum <= 1_000_000 && sum > 999_800, "{sum}");
        // Weekend workstation days are quieter than weekday ones.
        assert!(b[5][2] < b[0][2]);
    }
}
