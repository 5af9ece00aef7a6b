//! A hash map for the monitor's integer keys (inodes, cookies, pids).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Keys here are kernel-assigned integers, not attacker-chosen strings: a multiply-and-fold
/// spreads them well at a fraction of SipHash's cost, which shows at 100,000 sockets.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let product = u128::from(self.0 ^ n) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn sequential_keys_spread_over_the_low_bits() {
        let build = BuildHasherDefault::<IntHasher>::default();
        let buckets: std::collections::HashSet<u64> =
            (1000..1064u64).map(|n| build.hash_one(n) & 63).collect();
        assert!(buckets.len() > 32, "{} of 64 buckets used", buckets.len());
    }
}
