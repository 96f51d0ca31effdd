//! Checkpoints and restores of the memory tier: writing the cut a snapshot took, and
//! building a new tier from a checkpoint chain on several threads.

use std::path::Path;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use super::snapshot::Base;
use crate::checkpoint::format::Kind;
use crate::checkpoint::reader::CheckpointReader;
use crate::checkpoint::restore::{chain_of, RestoreSummary};
use crate::clock::SystemClock;
use crate::error::Result;
use crate::error::{Error, ErrorCode};
use crate::memory::bulk::{BulkLoader, Share};
use crate::memory::write::{Locked, ShardTable};
use crate::memory::MemoryTier;
use crate::ttl::Ttl;

/// Threads that fill a restored tier.
const RESTORE_THREADS: usize = 2;

/// Restores one thread's share of the records; returns the bytes its entries hold,
/// how many of its puts had expired, and how many removal markers it left (see
/// `BulkLoader::forget`). A lone full checkpoint's blocks are split between the
/// threads (a key repeated in a later block wins by the block's version); a chain must
/// apply every record of a key in order, so each thread reads every block and keeps
/// its share of shards. Either way every thread verifies the whole chain as it reads.
fn restore_share(
    tier: &MemoryTier,
    chain: &[(
        std::path::PathBuf,
        crate::checkpoint::reader::CheckpointInfo,
    )],
    version: u64,
    now_ms: u64,
    part: usize,
) -> Result<(u64, u64, u64)> {
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
    for (file, info) in chain {
        loader.set_full(info.header.kind == Kind::Full);
        let wanted = |block: u64| !by_block || block as usize % RESTORE_THREADS == part;
        CheckpointReader::open(file)?.for_each_block_where(wanted, |block, raw| {
            if by_block {
                // A later block's record of a key wins, as in a file read in order.
                loader.set_version(version + block);
            }
            loader.load_block(raw)
        })?;
    }
    Ok((loader.bytes(), loader.expired, loader.markers))
}

impl MemoryTier {
    /// Builds a new memory tier from the checkpoint at `path` (and its chain), aside
    /// from any live one. The restored checkpoint becomes its incremental base.
    pub fn restore_from(
        path: &Path,
        default_ttl: Ttl,
    ) -> Result<(Arc<MemoryTier>, RestoreSummary)> {
        Self::build_from(path, |capacity| {
            MemoryTier::with_capacity(default_ttl, Arc::new(SystemClock), capacity)
        })
    }

    /// Builds the data of a restore of this tier aside, with this tier's hasher, clock
    /// and default TTL, for [`MemoryTier::switch_in`].
    pub(crate) fn restore_aside(&self, path: &Path) -> Result<(Arc<MemoryTier>, RestoreSummary)> {
        Self::build_from(path, |capacity| {
            MemoryTier::with_seed(self.default_ttl, self.clock(), capacity, self.seed())
        })
    }

    fn build_from(
        path: &Path,
        make: impl FnOnce(usize) -> MemoryTier,
    ) -> Result<(Arc<MemoryTier>, RestoreSummary)> {
        let started = std::time::Instant::now();
        let chain = chain_of(path)?;
        let tier = Arc::new(make(presize(&chain)));
        let now_ms = tier.now_ms();
        // Restored entries take versions from here on (one per block of a lone full
        // checkpoint, whose blocks the threads split; one for all of a chain): all are
        // older than the cut taken below, so the next incremental leaves them out.
        let blocks: u64 = chain.iter().map(|(_, i)| i.footer.block_count).sum();
        let version = tier.seq.fetch_add(blocks.max(1), SeqCst);
        let results: Vec<Result<(u64, u64, u64)>> = std::thread::scope(|scope| {
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
        let (mut bytes, mut expired, mut markers) = (0u64, 0, 0);
        for r in results {
            let (b, e, m) = r?;
            bytes = bytes.wrapping_add(b);
            expired += e;
            markers += m;
        }
        if markers > 0 {
            // The removal markers of a lone full checkpoint's expired puts.
            tier.map.retain(|_, e| e.value.is_some());
        }
        tier.set_memory_bytes(bytes);
        let summary = RestoreSummary::of_chain(&chain, tier.len() as u64, expired, started);
        let cut = tier.seq.fetch_add(1, SeqCst);
        tier.counters.reset();
        tier.snapshot.set_base(Base {
            id: summary.id,
            cut,
        });
        Ok((tier, summary))
    }

    /// Switches the data `next` holds (built by [`MemoryTier::restore_aside`] of this
    /// tier) into this tier, holding every shard's lock of both: every thread sees the
    /// old data or the new, never a mix. This tier keeps its counters (a restore
    /// replaces the data, not the store's history); `next` is left with the old data,
    /// for its owner to free. Cursors opened before end.
    pub(crate) fn switch_in(&self, next: &MemoryTier) {
        debug_assert_eq!(self.seed(), next.seed());
        let mut mine = Locked::all(self);
        let mut theirs = Locked::all(next);
        for (a, b) in mine.tables().iter_mut().zip(theirs.tables()) {
            std::mem::swap::<ShardTable>(a, b);
        }
        self.memory_bytes
            .store(next.memory_bytes.load(SeqCst), SeqCst);
        self.tombstones.store(next.tombstones.load(SeqCst), SeqCst);
        // Every restored entry's version must stay below the new base's cut.
        self.seq.fetch_max(next.seq.load(SeqCst), SeqCst);
        let cut = self.seq.fetch_add(1, SeqCst);
        if let Some(base) = next.snapshot.base() {
            self.snapshot.restart_from(Base { id: base.id, cut });
        }
        self.bump_epoch();
    }
}

/// Entries to size a restored tier's table for: the count the chain's headers claim,
/// but never more than its files could hold (a damaged header must not allocate
/// gigabytes before the damage is found).
fn presize(
    chain: &[(
        std::path::PathBuf,
        crate::checkpoint::reader::CheckpointInfo,
    )],
) -> usize {
    let claimed: u64 = chain.iter().map(|(_, i)| i.header.entry_count).sum();
    let file_bytes: u64 = chain
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    presize_for(claimed, file_bytes)
}

/// The most entries a byte of checkpoint file is taken to hold when sizing a restore:
/// generous for well-compressed data; past it the table grows as it fills.
const MAX_ENTRIES_PER_FILE_BYTE: u64 = 4;

fn presize_for(claimed: u64, file_bytes: u64) -> usize {
    claimed
        .min(file_bytes.saturating_mul(MAX_ENTRIES_PER_FILE_BYTE))
        .min(1 << 28) as usize
}

#[cfg(test)]
mod tests {
    use super::presize_for;

    #[test]
    fn a_header_claiming_more_entries_than_its_file_can_hold_does_not_size_the_table() {
        // The fuzzer's case: a 248-byte file whose header claimed enough entries to
        // allocate 529 MB before the damage was found.
        assert_eq!(presize_for(u64::MAX, 248), 992);
        assert_eq!(presize_for(1_000_000, 40 << 20), 1_000_000);
        assert_eq!(presize_for(u64::MAX, u64::MAX), 1 << 28);
    }
}
