//! The two long operations of a store: a checkpoint (a cut taken on the calling
//! thread, written on a worker) and a restore (built on a worker, switched in by the
//! caller).

use std::path::Path;

use super::Store;
use crate::checkpoint::{
    validate, write_cut, CheckpointRequest, CheckpointSummary, RestoreSummary,
};
use crate::error::{Error, ErrorCode, Result};
use crate::memory::{MemorySnapshot, MemoryTier};
use crate::sled::SledSnapshot;

/// A checkpoint whose cut is taken and whose file is not written yet. Dropping it
/// unwritten ends the cut and publishes nothing.
pub struct PendingCheckpoint {
    cut: Option<Cut>,
    req: CheckpointRequest,
}

enum Cut {
    Memory(MemorySnapshot),
    Sled(SledSnapshot),
}

impl PendingCheckpoint {
    pub(super) fn begin(store: &Store, req: CheckpointRequest) -> Result<Self> {
        validate(&req)?;
        let cut = match store {
            Store::Memory(t) => Cut::Memory(t.begin_snapshot(req.kind)?),
            Store::Sled(t) => Cut::Sled(t.begin_snapshot(req.kind)?),
        };
        Ok(PendingCheckpoint {
            cut: Some(cut),
            req,
        })
    }

    /// Writes and publishes the file (blocks on compression and I/O), then ends the cut.
    pub fn write(&mut self) -> Result<CheckpointSummary> {
        match self.cut.take() {
            Some(Cut::Memory(s)) => write_cut(s, &self.req),
            Some(Cut::Sled(s)) => write_cut(s, &self.req),
            None => Err(Error::new(ErrorCode::Io, "checkpoint already written")),
        }
    }
}

/// What a restore built: its summary and, for the memory tier, the new state that
/// [`Store::adopt`] switches in.
pub struct Restored {
    state: Option<Store>,
    summary: RestoreSummary,
}

impl Restored {
    pub(super) fn build(store: &Store, path: &Path) -> Result<Restored> {
        if path.as_os_str().is_empty() {
            return Err(Error::invalid_arg("path must be a non-empty string"));
        }
        Ok(match store {
            Store::Memory(t) => {
                let (tier, summary) = MemoryTier::restore_from(path, t.default_ttl())?;
                Restored {
                    state: Some(Store::Memory(tier)),
                    summary,
                }
            }
            Store::Sled(t) => Restored {
                state: None,
                summary: t.restore_from(path)?,
            },
        })
    }

    /// What the restore did.
    pub fn summary(&self) -> &RestoreSummary {
        &self.summary
    }

    pub(super) fn take_state(&mut self) -> Option<Store> {
        self.state.take()
    }
}
