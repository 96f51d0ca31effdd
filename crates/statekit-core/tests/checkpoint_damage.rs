//! The checkpoint damage suite: every single-bit flip and every truncation of a small
//! checkpoint of each compression (zstd, lz4, none) and of an incremental one is
//! refused by `verify`, by a memory-tier restore and by a sled-tier restore, each with
//! `ErrorCode::Corrupt`, and a refused sled restore leaves the live store exactly as it
//! was. No damaged variant may be accepted: every byte of a checkpoint is covered by a
//! checksum, a magic or a must-be-zero rule (see docs/checkpoint-format.md).
//!
//! Each kind is its own test, so the four run in parallel; each prints how many
//! damaged variants it checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use statekit_core::{
    verify, write_cut, CheckpointReader, CheckpointRequest, Compression, ErrorCode, KeyRange, Kind,
    MemoryTier, Record, SledOptions, SledTier, Ttl,
};

/// An hour: long enough that no entry expires while the suite runs.
const HOUR: Ttl = Ttl::Ms(3_600_000);

fn req(path: &Path, kind: Kind, compression: Compression) -> CheckpointRequest {
    CheckpointRequest {
        path: path.to_path_buf(),
        kind,
        compression,
        metadata: r#"{"suite":"damage"}"#.into(),
    }
}

type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

fn dump_mem(t: &MemoryTier) -> Contents {
    t.keys_in(&KeyRange::default())
        .into_iter()
        .filter_map(|k| t.get(&k).unwrap().map(|v| (k.to_vec(), v)))
        .collect()
}

fn dump_sled(t: &SledTier) -> Contents {
    let mut out = BTreeMap::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = t.page(&KeyRange::default(), after.as_deref(), 500).unwrap();
        for (k, v) in &page.entries {
            out.insert(k.to_vec(), v.to_vec());
        }
        after = page.last.map(|l| l.to_vec());
        if page.done {
            return out;
        }
    }
}

/// Every record of a checkpoint file, expiry included, in file order.
fn records(path: &Path) -> Vec<(u8, Vec<u8>, u64, Vec<u8>)> {
    let mut out = vec![];
    CheckpointReader::open(path)
        .unwrap()
        .for_each(|r| {
            out.push(match r {
                Record::Put {
                    key,
                    expires_at,
                    value,
                } => (0, key.to_vec(), expires_at, value.to_vec()),
                Record::Tombstone { key } => (1, key.to_vec(), 0, vec![]),
                Record::Clear => (2, vec![], 0, vec![]),
            });
            Ok(())
        })
        .unwrap();
    out
}

/// A memory tier holding a handful of entries, half of them with a TTL.
fn small_tier() -> Arc<MemoryTier> {
    let t = Arc::new(MemoryTier::new(Ttl::Never));
    for i in 0..8u32 {
        let ttl = if i % 2 == 0 { HOUR } else { Ttl::Never };
        t.put(
            format!("user:{i}").as_bytes(),
            format!("{{\"name\":\"n{i}\",\"n\":{i}}}").as_bytes(),
            ttl,
        )
        .unwrap();
    }
    t
}

/// The checkpoint to damage, and what restoring it whole gives.
struct Case {
    name: String,
    path: PathBuf,
    good: Vec<u8>,
    expected: Contents,
    _dir: tempfile::TempDir,
}

/// A full checkpoint of [`small_tier`] with `compression`.
fn full_case(compression: Compression) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let t = small_tier();
    let path = dir.path().join("1.skc");
    write_cut(
        t.begin_snapshot(Kind::Full).unwrap(),
        &req(&path, Kind::Full, compression),
    )
    .unwrap();
    finish_case(
        format!("full {}", compression.as_str()),
        path,
        dump_mem(&t),
        dir,
    )
}

/// An incremental checkpoint (overwrites, new entries with and without a TTL, deletes)
/// whose full base sits beside it, as a chain must.
fn incremental_case(compression: Compression) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let t = small_tier();
    let base = dir.path().join("1.skc");
    write_cut(
        t.begin_snapshot(Kind::Full).unwrap(),
        &req(&base, Kind::Full, compression),
    )
    .unwrap();
    t.put(b"user:1", b"{\"name\":\"changed\"}", HOUR).unwrap();
    t.put(b"user:8", b"{\"name\":\"new\"}", Ttl::Never).unwrap();
    t.put(b"user:9", b"{\"name\":\"new, expiring\"}", HOUR)
        .unwrap();
    assert!(t.delete(b"user:2").unwrap());
    assert!(t.delete(b"user:5").unwrap());
    let path = dir.path().join("2.skc");
    let s = write_cut(
        t.begin_snapshot(Kind::Incremental).unwrap(),
        &req(&path, Kind::Incremental, compression),
    )
    .unwrap();
    assert_eq!(s.kind, Kind::Incremental);
    assert_eq!(s.entries, 5, "3 puts and 2 tombstones");
    let case = finish_case(
        format!("incremental {}", compression.as_str()),
        path,
        dump_mem(&t),
        dir,
    );
    assert_eq!(
        MemoryTier::restore_from(&case.path, Ttl::Never)
            .unwrap()
            .1
            .chain
            .len(),
        2
    );
    case
}

