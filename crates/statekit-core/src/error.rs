//! Errors with the stable codes that reach JavaScript as `StateError.code`.

use std::fmt;

/// The stable error codes of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Bad key, value, TTL or option; nothing was changed.
    InvalidArg,
    /// The store was closed.
    Closed,
    /// The directory is held by another open store.
    Locked,
    /// A file or directory is damaged.
    Corrupt,
    /// The operating system refused an I/O operation.
    Io,
    /// A checkpoint of the store is already running.
    Busy,
}

impl ErrorCode {
    /// The string form used on `StateError.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArg => "ERR_STATEKIT_INVALID_ARG",
            ErrorCode::Closed => "ERR_STATEKIT_CLOSED",
            ErrorCode::Locked => "ERR_STATEKIT_LOCKED",
            ErrorCode::Corrupt => "ERR_STATEKIT_CORRUPT",
            ErrorCode::Io => "ERR_STATEKIT_IO",
            ErrorCode::Busy => "ERR_STATEKIT_BUSY",
        }
    }
}

/// An engine error: a code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidArg, message)
    }

    pub fn closed() -> Self {
        Error::new(ErrorCode::Closed, "the store is closed")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;
