//! One dense layer's weights, the layout the CPU model ([`super::model`]) stores and
//! scores with and the burn network ([`super::net`]) trains with. Its own module so that
//! the two depend on it and not on each other.

/// One layer: `rows × cols` weights, row-major, and a bias.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layer {
    pub rows: usize,
    pub cols: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}