fn finish_case(name: String, path: PathBuf, expected: Contents, dir: tempfile::TempDir) -> Case {
    let good = std::fs::read(&path).unwrap();
    // The whole file verifies and restores into both tiers as its source was.
    verify(&path).unwrap();
    let (m, _) = MemoryTier::restore_from(&path, Ttl::Never).unwrap();
    assert_eq!(
        dump_mem(&m),
        expected,
        "{name}: memory restore of the whole file"
    );
    let sled_dir = tempfile::tempdir().unwrap();
    let s = open_sled(&sled_dir.path().join("db"));
    s.restore_from(&path).unwrap();
    assert_eq!(
        dump_sled(&s),
        expected,
        "{name}: sled restore of the whole file"
    );
    Case {
        name,
        path,
        good,
        expected,
        _dir: dir,
    }
}

fn open_sled(dir: &Path) -> Arc<SledTier> {
    let mut o = SledOptions::new(dir);
    o.flush_every_ms = None;
    Arc::new(SledTier::open(&o).unwrap())
}

/// A live sled store with contents of its own (none of the checkpoint's values), and
/// everything needed to tell whether a restore changed it.
struct Live {
    tier: Arc<SledTier>,
    dir: tempfile::TempDir,
    contents: Contents,
    /// A full checkpoint of the store before any damage: its records carry expiries.
    before: Vec<(u8, Vec<u8>, u64, Vec<u8>)>,
    entry_count: u64,
}

impl Live {
    fn new() -> Live {
        let dir = tempfile::tempdir().unwrap();
        let tier = open_sled(&dir.path().join("db"));
        for i in 0..12u32 {
            let ttl = if i % 3 == 0 { HOUR } else { Ttl::Never };
            tier.put(format!("live:{i:02}").as_bytes(), &[i as u8; 24], ttl)
                .unwrap();
        }
        // One key the checkpoints also hold, with another value.
        tier.put(b"user:3", b"the live value", Ttl::Never).unwrap();
        tier.flush().unwrap();
        let contents = dump_sled(&tier);
        let entry_count = tier.stats().entry_count;
        assert_eq!(entry_count as usize, contents.len());
        let before = Live::cut(&tier, dir.path(), "before.skc");
        Live {
            tier,
            dir,
            contents,
            before,
            entry_count,
        }
    }

    /// A full checkpoint of `tier` to `dir/name`, and its records sorted.
    fn cut(tier: &Arc<SledTier>, dir: &Path, name: &str) -> Vec<(u8, Vec<u8>, u64, Vec<u8>)> {
        let path = dir.join(name);
        write_cut(
            tier.begin_snapshot(Kind::Full).unwrap(),
            &req(&path, Kind::Full, Compression::None),
        )
        .unwrap();
        let mut r = records(&path);
        r.sort();
        r
    }

    /// The store is exactly as it was: every key and value, and its counters.
    fn check(&self, what: &str) {
        assert_eq!(
            self.tier.stats().entry_count,
            self.entry_count,
            "{what}: the live sled store's entry count changed"
        );
        assert!(
            dump_sled(&self.tier) == self.contents,
            "{what}: the live sled store's contents changed"
        );
    }

    /// The full comparison: contents with expiries, then again after a reopen (nothing
    /// half-built survives), and the store still restores a good file.
    fn check_fully(self, case: &Case) {
        self.check(&format!("{}: at the end", case.name));
        assert_eq!(
            Live::cut(&self.tier, self.dir.path(), "after.skc"),
            self.before,
            "{}: expiries changed",
            case.name
        );
        let Live {
            tier, dir, before, ..
        } = self;
        drop(tier);
        let tier = open_sled(&dir.path().join("db"));
        assert_eq!(
            Live::cut(&tier, dir.path(), "reopened.skc"),
            before,
            "{}: contents after a reopen",
            case.name
        );
        tier.restore_from(&case.path).unwrap();
        assert_eq!(
            dump_sled(&tier),
            case.expected,
            "{}: good restore",
            case.name
        );
    }
}

