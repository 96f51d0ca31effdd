import type { CheckpointCoordinator } from './coordinator.js'
import { checkOptions } from './options.js'

/** Options of {@link checkpointOnSignals}. */
export interface SignalOptions {
  /** The signals to handle (default SIGTERM and SIGINT). */
  signals?: NodeJS.Signals[]
  /**
   * Close these first, before the final checkpoint: control servers (from
   * `statekit/control`), which stop accepting and finish the requests in flight.
   */
  servers?: Array<{ close(): Promise<void> }>
  /** Also close these (backends) after the final checkpoint. */
  close?: Array<{ close(): Promise<void> }>
  /** Exit the process afterwards (default true): code 0, or 1 if the final checkpoint failed. */
  exit?: boolean
  /** Called with the error if the final checkpoint or a close fails. */
  onError?: (error: unknown) => void
}

/**
 * Graceful shutdown: on SIGTERM or SIGINT, close the control servers (they stop
 * accepting and finish what is in flight), stop the coordinator, take a final
 * checkpoint, close the backends, and exit. A second signal while this runs exits at
 * once. Returns a function that removes the handlers.
 *
 * @example
 * ```ts
 * checkpointOnSignals(coordinator, { servers: [control], close: [store] })
 * ```
 */
export function checkpointOnSignals(coordinator: CheckpointCoordinator, opts: SignalOptions = {}): () => void {
  checkOptions(opts, ['signals', 'servers', 'close', 'exit', 'onError'], 'checkpointOnSignals')
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT']
  let running = false
  const handler = (): void => {
    if (running) process.exit(1)
    running = true
    let code = 0
    Promise.all((opts.servers ?? []).map((s) => s.close().catch((e: unknown) => opts.onError?.(e))))
      .then(() => coordinator.shutdown())
      .catch((e: unknown) => {
        code = 1
        opts.onError?.(e)
      })
      .then(async () => {
        for (const b of opts.close ?? []) await b.close().catch((e: unknown) => opts.onError?.(e))
      })
      .finally(() => {
        if (opts.exit ?? true) process.exit(code)
      })
  }
  for (const s of signals) process.on(s, handler)
  return () => {
    for (const s of signals) process.off(s, handler)
  }
}
