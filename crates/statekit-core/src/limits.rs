//! Size limits on keys and values, checked before anything is changed.

use crate::error::{Error, Result};

/// The largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 64 * 1024;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 512 * 1024 * 1024;

/// Rejects an empty or oversized key.
#[inline]
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid_arg("key must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid_arg(format!(
            "key is {} bytes; the maximum is {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

/// Rejects an oversized value.
#[inline]
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::invalid_arg(format!(
            "value is {} bytes; the maximum is {MAX_VALUE_BYTES}",
            value.len()
        )));
    }
    Ok(())
}

/// Rejects a batch in which any key is invalid, before any of it is used.
pub fn check_keys(keys: &[&[u8]]) -> Result<()> {
    keys.iter().try_for_each(|k| check_key(k))
}

/// Reads a whole number given as a JavaScript number: finite, integral, at least
/// `min` and at most 2^53.
pub fn whole_number(name: &str, v: f64, min: u64) -> Result<u64> {
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > 2f64.powi(53) {
        return Err(Error::invalid_arg(format!(
            "{name} must be an integer >= {min}, got {v}"
        )));
    }
    Ok(v as u64)
}
