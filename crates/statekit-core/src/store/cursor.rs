//! Ordered iteration over a range, a page at a time. On the memory tier it walks a
//! sorted snapshot of the range's keys, reading each value when its page is read; on
//! the sled tier it re-seeks after the last key of each page, so it never holds sled
//! open or loads the whole range. It holds the store weakly: once the store is closed
//! (or a restore replaced the memory tier's data), the next page is `ERR_STATEKIT_CLOSED`.

use std::sync::{Arc, Weak};

use super::Store;
use crate::error::{Error, Result};
use crate::memory::MemoryTier;
use crate::range::KeyRange;
use crate::sled::SledTier;

enum Source {
    Memory {
        tier: Weak<MemoryTier>,
        epoch: u64,
        keys: std::vec::IntoIter<Box<[u8]>>,
    },
    Sled {
        tier: Weak<SledTier>,
        gen: u64,
        range: KeyRange,
        after: Option<Vec<u8>>,
        remaining: usize,
        done: bool,
    },
}

/// A cursor over the live entries of a range, in key order.
pub struct Cursor {
    source: Source,
}

impl Cursor {
    pub(super) fn new(store: &Store, range: KeyRange) -> Cursor {
        let source = match store {
            Store::Memory(t) => Source::Memory {
                tier: Arc::downgrade(t),
                epoch: t.epoch(),
                keys: t.keys_in(&range).into_iter(),
            },
            Store::Sled(t) => Source::Sled {
                tier: Arc::downgrade(t),
                gen: t.generation(),
                remaining: range.limit.unwrap_or(usize::MAX),
                range,
                after: None,
                done: false,
            },
        };
        Cursor { source }
    }

    /// Calls `emit(key, value)` for up to `max` further live entries; returns how many.
    /// Zero means the cursor is done.
    pub fn next_page(&mut self, max: usize, mut emit: impl FnMut(&[u8], &[u8])) -> Result<usize> {
        let max = max.max(1);
        let mut n = 0;
        match &mut self.source {
            Source::Memory { tier, epoch, keys } => {
                let tier = tier.upgrade().ok_or_else(Error::closed)?;
                if tier.epoch() != *epoch {
                    return Ok(0);
                }
                while n < max {
                    let Some(key) = keys.next() else { break };
                    let found = tier.peek_with(&key, |v| emit(&key, v))?;
                    n += usize::from(found.is_some());
                }
            }
            Source::Sled {
                tier,
                gen,
                range,
                after,
                remaining,
                done,
            } => {
                let tier = tier.upgrade().ok_or_else(Error::closed)?;
                while !*done && n < max && *remaining > 0 {
                    let want = (max - n).min(*remaining);
                    let page = tier.page_of(Some(*gen), range, after.as_deref(), want)?;
                    for (k, v) in &page.entries {
                        emit(k, v);
                    }
                    n += page.entries.len();
                    *remaining -= page.entries.len();
                    *done = page.done;
                    if let Some(last) = page.last {
                        *after = Some(last.to_vec());
                    }
                }
            }
        }
        Ok(n)
    }
}
