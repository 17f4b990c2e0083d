//! The training loop: a plain loop of epochs over the merged sample, minibatches in a
//! seeded shuffled order, burn autodiff for the gradients and Adam for the steps.
//!
//! Deterministic for a seed on the CPU: the weights are initialised, the sample drawn,
//! the batches shuffled and the negatives chosen by [`SeededRng`] streams derived from the
//! seed, and the NdArray kernels are deterministic. (CUDA reductions need not be.)

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::AutoencoderError;
use super::input::{InputKind, dense_values, negatives, row_key, sparse_pairs};
use super::model::AutoencoderModel;
use super::net::{DenseNet, SparseBatch, SparseNet};
use super::params::AutoencoderValidParams;
use crate::matrix::{SeededRng, derive_seed};
use crate::neural::{self, Accelerator, Placement, float1, float2, int1, read_scalar};

/// Stream of [`derive_seed`] that draws the training rows from an oversized sample.
const STREAM_SAMPLE: u64 = 1;
/// Stream of [`derive_seed`] that shuffles the batches.
const STREAM_SHUFFLE: u64 = 2;

/// The merged training sample: distinct rows (canonical encodings, in key order) and how
/// many times each was seen.
#[derive(Debug)]
pub(crate) struct Sample<'a> {
    pub kind: InputKind,
    pub dim: usize,
    pub rows: Vec<&'a [u64]>,
    pub counts: Vec<u64>,
}

/// What training did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Mean reconstruction MSE of the training rows in each epoch (the sparse loss with
    /// that epoch's negatives).
    pub epoch_losses: Vec<f64>,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Rows in the training set (draws from the sample).
    pub training_rows: usize,
}

/// The training set as indices into `counts`: every row `count` times when the total is
/// at most `max_rows`, otherwise `max_rows` draws in proportion to the counts.
pub(crate) fn draws(counts: &[u64], max_rows: usize, seed: u64) -> Vec<usize> {
    let total: u64 = counts.iter().sum();
    if total <= max_rows as u64 {
        return counts
            .iter()
            .enumerate()
            .flat_map(|(i, &c)| std::iter::repeat_n(i, c as usize))
            .collect();
    }
    let mut cumulative = Vec::with_capacity(counts.len());
    let mut acc = 0u64;
    for &c in counts {
        acc += c;
        cumulative.push(acc);
    }
    let mut rng = SeededRng::new(derive_seed(seed, STREAM_SAMPLE));
    let mut out: Vec<usize> = (0..max_rows)
        .map(|_| {
            let u = rng.gen_range_u64(total);
            cumulative.partition_point(|&c| c <= u)
        })
        .collect();
    out.sort_unstable();
    out
}

/// Trains a model on `sample` on `accelerator` (placed by [`neural::place`]: a GPU
/// permit is held for the whole training).
///
/// # Errors
/// No rows, a network too large, a diverging loss, or a backend failure.
pub(crate) fn train(
    params: &AutoencoderValidParams,
    sample: &Sample<'_>,
    accelerator: Accelerator,
) -> Result<(AutoencoderModel, TrainReport), AutoencoderError> {
    if sample.counts.iter().all(|&c| c == 0) {
        return Err(AutoencoderError::Empty);
    }
    train_on(params, sample, &neural::place(accelerator)?)
}

/// [`train`] on `placement`'s device.
///
/// # Errors
/// As [`train`].
pub(crate) fn train_on(
    params: &AutoencoderValidParams,
    sample: &Sample<'_>,
    placement: &Placement,
) -> Result<(AutoencoderModel, TrainReport), AutoencoderError> {
    let draws = draws(&sample.counts, params.max_rows, params.seed);
    if draws.is_empty() {
        return Err(AutoencoderError::Empty);
    }
    let accelerator = placement.accelerator();
    let device = placement.training_device();
    match sample.kind {
        InputKind::Dense => {
            let d = sample.dim;
            let mut model =
                AutoencoderModel::init(params, InputKind::Dense, d, Vec::new())?;
            let rows: Vec<Vec<f32>> = sample
                .rows
                .iter()
                .map(|r| dense_values(r).map(|v| v as f32).collect())
                .collect();
            let (layers, report) =
                neural::guarded("autoencoder training", accelerator, || {
                    let net = DenseNet::from_layers(model.layers(), &device);
                    let (net, report) =
                        run_epochs(net, params, &draws, |net, batch, _| {
                            let mut flat = Vec::with_capacity(batch.len() * d);
                            for &i in batch {
                                flat.extend_from_slice(&rows[i]);
                            }
                            let x = float2(flat, batch.len(), d, &device);
                            let y =
                                net.forward(x.clone(), params.activation, params.output);
                            Ok((y - x).square().mean())
                        })?;
                    Ok((net.to_layers()?, report))
                })?;
            model.set_layers(layers)?;
            Ok((model, report))
        }
        InputKind::Sparse => train_sparse(params, sample, &draws, placement),
    }
}

