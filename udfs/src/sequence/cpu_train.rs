//! Training on the CPU: the network's forward pass, backpropagation through time and
//! Adam written out on plain `f32` matrices.
//!
//! Burn's autodiff records every tensor operation of every time step and replays them
//! backwards; on the CPU that bookkeeping, not the arithmetic, bounds a step. Here each
//! layer runs over the whole sequence before the next (the same function: layer `l` at
//! step `t` only needs layer `l − 1` at `t` and itself at `t − 1`), so the input
//! projections of a layer are one matrix product over all steps and only the recurrent
//! product is per step. The first layer's input projection is a table per token
//! (embedding × input weights + bias), whose gradient is scattered once per batch.
//!
//! A batch is cut into fixed chunks of [`CHUNK_ROWS`] rows whose gradients are computed
//! on separate threads and summed in chunk order, so the result does not depend on
//! the number of cores. The gradient of each parameter is clipped to norm
//! [`super::train::GRAD_CLIP_NORM`] and applied with Adam exactly as burn's optimiser
//! does (tested against it in [`super::train`]).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Axis, s};

use super::cpu_math::{log_softmax, sigmoid, tanh};
use super::network::{Batch, Dims, Weights};

/// Rows of a batch per gradient chunk (one thread each).
const CHUNK_ROWS: usize = 32;
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

/// The network's parameters and Adam's moments, in [`Dims::shapes`] order (vectors
/// as one-row matrices).
#[derive(Debug)]
pub(crate) struct CpuTrainer {
    dims: Dims,
    params: Vec<Array2<f32>>,
    moment_1: Vec<Array2<f32>>,
    moment_2: Vec<Array2<f32>>,
    time: i32,
    clip_norm: f32,
    loss_sum: f64,
}

fn as_matrix(values: &[f32], shape: &[usize]) -> Result<Array2<f32>, String> {
    let (rows, cols) = match shape {
        [n] => (1, *n),
        [r, c] => (*r, *c),
        _ => return Err(format!("unexpected weight shape {shape:?}")),
    };
    Array2::from_shape_vec((rows, cols), values.to_vec()).map_err(|e| e.to_string())
}

/// The parameters' positions in [`Dims::shapes`] order.
#[derive(Clone, Copy)]
struct Layout {
    layers: usize,
}

impl Layout {
    const EMBEDDING: usize = 0;
    fn w_input(self, l: usize) -> usize {
        1 + 3 * l
    }
    fn w_hidden(self, l: usize) -> usize {
        2 + 3 * l
    }
    fn bias(self, l: usize) -> usize {
        3 + 3 * l
    }
    fn w_out(self) -> usize {
        1 + 3 * self.layers
    }
    fn b_out(self) -> usize {
        2 + 3 * self.layers
    }
}

/// One layer's activations over a chunk, step-major (`rows` rows per step).
struct LayerTrace {
    /// `[steps · rows, 4 hidden]`: the gates after their activations (σ, σ, tanh, σ).
    gates: Array2<f32>,
    /// `[steps · rows, hidden]`: cell state, its tanh and the hidden state.
    c: Array2<f32>,
    tanh_c: Array2<f32>,
    h: Array2<f32>,
}

/// A chunk of a batch, step-major: position `t · rows + r`.
struct Chunk {
    rows: usize,
    steps: usize,
    inputs: Vec<usize>,
    targets: Vec<usize>,
    /// Each position's weight.
    weights: Vec<f32>,
    /// The whole batch's total weight (the loss is the mean over the batch).
    total: f64,
}

impl Chunk {
    fn new(batch: &Batch, rows: std::ops::Range<usize>, total: f64) -> Self {
        let (n, steps) = (rows.len(), batch.steps);
        let mut chunk = Chunk {
            rows: n,
            steps,
            inputs: vec![0; n * steps],
            targets: vec![0; n * steps],
            weights: vec![0.0; n * steps],
            total,
        };
        for (rr, r) in rows.enumerate() {
            for t in 0..steps {
                let (from, to) = (r * steps + t, t * n + rr);
                chunk.inputs[to] = usize::try_from(batch.inputs[from]).unwrap_or(0);
                chunk.targets[to] = usize::try_from(batch.targets[from]).unwrap_or(0);
                chunk.weights[to] = batch.weights[from];
            }
        }
        chunk
    }

