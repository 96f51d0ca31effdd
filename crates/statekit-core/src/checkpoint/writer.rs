//! Writing a checkpoint file: records are packed into blocks; a second thread
//! compresses, checksums and writes each block while the caller produces the next.
//! The file is published atomically (temp file, fsync, rename, directory fsync), so a
//! reader never sees a partial checkpoint.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;

use crate::checkpoint::block_codec::BlockEncoder;
use crate::checkpoint::block_sort::{key_head, BlockSorter};
use crate::checkpoint::format::{Compression, Footer, Header, Record, BLOCK_TARGET, MAX_METADATA};
use crate::checkpoint::writeback::start_writeback;
use crate::error::{Error, ErrorCode, Result};

/// The suffix of a checkpoint being written; stray ones are safe to delete.
pub const TEMP_SUFFIX: &str = ".tmp";

fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// One block on its way to the writing thread, with the buffers it is packed into;
/// blocks come back to be reused, allocations and all.
struct Block {
    raw: Vec<u8>,
    starts: Vec<u32>,
    /// Each record's key head (see [`key_head`]), for sorting.
    heads: Vec<u128>,
    records: u32,
    stored: Vec<u8>,
    head: [u8; 16],
    raw_len: usize,
}

impl Block {
    /// A block with no buffers yet.
    fn empty() -> Self {
        Block {
            raw: Vec::new(),
            starts: Vec::new(),
            heads: Vec::new(),
            records: 0,
            stored: Vec::new(),
            head: [0u8; 16],
            raw_len: 0,
        }
    }

    /// Whether the pool should keep it: it has buffers, and not oversized ones.
    fn worth_keeping(&self) -> bool {
        let held = self.raw.capacity()
            + self.stored.capacity()
            + self.starts.capacity() * 4
            + self.heads.capacity() * 16;
        self.raw.capacity() > 0 && held <= POOL_ITEM_MAX
    }

    fn new() -> Self {
        Block {
            raw: Vec::with_capacity(BLOCK_TARGET + 4096),
            ..Block::empty()
        }
    }

    /// Empties it for reuse, keeping its buffers.
    fn reset(mut self) -> Self {
        self.raw.clear();
        self.starts.clear();
        self.heads.clear();
        self.records = 0;
        self
    }
}

/// What the writing thread has written.
struct Written {
    file: BufWriter<File>,
    packer: Packer,
    footer: Footer,
    body_crc: u32,
    body_len: usize,
}

/// Orders and compresses blocks; the writing thread and the caller each have one.
struct Packer {
    compression: Compression,
    encoder: BlockEncoder,
    sort: bool,
    sorter: BlockSorter,
    sorted: Vec<u8>,
}

impl Packer {
    /// Whether the pool should keep it: it compresses, and its buffers are not oversized.
    fn worth_keeping(&self) -> bool {
        let held = self.sorted.capacity() + self.sorter.capacity_bytes();
        self.compression != Compression::None && held <= POOL_ITEM_MAX
    }

    fn new(compression: Compression, sort: bool) -> Self {
        Packer {
            compression,
            encoder: BlockEncoder::new(compression),
            sort: sort && compression != Compression::None,
            sorter: BlockSorter::default(),
            sorted: Vec::new(),
        }
    }

    /// Orders (if asked) and compresses a block into its `stored` buffer and header.
    fn pack(&mut self, b: &mut Block) -> Result<()> {
        if self.sort {
            self.sorter
                .sort_into(&b.raw, &b.starts, &b.heads, &mut self.sorted);
        }
        let raw = if self.sort { &self.sorted } else { &b.raw };
        self.encoder
            .encode_into(raw, &mut b.stored)
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot compress a block: {e}")))?;
        b.raw_len = raw.len();
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&(raw.len() as u32).to_le_bytes());
        head[4..8].copy_from_slice(&(b.stored.len() as u32).to_le_bytes());
        head[8..12].copy_from_slice(&b.records.to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head[0..12]), &b.stored);
        head[12..16].copy_from_slice(&crc.to_le_bytes());
        b.head = head;
        Ok(())
    }
}

