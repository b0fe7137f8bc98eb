//! tessera's one random generator: xoshiro256** seeded through SplitMix64, for masks,
//! initialization, shuffles and augmentations.
//!
//! Everything random must be reproducible from a seed on every platform and in `no_std`, and a
//! resumed run must see exactly the numbers it would have seen, so the generator is written out
//! here instead of borrowing an external crate whose stream could change between versions, and
//! [`Rng::for_stream`] derives independent streams from (seed, tag, position) without any state
//! carried between them. Not cryptographic.

/// xoshiro256** (Blackman & Vigna). The state is never all zero because it is filled by
/// SplitMix64, which is a bijection of its counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

/// SplitMix64's increment (the golden ratio in 64 bits).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One SplitMix64 step: advances `state` and returns the mixed output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(GOLDEN);
    mix(*state)
}

impl Rng {
    /// The generator for `seed`: four SplitMix64 outputs become the state (the seeding the
    /// xoshiro authors recommend, so nearby seeds give unrelated streams).
    pub fn seed_from_u64(seed: u64) -> Rng {
        let mut sm = seed;
        Rng {
            s: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
        }
    }

    /// The generator of one independent stream, keyed by `seed` and `parts` (a stream tag, an
    /// epoch, a step, a sample index, ...): the parts are hashed in order with SplitMix64's
    /// mixer, so `(seed, [1, 2])` and `(seed, [2, 1])` give unrelated streams.
    pub fn for_stream(seed: u64, parts: &[u64]) -> Rng {
        let mut h = mix(seed ^ GOLDEN);
        for &p in parts {
            h = mix(h.wrapping_add(GOLDEN) ^ mix(p.wrapping_add(GOLDEN)));
        }
        Rng::seed_from_u64(h)
    }

    /// A generator with an explicit state (for reference vectors); `None` for the all-zero
    /// state, from which xoshiro never leaves.
    pub fn from_state(s: [u64; 4]) -> Option<Rng> {
        if s == [0; 4] {
            None
        } else {
            Some(Rng { s })
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

    /// Uniform in [0, 1) with 53 random bits (every value is a multiple of 2^-53).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, 1) with 24 random bits, like `torch.rand`'s float32 (so never 1.0 after
    /// rounding, which taking 53 bits and casting could produce).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform integer in `0..n`, without modulo bias (Lemire's multiply-and-reject).
    ///
    /// # Panics
    /// If `n == 0` (the range is empty).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below needs a non-empty range");
        let mut m = self.next_u64() as u128 * n as u128;
        if (m as u64) < n {
            // Values of the low word below 2^64 mod n would over-represent some outputs.
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = self.next_u64() as u128 * n as u128;
            }
        }
        (m >> 64) as u64
    }

    /// Uniform index in `0..n` (see [`Rng::below`]).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `[lo, hi)` (or `[hi, lo)` when reversed), like Python's `random.uniform`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Fisher-Yates shuffle: every permutation equally likely.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_vectors() {
        // Outputs of Vigna's splitmix64.c for the seed 1234567.
        let mut state = 1_234_567u64;
        let expected = [
            6_457_827_717_110_365_317u64,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for e in expected {
            assert_eq!(splitmix64(&mut state), e);
        }
    }

    #[test]
    fn xoshiro256starstar_matches_the_reference_vectors() {
        // xoshiro256starstar.c from the state {1, 2, 3, 4}.
        let mut rng = Rng::from_state([1, 2, 3, 4]).unwrap();
        let expected = [11_520u64, 0, 1_509_978_240, 1_215_971_899_390_074_240];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
        assert!(Rng::from_state([0; 4]).is_none());
    }

    #[test]
    fn floats_stay_in_the_unit_interval_and_average_one_half() {
        let mut rng = Rng::seed_from_u64(7);
        let n = 20_000;
        let (mut s32, mut s64) = (0.0f64, 0.0f64);
        for _ in 0..n {
            let a = rng.next_f32();
            let b = rng.next_f64();
            assert!((0.0..1.0).contains(&a) && (0.0..1.0).contains(&b));
            s32 += a as f64;
            s64 += b;
        }
        // Standard error of the mean is sqrt(1/12/n) ~ 0.002: 0.01 is five of them.
        assert!((s32 / n as f64 - 0.5).abs() < 0.01);
        assert!((s64 / n as f64 - 0.5).abs() < 0.01);
    }

    #[test]
    fn bounded_integers_cover_the_range_evenly() {
        let mut rng = Rng::seed_from_u64(3);
        let mut counts = [0u32; 7];
        let n = 70_000;
        for _ in 0..n {
            counts[rng.index(7)] += 1;
        }
        // Expected 10000 each, standard deviation ~ 93: 500 is over five of them.
        for c in counts {
            assert!((c as i64 - 10_000).abs() < 500, "{counts:?}");
        }
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn streams_depend_on_every_part_and_its_order() {
        let mut a = Rng::for_stream(7, &[1, 2]);
        let mut b = Rng::for_stream(7, &[2, 1]);
        let mut c = Rng::for_stream(8, &[1, 2]);
        let first = a.next_u64();
        assert_ne!(first, b.next_u64());
        assert_ne!(first, c.next_u64());
        assert_eq!(Rng::for_stream(7, &[1, 2]).next_u64(), first);
    }

    #[test]
    fn shuffle_is_a_permutation_and_depends_on_the_seed() {
        let mut a: [u32; 32] = core::array::from_fn(|i| i as u32);
        let mut b = a;
        Rng::seed_from_u64(1).shuffle(&mut a);
        Rng::seed_from_u64(2).shuffle(&mut b);
        assert_ne!(a, b);
        let mut sorted = a;
        sorted.sort_unstable();
        assert_eq!(sorted, core::array::from_fn(|i| i as u32));
    }
}
