//! The persistent tier on sled: the memory tier's semantics, stored on disk.
//!
//! Writes are applied at once and become durable at the next flush (periodic, or
//! [`SledTier::flush`]). A batch is one sled `Batch` on the data tree: after a crash
//! all of it or none of it is there. Expiry index records are written before the data
//! they index, so a crash can leave a stale index record but never an unindexed
//! expiring entry.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::batch::PutEntry;
use crate::clock::{Clock, SystemClock};
use crate::dir_lock::DirLock;
use crate::error::{ErrorCode, Result};
use crate::limits::{check_key, check_keys, check_value};
use crate::range::KeyRange;
use parking_lot::{MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard};

use crate::sled::format::{
    decode_value, encode_value, index_key, split_index_key, DATA_TREE, EXPIRY_TREE, GEN_KEY,
    HEADER, META_TREE,
};
use crate::sled::marker::{self, DirState};
use crate::sled::open::{ensure_dir, guarded, SledOptions};
use crate::sled::snapshot::SledSnapshotState;
use crate::stats::{Counters, StatsSnapshot};
use crate::ttl::{is_expired, Ttl, NEVER};

/// One page of an ordered scan.
#[derive(Debug, Default)]
pub struct Page {
    /// Live entries: key and value (without the expiry header).
    pub entries: Vec<(sled::IVec, sled::IVec)>,
    /// The last key the scan passed, live or not: where the next page starts.
    pub last: Option<sled::IVec>,
    /// Whether the range is exhausted.
    pub done: bool,
}

/// The sled tier. Dropping it closes sled and then releases the directory lock.
pub struct SledTier {
    /// sled itself; `None` only while a reopen after an I/O error has not succeeded
    /// (see [`crate::sled::recover`]).
    engine: RwLock<Option<Engine>>,
    /// sled reported an I/O error: the next write or flush first makes sure sled works
    /// again, reopening it if need be.
    pub(crate) faulted: AtomicBool,
    /// The options it was opened with, to reopen it.
    pub(crate) options: SledOptions,
    /// The last epoch given to a state of this handle (see [`Trees::epoch`]).
    epochs: AtomicU64,
    /// Reopens after an I/O error.
    pub(crate) reopens: AtomicU64,
    default_ttl: Ttl,
    clock: Arc<dyn Clock>,
    counters: Counters,
    pub(crate) entries: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) snapshot: SledSnapshotState,
    /// The sequence number of the last flush marker written; held while flushing.
    pub(crate) flush_seq: Mutex<u64>,
    path: PathBuf,
    _lock: DirLock,
}

/// An open sled: its database, statekit's metadata tree and the current trees.
pub(crate) struct Engine {
    pub db: sled::Db,
    pub meta: sled::Tree,
    pub trees: Trees,
}

/// The trees of the current generation. A restore builds the next generation's trees
/// aside and switches to them in one step.
#[derive(Clone)]
pub(crate) struct Trees {
    pub data: sled::Tree,
    pub expiry: sled::Tree,
    /// The generation, part of the trees' names (the metadata tree records it).
    pub gen: u64,
    /// Counts every switch of this handle's state (a restore, a reopen): a scan
    /// started before one ends instead of mixing two states.
    pub epoch: u64,
}

impl std::fmt::Debug for SledTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledTier")
            .field("path", &self.path)
            .finish()
    }
}

impl SledTier {
    /// Opens (or creates) the store at `options.path` on the system clock.
    pub fn open(options: &SledOptions) -> Result<SledTier> {
        Self::open_with_clock(options, Arc::new(SystemClock))
    }

