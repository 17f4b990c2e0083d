//! Per-row cost of isolation forest scoring with the process-anomaly hunt's
//! settings (100 trees of 256 rows), plus one fit.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use huntsman_udfs::iforest::IsolationForestParams;
use huntsman_udfs::matrix::{FeatureMatrix, SeededRng};

fn random_matrix(rows: usize, cols: usize, seed: u64) -> FeatureMatrix {
    let mut rng = SeededRng::new(seed);
    let data = (0..rows * cols)
        .map(|_| rng.next_f64() * 4.0 - 2.0)
        .collect();
    FeatureMatrix::new(rows, cols, data).expect("random values are finite")
}

fn bench_iforest(c: &mut Criterion) {
    let mut group = c.benchmark_group("iforest");
    let cols = 36;
    let params = IsolationForestParams::default().check().expect("params");
    let train = random_matrix(20_000, cols, 1);
    let model = params.fit(&train).expect("fit");
    for rows in [1_000usize, 8_192, 100_000] {
        let x = random_matrix(rows, cols, 2);
        group.throughput(Throughput::Elements(rows as u64));
        let id = format!("{rows}rows/100trees/256sample/{cols}feat");
        group.bench_with_input(BenchmarkId::new("score", id), &x, |b, x| {
            b.iter(|| model.score(black_box(x)).expect("score"))
        });
    }
    group.sample_size(10);
    group.throughput(Throughput::Elements(20_000));
    group.bench_with_input(
        BenchmarkId::new("fit", format!("20000rows/100trees/256sample/{cols}feat")),
        &train,
        |b, x| b.iter(|| params.fit(black_box(x)).expect("fit")),
    );
    group.finish();
}

criterion_group!(benches, bench_iforest);
criterion_main!(benches);
