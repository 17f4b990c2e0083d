//! Per-row cost of the feature functions: `is_private_ip` over string columns and
//! `inter_arrival_stats` over timestamp groups.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
use huntsman_udfs::net::is_private_ip_udf;
use huntsman_udfs::timing::InterArrivalStats;

fn addresses(n: usize) -> ArrayRef {
    let values: Vec<String> = (0..n)
        .map(|i| match i % 4 {
            0 => format!("10.0.{}.{}", i % 250, i % 200),
            1 => format!("{}.{}.8.8", 11 + i % 80, i % 250),
            2 => "fe80::1%3".to_string(),
            _ => format!("192.168.{}.{}", i % 250, i % 199),
        })
        .collect();
    Arc::new(StringArray::from(values))
}

fn bench_is_private_ip(c: &mut Criterion) {
    let udf = is_private_ip_udf();
    let mut group = c.benchmark_group("is_private_ip");
    for rows in [1_000usize, 8_192, 100_000] {
        let input = addresses(rows);
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(
            BenchmarkId::new("score", format!("{rows}rows")),
            &input,
            |b, input| {
                b.iter(|| {
                    let args = ScalarFunctionArgs {
                        args: vec![ColumnarValue::Array(input.clone())],
                        arg_fields: vec![Arc::new(Field::new(
                            "ip",
                            DataType::Utf8,
                            true,
                        ))],
                        number_rows: rows,
                        return_field: Arc::new(Field::new(
                            "out",
                            DataType::Boolean,
                            true,
                        )),
                        config_options: Arc::new(ConfigOptions::default()),
                    };
                    udf.invoke_with_args(args).expect("evaluates")
                })
            },
        );
    }
    group.finish();
}

fn bench_inter_arrival(c: &mut Criterion) {
    let mut group = c.benchmark_group("inter_arrival_stats");
    for rows in [1_000usize, 8_192, 100_000] {
        let ts: Vec<i64> = (0..rows as i64)
            .map(|i| (i * 7_919 % rows as i64) * 1_000_000_007)
            .collect();
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(
            BenchmarkId::new("finish", format!("{rows}rows")),
            &ts,
            |b, ts| b.iter(|| InterArrivalStats::from_timestamps(&mut ts.clone())),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_is_private_ip, bench_inter_arrival);
criterion_main!(benches);
