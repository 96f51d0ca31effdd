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
    /// Locks the shards of `shards` (sorted, without duplicates).
    fn shards(tier: &'a MemoryTier, shards: &[usize]) -> Self {
        let all = tier.map.shards();
        let mut slot = [0u16; SHARDS];
        let guards = shards
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                slot[s] = i as u16;
                all[s].write()
            })
            .collect();
        Locked { guards, slot }
    }

    /// Locks every shard.
    pub(crate) fn all(tier: &'a MemoryTier) -> Self {
        let every: Vec<usize> = (0..SHARDS).collect();
        Self::shards(tier, &every)
    }

    /// The table of a locked shard.
    fn table(&mut self, shard: usize) -> &mut ShardTable {
        &mut self.guards[self.slot[shard] as usize]
    }

    /// The guards of the locked tables, in shard order.
    pub(crate) fn tables(&mut self) -> &mut [RwLockWriteGuard<'a, ShardTable>] {
        &mut self.guards
    }
}

fn eq_key(key: &[u8]) -> impl Fn(&(KeyBytes, SharedValue<Entry>)) -> bool + '_ {
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
        let located: Vec<(u64, usize)> = keys.map(|k| self.locate(k)).collect();
        let mut shards: Vec<usize> = located.iter().map(|&(_, s)| s).collect();
        shards.sort_unstable();
        shards.dedup();
        (located, Locked::shards(self, &shards))
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
        let logged = {
            let mut table = self.map.shards()[shard].write();
            let (version, cut) = self.next_version();
            self.store_in(&mut table, hash, key, value, expires_at, version, cut);
            self.log_put(key, value, expires_at) // change log, under the shard's lock
        };
        self.counters.put(1);
        self.log_ack(logged) // change log
    }

    /// Stores `value` under `key` with an absolute expiry, without logging it (a
    /// change log being replayed).
    pub(crate) fn put_absolute(&self, key: &[u8], value: &[u8], expires_at: u64) {
        let (hash, shard) = self.locate(key);
        let mut table = self.map.shards()[shard].write();
        let (version, cut) = self.next_version();
        self.store_in(&mut table, hash, key, value, expires_at, version, cut);
    }

    /// Stores every entry of the batch, or none if any is invalid. The batch holds the
    /// locks of all its shards while it stores, so a reader in any thread, and any
    /// checkpoint's cut, sees all of it or none of it.
    pub fn put_many(&self, entries: &[PutEntry<'_>]) -> Result<()> {
        PutEntry::check_all(entries)?;
        self.log_check()?; // change log
        let now = self.now_ms();
        let logged = {
            let (located, mut locked) = self.lock_keys(entries.iter().map(|e| e.key));
            let (version, cut) = self.next_version();
            let mut expiries = Vec::with_capacity(entries.len()); // change log
            for (e, &(hash, shard)) in entries.iter().zip(&located) {
                let expires_at = e.ttl.expires_at(self.default_ttl, now);
                let table = locked.table(shard);
                self.store_in(table, hash, e.key, e.value, expires_at, version, cut);
                expiries.push(expires_at);
            }
            // change log: one record, while the batch holds all its shards' locks
            self.log_batch(entries, &expiries)
        };
        self.counters.put(entries.len() as u64);
        self.log_ack(logged) // change log
    }

    /// Stores one entry into its locked shard's table.
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
    ) {
        let mut old_len = None;
        match table.find(hash, eq_key(key)) {
            Some(bucket) => {
                // SAFETY: the bucket was just found in `table`, whose write lock the
                // caller holds, so it is valid and no one else refers to it.
                let (_, slot) = unsafe { bucket.as_mut() };
                let e = slot.get_mut();
                old_len = e.value.as_ref().map(|v| v.len());
                if e.value.is_none() {
                    self.tombstones.fetch_sub(1, Relaxed);
                }
                e.preserve(cut);
                e.value = Some(value.into());
                e.expires_at = expires_at;
                e.version = version;
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
            }
        }
        self.memory_bytes
            .fetch_add(entry_size(key.len(), value.len()), Relaxed);
        if let Some(len) = old_len {
            self.memory_bytes
                .fetch_sub(entry_size(key.len(), len), Relaxed);
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
