//! The change log of the memory tier: an append-only log of every write between
//! checkpoints, so a crash loses at most the last second (or nothing), as Redis's
//! append-only file and Flink's changelog state backend do.
//!
//! - `format.rs`: segment and record bytes, with checksums (`docs/changelog-format.md`).
//! - `writer.rs`: appends, the writer thread with group commit and the fsync modes.
//! - `segment.rs`: segment names, listing, creation and deletion.
//! - `replay.rs`: reading the segments back, torn tails and damage.
//!
//! A checkpoint starts a new segment at its cut and records that segment's number in
//! its metadata; once the checkpoint is committed, the segments before it are deleted,
//! and recovery restores the checkpoint and replays the segments from that number.

pub(crate) mod format;
pub(crate) mod replay;
pub(crate) mod segment;
pub(crate) mod writer;

pub use replay::{replay, ReplaySummary, TornTail};
pub use writer::{ChangeLog, FsyncMode};
