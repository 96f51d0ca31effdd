//! Helpers shared by the integration tests (each test file that needs them says
//! `mod common;`).

use std::path::Path;

use statekit_core::{CheckpointWriter, Compression, Header, Kind, Record};

/// Writes a checkpoint by hand: a header of `kind`, `compression`, `id` and `base_id`,
/// then `records` exactly as given, including ones statekit's own checkpoints never
/// hold (a tombstone or clear in a full checkpoint, a key repeated across blocks).
pub fn write_checkpoint(
    path: &Path,
    kind: Kind,
    compression: Compression,
    id: u64,
    base_id: u64,
    records: &[Record<'_>],
) {
    let header = Header {
        kind,
        compression,
        id,
        base_id,
        created_at: 1_700_000_000_000,
        entry_count: 0,
        metadata: "{}".into(),
    };
    let mut w = CheckpointWriter::create(path, header).unwrap();
    for r in records {
        w.push(r).unwrap();
    }
    w.finish().unwrap();
}
