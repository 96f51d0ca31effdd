//! Restores from any bytes, into both tiers. One input is split into up to four files
//! (`statekit_fuzz::SPLIT`), each fixed up (`statekit_fuzz::fixup`), written side by
//! side in a scratch directory; the last is restored, so incremental checkpoints find
//! their bases among the others. Neither tier may panic; a refusal is
//! `ERR_STATEKIT_CORRUPT` and leaves a sled store exactly as it was (its counters, and
//! its entries as listed after the last restore it took, less those expired since);
//! when both tiers restore, they hold the same entries.
//!
//! The two tiers must agree on every input: both refuse it, or both restore the same
//! entries and values. A full checkpoint that names a key in two blocks restores to
//! its last record on both (the memory tier loads such a file's blocks on two
//! threads; each block's records take the block's version, and a later one wins).
#![no_main]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use statekit_core::{ErrorCode, KeyRange, MemoryTier, SledOptions, SledTier, Ttl};

struct Env {
    dir: PathBuf,
    sled: Arc<SledTier>,
    /// How many checkpoint files the last input left in `dir` (`0.skc` up to it).
    files: AtomicUsize,
    last: Mutex<Last>,
}

/// What the sled tier held after the last restore it took: its entries as listed then
/// (in key order), and the memory tier restored from the same input, which tells the
/// entries that have expired since (both tiers read the system clock).
#[derive(Default)]
struct Last {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    memory: Option<Arc<MemoryTier>>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let root = statekit_fuzz::scratch_dir("restore");
        let dir = root.join("checkpoints");
        std::fs::create_dir_all(&dir).unwrap();
        let mut options = SledOptions::new(root.join("sled"));
        options.flush_every_ms = None;
        let sled = Arc::new(SledTier::open(&options).expect("cannot open the sled tier"));
        Env {
            dir,
            sled,
            files: AtomicUsize::new(0),
            last: Mutex::default(),
        }
    })
}

fn sled_entries(sled: &SledTier) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = sled
            .page(&KeyRange::default(), after.as_deref(), 256)
            .expect("cannot list the sled tier");
        out.extend(page.entries.iter().map(|(k, v)| (k.to_vec(), v.to_vec())));
        match (page.done, page.last) {
            (false, Some(last)) => after = Some(last.to_vec()),
            _ => break,
        }
    }
    out
}

fn position(entries: &[(Vec<u8>, Vec<u8>)], key: &[u8]) -> Option<usize> {
    entries
        .binary_search_by(|(k, _)| k.as_slice().cmp(key))
        .ok()
}

/// Checks that the sled tier holds what it held after its last restore, but for entries
/// that have expired since.
fn assert_unchanged(sled: &SledTier, last: &Last) {
    let now = sled_entries(sled);
    for (key, value) in &now {
        assert_eq!(
            position(&last.entries, key).map(|i| &last.entries[i].1),
            Some(value),
            "a refused sled restore added or changed key {key:?}"
        );
    }
    for (key, _) in &last.entries {
        if position(&now, key).is_none() {
            // Listed after sled's, so a key that had expired there has here too.
            let live = last
                .memory
                .as_ref()
                .is_some_and(|m| m.peek_with(key, |_| ()).unwrap().is_some());
            assert!(!live, "a refused sled restore removed key {key:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let env = env();
    // The files are `0.skc` up to the input's count: each is rewritten in place, and
    // only those the last input left beyond the count are removed (no directory
    // listing; nothing else writes here).
    let files = statekit_fuzz::split_files(data);
    let mut target = PathBuf::new();
    for (i, f) in files.iter().enumerate() {
        target = env.dir.join(format!("{i}.skc"));
        std::fs::write(&target, statekit_fuzz::fixup(f)).unwrap();
    }
    for i in files.len()..env.files.swap(files.len(), Relaxed) {
        std::fs::remove_file(env.dir.join(format!("{i}.skc"))).unwrap();
    }

    let memory = MemoryTier::restore_from(&target, Ttl::Never);
    if let Err(e) = &memory {
        assert_eq!(e.code, ErrorCode::Corrupt, "memory restore: {e:?}");
    }

    let before = env.sled.stats();
    let sled = env.sled.restore_from(&target);
    let after = env.sled.stats();
    match &sled {
        Err(e) => {
            assert_eq!(e.code, ErrorCode::Corrupt, "sled restore: {e:?}");
            assert_eq!(
                (before.entry_count, before.memory_bytes),
                (after.entry_count, after.memory_bytes),
                "a refused sled restore changed the entry count or bytes"
            );
            assert_unchanged(&env.sled, &env.last.lock().unwrap());
        }
        Ok(summary) => assert_eq!(summary.entries, after.entry_count),
    }

    match (&memory, &sled) {
        (Ok((tier, m)), Ok(s)) => {
            assert_eq!(m.id, s.id);
            assert_eq!(m.chain, s.chain);
            assert_eq!(tier.len() as u64, m.entries);
            assert_eq!(
                m.entries, s.entries,
                "the tiers restored different entry counts"
            );
            let entries = sled_entries(&env.sled);
            for (key, value) in &entries {
                assert_eq!(
                    tier.peek_with(key, |v| v.to_vec()).unwrap().as_ref(),
                    Some(value),
                    "the tiers restored different values for key {key:?}"
                );
            }
            *env.last.lock().unwrap() = Last {
                entries,
                memory: Some(Arc::clone(tier)),
            };
        }
        (Ok(_), Err(e)) => panic!("only sled refused: {e:?}"),
        (Err(e), Ok(_)) => panic!("only memory refused: {e:?}"),
        (Err(_), Err(_)) => {}
    }
});
