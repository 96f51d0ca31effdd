//! Detecting lost flushed data, and leaving a damaged directory as it was.
//!
//! sled's recovery treats everything after the first damaged record as a torn,
//! unwritten tail and opens what precedes it without an error, so a damaged, truncated
//! or deleted `db` file opens as an older or empty store. statekit tells the two apart
//! with a flush marker: before each of its flushes it writes a sequence number into
//! sled's metadata tree (in the same log, after every write the flush covers), and once
//! the flush has returned it records that number in `statekit.flushed` beside sled,
//! written atomically. On open, a store whose marker is behind the recorded number (or
//! missing while the file exists) has lost flushed data: `ERR_STATEKIT_CORRUPT`. A crash
//! between a write and its flush leaves the marker at or ahead of the record: no damage.
//!
//! sled writes to its files as it opens them, even when it then finds them damaged. So
//! a directory that is not known to be as a clean close left it is first opened as a
//! copy beside it, and checked there; the original is opened only once the copy was
//! found whole. "Known clean" means the record says the last close was clean and every
//! sled file still has the size and modification time recorded at that close.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::checkpoint::writer::sync_dir;
use crate::error::{Error, ErrorCode, Result};

/// The record of the last flush, beside sled's files.
pub const RECORD_FILE: &str = "statekit.flushed";
/// Present while a recovery restored into a fresh store in place (statekit before the
/// recovery journal): one found on open means that recovery was interrupted.
pub const RECOVERING_FILE: &str = "statekit.recovering";
/// The suffix of the file beside a store's directory (`<dir>.statekit-recovering`)
/// that a recovery writes before it replaces the directory and removes once the
/// restored store is in place: one found on open means that recovery was interrupted.
pub const RECOVERY_JOURNAL_SUFFIX: &str = ".statekit-recovering";

/// The recovery journal of the store in `dir` (see [`RECOVERY_JOURNAL_SUFFIX`]).
pub fn recovery_journal(dir: &Path) -> Option<PathBuf> {
    let name = dir.file_name()?;
    let mut file = name.to_os_string();
    file.push(RECOVERY_JOURNAL_SUFFIX);
    Some(dir.with_file_name(file))
}

/// Refuses a store whose recovery was interrupted: its directory may be missing, the
/// damaged one, or a restored one not yet known to be whole.
pub fn check_no_recovery_journal(dir: &Path) -> Result<()> {
    match recovery_journal(dir) {
        Some(journal) if journal.exists() => Err(corrupt(
            dir,
            format!(
                "a recovery that was replacing it was interrupted ({} is still there); openWithRecovery runs it again",
                journal.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// The metadata key of the marker sled holds.
pub const MARKER_KEY: &[u8] = b"flush-marker";

const MAGIC: &[u8; 8] = b"SKFLUSH1";

/// What `statekit.flushed` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlushRecord {
    /// The sequence number of the last flush that returned.
    pub seq: u64,
    /// Whether that flush was a clean close's last.
    pub clean: bool,
    /// After a clean close: every sled file's name, size and modification time (ns).
    pub files: Vec<(String, u64, u128)>,
}

fn corrupt(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Corrupt,
        format!("{} is damaged: {what}", dir.display()),
    )
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorCode::Io, format!("{}: {e}", path.display()))
}

impl FlushRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.push(u8::from(self.clean));
        out.extend_from_slice(&(self.files.len() as u32).to_le_bytes());
        for (name, size, mtime) in &self.files {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&mtime.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(dir: &Path, b: &[u8]) -> Result<FlushRecord> {
        let bad = || corrupt(dir, format!("{RECORD_FILE} is not a statekit flush record"));
        if b.len() < 25 || &b[..8] != MAGIC {
            return Err(bad());
        }
        let (body, crc) = b.split_at(b.len() - 4);
        if crc32c::crc32c(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(bad());
        }
        let mut r = Cursor(&body[8..]);
        let seq = r.u64().ok_or_else(bad)?;
        let clean = r.take(1).ok_or_else(bad)?[0] == 1;
        let n = r.u32().ok_or_else(bad)?;
        let mut files = Vec::new();
        for _ in 0..n {
            let len = r.u16().ok_or_else(bad)? as usize;
            let name =
                String::from_utf8(r.take(len).ok_or_else(bad)?.to_vec()).map_err(|_| bad())?;
            let size = r.u64().ok_or_else(bad)?;
            let mtime =
                u128::from_le_bytes(r.take(16).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
            files.push((name, size, mtime));
        }
        Ok(FlushRecord { seq, clean, files })
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Reads the record of `dir`, if it has one.
pub fn read_record(dir: &Path) -> Result<Option<FlushRecord>> {
    let path = dir.join(RECORD_FILE);
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut f) => f.read_to_end(&mut bytes).map_err(|e| io(&path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path, e)),
    };
    FlushRecord::decode(dir, &bytes).map(Some)
}

/// Replaces the record of `dir` atomically and durably.
pub fn write_record(dir: &Path, record: &FlushRecord) -> Result<()> {
    let path = dir.join(RECORD_FILE);
    let tmp = dir.join(format!("{RECORD_FILE}.tmp"));
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    f.write_all(&record.encode()).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    sync_dir(dir)
}

/// The sequence number of the marker sled holds, if any.
pub fn decode_marker(raw: Option<&[u8]>) -> Option<u64> {
    raw.and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
}

/// Fails with `ERR_STATEKIT_CORRUPT` if the marker sled holds is behind the record.
pub fn check(dir: &Path, record: Option<&FlushRecord>, marker: Option<u64>) -> Result<()> {
    let Some(record) = record else { return Ok(()) };
    match marker {
        Some(m) if m >= record.seq => Ok(()),
        Some(m) => Err(corrupt(
            dir,
            format!(
                "flushed data is missing: sled holds flush {m}, but flush {} had completed",
                record.seq
            ),
        )),
        None => Err(corrupt(
            dir,
            format!(
                "flushed data is missing: sled holds no flush marker, but flush {} had completed",
                record.seq
            ),
        )),
    }
}

/// Whether `name` is one of statekit's own files in a sled directory.
fn is_ours(name: &str) -> bool {
    name.starts_with("statekit.")
}

/// Every sled file of `dir` (recursively) with its size and modification time.
pub fn fingerprint(dir: &Path) -> Result<Vec<(String, u64, u128)>> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64, u128)>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|e| io(&path, e))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if is_ours(&rel) {
            continue;
        }
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            out.push((rel, meta.len(), mtime));
        }
    }
    Ok(())
}

