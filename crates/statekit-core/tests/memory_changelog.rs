//! The memory tier with a change log: every write path is logged and replays to the
//! same state; checkpoints start a segment and truncation drops covered ones; TTLs
//! are absolute across a restart; writes from many threads replay in effect order.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use statekit_core::{
    CheckpointRequest, ErrorCode, FsyncMode, KeyRange, ManualClock, MemoryTier, PutEntry, Store,
    Ttl,
};

fn dump(s: &Store) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let Store::Memory(t) = s else { unreachable!() };
    t.keys_in(&KeyRange::default())
        .into_iter()
        .filter_map(|k| t.get(&k).unwrap().map(|v| (k.to_vec(), v)))
        .collect()
}

fn logged(dir: &Path, mode: FsyncMode) -> Store {
    let s = Store::memory(Ttl::Never);
    s.attach_change_log(dir, mode).unwrap();
    s
}

fn segments(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".clog"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_write_path_replays_to_the_same_state() {
    for mode in [FsyncMode::Always, FsyncMode::EverySec, FsyncMode::No] {
        let dir = tempfile::tempdir().unwrap();
        let s = logged(dir.path(), mode);
        for i in 0..100 {
            s.put(format!("k{i}").as_bytes(), b"v1", Ttl::Default)
                .unwrap();
        }
        s.put(b"k1", b"v2", Ttl::Default).unwrap();
        assert!(s.delete(b"k2").unwrap());
        assert!(!s.delete(b"absent").unwrap());
        s.delete_many(&[b"k3", b"k4", b"nope"]).unwrap();
        s.put_many(&[
            PutEntry {
                key: b"b1",
                value: b"x",
                ttl: Ttl::Default,
            },
            PutEntry {
                key: b"k5",
                value: b"y",
                ttl: Ttl::Default,
            },
        ])
        .unwrap();
        let want = dump(&s);
        assert_eq!(want.len(), 98);
        drop(s);
        let r = Store::memory(Ttl::Never);
        let replay = r.recover_change_log(dir.path(), mode, None).unwrap();
        assert_eq!(dump(&r), want, "{mode:?}");
        // 101 puts, a delete that removed something, a deleteMany (one record of the
        // two keys it removed), a putMany.
        assert_eq!(replay.summary.records, 104);
        assert_eq!(replay.summary.changes, 101 + 1 + 2 + 2);
        assert_eq!(replay.summary.torn, None);
        // New writes go to a new segment; a clear replays too.
        r.clear().unwrap();
        r.put(b"after", b"clear", Ttl::Default).unwrap();
        drop(r);
        let r = Store::memory(Ttl::Never);
        let replay = r.recover_change_log(dir.path(), mode, None).unwrap();
        assert_eq!(replay.summary.segments, 2);
        assert_eq!(
            dump(&r).into_iter().collect::<Vec<_>>(),
            vec![(b"after".to_vec(), b"clear".to_vec())]
        );
    }
}

#[test]
fn always_mode_has_the_record_on_disk_when_the_write_returns() {
    let dir = tempfile::tempdir().unwrap();
    let s = logged(dir.path(), FsyncMode::Always);
    s.put(b"a", b"1", Ttl::Default).unwrap();
    // Read the log while the store still runs (no close, no flush).
    let mut seen = 0;
    statekit_core::replay_change_log(dir.path(), None, |_| {
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 1);
    assert_eq!(s.flush().unwrap(), 1);
}

#[test]
fn a_checkpoint_starts_a_segment_and_recovery_replays_only_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let s = logged(&log, FsyncMode::EverySec);
    for i in 0..50 {
        s.put(format!("k{i}").as_bytes(), b"before", Ttl::Default)
            .unwrap();
    }
    let path = dir.path().join("c1.skc");
    let mut pending = s
        .begin_checkpoint(
            CheckpointRequest::new(
                &path,
                None,
                None,
                Some(r#"{"offsets":{"0":7}}"#.into()),
                false,
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(pending.change_log_segment(), Some(2));
    s.put(b"k0", b"after", Ttl::Default).unwrap();
    s.delete(b"k1").unwrap();
    let summary = pending.write().unwrap();
    assert_eq!(
        summary.metadata,
        r#"{"offsets":{"0":7},"statekitChangeLog":{"segment":2}}"#
    );
    assert_eq!(segments(&log).len(), 2);
    assert_eq!(s.truncate_change_log(2).unwrap(), 1);
    assert_eq!(segments(&log), vec!["00000000000000000002.clog"]);
    s.put(b"k2", b"later", Ttl::Default).unwrap();
    let want = dump(&s);
    drop(s);

    let r = Store::memory(Ttl::Never);
    let mut restored = r.restore(&path).unwrap();
    r.adopt(&mut restored);
    let replay = r
        .recover_change_log(&log, FsyncMode::EverySec, Some(2))
        .unwrap();
    assert_eq!(replay.summary.records, 3);
    assert_eq!(dump(&r), want);
    // A store with a change log refuses restore() (the log would describe other data).
    assert_eq!(r.restore(&path).err().unwrap().code, ErrorCode::InvalidArg);
    // Metadata that is not an object cannot carry the position: refused before the cut.
    let e = r
        .begin_checkpoint(
            CheckpointRequest::new(
                dir.path().join("c2.skc"),
                None,
                None,
                Some("[1]".into()),
                false,
            )
            .unwrap(),
        )
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::InvalidArg);
}

#[test]
fn entries_that_expired_while_down_are_dropped_and_never_resurrect_older_values() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let t = Store::Memory(Arc::new(MemoryTier::with_clock(Ttl::Never, clock.clone())));
    t.attach_change_log(dir.path(), FsyncMode::No).unwrap();
    t.put(b"old", b"forever", Ttl::Default).unwrap();
    t.put(b"old", b"short", Ttl::Ms(1000)).unwrap();
    t.put(b"long", b"lives", Ttl::Ms(60_000)).unwrap();
    drop(t);
    clock.advance(5_000);
    let r = Store::Memory(Arc::new(MemoryTier::with_clock(Ttl::Never, clock.clone())));
    let replay = r
        .recover_change_log(dir.path(), FsyncMode::No, None)
        .unwrap();
    assert_eq!(replay.expired, 1);
    assert_eq!(
        dump(&r).into_iter().collect::<Vec<_>>(),
        vec![(b"long".to_vec(), b"lives".to_vec())]
    );
    // The expiry is absolute: it still expires at its original time.
    clock.advance(55_000);
    assert!(dump(&r).is_empty());
}

#[test]
fn writes_from_many_threads_replay_in_the_order_they_took_effect() {
    let dir = tempfile::tempdir().unwrap();
    let s = logged(dir.path(), FsyncMode::No);
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let s = s.clone();
            scope.spawn(move || {
                for i in 0..5000u32 {
                    let key = format!("k{}", i % 16);
                    if i % 7 == 3 {
                        s.delete(key.as_bytes()).unwrap();
                    } else {
                        s.put(key.as_bytes(), &[t, (i % 251) as u8], Ttl::Default)
                            .unwrap();
                    }
                }
            });
        }
    });
    let want = dump(&s);
    drop(s);
    let r = Store::memory(Ttl::Never);
    r.recover_change_log(dir.path(), FsyncMode::No, None)
        .unwrap();
    assert_eq!(dump(&r), want);
}

