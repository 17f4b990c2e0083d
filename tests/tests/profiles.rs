//! Hunts on labs that break the default generator's habits (`lab generate --profile`),
//! with the shipped defaults: for c2-beacon every web connection through one proxy, one
//! implant family on several hosts calling one C2 address, sync and chat clients
//! installed per user; for widespread-attack a worm and legitimate remote management; for
//! process-anomaly a long tail of rare benign software, one intrusion on many hosts and
//! every web connection through a proxy; for the AD hunts administrators' audit scripts
//! and console reviews. A hunt must find every true entity of its profile and flag no
//! hard negative (for process-anomaly: rank every true entity first); the thresholds are
//! on recall, precision and ranks, never on exact scores.

use std::path::Path;
use std::time::Duration;

use huntsman_tests::{SMALL_MODELS, run_client, succeeded as ok};
use serde_json::Value;

/// Generates a one-week lab of `profile` (seed 11), unless an earlier call did, and runs
/// `hunt` on it; returns the hunt's evaluation.
fn hunt_profile(work: &Path, profile: &str, hunt: &str) -> Value {
    hunt_profile_seed(work, profile, hunt, "11")
}

fn hunt_profile_seed(work: &Path, profile: &str, hunt: &str, seed: &str) -> Value {
    hunt_lab(
        work,
        &format!("{profile}-{seed}"),
        &["--seed", seed, "--profile", profile],
        hunt,
    )
}

/// Generates a one-week lab named `name` with `lab_args` (seed, profile or topology),
/// unless an earlier call did, and runs `hunt` on it; returns the hunt's evaluation.
fn hunt_lab(work: &Path, name: &str, lab_args: &[&str], hunt: &str) -> Value {
    let lab = work.join(name);
    let out = lab.display().to_string();
    let mut args = vec![
        "lab", "generate", "--out", &out, "--days", "7", "--events", "150000",
    ];
    args.extend(lab_args);
    if !lab.join("labels").join("ground_truth.json").is_file() {
        ok(
            &run_client(&args, work, Duration::from_secs(300)).expect("lab ran"),
            "lab generate",
        );
    }
    let data = lab.join("events").display().to_string();
    let base = format!("BASE_S3_PATH={}", lab.join("store").display());
    let mut args = vec!["--data", &data, "hunt", hunt, "--quiet", "--set", &base];
    args.extend(SMALL_MODELS);
    let run = run_client(&args, work, Duration::from_secs(900)).expect("hunt ran");
    ok(&run, &format!("huntsman hunt {hunt} on {name}"));
    let labels = lab.join("labels").display().to_string();
    let args = [
        "eval", "--labels", &labels, "--format", "json", "--set", &base,
    ];
    let run = run_client(&args, work, Duration::from_secs(120)).expect("eval ran");
    let eval: Value = serde_json::from_str(&ok(&run, "huntsman eval")).expect("JSON");
    eval["hunts"][hunt].clone()
}

fn number(eval: &Value, name: &str) -> f64 {
    eval[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} missing: {eval}"))
}

/// Recall 1, precision at least `precision`, no hard negative flagged, and every true
/// entity ranked within the first `rank` (ties counted against it).
fn holds(eval: &Value, what: &str, precision: f64, rank: f64) {
    assert_eq!(number(eval, "recall"), 1.0, "{what} recall: {eval}");
    assert!(
        number(eval, "precision") >= precision,
        "{what} precision: {eval}"
    );
    assert_eq!(
        number(eval, "hard_negatives_flagged"),
        0.0,
        "{what} flagged a hard negative: {eval}"
    );
    assert!(
        number(eval, "worst_rank") <= rank,
        "{what} ranks a true entity too low: {eval}"
    );
}

#[test]
fn c2_beacon_holds_behind_a_proxy_and_with_an_implant_family() {
    let work = tempfile::tempdir().expect("tempdir");
    // Every connection goes to the proxy: the destination is shared by every host, the
    // implant's program-to-proxy pair by none.
    let proxy = hunt_profile(work.path(), "proxy", "c2-beacon");
    holds(&proxy, "c2-beacon behind a proxy", 0.9, 3.0);
    // One implant family on several hosts calls one address, among a monitoring agent that
    // polls a shared CDN address from every host (a hard negative).
    let family = hunt_profile(work.path(), "shared-c2", "c2-beacon");
    holds(&family, "c2-beacon with an implant family", 0.9, 10.0);
    // Chat and sync clients installed per user open bursts of parallel connections a
    // tenth of a second apart: regular, but one moment's traffic, not a schedule (seed 3
    // has such a burst long enough to be flagged when every gap counts).
    let per_user = hunt_profile_seed(work.path(), "per-user-installs", "c2-beacon", "3");
    holds(&per_user, "c2-beacon beside per-user installs", 0.9, 3.0);
}

