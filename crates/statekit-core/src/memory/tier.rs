//! The in-memory tier: a sharded concurrent hash map (DashMap) from key bytes to a
//! value with an absolute expiry.
//!
//! Reads check expiry, so an expired entry is never returned even before a sweep
//! removes it. Every write takes a version from a counter; while a checkpoint runs,
//! a write that would overwrite or delete a value older than the checkpoint's cut
//! first moves it aside into the entry (copy-on-write, as Flink's
//! CopyOnWriteStateMap does), and a delete leaves a tombstone, so the checkpoint
//! reads the state as it was at the cut while writers go on unblocked.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;

use crate::changelog::ChangeLog;
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::limits::check_key;
use crate::memory::key_bytes::KeyBytes;
use crate::memory::key_hash::KeyHashBuilder;
use crate::memory::snapshot::SnapshotState;
use crate::memory::write::{eq_key, prefetch_slot};
use crate::range::KeyRange;
use crate::stats::{Counters, StatsSnapshot};
use crate::ttl::{is_expired, Ttl};

/// Bytes counted per entry on top of its key and value: the hash-table slot, its
/// control byte at the table's load factor, and the allocator's headers of the key and
/// value allocations. An estimate, so that `memoryBytes` tracks real usage: the
/// `entry_overhead` example measured 133 to 137 bytes of resident memory per entry
/// beyond its key and value (16-byte keys, 16- and 100-byte values, 0.5M to 2M entries).
pub const ENTRY_OVERHEAD: u64 = 136;

/// Shards of the map: many, so a checkpoint holds each shard's read lock only briefly.
pub const SHARDS: usize = 256;

/// The value an entry had at a running checkpoint's cut, kept while it runs.
#[derive(Debug)]
pub(crate) struct Prev {
    /// The cut it belongs to.
    pub cut: u64,
    pub value: Box<[u8]>,
    pub expires_at: u64,
    pub version: u64,
}

/// One slot of the map.
#[derive(Debug)]
pub(crate) struct Entry {
    /// `None`: a tombstone, kept only while a checkpoint needs its `prev`.
    pub value: Option<Box<[u8]>>,
    pub expires_at: u64,
    pub version: u64,
    pub prev: Option<Box<Prev>>,
}

impl Entry {
    #[inline]
    fn live_at(&self, now_ms: u64) -> Option<&[u8]> {
        match &self.value {
            Some(v) if !is_expired(self.expires_at, now_ms) => Some(v),
            _ => None,
        }
    }

    /// Keeps the value of the cut aside before it is overwritten or deleted.
    pub(super) fn preserve(&mut self, cut: u64) {
        if self.prev.as_ref().is_some_and(|p| p.cut != cut) {
            self.prev = None;
        }
        if cut != 0 && self.version < cut && self.prev.is_none() {
            if let Some(value) = self.value.take() {
                self.prev = Some(Box::new(Prev {
                    cut,
                    value,
                    expires_at: self.expires_at,
                    version: self.version,
                }));
            }
        }
    }

    /// Whether a running checkpoint with this cut still needs this slot.
    pub(super) fn needed_by(&self, cut: u64) -> bool {
        cut != 0
            && ((self.version < cut && self.value.is_some())
                || self.prev.as_ref().is_some_and(|p| p.cut == cut))
    }
}

/// The in-memory tier.
pub struct MemoryTier {
    pub(crate) map: DashMap<KeyBytes, Entry, KeyHashBuilder>,
    pub(super) default_ttl: Ttl,
    pub(super) clock: Arc<dyn Clock>,
    pub(crate) counters: Counters,
    pub(super) memory_bytes: AtomicU64,
    pub(super) tombstones: AtomicU64,
    /// The version counter: every write takes the next one.
    pub(crate) seq: AtomicU64,
    pub(crate) snapshot: SnapshotState,
    /// The seed of the map's hasher: a restore builds its tier aside with the same one,
    /// so that the built shards can be switched into this tier as they are.
    seed: u64,
    /// How many restores have switched new data into this tier; a cursor ends when it
    /// changes.
    epoch: AtomicU64,
    /// The change log, once attached (see `logged.rs`).
    pub(crate) log: OnceLock<ChangeLog>,
}

