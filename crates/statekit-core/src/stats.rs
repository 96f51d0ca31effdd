//! Operation counters shared by the tiers, updated with relaxed atomics.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters. `getCount` is derived as hits + misses.
#[derive(Debug, Default)]
pub struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    puts: AtomicU64,
    deletes: AtomicU64,
    expired: AtomicU64,
}

/// A copy of the counters at one moment, plus the sizes the tier reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub get_count: u64,
    pub hit_count: u64,
    pub miss_count: u64,
    pub put_count: u64,
    pub delete_count: u64,
    pub expired_count: u64,
    pub entry_count: u64,
    pub memory_bytes: u64,
    /// Bytes on disk (sled tier only).
    pub disk_bytes: Option<u64>,
    /// Times sled was reopened behind the handle after an I/O error (sled tier only).
    pub reopen_count: Option<u64>,
}

impl Counters {
    #[inline]
    pub fn hit(&self) {
        self.hits.fetch_add(1, Relaxed);
    }
    #[inline]
    pub fn miss(&self) {
        self.misses.fetch_add(1, Relaxed);
    }
    #[inline]
    pub fn hits_and_misses(&self, hits: u64, misses: u64) {
        // A single get adds to one of the two: no atomic add of zero on the other.
        if hits != 0 {
            self.hits.fetch_add(hits, Relaxed);
        }
        if misses != 0 {
            self.misses.fetch_add(misses, Relaxed);
        }
    }
    #[inline]
    pub fn put(&self, n: u64) {
        self.puts.fetch_add(n, Relaxed);
    }
    #[inline]
    pub fn delete(&self, n: u64) {
        self.deletes.fetch_add(n, Relaxed);
    }
    #[inline]
    pub fn expired(&self, n: u64) {
        self.expired.fetch_add(n, Relaxed);
    }

    /// Sets every counter to zero.
    pub fn reset(&self) {
        for c in [
            &self.hits,
            &self.misses,
            &self.puts,
            &self.deletes,
            &self.expired,
        ] {
            c.store(0, Relaxed);
        }
    }

    /// Reads the counters; sizes are filled in by the tier.
    pub fn snapshot(&self, entry_count: u64, memory_bytes: u64) -> StatsSnapshot {
        let hit_count = self.hits.load(Relaxed);
        let miss_count = self.misses.load(Relaxed);
        StatsSnapshot {
            get_count: hit_count + miss_count,
            hit_count,
            miss_count,
            put_count: self.puts.load(Relaxed),
            delete_count: self.deletes.load(Relaxed),
            expired_count: self.expired.load(Relaxed),
            entry_count,
            memory_bytes,
            disk_bytes: None,
            reopen_count: None,
        }
    }
}
