//! One write of a batch, as both tiers take it.

use crate::error::Result;
use crate::limits::{check_key, check_value};
use crate::ttl::Ttl;

/// One write of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct PutEntry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub ttl: Ttl,
}

impl PutEntry<'_> {
    /// Checks every entry of a batch, before any of it is written.
    pub fn check_all(entries: &[PutEntry<'_>]) -> Result<()> {
        entries.iter().try_for_each(|e| {
            check_key(e.key)?;
            check_value(e.value)
        })
    }
}
