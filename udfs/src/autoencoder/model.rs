//! The fitted autoencoder: its architecture and weights, their payload encoding, and
//! batch scoring (reconstruction MSE per row).
//!
//! # Layers
//!
//! Every layer is a weight matrix stored row-major plus a bias vector:
//!
//! - **Dense input** (width `D`, `hidden = [h0, …, hk]`): linear layers
//!   `D → h0 → … → hk → … → h0 → D`, weights `[d_in, d_out]`, `y = x W + b`.
//! - **Sparse input**: the first layer is an *embedding bag* over the model's vocabulary
//!   (the `V` input indices seen in the training sample, ascending): weights `[V, h0]`,
//!   `h = b + Σ x_i W[v(i)]` over the row's non-zeros. The middle layers are linear as
//!   above. The output layer is stored one row per vocabulary index, `[V, h0]` with a
//!   bias of `V`, and evaluated only where needed: `x̂_i = out(z · W[v(i)] + b[v(i)])`.
//!
//! Every hidden layer, the latent code included, applies `activation`; the last layer
//! applies `output`.

use std::collections::HashMap;

use datafusion::arrow::array::Float64Array;
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};

use super::AutoencoderError;
use super::input::{
    InputBatch, InputKind, dense_to_sparse, dense_values, encode_dense, negatives,
    row_key, sparse_pairs,
};
use super::layer::Layer;
use super::net::DenseNet;
use super::params::{Activation, AutoencoderValidParams, MAX_WIDTH, Output};
use crate::matrix::{ByteReader, ByteWriter, SeededRng, derive_seed, invalid};
use crate::neural::{self, Accelerator, Placement};

/// Version byte of the autoencoder payload.
const PAYLOAD_VERSION: u8 = 1;
/// Largest weight matrix a model may hold (2^28 values, 1 GiB of `f32`).
pub const MAX_LAYER_ELEMENTS: usize = 1 << 28;
/// Rows per forward pass when scoring dense input.
pub const SCORE_CHUNK_ROWS: usize = 8192;
/// Stream of [`derive_seed`] that initialises the weights.
const STREAM_INIT: u64 = 3;

/// A fitted autoencoder. Immutable; scores whole batches.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoencoderModel {
    kind: InputKind,
    dim: usize,
    hidden: Vec<usize>,
    activation: Activation,
    output: Output,
    negatives: usize,
    seed: u64,
    vocab: Vec<u32>,
    layers: Vec<Layer>,
}

/// `(rows, cols, bias length)` of every layer.
fn layer_shapes(
    kind: InputKind,
    dim: usize,
    vocab_len: usize,
    hidden: &[usize],
) -> Vec<(usize, usize, usize)> {
    let mut widths: Vec<usize> = hidden.to_vec();
    widths.extend(hidden.iter().rev().skip(1));
    match kind {
        InputKind::Dense => {
            let mut all = vec![dim];
            all.extend(&widths);
            all.push(dim);
            all.windows(2).map(|w| (w[0], w[1], w[1])).collect()
        }
        InputKind::Sparse => {
            let h0 = hidden.first().copied().unwrap_or(1);
            let mut out = vec![(vocab_len, h0, h0)];
            out.extend(widths.windows(2).map(|w| (w[0], w[1], w[1])));
            out.push((vocab_len, h0, vocab_len));
            out
        }
    }
}

