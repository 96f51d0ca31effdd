//! What sled's process-wide batch lock costs: the rate of single-key inserts on one
//! thread, alone and while another thread applies 1000-entry batches to another tree
//! of the same database. Run: cargo run --release -p statekit-core --example sled_batch_lock

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn inserts_per_sec(tree: &sled::Tree, secs: f64) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..1000 {
            let k = (n % 100_000).to_be_bytes();
            tree.insert(k, &[7u8; 100][..]).expect("insert");
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("statekit-batch-lock-{}", std::process::id()));
    let db = sled::Config::new()
        .path(&dir)
        .flush_every_ms(None)
        .open()
        .expect("open");
    let single = db.open_tree("single").expect("tree");
    let batched = db.open_tree("batched").expect("tree");
    let mut rows = vec![];
    for round in 0..3 {
        let alone = inserts_per_sec(&single, 1.0);
        let stop = Arc::new(AtomicBool::new(false));
        let batches = {
            let stop = Arc::clone(&stop);
            let batched = batched.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut b = sled::Batch::default();
                    for i in 0..1000u64 {
                        b.insert(&i.to_be_bytes(), &[1u8; 100][..]);
                    }
                    batched.apply_batch(b).expect("batch");
                    n += 1;
                }
                n
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let contended = inserts_per_sec(&single, 1.0);
        stop.store(true, Ordering::Relaxed);
        let n = batches.join().expect("join");
        rows.push((alone, contended, n));
        println!(
            "round {round}: inserts/s alone {alone:.0}, beside a batch writer {contended:.0} ({:.2}x); batches of 1000 applied meanwhile: {n}",
            contended / alone
        );
    }
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
