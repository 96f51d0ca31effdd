//! statekit-core: the storage engine behind the statekit Node.js addon. Pure Rust, no
//! N-API: the binding crate converts arguments and errors and calls into this.

pub mod block_codec;
pub mod block_sort;
pub mod checkpoint;
pub mod checkpoint_format;
pub mod checkpoint_reader;
pub mod checkpoint_writer;
pub mod cleanup;
pub mod clock;
pub mod dir_lock;
pub mod error;
pub mod key_bytes;
pub mod limits;
pub mod memory;
mod memory_bulk;
pub mod memory_snapshot;
pub mod prefetch;
pub mod range;
pub mod restore;
pub mod sled_format;
pub mod sled_open;
pub mod sled_restore;
pub mod sled_snapshot;
pub mod sled_tier;
pub mod stats;
pub mod ttl;
mod writeback;

pub use error::{Error, ErrorCode, Result};
