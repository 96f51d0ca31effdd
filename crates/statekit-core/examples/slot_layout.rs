//! Measures whether another slot layout would make the memory tier's lookups cheaper,
//! before anyone rewrites the tier for it. Four layouts of 256 shards of hashbrown
//! tables, each read under its shard's read lock (DashMap's lock, as the tier's reads
//! take it), filled with the same keys in the same order:
//!
//! - `inline64`, the tier's layout: a 64-byte slot with the key inline (up to 22 bytes)
//!   beside the expiry, version and checkpoint pointer; the value in an allocation of
//!   its own;
//! - `node8`: an 8-byte slot pointing to one allocation with the header, the key and
//!   the value (the tables become small enough to stay in cache at 1M keys);
//! - `tag24`: a 24-byte slot (key and value lengths, expiry, pointer) with the key and
//!   the value in one allocation;
//! - `value-inline`: the tier's slot with the value inline instead of its pointer, for
//!   values of up to 100 bytes (the benchmark's size): a 152-byte slot.
//!
//! Each lookup hashes the key, takes the shard's read lock, finds the key, checks the
//! expiry and copies the 100-byte value out, as a `getSync` does. Random keys, 1,048,576
//! lookups a round, rounds alternating the order of the tasks, medians of 7. One more
//! task runs the `inline64` lookups with no lock, to show what the lock's two atomic
//! instructions (full fences on x86) cost: with them, one lookup's cache misses cannot
//! overlap the next one's; another adds a shared hit counter's atomic add after the
//! lock is released, as the tier counts its gets.
//!
//! `cargo run --release -p statekit-core --example slot_layout -- [N ...]`
//! (default: 1000 100000 1000000 keys); `-- --rss LAYOUT N` fills one layout alone,
//! prints the resident memory it takes per entry, and runs one round of lookups on it
//! (`one_round`, for `valgrind --tool=callgrind --cache-sim=yes
//! --toggle-collect='*one_round*'` to count the cache misses of each layout).

#[path = "common/rss.rs"]
mod rss;

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;
use std::ptr::NonNull;
use std::time::Instant;

use dashmap::RwLock;
use hashbrown::raw::RawTable;
use xxhash_rust::xxh3::xxh3_64_with_seed;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SHARDS: usize = 256;
const ROUNDS: usize = 7;
const LOOKUPS: usize = 1 << 20;
const VALUE: usize = 100;

/// The tier's slot today: key inline, then the entry (value box, expiry, version, prev).
struct Inline64 {
    len: u8,
    key: [u8; 23],
    value: Option<Box<[u8]>>,
    expires_at: u64,
    _version: u64,
    _prev: Option<Box<u64>>,
}

/// One allocation: a 40-byte header (expiry, version, prev, key and value lengths),
/// then the key, then the value.
struct Node(NonNull<u8>);

const HEADER: usize = 40;

impl Node {
    fn new(key: &[u8], value: &[u8]) -> Node {
        let layout = Self::layout(key.len(), value.len());
        // SAFETY: the layout is not zero-sized; every header field is written before use.
        unsafe {
            let p = alloc(layout);
            let Some(nn) = NonNull::new(p) else {
                std::alloc::handle_alloc_error(layout)
            };
            (p as *mut u64).write(u64::MAX);
            (p.add(8) as *mut u64).write(1);
            (p.add(16) as *mut usize).write(0);
            (p.add(24) as *mut u32).write(key.len() as u32);
            (p.add(28) as *mut u32).write(value.len() as u32);
            std::ptr::copy_nonoverlapping(key.as_ptr(), p.add(HEADER), key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), p.add(HEADER + key.len()), value.len());
            Node(nn)
        }
    }

    fn layout(key: usize, value: usize) -> Layout {
        Layout::from_size_align(HEADER + key + value, 8).expect("a small layout")
    }

    fn lens(&self) -> (usize, usize) {
        // SAFETY: the header was written by `new`.
        unsafe {
            let p = self.0.as_ptr();
            (
                (p.add(24) as *const u32).read() as usize,
                (p.add(28) as *const u32).read() as usize,
            )
        }
    }

    #[inline]
    fn key(&self) -> &[u8] {
        let (k, _) = self.lens();
        // SAFETY: the key's bytes follow the header.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(HEADER), k) }
    }

    #[inline]
    fn value(&self) -> &[u8] {
        let (k, v) = self.lens();
        // SAFETY: the value's bytes follow the key.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(HEADER + k), v) }
    }

    #[inline]
    fn expires_at(&self) -> u64 {
        // SAFETY: the header's first word.
        unsafe { (self.0.as_ptr() as *const u64).read() }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let (k, v) = self.lens();
        // SAFETY: allocated by `new` with this layout.
        unsafe { dealloc(self.0.as_ptr(), Self::layout(k, v)) }
    }
}

