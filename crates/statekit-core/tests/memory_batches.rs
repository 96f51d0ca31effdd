//! The memory tier's batches as the fast path makes them: `get_many_into` (one read
//! lock per shard, a pipeline of loads) and `put_many` (one write lock per shard, one
//! version, values of the same length copied in place), against single gets.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

mod common;

use statekit_core::{Copied, ManualClock, MemoryTier, PutEntry, Store, Ttl, ENTRY_OVERHEAD};

fn tier() -> (Arc<MemoryTier>, ManualClock) {
    let clock = ManualClock::new(1_000_000);
    let t = MemoryTier::with_clock(Ttl::Never, Arc::new(clock.clone()));
    (Arc::new(t), clock)
}

/// Keys packed as `get_many_into` reads them: a 2-byte length and the bytes.
fn pack(keys: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for k in keys {
        out.extend_from_slice(&(k.len() as u16).to_le_bytes());
        out.extend_from_slice(k);
    }
    out
}

/// What `get_many_into` wrote: each key's value or `None`.
fn unpack(out: &[u8], count: usize, total: usize) -> Vec<Option<Vec<u8>>> {
    let mut pos = count * 4;
    let got: Vec<Option<Vec<u8>>> = (0..count)
        .map(|i| {
            let n = i32::from_le_bytes(out[i * 4..i * 4 + 4].try_into().unwrap());
            (n >= 0).then(|| {
                let v = out[pos..pos + n as usize].to_vec();
                pos += n as usize;
                v
            })
        })
        .collect();
    assert_eq!(pos, count * 4 + total, "the lengths add up to the total");
    got
}

fn read_many(t: &MemoryTier, keys: &[&[u8]], room: usize) -> Option<Vec<Option<Vec<u8>>>> {
    let mut out = vec![0u8; room];
    match t.get_many_into(&pack(keys), keys.len(), &mut out).unwrap() {
        Copied::Bytes(total) => Some(unpack(&out, keys.len(), total)),
        Copied::TooBig => None,
        Copied::Miss => panic!("a batch never misses as a whole"),
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:011}").into_bytes()
}

#[test]
fn a_batch_reads_what_single_gets_read_over_many_shards() {
    let (t, _) = tier();
    for i in (0..3000).step_by(2) {
        t.put(&key(i), format!("value {i}").as_bytes(), Ttl::Default)
            .unwrap();
    }
    // Present and missing keys, spread over every shard, with duplicates.
    let owned: Vec<Vec<u8>> = (0..1000).map(|i| key((i * 7919) % 3000)).collect();
    let mut keys: Vec<&[u8]> = owned.iter().map(|k| k.as_slice()).collect();
    keys.extend_from_slice(&[
        owned[3].as_slice(),
        owned[3].as_slice(),
        owned[0].as_slice(),
    ]);
    let before = t.stats();
    let got = read_many(&t, &keys, 1 << 20).expect("fits");
    let want: Vec<Option<Vec<u8>>> = keys.iter().map(|k| t.get(k).unwrap()).collect();
    assert_eq!(got, want);
    let hits = want.iter().filter(|v| v.is_some()).count() as u64;
    assert!(hits > 100 && hits < keys.len() as u64);
    let after = t.stats();
    // The batch counted as many hits and misses as the single gets did.
    assert_eq!(after.hit_count - before.hit_count, 2 * hits);
    assert_eq!(
        after.miss_count - before.miss_count,
        2 * (keys.len() as u64 - hits)
    );
}

