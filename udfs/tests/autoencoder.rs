//! `autoencoder_fit` / `autoencoder_score` end to end: anomaly ranking on synthetic data
//! (dense and sparse), partition invariance, and refusal of corrupted models, through the
//! public API and through SQL on an in-process `SessionContext`.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, RecordBatch,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Accumulator;
use datafusion::prelude::SessionContext;
use huntsman_proto::ModelKind;
use huntsman_udfs::autoencoder::{AutoencoderParams, AutoencoderPartial, InputBatch};
use huntsman_udfs::fit::FitAccumulator;
use huntsman_udfs::matrix::{FeatureMatrix, SeededRng};
use huntsman_udfs::model_io::{ModelMeta, decode, encode};
use huntsman_udfs::neural::Accelerator;
use huntsman_udfs::sparse::{SparseBuilder, sparse_type};

/// Probability that a random outlier scores above a random inlier (ties count half).
fn auc(scores: &[f64], outlier: &[bool]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (s, o) in scores.iter().zip(outlier) {
        if !o {
            continue;
        }
        for (t, p) in scores.iter().zip(outlier) {
            if *p {
                continue;
            }
            pairs += 1.0;
            if s > t {
                wins += 1.0;
            } else if s == t {
                wins += 0.5;
            }
        }
    }
    wins / pairs
}

/// 300 rows near a 2-dimensional plane in 10 dimensions, then 12 off it.
fn manifold(seed: u64) -> (Vec<[f64; 10]>, Vec<bool>) {
    let mut rng = SeededRng::new(seed);
    let basis: Vec<[f64; 2]> =
        (0..10).map(|_| [rng.next_f64(), rng.next_f64()]).collect();
    let mut rows = Vec::new();
    let mut outlier = Vec::new();
    for _ in 0..300 {
        let (u, v) = (rng.next_f64(), rng.next_f64());
        let mut r = [0.0; 10];
        for (x, b) in r.iter_mut().zip(&basis) {
            *x = 0.5 * (b[0] * u + b[1] * v) + 0.01 * (rng.next_f64() - 0.5);
        }
        rows.push(r);
        outlier.push(false);
    }
    for _ in 0..12 {
        let mut r = [0.0; 10];
        for x in r.iter_mut() {
            *x = rng.next_f64();
        }
        rows.push(r);
        outlier.push(true);
    }
    (rows, outlier)
}

fn dense_batch(rows: &[[f64; 10]]) -> InputBatch {
    let m = FeatureMatrix::from_rows(rows).expect("finite rows");
    InputBatch::read(&m.to_arrow()).expect("dense rows read")
}

const DENSE_OPTIONS: &str = r#"{"hidden": [6, 2], "activation": "tanh", "output": "linear",
    "epochs": 60, "batch_size": 32, "learning_rate": 0.01}"#;

#[test]
fn off_manifold_rows_score_higher_and_the_loss_falls() {
    let (rows, outlier) = manifold(7);
    let params = AutoencoderParams::from_json(DENSE_OPTIONS)
        .and_then(AutoencoderParams::check)
        .expect("valid options");
    let mut partial = AutoencoderPartial::new(&params);
    let x = dense_batch(&rows);
    partial.update(&x).expect("update");
    let (model, report) = partial.finish(Accelerator::Cpu).expect("trains");
    let scores = model.score(&x, Accelerator::Cpu).expect("scores");
    let scores: Vec<f64> = (0..scores.len()).map(|i| scores.value(i)).collect();
    let a = auc(&scores, &outlier);
    let l = &report.epoch_losses;
    eprintln!(
        "dense AUC {a:.4}; loss by epoch: first {:.5}, 10th {:.5}, last {:.5}",
        l[0],
        l[9],
        l[l.len() - 1]
    );
    assert!(a >= 0.95, "AUC {a}");
    assert!(l[l.len() - 1] < l[0] * 0.25, "{l:?}");
}

/// A sparse row: ascending indices and their values.
type SparseRow = (Vec<i32>, Vec<f64>);

