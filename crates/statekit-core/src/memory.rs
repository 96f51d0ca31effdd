//! The in-memory tier: a sharded concurrent hash map (DashMap) from key bytes to a
//! value with an absolute expiry.
//!
//! Reads check expiry, so an expired entry is never returned even before a sweep
//! removes it. No map guard is held while doing another map operation.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use dashmap::DashMap;
use xxhash_rust::xxh3::Xxh3Builder;

use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::limits::{check_key, check_value};
use crate::range::KeyRange;
use crate::stats::{Counters, StatsSnapshot};
use crate::ttl::{is_expired, Ttl, NEVER};

/// Bytes counted per entry on top of its key and value: the hash-table slot, its
/// control byte at the table's load factor, and the allocator's headers of the key and
/// value allocations. An estimate, so that `memoryBytes` tracks real usage.
pub const ENTRY_OVERHEAD: u64 = 96;

/// One stored value and when it expires ([`NEVER`] for no expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Box<[u8]>,
    pub expires_at: u64,
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct PutEntry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub ttl: Ttl,
}

/// The in-memory tier.
pub struct MemoryTier {
    map: DashMap<Box<[u8]>, Entry, Xxh3Builder>,
    default_ttl: Ttl,
    clock: Arc<dyn Clock>,
    counters: Counters,
    memory_bytes: AtomicU64,
}

impl std::fmt::Debug for MemoryTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTier")
            .field("entries", &self.map.len())
            .field("default_ttl", &self.default_ttl)
            .finish()
    }
}

fn entry_size(key_len: usize, value_len: usize) -> u64 {
    key_len as u64 + value_len as u64 + ENTRY_OVERHEAD
}

impl MemoryTier {
    /// A tier on the system clock with this default TTL.
    pub fn new(default_ttl: Ttl) -> Self {
        Self::with_clock(default_ttl, Arc::new(SystemClock))
    }

    /// A tier on the given clock (tests advance a [`crate::clock::ManualClock`]).
    pub fn with_clock(default_ttl: Ttl, clock: Arc<dyn Clock>) -> Self {
        let seed = RandomState::new().build_hasher().finish();
        MemoryTier {
            map: DashMap::with_hasher(Xxh3Builder::new().with_seed(seed)),
            default_ttl: match default_ttl {
                Ttl::Default => Ttl::Never,
                t => t,
            },
            clock,
            counters: Counters::default(),
            memory_bytes: AtomicU64::new(0),
        }
    }

