//! Distributed autoencoder training: each partition keeps a deterministic bounded sample.
//!
//! The sample is a bottom-k sketch over distinct rows, as for the isolation forest: every
//! distinct row (in its canonical encoding, see [`super::input`]) gets the key
//! `hash(seed, row)`, the sample keeps the `max_rows` distinct rows with the smallest
//! keys, and each kept row carries its exact multiplicity. The rows kept after merging
//! are the bottom-k of the union whatever the partitioning and merge order, so the model
//! trained on the merged sample is the same as from one partition.

use std::collections::BTreeMap;

use super::AutoencoderError;
use super::input::{InputBatch, InputKind, check_encoded, row_key};
use super::model::AutoencoderModel;
use super::params::{AutoencoderParams, AutoencoderValidParams};
use super::train::{Sample, TrainReport, train};
use crate::matrix::{ByteReader, ByteWriter, invalid};
use crate::neural::Accelerator;
use crate::sketch::{self, Pool};

/// Version byte of the partial-state payload.
const PARTIAL_VERSION: u8 = 1;

/// Mergeable autoencoder training state of one or more partitions.
#[derive(Debug, Clone)]
pub struct AutoencoderPartial {
    params: AutoencoderValidParams,
    shape: Option<(InputKind, usize)>,
    /// (key, encoded row) → multiplicity, in key order.
    pool: Pool<u64>,
    pool_words: usize,
    n_rows: u64,
}

impl AutoencoderPartial {
    /// An empty state that will train with `params`.
    pub fn new(params: &AutoencoderValidParams) -> Self {
        Self {
            params: params.clone(),
            shape: None,
            pool: BTreeMap::new(),
            pool_words: 0,
            n_rows: 0,
        }
    }

    /// The parameters this state trains with.
    pub fn params(&self) -> &AutoencoderValidParams {
        &self.params
    }

    /// Rows seen, over all merged partitions.
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    /// Distinct rows in the sample.
    pub fn sample_len(&self) -> usize {
        self.pool.len()
    }

    /// The input kind and width, once a row was seen.
    pub fn shape(&self) -> Option<(InputKind, usize)> {
        self.shape
    }

