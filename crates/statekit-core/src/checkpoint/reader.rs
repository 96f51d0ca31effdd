//! Reading and verifying checkpoint files. Every block's checksum is checked as it is
//! read and the whole-file checksum at the end; a caller that applies records must
//! keep them aside until [`CheckpointReader::for_each`] returns `Ok`.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::checkpoint::block_codec::BlockDecoder;
use crate::checkpoint::format::{
    corrupt, u32_at, Footer, Header, Record, BLOCK_HEADER, FOOTER_LEN, HEADER_FIXED,
};
use crate::error::{Error, ErrorCode, Result};

/// The header and footer of a checkpoint, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    pub header: Header,
    pub footer: Footer,
    pub file_bytes: u64,
    pub header_bytes: u64,
}

/// An open checkpoint whose header and footer have been read.
pub struct CheckpointReader {
    file: BufReader<File>,
    path: String,
    info: CheckpointInfo,
    header_raw: Vec<u8>,
}

fn read_exact_at(file: &mut BufReader<File>, buf: &mut [u8]) -> std::io::Result<()> {
    file.read_exact(buf)
}

impl CheckpointReader {
    /// Opens `path` and checks its header, footer and size (fast).
    pub fn open(path: &Path) -> Result<CheckpointReader> {
        if path.as_os_str().is_empty() {
            return Err(Error::invalid_arg("path must be a non-empty string"));
        }
        crate::checkpoint::request::check_path(path)?;
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot open checkpoint {shown}: {e}"),
            )
        })?;
        let file_bytes = file
            .metadata()
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot read {shown}: {e}")))?
            .len();
        if file_bytes == 0 {
            return Err(Error::new(
                ErrorCode::Corrupt,
                format!("{shown} is not a statekit checkpoint (the file is empty)"),
            ));
        }
        let mut file = BufReader::with_capacity(1 << 20, file);
        let mut fixed = vec![0u8; HEADER_FIXED.min(file_bytes as usize)];
        read_exact_at(&mut file, &mut fixed).map_err(|e| corrupt(&shown, "header", e))?;
        let header_len = Header::length(&shown, &fixed)?;
        if (header_len + FOOTER_LEN) as u64 > file_bytes {
            return Err(corrupt(
                &shown,
                "header",
                "the file is shorter than its header and footer",
            ));
        }
        let mut header_raw = fixed;
        header_raw.resize(header_len, 0);
        read_exact_at(&mut file, &mut header_raw[HEADER_FIXED..])
            .map_err(|e| corrupt(&shown, "header", e))?;
        let header = Header::decode(&shown, &header_raw)?;
        let footer_at = file_bytes - FOOTER_LEN as u64;
        let mut footer_raw = [0u8; FOOTER_LEN];
        file.seek(SeekFrom::Start(footer_at))
            .and_then(|_| file.read_exact(&mut footer_raw))
            .map_err(|e| corrupt(&shown, "footer", e))?;
        let footer = Footer::decode(&shown, &footer_raw, footer_at)?;
        if header_len as u64 + footer.body_bytes + FOOTER_LEN as u64 != file_bytes {
            return Err(corrupt(
                &shown,
                &format!("footer at offset {footer_at}"),
                format!(
                    "the file is {file_bytes} bytes but its header and footer describe {}",
                    header_len as u64 + footer.body_bytes + FOOTER_LEN as u64
                ),
            ));
        }
        if footer.record_count != header.entry_count {
            return Err(corrupt(
                &shown,
                &format!("footer at offset {footer_at}"),
                "the footer's record count differs from the header's",
            ));
        }
        file.seek(SeekFrom::Start(header_len as u64))
            .map_err(|e| corrupt(&shown, "body", e))?;
        Ok(CheckpointReader {
            file,
            path: shown,
            info: CheckpointInfo {
                header,
                footer,
                file_bytes,
                header_bytes: header_len as u64,
            },
            header_raw,
        })
    }

    /// What the header and footer say.
    pub fn info(&self) -> &CheckpointInfo {
        &self.info
    }

    /// Reads every block, verifying as it goes, and calls `f` for each record. Returns
    /// an error naming the block and offset of the first damage; records already
    /// passed to `f` must then be discarded.
    pub fn for_each(self, mut f: impl FnMut(Record<'_>) -> Result<()>) -> Result<()> {
        self.for_each_block(|raw| crate::checkpoint::format::decode_records(raw, &mut f))
    }

    /// Reads every block, verifying as it goes, and calls `f` with each block's raw
    /// records; `f` returns how many records it found (see
    /// [`crate::checkpoint::format::decode_records`]). Errors name the block and offset.
    pub fn for_each_block(self, mut f: impl FnMut(&[u8]) -> Result<u64>) -> Result<()> {
        self.for_each_block_where(|_| true, |_, raw| f(raw))
    }

    /// Like [`CheckpointReader::for_each_block`], but only the blocks whose index
    /// `wanted` accepts are decompressed and given to `f` (with the index); the others are still read
    /// and checksummed, so the whole file is verified either way.
    pub fn for_each_block_where(
        mut self,
        wanted: impl Fn(u64) -> bool,
        mut f: impl FnMut(u64, &[u8]) -> Result<u64>,
    ) -> Result<()> {
        let info = self.info.clone();
        let path = self.path.clone();
        let mut decoder = BlockDecoder::new(info.header.compression);
        let mut file_crc = crc32c::crc32c(&self.header_raw);
        let mut offset = info.header_bytes;
        let body_end = info.header_bytes + info.footer.body_bytes;
        let mut records = 0u64;
        let mut raw_total = 0u64;
        let mut stored = Vec::new();
        for block in 0..info.footer.block_count {
            let at = |what: &str| format!("block {block} at offset {offset}: {what}");
            if offset + BLOCK_HEADER as u64 > body_end {
                return Err(corrupt(&path, &at("block header"), "the body ends early"));
            }
            let mut head = [0u8; BLOCK_HEADER];
            self.file
                .read_exact(&mut head)
                .map_err(|e| corrupt(&path, &at("block header"), e))?;
            let raw_len = u32_at(&head, 0) as usize;
            let stored_len = u32_at(&head, 4) as u64;
            let count = u32_at(&head, 8) as u64;
            let crc = u32_at(&head, 12);
            if offset + BLOCK_HEADER as u64 + stored_len > body_end {
                return Err(corrupt(
                    &path,
                    &at("block header"),
                    "the block overruns the body",
                ));
            }
            stored.clear();
            stored.resize(stored_len as usize, 0);
            self.file
                .read_exact(&mut stored)
                .map_err(|e| corrupt(&path, &at("block"), e))?;
            let actual = crc32c::crc32c_append(crc32c::crc32c(&head[0..12]), &stored);
            if actual != crc {
                return Err(corrupt(
                    &path,
                    &at("checksum"),
                    "the block's checksum does not match",
                ));
            }
            file_crc = crc32c::crc32c_append(file_crc, &head);
            file_crc = crc32c::crc32c_append(file_crc, &stored);
            if wanted(block) {
                let raw = decoder
                    .decode(&stored, raw_len)
                    .map_err(|e| corrupt(&path, &at("block"), e))?;
                let n = f(block, raw).map_err(|e| match e.code {
                    ErrorCode::Corrupt | ErrorCode::InvalidArg => {
                        corrupt(&path, &at("records"), e.message)
                    }
                    _ => e,
                })?;
                if n != count {
                    return Err(corrupt(
                        &path,
                        &at("records"),
                        "record count differs from the block header's",
                    ));
                }
            }
            let n = count;
            records += n;
            raw_total += raw_len as u64;
            offset += BLOCK_HEADER as u64 + stored_len;
        }
        if offset != body_end {
            return Err(corrupt(
                &path,
                &format!("offset {offset}"),
                "the blocks do not fill the body",
            ));
        }
        if records != info.footer.record_count || raw_total != info.footer.raw_bytes {
            return Err(corrupt(
                &path,
                "footer",
                "totals differ from the blocks read",
            ));
        }
        file_crc = crc32c::crc32c_append(file_crc, &info.footer.encode_fields());
        if file_crc != info.footer.file_crc {
            return Err(corrupt(
                &path,
                "footer",
                "the whole-file checksum does not match",
            ));
        }
        Ok(())
    }
}

