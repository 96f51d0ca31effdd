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
/// replay starts from: `{"statekitChangeLog":{"segment":N}, ...}`.
pub const METADATA_KEY: &str = "statekitChangeLog";

/// `metadata` (a JSON object's text) with the change log position added first.
pub fn with_position(metadata: &str, segment: u64) -> Result<String> {
    let body = metadata.trim();
    let Some(rest) = body.strip_prefix('{') else {
        return Err(Error::invalid_arg(
            "checkpoint metadata must be a JSON object when the store has a change log",
        ));
    };
    if body.contains(&format!("\"{METADATA_KEY}\"")) {
        return Err(Error::invalid_arg(format!(
            "checkpoint metadata may not use the key {METADATA_KEY}: the change log records its position there"
        )));
    }
    let sep = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    Ok(format!(
        "{{\"{METADATA_KEY}\":{{\"segment\":{segment}}}{sep}{rest}"
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
            r#"{"statekitChangeLog":{"segment":4},"offsets":{"0":12}}"#
        );
        assert!(with_position("[1]", 1).is_err());
        assert!(with_position(r#"{"statekitChangeLog":1}"#, 1).is_err());
    }
}
