//! The checkpoint damage suite: every single-bit flip and every truncation of a small
//! checkpoint of each compression (zstd, lz4, none) and of an incremental one is
//! refused by `verify`, by a memory-tier restore and by a sled-tier restore, each with
//! `ErrorCode::Corrupt`, and a refused sled restore leaves the live store exactly as it
//! was. No damaged variant may be accepted: every byte of a checkpoint is covered by a
//! checksum, a magic or a must-be-zero rule (see docs/checkpoint-format.md).
//!
//! Beyond the four kinds the issue names, the suite also damages lz4 and uncompressed
//! incrementals, checkpoints written by the sled tier (an incremental that starts with
//! a clear, and the full base of an incremental while the incremental is restored),
//! and the middle of a chain of three while its tip is restored. Every undamaged
//! file is first checked to verify and restore. The tests run in parallel; each
//! prints how many damaged variants it checked (about 20,000 in all, some 20 s in a
//! debug build on two cores).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use statekit_core::{
    verify, write_cut, CheckpointReader, CheckpointRequest, Compression, Error, ErrorCode,
    KeyRange, Kind, MemoryTier, Record, SledOptions, SledTier, Ttl,
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

/// The checkpoint file to damage, the one to restore (itself, or the tip of a chain
/// it belongs to), and what restoring that gives when nothing is damaged.
struct Case {
    name: String,
    damaged: PathBuf,
    restored: PathBuf,
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
    let name = format!("full {}", compression.as_str());
    finish_case(name, &path, &path, 1, dump_mem(&t), dir)
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
    let name = format!("incremental {}", compression.as_str());
    finish_case(name, &path, &path, 2, dump_mem(&t), dir)
}

/// Checkpoints written by the sled tier: a full one, then an incremental one that
/// starts with a clear (the store was cleared since its base), with `compression`.
/// Damages the full one when `damage_base`, else the incremental one; restores the
/// incremental one either way.
fn sled_case(compression: Compression, damage_base: bool) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let t = open_sled(&dir.path().join("source-db"));
    let cps = dir.path().join("cps");
    std::fs::create_dir(&cps).unwrap();
    for i in 0..6u32 {
        let ttl = if i % 2 == 0 { HOUR } else { Ttl::Never };
        t.put(format!("s:{i}").as_bytes(), &[b'a' + i as u8; 12], ttl)
            .unwrap();
    }
    let base = cps.join("1.skc");
    write_cut(
        t.begin_snapshot(Kind::Full).unwrap(),
        &req(&base, Kind::Full, compression),
    )
    .unwrap();
    t.clear().unwrap();
    t.put(b"s:after-clear", b"kept", HOUR).unwrap();
    t.put(b"s:2", b"again", Ttl::Never).unwrap();
    let inc = cps.join("2.skc");
    write_cut(
        t.begin_snapshot(Kind::Incremental).unwrap(),
        &req(&inc, Kind::Incremental, compression),
    )
    .unwrap();
    let recs = records(&inc);
    assert_eq!(
        recs[0].0, 2,
        "the incremental starts with a clear: {recs:?}"
    );
    let expected = dump_sled(&t);
    drop(t);
    let (what, damaged) = if damage_base {
        ("the full base of an incremental", &base)
    } else {
        ("an incremental with a clear", &inc)
    };
    let name = format!("sled-written {}, {what}", compression.as_str());
    finish_case(name, damaged, &inc, 2, expected, dir)
}

/// A chain of three written by the memory tier (full, incremental, incremental): the
/// middle file is damaged and the tip restored.
fn chain_middle_case(compression: Compression) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let t = small_tier();
    let take = |name: &str, kind: Kind| {
        let path = dir.path().join(name);
        write_cut(
            t.begin_snapshot(kind).unwrap(),
            &req(&path, kind, compression),
        )
        .unwrap();
        path
    };
    take("1.skc", Kind::Full);
    t.put(b"user:0", b"second", HOUR).unwrap();
    assert!(t.delete(b"user:7").unwrap());
    let middle = take("2.skc", Kind::Incremental);
    t.put(b"user:10", b"third", HOUR).unwrap();
    let tip = take("3.skc", Kind::Incremental);
    let name = format!("the middle of a chain of three, {}", compression.as_str());
    finish_case(name, &middle, &tip, 3, dump_mem(&t), dir)
}

