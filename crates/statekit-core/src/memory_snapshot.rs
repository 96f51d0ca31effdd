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

use crate::checkpoint_format::{Kind, Record};
use crate::checkpoint_writer::CheckpointWriter;
use crate::error::{Error, ErrorCode, Result};
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
}

fn busy() -> Error {
    Error::new(
        ErrorCode::Busy,
        "a checkpoint of this store is already running; wait for it to finish",
    )
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
}

impl MemoryTier {
    /// Takes the cut of a checkpoint. Call it on the thread that writes, so every
    /// write it made before is in the checkpoint and none after.
    pub fn begin_snapshot(self: &Arc<Self>, kind: Kind) -> Result<MemorySnapshot> {
        let st = &self.snapshot;
        let base = st.base();
        if kind == Kind::Incremental && base.is_none() {
            return Err(Error::invalid_arg(
                "an incremental checkpoint needs a base: take a full checkpoint (or restore one) first",
            ));
        }
        let cut = self.seq.fetch_add(1, SeqCst);
        if st.active.compare_exchange(0, cut, SeqCst, SeqCst).is_err() {
            return Err(busy());
        }
        st.tracking.store(true, SeqCst);
        let deletes = st
            .deletes
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default();
        let cleared_at = st.cleared_at.swap(0, SeqCst);
        Ok(MemorySnapshot {
            tier: Arc::clone(self),
            cut,
            now_ms: self.now_ms(),
            kind,
            base,
            deletes,
            cleared_at,
            finished: false,
        })
    }
}

impl MemorySnapshot {
    /// The kind of checkpoint this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The id of the checkpoint an incremental one builds on.
    pub fn base_id(&self) -> Option<u64> {
        self.base.map(|b| b.id)
    }

    /// The wall-clock time of the cut.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Writes the state at the cut (or, incremental, what changed since the base).
    pub fn write_to(&self, writer: &mut CheckpointWriter) -> Result<()> {
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

    /// Ends the checkpoint. On success, with its id, it becomes the next base.
    pub fn finish(mut self, succeeded: Option<u64>) {
        self.end(succeeded);
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

/// Checkpoints and restores of the memory tier.
pub mod io {
    use std::path::Path;
    use std::sync::Arc;

    use super::{Base, MemorySnapshot};
    use crate::checkpoint::{validate, write_checkpoint, CheckpointRequest, CheckpointSummary};
    use crate::checkpoint_format::Kind;
    use crate::checkpoint_reader::CheckpointReader;
    use crate::clock::SystemClock;
    use crate::error::Result;
    use crate::error::{Error, ErrorCode};
    use crate::memory::MemoryTier;
    use crate::memory_bulk::{BulkLoader, Share};
    use crate::restore::{chain_of, RestoreSummary};
    use crate::ttl::Ttl;

    /// Writes the checkpoint whose cut `snapshot` took (on a worker thread).
    pub fn write(snapshot: MemorySnapshot, req: &CheckpointRequest) -> Result<CheckpointSummary> {
        let result = validate(req).and_then(|_| {
            write_checkpoint(
                req,
                snapshot.now_ms(),
                snapshot.base_id(),
                snapshot.kind() == crate::checkpoint_format::Kind::Full,
                |w| snapshot.write_to(w),
            )
        });
        snapshot.finish(result.as_ref().ok().map(|s| s.id));
        result
    }

    /// Threads that fill a restored tier.
    const RESTORE_THREADS: usize = 2;

    /// Restores one thread's share of the records; returns the bytes its entries hold
    /// and how many of its puts had expired. A lone full checkpoint holds each key once,
    /// so its blocks are split between the threads; a chain must apply every record of
    /// a key in order, so each thread reads every block and keeps its share of shards.
    /// Either way every thread verifies the whole chain as it reads.
    fn restore_share(
        tier: &MemoryTier,
        chain: &[(std::path::PathBuf, crate::checkpoint_reader::CheckpointInfo)],
        version: u64,
        now_ms: u64,
        part: usize,
    ) -> Result<(u64, u64)> {
        let by_block = chain.len() == 1 && chain[0].1.header.kind == Kind::Full;
        let share = if by_block {
            Share::All
        } else {
            Share::Shards {
                part,
                parts: RESTORE_THREADS,
            }
        };
        let mut loader = BulkLoader::new(tier, share, version, now_ms);
        for (file, _) in chain {
            let wanted = |block: u64| !by_block || block as usize % RESTORE_THREADS == part;
            CheckpointReader::open(file)?
                .for_each_block_where(wanted, |raw| loader.load_block(raw))?;
        }
        Ok((loader.bytes(), loader.expired))
    }

    /// Builds a new memory tier from the checkpoint at `path` (and its chain), aside
    /// from any live one. The restored checkpoint becomes its incremental base.
    pub fn restore(path: &Path, default_ttl: Ttl) -> Result<(Arc<MemoryTier>, RestoreSummary)> {
        let started = std::time::Instant::now();
        let chain = chain_of(path)?;
        let capacity: u64 = chain.iter().map(|(_, i)| i.header.entry_count).sum();
        let tier = Arc::new(MemoryTier::with_capacity(
            default_ttl,
            Arc::new(SystemClock),
            capacity.min(1 << 28) as usize,
        ));
        let now_ms = tier.now_ms();
        // Every restored entry takes this one version: all are older than the cut
        // taken below, so the next incremental checkpoint leaves them out.
        let version = tier.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let results: Vec<Result<(u64, u64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..RESTORE_THREADS)
                .map(|part| {
                    let (tier, chain) = (&tier, &chain);
                    scope.spawn(move || restore_share(tier, chain, version, now_ms, part))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::new(
                            ErrorCode::Corrupt,
                            format!(
                                "restoring {} failed: a restore thread panicked",
                                path.display()
                            ),
                        ))
                    })
                })
                .collect()
        });
        let (mut bytes, mut expired) = (0u64, 0);
        for r in results {
            let (b, e) = r?;
            bytes = bytes.wrapping_add(b);
            expired += e;
        }
        tier.set_memory_bytes(bytes);
        let summary = RestoreSummary::of_chain(&chain, tier.len() as u64, expired, started);
        let cut = tier.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tier.counters.reset();
        tier.snapshot.set_base(Base {
            id: summary.id,
            cut,
        });
        Ok((tier, summary))
    }
}
