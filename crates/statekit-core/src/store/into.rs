//! Reads into buffers the caller owns: the binding's shared-buffer fast path copies
//! values straight into memory JavaScript already holds, with no allocation.

use super::Store;
use crate::error::{Error, Result};

/// Where a read into a caller's buffer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// Bytes written: the value's length, or all of a batch's values.
    Bytes(usize),
    /// The key has no live value.
    Miss,
    /// The value (or a batch's values) does not fit; nothing was counted, so the caller
    /// can read it again another way.
    TooBig,
}

impl Store {
    /// Copies `key`'s live value to the start of `out`, counting a hit or a miss
    /// unless it did not fit. The key's size is the caller's to check.
    #[inline]
    pub fn get_into(&self, key: &[u8], out: &mut [u8]) -> Result<Copied> {
        let copied = self.peek_with(key, |v| match out.get_mut(..v.len()) {
            Some(dst) => {
                dst.copy_from_slice(v);
                Copied::Bytes(v.len())
            }
            None => Copied::TooBig,
        })?;
        match copied {
            Some(Copied::TooBig) => return Ok(Copied::TooBig),
            Some(_) => self.record_gets(1, 0),
            None => self.record_gets(0, 1),
        }
        Ok(copied.unwrap_or(Copied::Miss))
    }

    /// Reads `count` keys packed in `keys`, each a 2-byte little-endian length and its
    /// bytes. Writes to `out` one 4-byte little-endian length per key (-1 for a miss),
    /// then the values end to end, and returns the values' total bytes. The gets are
    /// counted only when everything fits.
    ///
    /// On the memory tier, one pass over the batch with one read lock per shard and
    /// the loads of upcoming keys overlapped (see `memory/many.rs`).
    pub fn get_many_into(&self, keys: &[u8], count: usize, out: &mut [u8]) -> Result<Copied> {
        match self {
            Store::Memory(t) => t.get_many_into(keys, count, out),
            Store::Sled(_) => self.get_many_into_each(keys, count, out),
        }
    }

    /// [`Store::get_many_into`] one key at a time.
    fn get_many_into_each(&self, keys: &[u8], count: usize, out: &mut [u8]) -> Result<Copied> {
        let head = count.checked_mul(4).filter(|&h| h <= out.len());
        let Some(head) = head else {
            return Ok(Copied::TooBig);
        };
        let (lens, values) = out.split_at_mut(head);
        let bad = || Error::invalid_arg("packed keys are shorter than their count");
        let (mut kpos, mut vpos) = (0usize, 0usize);
        let (mut hits, mut misses) = (0u64, 0u64);
        for i in 0..count {
            let len = keys.get(kpos..kpos + 2).ok_or_else(bad)?;
            let len = u16::from_le_bytes([len[0], len[1]]) as usize;
            let key = keys.get(kpos + 2..kpos + 2 + len).ok_or_else(bad)?;
            kpos += 2 + len;
            let found = self.peek_with(key, |v| {
                let dst = values.get_mut(vpos..vpos + v.len())?;
                dst.copy_from_slice(v);
                Some(v.len())
            })?;
            let n = match found {
                Some(None) => return Ok(Copied::TooBig),
                Some(Some(n)) => {
                    hits += 1;
                    vpos += n;
                    n as i32
                }
                None => {
                    misses += 1;
                    -1
                }
            };
            lens[i * 4..i * 4 + 4].copy_from_slice(&n.to_le_bytes());
        }
        self.record_gets(hits, misses);
        Ok(Copied::Bytes(vpos))
    }
}
