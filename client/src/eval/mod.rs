//! `huntsman eval`: scores stored hunt runs against a lab's ground truth.
//!
//! Every scored entity of a run is a prediction (flagged or not); the ground truth's
//! malicious entities at the hunt's unit of analysis are the positives. A malicious
//! entity the hunt never scored counts as a false negative. Hard negatives are benign and
//! counted as such, and also reported on their own: flagging one is a visible failure.
//! Besides the usual rates, FDR = FP / (FP + TP) is reported: it is what the original
//! thesis called "FPR".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::hunt::params::Params;
use crate::hunt::store::{MANIFEST, Store};
use crate::lab::Unit;
use crate::lab::{Entity, GroundTruth, Label, LabelGroup};
use crate::location::Location;
use crate::manifest::RunManifest;

mod metrics;
mod pictures;

pub use metrics::{Metrics, TrueRank};
use metrics::{mean, table};
use pictures::write_pictures;

/// Output format of `huntsman eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    /// A table per hunt.
    Table,
    /// `{"hunts": {"<hunt>": {"tp": .., ...}}}`.
    Json,
}

/// Arguments of `huntsman eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The lab's `labels/` folder (holding ground_truth.json), or the lab folder itself.
    #[arg(long)]
    pub labels: PathBuf,
    /// Evaluate this run id (default: the latest completed run of each hunt).
    #[arg(long)]
    pub run: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
    pub format: EvalFormat,
    /// Folder for the pictures (default: <BASE_S3_PATH>/eval).
    #[arg(long)]
    pub pictures: Option<PathBuf>,
    /// Override a parameter such as BASE_S3_PATH: NAME=VALUE (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

/// How a run cut the data, read from its manifest: the ground truth is keyed at the units
/// of this run, not at the lab's defaults.
#[derive(Debug, Clone, Copy, Default)]
struct RunScope {
    /// Week 0 of the AD hunts in this run (its earliest event), epoch ns.
    week_origin_ns: Option<i64>,
    /// Days per week bucket in this run.
    week_days: Option<i64>,
    /// The first and last event the run saw (after `--since`/`--until`), epoch ns.
    seen: Option<(i64, i64)>,
    /// What one finding is in this run (its pack's `unit`); `None` for a manifest that
    /// does not say, which the built-in hunt of its name then tells.
    unit: Option<Unit>,
}

/// The unit of built-in hunt `hunt`.
fn builtin_unit(hunt: &str) -> Option<Unit> {
    crate::hunt::pack::Pack::builtin_named(hunt)
        .ok()
        .map(|p| Unit::parse(&p.unit))
}

const DAY_NS: i64 = 86_400_000_000_000;

impl RunScope {
    fn of(manifest: &RunManifest) -> Self {
        let data = &manifest.data;
        Self {
            week_origin_ns: manifest.int_effective("EARLIEST_NS"),
            week_days: manifest.int_parameter("AD_WEEK_BUCKET_SIZE_DAYS"),
            seen: data.first_event_ns.zip(data.last_event_ns),
            unit: manifest.results.unit.as_deref().map(Unit::parse),
        }
    }

    /// The unit `hunt` scored at in this run.
    fn unit(&self, hunt: &str) -> Unit {
        self.unit
            .or_else(|| builtin_unit(hunt))
            .unwrap_or(Unit::Other)
    }

    /// Whether the run saw any of `group`'s activity.
    fn covers(&self, group: &LabelGroup) -> bool {
        match self.seen {
            Some((first, last)) => group.end_ns >= first && group.start_ns <= last,
            None => true,
        }
    }

    /// The run's weeks of a labelled (user, week): every run week that overlaps the
    /// activity inside the labelled week.
    fn weeks(&self, truth: &GroundTruth, group: &LabelGroup, week: i64) -> Vec<i64> {
        let (Some(origin), Some(days)) = (self.week_origin_ns, self.week_days) else {
            return vec![week];
        };
        let bucket = truth.week_bucket_days.max(1) * DAY_NS;
        let mut lo = truth.earliest_event_ns + week * bucket;
        let mut hi = lo + bucket - 1;
        if group.start_ns <= hi && group.end_ns >= lo {
            (lo, hi) = (lo.max(group.start_ns), hi.min(group.end_ns));
        }
        if let Some((first, last)) = self.seen {
            (lo, hi) = (lo.max(first), hi.min(last));
        }
        let run_bucket = days.max(1) * DAY_NS;
        let (a, b) = (
            (lo - origin).div_euclid(run_bucket),
            (hi - origin).div_euclid(run_bucket),
        );
        (a.max(0)..=b).collect()
    }
}

