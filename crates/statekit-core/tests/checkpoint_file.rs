//! The checkpoint file format: round trips with each compression, damage anywhere is
//! reported with where it is, and no byte string makes the reader panic.

use std::path::Path;

use proptest::prelude::*;

use statekit_core::ErrorCode;
use statekit_core::{
    verify, CheckpointReader, CheckpointWriter, Compression, Header, Kind, Record,
};

type Owned = (u8, Vec<u8>, u64, Vec<u8>);

fn header(compression: Compression) -> Header {
    Header {
        kind: Kind::Full,
        compression,
        id: 7,
        base_id: 0,
        created_at: 1_700_000_000_000,
        entry_count: 0,
        metadata: r#"{"offsets":{"0":42}}"#.into(),
    }
}

fn write(path: &Path, compression: Compression, records: &[Owned]) {
    let mut w = CheckpointWriter::create(path, header(compression)).unwrap();
    for (op, k, exp, v) in records {
        let rec = match op {
            0 => Record::Put {
                key: k,
                expires_at: *exp,
                value: v,
            },
            1 => Record::Tombstone { key: k },
            _ => Record::Clear,
        };
        w.push(&rec).unwrap();
    }
    w.finish().unwrap();
}

fn read(path: &Path) -> statekit_core::Result<Vec<Owned>> {
    let mut out = vec![];
    CheckpointReader::open(path)?.for_each(|r| {
        out.push(match r {
            Record::Put {
                key,
                expires_at,
                value,
            } => (0, key.to_vec(), expires_at, value.to_vec()),
            Record::Tombstone { key } => (1, key.to_vec(), 0, vec![]),
            Record::Clear => (2, vec![], 0, vec![]),
        });
        Ok(())
    })?;
    Ok(out)
}

fn sample() -> Vec<Owned> {
    let mut v: Vec<Owned> = (0..5000u32)
        .map(|i| {
            (
                0,
                i.to_be_bytes().to_vec(),
                i as u64,
                format!("value-{i}").repeat(3).into_bytes(),
            )
        })
        .collect();
    v.push((0, b"empty".to_vec(), 0, vec![]));
    v.push((0, b"big".to_vec(), 0, vec![9u8; 5 << 20]));
    v.push((1, b"gone".to_vec(), 0, vec![]));
    v.push((2, vec![], 0, vec![]));
    v
}

#[test]
fn round_trips_with_each_compression() {
    let dir = tempfile::tempdir().unwrap();
    for c in [Compression::Zstd(3), Compression::Lz4, Compression::None] {
        let path = dir.path().join(format!("{}.skc", c.as_str()));
        let records = sample();
        write(&path, c, &records);
        let info = verify(&path).unwrap();
        assert_eq!(info.header.entry_count, records.len() as u64);
        assert_eq!(info.header.metadata, r#"{"offsets":{"0":42}}"#);
        assert_eq!(info.header.compression.as_str(), c.as_str());
        assert!(info.footer.block_count >= 2);
        assert_eq!(read(&path).unwrap(), records);
        // No temp file is left behind.
        assert_eq!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .path()
                    .to_string_lossy()
                    .ends_with(".tmp"))
                .count(),
            0
        );
    }
}

#[test]
fn every_flipped_region_and_every_truncation_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.skc");
    let records: Vec<Owned> = (0..3000u32)
        .map(|i| (0, i.to_le_bytes().to_vec(), 0, vec![i as u8; 700]))
        .collect();
    write(&path, Compression::Zstd(1), &records);
    let good = std::fs::read(&path).unwrap();
    let damaged = dir.path().join("d.skc");
    let len = good.len();
    // A flipped byte in the header, in a block, in the footer, and everywhere in between.
    let mut spots: Vec<usize> = vec![0, 9, 20, 60, 100, len / 2, len - 40, len - 20, len - 1];
    spots.extend((0..len).step_by(len / 97 + 1));
    for at in spots {
        let mut bytes = good.clone();
        bytes[at] ^= 0x40;
        std::fs::write(&damaged, &bytes).unwrap();
        let err = read(&damaged).unwrap_err();
        assert_eq!(err.code, ErrorCode::Corrupt, "flip at {at}: {err}");
        assert!(err.message.contains("d.skc"), "{err}");
    }
    for cut in (0..len)
        .step_by(len / 61 + 1)
        .chain([len - 1, len - 48, 1, 51])
    {
        std::fs::write(&damaged, &good[..cut]).unwrap();
        let err = read(&damaged).unwrap_err();
        assert_eq!(err.code, ErrorCode::Corrupt, "cut at {cut}: {err}");
    }
    let mut bytes = good.clone();
    bytes[len / 2] ^= 1;
    std::fs::write(&damaged, &bytes).unwrap();
    let err = read(&damaged).unwrap_err();
    assert!(err.message.contains("block"), "names the block: {err}");
    assert!(err.message.contains("offset"), "names the offset: {err}");
}

