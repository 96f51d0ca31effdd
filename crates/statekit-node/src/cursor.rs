//! `Cursor`: the engine's range cursor as a JavaScript class, a page per call.

use napi::bindgen_prelude::{Array, BufferSlice, Env};
use napi_derive::napi;

use crate::error::{from_napi, to_js, Result};

/// A cursor returned by `NativeStore.cursor()`.
#[napi]
pub struct Cursor(statekit_core::Cursor);

impl From<statekit_core::Cursor> for Cursor {
    fn from(c: statekit_core::Cursor) -> Self {
        Cursor(c)
    }
}

impl Cursor {
    /// Fills an array with up to `max` entries, each as `per_entry` values that `put`
    /// sets at consecutive indexes from the key and value.
    fn page<'e>(
        &mut self,
        env: &'e Env,
        max: usize,
        per_entry: u32,
        with_values: bool,
    ) -> Result<Array<'e>> {
        let mut out = env.create_array(0).map_err(from_napi)?;
        let mut i = 0u32;
        let mut failed = None;
        self.0
            .next_page(max, |k, v| {
                if failed.is_some() {
                    return;
                }
                let mut set = |at: u32, bytes: &[u8]| {
                    BufferSlice::copy_from(env, bytes).and_then(|b| out.set(at, b))
                };
                let r = set(i, k).and_then(|()| if with_values { set(i + 1, v) } else { Ok(()) });
                if let Err(e) = r {
                    failed = Some(e);
                }
                i += per_entry;
            })
            .map_err(to_js)?;
        match failed {
            Some(e) => Err(from_napi(e)),
            None => Ok(out),
        }
    }
}

#[napi]
impl Cursor {
    /// Up to `max` entries as a flat array `[key, value, key, value, ...]`; empty when
    /// the cursor is done.
    #[napi(catch_unwind)]
    pub fn next_page<'e>(&mut self, env: &'e Env, max: u32) -> Result<Array<'e>> {
        self.page(env, max as usize, 2, true)
    }

    /// The remaining keys, without values (for `listKeys`).
    #[napi(catch_unwind)]
    pub fn rest_keys<'e>(&mut self, env: &'e Env) -> Result<Array<'e>> {
        self.page(env, usize::MAX, 1, false)
    }
}
