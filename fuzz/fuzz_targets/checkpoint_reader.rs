//! The checkpoint reader on any bytes: `verify`, `CheckpointReader` (`open`, `info`,
//! `for_each`), `block_index` and `RecordStream` must never panic, must refuse damage
//! only with `ERR_STATEKIT_CORRUPT`, and must agree with each other. Each input is read
//! as it came and again after `statekit_fuzz::fixup` has made its checksums and
//! totals consistent, so mutations reach the decompressors and the record decoder.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use statekit_core::{
    block_index, verify, CheckpointInfo, CheckpointReader, ErrorCode, Record, RecordStream,
};

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| statekit_fuzz::scratch_dir("reader").join("input.skc"))
}

/// A digest of the records, in order, so two ways of reading them can be compared.
#[derive(Debug, Default, PartialEq, Eq)]
struct Digest {
    records: u64,
    hash: u64,
}

impl Digest {
    fn add(&mut self, rec: Record<'_>) {
        let mut h = self.hash ^ 0x9e37_79b9_7f4a_7c15;
        let mut mix = |bytes: &[u8]| {
            for b in bytes {
                h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
            h = h.rotate_left(17);
        };
        match rec {
            Record::Put {
                key,
                expires_at,
                value,
            } => {
                mix(&[0]);
                mix(key);
                mix(&expires_at.to_le_bytes());
                mix(value);
            }
            Record::Tombstone { key } => {
                mix(&[1]);
                mix(key);
            }
            Record::Clear => mix(&[2]),
        }
        self.hash = h;
        self.records += 1;
    }
}

fn must_be_corrupt(what: &str, e: &statekit_core::Error) {
    assert_eq!(
        e.code,
        ErrorCode::Corrupt,
        "{what} refused a file with a code other than ERR_STATEKIT_CORRUPT: {e:?}"
    );
}

fn read_all(path: &Path) -> statekit_core::Result<(CheckpointInfo, Digest)> {
    let reader = CheckpointReader::open(path)?;
    let info = reader.info().clone();
    let mut digest = Digest::default();
    reader.for_each(|rec| {
        digest.add(rec);
        Ok(())
    })?;
    Ok((info, digest))
}

fn stream_all(path: &Path) -> statekit_core::Result<Digest> {
    let mut stream = RecordStream::open(path)?;
    let mut digest = Digest::default();
    while stream.next_batch(64, |rec| digest.add(rec))? > 0 {}
    Ok(digest)
}

fn check(bytes: &[u8]) {
    let path = file();
    std::fs::write(path, bytes).expect("cannot write the fuzz input");
    let verified = verify(path);
    let read = read_all(path);
    match (&verified, &read) {
        (Ok(info), Ok((info2, digest))) => {
            assert_eq!(
                info, info2,
                "verify and CheckpointReader disagree on the info"
            );
            assert_eq!(info.file_bytes, bytes.len() as u64);
            assert_eq!(
                digest.records, info.header.entry_count,
                "a verified file's records differ from its entry count"
            );
            let blocks = block_index(path).expect("block_index refused a verified file");
            assert_eq!(blocks.len() as u64, info.footer.block_count);
            assert_eq!(
                blocks.iter().map(|b| b.records).sum::<u64>(),
                info.header.entry_count
            );
            assert_eq!(
                blocks.iter().map(|b| b.raw_len).sum::<u64>(),
                info.footer.raw_bytes
            );
            let streamed = stream_all(path).expect("RecordStream refused a verified file");
            assert_eq!(&streamed, digest, "RecordStream read other records");
        }
        (Err(e), Err(e2)) => {
            must_be_corrupt("verify", e);
            must_be_corrupt("CheckpointReader", e2);
            match stream_all(path) {
                Ok(d) => panic!("RecordStream accepted a file verify refuses ({e:?}): {d:?}"),
                Err(e3) => must_be_corrupt("RecordStream", &e3),
            }
            if let Err(e4) = block_index(path) {
                must_be_corrupt("block_index", &e4);
            }
        }
        _ => panic!("verify and CheckpointReader disagree: {verified:?} vs {read:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let fixed = statekit_fuzz::fixup(data);
    if fixed != data {
        check(&fixed);
    }
});