/// The ground-truth keys of an entity at the unit a hunt scores in this run (none when it
/// is not that hunt's unit or the run did not see its activity).
fn label_keys(
    hunt: &str,
    truth: &GroundTruth,
    group: &LabelGroup,
    entity: &Entity,
    scope: &RunScope,
) -> Vec<String> {
    if !scope.covers(group) {
        return Vec::new();
    }
    match (scope.unit(hunt), entity) {
        (
            Unit::ProcessDestination,
            Entity::ProcessDestination {
                processguid,
                destinationip,
                destinationport,
            },
        ) => vec![format!("{processguid}|{destinationip}|{destinationport}")],
        (Unit::AccountWeek, Entity::UserWeek { user, week, .. }) => scope
            .weeks(truth, group, *week)
            .into_iter()
            .map(|w| format!("{}|{w}", user.to_lowercase()))
            .collect(),
        (Unit::Process, Entity::Process { processguid, .. }) => {
            vec![processguid.clone()]
        }
        (Unit::SourceHost, Entity::SourceIp { sourceip, .. }) => {
            vec![sourceip.clone()]
        }
        _ => Vec::new(),
    }
}

/// Refuses a run made on other data than the labels describe.
///
/// # Errors
/// Both carry a fingerprint and they differ.
fn check_same_data(
    hunt: &str,
    run_id: &str,
    manifest: &RunManifest,
    truth: &GroundTruth,
    labels: &Path,
) -> Result<()> {
    match (manifest.data.fingerprint, truth.data) {
        (Some(run), Some(labelled)) if run != labelled => bail!(
            "{hunt} run {run_id} was made on {} ({run}), but the labels in {} describe \
             other data ({labelled}): evaluate it with that data's labels, or rerun the hunt \
             on the data the labels describe",
            manifest.data.location,
            labels.display()
        ),
        _ => Ok(()),
    }
}

/// Reads `ground_truth.json` from `labels` (the labels folder or the lab folder).
///
/// # Errors
/// Missing or malformed file, named.
pub fn read_ground_truth(labels: &Path) -> Result<GroundTruth> {
    let candidates = [
        labels.join("ground_truth.json"),
        labels.join("labels/ground_truth.json"),
    ];
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        bail!(
            "no ground_truth.json in {} (give the lab's labels/ folder)",
            labels.display()
        );
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// One scored entity of a run.
#[derive(Debug, Clone)]
struct Scored {
    key: String,
    score: f64,
    flagged: bool,
}

async fn read_run(dir: &Location) -> Result<(RunManifest, Vec<Scored>)> {
    let manifest_path = dir.join(MANIFEST);
    let manifest =
        RunManifest::parse(&manifest_path.get().await?, &manifest_path.to_string())?;
    let results = &manifest.results;
    if results.entity.is_empty() {
        bail!("{manifest_path}: no entity columns listed");
    }
    if results.findings.is_none() {
        // A run that found nothing to score: every true entity is unscored.
        return Ok((manifest, Vec::new()));
    }
    let findings = dir.join("findings.parquet");
    // A plain local session; only its object stores (for s3:// results) are Huntsman's.
    let config = SessionConfig::new();
    let runtime = huntsman_udfs::session::huntsman_runtime_env(&config, None)
        .context("building a local session")?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    let batches = ctx
        .read_parquet(findings.table_url(), ParquetReadOptions::default())
        .await
        .with_context(|| format!("reading {findings}"))?
        .collect()
        .await
        .with_context(|| format!("reading {findings}"))?;
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(
            scored_rows(batch, &results.entity, &results.score, &results.flag)
                .with_context(|| format!("reading {findings}"))?,
        );
    }
    Ok((manifest, rows))
}

