//! A background thread that sweeps expired entries at a fixed interval.
//!
//! The thread holds only a weak reference to its tier, so dropping the tier ends it;
//! `stop()` ends it at once without waiting for a sweep in progress. It is a plain OS
//! thread: it never keeps a Node.js process alive.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};

/// Something whose expired entries can be swept.
pub trait Sweep: Send + Sync + 'static {
    /// Removes expired entries; returns how many.
    fn sweep(&self) -> u64;
}

#[derive(Default)]
struct Signal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// Handle of a running cleanup task.
#[derive(Clone)]
pub struct CleanupTask {
    signal: Arc<Signal>,
}

impl CleanupTask {
    /// Starts sweeping `target` every `interval`.
    pub fn start(target: Weak<dyn Sweep>, interval: Duration) -> Result<CleanupTask> {
        if interval.is_zero() {
            return Err(Error::invalid_arg(
                "cleanup interval must be a positive number of milliseconds",
            ));
        }
        let signal = Arc::new(Signal::default());
        let sig = Arc::clone(&signal);
        thread::Builder::new()
            .name("statekit-cleanup".into())
            .spawn(move || run(&sig, &target, interval))
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot start cleanup thread: {e}")))?;
        Ok(CleanupTask { signal })
    }

    /// Stops the task. Calling it again is harmless.
    pub fn stop(&self) {
        if let Ok(mut stopped) = self.signal.stopped.lock() {
            *stopped = true;
        }
        self.signal.wake.notify_all();
    }

    /// Whether `stop()` was called.
    pub fn is_stopped(&self) -> bool {
        self.signal.stopped.lock().map(|s| *s).unwrap_or(true)
    }
}

fn run(signal: &Signal, target: &Weak<dyn Sweep>, interval: Duration) {
    loop {
        {
            let Ok(guard) = signal.stopped.lock() else {
                return;
            };
            let Ok((guard, _)) = signal.wake.wait_timeout_while(guard, interval, |s| !*s) else {
                return;
            };
            if *guard {
                return;
            }
        }
        let current = target.upgrade();
        match current {
            Some(t) => {
                t.sweep();
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::memory::MemoryTier;
    use crate::ttl::Ttl;

    #[test]
    fn sweeps_and_stops() {
        let clock = ManualClock::new(1_000);
        let tier = Arc::new(MemoryTier::with_clock(Ttl::Never, Arc::new(clock.clone())));
        tier.put(b"a", b"1", Ttl::Ms(10)).unwrap();
        tier.put(b"b", b"2", Ttl::Never).unwrap();
        clock.advance(20);
        let weak: Weak<dyn Sweep> = Arc::downgrade(&tier) as Weak<dyn Sweep>;
        let task = CleanupTask::start(weak, Duration::from_millis(5)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while tier.len() != 1 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(tier.len(), 1);
        assert_eq!(tier.stats().expired_count, 1);
        task.stop();
        task.stop();
        assert!(task.is_stopped());
    }

    #[test]
    fn rejects_zero_interval() {
        let tier = Arc::new(MemoryTier::new(Ttl::Never));
        let err = CleanupTask::start(Arc::downgrade(&tier) as Weak<dyn Sweep>, Duration::ZERO)
            .err()
            .map(|e| e.code);
        assert_eq!(err, Some(ErrorCode::InvalidArg));
    }
}