#[test]
fn a_directory_holding_a_log_is_recovered_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let s = logged(dir.path(), FsyncMode::No);
    s.put(b"a", b"1", Ttl::Default).unwrap();
    // Another store cannot append to it meanwhile.
    let e = Store::memory(Ttl::Never)
        .recover_change_log(dir.path(), FsyncMode::No, None)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Locked);
    drop(s);
    let e = Store::memory(Ttl::Never)
        .attach_change_log(dir.path(), FsyncMode::No)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(e.message.contains("openWithRecovery"));
    // A memory store without a log cannot flush.
    assert_eq!(
        Store::memory(Ttl::Never).flush().unwrap_err().code,
        ErrorCode::InvalidArg
    );
}

#[test]
fn deferred_acknowledgements_wait_off_the_writing_thread() {
    let dir = tempfile::tempdir().unwrap();
    let s = logged(dir.path(), FsyncMode::Always);
    statekit_core::defer_change_log_acks();
    s.put(b"a", b"1", Ttl::Default).unwrap();
    s.put_many(&[PutEntry {
        key: b"b",
        value: b"2",
        ttl: Ttl::Default,
    }])
    .unwrap();
    let newest = statekit_core::take_deferred_change_log_ack();
    assert_eq!(newest, 2, "the newest record written while deferred");
    // Another thread waits; then both records are on disk.
    let waiter = s.clone();
    std::thread::spawn(move || waiter.wait_change_log(newest))
        .join()
        .unwrap()
        .unwrap();
    let mut seen = 0;
    statekit_core::replay_change_log(dir.path(), None, |_| {
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 2);
    // Deferral ended: nothing more is collected.
    s.put(b"c", b"3", Ttl::Default).unwrap();
    assert_eq!(statekit_core::take_deferred_change_log_ack(), 0);
}

#[test]
fn checkpoints_taken_while_threads_write_plus_the_log_after_them_give_the_final_state() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let s = logged(&log, FsyncMode::No);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut last = None;
    std::thread::scope(|scope| {
        for t in 0..3u8 {
            let s = s.clone();
            let stop = &stop;
            scope.spawn(move || {
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = format!("k{}", i % 64);
                    match i % 5 {
                        0 => drop(s.delete(k.as_bytes()).unwrap()),
                        1 => s
                            .put_many(&[
                                PutEntry {
                                    key: k.as_bytes(),
                                    value: &[t, 1],
                                    ttl: Ttl::Default,
                                },
                                PutEntry {
                                    key: b"pair",
                                    value: &[t, (i % 200) as u8],
                                    ttl: Ttl::Default,
                                },
                            ])
                            .unwrap(),
                        _ => s
                            .put(k.as_bytes(), &[t, (i % 200) as u8], Ttl::Default)
                            .unwrap(),
                    }
                    i += 1;
                }
            });
        }
        for n in 0..20 {
            let path = dir.path().join(format!("c{n}.skc"));
            let mut pending = s
                .begin_checkpoint(CheckpointRequest::new(&path, None, None, None, false).unwrap())
                .unwrap();
            let segment = pending.change_log_segment().unwrap();
            pending.write().unwrap();
            s.truncate_change_log(segment).unwrap();
            last = Some((path, segment));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let want = dump(&s);
    drop(s);
    assert_eq!(
        segments(&log).len(),
        1,
        "only the segment since the last checkpoint is left"
    );
    let (path, segment) = last.unwrap();
    let r = Store::memory(Ttl::Never);
    let mut restored = r.restore(&path).unwrap();
    r.adopt(&mut restored);
    r.recover_change_log(&log, FsyncMode::No, Some(segment))
        .unwrap();
    assert_eq!(dump(&r), want);
}
