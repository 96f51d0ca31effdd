//! The engine API: one [`Store`] over either tier. Callers (the N-API binding, the
//! tests, the tools) call it once per operation and never decide which tier they talk
//! to; every tier-specific step is chosen here.

mod cursor;
mod into;
mod jobs;
mod shared;

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use cursor::Cursor;
pub use into::Copied;
pub use jobs::{PendingCheckpoint, PendingRestore, Restored};
pub use shared::{Attached, ShareTicket, Sharing};

use crate::batch::PutEntry;
use crate::changelog::FsyncMode;
use crate::checkpoint::CheckpointRequest;
use crate::cleanup::{CleanupTask, Sweep};
use crate::error::{Error, Result};
use crate::limits::check_keys;
use crate::memory::{ChangeLogReplay, MemoryTier};
use crate::range::KeyRange;
use crate::sled::{SledOptions, SledTier};
use crate::stats::StatsSnapshot;
use crate::ttl::Ttl;

/// A store of either tier. Cloning is cheap and gives another handle on the same data.
#[derive(Clone, Debug)]
pub enum Store {
    /// The in-memory tier.
    Memory(Arc<MemoryTier>),
    /// The persistent tier on sled.
    Sled(Arc<SledTier>),
}

/// Runs the same expression on whichever tier `$store` holds.
macro_rules! on_tier {
    ($store:expr, $t:ident => $e:expr) => {
        match $store {
            Store::Memory($t) => $e,
            Store::Sled($t) => $e,
        }
    };
}

impl Store {
    /// A new empty in-memory store whose entries take `default_ttl`.
    pub fn memory(default_ttl: Ttl) -> Store {
        Store::Memory(Arc::new(MemoryTier::new(default_ttl)))
    }

    /// Opens (or creates) a sled store; blocks on disk I/O.
    pub fn open_sled(options: &SledOptions) -> Result<Store> {
        Ok(Store::Sled(Arc::new(SledTier::open(options)?)))
    }

