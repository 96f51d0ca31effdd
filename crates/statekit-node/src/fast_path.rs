//! The hot path: calls without arguments on buffers registered once per thread (the
//! lmdb-js technique, taken one step further). JavaScript writes the key into the
//! shared key buffer, and the store's handle, the key's length, a value's length and a
//! TTL into the control words at the end of that buffer; a read copies the value into
//! the shared value buffer. The result is a control word too. No object and no
//! argument crosses the boundary, no `this` is unwrapped, and nothing is allocated on
//! the Rust side.
//!
//! Results: a length or count (>= 0), or one of the negative codes below, on which
//! the TypeScript layer takes the general path (which reports the precise error).

use std::cell::{Cell, RefCell};

use napi::bindgen_prelude::BufferSlice;
use napi_derive::napi;
use statekit_core::{Attached, Copied, PutEntry, Store, Ttl};

use crate::error::{invalid, Result};

/// A store as the fast path of one thread holds it.
enum Handle {
    /// The handle that opened the store: called directly.
    Own(Store),
    /// A handle attached to a store shared by another: loaded per call, so that the
    /// owner's close reaches it.
    Attached(Attached),
}

/// The fast path's state in one thread: its JavaScript environment's shared key and
/// value buffers, and its open stores by handle. One thread-local, so a call looks
/// it up once (in an addon, each lookup is a call to `__tls_get_addr`).
struct Thread {
    buffers: Cell<(*mut u8, usize, *mut u8, usize)>,
    stores: RefCell<Vec<Option<Handle>>>,
}

thread_local! {
    static THREAD: Thread = const {
        Thread {
            buffers: Cell::new((std::ptr::null_mut(), 0, std::ptr::null_mut(), 0)),
            stores: RefCell::new(Vec::new()),
        }
    };
}

fn push(handle: Handle) -> u32 {
    THREAD.with(|t| {
        let mut s = t.stores.borrow_mut();
        s.push(Some(handle));
        (s.len() - 1) as u32
    })
}

/// Registers a store for the fast path of this thread; returns its handle. Handles are
/// never reused, so a closed store's handle can never reach another store.
pub fn register(store: &Store) -> u32 {
    push(Handle::Own(store.clone()))
}

/// Registers an attached store for the fast path of this thread; returns its handle.
pub fn register_attached(attached: &Attached) -> u32 {
    push(Handle::Attached(attached.clone()))
}

/// Ends a handle (the store was closed or collected).
pub fn unregister(handle: u32) {
    THREAD.with(|t| {
        if let Some(slot) = t.stores.borrow_mut().get_mut(handle as usize) {
            *slot = None;
        }
    });
}

/// Runs `f` on the store of `handle` among this thread's; FAST_SLOW if there is none
/// (or its owner closed it).
#[inline]
fn on_store(
    stores: &RefCell<Vec<Option<Handle>>>,
    handle: u32,
    f: impl FnOnce(&Store) -> i32,
) -> i32 {
    match stores.borrow().get(handle as usize) {
        Some(Some(Handle::Own(t))) => f(t),
        Some(Some(Handle::Attached(a))) => a.with(f).unwrap_or(FAST_SLOW),
        _ => FAST_SLOW,
    }
}

/// Registers this thread's shared buffers; returns whether they are now the ones the
/// fast path uses. Only the first registration in a thread takes effect: a second
/// instance of the JavaScript module in the same thread (a test runner that reloads
/// modules) gets `false` and must use the general path, so no instance can ever read
/// another's buffer. The registered module keeps its buffers alive for as long as it
/// can call these functions.
#[napi]
pub fn register_buffers(mut key: BufferSlice, mut value: BufferSlice) -> Result<bool> {
    if key.len() < statekit_core::MAX_KEY_BYTES + CONTROL_BYTES
        || (key.as_ptr() as usize + key.len()) % 8 != 0
    {
        return Err(invalid("the shared key buffer is too small or misaligned"));
    }
    Ok(THREAD.with(|t| {
        let b = &t.buffers;
        if !b.get().0.is_null() {
            return false;
        }
        b.set((key.as_mut_ptr(), key.len(), value.as_mut_ptr(), value.len()));
        true
    }))
}

