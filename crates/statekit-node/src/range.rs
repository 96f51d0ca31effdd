//! Range options as passed from JavaScript.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use statekit_core::range::KeyRange;

/// Which keys to visit: all bytes, already normalized by the TypeScript layer.
#[napi(object)]
pub struct RangeOptions {
    pub prefix: Option<Buffer>,
    pub gte: Option<Buffer>,
    pub lt: Option<Buffer>,
    pub limit: Option<u32>,
    pub reverse: Option<bool>,
}

impl RangeOptions {
    pub fn into_range(self) -> KeyRange {
        KeyRange {
            prefix: self.prefix.map(|b| b.to_vec()),
            gte: self.gte.map(|b| b.to_vec()),
            lt: self.lt.map(|b| b.to_vec()),
            limit: self.limit.map(|l| l as usize),
            reverse: self.reverse.unwrap_or(false),
        }
    }
}