    /// `"memory"` or `"sled"`.
    pub fn tier_name(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Sled(_) => "sled",
        }
    }

    /// Calls `f` with the live value of `key`, counting a hit or a miss. `f` runs under
    /// the tier's read guard and must not touch the store.
    #[inline]
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        on_tier!(self, t => t.get_with(key, f))
    }

    /// Like [`Store::get_with`] without counting (the caller counts with
    /// [`Store::record_gets`]) and without checking the key's size (the caller did).
    #[inline]
    pub fn peek_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        on_tier!(self, t => t.peek_with(key, f))
    }

    /// Counts gets whose lookups were done with [`Store::peek_with`].
    #[inline]
    pub fn record_gets(&self, hits: u64, misses: u64) {
        on_tier!(self, t => t.record_gets(hits, misses))
    }

    /// Calls `f(i, value)` for each key's live value, in order; `None` for a miss. Every
    /// key is checked before any is read.
    pub fn get_many_with(
        &self,
        keys: &[&[u8]],
        mut f: impl FnMut(usize, Option<&[u8]>),
    ) -> Result<()> {
        check_keys(keys)?;
        for (i, key) in keys.iter().enumerate() {
            let mut found = false;
            self.get_with(key, |v| {
                found = true;
                f(i, Some(v))
            })?;
            if !found {
                f(i, None);
            }
        }
        Ok(())
    }

    /// Whether `key` has a live value (not counted as a get).
    #[inline]
    pub fn has(&self, key: &[u8]) -> Result<bool> {
        on_tier!(self, t => t.has(key))
    }

    /// Stores `value` under `key`.
    #[inline]
    pub fn put(&self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<()> {
        on_tier!(self, t => t.put(key, value, ttl))
    }

    /// Removes `key`; returns whether a live entry was removed.
    #[inline]
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        on_tier!(self, t => t.delete(key))
    }

    /// Stores every entry, or none if any is invalid; readers and cuts see all or none.
    pub fn put_many(&self, entries: &[PutEntry<'_>]) -> Result<()> {
        on_tier!(self, t => t.put_many(entries))
    }

    /// Removes every key, or none if any is invalid; returns for each whether a live
    /// entry was removed.
    pub fn delete_many(&self, keys: &[&[u8]]) -> Result<Vec<bool>> {
        on_tier!(self, t => t.delete_many(keys))
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<()> {
        on_tier!(self, t => t.clear())
    }

    /// Removes expired entries now; returns how many.
    pub fn cleanup_expired(&self) -> Result<u64> {
        on_tier!(self, t => t.cleanup_expired())
    }

    /// Sweeps expired entries every `interval` on a background thread that never keeps
    /// the process alive and ends when the store is dropped.
    pub fn start_cleanup(&self, interval: Duration) -> Result<CleanupTask> {
        CleanupTask::start(self.sweep_target(), interval)
    }

    fn sweep_target(&self) -> Weak<dyn Sweep> {
        on_tier!(self, t => Arc::downgrade(t) as Weak<dyn Sweep>)
    }

    /// A cursor over the live entries of `range`, in key order.
    pub fn cursor(&self, range: KeyRange) -> Cursor {
        Cursor::new(self, range)
    }

    /// Counters and sizes; `disk_bytes` is measured on the sled tier (it reads the
    /// directory; `None` while sled is closed after a failed reopen), `None` on the
    /// memory tier.
    pub fn stats(&self) -> Result<StatsSnapshot> {
        Ok(match self {
            Store::Memory(t) => t.stats(),
            Store::Sled(t) => StatsSnapshot {
                disk_bytes: t.size_on_disk().ok(),
                reopen_count: Some(t.reopen_count()),
                ..t.stats()
            },
        })
    }

    /// Writes every earlier write to disk; returns the bytes flushed (sled) or the
    /// records the change log holds durably (memory with a change log). Blocks on I/O.
    pub fn flush(&self) -> Result<u64> {
        match self {
            Store::Memory(t) => match t.change_log() {
                Some(log) => log.flush(),
                None => Err(Error::invalid_arg(
                    "flush needs the sled tier or a change log; this store is in memory without one",
                )),
            },
            Store::Sled(t) => t.flush(),
        }
    }

    /// Attaches a new change log in `dir` to a memory store (`dir` must hold no
    /// segments). Blocks on I/O (creating the first segment).
    pub fn attach_change_log(&self, dir: &Path, mode: FsyncMode) -> Result<()> {
        self.memory_tier("changeLog")?.attach_change_log(dir, mode)
    }

    /// Replays the change log in `dir` from segment `from` into a memory store and
    /// attaches it for new writes. Blocks on I/O: run it on a worker thread.
    pub fn recover_change_log(
        &self,
        dir: &Path,
        mode: FsyncMode,
        from: Option<u64>,
    ) -> Result<ChangeLogReplay> {
        self.memory_tier("changeLog")?
            .recover_change_log(dir, mode, from)
    }

    /// Deletes the change log segments below `first_kept` (a committed checkpoint
    /// covers them); returns how many. Blocks on I/O.
    pub fn truncate_change_log(&self, first_kept: u64) -> Result<u64> {
        match self.memory_tier("truncateChangeLog")?.change_log() {
            Some(log) => log.truncate(first_kept),
            None => Err(Error::invalid_arg("this store has no change log")),
        }
    }

    /// Waits until change log record `n` (from
    /// [`crate::take_deferred_change_log_ack`]) is durable. Blocks: run it on a worker
    /// thread.
    pub fn wait_change_log(&self, n: u64) -> Result<()> {
        self.memory_tier("waitChangeLog")?.wait_change_log(n)
    }

    /// The change log's fsync mode, if this is a memory store with a change log.
    pub fn change_log_fsync(&self) -> Option<FsyncMode> {
        match self {
            Store::Memory(t) => t.change_log().map(|l| l.mode()),
            Store::Sled(_) => None,
        }
    }

    fn memory_tier(&self, what: &str) -> Result<&Arc<MemoryTier>> {
        match self {
            Store::Memory(t) => Ok(t),
            Store::Sled(_) => Err(Error::invalid_arg(format!(
                "{what} needs the memory tier; this store is on sled"
            ))),
        }
    }

    /// Bytes on disk. Blocks on I/O.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.sled("sizeOnDisk")?.size_on_disk()
    }

    fn sled(&self, what: &str) -> Result<&Arc<SledTier>> {
        match self {
            Store::Sled(t) => Ok(t),
            Store::Memory(_) => Err(Error::invalid_arg(format!(
                "{what} needs the sled tier; this store is in memory"
            ))),
        }
    }

    /// Takes a checkpoint's cut now (cheap; on the calling thread). The returned
    /// checkpoint is written by [`PendingCheckpoint::write`], on a worker thread.
    pub fn begin_checkpoint(&self, req: CheckpointRequest) -> Result<PendingCheckpoint> {
        PendingCheckpoint::begin(self, req)
    }

    /// Claims the store for a restore of the checkpoint at `path` (cheap; on the
    /// calling thread): checkpoints and restores started after it are
    /// `ERR_STATEKIT_BUSY`. The returned restore does the work, on a worker thread.
    pub fn begin_restore(&self, path: &Path) -> Result<PendingRestore> {
        PendingRestore::begin(self, path)
    }

    /// Restores the checkpoint at `path` and its chain, verifying as it reads. Blocks:
    /// run it on a worker thread. The memory tier builds the new state aside and it is
    /// switched in by [`Store::adopt`]; the sled tier switches in place.
    pub fn restore(&self, path: &Path) -> Result<Restored> {
        self.begin_restore(path)?.run()
    }

    /// Switches a memory-tier restore's new data into this store, at once for every
    /// handle on it in every thread (the sled tier restored in place already).
    pub fn adopt(&self, restored: &mut Restored) {
        if let Store::Memory(live) = self {
            restored.switch_into(live);
        }
    }

    /// Releases this handle once every operation still running on the store (a
    /// checkpoint being written, a restore being built, a flush) has finished, waiting
    /// up to `wait`; after that the last of them releases it. A sled store is flushed
    /// first and closed (its directory lock released) with its last handle. Blocks:
    /// run it on a worker thread.
    pub fn close(self, wait: Duration) -> Result<()> {
        match self {
            Store::Memory(t) => {
                drop(last_handle(t, wait));
                Ok(())
            }
            Store::Sled(t) => {
                t.flush()?;
                match last_handle(t, wait) {
                    Some(owned) => owned.close_clean(),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The value behind `arc` once `arc` is its last strong handle, polling for up to
/// `wait`; past that `None`, and the last other holder frees the value.
fn last_handle<T>(mut arc: Arc<T>, wait: Duration) -> Option<T> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match Arc::try_unwrap(arc) {
            Ok(owned) => return Some(owned),
            Err(shared) if std::time::Instant::now() < deadline => {
                arc = shared;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return None,
        }
    }
}
