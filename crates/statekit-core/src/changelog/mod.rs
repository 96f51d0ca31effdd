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

use crate::error::{Error, Result};

/// The key under which a checkpoint's metadata records the change log segment its
/// replay starts from: `{..., "statekitChangeLog":{"segment":N}}`.
pub const METADATA_KEY: &str = "statekitChangeLog";

/// `metadata` (a JSON object's text) with the change log position added last, so that
/// it wins over a key of the same name given by the caller (JSON parsers keep the last
/// of duplicate keys).
pub fn with_position(metadata: &str, segment: u64) -> Result<String> {
    let body = metadata.trim();
    let inner = body
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(|| {
            Error::invalid_arg(
                "checkpoint metadata must be a JSON object when the store has a change log",
            )
        })?;
    let sep = if inner.trim().is_empty() { "" } else { "," };
    Ok(format!(
        "{{{inner}{sep}\"{METADATA_KEY}\":{{\"segment\":{segment}}}}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_goes_first_in_the_metadata() {
        assert_eq!(
            with_position("{}", 3).unwrap(),
            r#"{"statekitChangeLog":{"segment":3}}"#
        );
        assert_eq!(
            with_position(r#"{"offsets":{"0":12}}"#, 4).unwrap(),
            r#"{"offsets":{"0":12},"statekitChangeLog":{"segment":4}}"#
        );
        assert!(with_position("[1]", 1).is_err());
        assert!(with_position("{", 1).is_err());
        // A caller's key of the same name comes first, so ours wins.
        assert_eq!(
            with_position(r#"{"statekitChangeLog":1}"#, 2).unwrap(),
            r#"{"statekitChangeLog":1,"statekitChangeLog":{"segment":2}}"#
        );
    }
}