impl AutoencoderModel {
    /// A model with freshly initialised weights: PyTorch's default
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weights and biases, from a generator
    /// seeded by the parameters' seed. The fan-in of the sparse embedding is `dim`, as
    /// for the dense linear layer it stands for.
    pub(crate) fn init(
        params: &AutoencoderValidParams,
        kind: InputKind,
        dim: usize,
        vocab: Vec<u32>,
    ) -> Result<Self, AutoencoderError> {
        let shapes = layer_shapes(kind, dim, vocab.len(), &params.hidden);
        let mut rng = SeededRng::new(derive_seed(params.seed, STREAM_INIT));
        let mut layers = Vec::with_capacity(shapes.len());
        let last = shapes.len() - 1;
        for (l, &(rows, cols, bias)) in shapes.iter().enumerate() {
            let n = rows
                .checked_mul(cols)
                .filter(|&n| n <= MAX_LAYER_ELEMENTS)
                .ok_or(AutoencoderError::TooLarge { rows, cols })?;
            let fan_in = match (kind, l) {
                (InputKind::Sparse, 0) => dim,
                (InputKind::Sparse, l) if l == last => cols,
                _ => rows,
            };
            let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
            layers.push(Layer {
                rows,
                cols,
                weight: neural::uniform(&mut rng, n, bound),
                bias: neural::uniform(&mut rng, bias, bound),
            });
        }
        Ok(Self {
            kind,
            dim,
            hidden: params.hidden.clone(),
            activation: params.activation,
            output: params.output,
            negatives: params.negatives,
            seed: params.seed,
            vocab,
            layers,
        })
    }

    pub(crate) fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub(crate) fn set_layers(
        &mut self,
        layers: Vec<Layer>,
    ) -> Result<(), AutoencoderError> {
        let shapes = layer_shapes(self.kind, self.dim, self.vocab.len(), &self.hidden);
        let ok = layers.len() == shapes.len()
            && layers.iter().zip(&shapes).all(|(l, &(r, c, b))| {
                l.rows == r && l.cols == c && l.weight.len() == r * c && l.bias.len() == b
            });
        if !ok {
            return Err(AutoencoderError::Payload(
                "trained layers do not match the architecture".into(),
            ));
        }
        self.layers = layers;
        Ok(())
    }

    /// Dense or sparse input.
    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// Input width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Encoder widths.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }

    /// Hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Output activation.
    pub fn output(&self) -> Output {
        self.output
    }

    /// Sparse models: the input indices the model has weights for, ascending.
    pub fn vocabulary(&self) -> &[u32] {
        &self.vocab
    }

    /// Sparse models: negative indices per row.
    pub fn negatives(&self) -> usize {
        self.negatives
    }

    /// The seed of the negative indices.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Reconstruction MSE of every row of `input` (null for null rows); identical rows
    /// are scored once. Dense rows go through the network in one forward pass per
    /// [`SCORE_CHUNK_ROWS`] distinct rows on `accelerator`; sparse rows are scored on
    /// the CPU (they touch only their non-zeros and negatives).
    ///
    /// # Errors
    /// The input width differs from the model's, or the backend failed.
    pub fn score(
        &self,
        input: &InputBatch,
        accelerator: Accelerator,
    ) -> Result<Float64Array, AutoencoderError> {
        if let Some(got) = input.dim().map_err(AutoencoderError::Input)?
            && got != self.dim
        {
            return Err(AutoencoderError::DimensionMismatch {
                expected: self.dim,
                got,
            });
        }
        let encoded = self.encode_input(input);
        let mut unique: Vec<&[u64]> = Vec::new();
        let mut slot: HashMap<&[u64], usize> = HashMap::new();
        let which: Vec<usize> = encoded
            .iter()
            .map(|row| {
                *slot.entry(row).or_insert_with(|| {
                    unique.push(row);
                    unique.len() - 1
                })
            })
            .collect();
        let scores = match self.kind {
            // A GPU permit is taken only when there are rows for the device.
            InputKind::Dense if unique.is_empty() => Vec::new(),
            InputKind::Dense => self.dense_scores(
                &unique,
                &neural::place(accelerator)?,
                SCORE_CHUNK_ROWS,
            )?,
            InputKind::Sparse => unique.iter().map(|r| self.sparse_score(r)).collect(),
        };
        let mut values = Vec::with_capacity(input.len());
        let mut next = which.iter();
        let mut valid = Vec::with_capacity(input.len());
        for i in 0..input.len() {
            if input.is_present(i) {
                let s = next.next().map_or(0.0, |&u| scores[u]);
                values.push(s);
                valid.push(true);
            } else {
                values.push(0.0);
                valid.push(false);
            }
        }
        let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
        Ok(Float64Array::new(ScalarBuffer::from(values), nulls))
    }

