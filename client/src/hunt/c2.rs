//! Hunt 3 of HUNTS.md, `c2-beacon`: regular outbound connections per (process,
//! destination), scored by k-means distance over timing features and an autoencoder over
//! timing plus context, fused into one beacon score.

use anyhow::{Result, bail};

use super::runner::HuntRun;
use super::{Finding, HuntOutput};

/// The hunt's name.
pub const NAME: &str = "c2-beacon";

/// Columns the hunt reads.
pub const COLUMNS: &[&str] = &[
    "event_created",
    "winlog_event_id",
    "winlog_computer_name",
    "winlog_event_data_processguid",
    "winlog_event_data_image",
    "winlog_event_data_parentimage",
    "winlog_event_data_commandline",
    "winlog_event_data_parentcommandline",
    "winlog_event_data_destinationip",
    "winlog_event_data_destinationport",
    "winlog_event_data_destinationportname",
    "winlog_event_data_destinationhostname",
    "winlog_event_data_initiated",
    "winlog_event_data_queryname",
];

/// The SQL files, in the order they run (name, text).
pub const SQL: &[(&str, &str)] = &[
    (
        "01_entities",
        include_str!("../../sql/hunts/c2-beacon/01_entities.sql"),
    ),
    (
        "02_fit_image_index",
        include_str!("../../sql/hunts/c2-beacon/02_fit_image_index.sql"),
    ),
    (
        "03_fit_parent_index",
        include_str!("../../sql/hunts/c2-beacon/03_fit_parent_index.sql"),
    ),
    (
        "04_fit_portname_index",
        include_str!("../../sql/hunts/c2-beacon/04_fit_portname_index.sql"),
    ),
    (
        "05_features",
        include_str!("../../sql/hunts/c2-beacon/05_features.sql"),
    ),
    (
        "06_fit_timing_scaler",
        include_str!("../../sql/hunts/c2-beacon/06_fit_timing_scaler.sql"),
    ),
    (
        "07_fit_kmeans",
        include_str!("../../sql/hunts/c2-beacon/07_fit_kmeans.sql"),
    ),
    (
        "08_fit_context_scaler",
        include_str!("../../sql/hunts/c2-beacon/08_fit_context_scaler.sql"),
    ),
    (
        "09_fit_autoencoder",
        include_str!("../../sql/hunts/c2-beacon/09_fit_autoencoder.sql"),
    ),
    (
        "10_score",
        include_str!("../../sql/hunts/c2-beacon/10_score.sql"),
    ),
    (
        "11_evidence",
        include_str!("../../sql/hunts/c2-beacon/11_evidence.sql"),
    ),
];

/// Width of the context vector built in `05_features.sql`.
const CONTEXT_DIM: i64 = 10;

fn sql(name: &str) -> Result<&'static str> {
    SQL.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .ok_or_else(|| anyhow::anyhow!("internal: no SQL file {name} in {NAME}"))
}

/// Runs the hunt.
///
/// # Errors
/// A phase failing, or parameters that contradict the features.
pub async fn run(run: &mut HuntRun<'_>) -> Result<HuntOutput> {
    let input_dim = run.params.int("C2_AUTOENCODER_INPUT_DIM")?;
    if input_dim != CONTEXT_DIM {
        bail!(
            "C2_AUTOENCODER_INPUT_DIM is {input_dim}, but the context vector has \
             {CONTEXT_DIM} features (5 timing, 3 categorical, 2 command-line lengths)"
        );
    }
    let entities = run
        .materialize("entities", "c2_entities", sql("01_entities")?)
        .await?;
    if entities == 0 {
        bail!(
            "no process made {} or more outbound connections (Sysmon 3, initiated) in the \
             data: nothing to score",
            run.params.int("C2_MIN_CONNECTIONS")?
        );
    }
    run.fit(
        "fit image index",
        "image_index",
        "IMAGE_INDEX",
        sql("02_fit_image_index")?,
    )
    .await?;
    run.fit(
        "fit parent index",
        "parent_index",
        "PARENT_INDEX",
        sql("03_fit_parent_index")?,
    )
    .await?;
    run.fit(
        "fit port-name index",
        "portname_index",
        "PORTNAME_INDEX",
        sql("04_fit_portname_index")?,
    )
    .await?;
    run.materialize("features", "c2_features", sql("05_features")?)
        .await?;
    run.fit(
        "fit timing scaler",
        "timing_scaler",
        "TIMING_SCALER",
        sql("06_fit_timing_scaler")?,
    )
    .await?;
    let k = run.params.int("C2_KMEANS_K")?.min(entities as i64).max(1);
    run.extra.insert("EFFECTIVE_K".into(), k.to_string());
    run.fit(
        "fit k-means",
        "kmeans",
        "KMEANS_MODEL",
        sql("07_fit_kmeans")?,
    )
    .await?;
    run.fit(
        "fit context scaler",
        "context_scaler",
        "CONTEXT_SCALER",
        sql("08_fit_context_scaler")?,
    )
    .await?;
    run.fit(
        "fit autoencoder",
        "autoencoder",
        "AUTOENCODER_MODEL",
        sql("09_fit_autoencoder")?,
    )
    .await?;
    run.materialize("score", "c2_scored", sql("10_score")?)
        .await?;
    let (batches, schema) = run.query("evidence", sql("11_evidence")?).await?;
    Ok(HuntOutput {
        findings: Finding {
            batches,
            schema,
            entity: vec!["processguid", "destinationip", "destinationport"],
            score: "beacon_score",
            display: vec![
                "host",
                "image",
                "destinationip",
                "destinationport",
                "connections",
                "mean_s",
                "cv",
                "beacon_score",
                "dns_names",
                "commandline",
                "parent_image",
            ],
        },
        effective: vec![("C2_KMEANS_K (effective)".into(), k.to_string())],
    })
}
