//! Behaviour of the LSTM next-event model (`seq_fit`, `seq_score`): it learns event
//! grammars, ranks unseen orderings above seen ones, trains the same model however
//! rows are partitioned, and turns every bad input into an error naming the function.
//!
//! Models here are small (a few thousand weights, a few epochs) so the debug build
//! trains each in about a second.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int64Builder, ListBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Accumulator;
use datafusion::prelude::SessionContext;
use huntsman_udfs::fit::FitAccumulator;
use huntsman_udfs::matrix::SeededRng;
use huntsman_udfs::neural::{Accelerator, gpu_supported};
use huntsman_udfs::sequence::{
    FitOutcome, SequenceModel, SequenceParams, SequencePartial, SequenceValidParams,
};
use huntsman_udfs::session::{huntsman_session_config, huntsman_session_state};

/// Sysmon-like grammars: process create, then a repeated middle, then a tail.
fn grammar_row(rng: &mut SeededRng) -> Vec<i64> {
    let repeat = |rng: &mut SeededRng, id: i64| vec![id; 1 + rng.gen_range(3)];
    match rng.gen_range(10) {
        // 1 → 7+ → 3 → 22 → 3 (40 %)
        0..=3 => [vec![1], repeat(rng, 7), vec![3, 22, 3]].concat(),
        // 1 → 11+ → 3 → 22 (30 %)
        4..=6 => [vec![1], repeat(rng, 11), vec![3, 22]].concat(),
        // 1 → 3 → 3 → 17 → 18+ (20 %)
        7 | 8 => [vec![1, 3, 3, 17], repeat(rng, 18)].concat(),
        // 1 → 22 → 3 → 5 (10 %)
        _ => vec![1, 22, 3, 5],
    }
}

fn grammar_rows(n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = SeededRng::new(seed);
    (0..n).map(|_| grammar_row(&mut rng)).collect()
}

fn small_params() -> SequenceValidParams {
    SequenceParams::default()
        .embedding_dim(8)
        .hidden_dim(24)
        .num_layers(1)
        .epochs(8)
        .batch_size(32)
        .learning_rate(0.01)
        .check()
        .expect("valid test input")
}

/// The grammar model, trained once for the tests that read it.
fn grammar_fit() -> &'static FitOutcome {
    static FIT: OnceLock<FitOutcome> = OnceLock::new();
    FIT.get_or_init(|| {
        let mut partial = SequencePartial::new(&small_params());
        for row in grammar_rows(400, 7) {
            partial.add(&row);
        }
        partial.finish().expect("trains")
    })
}

fn score(model: &SequenceModel, rows: &[Vec<i64>]) -> Vec<f64> {
    model
        .score(rows, Accelerator::Cpu)
        .expect("scores")
        .into_iter()
        .map(|s| s.expect("non-empty rows have scores"))
        .collect()
}

#[test]
fn training_loss_decreases() {
    let losses = &grammar_fit().epoch_losses;
    eprintln!("epoch losses: {losses:?}");
    assert_eq!(losses.len(), 8);
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < 0.6 * first, "loss fell too little: {losses:?}");
    // Mostly downhill: no epoch more than 10 % above the one before.
    for w in losses.windows(2) {
        assert!(w[1] < 1.1 * w[0], "{losses:?}");
    }
    // The grammars leave about 0.5 nats of honest uncertainty per event (the repeat
    // counts and the branch after the start); the model gets close to it.
    assert!(last < 0.9, "{losses:?}");
}

#[test]
fn unseen_orderings_of_the_same_ids_score_higher() {
    let model = &grammar_fit().model;
    let pairs: [(Vec<i64>, Vec<i64>); 5] = [
        (vec![1, 7, 7, 3, 22, 3], vec![3, 22, 7, 1, 3, 7]),
        (vec![1, 11, 11, 3, 22], vec![22, 3, 11, 1, 11]),
        (vec![1, 3, 3, 17, 18, 18], vec![18, 17, 3, 1, 18, 3]),
        (vec![1, 22, 3, 5], vec![5, 3, 22, 1]),
        (vec![1, 7, 3, 22, 3], vec![1, 3, 7, 3, 22]),
    ];
    let seen: Vec<Vec<i64>> = pairs.iter().map(|(s, _)| s.clone()).collect();
    let unseen: Vec<Vec<i64>> = pairs.iter().map(|(_, u)| u.clone()).collect();
    let (s, u) = (score(model, &seen), score(model, &unseen));
    eprintln!("seen {s:?}\nunseen {u:?}");
    for (i, (a, b)) in s.iter().zip(&u).enumerate() {
        assert!(b > a, "pair {i}: unseen {b} not above seen {a}");
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&u) > mean(&s) + 1.5,
        "mean margin too small: seen {} unseen {}",
        mean(&s),
        mean(&u)
    );
}