    /// The non-null rows of `input` in the model's own encoding.
    fn encode_input(&self, input: &InputBatch) -> Vec<Box<[u64]>> {
        match (self.kind, input) {
            (InputKind::Sparse, InputBatch::Dense(rows)) => {
                dense_to_sparse(rows.matrix())
            }
            (InputKind::Dense, InputBatch::Sparse(_)) => input
                .encoded_rows()
                .iter()
                .map(|e| {
                    let mut dense = vec![0.0; self.dim];
                    for (i, v) in sparse_pairs(e) {
                        if let Some(slot) = dense.get_mut(i as usize) {
                            *slot = v;
                        }
                    }
                    encode_dense(&dense)
                })
                .collect(),
            _ => input.encoded_rows(),
        }
    }

    /// Reconstruction MSE of dense rows on `placement`'s device, `chunk_rows` rows per
    /// forward pass.
    pub(crate) fn dense_scores(
        &self,
        rows: &[&[u64]],
        placement: &Placement,
        chunk_rows: usize,
    ) -> Result<Vec<f64>, AutoencoderError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let device = placement.device();
        let d = self.dim;
        let out =
            neural::guarded("autoencoder scoring", placement.accelerator(), || {
                let net = DenseNet::from_layers(&self.layers, device);
                let mut out = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(chunk_rows.max(1)) {
                    let mut flat = Vec::with_capacity(chunk.len() * d);
                    for r in chunk {
                        flat.extend(dense_values(r).map(|v| v as f32));
                    }
                    let x = neural::float2(flat, chunk.len(), d, device);
                    let y = net.forward(x.clone(), self.activation, self.output);
                    let mse = (y - x).square().mean_dim(1);
                    out.extend(neural::read_f32(mse)?.into_iter().map(f64::from));
                }
                Ok(out)
            })?;
        Ok(out)
    }

    /// The vocabulary position of input index `i`.
    fn position(&self, i: u32) -> Option<usize> {
        self.vocab.binary_search(&i).ok()
    }

    /// Reconstruction MSE of one sparse row (see the module docs of
    /// [`crate::autoencoder`] for the definition).
    fn sparse_score(&self, encoded: &[u64]) -> f64 {
        let (Some(embed), Some(out)) = (self.layers.first(), self.layers.last()) else {
            return 0.0;
        };
        let h0 = embed.cols;
        // Embedding bag over the row's known indices.
        let mut z = embed.bias.clone();
        let mut present = Vec::new();
        let mut errors = 0.0f64;
        let mut unknown = 0usize;
        for (i, v) in sparse_pairs(encoded) {
            match self.position(i) {
                Some(p) => {
                    present.push((p, v as f32));
                    let w = &embed.weight[p * h0..(p + 1) * h0];
                    for (zj, wj) in z.iter_mut().zip(w) {
                        *zj += v as f32 * wj;
                    }
                }
                None => {
                    // Never seen in training: reconstructed as exactly 0.
                    errors += v * v;
                    unknown += 1;
                }
            }
        }
        z.iter_mut().for_each(|v| *v = self.activation.apply(*v));
        for layer in &self.layers[1..self.layers.len() - 1] {
            z = dense_layer(layer, &z, self.activation);
        }
        let predict = |p: usize| {
            let w = &out.weight[p * h0..(p + 1) * h0];
            let pre: f32 = z.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + out.bias[p];
            f64::from(self.output.apply(pre))
        };
        let positions: Vec<usize> = present.iter().map(|&(p, _)| p).collect();
        let negs = negatives(
            self.seed,
            row_key(self.seed, encoded),
            0,
            self.vocab.len(),
            &positions,
            self.negatives,
        );
        for &(p, v) in &present {
            let e = f64::from(v) - predict(p);
            errors += e * e;
        }
        for &n in &negs {
            let e = predict(n);
            errors += e * e;
        }
        let count = present.len() + unknown + negs.len();
        if count == 0 {
            0.0
        } else {
            errors / count as f64
        }
    }

    /// Encodes the architecture and weights as the envelope payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let weights: usize = self
            .layers
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum();
        let mut w = ByteWriter::with_capacity(64 + self.vocab.len() * 4 + weights * 4);
        w.u8(PAYLOAD_VERSION);
        w.u8(self.kind.code());
        w.u64(self.dim as u64);
        w.u8(self.activation.code());
        w.u8(self.output.code());
        w.u64(self.negatives as u64);
        w.u64(self.seed);
        w.u64(self.hidden.len() as u64);
        for &h in &self.hidden {
            w.u64(h as u64);
        }
        w.u64(self.vocab.len() as u64);
        for &i in &self.vocab {
            w.u32(i);
        }
        w.u64(self.layers.len() as u64);
        for l in &self.layers {
            w.u64(l.weight.len() as u64);
            for &v in &l.weight {
                w.u32(v.to_bits());
            }
            w.u64(l.bias.len() as u64);
            for &v in &l.bias {
                w.u32(v.to_bits());
            }
        }
        w.into_inner()
    }

    /// Decodes a payload written by [`AutoencoderModel::to_bytes`].
    ///
    /// # Errors
    /// [`AutoencoderError::Decode`] for truncated, corrupted or inconsistent bytes; never
    /// panics and never allocates more than the bytes can hold.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AutoencoderError> {
        let mut r = ByteReader::new(bytes);
        r.version(PAYLOAD_VERSION)?;
        let kind = r.u8()?;
        let kind = InputKind::from_code(kind)
            .ok_or_else(|| invalid(format!("input kind ({kind})")))?;
        let dim = r.usize("dimension")?;
        if dim == 0 {
            return Err(invalid("dimension (0)").into());
        }
        let code = r.u8()?;
        let activation = Activation::from_code(code)
            .ok_or_else(|| invalid(format!("activation ({code})")))?;
        let code = r.u8()?;
        let output =
            Output::from_code(code).ok_or_else(|| invalid(format!("output ({code})")))?;
        let negatives = r.usize("negatives")?;
        let seed = r.u64()?;
        let n_hidden = r.count(8, "hidden layer count")?;
        if n_hidden == 0 || n_hidden > super::params::MAX_LAYERS {
            return Err(invalid(format!("hidden layer count ({n_hidden})")).into());
        }
        let mut hidden = Vec::with_capacity(n_hidden);
        for _ in 0..n_hidden {
            let h = r.usize("hidden width")?;
            if h == 0 || h > MAX_WIDTH {
                return Err(invalid(format!("hidden width ({h})")).into());
            }
            hidden.push(h);
        }
        let n_vocab = r.count(4, "vocabulary length")?;
        if kind == InputKind::Dense && n_vocab != 0 {
            return Err(invalid("vocabulary of a dense model").into());
        }
        let mut vocab = Vec::with_capacity(n_vocab);
        for _ in 0..n_vocab {
            let i = r.u32()?;
            if i as usize >= dim || vocab.last().is_some_and(|&p| p >= i) {
                return Err(invalid(format!("vocabulary index ({i})")).into());
            }
            vocab.push(i);
        }
        let shapes = layer_shapes(kind, dim, vocab.len(), &hidden);
        let n_layers = r.usize("layer count")?;
        if n_layers != shapes.len() {
            return Err(invalid(format!(
                "layer count ({n_layers}, the architecture has {})",
                shapes.len()
            ))
            .into());
        }
        let mut layers = Vec::with_capacity(n_layers);
        for (l, &(rows, cols, bias)) in shapes.iter().enumerate() {
            let weight = read_floats(&mut r, rows.checked_mul(cols), l, "weights")?;
            let bias = read_floats(&mut r, Some(bias), l, "bias")?;
            layers.push(Layer {
                rows,
                cols,
                weight,
                bias,
            });
        }
        r.finish()?;
        Ok(Self {
            kind,
            dim,
            hidden,
            activation,
            output,
            negatives,
            seed,
            vocab,
            layers,
        })
    }
}

