//! The memory tier's change log: attaching one (after replaying what an earlier
//! process logged) and the calls the write paths make. Each write appends its record
//! while it still holds the lock of the shard it changed, so the log's order is the
//! order the writes took effect, whichever thread made them.

use std::path::Path;

use crate::batch::PutEntry;
use crate::changelog::writer::lock_dir;
use crate::changelog::{replay, ChangeLog, FsyncMode, ReplaySummary};
use crate::checkpoint::format::Record;
use crate::error::{Error, Result};
use crate::memory::MemoryTier;
use crate::ttl::is_expired;

/// What attaching a change log found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeLogReplay {
    /// What replay read.
    pub summary: ReplaySummary,
    /// Puts replayed whose entries had expired meanwhile (applied as deletes).
    pub expired: u64,
}

impl MemoryTier {
    /// The attached change log, if any.
    #[inline]
    pub fn change_log(&self) -> Option<&ChangeLog> {
        self.log.get()
    }

    /// Attaches a new, empty change log in `dir`: `ERR_STATEKIT_INVALID_ARG` if `dir`
    /// already holds segments (those are recovered with
    /// [`MemoryTier::recover_change_log`]).
    pub fn attach_change_log(&self, dir: &Path, mode: FsyncMode) -> Result<()> {
        if self.log.get().is_some() {
            return Err(Error::invalid_arg("this store already has a change log"));
        }
        let lock = lock_dir(dir)?;
        if !crate::changelog::segment::list(dir)?.is_empty() {
            return Err(Error::invalid_arg(format!(
                "changeLog.dir {} holds a change log: open it with MemoryBackend.openWithRecovery",
                dir.display()
            )));
        }
        self.install(ChangeLog::open_locked(lock, dir, mode, 1)?)
    }

    /// Replays the log in `dir` from segment `from` (the number a restored
    /// checkpoint recorded; `None` without one) into this tier, then attaches the log
    /// for new writes in a new segment. Puts whose entries expired while the process
    /// was down are applied as deletes (TTLs are absolute). Blocks on I/O.
    pub fn recover_change_log(
        &self,
        dir: &Path,
        mode: FsyncMode,
        from: Option<u64>,
    ) -> Result<ChangeLogReplay> {
        if self.log.get().is_some() {
            return Err(Error::invalid_arg("this store already has a change log"));
        }
        // Locked before reading, so no other store appends meanwhile.
        let lock = lock_dir(dir)?;
        let now = self.now_ms();
        let mut expired = 0;
        let summary = replay(dir, from, |change| {
            match change {
                Record::Put {
                    key, expires_at, ..
                } if is_expired(expires_at, now) => {
                    expired += 1;
                    self.delete(key)?;
                }
                Record::Put {
                    key,
                    value,
                    expires_at,
                } => self.put_absolute(key, value, expires_at),
                Record::Tombstone { key } => {
                    self.delete(key)?;
                }
                Record::Clear => self.clear()?,
            }
            Ok(())
        })?;
        self.install(ChangeLog::open_locked(
            lock,
            dir,
            mode,
            summary.next_segment,
        )?)?;
        Ok(ChangeLogReplay { summary, expired })
    }

    fn install(&self, log: ChangeLog) -> Result<()> {
        self.log
            .set(log)
            .map_err(|_| Error::invalid_arg("this store already has a change log"))
    }

    /// Fails if the log can no longer take records, before a write changes anything.
    #[inline]
    pub(crate) fn log_check(&self) -> Result<()> {
        match self.log.get() {
            Some(l) => l.check(),
            None => Ok(()),
        }
    }

    /// Appends a put; call it holding the key's shard lock. Returns the record's
    /// number (0 without a log).
    #[inline]
    pub(crate) fn log_put(&self, key: &[u8], value: &[u8], expires_at: u64) -> u64 {
        match self.log.get() {
            Some(l) => l.append_one(&Record::Put {
                key,
                value,
                expires_at,
            }),
            None => 0,
        }
    }

    /// Appends a delete; call it holding the key's shard lock.
    #[inline]
    pub(crate) fn log_delete(&self, key: &[u8]) -> u64 {
        match self.log.get() {
            Some(l) => l.append_one(&Record::Tombstone { key }),
            None => 0,
        }
    }

    /// Appends a batch of puts as one record, with the absolute expiries they took.
    pub(crate) fn log_batch(&self, entries: &[PutEntry<'_>], expiries: &[u64]) -> u64 {
        match self.log.get() {
            Some(l) => {
                let changes: Vec<Record<'_>> = entries
                    .iter()
                    .zip(expiries)
                    .map(|(e, &expires_at)| Record::Put {
                        key: e.key,
                        value: e.value,
                        expires_at,
                    })
                    .collect();
                l.append_batch(&changes)
            }
            None => 0,
        }
    }

    /// Appends one record of tombstones for the keys a batch removed (`removed[i]` is
    /// `Some` where key `i` held something); 0 if it removed nothing.
    pub(crate) fn log_deletes(&self, keys: &[&[u8]], removed: &[Option<bool>]) -> u64 {
        match self.log.get() {
            Some(l) => {
                let changes: Vec<Record<'_>> = keys
                    .iter()
                    .zip(removed)
                    .filter(|(_, r)| r.is_some())
                    .map(|(key, _)| Record::Tombstone { key })
                    .collect();
                if changes.is_empty() {
                    0
                } else {
                    l.append_batch(&changes)
                }
            }
            None => 0,
        }
    }

    /// Starts a new change log segment at a checkpoint's cut; call it holding every
    /// shard's lock. Returns the segment's number (`None` without a log).
    pub(crate) fn log_rotate(&self) -> Option<u64> {
        self.log.get().map(|l| l.rotate())
    }

    /// Appends a clear.
    pub(crate) fn log_clear(&self) -> u64 {
        match self.log.get() {
            Some(l) => l.append_one(&Record::Clear),
            None => 0,
        }
    }

    /// Acknowledges record `n` by the log's fsync mode (waits in `always` mode, unless
    /// the calling thread defers its acknowledgements: see [`defer_acks`]). Call it
    /// with no lock held.
    #[inline]
    pub(crate) fn log_ack(&self, n: u64) -> Result<()> {
        match self.log.get() {
            Some(l) if n != 0 => {
                let deferred = DEFERRED.with(|d| match d.get() {
                    Some(max) => {
                        d.set(Some(max.max(n)));
                        true
                    }
                    None => false,
                });
                if deferred {
                    Ok(())
                } else {
                    l.acknowledge(n)
                }
            }
            _ => Ok(()),
        }
    }

    /// Waits until change log record `n` is durable (`Ok` at once without a log).
    pub fn wait_change_log(&self, n: u64) -> Result<()> {
        match self.log.get() {
            Some(l) if n != 0 => l.wait_durable(n),
            _ => Ok(()),
        }
    }
}

thread_local! {
    /// While set, writes on this thread do not wait for their log records; the
    /// newest record's number is kept here instead.
    static DEFERRED: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// From now until [`take_deferred`], writes made on this thread return without waiting
/// for their change log records to be durable, even in `always` mode: the caller waits
/// for the newest of them afterwards with [`MemoryTier::wait_change_log`], off this
/// thread (an async write whose Promise resolves once durable, while the JavaScript
/// thread goes on and concurrent writes share the fsync).
pub fn defer_acks() {
    DEFERRED.with(|d| d.set(Some(0)));
}

/// Ends [`defer_acks`]; returns the newest log record written meanwhile (0 if none).
pub fn take_deferred() -> u64 {
    DEFERRED.with(|d| d.replace(None)).unwrap_or(0)
}

impl MemoryTier {}
