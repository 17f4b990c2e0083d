//! Cost of the LSTM next-event model with the process-anomaly hunt's network
//! (vocabulary 30, embedding 64, two LSTM layers of 256): scoring batches of distinct
//! sequences (the per-process score cache is bypassed by fresh sequences every
//! iteration), scoring a batch where many rows share few sequences, and one epoch of
//! training. `USE_GPU=true` measures the same on the GPU in a `cuda` build.

use std::hint::black_box;

use criterion::{
    BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use huntsman_udfs::matrix::SeededRng;
use huntsman_udfs::neural::Accelerator;
use huntsman_udfs::sequence::{SequenceParams, SequencePartial};

const SYSMON: [i64; 10] = [1, 3, 7, 11, 17, 18, 19, 20, 21, 22];

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

/// `rows` random Sysmon-like sequences of 4 to 40 events.
fn sequences(rows: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = SeededRng::new(seed);
    (0..rows)
        .map(|_| {
            let len = 4 + rng.gen_range(37);
            let mut s = vec![1];
            s.extend((1..len).map(|_| SYSMON[rng.gen_range(SYSMON.len())]));
            s
        })
        .collect()
}

fn bench_sequence(c: &mut Criterion) {
    let acc = accelerator();
    let mut group =
        c.benchmark_group(format!("sequence-{}", acc.name().to_ascii_lowercase()));
    let params = SequenceParams::default()
        .epochs(1)
        .check()
        .expect("hunt defaults are valid");
    let train = sequences(1_000, 1);
    let mut partial = SequencePartial::new(&params).with_accelerator(acc);
    train.iter().for_each(|s| partial.add(s));
    let model = partial.finish().expect("trains").model;

    let mut seed = 100;
    for rows in [1_000usize, 8_192] {
        group.throughput(Throughput::Elements(rows as u64));
        group.sample_size(10);
        let id = format!("{rows}rows/distinct/emb64/hid256/2layers");
        group.bench_function(BenchmarkId::new("score", id), |b| {
            b.iter_batched(
                || {
                    seed += 1;
                    sequences(rows, seed)
                },
                |rows| model.score(black_box(&rows), acc).expect("scores"),
                BatchSize::LargeInput,
            )
        });
    }
    // Hunting data: thousands of processes, a few hundred distinct sequences, scored
    // again in a later batch (the cache's case).
    let shared: Vec<Vec<i64>> =
        sequences(200, 7).into_iter().cycle().take(8_192).collect();
    group.throughput(Throughput::Elements(8_192));
    group.bench_function(
        BenchmarkId::new("score", "8192rows/200distinct/cached"),
        |b| b.iter(|| model.score(black_box(&shared), acc).expect("scores")),
    );
    group.throughput(Throughput::Elements(1_000));
    group.bench_function(
        BenchmarkId::new("fit", "1000rows/1epoch/emb64/hid256/2layers"),
        |b| b.iter(|| partial.finish().expect("trains")),
    );
    group.finish();
}

criterion_group!(benches, bench_sequence);
criterion_main!(benches);
