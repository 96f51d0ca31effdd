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
            Ok(got) => prop_assert!(!changed || got == records),
            Err(e) => prop_assert_eq!(e.code, ErrorCode::Corrupt),
        }
    }
}