    fn step(&self, t: usize) -> std::ops::Range<usize> {
        t * self.rows..(t + 1) * self.rows
    }
}

impl CpuTrainer {
    /// A trainer starting from `weights` (checked against `dims`), clipping each
    /// parameter's gradient to norm `clip_norm`.
    pub fn new(dims: Dims, weights: &Weights, clip_norm: f32) -> Result<Self, String> {
        weights.check(dims)?;
        let params = dims
            .shapes()
            .iter()
            .zip(&weights.tensors)
            .map(|(shape, values)| as_matrix(values, shape))
            .collect::<Result<Vec<_>, _>>()?;
        let zeros: Vec<Array2<f32>> =
            params.iter().map(|p| Array2::zeros(p.dim())).collect();
        Ok(Self {
            dims,
            moment_1: zeros.clone(),
            moment_2: zeros,
            params,
            time: 0,
            clip_norm,
            loss_sum: 0.0,
        })
    }

    /// The current weights.
    pub fn weights(&self) -> Weights {
        Weights {
            tensors: self
                .params
                .iter()
                .map(|p| p.iter().copied().collect())
                .collect(),
        }
    }

    /// The token-weighted loss summed over the steps since the last call.
    pub fn take_loss(&mut self) -> f64 {
        std::mem::take(&mut self.loss_sum)
    }

    /// One Adam step on the mean (token-weighted) loss of `batch`.
    pub fn step(&mut self, batch: &Batch, learning_rate: f64) -> Result<(), String> {
        let total = batch.total_weight();
        if batch.rows == 0 || batch.steps == 0 || total <= 0.0 {
            return Ok(());
        }
        self.check_tokens(batch)?;
        let ranges: Vec<std::ops::Range<usize>> = (0..batch.rows)
            .step_by(CHUNK_ROWS)
            .map(|start| start..(start + CHUNK_ROWS).min(batch.rows))
            .collect();
        let this = &*self;
        let results: Vec<(Vec<Array2<f32>>, f64)> = std::thread::scope(|scope| {
            let handles: Vec<_> = ranges
                .iter()
                .skip(1)
                .map(|range| {
                    let chunk = Chunk::new(batch, range.clone(), total);
                    scope.spawn(move || this.gradients(&chunk))
                })
                .collect();
            let first = this.gradients(&Chunk::new(batch, ranges[0].clone(), total));
            let mut all = vec![first];
            for handle in handles {
                match handle.join() {
                    Ok(result) => all.push(result),
                    Err(_) => return Err("a training thread panicked".to_string()),
                }
            }
            Ok(all)
        })?;
        let mut results = results.into_iter();
        let Some((mut grads, mut loss)) = results.next() else {
            return Ok(());
        };
        for (more, more_loss) in results {
            for (g, m) in grads.iter_mut().zip(&more) {
                *g += m;
            }
            loss += more_loss;
        }
        self.loss_sum += loss;
        self.apply(grads, learning_rate as f32);
        Ok(())
    }

    fn check_tokens(&self, batch: &Batch) -> Result<(), String> {
        let vocab = self.dims.vocab as i64;
        match batch
            .inputs
            .iter()
            .chain(&batch.targets)
            .find(|&&t| t < 0 || t >= vocab)
        {
            Some(t) => Err(format!("token {t} outside the vocabulary of {vocab}")),
            None => Ok(()),
        }
    }

    /// Clips each gradient, then takes an Adam step (burn's formulation: the bias
    /// corrections folded into the step size and epsilon).
    fn apply(&mut self, grads: Vec<Array2<f32>>, learning_rate: f32) {
        self.time += 1;
        let bc2 = (1.0 - BETA_2.powi(self.time)).sqrt();
        let factor = bc2 / (1.0 - BETA_1.powi(self.time));
        let eps = EPSILON * bc2;
        for (((param, m1), m2), mut grad) in self
            .params
            .iter_mut()
            .zip(&mut self.moment_1)
            .zip(&mut self.moment_2)
            .zip(grads)
        {
            let norm = grad.iter().map(|g| g * g).sum::<f32>().sqrt();
            let coef = (self.clip_norm / (norm + f32::MIN_POSITIVE)).min(1.0);
            if coef < 1.0 {
                grad *= coef;
            }
            ndarray::Zip::from(param)
                .and(m1)
                .and(m2)
                .and(&grad)
                .for_each(|p, m, v, &g| {
                    *m = BETA_1 * *m + (1.0 - BETA_1) * g;
                    *v = BETA_2 * *v + (1.0 - BETA_2) * g * g;
                    *p -= learning_rate * (*m * factor) / (v.sqrt() + eps);
                });
        }
    }