/// Buffers kept from one checkpoint to the next, so a checkpoint does not page in tens
/// of megabytes of fresh memory (and zero it) before it can fill them: at most
/// [`POOL_BLOCKS`] blocks and [`POOL_PACKERS`] packers, each holding what its largest
/// block needed (about 45 MB in all after a checkpoint of 100 MB of records). One that
/// grew past [`POOL_ITEM_MAX`] (a huge value, or millions of tiny records in a block)
/// is freed instead.
struct Pool {
    blocks: Vec<Block>,
    packers: Vec<Packer>,
}

const POOL_BLOCKS: usize = 6;
const POOL_PACKERS: usize = 2;
const POOL_ITEM_MAX: usize = 3 * BLOCK_TARGET;

static POOL: parking_lot::Mutex<Pool> = parking_lot::Mutex::new(Pool {
    blocks: Vec::new(),
    packers: Vec::new(),
});

/// An empty block, from the pool if it has one.
fn pooled_block() -> Block {
    let pooled = POOL.lock().blocks.pop();
    pooled.map_or_else(Block::new, Block::reset)
}

/// A packer for this compression, from the pool if it has one.
fn pooled_packer(compression: Compression, sort: bool) -> Packer {
    let mut pool = POOL.lock();
    match pool
        .packers
        .iter()
        .position(|p| p.compression == compression)
    {
        Some(i) => {
            let mut p = pool.packers.swap_remove(i);
            p.sort = sort && compression != Compression::None;
            p
        }
        None => Packer::new(compression, sort),
    }
}

/// Gives buffers back to the pool, keeping no more than it holds.
fn recycle(blocks: impl IntoIterator<Item = Block>, packers: impl IntoIterator<Item = Packer>) {
    let mut pool = POOL.lock();
    for b in blocks {
        if pool.blocks.len() < POOL_BLOCKS && b.worth_keeping() {
            pool.blocks.push(b);
        }
    }
    for p in packers {
        if pool.packers.len() < POOL_PACKERS && p.worth_keeping() {
            pool.packers.push(p);
        }
    }
}

/// What the caller hands the writing thread: a block to pack, or one it packed.
enum Job {
    Raw(Block),
    Packed(Block),
}

/// The writing thread's side.
struct Sink {
    file: BufWriter<File>,
    packer: Packer,
    tmp: PathBuf,
    footer: Footer,
    body_crc: u32,
    body_len: usize,
    /// The body length when writeback was last started.
    writeback_at: usize,
    spare: Sender<Block>,
}

/// How many bytes are written between two requests to start writeback.
const WRITEBACK_EVERY: usize = 4 << 20;

impl Sink {
    fn write_body(&mut self, bytes: &[u8]) -> Result<()> {
        self.body_crc = crc32c::crc32c_append(self.body_crc, bytes);
        self.body_len += bytes.len();
        self.file
            .write_all(bytes)
            .map_err(|e| io(&self.tmp, "write", e))
    }

    fn write_packed(&mut self, b: &Block) -> Result<()> {
        self.footer.block_count += 1;
        self.footer.raw_bytes += b.raw_len as u64;
        self.footer.body_bytes += (b.head.len() + b.stored.len()) as u64;
        self.write_body(&b.head)?;
        self.write_body(&b.stored)?;
        if self.body_len - self.writeback_at >= WRITEBACK_EVERY {
            self.file.flush().map_err(|e| io(&self.tmp, "write", e))?;
            start_writeback(self.file.get_ref());
            self.writeback_at = self.body_len;
        }
        Ok(())
    }

    fn run(mut self, jobs: Receiver<Job>) -> Result<Written> {
        for job in jobs {
            let block = match job {
                Job::Raw(mut b) => {
                    self.packer.pack(&mut b)?;
                    self.write_packed(&b)?;
                    b
                }
                Job::Packed(b) => {
                    self.write_packed(&b)?;
                    b
                }
            };
            let _ = self.spare.send(block);
        }
        Ok(Written {
            file: self.file,
            packer: self.packer,
            footer: self.footer,
            body_crc: self.body_crc,
            body_len: self.body_len,
        })
    }
}

