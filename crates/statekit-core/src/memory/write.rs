//! The memory tier's writes, safe from any number of threads at once.
//!
//! A write takes its version, and reads the running checkpoint's cut, while it holds
//! the write locks of every shard it changes; a checkpoint takes its cut while it
//! holds every shard's lock (see [`crate::memory::snapshot`]). So each write falls
//! wholly before a cut (its version is below it, and it is in its shard before the
//! checkpoint's scan can read that shard) or wholly after it (its version is above,
//! and the value of the cut is kept aside). A batch holds all its shards' locks at
//! once and takes one version: a reader in any thread, and any cut, sees all of it or
//! none of it.

use std::hash::BuildHasher;
use std::sync::atomic::{Ordering::Relaxed, Ordering::SeqCst};

use dashmap::{RwLockWriteGuard, SharedValue};

use crate::batch::PutEntry;
use crate::error::Result;
use crate::limits::{check_key, check_keys, check_value};
use crate::memory::key_bytes::KeyBytes;
use crate::memory::{entry_size, Entry, MemoryTier, SHARDS};
use crate::prefetch::prefetch_ptr;
use crate::ttl::{is_expired, Ttl, NEVER};

/// The hash table inside one shard of the map.
pub(crate) type ShardTable = hashbrown::raw::RawTable<(KeyBytes, SharedValue<Entry>)>;

/// The write locks of some shards, taken in ascending shard order (so two batches
/// can never wait on each other).
pub(crate) struct Locked<'a> {
    guards: Vec<RwLockWriteGuard<'a, ShardTable>>,
    /// For each locked shard, its index in `guards` (other shards' entries are unused).
    slot: [u16; SHARDS],
}

impl<'a> Locked<'a> {
    /// Locks every shard.
    pub(crate) fn all(tier: &'a MemoryTier) -> Self {
        Self::set(tier, &ShardSet([u64::MAX; SHARDS / 64]))
    }

    /// Locks the shards of a set, in ascending order.
    fn set(tier: &'a MemoryTier, set: &ShardSet) -> Self {
        let all = tier.map.shards();
        let mut slot = [0u16; SHARDS];
        let mut guards = Vec::with_capacity(set.len());
        for s in set.iter() {
            slot[s] = guards.len() as u16;
            guards.push(all[s].write());
        }
        Locked { guards, slot }
    }

    /// The table of a locked shard.
    fn table(&mut self, shard: usize) -> &mut ShardTable {
        &mut self.guards[self.slot[shard] as usize]
    }

    /// The table of a locked shard, to look at (prefetch).
    fn table_ref(&self, shard: usize) -> &ShardTable {
        &self.guards[self.slot[shard] as usize]
    }

    /// The guards of the locked tables, in shard order.
    pub(crate) fn tables(&mut self) -> &mut [RwLockWriteGuard<'a, ShardTable>] {
        &mut self.guards
    }
}

/// A set of shards: one bit each, walked in ascending order (the order locks are
/// taken in), with no sort and no allocation.
#[derive(Default)]
pub(crate) struct ShardSet([u64; SHARDS / 64]);

impl ShardSet {
    #[inline]
    pub(crate) fn insert(&mut self, shard: usize) {
        self.0[shard / 64] |= 1 << (shard % 64);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The shards, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + bit)
            })
        })
    }
}

/// How many entries ahead of the one being stored or read a batch asks the CPU to load
/// the table lines of (see [`prefetch_slot`]): enough for the loads to overlap, few
/// enough that they are still in cache when the entry's turn comes.
pub(crate) const AHEAD: usize = 8;

