//! Checkpoints of the memory tier: a point-in-time cut without blocking writers.
//!
//! `begin` runs on the calling (JavaScript) thread: it takes the cut, a version that
//! every earlier write is below and every later write above, and from then on writers
//! keep the cut's values aside (see [`crate::memory`]). `write_to` runs on a worker
//! thread and reads each shard under its read lock only long enough to copy its
//! records; compression and I/O happen with no lock held. `finish` drops what was
//! kept aside and, on success, makes the checkpoint the base of the next incremental.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use crate::checkpoint::format::{Kind, Record};
use crate::checkpoint::writer::CheckpointWriter;
use crate::checkpoint::Cut;
use crate::error::{Error, ErrorCode, Result};
use crate::memory::write::Locked;
use crate::memory::{Entry, MemoryTier};
use crate::prefetch::prefetch;
use crate::ttl::is_expired;

/// The last checkpoint that succeeded: the base of the next incremental one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base {
    pub id: u64,
    pub cut: u64,
}

/// A tier's checkpoint bookkeeping.
#[derive(Debug, Default)]
pub struct SnapshotState {
    /// The cut of the running checkpoint; 0 when none runs.
    active: AtomicU64,
    base: Mutex<Option<Base>>,
    /// Deletes and clears are recorded once a checkpoint has been taken or restored.
    tracking: AtomicBool,
    /// Keys deleted since the base, with the version of their latest delete.
    deletes: Mutex<HashMap<Box<[u8]>, u64>>,
    /// The version of the latest `clear()` since the base; 0 if none.
    cleared_at: AtomicU64,
    /// Whether a restore is building this tier's replacement.
    restoring: AtomicBool,
}

fn busy() -> Error {
    Error::new(
        ErrorCode::Busy,
        "a checkpoint or restore of this store is already running; wait for it to finish",
    )
}

/// A memory tier claimed by a restore while its replacement is built and switched
/// in: checkpoints and other restores of it are `ERR_STATEKIT_BUSY` meanwhile.
/// Dropping the claim releases it.
pub struct RestoreClaim(std::sync::Weak<MemoryTier>);

impl MemoryTier {
    /// Claims the tier for a restore, unless a checkpoint or another restore runs.
    pub fn claim_restore(self: &Arc<Self>) -> Result<RestoreClaim> {
        let st = &self.snapshot;
        if st
            .restoring
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_err()
        {
            return Err(busy());
        }
        if st.active.load(SeqCst) != 0 {
            st.restoring.store(false, SeqCst);
            return Err(busy());
        }
        Ok(RestoreClaim(Arc::downgrade(self)))
    }
}

impl Drop for RestoreClaim {
    fn drop(&mut self) {
        if let Some(tier) = self.0.upgrade() {
            tier.snapshot.restoring.store(false, SeqCst);
        }
    }
}

impl SnapshotState {
    /// The cut of the running checkpoint, 0 if none.
    #[inline]
    pub fn active_cut(&self) -> u64 {
        self.active.load(SeqCst)
    }

    pub(crate) fn record_delete(&self, key: &[u8], version: u64) {
        if self.tracking.load(Relaxed) {
            if let Ok(mut d) = self.deletes.lock() {
                d.insert(key.into(), version);
            }
        }
    }

    pub(crate) fn record_clear(&self, version: u64) {
        if self.tracking.load(Relaxed) {
            self.cleared_at.store(version, SeqCst);
            if let Ok(mut d) = self.deletes.lock() {
                d.clear();
            }
        }
    }

    /// The base of the next incremental checkpoint.
    pub fn base(&self) -> Option<Base> {
        self.base.lock().ok().and_then(|b| *b)
    }

    /// Starts over from a restored checkpoint: `base` is the base of the next
    /// incremental checkpoint, and the deletes and clears recorded before are dropped.
    pub(crate) fn restart_from(&self, base: Base) {
        if let Ok(mut d) = self.deletes.lock() {
            d.clear();
        }
        self.cleared_at.store(0, SeqCst);
        self.set_base(base);
    }

    /// Makes `base` the base of the next incremental checkpoint (after a restore).
    pub fn set_base(&self, base: Base) {
        self.tracking.store(true, SeqCst);
        if let Ok(mut b) = self.base.lock() {
            *b = Some(base);
        }
    }
}

/// A running checkpoint of a memory tier.
pub struct MemorySnapshot {
    tier: Arc<MemoryTier>,
    cut: u64,
    now_ms: u64,
    kind: Kind,
    base: Option<Base>,
    deletes: HashMap<Box<[u8]>, u64>,
    cleared_at: u64,
    finished: bool,
    /// The change log segment started at the cut, if the tier has a log.
    log_segment: Option<u64>,
}