impl std::fmt::Debug for MemoryTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTier")
            .field("entries", &self.map.len())
            .field("default_ttl", &self.default_ttl)
            .finish()
    }
}

pub(crate) fn entry_size(key_len: usize, value_len: usize) -> u64 {
    key_len as u64 + value_len as u64 + ENTRY_OVERHEAD
}

impl MemoryTier {
    /// A tier on the system clock with this default TTL.
    pub fn new(default_ttl: Ttl) -> Self {
        Self::with_clock(default_ttl, Arc::new(SystemClock))
    }

    /// A tier on the given clock (tests advance a [`crate::clock::ManualClock`]).
    pub fn with_clock(default_ttl: Ttl, clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(default_ttl, clock, 0)
    }

    /// A tier with room for `capacity` entries before its table grows (restore).
    pub fn with_capacity(default_ttl: Ttl, clock: Arc<dyn Clock>, capacity: usize) -> Self {
        let seed = RandomState::new().build_hasher().finish();
        Self::with_seed(default_ttl, clock, capacity, seed)
    }

    /// A tier whose map hashes with `seed`.
    pub(crate) fn with_seed(
        default_ttl: Ttl,
        clock: Arc<dyn Clock>,
        capacity: usize,
        seed: u64,
    ) -> Self {
        MemoryTier {
            map: DashMap::with_capacity_and_hasher_and_shard_amount(
                capacity,
                KeyHashBuilder::with_seed(seed),
                SHARDS,
            ),
            default_ttl: match default_ttl {
                Ttl::Default => Ttl::Never,
                t => t,
            },
            clock,
            counters: Counters::default(),
            memory_bytes: AtomicU64::new(0),
            tombstones: AtomicU64::new(0),
            seq: AtomicU64::new(1),
            snapshot: SnapshotState::default(),
            seed,
            epoch: AtomicU64::new(0),
            log: OnceLock::new(),
        }
    }

    /// The current time on this tier's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The tier's default TTL.
    pub fn default_ttl(&self) -> Ttl {
        self.default_ttl
    }

