//! Embedded Ballista (`huntsman sql`'s default) against plain DataFusion on the same
//! scan + filter + group-by over a multi-file Parquet dataset.
//!
//! `cargo bench --workspace --bench sql_embedded [-- ROWS] [--s3] [--scheduler df://HOST:PORT]`
//! (default 5,000,000 rows).
//! Writes the dataset to a temp directory, runs each query five times per engine after one
//! warm-up run, and prints the median times and the ratio. Both engines use the same
//! number of partitions (the CPU count).
//!
//! With `--s3` it also starts a Garage S3 server on loopback (as the tests do), uploads
//! the same files, and compares DataFusion scanning them from local files and from S3.
//! With `--scheduler` it also runs the queries on that cluster (its executors must see
//! the bench's temp directory, so run them on this machine).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use huntsman::connect::{Cluster, connect};
use huntsman::tables::{TableSource, check_tables, register_tables};
use huntsman_udfs::session::{huntsman_session_config, huntsman_session_state};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

const FILES: usize = 8;
const RUNS: usize = 5;

const QUERIES: [(&str, &str); 2] = [
    (
        "filter+group-by",
        "SELECT host, count(*) AS n, sum(bytes) AS b, avg(bytes) AS a FROM events \
         WHERE event_id = 3 AND bytes > 100 GROUP BY host ORDER BY host",
    ),
    (
        "huntsman functions",
        "SELECT host, is_private_ip(dst_ip) AS private, count(*) AS n, \
         inter_arrival_stats(ts)['cv'] AS cv FROM events WHERE event_id = 3 \
         GROUP BY host, is_private_ip(dst_ip) ORDER BY host, private",
    ),
];

fn write_dataset(dir: &Path, rows: usize) -> datafusion::error::Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("dst_ip", DataType::Utf8, true),
        Field::new("event_id", DataType::Int32, false),
        Field::new("bytes", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
    ]));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let per_file = rows / FILES;
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for f in 0..FILES {
        let file = File::create(dir.join(format!("part-{f}.parquet")))?;
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props.clone()))?;
        let mut left = per_file;
        while left > 0 {
            let n = left.min(65_536);
            left -= n;
            let mut hosts = Vec::with_capacity(n);
            let mut ips = Vec::with_capacity(n);
            let mut ids = Vec::with_capacity(n);
            let mut bytes = Vec::with_capacity(n);
            let mut ts = Vec::with_capacity(n);
            for _ in 0..n {
                let r = next();
                hosts.push(format!("WS{:03}", r % 200));
                ips.push(if r % 3 == 0 {
                    format!("10.0.{}.{}", (r >> 8) % 256, (r >> 16) % 256)
                } else {
                    format!(
                        "{}.{}.{}.1",
                        11 + (r >> 8) % 80,
                        (r >> 16) % 256,
                        (r >> 24) % 256
                    )
                });
                ids.push([1, 3, 3, 3, 7, 11, 22][((r >> 32) % 7) as usize]);
                bytes.push(((r >> 40) % 10_000) as i64);
                ts.push(
                    1_700_000_000_000_000_000 + ((r >> 20) % 86_400_000_000_000) as i64,
                );
            }
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(hosts)),
                    Arc::new(StringArray::from(ips)),
                    Arc::new(Int32Array::from(ids)),
                    Arc::new(Int64Array::from(bytes)),
                    Arc::new(Int64Array::from(ts)),
                ],
            )?;
            writer.write(&batch)?;
        }
        writer.close()?;
    }
    Ok(())
}

