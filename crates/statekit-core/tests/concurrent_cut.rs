//! Checkpoints taken while several threads write: every checkpoint is checked against
//! the writers' own logs of completed writes. Each writer overwrites the same keys
//! (spread over many shards) with a batch's sequence number, and one key of its own
//! with single puts. In the restored cut, a writer's batch keys all hold one number
//! (no batch torn), every batch that returned before the checkpoint was begun is in
//! it, and none that started after `begin_checkpoint` returned is.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

mod common;

use statekit_core::{CheckpointRequest, KeyRange, MemoryTier, SledOptions, Store, Ttl};

const WRITERS: usize = 3;
const BATCH_KEYS: usize = 24;

/// What a writer has started and finished: batches `< done` returned; none `>= started`
/// had begun.
#[derive(Default)]
struct Log {
    started: AtomicU64,
    done: AtomicU64,
    single_started: AtomicU64,
    single_done: AtomicU64,
}

fn batch_key(w: usize, j: usize) -> Vec<u8> {
    format!("w{w}/batch/{j:03}").into_bytes()
}

fn single_key(w: usize) -> Vec<u8> {
    format!("w{w}/single").into_bytes()
}

fn write_loop(store: Store, w: usize, log: Arc<Log>, stop: Arc<AtomicBool>) {
    let keys: Vec<Vec<u8>> = (0..BATCH_KEYS).map(|j| batch_key(w, j)).collect();
    let mut n = 0u64;
    while !stop.load(SeqCst) {
        n += 1;
        log.started.store(n, SeqCst);
        common::put_all(&store, &keys, n);
        log.done.store(n, SeqCst);
        log.single_started.store(n, SeqCst);
        store
            .put(&single_key(w), &n.to_le_bytes(), Ttl::Default)
            .unwrap();
        log.single_done.store(n, SeqCst);
    }
}

fn number(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().unwrap())
}

/// The value of every key of `store`.
fn contents(store: &Store) -> std::collections::HashMap<Vec<u8>, u64> {
    let mut c = store.cursor(KeyRange::default());
    let mut out = std::collections::HashMap::new();
    while c
        .next_page(256, |k, v| {
            out.insert(k.to_vec(), number(v));
        })
        .unwrap()
        > 0
    {}
    out
}

fn run(tier: &str, checkpoints: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = match tier {
        "memory" => Store::memory(Ttl::Never),
        _ => {
            let mut o = SledOptions::new(dir.path().join("db"));
            o.flush_every_ms = None;
            Store::open_sled(&o).unwrap()
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let logs: Vec<Arc<Log>> = (0..WRITERS).map(|_| Arc::new(Log::default())).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (s, l, st) = (store.clone(), Arc::clone(&logs[w]), Arc::clone(&stop));
            thread::spawn(move || write_loop(s, w, l, st))
        })
        .collect();
    for i in 0..checkpoints {
        // Let the writers get going (and, later, move on) between checkpoints.
        thread::sleep(std::time::Duration::from_millis(2));
        let incremental = i % 3 != 0;
        let path = dir.path().join(format!("{i:04}.skc"));
        let req = CheckpointRequest::new(&path, Some("none"), None, None, incremental).unwrap();
        let before: Vec<(u64, u64)> = logs
            .iter()
            .map(|l| (l.done.load(SeqCst), l.single_done.load(SeqCst)))
            .collect();
        let mut pending = store.begin_checkpoint(req).unwrap();
        let after: Vec<(u64, u64)> = logs
            .iter()
            .map(|l| (l.started.load(SeqCst), l.single_started.load(SeqCst)))
            .collect();
        pending.write().unwrap();

        let restored = Store::Memory(MemoryTier::restore_from(&path, Ttl::Never).unwrap().0);
        let got = contents(&restored);
        for w in 0..WRITERS {
            let values: Vec<u64> = (0..BATCH_KEYS)
                .map(|j| got.get(&batch_key(w, j)).copied().unwrap_or(0))
                .collect();
            assert!(
                values.iter().all(|v| *v == values[0]),
                "{tier} checkpoint {i}: writer {w}'s batch is torn: {values:?}"
            );
            let (done, single_done) = before[w];
            let (started, single_started) = after[w];
            assert!(
                values[0] >= done && values[0] <= started,
                "{tier} checkpoint {i}: writer {w}'s batches: {} in the cut, {done} had returned before it and {started} had started after it",
                values[0]
            );
            let single = got.get(&single_key(w)).copied().unwrap_or(0);
            assert!(
                single >= single_done && single <= single_started,
                "{tier} checkpoint {i}: writer {w}'s single puts: {single} in the cut, {single_done} had returned before it and {single_started} had started after it"
            );
        }
    }
    stop.store(true, SeqCst);
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn memory_checkpoints_with_concurrent_writers_are_cuts() {
    run("memory", 120);
}

#[test]
fn sled_checkpoints_with_concurrent_writers_are_cuts() {
    run("sled", 30);
}
