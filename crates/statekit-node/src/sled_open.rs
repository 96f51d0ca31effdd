//! `openSled(config)`: the sled tier's options from JavaScript, validated before
//! anything touches the disk.

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use statekit_core::sled_open::{SledMode, SledOptions};
use statekit_core::ttl::Ttl;

use crate::error::{invalid, to_js, Result};
use crate::sled_tasks::OpenTask;

/// The sled tier's options, as the TypeScript layer passes them.
#[napi(object)]
pub struct SledConfig {
    pub path: String,
    pub ttl: Option<f64>,
    pub cache_capacity: Option<f64>,
    pub compression: Option<bool>,
    /// Milliseconds between background flushes; `null` for none; absent for 500.
    pub flush_every_ms: Option<f64>,
    pub no_periodic_flush: Option<bool>,
    pub mode: Option<String>,
}

fn whole(name: &str, v: f64, min: f64) -> Result<u64> {
    if !v.is_finite() || v.fract() != 0.0 || v < min || v > 2f64.powi(53) {
        return Err(invalid(format!(
            "{name} must be an integer >= {min}, got {v}"
        )));
    }
    Ok(v as u64)
}

impl SledConfig {
    fn into_options(self) -> Result<SledOptions> {
        let mut o = SledOptions::new(&self.path);
        o.default_ttl = Ttl::default_from_js(self.ttl).map_err(to_js)?;
        if let Some(c) = self.cache_capacity {
            o.cache_capacity = Some(whole("cacheCapacity", c, 0.0)?);
        }
        o.compression = self.compression.unwrap_or(false);
        o.flush_every_ms = if self.no_periodic_flush == Some(true) {
            None
        } else {
            match self.flush_every_ms {
                None => Some(500),
                Some(ms) => Some(whole("flushEveryMs", ms, 1.0)?),
            }
        };
        o.mode = match self.mode.as_deref() {
            None | Some("highThroughput") => SledMode::HighThroughput,
            Some("lowSpace") => SledMode::LowSpace,
            Some(other) => {
                return Err(invalid(format!(
                    "mode must be 'highThroughput' or 'lowSpace', got '{other}'"
                )))
            }
        };
        o.validate().map_err(to_js)?;
        Ok(o)
    }
}

/// Opens (or creates) a sled store on a worker thread.
#[napi(catch_unwind, ts_return_type = "Promise<NativeStore>")]
pub fn open_sled(config: SledConfig) -> Result<AsyncTask<OpenTask>> {
    Ok(AsyncTask::new(OpenTask::new(config.into_options()?)))
}