/// Every byte of a checkpoint is covered: changing any one byte of a small file is
/// refused by the quick open or by the full read (each byte is changed by every single
/// bit, by all bits and by two patterns; the footer's bytes to every other value). The
/// footer's reserved bytes (36-39) used to be outside every checksum.
#[test]
fn every_single_byte_change_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Owned> = (0..6u32)
        .map(|i| {
            (
                0,
                format!("k{i}").into_bytes(),
                1_700_000_000_000 + i as u64,
                vec![i as u8; 9],
            )
        })
        .collect();
    for c in [Compression::Zstd(1), Compression::Lz4, Compression::None] {
        let path = dir.path().join(format!("{}.skc", c.as_str()));
        write(&path, c, &records);
        let good = std::fs::read(&path).unwrap();
        let damaged = dir.path().join("d.skc");
        let mut accepted = vec![];
        let len = good.len();
        for at in 0..len {
            // The footer's layout is the same whatever the compression: try every value
            // there once.
            let every = at >= len - 48 && c == Compression::None;
            let deltas: Vec<u8> = if every {
                (1..=255).collect()
            } else {
                vec![1, 2, 4, 8, 16, 32, 64, 128, 0xff, 0x55, 0xaa]
            };
            for delta in deltas {
                let mut bytes = good.clone();
                bytes[at] ^= delta;
                std::fs::write(&damaged, &bytes).unwrap();
                match read(&damaged) {
                    Ok(_) => accepted.push((at, bytes[at])),
                    Err(e) => assert_eq!(e.code, ErrorCode::Corrupt, "byte {at}: {e}"),
                }
            }
        }
        assert!(
            accepted.is_empty(),
            "{}: {} changed files were accepted, at offsets {:?}",
            c.as_str(),
            accepted.len(),
            accepted
                .iter()
                .map(|a| a.0)
                .collect::<std::collections::BTreeSet<_>>()
        );
    }
}

/// The footer's reserved bytes must be zero; the message names where they are.
#[test]
fn nonzero_reserved_footer_bytes_are_refused_with_their_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.skc");
    write(&path, Compression::Lz4, &sample()[..10]);
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[len - 12] = 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = CheckpointReader::open(&path).err().unwrap();
    assert_eq!(err.code, ErrorCode::Corrupt);
    assert!(
        err.message.contains(&format!("offset {}", len - 12)) && err.message.contains("reserved"),
        "{err}"
    );
    assert_eq!(verify(&path).unwrap_err().code, ErrorCode::Corrupt);
}

/// A checkpoint written by statekit before the reserved bytes were checked (they were
/// always written as zero) still reads, record for record.
#[test]
fn a_checkpoint_from_an_earlier_version_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.skc");
    std::fs::write(
        &path,
        include_bytes!("fixtures/v1-lz4-before-reserved-check.skc"),
    )
    .unwrap();
    let info = verify(&path).unwrap();
    assert_eq!(info.header.kind, Kind::Incremental);
    assert_eq!((info.header.id, info.header.base_id), (7, 6));
    assert_eq!(info.header.entry_count, 4);
    assert_eq!(
        read(&path).unwrap(),
        vec![
            (2, vec![], 0, vec![]),
            (1, b"gone".to_vec(), 0, vec![]),
            (0, b"a".to_vec(), 0, b"1".to_vec()),
            (0, b"b".to_vec(), 1_700_000_360_000, b"two".to_vec()),
        ]
    );
}

#[test]
fn non_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("image.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.resize(300, 0);
    std::fs::write(&png, &bytes).unwrap();
    let err = CheckpointReader::open(&png).err().unwrap();
    assert_eq!(err.code, ErrorCode::Corrupt);
    assert!(err.message.contains("not a statekit checkpoint"), "{err}");
    let empty = dir.path().join("empty.skc");
    std::fs::write(&empty, b"").unwrap();
    let err = CheckpointReader::open(&empty).err().unwrap();
    assert!(err.message.contains("empty"), "{err}");
    let missing = CheckpointReader::open(&dir.path().join("nope.skc"))
        .err()
        .unwrap();
    assert_eq!(missing.code, ErrorCode::Io);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any byte string gives an error or a valid result, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.skc");
        std::fs::write(&path, &bytes).unwrap();
        let _ = read(&path);
    }

    /// A valid file with any bytes overwritten gives an error or its records, never a
    /// panic and never different records.
    #[test]
    fn mutated_files_never_panic(seed in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..8), c in 0u8..3) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.skc");
        let records: Vec<Owned> = (0..50u32).map(|i| (0, i.to_le_bytes().to_vec(), 5, vec![i as u8; 20])).collect();
        let comp = [Compression::Zstd(1), Compression::Lz4, Compression::None][c as usize];
        write(&path, comp, &records);
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();
        let mut changed = false;
        for (at, b) in seed {
            let at = at as usize % len;
            changed |= bytes[at] != b;
            bytes[at] = b;
        }
        std::fs::write(&path, &bytes).unwrap();
        match read(&path) {
            // Every byte is covered by a checksum, a magic or a must-be-zero rule.
            Ok(got) => prop_assert!(!changed && got == records),
            Err(e) => prop_assert_eq!(e.code, ErrorCode::Corrupt),
        }
    }
}
