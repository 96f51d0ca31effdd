//! Checkpoints and restores of the sled tier. A restore writes the checkpoint's state
//! into a new generation of trees beside the live ones, verifying every block as it
//! reads; only when all of it has verified does it switch generations, in one metadata
//! write. A damaged file leaves the store exactly as it was, and a crash mid-restore
//! leaves the old generation in place (the next open drops the half-built one).

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::checkpoint::restore::{chain_of, restore_chain, RestoreSummary, RestoreTarget};
use crate::error::Result;
use crate::sled::format::{encode_value, index_key, HEADER};
use crate::sled::{commit_gen, open_trees, SledTier, Trees};
use crate::ttl::{is_expired, NEVER};

struct Target<'a> {
    tier: &'a SledTier,
    trees: &'a Trees,
    data: sled::Batch,
    index: sled::Batch,
    pending: usize,
    now_ms: u64,
}

impl Target<'_> {
    fn apply(&mut self) -> Result<()> {
        if self.pending == 0 {
            // An empty batch still costs sled a log write.
            return Ok(());
        }
        let index = std::mem::take(&mut self.index);
        let data = std::mem::take(&mut self.data);
        self.tier
            .guard("restoring", || self.trees.expiry.apply_batch(index))?;
        self.tier
            .guard("restoring", || self.trees.data.apply_batch(data))?;
        self.pending = 0;
        Ok(())
    }

    fn counted(&mut self) -> Result<()> {
        self.pending += 1;
        if self.pending >= 1024 {
            self.apply()?;
        }
        Ok(())
    }
}

impl RestoreTarget for Target<'_> {
    fn put_absolute(&mut self, key: &[u8], value: &[u8], expires_at: u64) -> Result<bool> {
        crate::limits::check_key(key)?;
        if is_expired(expires_at, self.now_ms) {
            self.data.remove(key);
            self.counted()?;
            return Ok(false);
        }
        if expires_at != NEVER {
            self.index.insert(index_key(expires_at, key), &[]);
        }
        self.data.insert(key, encode_value(expires_at, value));
        self.counted()?;
        Ok(true)
    }

    fn remove(&mut self, key: &[u8]) -> Result<()> {
        crate::limits::check_key(key)?;
        self.data.remove(key);
        self.counted()
    }

    fn clear(&mut self) -> Result<()> {
        self.apply()?;
        self.tier
            .guard("restoring", || super::clear_tree(&self.trees.data))?;
        self.tier
            .guard("restoring", || super::clear_tree(&self.trees.expiry))
    }
}

impl SledTier {
    /// Replaces the tier's state with the checkpoint at `path` (and its chain).
    pub fn restore_from(self: &Arc<Self>, path: &Path) -> Result<RestoreSummary> {
        self.claim_restore()?.restore(path)
    }

    /// Claims the tier for a restore, unless a checkpoint or another restore runs; the
    /// claim ends when the returned value is dropped.
    pub fn claim_restore(self: &Arc<Self>) -> Result<SledRestoreClaim> {
        self.snapshot.claim()?;
        Ok(SledRestoreClaim(Arc::clone(self)))
    }
}

/// A sled tier claimed for a restore: checkpoints and other restores are
/// `ERR_STATEKIT_BUSY` until it is dropped.
pub struct SledRestoreClaim(Arc<SledTier>);

impl SledRestoreClaim {
    /// Restores the checkpoint at `path` (and its chain) into the claimed tier.
    pub fn restore(&self, path: &Path) -> Result<RestoreSummary> {
        restore_claimed(&self.0, path)
    }
}

impl Drop for SledRestoreClaim {
    fn drop(&mut self) {
        self.0.snapshot.release();
    }
}

fn restore_claimed(tier: &Arc<SledTier>, path: &Path) -> Result<RestoreSummary> {
    // After an I/O error, sled works again (or is reopened) before the restore starts.
    if tier.faulted.load(Relaxed) {
        tier.recover_claimed()?;
    }
    // A file that is not a checkpoint, or whose chain is incomplete, is refused before
    // sled is touched.
    let started = std::time::Instant::now();
    let chain = chain_of(path)?;
    let (db, next_gen) = {
        let engine = tier.engine()?;
        (engine.db.clone(), engine.trees.gen + 1)
    };
    let next = open_trees(tier.path(), &db, next_gen)?;
    let built = (|| {
        tier.guard("preparing a restore", || super::clear_tree(&next.data))?;
        tier.guard("preparing a restore", || super::clear_tree(&next.expiry))?;
        let mut target = Target {
            tier,
            trees: &next,
            data: sled::Batch::default(),
            index: sled::Batch::default(),
            pending: 0,
            now_ms: tier.now_ms(),
        };
        let summary = restore_chain(&chain, started, &mut target)?;
        target.apply()?;
        let (mut n, mut bytes) = (0u64, 0u64);
        for item in next.data.iter() {
            let (k, v) = tier.guard("restoring", || item)?;
            n += 1;
            bytes += (k.len() + v.len().saturating_sub(HEADER)) as u64;
        }
        tier.flush()?;
        Ok((summary, n, bytes))
    })();
    let (mut summary, n, bytes) = match built {
        Ok(done) => done,
        Err(e) => {
            let _ = db.drop_tree(next.data.name());
            let _ = db.drop_tree(next.expiry.name());
            return Err(e);
        }
    };
    let old = tier.swap_trees(next)?;
    tier.entries.store(n, Relaxed);
    tier.bytes.store(bytes, Relaxed);
    commit_gen(tier, next_gen)?;
    let _ = db.drop_tree(old.data.name());
    let _ = db.drop_tree(old.expiry.name());
    tier.snapshot.set_base(summary.id);
    summary.entries = n;
    Ok(summary)
}
