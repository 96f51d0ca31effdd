//! Reading a change log back after a crash: the segments from the one a checkpoint's
//! cut started, in order, every record verified.
//!
//! - A record cut short at the end of the last segment (a crash during an append) is
//!   torn: the segment is truncated before it and the summary reports it.
//! - Anything else that does not verify (a damaged record anywhere, a short record in
//!   a segment that is not the last, a gap in the segment numbers, a missing first
//!   segment) stops the replay with `ERR_STATEKIT_CORRUPT` naming the segment file
//!   and the byte offset. Nothing is skipped silently.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::changelog::format::{
    check_payload, check_segment_header, corrupt, decode_payload, record_header, segment_header,
    RecordHeader, RECORD_HEADER, SEGMENT_HEADER,
};
use crate::changelog::segment;
use crate::checkpoint::format::Record;
use crate::error::Result;

/// A torn last record that replay cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file's path.
    pub segment: String,
    /// Where the torn record started (the segment's new length).
    pub offset: u64,
    /// The bytes cut off.
    pub bytes: u64,
}

/// What a replay read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Segments read.
    pub segments: u64,
    /// Records applied (a batch is one record).
    pub records: u64,
    /// Changes applied (each put, delete or clear; a batch holds several).
    pub changes: u64,
    /// The torn last record, if there was one.
    pub torn: Option<TornTail>,
    /// The number the next segment must take.
    pub next_segment: u64,
}

/// Replays the segments of `dir` from `from` (the segment a checkpoint's cut started;
/// `None` without a checkpoint: from the first segment, which must be number 1),
/// calling `apply` for every change in log order. Segments before `from` are covered
/// by the checkpoint and are not read.
pub fn replay(
    dir: &Path,
    from: Option<u64>,
    mut apply: impl FnMut(Record<'_>) -> Result<()>,
) -> Result<ReplaySummary> {
    let start = from.unwrap_or(1).max(1);
    let all = segment::list(dir)?;
    let needed: Vec<u64> = all.iter().copied().filter(|n| *n >= start).collect();
    let mut summary = ReplaySummary {
        next_segment: all.last().map_or(start, |n| n + 1).max(start),
        ..ReplaySummary::default()
    };
    let expect_first = from.is_some() || !all.is_empty();
    match needed.first() {
        Some(&first) if first != start => {
            return Err(missing(dir, start, Some(first)));
        }
        None if expect_first => return Err(missing(dir, start, None)),
        _ => {}
    }
    for (i, &number) in needed.iter().enumerate() {
        if number != start + i as u64 {
            return Err(missing(dir, start + i as u64, Some(number)));
        }
        let last = i + 1 == needed.len();
        replay_segment(dir, number, last, &mut summary, &mut apply)?;
        summary.segments += 1;
    }
    Ok(summary)
}

fn missing(dir: &Path, number: u64, next: Option<u64>) -> crate::error::Error {
    let name = segment::path(dir, number).display().to_string();
    match next {
        Some(n) => corrupt(
            &name,
            0,
            format!("the segment is missing (segment {n} follows)"),
        ),
        None => corrupt(&name, 0, "the segment is missing"),
    }
}

/// Bytes read from a segment at a time: a segment is streamed, never read whole.
const READ_BUFFER: usize = 1 << 20;

fn replay_segment(
    dir: &Path,
    number: u64,
    last: bool,
    summary: &mut ReplaySummary,
    apply: &mut impl FnMut(Record<'_>) -> Result<()>,
) -> Result<()> {
    let path = segment::path(dir, number);
    let name = path.display().to_string();
    let file = File::open(&path).map_err(|e| segment::io("open", &path, e))?;
    let len = file
        .metadata()
        .map_err(|e| segment::io("read", &path, e))?
        .len();
    let mut r = BufReader::with_capacity(READ_BUFFER, file);
    let read = |r: &mut BufReader<File>, buf: &mut [u8]| {
        r.read_exact(buf).map_err(|e| segment::io("read", &path, e))
    };
    if len < SEGMENT_HEADER as u64 {
        let mut bytes = vec![0u8; len as usize];
        read(&mut r, &mut bytes)?;
        if last && segment_header(number).starts_with(&bytes) {
            // Created by a writer that was killed before its header was on disk.
            summary.torn = Some(TornTail {
                segment: name,
                offset: 0,
                bytes: len,
            });
            return rewrite_header(&path, number);
        }
        return check_segment_header(&name, &bytes, number);
    }
    let mut header = [0u8; SEGMENT_HEADER];
    read(&mut r, &mut header)?;
    check_segment_header(&name, &header, number)?;
    let mut pos = SEGMENT_HEADER as u64;
    let mut payload = Vec::new();
    loop {
        let rest = len - pos;
        if rest == 0 {
            return Ok(());
        }
        let torn = if rest < RECORD_HEADER as u64 {
            true
        } else {
            let mut h = [0u8; RECORD_HEADER];
            read(&mut r, &mut h)?;
            match record_header(&name, pos, &h)? {
                RecordHeader::Zeros => {
                    if !zeros_to_end(&mut r, rest - RECORD_HEADER as u64, &path)? {
                        return Err(corrupt(&name, pos, "record header checksum mismatch"));
                    }
                    true
                }
                RecordHeader::Valid { len: plen, .. }
                    if RECORD_HEADER as u64 + u64::from(plen) > rest =>
                {
                    true
                }
                RecordHeader::Valid { len: plen, crc } => {
                    payload.resize(plen as usize, 0);
                    read(&mut r, &mut payload)?;
                    check_payload(&name, pos, &payload, crc)?;
                    summary.changes +=
                        u64::from(decode_payload(&name, pos, &payload, &mut *apply)?);
                    summary.records += 1;
                    pos += RECORD_HEADER as u64 + u64::from(plen);
                    false
                }
            }
        };
        if torn && !last {
            return Err(corrupt(
                &name,
                pos,
                "a record is cut short in a segment that is not the last",
            ));
        }
        if torn {
            summary.torn = Some(TornTail {
                segment: name,
                offset: pos,
                bytes: rest,
            });
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| segment::io("open", &path, e))?;
            return f
                .set_len(pos)
                .and_then(|()| f.sync_all())
                .map_err(|e| segment::io("truncate", &path, e));
        }
    }
}

/// Whether the next `n` bytes are all zero.
fn zeros_to_end(r: &mut BufReader<File>, mut n: u64, path: &Path) -> Result<bool> {
    let mut buf = vec![0u8; READ_BUFFER.min(n as usize).max(1)];
    while n > 0 {
        let k = buf.len().min(n as usize);
        r.read_exact(&mut buf[..k])
            .map_err(|e| segment::io("read", path, e))?;
        if buf[..k].iter().any(|b| *b != 0) {
            return Ok(false);
        }
        n -= k as u64;
    }
    Ok(true)
}

fn rewrite_header(path: &Path, number: u64) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| segment::io("open", path, e))?;
    f.write_all(&segment_header(number))
        .and_then(|()| f.sync_all())
        .map_err(|e| segment::io("write", path, e))
}
