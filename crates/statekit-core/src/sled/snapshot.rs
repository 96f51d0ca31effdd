//! Checkpoints of the sled tier: a point-in-time cut without blocking writers.
//!
//! sled has no snapshots, so the cut is kept by writers: while a checkpoint runs, the
//! first write to a key saves the key's value at the cut (its pre-image) before
//! changing it. The scanner reads sled in key order and, under the same lock, records
//! how far it has read and prefers a key's pre-image to what it read. A key deleted
//! before the scanner reached it is written from its pre-image at the end. Every
//! write that completed before `begin_snapshot` is in the checkpoint and none after.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use crate::checkpoint::format::{Kind, Record};
use crate::checkpoint::writer::CheckpointWriter;
use crate::checkpoint::Cut;
use crate::error::{Error, ErrorCode, Result};
use crate::sled::format::decode_value;
use crate::sled::SledTier;
use crate::ttl::is_expired;

#[derive(Debug, Default)]
struct Changes {
    keys: HashSet<Vec<u8>>,
    cleared: bool,
}

#[derive(Debug)]
struct PreImage {
    raw: Option<sled::IVec>,
    /// The scanner had already read past the key when its pre-image was taken.
    passed: bool,
    emitted: bool,
}

#[derive(Debug, Default)]
struct Active {
    pos: Option<Vec<u8>>,
    pre: HashMap<Vec<u8>, PreImage>,
}

/// A sled tier's checkpoint bookkeeping.
#[derive(Debug, Default)]
pub struct SledSnapshotState {
    /// A checkpoint or a restore is running.
    running: AtomicBool,
    active: Mutex<Option<Active>>,
    /// Changed keys are recorded once a checkpoint has been taken or restored.
    tracking: AtomicBool,
    changes: Mutex<Changes>,
    base: Mutex<Option<u64>>,
    /// Writes hold it shared from their pre-image to their last change; a cut takes it
    /// exclusively, so each write, from any thread, falls wholly before or after it.
    gate: RwLock<()>,
}

pub(crate) fn busy() -> Error {
    Error::new(
        ErrorCode::Busy,
        "a checkpoint or restore of this store is already running; wait for it to finish",
    )
}

impl SledSnapshotState {
    /// Held by a write from its first pre-image to its last change.
    pub(crate) fn write_gate(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read()
    }

    /// Held by a reopen after an I/O error: no write is half done meanwhile.
    pub(crate) fn exclusive_gate(&self) -> parking_lot::RwLockWriteGuard<'_, ()> {
        self.gate.write()
    }

    /// After a reopen that may have lost writes not yet flushed: the next incremental
    /// checkpoint records the whole state (a clear, then every key in `keys`), since
    /// its base may hold writes the store no longer has.
    pub(crate) fn resync(&self, keys: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.tracking.load(Relaxed) {
            let keys = keys();
            let mut c = self.changes.lock();
            c.keys.clear();
            c.keys.extend(keys);
            c.cleared = true;
        }
    }

    /// Whether a checkpoint or restore is running.
    pub fn is_running(&self) -> bool {
        self.running.load(SeqCst)
    }

    /// Claims the store for a checkpoint or restore.
    pub(crate) fn claim(&self) -> Result<()> {
        self.running
            .compare_exchange(false, true, SeqCst, SeqCst)
            .map(|_| ())
            .map_err(|_| busy())
    }

    pub(crate) fn release(&self) {
        *self.active.lock() = None;
        self.running.store(false, SeqCst);
    }

    /// Called before `key` changes; `current` reads its value now.
    pub(crate) fn before_write(
        &self,
        key: &[u8],
        current: impl FnOnce() -> Result<Option<sled::IVec>>,
    ) -> Result<()> {
        if self.tracking.load(Relaxed) {
            self.changes.lock().keys.insert(key.to_vec());
        }
        if !self.running.load(SeqCst) {
            return Ok(());
        }
        let mut guard = self.active.lock();
        if let Some(a) = guard.as_mut() {
            if !a.pre.contains_key(key) {
                let raw = current()?;
                let passed = a.pos.as_deref().is_some_and(|p| key <= p);
                a.pre.insert(
                    key.to_vec(),
                    PreImage {
                        raw,
                        passed,
                        emitted: false,
                    },
                );
            }
        }
        Ok(())
    }

    pub(crate) fn record_clear(&self) {
        if self.tracking.load(Relaxed) {
            let mut c = self.changes.lock();
            c.keys.clear();
            c.cleared = true;
        }
    }

    /// Makes checkpoint `id` the base of the next incremental one.
    pub(crate) fn set_base(&self, id: u64) {
        self.tracking.store(true, SeqCst);
        *self.changes.lock() = Changes::default();
        *self.base.lock() = Some(id);
    }

    /// The scanner read `key` (whose record was `read`): the record at the cut.
    fn at_cut(&self, key: &[u8], read: Option<sled::IVec>) -> Option<sled::IVec> {
        let mut guard = self.active.lock();
        let Some(a) = guard.as_mut() else { return read };
        a.pos = Some(key.to_vec());
        match a.pre.get_mut(key) {
            Some(p) => {
                p.emitted = true;
                p.raw.clone()
            }
            None => read,
        }
    }

    /// Pre-images of keys deleted before the scanner reached them.
    fn unvisited(&self) -> Vec<(Vec<u8>, sled::IVec)> {
        let guard = self.active.lock();
        let mut out: Vec<_> = guard
            .iter()
            .flat_map(|a| a.pre.iter())
            .filter(|(_, p)| !p.passed && !p.emitted)
            .filter_map(|(k, p)| p.raw.clone().map(|r| (k.clone(), r)))
            .collect();
        out.sort();
        out
    }
}

