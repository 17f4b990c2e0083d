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
use std::ops::Range;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Axis, s};

use super::cpu_math;
use super::network::{Dims, Weights};
use super::vocab::BOS;
use crate::parallel::{self, Helpers};

/// Most trie nodes of one level computed in one matrix product (bounds the scratch
/// matrices: rows × 4 hidden floats each).
const CHUNK_ROWS: usize = 2048;

/// Fewest rows worth a thread of their own (smaller products run below the kernel's
/// best speed, and a thread costs tens of microseconds to start).
const MIN_CHUNK_ROWS: usize = 256;

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
    ///
    /// # Errors
    /// A worker thread failed.
    pub fn score(&self, sequences: &[&[u32]]) -> Result<Vec<f64>, String> {
        let trie = Trie::new(sequences);
        // Cumulative loss from the root to each node.
        let mut cum = vec![0.0f64; trie.parent.len()];
        // Each internal node's row in its level's matrices.
        let mut row_of = vec![0usize; trie.parent.len()];
        // The previous level's per-layer states.
        let mut prev: Vec<State> = Vec::new();
        for (depth, level) in trie.levels.iter().enumerate() {
            let internal: Vec<usize> = level
                .iter()
                .map(|&n| n as usize)
                .filter(|&n| trie.has_child[n])
                .collect();
            let tokens: Vec<usize> =
                internal.iter().map(|&n| trie.token[n] as usize).collect();
            // The root (depth 0) starts from zero states.
            let parents: Option<Vec<usize>> = (depth > 0).then(|| {
                internal
                    .iter()
                    .map(|&n| row_of[trie.parent[n] as usize])
                    .collect()
            });
            let (states, logp) = self.level(&tokens, parents.as_deref(), &prev)?;
            for (row, &n) in internal.iter().enumerate() {
                row_of[n] = row;
            }
            for &child in trie.levels.get(depth + 1).map_or(&[][..], Vec::as_slice) {
                let (child, parent) =
                    (child as usize, trie.parent[child as usize] as usize);
                let loss = -f64::from(logp[[row_of[parent], trie.token[child] as usize]]);
                cum[child] = cum[parent] + loss;
            }
            prev = states;
        }
        Ok(sequences
            .iter()
            .zip(&trie.ends)
            .map(|(s, &end)| cum[end as usize] / s.len() as f64)
            .collect())
    }

    /// One trie level: the states after feeding `tokens` to nodes whose parents are
    /// rows `parents` of `prev` (`None` at the root), and each node's log-probabilities
    /// of the next token. The rows are cut into chunks (bounding the scratch matrices)
    /// computed on as many cores as are idle; a row's values do not depend on its chunk.
    fn level(
        &self,
        tokens: &[usize],
        parents: Option<&[usize]>,
        prev: &[State],
    ) -> Result<(Vec<State>, Array2<f32>), String> {
        let rows = tokens.len();
        let helpers = Helpers::borrow(rows.div_ceil(MIN_CHUNK_ROWS).saturating_sub(1));
        let chunk = rows.div_ceil(helpers.threads()).clamp(1, CHUNK_ROWS);
        let ranges: Vec<Range<usize>> = (0..rows)
            .step_by(chunk)
            .map(|start| start..(start + chunk).min(rows))
            .collect();
        let parts = parallel::map(ranges.len(), helpers.threads(), |i| {
            let range = ranges[i].clone();
            self.chunk(&tokens[range.clone()], parents.map(|p| &p[range]), prev)
        })?;
        drop(helpers);
        let zeros = || Array2::<f32>::zeros((rows, self.hidden));
        let mut states: Vec<State> =
            self.w_hidden.iter().map(|_| (zeros(), zeros())).collect();
        let mut logp = Array2::<f32>::zeros((rows, self.vocab));
        for (range, (chunk_states, chunk_logp)) in ranges.into_iter().zip(parts) {
            for ((h, c), (chunk_h, chunk_c)) in states.iter_mut().zip(chunk_states) {
                h.slice_mut(s![range.clone(), ..]).assign(&chunk_h);
                c.slice_mut(s![range.clone(), ..]).assign(&chunk_c);
            }
            logp.slice_mut(s![range, ..]).assign(&chunk_logp);
        }
        Ok((states, logp))
    }

    /// Some rows of a level: their per-layer states and log-probabilities.
    fn chunk(
        &self,
        tokens: &[usize],
        parents: Option<&[usize]>,
        prev: &[State],
    ) -> (Vec<State>, Array2<f32>) {
        let mut states = Vec::with_capacity(self.w_hidden.len());
        // The layer's input: the first layer's projection is precomputed per token; each
        // later layer takes the new hidden state of the one below.
        let mut gates = self.first.select(Axis(0), tokens);
        for (l, w_hidden) in self.w_hidden.iter().enumerate() {
            if let Some(parents) = parents {
                let (h, _) = &prev[l];
                general_mat_mul(
                    1.0,
                    &h.select(Axis(0), parents),
                    w_hidden,
                    1.0,
                    &mut gates,
                );
            }
            let c_prev = parents.map(|p| prev[l].1.select(Axis(0), p));
            let (h, c) = cell(&gates, c_prev.as_ref());
            if let Some((w, b)) = self.upper.get(l) {
                gates = Array2::from_shape_fn((h.nrows(), b.len()), |(_, j)| b[j]);
                general_mat_mul(1.0, &h, w, 1.0, &mut gates);
            }
            states.push((h, c));
        }
        let (h, _) = states.last().expect("at least one layer");
        let mut logits =
            Array2::from_shape_fn((h.nrows(), self.vocab), |(_, j)| self.b_out[j]);
        general_mat_mul(1.0, h, &self.w_out, 1.0, &mut logits);
        log_softmax_rows(&mut logits);
        (states, logits)
    }
}

