//! The change log on its own: appends, fsync modes, rotation, truncation, replay of
//! torn tails and damaged or missing segments.

use std::path::Path;

use statekit_core::{replay_change_log, ChangeLog, ErrorCode, FsyncMode, Record};

fn put<'a>(k: &'a [u8], v: &'a [u8]) -> Record<'a> {
    Record::Put {
        key: k,
        value: v,
        expires_at: 0,
    }
}

/// Every change replayed from `dir`, as text, from segment `from`.
fn read_all(
    dir: &Path,
    from: Option<u64>,
) -> statekit_core::Result<(Vec<String>, statekit_core::ReplaySummary)> {
    let mut seen = Vec::new();
    let summary = replay_change_log(dir, from, |r| {
        seen.push(match r {
            Record::Put { key, value, .. } => format!(
                "put {}={}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            ),
            Record::Tombstone { key } => format!("del {}", String::from_utf8_lossy(key)),
            Record::Clear => "clear".into(),
        });
        Ok(())
    })?;
    Ok((seen, summary))
}

fn segment(dir: &Path, n: u64) -> std::path::PathBuf {
    dir.join(format!("{n:020}.clog"))
}

#[test]
fn every_mode_replays_what_was_appended_in_order() {
    for mode in [FsyncMode::Always, FsyncMode::EverySec, FsyncMode::No] {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = ChangeLog::open(dir.path(), mode, 1).unwrap();
            for i in 0..1000u32 {
                let k = format!("k{i}");
                let n = log.append_one(&put(k.as_bytes(), b"v"));
                log.acknowledge(n).unwrap();
            }
            log.append_batch(&[put(b"a", b"1"), put(b"b", b"2")]);
            log.append_one(&Record::Tombstone { key: b"k0" });
            log.append_one(&Record::Clear);
            log.flush().unwrap();
        }
        let (seen, s) = read_all(dir.path(), None).unwrap();
        assert_eq!(s.records, 1003);
        assert_eq!(s.changes, 1004);
        assert_eq!(seen[0], "put k0=v");
        assert_eq!(&seen[1000..], ["put a=1", "put b=2", "del k0", "clear"]);
        assert_eq!(s.torn, None);
        assert_eq!(s.next_segment, 2);
    }
}

#[test]
fn always_acknowledges_only_durable_records_and_flush_syncs_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let log = ChangeLog::open(dir.path(), FsyncMode::Always, 1).unwrap();
    let n = log.append_one(&put(b"a", b"1"));
    log.acknowledge(n).unwrap();
    // Durable means the bytes are in the file now, before any close.
    let (seen, _) = read_all(dir.path(), None).unwrap();
    assert_eq!(seen, ["put a=1"]);
    drop(log);

    let dir = tempfile::tempdir().unwrap();
    let log = ChangeLog::open(dir.path(), FsyncMode::No, 1).unwrap();
    log.append_one(&put(b"a", b"1"));
    assert_eq!(log.flush().unwrap(), 1);
    let (seen, _) = read_all(dir.path(), None).unwrap();
    assert_eq!(seen, ["put a=1"]);
}

#[test]
fn threads_share_one_log_and_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let log = ChangeLog::open(dir.path(), FsyncMode::Always, 1).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let log = &log;
            s.spawn(move || {
                for i in 0..200 {
                    let k = format!("t{t}-{i}");
                    let n = log.append_one(&put(k.as_bytes(), b"v"));
                    log.acknowledge(n).unwrap();
                }
            });
        }
    });
    drop(log);
    let (seen, _) = read_all(dir.path(), None).unwrap();
    assert_eq!(seen.len(), 800);
    for t in 0..4 {
        let mine: Vec<_> = seen
            .iter()
            .filter(|s| s.starts_with(&format!("put t{t}-")))
            .collect();
        let want: Vec<_> = (0..200).map(|i| format!("put t{t}-{i}=v")).collect();
        assert_eq!(
            mine,
            want.iter().collect::<Vec<_>>(),
            "each thread's order kept"
        );
    }
}

#[test]
fn rotation_starts_a_segment_at_the_cut_and_truncation_deletes_covered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let log = ChangeLog::open(dir.path(), FsyncMode::EverySec, 1).unwrap();
    log.append_one(&put(b"before", b"1"));
    let seg = log.rotate();
    assert_eq!(seg, 2);
    log.append_one(&put(b"after", b"2"));
    log.wait_segment(seg).unwrap();
    log.flush().unwrap();
    // Before the checkpoint is committed both segments are replayable...
    let (seen, s) = read_all(dir.path(), None).unwrap();
    assert_eq!(seen, ["put before=1", "put after=2"]);
    assert_eq!(s.segments, 2);
    // ...and from the cut only the later one is read.
    let (seen, _) = read_all(dir.path(), Some(seg)).unwrap();
    assert_eq!(seen, ["put after=2"]);
    assert_eq!(log.truncate(seg).unwrap(), 1);
    assert!(!segment(dir.path(), 1).exists());
    // The segment being written is never deleted.
    assert_eq!(log.truncate(99).unwrap(), 0);
    assert!(segment(dir.path(), 2).exists());
    drop(log);
    let (seen, s) = read_all(dir.path(), Some(seg)).unwrap();
    assert_eq!(seen, ["put after=2"]);
    assert_eq!(s.next_segment, 3);
}

