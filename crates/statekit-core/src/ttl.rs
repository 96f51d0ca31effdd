//! Time-to-live: how a TTL given in milliseconds becomes an absolute expiry.
//!
//! An expiry of [`NEVER`] means the entry does not expire. A TTL of 0 or infinity
//! means "never expires", the way lru-cache reads `ttl: 0`. An absent TTL takes the
//! backend's default.

use crate::error::{Error, Result};

/// The expiry value of an entry that never expires.
pub const NEVER: u64 = 0;

/// The TTL asked for on one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Use the backend's default TTL.
    Default,
    /// Never expire, whatever the default.
    Never,
    /// Expire this many milliseconds after the write.
    Ms(u64),
}

impl Ttl {
    /// Reads a TTL given as a JavaScript number: `None` is absent, 0 and infinity
    /// mean never, fractions round up to the next millisecond. Negative and NaN
    /// values are rejected.
    pub fn from_js(ms: Option<f64>) -> Result<Ttl> {
        match ms {
            None => Ok(Ttl::Default),
            Some(v) if v.is_nan() || v < 0.0 => Err(Error::invalid_arg(format!(
                "ttl must be a non-negative number of milliseconds, got {v}"
            ))),
            Some(v) if v == 0.0 || v.is_infinite() => Ok(Ttl::Never),
            // Values past u64::MAX saturate, and then expire at a time that never comes.
            Some(v) => Ok(Ttl::Ms(v.ceil() as u64)),
        }
    }

    /// A backend's default TTL: absent, 0 and infinity all mean entries never expire.
    pub fn default_from_js(ms: Option<f64>) -> Result<Ttl> {
        match Ttl::from_js(ms)? {
            Ttl::Default => Ok(Ttl::Never),
            t => Ok(t),
        }
    }

    /// The absolute expiry of a write made at `now_ms`, given the backend default.
    pub fn expires_at(self, default: Ttl, now_ms: u64) -> u64 {
        let ttl = match self {
            Ttl::Default => default,
            t => t,
        };
        match ttl {
            Ttl::Ms(ms) => now_ms.saturating_add(ms).max(1),
            Ttl::Never | Ttl::Default => NEVER,
        }
    }
}

/// Whether an entry with this expiry has expired at `now_ms`.
#[inline]
pub fn is_expired(expires_at: u64, now_ms: u64) -> bool {
    expires_at != NEVER && expires_at <= now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_numbers() {
        assert_eq!(Ttl::from_js(None).unwrap(), Ttl::Default);
        assert_eq!(Ttl::from_js(Some(0.0)).unwrap(), Ttl::Never);
        assert_eq!(Ttl::from_js(Some(f64::INFINITY)).unwrap(), Ttl::Never);
        assert_eq!(Ttl::from_js(Some(1.2)).unwrap(), Ttl::Ms(2));
        assert!(Ttl::from_js(Some(-1.0)).is_err());
        assert!(Ttl::from_js(Some(f64::NAN)).is_err());
        assert!(Ttl::from_js(Some(f64::NEG_INFINITY)).is_err());
        assert_eq!(Ttl::default_from_js(None).unwrap(), Ttl::Never);
    }

    #[test]
    fn expiry() {
        assert_eq!(Ttl::Default.expires_at(Ttl::Never, 10), NEVER);
        assert_eq!(Ttl::Default.expires_at(Ttl::Ms(5), 10), 15);
        assert_eq!(Ttl::Never.expires_at(Ttl::Ms(5), 10), NEVER);
        assert_eq!(Ttl::Ms(1e300 as u64).expires_at(Ttl::Never, 10), u64::MAX);
        assert!(is_expired(15, 15));
        assert!(!is_expired(15, 14));
        assert!(!is_expired(NEVER, u64::MAX));
    }
}
