//! A panic hook that keeps caught panics off stderr. Every export runs under
//! `catch_unwind` on a JavaScript thread, and work on libuv's threads and statekit's own
//! runs under `statekit_core::panics::caught`: such a panic becomes an error that
//! carries its message, so printing it (and, with `RUST_BACKTRACE=1`, a backtrace)
//! would only be noise. A panic anywhere else still goes to the hook that was there
//! before (Rust's default: the message on stderr).

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Whether this thread is a JavaScript thread that loaded the addon.
    static JS_THREAD: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

/// Installs the hook (once per process) and marks the calling thread, a JavaScript
/// thread loading the addon, as one whose panics are caught.
pub fn install_on_js_thread() {
    JS_THREAD.with(|t| t.set(true));
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let caught = statekit_core::panics::catching() || JS_THREAD.with(|t| t.get());
            if !caught {
                previous(info);
            }
        }));
    });
}
