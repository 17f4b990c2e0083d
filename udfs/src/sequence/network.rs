//! The next-event network on burn tensors: token embedding → stacked LSTM layers →
//! linear → log-softmax over the vocabulary.
//!
//! The LSTM cell is written here rather than taken from `burn::nn::Lstm` so that each
//! layer does one input projection for the whole sequence and one recurrent matrix
//! product per step (burn's module does eight per step), and so that the weights are
//! plain `f32` arrays initialised from our seeded generator: training never touches
//! burn's global random state, so concurrent fits stay deterministic.
//!
//! The network is causal: the output at step `t` depends only on inputs `0..=t`, so
//! padding added after a sequence's end never changes its scores.

use burn::module::{Module, Param};
use burn::tensor::activation::{log_softmax, sigmoid};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::matrix::SeededRng;
use crate::neural::{int1, read_f32, uniform};

/// The sizes of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub vocab: usize,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
}

impl Dims {
    /// The shape of every weight tensor, in storage order: embedding `[vocab, embed]`;
    /// per layer input weights `[in, 4 hidden]`, recurrent weights `[hidden, 4 hidden]`
    /// and bias `[4 hidden]` (gate order input, forget, cell, output); output weights
    /// `[hidden, vocab]` and bias `[vocab]`.
    pub fn shapes(&self) -> Vec<Vec<usize>> {
        let g = 4 * self.hidden;
        let mut out = vec![vec![self.vocab, self.embed]];
        for l in 0..self.layers {
            let input = if l == 0 { self.embed } else { self.hidden };
            out.push(vec![input, g]);
            out.push(vec![self.hidden, g]);
            out.push(vec![g]);
        }
        out.push(vec![self.hidden, self.vocab]);
        out.push(vec![self.vocab]);
        out
    }
}

/// Every weight of a network as flat row-major `f32` arrays, in [`Dims::shapes`]
/// order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Weights {
    pub tensors: Vec<Vec<f32>>,
}

impl Weights {
    /// Seeded initial weights: embeddings with unit variance, LSTM and output weights
    /// uniform in `±1/sqrt(hidden)` (as PyTorch), forget-gate biases 1 (so early
    /// training remembers), other biases 0.
    pub fn init(dims: Dims, seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let mut draw = |n: usize, bound: f64| uniform(&mut rng, n, bound);
        let k = 1.0 / (dims.hidden as f64).sqrt();
        let g = 4 * dims.hidden;
        let mut tensors = vec![draw(dims.vocab * dims.embed, 3f64.sqrt())];
        for l in 0..dims.layers {
            let input = if l == 0 { dims.embed } else { dims.hidden };
            tensors.push(draw(input * g, k));
            tensors.push(draw(dims.hidden * g, k));
            let mut bias = vec![0.0f32; g];
            bias[dims.hidden..2 * dims.hidden].fill(1.0);
            tensors.push(bias);
        }
        tensors.push(draw(dims.hidden * dims.vocab, k));
        tensors.push(vec![0.0; dims.vocab]);
        Self { tensors }
    }

    /// Whether every array has its shape's length and only finite values.
    pub fn check(&self, dims: Dims) -> Result<(), String> {
        let shapes = dims.shapes();
        if shapes.len() != self.tensors.len() {
            return Err(format!(
                "{} weight tensors, the sizes need {}",
                self.tensors.len(),
                shapes.len()
            ));
        }
        for (i, (shape, values)) in shapes.iter().zip(&self.tensors).enumerate() {
            let n: usize = shape.iter().product();
            if values.len() != n {
                return Err(format!(
                    "weight tensor {i} has {} values, its shape {shape:?} needs {n}",
                    values.len()
                ));
            }
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(format!("weight tensor {i} holds a non-finite value ({v})"));
            }
        }
        Ok(())
    }
}

/// One LSTM layer with fused gates.
#[derive(Module, Debug)]
pub(crate) struct LstmLayer {
    /// `[in, 4 hidden]`.
    w_input: Param<Tensor<2>>,
    /// `[hidden, 4 hidden]`.
    w_hidden: Param<Tensor<2>>,
    /// `[4 hidden]`.
    bias: Param<Tensor<1>>,
}

/// The whole network.
#[derive(Module, Debug)]
pub(crate) struct SeqNet {
    /// `[vocab, embed]`.
    embedding: Param<Tensor<2>>,
    layers: Vec<LstmLayer>,
    /// `[hidden, vocab]`.
    w_out: Param<Tensor<2>>,
    /// `[vocab]`.
    b_out: Param<Tensor<1>>,
}

fn param2(values: &[f32], shape: &[usize], device: &Device) -> Param<Tensor<2>> {
    let [a, b] = [shape[0], shape[1]];
    Param::from_tensor(Tensor::from_data(
        TensorData::new(values.to_vec(), [a, b]),
        device,
    ))
}