    /// The gradients of the batch's mean loss restricted to `chunk`'s positions, and
    /// the chunk's token-weighted loss.
    fn gradients(&self, chunk: &Chunk) -> (Vec<Array2<f32>>, f64) {
        let layout = Layout {
            layers: self.dims.layers,
        };
        let p = &self.params;
        let mut grads: Vec<Array2<f32>> =
            p.iter().map(|p| Array2::zeros(p.dim())).collect();
        // Forward, layer by layer.
        let mut first = p[Layout::EMBEDDING].dot(&p[layout.w_input(0)]);
        first += &p[layout.bias(0)];
        let mut traces: Vec<LayerTrace> = Vec::with_capacity(self.dims.layers);
        for l in 0..self.dims.layers {
            let projected = match traces.last() {
                None => first.select(Axis(0), &chunk.inputs),
                Some(below) => {
                    let mut x = below.h.dot(&p[layout.w_input(l)]);
                    x += &p[layout.bias(l)];
                    x
                }
            };
            traces.push(self.layer_forward(projected, &p[layout.w_hidden(l)], chunk));
        }
        // Output and loss.
        let top = &traces[traces.len() - 1].h;
        let mut logits = top.dot(&p[layout.w_out()]);
        logits += &p[layout.b_out()];
        let mut loss = 0.0f64;
        for (pos, mut row) in logits.rows_mut().into_iter().enumerate() {
            let Some(row) = row.as_slice_mut() else {
                continue;
            };
            log_softmax(row);
            let target = chunk.targets[pos];
            loss += f64::from(chunk.weights[pos]) * -f64::from(row[target]);
            // d(mean loss)/d logits = scale · (softmax − one-hot).
            let scale = (f64::from(chunk.weights[pos]) / chunk.total) as f32;
            row.iter_mut().for_each(|v| *v = scale * v.exp());
            row[target] -= scale;
        }
        let d_logits = logits;
        grads[layout.w_out()] = top.t().dot(&d_logits);
        grads[layout.b_out()] = d_logits.sum_axis(Axis(0)).insert_axis(Axis(0));
        let mut d_h = d_logits.dot(&p[layout.w_out()].t());
        // Backward, layer by layer from the top.
        for l in (0..self.dims.layers).rev() {
            let trace = &traces[l];
            let d_gates = layer_backward(trace, &d_h, &p[layout.w_hidden(l)], chunk);
            // Recurrent weights: h(t−1) × gates'(t) for t ≥ 1.
            let n = chunk.rows * (chunk.steps - 1);
            if n > 0 {
                general_mat_mul(
                    1.0,
                    &trace.h.slice(s![..n, ..]).t(),
                    &d_gates.slice(s![chunk.rows.., ..]),
                    0.0,
                    &mut grads[layout.w_hidden(l)],
                );
            }
            grads[layout.bias(l)] = d_gates.sum_axis(Axis(0)).insert_axis(Axis(0));
            if l > 0 {
                let below = &traces[l - 1].h;
                grads[layout.w_input(l)] = below.t().dot(&d_gates);
                d_h = d_gates.dot(&p[layout.w_input(l)].t());
            } else {
                // The per-token table's gradient, then through embedding × weights.
                let mut d_table =
                    Array2::<f32>::zeros((self.dims.vocab, d_gates.ncols()));
                for (pos, row) in d_gates.rows().into_iter().enumerate() {
                    let mut target = d_table.row_mut(chunk.inputs[pos]);
                    target += &row;
                }
                grads[layout.w_input(0)] = p[Layout::EMBEDDING].t().dot(&d_table);
                grads[Layout::EMBEDDING] = d_table.dot(&p[layout.w_input(0)].t());
            }
        }
        (grads, loss)
    }

