//! The fast path's calls as bare N-API callbacks. A `#[napi]` function pays napi-rs's
//! per-call machinery (its borrow-scope barrier, the return value's conversion):
//! about 220 of the 1,050 instructions of a cached `fastGet`, measured with callgrind.
//! These take no argument and return nothing, so they need none of it: N-API calls
//! straight into them, and they run the same code as the `#[napi]` fast functions.
//! A panic is caught here and turns into FAST_SLOW, so the general path runs and
//! reports it; none crosses into Node.

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use napi::bindgen_prelude::{Env, FromNapiValue, Object};
use napi::sys;
use napi_derive::napi;

use crate::fast_path;

/// Runs a fast call, turning a panic into FAST_SLOW.
fn guarded(f: fn()) -> sys::napi_value {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        fast_path::set_result(fast_path::FAST_SLOW);
    }
    // NULL: the call returns `undefined`.
    ptr::null_mut()
}

macro_rules! raw_call {
    ($name:ident, $body:path) => {
        unsafe extern "C" fn $name(
            _env: sys::napi_env,
            _info: sys::napi_callback_info,
        ) -> sys::napi_value {
            guarded($body)
        }
    };
}

raw_call!(raw_get, fast_path::get);
raw_call!(raw_has, fast_path::has);
raw_call!(raw_delete, fast_path::delete);
raw_call!(raw_put, fast_path::put);
raw_call!(raw_get_many, fast_path::get_many);
raw_call!(raw_put_many, fast_path::put_many);

/// The fast calls as bare N-API functions: an object with `get`, `has`, `delete`,
/// `put`, `getMany` and `putMany`, each doing what the `fast*` function of the same
/// name does. Fetched once by the TypeScript layer.
#[napi(
    ts_return_type = "{ get(): void; has(): void; delete(): void; put(): void; getMany(): void; putMany(): void }"
)]
pub fn fast_calls(env: Env) -> napi::Result<Object<'static>> {
    let calls: [(&CStr, sys::napi_callback); 6] = [
        (c"get", Some(raw_get)),
        (c"has", Some(raw_has)),
        (c"delete", Some(raw_delete)),
        (c"put", Some(raw_put)),
        (c"getMany", Some(raw_get_many)),
        (c"putMany", Some(raw_put_many)),
    ];
    let check = |status: sys::napi_status| match status {
        sys::Status::napi_ok => Ok(()),
        _ => Err(napi::Error::from_reason(
            "could not create the fast path's functions",
        )),
    };
    let env = env.raw();
    let mut out = ptr::null_mut();
    // SAFETY: plain N-API calls with this call's env, NUL-terminated names, and
    // callbacks that never unwind; every value is created in this env.
    unsafe {
        check(sys::napi_create_object(env, &mut out))?;
        for (name, cb) in calls {
            let mut f = ptr::null_mut();
            check(sys::napi_create_function(
                env,
                name.as_ptr(),
                name.to_bytes().len() as isize,
                cb,
                ptr::null_mut(),
                &mut f,
            ))?;
            check(sys::napi_set_named_property(env, out, name.as_ptr(), f))?;
        }
        Object::from_napi_value(env, out)
    }
}
