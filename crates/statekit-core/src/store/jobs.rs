//! The two long operations of a store: a checkpoint (a cut taken on the calling
//! thread, written on a worker) and a restore (built on a worker, switched in by the
//! caller).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Store;
use crate::changelog::with_position;
use crate::checkpoint::{
    validate, write_cut, CheckpointRequest, CheckpointSummary, RestoreSummary,
};
use crate::error::{Error, ErrorCode, Result};
use crate::memory::{MemorySnapshot, MemoryTier, RestoreClaim};
use crate::sled::SledRestoreClaim;
use crate::sled::SledSnapshot;

/// A checkpoint whose cut is taken and whose file is not written yet. Dropping it
/// unwritten ends the cut and publishes nothing.
pub struct PendingCheckpoint {
    cut: Option<Cut>,
    req: CheckpointRequest,
    /// The memory tier's change log segment started at the cut.
    log_segment: Option<u64>,
    /// The tier whose log started it, until the file is written.
    log_tier: Option<Arc<MemoryTier>>,
}

enum Cut {
    Memory(MemorySnapshot),
    Sled(SledSnapshot),
}

impl PendingCheckpoint {
    pub(super) fn begin(store: &Store, mut req: CheckpointRequest) -> Result<Self> {
        validate(&req)?;
        let mut log_segment = None;
        let cut = match store {
            Store::Memory(t) => {
                if let Some(log) = t.change_log() {
                    log.check()?;
                    with_position(&req.metadata, 0)?; // checks it before the cut
                }
                let snapshot = t.begin_snapshot(req.kind)?;
                // A new log segment started at the cut; the checkpoint records its
                // number, from which recovery replays.
                if let Some(segment) = snapshot.change_log_segment() {
                    req.metadata = with_position(&req.metadata, segment)?;
                    log_segment = Some((Arc::clone(t), segment));
                }
                Cut::Memory(snapshot)
            }
            Store::Sled(t) => Cut::Sled(t.begin_snapshot(req.kind)?),
        };
        let (log_tier, log_segment) = log_segment.unzip();
        Ok(PendingCheckpoint {
            cut: Some(cut),
            req,
            log_segment,
            log_tier,
        })
    }

    /// The change log segment this checkpoint's replay starts from, if the store has
    /// a change log.
    pub fn change_log_segment(&self) -> Option<u64> {
        self.log_segment
    }

    /// Writes and publishes the file (blocks on compression and I/O), then ends the cut.
    pub fn write(&mut self) -> Result<CheckpointSummary> {
        if let (Some(tier), Some(segment)) = (self.log_tier.take(), self.log_segment) {
            // Published only once the segment its replay starts from exists.
            if let Some(log) = tier.change_log() {
                log.wait_segment(segment)?;
            }
        }
        match self.cut.take() {
            Some(Cut::Memory(s)) => write_cut(s, &self.req),
            Some(Cut::Sled(s)) => write_cut(s, &self.req),
            None => Err(Error::new(ErrorCode::Io, "checkpoint already written")),
        }
    }
}

/// A restore whose claim on the store is taken (on the calling thread, so a checkpoint
/// or restore started after it is `ERR_STATEKIT_BUSY`) and whose work is not done yet.
pub struct PendingRestore {
    path: PathBuf,
    claim: Option<Claim>,
    /// Held until the restore is done, so that closing the store waits for it.
    store: Store,
}

enum Claim {
    Memory(RestoreClaim),
    Sled(SledRestoreClaim),
}

impl PendingRestore {
    pub(super) fn begin(store: &Store, path: &Path) -> Result<PendingRestore> {
        if path.as_os_str().is_empty() {
            return Err(Error::invalid_arg("path must be a non-empty string"));
        }
        crate::checkpoint::request::check_path(path)?;
        let claim = match store {
            Store::Memory(t) if t.change_log().is_some() => {
                return Err(Error::invalid_arg(
                    "restore() into a store with a change log would leave the log describing other data: open the store with MemoryBackend.openWithRecovery instead",
                ))
            }
            Store::Memory(t) => Claim::Memory(t.claim_restore()?),
            Store::Sled(t) => Claim::Sled(t.claim_restore()?),
        };
        Ok(PendingRestore {
            path: path.to_path_buf(),
            claim: Some(claim),
            store: store.clone(),
        })
    }

    /// Reads, verifies and applies the checkpoint chain. Blocks: run it on a worker
    /// thread. The memory tier's new state is built aside and switched in by
    /// [`Store::adopt`]; the sled tier's in place.
    pub fn run(&mut self) -> Result<Restored> {
        match (self.claim.take(), &self.store) {
            (Some(Claim::Memory(claim)), Store::Memory(live)) => {
                let (tier, summary) = live.restore_aside(&self.path)?;
                Ok(Restored {
                    state: Some(tier),
                    summary,
                    claim: Some(claim),
                })
            }
            (Some(Claim::Sled(claim)), _) => Ok(Restored {
                state: None,
                summary: claim.restore(&self.path)?,
                claim: None,
            }),
            _ => Err(Error::new(ErrorCode::Io, "restore already run")),
        }
    }
}

/// What a restore built: its summary and, for the memory tier, the new data that
/// [`Store::adopt`] switches in.
pub struct Restored {
    state: Option<Arc<MemoryTier>>,
    summary: RestoreSummary,
    /// The memory tier being restored, claimed until the new data is switched in.
    claim: Option<RestoreClaim>,
}

impl Restored {
    /// What the restore did.
    pub fn summary(&self) -> &RestoreSummary {
        &self.summary
    }

    /// Switches the restored data into `live` (once), then ends the claim on it. The
    /// replaced data is freed on a thread of its own, so the caller does not wait for
    /// millions of entries to be dropped.
    pub(super) fn switch_into(&mut self, live: &MemoryTier) {
        if let Some(next) = self.state.take() {
            live.switch_in(&next);
            let freed = std::thread::Builder::new()
                .name("statekit-free".into())
                .spawn(move || drop(next));
            drop(freed);
        }
        self.claim = None;
    }
}
