//! Unit tests of the memory tier, and a property test against a simple model.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use statekit_core::clock::ManualClock;
use statekit_core::memory::{MemoryTier, PutEntry, ENTRY_OVERHEAD};
use statekit_core::range::KeyRange;
use statekit_core::ttl::Ttl;
use statekit_core::ErrorCode;

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
    t.clear();
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
    assert_eq!(t.cleanup_expired(), 0);
    clock.advance(10);
    assert_eq!(t.cleanup_expired(), 50);
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
    let key = vec![1u8; statekit_core::limits::MAX_KEY_BYTES + 1];
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

#[derive(Debug, Clone)]
enum Op {
    Put(u8, Vec<u8>, Option<u16>),
    PutMany(Vec<(u8, Vec<u8>, Option<u16>)>),
    Delete(u8),
    Get(u8),
    Advance(u16),
    Cleanup,
}

fn op() -> impl Strategy<Value = Op> {
    let ttl = proptest::option::of(0u16..200);
    let value = proptest::collection::vec(any::<u8>(), 0..8);
    prop_oneof![
        4 => (0u8..16, value.clone(), ttl.clone()).prop_map(|(k, v, t)| Op::Put(k, v, t)),
        1 => proptest::collection::vec((0u8..16, value, ttl), 0..5).prop_map(Op::PutMany),
        2 => (0u8..16).prop_map(Op::Delete),
        3 => (0u8..16).prop_map(Op::Get),
        2 => (0u16..150).prop_map(Op::Advance),
        1 => Just(Op::Cleanup),
    ]
}

fn to_ttl(t: Option<u16>) -> Ttl {
    match t {
        None => Ttl::Default,
        Some(0) => Ttl::Never,
        Some(ms) => Ttl::Ms(ms as u64),
    }
}

/// The model: a sorted map of key to (value, absolute expiry, 0 = never).
struct Model {
    map: BTreeMap<Vec<u8>, (Vec<u8>, u64)>,
    default_ms: u64,
}

impl Model {
    fn put(&mut self, now: u64, k: u8, v: &[u8], t: Option<u16>) {
        let ms = match t {
            None => self.default_ms,
            Some(ms) => ms as u64,
        };
        let exp = if ms == 0 { 0 } else { now + ms };
        self.map.insert(vec![b'k', k], (v.to_vec(), exp));
    }
    fn live(&self, now: u64) -> Vec<Vec<u8>> {
        self.map
            .iter()
            .filter(|(_, (_, e))| *e == 0 || *e > now)
            .map(|(k, _)| k.clone())
            .collect()
    }
    fn get(&self, now: u64, k: u8) -> Option<Vec<u8>> {
        self.map
            .get(&vec![b'k', k])
            .filter(|(_, e)| *e == 0 || *e > now)
            .map(|(v, _)| v.clone())
    }
}

proptest! {
    #[test]
    fn matches_model(default_ms in 0u64..100, ops in proptest::collection::vec(op(), 1..120)) {
        let default = if default_ms == 0 { Ttl::Never } else { Ttl::Ms(default_ms) };
        let (t, clock) = tier(default);
        let mut m = Model { map: BTreeMap::new(), default_ms };
        for op in ops {
            let now = t.now_ms();
            match op {
                Op::Put(k, v, ttl) => {
                    t.put(&[b'k', k], &v, to_ttl(ttl)).unwrap();
                    m.put(now, k, &v, ttl);
                }
                Op::PutMany(batch) => {
                    let keys: Vec<[u8; 2]> = batch.iter().map(|(k, _, _)| [b'k', *k]).collect();
                    let entries: Vec<PutEntry> = batch.iter().zip(&keys)
                        .map(|((_, v, ttl), key)| PutEntry { key, value: v, ttl: to_ttl(*ttl) })
                        .collect();
                    t.put_many(&entries).unwrap();
                    for (k, v, ttl) in &batch { m.put(now, *k, v, *ttl); }
                }
                Op::Delete(k) => {
                    let was_live = m.get(now, k).is_some();
                    m.map.remove(&vec![b'k', k]);
                    prop_assert_eq!(t.delete(&[b'k', k]).unwrap(), was_live);
                }
                Op::Get(k) => prop_assert_eq!(t.get(&[b'k', k]).unwrap(), m.get(now, k)),
                Op::Advance(ms) => clock.advance(ms as u64),
                Op::Cleanup => {
                    t.cleanup_expired();
                }
            }
            let now = t.now_ms();
            let keys: Vec<Vec<u8>> = t.keys_in(&KeyRange::default()).iter().map(|k| k.to_vec()).collect();
            prop_assert_eq!(keys, m.live(now));
        }
        t.cleanup_expired();
        let live = m.live(t.now_ms());
        prop_assert_eq!(t.len(), live.len());
        let bytes: u64 = live.iter().map(|k| k.len() as u64 + m.map[k].0.len() as u64 + ENTRY_OVERHEAD).sum();
        prop_assert_eq!(t.stats().memory_bytes, bytes);
    }
}