    /// Opens the store on the given clock. Reads every record once, to count entries,
    /// and removes the entries that expired while the store was closed.
    ///
    /// Nothing on disk changes before the options are checked and the directory is
    /// known to be new, a statekit store as its last clean close left it, or a copy of
    /// it has opened whole (see [`crate::sled::marker`]). A store that has lost flushed
    /// data is `ERR_STATEKIT_CORRUPT`.
    pub fn open_with_clock(options: &SledOptions, clock: Arc<dyn Clock>) -> Result<SledTier> {
        options.validate()?;
        let path = options.path.clone();
        marker::check_no_recovery_journal(&path)?;
        if path.is_dir() {
            // Refuse a foreign directory before the lock file is created in it.
            marker::classify(&path, marker::read_record(&path)?.as_ref())?;
        }
        ensure_dir(&path)?;
        let lock = DirLock::acquire(&path)?;
        let record = marker::read_record(&path)?;
        if marker::classify(&path, record.as_ref())? == DirState::Unverified {
            check_copy(options, &path, record.as_ref())?;
        }
        let loaded = load(options, &path, &path)?;
        marker::check(&path, record.as_ref(), loaded.marker)?;
        let seq = loaded.marker.unwrap_or(0).max(record.map_or(0, |r| r.seq));
        let mut tier = SledTier {
            engine: RwLock::new(Some(Engine {
                db: loaded.db,
                meta: loaded.meta,
                trees: loaded.trees,
            })),
            faulted: AtomicBool::new(false),
            options: options.clone(),
            epochs: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
            default_ttl: match options.default_ttl {
                Ttl::Default => Ttl::Never,
                t => t,
            },
            clock,
            counters: Counters::default(),
            entries: AtomicU64::new(loaded.entries),
            bytes: AtomicU64::new(loaded.bytes),
            snapshot: SledSnapshotState::default(),
            flush_seq: Mutex::new(seq),
            path,
            _lock: lock,
        };
        // Entries whose time passed while no process had the store open are removed
        // now (reading only the expiry index's due records), so `entryCount` and
        // `memoryBytes` count live entries only. They expired before this open, so
        // they are not this handle's `expiredCount`.
        tier.cleanup_expired()?;
        tier.counters = Counters::default();
        Ok(tier)
    }

    /// Releases sled's files, records a clean close (with the files' sizes and times,
    /// so the next open can trust them unopened), then the directory lock. The last
    /// handle's way out; `flushed` is the sequence number of the final flush.
    pub(crate) fn close_clean(self) -> Result<()> {
        let SledTier {
            engine,
            faulted,
            path,
            flush_seq,
            _lock,
            ..
        } = self;
        let seq = *flush_seq.lock();
        drop(engine);
        if faulted.into_inner() || !wait_for_sled_release(&path) {
            // After an I/O error nothing vouches for the files (nor while sled holds
            // them): leave the record unclean; the next open checks a copy first.
            return Ok(());
        }
        let record = marker::FlushRecord {
            seq,
            clean: true,
            files: marker::fingerprint(&path)?,
        };
        marker::write_record(&path, &record)
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current time on this tier's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The open sled; an error if it could not be reopened after an I/O error.
    pub(crate) fn engine(&self) -> Result<MappedRwLockReadGuard<'_, Engine>> {
        // Recursive: a caller may already hold it while a restore waits to write it.
        RwLockReadGuard::try_map(self.engine.read_recursive(), Option::as_ref)
            .map_err(|_| crate::sled::recover::not_reopened(&self.path))
    }

