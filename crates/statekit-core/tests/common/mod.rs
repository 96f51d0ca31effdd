//! Helpers shared by the integration tests (each test file that needs them says
//! `mod common;`). Not every file uses every helper.
#![allow(dead_code)]

use std::path::Path;

use statekit_core::{CheckpointWriter, Compression, Header, Kind, PutEntry, Record, Store, Ttl};

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

/// Writes `n` (little-endian) under every key of `keys` in one `putMany`.
pub fn put_all(store: &Store, keys: &[Vec<u8>], n: u64) {
    let value = n.to_le_bytes();
    let entries: Vec<PutEntry<'_>> = keys
        .iter()
        .map(|k| PutEntry {
            key: k,
            value: &value,
            ttl: Ttl::Default,
        })
        .collect();
    store.put_many(&entries).unwrap();
}