/// A 24-byte slot: lengths, expiry, and a pointer to the key and the value.
struct Tag24 {
    lens: u64,
    expires_at: u64,
    bytes: Box<[u8]>,
}

impl Tag24 {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.bytes[..(self.lens & 0xffff) as usize]
    }

    #[inline]
    fn value(&self) -> &[u8] {
        &self.bytes[(self.lens & 0xffff) as usize..]
    }
}

/// The value bytes a `value-inline` slot holds.
const INLINE_VALUE: usize = 100;

/// The tier's slot with the value inline instead of its pointer: 152 bytes.
struct ValueInline {
    len: u8,
    key: [u8; 23],
    expires_at: u64,
    _version: u64,
    _prev: Option<Box<u64>>,
    value_len: u32,
    value: [u8; INLINE_VALUE],
}

type Shards<T> = Vec<RwLock<RawTable<T>>>;

fn shards<T>() -> Shards<T> {
    (0..SHARDS).map(|_| RwLock::new(RawTable::new())).collect()
}

fn hash(key: &[u8]) -> u64 {
    xxh3_64_with_seed(key, 0x5eed)
}

fn shard_of(h: u64) -> usize {
    ((h << 7) >> 56) as usize
}

/// Times `LOOKUPS` lookups of random keys; ns per lookup.
fn time(order: &[usize], mut lookup: impl FnMut(usize) -> usize) -> f64 {
    let t0 = Instant::now();
    let mut sum = 0usize;
    for &i in order {
        sum = sum.wrapping_add(lookup(i));
    }
    black_box(sum);
    t0.elapsed().as_nanos() as f64 / order.len() as f64
}

/// Copies a value out, as the fast path copies it into the shared value buffer.
#[inline]
fn copy(v: &[u8]) -> usize {
    let mut out = [0u8; VALUE];
    out[..v.len()].copy_from_slice(v);
    black_box(&out);
    v.len()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn keys_of(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("key:{i:011}").into_bytes())
        .collect()
}

fn inline_key(k: &[u8]) -> [u8; 23] {
    let mut key = [0u8; 23];
    key[..k.len()].copy_from_slice(k);
    key
}

fn put_inline64(t: &Shards<Inline64>, k: &[u8], value: &[u8]) {
    let h = hash(k);
    let slot = Inline64 {
        len: k.len() as u8,
        key: inline_key(k),
        value: Some(value.into()),
        expires_at: u64::MAX,
        _version: 1,
        _prev: None,
    };
    t[shard_of(h)]
        .write()
        .insert(h, slot, |e| hash(&e.key[..e.len as usize]));
}

fn put_node8(t: &Shards<Node>, k: &[u8], value: &[u8]) {
    let h = hash(k);
    t[shard_of(h)]
        .write()
        .insert(h, Node::new(k, value), |e| hash(e.key()));
}

fn put_tag24(t: &Shards<Tag24>, k: &[u8], value: &[u8]) {
    let h = hash(k);
    let slot = Tag24 {
        lens: k.len() as u64 | ((value.len() as u64) << 32),
        expires_at: u64::MAX,
        bytes: [k, value].concat().into(),
    };
    t[shard_of(h)].write().insert(h, slot, |e| hash(e.key()));
}

fn put_value_inline(t: &Shards<ValueInline>, k: &[u8], value: &[u8]) {
    let h = hash(k);
    let mut v = [0u8; INLINE_VALUE];
    v[..value.len()].copy_from_slice(value);
    let slot = ValueInline {
        len: k.len() as u8,
        key: inline_key(k),
        expires_at: u64::MAX,
        _version: 1,
        _prev: None,
        value_len: value.len() as u32,
        value: v,
    };
    t[shard_of(h)]
        .write()
        .insert(h, slot, |e| hash(&e.key[..e.len as usize]));
}

/// The expiry the lookups check against.
const NOW: u64 = 5;

fn get_inline64(t: &RawTable<Inline64>, h: u64, k: &[u8]) -> usize {
    match t.get(h, |e| &e.key[..e.len as usize] == k) {
        Some(e) if e.expires_at > NOW => e.value.as_deref().map_or(0, copy),
        _ => 0,
    }
}

fn get_node8(t: &RawTable<Node>, h: u64, k: &[u8]) -> usize {
    match t.get(h, |e| e.key() == k) {
        Some(e) if e.expires_at() > NOW => copy(e.value()),
        _ => 0,
    }
}

fn get_tag24(t: &RawTable<Tag24>, h: u64, k: &[u8]) -> usize {
    match t.get(h, |e| e.key() == k) {
        Some(e) if e.expires_at > NOW => copy(e.value()),
        _ => 0,
    }
}

fn get_value_inline(t: &RawTable<ValueInline>, h: u64, k: &[u8]) -> usize {
    match t.get(h, |e| &e.key[..e.len as usize] == k) {
        Some(e) if e.expires_at > NOW => copy(&e.value[..e.value_len as usize]),
        _ => 0,
    }
}

