//! Checkpoints of the memory tier: point-in-time cuts under concurrent writers,
//! incremental chains, TTL, and restores that leave the live tier alone on damage.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use statekit_core::{
    write_cut, CheckpointRequest, CheckpointSummary, Compression, KeyRange, Kind, MemoryTier,
    PutEntry, Record, Ttl,
};

use statekit_core::ErrorCode;

mod common;

fn req(path: &std::path::Path, kind: Kind) -> CheckpointRequest {
    CheckpointRequest {
        path: path.to_path_buf(),
        kind,
        compression: Compression::Zstd(1),
        metadata: "{}".into(),
    }
}

/// Takes a checkpoint of `t` to `path`.
fn take(t: &Arc<MemoryTier>, path: &std::path::Path, kind: Kind) -> CheckpointSummary {
    write_cut(t.begin_snapshot(kind).unwrap(), &req(path, kind)).unwrap()
}

fn dump(t: &MemoryTier) -> BTreeMap<Vec<u8>, Vec<u8>> {
    t.keys_in(&KeyRange::default())
        .into_iter()
        .filter_map(|k| t.get(&k).unwrap().map(|v| (k.to_vec(), v)))
        .collect()
}

#[test]
fn a_checkpoint_is_the_state_at_its_cut_while_writers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let t = Arc::new(MemoryTier::new(Ttl::Never));
    // Pairs a:i and b:i always hold the same generation, written by one putMany.
    let write_gen = |t: &MemoryTier, g: u32| {
        let v = g.to_le_bytes();
        let keys: Vec<Vec<u8>> = (0..2000u32)
            .flat_map(|i| [format!("a:{i}").into_bytes(), format!("b:{i}").into_bytes()])
            .collect();
        let entries: Vec<PutEntry> = keys
            .iter()
            .map(|k| PutEntry {
                key: k,
                value: &v,
                ttl: Ttl::Default,
            })
            .collect();
        t.put_many(&entries).unwrap();
    };
    write_gen(&t, 1);
    for i in 0..500u32 {
        t.put(format!("del:{i}").as_bytes(), b"x", Ttl::Default)
            .unwrap();
    }
    let before = dump(&t);
    let snap = t.begin_snapshot(Kind::Full).unwrap();
    // Writers on other threads keep going while the checkpoint is written.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (t, stop) = (Arc::clone(&t), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut g = 2;
            while !stop.load(Ordering::Relaxed) && g < 40 {
                write_gen(&t, g);
                for i in 0..500u32 {
                    t.delete(format!("del:{i}").as_bytes()).unwrap();
                }
                t.put(format!("new:{g}").as_bytes(), b"n", Ttl::Default)
                    .unwrap();
                g += 1;
            }
        })
    };
    let path = dir.path().join("cut.skc");
    let summary = write_cut(snap, &req(&path, Kind::Full)).unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(summary.entries as usize, before.len());
    let (restored, info) = MemoryTier::restore_from(&path, Ttl::Never).unwrap();
    assert_eq!(info.entries as usize, before.len());
    assert_eq!(
        dump(&restored),
        before,
        "the checkpoint is exactly the state at the cut"
    );
    // Afterwards, nothing kept aside for the checkpoint lingers.
    assert_eq!(t.len(), dump(&t).len());
}

#[test]
fn a_second_checkpoint_while_one_runs_is_busy() {
    let t = Arc::new(MemoryTier::new(Ttl::Never));
    let first = t.begin_snapshot(Kind::Full).unwrap();
    assert_eq!(
        t.begin_snapshot(Kind::Full).err().unwrap().code,
        ErrorCode::Busy
    );
    drop(first);
    assert!(t.begin_snapshot(Kind::Full).is_ok());
}

