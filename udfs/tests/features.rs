//! The feature functions through SQL, as a hunt uses them: every documented example
//! gives the output its documentation shows, the fitted models do not depend on how the
//! rows are partitioned, and the text pipeline of the AD hunts (tokenize → hash_tf →
//! idf_fit / tfidf → to_dense → scaler_fit / scale) yields hand-checked values.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use huntsman_udfs::features::{FEATURES_SECTION, hash_tf, term_hash, tokenize};
use huntsman_udfs::sparse::SparseRows;
use huntsman_udfs::{
    aggregate_functions, huntsman_session_config, huntsman_session_state,
    scalar_functions,
};

fn ctx_with(partitions: usize) -> SessionContext {
    let config: SessionConfig =
        huntsman_session_config().with_target_partitions(partitions);
    SessionContext::new_with_state(huntsman_session_state(config).expect("state builds"))
}

async fn run(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: plans: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: runs: {e}"))
}

/// The one float tolerance helper.
fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: {a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{what}: {a:?} vs {b:?}");
    }
}

#[tokio::test]
async fn every_documented_example_gives_its_documented_output() {
    let mut docs = Vec::new();
    for f in scalar_functions() {
        docs.push((f.name().to_string(), f.documentation().cloned()));
    }
    for f in aggregate_functions() {
        docs.push((f.name().to_string(), f.documentation().cloned()));
    }
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (name, doc) in docs {
        let Some(doc) = doc else { continue };
        if doc.doc_section.label != FEATURES_SECTION.label {
            continue;
        }
        let example = doc.sql_example.expect("feature functions have an example");
        let body = example
            .trim_start_matches("```sql\n> ")
            .split("\n```")
            .next()
            .expect("example body");
        let (sql, expected) = body.split_once(";\n").expect("`;` then the table");
        let batches = run(&ctx_with(4), sql).await;
        let got = pretty_format_batches(&batches)
            .expect("formats")
            .to_string();
        if got.trim() != expected.trim() {
            mismatches.push(format!("{name}: {sql};\n{got}\ndocumented:\n{expected}"));
        }
        checked += 1;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
    assert_eq!(checked, 11, "every feature function has a checked example");
}

/// LDAP queries of a few accounts, in `partitions` partitions of uneven size.
fn queries(partitions: usize) -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user", DataType::Utf8, true),
        Field::new("query", DataType::Utf8, true),
        Field::new("port", DataType::Int64, true),
    ]));
    let filters = [
        "(&(objectCategory=person)(servicePrincipalName=*))",
        "(objectClass=user)",
        "(&(objectClass=group)(adminCount=1))",
        "(sAMAccountName=krbtgt)",
        "(objectClass=computer)",
    ];
    let n = 97i64;
    let ids: Vec<i64> = (0..n).collect();
    let users: Vec<Option<String>> = ids
        .iter()
        .map(|i| (i % 13 != 0).then(|| format!("user{}", i % 7)))
        .collect();
    let texts: Vec<Option<String>> = ids
        .iter()
        .map(|i| {
            (i % 11 != 5).then(|| {
                let a = filters[(i * i % 5) as usize];
                let b = filters[(i % 3) as usize];
                if i % 2 == 0 {
                    format!("{a}{b}")
                } else {
                    a.to_string()
                }
            })
        })
        .collect();
    let ports: Vec<Option<i64>> = ids
        .iter()
        .map(|i| (i % 9 != 0).then_some([443, 80, 443, 8080, 53][(i % 5) as usize]))
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(ids)) as ArrayRef,
            Arc::new(StringArray::from(users)),
            Arc::new(StringArray::from(texts)),
            Arc::new(Int64Array::from(ports)),
        ],
    )
    .expect("batch");
    // Uneven cuts: the first partition is small, the rest share the remainder.
    let mut parts = vec![Vec::new(); partitions];
    let mut start = 0;
    for (p, part) in parts.iter_mut().enumerate() {
        let len = if p + 1 == partitions {
            batch.num_rows() - start
        } else {
            (3 + 17 * p).min(batch.num_rows() - start)
        };
        // Two batches per partition, so merges happen inside a partition too.
        let half = len / 2;
        part.push(batch.slice(start, half));
        part.push(batch.slice(start + half, len - half));
        start += len;
    }
    MemTable::try_new(schema, parts).expect("table")
}

