//! One contract for both tiers: a model-based property test drives a `Store` of each
//! tier (sled in a temporary directory) through the engine API with random puts,
//! batches, deletes, gets, clock steps and sweeps, and checks every step against a
//! sorted map with absolute expiries.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use statekit_core::{
    KeyRange, ManualClock, MemoryTier, PutEntry, SledOptions, SledTier, Store, Ttl, ENTRY_OVERHEAD,
};

/// A store of `tier` on `clock`, and the directory that holds it (sled).
fn store(tier: &str, default: Ttl, clock: &ManualClock) -> (Store, Option<tempfile::TempDir>) {
    let clock = Arc::new(clock.clone());
    if tier == "memory" {
        return (
            Store::Memory(Arc::new(MemoryTier::with_clock(default, clock))),
            None,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut o = SledOptions::new(dir.path().join("db"));
    o.flush_every_ms = None;
    o.default_ttl = default;
    let t = SledTier::open_with_clock(&o, clock).unwrap();
    (Store::Sled(Arc::new(t)), Some(dir))
}

/// Every live key, read through a cursor a few entries at a time.
fn keys(s: &Store) -> Vec<Vec<u8>> {
    let mut c = s.cursor(KeyRange::default());
    let mut out = Vec::new();
    while c.next_page(3, |k, _| out.push(k.to_vec())).unwrap() > 0 {}
    out
}

/// Bytes a tier counts per entry on top of its key and value.
fn overhead(s: &Store) -> u64 {
    match s.tier_name() {
        "memory" => ENTRY_OVERHEAD,
        _ => 0,
    }
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

fn run(tier: &str, default_ms: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let default = if default_ms == 0 {
        Ttl::Never
    } else {
        Ttl::Ms(default_ms)
    };
    let clock = ManualClock::new(1_000_000);
    let (t, _dir) = store(tier, default, &clock);
    let now_ms = |c: &ManualClock| statekit_core::Clock::now_ms(c);
    let mut m = Model {
        map: BTreeMap::new(),
        default_ms,
    };
    for op in ops {
        let now = now_ms(&clock);
        match op {
            Op::Put(k, v, ttl) => {
                t.put(&[b'k', k], &v, to_ttl(ttl)).unwrap();
                m.put(now, k, &v, ttl);
            }
            Op::PutMany(batch) => {
                let keys: Vec<[u8; 2]> = batch.iter().map(|(k, _, _)| [b'k', *k]).collect();
                let entries: Vec<PutEntry> = batch
                    .iter()
                    .zip(&keys)
                    .map(|((_, v, ttl), key)| PutEntry {
                        key,
                        value: v,
                        ttl: to_ttl(*ttl),
                    })
                    .collect();
                t.put_many(&entries).unwrap();
                for (k, v, ttl) in &batch {
                    m.put(now, *k, v, *ttl);
                }
            }
            Op::Delete(k) => {
                let was_live = m.get(now, k).is_some();
                m.map.remove(&vec![b'k', k]);
                prop_assert_eq!(t.delete(&[b'k', k]).unwrap(), was_live);
            }
            Op::Get(k) => prop_assert_eq!(
                t.get_with(&[b'k', k], |v| v.to_vec()).unwrap(),
                m.get(now, k)
            ),
            Op::Advance(ms) => clock.advance(ms as u64),
            Op::Cleanup => {
                t.cleanup_expired().unwrap();
            }
        }
        prop_assert_eq!(keys(&t), m.live(now_ms(&clock)));
    }
    t.cleanup_expired().unwrap();
    let live = m.live(now_ms(&clock));
    let stats = t.stats().unwrap();
    prop_assert_eq!(stats.entry_count, live.len() as u64);
    let bytes: u64 = live
        .iter()
        .map(|k| k.len() as u64 + m.map[k].0.len() as u64 + overhead(&t))
        .sum();
    prop_assert_eq!(stats.memory_bytes, bytes);
    Ok(())
}

proptest! {
    #[test]
    fn memory_tier_matches_model(default_ms in 0u64..100, ops in proptest::collection::vec(op(), 1..120)) {
        run("memory", default_ms, ops)?;
    }
}

proptest! {
    // Each case opens a sled directory: fewer cases than the memory tier's.
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn sled_tier_matches_model(default_ms in 0u64..100, ops in proptest::collection::vec(op(), 1..120)) {
        run("sled", default_ms, ops)?;
    }
}
