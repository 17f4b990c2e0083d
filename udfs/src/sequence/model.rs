//! The trained sequence model: parameters, vocabulary and weights, its payload
//! encoding, and batched scoring.
//!
//! A sequence's score is the mean next-event cross-entropy in nats: with the start
//! token before the first event, `-(1/n) Σ_{t=1..n} ln p(x_t | x_1..x_{t-1})` over its
//! first `max_seq_len` events. A one-event sequence therefore scores
//! `-ln p(x_1 | start)`, how unusual it is to begin with that event; an empty or null
//! sequence has no score. Higher is more anomalous.
//!
//! Scoring is batched and deduplicated: many processes share one sequence, so a batch
//! scores each distinct token sequence once, and a per-process cache keyed by the
//! model's checksum and the sequence remembers recent scores across batches.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock};

use super::SequenceError;
use super::infer::CpuNet;
use super::network::{Batch, Dims, SeqNet, Weights};
use super::params::SequenceValidParams;
use super::vocab::Vocabulary;
use crate::matrix::{ByteReader, ByteWriter, hash_bits, invalid};
use crate::model_io::fnv1a64;
use crate::neural::{Accelerator, Placement, guarded, place, read_f32};

/// Version byte of the [`SequenceModel::to_bytes`] payload.
const MODEL_VERSION: u8 = 1;
/// Most sequences scored in one forward pass.
const INFER_ROWS: usize = 256;
/// Most padded positions (rows × steps) in one forward pass.
const INFER_CELLS: usize = 1 << 16;
/// Scores kept per generation of the process-wide score cache (two generations).
const SCORE_CACHE_ENTRIES: usize = 1 << 16;

/// Which device a cached network lives on.
type NetKey = (Accelerator, Option<usize>);

/// A trained next-event model.
#[derive(Debug)]
pub struct SequenceModel {
    params: SequenceValidParams,
    vocab: Vocabulary,
    weights: Weights,
    n_rows: u64,
    loss: f64,
    /// Checksum and length of the payload: the score cache's model key.
    identity: (u64, usize),
    /// Networks already built on a device (keyed by accelerator and CUDA index), reused
    /// by later batches.
    nets: Mutex<Vec<(NetKey, SeqNet)>>,
    /// The CPU scoring network, built on first use.
    cpu: OnceLock<CpuNet>,
}

impl PartialEq for SequenceModel {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
            && self.vocab == other.vocab
            && self.weights == other.weights
            && self.n_rows == other.n_rows
            && self.loss.to_bits() == other.loss.to_bits()
    }
}

impl SequenceModel {
    pub(crate) fn new(
        params: SequenceValidParams,
        vocab: Vocabulary,
        weights: Weights,
        n_rows: u64,
        loss: f64,
    ) -> Self {
        let mut model = Self {
            params,
            vocab,
            weights,
            n_rows,
            loss,
            identity: (0, 0),
            nets: Mutex::new(Vec::new()),
            cpu: OnceLock::new(),
        };
        let bytes = model.to_bytes();
        model.identity = (fnv1a64(&bytes), bytes.len());
        model
    }

    /// The parameters it was trained with.
    pub fn params(&self) -> &SequenceValidParams {
        &self.params
    }

    /// How event ids map to tokens.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// Rows (sequences) the training data held.
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// Mean training cross-entropy of the last epoch, in nats per event.
    pub fn training_loss(&self) -> f64 {
        self.loss
    }

    /// The trained weights.
    #[cfg(test)]
    pub(crate) fn weights(&self) -> &Weights {
        &self.weights
    }

    pub(crate) fn dims(&self) -> Dims {
        dims_of(&self.params)
    }

