//! The stats object returned to JavaScript.

use napi_derive::napi;
use statekit_core::StatsSnapshot;

/// Counters and sizes of a backend.
#[napi(object)]
pub struct Stats {
    pub get_count: f64,
    pub hit_count: f64,
    pub miss_count: f64,
    pub put_count: f64,
    pub delete_count: f64,
    pub expired_count: f64,
    pub entry_count: f64,
    pub memory_bytes: f64,
    /// Bytes on disk (sled tier only).
    pub disk_bytes: Option<f64>,
    /// Times sled was reopened behind the handle after an I/O error (sled tier only).
    pub reopen_count: Option<f64>,
}

impl From<StatsSnapshot> for Stats {
    fn from(s: StatsSnapshot) -> Self {
        Stats {
            get_count: s.get_count as f64,
            hit_count: s.hit_count as f64,
            miss_count: s.miss_count as f64,
            put_count: s.put_count as f64,
            delete_count: s.delete_count as f64,
            expired_count: s.expired_count as f64,
            entry_count: s.entry_count as f64,
            memory_bytes: s.memory_bytes as f64,
            disk_bytes: s.disk_bytes.map(|b| b as f64),
            reopen_count: s.reopen_count.map(|n| n as f64),
        }
    }
}
