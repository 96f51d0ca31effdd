//! Damaged sled directories: every kind of damage is either refused with
//! `ERR_STATEKIT_CORRUPT`, leaving the directory exactly as it was, or opens with
//! exactly the last flushed data. Healthy stores, closed cleanly or not, open as they
//! were, and bad options or foreign directories change nothing on disk.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use statekit_core::{ErrorCode, KeyRange, SledOptions, SledTier, Store, Ttl};

const ENTRIES: usize = 6000;

fn options(dir: &Path) -> SledOptions {
    let mut o = SledOptions::new(dir);
    o.flush_every_ms = None;
    o
}

fn open(dir: &Path) -> statekit_core::Result<Store> {
    Store::open_sled(&options(dir))
}

/// Every entry of a store, read through a cursor.
fn contents(s: &Store) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut c = s.cursor(KeyRange::default());
    let mut out = BTreeMap::new();
    while c
        .next_page(512, |k, v| {
            out.insert(k.to_vec(), v.to_vec());
        })
        .unwrap()
        > 0
    {}
    out
}

/// Every file under `dir` with its bytes: to prove a refused open changed nothing.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with("statekit.lock") {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A store of ENTRIES entries, flushed and closed cleanly; returns what it holds.
fn pristine(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let s = open(dir).unwrap();
    for i in 0..ENTRIES {
        let value = format!("value-{i}-{}", "x".repeat(i % 50));
        s.put(
            format!("key:{i:06}").as_bytes(),
            value.as_bytes(),
            Ttl::Never,
        )
        .unwrap();
    }
    s.flush().unwrap();
    let held = contents(&s);
    s.close(std::time::Duration::from_secs(5)).unwrap();
    held
}

fn db(dir: &Path) -> PathBuf {
    dir.join("db")
}

fn flip(path: &Path, at: f64) {
    let mut b = fs::read(path).unwrap();
    let i = ((b.len() as f64 * at) as usize).min(b.len() - 1);
    b[i] ^= 0x5a;
    fs::write(path, b).unwrap();
}