/// Asks the CPU to load the lines a lookup of `hash` in `table` reads first: the
/// control bytes where its probe starts, the slot there (64 bytes, which straddle two
/// lines when the table is not line-aligned) and the next slot (the key's home when
/// its first choice was taken). At the table's load factor the key is mostly in one
/// of those two. Only a hint: it reads nothing.
#[inline(always)]
pub(crate) fn prefetch_slot(table: &ShardTable, hash: u64) {
    let pos = hash as usize & (table.buckets() - 1);
    let end = table.data_end().as_ptr();
    // `data_end` is where the control bytes start; slot `i` ends `i` slots before it.
    let ctrl = (end as *const u8).wrapping_add(pos);
    let slot = end.wrapping_sub(pos + 1) as *const u8;
    let size = std::mem::size_of::<SlotOf>();
    prefetch_ptr(ctrl);
    prefetch_ptr(slot);
    prefetch_ptr(slot.wrapping_add(size - 1));
    prefetch_ptr(slot.wrapping_sub(size));
}

type SlotOf = (KeyBytes, SharedValue<Entry>);

pub(super) fn eq_key(key: &[u8]) -> impl Fn(&(KeyBytes, SharedValue<Entry>)) -> bool + '_ {
    move |(k, _)| k.as_slice() == key
}

impl MemoryTier {
    /// The map's hash of `key` (as its lookups compute it) and the key's shard.
    #[inline]
    pub(crate) fn locate(&self, key: &[u8]) -> (u64, usize) {
        let hash = self.map.hasher().hash_one(key);
        (hash, self.map.determine_shard(hash as usize))
    }