    /// Calls `f` with the live value of `key`, counting a hit or a miss. The map's read
    /// guard is held while `f` runs: `f` must not touch the map.
    #[inline]
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        check_key(key)?;
        let found = self.peek_with(key, f)?;
        match found {
            Some(_) => self.counters.hit(),
            None => self.counters.miss(),
        }
        Ok(found)
    }

    /// Like [`MemoryTier::get_with`], but not counted as a get (iteration, export).
    #[inline]
    ///
    /// The lookup is DashMap's, on its raw shard: with the shard's read lock held, the
    /// table's control bytes and the key's likely slot are asked for together
    /// ([`prefetch_slot`]), so at 100K keys and more their two cache misses overlap
    /// instead of following one another.
    pub fn peek_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        {
            let (hash, shard) = self.locate(key);
            let table = self.map.shards()[shard].read();
            prefetch_slot(&table, hash);
            let Some((_, entry)) = table.get(hash, eq_key(key)) else {
                return Ok(None);
            };
            let entry = entry.get();
            match &entry.value {
                None => return Ok(None),
                // The clock reads its precise time only for an expiry close to now.
                Some(v) if !self.clock.has_passed(entry.expires_at) => return Ok(Some(f(v))),
                Some(_) => {}
            }
        }
        self.remove_if_expired(key);
        Ok(None)
    }

    /// Counts gets whose lookups were done with `peek` (the fast path, which counts
    /// only once it knows the values fit its buffer).
    pub fn record_gets(&self, hits: u64, misses: u64) {
        self.counters.hits_and_misses(hits, misses);
    }

    /// A copy of the live value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, |v| v.to_vec())
    }

    /// Whether `key` has a live value. Not counted as a get.
    pub fn has(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self.peek_with(key, |_| ())?.is_some())
    }

    pub(super) fn remove_if_expired(&self, key: &[u8]) -> bool {
        let now = self.now_ms();
        let mut len = 0;
        let removed = self.map.remove_if(key, |_, e| match &e.value {
            // A running checkpoint may still need it: the next sweep takes it.
            Some(v)
                if is_expired(e.expires_at, now) && !e.needed_by(self.snapshot.active_cut()) =>
            {
                len = v.len();
                true
            }
            _ => false,
        });
        if removed.is_some() {
            self.memory_bytes
                .fetch_sub(entry_size(key.len(), len), Relaxed);
            self.counters.expired(1);
            return true;
        }
        false
    }

    /// Removes every expired entry; returns how many. Expired keys are collected under
    /// shard read locks, then removed one by one, so readers are never stalled for a
    /// whole shard scan.
    pub fn cleanup_expired(&self) -> Result<u64> {
        let now = self.now_ms();
        let expired: Vec<KeyBytes> = self
            .map
            .iter()
            .filter(|e| e.value.is_some() && is_expired(e.expires_at, now))
            .map(|e| e.key().clone())
            .collect();
        Ok(expired
            .iter()
            .filter(|k| self.remove_if_expired(k.as_slice()))
            .count() as u64)
    }

    /// The live keys in `range`, sorted (descending when reversed), cut to its limit.
    pub fn keys_in(&self, range: &KeyRange) -> Vec<Box<[u8]>> {
        let now = self.now_ms();
        let mut keys: Vec<Box<[u8]>> = self
            .map
            .iter()
            .filter(|e| range.contains(e.key().as_slice()) && e.live_at(now).is_some())
            .map(|e| Box::<[u8]>::from(e.key().as_slice()))
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

    /// Number of entries held, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.map.len() - self.tombstones.load(Relaxed) as usize
    }

    /// Whether the tier holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and sizes.
    pub fn stats(&self) -> StatsSnapshot {
        self.counters
            .snapshot(self.len() as u64, self.memory_bytes.load(Relaxed))
    }

    /// Drops what the checkpoint with this cut kept: tombstones and moved-aside values.
    pub(crate) fn release_snapshot(&self, cut: u64) {
        // Only a write whose version is above the cut keeps anything aside for it (see
        // `cut_for`; a clear also leaves tombstones), so if no version was taken after
        // the cut and no tombstone is left, there is nothing to drop.
        if self.seq.load(SeqCst) == cut + 1 && self.tombstones.load(SeqCst) == 0 {
            return;
        }
        let mut dropped = 0u64;
        self.map.retain(|_, e| {
            if e.prev.as_ref().is_some_and(|p| p.cut == cut) {
                e.prev = None;
            }
            if e.value.is_none() && !e.needed_by(self.snapshot.active_cut()) {
                dropped += 1;
                return false;
            }
            true
        });
        self.tombstones.fetch_sub(dropped, Relaxed);
    }
}

impl MemoryTier {
    /// How many restores have switched new data into this tier.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(SeqCst)
    }

    /// Counts a restore switched in.
    pub(super) fn bump_epoch(&self) {
        self.epoch.fetch_add(1, SeqCst);
    }

    /// The seed of the map's hasher.
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// The tier's clock.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }
}

/// Restores fill a fresh tier from several threads (see [`crate::memory::bulk`]).
impl MemoryTier {
    /// Sets the bytes the entries hold, once a restore has filled the tier.
    pub(crate) fn set_memory_bytes(&self, bytes: u64) {
        self.memory_bytes.store(bytes, Relaxed);
    }
}

impl crate::cleanup::Sweep for MemoryTier {
    fn sweep(&self) -> u64 {
        self.cleanup_expired().unwrap_or(0)
    }
}
