//! Tests of the sled tier: semantics shared with the memory tier, persistence, TTL
//! across reopen, the expiry index, locking and damaged directories.

use std::sync::Arc;

use statekit_core::{KeyRange, ManualClock, PutEntry, SledOptions, SledTier, Ttl};

use statekit_core::ErrorCode;

fn open(dir: &std::path::Path, clock: &ManualClock) -> SledTier {
    let mut o = SledOptions::new(dir.join("db"));
    o.flush_every_ms = None;
    SledTier::open_with_clock(&o, Arc::new(clock.clone())).unwrap()
}

#[test]
fn put_get_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    {
        let t = open(dir.path(), &clock);
        t.put(b"a", b"1", Ttl::Default).unwrap();
        t.put(b"b", b"2", Ttl::Ms(100)).unwrap();
        t.put(b"c", b"3", Ttl::Default).unwrap();
        assert!(t.delete(b"c").unwrap());
        assert_eq!(t.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(t.stats().entry_count, 2);
        t.flush().unwrap();
    }
    // Reopen at once: the lock was released. b expired while closed: it is neither
    // counted nor stored once the store is open again.
    clock.advance(100);
    let t = open(dir.path(), &clock);
    assert_eq!(t.stats().entry_count, 1);
    assert_eq!(t.stats().memory_bytes, 2, "only a=1 is counted");
    assert_eq!(t.stats().expired_count, 0, "expired before this open");
    assert_eq!(t.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(t.get(b"b").unwrap(), None);
    assert_eq!(t.get(b"c").unwrap(), None);
    assert_eq!(t.stats().entry_count, 1);
}

#[test]
fn sweep_reads_only_the_due_index_records() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let t = open(dir.path(), &clock);
    for i in 0..1000u32 {
        let ttl = if i < 10 {
            Ttl::Ms(10)
        } else {
            Ttl::Ms(1_000_000)
        };
        t.put(&i.to_be_bytes(), b"v", ttl).unwrap();
    }
    // An overwrite leaves a stale index record; the sweep must not remove the new value.
    t.put(&0u32.to_be_bytes(), b"new", Ttl::Never).unwrap();
    clock.advance(10);
    assert_eq!(t.cleanup_expired().unwrap(), 9);
    assert_eq!(t.get(&0u32.to_be_bytes()).unwrap(), Some(b"new".to_vec()));
    assert_eq!(t.stats().entry_count, 991);
    assert_eq!(t.cleanup_expired().unwrap(), 0);
}

#[test]
fn put_many_is_all_or_nothing_and_counts_duplicates_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let t = open(dir.path(), &clock);
    let bad = [
        PutEntry {
            key: b"x",
            value: b"1",
            ttl: Ttl::Default,
        },
        PutEntry {
            key: b"",
            value: b"1",
            ttl: Ttl::Default,
        },
    ];
    assert_eq!(t.put_many(&bad).unwrap_err().code, ErrorCode::InvalidArg);
    assert_eq!(t.get(b"x").unwrap(), None);
    let good = [
        PutEntry {
            key: b"x",
            value: b"1",
            ttl: Ttl::Default,
        },
        PutEntry {
            key: b"x",
            value: b"22",
            ttl: Ttl::Ms(5),
        },
        PutEntry {
            key: b"y",
            value: b"3",
            ttl: Ttl::Default,
        },
    ];
    t.put_many(&good).unwrap();
    assert_eq!(t.get(b"x").unwrap(), Some(b"22".to_vec()));
    assert_eq!(t.stats().entry_count, 2);
    assert_eq!(t.stats().memory_bytes, 1 + 2 + 1 + 1);
    clock.advance(5);
    assert_eq!(t.cleanup_expired().unwrap(), 1);
}

#[test]
fn pages_follow_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000);
    let t = open(dir.path(), &clock);
    for k in ["a", "b:1", "b:2", "b:3", "c"] {
        t.put(k.as_bytes(), k.as_bytes(), Ttl::Default).unwrap();
    }
    t.put(b"b:25", b"gone", Ttl::Ms(1)).unwrap();
    clock.advance(1);
    let r = KeyRange {
        prefix: Some(b"b:".to_vec()),
        reverse: true,
        ..Default::default()
    };
    let p1 = t.page(&r, None, 2).unwrap();
    let keys: Vec<_> = p1.entries.iter().map(|(k, _)| k.to_vec()).collect();
    // b:25 expired: skipped.
    assert_eq!(keys, vec![b"b:3".to_vec(), b"b:2".to_vec()]);
    let p2 = t.page(&r, p1.last.as_deref(), 2).unwrap();
    let keys: Vec<_> = p2
        .entries
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(keys, vec![(b"b:1".to_vec(), b"b:1".to_vec())]);
    assert!(p2.done);
    let empty = KeyRange {
        gte: Some(b"z".to_vec()),
        lt: Some(b"a".to_vec()),
        ..Default::default()
    };
    assert!(t.page(&empty, None, 10).unwrap().entries.is_empty());
}

#[test]
fn second_open_is_locked_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let _first = open(dir.path(), &clock);
    let mut o = SledOptions::new(dir.path().join("db"));
    o.flush_every_ms = None;
    let err = SledTier::open(&o).unwrap_err();
    assert_eq!(err.code, ErrorCode::Locked);
    assert!(err.message.contains("db"), "{}", err.message);
}

#[test]
fn a_file_path_is_an_io_error_and_bad_options_touch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert_eq!(
        SledTier::open(&SledOptions::new(&file)).unwrap_err().code,
        ErrorCode::Io
    );
    let mut o = SledOptions::new(dir.path().join("never"));
    o.flush_every_ms = Some(0);
    assert_eq!(SledTier::open(&o).unwrap_err().code, ErrorCode::InvalidArg);
    assert!(!dir.path().join("never").exists());
    assert_eq!(
        SledTier::open(&SledOptions::new("")).unwrap_err().code,
        ErrorCode::InvalidArg
    );
}

#[test]
fn a_damaged_directory_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    {
        let t = open(dir.path(), &clock);
        for i in 0..2000u32 {
            t.put(&i.to_be_bytes(), &[7u8; 100], Ttl::Default).unwrap();
        }
        t.flush().unwrap();
    }
    let db = dir.path().join("db");
    for entry in walk(&db) {
        if entry.file_name().is_some_and(|n| n != "statekit.lock") {
            let len = std::fs::metadata(&entry).unwrap().len() as usize;
            std::fs::write(&entry, vec![0xA5u8; len.max(64)]).unwrap();
        }
    }
    let mut o = SledOptions::new(&db);
    o.flush_every_ms = None;
    let err = SledTier::open(&o).unwrap_err();
    assert_eq!(err.code, ErrorCode::Corrupt, "{err}");
    assert!(err.message.contains("db"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn changing_compression_is_an_invalid_option() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = SledOptions::new(dir.path().join("db"));
    o.compression = true;
    o.flush_every_ms = None;
    {
        let t = SledTier::open(&o).unwrap();
        t.put(b"k", &[1u8; 1000], Ttl::Default).unwrap();
        t.flush().unwrap();
    }
    o.compression = false;
    assert_eq!(SledTier::open(&o).unwrap_err().code, ErrorCode::InvalidArg);
    o.compression = true;
    assert_eq!(
        SledTier::open(&o).unwrap().get(b"k").unwrap(),
        Some(vec![1u8; 1000])
    );
}
