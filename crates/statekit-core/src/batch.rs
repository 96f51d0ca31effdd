//! One write of a batch, as both tiers take it.

use crate::error::{Error, Result};
use crate::limits::{check_key, check_value};
use crate::ttl::Ttl;

/// One write of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct PutEntry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub ttl: Ttl,
}

impl PutEntry<'_> {
    /// Checks every entry of a batch, before any of it is written.
    pub fn check_all(entries: &[PutEntry<'_>]) -> Result<()> {
        entries.iter().try_for_each(|e| {
            check_key(e.key)?;
            check_value(e.value)
        })
    }
}

impl<'a> PutEntry<'a> {
    /// The batch a caller packed into two buffers (the binding's shared buffers):
    /// `keys` holds `count` keys, each a 2-byte little-endian length and its bytes;
    /// `values` holds `count` TTLs (8-byte little-endian floats, milliseconds, -1 for
    /// the store's default), then `count` value lengths (4-byte little-endian), then
    /// the values end to end. Checks only the packing: the entries are checked when
    /// the batch is written.
    pub fn unpack(keys: &'a [u8], count: usize, values: &'a [u8]) -> Result<Vec<PutEntry<'a>>> {
        let short = || Error::invalid_arg("packed batch is shorter than its count");
        let ttls = values
            .get(..count.checked_mul(8).ok_or_else(short)?)
            .ok_or_else(short)?;
        let lens = values
            .get(ttls.len()..ttls.len() + count.checked_mul(4).ok_or_else(short)?)
            .ok_or_else(short)?;
        let (mut kpos, mut vpos) = (0usize, ttls.len() + lens.len());
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let klen = keys.get(kpos..kpos + 2).ok_or_else(short)?;
            let klen = u16::from_le_bytes([klen[0], klen[1]]) as usize;
            let key = keys.get(kpos + 2..kpos + 2 + klen).ok_or_else(short)?;
            kpos += 2 + klen;
            let vlen = u32::from_le_bytes([
                lens[i * 4],
                lens[i * 4 + 1],
                lens[i * 4 + 2],
                lens[i * 4 + 3],
            ]) as usize;
            let value = values.get(vpos..vpos + vlen).ok_or_else(short)?;
            vpos += vlen;
            let mut ms = [0u8; 8];
            ms.copy_from_slice(&ttls[i * 8..i * 8 + 8]);
            let ms = f64::from_le_bytes(ms);
            let ttl = if ms == -1.0 {
                Ttl::Default
            } else {
                Ttl::from_js(Some(ms))?
            };
            out.push(PutEntry { key, value, ttl });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(entries: &[(&[u8], &[u8], f64)]) -> (Vec<u8>, Vec<u8>) {
        let mut keys = Vec::new();
        let (mut ttls, mut lens, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        for (k, v, t) in entries {
            keys.extend_from_slice(&(k.len() as u16).to_le_bytes());
            keys.extend_from_slice(k);
            ttls.extend_from_slice(&t.to_le_bytes());
            lens.extend_from_slice(&(v.len() as u32).to_le_bytes());
            vals.extend_from_slice(v);
        }
        ttls.extend(lens);
        ttls.extend(vals);
        (keys, ttls)
    }

    #[test]
    fn unpacks_keys_values_and_ttls() {
        let (k, v) = pack(&[
            (b"a", b"", -1.0),
            (b"bb", b"xyz", 0.0),
            (b"c", b"1", 1500.2),
        ]);
        let got = PutEntry::unpack(&k, 3, &v).expect("well packed");
        assert_eq!(
            got,
            vec![
                PutEntry {
                    key: b"a",
                    value: b"",
                    ttl: Ttl::Default
                },
                PutEntry {
                    key: b"bb",
                    value: b"xyz",
                    ttl: Ttl::Never
                },
                PutEntry {
                    key: b"c",
                    value: b"1",
                    ttl: Ttl::Ms(1501)
                },
            ]
        );
    }

    #[test]
    fn refuses_a_count_beyond_the_packing_and_bad_ttls() {
        let (k, v) = pack(&[(b"a", b"v", -1.0)]);
        assert!(PutEntry::unpack(&k, 2, &v).is_err());
        assert!(PutEntry::unpack(&k, usize::MAX, &v).is_err());
        assert!(PutEntry::unpack(&k[..2], 1, &v).is_err());
        assert!(PutEntry::unpack(&k, 1, &v[..v.len() - 1]).is_err());
        let (k, v) = pack(&[(b"a", b"v", -5.0)]);
        assert!(PutEntry::unpack(&k, 1, &v).is_err());
        let (k, v) = pack(&[(b"a", b"v", f64::NAN)]);
        assert!(PutEntry::unpack(&k, 1, &v).is_err());
        assert_eq!(PutEntry::unpack(&[], 0, &[]).map(|e| e.len()).ok(), Some(0));
    }
}