    /// The score of each sequence (event ids in time order): its mean next-event
    /// cross-entropy in nats, or `None` for an empty sequence. Ids outside the
    /// vocabulary score as the unknown token; events past `max_seq_len` are ignored.
    ///
    /// # Errors
    ///
    /// [`SequenceError::Neural`] when the tensor backend fails (for example no
    /// usable GPU).
    pub fn score<S: AsRef<[i64]>>(
        &self,
        sequences: &[S],
        accelerator: Accelerator,
    ) -> Result<Vec<Option<f64>>, SequenceError> {
        let max_len = self.params.max_seq_len();
        let mut slot_of: HashMap<Vec<u32>, usize> = HashMap::new();
        let mut distinct: Vec<Vec<u32>> = Vec::new();
        let rows: Vec<Option<usize>> = sequences
            .iter()
            .map(|s| {
                let tokens = self.vocab.tokenize(s.as_ref(), max_len);
                if tokens.is_empty() {
                    return None;
                }
                Some(*slot_of.entry(tokens).or_insert_with_key(|t| {
                    distinct.push(t.clone());
                    distinct.len() - 1
                }))
            })
            .collect();
        let mut scores = vec![f64::NAN; distinct.len()];
        let mut missing = Vec::new();
        for (i, tokens) in distinct.iter().enumerate() {
            match SCORE_CACHE.get(self.cache_key(tokens)) {
                Some(s) => scores[i] = s,
                None => missing.push(i),
            }
        }
        let todo: Vec<&[u32]> = missing.iter().map(|&i| distinct[i].as_slice()).collect();
        let computed = if todo.is_empty() {
            Vec::new()
        } else {
            // A GPU permit is taken only when there is work for the device.
            self.compute(&todo, &place(accelerator)?)?
        };
        for (&i, mean) in missing.iter().zip(computed) {
            scores[i] = mean;
            SCORE_CACHE.insert(self.cache_key(&distinct[i]), mean);
        }
        Ok(rows.into_iter().map(|r| r.map(|i| scores[i])).collect())
    }

    /// The mean loss of each (non-empty, tokenized) sequence where `placement` says:
    /// the CPU's prefix trie, or the burn backend of the GPU in padded batches.
    pub(crate) fn compute(
        &self,
        sequences: &[&[u32]],
        placement: &Placement,
    ) -> Result<Vec<f64>, SequenceError> {
        match placement.accelerator() {
            // Every sequence in one prefix trie: shared prefixes computed once.
            Accelerator::Cpu => self
                .cpu_net()?
                .score(sequences)
                .map_err(|reason| cpu_failure("scoring sequences", reason)),
            Accelerator::Gpu => {
                self.score_on_device(sequences, placement, INFER_ROWS, INFER_CELLS)
            }
        }
    }