#[test]
fn out_of_vocabulary_ids_score_as_unknown_and_high() {
    let model = &grammar_fit().model;
    assert_eq!(model.vocabulary().ids(), &[1, 3, 5, 7, 11, 17, 18, 22]);
    let s = score(
        model,
        &[
            vec![1, 7, 3, 22, 3],
            vec![1, 7, 999, 22, 3],
            vec![1, 7, -4, 22, 3],
        ],
    );
    assert_eq!(s[1], s[2], "every unknown id is the same token");
    assert!(s[1] > s[0] + 0.5, "{s:?}");
}

#[test]
fn merged_partial_states_train_the_same_model() {
    let params = SequenceParams::default()
        .embedding_dim(4)
        .hidden_dim(8)
        .num_layers(2)
        .epochs(2)
        .batch_size(16)
        .max_sequences(12)
        .check()
        .expect("valid test input");
    let rows = grammar_rows(90, 11);
    let whole = {
        let mut acc = FitAccumulator::new(SequencePartial::new(&params));
        acc.update_batch(&[ids_array(&rows)]).expect("updates");
        acc.evaluate().expect("trains")
    };
    for splits in [[30usize, 60], [1, 89], [45, 46]] {
        let mut states = Vec::new();
        for part in [
            &rows[..splits[0]],
            &rows[splits[0]..splits[1]],
            &rows[splits[1]..],
        ] {
            let mut acc = FitAccumulator::new(SequencePartial::new(&params));
            acc.update_batch(&[ids_array(part)]).expect("updates");
            let ScalarValue::Binary(state) = &acc.state().expect("state")[0] else {
                panic!("state is Binary");
            };
            states.push(state.clone());
        }
        states.reverse();
        let mut merged = FitAccumulator::new(SequencePartial::new(&params));
        let array: ArrayRef = Arc::new(BinaryArray::from_iter(states));
        merged.merge_batch(&[array]).expect("merges");
        assert_eq!(
            merged.evaluate().expect("trains"),
            whole,
            "splits {splits:?}"
        );
    }
    // The kept sample is capped and the model still trains deterministically.
    let mut partial = SequencePartial::new(&params);
    rows.iter().for_each(|r| partial.add(r));
    assert!(partial.pool_len() <= 12);
    let a = partial.finish().expect("trains").model;
    let b = partial.finish().expect("trains").model;
    assert_eq!(a, b);
}

fn ids_array(rows: &[Vec<i64>]) -> ArrayRef {
    let mut b = ListBuilder::new(Int64Builder::new());
    for r in rows {
        b.values().append_slice(r);
        b.append(true);
    }
    Arc::new(b.finish())
}

// ---------------------------------------------------------------------------------
// SQL.

fn ctx() -> SessionContext {
    SessionContext::new_with_state(
        huntsman_session_state(huntsman_session_config()).expect("session state"),
    )
}

const TINY: &str =
    r#"'{"embedding_dim": 4, "hidden_dim": 8, "num_layers": 1, "epochs": 2}'"#;

async fn collect(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn error_of(ctx: &SessionContext, sql: &str) -> String {
    match ctx.sql(sql).await {
        Err(e) => e.to_string(),
        Ok(df) => df.collect().await.expect_err(sql).to_string(),
    }
}

fn floats(batches: &[RecordBatch], col: usize) -> Vec<Option<f64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column(col)
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("Float64 column");
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn first_bool(batches: &[RecordBatch], col: usize) -> bool {
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    b.column(col)
        .as_any()
        .downcast_ref::<BooleanArray>()
        .expect("Boolean column")
        .value(0)
}

/// A table `procs(guid, ids)` of grammar rows.
fn register_procs(ctx: &SessionContext, rows: &[Vec<i64>]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("guid", DataType::Int64, false),
        Field::new(
            "ids",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            true,
        ),
    ]));
    let guids: ArrayRef = Arc::new(
        datafusion::arrow::array::Int64Array::from_iter_values(0..rows.len() as i64),
    );
    let batch = RecordBatch::try_new(schema.clone(), vec![guids, ids_array(rows)])
        .expect("batch");
    // Two partitions, so the aggregate merges partial states.
    let half = batch.num_rows() / 2;
    let parts = vec![
        vec![batch.slice(0, half)],
        vec![batch.slice(half, batch.num_rows() - half)],
    ];
    let table = MemTable::try_new(schema, parts).expect("table");
    ctx.register_table("procs", Arc::new(table))
        .expect("registers");
}

