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
use statekit_core::ttl::Ttl;

use crate::error::{invalid, Result};
use crate::store::AnyTier;

/// The key was not found (or had expired).
pub const MISS: i32 = -1;
/// The value does not fit the shared value buffer.
pub const TOO_BIG: i32 = -2;
/// Anything else: closed store, bad key, I/O error.
pub const SLOW: i32 = -3;

thread_local! {
    /// The shared key and value buffers of this thread's JavaScript environment.
    static BUFFERS: Cell<(*mut u8, usize, *mut u8, usize)> =
        const { Cell::new((std::ptr::null_mut(), 0, std::ptr::null_mut(), 0)) };
    /// The open stores of this thread, by handle.
    static STORES: RefCell<Vec<Option<AnyTier>>> = const { RefCell::new(Vec::new()) };
}

/// Registers a store for the fast path; returns its handle. Handles are never reused,
/// so a closed store's handle can never reach another store.
pub fn register(tier: &AnyTier) -> u32 {
    STORES.with(|s| {
        let mut s = s.borrow_mut();
        s.push(Some(tier.clone()));
        (s.len() - 1) as u32
    })
}

/// Points a handle at another tier (a restore), or at none (close).
pub fn update(handle: u32, tier: Option<&AnyTier>) {
    STORES.with(|s| {
        if let Some(slot) = s.borrow_mut().get_mut(handle as usize) {
            *slot = tier.cloned();
        }
    });
}

/// Registers this thread's shared buffers; returns whether they are now the ones the
/// fast path uses. Only the first registration in a thread takes effect: a second
/// instance of the JavaScript module in the same thread (a test runner that reloads
/// modules) gets `false` and must use the general path, so no instance can ever read
/// another's buffer. The registered module keeps its buffers alive for as long as it
/// can call these functions.
#[napi]
pub fn register_buffers(mut key: BufferSlice, mut value: BufferSlice) -> Result<bool> {
    if key.len() < statekit_core::limits::MAX_KEY_BYTES + CONTROL_BYTES
        || (key.as_ptr() as usize + key.len()) % 8 != 0
    {
        return Err(invalid("the shared key buffer is too small or misaligned"));
    }
    Ok(BUFFERS.with(|b| {
        if !b.get().0.is_null() {
            return false;
        }
        b.set((key.as_mut_ptr(), key.len(), value.as_mut_ptr(), value.len()));
        true
    }))
}

/// Bytes of control words at the end of the key buffer.
pub const CONTROL_BYTES: usize = 32;

/// The control words: written by JavaScript before a call, `result` by Rust.
#[repr(C)]
struct Control {
    handle: u32,
    key_len: u32,
    result: i32,
    value_len: u32,
    /// Milliseconds; -1 for the store's default.
    ttl: f64,
}

/// The key (in the shared key buffer) and the control words of this thread.
#[inline]
fn call() -> Option<(&'static [u8], &'static mut Control)> {
    let (kptr, klen, _, _) = BUFFERS.with(Cell::get);
    if kptr.is_null() {
        return None;
    }
    // SAFETY: the buffers were registered by this thread's JavaScript environment,
    // which keeps them alive; JavaScript is not running while this call runs. The
    // control words are the last CONTROL_BYTES of the key buffer, 8-byte aligned
    // (checked at registration), and no key reaches them.
    unsafe {
        let ctl = &mut *(kptr.add(klen - CONTROL_BYTES) as *mut Control);
        let n = (ctl.key_len as usize).min(klen - CONTROL_BYTES);
        Some((std::slice::from_raw_parts(kptr, n), ctl))
    }
}

fn value_buffer() -> &'static mut [u8] {
    let (_, _, vptr, vlen) = BUFFERS.with(Cell::get);
    if vptr.is_null() {
        return &mut [];
    }
    // SAFETY: as for the key buffer; the key and value buffers do not overlap.
    unsafe { std::slice::from_raw_parts_mut(vptr, vlen) }
}

/// Runs `f` on the store of the call's handle and its key; stores the result.
#[inline]
fn run(f: impl FnOnce(&AnyTier, &[u8], &Control) -> i32) {
    let Some((key, ctl)) = call() else { return };
    ctl.result = STORES.with(|s| match s.borrow().get(ctl.handle as usize) {
        Some(Some(t)) => f(t, key, ctl),
        _ => SLOW,
    });
}

