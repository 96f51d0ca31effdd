//! Unit tests of the memory tier, and a property test against a simple model.

use std::sync::Arc;

use statekit_core::ErrorCode;
use statekit_core::{KeyRange, ManualClock, MemoryTier, PutEntry, Ttl, ENTRY_OVERHEAD};

fn tier(default: Ttl) -> (MemoryTier, ManualClock) {
    let clock = ManualClock::new(1_000_000);
    (
        MemoryTier::with_clock(default, Arc::new(clock.clone())),
        clock,
    )
}

#[test]
fn put_get_delete_and_counters() {
    let (t, _) = tier(Ttl::Never);
    t.put(b"a", b"1", Ttl::Default).unwrap();
    assert_eq!(t.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(t.get(b"b").unwrap(), None);
    assert!(t.has(b"a").unwrap());
    assert!(t.delete(b"a").unwrap());
    assert!(!t.delete(b"a").unwrap());
    let s = t.stats();
    assert_eq!((s.get_count, s.hit_count, s.miss_count), (2, 1, 1));
    assert_eq!((s.put_count, s.delete_count, s.entry_count), (1, 1, 0));
    assert_eq!(s.memory_bytes, 0);
}

#[test]
fn memory_bytes_follow_overwrites() {
    let (t, _) = tier(Ttl::Never);
    t.put(b"key", &[0; 10], Ttl::Default).unwrap();
    assert_eq!(t.stats().memory_bytes, 3 + 10 + ENTRY_OVERHEAD);
    t.put(b"key", &[0; 100], Ttl::Default).unwrap();
    assert_eq!(t.stats().memory_bytes, 3 + 100 + ENTRY_OVERHEAD);
    t.clear().unwrap();
    assert_eq!(t.stats().memory_bytes, 0);
}

#[test]
fn default_and_per_put_ttl() {
    let (t, clock) = tier(Ttl::Ms(100));
    t.put(b"default", b"v", Ttl::Default).unwrap();
    t.put(b"never", b"v", Ttl::Never).unwrap();
    t.put(b"long", b"v", Ttl::Ms(1_000)).unwrap();
    clock.advance(100);
    assert_eq!(t.get(b"default").unwrap(), None);
    assert!(t.get(b"never").unwrap().is_some());
    assert!(t.get(b"long").unwrap().is_some());
    clock.advance(900);
    assert!(!t.has(b"long").unwrap());
    assert_eq!(t.stats().expired_count, 2);
    assert_eq!(t.len(), 1);
}

#[test]
fn cleanup_counts_what_it_removes() {
    let (t, clock) = tier(Ttl::Never);
    for i in 0..100u32 {
        let ttl = if i % 2 == 0 { Ttl::Ms(10) } else { Ttl::Never };
        t.put(&i.to_be_bytes(), b"v", ttl).unwrap();
    }
    assert_eq!(t.cleanup_expired().unwrap(), 0);
    clock.advance(10);
    assert_eq!(t.cleanup_expired().unwrap(), 50);
    assert_eq!(t.len(), 50);
    assert_eq!(t.stats().expired_count, 50);
}

#[test]
fn bad_batch_changes_nothing() {
    let (t, _) = tier(Ttl::Never);
    t.put(b"keep", b"1", Ttl::Default).unwrap();
    let entries = [
        PutEntry {
            key: b"x",
            value: b"1",
            ttl: Ttl::Default,
        },
        PutEntry {
            key: b"",
            value: b"2",
            ttl: Ttl::Default,
        },
    ];
    let err = t.put_many(&entries).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert_eq!(t.get(b"x").unwrap(), None);
    assert_eq!(t.len(), 1);
    assert_eq!(t.stats().put_count, 1);
}

#[test]
fn oversized_key_is_rejected() {
    let (t, _) = tier(Ttl::Never);
    let key = vec![1u8; statekit_core::MAX_KEY_BYTES + 1];
    assert_eq!(
        t.put(&key, b"", Ttl::Default).unwrap_err().code,
        ErrorCode::InvalidArg
    );
    assert!(t.is_empty());
}

#[test]
fn ranges_are_ordered_by_bytes() {
    let (t, _) = tier(Ttl::Never);
    for k in ["b", "a", "ab", "c", "\u{ff}", "aa"] {
        t.put(k.as_bytes(), b"", Ttl::Default).unwrap();
    }
    let all: Vec<_> = t.keys_in(&KeyRange::default());
    let as_str: Vec<&[u8]> = all.iter().map(|k| &k[..]).collect();
    assert_eq!(
        as_str,
        vec![&b"a"[..], b"aa", b"ab", b"b", b"c", "\u{ff}".as_bytes()]
    );
    let r = KeyRange {
        prefix: Some(b"a".to_vec()),
        reverse: true,
        limit: Some(2),
        ..Default::default()
    };
    let got: Vec<Vec<u8>> = t.keys_in(&r).iter().map(|k| k.to_vec()).collect();
    assert_eq!(got, vec![b"ab".to_vec(), b"aa".to_vec()]);
}
