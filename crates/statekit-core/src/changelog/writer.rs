//! The change log's writer: appends are encoded into a pending buffer under a short
//! lock (by the thread whose write took effect, while it still holds the shard lock,
//! so the log's order is the order the writes took effect), and one writer thread
//! moves the buffer to the current segment file, group commit style: every record
//! appended while the thread was writing or syncing goes out with the next write.
//!
//! When records reach the disk depends on the [`FsyncMode`]:
//!
//! - `always`: an acknowledged write is durable. The writing call waits until the
//!   writer thread has written and fsynced its record; calls waiting at the same time
//!   share one fsync.
//! - `everysec`: the thread writes what is pending every [`WRITE_EVERY`] (so a killed
//!   process loses at most that much) and fsyncs at most once a second when something
//!   was written (so a power loss loses about a second).
//! - `no`: written as `everysec`, fsynced only by `flush()`, at rotation and at close.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::changelog::format::{encode_one, encode_record};
use crate::changelog::segment;
use crate::checkpoint::format::Record;
use crate::dir_lock::DirLock;
use crate::error::{Error, ErrorCode, Result};

/// How often the writer thread writes pending records in `everysec` and `no` modes.
pub const WRITE_EVERY: Duration = Duration::from_millis(20);
/// How often `everysec` fsyncs (when something was written).
pub const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Pending bytes past which an append wakes the writer thread early.
const WAKE_BYTES: usize = 4 << 20;

/// When the change log's records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncMode {
    /// Every acknowledged write is on disk (the write waits for its fsync).
    Always,
    /// fsync once a second.
    EverySec,
    /// Left to the operating system (fsync only on `flush()`, rotation and close).
    No,
}

impl FsyncMode {
    /// Reads `always`, `everysec` or `no`.
    pub fn parse(name: &str) -> Result<FsyncMode> {
        match name {
            "always" => Ok(FsyncMode::Always),
            "everysec" => Ok(FsyncMode::EverySec),
            "no" => Ok(FsyncMode::No),
            other => Err(Error::invalid_arg(format!(
                "changeLog.fsync must be 'everysec', 'always' or 'no', got '{other}'"
            ))),
        }
    }

    /// The option's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncMode::Always => "always",
            FsyncMode::EverySec => "everysec",
            FsyncMode::No => "no",
        }
    }
}

/// Records appended and not yet handed to the writer thread.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// The number of the last record appended (records are numbered from 1).
    appended: u64,
    /// Segments to start: (offset in `buf` where the new segment begins, its number).
    rotations: Vec<(usize, u64)>,
    /// The segment that appends go to, once queued rotations are done.
    segment: u64,
    /// An fsync is wanted that covers this record.
    sync_wanted: u64,
    closing: bool,
}

/// What the writer thread has done.
#[derive(Default)]
struct Progress {
    /// Records written and fsynced.
    durable: u64,
    /// The newest segment created.
    segment: u64,
    error: Option<Error>,
}

struct Shared {
    mode: FsyncMode,
    dir: PathBuf,
    pending: Mutex<Pending>,
    wake: Condvar,
    progress: Mutex<Progress>,
    progressed: Condvar,
    durable: AtomicU64,
    failed: AtomicBool,
}

/// Creates `dir` if missing and locks it against other open stores.
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    std::fs::create_dir_all(dir).map_err(|e| segment::io("create", dir, e))?;
    DirLock::acquire(dir)
}

/// An open change log: appends, durability waits, rotation and truncation. Dropping
/// it writes and fsyncs what is pending and stops the writer thread.
pub struct ChangeLog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    _lock: DirLock,
}

impl std::fmt::Debug for ChangeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeLog")
            .field("dir", &self.shared.dir)
            .field("mode", &self.shared.mode)
            .finish()
    }
}

impl ChangeLog {
    /// Opens the log in `dir` (created if missing; locked against other open stores)
    /// and starts segment `first` for the appends to come.
    pub fn open(dir: &Path, mode: FsyncMode, first: u64) -> Result<ChangeLog> {
        ChangeLog::open_locked(lock_dir(dir)?, dir, mode, first)
    }

