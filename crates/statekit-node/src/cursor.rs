//! `Cursor`: ordered iteration over a range. On the memory tier it walks a sorted
//! snapshot of the range's keys, reading each value when its page is read; on the
//! sled tier it re-seeks after the last key of each page, so it never holds sled open
//! or loads the whole range.

use std::sync::{Arc, Weak};

use napi::bindgen_prelude::{Array, BufferSlice, Env};
use napi_derive::napi;
use statekit_core::memory::MemoryTier;
use statekit_core::range::KeyRange;
use statekit_core::sled_tier::SledTier;

use crate::error::{closed, from_napi, to_js, Result};

enum Source {
    Memory {
        tier: Weak<MemoryTier>,
        keys: std::vec::IntoIter<Box<[u8]>>,
    },
    Sled {
        tier: Weak<SledTier>,
        range: KeyRange,
        after: Option<Vec<u8>>,
        remaining: usize,
        done: bool,
    },
}

/// A cursor returned by `NativeStore.cursor()`.
#[napi]
pub struct Cursor {
    source: Source,
}

impl Cursor {
    pub fn memory(tier: &Arc<MemoryTier>, range: KeyRange) -> Self {
        let keys = tier.keys_in(&range);
        Cursor {
            source: Source::Memory {
                tier: Arc::downgrade(tier),
                keys: keys.into_iter(),
            },
        }
    }

    pub fn sled(tier: &Arc<SledTier>, range: KeyRange) -> Self {
        let remaining = range.limit.unwrap_or(usize::MAX);
        Cursor {
            source: Source::Sled {
                tier: Arc::downgrade(tier),
                range,
                after: None,
                remaining,
                done: false,
            },
        }
    }

    /// Calls `emit(key, value)` for up to `max` live entries.
    fn advance(
        &mut self,
        max: usize,
        mut emit: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        match &mut self.source {
            Source::Memory { tier, keys } => {
                let tier = tier.upgrade().ok_or_else(closed)?;
                let mut n = 0;
                while n < max {
                    let Some(key) = keys.next() else { break };
                    let mut err = None;
                    let found = tier.peek_with(&key, |v| {
                        if let Err(e) = emit(&key, v) {
                            err = Some(e);
                        }
                    });
                    if let Some(e) = err {
                        return Err(e);
                    }
                    n += usize::from(found.is_some());
                }
                Ok(())
            }
            Source::Sled {
                tier,
                range,
                after,
                remaining,
                done,
            } => {
                let tier = tier.upgrade().ok_or_else(closed)?;
                let mut n = 0;
                while !*done && n < max && *remaining > 0 {
                    let want = (max - n).min(*remaining);
                    let page = tier.page(range, after.as_deref(), want).map_err(to_js)?;
                    for (k, v) in &page.entries {
                        emit(k, v)?;
                    }
                    n += page.entries.len();
                    *remaining -= page.entries.len();
                    *done = page.done;
                    if let Some(last) = page.last {
                        *after = Some(last.to_vec());
                    }
                }
                Ok(())
            }
        }
    }
}

#[napi]
impl Cursor {
    /// Up to `max` entries as a flat array `[key, value, key, value, ...]`; empty when
    /// the cursor is done.
    #[napi(catch_unwind)]
    pub fn next_page<'e>(&mut self, env: &'e Env, max: u32) -> Result<Array<'e>> {
        let mut out = env.create_array(0).map_err(from_napi)?;
        let mut i = 0u32;
        self.advance(max.max(1) as usize, |k, v| {
            out.set(i, BufferSlice::copy_from(env, k).map_err(from_napi)?)
                .map_err(from_napi)?;
            out.set(i + 1, BufferSlice::copy_from(env, v).map_err(from_napi)?)
                .map_err(from_napi)?;
            i += 2;
            Ok(())
        })?;
        Ok(out)
    }

    /// The remaining keys, without values (for `listKeys`).
    #[napi(catch_unwind)]
    pub fn rest_keys<'e>(&mut self, env: &'e Env) -> Result<Array<'e>> {
        let mut out = env.create_array(0).map_err(from_napi)?;
        let mut i = 0u32;
        self.advance(usize::MAX, |k, _| {
            out.set(i, BufferSlice::copy_from(env, k).map_err(from_napi)?)
                .map_err(from_napi)?;
            i += 1;
            Ok(())
        })?;
        Ok(out)
    }
}
