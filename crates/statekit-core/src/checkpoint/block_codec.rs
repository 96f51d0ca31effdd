//! Compression of checkpoint blocks: zstd (with a reused context), lz4, or none.

use crate::checkpoint::format::Compression;

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

    /// The raw form of `stored`, which must decode to exactly `raw_len` bytes.
    pub fn decode<'a>(&'a mut self, stored: &'a [u8], raw_len: usize) -> Result<&'a [u8], String> {
        let raw: &[u8] = match (self.compression, self.zstd.as_mut()) {
            (Compression::Zstd(_), Some(z)) => {
                self.buf.clear();
                self.buf.reserve(raw_len);
                z.decompress_to_buffer(stored, &mut self.buf)
                    .map_err(|e| format!("zstd cannot decompress it: {e}"))?;
                &self.buf
            }
            (Compression::Lz4, _) => {
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
