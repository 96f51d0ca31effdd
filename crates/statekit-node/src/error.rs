//! Engine errors to JavaScript errors whose `code` is the stable statekit code, for
//! calls that throw and for Promises that reject.

use napi::bindgen_prelude::{Env, Status};

/// The `code` string of a thrown error.
#[derive(Debug, Clone, Copy)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl From<Status> for Code {
    fn from(_: Status) -> Self {
        Code("ERR_STATEKIT_INVALID_ARG")
    }
}

/// A JavaScript error carrying a statekit code.
pub type JsError = napi::Error<Code>;
/// The result type of every exported function.
pub type Result<T> = std::result::Result<T, JsError>;

/// Converts an engine error.
pub fn to_js(e: statekit_core::Error) -> JsError {
    napi::Error::new(Code(e.code.as_str()), e.message)
}

/// Converts an N-API error (bad argument types) to an invalid-argument error.
pub fn from_napi(e: napi::Error) -> JsError {
    napi::Error::new(Code("ERR_STATEKIT_INVALID_ARG"), e.reason.clone())
}

/// The error of any call on a closed store.
pub fn closed() -> JsError {
    to_js(statekit_core::Error::closed())
}

/// An invalid-argument error.
pub fn invalid(message: impl Into<String>) -> JsError {
    to_js(statekit_core::Error::invalid_arg(message))
}

/// The rejection of a Promise: a JavaScript `Error` built on the JavaScript thread
/// with the engine error's code and message, which napi-rs passes to `reject` as is.
pub fn rejection(env: Env, e: statekit_core::Error) -> napi::Error {
    let js = napi::JsError::from(to_js(e)).into_unknown(env);
    napi::Error::from(js)
}
