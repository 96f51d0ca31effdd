//! The change log's on-disk format, version 1. `docs/changelog-format.md` describes it
//! for readers without this code. All integers are little-endian.
//!
//! ```text
//! segment  header: magic "STKCLOG1", version u16, reserved u16 (0), segment number u64,
//!          crc32c u32 of the 20 bytes before it
//!          then records, one after another, to the end of the file
//! record   payload length u32, crc32c u32 of the payload,
//!          crc32c u32 of the 8 bytes before it, payload
//! payload  change count u32 (1, or a batch's size), then that many changes, each
//!          encoded as a checkpoint record (put, tombstone or clear)
//! ```
//!
//! The length has its own checksum so that a damaged length is told apart from a
//! record cut short by a crash: only a record that runs past the end of the last
//! segment (or a tail of zero bytes) is torn.

use crate::checkpoint::format::{decode_one, u32_at, u64_at, Record};
use crate::error::{Error, ErrorCode, Result};

pub const SEGMENT_MAGIC: &[u8; 8] = b"STKCLOG1";
pub const VERSION: u16 = 1;
/// Bytes of a segment's header.
pub const SEGMENT_HEADER: usize = 24;
/// Bytes of a record's header.
pub const RECORD_HEADER: usize = 12;
/// The largest payload a writer makes: a batch is bounded by the value limit times its
/// size, so this only rejects lengths no writer produces (1 GiB plus room for keys).
pub const MAX_PAYLOAD: u32 = (1 << 30) + (64 << 20);

/// The bytes of a segment's header.
pub fn segment_header(number: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&number.to_le_bytes());
    let crc = crc32c::crc32c(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// A damage report naming the segment file and the byte offset.
pub fn corrupt(segment: &str, offset: u64, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Corrupt,
        format!("change log segment {segment} is damaged at byte {offset}: {what}"),
    )
}

/// Checks a segment's header: it must be whole, verify, and carry `number`.
pub fn check_segment_header(name: &str, bytes: &[u8], number: u64) -> Result<()> {
    if bytes.len() < SEGMENT_HEADER {
        return Err(corrupt(name, 0, "the segment header is cut short"));
    }
    if &bytes[..8] != SEGMENT_MAGIC {
        return Err(corrupt(
            name,
            0,
            "not a statekit change log segment (bad magic)",
        ));
    }
    if crc32c::crc32c(&bytes[..20]) != u32_at(bytes, 20) {
        return Err(corrupt(name, 20, "segment header checksum mismatch"));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(corrupt(
            name,
            8,
            format!("unknown format version {version}"),
        ));
    }
    let found = u64_at(bytes, 12);
    if found != number {
        return Err(corrupt(
            name,
            12,
            format!("the header says segment {found}, the file name {number}"),
        ));
    }
    Ok(())
}

/// Encodes a record of `changes` at the end of `out` (the writer's pending bytes).
pub fn encode_record(out: &mut Vec<u8>, changes: &[Record<'_>]) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    out.extend_from_slice(&(changes.len() as u32).to_le_bytes());
    for c in changes {
        c.encode_into(out);
    }
    finish_record(out, start);
}

/// Encodes a record of one change without building a slice.
pub fn encode_one(out: &mut Vec<u8>, change: &Record<'_>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    out.extend_from_slice(&1u32.to_le_bytes());
    change.encode_into(out);
    finish_record(out, start);
}

fn finish_record(out: &mut [u8], start: usize) {
    let payload = &out[start + RECORD_HEADER..];
    let len = payload.len() as u32;
    let crc = crc32c::crc32c(payload);
    let h = &mut out[start..start + RECORD_HEADER];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32c::crc32c(&h[..8]);
    h[8..12].copy_from_slice(&hcrc.to_le_bytes());
}

/// What a record's 12-byte header says.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordHeader {
    /// A verified header: the payload's length and checksum.
    Valid { len: u32, crc: u32 },
    /// Zero bytes: the start of a zero tail if the rest of the segment is zeros too.
    Zeros,
}

/// Checks the record header at `offset` of segment `name`.
pub fn record_header(name: &str, offset: u64, h: &[u8]) -> Result<RecordHeader> {
    if h.iter().all(|b| *b == 0) {
        return Ok(RecordHeader::Zeros);
    }
    if crc32c::crc32c(&h[..8]) != u32_at(h, 8) {
        return Err(corrupt(name, offset, "record header checksum mismatch"));
    }
    let len = u32_at(h, 0);
    if !(4..=MAX_PAYLOAD).contains(&len) {
        return Err(corrupt(
            name,
            offset,
            format!("impossible record length {len}"),
        ));
    }
    Ok(RecordHeader::Valid {
        len,
        crc: u32_at(h, 4),
    })
}

