//! Times memory-tier checkpoints and restores in Rust alone, on entries shaped like the
//! checkpoint benchmark's (16-byte keys, ~100-byte JSON values), with the process's CPU
//! time beside the wall time (a checkpoint or restore uses two threads). For profiling
//! the engine without Node: run it under `perf record` to see where the time goes.
//!
//! `cargo run --release -p statekit-core --example checkpoint_phases [ENTRIES] [cp|rs]`
//! (`cp`: checkpoints only; `rs`: restores only; neither: both, alternately).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use statekit_core::{write_cut, CheckpointRequest, Compression, Kind, MemoryTier, Ttl};

use statekit_core::{Error, ErrorCode, Result};

const ROUNDS: usize = 15;

/// User + system CPU time of the process so far, in milliseconds (10 ms ticks).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are the file's fields 14 and 15: the 12th and 13th after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) * 10.0
}

/// Wall and CPU milliseconds of `f`.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64, f64)> {
    let (c0, t0) = (cpu_ms(), Instant::now());
    let out = f()?;
    Ok((out, t0.elapsed().as_secs_f64() * 1e3, cpu_ms() - c0))
}

fn fill(n: usize) -> Result<Arc<MemoryTier>> {
    let tier = Arc::new(MemoryTier::new(Ttl::Never));
    let categories = ["Regular", "Premium", "VIP"];
    for i in 0..n {
        let key = format!("user:{i:011}");
        let value = format!(
            "{{\"id\":{i},\"total\":{},\"spent\":{},\"category\":\"{}\",\"seen\":{}}}",
            (i * 37) % 10007,
            ((i * 7919) % 100000) as f64 / 100.0,
            categories[i % 3],
            1700000000 + i
        );
        tier.put(key.as_bytes(), value.as_bytes(), Ttl::Never)?;
    }
    Ok(tier)
}

fn checkpoint(tier: &Arc<MemoryTier>, file: &Path) -> Result<u64> {
    let req = CheckpointRequest {
        path: file.to_path_buf(),
        kind: Kind::Full,
        compression: Compression::Zstd(1),
        metadata: String::new(),
    };
    Ok(write_cut(tier.begin_snapshot(Kind::Full)?, &req)?.bytes)
}

fn report(what: &str, mut wall: Vec<f64>, mut cpu: Vec<f64>) {
    if wall.is_empty() {
        return;
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "{what}: median {:.0} ms (min {:.0} ms), CPU median {:.0} ms, {} rounds",
        wall[wall.len() / 2],
        wall[0],
        cpu[cpu.len() / 2],
        wall.len()
    );
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mode = args.next().unwrap_or_default();
    let tier = fill(n)?;
    let dir = std::env::temp_dir().join(format!("statekit-phases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::new(ErrorCode::Io, e.to_string()))?;
    let file = dir.join("phases.skc");
    let bytes = checkpoint(&tier, &file)?;
    println!("{n} entries, checkpoint file {bytes} bytes");
    let (mut cp, mut cp_cpu, mut rs, mut rs_cpu) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        if mode != "rs" {
            let (_, wall, cpu) = timed(|| checkpoint(&tier, &file))?;
            cp.push(wall);
            cp_cpu.push(cpu);
        }
        if mode != "cp" {
            let ((restored, _), wall, cpu) = timed(|| MemoryTier::restore_from(&file, Ttl::Never))?;
            if restored.len() != n {
                return Err(Error::new(ErrorCode::Corrupt, "the restore lost entries"));
            }
            rs.push(wall);
            rs_cpu.push(cpu);
        }
    }
    report("checkpoint", cp, cp_cpu);
    report("restore", rs, rs_cpu);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
