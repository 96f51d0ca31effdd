//! Taking a checkpoint: ids, the header, and publishing the file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Instant;

#[allow(unused_imports)] // named in the docs
use crate::checkpoint::format::DEFAULT_ZSTD_LEVEL;
use crate::checkpoint::format::{Compression, Header, Kind};
use crate::checkpoint::writer::CheckpointWriter;
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

impl CheckpointRequest {
    /// A request from a caller's options: `compression` is `zstd` (the default), `lz4`
    /// or `none`; `level` is zstd's (1 to 22, default [`DEFAULT_ZSTD_LEVEL`]);
    /// `metadata` is JSON text (default `{}`). Checked before any state is touched.
    pub fn new(
        path: impl Into<PathBuf>,
        compression: Option<&str>,
        level: Option<f64>,
        metadata: Option<String>,
        incremental: bool,
    ) -> Result<CheckpointRequest> {
        let level = match level {
            None => None,
            Some(l) if l.fract() == 0.0 && (1.0..=22.0).contains(&l) => Some(l as i32),
            Some(l) => {
                return Err(Error::invalid_arg(format!(
                    "zstd level must be an integer from 1 to 22, got {l}"
                )))
            }
        };
        let req = CheckpointRequest {
            path: path.into(),
            kind: if incremental {
                Kind::Incremental
            } else {
                Kind::Full
            },
            compression: Compression::parse(compression.unwrap_or("zstd"), level)?,
            metadata: metadata.unwrap_or_else(|| "{}".into()),
        };
        validate(&req)?;
        Ok(req)
    }
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

/// Rejects a path the operating system cannot name: one holding a NUL byte.
pub fn check_path(path: &Path) -> Result<()> {
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(Error::invalid_arg(format!(
            "path must not contain a NUL byte, got {path:?}"
        )));
    }
    Ok(())
}

/// Checks a request before any state is touched.
pub fn validate(req: &CheckpointRequest) -> Result<()> {
    check_path(&req.path)?;
    if req.path.as_os_str().is_empty() || req.path.file_name().is_none() {
        return Err(Error::invalid_arg(format!(
            "checkpoint path must name a file, got '{}'",
            req.path.display()
        )));
    }
    Ok(())
}

/// A tier's point-in-time cut, taken on the calling thread and written on a worker.
pub trait Cut {
    /// The wall-clock time of the cut, in ms since the epoch.
    fn now_ms(&self) -> u64;
    /// The id of the checkpoint an incremental cut is relative to.
    fn base_id(&self) -> Option<u64>;
    /// Whether blocks may be sorted by key (a full cut: puts of distinct keys).
    fn sorted(&self) -> bool;
    /// Writes the cut's records.
    fn write_to(&self, writer: &mut CheckpointWriter) -> Result<()>;
    /// Ends the cut; `written` is the id of the published checkpoint, if one was.
    fn finish(self, written: Option<u64>);
}

/// Writes the checkpoint whose cut `cut` took (on a worker thread), then ends the cut.
pub fn write_cut<C: Cut>(cut: C, req: &CheckpointRequest) -> Result<CheckpointSummary> {
    let result = validate(req).and_then(|_| {
        write_checkpoint(req, cut.now_ms(), cut.base_id(), cut.sorted(), |w| {
            cut.write_to(w)
        })
    });
    cut.finish(result.as_ref().ok().map(|s| s.id));
    result
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

pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
