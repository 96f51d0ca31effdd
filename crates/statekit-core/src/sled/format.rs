//! How the sled tier lays entries out on disk.
//!
//! - data tree `statekit.data`: key -> 8-byte big-endian absolute expiry in ms since
//!   the epoch (0: never) followed by the value bytes;
//! - expiry index `statekit.expiry`: 8-byte big-endian expiry ++ key -> empty, so a
//!   sweep reads only what has expired, in expiry order.
//!
//! The index may hold stale records (an entry overwritten or deleted since); a sweep
//! checks each against the data tree and drops it.

use crate::error::{Error, ErrorCode, Result};

/// The data tree's name.
pub const DATA_TREE: &[u8] = b"statekit.data";
/// The expiry index tree's name.
pub const EXPIRY_TREE: &[u8] = b"statekit.expiry";
/// The metadata tree's name.
pub const META_TREE: &[u8] = b"statekit.meta";
/// The metadata key of the current generation of the data trees (a restore makes a
/// new generation and switches to it here, in one write).
pub const GEN_KEY: &[u8] = b"generation";
/// Bytes of the expiry header in front of each stored value.
pub const HEADER: usize = 8;

/// The stored form of a value.
pub fn encode_value(expires_at: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + value.len());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The expiry and value of a stored record.
pub fn decode_value(raw: &[u8]) -> Result<(u64, &[u8])> {
    if raw.len() < HEADER {
        return Err(Error::new(
            ErrorCode::Corrupt,
            format!(
                "a stored record is {} bytes, shorter than its header",
                raw.len()
            ),
        ));
    }
    let mut exp = [0u8; HEADER];
    exp.copy_from_slice(&raw[..HEADER]);
    Ok((u64::from_be_bytes(exp), &raw[HEADER..]))
}

/// The expiry index key of `key` expiring at `expires_at`.
pub fn index_key(expires_at: u64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + key.len());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// The expiry and user key of an index key.
pub fn split_index_key(idx: &[u8]) -> Option<(u64, &[u8])> {
    if idx.len() < HEADER {
        return None;
    }
    let mut exp = [0u8; HEADER];
    exp.copy_from_slice(&idx[..HEADER]);
    Some((u64::from_be_bytes(exp), &idx[HEADER..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let raw = encode_value(42, b"hello");
        assert_eq!(decode_value(&raw).unwrap(), (42, &b"hello"[..]));
        assert_eq!(decode_value(&[1, 2]).unwrap_err().code, ErrorCode::Corrupt);
        let idx = index_key(7, b"k");
        assert_eq!(split_index_key(&idx), Some((7, &b"k"[..])));
        assert!(index_key(1, b"zzz") < index_key(2, b"a"));
    }
}
