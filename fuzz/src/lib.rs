//! Helpers shared by the fuzz targets: the checksum and total "fixup" that lets a
//! mutated checkpoint get past its checksums to the decoders behind them, splitting one
//! input into the files of a chain, and a scratch directory in memory.
//!
//! The format is in docs/checkpoint-format.md. This file repeats only what a fixup
//! needs; if the format changes, a stale fixup makes fuzzing shallower, never wrong:
//! every target also reads each input exactly as it came.

use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"STATEKIT";
pub const FOOTER_MAGIC: &[u8; 8] = b"STKITEND";
pub const HEADER_FIXED: usize = 52;
pub const FOOTER_LEN: usize = 48;
pub const BLOCK_HEADER: usize = 16;

/// What a fixup leaves alone, read from the input's footer byte 36 (the first
/// reserved byte, which every statekit writer leaves 0, so a valid checkpoint is
/// fixed up whole and comes out unchanged). The fuzzer flips these bits to reach the
/// checks a full fixup would always satisfy.
pub mod keep {
    /// Header magic, version, lengths, entry count; block stored lengths; footer totals.
    pub const TOTALS: u8 = 0x01;
    /// Each block's raw length (normally the length its stored bytes decode to).
    pub const RAW_LEN: u8 = 0x02;
    /// Each block's record count (normally the count its records parse to).
    pub const COUNT: u8 = 0x04;
    pub const HEADER_CRC: u8 = 0x08;
    pub const BLOCK_CRC: u8 = 0x10;
    pub const FILE_CRC: u8 = 0x20;
    /// The reserved bytes as they came (normally cleared to 0).
    pub const RESERVED: u8 = 0x40;
}

/// The largest block a fixup decompresses, to keep executions fast.
const FIXUP_CAP: usize = 1 << 20;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn varint(raw: &[u8], pos: &mut usize) -> Option<usize> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *raw.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return usize::try_from(v).ok();
        }
    }
    None
}

/// The number of records in a raw block, or `None` if its bytes do not parse.
pub fn count_records(raw: &[u8]) -> Option<u32> {
    let mut pos = 0usize;
    let mut n = 0u32;
    let skip = |pos: &mut usize, len: usize| -> Option<()> {
        let end = pos.checked_add(len).filter(|e| *e <= raw.len())?;
        *pos = end;
        Some(())
    };
    while pos < raw.len() {
        let op = raw[pos];
        pos += 1;
        match op {
            0 | 0x80 => {
                let k = varint(raw, &mut pos)?;
                skip(&mut pos, k)?;
                if op == 0x80 {
                    skip(&mut pos, 8)?;
                }
                let v = varint(raw, &mut pos)?;
                skip(&mut pos, v)?;
            }
            1 => {
                let k = varint(raw, &mut pos)?;
                skip(&mut pos, k)?;
            }
            2 => {}
            _ => return None,
        }
        n = n.checked_add(1)?;
    }
    Some(n)
}

/// The raw bytes of a block stored with compression `code`, if they decode.
fn decompress(code: u8, stored: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    match code {
        0 => Some(stored.to_vec()),
        1 => zstd::block::decompress(stored, FIXUP_CAP).ok(),
        2 => lz4_flex::block::decompress(stored, raw_len.min(FIXUP_CAP)).ok(),
        _ => None,
    }
}

