//! What the CPU running this process can do, for kernels compiled twice: once for the
//! baseline instruction set and once for a wider one chosen at run time.
//!
//! The crate denies `unsafe` code except where such a kernel is called: calling a
//! `#[target_feature]` function is `unsafe` because the CPU must support the features,
//! which [`has_avx2_fma`] checks. The module exists on x86-64 only; elsewhere only
//! the baseline kernels are built.

/// True when the CPU supports AVX2 and FMA (every x86-64 server CPU since 2013–2015).
/// The answer is cached by the standard library after the first call.
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
}