/// Copies the live value of the key into the value buffer; result: its length.
#[napi(catch_unwind)]
pub fn fast_get() -> Result<()> {
    run(|t, key, _| {
        let out = value_buffer();
        let copy = |v: &[u8]| {
            if v.len() > out.len() {
                return TOO_BIG;
            }
            out[..v.len()].copy_from_slice(v);
            v.len() as i32
        };
        let found = match t {
            AnyTier::Memory(m) => Ok(m.peek_with(key, copy)),
            AnyTier::Sled(s) => s.peek_with(key, copy),
        };
        let n = match found {
            Err(_) => return SLOW,
            // Not counted: the general path reads (and counts) it again.
            Ok(Some(TOO_BIG)) => return TOO_BIG,
            Ok(Some(n)) => n,
            Ok(None) => MISS,
        };
        let (hits, misses) = if n >= 0 { (1, 0) } else { (0, 1) };
        match t {
            AnyTier::Memory(m) => m.record_gets(hits, misses),
            AnyTier::Sled(s) => s.record_gets(hits, misses),
        }
        n
    });
    Ok(())
}

/// Result: 1 if the key has a live value, 0 if not.
#[napi(catch_unwind)]
pub fn fast_has() -> Result<()> {
    run(|t, key, _| {
        let r = match t {
            AnyTier::Memory(m) => m.has(key),
            AnyTier::Sled(s) => s.has(key),
        };
        r.map_or(SLOW, i32::from)
    });
    Ok(())
}

/// Result: 1 if a live entry was removed, 0 if not.
#[napi(catch_unwind)]
pub fn fast_delete() -> Result<()> {
    run(|t, key, _| {
        let r = match t {
            AnyTier::Memory(m) => m.delete(key),
            AnyTier::Sled(s) => s.delete(key),
        };
        r.map_or(SLOW, i32::from)
    });
    Ok(())
}

/// Stores the value in the value buffer (`value_len` bytes) under the key; result 0.
#[napi(catch_unwind)]
pub fn fast_put() -> Result<()> {
    run(|t, key, ctl| {
        let ttl = if ctl.ttl == -1.0 {
            Ttl::Default
        } else {
            match Ttl::from_js(Some(ctl.ttl)) {
                Ok(ttl) => ttl,
                Err(_) => return SLOW,
            }
        };
        let Some(value) = value_buffer().get(..ctl.value_len as usize) else {
            return SLOW;
        };
        let r = match t {
            AnyTier::Memory(m) => m.put(key, value, ttl),
            AnyTier::Sled(s) => s.put(key, value, ttl),
        };
        r.map_or(SLOW, |()| 0)
    });
    Ok(())
}

/// Reads `key_len` keys (the control word is a count here), each a 2-byte
/// little-endian length and its bytes, from the key buffer. Writes to the value
/// buffer one 4-byte length per key (-1 for a miss) and then the values, end to end.
/// Result: the bytes of values written, or TOO_BIG if they do not fit.
#[napi(catch_unwind)]
pub fn fast_get_many() -> Result<()> {
    let Some((_, ctl)) = call() else {
        return Ok(());
    };
    let (kptr, klen, _, _) = BUFFERS.with(Cell::get);
    // SAFETY: as in `call`; the keys lie before the control words.
    let keys = unsafe { std::slice::from_raw_parts(kptr, klen - CONTROL_BYTES) };
    let count = ctl.key_len as usize;
    let out = value_buffer();
    let head = count * 4;
    if head > out.len() {
        ctl.result = TOO_BIG;
        return Ok(());
    }
    ctl.result = STORES.with(|s| {
        let s = s.borrow();
        let Some(Some(tier)) = s.get(ctl.handle as usize) else {
            return SLOW;
        };
        let (lens, values) = out.split_at_mut(head);
        let mut kpos = 0usize;
        let mut vpos = 0usize;
        // Counted only when the whole batch fits: otherwise the general path reads
        // (and counts) it again.
        let (mut hits, mut misses) = (0u64, 0u64);
        for i in 0..count {
            let Some(len) = keys
                .get(kpos..kpos + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            else {
                return SLOW;
            };
            let Some(key) = keys.get(kpos + 2..kpos + 2 + len) else {
                return SLOW;
            };
            kpos += 2 + len;
            let mut fits = true;
            let copy = |v: &[u8]| match values.get_mut(vpos..vpos + v.len()) {
                Some(dst) => {
                    dst.copy_from_slice(v);
                    v.len()
                }
                None => {
                    fits = false;
                    0
                }
            };
            let found = match tier {
                AnyTier::Memory(m) => Ok(m.peek_with(key, copy)),
                AnyTier::Sled(t) => t.peek_with(key, copy),
            };
            let n = match found {
                Ok(Some(n)) => {
                    hits += 1;
                    n as i32
                }
                Ok(None) => {
                    misses += 1;
                    MISS
                }
                Err(_) => return SLOW,
            };
            if !fits {
                return TOO_BIG;
            }
            lens[i * 4..i * 4 + 4].copy_from_slice(&n.to_le_bytes());
            vpos += n.max(0) as usize;
        }
        match tier {
            AnyTier::Memory(m) => m.record_gets(hits, misses),
            AnyTier::Sled(t) => t.record_gets(hits, misses),
        }
        vpos as i32
    });
    Ok(())
}