/// An open checkpoint being written.
pub struct CheckpointWriter {
    tmp: PathBuf,
    dest: PathBuf,
    header: Header,
    block: Block,
    /// Full blocks filled while a lock was held, waiting for flush_if_full.
    sealed: Vec<Block>,
    record_count: u64,
    packer: Packer,
    to_sink: Option<SyncSender<Job>>,
    sink: Option<JoinHandle<Result<Written>>>,
    spare: Receiver<Block>,
}

impl CheckpointWriter {
    /// Starts writing `dest` (through a temp file beside it).
    pub fn create(dest: &Path, header: Header) -> Result<CheckpointWriter> {
        Self::create_with(dest, header, false)
    }

    /// Like [`CheckpointWriter::create`]; with `sort_blocks`, each block's records are
    /// ordered by key before compression. Only for files of puts with distinct keys.
    pub fn create_with(dest: &Path, header: Header, sort_blocks: bool) -> Result<CheckpointWriter> {
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
        ensure_parent_dir(dest)?;
        let file = File::create(&tmp).map_err(|e| io(&tmp, "create", e))?;
        let mut file = BufWriter::with_capacity(1 << 20, file);
        file.write_all(&header.encode())
            .map_err(|e| io(&tmp, "write", e))?;
        let compression = header.compression;
        let (to_sink, blocks) = sync_channel::<Job>(2);
        let (spare_tx, spare) = channel::<Block>();
        let sink = Sink {
            file,
            packer: pooled_packer(header.compression, sort_blocks),
            tmp: tmp.clone(),
            footer: Footer::default(),
            body_crc: 0,
            body_len: 0,
            writeback_at: 0,
            spare: spare_tx,
        };
        let handle = std::thread::Builder::new()
            .name("statekit-checkpoint-writer".into())
            .spawn(move || {
                crate::panics::caught(|| sink.run(blocks)).unwrap_or_else(|p| {
                    Err(Error::new(
                        ErrorCode::Io,
                        format!(
                            "the checkpoint writer thread panicked: {}",
                            crate::panics::message(p.as_ref())
                        ),
                    ))
                })
            })
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot start a writer thread: {e}")))?;
        Ok(CheckpointWriter {
            tmp,
            dest: dest.to_path_buf(),
            header,
            block: pooled_block(),
            sealed: Vec::new(),
            record_count: 0,
            packer: pooled_packer(compression, sort_blocks),
            to_sink: Some(to_sink),
            sink: Some(handle),
            spare,
        })
    }

    /// Appends a record without ever waiting on the writing thread: safe while a lock
    /// is held. Call [`CheckpointWriter::flush_if_full`] once the lock is released.
    pub fn push_unflushed(&mut self, record: &Record<'_>) {
        if self.block.raw.len() >= BLOCK_TARGET {
            // Full: set it aside for flush_if_full, so no block outgrows its buffer.
            let next = self.fresh_block();
            self.sealed.push(std::mem::replace(&mut self.block, next));
        }
        self.block.starts.push(self.block.raw.len() as u32);
        self.block.heads.push(match record {
            Record::Put { key, .. } | Record::Tombstone { key } => key_head(key),
            Record::Clear => 0,
        });
        record.encode_into(&mut self.block.raw);
        self.block.records += 1;
        self.record_count += 1;
    }

    /// Appends a record.
    pub fn push(&mut self, record: &Record<'_>) -> Result<()> {
        self.push_unflushed(record);
        self.flush_if_full()
    }

    /// Hands the full blocks to the writing thread.
    pub fn flush_if_full(&mut self) -> Result<()> {
        let sealed = std::mem::take(&mut self.sealed);
        for block in sealed {
            self.send_block(block)?;
        }
        if self.block.raw.len() >= BLOCK_TARGET {
            self.send_open_block()?;
        }
        Ok(())
    }

