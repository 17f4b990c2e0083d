//! The training loop: teacher-forced next-event prediction with Adam, as a plain
//! loop.
//!
//! The training set is the merged partial's distinct token sequences with their row
//! counts. Each epoch draws `min(rows, max_sequences)` sequences with replacement, in
//! proportion to their counts (so the model learns the data's distribution: a
//! sequence a thousand processes share weighs a thousand times one seen once, which
//! is what keeps rare behaviour surprising), in batches of `batch_size` from the
//! seeded generator. Copies of one sequence within a batch are computed once with a
//! weight. The loss of a batch is the mean cross-entropy over its real (unpadded)
//! positions: at every position the input is the true previous event (the start
//! token first) and the target the true next one, so the model is never shown the
//! event it has to predict.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::network::{Batch, Dims, SeqNet, Weights};
use super::params::SequenceValidParams;
use crate::matrix::{SeededRng, derive_seed};
use crate::neural::{adam, read_scalar};

/// Gradient-norm clip per parameter, the usual guard against exploding LSTM gradients.
const GRAD_CLIP_NORM: f32 = 5.0;

/// The trained weights and the mean training loss of each epoch (nats per event).
#[derive(Debug, Clone)]
pub(crate) struct Trained {
    pub weights: Weights,
    pub epoch_losses: Vec<f64>,
}

/// Trains a network of `dims` on `sequences` (non-empty token sequences, each with
/// its count) on `device` (which must have autodiff).
pub(crate) fn train(
    params: &SequenceValidParams,
    dims: Dims,
    sequences: &[(Vec<u32>, u64)],
    device: &Device,
) -> Result<Trained, String> {
    let total: u64 = sequences.iter().map(|(_, c)| c).sum();
    if sequences.is_empty() || total == 0 {
        return Err("no sequences to train on".into());
    }
    let seed = params.seed();
    let init = Weights::init(dims, derive_seed(seed, 0));
    let mut net = SeqNet::new(dims, &init, device)?;
    let mut optim =
        adam().with_grad_clipping(GradientClippingConfig::Norm(GRAD_CLIP_NORM).init());
    let mut rng = SeededRng::new(derive_seed(seed, 1));
    let cumulative: Vec<u64> = sequences
        .iter()
        .scan(0u64, |acc, (_, c)| {
            *acc += c;
            Some(*acc)
        })
        .collect();
    let per_epoch = usize::try_from(total)
        .unwrap_or(usize::MAX)
        .min(params.max_sequences());
    let batch_size = params.batch_size();
    let mut epoch_losses = Vec::with_capacity(params.epochs());
    let mut counts = vec![0u32; sequences.len()];
    for _ in 0..params.epochs() {
        // Summed on the device and read once per epoch, so a GPU is not stalled by a
        // read-back after every step.
        let mut loss_sum: Option<Tensor<1>> = None;
        let mut weight_sum = 0.0f64;
        let mut drawn = 0;
        while drawn < per_epoch {
            let take = batch_size.min(per_epoch - drawn);
            drawn += take;
            let mut picked = Vec::with_capacity(take);
            for _ in 0..take {
                let r = rng.gen_range_u64(total);
                let i = cumulative.partition_point(|&c| c <= r);
                if counts[i] == 0 {
                    picked.push(i);
                }
                counts[i] += 1;
            }
            picked.sort_unstable();
            let batch = Batch::new(
                picked
                    .iter()
                    .map(|&i| (sequences[i].0.as_slice(), counts[i] as f32)),
            );
            for &i in &picked {
                counts[i] = 0;
            }
            let batch_weight = batch.total_weight();
            // Token-weighted sum of the batch's cross-entropies: [1].
            let weighted = net
                .nll(&batch, device)
                .mul(batch.weight_tensor(device))
                .sum();
            let loss = weighted.clone().div_scalar(batch_weight);
            let detached = weighted.detach();
            loss_sum = Some(match loss_sum {
                Some(sum) => sum.add(detached),
                None => detached,
            });
            weight_sum += batch_weight;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(params.learning_rate(), net, grads);
        }
        let epoch_loss = match loss_sum {
            Some(sum) => read_scalar(sum)? / weight_sum.max(f64::MIN_POSITIVE),
            None => f64::NAN,
        };
        if !epoch_loss.is_finite() {
            return Err(format!(
                "training diverged (mean loss {epoch_loss}); lower learning_rate"
            ));
        }
        epoch_losses.push(epoch_loss);
    }
    Ok(Trained {
        weights: net.weights()?,
        epoch_losses,
    })
}
