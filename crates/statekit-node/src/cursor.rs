//! `KeyCursor`: ordered iteration over a snapshot of a range's keys, reading each value
//! when it is reached (a key deleted meanwhile is skipped).

use std::sync::{Arc, Weak};

use napi::bindgen_prelude::{Array, BufferSlice, Env};
use napi_derive::napi;
use statekit_core::memory::MemoryTier;

use crate::error::{closed, from_napi, Result};

/// A cursor returned by `MemoryStore.cursor()`.
#[napi]
pub struct KeyCursor {
    tier: Weak<MemoryTier>,
    keys: std::vec::IntoIter<Box<[u8]>>,
}

impl KeyCursor {
    pub fn new(tier: &Arc<MemoryTier>, keys: Vec<Box<[u8]>>) -> Self {
        KeyCursor {
            tier: Arc::downgrade(tier),
            keys: keys.into_iter(),
        }
    }
}

#[napi]
impl KeyCursor {
    /// Up to `max` entries as a flat array `[key, value, key, value, ...]`; empty when
    /// the cursor is done.
    #[napi(catch_unwind)]
    pub fn next_page<'e>(&mut self, env: &'e Env, max: u32) -> Result<Array<'e>> {
        let tier = self.tier.upgrade().ok_or_else(closed)?;
        let mut out = env.create_array(0).map_err(from_napi)?;
        let mut n = 0u32;
        while n < max.max(1) * 2 {
            let Some(key) = self.keys.next() else { break };
            let Some(value) = tier.peek_with(&key, |v| BufferSlice::copy_from(env, v)) else {
                continue;
            };
            out.set(n, BufferSlice::copy_from(env, &key).map_err(from_napi)?)
                .map_err(from_napi)?;
            out.set(n + 1, value.map_err(from_napi)?)
                .map_err(from_napi)?;
            n += 2;
        }
        Ok(out)
    }

    /// The remaining keys, without values (for `listKeys`).
    #[napi(catch_unwind)]
    pub fn rest_keys<'e>(&mut self, env: &'e Env) -> Result<Array<'e>> {
        let mut out = env
            .create_array(self.keys.len() as u32)
            .map_err(from_napi)?;
        for (i, key) in self.keys.by_ref().enumerate() {
            out.set(
                i as u32,
                BufferSlice::copy_from(env, &key).map_err(from_napi)?,
            )
            .map_err(from_napi)?;
        }
        Ok(out)
    }
}