/// Checks that the undamaged files verify and that `restored` (a chain of
/// `chain_len`) restores into both tiers as `expected`.
fn finish_case(
    name: String,
    damaged: &Path,
    restored: &Path,
    chain_len: usize,
    expected: Contents,
    dir: tempfile::TempDir,
) -> Case {
    let good = std::fs::read(damaged).unwrap();
    verify(damaged).unwrap();
    verify(restored).unwrap();
    let (m, summary) = MemoryTier::restore_from(restored, Ttl::Never).unwrap();
    assert_eq!(summary.chain.len(), chain_len, "{name}");
    assert_eq!(dump_mem(&m), expected, "{name}: memory restore, undamaged");
    let sled_dir = tempfile::tempdir().unwrap();
    let s = open_sled(&sled_dir.path().join("db"));
    s.restore_from(restored).unwrap();
    assert_eq!(dump_sled(&s), expected, "{name}: sled restore, undamaged");
    Case {
        name,
        damaged: damaged.to_path_buf(),
        restored: restored.to_path_buf(),
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
        tier.restore_from(&case.restored).unwrap();
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

/// `e` is a corruption error whose message names the damaged file or the one restored.
fn refused(case: &Case, what: &str, reader: &str, e: &Error) {
    assert_eq!(
        e.code,
        ErrorCode::Corrupt,
        "{}: {what}: {reader}: {e}",
        case.name
    );
    let names = |p: &Path| {
        e.message
            .contains(&*p.file_name().unwrap().to_string_lossy())
    };
    assert!(
        names(&case.damaged) || names(&case.restored),
        "{}: {what}: {reader}: the message names no file: {e}",
        case.name
    );
}

/// One damaged variant: every reader must refuse it with `Corrupt`, and the live sled
/// store must not change. Returns a description of each way it was accepted.
fn check_variant(case: &Case, live: &Live, bytes: &[u8], what: &str) -> Vec<String> {
    std::fs::write(&case.damaged, bytes).unwrap();
    let mut accepted = vec![];
    match verify(&case.damaged) {
        Ok(_) => accepted.push(format!("{what}: verify accepted it")),
        Err(e) => refused(case, what, "verify", &e),
    }
    match MemoryTier::restore_from(&case.restored, Ttl::Never) {
        Ok((m, _)) => accepted.push(format!(
            "{what}: memory restore accepted it ({})",
            if dump_mem(&m) == case.expected {
                "same contents"
            } else {
                "WRONG contents"
            }
        )),
        Err(e) => refused(case, what, "memory restore", &e),
    }
    match live.tier.restore_from(&case.restored) {
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
        Err(e) => refused(case, what, "sled restore", &e),
    }
    live.check(&format!("{}: {what}", case.name));
    accepted
}

/// Every bit flip, every truncation and a few extensions of `case`'s file.
fn damage(case: Case) {
    let started = Instant::now();
    let live = Live::new();
    // A restore that went through would show: the live store holds other contents.
    assert_ne!(live.contents, case.expected);
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
    std::fs::write(&case.damaged, &good).unwrap();
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

#[test]
fn every_flip_and_truncation_of_lz4_and_uncompressed_incrementals_is_refused() {
    damage(incremental_case(Compression::Lz4));
    damage(incremental_case(Compression::None));
}

#[test]
fn every_flip_and_truncation_of_sled_written_checkpoints_is_refused() {
    damage(sled_case(Compression::Lz4, false));
    damage(sled_case(Compression::Zstd(1), true));
}

#[test]
fn every_flip_and_truncation_of_the_middle_of_a_chain_is_refused() {
    damage(chain_middle_case(Compression::Zstd(1)));
}
