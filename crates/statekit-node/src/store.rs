//! `NativeStore`: a store of either tier as one JavaScript class. Argument conversion
//! only; every operation is one call on the engine's `Store`.

use std::cell::RefCell;
use std::time::Duration;

use napi::bindgen_prelude::{Array, AsyncTask, BufferSlice, Env};
use napi_derive::napi;
use statekit_core::{Attached, CleanupTask, PutEntry, ShareTicket, Sharing, Store, Ttl};

use crate::checkpoints::{CheckpointWork, RestoreWork, Restored};
use crate::error::{closed, from_napi, invalid, to_js, Result};
use crate::options::{CheckpointOptions, RangeOptions, SledConfig};
use crate::stats::Stats;
use crate::tasks::{job, Job, Work};

/// A store of either tier. Keys and values are bytes; the TypeScript layer converts.
#[napi]
///
/// Every method takes `&self`: napi-rs keeps a method's borrow of `this` until the
/// Promise it returns settles, so a `&mut self` method would make every call made
/// during a checkpoint, a restore or a close fail with a borrow error. The state lives
/// in cells instead; the object is only ever used on its JavaScript thread.
pub struct NativeStore {
    access: RefCell<Access>,
    /// The store's handle on the fast path of this thread (see `fast_path`).
    handle: u32,
}

/// How a `NativeStore` reaches its store.
enum Access {
    /// It opened the store; `sharing` once `share()` was called. Its close closes the
    /// store for every thread.
    Owner {
        store: Store,
        sharing: Option<Sharing>,
    },
    /// It attached to a store another handle shared; its close detaches it only.
    Attached(Attached, ShareTicket),
    /// `close()` was called.
    Closed,
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
pub fn slices<'a>(array: &Array<'a>) -> Result<Vec<&'a [u8]>> {
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
    fn new(store: Store) -> Self {
        NativeStore {
            handle: crate::fast_path::register(&store),
            access: RefCell::new(Access::Owner {
                store,
                sharing: None,
            }),
        }
    }

    /// A handle on a store shared by another `NativeStore` (of any thread).
    fn from_attached(attached: Attached, ticket: ShareTicket) -> Self {
        NativeStore {
            handle: crate::fast_path::register_attached(&attached),
            access: RefCell::new(Access::Attached(attached, ticket)),
        }
    }

    /// Runs `f` on the store, or fails with `ERR_STATEKIT_CLOSED`.
    fn with<R>(&self, f: impl FnOnce(&Store) -> statekit_core::Result<R>) -> Result<R> {
        match &*self.access.borrow() {
            Access::Owner { store, .. } => f(store).map_err(to_js),
            Access::Attached(a, _) => a.with(f).and_then(|r| r).map_err(to_js),
            Access::Closed => Err(closed()),
        }
    }

    /// Another handle on the store (for work on another thread), or
    /// `ERR_STATEKIT_CLOSED`.
    pub(crate) fn store(&self) -> Result<Store> {
        self.with(|s| Ok(s.clone()))
    }
}

/// A store that JavaScript dropped without closing is released when it is collected:
/// its fast-path registration is the last strong handle the addon keeps. An owner's
/// sharing ends with it (attached handles then get `ERR_STATEKIT_CLOSED`).
impl Drop for NativeStore {
    fn drop(&mut self) {
        crate::fast_path::unregister(self.handle);
    }
}

/// Opens a sled store on a worker thread.
pub struct OpenWork(Option<statekit_core::SledOptions>);

impl Work for OpenWork {
    type Output = Store;
    type JsValue = NativeStore;

    fn run(&mut self) -> statekit_core::Result<Store> {
        let options = self.0.take().ok_or_else(statekit_core::Error::closed)?;
        Store::open_sled(&options)
    }

    fn done(&mut self, _env: Env, store: Store) -> napi::Result<NativeStore> {
        Ok(NativeStore::new(store))
    }
}

/// Opens (or creates) a sled store on a worker thread.
#[napi(catch_unwind, ts_return_type = "Promise<NativeStore>")]
pub fn open_sled(config: SledConfig) -> Result<AsyncTask<Job<OpenWork>>> {
    Ok(job(OpenWork(Some(config.into_options()?))))
}

/// Blocking work on an open store that resolves to a number.
pub enum StoreWork {
    Flush(Store),
    Size(Store),
}

impl Work for StoreWork {
    type Output = u64;
    type JsValue = f64;

    fn run(&mut self) -> statekit_core::Result<u64> {
        match self {
            StoreWork::Flush(s) => s.flush(),
            StoreWork::Size(s) => s.size_on_disk(),
        }
    }

