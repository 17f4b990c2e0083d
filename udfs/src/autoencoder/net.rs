//! The autoencoder as burn modules, for training (on an autodiff device) and for dense
//! inference. Weights move in and out as [`Layer`]s; see [`super::layer`] for the layout.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::{relu, sigmoid, tanh};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor};

use super::layer::Layer;
use super::params::{Activation, Output};
use crate::neural::{float1, float2, read_f32};

fn activate<const D: usize>(x: Tensor<D>, act: Activation) -> Tensor<D> {
    match act {
        Activation::Relu => relu(x),
        Activation::Tanh => tanh(x),
        Activation::Sigmoid => sigmoid(x),
    }
}

fn output<const D: usize>(x: Tensor<D>, out: Output) -> Tensor<D> {
    match out {
        Output::Sigmoid => sigmoid(x),
        Output::Linear => x,
    }
}

fn linear(layer: &Layer, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(float2(
            layer.weight.clone(),
            layer.rows,
            layer.cols,
            device,
        )),
        bias: Some(Param::from_tensor(float1(layer.bias.clone(), device))),
    }
}

fn layer_of(weight: Tensor<2>, bias: Option<Tensor<1>>) -> Result<Layer, String> {
    let [rows, cols] = weight.dims();
    Ok(Layer {
        rows,
        cols,
        weight: read_f32(weight)?,
        bias: match bias {
            Some(b) => read_f32(b)?,
            None => Vec::new(),
        },
    })
}

fn linear_layer(l: &Linear) -> Result<Layer, String> {
    layer_of(l.weight.val(), l.bias.as_ref().map(|b| b.val()))
}

/// The dense autoencoder: linear layers `D → h0 → … → h0 → D`.
#[derive(Module, Debug)]
pub(crate) struct DenseNet {
    layers: Vec<Linear>,
}

impl DenseNet {
    /// The network holding `layers` on `device`.
    pub fn from_layers(layers: &[Layer], device: &Device) -> Self {
        Self {
            layers: layers.iter().map(|l| linear(l, device)).collect(),
        }
    }

    /// The current weights.
    pub fn to_layers(&self) -> Result<Vec<Layer>, String> {
        self.layers.iter().map(linear_layer).collect()
    }

    /// The reconstruction of `x`.
    ///
    /// Shapes: `x` is `[rows, D]`; the result is `[rows, D]`.
    pub fn forward(&self, x: Tensor<2>, act: Activation, out: Output) -> Tensor<2> {
        let last = self.layers.len().saturating_sub(1);
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            h = if i == last {
                output(h, out)
            } else {
                activate(h, act)
            };
        }
        h
    }
}

/// One batch of sparse rows as tensors, in vocabulary positions.
///
/// `N` is the batch's number of non-zeros, `P` the number of (row, position) pairs at
/// which the reconstruction is evaluated (non-zeros plus negatives).
pub(crate) struct SparseBatch {
    /// Rows in the batch.
    pub rows: usize,
    /// `[N]` vocabulary position of each non-zero.
    pub nz_position: Tensor<1, Int>,
    /// `[N]` batch row of each non-zero.
    pub nz_row: Tensor<1, Int>,
    /// `[N, 1]` value of each non-zero.
    pub nz_value: Tensor<2>,
    /// `[P]` batch row of each evaluated pair.
    pub pair_row: Tensor<1, Int>,
    /// `[P]` vocabulary position of each evaluated pair.
    pub pair_position: Tensor<1, Int>,
    /// `[P]` target of each pair: the value, or 0 for a negative.
    pub target: Tensor<1>,
    /// `[P]` weight of each pair: 1 / (pairs of its row).
    pub weight: Tensor<1>,
    /// Whether the batch has any non-zero (`N > 0`).
    pub has_nonzeros: bool,
}

/// The sparse autoencoder: embedding bag, linear middle layers, output rows evaluated at
/// chosen positions only.
#[derive(Module, Debug)]
pub(crate) struct SparseNet {
    embed: Param<Tensor<2>>,
    embed_bias: Param<Tensor<1>>,
    middle: Vec<Linear>,
    out: Param<Tensor<2>>,
    out_bias: Param<Tensor<1>>,
}

impl SparseNet {
    /// The network holding `layers` (embedding, middle, output) on `device`.
    pub fn from_layers(layers: &[Layer], device: &Device) -> Result<Self, String> {
        let (Some(first), Some(last)) = (layers.first(), layers.last()) else {
            return Err("a sparse autoencoder needs at least two layers".into());
        };
        if layers.len() < 2 {
            return Err("a sparse autoencoder needs at least two layers".into());
        }
        Ok(Self {
            embed: Param::from_tensor(float2(
                first.weight.clone(),
                first.rows,
                first.cols,
                device,
            )),
            embed_bias: Param::from_tensor(float1(first.bias.clone(), device)),
            middle: layers[1..layers.len() - 1]
                .iter()
                .map(|l| linear(l, device))
                .collect(),
            out: Param::from_tensor(float2(
                last.weight.clone(),
                last.rows,
                last.cols,
                device,
            )),
            out_bias: Param::from_tensor(float1(last.bias.clone(), device)),
        })
    }

    /// The current weights.
    pub fn to_layers(&self) -> Result<Vec<Layer>, String> {
        let mut out = vec![layer_of(self.embed.val(), Some(self.embed_bias.val()))?];
        for l in &self.middle {
            out.push(linear_layer(l)?);
        }
        out.push(layer_of(self.out.val(), Some(self.out_bias.val()))?);
        Ok(out)
    }

    /// The reconstruction at the batch's evaluated pairs.
    ///
    /// Shapes: the result is `[P]`.
    pub fn forward(&self, b: &SparseBatch, act: Activation, out: Output) -> Tensor<1> {
        let embed = self.embed.val();
        let [_, h0] = embed.dims();
        let device = embed.device();
        let bias = self.embed_bias.val().unsqueeze_dim::<2>(0);
        let mut h = if b.has_nonzeros {
            let rows = embed.select(0, b.nz_position.clone()) * b.nz_value.clone();
            Tensor::<2>::zeros([b.rows, h0], &device).select_assign(
                0,
                b.nz_row.clone(),
                rows,
                IndexingUpdateOp::Add,
            ) + bias
        } else {
            Tensor::<2>::zeros([b.rows, h0], &device) + bias
        };
        h = activate(h, act);
        for layer in &self.middle {
            h = activate(layer.forward(h), act);
        }
        let code = h.select(0, b.pair_row.clone());
        let rows = self.out.val().select(0, b.pair_position.clone());
        let pairs = b.target.dims()[0];
        let pre = (code * rows).sum_dim(1).reshape([pairs])
            + self.out_bias.val().select(0, b.pair_position.clone());
        output(pre, out)
    }

    /// The batch loss: the mean over rows of each row's reconstruction MSE over its
    /// evaluated pairs.
    ///
    /// Shapes: the result is `[1]`.
    pub fn loss(&self, b: &SparseBatch, act: Activation, out: Output) -> Tensor<1> {
        let pred = self.forward(b, act, out);
        ((pred - b.target.clone()).square() * b.weight.clone())
            .sum()
            .div_scalar(b.rows.max(1) as f32)
    }
}
