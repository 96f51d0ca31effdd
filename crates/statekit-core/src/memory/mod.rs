//! The in-memory tier: a sharded concurrent hash map with per-entry TTL, point-in-time
//! cuts by per-entry versions and copy-on-write, and restores built aside on several
//! threads.

pub(crate) mod bulk;
pub(crate) mod checkpoint;
pub(crate) mod key_bytes;
pub(crate) mod key_hash;
pub(crate) mod logged;
mod many;
pub(crate) mod snapshot;
mod tier;
pub(crate) mod write;

pub use logged::{defer_acks, take_deferred, ChangeLogReplay};
pub use snapshot::{MemorySnapshot, RestoreClaim};
pub(crate) use tier::{entry_size, Entry};
pub use tier::{MemoryTier, ENTRY_OVERHEAD, SHARDS};
