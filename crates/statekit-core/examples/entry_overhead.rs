//! Measures what an entry of the memory tier really costs, to check the estimate
//! `ENTRY_OVERHEAD` that `stats().memory_bytes` adds per entry: fills a tier with N
//! entries (16-byte keys, V-byte values) and compares the growth of the process's
//! resident memory with the keys' and values' bytes.
//!
//! `cargo run --release -p statekit-core --example entry_overhead -- [N] [V]`

#[path = "common/rss.rs"]
mod rss;

use statekit_core::{MemoryTier, Ttl, ENTRY_OVERHEAD};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let v: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let tier = MemoryTier::new(Ttl::Never);
    let value = vec![7u8; v];
    let before = rss::rss_bytes();
    for i in 0..n {
        let key = format!("key:{i:012}");
        tier.put(key.as_bytes(), &value, Ttl::Default)
            .expect("a valid entry");
    }
    let after = rss::rss_bytes();
    let per_entry = (after - before) as f64 / n as f64;
    let payload = (16 + v) as f64;
    println!(
        "entries {n}, value {v} B: resident {per_entry:.1} B per entry, of which {:.1} B beyond the key and value; estimate ENTRY_OVERHEAD = {ENTRY_OVERHEAD}; memory_bytes per entry {:.1}",
        per_entry - payload,
        tier.stats().memory_bytes as f64 / n as f64
    );
}