/// Sparse "command lines" in 2^18 hashed columns: 6 templates of 4 tokens plus one of
/// 3 variant tokens; anomalies use unseen tokens, or mix two templates.
fn sparse_rows(seed: u64) -> (Vec<SparseRow>, Vec<bool>) {
    let mut rng = SeededRng::new(seed);
    let token = |rng: &mut SeededRng| rng.gen_range(1 << 18) as i32;
    let templates: Vec<Vec<i32>> = (0..6)
        .map(|_| (0..4).map(|_| token(&mut rng)).collect())
        .collect();
    let variants: Vec<Vec<i32>> = (0..6)
        .map(|_| (0..3).map(|_| token(&mut rng)).collect())
        .collect();
    let row = |mut idx: Vec<i32>| {
        idx.sort_unstable();
        idx.dedup();
        let vals = idx.iter().map(|_| 1.0).collect();
        (idx, vals)
    };
    let mut rows = Vec::new();
    let mut outlier = Vec::new();
    for i in 0..300 {
        let t = i % 6;
        let mut idx = templates[t].clone();
        idx.push(variants[t][rng.gen_range(3)]);
        rows.push(row(idx));
        outlier.push(false);
    }
    for i in 0..8 {
        let idx = if i % 2 == 0 {
            (0..4).map(|_| token(&mut rng)).collect()
        } else {
            let mut idx = templates[i % 6][..2].to_vec();
            idx.extend(&templates[(i + 3) % 6][2..]);
            idx
        };
        rows.push(row(idx));
        outlier.push(true);
    }
    (rows, outlier)
}

fn sparse_table(
    rows: &[(Vec<i32>, Vec<f64>)],
    outlier: &[bool],
    parts: usize,
) -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("v", sparse_type(), true),
        Field::new("outlier", DataType::Boolean, false),
    ]));
    let mut partitions = Vec::new();
    for p in 0..parts {
        let mut b = SparseBuilder::new(1 << 18);
        let mut labels = Vec::new();
        for (i, (r, o)) in rows.iter().zip(outlier).enumerate() {
            if i % parts == p {
                b.append(&r.0, &r.1);
                labels.push(*o);
            }
        }
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![b.finish(), Arc::new(BooleanArray::from(labels)) as ArrayRef],
        )
        .expect("batch");
        partitions.push(vec![batch]);
    }
    MemTable::try_new(schema, partitions).expect("table")
}

fn context() -> SessionContext {
    let ctx = SessionContext::new_with_config(huntsman_udfs::huntsman_session_config());
    huntsman_udfs::register_all_on_context(&ctx);
    ctx
}

const SPARSE_FIT: &str = "SELECT autoencoder_fit(v, '{\"hidden\": [16], \"epochs\": 30, \
    \"batch_size\": 32, \"learning_rate\": 0.01, \"output\": \"linear\", \"negatives\": 16}') AS m \
    FROM t";

async fn model_bytes(ctx: &SessionContext, sql: &str) -> Vec<u8> {
    let b = ctx
        .sql(sql)
        .await
        .expect("plans")
        .collect()
        .await
        .expect("fits");
    b[0].column(0)
        .as_any()
        .downcast_ref::<BinaryArray>()
        .expect("binary model")
        .value(0)
        .to_vec()
}

#[tokio::test]
async fn sparse_input_works_end_to_end_in_sql() {
    let (rows, outlier) = sparse_rows(3);
    let ctx = context();
    ctx.register_table("t", Arc::new(sparse_table(&rows, &outlier, 1)))
        .expect("registers");
    let batches = ctx
        .sql(&format!(
            "SELECT outlier, autoencoder_score(v, m) AS s FROM t, ({SPARSE_FIT}) AS model"
        ))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for b in &batches {
        let o = b
            .column(0)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("bool");
        let s = b
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64");
        for i in 0..b.num_rows() {
            labels.push(o.value(i));
            scores.push(s.value(i));
        }
    }
    assert_eq!(scores.len(), rows.len());
    let a = auc(&scores, &labels);
    let bytes = model_bytes(&ctx, SPARSE_FIT).await;
    let env = decode(&bytes, ModelKind::Autoencoder, 1).expect("a model");
    let params: serde_json::Value = serde_json::from_str(&env.params_json).expect("json");
    eprintln!("sparse AUC {a:.4}; training {}", params["training"]);
    assert!(a >= 0.95, "AUC {a}");
    assert!(env.features.expect("spec").sparse);
    let curve = params["training"]["loss_curve"].as_array().expect("curve");
    let first = curve[0].as_f64().expect("loss");
    let last = curve[curve.len() - 1].as_f64().expect("loss");
    assert!(last < first * 0.5, "{curve:?}");
}