/// A lookup under the shard's read lock.
#[inline]
fn locked<T>(t: &Shards<T>, k: &[u8], get: fn(&RawTable<T>, u64, &[u8]) -> usize) -> usize {
    let h = hash(k);
    get(&t[shard_of(h)].read(), h, k)
}

/// Random key indexes, the same for every task.
fn order_of(n: usize) -> Vec<usize> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..LOOKUPS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        })
        .collect()
}

/// One round of lookups, in a function of its own so that
/// `valgrind --tool=callgrind --toggle-collect='*one_round*'` counts only them.
#[inline(never)]
fn one_round<T>(
    t: &Shards<T>,
    keys: &[Vec<u8>],
    order: &[usize],
    get: fn(&RawTable<T>, u64, &[u8]) -> usize,
) -> usize {
    order
        .iter()
        .fold(0usize, |sum, &i| sum.wrapping_add(locked(t, &keys[i], get)))
}

/// Fills one layout alone; prints the resident memory it took per entry, then runs one
/// round of lookups on it (for callgrind's cache simulation).
fn alone<T>(
    layout: &str,
    n: usize,
    put: fn(&Shards<T>, &[u8], &[u8]),
    get: fn(&RawTable<T>, u64, &[u8]) -> usize,
) {
    let keys = keys_of(n);
    let value = vec![0x76u8; VALUE];
    let order = order_of(n);
    let before = rss::rss_bytes();
    let t = shards();
    keys.iter().for_each(|k| put(&t, k, &value));
    let per = (rss::rss_bytes() - before) as f64 / n as f64;
    println!("{n:>9} keys  {layout:<19} {per:>7.1} bytes per entry (resident)");
    black_box(one_round(&t, &keys, &order, get));
}

/// `--rss LAYOUT N`.
fn rss_of(layout: &str, n: usize) {
    match layout {
        "inline64" => alone(layout, n, put_inline64, get_inline64),
        "node8" => alone(layout, n, put_node8, get_node8),
        "tag24" => alone(layout, n, put_tag24, get_tag24),
        _ => alone("value-inline", n, put_value_inline, get_value_inline),
    }
}

fn run(n: usize) {
    let keys = keys_of(n);
    let value = vec![0x76u8; VALUE];
    let inline: Shards<Inline64> = shards();
    let node: Shards<Node> = shards();
    let tag: Shards<Tag24> = shards();
    let valin: Shards<ValueInline> = shards();
    // Filled key by key, all at once, so their allocations interleave as a real fill's
    // keys and values do.
    for k in &keys {
        put_inline64(&inline, k, &value);
        put_node8(&node, k, &value);
        put_tag24(&tag, k, &value);
        put_value_inline(&valin, k, &value);
    }
    let order = order_of(n);
    let hits = std::sync::atomic::AtomicU64::new(0);
    type Lookup<'a> = Box<dyn FnMut(usize) -> usize + 'a>;
    let mut results: Vec<(&str, Vec<f64>)> = Vec::new();
    for round in 0..ROUNDS {
        let mut tasks: Vec<(&str, Lookup<'_>)> = vec![
            (
                "inline64, locked",
                Box::new(|i| locked(&inline, &keys[i], get_inline64)),
            ),
            (
                "node8, locked",
                Box::new(|i| locked(&node, &keys[i], get_node8)),
            ),
            (
                "tag24, locked",
                Box::new(|i| locked(&tag, &keys[i], get_tag24)),
            ),
            (
                "value-inline, locked",
                Box::new(|i| locked(&valin, &keys[i], get_value_inline)),
            ),
            (
                "inline64, counted",
                Box::new(|i| {
                    let r = locked(&inline, &keys[i], get_inline64);
                    hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    r
                }),
            ),
            (
                "inline64, no lock",
                Box::new(|i| {
                    let k = &keys[i];
                    let h = hash(k);
                    // SAFETY: no thread writes while this runs.
                    let t = unsafe { &*inline[shard_of(h)].data_ptr() };
                    get_inline64(t, h, k)
                }),
            ),
        ];
        if round % 2 == 1 {
            tasks.reverse();
        }
        for (name, f) in tasks.iter_mut() {
            let ns = time(&order, f);
            match results.iter_mut().find(|(n, _)| n == name) {
                Some((_, xs)) => xs.push(ns),
                None => results.push((name, vec![ns])),
            }
        }
    }
    results.sort_by_key(|(name, _)| *name);
    for (name, xs) in results {
        println!("{n:>9} keys  {name:<19} {:>7.1} ns", median(xs));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "--rss") {
        let n = args
            .get(3)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        rss_of(args.get(2).map_or("inline64", String::as_str), n);
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    for n in sizes {
        run(n);
    }
}