/// What was checked for one kind.
#[derive(Default, Debug)]
struct Counts {
    flips: usize,
    truncations: usize,
    extensions: usize,
}

/// One damaged variant: every reader must refuse it with `Corrupt`, and the live sled
/// store must not change. Returns a description of each way it was accepted.
fn check_variant(case: &Case, live: &Live, bytes: &[u8], what: &str) -> Vec<String> {
    std::fs::write(&case.path, bytes).unwrap();
    let mut accepted = vec![];
    match verify(&case.path) {
        Ok(_) => accepted.push(format!("{what}: verify accepted it")),
        Err(e) => assert_eq!(
            e.code,
            ErrorCode::Corrupt,
            "{}: {what}: verify: {e}",
            case.name
        ),
    }
    match MemoryTier::restore_from(&case.path, Ttl::Never) {
        Ok((m, _)) => accepted.push(format!(
            "{what}: memory restore accepted it ({})",
            if dump_mem(&m) == case.expected {
                "same contents"
            } else {
                "WRONG contents"
            }
        )),
        Err(e) => assert_eq!(
            e.code,
            ErrorCode::Corrupt,
            "{}: {what}: memory restore: {e}",
            case.name
        ),
    }
    match live.tier.restore_from(&case.path) {
        Ok(_) => {
            let same = dump_sled(&live.tier) == case.expected;
            // The live store now holds the checkpoint: nothing after this is meaningful.
            panic!(
                "{}: {what}: sled restore accepted it ({}); earlier: {accepted:?}",
                case.name,
                if same {
                    "same contents"
                } else {
                    "WRONG contents"
                }
            );
        }
        Err(e) => assert_eq!(
            e.code,
            ErrorCode::Corrupt,
            "{}: {what}: sled restore: {e}",
            case.name
        ),
    }
    live.check(&format!("{}: {what}", case.name));
    accepted
}

/// Every bit flip, every truncation and a few extensions of `case`'s file.
fn damage(case: Case) {
    let started = Instant::now();
    let live = Live::new();
    let good = case.good.clone();
    let len = good.len();
    let mut counts = Counts::default();
    let mut accepted = vec![];
    let mut bytes = good.clone();
    for at in 0..len {
        for bit in 0..8 {
            bytes[at] ^= 1 << bit;
            accepted.extend(check_variant(
                &case,
                &live,
                &bytes,
                &format!("bit {bit} of byte {at} flipped"),
            ));
            bytes[at] ^= 1 << bit;
            counts.flips += 1;
        }
    }
    for cut in 0..len {
        accepted.extend(check_variant(
            &case,
            &live,
            &good[..cut],
            &format!("truncated to {cut} bytes"),
        ));
        counts.truncations += 1;
    }
    for tail in [&[0u8][..], &[0xff], &[0u8; 48], &good[len - 48..]] {
        let mut longer = good.clone();
        longer.extend_from_slice(tail);
        accepted.extend(check_variant(
            &case,
            &live,
            &longer,
            &format!("{} bytes appended", tail.len()),
        ));
        counts.extensions += 1;
    }
    std::fs::write(&case.path, &good).unwrap();
    assert!(
        accepted.is_empty(),
        "{}: {} damaged variants were accepted:\n{}",
        case.name,
        accepted.len(),
        accepted.join("\n")
    );
    eprintln!(
        "checkpoint damage, {}: a {len}-byte file; {} bit flips, {} truncations, {} extensions \
         ({} variants) each refused by verify, a memory restore and a sled restore, \
         the live sled store unchanged; {:.1} s",
        case.name,
        counts.flips,
        counts.truncations,
        counts.extensions,
        counts.flips + counts.truncations + counts.extensions,
        started.elapsed().as_secs_f64()
    );
    live.check_fully(&case);
}

#[test]
fn every_flip_and_truncation_of_a_zstd_checkpoint_is_refused() {
    damage(full_case(Compression::Zstd(1)));
}

#[test]
fn every_flip_and_truncation_of_an_lz4_checkpoint_is_refused() {
    damage(full_case(Compression::Lz4));
}

#[test]
fn every_flip_and_truncation_of_an_uncompressed_checkpoint_is_refused() {
    damage(full_case(Compression::None));
}

#[test]
fn every_flip_and_truncation_of_an_incremental_checkpoint_is_refused() {
    damage(incremental_case(Compression::Zstd(1)));
}