/// Every checksum of `path`, checked without keeping any record.
pub fn verify(path: &Path) -> Result<CheckpointInfo> {
    let reader = CheckpointReader::open(path)?;
    let info = reader.info().clone();
    reader.for_each(|_| Ok(()))?;
    Ok(info)
}

/// Where one block lies in a checkpoint file, from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockMeta {
    pub offset: u64,
    pub raw_len: u64,
    pub stored_len: u64,
    pub records: u64,
}

/// The blocks of a checkpoint, read from their headers without decompressing or
/// checksumming them (see [`verify`] for that).
pub fn block_index(path: &Path) -> Result<Vec<BlockMeta>> {
    let mut reader = CheckpointReader::open(path)?;
    let info = reader.info.clone();
    let shown = reader.path.clone();
    let mut offset = info.header_bytes;
    let body_end = info.header_bytes + info.footer.body_bytes;
    let mut out = Vec::with_capacity(info.footer.block_count.min(1 << 20) as usize);
    for block in 0..info.footer.block_count {
        let mut head = [0u8; BLOCK_HEADER];
        reader
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| reader.file.read_exact(&mut head))
            .map_err(|e| corrupt(&shown, &format!("block {block} at offset {offset}"), e))?;
        let meta = BlockMeta {
            offset,
            raw_len: u32_at(&head, 0) as u64,
            stored_len: u32_at(&head, 4) as u64,
            records: u32_at(&head, 8) as u64,
        };
        offset += BLOCK_HEADER as u64 + meta.stored_len;
        if offset > body_end {
            return Err(corrupt(
                &shown,
                &format!("block {block} at offset {}", meta.offset),
                "the block overruns the body",
            ));
        }
        out.push(meta);
    }
    Ok(out)
}