/// One layer's (hidden, cell) state of a level's rows.
type State = (Array2<f32>, Array2<f32>);

/// The LSTM cell over a level's rows: gates `[rows, 4 hidden]` (input, forget, cell,
/// output) and the previous cell state (`None`: zeros) → the new (hidden, cell) state.
fn cell(gates: &Array2<f32>, c_prev: Option<&Array2<f32>>) -> State {
    let hidden = gates.ncols() / 4;
    let rows = gates.nrows();
    let mut h = Array2::<f32>::zeros((rows, hidden));
    let mut c = Array2::<f32>::zeros((rows, hidden));
    let (gates, mut hs, mut cs) = (
        gates.as_standard_layout(),
        h.as_slice_mut()
            .expect("fresh matrix")
            .chunks_exact_mut(hidden),
        c.as_slice_mut()
            .expect("fresh matrix")
            .chunks_exact_mut(hidden),
    );
    let prev = c_prev.map(|p| p.as_standard_layout());
    for (r, g) in gates
        .as_slice()
        .expect("standard layout")
        .chunks_exact(4 * hidden)
        .enumerate()
    {
        let prev_row = prev.as_ref().map(|p| {
            &p.as_slice().expect("standard layout")[r * hidden..(r + 1) * hidden]
        });
        let (Some(h_row), Some(c_row)) = (hs.next(), cs.next()) else {
            break;
        };
        cpu_math::cell_row(g, prev_row, c_row, h_row);
    }
    (h, c)
}

/// Turns each row of logits into log-probabilities.
fn log_softmax_rows(logits: &mut Array2<f32>) {
    for mut row in logits.rows_mut() {
        if let Some(slice) = row.as_slice_mut() {
            cpu_math::log_softmax(slice);
        } else {
            let mut copy = row.to_vec();
            cpu_math::log_softmax(&mut copy);
            row.iter_mut().zip(copy).for_each(|(v, c)| *v = c);
        }
    }
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
    use crate::neural::{Placement, read_f32};
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
        let ours = CpuNet::new(dims, &weights)
            .expect("net")
            .score(&refs)
            .expect("scores");
        let device = Placement::cpu().device().clone();
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