/// Checks a payload against its header's checksum.
pub fn check_payload(name: &str, offset: u64, payload: &[u8], crc: u32) -> Result<()> {
    if crc32c::crc32c(payload) != crc {
        return Err(corrupt(name, offset, "record checksum mismatch"));
    }
    Ok(())
}

/// Calls `f` with each change of a verified payload, in order; returns how many.
pub fn decode_payload<'a>(
    name: &str,
    offset: u64,
    payload: &'a [u8],
    mut f: impl FnMut(Record<'a>) -> Result<()>,
) -> Result<u32> {
    let count = u32_at(payload, 0);
    let body = &payload[4..];
    let mut pos = 0;
    for _ in 0..count {
        match decode_one(body, pos).map_err(|e| corrupt(name, offset, e.message))? {
            Some((rec, next)) => {
                f(rec)?;
                pos = next;
            }
            None => return Err(corrupt(name, offset, "fewer changes than the record says")),
        }
    }
    if pos != body.len() {
        return Err(corrupt(name, offset, "bytes after the record's changes"));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The slice form of the reader in `replay.rs`: the same rules on a segment in memory.
    /// What is at an offset of a segment.
    #[derive(Debug)]
    pub enum Next<'a> {
        /// A verified record: its payload and where the next one starts.
        Record { payload: &'a [u8], next: usize },
        /// The end of the segment.
        End,
        /// A record cut short by the end of the segment, or zero bytes to the end: a torn
        /// append.
        Torn,
    }

    /// Reads the record at `pos` of a segment's bytes, verifying both checksums.
    pub fn next_record<'a>(name: &str, bytes: &'a [u8], pos: usize) -> Result<Next<'a>> {
        let rest = &bytes[pos..];
        if rest.is_empty() {
            return Ok(Next::End);
        }
        if rest.len() < RECORD_HEADER {
            return Ok(Next::Torn);
        }
        let (len, crc) = match record_header(name, pos as u64, &rest[..RECORD_HEADER])? {
            RecordHeader::Zeros if rest.iter().all(|b| *b == 0) => return Ok(Next::Torn),
            RecordHeader::Zeros => {
                return Err(corrupt(name, pos as u64, "record header checksum mismatch"))
            }
            RecordHeader::Valid { len, crc } => (len, crc),
        };
        let end = RECORD_HEADER + len as usize;
        if rest.len() < end {
            return Ok(Next::Torn);
        }
        let payload = &rest[RECORD_HEADER..end];
        check_payload(name, pos as u64, payload, crc)?;
        Ok(Next::Record {
            payload,
            next: pos + end,
        })
    }

    fn put<'a>(k: &'a [u8], v: &'a [u8], e: u64) -> Record<'a> {
        Record::Put {
            key: k,
            value: v,
            expires_at: e,
        }
    }

    #[test]
    fn records_round_trip() {
        let mut out = segment_header(7).to_vec();
        encode_one(&mut out, &put(b"a", b"1", 0));
        encode_record(
            &mut out,
            &[put(b"b", b"2", 99), Record::Tombstone { key: b"a" }],
        );
        encode_one(&mut out, &Record::Clear);
        check_segment_header("s", &out, 7).unwrap();
        assert!(check_segment_header("s", &out, 8).is_err());
        let mut pos = SEGMENT_HEADER;
        let mut seen = Vec::new();
        while let Next::Record { payload, next } = next_record("s", &out, pos).unwrap() {
            decode_payload("s", pos as u64, payload, |r| {
                seen.push(format!("{r:?}"));
                Ok(())
            })
            .unwrap();
            pos = next;
        }
        assert_eq!(pos, out.len());
        assert_eq!(seen.len(), 4);
        assert!(seen[3].contains("Clear"));
    }

    #[test]
    fn torn_and_damaged_records_are_told_apart() {
        let mut out = segment_header(1).to_vec();
        encode_one(&mut out, &put(b"key", b"value", 0));
        let whole = out.len();
        encode_one(&mut out, &put(b"key2", b"value2", 0));
        // Every cut inside the second record is torn, never damage.
        for cut in whole + 1..out.len() {
            assert!(matches!(
                next_record("s", &out[..cut], whole).unwrap(),
                Next::Torn
            ));
        }
        // A flip anywhere in the first record is damage at its offset.
        for at in SEGMENT_HEADER..whole {
            let mut bad = out.clone();
            bad[at] ^= 0x10;
            let e = next_record("s", &bad, SEGMENT_HEADER).unwrap_err();
            assert_eq!(e.code, ErrorCode::Corrupt);
            assert!(
                e.message.contains("s is damaged at byte 24"),
                "{}",
                e.message
            );
        }
        // Zeros to the end (a crash after the file grew) are torn.
        let mut zeros = out[..whole].to_vec();
        zeros.extend_from_slice(&[0u8; 40]);
        assert!(matches!(
            next_record("s", &zeros, whole).unwrap(),
            Next::Torn
        ));
    }
}