    /// The current generation's trees.
    pub(crate) fn trees(&self) -> Result<MappedRwLockReadGuard<'_, Trees>> {
        Ok(MappedRwLockReadGuard::map(self.engine()?, |e| &e.trees))
    }

    /// Called before a write or flush, holding no lock of the tier: after sled
    /// reported an I/O error, makes sure it works again (see [`crate::sled::recover`]).
    pub(crate) fn ready_to_write(&self) -> Result<()> {
        if self.faulted.load(Relaxed) {
            self.recover()?;
        }
        Ok(())
    }

    /// Called before a read, holding no lock of the tier: reads go on from a sled that
    /// reported an I/O error, but if its reopen failed, it is tried again.
    fn ready_to_read(&self) -> Result<()> {
        if self.faulted.load(Relaxed) && self.engine.read_recursive().is_none() {
            self.recover()?;
        }
        Ok(())
    }

    /// Times sled was reopened after an I/O error.
    pub fn reopen_count(&self) -> u64 {
        self.reopens.load(Relaxed)
    }

    /// A new epoch for a state switched in.
    pub(crate) fn next_epoch(&self) -> u64 {
        self.epochs.fetch_add(1, Relaxed) + 1
    }

    /// Where the open sled is kept, for [`crate::sled::recover`].
    pub(crate) fn engine_slot(&self) -> &RwLock<Option<Engine>> {
        &self.engine
    }

    /// Switches to another generation's trees (a restore); returns the old ones.
    pub(crate) fn swap_trees(&self, mut next: Trees) -> Result<Trees> {
        let mut guard = self.engine.write();
        let engine = guard
            .as_mut()
            .ok_or_else(|| crate::sled::recover::not_reopened(&self.path))?;
        next.epoch = self.next_epoch();
        Ok(std::mem::replace(&mut engine.trees, next))
    }

    /// The tier's default TTL.
    pub fn default_ttl(&self) -> Ttl {
        self.default_ttl
    }

    /// Calls `f` with the live value of `key`, counting a hit or a miss.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        check_key(key)?;
        let found = self.peek_with(key, f)?;
        match found {
            Some(_) => self.counters.hit(),
            None => self.counters.miss(),
        }
        Ok(found)
    }

    /// Like [`SledTier::get_with`], not counted as a get.
    pub fn peek_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.ready_to_read()?;
        let read = |tier: &SledTier| {
            let t = tier.trees()?;
            tier.guard("reading", || t.data.get(key))
        };
        let read = match read(self) {
            // sled may tidy a page as it reads it, which is a write: after an I/O error
            // that can fail, so the store is reopened (see `recover`) and read again.
            Err(e) if e.code == ErrorCode::Io => {
                self.recover()?;
                read(self)
            }
            other => other,
        };
        let Some(raw) = read? else {
            return Ok(None);
        };
        let (exp, value) = decode_value(&raw)?;
        if is_expired(exp, self.now_ms()) {
            self.remove_expired(key, &raw, exp)?;
            return Ok(None);
        }
        Ok(Some(f(value)))
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

    fn expiry(&self, ttl: Ttl, now: u64) -> u64 {
        ttl.expires_at(self.default_ttl, now)
    }

    fn account(&self, key: &[u8], old: Option<&sled::IVec>, new_value_len: usize) {
        match old {
            None => {
                self.entries.fetch_add(1, Relaxed);
                self.bytes
                    .fetch_add((key.len() + new_value_len) as u64, Relaxed);
            }
            Some(old) => {
                let old_len = old.len().saturating_sub(HEADER);
                self.bytes.fetch_add(new_value_len as u64, Relaxed);
                self.bytes.fetch_sub(old_len as u64, Relaxed);
            }
        }
    }

    fn forget(&self, key: &[u8], old: &sled::IVec) {
        self.entries.fetch_sub(1, Relaxed);
        self.bytes.fetch_sub(
            (key.len() + old.len().saturating_sub(HEADER)) as u64,
            Relaxed,
        );
    }

    /// Before `key` changes: let a running checkpoint keep its value at the cut, and
    /// note the change for the next incremental checkpoint.
    fn before_write(&self, t: &Trees, key: &[u8]) -> Result<()> {
        self.snapshot
            .before_write(key, || self.guard("reading", || t.data.get(key)))
    }

    fn write_one(&self, key: &[u8], value: &[u8], exp: u64) -> Result<()> {
        self.ready_to_write()?;
        let _gate = self.snapshot.write_gate();
        let t = self.trees()?;
        self.before_write(&t, key)?;
        if exp != NEVER {
            self.guard("writing the expiry index", || {
                t.expiry.insert(index_key(exp, key), &[])
            })?;
        }
        let old = self.guard("writing", || t.data.insert(key, encode_value(exp, value)))?;
        self.account(key, old.as_ref(), value.len());
        Ok(())
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.write_one(key, value, self.expiry(ttl, self.now_ms()))?;
        self.counters.put(1);
        Ok(())
    }

    /// Stores every entry as one atomic sled batch, or none if any is invalid.
    pub fn put_many(&self, entries: &[PutEntry<'_>]) -> Result<()> {
        PutEntry::check_all(entries)?;
        let now = self.now_ms();
        // The last write of a key in the batch wins, as with separate puts.
        let mut last: BTreeMap<&[u8], (u64, &[u8])> = BTreeMap::new();
        for e in entries {
            last.insert(e.key, (self.expiry(e.ttl, now), e.value));
        }
        self.ready_to_write()?;
        let _gate = self.snapshot.write_gate();
        let t = self.trees()?;
        let mut index = sled::Batch::default();
        let mut batch = sled::Batch::default();
        let mut sizes = Vec::with_capacity(last.len());
        for (key, (exp, value)) in &last {
            self.before_write(&t, key)?;
            if *exp != NEVER {
                index.insert(index_key(*exp, key), &[]);
            }
            batch.insert(*key, encode_value(*exp, value));
            let old = self.guard("reading", || t.data.get(key))?;
            sizes.push((*key, old, value.len()));
        }
        self.guard("writing the expiry index", || t.expiry.apply_batch(index))?;
        self.guard("writing a batch", || t.data.apply_batch(batch))?;
        for (key, old, len) in sizes {
            self.account(key, old.as_ref(), len);
        }
        self.counters.put(entries.len() as u64);
        Ok(())
    }

    /// Removes `key`; the caller holds the write gate.
    fn remove(&self, key: &[u8]) -> Result<bool> {
        let t = self.trees()?;
        self.before_write(&t, key)?;
        let Some(old) = self.guard("deleting", || t.data.remove(key))? else {
            return Ok(false);
        };
        self.forget(key, &old);
        let (exp, _) = decode_value(&old)?;
        if is_expired(exp, self.now_ms()) {
            self.counters.expired(1);
            Ok(false)
        } else {
            self.counters.delete(1);
            Ok(true)
        }
    }

    /// Removes `key`; returns whether a live entry was removed.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.ready_to_write()?;
        let _gate = self.snapshot.write_gate();
        self.remove(key)
    }

    /// Removes every key, or none if any key is invalid; a cut falls before or after
    /// all of it.
    pub fn delete_many(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        check_keys(keys)?;
        self.ready_to_write()?;
        let _gate = self.snapshot.write_gate();
        keys.iter().map(|k| self.remove(k)).collect()
    }

    /// Removes the record `raw` of `key` if it is still there; returns whether it was.
    fn remove_expired(&self, key: &[u8], raw: &sled::IVec, exp: u64) -> Result<bool> {
        let _gate = self.snapshot.write_gate();
        let t = self.trees()?;
        self.before_write(&t, key)?;
        let swapped = self.guard("removing an expired entry", || {
            t.data
                .compare_and_swap(key, Some(raw.as_ref()), None::<&[u8]>)
        })?;
        if swapped.is_ok() {
            self.forget(key, raw);
            self.counters.expired(1);
            self.guard("updating the expiry index", || {
                t.expiry.remove(index_key(exp, key))
            })?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Removes every expired entry; returns how many. Reads only the expiry index
    /// records that are due, so its cost follows what has expired, not the store size.
    pub fn cleanup_expired(&self) -> Result<u64> {
        let now = self.now_ms();
        let due_end = (now.saturating_add(1)).to_be_bytes();
        let mut removed = 0;
        self.ready_to_write()?;
        let expiry = self.trees()?.expiry.clone();
        for item in expiry.range(..&due_end[..]) {
            let (idx, _) = self.guard("reading the expiry index", || item)?;
            let Some((exp, key)) = split_index_key(&idx) else {
                continue;
            };
            let current = {
                let t = self.trees()?;
                self.guard("reading", || t.data.get(key))?
            };
            if let Some(raw) = current {
                let (stored_exp, _) = decode_value(&raw)?;
                if stored_exp == exp
                    && is_expired(exp, now)
                    && self.remove_expired(key, &raw, exp)?
                {
                    removed += 1;
                    continue;
                }
            }
            // Stale: the entry was overwritten, deleted, or already removed.
            self.guard("updating the expiry index", || expiry.remove(&idx))?;
        }
        Ok(removed)
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        self.ready_to_write()?;
        let _gate = self.snapshot.write_gate();
        let t = self.trees()?;
        if self.snapshot.is_running() {
            // A running checkpoint must still see every value: keep each aside first.
            for item in t.data.iter().keys() {
                let key = self.guard("clearing", || item)?;
                self.before_write(&t, &key)?;
            }
        }
        self.snapshot.record_clear();
        self.guard("clearing", || super::clear_tree(&t.data))?;
        self.guard("clearing the expiry index", || super::clear_tree(&t.expiry))?;
        self.entries.store(0, Relaxed);
        self.bytes.store(0, Relaxed);
        Ok(())
    }

    /// Up to `max` live entries of `range` after the key `after` (in the range's order).
    pub fn page(&self, range: &KeyRange, after: Option<&[u8]>, max: usize) -> Result<Page> {
        self.page_of(None, range, after, max)
    }

    /// The generation of the store's state: a restore switches to a new one.
    /// Changes with every restore and every reopen; 0 if sled is not open.
    pub(crate) fn generation(&self) -> u64 {
        self.trees().map_or(0, |t| t.epoch)
    }

    /// Like [`SledTier::page`], but a finished, empty page once a restore has switched
    /// the store away from generation `gen`: a scan never mixes two states.
    pub(crate) fn page_of(
        &self,
        gen: Option<u64>,
        range: &KeyRange,
        after: Option<&[u8]>,
        max: usize,
    ) -> Result<Page> {
        let lower: Bound<Vec<u8>> = match (after, range.reverse) {
            (Some(a), false) => Bound::Excluded(a.to_vec()),
            _ => range
                .lower_bound()
                .map_or(Bound::Unbounded, |b| Bound::Included(b.to_vec())),
        };
        let upper: Bound<Vec<u8>> = match (after, range.reverse) {
            (Some(a), true) => Bound::Excluded(a.to_vec()),
            _ => range
                .upper_bound()
                .map_or(Bound::Unbounded, Bound::Excluded),
        };
        let mut page = Page::default();
        if bounds_empty(&lower, &upper) {
            page.done = true;
            return Ok(page);
        }
        self.ready_to_read()?;
        let now = self.now_ms();
        let data = {
            let t = self.trees()?;
            if gen.is_some_and(|g| g != t.epoch) {
                page.done = true;
                return Ok(page);
            }
            t.data.clone()
        };
        let iter = data.range::<Vec<u8>, _>((lower, upper));
        let mut iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            if range.reverse {
                Box::new(iter.rev())
            } else {
                Box::new(iter)
            };
        let mut scanned = 0usize;
        loop {
            let Some(item) = iter.next() else {
                page.done = true;
                break;
            };
            let (key, raw) = self.guard("scanning", || item)?;
            scanned += 1;
            let (exp, _) = decode_value(&raw)?;
            if range.contains(&key) && !is_expired(exp, now) {
                page.entries
                    .push((key.clone(), raw.subslice(HEADER, raw.len() - HEADER)));
            }
            page.last = Some(key);
            // Bound the work of one call even when most records are expired.
            if page.entries.len() >= max || scanned >= max.saturating_mul(8).max(1024) {
                break;
            }
        }
        Ok(page)
    }

    /// Writes everything to disk; returns the bytes flushed. A marker written into
    /// sled just before, and recorded beside it once the flush returned, lets a later
    /// open tell lost flushed data from an unwritten tail.
    pub fn flush(&self) -> Result<u64> {
        self.ready_to_write()?;
        let mut seq = self.flush_seq.lock();
        let engine = self.engine()?;
        self.flush_engine(&engine, &mut seq)
    }

    /// [`SledTier::flush`] of `engine`, holding the flush sequence.
    pub(crate) fn flush_engine(&self, engine: &Engine, seq: &mut u64) -> Result<u64> {
        let next = *seq + 1;
        self.guard("writing its flush marker", || {
            engine.meta.insert(marker::MARKER_KEY, &next.to_le_bytes())
        })?;
        let bytes = self.guard("flushing", || engine.db.flush())?;
        let record = marker::FlushRecord {
            seq: next,
            clean: false,
            files: Vec::new(),
        };
        marker::write_record(&self.path, &record)?;
        *seq = next;
        Ok(bytes as u64)
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        let engine = self.engine()?;
        self.guard("measuring", || engine.db.size_on_disk())
    }

    /// Counters and sizes; `memory_bytes` is the bytes of live keys and values.
    pub fn stats(&self) -> StatsSnapshot {
        self.counters
            .snapshot(self.entries.load(Relaxed), self.bytes.load(Relaxed))
    }

    /// Runs a sled operation, turning its errors and panics into ours. An I/O error
    /// marks the tier faulted: the next write or flush checks sled first.
    pub(crate) fn guard<T>(&self, what: &str, f: impl FnOnce() -> sled::Result<T>) -> Result<T> {
        let r = guarded(&self.path, what, f);
        if let Err(e) = &r {
            if e.code == ErrorCode::Io {
                self.faulted.store(true, Relaxed);
            }
        }
        r
    }
}

/// The name of a generation's tree.
fn tree_name(base: &[u8], gen: u64) -> Vec<u8> {
    if gen == 0 {
        base.to_vec()
    } else {
        let mut name = base.to_vec();
        name.extend_from_slice(format!(".{gen}").as_bytes());
        name
    }
}

fn decode_gen(raw: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = raw.len().min(8);
    b[..n].copy_from_slice(&raw[..n]);
    u64::from_be_bytes(b)
}

/// Opens (creating if need be) the trees of generation `gen`.
pub(crate) fn open_trees(path: &Path, db: &sled::Db, gen: u64) -> Result<Trees> {
    Ok(Trees {
        data: guarded(path, "opening its data tree", || {
            db.open_tree(tree_name(DATA_TREE, gen))
        })?,
        expiry: guarded(path, "opening its expiry index", || {
            db.open_tree(tree_name(EXPIRY_TREE, gen))
        })?,
        gen,
        epoch: 0,
    })
}

/// Drops the trees of every generation but `gen`: what an interrupted restore left.
fn drop_other_generations(path: &Path, db: &sled::Db, gen: u64) -> Result<()> {
    let keep = [tree_name(DATA_TREE, gen), tree_name(EXPIRY_TREE, gen)];
    for name in db.tree_names() {
        let ours = name.starts_with(DATA_TREE) || name.starts_with(EXPIRY_TREE);
        if ours && !keep.iter().any(|k| k.as_slice() == &name[..]) {
            guarded(path, "dropping a stale restore", || db.drop_tree(&name))?;
        }
    }
    Ok(())
}

/// Records `gen` as the current generation.
pub(crate) fn commit_gen(tier: &SledTier, gen: u64) -> Result<()> {
    {
        let engine = tier.engine()?;
        tier.guard("switching to the restored state", || {
            engine.meta.insert(GEN_KEY, &gen.to_be_bytes())
        })?;
    }
    tier.flush().map(|_| ())
}

fn bounds_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Excluded(u)) | (Bound::Excluded(l), Bound::Excluded(u)) => {
            l >= u
        }
        (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        (Bound::Included(l), Bound::Included(u)) => l > u,
        _ => false,
    }
}

