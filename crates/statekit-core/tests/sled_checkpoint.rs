//! Checkpoints of the sled tier: exact cuts under concurrent writers, incremental
//! chains, restores across tiers, and restores that change nothing on damage.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use statekit_core::{
    write_cut, CheckpointRequest, Compression, KeyRange, Kind, MemoryTier, PutEntry, SledOptions,
    SledTier, Ttl,
};

use statekit_core::ErrorCode;

fn req(path: &std::path::Path, kind: Kind) -> CheckpointRequest {
    CheckpointRequest {
        path: path.to_path_buf(),
        kind,
        compression: Compression::Lz4,
        metadata: "{}".into(),
    }
}

fn open(dir: &std::path::Path) -> Arc<SledTier> {
    let mut o = SledOptions::new(dir);
    o.flush_every_ms = None;
    Arc::new(SledTier::open(&o).unwrap())
}

fn dump_sled(t: &SledTier) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = t.page(&KeyRange::default(), after.as_deref(), 500).unwrap();
        for (k, v) in &page.entries {
            out.insert(k.to_vec(), v.to_vec());
        }
        after = page.last.map(|l| l.to_vec());
        if page.done {
            return out;
        }
    }
}

fn dump_mem(t: &MemoryTier) -> BTreeMap<Vec<u8>, Vec<u8>> {
    t.keys_in(&KeyRange::default())
        .into_iter()
        .filter_map(|k| t.get(&k).unwrap().map(|v| (k.to_vec(), v)))
        .collect()
}

#[test]
fn a_sled_checkpoint_is_the_state_at_its_cut_while_writers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let t = open(&dir.path().join("db"));
    let write_gen = |t: &SledTier, g: u32| {
        let v = g.to_le_bytes();
        let keys: Vec<Vec<u8>> = (0..1000u32)
            .flat_map(|i| {
                [
                    format!("a:{i:04}").into_bytes(),
                    format!("b:{i:04}").into_bytes(),
                ]
            })
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
    for i in 0..300u32 {
        t.put(format!("del:{i:03}").as_bytes(), b"x", Ttl::Default)
            .unwrap();
    }
    let before = dump_sled(&t);
    let snap = t.begin_snapshot(Kind::Full).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (t, stop) = (Arc::clone(&t), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut g = 2;
            while !stop.load(Ordering::Relaxed) && g < 30 {
                write_gen(&t, g);
                for i in 0..300u32 {
                    t.delete(format!("del:{i:03}").as_bytes()).unwrap();
                }
                t.put(format!("new:{g}").as_bytes(), b"n", Ttl::Default)
                    .unwrap();
                g += 1;
            }
        })
    };
    let path = dir.path().join("cut.skc");
    write_cut(snap, &req(&path, Kind::Full)).unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let (restored, _) = MemoryTier::restore_from(&path, Ttl::Never).unwrap();
    assert_eq!(
        dump_mem(&restored),
        before,
        "the checkpoint is exactly the state at the cut"
    );
}