#[test]
fn c2_beacon_spares_fleet_software_on_five_hosts() {
    let work = tempfile::tempdir().expect("tempdir");
    // Five hosts: an updater on the three workstations is a pair of half the other
    // hosts, with a near-perfect rhythm; it has polled its vendor since the data began,
    // the implants start inside the week.
    let small = hunt_lab(
        work.path(),
        "small-11",
        &[
            "--seed",
            "11",
            "--hosts",
            "5",
            "--scenarios",
            "ad-enum,c2-beacon,process-anomaly",
        ],
        "c2-beacon",
    );
    holds(&small, "c2-beacon on five hosts", 0.9, 3.0);
}

#[test]
fn widespread_attack_follows_a_worm_and_spares_legitimate_management() {
    let work = tempfile::tempdir().expect("tempdir");
    // One identical payload on every victim, each victim infecting the next: every host
    // that infected another is a true source, though none runs more than one anomalous
    // command; the hunt follows the payload's replication from host to host.
    let worm = hunt_profile(work.path(), "worm", "widespread-attack");
    holds(&worm, "widespread-attack on a worm", 0.9, 4.0);
    // PsExec deployment of an agent to every workstation and remote administration from
    // one workstation (hard negatives): neither replicates what it runs.
    let admin = hunt_profile(work.path(), "admin-activity", "widespread-attack");
    holds(
        &admin,
        "widespread-attack beside remote management",
        0.9,
        1.0,
    );
}

#[test]
fn ad_hunts_tell_an_enumeration_from_scripted_administration() {
    let work = tempfile::tempdir().expect("tempdir");
    // An audit script and an administrator's console review issue bursts of the same
    // enumeration-like filters as the enumerator (privileged groups, SPNs, delegation),
    // and a helpdesk tool looks up users and computers all day: hard negatives. What
    // sets the enumerator apart is that its searching is new for its account.
    for hunt in ["ad-enum-kmeans", "ad-enum-autoencoder"] {
        let eval = hunt_profile(work.path(), "admin-activity", hunt);
        holds(
            &eval,
            &format!("{hunt} beside administrators' audits"),
            0.9,
            2.0,
        );
    }
}

/// Every true entity ranks before every other entity (ties counted against it).
fn ranks_first(eval: &Value, what: &str) {
    let truth = number(eval, "tp") + number(eval, "fn");
    assert!(truth > 0.0, "{what}: no true entities: {eval}");
    assert!(
        number(eval, "worst_rank") <= truth,
        "{what} ranks a benign process above a true one: {eval}"
    );
}

#[test]
fn process_anomaly_ranks_the_intrusion_first_in_a_long_tail_and_on_a_worm() {
    let work = tempfile::tempdir().expect("tempdir");
    // Installers and updaters with versioned or GUID-named paths, scheduled tasks,
    // developer tools and administrators' one-off commands: each as rare as the
    // intrusion's lineages, but without its rare destinations in the same family. The
    // rarest updaters (a lineage and a destination seen on a few hosts) reach the flag's
    // score on rarity alone; they run from Program Files, which only administrators can
    // write, so they are flagged only if the models also see them as unusual. Precision
    // was 0.44 on this lab with rarity alone; with the shipped models it is 1.00, and the
    // tests' small models leave two flags (an updater's helper and an administrator's
    // cmd.exe) that they find unusual.
    let long_tail = hunt_profile(work.path(), "long-tail", "process-anomaly");
    ranks_first(&long_tail, "process-anomaly in a long tail");
    assert_eq!(
        number(&long_tail, "recall"),
        1.0,
        "process-anomaly in a long tail recall: {long_tail}"
    );
    assert!(
        number(&long_tail, "precision") >= 0.6,
        "process-anomaly in a long tail flags updaters on rarity alone: {long_tail}"
    );
    // The same intrusion chain on several hosts on one day: its lineages are no longer
    // seen once, and they still rank first; no hard negative is flagged.
    let worm = hunt_profile(work.path(), "worm", "process-anomaly");
    ranks_first(&worm, "process-anomaly on a worm");
    assert_eq!(
        number(&worm, "hard_negatives_flagged"),
        0.0,
        "process-anomaly on a worm flagged a hard negative: {worm}"
    );
}

#[test]
fn process_anomaly_follows_the_payload_behind_a_proxy() {
    let work = tempfile::tempdir().expect("tempdir");
    // Every process reaches the proxy's address and resolves its name, so no destination
    // is rare: the intrusion is found by its delivery, the DLL PowerShell wrote that
    // rundll32 ran, which the whole chain shares (the writer, the runner and what the
    // runner started). Deployment tools also run files copied to their hosts, on every
    // host: no hard negative is flagged, and every true process ranks first.
    let proxy = hunt_profile(work.path(), "proxy", "process-anomaly");
    ranks_first(&proxy, "process-anomaly behind a proxy");
    let truth = number(&proxy, "tp") + number(&proxy, "fn");
    holds(&proxy, "process-anomaly behind a proxy", 0.9, truth);
}
