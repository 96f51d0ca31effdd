//! Streaming access to checkpoint files for the command-line tools: read records a
//! batch at a time (verifying every block, and the whole file at the end) and build
//! a checkpoint from records. These calls do file I/O on the calling thread; the
//! library's own checkpoint and restore run on worker threads instead.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};

use napi::bindgen_prelude::{Array, BufferSlice, Env, Null};
use napi_derive::napi;
use statekit_core::checkpoint::new_id;
use statekit_core::checkpoint_format::{
    decode_one, decode_records, Compression, Header, Kind, Record,
};
use statekit_core::checkpoint_reader::{block_index, CheckpointReader};
use statekit_core::checkpoint_writer::CheckpointWriter;

use crate::checkpoint_tasks::CheckpointResult;
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
    Ok(block_index(Path::new(&path))
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

/// Records of one checkpoint file, read a batch at a time. A reader thread verifies
/// and decompresses one block ahead; a damaged block ends the stream with an error.
#[napi]
pub struct CheckpointStream {
    blocks: Receiver<statekit_core::Result<Vec<u8>>>,
    block: Vec<u8>,
    pos: usize,
    done: bool,
}

#[napi]
impl CheckpointStream {
    /// Opens `path` (its header and footer are checked now).
    #[napi(factory, catch_unwind)]
    pub fn open(path: String) -> Result<Self> {
        let reader = CheckpointReader::open(Path::new(&path)).map_err(to_js)?;
        let (tx, rx) = sync_channel(2);
        std::thread::Builder::new()
            .name("statekit-stream".into())
            .spawn(move || {
                let result = reader.for_each_block(|raw| {
                    let n = decode_records(raw, |_| Ok(()))?;
                    tx.send(Ok(raw.to_vec())).map_err(|_| {
                        statekit_core::Error::new(statekit_core::ErrorCode::Io, "stream closed")
                    })?;
                    Ok(n)
                });
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(|e| invalid(format!("cannot start a reader thread: {e}")))?;
        Ok(CheckpointStream {
            blocks: rx,
            block: Vec::new(),
            pos: 0,
            done: false,
        })
    }

    /// Up to `max` records as a flat array `[op, key, value, expiresAt, ...]` (op 0
    /// put, 1 tombstone, 2 clear; value null unless a put); empty at the end.
    #[napi(catch_unwind)]
    pub fn next_batch<'e>(&mut self, env: &'e Env, max: u32) -> Result<Array<'e>> {
        let mut out = env.create_array(0).map_err(from_napi)?;
        let mut i = 0u32;
        let mut n = 0;
        while n < max.max(1) && !self.done {
            if self.pos >= self.block.len() {
                match self.blocks.recv() {
                    Ok(Ok(block)) => {
                        self.block = block;
                        self.pos = 0;
                        continue;
                    }
                    Ok(Err(e)) => {
                        self.done = true;
                        return Err(to_js(e));
                    }
                    Err(_) => {
                        self.done = true;
                        break;
                    }
                }
            }
            let (op, key, value, exp) = match decode_one(&self.block, self.pos).map_err(to_js)? {
                None => {
                    self.pos = self.block.len();
                    continue;
                }
                Some((rec, next)) => {
                    self.pos = next;
                    match rec {
                        Record::Put {
                            key,
                            expires_at,
                            value,
                        } => (0u32, key, Some(value), expires_at),
                        Record::Tombstone { key } => (1, key, None, 0),
                        Record::Clear => (2, &[][..], None, 0),
                    }
                }
            };
            out.set(i, op).map_err(from_napi)?;
            out.set(i + 1, BufferSlice::copy_from(env, key).map_err(from_napi)?)
                .map_err(from_napi)?;
            match value {
                Some(v) => out
                    .set(i + 2, BufferSlice::copy_from(env, v).map_err(from_napi)?)
                    .map_err(from_napi)?,
                None => out.set(i + 2, Null).map_err(from_napi)?,
            }
            out.set(i + 3, exp as f64).map_err(from_napi)?;
            i += 4;
            n += 1;
        }
        Ok(out)
    }
}

/// Builds a full checkpoint from records given by the caller.
#[napi]
pub struct CheckpointBuilder {
    writer: Option<CheckpointWriter>,
    count: u64,
}

#[napi]
impl CheckpointBuilder {
    /// Starts `path` with the given compression (`zstd`, `lz4`, `none`) and metadata.
    #[napi(factory, catch_unwind)]
    pub fn create(path: String, compression: String, metadata: String) -> Result<Self> {
        let compression = Compression::parse(&compression, None).map_err(to_js)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let header = Header {
            kind: Kind::Full,
            compression,
            id: new_id(now),
            base_id: 0,
            created_at: now,
            entry_count: 0,
            metadata,
        };
        let writer = CheckpointWriter::create(Path::new(&path), header).map_err(to_js)?;
        Ok(CheckpointBuilder {
            writer: Some(writer),
            count: 0,
        })
    }

    /// Adds puts: parallel arrays of keys, values and absolute expiries (0: never).
    #[napi(catch_unwind)]
    pub fn add(
        &mut self,
        keys: Vec<BufferSlice>,
        values: Vec<BufferSlice>,
        expires: Vec<f64>,
    ) -> Result<()> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| invalid("the builder is finished"))?;
        if keys.len() != values.len() || keys.len() != expires.len() {
            return Err(invalid("keys, values and expiries differ in length"));
        }
        for ((k, v), e) in keys.iter().zip(&values).zip(&expires) {
            statekit_core::limits::check_key(k).map_err(to_js)?;
            statekit_core::limits::check_value(v).map_err(to_js)?;
            if !e.is_finite() || *e < 0.0 {
                return Err(invalid(format!(
                    "expiresAt must be a non-negative number, got {e}"
                )));
            }
            w.push(&Record::Put {
                key: k,
                expires_at: *e as u64,
                value: v,
            })
            .map_err(to_js)?;
            self.count += 1;
        }
        Ok(())
    }

    /// Finishes and publishes the file.
    #[napi(catch_unwind)]
    pub fn finish(&mut self) -> Result<CheckpointResult> {
        let w = self
            .writer
            .take()
            .ok_or_else(|| invalid("the builder is finished"))?;
        let (footer, bytes) = w.finish().map_err(to_js)?;
        Ok(CheckpointResult {
            id: 0.0,
            path: String::new(),
            kind: "full".into(),
            base_id: None,
            entries: footer.record_count as f64,
            bytes: bytes as f64,
            raw_bytes: footer.raw_bytes as f64,
            duration_ms: 0.0,
            created_at: 0.0,
            metadata: String::new(),
        })
    }
}
