//! Restoring: find a checkpoint's chain, verify each file as it is read, and apply its
//! records to a target built aside. A damaged file fails the whole restore.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::checkpoint::format::{Kind, Record};
use crate::checkpoint::reader::{CheckpointInfo, CheckpointReader};
use crate::error::{Error, ErrorCode, Result};

/// Where restored records go.
pub trait RestoreTarget {
    /// Stores an entry with its absolute expiry; returns false if it had expired
    /// (then any older value of the key is removed).
    fn put_absolute(&mut self, key: &[u8], value: &[u8], expires_at: u64) -> Result<bool>;
    /// Removes a key.
    fn remove(&mut self, key: &[u8]) -> Result<()>;
    /// Removes everything.
    fn clear(&mut self) -> Result<()>;
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreSummary {
    /// The id of the checkpoint restored (the last of its chain).
    pub id: u64,
    /// The ids applied, oldest (the full checkpoint) first.
    pub chain: Vec<u64>,
    /// Entries stored.
    pub entries: u64,
    /// Entries dropped because they had expired.
    pub expired: u64,
    pub duration_ms: f64,
    /// The restored checkpoint's metadata, JSON text.
    pub metadata: String,
}

impl RestoreSummary {
    /// The summary of restoring `chain` (oldest first) that `started` at.
    pub fn of_chain(
        chain: &[(PathBuf, CheckpointInfo)],
        entries: u64,
        expired: u64,
        started: Instant,
    ) -> Self {
        let last = &chain[chain.len() - 1].1;
        RestoreSummary {
            id: last.header.id,
            chain: chain.iter().map(|(_, i)| i.header.id).collect(),
            entries,
            expired,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            metadata: last.header.metadata.clone(),
        }
    }
}

/// The files to apply to restore `path`, oldest first: the full checkpoint its chain
/// starts from, then each incremental one. An incremental checkpoint's base is found
/// by id among the checkpoint files in the same directory.
pub fn chain_of(path: &Path) -> Result<Vec<(PathBuf, CheckpointInfo)>> {
    let first = CheckpointReader::open(path)?.info().clone();
    let mut chain = vec![(path.to_path_buf(), first)];
    let mut by_id: Option<HashMap<u64, (PathBuf, CheckpointInfo)>> = None;
    while let Some((_, info)) = chain.last() {
        if info.header.kind == Kind::Full {
            break;
        }
        let base = info.header.base_id;
        let index = by_id.get_or_insert_with(|| index_dir(path));
        let Some(found) = index.remove(&base) else {
            return Err(Error::new(
                ErrorCode::Corrupt,
                format!(
                    "checkpoint {} is incremental and needs its base {base}, which is not among the checkpoints beside it",
                    path.display()
                ),
            ));
        };
        if chain.len() > 100_000 {
            return Err(Error::new(
                ErrorCode::Corrupt,
                format!("the chain of {} loops", path.display()),
            ));
        }
        chain.push(found);
    }
    chain.reverse();
    Ok(chain)
}

/// Every readable checkpoint in `path`'s directory, by id.
fn index_dir(path: &Path) -> HashMap<u64, (PathBuf, CheckpointInfo)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if !p.is_file()
            || p.to_string_lossy()
                .ends_with(crate::checkpoint::writer::TEMP_SUFFIX)
        {
            continue;
        }
        if let Ok(reader) = CheckpointReader::open(&p) {
            let info = reader.info().clone();
            out.insert(info.header.id, (p, info));
        }
    }
    out
}

/// Applies `chain` (from [`chain_of`], base first) to `target`, verifying every file
/// as it is read. `started` is when the restore began, for the summary's duration.
pub fn restore_chain(
    chain: &[(PathBuf, CheckpointInfo)],
    started: Instant,
    target: &mut impl RestoreTarget,
) -> Result<RestoreSummary> {
    let mut expired = 0u64;
    let mut stored = 0u64;
    for (file, info) in chain {
        let full = info.header.kind == Kind::Full;
        CheckpointReader::open(file)?.for_each(|rec| {
            if full && !matches!(rec, Record::Put { .. }) {
                // As the memory tier's restore does (docs/checkpoint-format.md).
                return Err(Error::new(
                    ErrorCode::Corrupt,
                    format!(
                        "{}: a full checkpoint holds a tombstone or clear record",
                        file.display()
                    ),
                ));
            }
            match rec {
                Record::Put {
                    key,
                    expires_at,
                    value,
                } => {
                    if target.put_absolute(key, value, expires_at)? {
                        stored += 1;
                    } else {
                        expired += 1;
                    }
                }
                Record::Tombstone { key } => target.remove(key)?,
                Record::Clear => target.clear()?,
            }
            Ok(())
        })?;
    }
    Ok(RestoreSummary::of_chain(chain, stored, expired, started))
}