#[test]
fn incremental_chains_restore_to_the_latest_state() {
    let dir = tempfile::tempdir().unwrap();
    let t = Arc::new(MemoryTier::new(Ttl::Never));
    assert_eq!(
        t.begin_snapshot(Kind::Incremental).err().unwrap().code,
        ErrorCode::InvalidArg
    );
    for i in 0..1000u32 {
        t.put(format!("k{i:04}").as_bytes(), b"v1", Ttl::Default)
            .unwrap();
    }
    let full = dir.path().join("0-full.skc");
    take(&t, &full, Kind::Full);
    // Changes: overwrite, delete, delete then re-put, put with an expiring TTL.
    for i in 0..100u32 {
        t.put(format!("k{i:04}").as_bytes(), b"v2", Ttl::Default)
            .unwrap();
    }
    for i in 100..200u32 {
        t.delete(format!("k{i:04}").as_bytes()).unwrap();
    }
    t.delete(b"k0300").unwrap();
    t.put(b"k0300", b"back", Ttl::Default).unwrap();
    let inc1 = dir.path().join("1-inc.skc");
    let s1 = take(&t, &inc1, Kind::Incremental);
    assert_eq!(
        s1.entries,
        100 + 100 + 1 + 1,
        "only what changed: 100 puts, 100 deletes, k0300's delete and put"
    );
    t.clear().unwrap();
    t.put(b"after-clear", b"x", Ttl::Default).unwrap();
    let inc2 = dir.path().join("2-inc.skc");
    take(&t, &inc2, Kind::Incremental);
    t.put(b"late", b"y", Ttl::Default).unwrap();
    let inc3 = dir.path().join("3-inc.skc");
    take(&t, &inc3, Kind::Incremental);

    let (r, s) = MemoryTier::restore_from(&inc3, Ttl::Never).unwrap();
    assert_eq!(s.chain.len(), 4);
    assert_eq!(dump(&r), dump(&t));
    assert_eq!(r.stats().memory_bytes, t.stats().memory_bytes);
    assert_eq!(r.stats().entry_count, t.stats().entry_count);
    let (r1, _) = MemoryTier::restore_from(&inc1, Ttl::Never).unwrap();
    assert_eq!(r1.get(b"k0050").unwrap(), Some(b"v2".to_vec()));
    assert_eq!(r1.get(b"k0150").unwrap(), None);
    assert_eq!(r1.get(b"k0300").unwrap(), Some(b"back".to_vec()));
    assert_eq!(r1.get(b"k0999").unwrap(), Some(b"v1".to_vec()));
    assert_eq!(r1.len(), 900);
    let same = MemoryTier::new(Ttl::Never);
    for (k, v) in dump(&r1) {
        same.put(&k, &v, Ttl::Default).unwrap();
    }
    assert_eq!(r1.stats().memory_bytes, same.stats().memory_bytes);
    // A restored tier bases its next incremental on what it restored.
    r1.put(b"k0999", b"v3", Ttl::Default).unwrap();
    let inc_r = dir.path().join("4-inc-from-restore.skc");
    let sr = take(&r1, &inc_r, Kind::Incremental);
    assert_eq!(sr.entries, 1);
    assert_eq!(sr.base_id, Some(s1.id));
    // A missing base is reported.
    std::fs::remove_file(&full).unwrap();
    assert_eq!(
        MemoryTier::restore_from(&inc3, Ttl::Never)
            .err()
            .unwrap()
            .code,
        ErrorCode::Corrupt
    );
}

#[test]
fn expired_entries_are_left_out_and_dropped_on_restore() {
    let dir = tempfile::tempdir().unwrap();
    let t = Arc::new(MemoryTier::new(Ttl::Never));
    t.put(b"gone", b"x", Ttl::Ms(1)).unwrap();
    t.put(b"soon", b"x", Ttl::Ms(300)).unwrap();
    t.put(b"stay", b"x", Ttl::Default).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let path = dir.path().join("ttl.skc");
    let s = take(&t, &path, Kind::Full);
    assert_eq!(s.entries, 2, "the expired entry is not written");
    std::thread::sleep(std::time::Duration::from_millis(350));
    let (r, info) = MemoryTier::restore_from(&path, Ttl::Never).unwrap();
    assert_eq!(info.expired, 1);
    assert_eq!(info.entries, 1);
    assert_eq!(r.get(b"stay").unwrap(), Some(b"x".to_vec()));
}

#[test]
fn a_chain_counts_each_expired_put_once_and_drops_the_base_value() {
    let dir = tempfile::tempdir().unwrap();
    let t = Arc::new(MemoryTier::new(Ttl::Never));
    for i in 0..50u32 {
        t.put(format!("k{i:02}").as_bytes(), b"base", Ttl::Default)
            .unwrap();
    }
    let full = dir.path().join("0-full.skc");
    take(&t, &full, Kind::Full);
    // Overwritten with a short TTL: the incremental holds an expiring put of each.
    for i in 0..3u32 {
        t.put(format!("k{i:02}").as_bytes(), b"brief", Ttl::Ms(200))
            .unwrap();
    }
    let inc = dir.path().join("1-inc.skc");
    take(&t, &inc, Kind::Incremental);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (r, info) = MemoryTier::restore_from(&inc, Ttl::Never).unwrap();
    assert_eq!(
        info.expired, 3,
        "each expired put once, whichever thread applies it"
    );
    assert_eq!(info.entries, 47);
    assert_eq!(
        r.get(b"k00").unwrap(),
        None,
        "the base's value is not brought back"
    );
    assert_eq!(r.get(b"k03").unwrap(), Some(b"base".to_vec()));
}

#[test]
fn a_key_repeated_across_blocks_of_a_full_checkpoint_is_counted_once() {
    // Not what statekit writes, but a file can say it: sizes must stay exact, whichever
    // of the two restore threads stores the key last.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.skc");
    let big = vec![b'x'; 600_000];
    let small = vec![b'y'; 10];
    let mut records = Vec::new();
    for round in 0..16 {
        // Each big value fills most of a block, so the repeats land in many blocks.
        records.push(Record::Put {
            key: b"dup",
            expires_at: 0,
            value: if round % 2 == 0 { &big } else { &small },
        });
        for _ in 0..8 {
            records.push(Record::Put {
                key: b"filler",
                expires_at: 0,
                value: &big,
            });
        }
    }
    common::write_checkpoint(&path, Kind::Full, Compression::Lz4, 42, 0, &records);
    let (r, _) = MemoryTier::restore_from(&path, Ttl::Never).unwrap();
    let same = MemoryTier::new(Ttl::Never);
    for (k, v) in dump(&r) {
        same.put(&k, &v, Ttl::Default).unwrap();
    }
    assert_eq!(r.len(), 2);
    assert_eq!(r.stats().memory_bytes, same.stats().memory_bytes);
}
