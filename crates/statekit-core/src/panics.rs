//! Panics that statekit catches and turns into errors. While a closure runs under
//! [`caught`], this thread is marked as catching, so a panic hook (the binding
//! installs one) can stay silent: the panic's message goes into the error instead of
//! stderr.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, catching a panic; marks this thread as catching while it runs.
pub fn caught<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    result
}

/// Whether a panic on this thread now will be caught by [`caught`].
pub fn catching() -> bool {
    CATCHING.with(|c| c.get() > 0)
}

/// The message a panic carried.
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_gives_its_message_and_the_mark_is_scoped() {
        assert!(!catching());
        let seen = caught(catching).unwrap();
        assert!(seen, "marked while the closure runs");
        let err = caught(|| -> u32 { panic!("boom {}", 7) }).unwrap_err();
        assert_eq!(message(err.as_ref()), "boom 7");
        assert!(!catching(), "unmarked after a panic too");
    }
}