    fn done(&mut self, _env: Env, n: u64) -> napi::Result<f64> {
        Ok(n as f64)
    }
}

/// Releases a store's handle on a worker thread (a sled store is flushed and closed).
pub struct CloseWork(Option<Store>);

impl Work for CloseWork {
    type Output = ();
    type JsValue = ();

    fn run(&mut self) -> statekit_core::Result<()> {
        match self.0.take() {
            Some(s) => s.close(Duration::from_secs(30)),
            None => Ok(()),
        }
    }

    fn done(&mut self, _env: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}

#[napi]
impl NativeStore {
    /// A new empty memory-tier store whose entries expire after `default_ttl_ms`
    /// (absent, 0 or infinity: never).
    #[napi(factory, catch_unwind)]
    pub fn memory(default_ttl_ms: Option<f64>) -> Result<Self> {
        let default = Ttl::default_from_js(default_ttl_ms).map_err(to_js)?;
        Ok(Self::new(Store::memory(default)))
    }

    /// `"memory"` or `"sled"`.
    #[napi(getter)]
    pub fn tier(&self) -> Result<&'static str> {
        self.with(|s| Ok(s.tier_name()))
    }

    /// The live value of `key`, copied into a new Buffer.
    #[napi(catch_unwind)]
    pub fn get<'e>(&self, env: &'e Env, key: &[u8]) -> Result<Option<BufferSlice<'e>>> {
        self.with(|s| s.get_with(key, |v| BufferSlice::copy_from(env, v)))?
            .transpose()
            .map_err(from_napi)
    }

    /// Whether `key` has a live value.
    #[napi(catch_unwind)]
    pub fn has(&self, key: &[u8]) -> Result<bool> {
        self.with(|s| s.has(key))
    }

    /// Stores `value` under `key` with an optional TTL in milliseconds.
    #[napi(catch_unwind)]
    pub fn put(&self, key: &[u8], value: &[u8], ttl_ms: Option<f64>) -> Result<()> {
        let ttl = ttl(ttl_ms)?;
        self.with(|s| s.put(key, value, ttl))
    }

    /// Removes `key`; returns whether a live entry was removed.
    #[napi(catch_unwind)]
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.with(|s| s.delete(key))
    }

    /// The live values of `keys` (holes for misses), in one call.
    #[napi(catch_unwind)]
    pub fn get_many<'e>(&self, env: &'e Env, keys: Array<'e>) -> Result<Array<'e>> {
        let keys = slices(&keys)?;
        let mut out = env.create_array(keys.len() as u32).map_err(from_napi)?;
        let mut failed = None;
        self.with(|s| {
            s.get_many_with(&keys, |i, found| {
                let Some(v) = found else { return };
                let set = BufferSlice::copy_from(env, v).and_then(|b| out.set(i as u32, b));
                if let Err(e) = set {
                    failed.get_or_insert(e);
                }
            })
        })?;
        match failed {
            Some(e) => Err(from_napi(e)),
            None => Ok(out),
        }
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
        for ((key, value), t) in keys.into_iter().zip(values).zip(ttls) {
            entries.push(PutEntry {
                key,
                value,
                ttl: ttl(t)?,
            });
        }
        self.with(|s| s.put_many(&entries))
    }

    /// Removes every key, or none if any is invalid; returns for each whether a live
    /// entry was removed.
    #[napi(catch_unwind)]
    pub fn delete_many(&self, keys: Array) -> Result<Vec<bool>> {
        let keys = slices(&keys)?;
        self.with(|s| s.delete_many(&keys))
    }

    /// A cursor over the live entries of a range, in key order.
    #[napi(catch_unwind)]
    pub fn cursor(&self, range: RangeOptions) -> Result<crate::cursor::Cursor> {
        let range = range.into();
        self.with(|s| Ok(crate::cursor::Cursor::from(s.cursor(range))))
    }

    /// Removes every entry.
    #[napi(catch_unwind)]
    pub fn clear(&self) -> Result<()> {
        self.with(Store::clear)
    }

    /// Removes expired entries now; returns how many.
    #[napi(catch_unwind)]
    pub fn cleanup_expired(&self) -> Result<f64> {
        Ok(self.with(Store::cleanup_expired)? as f64)
    }

    /// Sweeps expired entries every `interval_ms` (at least 1) on a background thread.
    #[napi(catch_unwind)]
    pub fn start_cleanup_task(&self, interval_ms: f64) -> Result<CleanupHandle> {
        if !interval_ms.is_finite() || interval_ms < 1.0 {
            return Err(invalid(format!(
                "cleanup interval must be a finite number of milliseconds >= 1, got {interval_ms}"
            )));
        }
        let interval = Duration::from_millis(interval_ms as u64);
        let task = self.with(|s| s.start_cleanup(interval))?;
        Ok(CleanupHandle { task })
    }

    /// Counters and sizes.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.with(Store::stats)?.into())
    }

    /// Writes every earlier write to disk, on a worker thread (sled tier, or a memory
    /// tier's change log).
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn flush(&self) -> Result<AsyncTask<Job<StoreWork>>> {
        Ok(job(StoreWork::Flush(self.store()?)))
    }

    /// Bytes on disk, measured on a worker thread (sled tier).
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn size_on_disk(&self) -> Result<AsyncTask<Job<StoreWork>>> {
        Ok(job(StoreWork::Size(self.store()?)))
    }

    /// Takes a checkpoint's cut now and writes it to `path` on a worker thread.
    #[napi(catch_unwind, ts_return_type = "Promise<CheckpointResult>")]
    pub fn checkpoint(
        &self,
        path: String,
        options: CheckpointOptions,
    ) -> Result<AsyncTask<Job<CheckpointWork>>> {
        let req = options.into_request(path)?;
        let pending = self.with(|s| s.begin_checkpoint(req))?;
        Ok(job(CheckpointWork(pending)))
    }

    /// Restores the checkpoint at `path` (and its chain) on a worker thread; `adopt()`
    /// then switches the store to the restored state.
    #[napi(catch_unwind, ts_return_type = "Promise<Restored>")]
    pub fn restore(&self, path: String) -> Result<AsyncTask<Job<RestoreWork>>> {
        let pending = self.with(|s| s.begin_restore(std::path::Path::new(&path)))?;
        Ok(job(RestoreWork(pending)))
    }

    /// Switches in the state a restore built, keeping the counters: at once for every
    /// handle on the store, in every thread.
    #[napi(catch_unwind)]
    pub fn adopt(&self, restored: &mut Restored) -> Result<()> {
        self.with(|s| {
            s.adopt(&mut restored.0);
            Ok(())
        })
    }

    /// Releases the handle; every later call on it fails with `ERR_STATEKIT_CLOSED`.
    /// The owner's close closes the store for every thread (a sled store is flushed
    /// and its directory unlocked by the time the Promise resolves); an attached
    /// handle's close detaches it only.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job<CloseWork>> {
        crate::fast_path::unregister(self.handle);
        let store = match self.access.replace(Access::Closed) {
            Access::Owner { store, sharing } => {
                if let Some(sharing) = sharing {
                    sharing.revoke();
                }
                Some(store)
            }
            Access::Attached(..) | Access::Closed => None,
        };
        job(CloseWork(store))
    }

    /// Shares the store with the other threads of this process: the returned ticket
    /// attaches to it (`attach`). The same ticket every time.
    #[napi(catch_unwind)]
    pub fn share(&self) -> Result<crate::share::ShareDescriptor> {
        let mut access = self.access.borrow_mut();
        let ticket = match &mut *access {
            Access::Owner { store, sharing } => match sharing {
                Some(s) => s.ticket(),
                None => {
                    let s = store.share().map_err(to_js)?;
                    let ticket = s.ticket();
                    *sharing = Some(s);
                    ticket
                }
            },
            Access::Attached(a, ticket) => {
                a.with(|_| ()).map_err(to_js)?;
                ticket.clone()
            }
            Access::Closed => return Err(closed()),
        };
        Ok(ticket.into())
    }

    /// A handle on the store a `share()` descriptor names, from any thread of this
    /// process: `ERR_STATEKIT_INVALID_ARG` for a malformed or foreign descriptor,
    /// `ERR_STATEKIT_CLOSED` once the store's owner closed it.
    #[napi(factory, catch_unwind)]
    pub fn attach(descriptor: crate::share::ShareDescriptor) -> Result<Self> {
        let (attached, ticket) = crate::share::attach(&descriptor)?;
        Ok(Self::from_attached(attached, ticket))
    }

    /// Whether this handle is attached to a store another handle shared.
    #[napi(getter)]
    pub fn attached(&self) -> bool {
        matches!(&*self.access.borrow(), Access::Attached(..))
    }

    /// The store's handle for the fast-path functions.
    #[napi(getter)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Whether `close()` was called (or, for an attached handle, the owner closed it).
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        match &*self.access.borrow() {
            Access::Closed => true,
            Access::Attached(a, _) => a.with(|_| ()).is_err(),
            Access::Owner { .. } => false,
        }
    }
}
