//! statekit-node: the N-API binding of statekit-core. Argument conversion, the fast
//! path, the `#[napi(object)]` types and error codes only; every operation is one
//! call on the core's `Store`.

#![deny(clippy::all)]
// napi-derive registers exports only outside `cfg(test)`, so a test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod checkpoints;
mod cursor;
mod error;
mod fast_calls;
mod fast_path;
mod limits;
mod options;
mod stats;
mod store;
mod tasks;
mod tools;

/// Panics on purpose, under `catch_unwind`: the tests call it to prove that a Rust
/// panic reaches JavaScript as an error and the process lives on. Not part of the
/// public TypeScript API.
#[napi_derive::napi(js_name = "__panicForTest", catch_unwind)]
pub fn panic_for_test() -> napi::Result<()> {
    panic!("statekit test panic")
}

/// mimalloc serves the addon's many small allocations (a key and a value per entry)
/// faster and with less per-allocation overhead than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
