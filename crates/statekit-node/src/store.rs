//! `NativeStore`: either tier as one JavaScript class. Argument conversion only; each
//! method dispatches to the tier it holds.

use std::sync::{Arc, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{Array, AsyncTask, BufferSlice, Env};
use napi_derive::napi;
use statekit_core::cleanup::{CleanupTask, Sweep};
use statekit_core::limits::check_keys;
use statekit_core::memory::{MemoryTier, PutEntry};
use statekit_core::sled_tier::SledTier;
use statekit_core::ttl::Ttl;

use crate::checkpoint_tasks::{CheckpointOptions, CheckpointTask, RestoreTask, Restored};
use crate::cursor::Cursor;
use crate::error::{closed, from_napi, invalid, to_js, Result};
use crate::range::RangeOptions;
use crate::sled_tasks::{CloseTask, FlushTask, SizeTask};
use crate::stats::Stats;

/// The tier a store holds.
#[derive(Clone)]
pub enum AnyTier {
    Memory(Arc<MemoryTier>),
    Sled(Arc<SledTier>),
}

impl AnyTier {
    /// The tier as something a cleanup task can sweep.
    fn sweep_target(&self) -> Weak<dyn Sweep> {
        match self {
            AnyTier::Memory(t) => Arc::downgrade(t) as Weak<dyn Sweep>,
            AnyTier::Sled(t) => Arc::downgrade(t) as Weak<dyn Sweep>,
        }
    }
}

/// Runs the same expression on whichever tier `$store` holds.
macro_rules! on_tier {
    ($store:expr, $t:ident => $e:expr) => {
        match $store.tier()? {
            AnyTier::Memory($t) => $e,
            AnyTier::Sled($t) => $e,
        }
    };
}

/// A store of either tier. Keys and values are bytes; the TypeScript layer converts.
#[napi]
pub struct NativeStore {
    tier: Option<AnyTier>,
    /// The store's handle on the fast path (see `fast_path`).
    handle: u32,
    /// Cleanup tasks started on this store, pointed at the new tier after a restore.
    cleanup: Vec<CleanupTask>,
}

/// A running cleanup task; `stop()` ends it.
#[napi]
pub struct CleanupHandle {
    task: CleanupTask,
}

#[napi]
impl CleanupHandle {
    /// Stops the task; calling it again is harmless.
    #[napi]
    pub fn stop(&self) {
        self.task.stop();
    }
}

/// The byte slices of a JavaScript array of Uint8Arrays.
fn slices<'a>(array: &Array<'a>) -> Result<Vec<&'a [u8]>> {
    (0..array.len())
        .map(|i| {
            let item: Option<&[u8]> = array.get(i).map_err(from_napi)?;
            Ok(item.unwrap_or_default())
        })
        .collect()
}

fn ttl(ms: Option<f64>) -> Result<Ttl> {
    Ttl::from_js(ms).map_err(to_js)
}

impl NativeStore {
    pub fn from_tier(tier: AnyTier) -> Self {
        NativeStore {
            handle: crate::fast_path::register(&tier),
            tier: Some(tier),
            cleanup: Vec::new(),
        }
    }

    fn tier(&self) -> Result<&AnyTier> {
        self.tier.as_ref().ok_or_else(closed)
    }

    fn sled(&self) -> Result<&Arc<SledTier>> {
        match self.tier()? {
            AnyTier::Sled(t) => Ok(t),
            AnyTier::Memory(_) => Err(invalid("this operation needs the sled tier")),
        }
    }
}

#[napi]
impl NativeStore {
    /// A new empty memory-tier store whose entries expire after `default_ttl_ms`
    /// (absent, 0 or infinity: never).
    #[napi(factory, catch_unwind)]
    pub fn memory(default_ttl_ms: Option<f64>) -> Result<Self> {
        let default = Ttl::default_from_js(default_ttl_ms).map_err(to_js)?;
        Ok(Self::from_tier(AnyTier::Memory(Arc::new(MemoryTier::new(
            default,
        )))))
    }

