//! Checkpoints, restores and checkpoint inspection from JavaScript. The cut is taken
//! on the calling thread; scanning, compression, I/O and verification run on libuv's
//! worker threads and resolve one Promise.

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Env, Status, Task};
use napi_derive::napi;
use statekit_core::checkpoint::{CheckpointRequest, CheckpointSummary};
use statekit_core::checkpoint_format::{Compression, Kind};
use statekit_core::checkpoint_reader::{verify, CheckpointInfo, CheckpointReader};
use statekit_core::memory_snapshot::{io as memory_io, MemorySnapshot};
use statekit_core::restore::RestoreSummary;
use statekit_core::sled_restore;
use statekit_core::sled_snapshot::SledSnapshot;
use statekit_core::sled_tier::SledTier;
use statekit_core::ErrorCode;

use crate::error::{invalid, to_js, Result};
use crate::store::AnyTier;

fn task_err(e: statekit_core::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, e.to_string())
}

/// Options of `checkpoint()`, validated by the TypeScript layer.
#[napi(object)]
pub struct CheckpointOptions {
    /// `zstd` (default), `lz4` or `none`.
    pub compression: Option<String>,
    /// zstd level, 1 to 22 (default 3).
    pub level: Option<i32>,
    /// User metadata as JSON text.
    pub metadata: Option<String>,
    /// Only what changed since the last checkpoint.
    pub incremental: Option<bool>,
}

impl CheckpointOptions {
    pub fn into_request(self, path: String) -> Result<CheckpointRequest> {
        let compression =
            Compression::parse(self.compression.as_deref().unwrap_or("zstd"), self.level)
                .map_err(to_js)?;
        let req = CheckpointRequest {
            path: PathBuf::from(path),
            kind: if self.incremental.unwrap_or(false) {
                Kind::Incremental
            } else {
                Kind::Full
            },
            compression,
            metadata: self.metadata.unwrap_or_else(|| "{}".into()),
        };
        statekit_core::checkpoint::validate(&req).map_err(to_js)?;
        Ok(req)
    }
}

/// What a checkpoint wrote.
#[napi(object)]
pub struct CheckpointResult {
    pub id: f64,
    pub path: String,
    pub kind: String,
    pub base_id: Option<f64>,
    pub entries: f64,
    pub bytes: f64,
    pub raw_bytes: f64,
    pub duration_ms: f64,
    pub created_at: f64,
    pub metadata: String,
}

impl From<CheckpointSummary> for CheckpointResult {
    fn from(s: CheckpointSummary) -> Self {
        CheckpointResult {
            id: s.id as f64,
            path: s.path.display().to_string(),
            kind: s.kind.as_str().into(),
            base_id: s.base_id.map(|b| b as f64),
            entries: s.entries as f64,
            bytes: s.bytes as f64,
            raw_bytes: s.raw_bytes as f64,
            duration_ms: s.duration_ms,
            created_at: s.created_at as f64,
            metadata: s.metadata,
        }
    }
}

/// A checkpoint whose cut is taken; it writes on a worker thread.
pub enum CheckpointTask {
    Memory(Option<MemorySnapshot>, CheckpointRequest),
    Sled(Option<SledSnapshot>, CheckpointRequest),
}

impl CheckpointTask {
    /// Takes the cut now, on the calling thread.
    pub fn begin(tier: &AnyTier, req: CheckpointRequest) -> Result<AsyncTask<CheckpointTask>> {
        Ok(AsyncTask::new(match tier {
            AnyTier::Memory(t) => {
                CheckpointTask::Memory(Some(t.begin_snapshot(req.kind).map_err(to_js)?), req)
            }
            AnyTier::Sled(t) => {
                CheckpointTask::Sled(Some(t.begin_snapshot(req.kind).map_err(to_js)?), req)
            }
        }))
    }
}

impl Task for CheckpointTask {
    type Output = CheckpointSummary;
    type JsValue = CheckpointResult;

    fn compute(&mut self) -> napi::Result<CheckpointSummary> {
        let gone = || {
            task_err(statekit_core::Error::new(
                ErrorCode::Io,
                "checkpoint already written",
            ))
        };
        match self {
            CheckpointTask::Memory(snap, req) => {
                memory_io::write(snap.take().ok_or_else(gone)?, req).map_err(task_err)
            }
            CheckpointTask::Sled(snap, req) => {
                sled_restore::write(snap.take().ok_or_else(gone)?, req).map_err(task_err)
            }
        }
    }

    fn resolve(&mut self, _env: Env, s: CheckpointSummary) -> napi::Result<CheckpointResult> {
        Ok(s.into())
    }
}

/// What a restore did.
#[napi(object)]
pub struct RestoreResult {
    pub id: f64,
    pub chain: Vec<f64>,
    pub entries: f64,
    pub expired: f64,
    pub duration_ms: f64,
    pub metadata: String,
}

impl From<&RestoreSummary> for RestoreResult {
    fn from(s: &RestoreSummary) -> Self {
        RestoreResult {
            id: s.id as f64,
            chain: s.chain.iter().map(|&c| c as f64).collect(),
            entries: s.entries as f64,
            expired: s.expired as f64,
            duration_ms: s.duration_ms,
            metadata: s.metadata.clone(),
        }
    }
}

