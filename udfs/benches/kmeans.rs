//! Per-row cost of k-means scoring (nearest centroid and distance to it) at the two
//! shapes the hunts use: C2 beaconing (k = 50, 5 features) and AD enumeration
//! (k = 4, 2,002 features), plus one fit of the C2 shape.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use huntsman_udfs::kmeans::{KMeansModel, KMeansParams};
use huntsman_udfs::matrix::{FeatureMatrix, SeededRng};

fn random_matrix(rows: usize, cols: usize, seed: u64) -> FeatureMatrix {
    let mut rng = SeededRng::new(seed);
    let data = (0..rows * cols)
        .map(|_| rng.next_f64() * 4.0 - 2.0)
        .collect();
    FeatureMatrix::new(rows, cols, data).expect("random values are finite")
}

fn bench_score(c: &mut Criterion) {
    let mut group = c.benchmark_group("kmeans");
    for (k, cols) in [(50usize, 5usize), (4, 2002)] {
        let model = KMeansModel::new(random_matrix(k, cols, 1)).expect("centroids");
        for rows in [1_000usize, 8_192, 100_000] {
            let x = random_matrix(rows, cols, 2);
            group.throughput(Throughput::Elements(rows as u64));
            let id = format!("{rows}rows/k{k}/{cols}feat");
            group.bench_with_input(BenchmarkId::new("assign", &id), &x, |b, x| {
                b.iter(|| model.assign(black_box(x)).expect("assign"))
            });
            group.bench_with_input(BenchmarkId::new("distance", &id), &x, |b, x| {
                b.iter(|| model.distance(black_box(x)).expect("distance"))
            });
        }
    }
    group.finish();
}

fn bench_fit(c: &mut Criterion) {
    let mut group = c.benchmark_group("kmeans");
    group.sample_size(10);
    let params = KMeansParams::default().k(50).check().expect("params");
    let x = random_matrix(8_192, 5, 3);
    group.throughput(Throughput::Elements(8_192));
    group.bench_with_input(BenchmarkId::new("fit", "8192rows/k50/5feat"), &x, |b, x| {
        b.iter(|| params.fit(black_box(x)).expect("fit"))
    });
    group.finish();
}

criterion_group!(benches, bench_score, bench_fit);
criterion_main!(benches);
