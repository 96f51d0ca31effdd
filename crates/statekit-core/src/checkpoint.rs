//! Taking a checkpoint: ids, the header, and publishing the file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Instant;

use crate::checkpoint_format::{Compression, Header, Kind};
use crate::checkpoint_writer::CheckpointWriter;
use crate::error::{Error, Result};

/// What to write.
#[derive(Debug, Clone)]
pub struct CheckpointRequest {
    pub path: PathBuf,
    pub kind: Kind,
    pub compression: Compression,
    /// User metadata as JSON text.
    pub metadata: String,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointSummary {
    pub id: u64,
    pub path: PathBuf,
    pub kind: Kind,
    pub base_id: Option<u64>,
    pub entries: u64,
    pub bytes: u64,
    pub raw_bytes: u64,
    pub created_at: u64,
    pub duration_ms: f64,
    pub metadata: String,
}

static LAST_ID: AtomicU64 = AtomicU64::new(0);

/// A new checkpoint id: microseconds since the epoch, strictly increasing within the
/// process, so ids order checkpoints by creation.
pub fn new_id(now_ms: u64) -> u64 {
    let candidate = now_ms.saturating_mul(1000);
    let mut last = LAST_ID.load(SeqCst);
    loop {
        let id = candidate.max(last + 1);
        match LAST_ID.compare_exchange(last, id, SeqCst, SeqCst) {
            Ok(_) => return id,
            Err(actual) => last = actual,
        }
    }
}

/// Checks a request before any state is touched.
pub fn validate(req: &CheckpointRequest) -> Result<()> {
    if req.path.as_os_str().is_empty() || req.path.file_name().is_none() {
        return Err(Error::invalid_arg(format!(
            "checkpoint path must name a file, got '{}'",
            req.path.display()
        )));
    }
    Ok(())
}

/// Writes a checkpoint whose records `fill` produces; on any error the temp file is
/// removed and nothing is published. `sort_blocks` orders each block by key (only for
/// full checkpoints, whose records are puts of distinct keys).
pub fn write_checkpoint(
    req: &CheckpointRequest,
    created_at: u64,
    base_id: Option<u64>,
    sort_blocks: bool,
    fill: impl FnOnce(&mut CheckpointWriter) -> Result<()>,
) -> Result<CheckpointSummary> {
    let started = Instant::now();
    let id = new_id(created_at);
    let header = Header {
        kind: req.kind,
        compression: req.compression,
        id,
        base_id: base_id.unwrap_or(0),
        created_at,
        entry_count: 0,
        metadata: req.metadata.clone(),
    };
    let mut writer = CheckpointWriter::create_with(&req.path, header, sort_blocks)?;
    if let Err(e) = fill(&mut writer) {
        writer.abort();
        return Err(e);
    }
    let (footer, bytes) = writer.finish()?;
    Ok(CheckpointSummary {
        id,
        path: absolute(&req.path),
        kind: req.kind,
        base_id,
        entries: footer.record_count,
        bytes,
        raw_bytes: footer.raw_bytes,
        created_at,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        metadata: req.metadata.clone(),
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