    /// The current time on this tier's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Calls `f` with the live value of `key`, counting a hit or a miss. The map's read
    /// guard is held while `f` runs: `f` must not touch the map.
    #[inline]
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        check_key(key)?;
        let found = self.peek_with(key, f);
        match found {
            Some(_) => self.counters.hit(),
            None => self.counters.miss(),
        }
        Ok(found)
    }

    /// Like [`MemoryTier::get_with`], but not counted as a get (iteration, export).
    #[inline]
    pub fn peek_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if let Some(entry) = self.map.get(key) {
            if entry.expires_at == NEVER || !is_expired(entry.expires_at, self.now_ms()) {
                return Some(f(&entry.value));
            }
        } else {
            return None;
        }
        self.remove_if_expired(key);
        None
    }

    /// A copy of the live value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, |v| v.to_vec())
    }

    /// Whether `key` has a live value. Not counted as a get.
    pub fn has(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        let expired = match self.map.get(key) {
            None => return Ok(false),
            Some(e) => is_expired(e.expires_at, self.now_ms()),
        };
        if expired {
            self.remove_if_expired(key);
        }
        Ok(!expired)
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        let expires_at = self.expiry(ttl);
        self.insert(key, value, expires_at);
        self.counters.put(1);
        Ok(())
    }

    /// Stores every entry of the batch, or none if any is invalid. All entries are
    /// written in one call; no reader on the calling thread can see part of it.
    pub fn put_many(&self, entries: &[PutEntry<'_>]) -> Result<()> {
        for e in entries {
            check_key(e.key)?;
            check_value(e.value)?;
        }
        let now = self.now_ms();
        for e in entries {
            let expires_at = e.ttl.expires_at(self.default_ttl, now);
            self.insert(e.key, e.value, expires_at);
        }
        self.counters.put(entries.len() as u64);
        Ok(())
    }

    /// Stores an entry with an absolute expiry as it is (restore, replay). An entry
    /// that has already expired is not stored; returns whether it was.
    pub fn insert_absolute(&self, key: &[u8], value: &[u8], expires_at: u64) -> Result<bool> {
        check_key(key)?;
        check_value(value)?;
        if is_expired(expires_at, self.now_ms()) {
            return Ok(false);
        }
        self.insert(key, value, expires_at);
        Ok(true)
    }

    fn expiry(&self, ttl: Ttl) -> u64 {
        match (ttl, self.default_ttl) {
            (Ttl::Never, _) | (Ttl::Default, Ttl::Never) => NEVER,
            _ => ttl.expires_at(self.default_ttl, self.now_ms()),
        }
    }

    fn insert(&self, key: &[u8], value: &[u8], expires_at: u64) {
        let entry = Entry {
            value: value.into(),
            expires_at,
        };
        let added = entry_size(key.len(), value.len());
        let old = match self.map.get_mut(key) {
            // Overwrite in place: no new key allocation.
            Some(mut slot) => Some(std::mem::replace(&mut *slot, entry)),
            None => self.map.insert(key.into(), entry),
        };
        self.memory_bytes.fetch_add(added, Relaxed);
        if let Some(old) = old {
            self.memory_bytes
                .fetch_sub(entry_size(key.len(), old.value.len()), Relaxed);
        }
    }

    /// Removes `key`; returns whether a live entry was removed.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self.remove(key))
    }

    fn remove(&self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            None => false,
            Some((k, e)) => {
                self.memory_bytes
                    .fetch_sub(entry_size(k.len(), e.value.len()), Relaxed);
                if is_expired(e.expires_at, self.now_ms()) {
                    self.counters.expired(1);
                    false
                } else {
                    self.counters.delete(1);
                    true
                }
            }
        }
    }

    /// Removes every key, or none if any key is invalid; returns for each whether a
    /// live entry was removed.
    pub fn delete_many(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        for k in keys {
            check_key(k)?;
        }
        Ok(keys.iter().map(|k| self.remove(k)).collect())
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.map.clear();
        self.memory_bytes.store(0, Relaxed);
    }

    fn remove_if_expired(&self, key: &[u8]) -> bool {
        let now = self.now_ms();
        match self
            .map
            .remove_if(key, |_, e| is_expired(e.expires_at, now))
        {
            Some((k, e)) => {
                self.memory_bytes
                    .fetch_sub(entry_size(k.len(), e.value.len()), Relaxed);
                self.counters.expired(1);
                true
            }
            None => false,
        }
    }

    /// Removes every expired entry; returns how many. Expired keys are collected under
    /// shard read locks, then removed one by one, so readers are never stalled for a
    /// whole shard scan.
    pub fn cleanup_expired(&self) -> u64 {
        let now = self.now_ms();
        let expired: Vec<Box<[u8]>> = self
            .map
            .iter()
            .filter(|e| is_expired(e.expires_at, now))
            .map(|e| e.key().clone())
            .collect();
        expired.iter().filter(|k| self.remove_if_expired(k)).count() as u64
    }

    /// The live keys in `range`, sorted (descending when reversed), cut to its limit.
    pub fn keys_in(&self, range: &KeyRange) -> Vec<Box<[u8]>> {
        let now = self.now_ms();
        let mut keys: Vec<Box<[u8]>> = self
            .map
            .iter()
            .filter(|e| range.contains(e.key()) && !is_expired(e.expires_at, now))
            .map(|e| e.key().clone())
            .collect();
        keys.sort_unstable();
        if range.reverse {
            keys.reverse();
        }
        if let Some(limit) = range.limit {
            keys.truncate(limit);
        }
        keys
    }

    /// A copy of the live entry of `key`, with its absolute expiry.
    pub fn entry(&self, key: &[u8]) -> Option<Entry> {
        let e = self.map.get(key)?;
        if is_expired(e.expires_at, self.now_ms()) {
            return None;
        }
        Some(e.clone())
    }

    /// Number of entries held, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the tier holds no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Counters and sizes.
    pub fn stats(&self) -> StatsSnapshot {
        self.counters
            .snapshot(self.map.len() as u64, self.memory_bytes.load(Relaxed))
    }
}
