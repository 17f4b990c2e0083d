//! Scoring on the CPU: the network's forward pass on plain `f32` matrices, run once per
//! distinct prefix of the sequences being scored.
//!
//! The recurrent state after a prefix does not depend on what follows it, and process
//! event sequences share long prefixes (a process start, then its image loads), so the
//! sequences of a batch are merged into a prefix trie and each trie node's state is
//! computed once. The trie is walked level by level: every node at one depth is a row of
//! one matrix product per layer, whose parents' states are the previous level's rows.
//! A node's log-probabilities over the vocabulary give each child's next-event loss; a
//! sequence's score is the sum of the losses along its path divided by its length, the
//! same value [`super::network::SeqNet::nll`] gives for it alone (tested below).
//!
//! Burn's tensor backend is used for training and for the GPU; on the CPU its per-call
//! overhead dominates the small matrices of one LSTM step, and it cannot share prefixes.

use std::collections::HashMap;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Axis};

use super::network::{Dims, Weights};
use super::vocab::BOS;

/// Most trie nodes of one level computed in one matrix product (bounds the scratch
/// matrices: rows × 4 hidden floats each).
const CHUNK_ROWS: usize = 2048;

/// The network's weights as matrices, with the first layer's input projection
/// precomputed for every token.
#[derive(Debug, Clone)]
pub(crate) struct CpuNet {
    hidden: usize,
    vocab: usize,
    /// `[vocab, 4 hidden]`: embedding × first layer's input weights + its bias.
    first: Array2<f32>,
    /// Per layer `[hidden, 4 hidden]`.
    w_hidden: Vec<Array2<f32>>,
    /// Per layer after the first: `[hidden, 4 hidden]` and the bias `[4 hidden]`.
    upper: Vec<(Array2<f32>, Vec<f32>)>,
    /// `[hidden, vocab]` and `[vocab]`.
    w_out: Array2<f32>,
    b_out: Vec<f32>,
}

fn matrix(values: &[f32], rows: usize, cols: usize) -> Result<Array2<f32>, String> {
    Array2::from_shape_vec((rows, cols), values.to_vec()).map_err(|e| e.to_string())
}

impl CpuNet {
    /// The network of `dims` with `weights` (already checked against `dims`).
    pub fn new(dims: Dims, weights: &Weights) -> Result<Self, String> {
        weights.check(dims)?;
        let (h, g) = (dims.hidden, 4 * dims.hidden);
        let t = &weights.tensors;
        let embedding = matrix(&t[0], dims.vocab, dims.embed)?;
        let w_in0 = matrix(&t[1], dims.embed, g)?;
        let mut first = embedding.dot(&w_in0);
        for mut row in first.rows_mut() {
            row.iter_mut().zip(&t[3]).for_each(|(v, b)| *v += b);
        }
        let mut w_hidden = vec![matrix(&t[2], h, g)?];
        let mut upper = Vec::new();
        for l in 1..dims.layers {
            let base = 1 + 3 * l;
            upper.push((matrix(&t[base], h, g)?, t[base + 2].clone()));
            w_hidden.push(matrix(&t[base + 1], h, g)?);
        }
        let out = 1 + 3 * dims.layers;
        Ok(Self {
            hidden: h,
            vocab: dims.vocab,
            first,
            w_hidden,
            upper,
            w_out: matrix(&t[out], h, dims.vocab)?,
            b_out: t[out + 1].clone(),
        })
    }