/// A log of `n` single puts in segment 1 and one in segment 2; returns segment 1's
/// record offsets.
fn two_segments(dir: &Path, n: usize) -> Vec<u64> {
    let log = ChangeLog::open(dir, FsyncMode::No, 1).unwrap();
    let mut offsets = Vec::new();
    let mut at = 24u64;
    for i in 0..n {
        let k = format!("key{i:04}");
        offsets.push(at);
        at += 12 + 4 + 1 + 1 + k.len() as u64 + 1 + 5;
        log.append_one(&put(k.as_bytes(), b"value"));
    }
    log.rotate();
    log.append_one(&put(b"second", b"segment"));
    log.flush().unwrap();
    drop(log);
    assert_eq!(std::fs::metadata(segment(dir, 1)).unwrap().len(), at);
    offsets
}

#[test]
fn a_torn_last_record_is_cut_off_and_reported_at_every_length() {
    let dir = tempfile::tempdir().unwrap();
    two_segments(dir.path(), 3);
    let last = segment(dir.path(), 2);
    let whole = std::fs::read(&last).unwrap();
    for cut in 24..whole.len() {
        std::fs::write(&last, &whole[..cut]).unwrap();
        let (seen, s) = read_all(dir.path(), None).unwrap();
        if cut == 24 {
            assert_eq!(s.torn, None);
        } else {
            let torn = s.torn.expect("reported");
            assert_eq!(torn.offset, 24);
            assert_eq!(torn.bytes, (cut - 24) as u64);
            assert!(torn.segment.ends_with("00000000000000000002.clog"));
        }
        assert_eq!(seen.len(), 3, "the three whole records of segment 1");
        // The segment was cut back to its last whole record: a second replay is clean.
        assert_eq!(std::fs::metadata(&last).unwrap().len(), 24);
        assert_eq!(read_all(dir.path(), None).unwrap().1.torn, None);
    }
}

#[test]
fn a_flipped_byte_anywhere_stops_replay_naming_segment_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let offsets = two_segments(dir.path(), 5);
    let first = segment(dir.path(), 1);
    let whole = std::fs::read(&first).unwrap();
    for at in 0..whole.len() {
        let mut bad = whole.clone();
        bad[at] ^= 0x04;
        std::fs::write(&first, &bad).unwrap();
        let e = read_all(dir.path(), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::Corrupt, "flip at {at}");
        let record_start = offsets.iter().rev().find(|o| **o <= at as u64);
        let want = match record_start {
            Some(o) if at >= 24 => format!("damaged at byte {o}"),
            _ => "damaged at byte".to_string(),
        };
        assert!(e.message.contains(&want), "flip at {at}: {}", e.message);
        assert!(
            e.message.contains("00000000000000000001.clog"),
            "{}",
            e.message
        );
    }
    // A flip in the last segment's last (whole) record is damage too, not a torn tail.
    std::fs::write(&first, &whole).unwrap();
    let last = segment(dir.path(), 2);
    let mut bad = std::fs::read(&last).unwrap();
    let end = bad.len() - 1;
    bad[end] ^= 1;
    std::fs::write(&last, &bad).unwrap();
    let e = read_all(dir.path(), None).unwrap_err();
    assert!(
        e.message
            .contains("00000000000000000002.clog is damaged at byte 24"),
        "{}",
        e.message
    );
}

#[test]
fn truncation_inside_a_closed_segment_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    two_segments(dir.path(), 5);
    let first = segment(dir.path(), 1);
    let whole = std::fs::read(&first).unwrap();
    std::fs::write(&first, &whole[..whole.len() - 3]).unwrap();
    let e = read_all(dir.path(), None).unwrap_err();
    assert_eq!(e.code, ErrorCode::Corrupt);
    assert!(e.message.contains("not the last"), "{}", e.message);
}

#[test]
fn missing_segments_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = ChangeLog::open(dir.path(), FsyncMode::No, 1).unwrap();
        for _ in 0..3 {
            log.append_one(&put(b"k", b"v"));
            log.rotate();
        }
        log.flush().unwrap();
    }
    // Segments 1..=4 exist. A gap in the middle:
    std::fs::remove_file(segment(dir.path(), 2)).unwrap();
    let e = read_all(dir.path(), None).unwrap_err();
    assert_eq!(e.code, ErrorCode::Corrupt);
    assert!(
        e.message.contains("00000000000000000002.clog") && e.message.contains("missing"),
        "{}",
        e.message
    );
    // The first segment a checkpoint needs:
    let e = read_all(dir.path(), Some(2)).unwrap_err();
    assert!(
        e.message.contains("00000000000000000002.clog"),
        "{}",
        e.message
    );
    // Segment 1 without a checkpoint:
    std::fs::remove_file(segment(dir.path(), 1)).unwrap();
    let e = read_all(dir.path(), None).unwrap_err();
    assert!(
        e.message.contains("00000000000000000001.clog"),
        "{}",
        e.message
    );
    // Every segment gone while a checkpoint needs one:
    for n in 3..=4 {
        std::fs::remove_file(segment(dir.path(), n)).unwrap();
    }
    assert!(read_all(dir.path(), Some(3)).is_err());
    // An empty directory without a checkpoint is an empty log.
    assert_eq!(read_all(dir.path(), None).unwrap().0.len(), 0);
}