#[tokio::test]
async fn partitioning_does_not_change_the_model() {
    let (rows, outlier) = sparse_rows(5);
    let mut models = Vec::new();
    let fit = "SELECT autoencoder_fit(v, '{\"hidden\": [8], \"epochs\": 4}') FROM t";
    for parts in [1, 3, 4] {
        let ctx = context();
        ctx.register_table("t", Arc::new(sparse_table(&rows, &outlier, parts)))
            .expect("registers");
        models.push(model_bytes(&ctx, fit).await);
    }
    assert_eq!(models[0], models[1]);
    assert_eq!(models[0], models[2]);
}

fn state_bytes(acc: &mut dyn Accumulator) -> Option<Vec<u8>> {
    match acc.state().expect("state").remove(0) {
        ScalarValue::Binary(b) => b,
        other => panic!("state is not binary: {other:?}"),
    }
}

#[test]
fn one_accumulator_equals_merged_partial_states() {
    let (rows, _) = manifold(11);
    let params = AutoencoderParams::from_json(r#"{"hidden": [4, 2], "epochs": 3}"#)
        .and_then(AutoencoderParams::check)
        .expect("valid options");
    let array = |r: &[[f64; 10]]| -> ArrayRef {
        Arc::new(FeatureMatrix::from_rows(r).expect("finite").to_arrow())
    };
    let mut whole = FitAccumulator::new(AutoencoderPartial::new(&params));
    whole.update_batch(&[array(&rows)]).expect("update");
    let mut states = Vec::new();
    for chunk in rows.chunks(70) {
        let mut part = FitAccumulator::new(AutoencoderPartial::new(&params));
        part.update_batch(&[array(chunk)]).expect("update");
        states.push(state_bytes(&mut part));
    }
    states.reverse();
    let mut merged = FitAccumulator::new(AutoencoderPartial::new(&params));
    merged
        .merge_batch(&[Arc::new(BinaryArray::from_iter(states)) as ArrayRef])
        .expect("merge");
    let a = whole.evaluate().expect("model");
    assert!(matches!(&a, ScalarValue::Binary(Some(_))));
    assert_eq!(a, merged.evaluate().expect("model"));
}

#[tokio::test]
async fn corrupted_models_are_clear_errors() {
    let (rows, _) = manifold(13);
    let params = AutoencoderParams::from_json(r#"{"hidden": [2], "epochs": 1}"#)
        .and_then(AutoencoderParams::check)
        .expect("valid options");
    let mut acc = FitAccumulator::new(AutoencoderPartial::new(&params));
    let x: ArrayRef =
        Arc::new(FeatureMatrix::from_rows(&rows).expect("finite").to_arrow());
    acc.update_batch(&[x]).expect("update");
    let ScalarValue::Binary(Some(model)) = acc.evaluate().expect("model") else {
        panic!("no model");
    };
    let mut flipped = model.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let bad_payload = encode(
        ModelKind::Autoencoder,
        1,
        ModelMeta::default(),
        model[..20].to_vec(),
    );
    let ctx = context();
    let vec = "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]";
    for (bytes, needle) in [
        (model[..model.len() - 3].to_vec(), "model is corrupted"),
        (flipped, "model is corrupted"),
        (model[..7].to_vec(), "model is truncated"),
        (bad_payload, "invalid autoencoder payload"),
        (b"PAR1 not a model".to_vec(), "not a Huntsman model"),
    ] {
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let sql = format!("SELECT autoencoder_score({vec}, X'{hex}')");
        let err = match ctx.sql(&sql).await {
            Ok(df) => df.collect().await.expect_err(needle).to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("autoencoder_score") && err.contains(needle),
            "{err}"
        );
    }
    // The intact model scores, and so does the same model read from a file inside the
    // session's model roots.
    let root = std::env::temp_dir().join(format!("huntsman-ae-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("temp dir");
    ctx.sql(&format!("SET huntsman.model_roots = '{}'", root.display()))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("sets the roots");
    let path = root.join("autoencoder.model");
    std::fs::write(&path, &model).expect("writes");
    let hex: String = model.iter().map(|b| format!("{b:02X}")).collect();
    let b = ctx
        .sql(&format!(
            "SELECT autoencoder_score({vec}, X'{hex}') = autoencoder_score({vec}, '{}')",
            path.display()
        ))
        .await
        .expect("plans")
        .collect()
        .await
        .expect("scores");
    let _ = std::fs::remove_dir_all(&root);
    let same = b[0]
        .column(0)
        .as_any()
        .downcast_ref::<BooleanArray>()
        .expect("bool");
    assert!(same.value(0));
}
