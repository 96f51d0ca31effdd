//! The memory tier's change log on `NativeStore`: attach a new one, recover one
//! (replay on a worker thread, then attach), truncate after a committed checkpoint.
//! Argument conversion only; the core does the work.

use std::path::PathBuf;

use napi::bindgen_prelude::{AsyncTask, Env};
use napi_derive::napi;
use statekit_core::{whole_number, ChangeLogReplay, FsyncMode, Store};

use crate::error::{invalid, to_js, Result};
use crate::store::NativeStore;
use crate::tasks::{job, Job, Work};

/// `changeLog` options of a memory store.
#[napi(object)]
pub struct ChangeLogConfig {
    pub dir: String,
    /// `everysec` (default), `always` or `no`.
    pub fsync: Option<String>,
}

impl ChangeLogConfig {
    fn parse(self) -> Result<(PathBuf, FsyncMode)> {
        if self.dir.is_empty() {
            return Err(invalid("changeLog.dir must be a non-empty string"));
        }
        let mode = FsyncMode::parse(self.fsync.as_deref().unwrap_or("everysec")).map_err(to_js)?;
        Ok((PathBuf::from(self.dir), mode))
    }
}

/// A torn last record that recovery cut off.
#[napi(object)]
pub struct TornRecord {
    pub segment: String,
    pub offset: f64,
    pub bytes: f64,
}

/// What recovering a change log replayed.
#[napi(object)]
pub struct ChangeLogRecovery {
    pub segments: f64,
    pub records: f64,
    pub changes: f64,
    pub expired: f64,
    pub torn: Option<TornRecord>,
}

/// Replays a change log into a store and attaches it, on a worker thread.
pub struct RecoverWork {
    store: Store,
    dir: PathBuf,
    mode: FsyncMode,
    from: Option<u64>,
}

impl Work for RecoverWork {
    type Output = ChangeLogReplay;
    type JsValue = ChangeLogRecovery;

    fn run(&mut self) -> statekit_core::Result<ChangeLogReplay> {
        self.store
            .recover_change_log(&self.dir, self.mode, self.from)
    }

    fn done(&mut self, _env: Env, r: ChangeLogReplay) -> napi::Result<ChangeLogRecovery> {
        Ok(ChangeLogRecovery {
            segments: r.summary.segments as f64,
            records: r.summary.records as f64,
            changes: r.summary.changes as f64,
            expired: r.expired as f64,
            torn: r.summary.torn.map(|t| TornRecord {
                segment: t.segment,
                offset: t.offset as f64,
                bytes: t.bytes as f64,
            }),
        })
    }
}

/// Deletes the segments a committed checkpoint covers, on a worker thread.
pub struct TruncateWork(Store, u64);

impl Work for TruncateWork {
    type Output = u64;
    type JsValue = f64;

    fn run(&mut self) -> statekit_core::Result<u64> {
        self.0.truncate_change_log(self.1)
    }

    fn done(&mut self, _env: Env, n: u64) -> napi::Result<f64> {
        Ok(n as f64)
    }
}

/// Waits for a change log record to be durable, on a worker thread.
pub struct WaitWork(Store, u64);

impl Work for WaitWork {
    type Output = ();
    type JsValue = ();

    fn run(&mut self) -> statekit_core::Result<()> {
        self.0.wait_change_log(self.1)
    }

    fn done(&mut self, _env: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// Writes on this thread stop waiting for their change log records (`always` mode)
/// until `takeDeferredChangeLogAck()`, which returns the newest record to wait for.
#[napi(catch_unwind)]
pub fn defer_change_log_acks() {
    statekit_core::defer_change_log_acks();
}

/// Ends `deferChangeLogAcks()`; the newest change log record written meanwhile, or 0.
#[napi(catch_unwind)]
pub fn take_deferred_change_log_ack() -> f64 {
    statekit_core::take_deferred_change_log_ack() as f64
}

#[napi]
impl NativeStore {
    /// The change log's fsync mode (`always`, `everysec`, `no`), or none without one.
    #[napi(getter)]
    pub fn change_log_fsync(&self) -> Option<&'static str> {
        self.store()
            .ok()
            .and_then(|s| s.change_log_fsync())
            .map(|m| m.as_str())
    }

    /// Resolves once change log record `record` is durable (on a worker thread).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn wait_change_log(&self, record: f64) -> Result<AsyncTask<Job<WaitWork>>> {
        let n = whole_number("record", record, 0).map_err(to_js)?;
        Ok(job(WaitWork(self.store()?, n)))
    }

    /// Attaches a new change log (its directory must hold no segments).
    #[napi(catch_unwind)]
    pub fn attach_change_log(&self, config: ChangeLogConfig) -> Result<()> {
        let (dir, mode) = config.parse()?;
        self.store()?.attach_change_log(&dir, mode).map_err(to_js)
    }

    /// Replays the change log from segment `from_segment` (absent: the whole log) and
    /// attaches it, on a worker thread.
    #[napi(catch_unwind, ts_return_type = "Promise<ChangeLogRecovery>")]
    pub fn recover_change_log(
        &self,
        config: ChangeLogConfig,
        from_segment: Option<f64>,
    ) -> Result<AsyncTask<Job<RecoverWork>>> {
        let (dir, mode) = config.parse()?;
        let from = match from_segment {
            Some(n) => Some(whole_number("fromSegment", n, 1).map_err(to_js)?),
            None => None,
        };
        Ok(job(RecoverWork {
            store: self.store()?,
            dir,
            mode,
            from,
        }))
    }

    /// Deletes the change log segments below `first_kept`, on a worker thread.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn truncate_change_log(&self, first_kept: f64) -> Result<AsyncTask<Job<TruncateWork>>> {
        let first = whole_number("firstKept", first_kept, 1).map_err(to_js)?;
        Ok(job(TruncateWork(self.store()?, first)))
    }
}
