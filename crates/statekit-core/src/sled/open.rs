//! Opening a sled directory safely: validated options, a directory lock, and sled's
//! own open under `catch_unwind`, since sled 0.34 can panic on damaged files.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};
use crate::ttl::Ttl;

/// The smallest page cache sled accepts, in bytes.
pub const MIN_CACHE_CAPACITY: u64 = 256;

/// Milliseconds between background flushes unless the options say otherwise.
pub const DEFAULT_FLUSH_EVERY_MS: u64 = 500;

/// sled's write mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SledMode {
    /// Favour throughput (sled's default).
    #[default]
    HighThroughput,
    /// Favour a small footprint on disk.
    LowSpace,
}

impl SledMode {
    /// `highThroughput` or `lowSpace`.
    pub fn parse(name: &str) -> Result<SledMode> {
        match name {
            "highThroughput" => Ok(SledMode::HighThroughput),
            "lowSpace" => Ok(SledMode::LowSpace),
            other => Err(Error::invalid_arg(format!(
                "mode must be 'highThroughput' or 'lowSpace', got '{other}'"
            ))),
        }
    }
}

/// Options of the sled tier.
#[derive(Debug, Clone, PartialEq)]
pub struct SledOptions {
    /// The store's directory; created if missing.
    pub path: PathBuf,
    /// The default TTL of entries.
    pub default_ttl: Ttl,
    /// Bytes of sled's page cache (sled's default: 1 GiB).
    pub cache_capacity: Option<u64>,
    /// sled's zstd compression of pages.
    pub compression: bool,
    /// How often sled flushes to disk in the background; `None` never does.
    pub flush_every_ms: Option<u64>,
    /// sled's write mode.
    pub mode: SledMode,
}

impl SledOptions {
    /// Options for `path` with every default: no TTL, sled's cache size, no
    /// compression, a flush every 500 ms.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SledOptions {
            path: path.into(),
            default_ttl: Ttl::Never,
            cache_capacity: None,
            compression: false,
            flush_every_ms: Some(DEFAULT_FLUSH_EVERY_MS),
            mode: SledMode::default(),
        }
    }

    /// Checks the options before anything touches the disk.
    pub fn validate(&self) -> Result<()> {
        if self.path.as_os_str().is_empty() {
            return Err(Error::invalid_arg("path must be a non-empty string"));
        }
        if let Some(c) = self.cache_capacity {
            // sled asserts (panics) below this.
            if c < MIN_CACHE_CAPACITY {
                return Err(Error::invalid_arg(format!(
                    "cacheCapacity must be at least {MIN_CACHE_CAPACITY} bytes, got {c}"
                )));
            }
        }
        crate::checkpoint::request::check_path(&self.path)?;
        if self.flush_every_ms == Some(0) {
            return Err(Error::invalid_arg(
                "flushEveryMs must be a positive number of milliseconds, or null for no periodic flush",
            ));
        }
        Ok(())
    }

    /// sled's configuration for these options.
    pub(crate) fn sled_config(&self) -> sled::Config {
        let mut config = sled::Config::new()
            .path(&self.path)
            .use_compression(self.compression)
            .flush_every_ms(self.flush_every_ms)
            .mode(match self.mode {
                SledMode::HighThroughput => sled::Mode::HighThroughput,
                SledMode::LowSpace => sled::Mode::LowSpace,
            });
        if let Some(bytes) = self.cache_capacity {
            config = config.cache_capacity(bytes);
        }
        config
    }
}

/// Makes sure `path` is a directory, creating it if missing.
pub(crate) fn ensure_dir(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::new(
            ErrorCode::Io,
            format!("{} exists and is not a directory", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(path)
            .map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("cannot create {}: {e}", path.display()),
                )
            }),
        Err(e) => Err(Error::new(
            ErrorCode::Io,
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// Converts a sled error met on `path`.
pub fn sled_error(path: &Path, err: sled::Error) -> Error {
    match err {
        sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => Error::new(
            ErrorCode::Locked,
            format!("{} is held by another open store", path.display()),
        ),
        sled::Error::Io(e) => Error::new(ErrorCode::Io, format!("{}: {e}", path.display())),
        sled::Error::Corruption { at, .. } => Error::new(
            ErrorCode::Corrupt,
            match at {
                Some(ptr) => format!("{} is damaged: corrupt data at {ptr:?}", path.display()),
                None => format!("{} is damaged: corrupt data", path.display()),
            },
        ),
        // The one option sled cannot change across restarts is compression.
        sled::Error::Unsupported(msg) if msg.contains("cannot change compression") => Error::new(
            ErrorCode::InvalidArg,
            format!(
                "{} cannot be opened with these options: {msg}",
                path.display()
            ),
        ),
        sled::Error::Unsupported(msg) => Error::new(
            ErrorCode::Corrupt,
            format!(
                "{} is damaged or not a statekit store: {msg}",
                path.display()
            ),
        ),
        sled::Error::ReportableBug(msg) => Error::new(
            ErrorCode::Corrupt,
            format!("{} is damaged: sled reported {msg}", path.display()),
        ),
        sled::Error::CollectionNotFound(name) => Error::new(
            ErrorCode::Corrupt,
            format!("{} is damaged: tree {name:?} is missing", path.display()),
        ),
    }
}

/// Runs a sled operation on `path`, turning a panic into a corruption error.
pub fn guarded<T>(path: &Path, what: &str, f: impl FnOnce() -> sled::Result<T>) -> Result<T> {
    match crate::panics::caught(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(sled_error(path, e)),
        Err(payload) => Err(Error::new(
            ErrorCode::Corrupt,
            format!(
                "{} is damaged: sled panicked while {what}: {}",
                path.display(),
                crate::panics::message(payload.as_ref())
            ),
        )),
    }
}
