//! Work that blocks (I/O, compression, waiting for other holders) runs on libuv's
//! worker threads and settles one Promise. A failure rejects with an `Error` whose
//! `code` is the engine error's own code: nothing is parsed from message text.

use napi::bindgen_prelude::{AsyncTask, Env, Status, Task, ToNapiValue, TypeName};

/// One piece of blocking work and how its result becomes a JavaScript value.
pub trait Work: Send + Sized + 'static {
    type Output: Send + 'static;
    type JsValue: ToNapiValue + TypeName;
    /// Runs on a worker thread.
    fn run(&mut self) -> statekit_core::Result<Self::Output>;
    /// Runs on the JavaScript thread once `run` succeeded.
    fn done(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue>;
}

/// A [`Work`] as a napi-rs task.
pub struct Job<W: Work> {
    work: W,
    failed: Option<statekit_core::Error>,
}

/// Queues `work` on a worker thread; the returned task is a Promise in JavaScript.
pub fn job<W: Work>(work: W) -> AsyncTask<Job<W>> {
    AsyncTask::new(Job { work, failed: None })
}

impl<W: Work> Task for Job<W> {
    type Output = W::Output;
    type JsValue = W::JsValue;

    fn compute(&mut self) -> napi::Result<W::Output> {
        // A panic here becomes a rejection (ERR_STATEKIT_INTERNAL in TypeScript) that
        // carries its message; the panic hook keeps it off stderr.
        let work = &mut self.work;
        let result = statekit_core::panics::caught(|| work.run()).map_err(|p| {
            napi::Error::new(
                Status::GenericFailure,
                format!(
                    "a Rust panic: {}",
                    statekit_core::panics::message(p.as_ref())
                ),
            )
        })?;
        result.map_err(|e| {
            let generic = napi::Error::new(Status::GenericFailure, e.message.clone());
            self.failed = Some(e);
            generic
        })
    }

    fn resolve(&mut self, env: Env, output: W::Output) -> napi::Result<W::JsValue> {
        self.work.done(env, output)
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<W::JsValue> {
        match self.failed.take() {
            Some(e) => Err(crate::error::rejection(env, e)),
            None => Err(err),
        }
    }
}
