//! Distributed sequence-model training: a partition-invariant map of distinct
//! sequences to their counts.
//!
//! Many processes share one event sequence, so a partition keeps each distinct
//! sequence (its first `max_seq_len` ids) once, with the number of rows that had it,
//! plus the count of every event id (which decides the vocabulary). Past
//! `max_sequences` distinct sequences it keeps a *bottom-k sample*: the sequences with
//! the smallest seeded hash, each with its exact count. A sequence's hash depends only
//! on its ids and the seed, so after merging in any order and any partitioning the
//! kept sequences are the bottom-k of the union, and their counts are exact (a
//! sequence in the union's bottom-k is in the bottom-k of every partial that saw it).
//! Event-id counts are exact the same way (capped at [`MAX_DISTINCT_IDS`] ids).
//! The merged state, and so the model, is therefore the same however rows were split.

use std::collections::{BTreeMap, HashMap};

use super::SequenceError;
use super::cpu_train::CpuTrainer;
use super::model::{SequenceModel, dims_of};
use super::params::SequenceValidParams;
use super::train::{BurnStepper, GRAD_CLIP_NORM, initial_weights, train};
use super::vocab::Vocabulary;
use crate::matrix::{ByteReader, ByteWriter, DecodeError, hash_bits, invalid};
use crate::neural::{Accelerator, Placement, guarded, place};
use crate::sketch::{self, Pool};

/// Version byte of the [`SequencePartial::to_bytes`] payload.
const PARTIAL_VERSION: u8 = 1;
/// Most distinct event ids whose counts a state keeps (a seeded hash chooses which
/// beyond that; Sysmon has fewer than 30).
pub const MAX_DISTINCT_IDS: usize = 1 << 16;

/// A trained model and how its training went.
#[derive(Debug)]
pub struct FitOutcome {
    /// The model.
    pub model: SequenceModel,
    /// Mean training cross-entropy of each epoch, in nats per event.
    pub epoch_losses: Vec<f64>,
}

/// Mergeable sequence-model training state of one or more partitions.
#[derive(Debug, Clone)]
pub struct SequencePartial {
    params: SequenceValidParams,
    accelerator: Accelerator,
    /// (hash, sequence) → rows, in hash order.
    pool: Pool<i64>,
    /// (hash, event id) → events.
    ids: BTreeMap<(u64, i64), u64>,
    n_rows: u64,
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(w: &mut ByteWriter, mut v: u64) {
    while v >= 0x80 {
        w.u8((v as u8) | 0x80);
        v >>= 7;
    }
    w.u8(v as u8);
}

fn get_varint(r: &mut ByteReader<'_>) -> Result<u64, DecodeError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = r.u8()?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(invalid("varint (longer than 64 bits)"))
}

/// A count read from untrusted bytes, each item taking at least one byte.
fn get_len(r: &mut ByteReader<'_>, what: &str) -> Result<usize, DecodeError> {
    let n = get_varint(r)?;
    match usize::try_from(n) {
        Ok(n) if n <= r.remaining() => Ok(n),
        _ => Err(invalid(format!("{what} ({n})"))),
    }
}

impl SequencePartial {
    /// An empty state that will train with `params` on the CPU.
    pub fn new(params: &SequenceValidParams) -> Self {
        Self {
            params: params.clone(),
            accelerator: Accelerator::Cpu,
            pool: BTreeMap::new(),
            ids: BTreeMap::new(),
            n_rows: 0,
        }
    }

    /// Trains on `accelerator` when finished (not part of the state: the partial that
    /// finishes decides).
    pub fn with_accelerator(mut self, accelerator: Accelerator) -> Self {
        self.accelerator = accelerator;
        self
    }

    /// The parameters this state trains with.
    pub fn params(&self) -> &SequenceValidParams {
        &self.params
    }

    /// Rows (non-empty sequences) seen, over all merged partitions.
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// Distinct sequences kept.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// Approximate heap memory used, in bytes.
    pub fn size_bytes(&self) -> usize {
        let ids: usize = self.pool.keys().map(|(_, s)| s.len() * 8).sum();
        std::mem::size_of::<Self>()
            + ids
            + self.pool.len() * (std::mem::size_of::<((u64, Box<[i64]>), u64)>() + 16)
            + self.ids.len() * (std::mem::size_of::<((u64, i64), u64)>() + 16)
    }

    /// Adds one row: a sequence of event ids in time order. Only its first
    /// `max_seq_len` ids count; an empty sequence is skipped.
    pub fn add(&mut self, ids: &[i64]) {
        self.add_count(ids, 1);
    }

