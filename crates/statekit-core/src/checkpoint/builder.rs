//! Building a full checkpoint from records the caller supplies (the CLI's `import`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::format::{Compression, Header, Kind, Record};
use super::request::{absolute, new_id, CheckpointSummary};
use super::writer::CheckpointWriter;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::limits::{check_key, check_value};

/// A full checkpoint being written from the caller's records; published by `finish`,
/// removed if dropped unfinished.
pub struct CheckpointBuilder {
    writer: CheckpointWriter,
    header: Header,
    path: PathBuf,
    started: Instant,
}

impl CheckpointBuilder {
    /// Starts a checkpoint at `path`.
    pub fn create(path: &Path, compression: Compression, metadata: String) -> Result<Self> {
        let now = SystemClock.now_ms();
        let header = Header {
            kind: Kind::Full,
            compression,
            id: new_id(now),
            base_id: 0,
            created_at: now,
            entry_count: 0,
            metadata,
        };
        Ok(CheckpointBuilder {
            writer: CheckpointWriter::create(path, header.clone())?,
            header,
            path: path.to_path_buf(),
            started: Instant::now(),
        })
    }

    /// Adds a put with an absolute expiry in ms since the epoch (0: never), given as a
    /// JavaScript number: it must be a whole, non-negative number.
    pub fn add(&mut self, key: &[u8], value: &[u8], expires_at: f64) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        if !expires_at.is_finite() || expires_at < 0.0 || expires_at > 2f64.powi(53) {
            return Err(Error::invalid_arg(format!(
                "expiresAt must be a non-negative number of milliseconds, got {expires_at}"
            )));
        }
        self.writer.push(&Record::Put {
            key,
            expires_at: expires_at as u64,
            value,
        })
    }

    /// Finishes and publishes the file.
    pub fn finish(self) -> Result<CheckpointSummary> {
        let (footer, bytes) = self.writer.finish()?;
        Ok(CheckpointSummary {
            id: self.header.id,
            path: absolute(&self.path),
            kind: Kind::Full,
            base_id: None,
            entries: footer.record_count,
            bytes,
            raw_bytes: footer.raw_bytes,
            created_at: self.header.created_at,
            duration_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            metadata: self.header.metadata,
        })
    }
}