async fn time_query(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<Duration> {
    let start = Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    let elapsed = start.elapsed();
    assert!(
        batches.iter().map(|b| b.num_rows()).sum::<usize>() > 0,
        "query returned rows"
    );
    Ok(elapsed)
}

async fn median(ctx: &SessionContext, sql: &str) -> datafusion::error::Result<Duration> {
    time_query(ctx, sql).await?; // warm-up: file listing, footer cache, page cache
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        times.push(time_query(ctx, sql).await?);
    }
    times.sort();
    Ok(times[RUNS / 2])
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let scheduler = args
        .iter()
        .position(|a| a == "--scheduler")
        .and_then(|i| args.get(i + 1))
        .map(|url| Cluster::from_option(Some(url)))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let start = Instant::now();
        write_dataset(dir.path(), rows)?;
        println!(
            "dataset: {rows} rows in {FILES} Parquet files ({:.1?})",
            start.elapsed()
        );
        let location = dir.path().display().to_string();

        let plain = SessionContext::new_with_state(huntsman_session_state(
            huntsman_session_config(),
        )?);
        plain
            .register_parquet("events", &location, ParquetReadOptions::default())
            .await?;

        let start = Instant::now();
        let tables = check_tables(&[TableSource {
            name: "events".into(),
            location: location.clone(),
        }])
        .await?;
        let embedded = connect(&Cluster::Embedded {
            parallelism: None,
            memory_pool: None,
        })
        .await?;
        println!("embedded cluster start-up: {:.1?}", start.elapsed());
        register_tables(&embedded, &tables).await?;

        let remote = match &scheduler {
            Some(cluster) => {
                let ctx = connect(cluster).await?;
                register_tables(&ctx, &tables).await?;
                Some(ctx)
            }
            None => None,
        };

        println!(
            "{:<20} {:>12} {:>12} {:>8}{}",
            "query",
            "datafusion",
            "embedded",
            "ratio",
            if remote.is_some() {
                "       remote    ratio"
            } else {
                ""
            }
        );
        for (name, sql) in QUERIES {
            let df = median(&plain, sql).await?;
            let ballista = median(&embedded, sql).await?;
            let mut line = format!(
                "{name:<20} {:>10.0}ms {:>10.0}ms {:>7.2}x",
                df.as_secs_f64() * 1e3,
                ballista.as_secs_f64() * 1e3,
                ballista.as_secs_f64() / df.as_secs_f64()
            );
            if let Some(ctx) = &remote {
                let t = median(ctx, sql).await?;
                line += &format!(
                    " {:>10.0}ms {:>7.2}x",
                    t.as_secs_f64() * 1e3,
                    t.as_secs_f64() / df.as_secs_f64()
                );
            }
            println!("{line}");
        }
        if std::env::args().any(|a| a == "--s3") {
            s3_comparison(dir.path(), &plain).await?;
        }
        Ok(())
    })
}

/// The same queries over the same files, from local disk and from Garage on loopback.
async fn s3_comparison(dir: &Path, local: &SessionContext) -> anyhow::Result<()> {
    use huntsman_udfs::objstore::{S3Settings, StoreRegistry};
    use object_store::ObjectStoreExt;
    let garage_dir = tempfile::tempdir()?;
    let garage = huntsman_tests::s3::Garage::start(garage_dir.path())?;
    let vars: std::collections::HashMap<String, String> =
        garage.env().into_iter().collect();
    let registry = Arc::new(StoreRegistry::new(S3Settings::from_vars(|n| {
        vars.get(n).cloned()
    })));
    let start = Instant::now();
    let mut bytes = 0;
    let object = datafusion::execution::object_store::ObjectStoreRegistry::get_store(
        registry.as_ref(),
        &url::Url::parse("s3://lake/")?,
    )?;
    for f in 0..FILES {
        let name = format!("part-{f}.parquet");
        let data = std::fs::read(dir.join(&name))?;
        bytes += data.len();
        object
            .put(
                &object_store::path::Path::from(format!("bench/{name}")),
                data.into(),
            )
            .await?;
    }
    println!(
        "\nuploaded {:.1} MiB to Garage on loopback in {:.1?}",
        bytes as f64 / (1 << 20) as f64,
        start.elapsed()
    );
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_object_store_registry(registry)
        .build_arc()?;
    let state =
        datafusion::execution::session_state::SessionStateBuilder::new_from_existing(
            huntsman_session_state(huntsman_session_config())?,
        )
        .with_runtime_env(runtime)
        .build();
    let remote = SessionContext::new_with_state(state);
    huntsman_udfs::session::register_all_on_context(&remote);
    remote
        .register_parquet("events", "s3://lake/bench/", ParquetReadOptions::default())
        .await?;
    println!(
        "{:<20} {:>12} {:>12} {:>8}",
        "query", "local files", "s3 loopback", "ratio"
    );
    for (name, sql) in QUERIES {
        let disk = median(local, sql).await?;
        let s3 = median(&remote, sql).await?;
        println!(
            "{name:<20} {:>10.0}ms {:>10.0}ms {:>7.2}x",
            disk.as_secs_f64() * 1e3,
            s3.as_secs_f64() * 1e3,
            s3.as_secs_f64() / disk.as_secs_f64()
        );
    }
    Ok(())
}