    /// Approximate heap memory used, in bytes.
    pub fn size_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.pool.len() * (std::mem::size_of::<((u64, Box<[u64]>), u64)>() + 16)
            + self.pool_words * 8
    }

    fn check_shape(
        &mut self,
        kind: InputKind,
        dim: usize,
    ) -> Result<(), AutoencoderError> {
        match self.shape {
            Some((k, _)) if k != kind => Err(AutoencoderError::KindMismatch),
            Some((_, d)) if d != dim => Err(AutoencoderError::DimensionMismatch {
                expected: d,
                got: dim,
            }),
            _ => {
                self.shape = Some((kind, dim));
                Ok(())
            }
        }
    }

    fn insert(&mut self, key: u64, row: &[u64], count: u64) {
        let done = sketch::insert(&mut self.pool, key, row, count, self.params.max_rows);
        if done.new {
            self.pool_words += row.len();
        }
        if let Some(evicted) = done.evicted {
            self.pool_words -= evicted.len();
        }
    }

    /// Adds the non-null rows of a batch.
    ///
    /// # Errors
    /// The rows' kind or width differs from earlier rows'.
    pub fn update(&mut self, input: &InputBatch) -> Result<(), AutoencoderError> {
        let Some(dim) = input.dim().map_err(AutoencoderError::Input)? else {
            return Ok(());
        };
        if dim == 0 {
            return Err(AutoencoderError::Input("vectors have dimension 0".into()));
        }
        self.check_shape(input.kind(), dim)?;
        let seed = self.params.seed;
        for row in input.encoded_rows() {
            self.insert(row_key(seed, &row), &row, 1);
            self.n_rows += 1;
        }
        Ok(())
    }

    /// Merges `other` into `self`; the result does not depend on merge order or
    /// partitioning.
    ///
    /// # Errors
    /// Different parameters, input kinds or widths.
    pub fn merge(&mut self, other: &AutoencoderPartial) -> Result<(), AutoencoderError> {
        if self.params != other.params {
            return Err(AutoencoderError::ParamsMismatch);
        }
        let Some((kind, dim)) = other.shape else {
            return Ok(());
        };
        self.check_shape(kind, dim)?;
        for ((key, row), &count) in &other.pool {
            self.insert(*key, row, count);
        }
        self.n_rows += other.n_rows;
        Ok(())
    }

    /// Trains the model on the merged sample.
    ///
    /// # Errors
    /// No rows, or training failed.
    pub fn finish(
        &self,
        accelerator: Accelerator,
    ) -> Result<(AutoencoderModel, TrainReport), AutoencoderError> {
        train(&self.params, &self.sample()?, accelerator)
    }

    fn sample(&self) -> Result<Sample<'_>, AutoencoderError> {
        let Some((kind, dim)) = self.shape else {
            return Err(AutoencoderError::Empty);
        };
        Ok(Sample {
            kind,
            dim,
            rows: self.pool.keys().map(|(_, r)| &**r).collect(),
            counts: self.pool.values().copied().collect(),
        })
    }

    /// Encodes the state; equal states encode to equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = self.params.to_json();
        let mut w = ByteWriter::with_capacity(64 + json.len() + self.pool_words * 8);
        w.u8(PARTIAL_VERSION);
        w.u64(json.len() as u64);
        for b in json.bytes() {
            w.u8(b);
        }
        let (kind, dim) = self.shape.map_or((0, 0), |(k, d)| (k.code(), d));
        w.u8(kind);
        w.u64(dim as u64);
        w.u64(self.n_rows);
        w.u64(self.pool.len() as u64);
        for ((_, row), &count) in &self.pool {
            w.u64(count);
            w.u64(row.len() as u64);
            for &word in row.iter() {
                w.u64(word);
            }
        }
        w.into_inner()
    }

    /// Decodes a state written by [`AutoencoderPartial::to_bytes`].
    ///
    /// # Errors
    /// [`AutoencoderError::Decode`] for truncated, corrupted or inconsistent bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AutoencoderError> {
        let mut r = ByteReader::new(bytes);
        r.version(PARTIAL_VERSION)?;
        let n = r.count(1, "parameter length")?;
        let mut json = Vec::with_capacity(n);
        for _ in 0..n {
            json.push(r.u8()?);
        }
        let json =
            String::from_utf8(json).map_err(|_| invalid("parameters (not UTF-8)"))?;
        let params = AutoencoderParams::from_json(&json)
            .and_then(AutoencoderParams::check)
            .map_err(|e| invalid(format!("parameters: {e}")))?;
        let kind = r.u8()?;
        let dim = r.usize("dimension")?;
        let shape = match kind {
            0 => None,
            k => Some((
                InputKind::from_code(k)
                    .ok_or_else(|| invalid(format!("input kind ({k})")))?,
                dim,
            )),
        };
        let n_rows = r.u64()?;
        let len = r.count(16, "sample length")?;
        if len > params.max_rows || (shape.is_none() && (len > 0 || n_rows > 0)) {
            return Err(invalid(format!("sample length ({len})")).into());
        }
        let mut out = Self::new(&params);
        out.shape = shape;
        out.n_rows = n_rows;
        let mut total = 0u64;
        for _ in 0..len {
            let count = r.u64()?;
            let words = r.count(8, "row length")?;
            let mut row = Vec::with_capacity(words);
            for _ in 0..words {
                row.push(r.u64()?);
            }
            if let Some((kind, dim)) = shape {
                check_encoded(kind, dim, &row).map_err(invalid)?;
            }
            if count == 0 {
                return Err(invalid("row multiplicity (0)").into());
            }
            total = total
                .checked_add(count)
                .ok_or_else(|| invalid("row multiplicities (overflow)"))?;
            let key = row_key(params.seed, &row);
            if out.pool.contains_key(&(key, row.as_slice().into())) {
                return Err(invalid("sample (duplicate row)").into());
            }
            out.insert(key, &row, count);
        }
        if total > n_rows {
            return Err(
                invalid(format!("row count ({n_rows} < sample total {total})")).into(),
            );
        }
        r.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{FeatureMatrix, SeededRng};
    use crate::sparse::SparseBuilder;

    use crate::autoencoder::params::test_params as params;

    /// 60 rows near a line in 4 dimensions, some repeated.
    fn rows(seed: u64) -> Vec<[f64; 4]> {
        let mut rng = SeededRng::new(seed);
        (0..60)
            .map(|i| {
                let t = (i % 45) as f64 / 45.0;
                let e = rng.next_f64() * 0.01;
                [t, 1.0 - t, 0.5 * t + e, 0.2]
            })
            .collect()
    }

    fn batch(rows: &[[f64; 4]]) -> InputBatch {
        let m = FeatureMatrix::from_rows(rows).expect("valid test rows");
        InputBatch::read(&m.to_arrow()).expect("reads")
    }

    fn fit_split(
        p: &AutoencoderValidParams,
        x: &[[f64; 4]],
        parts: usize,
        rotate: usize,
    ) -> (AutoencoderModel, TrainReport) {
        let mut chunks: Vec<Vec<[f64; 4]>> = vec![Vec::new(); parts];
        for i in 0..x.len() {
            chunks[(i * 7 + rotate) % parts].push(x[(i + rotate) % x.len()]);
        }
        let mut partials: Vec<AutoencoderPartial> = chunks
            .iter()
            .map(|c| {
                let mut p = AutoencoderPartial::new(p);
                if !c.is_empty() {
                    p.update(&batch(c)).expect("update");
                }
                AutoencoderPartial::from_bytes(&p.to_bytes()).expect("state round trip")
            })
            .collect();
        let mut rng = SeededRng::new(rotate as u64);
        let mut acc = AutoencoderPartial::new(p);
        while !partials.is_empty() {
            let next = partials.swap_remove(rng.gen_range(partials.len()));
            acc.merge(&next).expect("merge");
        }
        acc.finish(Accelerator::Cpu).expect("fit")
    }

    #[test]
    fn merged_partials_train_the_same_model_as_one_pass() {
        let p =
            params(r#"{"hidden": [3, 1], "epochs": 3, "batch_size": 8, "max_rows": 40}"#);
        let x = rows(1);
        let single = fit_split(&p, &x, 1, 0);
        for (parts, rotate) in [(2, 1), (3, 5), (5, 2)] {
            let merged = fit_split(&p, &x, parts, rotate);
            assert_eq!(merged, single, "{parts} parts");
        }
    }

    #[test]
    fn the_bounded_sample_is_the_bottom_k_with_exact_counts() {
        let p = params(r#"{"max_rows": 10}"#);
        let x = rows(2);
        let mut one = AutoencoderPartial::new(&p);
        one.update(&batch(&x)).expect("update");
        one.update(&batch(&x)).expect("update");
        assert_eq!(one.sample_len(), 10);
        assert_eq!(one.n_rows(), 120);
        let mut a = AutoencoderPartial::new(&p);
        a.update(&batch(&x[..30])).expect("update");
        a.update(&batch(&x)).expect("update");
        let mut b = AutoencoderPartial::new(&p);
        b.update(&batch(&x[30..])).expect("update");
        b.merge(&a).expect("merge");
        assert_eq!(b.to_bytes(), one.to_bytes());
        assert!(one.size_bytes() > 10 * 4 * 8);
    }

    #[test]
    fn mismatched_states_are_refused() {
        let p = params("{}");
        let mut dense = AutoencoderPartial::new(&p);
        dense.update(&batch(&rows(3))).expect("update");
        let mut sparse = AutoencoderPartial::new(&p);
        let mut b = SparseBuilder::new(4);
        b.append(&[1], &[1.0]);
        sparse
            .update(&InputBatch::read(b.finish().as_ref()).expect("reads"))
            .expect("update");
        assert_eq!(dense.merge(&sparse), Err(AutoencoderError::KindMismatch));
        let other = AutoencoderPartial::new(&params(r#"{"epochs": 3}"#));
        assert_eq!(dense.merge(&other), Err(AutoencoderError::ParamsMismatch));
        let narrow = FeatureMatrix::from_rows(&[[1.0, 2.0]]).expect("valid");
        let err = dense
            .update(&InputBatch::read(&narrow.to_arrow()).expect("reads"))
            .expect_err("width");
        assert_eq!(
            err.to_string(),
            "input has 2 dimensions, the model expects 4"
        );
    }

    #[test]
    fn empty_state_fails_to_finish_and_bad_states_fail_to_decode() {
        let p = params("{}");
        let empty = AutoencoderPartial::new(&p);
        assert_eq!(
            empty.finish(Accelerator::Cpu).err(),
            Some(AutoencoderError::Empty)
        );
        let mut s = AutoencoderPartial::new(&p);
        s.update(&batch(&rows(4)[..5])).expect("update");
        let bytes = s.to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                AutoencoderPartial::from_bytes(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x5a;
            let _ = AutoencoderPartial::from_bytes(&bad);
        }
    }
}
