//! Streaming access to checkpoint files for the command-line tools: read records a
//! batch at a time and build a checkpoint from records. These calls do file I/O on
//! the calling thread (the CLI has nothing else to do meanwhile); the library's own
//! checkpoint and restore run on worker threads instead.

use std::path::Path;

use napi::bindgen_prelude::{Array, BufferSlice, Env, Null};
use napi_derive::napi;
use statekit_core::{Compression, Record};

use crate::checkpoints::CheckpointResult;
use crate::error::{from_napi, invalid, to_js, Result};

/// The blocks of a checkpoint, from their headers.
#[napi(object)]
pub struct BlockInfo {
    pub offset: f64,
    pub raw_bytes: f64,
    pub stored_bytes: f64,
    pub records: f64,
}

/// Lists the blocks of a checkpoint without decompressing them.
#[napi(catch_unwind)]
pub fn checkpoint_blocks(path: String) -> Result<Vec<BlockInfo>> {
    Ok(statekit_core::block_index(Path::new(&path))
        .map_err(to_js)?
        .into_iter()
        .map(|b| BlockInfo {
            offset: b.offset as f64,
            raw_bytes: b.raw_len as f64,
            stored_bytes: b.stored_len as f64,
            records: b.records as f64,
        })
        .collect())
}

/// Records of one checkpoint file, read a batch at a time; a damaged block ends the
/// stream with an error.
#[napi]
pub struct CheckpointStream(statekit_core::RecordStream);

#[napi]
impl CheckpointStream {
    /// Opens `path` (its header and footer are checked now).
    #[napi(factory, catch_unwind)]
    pub fn open(path: String) -> Result<Self> {
        Ok(CheckpointStream(
            statekit_core::RecordStream::open(Path::new(&path)).map_err(to_js)?,
        ))
    }

    /// Up to `max` records as a flat array `[op, key, value, expiresAt, ...]` (op 0
    /// put, 1 tombstone, 2 clear; value null unless a put); empty at the end.
    #[napi(catch_unwind)]
    pub fn next_batch<'e>(&mut self, env: &'e Env, max: u32) -> Result<Array<'e>> {
        let mut out = env.create_array(0).map_err(from_napi)?;
        let mut i = 0u32;
        let mut failed = None;
        self.0
            .next_batch(max as usize, |rec| {
                let (op, key, value, exp) = match rec {
                    Record::Put {
                        key,
                        expires_at,
                        value,
                    } => (0u32, key, Some(value), expires_at),
                    Record::Tombstone { key } => (1, key, None, 0),
                    Record::Clear => (2, &[][..], None, 0),
                };
                let r = (|| {
                    out.set(i, op)?;
                    out.set(i + 1, BufferSlice::copy_from(env, key)?)?;
                    match value {
                        Some(v) => out.set(i + 2, BufferSlice::copy_from(env, v)?)?,
                        None => out.set(i + 2, Null)?,
                    }
                    out.set(i + 3, exp as f64)
                })();
                if let Err(e) = r {
                    failed.get_or_insert(e);
                }
                i += 4;
            })
            .map_err(to_js)?;
        match failed {
            Some(e) => Err(from_napi(e)),
            None => Ok(out),
        }
    }
}

/// Builds a full checkpoint from records given by the caller.
#[napi]
pub struct CheckpointBuilder(Option<statekit_core::CheckpointBuilder>);

#[napi]
impl CheckpointBuilder {
    /// Starts `path` with the given compression (`zstd`, `lz4`, `none`) and metadata.
    #[napi(factory, catch_unwind)]
    pub fn create(path: String, compression: String, metadata: String) -> Result<Self> {
        let compression = Compression::parse(&compression, None).map_err(to_js)?;
        let b = statekit_core::CheckpointBuilder::create(Path::new(&path), compression, metadata)
            .map_err(to_js)?;
        Ok(CheckpointBuilder(Some(b)))
    }

    /// Adds puts: parallel arrays of keys, values and absolute expiries (0: never).
    #[napi(catch_unwind)]
    pub fn add(
        &mut self,
        keys: Vec<BufferSlice>,
        values: Vec<BufferSlice>,
        expires: Vec<f64>,
    ) -> Result<()> {
        let b = self
            .0
            .as_mut()
            .ok_or_else(|| invalid("the builder is finished"))?;
        if keys.len() != values.len() || keys.len() != expires.len() {
            return Err(invalid("keys, values and expiries differ in length"));
        }
        for ((k, v), e) in keys.iter().zip(&values).zip(&expires) {
            b.add(k, v, *e).map_err(to_js)?;
        }
        Ok(())
    }

    /// Abandons the file: nothing is published and its temporary file is removed.
    #[napi]
    pub fn abort(&mut self) {
        self.0 = None;
    }

    /// Finishes and publishes the file.
    #[napi(catch_unwind)]
    pub fn finish(&mut self) -> Result<CheckpointResult> {
        let b = self
            .0
            .take()
            .ok_or_else(|| invalid("the builder is finished"))?;
        Ok(b.finish().map_err(to_js)?.into())
    }
}
