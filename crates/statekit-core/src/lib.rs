//! statekit-core: the storage engine behind the statekit Node.js addon. Pure Rust, no
//! N-API: the binding crate converts arguments and errors and calls into [`Store`].
//!
//! The concepts, one folder or file each:
//!
//! - [`Store`] (`store/`): the engine API, one type over both tiers. Point operations,
//!   batches, ordered cursors, cleanup, stats, checkpoints and restores.
//! - The memory tier (`memory/`): a sharded concurrent hash map (DashMap) with
//!   per-entry TTL; checkpoints cut it by per-entry versions and copy-on-write.
//! - The sled tier (`sled/`): a persistent store on sled with an expiry index; cuts
//!   by writer pre-images and a scan position, restores into a new tree generation.
//! - Checkpoint files (`checkpoint/`): the format, the writer, the verifying reader,
//!   incremental chains, and record streams and builders for tools.
//! - Shared pieces at the root: errors and their stable codes, limits, TTLs, key
//!   ranges, the clock, counters, batches and the cleanup thread.
//!
//! ```
//! use statekit_core::{Store, Ttl};
//!
//! let store = Store::memory(Ttl::Never);
//! store.put(b"user:1", b"ada", Ttl::Default)?;
//! let value = store.get_with(b"user:1", |v| v.to_vec())?;
//! assert_eq!(value.as_deref(), Some(&b"ada"[..]));
//! assert!(store.delete(b"user:1")?);
//! # Ok::<(), statekit_core::Error>(())
//! ```

mod batch;
mod changelog;
mod checkpoint;
mod cleanup;
mod clock;
mod dir_lock;
mod error;
mod limits;
mod memory;
pub mod panics;
mod prefetch;
mod range;
mod sled;
mod stats;
mod store;
mod ttl;

pub use batch::PutEntry;
pub use changelog::{replay as replay_change_log, ChangeLog, FsyncMode, ReplaySummary, TornTail};
pub use checkpoint::{
    block_index, verify, write_cut, BlockMeta, CheckpointBuilder, CheckpointInfo, CheckpointReader,
    CheckpointRequest, CheckpointSummary, CheckpointWriter, Compression, Cut, Footer, Header, Kind,
    Record, RecordStream, RestoreSummary, DEFAULT_ZSTD_LEVEL, MAX_METADATA, TEMP_SUFFIX,
};
pub use cleanup::CleanupTask;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, ErrorCode, Result};
pub use limits::{
    check_key, check_keys, check_value, whole_number, MAX_KEY_BYTES, MAX_VALUE_BYTES,
};
pub use memory::{
    defer_acks as defer_change_log_acks, take_deferred as take_deferred_change_log_ack,
    ChangeLogReplay, MemorySnapshot, MemoryTier, ENTRY_OVERHEAD,
};
pub use range::KeyRange;
pub use sled::{SledMode, SledOptions, SledSnapshot, SledTier, DEFAULT_FLUSH_EVERY_MS};
pub use stats::StatsSnapshot;
pub use store::{
    Attached, Copied, Cursor, PendingCheckpoint, PendingRestore, Restored, ShareTicket, Sharing,
    Store,
};
pub use ttl::{Ttl, NEVER};