    /// The write locks of the shards of `keys`.
    fn lock_keys<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
    ) -> (Vec<(u64, usize)>, Locked<'_>) {
        let mut set = ShardSet::default();
        let located: Vec<(u64, usize)> = keys
            .map(|k| {
                let (hash, shard) = self.locate(k);
                set.insert(shard);
                (hash, shard)
            })
            .collect();
        (located, Locked::set(self, &set))
    }

    /// The next version, and the cut of the running checkpoint that a write with it
    /// must keep the old value aside for. Called with the write's shard locks held.
    #[inline]
    fn next_version(&self) -> (u64, u64) {
        let version = self.seq.fetch_add(1, SeqCst);
        let cut = match self.snapshot.active_cut() {
            cut if cut != 0 && version > cut => cut,
            _ => 0,
        };
        (version, cut)
    }

    pub(super) fn expiry(&self, ttl: Ttl) -> u64 {
        match (ttl, self.default_ttl) {
            (Ttl::Never, _) | (Ttl::Default, Ttl::Never) => NEVER,
            _ => ttl.expires_at(self.default_ttl, self.now_ms()),
        }
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.log_check()?; // change log
        let expires_at = self.expiry(ttl);
        let (hash, shard) = self.locate(key);
        let (logged, bytes) = {
            let mut table = self.map.shards()[shard].write();
            // The control bytes and the slot load together, not one after the other.
            prefetch_slot(&table, hash);
            let (version, cut) = self.next_version();
            let bytes = self.store_in(&mut table, hash, key, value, expires_at, version, cut);
            // change log, under the shard's lock
            (self.log_put(key, value, expires_at), bytes)
        };
        self.add_bytes(bytes);
        self.counters.put(1);
        self.log_ack(logged) // change log
    }

    /// Stores `value` under `key` with an absolute expiry, without logging it (a
    /// change log being replayed).
    pub(crate) fn put_absolute(&self, key: &[u8], value: &[u8], expires_at: u64) {
        let (hash, shard) = self.locate(key);
        let bytes = {
            let mut table = self.map.shards()[shard].write();
            let (version, cut) = self.next_version();
            self.store_in(&mut table, hash, key, value, expires_at, version, cut)
        };
        self.add_bytes(bytes);
    }

    /// Adds a change of the bytes held (negative: fewer) with one atomic add.
    #[inline]
    fn add_bytes(&self, delta: i64) {
        // An overwrite with a value of the same length changes nothing: no atomic add.
        if delta != 0 {
            // Two's complement: adding the wrapped delta subtracts when it is negative.
            self.memory_bytes.fetch_add(delta as u64, Relaxed);
        }
    }

    /// Stores every entry of the batch, or none if any is invalid. The batch holds the
    /// locks of all its shards while it stores, so a reader in any thread, and any
    /// checkpoint's cut, sees all of it or none of it.
    ///
    /// Each key is hashed once; the shards are locked in ascending order (a bit set,
    /// no sort); while an entry is stored, the table lines of the entry [`AHEAD`] of it
    /// are being loaded; the bytes held are added up and counted once.
    pub fn put_many(&self, entries: &[PutEntry<'_>]) -> Result<()> {
        PutEntry::check_all(entries)?;
        self.log_check()?; // change log
        let now = self.now_ms();
        let mut located = Vec::with_capacity(entries.len());
        let mut set = ShardSet::default();
        for e in entries {
            let (hash, shard) = self.locate(e.key);
            set.insert(shard);
            located.push((hash, shard));
        }
        let logging = self.log.get().is_some(); // change log
        let (logged, bytes) = {
            let mut locked = Locked::set(self, &set);
            let (version, cut) = self.next_version();
            let mut expiries = Vec::with_capacity(if logging { entries.len() } else { 0 });
            let mut bytes = 0i64;
            for &(hash, shard) in located.iter().take(AHEAD) {
                prefetch_slot(locked.table_ref(shard), hash);
            }
            for (i, (e, &(hash, shard))) in entries.iter().zip(&located).enumerate() {
                if let Some(&(h, s)) = located.get(i + AHEAD) {
                    prefetch_slot(locked.table_ref(s), h);
                }
                let expires_at = e.ttl.expires_at(self.default_ttl, now);
                let table = locked.table(shard);
                bytes += self.store_in(table, hash, e.key, e.value, expires_at, version, cut);
                if logging {
                    expiries.push(expires_at);
                }
            }
            // change log: one record, while the batch holds all its shards' locks
            (self.log_batch(entries, &expiries), bytes)
        };
        self.add_bytes(bytes);
        self.counters.put(entries.len() as u64);
        self.log_ack(logged) // change log
    }

    /// Stores one entry into its locked shard's table; returns the change in the bytes
    /// held, for the caller to count. A value that replaces one of the same length
    /// (and that no running checkpoint needs) is copied over it, with no allocation.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn store_in(
        &self,
        table: &mut ShardTable,
        hash: u64,
        key: &[u8],
        value: &[u8],
        expires_at: u64,
        version: u64,
        cut: u64,
    ) -> i64 {
        let added = entry_size(key.len(), value.len()) as i64;
        match table.find(hash, eq_key(key)) {
            Some(bucket) => {
                // SAFETY: the bucket was just found in `table`, whose write lock the
                // caller holds, so it is valid and no one else refers to it.
                let (_, slot) = unsafe { bucket.as_mut() };
                let e = slot.get_mut();
                let old = e
                    .value
                    .as_ref()
                    .map_or(0, |v| entry_size(key.len(), v.len()) as i64);
                if e.value.is_none() {
                    self.tombstones.fetch_sub(1, Relaxed);
                }
                // A value the cut needs moves aside here, leaving `None`.
                e.preserve(cut);
                match &mut e.value {
                    Some(v) if v.len() == value.len() => v.copy_from_slice(value),
                    v => *v = Some(value.into()),
                }
                e.expires_at = expires_at;
                e.version = version;
                added - old
            }
            None => {
                let entry = Entry {
                    value: Some(value.into()),
                    expires_at,
                    version,
                    prev: None,
                };
                let hasher = self.map.hasher();
                table.insert(hash, (key.into(), SharedValue::new(entry)), |(k, _)| {
                    hasher.hash_one(k)
                });
                added
            }
        }
    }

    /// Removes `key`; returns whether a live entry was removed.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.log_check()?; // change log
        let (hash, shard) = self.locate(key);
        let now = self.now_ms();
        let (removed, logged) = {
            let mut table = self.map.shards()[shard].write();
            let removed = self.remove_in(&mut table, hash, key, now, None);
            // change log, under the shard's lock: only a delete that removed something
            let logged = removed.map_or(0, |_| self.log_delete(key));
            (removed == Some(true), logged)
        };
        self.log_ack(logged)?; // change log
        Ok(removed)
    }

    /// Removes every key, or none if any key is invalid; returns for each whether a
    /// live entry was removed. Like a `put_many`, it is seen all at once.
    pub fn delete_many(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        check_keys(keys)?;
        self.log_check()?; // change log
        let now = self.now_ms();
        let (removed, logged) = {
            let (located, mut locked) = self.lock_keys(keys.iter().copied());
            let (version, cut) = self.next_version();
            let removed: Vec<Option<bool>> = keys
                .iter()
                .zip(&located)
                .map(|(key, &(hash, shard))| {
                    self.remove_in(locked.table(shard), hash, key, now, Some((version, cut)))
                })
                .collect();
            // change log: one record of what it removed, under all its shards' locks
            let logged = self.log_deletes(keys, &removed);
            (removed, logged)
        };
        self.log_ack(logged)?; // change log
        Ok(removed.into_iter().map(|r| r == Some(true)).collect())
    }

    /// Removes `key` from its locked shard's table, leaving a tombstone if a running
    /// checkpoint needs its old value; returns `None` if it held nothing, else whether
    /// the entry removed was live. A batch passes the version it took; a single delete
    /// takes one only if the key is there.
    fn remove_in(
        &self,
        table: &mut ShardTable,
        hash: u64,
        key: &[u8],
        now: u64,
        batch: Option<(u64, u64)>,
    ) -> Option<bool> {
        let bucket = table.find(hash, eq_key(key))?;
        // SAFETY: found in `table`, whose write lock the caller holds.
        let e = unsafe { bucket.as_mut() }.1.get_mut();
        let v = e.value.as_ref()?;
        let (len, expired) = (v.len(), is_expired(e.expires_at, now));
        let (version, cut) = batch.unwrap_or_else(|| self.next_version());
        if e.needed_by(cut) {
            e.preserve(cut);
            e.value = None;
            e.version = version;
            self.tombstones.fetch_add(1, Relaxed);
        } else {
            // SAFETY: as above; the bucket is not used after it is removed.
            drop(unsafe { table.remove(bucket) });
        }
        self.snapshot.record_delete(key, version);
        self.memory_bytes
            .fetch_sub(entry_size(key.len(), len), Relaxed);
        if expired {
            self.counters.expired(1);
            Some(false)
        } else {
            self.counters.delete(1);
            Some(true)
        }
    }

    /// Removes every entry, holding every shard's lock: any thread sees the store
    /// whole or empty, and a cut falls before or after the clear.
    pub fn clear(&self) -> Result<()> {
        self.log_check()?; // change log
        let logged = self.clear_locked();
        self.log_ack(logged) // change log
    }

    /// Clears under every shard's lock; returns the change log record (0 without one).
    fn clear_locked(&self) -> u64 {
        let mut locked = Locked::all(self);
        let (version, _) = self.next_version();
        let logged = self.log_clear(); // change log, under every shard's lock
        self.snapshot.record_clear(version);
        let cut = self.snapshot.active_cut();
        let mut tombstones = 0u64;
        for table in locked.tables() {
            let table: &mut ShardTable = table;
            if cut == 0 {
                table.clear();
                continue;
            }
            // SAFETY: the shard's write lock is held; erasing the bucket an iteration
            // just yielded is allowed (hashbrown's own `retain` does it).
            unsafe {
                for bucket in table.iter() {
                    let e = bucket.as_mut().1.get_mut();
                    if !e.needed_by(cut) {
                        table.erase(bucket);
                        continue;
                    }
                    if e.value.is_some() {
                        e.preserve(cut);
                        e.value = None;
                        e.version = version;
                    }
                    tombstones += 1;
                }
            }
        }
        self.tombstones.store(tombstones, Relaxed);
        self.memory_bytes.store(0, Relaxed);
        logged
    }
}