fn scored_rows(
    batch: &RecordBatch,
    entity: &[String],
    score_col: &str,
    flag_col: &str,
) -> Result<Vec<Scored>> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| anyhow::anyhow!("column {name} missing"))
    };
    let keys: Vec<_> = entity
        .iter()
        .map(|c| column(c).and_then(|a| Ok(cast(a, &DataType::Utf8)?)))
        .collect::<Result<_>>()?;
    let score = cast(column(score_col)?, &DataType::Float64)?;
    let score = score.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    let flagged = column(flag_col)?;
    let flagged = flagged
        .as_boolean_opt()
        .ok_or_else(|| anyhow::anyhow!("{flag_col} is not boolean"))?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let key = keys
            .iter()
            .map(|k| {
                let k = k.as_string::<i32>();
                if k.is_null(i) {
                    String::new()
                } else {
                    k.value(i).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("|");
        out.push(Scored {
            key,
            score: if score.is_null(i) {
                0.0
            } else {
                score.value(i)
            },
            flagged: !flagged.is_null(i) && flagged.value(i),
        });
    }
    Ok(out)
}

/// The labelled entities at `hunt`'s unit: malicious ones of activities aimed at this
/// hunt, hard negatives aimed at it, and malicious ones of other activities (a process
/// of the widespread attack is malicious but not what the process hunt is scored on:
/// flagging it is not a false positive, missing it is not a false negative).
fn labelled(
    hunt: &str,
    truth: &GroundTruth,
    scope: &RunScope,
) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut malicious, mut hard, mut elsewhere) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    // A hunt of the lab's is scored on what the lab aimed at it; a hunter's own pack on
    // what the lab aimed at the built-in hunts of its unit.
    let unit = scope.unit(hunt);
    let builtin = builtin_unit(hunt).is_some();
    for group in &truth.groups {
        let aimed = group.hunts.iter().any(|h| {
            h == hunt
                || (!builtin && unit != Unit::Other && builtin_unit(h) == Some(unit))
        });
        let keys = group
            .entities
            .iter()
            .flat_map(|e| label_keys(hunt, truth, group, e, scope));
        for key in keys {
            match (group.label, aimed) {
                (Label::Malicious, true) => malicious.insert(key),
                (Label::Malicious, false) => elsewhere.insert(key),
                (Label::HardNegative, true) => hard.insert(key),
                (Label::HardNegative, false) => false,
            };
        }
    }
    let elsewhere = elsewhere.difference(&malicious).cloned().collect();
    (malicious, hard, elsewhere)
}

/// Compares one run's scored entities with the ground truth.
fn evaluate(
    hunt: &str,
    run_id: &str,
    rows: &[Scored],
    truth: &GroundTruth,
    scope: &RunScope,
) -> Metrics {
    let (malicious, hard, elsewhere) = labelled(hunt, truth, scope);
    // Accounts are keyed case-insensitively.
    let account = scope.unit(hunt) == Unit::AccountWeek;
    let normal = |k: &str| {
        if account {
            k.to_lowercase()
        } else {
            k.to_string()
        }
    };
    // One prediction per entity: flagged if any of its rows is, scored by its best row.
    let mut predicted: BTreeMap<String, (f64, bool)> = BTreeMap::new();
    for r in rows {
        let key = normal(&r.key);
        if !elsewhere.contains(&key) {
            let score = if r.score.is_nan() {
                f64::NEG_INFINITY
            } else {
                r.score
            };
            let entry = predicted.entry(key).or_insert((f64::NEG_INFINITY, false));
            entry.0 = entry.0.max(score);
            entry.1 |= r.flagged;
        }
    }
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    let mut hard_flagged = 0;
    for (key, &(_, flagged)) in &predicted {
        let positive = malicious.contains(key);
        match (flagged, positive) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
        if flagged && !positive && hard.contains(key) {
            hard_flagged += 1;
        }
    }
    let unscored: Vec<String> = malicious
        .iter()
        .filter(|k| !predicted.contains_key(*k))
        .cloned()
        .collect();
    fn_ += unscored.len() as u64;
    let mut m = Metrics::from_counts(run_id, tp, fp, fn_, tn);
    m.hard_negatives = hard.difference(&malicious).count() as u64;
    m.hard_negatives_flagged = hard_flagged;
    // Best first; among equal scores the benign ones first, so a tie never flatters.
    let mut ranked: Vec<(String, f64, bool, bool)> = predicted
        .into_iter()
        .map(|(key, (score, flagged))| {
            let positive = malicious.contains(&key);
            (key, score, flagged, positive)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.3.cmp(&b.3)).then(a.0.cmp(&b.0)));
    m.rank(&ranked, unscored);
    m
}