    /// Like [`ChangeLog::open`], with the directory's lock already taken (by
    /// [`lock_dir`], before reading what the directory holds).
    pub fn open_locked(
        lock: DirLock,
        dir: &Path,
        mode: FsyncMode,
        first: u64,
    ) -> Result<ChangeLog> {
        let file = segment::create(dir, first)?;
        let shared = Arc::new(Shared {
            mode,
            dir: dir.to_path_buf(),
            pending: Mutex::new(Pending {
                segment: first,
                ..Pending::default()
            }),
            wake: Condvar::new(),
            progress: Mutex::new(Progress {
                segment: first,
                ..Progress::default()
            }),
            progressed: Condvar::new(),
            durable: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("statekit-changelog".into())
            .spawn(move || Writer::new(worker, file, first).run())
            .map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("cannot start the change log thread: {e}"),
                )
            })?;
        Ok(ChangeLog {
            shared,
            thread: Some(thread),
            _lock: lock,
        })
    }

    /// The fsync mode.
    pub fn mode(&self) -> FsyncMode {
        self.shared.mode
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// `ERR_STATEKIT_IO` once the writer thread has failed: a write checks it before
    /// it changes anything, so no write is acknowledged that the log lost.
    #[inline]
    pub fn check(&self) -> Result<()> {
        if self.shared.failed.load(SeqCst) {
            return Err(self.error());
        }
        Ok(())
    }

    fn error(&self) -> Error {
        self.shared
            .progress
            .lock()
            .error
            .clone()
            .unwrap_or_else(|| Error::new(ErrorCode::Io, "the change log stopped"))
    }

    /// Appends a record of one change; returns its number.
    #[inline]
    pub fn append_one(&self, change: &Record<'_>) -> u64 {
        let mut p = self.shared.pending.lock();
        encode_one(&mut p.buf, change);
        self.appended(&mut p)
    }

    /// Appends one record holding every change (a batch); returns its number.
    pub fn append_batch(&self, changes: &[Record<'_>]) -> u64 {
        let mut p = self.shared.pending.lock();
        encode_record(&mut p.buf, changes);
        self.appended(&mut p)
    }

    #[inline]
    fn appended(&self, p: &mut Pending) -> u64 {
        p.appended += 1;
        if p.buf.len() >= WAKE_BYTES {
            self.shared.wake.notify_one();
        }
        p.appended
    }

    /// Acknowledges record `n` by the log's mode: in `always` mode waits until it is
    /// durable; otherwise returns at once.
    #[inline]
    pub fn acknowledge(&self, n: u64) -> Result<()> {
        match self.shared.mode {
            FsyncMode::Always if n != 0 => self.wait_durable(n),
            _ => Ok(()),
        }
    }

    /// Waits until record `n` and every one before it are written and fsynced.
    pub fn wait_durable(&self, n: u64) -> Result<()> {
        if self.shared.durable.load(SeqCst) >= n {
            return Ok(());
        }
        {
            let mut p = self.shared.pending.lock();
            p.sync_wanted = p.sync_wanted.max(n);
        }
        self.shared.wake.notify_one();
        let mut g = self.shared.progress.lock();
        loop {
            if g.durable >= n {
                return Ok(());
            }
            if let Some(e) = &g.error {
                return Err(e.clone());
            }
            self.shared.progressed.wait(&mut g);
        }
    }

    /// Makes every record appended so far durable; returns how many records the log
    /// holds durably since it was opened. Blocks on I/O.
    pub fn flush(&self) -> Result<u64> {
        self.check()?;
        let n = self.shared.pending.lock().appended;
        self.wait_durable(n)?;
        Ok(n)
    }

    /// Starts a new segment for the records appended from now on; returns its number.
    /// A checkpoint calls it while it holds every shard's lock as it takes its cut, so
    /// every record in the older segments is in the checkpoint and none after.
    pub fn rotate(&self) -> u64 {
        let mut p = self.shared.pending.lock();
        p.segment += 1;
        let at = p.buf.len();
        let number = p.segment;
        p.rotations.push((at, number));
        drop(p);
        self.shared.wake.notify_one();
        number
    }

    /// Waits until segment `number` exists on disk (a checkpoint is published only
    /// once the segment its replay starts from does).
    pub fn wait_segment(&self, number: u64) -> Result<()> {
        self.shared.wake.notify_one();
        let mut g = self.shared.progress.lock();
        loop {
            if g.segment >= number {
                return Ok(());
            }
            if let Some(e) = &g.error {
                return Err(e.clone());
            }
            self.shared.progressed.wait(&mut g);
        }
    }

    /// Deletes the segments below `first_kept` (a committed checkpoint covers them);
    /// the segment being written is never deleted. Returns how many were deleted.
    pub fn truncate(&self, first_kept: u64) -> Result<u64> {
        let newest = self.shared.progress.lock().segment;
        segment::delete_below(&self.shared.dir, first_kept.min(newest))
    }
}

impl Drop for ChangeLog {
    fn drop(&mut self) {
        self.shared.pending.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer thread's state.
struct Writer {
    shared: Arc<Shared>,
    file: File,
    number: u64,
    spare: Vec<u8>,
    /// Records written to the file but not fsynced.
    dirty: bool,
    last_sync: Instant,
}

impl Writer {
    fn new(shared: Arc<Shared>, file: File, number: u64) -> Writer {
        Writer {
            shared,
            file,
            number,
            spare: Vec::new(),
            dirty: false,
            last_sync: Instant::now(),
        }
    }

    fn run(mut self) {
        loop {
            let mut buf = std::mem::take(&mut self.spare);
            buf.clear();
            let (rotations, upto, sync_wanted, closing) = {
                let mut p = self.shared.pending.lock();
                let idle = p.buf.is_empty()
                    && p.rotations.is_empty()
                    && p.sync_wanted <= self.shared.durable.load(SeqCst)
                    && !p.closing;
                if idle {
                    let wait = match self.shared.mode {
                        FsyncMode::Always if !self.dirty => Duration::from_secs(1),
                        _ => WRITE_EVERY,
                    };
                    self.shared.wake.wait_for(&mut p, wait);
                }
                std::mem::swap(&mut p.buf, &mut buf);
                (
                    std::mem::take(&mut p.rotations),
                    p.appended,
                    p.sync_wanted,
                    p.closing,
                )
            };
            let result = self.write_out(&buf, &rotations, upto, sync_wanted, closing);
            self.spare = buf;
            if let Err(e) = result {
                self.shared.failed.store(true, SeqCst);
                self.shared.progress.lock().error = Some(e);
                self.shared.progressed.notify_all();
                return;
            }
            if closing && self.shared.pending.lock().buf.is_empty() {
                return;
            }
        }
    }

    fn write_out(
        &mut self,
        buf: &[u8],
        rotations: &[(usize, u64)],
        upto: u64,
        sync_wanted: u64,
        closing: bool,
    ) -> Result<()> {
        let mut from = 0;
        for &(at, number) in rotations {
            self.write(&buf[from..at])?;
            // The old segment is complete: make it durable before the new one exists.
            self.sync()?;
            self.file = segment::create(&self.shared.dir, number)?;
            self.number = number;
            from = at;
            self.shared.progress.lock().segment = number;
            self.shared.progressed.notify_all();
        }
        self.write(&buf[from..])?;
        let synced_upto = self.shared.durable.load(SeqCst);
        let sync = match self.shared.mode {
            _ if closing || sync_wanted > synced_upto => true,
            FsyncMode::Always => true,
            FsyncMode::EverySec => self.last_sync.elapsed() >= SYNC_EVERY,
            FsyncMode::No => false,
        };
        if sync {
            self.sync()?;
            self.shared.durable.store(upto, SeqCst);
            self.shared.progress.lock().durable = upto;
            self.shared.progressed.notify_all();
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.dirty = true;
        self.file
            .write_all(bytes)
            .map_err(|e| segment::io("write", &segment::path(&self.shared.dir, self.number), e))
    }

    fn sync(&mut self) -> Result<()> {
        if self.dirty {
            self.file.sync_data().map_err(|e| {
                segment::io("sync", &segment::path(&self.shared.dir, self.number), e)
            })?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }
}
