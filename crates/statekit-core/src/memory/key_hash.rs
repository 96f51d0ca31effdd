//! The memory tier's key hasher: one call of seeded xxh3 over the key's bytes.
//!
//! `xxhash_rust`'s `Xxh3Builder` builds a streaming xxh3 state for every key (about
//! 435 of the 832 instructions of a cached fast-path get, measured with callgrind);
//! a key is hashed once, whole, so a one-shot hash of the bytes does the same job.
//! A key hashes as `[u8]` does: its length (`write_usize`), then its bytes (`write`).
//! The seed is random per tier, as before, and a restore builds its tier with the
//! live tier's seed.

use std::hash::{BuildHasher, Hasher};

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Builds [`KeyHasher`]s with one seed.
#[derive(Debug, Clone, Copy)]
pub struct KeyHashBuilder {
    seed: u64,
}

impl KeyHashBuilder {
    /// A builder whose hashers start from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        KeyHashBuilder { seed }
    }
}

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.seed)
    }
}

/// Hashes each `write` with xxh3 seeded by the state so far.
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        // The length prefix of a slice: mixed into the seed of the bytes' hash.
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::key_bytes::KeyBytes;

    #[test]
    fn a_key_hashes_as_its_bytes_and_the_seed_matters() {
        let b = KeyHashBuilder::with_seed(7);
        let key: &[u8] = b"user:000000000042";
        assert_eq!(b.hash_one(key), b.hash_one(KeyBytes::from(key)));
        assert_ne!(b.hash_one(key), KeyHashBuilder::with_seed(8).hash_one(key));
        assert_ne!(b.hash_one(&b"ab"[..]), b.hash_one(&b"ba"[..]));
        // The length is part of the hash: "" and a key of zero bytes differ from "\0".
        assert_ne!(b.hash_one(&b""[..]), b.hash_one(&b"\0"[..]));
    }

    #[test]
    fn hashes_spread_over_shards_and_control_bits() {
        // DashMap picks the shard from bits 49..56 of the hash and hashbrown its
        // control byte from the top 7: both must vary across similar keys.
        let b = KeyHashBuilder::with_seed(1);
        let mut shards = std::collections::HashSet::new();
        let mut tops = std::collections::HashSet::new();
        for i in 0..20_000u32 {
            let h = b.hash_one(format!("key:{i:011}").as_bytes());
            shards.insert((h << 7) >> 56);
            tops.insert(h >> 57);
        }
        assert_eq!(shards.len(), 256);
        assert_eq!(tops.len(), 128);
    }
}
