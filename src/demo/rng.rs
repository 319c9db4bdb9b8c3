//! A tiny deterministic PRNG (SplitMix64, Steele et al. 2014) so the demo dataset is the same on every run.
//!
//! Each part of the dataset draws from its own stream ([`Rng::stream`]), so changing how roads are drawn does
//! not reshuffle every site, observation and photo that follows.

use uuid::Uuid;

/// The constant every stream derives from.
pub const SEED: u64 = 0x2026_0582_D1A0_5EED;

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// An independent stream for one part of the dataset, named so the seed reads as what it is for.
    pub fn stream(name: &str) -> Self {
        // FNV-1a of the name, mixed into the constant seed.
        let hash =
            name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        let mut rng = Rng(SEED ^ hash);
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi] (both included).
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn index(&mut self, len: usize) -> usize {
        debug_assert!(len > 0);
        (self.next_u64() % len as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Picks by integer weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.next_u64() % total;
        for (item, weight) in items {
            if roll < u64::from(*weight) {
                return item;
            }
            roll -= u64::from(*weight);
        }
        unreachable!("the roll is below the total weight")
    }

    /// Up to `n` distinct items, by weight, in the order drawn.
    pub fn weighted_distinct<T: Copy + PartialEq>(&mut self, items: &[(T, u32)], n: usize) -> Vec<T> {
        let mut left: Vec<(T, u32)> = items.to_vec();
        let mut out = Vec::with_capacity(n);
        while out.len() < n && !left.is_empty() {
            let chosen = *self.weighted(&left);
            out.push(chosen);
            left.retain(|(item, _)| *item != chosen);
        }
        out
    }

    /// A random (version 4) UUID, as a phone would make one.
    pub fn uuid(&mut self) -> Uuid {
        let mut bytes = [0_u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream("roads").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream("roads").next_u64(), Rng::stream("sites").next_u64());
    }

    #[test]
    fn ranges_hold() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let x = rng.range(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&x));
            let i = rng.int(3, 5);
            assert!((3..=5).contains(&i));
        }
        assert_eq!(rng.uuid().get_version_num(), 4);
    }
}