impl MemoryTier {
    /// Takes the cut of a checkpoint: every write that returned (on any thread) before
    /// this call is in the checkpoint, and none that starts after it.
    pub fn begin_snapshot(self: &Arc<Self>, kind: Kind) -> Result<MemorySnapshot> {
        let st = &self.snapshot;
        let base = st.base();
        if kind == Kind::Incremental && base.is_none() {
            return Err(Error::invalid_arg(
                "an incremental checkpoint needs a base: take a full checkpoint (or restore one) first",
            ));
        }
        // Every shard's lock is held while the cut is taken and published: each write,
        // from any thread, takes its version and reads the cut under its shards' locks
        // (see `crate::memory::write`), so it falls wholly before the cut or wholly
        // after, and the deletes recorded below are exactly those before it.
        let _locked = Locked::all(self);
        let cut = self.seq.fetch_add(1, SeqCst);
        if st.active.compare_exchange(0, cut, SeqCst, SeqCst).is_err() {
            return Err(busy());
        }
        if st.restoring.load(SeqCst) {
            st.active.store(0, SeqCst);
            return Err(busy());
        }
        st.tracking.store(true, SeqCst);
        let deletes = st
            .deletes
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default();
        let cleared_at = st.cleared_at.swap(0, SeqCst);
        let log_segment = self.log_rotate(); // change log: a new segment at the cut
        Ok(MemorySnapshot {
            tier: Arc::clone(self),
            cut,
            now_ms: self.now_ms(),
            kind,
            base,
            deletes,
            cleared_at,
            finished: false,
            log_segment,
        })
    }
}

impl MemorySnapshot {
    /// The kind of checkpoint this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The change log segment that replay after this checkpoint starts from.
    pub fn change_log_segment(&self) -> Option<u64> {
        self.log_segment
    }
}

impl Cut for MemorySnapshot {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn base_id(&self) -> Option<u64> {
        self.base.map(|b| b.id)
    }

    fn sorted(&self) -> bool {
        self.kind == Kind::Full
    }

    /// Writes the state at the cut (or, incremental, what changed since the base).
    fn write_to(&self, writer: &mut CheckpointWriter) -> Result<()> {
        let since = match (self.kind, self.base) {
            (Kind::Incremental, Some(b)) => {
                if self.cleared_at != 0 {
                    writer.push(&Record::Clear)?;
                }
                let mut keys: Vec<_> = self
                    .deletes
                    .iter()
                    .filter(|(_, v)| **v > self.cleared_at)
                    .map(|(k, _)| k)
                    .collect();
                keys.sort_unstable();
                for key in keys {
                    writer.push(&Record::Tombstone { key })?;
                }
                b.cut
            }
            _ => 0,
        };
        let incremental = self.kind == Kind::Incremental;
        for shard in self.tier.map.shards() {
            {
                let guard = shard.read();
                // Two passes: the first asks for every value of the shard to be loaded,
                // so the second, which copies them, rarely waits on memory.
                let mut slots = Vec::with_capacity(guard.len());
                // SAFETY: the shard's read lock is held while its buckets are read and
                // while `slots` borrows them, so no bucket is moved or freed meanwhile.
                for bucket in unsafe { guard.iter() } {
                    let (key, slot) = unsafe { bucket.as_ref() };
                    let e = slot.get();
                    if let Some(v) = &e.value {
                        prefetch(v);
                    }
                    slots.push((key.as_slice(), e));
                }
                for (key, e) in slots {
                    if let Some(rec) = self.at_cut(key, e, since, incremental) {
                        writer.push_unflushed(&rec);
                    }
                }
            }
            writer.flush_if_full()?;
        }
        Ok(())
    }

    /// Ends the checkpoint. On success, with its id, it becomes the next base.
    fn finish(mut self, succeeded: Option<u64>) {
        self.end(succeeded);
    }
}

impl MemorySnapshot {
    /// The record of one slot at the cut, if it belongs in the checkpoint.
    fn at_cut<'a>(
        &self,
        key: &'a [u8],
        e: &'a Entry,
        since: u64,
        incremental: bool,
    ) -> Option<Record<'a>> {
        let (value, expires_at, version) = match (&e.value, &e.prev) {
            (Some(v), _) if e.version < self.cut => (&**v, e.expires_at, e.version),
            (_, Some(p)) if p.cut == self.cut => (&*p.value, p.expires_at, p.version),
            _ => return None,
        };
        if version < since {
            return None;
        }
        if is_expired(expires_at, self.now_ms) {
            // Left out of a full checkpoint; an incremental one must remove the base's.
            return incremental.then_some(Record::Tombstone { key });
        }
        Some(Record::Put {
            key,
            expires_at,
            value,
        })
    }

    fn end(&mut self, succeeded: Option<u64>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let st = &self.tier.snapshot;
        st.active.store(0, SeqCst);
        self.tier.release_snapshot(self.cut);
        match succeeded {
            Some(id) => {
                if let Ok(mut b) = st.base.lock() {
                    *b = Some(Base { id, cut: self.cut });
                }
            }
            None => {
                // Failed: what it took belongs to the next checkpoint again.
                if let Ok(mut d) = st.deletes.lock() {
                    for (k, v) in self.deletes.drain() {
                        let e = d.entry(k).or_insert(v);
                        *e = (*e).max(v);
                    }
                }
                let _ = st.cleared_at.fetch_max(self.cleared_at, SeqCst);
            }
        }
    }
}

impl Drop for MemorySnapshot {
    fn drop(&mut self) {
        self.end(None);
    }
}
