//! Reopening sled behind an open handle after an I/O error.
//!
//! sled 0.34 keeps its first I/O error (a full disk, say) as a global error: every
//! later write and flush of that `Db` fails with it, even once the cause is gone. So
//! an I/O error marks the tier faulted, and the next write or flush (from any thread)
//! first flushes: if that works, the error has passed and nothing is lost. If it does
//! not, the tier closes sled and opens the directory again, as a restart would:
//!
//! - every flushed write is there: the flush marker is checked as at open, and a store
//!   that lost flushed data is `ERR_STATEKIT_CORRUPT`;
//! - writes applied but not yet flushed when the error happened are gone, as after a
//!   crash, and the next incremental checkpoint records the whole state (its base may
//!   hold some of them);
//! - a scan that was running ends, as across a restore.
//!
//! Until a reopen works, writes and flushes fail with its error and try again; reads
//! go on from the failed sled, and, once it is closed, try the reopen too. No reopen
//! happens while a checkpoint or restore of the store runs: it would still be reading
//! the old sled.

use std::path::Path;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use crate::error::{Error, ErrorCode, Result};
use crate::sled::marker;
use crate::sled::tier::{load, Engine, SledTier};

/// The error of a call that found sled closed after a failed reopen.
pub(crate) fn not_reopened(path: &Path) -> Error {
    Error::new(
        ErrorCode::Io,
        format!(
            "{} had an I/O error and could not be reopened yet; the next call tries again",
            path.display()
        ),
    )
}

impl SledTier {
    /// Makes sure sled works again after an I/O error: a flush, or else a reopen.
    /// Takes the flush sequence, then every writer's gate, then the engine: the caller
    /// holds none of them.
    pub(crate) fn recover(&self) -> Result<()> {
        self.recover_with(false)
    }

    /// [`SledTier::recover`] for a restore that has claimed the store and not yet
    /// started: its claim does not stand in the way of a reopen.
    pub(crate) fn recover_claimed(&self) -> Result<()> {
        self.recover_with(true)
    }

    fn recover_with(&self, claimed: bool) -> Result<()> {
        let mut seq = self.flush_seq.lock();
        let _gate = self.snapshot.exclusive_gate();
        if !self.faulted.load(SeqCst) {
            return Ok(());
        }
        if let Some(engine) = self.engine_slot().read().as_ref() {
            if self.flush_engine(engine, &mut seq).is_ok() {
                self.faulted.store(false, SeqCst);
                return Ok(());
            }
        }
        if !claimed && self.snapshot.is_running() {
            return Err(Error::new(
                ErrorCode::Io,
                format!(
                    "{} had an I/O error and cannot be reopened while a checkpoint or restore of it runs; try again once it ends",
                    self.path().display()
                ),
            ));
        }
        self.reopen(&mut seq)
    }

    /// Closes sled and opens the directory again; the caller holds the flush sequence
    /// (`seq`) and every writer's gate, and no checkpoint or restore is reading.
    fn reopen(&self, seq: &mut u64) -> Result<()> {
        let mut slot = self.engine_slot().write();
        // Closing sled flushes once more, which fails at once on the kept error.
        drop(slot.take());
        let path = self.path();
        let record = marker::read_record(path)?;
        let loaded = load(&self.options, path, path)?;
        marker::check(path, record.as_ref(), loaded.marker)?;
        *seq = (*seq)
            .max(loaded.marker.unwrap_or(0))
            .max(record.map_or(0, |r| r.seq));
        self.entries.store(loaded.entries, Relaxed);
        self.bytes.store(loaded.bytes, Relaxed);
        let mut trees = loaded.trees;
        trees.epoch = self.next_epoch();
        let data = trees.data.clone();
        self.snapshot.resync(|| {
            data.iter()
                .keys()
                .filter_map(|k| k.ok().map(|k| k.to_vec()))
                .collect()
        });
        *slot = Some(Engine {
            db: loaded.db,
            meta: loaded.meta,
            trees,
        });
        self.reopens.fetch_add(1, Relaxed);
        self.faulted.store(false, SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::format::Kind;
    use crate::checkpoint::request::{write_cut, CheckpointRequest};
    use crate::range::KeyRange;
    use crate::sled::SledOptions;
    use crate::store::Store;
    use crate::ttl::Ttl;
    use crate::{Compression, MemoryTier};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn open(dir: &Path) -> Arc<SledTier> {
        let mut o = SledOptions::new(dir.join("db"));
        o.flush_every_ms = None;
        Arc::new(SledTier::open(&o).expect("open"))
    }

    /// Reopens as `recover` does after a flush that failed.
    fn reopen(tier: &SledTier) {
        let mut seq = tier.flush_seq.lock();
        let _gate = tier.snapshot.exclusive_gate();
        tier.reopen(&mut seq).expect("reopen");
    }

    fn checkpoint(tier: &Arc<SledTier>, path: &Path, kind: Kind) -> u64 {
        let req = CheckpointRequest {
            path: path.to_path_buf(),
            kind,
            compression: Compression::Lz4,
            metadata: "{}".into(),
        };
        let cut = tier.begin_snapshot(kind).expect("cut");
        write_cut(cut, &req).expect("checkpoint").id
    }

    fn dump(tier: &SledTier) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let page = tier.page(&KeyRange::default(), None, 10_000).expect("page");
        assert!(page.done);
        page.entries
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn a_reopen_keeps_the_data_ends_scans_is_counted_and_the_next_incremental_holds_the_whole_state(
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let tier = open(dir.path());
        for i in 0..600u32 {
            tier.put(format!("k{i:04}").as_bytes(), b"v1", Ttl::Default)
                .expect("put");
        }
        tier.flush().expect("flush");
        checkpoint(&tier, &dir.path().join("1.skc"), Kind::Full);
        let mut cursor = Store::Sled(Arc::clone(&tier)).cursor(KeyRange::default());
        assert_eq!(cursor.next_page(10, |_, _| {}).expect("page"), 10);
        // A write the base checkpoint holds and the store then loses, as an unflushed
        // write is lost by a reopen: removed behind the tier's back.
        tier.trees()
            .expect("trees")
            .data
            .remove(b"k0001")
            .expect("remove");
        tier.flush().expect("flush");
        assert_eq!(tier.reopen_count(), 0);

        reopen(&tier);

        assert_eq!(tier.reopen_count(), 1);
        assert_eq!(
            cursor.next_page(10, |_, _| {}).expect("page"),
            0,
            "a scan ends"
        );
        assert_eq!(tier.stats().entry_count, 599, "counted again from sled");
        assert_eq!(tier.get(b"k0599").expect("get"), Some(b"v1".to_vec()));
        tier.put(b"k0000", b"v2", Ttl::Default)
            .expect("put after reopen");
        tier.flush().expect("flush after reopen");

        // Restored, base and incremental hold exactly the live state, without k0001.
        let inc = dir.path().join("2.skc");
        checkpoint(&tier, &inc, Kind::Incremental);
        let (restored, _) = MemoryTier::restore_from(&inc, Ttl::Never).expect("restore");
        let restored: BTreeMap<Vec<u8>, Vec<u8>> = restored
            .keys_in(&KeyRange::default())
            .into_iter()
            .filter_map(|k| restored.get(&k).expect("get").map(|v| (k.to_vec(), v)))
            .collect();
        assert_eq!(restored, dump(&tier));
        assert!(!restored.contains_key(&b"k0001"[..]));
    }
}
