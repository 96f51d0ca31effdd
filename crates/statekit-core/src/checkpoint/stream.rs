//! Records of one checkpoint file, read a batch at a time, for tools (export, diff,
//! inspect). A reader thread verifies and decompresses one block ahead; a damaged
//! block ends the stream with `ERR_STATEKIT_CORRUPT`, and the whole-file checksum is
//! checked when the last block has been read.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};

use super::format::{decode_one, decode_records, Record};
use super::reader::CheckpointReader;
use crate::error::{Error, ErrorCode, Result};

/// A stream of a checkpoint's records.
pub struct RecordStream {
    blocks: Receiver<Result<Vec<u8>>>,
    block: Vec<u8>,
    pos: usize,
    done: bool,
}

impl RecordStream {
    /// Opens `path` (its header and footer are checked now) and starts reading ahead.
    pub fn open(path: &Path) -> Result<RecordStream> {
        let reader = CheckpointReader::open(path)?;
        let (tx, rx) = sync_channel(2);
        std::thread::Builder::new()
            .name("statekit-stream".into())
            .spawn(move || {
                let result = reader.for_each_block(|raw| {
                    let n = decode_records(raw, |_| Ok(()))?;
                    tx.send(Ok(raw.to_vec()))
                        .map_err(|_| Error::new(ErrorCode::Io, "stream closed"))?;
                    Ok(n)
                });
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot start a reader thread: {e}")))?;
        Ok(RecordStream {
            blocks: rx,
            block: Vec::new(),
            pos: 0,
            done: false,
        })
    }

    /// Calls `emit` for up to `max` further records; returns how many. Zero means the
    /// stream is done (and the file verified whole).
    pub fn next_batch(&mut self, max: usize, mut emit: impl FnMut(Record<'_>)) -> Result<usize> {
        let mut n = 0;
        while n < max.max(1) && !self.done {
            if self.pos >= self.block.len() {
                match self.blocks.recv() {
                    Ok(Ok(block)) => {
                        self.block = block;
                        self.pos = 0;
                    }
                    Ok(Err(e)) => {
                        self.done = true;
                        return Err(e);
                    }
                    Err(_) => self.done = true,
                }
                continue;
            }
            match decode_one(&self.block, self.pos)? {
                None => self.pos = self.block.len(),
                Some((rec, next)) => {
                    self.pos = next;
                    emit(rec);
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}
