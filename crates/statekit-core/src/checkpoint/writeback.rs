//! Starting a file's writeback early. A checkpoint is written for a few hundred
//! milliseconds and then fsynced; asking the kernel to start writing each part out as
//! soon as it is written (as RocksDB's `bytes_per_sync` does) leaves the final fsync
//! only the tail to wait for. A hint: durability still comes from that fsync.

use std::fs::File;

/// Asks the kernel to start writing out `file`'s dirty pages, without waiting for them.
/// Does nothing where the kernel has no such call.
pub fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor belongs to `file`, which outlives the call; offset 0
        // with length 0 means the whole file; SYNC_FILE_RANGE_WRITE only starts the
        // writeback of pages not already under it. Its result is a hint's: ignored.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}