/// Makes `input` as consistent a checkpoint as its bytes allow: header length and
/// checksum, each block's stored length, raw length, record count and checksum, the
/// footer's totals and the whole-file checksum. The footer's byte 36 says what to
/// leave alone (see [`keep`]). Inputs too short to hold a header and footer come back
/// as they are.
pub fn fixup(input: &[u8]) -> Vec<u8> {
    if input.len() < HEADER_FIXED + 4 + FOOTER_LEN {
        return input.to_vec();
    }
    let body_end = input.len() - FOOTER_LEN;
    let mut footer = input[body_end..].to_vec();
    let ctl = footer[36];
    let fix = |bit: u8| ctl & bit == 0;

    // Header: the metadata length decides where the header ends.
    let meta = (u32_at(input, 48) as usize).min(body_end - HEADER_FIXED - 4);
    let header_len = HEADER_FIXED + meta + 4;
    let mut header = input[..header_len].to_vec();
    let compression = header[11];
    if fix(keep::TOTALS) {
        header[..8].copy_from_slice(MAGIC);
        header[8..10].copy_from_slice(&1u16.to_le_bytes());
        put_u32(&mut header, 12, header_len as u32);
        put_u32(&mut header, 48, meta as u32);
    }

    // Blocks.
    let mut body = Vec::with_capacity(body_end - header_len);
    let (mut pos, mut blocks, mut records, mut raw_total) = (header_len, 0u64, 0u64, 0u64);
    while pos + BLOCK_HEADER <= body_end {
        let mut head: [u8; BLOCK_HEADER] = input[pos..pos + BLOCK_HEADER].try_into().unwrap();
        let room = body_end - pos - BLOCK_HEADER;
        let mut stored_len = u32_at(&head, 4) as usize;
        if stored_len > room {
            if !fix(keep::TOTALS) {
                break;
            }
            stored_len = room;
            put_u32(&mut head, 4, stored_len as u32);
        }
        let stored = &input[pos + BLOCK_HEADER..pos + BLOCK_HEADER + stored_len];
        if fix(keep::RAW_LEN) || fix(keep::COUNT) {
            if let Some(raw) = decompress(compression, stored, u32_at(&head, 0) as usize) {
                if fix(keep::RAW_LEN) {
                    put_u32(&mut head, 0, raw.len() as u32);
                }
                if let (true, Some(n)) = (fix(keep::COUNT), count_records(&raw)) {
                    put_u32(&mut head, 8, n);
                }
            }
        }
        if fix(keep::BLOCK_CRC) {
            let crc = crc32c::crc32c_append(crc32c::crc32c(&head[..12]), stored);
            put_u32(&mut head, 12, crc);
        }
        body.extend_from_slice(&head);
        body.extend_from_slice(stored);
        blocks += 1;
        records += u64::from(u32_at(&head, 8));
        raw_total += u64::from(u32_at(&head, 0));
        pos += BLOCK_HEADER + stored_len;
    }
    if !fix(keep::TOTALS) {
        // Bytes too few for a block header stay (a fixed-up file drops them).
        body.extend_from_slice(&input[pos..body_end]);
    }

    if fix(keep::TOTALS) {
        put_u64(&mut header, 40, records);
        put_u64(&mut footer, 0, blocks);
        put_u64(&mut footer, 8, records);
        put_u64(&mut footer, 16, raw_total);
        put_u64(&mut footer, 24, body.len() as u64);
        footer[40..48].copy_from_slice(FOOTER_MAGIC);
    }
    if fix(keep::HEADER_CRC) {
        let crc = crc32c::crc32c(&header[..header_len - 4]);
        put_u32(&mut header, header_len - 4, crc);
    }
    if fix(keep::RESERVED) {
        footer[36..40].fill(0);
    }
    if fix(keep::FILE_CRC) {
        let mut crc = crc32c::crc32c(&header);
        crc = crc32c::crc32c_append(crc, &body);
        crc = crc32c::crc32c_append(crc, &footer[..32]);
        put_u32(&mut footer, 32, crc);
    }
    let mut out = header;
    out.extend_from_slice(&body);
    out.extend_from_slice(&footer);
    out
}

/// What separates the files of a chain in one restore input.
pub const SPLIT: &[u8] = b"\n--statekit-fuzz-next-file--\n";
/// The most files one restore input makes.
pub const MAX_FILES: usize = 4;

/// The files one restore input stands for: its parts between [`SPLIT`]s (at most
/// [`MAX_FILES`]; the last part keeps any further separators). The last file is the
/// one restored; the others lie beside it, where its chain is looked for.
pub fn split_files(input: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    while out.len() + 1 < MAX_FILES {
        match rest.windows(SPLIT.len()).position(|w| w == SPLIT) {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + SPLIT.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// Joins files into one restore input (the inverse of [`split_files`]).
pub fn join_files(files: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SPLIT);
        }
        out.extend_from_slice(f);
    }
    out
}

/// A scratch directory for this fuzzing process, in memory where there is a
/// /dev/shm. Directories left by fuzzing processes that have ended are removed.
pub fn scratch_dir(name: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let prefix = format!("statekit-fuzz-{name}-");
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let file_name = e.file_name();
            let Some(pid) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = root.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create the fuzz scratch directory");
    dir
}