/// What the directory holds before anything is opened.
#[derive(Debug, PartialEq, Eq)]
pub enum DirState {
    /// Empty, or holding only statekit's lock: a new store.
    New,
    /// As the last clean close left it: open in place.
    Clean,
    /// A statekit store whose state is not known good: check a copy first.
    Unverified,
}

/// Classifies `dir` without changing it. A non-empty directory that is not a statekit
/// store (no record and no sled files) is refused with `ERR_STATEKIT_INVALID_ARG`.
pub fn classify(dir: &Path, record: Option<&FlushRecord>) -> Result<DirState> {
    if dir.join(RECOVERING_FILE).exists() {
        return Err(corrupt(
            dir,
            "a recovery that was restoring a checkpoint into it was interrupted",
        ));
    }
    let names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let foreign: Vec<&String> = names.iter().filter(|n| !is_ours(n)).collect();
    let Some(record) = record else {
        if foreign.is_empty() {
            return Ok(DirState::New);
        }
        // A store written before flush records existed has sled's `conf` and `db`.
        if names.iter().any(|n| n == "conf") && names.iter().any(|n| n == "db") {
            return Ok(DirState::Unverified);
        }
        return Err(Error::invalid_arg(format!(
            "{} is not empty and is not a statekit store (it holds {}); choose an empty or new directory",
            dir.display(),
            foreign
                .iter()
                .take(3)
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if record.clean && fingerprint(dir)? == record.files {
        Ok(DirState::Clean)
    } else {
        Ok(DirState::Unverified)
    }
}

/// A copy of `dir`'s sled files beside it, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// Copies `dir` (sled's files and the record, not the lock) to a sibling.
    pub fn copy_of(dir: &Path) -> Result<Scratch> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "store".into());
        let parent = dir.parent().unwrap_or(Path::new("."));
        let target = parent.join(format!(".{name}.statekit-check-{}", std::process::id()));
        let _ = fs::remove_dir_all(&target);
        let scratch = Scratch(target);
        copy_tree(dir, &scratch.0)?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let name = entry.file_name();
        if name.to_string_lossy() == crate::dir_lock::LOCK_FILE {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().map_err(|e| io(&src, e))?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| io(&src, e))?;
        }
    }
    Ok(())
}