    /// Adds `count` rows with the same sequence.
    pub fn add_count(&mut self, ids: &[i64], count: u64) {
        let ids = &ids[..ids.len().min(self.params.max_seq_len())];
        if ids.is_empty() || count == 0 {
            return;
        }
        let seed = self.params.seed();
        for &id in ids {
            self.insert_id(id, count, seed);
        }
        let key = hash_bits(seed, ids.iter().map(|&v| v as u64));
        self.insert_sequence(key, ids, count);
        self.n_rows += count;
    }

    fn insert_id(&mut self, id: i64, count: u64, seed: u64) {
        let key = (hash_bits(seed ^ 0x1d5, std::iter::once(id as u64)), id);
        insert_capped(&mut self.ids, key, count, MAX_DISTINCT_IDS);
    }

    fn insert_sequence(&mut self, key: u64, ids: &[i64], count: u64) {
        sketch::insert(&mut self.pool, key, ids, count, self.params.max_sequences());
    }

    /// Merges `other` into `self`; the result is independent of merge order and
    /// partitioning.
    ///
    /// # Errors
    ///
    /// [`SequenceError::ParamsMismatch`] when the states were built with different
    /// parameters.
    pub fn merge(&mut self, other: &SequencePartial) -> Result<(), SequenceError> {
        if self.params != other.params {
            return Err(SequenceError::ParamsMismatch);
        }
        for (&key, &count) in &other.ids {
            insert_capped(&mut self.ids, key, count, MAX_DISTINCT_IDS);
        }
        for ((key, ids), &count) in &other.pool {
            self.insert_sequence(*key, ids, count);
        }
        self.n_rows += other.n_rows;
        Ok(())
    }

    /// The vocabulary and the training set: distinct token sequences (in a fixed
    /// order) with their row counts.
    pub(crate) fn training_set(&self) -> (Vocabulary, Vec<(Vec<u32>, u64)>) {
        let vocab = Vocabulary::from_counts(
            self.ids.iter().map(|(&(_, id), &c)| (id, c)),
            self.params.vocab_size(),
        );
        let max_len = self.params.max_seq_len();
        let mut set: BTreeMap<Vec<u32>, u64> = BTreeMap::new();
        for ((_, ids), &count) in &self.pool {
            *set.entry(vocab.tokenize(ids, max_len)).or_insert(0) += count;
        }
        (vocab, set.into_iter().collect())
    }

    /// Trains the model on the merged state.
    ///
    /// # Errors
    ///
    /// [`SequenceError::Empty`] with no rows; [`SequenceError::Neural`] when the
    /// tensor backend fails or training diverges.
    pub fn finish(&self) -> Result<FitOutcome, SequenceError> {
        if self.n_rows == 0 || self.pool.is_empty() {
            return Err(SequenceError::Empty);
        }
        let placement = place(self.accelerator)?;
        self.finish_on(&placement)
    }

    /// [`SequencePartial::finish`] where `placement` says: the CPU trainer on plain
    /// matrices, or burn's autodiff on the placement's device.
    pub(crate) fn finish_on(
        &self,
        placement: &Placement,
    ) -> Result<FitOutcome, SequenceError> {
        if self.n_rows == 0 || self.pool.is_empty() {
            return Err(SequenceError::Empty);
        }
        let (vocab, set) = self.training_set();
        let dims = dims_of(&self.params);
        let init = initial_weights(&self.params, dims);
        let accelerator = placement.accelerator();
        let trained = if accelerator == Accelerator::Cpu {
            // Plain matrices: burn's autodiff bookkeeping dominates a CPU step.
            guarded("sequence training", accelerator, || {
                let mut stepper = CpuTrainer::new(dims, &init, GRAD_CLIP_NORM)?;
                train(&self.params, &set, &mut stepper)
            })?
        } else {
            let device = placement.training_device();
            guarded("sequence training", accelerator, || {
                let mut stepper = BurnStepper::new(dims, &init, GRAD_CLIP_NORM, &device)?;
                train(&self.params, &set, &mut stepper)
            })?
        };
        let loss = trained.epoch_losses.last().copied().unwrap_or(f64::NAN);
        let model = SequenceModel::new(
            self.params.clone(),
            vocab,
            trained.weights,
            self.n_rows,
            loss,
        );
        Ok(FitOutcome {
            model,
            epoch_losses: trained.epoch_losses,
        })
    }

