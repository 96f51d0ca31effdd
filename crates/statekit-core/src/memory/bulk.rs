//! Filling a fresh memory tier from checkpoint records, from several threads at once.
//!
//! A restore builds its tier aside, where nothing else reads or writes it, so it can
//! skip what a live write pays for: each key is hashed once, a block's records are
//! grouped by shard (a stable counting sort, so the records of one key keep their
//! order) and each shard's lock is taken once per group, every record takes the same
//! version, and sizes are summed per shard instead of on shared counters.

use std::hash::BuildHasher;

use dashmap::SharedValue;

use crate::checkpoint::format::{decode_records, Record};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::{check_key, check_value};
use crate::memory::key_bytes::KeyBytes;
use crate::memory::write::ShardTable;
use crate::memory::{entry_size, Entry, MemoryTier, SHARDS};
use crate::ttl::is_expired;

/// Which records of a block a loader stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Share {
    /// Every record: the blocks themselves are split between the threads.
    All,
    /// Only the keys of the shards whose index is `part` modulo `parts`.
    Shards { part: usize, parts: usize },
}

impl Share {
    fn owns(self, shard: usize) -> bool {
        match self {
            Share::All => true,
            Share::Shards { part, parts } => shard % parts == part,
        }
    }
}

/// A record waiting for its shard's lock.
#[derive(Clone, Copy)]
struct Pending<'a> {
    hash: u64,
    shard: u16,
    record: Record<'a>,
}

/// One thread's part of a restore into `tier`.
pub(crate) struct BulkLoader<'t> {
    tier: &'t MemoryTier,
    share: Share,
    version: u64,
    now_ms: u64,
    /// Bytes held per shard, by this loader's records.
    bytes: Vec<u64>,
    /// The shards this loader has stored into since it last emptied them: the tier is
    /// built aside and a shard is written by one loader only, so the rest are empty.
    touched: Vec<bool>,
    /// Puts that had expired by `now_ms`.
    pub expired: u64,
    /// Removal markers this loader left (see `forget`).
    pub markers: u64,
    /// The blocks being loaded are a full checkpoint's.
    full: bool,
}

impl<'t> BulkLoader<'t> {
    /// A loader whose records all take `version` and expire against `now_ms`.
    pub fn new(tier: &'t MemoryTier, share: Share, version: u64, now_ms: u64) -> Self {
        BulkLoader {
            tier,
            share,
            version,
            now_ms,
            bytes: vec![0; SHARDS],
            touched: vec![false; SHARDS],
            expired: 0,
            markers: 0,
            full: false,
        }
    }

    /// Whether the next blocks are a full checkpoint's (which may hold only puts).
    pub fn set_full(&mut self, full: bool) {
        self.full = full;
    }

    /// The version the records of the next block take.
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// Whether the slot holds a record of a later block than this loader's (another
    /// thread got there first): it wins.
    fn is_newer(&self, bucket: &hashbrown::raw::Bucket<(KeyBytes, SharedValue<Entry>)>) -> bool {
        // SAFETY: the caller found the bucket in a table whose write lock it holds.
        unsafe { bucket.as_ref() }.1.get().version > self.version
    }

    /// Removes `key` (an expired put, or a tombstone in a chain). When the blocks are
    /// split between threads, an earlier block's put of the key may still come from
    /// the other thread, so the removal is kept as a marker with this block's version
    /// (an entry without a value) that such a put does not overwrite; the restore
    /// drops the markers once every block is in.
    fn forget(&mut self, table: &mut ShardTable, shard: usize, hash: u64, key: &[u8]) {
        let eq = |(k, _): &(KeyBytes, SharedValue<Entry>)| k.as_slice() == key;
        let marker = || Entry {
            value: None,
            expires_at: 0,
            version: 0,
            prev: None,
        };
        match table.find(hash, eq) {
            Some(bucket) if self.is_newer(&bucket) => {}
            Some(bucket) if self.share == Share::All => {
                // SAFETY: found in `table`, whose write lock is held.
                let slot = unsafe { bucket.as_mut() }.1.get_mut();
                let old = std::mem::replace(
                    slot,
                    Entry {
                        version: self.version,
                        ..marker()
                    },
                );
                self.bytes[shard] = self.bytes[shard].wrapping_sub(old_size(key, &old));
                if old.value.is_some() {
                    self.markers += 1;
                }
            }
            Some(bucket) => {
                // SAFETY: found in `table`, whose write lock is held; not used after.
                let ((_, old), _) = unsafe { table.remove(bucket) };
                self.bytes[shard] = self.bytes[shard].wrapping_sub(old_size(key, old.get()));
            }
            None if self.share == Share::All => {
                let entry = Entry {
                    version: self.version,
                    ..marker()
                };
                let map = &self.tier.map;
                table.insert(hash, (key.into(), SharedValue::new(entry)), |(k, _)| {
                    map.hasher().hash_one(k)
                });
                self.markers += 1;
            }
            None => {}
        }
    }