async fn models(partitions: usize) -> RecordBatch {
    let ctx = ctx_with(partitions);
    ctx.register_table("q", Arc::new(queries(partitions)))
        .expect("registers");
    let batches = run(
        &ctx,
        "SELECT idf_fit(hash_tf(tokenize(query), 64)) AS idf, \
         category_index_fit(user) AS users, category_index_fit(port, 3) AS ports \
         FROM q",
    )
    .await;
    batches
        .into_iter()
        .find(|b| b.num_rows() > 0)
        .expect("a row")
}

#[tokio::test]
async fn exact_models_do_not_depend_on_partitioning() {
    let one = models(1).await;
    for partitions in [2, 4, 6] {
        let many = models(partitions).await;
        for col in 0..one.num_columns() {
            assert_eq!(
                one.column(col).as_binary::<i32>().value(0),
                many.column(col).as_binary::<i32>().value(0),
                "model {col} with {partitions} partitions"
            );
        }
    }
}

/// Scales each row's hashed term counts with a scaler fitted over `partitions`
/// partitions, in `id` order.
async fn scaled(partitions: usize, method: &str) -> Vec<Vec<f64>> {
    let ctx = ctx_with(partitions);
    ctx.register_table("q", Arc::new(queries(partitions)))
        .expect("registers");
    let sql = format!(
        "WITH f AS (SELECT id, to_dense(hash_tf(tokenize(query), 16)) AS v FROM q \
         WHERE query IS NOT NULL), \
         m AS (SELECT scaler_fit(v, '{method}') AS m FROM f) \
         SELECT id, scale(v, m.m) AS s FROM f CROSS JOIN m ORDER BY id"
    );
    let mut out = Vec::new();
    for b in run(&ctx, &sql).await {
        let s = b.column(1).as_list::<i32>();
        for i in 0..b.num_rows() {
            out.push(s.value(i).as_primitive::<Float64Type>().values().to_vec());
        }
    }
    out
}

#[tokio::test]
async fn scalers_agree_across_partitionings_and_hit_their_targets() {
    for method in ["standard", "minmax"] {
        let one = scaled(1, method).await;
        let many = scaled(5, method).await;
        assert_eq!(one.len(), many.len());
        for (a, b) in one.iter().zip(&many) {
            assert_close(a, b, 1e-9, method);
        }
        // Per column: standard scaling gives mean 0 and population variance 1 (or a
        // constant 0); min-max spans exactly [0, 1] (or a constant 0).
        let n = one.len() as f64;
        for j in 0..16 {
            let col: Vec<f64> = one.iter().map(|r| r[j]).collect();
            let constant = col.iter().all(|v| *v == 0.0);
            if method == "standard" {
                let mean = col.iter().sum::<f64>() / n;
                let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                assert!(mean.abs() < 1e-9, "column {j} mean {mean}");
                assert!(constant || (var - 1.0).abs() < 1e-9, "column {j} var {var}");
            } else {
                let min = col.iter().copied().fold(f64::INFINITY, f64::min);
                let max = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                assert!(
                    constant || (min, max) == (0.0, 1.0),
                    "column {j} {min}..{max}"
                );
            }
        }
    }
}

