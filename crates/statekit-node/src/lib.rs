//! statekit-node: the N-API binding of statekit-core. Argument conversion, the fast
//! path, the `#[napi(object)]` types and error codes only; every operation is one
//! call on the core's `Store`.

#![deny(clippy::all)]
// napi-derive registers exports only outside `cfg(test)`, so a test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod change_log;
mod checkpoints;
mod cursor;
mod error;
mod fast_calls;
mod fast_path;
mod limits;
mod options;
mod panic_hook;
mod share;
mod stats;
mod store;
mod tasks;
mod tools;

/// Runs when a JavaScript thread (the main one or a worker) loads the addon: installs
/// the panic hook that keeps caught panics off stderr (see `panic_hook.rs`).
#[napi_derive::napi(module_exports)]
pub fn init(_exports: napi::bindgen_prelude::Object) -> napi::Result<()> {
    panic_hook::install_on_js_thread();
    Ok(())
}

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