    /// Encodes the state (not the accelerator). Entries are written in key order, so equal
    /// states encode to equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(64 + self.pool.len() * 16);
        w.u8(PARTIAL_VERSION);
        self.params.write_to(&mut w);
        w.u64(self.n_rows);
        put_varint(&mut w, self.ids.len() as u64);
        for (&(_, id), &count) in &self.ids {
            put_varint(&mut w, zigzag(id));
            put_varint(&mut w, count);
        }
        put_varint(&mut w, self.pool.len() as u64);
        for ((_, ids), &count) in &self.pool {
            put_varint(&mut w, ids.len() as u64);
            for &id in ids.iter() {
                put_varint(&mut w, zigzag(id));
            }
            put_varint(&mut w, count);
        }
        w.into_inner()
    }

    /// Decodes a state written by [`SequencePartial::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`SequenceError::Decode`] for truncated, corrupted or inconsistent input; never
    /// panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SequenceError> {
        let mut r = ByteReader::new(bytes);
        r.version(PARTIAL_VERSION)?;
        let params = SequenceValidParams::read_from(&mut r)?;
        let mut out = Self::new(&params);
        let seed = params.seed();
        out.n_rows = r.u64()?;
        let n_ids = get_len(&mut r, "id count")?;
        if n_ids > MAX_DISTINCT_IDS {
            return Err(invalid(format!("id count ({n_ids})")).into());
        }
        for _ in 0..n_ids {
            let id = unzigzag(get_varint(&mut r)?);
            let count = get_varint(&mut r)?;
            if count == 0 {
                return Err(invalid("id count of zero").into());
            }
            out.insert_id(id, count, seed);
        }
        let n_seqs = get_len(&mut r, "sequence count")?;
        if n_seqs > params.max_sequences() {
            return Err(invalid(format!("sequence count ({n_seqs})")).into());
        }
        let mut total = 0u64;
        let mut ids = Vec::new();
        for _ in 0..n_seqs {
            let len = get_len(&mut r, "sequence length")?;
            if len == 0 || len > params.max_seq_len() {
                return Err(invalid(format!("sequence length ({len})")).into());
            }
            ids.clear();
            for _ in 0..len {
                ids.push(unzigzag(get_varint(&mut r)?));
            }
            let count = get_varint(&mut r)?;
            if count == 0 {
                return Err(invalid("sequence count of zero").into());
            }
            total = total.saturating_add(count);
            let key = hash_bits(seed, ids.iter().map(|&v| v as u64));
            out.insert_sequence(key, &ids, count);
        }
        r.finish()?;
        if out.pool.len() != n_seqs || out.ids.len() != n_ids || total > out.n_rows {
            return Err(invalid("state (duplicate entries or counts above rows)").into());
        }
        Ok(out)
    }

    /// Distinct sequences with their counts, for tests and diagnostics.
    pub fn sequences(&self) -> HashMap<Vec<i64>, u64> {
        self.pool
            .iter()
            .map(|((_, ids), &c)| (ids.to_vec(), c))
            .collect()
    }
}