    /// An empty block, reusing one the writing thread has finished with if it can.
    fn fresh_block(&mut self) -> Block {
        match self.spare.try_recv() {
            Ok(next) => next.reset(),
            Err(_) => pooled_block(),
        }
    }

    fn send_open_block(&mut self) -> Result<()> {
        if self.block.records == 0 {
            return Ok(());
        }
        let next = self.fresh_block();
        let full = std::mem::replace(&mut self.block, next);
        self.send_block(full)
    }

    fn send_block(&mut self, full: Block) -> Result<()> {
        let Some(tx) = self.to_sink.as_ref() else {
            return self.join_sink().map(|_| ());
        };
        // The writing thread packs the blocks it has room for; when it is behind, the
        // caller packs the block itself, so both cores share the packing in whatever
        // proportion keeps them busy.
        let sent = match tx.try_send(Job::Raw(full)) {
            Ok(()) => true,
            Err(TrySendError::Full(job)) => {
                // Only raw blocks are offered to try_send.
                let (Job::Raw(mut full) | Job::Packed(mut full)) = job;
                self.packer.pack(&mut full)?;
                tx.send(Job::Packed(full)).is_ok()
            }
            Err(_) => false,
        };
        if !sent {
            // The writing thread stopped: its error is reported by finish().
            return self.join_sink().map(|_| ());
        }
        Ok(())
    }