    /// The mean next-event loss (nats) of each sequence; every sequence must be
    /// non-empty and hold tokens below the vocabulary size.
    pub fn score(&self, sequences: &[&[u32]]) -> Vec<f64> {
        let trie = Trie::new(sequences);
        let layers = self.w_hidden.len();
        let h = self.hidden;
        // Cumulative loss from the root to each node.
        let mut cum = vec![0.0f64; trie.parent.len()];
        // The previous level's states: per layer (h, c), rows in `row_of` order.
        let mut prev: Vec<(Array2<f32>, Array2<f32>)> = Vec::new();
        let mut row_of = vec![u32::MAX; trie.parent.len()];
        for depth in 0..trie.levels.len() {
            let internal: Vec<u32> = trie.levels[depth]
                .iter()
                .copied()
                .filter(|&n| trie.has_child[n as usize])
                .collect();
            let mut next: Vec<(Array2<f32>, Array2<f32>)> = (0..layers)
                .map(|_| {
                    (
                        Array2::zeros((internal.len(), h)),
                        Array2::zeros((internal.len(), h)),
                    )
                })
                .collect();
            let mut logp = Array2::<f32>::zeros((internal.len(), self.vocab));
            for (c, chunk) in internal.chunks(CHUNK_ROWS).enumerate() {
                let start = c * CHUNK_ROWS;
                let parents: Vec<usize> = chunk
                    .iter()
                    .map(|&n| match trie.parent[n as usize] {
                        u32::MAX => usize::MAX,
                        p => row_of[p as usize] as usize,
                    })
                    .collect();
                let tokens: Vec<u32> =
                    chunk.iter().map(|&n| trie.token[n as usize]).collect();
                let token_rows: Vec<usize> = tokens.iter().map(|&t| t as usize).collect();
                // The layer's input: none for the first (its input projection is
                // precomputed per token), the layer below's new hidden state after.
                let mut input: Option<Array2<f32>> = None;
                for (l, state) in next.iter_mut().enumerate() {
                    let mut gates = match input.take() {
                        None => self.first.select(Axis(0), &token_rows),
                        Some(x) => {
                            let (w, b) = &self.upper[l - 1];
                            let mut g =
                                Array2::from_shape_fn((x.nrows(), 4 * h), |(_, j)| b[j]);
                            general_mat_mul(1.0, &x, w, 1.0, &mut g);
                            g
                        }
                    };
                    let (h_prev, c_prev) = if depth == 0 {
                        (None, None)
                    } else {
                        let (ph, pc) = &prev[l];
                        (
                            Some(ph.select(Axis(0), &parents)),
                            Some(pc.select(Axis(0), &parents)),
                        )
                    };
                    if let Some(hp) = &h_prev {
                        general_mat_mul(1.0, hp, &self.w_hidden[l], 1.0, &mut gates);
                    }
                    let mut h_new = Array2::<f32>::zeros((chunk.len(), h));
                    let mut c_new = Array2::<f32>::zeros((chunk.len(), h));
                    for r in 0..chunk.len() {
                        let g = gates.row(r);
                        let g = g.as_slice().unwrap_or(&[]);
                        let cp = c_prev.as_ref().map(|c| c.row(r));
                        for j in 0..h {
                            let i = sigmoid(g[j]);
                            let f = sigmoid(g[h + j]);
                            let cell = g[2 * h + j].tanh();
                            let o = sigmoid(g[3 * h + j]);
                            let old = cp.as_ref().map_or(0.0, |c| c[j]);
                            let cv = f * old + i * cell;
                            c_new[[r, j]] = cv;
                            h_new[[r, j]] = o * cv.tanh();
                        }
                    }
                    state
                        .0
                        .slice_mut(ndarray::s![start..start + chunk.len(), ..])
                        .assign(&h_new);
                    state
                        .1
                        .slice_mut(ndarray::s![start..start + chunk.len(), ..])
                        .assign(&c_new);
                    input = Some(h_new);
                }
                if let Some(top) = &input {
                    let mut logits =
                        Array2::from_shape_fn((chunk.len(), self.vocab), |(_, j)| {
                            self.b_out[j]
                        });
                    general_mat_mul(1.0, top, &self.w_out, 1.0, &mut logits);
                    for mut row in logits.rows_mut() {
                        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                        let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
                        let log_z = max + sum.ln();
                        row.iter_mut().for_each(|v| *v -= log_z);
                    }
                    logp.slice_mut(ndarray::s![start..start + chunk.len(), ..])
                        .assign(&logits);
                }
            }
            for (r, &n) in internal.iter().enumerate() {
                row_of[n as usize] = r as u32;
            }
            if let Some(children) = trie.levels.get(depth + 1) {
                for &child in children {
                    let p = trie.parent[child as usize] as usize;
                    let loss = -f64::from(
                        logp[[row_of[p] as usize, trie.token[child as usize] as usize]],
                    );
                    cum[child as usize] = cum[p] + loss;
                }
            }
            prev = next;
        }
        sequences
            .iter()
            .zip(&trie.ends)
            .map(|(s, &end)| cum[end as usize] / s.len() as f64)
            .collect()
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// The prefixes of a set of sequences. Node 0 is the empty prefix (input: the start
/// token); the node of prefix `p + [t]` has parent `p` and input token `t`.
struct Trie {
    parent: Vec<u32>,
    token: Vec<u32>,
    has_child: Vec<bool>,
    /// Node ids by depth.
    levels: Vec<Vec<u32>>,
    /// The node of each whole sequence.
    ends: Vec<u32>,
}

impl Trie {
    fn new(sequences: &[&[u32]]) -> Self {
        let mut trie = Trie {
            parent: vec![u32::MAX],
            token: vec![BOS],
            has_child: vec![false],
            levels: vec![vec![0]],
            ends: Vec::with_capacity(sequences.len()),
        };
        let mut children: HashMap<(u32, u32), u32> = HashMap::new();
        for seq in sequences {
            let mut node = 0u32;
            for (depth, &t) in seq.iter().enumerate() {
                node = *children.entry((node, t)).or_insert_with(|| {
                    let id = trie.parent.len() as u32;
                    trie.has_child[node as usize] = true;
                    trie.parent.push(node);
                    trie.token.push(t);
                    trie.has_child.push(false);
                    if trie.levels.len() <= depth + 1 {
                        trie.levels.push(Vec::new());
                    }
                    trie.levels[depth + 1].push(id);
                    id
                });
            }
            trie.ends.push(node);
        }
        trie
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neural::{Accelerator, inference_device, read_f32};
    use crate::sequence::network::{Batch, SeqNet};

    #[test]
    fn equals_the_burn_forward_pass_on_shared_and_distinct_prefixes() {
        let dims = Dims {
            vocab: 9,
            embed: 5,
            hidden: 7,
            layers: 2,
        };
        let weights = Weights::init(dims, 11);
        let sequences: Vec<Vec<u32>> = vec![
            vec![3],
            vec![3, 4, 4, 4],
            vec![3, 4, 4, 5, 8],
            vec![3, 4],
            vec![6, 2, 7],
            vec![3, 4, 4, 4],
        ];
        let refs: Vec<&[u32]> = sequences.iter().map(Vec::as_slice).collect();
        let ours = CpuNet::new(dims, &weights).expect("net").score(&refs);
        let device = inference_device(Accelerator::Cpu).expect("cpu");
        let net = SeqNet::new(dims, &weights, &device).expect("burn net");
        for (seq, ours) in refs.iter().zip(&ours) {
            let batch = Batch::new([(*seq, 1.0)]);
            let nll = read_f32(net.nll(&batch, &device)).expect("read");
            let theirs =
                nll.iter().map(|&v| f64::from(v)).sum::<f64>() / seq.len() as f64;
            assert!((ours - theirs).abs() < 1e-4, "{seq:?}: {ours} vs {theirs}");
        }
    }
}