#[tokio::test]
async fn documented_examples_hold() {
    let ctx = ctx();
    let fit_example = "SELECT seq_score([1, 3, 3], m) < seq_score([3, 1, 22], m) AS \
        usual_scores_lower FROM (SELECT seq_fit(ids, '{\"embedding_dim\": 8, \
        \"hidden_dim\": 16, \"num_layers\": 1, \"epochs\": 40, \"learning_rate\": 0.05}') \
        AS m FROM (VALUES ([1, 3, 3]), ([1, 3, 3]), ([1, 3, 3]), ([1, 7, 11])) AS t(ids))";
    assert!(first_bool(&collect(&ctx, fit_example).await, 0));
    let score_example = "SELECT seq_score([], m) IS NULL AS empty_is_null, \
        seq_score([1], m) > 0 AS positive FROM (SELECT seq_fit(ids, '{\"hidden_dim\": 8, \
        \"embedding_dim\": 4, \"epochs\": 2}') AS m FROM (VALUES ([1, 3, 22])) AS t(ids))";
    let batches = collect(&ctx, score_example).await;
    assert!(first_bool(&batches, 0));
    assert!(first_bool(&batches, 1));
}

#[tokio::test]
async fn sql_scores_match_the_rust_model_and_handle_nulls() {
    let ctx = ctx();
    let rows = grammar_rows(60, 3);
    register_procs(&ctx, &rows);
    let sql = format!("SELECT seq_fit(ids, {TINY}) AS m FROM procs");
    let batches = collect(&ctx, &sql).await;
    let model_bytes = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<BinaryArray>()
        .expect("Binary model")
        .value(0)
        .to_vec();
    let env = huntsman_udfs::model_io::decode(
        &model_bytes,
        huntsman_proto::ModelKind::Sequence,
        1,
    )
    .expect("a sequence model");
    let model = SequenceModel::from_bytes(&env.payload).expect("decodes");
    assert_eq!(model.n_rows(), 60);

    // Every row scored through SQL, joined with the model, equals the Rust score.
    let sql = format!(
        "WITH m AS (SELECT seq_fit(ids, {TINY}) AS m FROM procs) \
         SELECT seq_score(ids, m.m) FROM procs CROSS JOIN m ORDER BY guid"
    );
    let got = floats(&collect(&ctx, &sql).await, 0);
    let want = model.score(&rows, Accelerator::Cpu).expect("scores");
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let (g, w) = (g.expect("scored"), w.expect("scored"));
        assert!((g - w).abs() < 1e-9, "row {i}: {g} vs {w}");
    }

    // Nulls, empty lists, null ids inside a list, Int32 lists, one-event sequences.
    let sql = format!(
        "WITH m AS (SELECT seq_fit(ids, {TINY}) AS m FROM procs) SELECT \
         seq_score(NULL, m) AS a, seq_score([], m) AS b, seq_score([1, NULL, 7], m) AS c, \
         seq_score([1, 7], m) AS d, \
         seq_score(make_array(CAST(1 AS INT), CAST(7 AS INT)), m) AS e, \
         seq_score([1], m) AS f, seq_score([1], NULL) AS g FROM m"
    );
    let b = collect(&ctx, &sql).await;
    let v: Vec<Option<f64>> = (0..7).map(|c| floats(&b, c)[0]).collect();
    assert_eq!(v[0], None);
    assert_eq!(v[1], None);
    assert_eq!(v[2], v[3], "null ids inside a list are skipped");
    assert_eq!(v[4], v[3], "Int32 lists are coerced");
    assert!(v[5].is_some_and(|s| s.is_finite() && s > 0.0));
    assert_eq!(v[6], None);

    // A model stored in a file inside the session's model roots scores the same
    // through its path.
    let root = std::env::temp_dir().join(format!("huntsman-seq-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("temp dir");
    collect(
        &ctx,
        &format!("SET huntsman.model_roots = '{}'", root.display()),
    )
    .await;
    let path = root.join("sequence.model");
    std::fs::write(&path, &model_bytes).expect("writes");
    let sql = format!(
        "SELECT seq_score([1, 7, 3], '{}'), seq_score([1, 7, 3], 'file://{}')",
        path.display(),
        path.display()
    );
    let b = collect(&ctx, &sql).await;
    let want = model
        .score(&[vec![1, 7, 3]], Accelerator::Cpu)
        .expect("scores")[0];
    assert_eq!(floats(&b, 0)[0], want);
    assert_eq!(floats(&b, 1)[0], want);
    let _ = std::fs::remove_dir_all(&root);

    // No rows: a null model; explicit use_gpu false works.
    let sql =
        format!("SELECT seq_fit(ids, {TINY}, false) IS NULL FROM procs WHERE guid < 0");
    assert!(first_bool(&collect(&ctx, &sql).await, 0));
}

#[tokio::test]
async fn bad_configuration_fails_at_planning_naming_the_key() {
    let ctx = ctx();
    let values = "FROM (VALUES ([1, 3])) AS t(ids)";
    for (config, needle) in [
        (r#"'{"epoch": 3}'"#, "unknown key `epoch`"),
        (r#"'{"hidden_dim": 0}'"#, "hidden_dim must be between 1"),
        (r#"'{"learning_rate": -1}'"#, "learning_rate must be in"),
        (
            r#"'{"epochs": "many"}'"#,
            "epochs must be a non-negative integer",
        ),
        (r#"'{"vocab_size": 2}'"#, "vocab_size must be between 4"),
        ("'[1]'", "must be a JSON object"),
        ("'{'", "not valid JSON"),
        ("42", "config_json must be a JSON string"),
    ] {
        let sql = format!("SELECT seq_fit(ids, {config}) {values}");
        let err = error_of(&ctx, &sql).await;
        assert!(
            err.contains("seq_fit") && err.contains(needle),
            "{sql}: {err}"
        );
    }
    let err = error_of(
        &ctx,
        "SELECT seq_fit(ids, CAST(ids AS VARCHAR)) FROM (VALUES ([1, 3])) AS t(ids)",
    )
    .await;
    assert!(
        err.contains("seq_fit: config_json must be a literal"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_argument_types_fail_at_planning() {
    let ctx = ctx();
    for (sql, needle) in [
        (
            "SELECT seq_fit('abc')",
            "seq_fit: ids must be a list of integer event ids",
        ),
        ("SELECT seq_fit([1.5, 2.5])", "got a list of Float64"),
        (
            "SELECT seq_score([1.5], X'00')",
            "seq_score: ids must be a list",
        ),
        (
            "SELECT seq_score([1], 42)",
            "seq_score: model must be Binary",
        ),
        ("SELECT seq_score([1])", "seq_score: takes (ids, model)"),
        ("SELECT seq_fit([1], 'x', true, 1)", "seq_fit: takes (ids"),
        (
            "SELECT seq_fit([1], '{}', 'yes')",
            "use_gpu must be a boolean",
        ),
    ] {
        let err = error_of(&ctx, sql).await;
        assert!(err.contains(needle), "{sql}: {err}");
    }
}

#[tokio::test]
async fn corrupted_or_foreign_models_are_clear_errors() {
    let ctx = ctx();
    let sql = format!(
        "SELECT seq_fit(ids, {TINY}) AS m FROM (VALUES ([1, 3, 22]), ([1, 7])) AS t(ids)"
    );
    let batches = collect(&ctx, &sql).await;
    let good = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<BinaryArray>()
        .expect("Binary model")
        .value(0)
        .to_vec();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    for (bytes, needle) in [
        (good[..good.len() - 9].to_vec(), "corrupted"),
        (flipped, "corrupted"),
        (b"garbage!garbage!".to_vec(), "not a Huntsman model"),
        (vec![1, 2, 3], "truncated"),
    ] {
        let sql = format!("SELECT seq_score([1, 3], X'{}')", hex(&bytes));
        let err = error_of(&ctx, &sql).await;
        assert!(err.contains("seq_score") && err.contains(needle), "{err}");
    }
    let err = error_of(
        &ctx,
        "SELECT seq_score([1], m) FROM (SELECT kmeans_fit(v, 1) AS m FROM \
         (VALUES ([1.0])) AS t(v))",
    )
    .await;
    assert!(
        err.contains("expected a sequence model, got a k-means model"),
        "{err}"
    );
    // A path outside the session's model roots is refused before anything is opened.
    let err = error_of(&ctx, "SELECT seq_score([1], '/nonexistent/model.bin')").await;
    assert!(
        err.contains(
            "seq_score: model '/nonexistent/model.bin' is outside the model roots"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn use_gpu_without_gpu_support_is_a_clear_error() {
    if gpu_supported() {
        return;
    }
    let ctx = ctx();
    collect(&ctx, "SET huntsman.use_gpu = true").await;
    let err = error_of(
        &ctx,
        &format!("SELECT seq_fit(ids, {TINY}) FROM (VALUES ([1, 3])) AS t(ids)"),
    )
    .await;
    assert!(
        err.contains("seq_fit") && err.contains("no GPU support"),
        "{err}"
    );
    let sql = format!(
        "SELECT seq_score([1], m) FROM (SELECT seq_fit(ids, {TINY}, false) AS m \
         FROM (VALUES ([1, 3])) AS t(ids))"
    );
    let err = error_of(&ctx, &sql).await;
    assert!(
        err.contains("seq_score") && err.contains("no GPU support"),
        "{err}"
    );
}
