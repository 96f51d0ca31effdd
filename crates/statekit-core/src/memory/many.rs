//! Batched reads of the memory tier (the fast path's `getMany`).
//!
//! A lookup at 100K keys and more waits on memory three or four times: the table's
//! control bytes, its slot, the value. One key after another, those waits add up.
//! A batch hashes every key first, takes the read lock of each shard it reads once
//! (all of them, in ascending order, as writers take theirs), and then works as a
//! pipeline: while it copies the value of one key, the value of the key [`AHEAD`]
//! after it and the table lines of the key [`AHEAD`] after that are being loaded,
//! so the waits overlap. The clock is read once per batch, and only if an entry
//! has an expiry.
//!
//! Holding every read lock at once also makes the batch one consistent read: a
//! `put_many`, which holds all its shards' write locks, is seen whole or not at all.

use dashmap::RwLockReadGuard;

use crate::error::{Error, Result};
use crate::memory::write::{eq_key, prefetch_slot, ShardSet, ShardTable, AHEAD};
use crate::memory::{MemoryTier, SHARDS};
use crate::prefetch::prefetch;
use crate::store::Copied;
use crate::ttl::{is_expired, NEVER};

impl MemoryTier {
    /// Reads `count` keys packed in `keys`, each a 2-byte little-endian length and its
    /// bytes. Writes to `out` one 4-byte little-endian length per key (-1 for a miss),
    /// then the values end to end, and returns the values' total bytes; `TooBig`, with
    /// nothing counted, if they do not fit. Key sizes are the caller's to check.
    pub fn get_many_into(&self, keys: &[u8], count: usize, out: &mut [u8]) -> Result<Copied> {
        let head = count.checked_mul(4).filter(|&h| h <= out.len());
        let Some(head) = head else {
            return Ok(Copied::TooBig);
        };
        let (lens, values) = out.split_at_mut(head);
        let bad = || Error::invalid_arg("packed keys are shorter than their count");
        let mut located: Vec<(&[u8], u64, usize)> = Vec::with_capacity(count);
        let mut set = ShardSet::default();
        let mut kpos = 0usize;
        for _ in 0..count {
            let len = keys.get(kpos..kpos + 2).ok_or_else(bad)?;
            let len = u16::from_le_bytes([len[0], len[1]]) as usize;
            let key = keys.get(kpos + 2..kpos + 2 + len).ok_or_else(bad)?;
            kpos += 2 + len;
            let (hash, shard) = self.locate(key);
            set.insert(shard);
            located.push((key, hash, shard));
        }

        let shards = self.map.shards();
        let mut slot = [0u16; SHARDS];
        let mut guards: Vec<RwLockReadGuard<'_, ShardTable>> = Vec::with_capacity(set.len());
        for s in set.iter() {
            slot[s] = guards.len() as u16;
            guards.push(shards[s].read());
        }
        let table = |s: usize| -> &ShardTable { &guards[slot[s] as usize] };

        let mut now = None;
        let mut expired: Vec<&[u8]> = Vec::new();
        let mut found: Vec<Option<&[u8]>> = Vec::with_capacity(count);
        let (mut vpos, mut hits, mut misses) = (0usize, 0u64, 0u64);
        let mut fits = true;
        for &(_, hash, s) in located.iter().take(AHEAD) {
            prefetch_slot(table(s), hash);
        }
        for i in 0..count + AHEAD {
            if let Some(&(key, hash, s)) = located.get(i) {
                if let Some(&(_, h, s2)) = located.get(i + AHEAD) {
                    prefetch_slot(table(s2), h);
                }
                let value = table(s).get(hash, eq_key(key)).and_then(|(_, e)| {
                    let e = e.get();
                    let v = e.value.as_deref()?;
                    if e.expires_at != NEVER
                        && is_expired(e.expires_at, *now.get_or_insert_with(|| self.now_ms()))
                    {
                        expired.push(key);
                        return None;
                    }
                    prefetch(v);
                    Some(v)
                });
                found.push(value);
            }
            let Some(j) = i.checked_sub(AHEAD) else {
                continue;
            };
            let n = match found[j] {
                Some(v) => {
                    let Some(dst) = values.get_mut(vpos..vpos + v.len()) else {
                        fits = false;
                        break;
                    };
                    dst.copy_from_slice(v);
                    vpos += v.len();
                    hits += 1;
                    v.len() as i32
                }
                None => {
                    misses += 1;
                    -1
                }
            };
            lens[j * 4..j * 4 + 4].copy_from_slice(&n.to_le_bytes());
        }
        drop(found);
        drop(guards);
        // Expired entries go once no lock is held (their removal takes a write lock).
        for key in expired {
            self.remove_if_expired(key);
        }
        if !fits {
            return Ok(Copied::TooBig);
        }
        self.record_gets(hits, misses);
        Ok(Copied::Bytes(vpos))
    }
}