    /// The bytes this loader's entries hold. Per shard, a count can go below zero
    /// (wrapping) when another thread stored the value this one replaced; the totals of
    /// all loaders together are exact.
    pub fn bytes(&self) -> u64 {
        self.bytes.iter().fold(0u64, |sum, b| sum.wrapping_add(*b))
    }

    /// Stores this loader's share of one raw block's records, in order; returns how
    /// many records the block held. A bad key or value is an error, as in any write.
    pub fn load_block(&mut self, raw: &[u8]) -> Result<u64> {
        let mut pending: Vec<Pending<'_>> = Vec::new();
        let n = decode_records(raw, |record| {
            if self.full && !matches!(record, Record::Put { .. }) {
                // A full checkpoint holds nothing but puts (docs/checkpoint-format.md).
                return Err(Error::new(
                    ErrorCode::Corrupt,
                    "a full checkpoint holds a tombstone or clear record",
                ));
            }
            let key = match record {
                Record::Clear => {
                    self.apply(&mut pending)?;
                    self.clear_own_shards();
                    return Ok(());
                }
                Record::Put { key, value, .. } => {
                    check_value(value)?;
                    key
                }
                Record::Tombstone { key } => key,
            };
            check_key(key)?;
            // The map's own 64-bit hash of the key, as its lookups compute it.
            let hash = self.tier.map.hasher().hash_one(key);
            let shard = self.tier.map.determine_shard(hash as usize);
            if self.share.owns(shard) {
                pending.push(Pending {
                    hash,
                    shard: shard as u16,
                    record,
                });
            }
            Ok(())
        })?;
        self.apply(&mut pending)?;
        Ok(n)
    }

    /// Empties this loader's shards (a clear record in a chain). Only the shards it
    /// has stored into are locked: a chain of many clears costs no more than its puts.
    fn clear_own_shards(&mut self) {
        for (i, shard) in self.tier.map.shards().iter().enumerate() {
            if std::mem::take(&mut self.touched[i]) {
                shard.write().clear();
                self.bytes[i] = 0;
            }
        }
    }

    /// Stores the pending records shard by shard, in their order within each shard.
    fn apply(&mut self, pending: &mut Vec<Pending<'_>>) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut starts = vec![0usize; SHARDS + 1];
        for p in pending.iter() {
            starts[p.shard as usize + 1] += 1;
        }
        for i in 0..SHARDS {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut ordered = vec![pending[0]; pending.len()];
        for p in pending.iter() {
            let at = &mut next[p.shard as usize];
            ordered[*at] = *p;
            *at += 1;
        }
        pending.clear();
        let shards = self.tier.map.shards();
        for shard in 0..SHARDS {
            let group = &ordered[starts[shard]..starts[shard + 1]];
            if group.is_empty() {
                continue;
            }
            self.touched[shard] = true;
            let mut table = shards[shard].write();
            for p in group {
                self.store(&mut table, shard, p)?;
            }
        }
        Ok(())
    }

    fn store(&mut self, table: &mut ShardTable, shard: usize, p: &Pending<'_>) -> Result<()> {
        let (key, put) = match p.record {
            Record::Put {
                key,
                expires_at,
                value,
            } => {
                if is_expired(expires_at, self.now_ms) {
                    self.expired += 1;
                    (key, None)
                } else {
                    (key, Some((expires_at, value)))
                }
            }
            Record::Tombstone { key } => (key, None),
            Record::Clear => return Ok(()),
        };
        let eq = |(k, _): &(KeyBytes, SharedValue<Entry>)| k.as_slice() == key;
        let Some((expires_at, value)) = put else {
            self.forget(table, shard, p.hash, key);
            return Ok(());
        };
        let added = entry_size(key.len(), value.len());
        let entry = Entry {
            value: Some(value.into()),
            expires_at,
            version: self.version,
            prev: None,
        };
        match table.find(p.hash, eq) {
            Some(bucket) if self.is_newer(&bucket) => return Ok(()),
            Some(bucket) => {
                // SAFETY: the bucket was just found in `table`, whose write lock is
                // held, so it is valid and no one else refers to it.
                let (_, slot) = unsafe { bucket.as_mut() };
                let old = std::mem::replace(slot.get_mut(), entry);
                self.bytes[shard] = self.bytes[shard].wrapping_add(added);
                self.bytes[shard] = self.bytes[shard].wrapping_sub(old_size(key, &old));
            }
            None => {
                self.bytes[shard] = self.bytes[shard].wrapping_add(added);
                let map = &self.tier.map;
                table.insert(p.hash, (key.into(), SharedValue::new(entry)), |(k, _)| {
                    map.hasher().hash_one(k)
                });
            }
        }
        Ok(())
    }
}

fn old_size(key: &[u8], e: &Entry) -> u64 {
    e.value
        .as_ref()
        .map_or(0, |v| entry_size(key.len(), v.len()))
}
