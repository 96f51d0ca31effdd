//! Ordering a block's records by key before it is compressed: neighbouring keys (and
//! often their values) share bytes, so a sorted block compresses far better than one
//! in hash-table order.
//!
//! Each record is sorted by an 8-byte word of its key, taken just past the bytes every
//! key of the block shares, with a least-significant-digit radix sort that skips the
//! bytes all words share; records whose words are equal are then ordered by their
//! whole keys. The result is exactly the keys' byte order.

use crate::checkpoint::format::record_key;

/// A key's first 16 bytes as a big-endian number, zero-padded: taken when a record is
/// pushed (its key is in cache then). Zero padding never orders two keys against their
/// byte order: where heads differ, so do the keys, the same way (a key that ends early
/// is a prefix of the other, so it sorts first).
pub fn key_head(key: &[u8]) -> u128 {
    let mut head = [0u8; 16];
    let n = key.len().min(16);
    head[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(head)
}

/// A record being sorted: its sort word and where it lies in the raw block.
#[derive(Clone, Copy, Default)]
struct SortKey {
    word: u64,
    start: u32,
    end: u32,
}

/// Sorts blocks, reusing its buffers from one block to the next.
#[derive(Default)]
pub struct BlockSorter {
    order: Vec<SortKey>,
    spare: Vec<SortKey>,
}

impl BlockSorter {
    /// The bytes its buffers hold on to.
    pub fn capacity_bytes(&self) -> usize {
        (self.order.capacity() + self.spare.capacity()) * std::mem::size_of::<SortKey>()
    }

    /// Writes the records of `raw` (which start at `starts`, with key heads `heads`)
    /// into `out` in key order.
    pub fn sort_into(&mut self, raw: &[u8], starts: &[u32], heads: &[u128], out: &mut Vec<u8>) {
        // The leading bytes all heads share (at most 8), which the words skip.
        let first = heads.first().copied().unwrap_or(0);
        let same_bits = heads.iter().map(|h| (h ^ first).leading_zeros()).min();
        let skip = (same_bits.unwrap_or(0) / 8).min(8);
        self.order.clear();
        self.order.extend(
            starts
                .iter()
                .zip(heads)
                .enumerate()
                .map(|(i, (&start, &head))| SortKey {
                    word: ((head << (8 * skip)) >> 64) as u64,
                    start,
                    end: starts.get(i + 1).map_or(raw.len() as u32, |&e| e),
                }),
        );
        radix_sort(&mut self.order, &mut self.spare);
        order_ties_by_key(&mut self.order, raw);
        out.clear();
        out.reserve_exact(raw.len());
        for k in &self.order {
            out.extend_from_slice(&raw[k.start as usize..k.end as usize]);
        }
    }
}

/// Stable LSD radix sort by `word`, one byte per pass; a byte that is the same in
/// every word needs no pass.
fn radix_sort(v: &mut Vec<SortKey>, spare: &mut Vec<SortKey>) {
    let n = v.len();
    let mut counts = [[0u32; 256]; 8];
    for k in v.iter() {
        for (byte, count) in counts.iter_mut().enumerate() {
            count[(k.word >> (8 * byte)) as usize & 0xff] += 1;
        }
    }
    spare.clear();
    spare.resize(n, SortKey::default());
    for (byte, count) in counts.iter().enumerate() {
        if count.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut next = [0u32; 256];
        let mut sum = 0;
        for (slot, &c) in next.iter_mut().zip(count) {
            *slot = sum;
            sum += c;
        }
        for k in v.iter() {
            let digit = (k.word >> (8 * byte)) as usize & 0xff;
            spare[next[digit] as usize] = *k;
            next[digit] += 1;
        }
        std::mem::swap(v, spare);
    }
}

/// Orders each run of equal words by the records' whole keys.
fn order_ties_by_key(v: &mut [SortKey], raw: &[u8]) {
    let key = |k: &SortKey| record_key(raw, k.start as usize);
    let mut i = 0;
    while i < v.len() {
        let word = v[i].word;
        let run = v[i..].iter().take_while(|k| k.word == word).count();
        if run > 1 {
            v[i..i + run].sort_unstable_by(|x, y| key(x).cmp(key(y)));
        }
        i += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::format::{decode_records, Record};
    use proptest::prelude::*;

    fn sorted_keys(keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let (mut raw, mut starts, mut heads) = (Vec::new(), Vec::new(), Vec::new());
        for (i, key) in keys.iter().enumerate() {
            starts.push(raw.len() as u32);
            heads.push(key_head(key));
            let value = i.to_le_bytes();
            Record::Put {
                key,
                expires_at: (i % 2) as u64 * 7,
                value: &value,
            }
            .encode_into(&mut raw);
        }
        let mut out = Vec::new();
        BlockSorter::default().sort_into(&raw, &starts, &heads, &mut out);
        assert_eq!(out.len(), raw.len());
        let mut got = Vec::new();
        let n = decode_records(&out, |r| {
            if let Record::Put { key, .. } = r {
                got.push(key.to_vec());
            }
            Ok(())
        });
        assert_eq!(n.ok(), Some(keys.len() as u64));
        got
    }

    #[test]
    fn shared_prefixes_and_lengths_sort_as_bytes() {
        let keys: Vec<Vec<u8>> = [
            "user:0000000012",
            "user:00000000123",
            "user:0000000012\0",
            "user:000000001",
            "user:00000000120000000001",
            "user:00000000120000000000",
            "user:",
            "user:\u{ff}",
        ]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .collect();
        let mut expected = keys.clone();
        expected.sort();
        assert_eq!(sorted_keys(&keys), expected);
    }

    proptest! {
        #[test]
        fn a_sorted_block_holds_the_same_records_in_key_order(
            prefix in proptest::collection::vec(any::<u8>(), 0..20),
            tails in proptest::collection::btree_set(
                proptest::collection::vec(prop_oneof![0u8..4, any::<u8>()], 0..12),
                1..300,
            ),
        ) {
            let keys: Vec<Vec<u8>> = tails
                .iter()
                .rev()
                .map(|t| [prefix.as_slice(), t].concat())
                .filter(|k| !k.is_empty())
                .collect();
            let mut expected = keys.clone();
            expected.sort();
            prop_assert_eq!(sorted_keys(&keys), expected);
        }
    }
}
