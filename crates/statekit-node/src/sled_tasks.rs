//! Work on the sled tier that may block (open, flush, size, close) runs on libuv's
//! worker threads and resolves one Promise. Errors travel as `"CODE: message"`, which
//! the TypeScript layer turns back into a StateError.

use std::sync::Arc;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{Env, Status, Task};
use statekit_core::sled_open::SledOptions;
use statekit_core::sled_tier::SledTier;

use crate::store::{AnyTier, NativeStore};

fn task_err(e: statekit_core::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, e.to_string())
}

/// Opens a sled store.
pub struct OpenTask {
    options: SledOptions,
}

impl OpenTask {
    pub fn new(options: SledOptions) -> Self {
        OpenTask { options }
    }
}

impl Task for OpenTask {
    type Output = SledTier;
    type JsValue = NativeStore;

    fn compute(&mut self) -> napi::Result<SledTier> {
        SledTier::open(&self.options).map_err(task_err)
    }

    fn resolve(&mut self, _env: Env, tier: SledTier) -> napi::Result<NativeStore> {
        Ok(NativeStore::from_tier(AnyTier::Sled(Arc::new(tier))))
    }
}

/// Flushes a sled store.
pub struct FlushTask(Arc<SledTier>);

impl FlushTask {
    pub fn new(tier: &Arc<SledTier>) -> Self {
        FlushTask(Arc::clone(tier))
    }
}

impl Task for FlushTask {
    type Output = u64;
    type JsValue = f64;

    fn compute(&mut self) -> napi::Result<u64> {
        self.0.flush().map_err(task_err)
    }

    fn resolve(&mut self, _env: Env, n: u64) -> napi::Result<f64> {
        Ok(n as f64)
    }
}

/// Measures a sled store on disk.
pub struct SizeTask(Arc<SledTier>);

impl SizeTask {
    pub fn new(tier: &Arc<SledTier>) -> Self {
        SizeTask(Arc::clone(tier))
    }
}

impl Task for SizeTask {
    type Output = u64;
    type JsValue = f64;

    fn compute(&mut self) -> napi::Result<u64> {
        self.0.size_on_disk().map_err(task_err)
    }

    fn resolve(&mut self, _env: Env, n: u64) -> napi::Result<f64> {
        Ok(n as f64)
    }
}

/// Closes a store: a sled store is flushed, then dropped once no worker (a cleanup
/// sweep, a flush) still holds it, which closes sled and releases the directory lock.
pub struct CloseTask(Option<AnyTier>);

impl CloseTask {
    pub fn new(tier: Option<AnyTier>) -> Self {
        CloseTask(tier)
    }
}

impl Task for CloseTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let Some(AnyTier::Sled(tier)) = self.0.take() else {
            return Ok(());
        };
        let flushed = tier.flush();
        let mut tier = tier;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Arc::try_unwrap(tier) {
                Ok(owned) => {
                    drop(owned);
                    break;
                }
                Err(shared) if Instant::now() < deadline => {
                    tier = shared;
                    std::thread::sleep(Duration::from_millis(1));
                }
                // Still shared after 30 s: the last holder closes it when it finishes.
                Err(_) => break,
            }
        }
        flushed.map(|_| ()).map_err(task_err)
    }

    fn resolve(&mut self, _env: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}
