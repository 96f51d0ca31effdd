//! Writing a checkpoint file: records are packed into blocks, each compressed and
//! checksummed, then the footer; the file is published atomically (temp file, fsync,
//! rename, directory fsync), so a reader never sees a partial checkpoint.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::block_codec::BlockEncoder;
use crate::checkpoint_format::{Footer, Header, Record, BLOCK_TARGET, MAX_METADATA};
use crate::error::{Error, ErrorCode, Result};

/// The suffix of a checkpoint being written; stray ones are safe to delete.
pub const TEMP_SUFFIX: &str = ".tmp";

fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// An open checkpoint being written.
pub struct CheckpointWriter {
    file: BufWriter<File>,
    tmp: PathBuf,
    dest: PathBuf,
    header: Header,
    encoder: BlockEncoder,
    block: Vec<u8>,
    block_records: u32,
    footer: Footer,
    /// crc32c of everything after the header, so far.
    body_crc: u32,
    body_len: usize,
}

impl CheckpointWriter {
    /// Starts writing `dest` (through a temp file beside it).
    pub fn create(dest: &Path, header: Header) -> Result<CheckpointWriter> {
        if header.metadata.len() > MAX_METADATA {
            return Err(Error::invalid_arg(format!(
                "checkpoint metadata is {} bytes; the maximum is {MAX_METADATA}",
                header.metadata.len()
            )));
        }
        let name = dest
            .file_name()
            .ok_or_else(|| Error::invalid_arg(format!("{} is not a file path", dest.display())))?;
        let tmp = dest.with_file_name(format!(
            "{}.{}-{}{TEMP_SUFFIX}",
            name.to_string_lossy(),
            std::process::id(),
            header.id
        ));
        let file = File::create(&tmp).map_err(|e| io(&tmp, "create", e))?;
        let mut w = CheckpointWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            encoder: BlockEncoder::new(header.compression),
            tmp,
            dest: dest.to_path_buf(),
            header,
            block: Vec::with_capacity(BLOCK_TARGET + 4096),
            block_records: 0,
            footer: Footer::default(),
            body_crc: 0,
            body_len: 0,
        };
        let bytes = w.header.encode();
        w.file
            .write_all(&bytes)
            .map_err(|e| io(&w.tmp, "write", e))?;
        Ok(w)
    }

    /// Appends a record.
    pub fn push(&mut self, record: &Record<'_>) -> Result<()> {
        record.encode_into(&mut self.block);
        self.block_records += 1;
        self.footer.record_count += 1;
        if self.block.len() >= BLOCK_TARGET {
            self.flush_block()?;
        }
        Ok(())
    }

    /// The open block, to append encoded records to directly; call
    /// [`CheckpointWriter::add_records`] and [`CheckpointWriter::flush_if_full`] after.
    pub fn block_mut(&mut self) -> &mut Vec<u8> {
        &mut self.block
    }

    /// Counts records appended through [`CheckpointWriter::block_mut`].
    pub fn add_records(&mut self, n: u64) {
        self.block_records += n as u32;
        self.footer.record_count += n;
    }

    /// Compresses and writes the open block if it has reached its target size.
    pub fn flush_if_full(&mut self) -> Result<()> {
        if self.block.len() >= BLOCK_TARGET {
            self.flush_block()?;
        }
        Ok(())
    }

    fn write_body(&mut self, bytes: &[u8]) -> Result<()> {
        self.body_crc = crc32c::crc32c_append(self.body_crc, bytes);
        self.body_len += bytes.len();
        self.file
            .write_all(bytes)
            .map_err(|e| io(&self.tmp, "write", e))
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block_records == 0 {
            return Ok(());
        }
        let stored = self
            .encoder
            .encode(&self.block)
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot compress a block: {e}")))?;
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&(self.block.len() as u32).to_le_bytes());
        head[4..8].copy_from_slice(&(stored.len() as u32).to_le_bytes());
        head[8..12].copy_from_slice(&self.block_records.to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head[0..12]), &stored);
        head[12..16].copy_from_slice(&crc.to_le_bytes());
        self.write_body(&head)?;
        self.write_body(&stored)?;
        self.footer.block_count += 1;
        self.footer.raw_bytes += self.block.len() as u64;
        self.footer.body_bytes += (head.len() + stored.len()) as u64;
        self.block.clear();
        self.block_records = 0;
        Ok(())
    }

    /// Finishes the file and publishes it; returns the footer and the file's size.
    pub fn finish(mut self) -> Result<(Footer, u64)> {
        match self.finish_inner() {
            Ok(done) => Ok(done),
            Err(e) => {
                let _ = fs::remove_file(&self.tmp);
                Err(e)
            }
        }
    }

    fn finish_inner(&mut self) -> Result<(Footer, u64)> {
        self.flush_block()?;
        let fields = self.footer.encode_fields();
        self.write_body(&fields)?;
        // The header's entry count is known only now: rewrite it in place (same size).
        self.header.entry_count = self.footer.record_count;
        let header = self.header.encode();
        let file_crc =
            crc32c::crc32c_combine(crc32c::crc32c(&header), self.body_crc, self.body_len);
        self.footer.file_crc = file_crc;
        let tail = Footer::encode_tail(file_crc);
        self.file
            .write_all(&tail)
            .map_err(|e| io(&self.tmp, "write", e))?;
        self.file.flush().map_err(|e| io(&self.tmp, "write", e))?;
        let file = self.file.get_mut();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .map_err(|e| io(&self.tmp, "write", e))?;
        self.file
            .get_ref()
            .sync_all()
            .map_err(|e| io(&self.tmp, "fsync", e))?;
        fs::rename(&self.tmp, &self.dest).map_err(|e| io(&self.dest, "publish", e))?;
        sync_dir(&self.dest)?;
        let size = (header.len() + self.body_len + tail.len()) as u64;
        Ok((self.footer, size))
    }

    /// Abandons the file.
    pub fn abort(self) {
        let tmp = self.tmp.clone();
        drop(self);
        let _ = fs::remove_file(tmp);
    }
}

/// fsyncs the directory holding `path`, so a rename in it is durable.
pub fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, "fsync directory", e))
}