impl crate::cleanup::Sweep for SledTier {
    fn sweep(&self) -> u64 {
        self.cleanup_expired().unwrap_or(0)
    }
}

/// What opening sled's files found.
pub(crate) struct Loaded {
    pub db: sled::Db,
    pub meta: sled::Tree,
    pub trees: Trees,
    pub entries: u64,
    pub bytes: u64,
    pub marker: Option<u64>,
}

/// Opens sled's files in `dir` with `options` and reads every record once. Errors name
/// `shown`, the store's own directory, even when `dir` is a copy of it.
pub(crate) fn load(options: &SledOptions, dir: &Path, shown: &Path) -> Result<Loaded> {
    let rename = |e: crate::error::Error| {
        crate::error::Error::new(
            e.code,
            e.message
                .replace(&dir.display().to_string(), &shown.display().to_string()),
        )
    };
    let mut options = options.clone();
    options.path = dir.to_path_buf();
    remove_unfinished_snapshots(dir);
    let config = options.sled_config();
    let path = dir;
    // Our lock is held, so no other store has this directory open; sled's own lock
    // may still be held for a moment by a store just closed (sled releases its file
    // from a background thread), so wait for it briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let db = loop {
        match guarded(path, "opening", || config.open()) {
            Err(e) if e.code == ErrorCode::Locked && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other.map_err(rename)?,
        }
    };
    let inner = || -> Result<Loaded> {
        let meta = guarded(path, "opening its metadata", || db.open_tree(META_TREE))?;
        let gen = guarded(path, "reading its metadata", || meta.get(GEN_KEY))?
            .map(|g| decode_gen(&g))
            .unwrap_or(0);
        let marker = guarded(path, "reading its flush marker", || {
            meta.get(marker::MARKER_KEY)
        })?;
        let marker = marker::decode_marker(marker.as_deref());
        let trees = open_trees(path, &db, gen)?;
        drop_other_generations(path, &db, gen)?;
        let data = trees.data.clone();
        let (entries, bytes) = guarded(path, "reading its records", || {
            let mut n = 0u64;
            let mut bytes = 0u64;
            for item in data.iter() {
                let (k, v) = item?;
                n += 1;
                bytes += (k.len() + v.len().saturating_sub(HEADER)) as u64;
            }
            Ok((n, bytes))
        })?;
        Ok(Loaded {
            db: db.clone(),
            meta,
            trees,
            entries,
            bytes,
            marker,
        })
    };
    inner().map_err(rename)
}