/// Bytes of control words at the end of the key buffer.
const CONTROL_BYTES: usize = 32;

/// The control words: written by JavaScript before a call, `result` by Rust.
/// JavaScript sees the first four as an `Int32Array` and `ttl` as a `Float64Array`.
#[repr(C)]
struct Control {
    handle: u32,
    key_len: u32,
    result: i32,
    value_len: u32,
    /// Milliseconds; -1 for the store's default.
    ttl: f64,
}

// The layout JavaScript relies on, checked when the addon is compiled.
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<Control>() <= CONTROL_BYTES);
    assert!(align_of::<Control>() <= 8);
    assert!(offset_of!(Control, handle) == 4 * CTL_HANDLE as usize);
    assert!(offset_of!(Control, key_len) == 4 * CTL_KEY_LEN as usize);
    assert!(offset_of!(Control, result) == 4 * CTL_RESULT as usize);
    assert!(offset_of!(Control, value_len) == 4 * CTL_VALUE_LEN as usize);
    assert!(offset_of!(Control, ttl) == CTL_TTL_OFFSET as usize);
    assert!((statekit_core::MAX_KEY_BYTES + CONTROL_BYTES) % 8 == 0);
};

/// Bytes of control words after the largest key in the shared key buffer.
#[napi]
pub const FAST_CONTROL_BYTES: u32 = CONTROL_BYTES as u32;
/// Bytes of the shared value buffer: larger values take the general path.
#[napi]
pub const FAST_VALUE_BYTES: u32 = 1 << 20;
/// Index of the store's handle among the control words read as 32-bit integers.
#[napi]
pub const CTL_HANDLE: u32 = 0;
/// Index of the key's length (or a batch's key count).
#[napi]
pub const CTL_KEY_LEN: u32 = 1;
/// Index of the result: a length, a count, or a negative code.
#[napi]
pub const CTL_RESULT: u32 = 2;
/// Index of the value's length.
#[napi]
pub const CTL_VALUE_LEN: u32 = 3;
/// Byte offset of the TTL (a 64-bit float) within the control words.
#[napi]
pub const CTL_TTL_OFFSET: u32 = 16;
/// Result: the key was not found (or had expired).
#[napi]
pub const FAST_MISS: i32 = -1;
/// Result: the value does not fit the shared value buffer.
#[napi]
pub const FAST_TOO_BIG: i32 = -2;
/// Result: anything else (closed store, bad key, I/O error): take the general path.
#[napi]
pub const FAST_SLOW: i32 = -3;

/// One fast call's view of this thread's buffers.
struct Call {
    /// The key buffer before the control words (a key, or a batch's packed keys).
    keys: &'static [u8],
    ctl: &'static mut Control,
    value: &'static mut [u8],
}

impl Call {
    /// The key of a single-key call: the first `key_len` bytes.
    fn key(&self) -> &'static [u8] {
        let n = (self.ctl.key_len as usize).min(self.keys.len());
        &self.keys[..n]
    }
}

/// The buffers of this thread, if registered.
#[inline]
fn call_in(t: &Thread) -> Option<Call> {
    let (kptr, klen, vptr, vlen) = t.buffers.get();
    if kptr.is_null() {
        return None;
    }
    // SAFETY: the buffers were registered by this thread's JavaScript environment,
    // which keeps them alive; JavaScript is not running while this call runs. The
    // control words are the last CONTROL_BYTES of the key buffer, 8-byte aligned
    // (checked at registration), and no key reaches them; the key and value buffers
    // do not overlap.
    unsafe {
        let ctl = &mut *(kptr.add(klen - CONTROL_BYTES) as *mut Control);
        let keys = std::slice::from_raw_parts(kptr, klen - CONTROL_BYTES);
        let value: &'static mut [u8] = if vptr.is_null() {
            &mut []
        } else {
            std::slice::from_raw_parts_mut(vptr, vlen)
        };
        Some(Call { keys, ctl, value })
    }
}