    fn join_sink(&mut self) -> Result<Written> {
        self.to_sink = None;
        match self.sink.take().map(|h| h.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::new(
                ErrorCode::Io,
                "the checkpoint writer thread panicked",
            )),
            None => Err(Error::new(
                ErrorCode::Io,
                "the checkpoint writer already stopped",
            )),
        }
    }

    /// Finishes the file and publishes it; returns the footer and the file's size.
    pub fn finish(mut self) -> Result<(Footer, u64)> {
        let result = self.finish_inner();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result
    }

    fn finish_inner(&mut self) -> Result<(Footer, u64)> {
        self.flush_if_full()?;
        self.send_open_block()?;
        let Written {
            mut file,
            packer,
            mut footer,
            body_crc,
            body_len,
        } = self.join_sink()?;
        recycle([], [packer]);
        footer.record_count = self.record_count;
        let fields = footer.encode_fields();
        let body_crc = crc32c::crc32c_append(body_crc, &fields);
        let body_len = body_len + fields.len();
        // The header's entry count is known only now: rewrite it in place (same size).
        self.header.entry_count = self.record_count;
        let header = self.header.encode();
        let file_crc = crc32c::crc32c_combine(crc32c::crc32c(&header), body_crc, body_len);
        footer.file_crc = file_crc;
        let tail = Footer::encode_tail(file_crc);
        let werr = |e| io(&self.tmp, "write", e);
        file.write_all(&fields).map_err(werr)?;
        file.write_all(&tail).map_err(werr)?;
        file.flush().map_err(werr)?;
        let inner = file.get_mut();
        inner
            .seek(SeekFrom::Start(0))
            .and_then(|_| inner.write_all(&header))
            .map_err(werr)?;
        inner.sync_all().map_err(|e| io(&self.tmp, "fsync", e))?;
        fs::rename(&self.tmp, &self.dest).map_err(|e| io(&self.dest, "publish", e))?;
        sync_dir(&self.dest)?;
        let size = (header.len() + body_len + tail.len()) as u64;
        Ok((footer, size))
    }

    /// Abandons the file.
    pub fn abort(mut self) {
        let _ = self.join_sink();
        let _ = fs::remove_file(&self.tmp);
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        // Stop the writing thread if neither finish() nor abort() did.
        self.to_sink = None;
        if let Some(h) = self.sink.take() {
            let _ = h.join();
        }
        let open = std::mem::replace(&mut self.block, Block::empty());
        let sealed = std::mem::take(&mut self.sealed);
        let returned: Vec<Block> = self.spare.try_iter().collect();
        let packer = std::mem::replace(&mut self.packer, Packer::new(Compression::None, false));
        recycle(returned.into_iter().chain(sealed).chain([open]), [packer]);
        // Unfinished, nothing is published: the temporary file goes (after `finish` it
        // was renamed to the checkpoint and is no longer there).
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Creates the directory that will hold `dest` if it is missing, with any missing
/// parents, and fsyncs the directory each new one was made in, so the new entries are
/// durable before a checkpoint is published into them. The error names the directory
/// that cannot be made (a file in its place, no permission, a full disk).
pub fn ensure_parent_dir(dest: &Path) -> Result<()> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => return Ok(()),
    };
    if dir.is_dir() {
        return Ok(());
    }
    // The missing directories, innermost first.
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur.filter(|d| !d.as_os_str().is_empty()) {
        if d.is_dir() {
            break;
        }
        missing.push(d);
        cur = d.parent();
    }
    let cannot = |d: &Path, e: std::io::Error| {
        Error::new(
            ErrorCode::Io,
            format!("cannot create the directory {}: {e}", d.display()),
        )
    };
    for d in missing.iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            // Made meanwhile by another writer: fine if it is a directory.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(cannot(d, e)),
        }
        sync_dir(d).map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot create the directory {}: {}", d.display(), e.message),
            )
        })?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parent_directories_are_created_and_a_blocked_one_is_named() {
        let base = std::env::temp_dir().join(format!("statekit-parent-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        let dest = base.join("a").join("b").join("0001.skc");
        ensure_parent_dir(&dest).unwrap();
        assert!(base.join("a").join("b").is_dir());
        // Already there: nothing to do.
        ensure_parent_dir(&dest).unwrap();
        // A file where a directory must go: the error names that directory.
        fs::write(base.join("f"), b"x").unwrap();
        let blocked = base.join("f").join("sub").join("0001.skc");
        let err = ensure_parent_dir(&blocked).unwrap_err();
        assert_eq!(err.code, ErrorCode::Io);
        let named = base.join("f").display().to_string();
        assert!(
            err.message.contains(&format!("directory {named}")),
            "{}",
            err.message
        );
        assert!(!err.message.contains(".tmp"), "{}", err.message);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_full_block_and_its_packer_stay_small_enough_to_pool() {
        for compression in [Compression::Zstd(1), Compression::Lz4] {
            let mut packer = Packer::new(compression, true);
            let mut b = Block::new();
            // The same block and packer reused, each block a little bigger than the
            // last (as blocks end wherever their last record does).
            for round in 0..3 {
                b = b.reset();
                let mut i = 0u64;
                while b.raw.len() < BLOCK_TARGET + round * 40 {
                    let key = format!("user:{:011}", (i * 7919) % 1_000_003);
                    let value = format!("{{\"id\":{i},\"category\":\"Premium\"}}");
                    b.starts.push(b.raw.len() as u32);
                    b.heads.push(key_head(key.as_bytes()));
                    Record::Put {
                        key: key.as_bytes(),
                        expires_at: 0,
                        value: value.as_bytes(),
                    }
                    .encode_into(&mut b.raw);
                    b.records += 1;
                    i += 1;
                }
                packer.pack(&mut b).unwrap();
                assert!(b.worth_keeping(), "{compression:?}: a full block is pooled");
                assert!(
                    packer.worth_keeping(),
                    "{compression:?}: its packer is pooled"
                );
            }
        }
    }

    #[test]
    fn the_pool_keeps_ordinary_buffers_but_not_oversized_ones() {
        let mut b = Block::new();
        b.raw.extend_from_slice(&[7u8; 1000]);
        assert!(b.worth_keeping());
        assert!(!Block::empty().worth_keeping());
        // A block that held one huge record.
        b.raw.resize(POOL_ITEM_MAX + 1, 0);
        assert!(!b.worth_keeping());

        let mut p = Packer::new(Compression::Zstd(1), true);
        assert!(p.worth_keeping());
        assert!(!Packer::new(Compression::None, false).worth_keeping());
        p.sorted.resize(POOL_ITEM_MAX + 1, 0);
        assert!(!p.worth_keeping());
    }
}
