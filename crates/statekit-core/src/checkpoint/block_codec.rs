//! Compression of checkpoint blocks: zstd (with a reused context), lz4, or none.

use crate::checkpoint::format::{Compression, BLOCK_TARGET};
use crate::limits::{MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// The largest raw length a block can have: a writer closes a block once it holds
/// [`BLOCK_TARGET`] bytes, so a block is under that plus one record of the largest key
/// and value (with its op byte, two varints and an expiry).
pub const MAX_RAW_BLOCK: usize = BLOCK_TARGET + MAX_KEY_BYTES + MAX_VALUE_BYTES + 64;

/// The most bytes lz4 can decode from `stored` bytes: each byte of a match's length
/// adds at most 255 bytes of output.
fn lz4_bound(stored: usize) -> usize {
    stored.saturating_mul(255).saturating_add(64)
}

/// Compresses blocks with one codec, reusing its context.
pub struct BlockEncoder {
    compression: Compression,
    zstd: Option<zstd::block::Compressor>,
}

impl BlockEncoder {
    pub fn new(compression: Compression) -> Self {
        let zstd = matches!(compression, Compression::Zstd(_)).then(zstd::block::Compressor::new);
        BlockEncoder { compression, zstd }
    }

    /// Writes the stored form of `raw` into `out` (reusing its allocation).
    pub fn encode_into(&mut self, raw: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        out.clear();
        match (self.compression, self.zstd.as_mut()) {
            (Compression::Zstd(level), Some(z)) => {
                // Exact: a block's buffers are pooled, so they should not double.
                out.reserve_exact(zstd::zstd_safe::compress_bound(raw.len()));
                z.compress_to_buffer(raw, out, level)?;
            }
            (Compression::Lz4, _) => {
                let bound = lz4_flex::block::get_maximum_output_size(raw.len());
                out.reserve_exact(bound);
                out.resize(bound, 0);
                let n = lz4_flex::block::compress_into(raw, out)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                out.truncate(n);
            }
            _ => out.extend_from_slice(raw),
        }
        Ok(())
    }
}

/// Decompresses blocks of one codec into a buffer it reuses.
pub struct BlockDecoder {
    compression: Compression,
    zstd: Option<zstd::block::Decompressor>,
    buf: Vec<u8>,
}

impl BlockDecoder {
    pub fn new(compression: Compression) -> Self {
        let zstd = matches!(compression, Compression::Zstd(_)).then(zstd::block::Decompressor::new);
        BlockDecoder {
            compression,
            zstd,
            buf: Vec::new(),
        }
    }

    /// The raw form of `stored`, which must decode to exactly `raw_len` bytes. A raw
    /// length that the stored bytes cannot produce is refused before any buffer of
    /// that size is allocated, so a damaged or crafted block header cannot make a
    /// reader reserve gigabytes.
    pub fn decode<'a>(&'a mut self, stored: &'a [u8], raw_len: usize) -> Result<&'a [u8], String> {
        if raw_len > MAX_RAW_BLOCK {
            return Err(format!(
                "its raw length {raw_len} is larger than any block holds ({MAX_RAW_BLOCK})"
            ));
        }
        let raw: &[u8] = match (self.compression, self.zstd.as_mut()) {
            (Compression::Zstd(_), Some(z)) => {
                // A block is one zstd frame, which records its decompressed size.
                let framed = zstd::zstd_safe::get_frame_content_size(stored);
                if framed < u64::MAX - 1 && framed != raw_len as u64 {
                    return Err(format!(
                        "its zstd frame holds {framed} bytes, not the {raw_len} its header says"
                    ));
                }
                self.buf.clear();
                self.buf.reserve(raw_len);
                z.decompress_to_buffer(stored, &mut self.buf)
                    .map_err(|e| format!("zstd cannot decompress it: {e}"))?;
                &self.buf
            }
            (Compression::Lz4, _) => {
                if raw_len > lz4_bound(stored.len()) {
                    return Err(format!(
                        "{} bytes of lz4 cannot decompress to the {raw_len} its header says",
                        stored.len()
                    ));
                }
                self.buf.clear();
                self.buf.resize(raw_len, 0);
                let n = lz4_flex::block::decompress_into(stored, &mut self.buf)
                    .map_err(|e| format!("lz4 cannot decompress it: {e}"))?;
                self.buf.truncate(n);
                &self.buf
            }
            _ => stored,
        };
        if raw.len() != raw_len {
            return Err(format!(
                "it decompresses to {} bytes, not the {raw_len} its header says",
                raw.len()
            ));
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(compression: Compression, raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        BlockEncoder::new(compression)
            .encode_into(raw, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips() {
        let raw = b"records records records records".repeat(100);
        for c in [Compression::None, Compression::Zstd(1), Compression::Lz4] {
            let s = stored(c, &raw);
            assert_eq!(
                BlockDecoder::new(c).decode(&s, raw.len()).unwrap(),
                &raw[..]
            );
        }
    }

    /// Found by the fuzzer (fuzz/seeds/checkpoint_reader/oom-raw-length.skc): a block
    /// header saying 3.4 GB made the reader reserve 3.4 GB before zstd ran.
    #[test]
    fn a_raw_length_the_block_cannot_hold_is_refused_before_allocating() {
        let raw = b"0123456789".repeat(30);
        for c in [Compression::None, Compression::Zstd(1), Compression::Lz4] {
            let s = stored(c, &raw);
            let mut d = BlockDecoder::new(c);
            for claimed in [raw.len() + 1, 1 << 30, 3_487_918_080, u32::MAX as usize] {
                let e = d.decode(&s, claimed).unwrap_err();
                assert!(!e.is_empty());
                assert!(
                    d.buf.capacity() < 1 << 20,
                    "{c:?} reserved {}",
                    d.buf.capacity()
                );
            }
            assert!(d.decode(&s, raw.len() - 1).is_err());
            assert_eq!(d.decode(&s, raw.len()).unwrap(), &raw[..]);
        }
    }

    #[test]
    fn lz4_bound_covers_the_best_ratio() {
        let raw = vec![7u8; 1 << 20];
        let s = stored(Compression::Lz4, &raw);
        assert!(lz4_bound(s.len()) >= raw.len(), "{} stored bytes", s.len());
    }
}
