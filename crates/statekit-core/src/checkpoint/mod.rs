//! Checkpoint files: the format, the writer (sorted, compressed, checksummed blocks,
//! published atomically), the verifying reader, restore chains, and streaming access
//! to records for tools.

pub(crate) mod block_codec;
pub(crate) mod block_sort;
mod builder;
pub(crate) mod format;
pub(crate) mod reader;
pub(crate) mod request;
pub(crate) mod restore;
mod stream;
pub(crate) mod writeback;
pub(crate) mod writer;

pub use builder::CheckpointBuilder;
pub use format::{Compression, Footer, Header, Kind, Record, DEFAULT_ZSTD_LEVEL, MAX_METADATA};
pub use reader::{block_index, verify, BlockMeta, CheckpointInfo, CheckpointReader};
pub use request::{validate, write_cut, CheckpointRequest, CheckpointSummary, Cut};
pub use restore::RestoreSummary;
pub use stream::RecordStream;
pub use writer::{CheckpointWriter, TEMP_SUFFIX};