#[test]
fn a_batch_of_one_key_repeated_and_an_empty_batch() {
    let (t, _) = tier();
    t.put(b"k", b"v", Ttl::Default).unwrap();
    let keys: Vec<&[u8]> = vec![b"k"; 20];
    let got = read_many(&t, &keys, 1024).unwrap();
    assert!(got.iter().all(|v| v.as_deref() == Some(&b"v"[..])));
    assert_eq!(
        read_many(&t, &[], 0).unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
    assert_eq!(read_many(&t, &[b"nope"], 4).unwrap(), vec![None]);
}

#[test]
fn expired_entries_are_misses_and_go() {
    let (t, clock) = tier();
    t.put(b"short", b"1", Ttl::Ms(10)).unwrap();
    t.put(b"long", b"2", Ttl::Ms(10_000)).unwrap();
    t.put(b"never", b"3", Ttl::Never).unwrap();
    let keys: Vec<&[u8]> = vec![b"short", b"long", b"never", b"short"];
    let got = read_many(&t, &keys, 1024).unwrap();
    assert!(got.iter().all(|v| v.is_some()));
    clock.advance(10);
    let got = read_many(&t, &keys, 1024).unwrap();
    assert_eq!(
        got,
        vec![None, Some(b"2".to_vec()), Some(b"3".to_vec()), None]
    );
    // The batch removed the expired entry (after releasing its locks).
    assert_eq!(t.len(), 2);
    assert_eq!(t.stats().expired_count, 1);
}

#[test]
fn values_beyond_the_buffer_are_too_big_and_not_counted() {
    let (t, _) = tier();
    t.put(b"a", &[1u8; 100], Ttl::Default).unwrap();
    t.put(b"b", &[2u8; 100], Ttl::Default).unwrap();
    let before = t.stats();
    // Room for the lengths and one value, not two.
    assert_eq!(read_many(&t, &[b"a", b"b"], 8 + 150), None);
    // Not even room for the lengths.
    assert_eq!(read_many(&t, &[b"a", b"b"], 7), None);
    let after = t.stats();
    assert_eq!(
        (after.hit_count, after.miss_count),
        (before.hit_count, before.miss_count)
    );
    let got = read_many(&t, &[b"a", b"b"], 8 + 200).unwrap();
    assert_eq!(got, vec![Some(vec![1u8; 100]), Some(vec![2u8; 100])]);
}

#[test]
fn a_packing_shorter_than_its_count_is_an_error() {
    let (t, _) = tier();
    let packed = pack(&[b"a", b"b"]);
    let mut out = vec![0u8; 64];
    let err = t.get_many_into(&packed, 3, &mut out).unwrap_err();
    assert_eq!(err.code, statekit_core::ErrorCode::InvalidArg);
    let err = t
        .get_many_into(&packed[..packed.len() - 1], 2, &mut out)
        .unwrap_err();
    assert_eq!(err.code, statekit_core::ErrorCode::InvalidArg);
}

#[test]
fn put_many_overwrites_in_place_or_not_and_counts_bytes() {
    let (t, _) = tier();
    let owned: Vec<Vec<u8>> = (0..2000).map(key).collect();
    let batch = |value: &'static [u8]| -> Vec<PutEntry<'_>> {
        owned
            .iter()
            .map(|k| PutEntry {
                key: k,
                value,
                ttl: Ttl::Default,
            })
            .collect()
    };
    let size = |v: usize| 2000 * (owned[0].len() as u64 + v as u64 + ENTRY_OVERHEAD);
    t.put_many(&batch(&[1u8; 100])).unwrap();
    assert_eq!(t.stats().memory_bytes, size(100));
    // The same length: copied over the old values.
    t.put_many(&batch(&[2u8; 100])).unwrap();
    assert_eq!(t.stats().memory_bytes, size(100));
    assert_eq!(t.get(&owned[1999]).unwrap(), Some(vec![2u8; 100]));
    // Another length: new values.
    t.put_many(&batch(&[3u8; 7])).unwrap();
    assert_eq!(t.stats().memory_bytes, size(7));
    assert_eq!(t.get(&owned[0]).unwrap(), Some(vec![3u8; 7]));
    // Duplicates in one batch: the last one wins, and the bytes count it once.
    let dup = [
        PutEntry {
            key: b"d",
            value: b"first",
            ttl: Ttl::Default,
        },
        PutEntry {
            key: b"d",
            value: b"later",
            ttl: Ttl::Default,
        },
        PutEntry {
            key: b"d",
            value: b"last!",
            ttl: Ttl::Ms(5),
        },
    ];
    t.put_many(&dup).unwrap();
    assert_eq!(t.get(b"d").unwrap(), Some(b"last!".to_vec()));
    assert_eq!(t.stats().memory_bytes, size(7) + 1 + 5 + ENTRY_OVERHEAD);
    assert_eq!(t.len(), 2001);
    // A single put over a value of the same length, and a delete, keep the count.
    t.put(b"d", b"again", Ttl::Default).unwrap();
    assert_eq!(t.stats().memory_bytes, size(7) + 1 + 5 + ENTRY_OVERHEAD);
    assert!(t.delete(b"d").unwrap());
    assert_eq!(t.stats().memory_bytes, size(7));
}

#[test]
fn a_batch_read_sees_a_batch_write_whole() {
    let (t, _) = tier();
    let store = Store::Memory(Arc::clone(&t));
    let owned: Vec<Vec<u8>> = (0..300).map(key).collect();
    common::put_all(&store, &owned, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop, owned) = (store.clone(), Arc::clone(&stop), owned.clone());
        thread::spawn(move || {
            let mut n = 1u64;
            while !stop.load(SeqCst) {
                common::put_all(&store, &owned, n);
                n += 1;
            }
            n
        })
    };
    let keys: Vec<&[u8]> = owned.iter().map(|k| k.as_slice()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..2000 {
        let got = read_many(&t, &keys, 1 << 16).unwrap();
        let first = got[0].clone().unwrap();
        assert!(
            got.iter().all(|v| v.as_ref() == Some(&first)),
            "a torn batch"
        );
        seen.insert(first);
    }
    stop.store(true, SeqCst);
    let written = writer.join().unwrap();
    assert!(written > 1);
    assert!(!seen.is_empty());
}