fn insert_capped<K: Ord>(map: &mut BTreeMap<K, u64>, key: K, count: u64, cap: usize) {
    if map.len() >= cap
        && let Some((max, _)) = map.last_key_value()
        && key > *max
    {
        return;
    }
    let entry = map.entry(key).or_insert(0);
    *entry = entry.saturating_add(count);
    if map.len() > cap {
        map.pop_last();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neural::gpu::tests::TestDevices;
    use crate::sequence::SequenceParams;

    fn params(max_sequences: usize) -> SequenceValidParams {
        SequenceParams::default()
            .max_seq_len(4)
            .max_sequences(max_sequences)
            .check()
            .expect("valid test input")
    }

    fn rows() -> Vec<Vec<i64>> {
        (0..300i64)
            .map(|i| (0..(1 + i % 6)).map(|j| (i * 7 + j * 3) % 11).collect())
            .collect()
    }

    #[test]
    fn merge_is_independent_of_partitioning_and_order() {
        for cap in [5, 1000] {
            let p = params(cap);
            let mut whole = SequencePartial::new(&p);
            rows().iter().for_each(|r| whole.add(r));
            let all = rows();
            for split in [1, 37, 150, 299] {
                let (a, b) = all.split_at(split);
                let mut pa = SequencePartial::new(&p);
                a.iter().for_each(|r| pa.add(r));
                let mut pb = SequencePartial::new(&p);
                b.iter().for_each(|r| pb.add(r));
                let pa = SequencePartial::from_bytes(&pa.to_bytes()).expect("decodes");
                pb.merge(&pa).expect("same params");
                assert_eq!(pb.to_bytes(), whole.to_bytes(), "cap {cap}, split {split}");
            }
            assert!(whole.pool_len() <= cap);
            assert_eq!(whole.n_rows(), 300);
        }
    }

    #[test]
    fn sequences_are_truncated_and_counted() {
        let mut p = SequencePartial::new(&params(100));
        p.add(&[1, 3, 3, 7, 11, 22]);
        p.add(&[1, 3, 3, 7]);
        p.add(&[]);
        p.add_count(&[5], 3);
        let seqs = p.sequences();
        assert_eq!(seqs.get(&vec![1, 3, 3, 7]), Some(&2));
        assert_eq!(seqs.get(&vec![5]), Some(&3));
        assert_eq!(p.n_rows(), 5);
        let (vocab, set) = p.training_set();
        assert_eq!(vocab.ids(), &[1, 3, 5, 7]);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn mismatched_params_do_not_merge() {
        let mut a = SequencePartial::new(&params(10));
        let b = SequencePartial::new(&params(11));
        assert!(matches!(a.merge(&b), Err(SequenceError::ParamsMismatch)));
    }

    #[test]
    fn corrupted_states_are_errors_not_panics() {
        let mut p = SequencePartial::new(&params(100));
        rows().iter().for_each(|r| p.add(r));
        let bytes = p.to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                SequencePartial::from_bytes(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut x: u64 = 0x9e37_79b9;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = bytes.clone();
            let pos = (x as usize) % b.len();
            b[pos] ^= ((x >> 32) as u8) | 1;
            // Must not panic; may decode when the flip lands on a count.
            let _ = SequencePartial::from_bytes(&b);
        }
        assert!(SequencePartial::from_bytes(&[9]).is_err());
    }

    #[test]
    fn varints_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            let mut w = ByteWriter::default();
            put_varint(&mut w, zigzag(v));
            let bytes = w.into_inner();
            let mut r = ByteReader::new(&bytes);
            assert_eq!(unzigzag(get_varint(&mut r).expect("decodes")), v);
        }
    }

    /// The GPU training path (burn autodiff on the placement's device, with its permit)
    /// run on the CPU backend (or on the GPU with `USE_GPU=true` on a GPU machine) must
    /// train the model the CPU trainer trains: epoch losses, weights and scores within
    /// 1e-4 on NdArray (f32 sums in different orders drift apart over the steps), within
    /// `REAL_GPU_TOLERANCE` on a GPU.
    #[test]
    fn device_training_matches_the_cpu_trainer() {
        let p = SequenceParams::default()
            .embedding_dim(4)
            .hidden_dim(8)
            .num_layers(2)
            .max_seq_len(6)
            .epochs(3)
            .batch_size(16)
            .max_sequences(64)
            .check()
            .expect("valid test input");
        let mut partial = SequencePartial::new(&p);
        rows().iter().for_each(|r| partial.add(r));
        let cpu = partial.finish_on(&Placement::cpu()).expect("cpu trains");
        let devices = TestDevices::new(1, 1);
        let tolerance = devices.tolerance(1e-4);
        let placement = Placement::on(devices.pool.acquire());
        let device = partial.finish_on(&placement).expect("device trains");
        drop(placement);
        assert!(devices.real || devices.idle(), "the permit is returned");
        assert_eq!(cpu.epoch_losses.len(), 3);
        for (a, b) in cpu.epoch_losses.iter().zip(&device.epoch_losses) {
            assert!(
                (a - b).abs() < tolerance,
                "{:?} vs {:?}",
                cpu.epoch_losses,
                device.epoch_losses
            );
        }
        for (a, b) in cpu
            .model
            .weights()
            .tensors
            .iter()
            .flatten()
            .zip(device.model.weights().tensors.iter().flatten())
        {
            assert!(f64::from((a - b).abs()) < tolerance, "{a} vs {b}");
        }
        let seqs = rows();
        let a = cpu.model.score(&seqs, Accelerator::Cpu).expect("scores");
        let b = device.model.score(&seqs, Accelerator::Cpu).expect("scores");
        for (a, b) in a.iter().zip(&b) {
            let (a, b) = (a.expect("scored"), b.expect("scored"));
            assert!((a - b).abs() < tolerance, "{a} vs {b}");
        }
    }
}