#[test]
fn a_second_open_of_the_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _log = ChangeLog::open(dir.path(), FsyncMode::No, 1).unwrap();
    let e = ChangeLog::open(dir.path(), FsyncMode::No, 2).unwrap_err();
    assert_eq!(e.code, ErrorCode::Locked);
    assert_eq!(
        FsyncMode::parse("sometimes").unwrap_err().code,
        ErrorCode::InvalidArg
    );
}

#[test]
fn a_zero_tail_is_torn_but_zeros_then_data_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    two_segments(dir.path(), 2);
    let last = segment(dir.path(), 2);
    let whole = std::fs::read(&last).unwrap();
    // A crash after the file grew but before its data reached the disk.
    let mut zeros = whole.clone();
    zeros.extend_from_slice(&[0u8; 100]);
    std::fs::write(&last, &zeros).unwrap();
    let (seen, s) = read_all(dir.path(), None).unwrap();
    assert_eq!(seen.len(), 3);
    let torn = s.torn.unwrap();
    assert_eq!((torn.offset, torn.bytes), (whole.len() as u64, 100));
    assert_eq!(
        std::fs::read(&last).unwrap(),
        whole,
        "cut back to the whole records"
    );
    // Zeros followed by more bytes are not a torn append.
    let mut bad = whole.clone();
    bad.extend_from_slice(&[0u8; 30]);
    bad.push(7);
    std::fs::write(&last, &bad).unwrap();
    let e = read_all(dir.path(), None).unwrap_err();
    assert_eq!(e.code, ErrorCode::Corrupt);
    assert!(
        e.message
            .contains(&format!("damaged at byte {}", whole.len())),
        "{}",
        e.message
    );
}

/// Recomputes every record's checksums in a segment's bytes where its length allows,
/// so that mutations reach the change decoder instead of stopping at a checksum.
fn fix_checksums(bytes: &mut [u8]) {
    let mut pos = 24;
    while pos + 12 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let end = pos + 12 + len;
        if len < 4 || end > bytes.len() {
            return;
        }
        let crc = crc32c::crc32c(&bytes[pos + 12..end]);
        bytes[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
        let hcrc = crc32c::crc32c(&bytes[pos..pos + 8]);
        bytes[pos + 8..pos + 12].copy_from_slice(&hcrc.to_le_bytes());
        pos = end;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Replay of any damage to a valid log never panics: it replays, reports a torn
    /// tail, or refuses with ERR_STATEKIT_CORRUPT; and what it applies is a prefix of
    /// what was written when the checksums were left alone.
    #[test]
    fn replay_of_damaged_segments_never_panics(
        ops in proptest::collection::vec((0u8..4, proptest::collection::vec(proptest::num::u8::ANY, 1..20), proptest::collection::vec(proptest::num::u8::ANY, 0..40)), 1..30),
        damage in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY, 0u8..3), 1..4),
        fix in proptest::bool::ANY,
    ) {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = ChangeLog::open(dir.path(), FsyncMode::No, 1).unwrap();
            for (op, key, value) in &ops {
                match op {
                    0 => { log.append_one(&put(key, value)); }
                    1 => { log.append_one(&Record::Tombstone { key }); }
                    2 => { log.append_batch(&[put(key, value), Record::Put { key: value, value: key, expires_at: 7 }]); }
                    _ => { log.append_one(&Record::Clear); }
                }
            }
            log.flush().unwrap();
        }
        let (clean, _) = read_all(dir.path(), None).unwrap();
        let file = segment(dir.path(), 1);
        let mut bytes = std::fs::read(&file).unwrap();
        for (at, byte, kind) in damage {
            let at = at % bytes.len();
            match kind {
                0 => bytes[at] ^= byte | 1,
                1 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, byte),
            }
        }
        if fix {
            fix_checksums(&mut bytes);
        }
        std::fs::write(&file, &bytes).unwrap();
        match read_all(dir.path(), None) {
            Ok((seen, _)) => {
                if !fix {
                    proptest::prop_assert!(clean.starts_with(&seen), "replayed changes that were never written");
                }
            }
            Err(e) => proptest::prop_assert_eq!(e.code, ErrorCode::Corrupt, "{}", e.message),
        }
    }
}