fn truncate(path: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

type Damage = (&'static str, fn(&Path));

/// Thirty-odd kinds of damage to a closed store's directory.
fn kinds() -> Vec<Damage> {
    vec![
        ("flip a byte at 1/8 of db", |d| flip(&db(d), 0.125)),
        ("flip a byte at 1/4 of db", |d| flip(&db(d), 0.25)),
        ("flip a byte at 1/2 of db", |d| flip(&db(d), 0.5)),
        ("flip a byte at 3/4 of db", |d| flip(&db(d), 0.75)),
        ("flip a byte at 7/8 of db", |d| flip(&db(d), 0.875)),
        ("flip the last byte of db", |d| flip(&db(d), 1.0)),
        ("flip the first byte of db", |d| flip(&db(d), 0.0)),
        ("flip ten bytes across db", |d| {
            for i in 0..10 {
                flip(&db(d), i as f64 / 10.0 + 0.03);
            }
        }),
        ("delete db", |d| fs::remove_file(db(d)).unwrap()),
        ("truncate db to 0 bytes", |d| truncate(&db(d), 0)),
        ("truncate db to 1 byte", |d| truncate(&db(d), 1)),
        ("truncate db to 100 bytes", |d| truncate(&db(d), 100)),
        ("truncate db to 4096 bytes", |d| truncate(&db(d), 4096)),
        ("truncate db to half", |d| {
            let n = fs::metadata(db(d)).unwrap().len();
            truncate(&db(d), n / 2)
        }),
        ("cut the last 4 KiB of db", |d| {
            let n = fs::metadata(db(d)).unwrap().len();
            truncate(&db(d), n.saturating_sub(4096))
        }),
        ("replace db with random bytes", |d| {
            let n = fs::metadata(db(d)).unwrap().len() as usize;
            fs::write(db(d), pseudo_random(n, 7)).unwrap()
        }),
        ("swap the halves of db", |d| {
            let b = fs::read(db(d)).unwrap();
            let (x, y) = b.split_at(b.len() / 2);
            fs::write(db(d), [y, x].concat()).unwrap()
        }),
        ("replace db with a foreign text file", |d| {
            fs::write(db(d), "these are not the droids you are looking for\n").unwrap()
        }),
        ("zero a 4 KiB page in the middle of db", |d| {
            let mut b = fs::read(db(d)).unwrap();
            let mid = b.len() / 2 / 4096 * 4096;
            let end = (mid + 4096).min(b.len());
            b[mid..end].fill(0);
            fs::write(db(d), b).unwrap()
        }),
        ("zero the first 4 KiB of db", |d| {
            let mut b = fs::read(db(d)).unwrap();
            let end = b.len().min(4096);
            b[..end].fill(0);
            fs::write(db(d), b).unwrap()
        }),
        ("append garbage to db", |d| {
            let mut b = fs::read(db(d)).unwrap();
            b.extend(pseudo_random(10_000, 3));
            fs::write(db(d), b).unwrap()
        }),
        ("double db", |d| {
            let b = fs::read(db(d)).unwrap();
            fs::write(db(d), [&b[..], &b[..]].concat()).unwrap()
        }),
        ("replace db with an empty sled store's", |d| {
            let other = d.with_extension("other");
            drop(sled::open(&other).unwrap());
            fs::copy(db(&other), db(d)).unwrap();
            fs::remove_dir_all(&other).unwrap();
        }),
        ("delete conf", |d| fs::remove_file(d.join("conf")).unwrap()),
        ("replace conf with random bytes", |d| {
            fs::write(d.join("conf"), pseudo_random(64, 11)).unwrap()
        }),
        ("truncate conf to 0 bytes", |d| truncate(&d.join("conf"), 0)),
        ("delete blobs/", |d| {
            fs::remove_dir_all(d.join("blobs")).unwrap()
        }),
        ("flip a byte of the flush record", |d| {
            flip(&d.join("statekit.flushed"), 0.5)
        }),
        ("truncate the flush record", |d| {
            truncate(&d.join("statekit.flushed"), 5)
        }),
        ("delete db and conf", |d| {
            fs::remove_file(db(d)).unwrap();
            fs::remove_file(d.join("conf")).unwrap();
        }),
        ("delete every sled file", |d| {
            for e in fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if !p.ends_with("statekit.flushed") {
                    if p.is_dir() {
                        fs::remove_dir_all(p).unwrap();
                    } else {
                        fs::remove_file(p).unwrap();
                    }
                }
            }
        }),
        ("flip a byte and truncate db", |d| {
            flip(&db(d), 0.3);
            let n = fs::metadata(db(d)).unwrap().len();
            truncate(&db(d), n * 2 / 3)
        }),
    ]
}

#[test]
fn every_kind_of_damage_is_refused_untouched_or_opens_with_the_flushed_data() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("pristine");
    let held = pristine(&base);
    assert_eq!(held.len(), ENTRIES);
    let (mut refused, mut whole) = (Vec::new(), Vec::new());
    for (i, (name, damage)) in kinds().into_iter().enumerate() {
        let dir = root.path().join(format!("case{i}"));
        copy_dir(&base, &dir);
        damage(&dir);
        let before = files(&dir);
        match open(&dir) {
            Err(e) => {
                assert_eq!(e.code, ErrorCode::Corrupt, "{name}: {}", e.message);
                assert!(
                    e.message.contains(&dir.display().to_string()),
                    "{name}: {}",
                    e.message
                );
                assert!(
                    files(&dir) == before,
                    "{name}: the refused open changed the directory"
                );
                refused.push(name);
            }
            Ok(s) => {
                assert!(
                    contents(&s) == held,
                    "{name}: opened with other data than was flushed"
                );
                s.close(std::time::Duration::from_secs(5)).unwrap();
                whole.push(name);
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }
    eprintln!(
        "{} kinds of damage: {} refused as CORRUPT with the directory untouched, {} opened with exactly the flushed data ({})",
        refused.len() + whole.len(),
        refused.len(),
        whole.len(),
        whole.join("; ")
    );
    assert!(refused.len() + whole.len() >= 30);
    assert!(
        refused.len() >= 25,
        "most damage must be detected: {refused:?}"
    );
}

#[test]
fn healthy_stores_open_as_they_were_closed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let held = pristine(&dir);
    // Clean close: opens in place, the same data, any number of times.
    for _ in 0..3 {
        let s = open(&dir).unwrap();
        assert!(contents(&s) == held);
        s.close(std::time::Duration::from_secs(5)).unwrap();
    }
    // No clean close (the handle is dropped after a flush, as a crash after it would
    // leave it): writes after the flush may or may not be there, but it is not damage.
    {
        let s = open(&dir).unwrap();
        s.put(b"late", b"unflushed", Ttl::Never).unwrap();
        s.flush().unwrap();
        s.put(b"later", b"never flushed", Ttl::Never).unwrap();
        drop(s);
    }
    let s = open(&dir).unwrap();
    let now = contents(&s);
    assert_eq!(
        now.get(&b"late"[..]).map(Vec::as_slice),
        Some(&b"unflushed"[..])
    );
    assert!(now.len() == held.len() + 1 || now.len() == held.len() + 2);
    s.close(std::time::Duration::from_secs(5)).unwrap();
    // A brand-new directory, and a missing one, open empty.
    let fresh = root.path().join("fresh");
    fs::create_dir(&fresh).unwrap();
    let s = open(&fresh).unwrap();
    assert_eq!(s.stats().unwrap().entry_count, 0);
    s.close(std::time::Duration::from_secs(5)).unwrap();
}

#[test]
fn a_foreign_directory_is_refused_and_left_alone() {
    let root = tempfile::tempdir().unwrap();
    for (i, name) in ["n.txt", "db", "notes"].iter().enumerate() {
        let dir = root.path().join(format!("foreign{i}"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(name), "someone else's file").unwrap();
        let before = files(&dir);
        let names = || fs::read_dir(&dir).unwrap().count();
        let err = open(&dir).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg, "{}", err.message);
        assert!(
            err.message.contains("not a statekit store"),
            "{}",
            err.message
        );
        assert!(files(&dir) == before);
        assert_eq!(names(), 1, "nothing was created in it");
    }
}

#[test]
fn bad_options_touch_nothing_on_disk() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("store");
    let held = pristine(&dir);
    let before = files(&dir);
    for cache in [0u64, 1, 100, 255] {
        let mut o = options(&dir);
        o.cache_capacity = Some(cache);
        let err = SledTier::open(&o).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg, "{}", err.message);
        assert!(files(&dir) == before);
        // A new directory is not even created.
        let mut o = options(&root.path().join(format!("new{cache}")));
        o.cache_capacity = Some(cache);
        assert_eq!(SledTier::open(&o).unwrap_err().code, ErrorCode::InvalidArg);
        assert!(!root.path().join(format!("new{cache}")).exists());
    }
    let mut o = options(&root.path().join("a\0b"));
    o.cache_capacity = None;
    assert_eq!(SledTier::open(&o).unwrap_err().code, ErrorCode::InvalidArg);
    let s = Store::Sled(Arc::new(SledTier::open(&options(&dir)).unwrap()));
    assert!(contents(&s) == held);
    s.close(std::time::Duration::from_secs(5)).unwrap();
}