#[tokio::test]
async fn ad_text_pipeline_matches_a_hand_computation() {
    // Three documents hashed into 4096 columns (no collisions among these terms).
    let docs = [
        "(&(objectCategory=person)(servicePrincipalName=*))",
        "(objectCategory=person)",
        "(objectClass=user)",
    ];
    let n = 4096;
    let terms = [
        "objectcategory",
        "person",
        "serviceprincipalname",
        "objectclass",
        "user",
    ];
    let cols: Vec<u64> = terms.iter().map(|t| term_hash(t) % n as u64).collect();
    let mut unique = cols.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), terms.len(), "test terms must not collide");

    let ctx = ctx_with(3);
    let values = docs
        .iter()
        .enumerate()
        .map(|(i, d)| format!("({i}, '{d}')"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH d AS (SELECT * FROM (VALUES {values}) AS t(id, q)), \
         tf AS (SELECT id, hash_tf(tokenize(q), {n}) AS tf FROM d), \
         m AS (SELECT idf_fit(tf) AS m FROM tf) \
         SELECT id, tfidf(tf, m.m, 'l2') AS w FROM tf CROSS JOIN m ORDER BY id"
    );
    let batches = run(&ctx, &sql).await;
    let b = &batches[0];
    let rows = SparseRows::from_array(b.column(1).as_ref()).expect("sparse");
    assert_eq!(rows.dim(), Ok(n));

    // df: objectcategory 2, person 2, serviceprincipalname 1, objectclass 1, user 1;
    // idf = ln(4 / (1 + df)) + 1.
    let idf = |df: f64| (4.0 / (1.0 + df)).ln() + 1.0;
    let expected_doc = |i: usize| -> Vec<(u64, f64)> {
        let tokens = tokenize(docs[i]);
        let (idx, tf) = hash_tf(tokens.iter().map(String::as_str), n);
        let weights: Vec<(u64, f64)> = idx
            .iter()
            .zip(&tf)
            .map(|(&j, &t)| {
                let term =
                    terms[cols.iter().position(|&c| c == j as u64).expect("known")];
                let df = match term {
                    "objectcategory" | "person" => 2.0,
                    _ => 1.0,
                };
                (j as u64, t * idf(df))
            })
            .collect();
        let len = weights.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
        weights.into_iter().map(|(j, w)| (j, w / len)).collect()
    };
    for i in 0..docs.len() {
        let (idx, w) = rows.row(i);
        let expected = expected_doc(i);
        let got_idx: Vec<u64> = idx.iter().map(|&j| j as u64).collect();
        let exp_idx: Vec<u64> = expected.iter().map(|e| e.0).collect();
        assert_eq!(got_idx, exp_idx, "document {i}");
        let exp_w: Vec<f64> = expected.iter().map(|e| e.1).collect();
        assert_close(w, &exp_w, 1e-12, &format!("document {i}"));
        let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-12);
    }
    // Document 1: two terms of equal weight, each 1/sqrt(2) after normalisation.
    assert_close(
        rows.row(1).1,
        &[0.5f64.sqrt(), 0.5f64.sqrt()],
        1e-12,
        "doc 1",
    );
}

#[tokio::test]
async fn category_index_maps_unseen_values_to_other() {
    let ctx = ctx_with(2);
    ctx.register_table("q", Arc::new(queries(2)))
        .expect("registers");
    let batches = run(
        &ctx,
        "SELECT category_index(p, m) AS i FROM \
         (VALUES (443), (80), (8080), (53), (22), (NULL)) AS v(p), \
         (SELECT category_index_fit(port, 3) AS m FROM q) ORDER BY p NULLS LAST",
    )
    .await;
    // Ports of rows 0..97 without multiples of 9, by i % 5: 443 (0, 2), 80 (1),
    // 8080 (3), 53 (4). Count each in the fixture and order as the model does.
    let mut counts = std::collections::BTreeMap::<i64, usize>::new();
    for i in 0..97i64 {
        if i % 9 != 0 {
            *counts
                .entry([443, 80, 443, 8080, 53][(i % 5) as usize])
                .or_default() += 1;
        }
    }
    let mut order: Vec<(i64, usize)> = counts.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.to_string().cmp(&b.0.to_string())));
    let index_of = |p: i64| {
        order
            .iter()
            .take(3)
            .position(|(q, _)| *q == p)
            .map_or(3, |i| i as i64)
    };
    let got: Vec<Option<i64>> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect();
    let expected: Vec<Option<i64>> = [22, 53, 80, 443, 8080]
        .into_iter()
        .map(|p| Some(index_of(p)))
        .chain([None])
        .collect();
    assert_eq!(got, expected);
    assert_eq!(batches[0].column(0).data_type(), &DataType::Int64);
}