/// One sparse row in vocabulary positions.
struct CompactRow {
    key: u64,
    positions: Vec<usize>,
    values: Vec<f32>,
}

fn train_sparse(
    params: &AutoencoderValidParams,
    sample: &Sample<'_>,
    draws: &[usize],
    placement: &Placement,
) -> Result<(AutoencoderModel, TrainReport), AutoencoderError> {
    let accelerator = placement.accelerator();
    let mut used = vec![false; sample.rows.len()];
    for &i in draws {
        used[i] = true;
    }
    let mut vocab: Vec<u32> = sample
        .rows
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .flat_map(|(r, _)| sparse_pairs(r).map(|(i, _)| i))
        .collect();
    vocab.sort_unstable();
    vocab.dedup();
    if vocab.is_empty() {
        return Err(AutoencoderError::NoNonZeros);
    }
    let rows: Vec<CompactRow> = sample
        .rows
        .iter()
        .map(|r| {
            let (positions, values) = sparse_pairs(r)
                .filter_map(|(i, v)| Some((vocab.binary_search(&i).ok()?, v as f32)))
                .unzip();
            CompactRow {
                key: row_key(params.seed, r),
                positions,
                values,
            }
        })
        .collect();
    let device = placement.training_device();
    let v_len = vocab.len();
    let mut model = AutoencoderModel::init(params, InputKind::Sparse, sample.dim, vocab)?;
    let (layers, report) = neural::guarded("autoencoder training", accelerator, || {
        let net = SparseNet::from_layers(model.layers(), &device)?;
        let (net, report) = run_epochs(net, params, draws, |net, batch, round| {
            let b = sparse_batch(params, &rows, batch, round, v_len, &device);
            Ok(net.loss(&b, params.activation, params.output))
        })?;
        Ok((net.to_layers()?, report))
    })?;
    model.set_layers(layers)?;
    Ok((model, report))
}

fn sparse_batch(
    params: &AutoencoderValidParams,
    rows: &[CompactRow],
    batch: &[usize],
    round: u64,
    vocab_len: usize,
    device: &burn::tensor::Device,
) -> SparseBatch {
    let (mut nz_position, mut nz_row, mut nz_value) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut pair_row, mut pair_position) = (Vec::new(), Vec::new());
    let (mut target, mut weight) = (Vec::new(), Vec::new());
    for (b, &i) in batch.iter().enumerate() {
        let row = &rows[i];
        let negs = negatives(
            params.seed,
            row.key,
            round,
            vocab_len,
            &row.positions,
            params.negatives,
        );
        let w = 1.0 / (row.positions.len() + negs.len()).max(1) as f32;
        for (&p, &v) in row.positions.iter().zip(&row.values) {
            nz_position.push(p as i64);
            nz_row.push(b as i64);
            nz_value.push(v);
            pair_row.push(b as i64);
            pair_position.push(p as i64);
            target.push(v);
            weight.push(w);
        }
        for n in negs {
            pair_row.push(b as i64);
            pair_position.push(n as i64);
            target.push(0.0);
            weight.push(w);
        }
    }
    let n = nz_value.len();
    SparseBatch {
        rows: batch.len(),
        has_nonzeros: n > 0,
        nz_position: int1(nz_position, device),
        nz_row: int1(nz_row, device),
        nz_value: float2(nz_value, n, 1, device),
        pair_row: int1(pair_row, device),
        pair_position: int1(pair_position, device),
        target: float1(target, device),
        weight: float1(weight, device),
    }
}

