//! Distribution does not change the answer: k-means and isolation forest trained on one
//! partition (embedded, one task slot, one file) and on eight partitions spread over two
//! executor processes give models of equal quality.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{AsArray, BooleanArray, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use huntsman_tests::{TestCluster, run_client};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const DIMS: usize = 5;

/// Four Gaussian blobs plus 2 % uniform outliers far from them.
fn points(n: usize, seed: u64) -> Vec<([f64; DIMS], bool)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = [
        [0.0; DIMS],
        [8.0; DIMS],
        [-8.0, 8.0, -8.0, 8.0, 0.0],
        [4.0, -6.0, 2.0, 0.0, 9.0],
    ];
    (0..n)
        .map(|i| {
            if i % 50 == 0 {
                let mut p = [0.0; DIMS];
                for v in &mut p {
                    *v = rng.random_range(-20.0..20.0);
                }
                (p, true)
            } else {
                let c = centres[i % centres.len()];
                let mut p = [0.0; DIMS];
                for (v, m) in p.iter_mut().zip(c) {
                    // sum of uniforms: close enough to a Gaussian for a blob
                    *v = m + (0..4).map(|_| rng.random_range(-0.5..0.5)).sum::<f64>();
                }
                (p, false)
            }
        })
        .collect()
}

fn write(dir: &Path, rows: &[([f64; DIMS], bool)], files: usize) {
    std::fs::create_dir_all(dir).expect("dir");
    let mut fields: Vec<Field> = (0..DIMS)
        .map(|d| Field::new(format!("f{d}"), DataType::Float64, false))
        .collect();
    fields.push(Field::new("outlier", DataType::Boolean, false));
    let schema = Arc::new(Schema::new(fields));
    for (i, chunk) in rows.chunks(rows.len().div_ceil(files)).enumerate() {
        let mut columns: Vec<Arc<dyn datafusion::arrow::array::Array>> = (0..DIMS)
            .map(|d| {
                Arc::new(Float64Array::from_iter_values(
                    chunk.iter().map(|(p, _)| p[d]),
                )) as Arc<dyn datafusion::arrow::array::Array>
            })
            .collect();
        columns.push(Arc::new(BooleanArray::from(
            chunk.iter().map(|(_, o)| *o).collect::<Vec<_>>(),
        )));
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
        let file = File::create(dir.join(format!("part-{i:03}.parquet"))).expect("file");
        let mut writer =
            ArrowWriter::try_new(file, schema.clone(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }
}

const VEC: &str = "make_array(f0, f1, f2, f3, f4)";

fn query(work: &Path, prefix: &[&str], data: &Path, sql: &str) -> Vec<Value> {
    let mut args: Vec<&str> = prefix.to_vec();
    let data = data.to_str().expect("utf8");
    args.extend(["--data", data, "sql", "--format", "json", sql]);
    let out = run_client(&args, work, Duration::from_secs(300)).expect("client ran");
    assert!(
        out.status.success(),
        "{sql} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn inertia(work: &Path, prefix: &[&str], data: &Path) -> f64 {
    let sql = format!(
        "WITH m AS (SELECT kmeans_fit({VEC}, 4, 42) AS model FROM events) \
         SELECT sum(power(kmeans_distance({VEC}, m.model), 2)) AS inertia \
         FROM events CROSS JOIN m"
    );
    query(work, prefix, data, &sql)[0]["inertia"]
        .as_f64()
        .expect("inertia")
}

/// Trains an isolation forest, stores the model as a file and returns its path. Large
/// models are passed to scoring functions by location (as the hunts do): joining a
/// megabyte model onto every row would copy it into every row of every batch.
fn train_forest(work: &Path, prefix: &[&str], data: &Path, name: &str) -> String {
    let parquet_out = work.join(format!("{name}.parquet"));
    let mut args: Vec<&str> = prefix.to_vec();
    let data = data.to_str().expect("utf8");
    let out_arg = parquet_out.to_str().expect("utf8");
    let sql = format!("SELECT iforest_fit({VEC}, 100, 256, 7) AS model FROM events");
    args.extend([
        "--data", data, "sql", "--format", "parquet", "--out", out_arg, &sql,
    ]);
    let out = run_client(&args, work, Duration::from_secs(300)).expect("client ran");
    assert!(
        out.status.success(),
        "training failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = File::open(&parquet_out).expect("model parquet");
    let mut reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader");
    let batch = reader.next().expect("a batch").expect("readable");
    let model = batch
        .column(0)
        .as_binary_opt::<i32>()
        .expect("binary model")
        .value(0)
        .to_vec();
    // Scoring functions read models by URI only inside the model roots: the client's
    // store (`BASE_S3_PATH`, by default ./huntsman-store in its working directory) holds
    // them, as a stored run would.
    let models = work.join("huntsman-store/models/test");
    std::fs::create_dir_all(&models).expect("models folder");
    let path = models.join(format!("{name}.hntm"));
    std::fs::write(&path, model).expect("model file");
    path.display().to_string()
}

/// Ranking AUC of the isolation-forest score for the labelled outliers.
fn auc(work: &Path, prefix: &[&str], data: &Path, name: &str) -> f64 {
    let model = train_forest(work, prefix, data, name);
    let sql = format!("SELECT iforest_score({VEC}, '{model}') AS s, outlier FROM events");
    let rows = query(work, prefix, data, &sql);
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for r in rows {
        let s = r["s"].as_f64().expect("score");
        if r["outlier"].as_bool().expect("label") {
            pos.push(s)
        } else {
            neg.push(s)
        }
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[test]
fn one_partition_and_eight_on_two_executors_train_equally_good_models() {
    let work = tempfile::tempdir().expect("tempdir");
    let rows = points(40_000, 11);
    let one = work.path().join("one");
    let eight = work.path().join("eight");
    write(&one, &rows, 1);
    write(&eight, &rows, 8);

    let single = ["--parallelism", "1"];
    let inertia_1 = inertia(work.path(), &single, &one);
    let auc_1 = auc(work.path(), &single, &one, "forest-1");

    let mut cluster = TestCluster::start(work.path(), 2, 4).expect("cluster");
    let url = cluster.url();
    let remote = ["--scheduler", url.as_str()];
    let inertia_8 = inertia(work.path(), &remote, &eight);
    let auc_8 = auc(work.path(), &remote, &eight, "forest-8");
    for (i, executor) in cluster.executors.iter().enumerate() {
        assert!(
            executor.log_text().contains("Finished task"),
            "executor {i} ran no task"
        );
    }
    cluster.scheduler.terminate(Duration::from_secs(10));

    eprintln!(
        "k-means inertia: 1 partition {inertia_1}, 8 partitions {inertia_8}; \
         isolation-forest AUC: {auc_1} vs {auc_8}"
    );
    let rel = (inertia_8 - inertia_1).abs() / inertia_1;
    assert!(
        rel < 0.01,
        "k-means inertia {inertia_1} (1 partition) vs {inertia_8} (8)"
    );
    assert!(
        (auc_8 - auc_1).abs() < 0.01,
        "isolation-forest AUC {auc_1} (1 partition) vs {auc_8} (8)"
    );
    assert!(auc_1 > 0.95, "the forest separates the outliers: {auc_1}");
}
