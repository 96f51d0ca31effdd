//! `MemoryStore`: the memory tier as a JavaScript class. Argument conversion only.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Array, BufferSlice, Env};
use napi_derive::napi;
use statekit_core::cleanup::CleanupTask;
use statekit_core::limits::check_keys;
use statekit_core::memory::{MemoryTier, PutEntry};
use statekit_core::ttl::Ttl;

use crate::cursor::KeyCursor;
use crate::error::{closed, from_napi, to_js, Result};
use crate::range::RangeOptions;
use crate::stats::Stats;

/// The in-memory tier. Keys and values are bytes; the TypeScript layer converts.
#[napi]
pub struct MemoryStore {
    tier: Option<Arc<MemoryTier>>,
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

#[napi]
impl MemoryStore {
    /// A new empty store whose entries expire after `default_ttl_ms` (absent, 0 or
    /// infinity: never).
    #[napi(constructor, catch_unwind)]
    pub fn new(default_ttl_ms: Option<f64>) -> Result<Self> {
        let default = Ttl::default_from_js(default_ttl_ms).map_err(to_js)?;
        Ok(MemoryStore {
            tier: Some(Arc::new(MemoryTier::new(default))),
        })
    }

    fn tier(&self) -> Result<&Arc<MemoryTier>> {
        self.tier.as_ref().ok_or_else(closed)
    }

    /// The live value of `key`, copied into a new Buffer.
    #[napi(catch_unwind)]
    pub fn get<'e>(&self, env: &'e Env, key: &[u8]) -> Result<Option<BufferSlice<'e>>> {
        self.tier()?
            .get_with(key, |v| BufferSlice::copy_from(env, v))
            .map_err(to_js)?
            .transpose()
            .map_err(from_napi)
    }

    /// Whether `key` has a live value.
    #[napi(catch_unwind)]
    pub fn has(&self, key: &[u8]) -> Result<bool> {
        self.tier()?.has(key).map_err(to_js)
    }

    /// Stores `value` under `key` with an optional TTL in milliseconds.
    #[napi(catch_unwind)]
    pub fn put(&self, key: &[u8], value: &[u8], ttl_ms: Option<f64>) -> Result<()> {
        let tier = self.tier()?;
        tier.put(key, value, ttl(ttl_ms)?).map_err(to_js)
    }

    /// Removes `key`; returns whether a live entry was removed.
    #[napi(catch_unwind)]
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.tier()?.delete(key).map_err(to_js)
    }

    /// The live values of `keys` (`undefined` for a miss), in one call.
    #[napi(catch_unwind)]
    pub fn get_many<'e>(&self, env: &'e Env, keys: Array<'e>) -> Result<Array<'e>> {
        let tier = self.tier()?;
        let keys = slices(&keys)?;
        check_keys(&keys).map_err(to_js)?;
        let mut out = env.create_array(keys.len() as u32).map_err(from_napi)?;
        for (i, key) in keys.iter().enumerate() {
            let found = tier.get_with(key, |v| BufferSlice::copy_from(env, v));
            if let Some(buf) = found.map_err(to_js)? {
                out.set(i as u32, buf.map_err(from_napi)?)
                    .map_err(from_napi)?;
            }
        }
        Ok(out)
    }

    /// Stores every `[key, value, ttl]` triple given as three parallel arrays, all or
    /// none.
    #[napi(catch_unwind)]
    pub fn put_many(&self, keys: Array, values: Array, ttls: Vec<Option<f64>>) -> Result<()> {
        let tier = self.tier()?;
        let n = keys.len();
        if values.len() != n || ttls.len() != n as usize {
            return Err(to_js(statekit_core::Error::invalid_arg(
                "putMany: keys, values and ttls differ in length",
            )));
        }
        let mut entries = Vec::with_capacity(n as usize);
        for ((key, value), ttl_ms) in slices(&keys)?.into_iter().zip(slices(&values)?).zip(ttls) {
            entries.push(PutEntry {
                key,
                value,
                ttl: ttl(ttl_ms)?,
            });
        }
        tier.put_many(&entries).map_err(to_js)
    }

    /// Removes every key; returns for each whether a live entry was removed.
    #[napi(catch_unwind)]
    pub fn delete_many(&self, keys: Array) -> Result<Vec<bool>> {
        let tier = self.tier()?;
        tier.delete_many(&slices(&keys)?).map_err(to_js)
    }

    /// A cursor over the live keys of a range, in key order.
    #[napi(catch_unwind)]
    pub fn cursor(&self, range: RangeOptions) -> Result<KeyCursor> {
        let tier = self.tier()?;
        let range = range.into_range();
        Ok(KeyCursor::new(tier, tier.keys_in(&range)))
    }

    /// Removes every entry.
    #[napi(catch_unwind)]
    pub fn clear(&self) -> Result<()> {
        self.tier()?.clear();
        Ok(())
    }

    /// Removes expired entries now; returns how many.
    #[napi(catch_unwind)]
    pub fn cleanup_expired(&self) -> Result<f64> {
        Ok(self.tier()?.cleanup_expired() as f64)
    }

    /// Sweeps expired entries every `interval_ms` on a background thread.
    #[napi(catch_unwind)]
    pub fn start_cleanup_task(&self, interval_ms: f64) -> Result<CleanupHandle> {
        let tier = self.tier()?;
        if !interval_ms.is_finite() || interval_ms < 1.0 {
            return Err(to_js(statekit_core::Error::invalid_arg(format!(
                "cleanup interval must be a finite number of milliseconds >= 1, got {interval_ms}"
            ))));
        }
        let interval = Duration::from_millis(interval_ms as u64);
        let task = CleanupTask::start(Arc::downgrade(tier), interval).map_err(to_js)?;
        Ok(CleanupHandle { task })
    }

    /// Counters and sizes.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.tier()?.stats().into())
    }

    /// Releases the data; every later call fails with `ERR_STATEKIT_CLOSED`.
    #[napi]
    pub fn close(&mut self) {
        self.tier = None;
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.tier.is_none()
    }
}
