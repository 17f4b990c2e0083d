//! Seeded randomness and hashing: the one random number generator the models use
//! (xoshiro256** seeded through SplitMix64, identical on every platform), per-stream
//! seeds and content-derived keys.

/// SplitMix64's output function: a strong 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Derives an independent seed for stream `stream` (a tree, a restart, a partition)
/// of the master `seed`, so that any executor computes the same stream.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    mix64(seed ^ mix64(stream.wrapping_add(GOLDEN)).rotate_left(17))
}

/// The bit pattern of `v` with `-0.0` mapped to `0.0`, so equal values hash equally.
pub(crate) fn canonical_bits(v: f64) -> u64 {
    if v == 0.0 { 0 } else { v.to_bits() }
}

/// A 64-bit hash of a row's values under `seed`; equal rows (with `-0.0 == 0.0`)
/// hash equally on every platform.
pub fn hash_row(seed: u64, row: &[f64]) -> u64 {
    hash_bits(seed, row.iter().map(|&v| canonical_bits(v)))
}

pub(crate) fn hash_bits(seed: u64, bits: impl Iterator<Item = u64>) -> u64 {
    let mut h = mix64(seed ^ GOLDEN);
    let mut n = 0u64;
    for b in bits {
        h = mix64(h ^ b).wrapping_add(GOLDEN);
        n += 1;
    }
    mix64(h ^ n)
}

/// The models' one random number generator: xoshiro256** seeded through SplitMix64.
///
/// Its output depends only on the seed, on every platform and build.
#[derive(Debug, Clone)]
pub struct SeededRng {
    s: [u64; 4],
}

impl SeededRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(GOLDEN);
            mix64(sm)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform `f64` in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` without modulo bias; 0 when `n == 0`.
    pub fn gen_range(&mut self, n: usize) -> usize {
        self.gen_range_u64(n as u64) as usize
    }

    /// A uniform `u64` in `[0, n)` (Lemire's method); 0 when `n == 0`.
    pub fn gen_range_u64(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }
}
