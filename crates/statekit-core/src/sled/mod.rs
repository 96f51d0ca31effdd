//! The persistent tier on sled: values with an expiry header, an expiry index tree,
//! cuts by writer pre-images and a scan position, and restores into a new generation
//! of trees switched in by one metadata write.

mod clear;
pub(crate) mod format;
pub(crate) mod marker;
pub(crate) mod open;
pub(crate) mod recover;
pub(crate) mod restore;
pub(crate) mod snapshot;
mod tier;

pub(crate) use clear::clear_tree;
pub use open::{SledMode, SledOptions, DEFAULT_FLUSH_EVERY_MS};
pub use restore::SledRestoreClaim;
pub use snapshot::SledSnapshot;
pub use tier::SledTier;
pub(crate) use tier::{commit_gen, open_trees, Trees};