    /// The live value of `key`, copied into a new Buffer.
    #[napi(catch_unwind)]
    pub fn get<'e>(&self, env: &'e Env, key: &[u8]) -> Result<Option<BufferSlice<'e>>> {
        on_tier!(self, t => t.get_with(key, |v| BufferSlice::copy_from(env, v)))
            .map_err(to_js)?
            .transpose()
            .map_err(from_napi)
    }

    /// Whether `key` has a live value.
    #[napi(catch_unwind)]
    pub fn has(&self, key: &[u8]) -> Result<bool> {
        on_tier!(self, t => t.has(key)).map_err(to_js)
    }

    /// Stores `value` under `key` with an optional TTL in milliseconds.
    #[napi(catch_unwind)]
    pub fn put(&self, key: &[u8], value: &[u8], ttl_ms: Option<f64>) -> Result<()> {
        let ttl = ttl(ttl_ms)?;
        on_tier!(self, t => t.put(key, value, ttl)).map_err(to_js)
    }

    /// Removes `key`; returns whether a live entry was removed.
    #[napi(catch_unwind)]
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        on_tier!(self, t => t.delete(key)).map_err(to_js)
    }

    /// The live values of `keys` (holes for misses), in one call.
    #[napi(catch_unwind)]
    pub fn get_many<'e>(&self, env: &'e Env, keys: Array<'e>) -> Result<Array<'e>> {
        let tier = self.tier()?;
        let keys = slices(&keys)?;
        check_keys(&keys).map_err(to_js)?;
        let mut out = env.create_array(keys.len() as u32).map_err(from_napi)?;
        for (i, key) in keys.iter().enumerate() {
            let copy = |v: &[u8]| BufferSlice::copy_from(env, v);
            let found = match tier {
                AnyTier::Memory(t) => t.get_with(key, copy),
                AnyTier::Sled(t) => t.get_with(key, copy),
            };
            if let Some(buf) = found.map_err(to_js)? {
                out.set(i as u32, buf.map_err(from_napi)?)
                    .map_err(from_napi)?;
            }
        }
        Ok(out)
    }

    /// Stores every `[key, value, ttl]` given as three parallel arrays, all or none.
    #[napi(catch_unwind)]
    pub fn put_many(&self, keys: Array, values: Array, ttls: Vec<Option<f64>>) -> Result<()> {
        let keys = slices(&keys)?;
        let values = slices(&values)?;
        if values.len() != keys.len() || ttls.len() != keys.len() {
            return Err(invalid("putMany: keys, values and ttls differ in length"));
        }
        let mut entries = Vec::with_capacity(keys.len());
        for ((key, value), ttl_ms) in keys.into_iter().zip(values).zip(ttls) {
            entries.push(PutEntry {
                key,
                value,
                ttl: ttl(ttl_ms)?,
            });
        }
        on_tier!(self, t => t.put_many(&entries)).map_err(to_js)
    }

    /// Removes every key, or none if any is invalid; returns for each whether a live
    /// entry was removed.
    #[napi(catch_unwind)]
    pub fn delete_many(&self, keys: Array) -> Result<Vec<bool>> {
        let keys = slices(&keys)?;
        on_tier!(self, t => t.delete_many(&keys)).map_err(to_js)
    }

    /// A cursor over the live entries of a range, in key order.
    #[napi(catch_unwind)]
    pub fn cursor(&self, range: RangeOptions) -> Result<Cursor> {
        let range = range.into_range();
        Ok(match self.tier()? {
            AnyTier::Memory(t) => Cursor::memory(t, range),
            AnyTier::Sled(t) => Cursor::sled(t, range),
        })
    }

    /// Removes every entry.
    #[napi(catch_unwind)]
    pub fn clear(&self) -> Result<()> {
        match self.tier()? {
            AnyTier::Memory(t) => t.clear(),
            AnyTier::Sled(t) => t.clear().map_err(to_js)?,
        }
        Ok(())
    }

    /// Removes expired entries now; returns how many.
    #[napi(catch_unwind)]
    pub fn cleanup_expired(&self) -> Result<f64> {
        let n = match self.tier()? {
            AnyTier::Memory(t) => t.cleanup_expired(),
            AnyTier::Sled(t) => t.cleanup_expired().map_err(to_js)?,
        };
        Ok(n as f64)
    }

    /// Sweeps expired entries every `interval_ms` on a background thread.
    #[napi(catch_unwind)]
    pub fn start_cleanup_task(&mut self, interval_ms: f64) -> Result<CleanupHandle> {
        if !interval_ms.is_finite() || interval_ms < 1.0 {
            return Err(invalid(format!(
                "cleanup interval must be a finite number of milliseconds >= 1, got {interval_ms}"
            )));
        }
        let interval = Duration::from_millis(interval_ms as u64);
        let task = CleanupTask::start(self.tier()?.sweep_target(), interval).map_err(to_js)?;
        self.cleanup.retain(|t| !t.is_stopped());
        self.cleanup.push(task.clone());
        Ok(CleanupHandle { task })
    }

    /// Counters and sizes.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Result<Stats> {
        Ok(match self.tier()? {
            AnyTier::Memory(t) => Stats::from_snapshot(t.stats(), None),
            AnyTier::Sled(t) => {
                Stats::from_snapshot(t.stats(), Some(t.size_on_disk().map_err(to_js)?))
            }
        })
    }

    /// Writes every earlier write to disk, on a worker thread (sled tier).
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn flush(&self) -> Result<AsyncTask<FlushTask>> {
        Ok(AsyncTask::new(FlushTask::new(self.sled()?)))
    }

    /// Bytes on disk, measured on a worker thread (sled tier).
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn size_on_disk(&self) -> Result<AsyncTask<SizeTask>> {
        Ok(AsyncTask::new(SizeTask::new(self.sled()?)))
    }

    /// Takes a checkpoint's cut now and writes it to `path` on a worker thread.
    #[napi(catch_unwind, ts_return_type = "Promise<CheckpointResult>")]
    pub fn checkpoint(
        &self,
        path: String,
        options: CheckpointOptions,
    ) -> Result<AsyncTask<CheckpointTask>> {
        let req = options.into_request(path)?;
        CheckpointTask::begin(self.tier()?, req)
    }

    /// Restores the checkpoint at `path` (and its chain) on a worker thread. The memory
    /// tier's new state is switched in by `adopt()`; the sled tier's in place.
    #[napi(catch_unwind, ts_return_type = "Promise<Restored>")]
    pub fn restore(&self, path: String) -> Result<AsyncTask<RestoreTask>> {
        if path.is_empty() {
            return Err(invalid("path must be a non-empty string"));
        }
        let path = std::path::PathBuf::from(path);
        Ok(AsyncTask::new(match self.tier()? {
            AnyTier::Memory(t) => RestoreTask::Memory(path, t.default_ttl()),
            AnyTier::Sled(t) => RestoreTask::Sled(path, Arc::clone(t)),
        }))
    }

    /// Switches in the state a memory-tier restore built, keeping the counters.
    #[napi(catch_unwind)]
    pub fn adopt(&mut self, restored: &mut Restored) -> Result<()> {
        let current = self.tier()?.clone();
        if let (Some(AnyTier::Memory(next)), AnyTier::Memory(old)) =
            (restored.tier.take(), &current)
        {
            next.absorb_counters(old);
            let next = AnyTier::Memory(next);
            for task in &self.cleanup {
                task.retarget(next.sweep_target());
            }
            crate::fast_path::update(self.handle, Some(&next));
            self.tier = Some(next);
        }
        Ok(())
    }

    /// Releases the store; every later call fails with `ERR_STATEKIT_CLOSED`. A sled
    /// store is flushed and its directory unlocked by the time the Promise resolves.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&mut self) -> AsyncTask<CloseTask> {
        crate::fast_path::update(self.handle, None);
        AsyncTask::new(CloseTask::new(self.tier.take()))
    }

    /// The store's handle for the fast-path functions.
    #[napi(getter)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.tier.is_none()
    }
}
