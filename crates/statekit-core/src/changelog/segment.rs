//! Segment files: their names, listing a log directory, creating the next segment and
//! deleting the segments a committed checkpoint covers.
//!
//! A segment is named for its number, `<number, 20 digits>.clog`, and numbers follow
//! each other without gaps: the writer starts a new segment at each checkpoint's cut
//! (and at each open), and deletion only ever removes the oldest ones. So a gap, or a
//! missing first segment, is a lost file and replay reports it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::changelog::format::segment_header;
use crate::error::{Error, ErrorCode, Result};

/// The suffix of segment files.
pub const SUFFIX: &str = ".clog";

/// The file name of segment `number`.
pub fn name(number: u64) -> String {
    format!("{number:020}{SUFFIX}")
}

/// The path of segment `number` in `dir`.
pub fn path(dir: &Path, number: u64) -> PathBuf {
    dir.join(name(number))
}

pub(crate) fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// The numbers of the segments in `dir`, ascending. Other files are ignored.
pub fn list(dir: &Path) -> Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io("read", dir, e))? {
        let entry = entry.map_err(|e| io("read", dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = stem.parse::<u64>() {
                numbers.push(n);
            }
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Makes the directory's entries durable (a created or removed segment).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync", dir, e))
}

/// Creates segment `number` with its header, durably (file and directory entry).
pub fn create(dir: &Path, number: u64) -> Result<File> {
    let p = path(dir, number);
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&p)
        .map_err(|e| io("create", &p, e))?;
    file.write_all(&segment_header(number))
        .and_then(|()| file.sync_data())
        .map_err(|e| io("write", &p, e))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Deletes every segment numbered below `first_kept`; returns how many.
pub fn delete_below(dir: &Path, first_kept: u64) -> Result<u64> {
    let mut n = 0;
    for number in list(dir)?.into_iter().take_while(|s| *s < first_kept) {
        let p = path(dir, number);
        fs::remove_file(&p).map_err(|e| io("delete", &p, e))?;
        n += 1;
    }
    if n > 0 {
        sync_dir(dir)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_list_and_deletion() {
        let dir = tempfile::tempdir().unwrap();
        for n in [3, 1, 2] {
            create(dir.path(), n).unwrap();
        }
        fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        fs::write(dir.path().join("12.clog"), b"x").unwrap();
        assert_eq!(list(dir.path()).unwrap(), vec![1, 2, 3]);
        assert_eq!(name(2), "00000000000000000002.clog");
        assert!(create(dir.path(), 2).is_err(), "never overwrites a segment");
        assert_eq!(delete_below(dir.path(), 3).unwrap(), 2);
        assert_eq!(list(dir.path()).unwrap(), vec![3]);
    }
}