    /// The mean loss of each sequence on `placement`'s burn device, in padded batches of
    /// similar lengths of at most `max_rows` sequences and `max_cells` padded positions
    /// (one sequence longer than that is a batch of its own).
    fn score_on_device(
        &self,
        sequences: &[&[u32]],
        placement: &Placement,
        max_rows: usize,
        max_cells: usize,
    ) -> Result<Vec<f64>, SequenceError> {
        let accelerator = placement.accelerator();
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| (sequences[i].len(), i));
        let net = self.net(placement)?;
        let device = placement.device();
        let mut means = vec![f64::NAN; sequences.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            while end < order.len()
                && end - start < max_rows
                && (end + 1 - start) * sequences[order[end]].len() <= max_cells
            {
                end += 1;
            }
            let chunk = &order[start..end];
            let batch = Batch::new(chunk.iter().map(|&i| (sequences[i], 1.0)));
            let nll = guarded("sequence scoring", accelerator, || {
                read_f32(net.nll(&batch, device))
            })?;
            for (r, &i) in chunk.iter().enumerate() {
                let row = &nll[r * batch.steps..r * batch.steps + sequences[i].len()];
                means[i] =
                    row.iter().map(|&v| f64::from(v)).sum::<f64>() / row.len() as f64;
            }
            start = end;
        }
        Ok(means)
    }

    fn cache_key(&self, tokens: &[u32]) -> CacheKey {
        let bits = || tokens.iter().map(|&t| u64::from(t));
        (
            self.identity.0,
            self.identity.1 as u64,
            hash_bits(0x5eed_0001, bits()),
            hash_bits(0x5eed_0002, bits()),
        )
    }

    /// The CPU scoring network, built once per model.
    fn cpu_net(&self) -> Result<&CpuNet, SequenceError> {
        if let Some(net) = self.cpu.get() {
            return Ok(net);
        }
        let net = CpuNet::new(self.dims(), &self.weights)
            .map_err(|reason| cpu_failure("loading the sequence model", reason))?;
        Ok(self.cpu.get_or_init(|| net))
    }

    /// The network on `placement`'s device, built once per model and device.
    fn net(&self, placement: &Placement) -> Result<SeqNet, SequenceError> {
        let key = (placement.accelerator(), placement.ordinal());
        let mut nets = self.nets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, net)) = nets.iter().find(|(k, _)| *k == key) {
            return Ok(net.clone());
        }
        let dims = self.dims();
        let net = guarded("loading the sequence model", key.0, || {
            SeqNet::new(dims, &self.weights, placement.device())
        })?;
        nets.push((key, net.clone()));
        Ok(net)
    }

    /// Encodes the model as a little-endian payload with a version byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n_weights: usize = self.weights.tensors.iter().map(Vec::len).sum();
        let mut w = ByteWriter::with_capacity(256 + 4 * n_weights);
        w.u8(MODEL_VERSION);
        self.params.write_to(&mut w);
        w.u64(self.n_rows);
        w.f64(self.loss);
        w.u64(self.vocab.ids().len() as u64);
        for &id in self.vocab.ids() {
            w.u64(id as u64);
        }
        w.u64(self.weights.tensors.len() as u64);
        for t in &self.weights.tensors {
            w.u64(t.len() as u64);
            for v in t {
                w.u32(v.to_bits());
            }
        }
        w.into_inner()
    }

    /// Decodes a payload written by [`SequenceModel::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`SequenceError::Decode`] for truncated, corrupted or inconsistent input; never
    /// panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SequenceError> {
        let mut r = ByteReader::new(bytes);
        r.version(MODEL_VERSION)?;
        let params = SequenceValidParams::read_from(&mut r)?;
        let n_rows = r.u64()?;
        let loss = r.finite("training loss")?;
        let n = r.count(8, "vocabulary length")?;
        let ids: Vec<i64> = (0..n)
            .map(|_| r.u64().map(|v| v as i64))
            .collect::<Result<_, _>>()?;
        let vocab = Vocabulary::from_ids(ids, params.vocab_size()).map_err(invalid)?;
        let dims = dims_of(&params);
        let n_tensors = r.count(8, "tensor count")?;
        if n_tensors != dims.shapes().len() {
            return Err(invalid(format!("tensor count ({n_tensors})")).into());
        }
        let mut tensors = Vec::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let len = r.count(4, "tensor length")?;
            let t: Vec<f32> = (0..len)
                .map(|_| r.u32().map(f32::from_bits))
                .collect::<Result<_, _>>()?;
            tensors.push(t);
        }
        r.finish()?;
        let weights = Weights { tensors };
        weights.check(dims).map_err(invalid)?;
        Ok(Self {
            params,
            vocab,
            weights,
            n_rows,
            loss,
            identity: (fnv1a64(bytes), bytes.len()),
            nets: Mutex::new(Vec::new()),
            cpu: OnceLock::new(),
        })
    }
}

pub(crate) fn dims_of(params: &SequenceValidParams) -> Dims {
    Dims {
        vocab: params.vocab_size(),
        embed: params.embedding_dim(),
        hidden: params.hidden_dim(),
        layers: params.num_layers(),
    }
}

