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
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use super::cpu_train::CpuTrainer;
use super::network::{Batch, Dims, SeqNet, Weights};
use super::params::SequenceValidParams;
use crate::matrix::{SeededRng, derive_seed};
use crate::neural::{adam, read_scalar};

/// Gradient-norm clip per parameter, the usual guard against exploding LSTM gradients.
pub(crate) const GRAD_CLIP_NORM: f32 = 5.0;

/// The trained weights and the mean training loss of each epoch (nats per event).
#[derive(Debug, Clone)]
pub(crate) struct Trained {
    pub weights: Weights,
    pub epoch_losses: Vec<f64>,
}

/// How one optimisation step is taken: on burn tensors (any device) or on plain CPU
/// matrices ([`CpuTrainer`]).
pub(crate) trait Stepper {
    /// One Adam step on the token-weighted mean loss of `batch`, whose token-weighted
    /// loss sum is added to the running total.
    fn step(&mut self, batch: &Batch, learning_rate: f64) -> Result<(), String>;
    /// The running total since the last call.
    fn take_loss(&mut self) -> Result<f64, String>;
    /// The current weights.
    fn weights(&self) -> Result<Weights, String>;
}

/// Steps on burn tensors on a device with autodiff.
pub(crate) struct BurnStepper {
    net: Option<SeqNet>,
    optim: ModuleOptimizer,
    device: Device,
    /// Summed on the device and read once per epoch, so a GPU is not stalled by a
    /// read-back after every step.
    loss_sum: Option<Tensor<1>>,
}

impl BurnStepper {
    /// A network of `dims` starting from `init` on `device`, clipping each parameter's
    /// gradient to norm `clip_norm`.
    pub fn new(
        dims: Dims,
        init: &Weights,
        clip_norm: f32,
        device: &Device,
    ) -> Result<Self, String> {
        Ok(Self {
            net: Some(SeqNet::new(dims, init, device)?),
            optim: adam()
                .with_grad_clipping(GradientClippingConfig::Norm(clip_norm).init()),
            device: device.clone(),
            loss_sum: None,
        })
    }
}

impl Stepper for BurnStepper {
    fn step(&mut self, batch: &Batch, learning_rate: f64) -> Result<(), String> {
        let net = self
            .net
            .take()
            .ok_or("the network was lost in an earlier step")?;
        // Token-weighted sum of the batch's cross-entropies: [1].
        let weighted = net
            .nll(batch, &self.device)
            .mul(batch.weight_tensor(&self.device))
            .sum();
        let loss = weighted.clone().div_scalar(batch.total_weight());
        let detached = weighted.detach();
        self.loss_sum = Some(match self.loss_sum.take() {
            Some(sum) => sum.add(detached),
            None => detached,
        });
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        self.net = Some(self.optim.step(learning_rate, net, grads));
        Ok(())
    }

    fn take_loss(&mut self) -> Result<f64, String> {
        match self.loss_sum.take() {
            Some(sum) => read_scalar(sum),
            None => Ok(0.0),
        }
    }

    fn weights(&self) -> Result<Weights, String> {
        self.net
            .as_ref()
            .ok_or("the network was lost in an earlier step")?
            .weights()
    }
}

impl Stepper for CpuTrainer {
    fn step(&mut self, batch: &Batch, learning_rate: f64) -> Result<(), String> {
        CpuTrainer::step(self, batch, learning_rate)
    }

    fn take_loss(&mut self) -> Result<f64, String> {
        Ok(CpuTrainer::take_loss(self))
    }

    fn weights(&self) -> Result<Weights, String> {
        Ok(CpuTrainer::weights(self))
    }
}

/// The seeded initial weights of a network of `dims`.
pub(crate) fn initial_weights(params: &SequenceValidParams, dims: Dims) -> Weights {
    Weights::init(dims, derive_seed(params.seed(), 0))
}

