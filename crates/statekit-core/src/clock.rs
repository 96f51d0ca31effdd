//! Wall-clock time in milliseconds since the Unix epoch, injectable for tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time. Expiry times are absolute, so they survive restarts
/// and checkpoints.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Whether the time `at_ms` (an expiry; [`crate::ttl::NEVER`] never comes) has come:
    /// exactly `is_expired(at_ms, self.now_ms())`, which a clock may answer without
    /// reading its precise time when the answer is plain anyway.
    #[inline]
    fn has_passed(&self, at_ms: u64) -> bool {
        crate::ttl::is_expired(at_ms, self.now_ms())
    }
}

/// How far the coarse clock may lag the precise one, and more: the kernel updates
/// `CLOCK_REALTIME_COARSE` at every tick (4 ms here, at most 10 ms on common kernels),
/// so an expiry more than this beyond the coarse time is certainly still to come.
const COARSE_SLACK_MS: u64 = 1_000;

/// The kernel's wall clock in milliseconds since the epoch (rounded down): the
/// precise one, or with `coarse` the time of the last tick (`CLOCK_REALTIME_COARSE`,
/// read from the vDSO without the time-stamp counter: about 3.5 ns here, against
/// 23 ns). `None` where there is none, or before the epoch.
#[inline]
fn clock_ms(coarse: bool) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let id = if coarse {
            libc::CLOCK_REALTIME_COARSE
        } else {
            libc::CLOCK_REALTIME
        };
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes to it.
        let rc = unsafe { libc::clock_gettime(id, &mut ts) };
        (rc == 0 && ts.tv_sec >= 0 && ts.tv_nsec >= 0)
            .then(|| ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = coarse;
        None
    }
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// `CLOCK_REALTIME` read directly: `SystemTime::now().duration_since(UNIX_EPOCH)`
    /// gives the same milliseconds for about 60 more instructions (a checked
    /// subtraction of timespecs and a 128-bit millisecond count), per write with a TTL.
    #[inline]
    fn now_ms(&self) -> u64 {
        if let Some(ms) = clock_ms(false) {
            return ms;
        }
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    /// Reads the coarse clock first: an expiry beyond it by more than any lag it can
    /// have has not come, and only the expiries close to now read the precise clock.
    /// The answer is the precise clock's either way.
    #[inline]
    fn has_passed(&self, at_ms: u64) -> bool {
        if at_ms == crate::ttl::NEVER {
            return false;
        }
        match clock_ms(true) {
            Some(coarse) if at_ms > coarse.saturating_add(COARSE_SLACK_MS) => false,
            _ => crate::ttl::is_expired(at_ms, self.now_ms()),
        }
    }
}

/// A clock that moves only when told to: for tests of expiry.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new(start_ms: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(start_ms)))
    }

    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttl::NEVER;

    #[test]
    fn the_system_clock_answers_expiries_as_its_precise_time_does() {
        let c = SystemClock;
        // Its milliseconds are the standard library's.
        let std_ms = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        let (before, ms, after) = (std_ms(), c.now_ms(), std_ms());
        assert!(before <= ms && ms <= after, "{before} <= {ms} <= {after}");
        let now = c.now_ms();
        assert!(!c.has_passed(NEVER));
        assert!(c.has_passed(1));
        assert!(c.has_passed(now));
        // Near now the precise clock decides; far ahead the coarse one.
        assert!(!c.has_passed(now + 60_000));
        assert!(!c.has_passed(u64::MAX));
        assert!(c.has_passed(now.saturating_sub(COARSE_SLACK_MS * 2)));
        if let Some(coarse) = clock_ms(true) {
            // The coarse clock is the time of the last tick: behind the precise one,
            // and by far less than the slack that `has_passed` allows it.
            let precise = c.now_ms();
            assert!(coarse <= precise + 1, "coarse {coarse} precise {precise}");
            assert!(precise - coarse.min(precise) < COARSE_SLACK_MS);
        }
    }

    #[test]
    fn a_manual_clock_answers_from_its_own_time() {
        let c = ManualClock::new(100);
        assert!(!c.has_passed(101));
        assert!(c.has_passed(100));
        c.advance(1);
        assert!(c.has_passed(101));
        assert!(!c.has_passed(NEVER));
    }
}
