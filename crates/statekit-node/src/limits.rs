//! The engine's limits and defaults, exported once so that the TypeScript layer
//! never keeps a copy of its own.

use napi_derive::napi;

/// The largest key, in bytes.
#[napi]
pub const MAX_KEY_BYTES: u32 = statekit_core::MAX_KEY_BYTES as u32;

/// The largest value, in bytes.
#[napi]
pub const MAX_VALUE_BYTES: u32 = statekit_core::MAX_VALUE_BYTES as u32;

/// The zstd level of checkpoint blocks unless a level is given.
#[napi]
pub const DEFAULT_ZSTD_LEVEL: i32 = statekit_core::DEFAULT_ZSTD_LEVEL;

/// Milliseconds between the sled tier's background flushes unless configured.
#[napi]
pub const DEFAULT_FLUSH_EVERY_MS: u32 = statekit_core::DEFAULT_FLUSH_EVERY_MS as u32;

/// Bytes the memory tier counts per entry on top of its key and value.
#[napi]
pub const ENTRY_OVERHEAD_BYTES: u32 = statekit_core::ENTRY_OVERHEAD as u32;