/// Opens a copy of `dir` beside it and checks it there, so that a damaged directory
/// is reported without sled having written to it. Where no copy can be made or opened
/// for another reason than damage (no room), the check happens on the store itself as
/// it opens.
fn check_copy(
    options: &SledOptions,
    dir: &Path,
    record: Option<&marker::FlushRecord>,
) -> Result<()> {
    let Ok(scratch) = marker::Scratch::copy_of(dir) else {
        return Ok(());
    };
    let mut o = options.clone();
    o.flush_every_ms = None;
    let found = match load(&o, &scratch.0, dir) {
        Ok(loaded) => loaded.marker,
        // Only damage is the copy's to report; anything else (no room for sled to open
        // the copy, say) leaves the check to the open in place.
        Err(e) if e.code == ErrorCode::Corrupt => return Err(e),
        Err(_) => return Ok(()),
    };
    marker::check(dir, record, found)
}

/// Waits (up to 5 s) until sled has let go of its files after its last handle dropped.
pub(crate) fn wait_for_sled_release(dir: &Path) -> bool {
    use fs2::FileExt;
    let Ok(file) = std::fs::File::open(dir.join("db")) else {
        return true;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if file.try_lock_exclusive().is_ok() {
            let _ = FileExt::unlock(&file);
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Removes the snapshot files sled had not finished (`snap.*.generating`): sled writes
/// one before renaming it into place, and one left by an open that failed (a full disk)
/// makes every later open report corruption. Our lock is held: no sled is writing one.
fn remove_unfinished_snapshots(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