/// A running checkpoint of a sled tier.
pub struct SledSnapshot {
    tier: Arc<SledTier>,
    kind: Kind,
    base: Option<u64>,
    changes: Changes,
    now_ms: u64,
    finished: bool,
}

impl SledTier {
    /// Takes the cut of a checkpoint: every write that returned (on any thread) before
    /// this call is in the checkpoint, and none that starts after it.
    pub fn begin_snapshot(self: &Arc<Self>, kind: Kind) -> Result<SledSnapshot> {
        let st = &self.snapshot;
        let base = *st.base.lock();
        if kind == Kind::Incremental && base.is_none() {
            return Err(Error::invalid_arg(
                "an incremental checkpoint needs a base: take a full checkpoint (or restore one) first",
            ));
        }
        // After an I/O error, sled works again (or is reopened) before the cut.
        self.ready_to_write()?;
        // No write is half done while the cut is taken: those before it are wholly in
        // sled (and in `changes`), those after it keep their pre-images.
        let gate = st.gate.write();
        st.claim()?;
        *st.active.lock() = Some(Active::default());
        st.tracking.store(true, SeqCst);
        let changes = std::mem::take(&mut *st.changes.lock());
        drop(gate);
        Ok(SledSnapshot {
            tier: Arc::clone(self),
            kind,
            base,
            changes,
            now_ms: self.now_ms(),
            finished: false,
        })
    }
}

impl SledSnapshot {
    fn push(
        &self,
        w: &mut CheckpointWriter,
        key: &[u8],
        raw: Option<sled::IVec>,
        incremental: bool,
    ) -> Result<()> {
        let live = match &raw {
            Some(raw) => {
                let (exp, value) = decode_value(raw)?;
                (!is_expired(exp, self.now_ms)).then_some((exp, value))
            }
            None => None,
        };
        match live {
            Some((expires_at, value)) => w.push(&Record::Put {
                key,
                expires_at,
                value,
            }),
            None if incremental => w.push(&Record::Tombstone { key }),
            None => Ok(()),
        }
    }

    fn end(&mut self, succeeded: Option<u64>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let st = &self.tier.snapshot;
        match succeeded {
            Some(id) => *st.base.lock() = Some(id),
            None => {
                let mut c = st.changes.lock();
                c.keys.extend(self.changes.keys.drain());
                c.cleared |= self.changes.cleared;
            }
        }
        st.release();
    }
}

impl Cut for SledSnapshot {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn base_id(&self) -> Option<u64> {
        match self.kind {
            Kind::Incremental => self.base,
            Kind::Full => None,
        }
    }

    fn sorted(&self) -> bool {
        false
    }

    /// Writes the state at the cut (or, incremental, what changed since the base).
    fn write_to(&self, w: &mut CheckpointWriter) -> Result<()> {
        let st = &self.tier.snapshot;
        let data = self.tier.trees()?.data.clone();
        if self.kind == Kind::Incremental {
            if self.changes.cleared {
                w.push(&Record::Clear)?;
            }
            let mut keys: Vec<&Vec<u8>> = self.changes.keys.iter().collect();
            keys.sort_unstable();
            for key in keys {
                let read = self.tier.guard("reading", || data.get(key))?;
                self.push(w, key, st.at_cut(key, read), true)?;
            }
            return Ok(());
        }
        for item in data.iter() {
            let (key, raw) = self.tier.guard("scanning", || item)?;
            self.push(w, &key, st.at_cut(&key, Some(raw)), false)?;
        }
        for (key, raw) in st.unvisited() {
            self.push(w, &key, Some(raw), false)?;
        }
        Ok(())
    }

    /// Ends the checkpoint. On success, with its id, it becomes the next base.
    fn finish(mut self, succeeded: Option<u64>) {
        self.end(succeeded);
    }
}

impl Drop for SledSnapshot {
    fn drop(&mut self) {
        self.end(None);
    }
}