/// The epoch loop shared by the dense and sparse networks. `loss_of(net, batch, round)`
/// returns the batch loss (`[1]`); `round` is `epoch + 1`.
fn run_epochs<M: Module>(
    mut net: M,
    params: &AutoencoderValidParams,
    draws: &[usize],
    mut loss_of: impl FnMut(&M, &[usize], u64) -> Result<Tensor<1>, String>,
) -> Result<(M, TrainReport), String> {
    let mut optim = neural::adam();
    let mut rng = SeededRng::new(derive_seed(params.seed, STREAM_SHUFFLE));
    let mut order = draws.to_vec();
    let cap = params.max_batches.map_or(u64::MAX, |m| m as u64);
    let batches_per_epoch = order.len().div_ceil(params.batch_size.max(1)).max(1);
    let epochs = match params.min_batches {
        Some(min) => params.epochs.max(min.div_ceil(batches_per_epoch)),
        None => params.epochs,
    };
    let mut report = TrainReport {
        epoch_losses: Vec::with_capacity(epochs),
        steps: 0,
        training_rows: draws.len(),
    };
    for epoch in 0..epochs {
        if report.steps >= cap {
            break;
        }
        for i in (1..order.len()).rev() {
            order.swap(i, rng.gen_range(i + 1));
        }
        let (mut sum, mut seen) = (0.0f64, 0usize);
        for batch in order.chunks(params.batch_size) {
            if report.steps >= cap {
                break;
            }
            let loss = loss_of(&net, batch, epoch as u64 + 1)?;
            let value = read_scalar(loss.clone())?;
            if !value.is_finite() {
                return Err(format!(
                    "the loss became {value} in epoch {} (try a smaller learning_rate)",
                    epoch + 1
                ));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(params.learning_rate, net, grads);
            sum += value * batch.len() as f64;
            seen += batch.len();
            report.steps += 1;
        }
        if seen > 0 {
            report.epoch_losses.push(sum / seen as f64);
        }
    }
    Ok((net, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoencoder::input::{encode_dense, encode_sparse};
    use crate::autoencoder::{InputBatch, SCORE_CHUNK_ROWS};
    use crate::neural::gpu::tests::TestDevices;
    use crate::sparse::SparseBuilder;

    use crate::autoencoder::params::test_params as params;

    fn fit(
        p: &AutoencoderValidParams,
        kind: InputKind,
        dim: usize,
        rows: &[Box<[u64]>],
    ) -> (AutoencoderModel, TrainReport) {
        let sample = Sample {
            kind,
            dim,
            rows: rows.iter().map(|r| &**r).collect(),
            counts: vec![1; rows.len()],
        };
        train(p, &sample, Accelerator::Cpu).expect("trains")
    }

    fn sparse_rows() -> Vec<Box<[u64]>> {
        (0..40u32)
            .map(|i| {
                let a = i % 5;
                encode_sparse(
                    [a, 10 + a, 20 + i % 3].into_iter(),
                    [1.0, 0.5, 0.25].into_iter(),
                )
            })
            .collect()
    }

    #[test]
    fn dense_training_loss_decreases() {
        let rows: Vec<Box<[u64]>> = (0..50)
            .map(|i| {
                let t = f64::from(i) / 50.0;
                encode_dense(&[t, 1.0 - t, t * t, 0.5])
            })
            .collect();
        let p = params(
            r#"{"hidden": [3, 2], "activation": "tanh", "epochs": 30, "batch_size": 10,
                "learning_rate": 0.01}"#,
        );
        let (_, report) = fit(&p, InputKind::Dense, 4, &rows);
        let l = &report.epoch_losses;
        assert_eq!(l.len(), 30);
        assert_eq!(report.steps, 150);
        assert!(l[29] < l[0] * 0.5, "{l:?}");
    }

    #[test]
    fn small_data_trains_for_at_least_min_batches() {
        let p =
            params(r#"{"hidden": [8], "epochs": 1, "batch_size": 8, "min_batches": 50}"#);
        let (_, report) = fit(&p, InputKind::Sparse, 1 << 18, &sparse_rows());
        let per_epoch = report.training_rows.div_ceil(8) as u64;
        assert!(per_epoch < 50, "the test needs several epochs: {per_epoch}");
        assert!(
            report.steps >= 50 && report.steps < 50 + per_epoch,
            "{}",
            report.steps
        );
        assert_eq!(report.steps % per_epoch, 0, "whole epochs only");
    }

    #[test]
    fn sparse_training_loss_decreases_and_respects_max_batches() {
        let p = params(
            r#"{"hidden": [8], "epochs": 40, "batch_size": 8, "learning_rate": 0.02,
                "output": "linear", "negatives": 4}"#,
        );
        let (model, report) = fit(&p, InputKind::Sparse, 1 << 18, &sparse_rows());
        let l = &report.epoch_losses;
        assert!(l[l.len() - 1] < l[0] * 0.5, "{l:?}");
        assert_eq!(model.vocabulary().len(), 13);
        let capped =
            params(r#"{"hidden": [8], "epochs": 40, "batch_size": 8, "max_batches": 7}"#);
        let (_, report) = fit(&capped, InputKind::Sparse, 1 << 18, &sparse_rows());
        assert_eq!(report.steps, 7);
        assert_eq!(report.epoch_losses.len(), 2);
    }

    #[test]
    fn the_sparse_training_loss_is_the_score() {
        // One row per batch, round 0: the burn loss equals the CPU scorer's MSE.
        let p = params(r#"{"hidden": [4, 2], "negatives": 3, "activation": "tanh"}"#);
        let rows = sparse_rows();
        let (model, _) = fit(&p, InputKind::Sparse, 1 << 18, &rows);
        let vocab = model.vocabulary().to_vec();
        let compact: Vec<CompactRow> = rows
            .iter()
            .map(|r| {
                let (positions, values) = sparse_pairs(r)
                    .filter_map(|(i, v)| Some((vocab.binary_search(&i).ok()?, v as f32)))
                    .unzip();
                CompactRow {
                    key: row_key(p.seed, r),
                    positions,
                    values,
                }
            })
            .collect();
        let placement = Placement::cpu();
        let device = placement.device();
        let net = SparseNet::from_layers(model.layers(), device).expect("net");
        let mut b = SparseBuilder::new(1 << 18);
        for r in &rows[..5] {
            let (i, v): (Vec<i32>, Vec<f64>) =
                sparse_pairs(r).map(|(i, v)| (i as i32, v)).unzip();
            b.append(&i, &v);
        }
        let scores = model
            .score(
                &InputBatch::read(b.finish().as_ref()).expect("reads"),
                Accelerator::Cpu,
            )
            .expect("scores");
        for i in 0..5 {
            let batch = sparse_batch(&p, &compact, &[i], 0, vocab.len(), device);
            let loss =
                read_scalar(net.loss(&batch, p.activation, p.output)).expect("loss");
            assert!(
                (loss - scores.value(i)).abs() < 1e-5,
                "{loss} vs {}",
                scores.value(i)
            );
        }
    }

    #[test]
    fn training_is_deterministic_for_a_seed() {
        let p = params(r#"{"hidden": [4], "epochs": 3, "negatives": 2}"#);
        let a = fit(&p, InputKind::Sparse, 1 << 18, &sparse_rows());
        let b = fit(&p, InputKind::Sparse, 1 << 18, &sparse_rows());
        assert_eq!(a, b);
        let q = params(r#"{"hidden": [4], "epochs": 3, "negatives": 2, "seed": 1}"#);
        let c = fit(&q, InputKind::Sparse, 1 << 18, &sparse_rows());
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn empty_sparse_rows_cannot_train() {
        let rows = [encode_sparse(std::iter::empty(), std::iter::empty())];
        let sample = Sample {
            kind: InputKind::Sparse,
            dim: 10,
            rows: rows.iter().map(|r| &**r).collect(),
            counts: vec![3],
        };
        let err =
            train(&params("{}"), &sample, Accelerator::Cpu).expect_err("no non-zeros");
        assert_eq!(err, AutoencoderError::NoNonZeros);
        // Batches made only of empty rows still train (on their negatives).
        let rows = [
            encode_sparse([3u32].into_iter(), [1.0].into_iter()),
            encode_sparse(std::iter::empty(), std::iter::empty()),
        ];
        let sample = Sample {
            kind: InputKind::Sparse,
            dim: 10,
            rows: rows.iter().map(|r| &**r).collect(),
            counts: vec![1, 5],
        };
        let p = params(r#"{"hidden": [2], "epochs": 2, "batch_size": 1}"#);
        let (model, report) = train(&p, &sample, Accelerator::Cpu).expect("trains");
        assert_eq!(report.steps, 12);
        assert_eq!(model.vocabulary(), &[3]);
    }

    #[test]
    fn draws_expand_small_samples_and_subsample_large_ones() {
        assert_eq!(draws(&[2, 1], 10, 1), vec![0, 0, 1]);
        let d = draws(&[1000, 1], 100, 1);
        assert_eq!(d.len(), 100);
        assert!(d.iter().filter(|&&i| i == 0).count() > 90);
        assert_eq!(d, draws(&[1000, 1], 100, 1));
    }

    /// Largest difference between two models' weights and biases.
    fn max_weight_difference(a: &AutoencoderModel, b: &AutoencoderModel) -> f32 {
        assert_eq!(a.layers().len(), b.layers().len());
        a.layers()
            .iter()
            .zip(b.layers())
            .flat_map(|(x, y)| {
                assert_eq!((x.rows, x.cols), (y.rows, y.cols));
                let w = x.weight.iter().zip(&y.weight);
                w.chain(x.bias.iter().zip(&y.bias))
                    .map(|(p, q)| (p - q).abs())
            })
            .fold(0.0, f32::max)
    }

    /// The GPU training and dense scoring paths (a device permit, burn on the
    /// placement's device, scoring in row chunks) run on the CPU backend: they are the
    /// CPU path's kernels on another placement, so results must agree within 1e-6 (they
    /// are bit-equal on NdArray). With `USE_GPU=true` on a GPU machine they run on the
    /// GPU, within `REAL_GPU_TOLERANCE`.
    #[test]
    fn device_training_and_scoring_equal_the_cpu_path() {
        let rows: Vec<Box<[u64]>> = (0..90)
            .map(|i| {
                let t = f64::from(i % 45) / 45.0;
                encode_dense(&[t, 1.0 - t, t * t, 0.5, 0.1 * t])
            })
            .collect();
        let sample = Sample {
            kind: InputKind::Dense,
            dim: 5,
            rows: rows.iter().map(|r| &**r).collect(),
            counts: vec![1; rows.len()],
        };
        let p = params(
            r#"{"hidden": [4, 2], "activation": "tanh", "epochs": 5, "batch_size": 16,
                "learning_rate": 0.01}"#,
        );
        let (cpu, cpu_report) = train_on(&p, &sample, &Placement::cpu()).expect("cpu");
        let devices = TestDevices::new(2, 1);
        let tolerance = devices.tolerance(1e-6);
        let placement = Placement::on(devices.pool.acquire());
        assert!(devices.real || placement.ordinal() == Some(0));
        let (dev, dev_report) = train_on(&p, &sample, &placement).expect("device");
        assert_eq!(cpu_report.steps, dev_report.steps);
        for (a, b) in cpu_report.epoch_losses.iter().zip(&dev_report.epoch_losses) {
            assert!((a - b).abs() < tolerance, "{a} vs {b}");
        }
        assert!(f64::from(max_weight_difference(&cpu, &dev)) < tolerance);
        // Scoring: one pass on the CPU against chunks of 7 rows on the device.
        let refs: Vec<&[u64]> = rows.iter().map(|r| &**r).collect();
        let whole = cpu
            .dense_scores(&refs, &Placement::cpu(), SCORE_CHUNK_ROWS)
            .expect("scores");
        let chunked = cpu.dense_scores(&refs, &placement, 7).expect("scores");
        assert_eq!(whole.len(), rows.len());
        for (a, b) in whole.iter().zip(&chunked) {
            assert!((a - b).abs() < tolerance, "{a} vs {b}");
        }
        drop(placement);
        assert!(devices.real || devices.idle(), "the permit is returned");
    }

    /// The sparse network's training on a device placement, as above.
    #[test]
    fn sparse_device_training_equals_the_cpu_path() {
        let rows = sparse_rows();
        let sample = Sample {
            kind: InputKind::Sparse,
            dim: 1 << 18,
            rows: rows.iter().map(|r| &**r).collect(),
            counts: vec![1; rows.len()],
        };
        let p =
            params(r#"{"hidden": [6], "epochs": 4, "batch_size": 8, "negatives": 3}"#);
        let (cpu, cpu_report) = train_on(&p, &sample, &Placement::cpu()).expect("cpu");
        let devices = TestDevices::new(1, 2);
        let tolerance = devices.tolerance(1e-6);
        let placement = Placement::on(devices.pool.acquire());
        let (dev, dev_report) = train_on(&p, &sample, &placement).expect("device");
        assert_eq!(cpu.vocabulary(), dev.vocabulary());
        assert_eq!(cpu_report.steps, dev_report.steps);
        for (a, b) in cpu_report.epoch_losses.iter().zip(&dev_report.epoch_losses) {
            assert!((a - b).abs() < tolerance, "{a} vs {b}");
        }
        assert!(f64::from(max_weight_difference(&cpu, &dev)) < tolerance);
    }
}
