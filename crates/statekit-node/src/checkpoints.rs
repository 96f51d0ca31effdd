//! Checkpoints, restores and checkpoint inspection from JavaScript. The cut is taken
//! on the calling thread; writing, restoring and verifying run on libuv's worker
//! threads and settle one Promise.

use napi::bindgen_prelude::{AsyncTask, Env};
use napi_derive::napi;
use statekit_core::{
    CheckpointInfo, CheckpointReader, CheckpointSummary, ErrorCode, Kind, PendingCheckpoint,
    PendingRestore, RestoreSummary,
};

use crate::error::Result;
use crate::tasks::{job, Job, Work};

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

/// Writes a checkpoint whose cut is taken.
pub struct CheckpointWork(pub PendingCheckpoint);

impl Work for CheckpointWork {
    type Output = CheckpointSummary;
    type JsValue = CheckpointResult;

    fn run(&mut self) -> statekit_core::Result<CheckpointSummary> {
        self.0.write()
    }

    fn done(&mut self, _env: Env, s: CheckpointSummary) -> napi::Result<CheckpointResult> {
        Ok(s.into())
    }
}

/// What a restore did.
#[napi(object)]
#[derive(Clone)]
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

/// The outcome of a restore, which `NativeStore.adopt()` switches in.
#[napi]
pub struct Restored(pub(crate) statekit_core::Restored);

#[napi]
impl Restored {
    /// What the restore did.
    #[napi(getter)]
    pub fn summary(&self) -> RestoreResult {
        self.0.summary().into()
    }
}

/// Restores a checkpoint chain into a store whose claim is taken.
pub struct RestoreWork(pub PendingRestore);

impl Work for RestoreWork {
    type Output = statekit_core::Restored;
    type JsValue = Restored;

    fn run(&mut self) -> statekit_core::Result<statekit_core::Restored> {
        self.0.run()
    }

    fn done(&mut self, _env: Env, r: statekit_core::Restored) -> napi::Result<Restored> {
        Ok(Restored(r))
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

/// The result of a full verification.
#[napi(object)]
pub struct VerifyResult {
    pub ok: bool,
    pub info: Option<CheckpointFileInfo>,
    /// What is damaged and where (file, block, offset), when not ok.
    pub error: Option<String>,
}

/// Reads a checkpoint's header and footer.
pub struct InfoWork(String);

impl Work for InfoWork {
    type Output = CheckpointInfo;
    type JsValue = CheckpointFileInfo;

    fn run(&mut self) -> statekit_core::Result<CheckpointInfo> {
        Ok(CheckpointReader::open(self.0.as_ref())?.info().clone())
    }

    fn done(&mut self, _env: Env, i: CheckpointInfo) -> napi::Result<CheckpointFileInfo> {
        Ok(file_info(&self.0, &i))
    }
}

/// Checks every checksum of a checkpoint.
pub struct VerifyWork(String);

impl Work for VerifyWork {
    type Output = std::result::Result<CheckpointInfo, statekit_core::Error>;
    type JsValue = VerifyResult;

    fn run(&mut self) -> statekit_core::Result<Self::Output> {
        // Damage is reported in the result, not thrown.
        match statekit_core::verify(self.0.as_ref()) {
            Err(e) if e.code != ErrorCode::Corrupt => Err(e),
            other => Ok(other),
        }
    }

    fn done(&mut self, _env: Env, out: Self::Output) -> napi::Result<VerifyResult> {
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

/// Reads a checkpoint's header and footer (fast: no block is read).
#[napi(catch_unwind, ts_return_type = "Promise<CheckpointFileInfo>")]
pub fn read_checkpoint_info(path: String) -> Result<AsyncTask<Job<InfoWork>>> {
    Ok(job(InfoWork(path)))
}

/// Checks every checksum of a checkpoint; damage is reported, not thrown.
#[napi(catch_unwind, ts_return_type = "Promise<VerifyResult>")]
pub fn verify_checkpoint(path: String) -> Result<AsyncTask<Job<VerifyWork>>> {
    Ok(job(VerifyWork(path)))
}
