//! Cost of the AD-enumeration hunt's autoencoder (1000 → 256 → 32 → 256 → 1000, relu,
//! sigmoid output) on the CPU: scoring throughput in rows per second (target: at least
//! 5 000 rows/s on one core) and one fit on 10 000 rows for 20 epochs (target: at most
//! 60 s).
//!
//! `USE_GPU=true` measures the same on the GPU in a `cuda` build.
//!
//! The NdArray backend runs on one thread, so these are one-core figures. The fit takes
//! tens of seconds per run; criterion needs at least 10 runs, so expect that group to take
//! several minutes (`cargo bench --bench autoencoder -- score` skips it).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use datafusion::arrow::array::ArrayRef;
use huntsman_udfs::autoencoder::{
    AutoencoderModel, AutoencoderParams, AutoencoderPartial, AutoencoderValidParams,
    InputBatch,
};
use huntsman_udfs::matrix::{FeatureMatrix, SeededRng};
use huntsman_udfs::neural::Accelerator;

const DIM: usize = 1000;

/// The accelerator to measure: the GPU when `USE_GPU` is true (a `cuda` build; see
/// `docs/gpu.md` and `deploy/gpu-check.sh`), the CPU otherwise. The benchmark group's
/// name ends in `-cpu` or `-gpu`, so criterion keeps the two apart.
fn accelerator() -> Accelerator {
    let on = std::env::var("USE_GPU").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        )
    });
    Accelerator::from_use_gpu(on)
}

/// `rows` min-max scaled term-frequency-like rows: mostly zeros, a few values in (0, 1].
fn rows(n: usize, distinct: usize, seed: u64) -> ArrayRef {
    let mut rng = SeededRng::new(seed);
    let patterns: Vec<Vec<f64>> = (0..distinct)
        .map(|_| {
            (0..DIM)
                .map(|_| {
                    if rng.gen_range(20) == 0 {
                        rng.next_f64()
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let all: Vec<&[f64]> = (0..n).map(|i| patterns[i % distinct].as_slice()).collect();
    Arc::new(
        FeatureMatrix::from_rows(&all)
            .expect("random values are finite")
            .to_arrow(),
    )
}

fn params(json: &str) -> AutoencoderValidParams {
    AutoencoderParams::from_json(json)
        .and_then(AutoencoderParams::check)
        .expect("valid bench options")
}

fn fit(params: &AutoencoderValidParams, x: &ArrayRef) -> AutoencoderModel {
    let mut partial = AutoencoderPartial::new(params);
    partial
        .update(&InputBatch::read(x.as_ref()).expect("dense rows"))
        .expect("update");
    partial.finish(accelerator()).expect("fit").0
}

fn bench_autoencoder(c: &mut Criterion) {
    let acc = accelerator();
    let mut group =
        c.benchmark_group(format!("autoencoder-{}", acc.name().to_ascii_lowercase()));
    // Scoring cost does not depend on the weights' values: a model after a few steps.
    let model = fit(
        &params(r#"{"max_batches": 5, "max_rows": 1000}"#),
        &rows(1000, 1000, 1),
    );
    for (n, distinct) in [(1_000usize, 1_000usize), (8_192, 8_192), (8_192, 64)] {
        let x = rows(n, distinct, 2);
        group.throughput(Throughput::Elements(n as u64));
        let id = format!("{n}rows/{distinct}distinct/1000-256-32-256-1000");
        group.bench_with_input(BenchmarkId::new("score", id), &x, |b, x| {
            b.iter(|| {
                let input = InputBatch::read(black_box(x.as_ref())).expect("dense rows");
                model.score(&input, acc).expect("score")
            })
        });
    }
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(120));
    let train = rows(10_000, 10_000, 3);
    let defaults = params("{}");
    group.throughput(Throughput::Elements(10_000));
    group.bench_with_input(
        BenchmarkId::new("fit", "10000rows/20epochs/batch64/1000-256-32-256-1000"),
        &train,
        |b, x| b.iter(|| fit(&defaults, black_box(x))),
    );
    group.finish();
}

criterion_group!(benches, bench_autoencoder);
criterion_main!(benches);