fn read_floats(
    r: &mut ByteReader<'_>,
    expected: Option<usize>,
    layer: usize,
    what: &str,
) -> Result<Vec<f32>, AutoencoderError> {
    let n = r.count(4, what)?;
    if Some(n) != expected {
        return Err(invalid(format!("layer {layer} {what} length ({n})")).into());
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = f32::from_bits(r.u32()?);
        if !v.is_finite() {
            return Err(invalid(format!("layer {layer} {what} value ({v})")).into());
        }
        out.push(v);
    }
    Ok(out)
}

/// `act(x W + b)` for one row on the CPU.
fn dense_layer(layer: &Layer, x: &[f32], act: Activation) -> Vec<f32> {
    let mut y = layer.bias.clone();
    for (xi, w) in x.iter().zip(layer.weight.chunks_exact(layer.cols)) {
        for (yj, wj) in y.iter_mut().zip(w) {
            *yj += xi * wj;
        }
    }
    y.iter_mut().for_each(|v| *v = act.apply(*v));
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::FeatureMatrix;
    use crate::sparse::SparseBuilder;
    use datafusion::arrow::array::Array;

    use crate::autoencoder::params::test_params as params;

    fn dense_model() -> AutoencoderModel {
        let p = params(r#"{"hidden": [3, 2], "output": "linear"}"#);
        AutoencoderModel::init(&p, InputKind::Dense, 4, Vec::new()).expect("init")
    }

    fn sparse_model() -> AutoencoderModel {
        let p = params(r#"{"hidden": [4, 2], "negatives": 3}"#);
        AutoencoderModel::init(&p, InputKind::Sparse, 1000, vec![1, 5, 9, 400, 999])
            .expect("init")
    }

    fn dense_input(rows: &[[f64; 4]]) -> InputBatch {
        let m = FeatureMatrix::from_rows(rows).expect("valid test rows");
        InputBatch::read(&m.to_arrow()).expect("reads")
    }

    fn sparse_input(dim: usize, rows: &[Option<(&[i32], &[f64])>]) -> InputBatch {
        let mut b = SparseBuilder::new(dim);
        for r in rows {
            match r {
                Some((i, v)) => b.append(i, v),
                None => b.append_null(),
            }
        }
        InputBatch::read(b.finish().as_ref()).expect("reads")
    }

    /// The dense network on the CPU without burn.
    fn reference_dense(m: &AutoencoderModel, x: &[f64]) -> f64 {
        let last = m.layers.len() - 1;
        let h: Vec<f32> = m.layers[..last]
            .iter()
            .fold(x.iter().map(|&v| v as f32).collect(), |a, l| {
                dense_layer(l, &a, m.activation)
            });
        let l = &m.layers[last];
        let mut y = l.bias.clone();
        for (xi, w) in h.iter().zip(l.weight.chunks_exact(l.cols)) {
            for (yj, wj) in y.iter_mut().zip(w) {
                *yj += xi * wj;
            }
        }
        y.iter()
            .zip(x)
            .map(|(a, b)| (f64::from(m.output.apply(*a)) - b).powi(2))
            .sum::<f64>()
            / x.len() as f64
    }

    #[test]
    fn payloads_round_trip() {
        for m in [dense_model(), sparse_model()] {
            let back = AutoencoderModel::from_bytes(&m.to_bytes()).expect("decodes");
            assert_eq!(back, m);
        }
    }

    #[test]
    fn truncated_or_corrupted_payloads_are_errors_never_panics() {
        for m in [dense_model(), sparse_model()] {
            let bytes = m.to_bytes();
            for cut in 0..bytes.len() {
                assert!(
                    AutoencoderModel::from_bytes(&bytes[..cut]).is_err(),
                    "cut {cut}"
                );
            }
            let mut long = bytes.clone();
            long.push(0);
            assert!(AutoencoderModel::from_bytes(&long).is_err());
            for i in 0..bytes.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = bytes.clone();
                    bad[i] ^= flip;
                    // Any outcome but a panic; most header bytes must be rejected.
                    let _ = AutoencoderModel::from_bytes(&bad);
                }
            }
            let mut bad = bytes.clone();
            bad[0] = 9;
            let err = AutoencoderModel::from_bytes(&bad).expect_err("version");
            assert!(
                err.to_string().contains("unknown payload version 9"),
                "{err}"
            );
        }
    }

    #[test]
    fn dense_scores_are_the_mse_of_the_reconstruction() {
        let m = dense_model();
        let rows = [[0.1, 0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 2.0]];
        let s = m
            .score(&dense_input(&rows), Accelerator::Cpu)
            .expect("scores");
        for (i, r) in rows.iter().enumerate() {
            let want = reference_dense(&m, r);
            assert!((s.value(i) - want).abs() < 1e-5, "{} vs {want}", s.value(i));
        }
    }

    #[test]
    fn identical_rows_score_identically_and_null_rows_are_null() {
        let m = sparse_model();
        let row: (&[i32], &[f64]) = (&[5, 400], &[0.5, 1.0]);
        let input = sparse_input(1000, &[Some(row), None, Some(row), Some((&[], &[]))]);
        let s = m.score(&input, Accelerator::Cpu).expect("scores");
        assert_eq!(s.len(), 4);
        assert!(s.is_null(1));
        assert_eq!(s.value(0), s.value(2));
        assert!(s.value(3) >= 0.0);
    }

    #[test]
    fn dimension_mismatch_names_both_widths() {
        let err = dense_model()
            .score(&sparse_input(7, &[Some((&[1], &[1.0]))]), Accelerator::Cpu)
            .expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "input has 7 dimensions, the model expects 4"
        );
    }

    #[test]
    fn unseen_sparse_indices_reconstruct_as_zero() {
        let m = sparse_model();
        let big = m
            .score(
                &sparse_input(1000, &[Some((&[2], &[100.0]))]),
                Accelerator::Cpu,
            )
            .expect("scores");
        // 100^2 over at most 1 + 3 evaluated coordinates.
        assert!(big.value(0) >= 10_000.0 / 4.0, "{}", big.value(0));
    }

    #[test]
    fn dense_and_sparse_encodings_of_a_row_score_the_same() {
        let m = dense_model();
        let dense = m
            .score(&dense_input(&[[0.0, 2.0, 0.0, 0.5]]), Accelerator::Cpu)
            .expect("scores");
        let sparse = m
            .score(
                &sparse_input(4, &[Some((&[1, 3], &[2.0, 0.5]))]),
                Accelerator::Cpu,
            )
            .expect("scores");
        assert_eq!(dense.value(0), sparse.value(0));
        let m = sparse_model();
        let mut wide = vec![[0.0; 4]; 1];
        wide[0][1] = 1.0;
        // A sparse model of width 1000 refuses 4-wide dense rows, naming both.
        let err = m
            .score(&dense_input(&wide), Accelerator::Cpu)
            .expect_err("width");
        assert!(err.to_string().contains("expects 1000"), "{err}");
    }

    #[test]
    fn oversized_layers_are_refused() {
        let p = params(r#"{"hidden": [65536]}"#);
        let err = AutoencoderModel::init(&p, InputKind::Dense, 1 << 20, Vec::new())
            .expect_err("too large");
        assert!(matches!(err, AutoencoderError::TooLarge { .. }), "{err}");
    }
}