/// Runs `huntsman eval`.
///
/// # Errors
/// No ground truth, no stored run, unreadable results; each named.
pub async fn run(args: &EvalArgs) -> Result<()> {
    let truth = read_ground_truth(&args.labels)?;
    // Evaluation reads the store's location, one of the CLI's own settings.
    let params = Params::from_env_in(crate::hunt::params::globals(), &args.sets)?;
    let store = Store::open(params.text("BASE_S3_PATH")?)?;
    let mut results = BTreeMap::new();
    let by_hunt = store.runs_by_hunt().await?;
    for (hunt, runs) in by_hunt
        .iter()
        .filter(|(h, _)| crate::hunt::pack::is_hunt_name(h))
    {
        let hunt = hunt.as_str();
        let run_id = match &args.run {
            Some(id) if runs.contains(id) => id.clone(),
            Some(_) => continue,
            None => match runs.last() {
                Some(id) => id.clone(),
                None => continue,
            },
        };
        let dir = store.results_dir(hunt).join(&run_id);
        let (manifest, rows) = read_run(&dir).await?;
        check_same_data(hunt, &run_id, &manifest, &truth, &args.labels)?;
        let scope = RunScope::of(&manifest);
        if scope.unit(hunt) == Unit::Other {
            eprintln!(
                "huntsman eval: {hunt}: a lab's ground truth has no keys at its unit ({}); \
                 not scored",
                manifest.results.unit.as_deref().unwrap_or("not recorded")
            );
            continue;
        }
        let metrics = evaluate(hunt, &run_id, &rows, &truth, &scope);
        let pictures = match &args.pictures {
            Some(dir) => Location::Local(dir.clone()),
            None => store.root().join("eval"),
        }
        .join(&format!("{hunt}/{run_id}"));
        write_pictures(&pictures, hunt, &metrics, &rows, &truth, &scope).await?;
        results.insert(hunt.to_string(), metrics);
    }
    if results.is_empty() {
        match &args.run {
            Some(id) => bail!("no completed run {id} under {}", store.root()),
            None => bail!(
                "no completed hunt runs under {} (run `huntsman hunt` first)",
                store.root()
            ),
        }
    }
    match args.format {
        EvalFormat::Json => {
            let json = serde_json::json!({ "hunts": results, "mean": mean(&results) });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        EvalFormat::Table => print!("{}", table(&results)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pictures::{confusion_svg, scores_svg};
    use super::*;
    use crate::fingerprint::Fingerprint;

    #[test]
    fn rates_follow_their_definitions() {
        let m = Metrics::from_counts("r", 8, 2, 1, 89);
        assert!((m.precision - 0.8).abs() < 1e-12);
        assert!((m.recall - 8.0 / 9.0).abs() < 1e-12);
        assert!((m.fpr - 2.0 / 91.0).abs() < 1e-12);
        assert!((m.fdr - 0.2).abs() < 1e-12);
        assert!((m.fnr - 1.0 / 9.0).abs() < 1e-12);
        assert!((m.accuracy - 0.97).abs() < 1e-12);
        let f1 = 2.0 * 0.8 * (8.0 / 9.0) / (0.8 + 8.0 / 9.0);
        assert!((m.f1 - f1).abs() < 1e-12);
        let zero = Metrics::from_counts("r", 0, 0, 0, 0);
        assert_eq!((zero.precision, zero.f1), (0.0, 0.0));
    }

    fn truth(groups: Vec<(Label, &str, Vec<Entity>)>) -> GroundTruth {
        GroundTruth {
            format: "x".into(),
            version: 1,
            seed: 1,
            profiles: Vec::new(),
            earliest_event_ns: 0,
            earliest_event: String::new(),
            week_bucket_days: 7,
            window_minutes: 60,
            window_slide_minutes: 10,
            data: None,
            groups: groups
                .into_iter()
                .map(|(label, hunt, entities)| crate::lab::LabelGroup {
                    scenario: "c2-beacon".into(),
                    name: "g".into(),
                    label,
                    hunts: vec![hunt.to_string()],
                    techniques: vec![],
                    description: String::new(),
                    start_ns: 0,
                    end_ns: 0,
                    start: String::new(),
                    end: String::new(),
                    events: 0,
                    entities,
                })
                .collect(),
        }
    }

    fn pd(guid: &str) -> Entity {
        Entity::ProcessDestination {
            processguid: guid.into(),
            destinationip: "1.2.3.4".into(),
            destinationport: "443".into(),
        }
    }

    fn scored(guid: &str, flagged: bool) -> Scored {
        Scored {
            key: format!("{guid}|1.2.3.4|443"),
            score: if flagged { 1.0 } else { 0.1 },
            flagged,
        }
    }

    #[test]
    fn unscored_malicious_entities_are_false_negatives_and_hard_negatives_counted() {
        let t = truth(vec![
            (
                Label::Malicious,
                "c2-beacon",
                vec![pd("a"), pd("b"), pd("never-scored")],
            ),
            (Label::HardNegative, "c2-beacon", vec![pd("wef"), pd("upd")]),
            // malicious, but another hunt's target: neither TP nor FP nor FN here
            (
                Label::Malicious,
                "widespread-attack",
                vec![pd("lateral"), pd("missed")],
            ),
        ]);
        let rows = vec![
            scored("a", true),
            scored("b", false),
            scored("wef", true),
            scored("upd", false),
            scored("x", false),
            scored("lateral", true),
            scored("a", true), // duplicate rows of one entity count once
        ];
        let m = evaluate("c2-beacon", "r", &rows, &t, &RunScope::default());
        assert_eq!((m.tp, m.fp, m.fn_, m.tn), (1, 1, 2, 2));
        assert_eq!((m.hard_negatives_flagged, m.hard_negatives), (1, 2));
        let svg = confusion_svg("c2-beacon", &m);
        assert!(svg.contains(">TP<") && svg.starts_with("<svg"));
        let malicious = ["a|1.2.3.4|443".to_string()].into_iter().collect();
        assert!(scores_svg("c2-beacon", &rows, &malicious).contains("#c62828"));
        // A hunter's own pack at the same unit is scored on what the lab aimed at the
        // built-in hunt of that unit; at a unit the lab has no keys for, on nothing.
        let mine = RunScope {
            unit: Some(Unit::parse("process-destination")),
            ..RunScope::default()
        };
        let m = evaluate("my-beacons", "r", &rows, &t, &mine);
        assert_eq!((m.tp, m.fp, m.fn_, m.tn), (1, 1, 2, 2));
        let other = RunScope {
            unit: Some(Unit::parse("host-image-destination")),
            ..RunScope::default()
        };
        let m = evaluate("my-beacons", "r", &rows, &t, &other);
        assert_eq!((m.tp, m.fn_), (0, 0));
    }

    fn scored_at(guid: &str, score: f64, flagged: bool) -> Scored {
        Scored {
            key: format!("{guid}|1.2.3.4|443"),
            score,
            flagged,
        }
    }

    #[test]
    fn ranks_count_ties_against_the_true_entity() {
        let t = truth(vec![(
            Label::Malicious,
            "c2-beacon",
            vec![pd("a"), pd("b"), pd("gone")],
        )]);
        // a ranks 1st; b ties with two benign entities at 0.5, so it ranks 4th, not 2nd;
        // "gone" was never scored.
        let rows = vec![
            scored_at("a", 0.9, true),
            scored_at("x", 0.5, false),
            scored_at("b", 0.5, false),
            scored_at("y", 0.5, false),
            scored_at("z", 0.1, false),
        ];
        let m = evaluate("c2-beacon", "r", &rows, &t, &RunScope::default());
        let rank = |e: &str| {
            m.ranks
                .iter()
                .find(|r| r.entity == format!("{e}|1.2.3.4|443"))
                .map(|r| r.rank)
        };
        assert_eq!(rank("a"), Some(Some(1)));
        assert_eq!(rank("b"), Some(Some(4)));
        assert_eq!(rank("gone"), Some(None));
        assert_eq!((m.entities, m.unscored, m.worst_rank), (5, 1, None));
        // top 3: a, x, y
        assert!((m.precision_at_k.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.precision_at_10.unwrap() - 0.2).abs() < 1e-12);
        // AP = (1/1 + 2/4 + 0) / 3
        assert!((m.average_precision.unwrap() - 0.5).abs() < 1e-12);
        let table = table(&[("c2-beacon".to_string(), m)].into_iter().collect());
        assert!(table.contains("1 unscored"), "{table}");

        let none = evaluate(
            "c2-beacon",
            "r",
            &rows,
            &truth(vec![]),
            &RunScope::default(),
        );
        assert_eq!((none.precision_at_k, none.average_precision), (None, None));
    }

    fn ad_truth(week: i64, start_ns: i64, end_ns: i64) -> GroundTruth {
        let mut t = truth(vec![(
            Label::Malicious,
            "ad-enum-kmeans",
            vec![Entity::UserWeek {
                user: "Mallory".into(),
                week,
                queries: 10,
            }],
        )]);
        t.groups[0].start_ns = start_ns;
        t.groups[0].end_ns = end_ns;
        t
    }

    fn ad_row(week: i64, flagged: bool) -> Scored {
        Scored {
            key: format!("mallory|{week}"),
            score: if flagged { 1.0 } else { 0.0 },
            flagged,
        }
    }

    #[test]
    fn weeks_are_keyed_at_the_runs_bucket_and_origin() {
        // Labelled week 1 of 7-day weeks: activity on days 9 and 10.
        let t = ad_truth(1, 9 * DAY_NS, 10 * DAY_NS);
        // A run with 3-day weeks from day 0 puts that activity into its week 3.
        let scope = RunScope {
            week_origin_ns: Some(0),
            week_days: Some(3),
            seen: Some((0, 30 * DAY_NS)),
            ..RunScope::default()
        };
        let rows = vec![ad_row(1, false), ad_row(3, true)];
        let m = evaluate("ad-enum-kmeans", "r", &rows, &t, &scope);
        assert_eq!((m.tp, m.fp, m.fn_, m.tn), (1, 0, 0, 1));
        // The same run read with the lab's own weeks would have missed it.
        let naive = evaluate("ad-enum-kmeans", "r", &rows, &t, &RunScope::default());
        assert_eq!((naive.tp, naive.fp, naive.fn_), (0, 1, 1));
        // A run whose --since starts on day 8 counts its weeks from there: week 0.
        let since = RunScope {
            week_origin_ns: Some(8 * DAY_NS),
            week_days: Some(7),
            seen: Some((8 * DAY_NS, 30 * DAY_NS)),
            ..RunScope::default()
        };
        let m = evaluate("ad-enum-kmeans", "r", &[ad_row(0, true)], &t, &since);
        assert_eq!((m.tp, m.fn_), (1, 0));
    }

    #[test]
    fn activity_outside_the_runs_time_range_is_not_counted() {
        let t = ad_truth(1, 9 * DAY_NS, 10 * DAY_NS);
        let until = RunScope {
            week_origin_ns: Some(0),
            week_days: Some(7),
            seen: Some((0, 5 * DAY_NS)),
            ..RunScope::default()
        };
        let m = evaluate("ad-enum-kmeans", "r", &[ad_row(0, false)], &t, &until);
        assert_eq!((m.tp, m.fp, m.fn_, m.tn), (0, 0, 0, 1));
        assert_eq!(m.precision_at_k, None);
    }

    #[test]
    fn a_run_on_other_data_is_refused_naming_both() {
        let mut t = truth(vec![]);
        let labelled = Fingerprint {
            events: 100,
            first_event_ns: 0,
            last_event_ns: DAY_NS,
        };
        t.data = Some(labelled);
        let manifest = |fp: Fingerprint| RunManifest {
            data: crate::manifest::DataScope {
                location: "/lake/other".into(),
                fingerprint: Some(fp),
                ..Default::default()
            },
            ..RunManifest::default()
        };
        let other = Fingerprint {
            events: 99,
            ..labelled
        };
        let labels = Path::new("lab/labels");
        let err = check_same_data("c2-beacon", "r1", &manifest(other), &t, labels)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/lake/other")
                && err.contains("99 events")
                && err.contains("100 events")
                && err.contains("lab/labels"),
            "{err}"
        );
        check_same_data("c2-beacon", "r1", &manifest(labelled), &t, labels).unwrap();
        // Runs and labels from before fingerprints existed are still evaluated.
        check_same_data("c2-beacon", "r1", &RunManifest::default(), &t, labels).unwrap();
    }
}