fn param1(values: &[f32], device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        device,
    ))
}

impl SeqNet {
    /// The network holding `weights` on `device`. `weights` must pass
    /// [`Weights::check`] for `dims`.
    pub fn new(dims: Dims, weights: &Weights, device: &Device) -> Result<Self, String> {
        weights.check(dims)?;
        let shapes = dims.shapes();
        let t = &weights.tensors;
        let mut layers = Vec::with_capacity(dims.layers);
        for l in 0..dims.layers {
            let i = 1 + 3 * l;
            layers.push(LstmLayer {
                w_input: param2(&t[i], &shapes[i], device),
                w_hidden: param2(&t[i + 1], &shapes[i + 1], device),
                bias: param1(&t[i + 2], device),
            });
        }
        let last = shapes.len() - 2;
        Ok(Self {
            embedding: param2(&t[0], &shapes[0], device),
            layers,
            w_out: param2(&t[last], &shapes[last], device),
            b_out: param1(&t[last + 1], device),
        })
    }

    /// Copies the weights back to the host, in [`Dims::shapes`] order.
    pub fn weights(&self) -> Result<Weights, String> {
        let mut tensors = vec![read_f32(self.embedding.val())?];
        for layer in &self.layers {
            tensors.push(read_f32(layer.w_input.val())?);
            tensors.push(read_f32(layer.w_hidden.val())?);
            tensors.push(read_f32(layer.bias.val())?);
        }
        tensors.push(read_f32(self.w_out.val())?);
        tensors.push(read_f32(self.b_out.val())?);
        Ok(Weights { tensors })
    }

    /// Negative log-likelihood of each target token of `batch` given the inputs up
    /// to and including its step, computed on `device`.
    ///
    /// Returns `[rows, steps]` in nats (padding positions hold values to be masked
    /// out). The recurrence runs step by step through every layer, and each step's
    /// input is looked up on its own, so that backpropagation never scatters a
    /// one-step gradient into a whole-sequence tensor (which would cost
    /// `steps^2` work).
    pub fn nll(&self, batch: &Batch, device: &Device) -> Tensor<2> {
        let (rows, steps) = (batch.rows, batch.steps);
        let embedding = self.embedding.val();
        let mut state: Vec<Option<(Tensor<2>, Tensor<2>)>> =
            vec![None; self.layers.len()];
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            // [rows, embed]
            let mut x = embedding
                .clone()
                .select(0, int1(batch.inputs_at(t), device));
            for (layer, slot) in self.layers.iter().zip(state.iter_mut()) {
                let (h, c) = layer.step(x, slot.take());
                x = h.clone();
                *slot = Some((h, c));
            }
            outputs.push(x);
        }
        // [rows, steps, hidden] → [rows * steps, hidden]
        let top: Tensor<3> = Tensor::stack(outputs, 1);
        let hidden = top.dims()[2];
        // [rows * steps, vocab]
        let logits = top
            .reshape([rows * steps, hidden])
            .matmul(self.w_out.val())
            .add(self.b_out.val().unsqueeze_dim(0));
        let targets: Tensor<2, Int> = Tensor::from_data(
            TensorData::new(batch.targets.clone(), [rows * steps, 1]),
            device,
        );
        log_softmax(logits, 1)
            .gather(1, targets)
            .neg()
            .reshape([rows, steps])
    }
}

impl LstmLayer {
    /// One step: input `x` `[rows, in]` and the previous (hidden, cell) state, each
    /// `[rows, hidden]` (`None` at the first step: zeros) → the new state.
    fn step(
        &self,
        x: Tensor<2>,
        state: Option<(Tensor<2>, Tensor<2>)>,
    ) -> (Tensor<2>, Tensor<2>) {
        let gates = self.w_hidden.val().dims()[1];
        let hidden = gates / 4;
        // [rows, 4 hidden]
        let mut g = x
            .matmul(self.w_input.val())
            .add(self.bias.val().unsqueeze_dim(0));
        if let Some((h, _)) = &state {
            g = g.add(h.clone().matmul(self.w_hidden.val()));
        }
        let i = sigmoid(g.clone().narrow(1, 0, hidden));
        let cell = g.clone().narrow(1, 2 * hidden, hidden).tanh();
        let o = sigmoid(g.clone().narrow(1, 3 * hidden, hidden));
        let c = match state {
            Some((_, c)) => {
                let f = sigmoid(g.narrow(1, hidden, hidden));
                f.mul(c).add(i.mul(cell))
            }
            None => i.mul(cell),
        };
        let h = o.mul(c.clone().tanh());
        (h, c)
    }
}

