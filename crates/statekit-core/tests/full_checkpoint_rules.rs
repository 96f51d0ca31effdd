//! What a full checkpoint may hold, restored the same by both tiers: a key written in
//! two blocks (as `statekit import` writes a file with a repeated key) restores to the
//! later record on every run, though the memory tier splits the blocks between
//! threads; a tombstone or clear record in a full checkpoint is damage.

use common::write_checkpoint;
use statekit_core::{
    CheckpointBuilder, Compression, ErrorCode, Kind, MemoryTier, Record, SledOptions, SledTier, Ttl,
};

mod common;

fn sled_in(dir: &std::path::Path) -> std::sync::Arc<SledTier> {
    let mut o = SledOptions::new(dir.join("db"));
    o.flush_every_ms = None;
    std::sync::Arc::new(SledTier::open(&o).unwrap())
}

#[test]
fn a_key_repeated_in_a_later_block_restores_to_the_later_record_on_both_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("import.skc");
    let mut b = CheckpointBuilder::create(&path, Compression::None, "{}".into()).unwrap();
    // Block 0: a thousand small records, then the key's first record, whose 4 MiB
    // value seals the block (blocks close at 4 MiB). Block 1: the key's second record
    // alone. The memory tier's two restore threads load one block each, and the one
    // with the small block is usually done first.
    let filler = vec![7u8; 1000];
    for i in 0..1000u32 {
        b.add(format!("filler-{i:06}").as_bytes(), &filler, 0.0)
            .unwrap();
    }
    b.add(b"repeated", &vec![1u8; 4 << 20], 0.0).unwrap();
    b.add(b"repeated", b"second", 0.0).unwrap();
    assert!(b.finish().unwrap().entries == 1002);
    for _ in 0..30 {
        let (tier, _) = MemoryTier::restore_from(&path, Ttl::Never).unwrap();
        assert_eq!(
            tier.get(b"repeated").unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert_eq!(tier.len(), 1001);
    }
    let sled = sled_in(dir.path());
    sled.restore_from(&path).unwrap();
    assert_eq!(
        sled.get(b"repeated").unwrap().as_deref(),
        Some(&b"second"[..])
    );
}

#[test]
fn a_key_that_expired_in_a_later_block_is_gone_on_both_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expired.skc");
    let mut b = CheckpointBuilder::create(&path, Compression::None, "{}".into()).unwrap();
    // Block 0 ends with a live put of the key (its 4 MiB value seals the block);
    // block 1 holds a put of the same key that has expired.
    b.add(b"other", b"v", 0.0).unwrap();
    b.add(b"k", &vec![1u8; 4 << 20], 0.0).unwrap();
    b.add(b"k", b"expired", 1000.0).unwrap();
    b.finish().unwrap();
    for _ in 0..30 {
        let (tier, summary) = MemoryTier::restore_from(&path, Ttl::Never).unwrap();
        assert_eq!(tier.get(b"k").unwrap(), None);
        assert_eq!((tier.len(), summary.entries), (1, 1));
    }
    let sled = sled_in(dir.path());
    assert_eq!(sled.restore_from(&path).unwrap().entries, 1);
    assert_eq!(sled.get(b"k").unwrap(), None);
}

#[test]
fn a_tombstone_or_clear_in_a_full_checkpoint_is_damage_on_both_tiers() {
    let dir = tempfile::tempdir().unwrap();
    for (i, record) in [Record::Tombstone { key: b"gone" }, Record::Clear]
        .iter()
        .enumerate()
    {
        let path = dir.path().join(format!("bad-{i}.skc"));
        let base = 1000 + i as u64;
        write_checkpoint(
            &path,
            Kind::Full,
            Compression::None,
            base,
            0,
            &[
                Record::Put {
                    key: b"kept",
                    expires_at: 0,
                    value: b"v",
                },
                *record,
            ],
        );
        // Alone, and as the base of an incremental checkpoint.
        let inc = dir.path().join(format!("inc-{i}.skc"));
        write_checkpoint(
            &inc,
            Kind::Incremental,
            Compression::None,
            base + 1000,
            base,
            &[Record::Put {
                key: b"later",
                expires_at: 0,
                value: b"v",
            }],
        );
        for restored in [&inc, &path] {
            let memory = MemoryTier::restore_from(restored, Ttl::Never)
                .err()
                .unwrap();
            assert_eq!(memory.code, ErrorCode::Corrupt, "{memory}");
            assert!(memory.message.contains("full checkpoint"), "{memory}");
        }
        let sled = sled_in(&dir.path().join(format!("s{i}")));
        sled.put(b"before", b"x", Ttl::Default).unwrap();
        for restored in [&inc, &path] {
            let err = sled.restore_from(restored).err().unwrap();
            assert_eq!(err.code, ErrorCode::Corrupt, "{err}");
            assert!(err.message.contains("full checkpoint"), "{err}");
            assert_eq!(
                sled.get(b"before").unwrap().as_deref(),
                Some(&b"x"[..]),
                "untouched"
            );
            assert_eq!(sled.get(b"later").unwrap(), None, "untouched");
        }
    }
}