/// Trains a network on `sequences` (non-empty token sequences, each with its count),
/// taking each step with `stepper` (which starts from [`initial_weights`]).
pub(crate) fn train(
    params: &SequenceValidParams,
    sequences: &[(Vec<u32>, u64)],
    stepper: &mut dyn Stepper,
) -> Result<Trained, String> {
    let total: u64 = sequences.iter().map(|(_, c)| c).sum();
    if sequences.is_empty() || total == 0 {
        return Err("no sequences to train on".into());
    }
    let mut rng = SeededRng::new(derive_seed(params.seed(), 1));
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
            weight_sum += batch.total_weight();
            stepper.step(&batch, params.learning_rate())?;
        }
        let epoch_loss = stepper.take_loss()? / weight_sum.max(f64::MIN_POSITIVE);
        if !epoch_loss.is_finite() {
            return Err(format!(
                "training diverged (mean loss {epoch_loss}); lower learning_rate"
            ));
        }
        epoch_losses.push(epoch_loss);
    }
    Ok(Trained {
        weights: stepper.weights()?,
        epoch_losses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neural::Placement;
    use crate::sequence::SequenceParams;
    use crate::sequence::model::dims_of;

    /// Trains the same network from the same start with burn's autodiff and with the
    /// CPU trainer; both must take the same steps.
    fn both(learning_rate: f64, clip_norm: f32) -> (Trained, Trained, Weights) {
        let params = SequenceParams::default()
            .vocab_size(9)
            .embedding_dim(5)
            .hidden_dim(7)
            .num_layers(2)
            .epochs(4)
            .batch_size(3)
            .max_sequences(9)
            .learning_rate(learning_rate)
            .check()
            .expect("valid parameters");
        let dims = dims_of(&params);
        // Different lengths (padding), shared prefixes, copies drawn into one batch.
        let sequences: Vec<(Vec<u32>, u64)> = vec![
            (vec![2, 3, 3, 4], 5),
            (vec![2, 3, 5], 2),
            (vec![6], 1),
            (vec![2, 7, 8, 8, 8, 3], 3),
            (vec![4, 4], 1),
        ];
        let init = initial_weights(&params, dims);
        let device = Placement::cpu().training_device();
        let mut burn = BurnStepper::new(dims, &init, clip_norm, &device).expect("burn");
        let by_burn = train(&params, &sequences, &mut burn).expect("burn trains");
        let mut cpu = CpuTrainer::new(dims, &init, clip_norm).expect("cpu trainer");
        let by_cpu = train(&params, &sequences, &mut cpu).expect("cpu trains");
        (by_burn, by_cpu, init)
    }

    fn assert_same(burn: &Trained, cpu: &Trained, init: &Weights) {
        assert_eq!(burn.epoch_losses.len(), cpu.epoch_losses.len());
        for (a, b) in burn.epoch_losses.iter().zip(&cpu.epoch_losses) {
            assert!(
                (a - b).abs() < 1e-5,
                "{:?} vs {:?}",
                burn.epoch_losses,
                cpu.epoch_losses
            );
        }
        let mut moved = 0.0f32;
        for (i, ((a, b), start)) in burn
            .weights
            .tensors
            .iter()
            .zip(&cpu.weights.tensors)
            .zip(&init.tensors)
            .enumerate()
        {
            for ((x, y), s) in a.iter().zip(b).zip(start) {
                assert!((x - y).abs() < 2e-5, "tensor {i}: {x} vs {y}");
                moved = moved.max((x - s).abs());
            }
        }
        assert!(moved > 1e-3, "training must move the weights");
    }

    #[test]
    fn cpu_trainer_takes_the_steps_burn_takes() {
        let (burn, cpu, init) = both(0.01, GRAD_CLIP_NORM);
        assert_same(&burn, &cpu, &init);
        assert!(
            cpu.epoch_losses.last() < cpu.epoch_losses.first(),
            "{:?}",
            cpu.epoch_losses
        );
    }

    #[test]
    fn cpu_trainer_clips_gradients_as_burn_does() {
        // A norm this small clips every parameter's gradient at every step.
        let (burn, cpu, init) = both(0.01, 0.05);
        assert_same(&burn, &cpu, &init);
    }
}