/// A padded batch of token sequences with their loss weights.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub rows: usize,
    pub steps: usize,
    /// `[rows * steps]`: the start token, then each sequence's tokens but its last.
    pub inputs: Vec<i64>,
    /// `[rows * steps]`: each sequence's tokens.
    pub targets: Vec<i64>,
    /// `[rows * steps]`: the row's weight at real positions, 0 at padding.
    pub weights: Vec<f32>,
}

impl Batch {
    /// Pads `sequences` (each non-empty, paired with its weight) to the longest.
    pub fn new<'a>(sequences: impl IntoIterator<Item = (&'a [u32], f32)>) -> Self {
        let sequences: Vec<(&[u32], f32)> = sequences.into_iter().collect();
        let rows = sequences.len();
        let steps = sequences.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
        let mut inputs = vec![i64::from(super::vocab::PAD); rows * steps];
        let mut targets = vec![i64::from(super::vocab::PAD); rows * steps];
        let mut weights = vec![0.0f32; rows * steps];
        for (r, (seq, w)) in sequences.iter().enumerate() {
            let base = r * steps;
            for (t, &tok) in seq.iter().enumerate() {
                inputs[base + t] = if t == 0 {
                    i64::from(super::vocab::BOS)
                } else {
                    i64::from(seq[t - 1])
                };
                targets[base + t] = i64::from(tok);
                weights[base + t] = *w;
            }
        }
        Self {
            rows,
            steps,
            inputs,
            targets,
            weights,
        }
    }

    /// The sum of the weights over every real position.
    pub fn total_weight(&self) -> f64 {
        self.weights.iter().map(|&w| f64::from(w)).sum()
    }

    /// The input token of every row at step `t`.
    pub fn inputs_at(&self, t: usize) -> Vec<i64> {
        (0..self.rows)
            .map(|r| self.inputs[r * self.steps + t])
            .collect()
    }

    /// The weight tensor on `device`.
    pub fn weight_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.weights.clone(), [self.rows, self.steps]),
            device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neural::Placement;

    fn dims() -> Dims {
        Dims {
            vocab: 6,
            embed: 3,
            hidden: 4,
            layers: 2,
        }
    }

    #[test]
    fn weights_round_trip_through_the_device() {
        let w = Weights::init(dims(), 1);
        w.check(dims()).expect("initial weights fit their shapes");
        let device = Placement::cpu().device().clone();
        let net = SeqNet::new(dims(), &w, &device).expect("builds");
        assert_eq!(net.weights().expect("reads"), w);
        assert_eq!(Weights::init(dims(), 1), w);
        assert_ne!(Weights::init(dims(), 2), w);
    }

    #[test]
    fn check_names_the_bad_tensor() {
        let mut w = Weights::init(dims(), 1);
        w.tensors[2].pop();
        assert!(w.check(dims()).expect_err("short").contains("tensor 2"));
        let mut w = Weights::init(dims(), 1);
        w.tensors[0][0] = f32::NAN;
        assert!(w.check(dims()).expect_err("nan").contains("non-finite"));
    }

    #[test]
    fn padding_does_not_change_earlier_positions() {
        let device = Placement::cpu().device().clone();
        let net =
            SeqNet::new(dims(), &Weights::init(dims(), 3), &device).expect("builds");
        let short: &[u32] = &[3, 4];
        let long: &[u32] = &[3, 4, 5, 5];
        let alone = Batch::new([(short, 1.0)]);
        let padded = Batch::new([(short, 1.0), (long, 1.0)]);
        let nll = |b: &Batch| -> Vec<f32> {
            net.nll(b, &device)
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 output")
        };
        let a = nll(&alone);
        let p = nll(&padded);
        assert_eq!(p.len(), 8);
        for (x, y) in a.iter().zip(&p[..2]) {
            assert!((x - y).abs() < 1e-6, "{a:?} vs {p:?}");
        }
        // Uniform-ish initial model: every NLL near ln(6).
        assert!(p.iter().all(|&v| v > 0.5 && v < 4.0), "{p:?}");
        assert_eq!(padded.weights, vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        // Teacher forcing without leakage: changing the last event changes only the
        // last position's loss, so no position is shown the event it predicts.
        let other: &[u32] = &[3, 4, 5, 2];
        let q = nll(&Batch::new([(long, 1.0), (other, 1.0)]));
        for t in 0..3 {
            assert!((q[t] - q[4 + t]).abs() < 1e-6, "position {t}: {q:?}");
        }
        assert!((q[3] - q[7]).abs() > 1e-6, "{q:?}");
        assert_eq!(padded.inputs[..4], [1, 3, 0, 0]);
        assert_eq!(padded.targets[4..], [3, 4, 5, 5]);
    }
}