/// Runs `f` on the store of the call's handle, with the call's buffers; stores the
/// result. One thread-local lookup for all of it.
#[inline]
fn run(f: impl FnOnce(&Store, &[u8], &Control, &mut [u8]) -> i32) {
    THREAD.with(|t| {
        let Some(c) = call_in(t) else { return };
        let key = c.key();
        let (ctl, value) = (c.ctl, c.value);
        ctl.result = on_store(&t.stores, ctl.handle, |s| f(s, key, ctl, value));
    });
}

/// The control word's value for a read's outcome.
fn result(copied: statekit_core::Result<Copied>) -> i32 {
    match copied {
        Ok(Copied::Bytes(n)) => n as i32,
        Ok(Copied::Miss) => FAST_MISS,
        Ok(Copied::TooBig) => FAST_TOO_BIG,
        Err(_) => FAST_SLOW,
    }
}

/// Copies the live value of the key into the value buffer; result: its length.
#[napi(catch_unwind)]
pub fn fast_get() -> Result<()> {
    get();
    Ok(())
}

pub(crate) fn get() {
    run(|t, key, _, out| result(t.get_into(key, out)));
}

/// Result: 1 if the key has a live value, 0 if not.
#[napi(catch_unwind)]
pub fn fast_has() -> Result<()> {
    has();
    Ok(())
}

pub(crate) fn has() {
    run(|t, key, _, _| t.has(key).map_or(FAST_SLOW, i32::from));
}

/// Result: 1 if a live entry was removed, 0 if not.
#[napi(catch_unwind)]
pub fn fast_delete() -> Result<()> {
    delete();
    Ok(())
}

pub(crate) fn delete() {
    run(|t, key, _, _| t.delete(key).map_or(FAST_SLOW, i32::from));
}

/// Stores the value in the value buffer (`value_len` bytes) under the key; result 0.
#[napi(catch_unwind)]
pub fn fast_put() -> Result<()> {
    put();
    Ok(())
}

pub(crate) fn put() {
    run(|t, key, ctl, out| {
        let ttl = if ctl.ttl == -1.0 {
            Ttl::Default
        } else {
            match Ttl::from_js(Some(ctl.ttl)) {
                Ok(ttl) => ttl,
                Err(_) => return FAST_SLOW,
            }
        };
        let Some(value) = out.get(..ctl.value_len as usize) else {
            return FAST_SLOW;
        };
        t.put(key, value, ttl).map_or(FAST_SLOW, |()| 0)
    });
}

/// Runs `f` on the store of the call's handle, the whole key buffer (packed keys), the
/// count in `key_len` and the value buffer; stores the result.
#[inline]
fn batch(f: impl FnOnce(&Store, &[u8], usize, &mut [u8]) -> i32) {
    THREAD.with(|t| {
        let Some(c) = call_in(t) else { return };
        let (keys, ctl, value) = (c.keys, c.ctl, c.value);
        let count = ctl.key_len as usize;
        ctl.result = on_store(&t.stores, ctl.handle, |s| f(s, keys, count, value));
    });
}

/// Reads `key_len` keys (the control word is a count here), packed in the key buffer
/// as `Store::get_many_into` reads them, and writes their lengths and values to the
/// value buffer. Result: the bytes of values written, or FAST_TOO_BIG.
#[napi(catch_unwind)]
pub fn fast_get_many() -> Result<()> {
    get_many();
    Ok(())
}

pub(crate) fn get_many() {
    batch(|t, keys, count, out| result(t.get_many_into(keys, count, out)));
}

/// Writes a batch of `key_len` entries, all or none, packed as `PutEntry::unpack`
/// reads them: the keys in the key buffer, TTLs, lengths and values in the value
/// buffer. Result: 0, or FAST_SLOW (the general path reports the precise error).
#[napi(catch_unwind)]
pub fn fast_put_many() -> Result<()> {
    put_many();
    Ok(())
}

pub(crate) fn put_many() {
    batch(
        |t, keys, count, out| match PutEntry::unpack(keys, count, out) {
            Ok(entries) => t.put_many(&entries).map_or(FAST_SLOW, |()| 0),
            Err(_) => FAST_SLOW,
        },
    );
}

/// Sets the result control word (a fast call that panicked: FAST_SLOW).
pub(crate) fn set_result(code: i32) {
    THREAD.with(|t| {
        if let Some(c) = call_in(t) {
            c.ctl.result = code;
        }
    });
}
