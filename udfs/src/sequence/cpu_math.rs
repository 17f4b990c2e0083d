//! Element-wise LSTM arithmetic on plain `f32` slices, shared by CPU scoring and CPU
//! training.
//!
//! The activations are written without calls into the C math library and without
//! branches, so the compiler turns the loops over a row into vector instructions:
//! with `expf`/`tanhf` per element the activations of one LSTM step cost about as much
//! as its matrix products. [`exp`] writes `x = n·ln 2 + r` with an integer `n`, applied
//! through the float's exponent bits, and `|r| ≤ ln(2)/2`, for which a degree-6 Taylor
//! polynomial of `e^r` is accurate to about 1.2e-7 relative error, near the precision
//! of `f32` itself.

/// `e^x` for finite `x`, clamped to the range `f32` can hold (underflows to about
/// 1e-38, never to 0, and saturates at about 1.7e38).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two (Cody and Waite): n · LN2_HI is exact for |n| < 2^9, so the
    // reduced argument keeps the precision of x.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    // 1.5·2^23 + n as a float: its low mantissa bits hold 2^22 + n.
    const ROUND_BITS: u32 = 0x4B40_0000;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // 1/k!: the Taylor coefficients of e^r on |r| ≤ ln(2)/2.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n is an integer in [-126, 127]: 2^n is the float with biased exponent n + 127.
    // It is read from the bits of `shifted` (wrapping integer arithmetic) rather than
    // by `n as i32`, whose saturating conversion the compiler cannot vectorise.
    let biased = shifted.to_bits().wrapping_sub(ROUND_BITS).wrapping_add(127);
    let scale = f32::from_bits(biased << 23);
    p * scale
}

/// The logistic function.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// The hyperbolic tangent, as `2·sigmoid(2x) − 1` (absolute error about 1e-7).
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp(-2.0 * x)) - 1.0
}

/// One row of the LSTM cell. `gates` holds the pre-activations `[input | forget | cell
/// | output]`, each `hidden` long; `c_prev` the previous cell state (`None`: zeros).
/// Writes the new cell state to `c` and the new hidden state to `h`.
///
/// Compiled twice, like the k-means kernel: for the baseline instruction set and for
/// AVX2 (twice the vector width), chosen at run time. Both paths round identically:
/// the arithmetic is the same and the compiler does not fuse a product and a sum.
#[inline]
pub(crate) fn cell_row(
    gates: &[f32],
    c_prev: Option<&[f32]>,
    c: &mut [f32],
    h: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        unsafe {
            cell_row_avx2(gates, c_prev, c, h);
        }
        return;
    }
    cell_row_any(gates, c_prev, c, h);
}

/// [`cell_row_any`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn cell_row_avx2(gates: &[f32], c_prev: Option<&[f32]>, c: &mut [f32], h: &mut [f32]) {
    cell_row_any(gates, c_prev, c, h);
}

#[inline(always)]
fn cell_row_any(gates: &[f32], c_prev: Option<&[f32]>, c: &mut [f32], h: &mut [f32]) {
    let hidden = h.len();
    let (i, rest) = gates.split_at(hidden);
    let (f, rest) = rest.split_at(hidden);
    let (g, o) = rest.split_at(hidden);
    match c_prev {
        Some(prev) => {
            let gates = i.iter().zip(f).zip(g).zip(o).zip(prev);
            for ((cv, hv), ((((&iv, &fv), &gv), &ov), &pv)) in
                c.iter_mut().zip(h).zip(gates)
            {
                let cell = sigmoid(fv) * pv + sigmoid(iv) * tanh(gv);
                *cv = cell;
                *hv = sigmoid(ov) * tanh(cell);
            }
        }
        None => {
            let gates = i.iter().zip(g).zip(o);
            for ((cv, hv), ((&iv, &gv), &ov)) in c.iter_mut().zip(h).zip(gates) {
                let cell = sigmoid(iv) * tanh(gv);
                *cv = cell;
                *hv = sigmoid(ov) * tanh(cell);
            }
        }
    }
}

/// Turns `row` (logits) into log-probabilities.
#[inline]
pub(crate) fn log_softmax(row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        unsafe {
            log_softmax_avx2(row);
        }
        return;
    }
    log_softmax_any(row);
}

/// [`log_softmax_any`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn log_softmax_avx2(row: &mut [f32]) {
    log_softmax_any(row);
}

#[inline(always)]
fn log_softmax_any(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let sum: f32 = row.iter().map(|&v| exp(v - max)).sum();
    let log_z = max + sum.ln();
    row.iter_mut().for_each(|v| *v -= log_z);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_match_the_math_library() {
        let mut worst = (0.0f64, 0.0f64, 0.0f64);
        for k in -40_000..=40_000 {
            let x = k as f32 / 1000.0;
            let e = f64::from(x).exp();
            let rel = (f64::from(exp(x)) - e).abs() / e;
            let sig = 1.0 / (1.0 + (-f64::from(x)).exp());
            let th = f64::from(x).tanh();
            worst.0 = worst.0.max(rel);
            worst.1 = worst.1.max((f64::from(sigmoid(x)) - sig).abs());
            worst.2 = worst.2.max((f64::from(tanh(x)) - th).abs());
        }
        assert!(worst.0 < 5e-7, "exp relative error {}", worst.0);
        assert!(worst.1 < 3e-7, "sigmoid absolute error {}", worst.1);
        assert!(worst.2 < 5e-7, "tanh absolute error {}", worst.2);
        // Far outside: saturates instead of overflowing or returning NaN.
        assert!(sigmoid(-1e6) < 1e-30);
        assert_eq!(sigmoid(1e6), 1.0);
        assert_eq!(tanh(1e6), 1.0);
        assert_eq!(tanh(-1e6), -1.0);
        assert!(exp(1e6).is_finite() && exp(-1e6) > 0.0);
    }

    #[test]
    fn the_vector_path_rounds_as_the_baseline_path_does() {
        let hidden = 37;
        let gates: Vec<f32> = (0..4 * hidden)
            .map(|k| (k as f32 * 0.77).sin() * 9.0)
            .collect();
        let prev: Vec<f32> = (0..hidden).map(|k| (k as f32 * 1.3).cos() * 3.0).collect();
        for c_prev in [None, Some(prev.as_slice())] {
            let (mut c, mut h) = (vec![0.0; hidden], vec![0.0; hidden]);
            let (mut c_any, mut h_any) = (vec![0.0; hidden], vec![0.0; hidden]);
            cell_row(&gates, c_prev, &mut c, &mut h);
            cell_row_any(&gates, c_prev, &mut c_any, &mut h_any);
            assert_eq!((c, h), (c_any, h_any));
        }
        let mut row = gates.clone();
        let mut row_any = gates;
        log_softmax(&mut row);
        log_softmax_any(&mut row_any);
        assert_eq!(row, row_any);
    }

    #[test]
    fn log_softmax_sums_to_one() {
        let mut row = [1.0f32, -2.0, 0.5, 30.0, -30.0];
        log_softmax(&mut row);
        let total: f64 = row.iter().map(|&v| f64::from(v).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "{row:?}");
        assert!(row.iter().all(|v| *v <= 0.0));
    }
}
