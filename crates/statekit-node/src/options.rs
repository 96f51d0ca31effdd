//! Option objects as the TypeScript layer passes them, turned into the engine's
//! types. TypeScript checks their types; the engine checks their ranges.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use statekit_core::{
    whole_number, CheckpointRequest, KeyRange, SledMode, SledOptions, Ttl, DEFAULT_FLUSH_EVERY_MS,
};

use crate::error::{to_js, Result};

/// Which keys to visit: all bytes, already normalized by the TypeScript layer.
#[napi(object)]
pub struct RangeOptions {
    pub prefix: Option<Buffer>,
    pub gte: Option<Buffer>,
    pub lt: Option<Buffer>,
    pub limit: Option<u32>,
    pub reverse: Option<bool>,
}

impl From<RangeOptions> for KeyRange {
    fn from(o: RangeOptions) -> KeyRange {
        KeyRange {
            prefix: o.prefix.map(|b| b.to_vec()),
            gte: o.gte.map(|b| b.to_vec()),
            lt: o.lt.map(|b| b.to_vec()),
            limit: o.limit.map(|l| l as usize),
            reverse: o.reverse.unwrap_or(false),
        }
    }
}

/// The sled tier's options.
#[napi(object)]
pub struct SledConfig {
    pub path: String,
    pub ttl: Option<f64>,
    pub cache_capacity: Option<f64>,
    pub compression: Option<bool>,
    /// Milliseconds between background flushes; absent for the default (500).
    pub flush_every_ms: Option<f64>,
    /// No background flush at all (`flushEveryMs: null` in TypeScript).
    pub no_periodic_flush: Option<bool>,
    pub mode: Option<String>,
}

impl SledConfig {
    pub fn into_options(self) -> Result<SledOptions> {
        let mut o = SledOptions::new(&self.path);
        o.default_ttl = Ttl::default_from_js(self.ttl).map_err(to_js)?;
        if let Some(c) = self.cache_capacity {
            o.cache_capacity = Some(whole_number("cacheCapacity", c, 0).map_err(to_js)?);
        }
        o.compression = self.compression.unwrap_or(false);
        o.flush_every_ms = match (self.no_periodic_flush, self.flush_every_ms) {
            (Some(true), _) => None,
            (_, None) => Some(DEFAULT_FLUSH_EVERY_MS),
            (_, Some(ms)) => Some(whole_number("flushEveryMs", ms, 1).map_err(to_js)?),
        };
        if let Some(mode) = &self.mode {
            o.mode = SledMode::parse(mode).map_err(to_js)?;
        }
        o.validate().map_err(to_js)?;
        Ok(o)
    }
}

/// Options of `checkpoint()`.
#[napi(object)]
pub struct CheckpointOptions {
    /// `zstd` (default), `lz4` or `none`.
    pub compression: Option<String>,
    /// zstd level, 1 to 22 (default: the addon's `DEFAULT_ZSTD_LEVEL`, 1).
    pub level: Option<f64>,
    /// User metadata as JSON text.
    pub metadata: Option<String>,
    /// Only what changed since the last checkpoint.
    pub incremental: Option<bool>,
}

impl CheckpointOptions {
    pub fn into_request(self, path: String) -> Result<CheckpointRequest> {
        CheckpointRequest::new(
            path,
            self.compression.as_deref(),
            self.level,
            self.metadata,
            self.incremental.unwrap_or(false),
        )
        .map_err(to_js)
    }
}
