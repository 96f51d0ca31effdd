//! An exclusive lock on a store directory, held while the store is open.
//!
//! The lock is an advisory `flock` on `<dir>/statekit.lock`. Each open takes it through
//! its own file descriptor, so a second open fails whether it comes from this process
//! or another one, and the kernel drops it when the holder exits, even by SIGKILL.

use std::fs::{File, OpenOptions};
use std::path::Path;

use fs2::FileExt;

use crate::error::{Error, ErrorCode, Result};

/// The name of the lock file inside a store directory.
pub const LOCK_FILE: &str = "statekit.lock";

/// A held directory lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `dir`, which must exist.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("cannot open {}: {e}", path.display()),
                )
            })?;
        if file.try_lock_exclusive().is_err() {
            return Err(Error::new(
                ErrorCode::Locked,
                format!("{} is held by another open store", dir.display()),
            ));
        }
        Ok(DirLock { _file: file })
    }

    /// Whether another open store holds `dir` right now.
    #[cfg(test)]
    pub fn is_held(dir: &Path) -> bool {
        match DirLock::acquire(dir) {
            Err(e) => e.code == ErrorCode::Locked,
            Ok(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_until_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Locked);
        assert!(err.message.contains(&dir.path().display().to_string()));
        assert!(DirLock::is_held(dir.path()));
        drop(first);
        assert!(!DirLock::is_held(dir.path()));
        DirLock::acquire(dir.path()).unwrap();
    }
}
