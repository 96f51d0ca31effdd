//! Writes the committed seed corpus, fuzz/seeds/<target>/, from small checkpoints made
//! with statekit's own writer: each compression, expiring and never-expiring puts,
//! an incremental checkpoint with a clear and tombstones, a chain, and a two-block
//! file spliced by hand. Run by scripts/fuzz.sh seeds.

use std::path::{Path, PathBuf};

use statekit_core::{CheckpointWriter, Compression, Header, Kind, Record};

const FULL_ID: u64 = 1_700_000_000_000_000;
const INCR_ID: u64 = FULL_ID + 1;
/// An expiry far in the future (year 2286), and one long past.
const LATER: u64 = 10_000_000_000_000;
const PAST: u64 = 1_000;

fn header(kind: Kind, compression: Compression, id: u64, base_id: u64, meta: &str) -> Header {
    Header {
        kind,
        compression,
        id,
        base_id,
        created_at: 1_700_000_000_000,
        entry_count: 0,
        metadata: meta.into(),
    }
}

fn write(dir: &Path, header: Header, records: &[Record<'_>]) -> Vec<u8> {
    let path = dir.join(format!("{}.skc", header.id));
    let mut w = CheckpointWriter::create(&path, header).unwrap();
    for r in records {
        w.push(r).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

fn full_records() -> Vec<Record<'static>> {
    vec![
        Record::Put {
            key: b"a",
            expires_at: 0,
            value: b"apple",
        },
        Record::Put {
            key: b"b",
            expires_at: LATER,
            value: b"banana banana banana banana",
        },
        Record::Put {
            key: b"c",
            expires_at: PAST,
            value: b"cherry",
        },
        Record::Put {
            key: b"empty",
            expires_at: 0,
            value: b"",
        },
        Record::Put {
            key: b"user:1",
            expires_at: 0,
            value: br#"{"name":"ada","visits":3}"#,
        },
    ]
}

fn incremental_records() -> Vec<Record<'static>> {
    vec![
        Record::Clear,
        Record::Tombstone { key: b"a" },
        Record::Tombstone { key: b"missing" },
        Record::Put {
            key: b"b",
            expires_at: 0,
            value: b"blueberry",
        },
        Record::Put {
            key: b"d",
            expires_at: LATER,
            value: b"date",
        },
    ]
}

/// `a`'s blocks followed by `b`'s, under `a`'s header, fixed up into one valid file.
fn two_blocks(a: &[u8], b: &[u8]) -> Vec<u8> {
    let body = |f: &[u8]| {
        let meta = u32::from_le_bytes(f[48..52].try_into().unwrap()) as usize;
        (
            statekit_fuzz::HEADER_FIXED + meta + 4,
            f.len() - statekit_fuzz::FOOTER_LEN,
        )
    };
    let (a_start, a_end) = body(a);
    let (b_start, b_end) = body(b);
    let mut out = a[..a_end].to_vec();
    out.extend_from_slice(&b[b_start..b_end]);
    out.extend_from_slice(&a[a_end..]);
    let out = statekit_fuzz::fixup(&out);
    assert!(out.len() > a_end - a_start);
    out
}

fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    let tmp = std::env::temp_dir().join(format!("statekit-make-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let meta = r#"{"offsets":{"0":42}}"#;
    let compressions = [
        ("none", Compression::None),
        ("zstd", Compression::Zstd(1)),
        ("lz4", Compression::Lz4),
    ];
    let mut reader: Vec<(String, Vec<u8>)> = Vec::new();
    let mut restore: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, c) in compressions {
        let full = write(
            &tmp,
            header(Kind::Full, c, FULL_ID, 0, meta),
            &full_records(),
        );
        let incr = write(
            &tmp,
            header(Kind::Incremental, c, INCR_ID, FULL_ID, "{}"),
            &incremental_records(),
        );
        reader.push((format!("full-{name}.skc"), full.clone()));
        reader.push((format!("incremental-{name}.skc"), incr.clone()));
        restore.push((format!("full-{name}.skc"), full.clone()));
        restore.push((
            format!("chain-{name}.skc"),
            statekit_fuzz::join_files(&[full, incr]),
        ));
    }
    let none_full = &reader[0].1.clone();
    let none_incr = &reader[1].1;
    let spliced = two_blocks(none_full, none_incr);
    reader.push(("two-blocks-none.skc".into(), spliced));
    // The same keys in two blocks of a full checkpoint, with other values: the tiers
    // may keep different ones (see fuzz/README.md).
    let other_values: Vec<Record<'_>> = full_records()
        .into_iter()
        .map(|r| match r {
            Record::Put {
                key, expires_at, ..
            } => Record::Put {
                key,
                expires_at,
                value: b"other",
            },
            r => r,
        })
        .collect();
    let other = write(
        &tmp,
        header(Kind::Full, Compression::None, FULL_ID, 0, meta),
        &other_values,
    );
    restore.push((
        "tiers-differ-key-in-two-blocks.skc".into(),
        two_blocks(none_full, &other),
    ));
    let empty = write(
        &tmp,
        header(Kind::Full, Compression::Zstd(1), FULL_ID, 0, "{}"),
        &[],
    );
    reader.push(("empty-zstd.skc".into(), empty.clone()));
    restore.push(("empty-zstd.skc".into(), empty));

    for (target, seeds) in [("checkpoint_reader", &reader), ("restore", &restore)] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds.iter() {
            // A seed from statekit's writer comes through a fixup unchanged.
            for f in statekit_fuzz::split_files(bytes) {
                assert_eq!(
                    statekit_fuzz::fixup(f),
                    f,
                    "{name}: fixup changed a valid file"
                );
            }
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        println!("{}: {} seeds", dir.display(), seeds.len());
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