/// The outcome of a restore: for the memory tier, the state built aside, which
/// `NativeStore.adopt()` switches in on the JavaScript thread.
#[napi]
pub struct Restored {
    pub(crate) tier: Option<AnyTier>,
    summary: RestoreResult,
}

#[napi]
impl Restored {
    /// What the restore did.
    #[napi(getter)]
    pub fn summary(&self) -> RestoreResult {
        RestoreResult {
            id: self.summary.id,
            chain: self.summary.chain.clone(),
            entries: self.summary.entries,
            expired: self.summary.expired,
            duration_ms: self.summary.duration_ms,
            metadata: self.summary.metadata.clone(),
        }
    }
}

/// A restore running on a worker thread.
pub enum RestoreTask {
    Memory(PathBuf, statekit_core::ttl::Ttl),
    Sled(PathBuf, Arc<SledTier>),
}

impl Task for RestoreTask {
    type Output = (Option<AnyTier>, RestoreSummary);
    type JsValue = Restored;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        match self {
            RestoreTask::Memory(path, ttl) => memory_io::restore(path, *ttl)
                .map(|(t, s)| (Some(AnyTier::Memory(t)), s))
                .map_err(task_err),
            RestoreTask::Sled(path, tier) => sled_restore::restore(tier, path)
                .map(|s| (None, s))
                .map_err(task_err),
        }
    }

    fn resolve(&mut self, _env: Env, (tier, s): Self::Output) -> napi::Result<Restored> {
        Ok(Restored {
            tier,
            summary: RestoreResult::from(&s),
        })
    }
}

/// What a checkpoint file's header and footer say.
#[napi(object)]
pub struct CheckpointFileInfo {
    pub path: String,
    pub id: f64,
    pub kind: String,
    pub base_id: Option<f64>,
    pub created_at: f64,
    pub entries: f64,
    pub compression: String,
    pub metadata: String,
    pub bytes: f64,
    pub raw_bytes: f64,
    pub blocks: f64,
}

fn file_info(path: &str, i: &CheckpointInfo) -> CheckpointFileInfo {
    CheckpointFileInfo {
        path: path.to_string(),
        id: i.header.id as f64,
        kind: i.header.kind.as_str().into(),
        base_id: (i.header.kind == Kind::Incremental).then_some(i.header.base_id as f64),
        created_at: i.header.created_at as f64,
        entries: i.header.entry_count as f64,
        compression: i.header.compression.as_str().into(),
        metadata: i.header.metadata.clone(),
        bytes: i.file_bytes as f64,
        raw_bytes: i.footer.raw_bytes as f64,
        blocks: i.footer.block_count as f64,
    }
}

/// Reads a checkpoint's header and footer.
pub struct InfoTask(String);

impl Task for InfoTask {
    type Output = CheckpointInfo;
    type JsValue = CheckpointFileInfo;

    fn compute(&mut self) -> napi::Result<CheckpointInfo> {
        CheckpointReader::open(std::path::Path::new(&self.0))
            .map(|r| r.info().clone())
            .map_err(task_err)
    }

    fn resolve(&mut self, _env: Env, i: CheckpointInfo) -> napi::Result<CheckpointFileInfo> {
        Ok(file_info(&self.0, &i))
    }
}

/// The result of a full verification.
#[napi(object)]
pub struct VerifyResult {
    pub ok: bool,
    pub info: Option<CheckpointFileInfo>,
    /// What is damaged and where (file, block, offset), when not ok.
    pub error: Option<String>,
}

/// Checks every checksum of a checkpoint.
pub struct VerifyTask(String);

impl Task for VerifyTask {
    type Output = std::result::Result<CheckpointInfo, statekit_core::Error>;
    type JsValue = VerifyResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        match verify(std::path::Path::new(&self.0)) {
            Err(e) if e.code != ErrorCode::Corrupt => Err(task_err(e)),
            other => Ok(other),
        }
    }

    fn resolve(&mut self, _env: Env, out: Self::Output) -> napi::Result<VerifyResult> {
        Ok(match out {
            Ok(i) => VerifyResult {
                ok: true,
                info: Some(file_info(&self.0, &i)),
                error: None,
            },
            Err(e) => VerifyResult {
                ok: false,
                info: None,
                error: Some(e.message),
            },
        })
    }
}

fn path_arg(path: String) -> Result<String> {
    if path.is_empty() {
        return Err(invalid("path must be a non-empty string"));
    }
    Ok(path)
}

/// Reads a checkpoint's header and footer (fast: no block is read).
#[napi(catch_unwind, ts_return_type = "Promise<CheckpointFileInfo>")]
pub fn read_checkpoint_info(path: String) -> Result<AsyncTask<InfoTask>> {
    Ok(AsyncTask::new(InfoTask(path_arg(path)?)))
}

/// Checks every checksum of a checkpoint; damage is reported, not thrown.
#[napi(catch_unwind, ts_return_type = "Promise<VerifyResult>")]
pub fn verify_checkpoint(path: String) -> Result<AsyncTask<VerifyTask>> {
    Ok(AsyncTask::new(VerifyTask(path_arg(path)?)))
}
