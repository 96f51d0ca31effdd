//! Restores from any bytes, into both tiers. One input is split into up to four files
//! (`statekit_fuzz::SPLIT`), each fixed up (`statekit_fuzz::fixup`), written side by
//! side in a scratch directory; the last is restored, so incremental checkpoints find
//! their bases among the others. Neither tier may panic; a refusal is
//! `ERR_STATEKIT_CORRUPT` and leaves a sled store exactly as it was; when both tiers
//! restore, they hold the same entries.
//!
//! The two tiers must agree on every input: both refuse it, or both restore the same
//! entries and values. A full checkpoint that names a key in two blocks restores to
//! its last record on both (the memory tier loads such a file's blocks on two
//! threads; each block's records take the block's version, and a later one wins).
#![no_main]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use statekit_core::{ErrorCode, KeyRange, MemoryTier, SledOptions, SledTier, Ttl};

struct Env {
    dir: PathBuf,
    sled: Arc<SledTier>,
    /// How many checkpoint files the last input left in `dir` (`0.skc` up to it).
    files: AtomicUsize,
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
            for (key, value) in sled_entries(&env.sled) {
                assert_eq!(
                    tier.peek_with(&key, |v| v.to_vec()).unwrap().as_ref(),
                    Some(&value),
                    "the tiers restored different values for key {key:?}"
                );
            }
        }
        (Ok(_), Err(e)) => panic!("only sled refused: {e:?}"),
        (Err(e), Ok(_)) => panic!("only memory refused: {e:?}"),
        (Err(_), Err(_)) => {}
    }
});