#[test]
fn sled_incrementals_and_restores_across_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let t = open(&dir.path().join("db"));
    for i in 0..500u32 {
        t.put(format!("k{i:03}").as_bytes(), b"v1", Ttl::Default)
            .unwrap();
    }
    let cps = dir.path().join("cps");
    std::fs::create_dir(&cps).unwrap();
    let full = cps.join("1.skc");
    write_cut(
        t.begin_snapshot(Kind::Full).unwrap(),
        &req(&full, Kind::Full),
    )
    .unwrap();
    for i in 0..50u32 {
        t.put(format!("k{i:03}").as_bytes(), b"v2", Ttl::Default)
            .unwrap();
        t.delete(format!("k{:03}", i + 100).as_bytes()).unwrap();
    }
    let inc = cps.join("2.skc");
    let s = write_cut(
        t.begin_snapshot(Kind::Incremental).unwrap(),
        &req(&inc, Kind::Incremental),
    )
    .unwrap();
    assert_eq!(s.entries, 100);
    t.clear().unwrap();
    t.put(b"only", b"1", Ttl::Default).unwrap();
    let inc2 = cps.join("3.skc");
    write_cut(
        t.begin_snapshot(Kind::Incremental).unwrap(),
        &req(&inc2, Kind::Incremental),
    )
    .unwrap();

    // sled -> memory
    let (m, info) = MemoryTier::restore_from(&inc, Ttl::Never).unwrap();
    assert_eq!(info.chain.len(), 2);
    assert_eq!(m.len(), 450);
    let (m2, _) = MemoryTier::restore_from(&inc2, Ttl::Never).unwrap();
    assert_eq!(dump_mem(&m2), dump_sled(&t));

    // memory -> sled, into a store that already holds data: it is replaced whole.
    let mpath = cps.join("from-memory.skc");
    write_cut(
        m.begin_snapshot(Kind::Full).unwrap(),
        &req(&mpath, Kind::Full),
    )
    .unwrap();
    let s2 = open(&dir.path().join("db2"));
    s2.put(b"old", b"x", Ttl::Default).unwrap();
    let r = s2.restore_from(&mpath).unwrap();
    assert_eq!(r.entries, 450);
    assert_eq!(dump_sled(&s2), dump_mem(&m));
    assert_eq!(s2.stats().entry_count, 450);
    // A restored store bases its next incremental on what it restored.
    s2.put(b"k499", b"v3", Ttl::Default).unwrap();
    let next = write_cut(
        s2.begin_snapshot(Kind::Incremental).unwrap(),
        &req(&cps.join("4.skc"), Kind::Incremental),
    )
    .unwrap();
    assert_eq!(next.entries, 1);
    // The restored state survives reopening (the generation switch is durable); the
    // base of incrementals does not, so the first checkpoint after a reopen is full.
    let expected = dump_sled(&s2);
    drop(s2);
    let s2 = open(&dir.path().join("db2"));
    assert_eq!(dump_sled(&s2), expected);
    assert_eq!(
        s2.begin_snapshot(Kind::Incremental).err().unwrap().code,
        ErrorCode::InvalidArg
    );
}

#[test]
fn a_damaged_checkpoint_leaves_the_sled_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let t = open(&dir.path().join("db"));
    for i in 0..3000u32 {
        t.put(format!("k{i}").as_bytes(), &[i as u8; 300], Ttl::Default)
            .unwrap();
    }
    let path = dir.path().join("c.skc");
    write_cut(
        t.begin_snapshot(Kind::Full).unwrap(),
        &req(&path, Kind::Full),
    )
    .unwrap();
    t.put(b"after", b"checkpoint", Ttl::Default).unwrap();
    let before = dump_sled(&t);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() * 3 / 4;
    bytes[at] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = t.restore_from(&path).unwrap_err();
    assert_eq!(err.code, ErrorCode::Corrupt);
    assert!(
        err.message.contains("c.skc") && err.message.contains("offset"),
        "{err}"
    );
    assert_eq!(dump_sled(&t), before);
    assert_eq!(t.stats().entry_count as usize, before.len());
    drop(t);
    let t = open(&dir.path().join("db"));
    assert_eq!(
        dump_sled(&t),
        before,
        "nothing half-built survives a reopen either"
    );
}

#[test]
fn checkpoint_and_restore_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let t = open(&dir.path().join("db"));
    let snap = t.begin_snapshot(Kind::Full).unwrap();
    assert_eq!(
        t.begin_snapshot(Kind::Full).err().unwrap().code,
        ErrorCode::Busy
    );
    let path = dir.path().join("x.skc");
    std::fs::write(&path, b"whatever").unwrap();
    assert_eq!(t.restore_from(&path).unwrap_err().code, ErrorCode::Busy);
    drop(snap);
    assert_eq!(t.restore_from(&path).unwrap_err().code, ErrorCode::Corrupt);
}