/// A failure of the CPU scoring path, as the error the GPU path gives.
fn cpu_failure(what: &str, reason: String) -> SequenceError {
    SequenceError::Neural(crate::neural::NeuralError::Backend {
        what: what.into(),
        accelerator: "CPU",
        reason,
    })
}

/// (model checksum, model length, two hashes of the token sequence).
type CacheKey = (u64, u64, u64, u64);

/// Recent scores of this process, shared by every model: an approximate LRU of two
/// generations (a hit in the old one moves to the new one; when the new one fills,
/// the old one is dropped).
#[derive(Debug, Default)]
struct ScoreCache {
    generations: Mutex<[HashMap<CacheKey, f64>; 2]>,
}

static SCORE_CACHE: LazyLock<ScoreCache> = LazyLock::new(ScoreCache::default);

impl ScoreCache {
    fn get(&self, key: CacheKey) -> Option<f64> {
        let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&v) = g[0].get(&key) {
            return Some(v);
        }
        let v = g[1].remove(&key)?;
        Self::put(&mut g, key, v);
        Some(v)
    }

    fn insert(&self, key: CacheKey, value: f64) {
        let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        Self::put(&mut g, key, value);
    }

    fn put(g: &mut [HashMap<CacheKey, f64>; 2], key: CacheKey, value: f64) {
        if g[0].len() >= SCORE_CACHE_ENTRIES {
            g[1] = std::mem::take(&mut g[0]);
        }
        g[0].insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neural::gpu::tests::TestDevices;
    use crate::sequence::SequenceParams;

    /// An untrained model: enough to check the score's definition and the encoding.
    fn model(max_seq_len: usize) -> SequenceModel {
        model_with_rows(max_seq_len, 10)
    }

    /// Models differing only in `n_rows` share weights but not a score-cache identity.
    fn model_with_rows(max_seq_len: usize, n_rows: u64) -> SequenceModel {
        let params = SequenceParams::default()
            .vocab_size(8)
            .embedding_dim(3)
            .hidden_dim(4)
            .num_layers(2)
            .max_seq_len(max_seq_len)
            .check()
            .expect("valid test input");
        let vocab = Vocabulary::from_counts([(1, 5), (3, 4), (7, 3), (22, 1)], 8);
        let weights = Weights::init(dims_of(&params), 9);
        SequenceModel::new(params, vocab, weights, n_rows, 1.25)
    }

    #[test]
    fn payload_round_trips() {
        let m = model(5);
        let bytes = m.to_bytes();
        let back = SequenceModel::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, m);
        assert_eq!(back.identity, m.identity);
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.training_loss(), 1.25);
        assert_eq!(back.vocabulary().ids(), &[1, 3, 7, 22]);
    }

    #[test]
    fn corrupted_payloads_are_errors_not_panics() {
        let bytes = model(5).to_bytes();
        for cut in (0..bytes.len()).step_by(7) {
            assert!(
                SequenceModel::from_bytes(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = bytes.clone();
            // Corrupt the header region (parameters, counts) most of the time.
            let pos = if x.is_multiple_of(4) {
                (x >> 8) as usize % b.len()
            } else {
                (x >> 8) as usize % 400.min(b.len())
            };
            b[pos] ^= ((x >> 40) as u8) | 1;
            if let Ok(m) = SequenceModel::from_bytes(&b) {
                // A flip inside a weight may still decode; it must still score.
                let s = m.score(&[vec![1, 3]], Accelerator::Cpu).expect("scores");
                assert!(s[0].is_some());
            }
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(SequenceModel::from_bytes(&trailing).is_err());
    }

    #[test]
    fn score_definition() {
        let m = model(3);
        let seqs: Vec<Vec<i64>> = vec![
            vec![],
            vec![1],
            vec![1, 3, 7],
            vec![1, 3, 7, 22, 22],
            vec![1, 3, 7, 1],
            vec![100, 200],
            vec![300, 400],
            vec![1, 3, 7],
        ];
        let s = m.score(&seqs, Accelerator::Cpu).expect("scores");
        assert_eq!(s[0], None, "empty sequence has no score");
        let one = s[1].expect("one event has a score");
        assert!(one.is_finite() && one > 0.0);
        // Only the first max_seq_len (3) events count.
        assert_eq!(s[2], s[3]);
        assert_eq!(s[2], s[4]);
        // Unknown ids are all the unknown token.
        assert_eq!(s[5], s[6]);
        // Deduplicated rows and the cache give identical scores.
        assert_eq!(s[2], s[7]);
        let again = m.score(&seqs[2..3], Accelerator::Cpu).expect("scores");
        assert_eq!(again[0], s[2]);
    }

    #[test]
    fn batching_does_not_change_scores() {
        let m = model(40);
        // Enough distinct sequences of varied lengths for several forward passes.
        let seqs: Vec<Vec<i64>> = (0..600i64)
            .map(|i| {
                (0..(1 + i % 37))
                    .map(|j| [1, 3, 7, 22, 5][((i + j) % 5) as usize])
                    .collect()
            })
            .collect();
        let all = m.score(&seqs, Accelerator::Cpu).expect("scores");
        let fresh = model_with_rows(40, 11);
        for (i, s) in seqs.iter().enumerate().step_by(97) {
            // A one-row batch of the same weights, under another cache identity.
            let single = fresh
                .score(std::slice::from_ref(s), Accelerator::Cpu)
                .expect("scores");
            let (a, b) = (all[i].expect("scored"), single[0].expect("scored"));
            assert!((a - b).abs() < 1e-5, "row {i}: {a} vs {b}");
        }
    }

    /// The GPU scoring path (padded batches on a burn device, the device permit, the
    /// per-device network cache) run on the CPU backend (a pool whose devices are
    /// NdArray), or on the GPU with `USE_GPU=true` on a GPU machine. Its scores must
    /// equal the CPU prefix trie's within 1e-4 nats on NdArray (both sum f32 losses, in
    /// different orders) and within `REAL_GPU_TOLERANCE` on a GPU, for any batch limits.
    #[test]
    fn device_scoring_equals_the_cpu_trie() {
        let m = model(40);
        let seqs: Vec<Vec<u32>> = (0..300u32)
            .map(|i| (0..(1 + i % 37)).map(|j| 1 + (i * 7 + j * 3) % 5).collect())
            .collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let cpu = m.compute(&refs, &Placement::cpu()).expect("trie scores");
        let devices = TestDevices::new(2, 1);
        let tolerance = devices.tolerance(1e-4);
        for (rows, cells) in [(INFER_ROWS, INFER_CELLS), (7, 40), (1, 1)] {
            let placement = Placement::on(devices.pool.acquire());
            assert_eq!(placement.accelerator(), Accelerator::Gpu);
            let device = m
                .score_on_device(&refs, &placement, rows, cells)
                .expect("device scores");
            drop(placement);
            for (i, (a, b)) in cpu.iter().zip(&device).enumerate() {
                assert!(
                    (a - b).abs() < tolerance,
                    "({rows}, {cells}) row {i}: {a} vs {b}"
                );
            }
        }
        if devices.real {
            return;
        }
        assert!(devices.idle(), "the permits are returned");
        // The dispatch sends a GPU placement down the device path, one network per
        // device.
        let first = Placement::on(devices.pool.acquire());
        let second = Placement::on(devices.pool.acquire());
        assert_eq!((first.ordinal(), second.ordinal()), (Some(0), Some(1)));
        assert_eq!(devices.pool.busy(), vec![1, 1]);
        let routed = m.compute(&refs[..5], &second).expect("scores");
        assert!(
            routed
                .iter()
                .zip(&cpu)
                .all(|(a, b)| (a - b).abs() < tolerance)
        );
        assert_eq!(
            m.nets.lock().expect("nets").len(),
            2,
            "one network per device"
        );
    }
}