    /// Runs one layer over every step of `chunk`; `projected` holds each position's
    /// input projection plus bias `[steps · rows, 4 hidden]`.
    fn layer_forward(
        &self,
        mut gates: Array2<f32>,
        w_hidden: &Array2<f32>,
        chunk: &Chunk,
    ) -> LayerTrace {
        let hidden = self.dims.hidden;
        let n = chunk.rows * chunk.steps;
        let mut trace = LayerTrace {
            gates: Array2::zeros((0, 4 * hidden)),
            c: Array2::zeros((n, hidden)),
            tanh_c: Array2::zeros((n, hidden)),
            h: Array2::zeros((n, hidden)),
        };
        for t in 0..chunk.steps {
            let now = chunk.step(t);
            if t > 0 {
                let before = chunk.step(t - 1);
                general_mat_mul(
                    1.0,
                    &trace.h.slice(s![before, ..]),
                    w_hidden,
                    1.0,
                    &mut gates.slice_mut(s![now.clone(), ..]),
                );
            }
            for r in now {
                let prev = (t > 0).then(|| r - chunk.rows);
                let (c_prev, rest) = trace.c.view_mut().split_at(Axis(0), r);
                let c_prev = prev.map(|q| c_prev.row(q));
                let mut c = rest.index_axis_move(Axis(0), 0);
                let mut tc = trace.tanh_c.row_mut(r);
                let mut h = trace.h.row_mut(r);
                let mut g = gates.row_mut(r);
                for j in 0..hidden {
                    let i = sigmoid(g[j]);
                    let f = sigmoid(g[hidden + j]);
                    let cell = tanh(g[2 * hidden + j]);
                    let o = sigmoid(g[3 * hidden + j]);
                    let cv = c_prev.as_ref().map_or(0.0, |cp| f * cp[j]) + i * cell;
                    let tcv = tanh(cv);
                    g[j] = i;
                    g[hidden + j] = f;
                    g[2 * hidden + j] = cell;
                    g[3 * hidden + j] = o;
                    c[j] = cv;
                    tc[j] = tcv;
                    h[j] = o * tcv;
                }
            }
        }
        trace.gates = gates;
        trace
    }
}

/// Backpropagation through one layer over every step: `d_h` is the loss's gradient
/// with respect to the layer's hidden state at each position from above; returns the
/// gradient with respect to the gates' pre-activations `[steps · rows, 4 hidden]`.
fn layer_backward(
    trace: &LayerTrace,
    d_h: &Array2<f32>,
    w_hidden: &Array2<f32>,
    chunk: &Chunk,
) -> Array2<f32> {
    let hidden = trace.h.ncols();
    let mut d_gates = Array2::<f32>::zeros(trace.gates.dim());
    let mut dh_next = Array2::<f32>::zeros((chunk.rows, hidden));
    let mut dc_next = Array2::<f32>::zeros((chunk.rows, hidden));
    for t in (0..chunk.steps).rev() {
        let now = chunk.step(t);
        for (rr, r) in now.clone().enumerate() {
            let g = trace.gates.row(r);
            let (c_prev, tc) = (
                (t > 0).then(|| trace.c.row(r - chunk.rows)),
                trace.tanh_c.row(r),
            );
            let dh_above = d_h.row(r);
            let dhn = dh_next.row(rr);
            let mut dcn = dc_next.row_mut(rr);
            let mut dg = d_gates.row_mut(r);
            for j in 0..hidden {
                let (i, f, cell, o) =
                    (g[j], g[hidden + j], g[2 * hidden + j], g[3 * hidden + j]);
                let dh = dh_above[j] + dhn[j];
                let dc = dh * o * (1.0 - tc[j] * tc[j]) + dcn[j];
                let cp = c_prev.as_ref().map_or(0.0, |c| c[j]);
                dg[j] = dc * cell * i * (1.0 - i);
                dg[hidden + j] = dc * cp * f * (1.0 - f);
                dg[2 * hidden + j] = dc * i * (1.0 - cell * cell);
                dg[3 * hidden + j] = dh * tc[j] * o * (1.0 - o);
                dcn[j] = dc * f;
            }
        }
        if t > 0 {
            general_mat_mul(
                1.0,
                &d_gates.slice(s![now, ..]),
                &w_hidden.t(),
                0.0,
                &mut dh_next,
            );
        }
    }
    d_gates
}
