//! Compression of checkpoint blocks: zstd (with a reused context), lz4, or none.

use crate::checkpoint_format::Compression;

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

    /// The stored form of `raw`.
    pub fn encode(&mut self, raw: &[u8]) -> std::io::Result<Vec<u8>> {
        match (self.compression, self.zstd.as_mut()) {
            (Compression::Zstd(level), Some(z)) => z.compress(raw, level),
            (Compression::Lz4, _) => Ok(lz4_flex::block::compress(raw)),
            _ => Ok(raw.to_vec()),
        }
    }
}

/// Decompresses blocks of one codec.
pub struct BlockDecoder {
    compression: Compression,
    zstd: Option<zstd::block::Decompressor>,
}

impl BlockDecoder {
    pub fn new(compression: Compression) -> Self {
        let zstd = matches!(compression, Compression::Zstd(_)).then(zstd::block::Decompressor::new);
        BlockDecoder { compression, zstd }
    }

    /// The raw form of `stored`, which must decode to exactly `raw_len` bytes.
    pub fn decode(&mut self, stored: &[u8], raw_len: usize) -> Result<Vec<u8>, String> {
        let raw = match (self.compression, self.zstd.as_mut()) {
            (Compression::Zstd(_), Some(z)) => z
                .decompress(stored, raw_len)
                .map_err(|e| format!("zstd cannot decompress it: {e}"))?,
            (Compression::Lz4, _) => lz4_flex::block::decompress(stored, raw_len)
                .map_err(|e| format!("lz4 cannot decompress it: {e}"))?,
            _ => stored.to_vec(),
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
