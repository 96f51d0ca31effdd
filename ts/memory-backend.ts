import { ttlOption } from './bytes.js'
import { fromNative } from './errors.js'
import { checkOptions } from './options.js'
import { addon } from './native.js'
import { NativeBackend } from './native-backend.js'
import { recoverySource, restoreLatestIn, type RecoverySource, type RestoreReport } from './recovery.js'

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * Default time to live of entries, in milliseconds. Absent, `0` or `Infinity`:
   * entries never expire unless a write gives its own `ttl`.
   * @default none
   */
  ttl?: number
}

/**
 * The in-memory tier: entries live in Rust memory (a sharded hash map), off the V8
 * heap, each with an optional absolute expiry.
 *
 * @example
 * ```ts
 * const store = new MemoryBackend({ ttl: 60_000 })
 * store.putSync('window:123', 'aggregated')
 * store.getSync('window:123') // <Buffer 61 67 ...>
 * ```
 */
export class MemoryBackend extends NativeBackend {
  /** @param opts - the default TTL */
  constructor(opts?: MemoryBackendOptions) {
    checkOptions(opts, ['ttl'], 'MemoryBackend')
    const ttl = ttlOption(opts?.ttl)
    let native
    try {
      native = addon.NativeStore.memory(ttl)
    } catch (e) {
      throw fromNative(e)
    }
    super(native)
  }

  /**
   * A new memory backend holding the newest checkpoint in `checkpointDir` (or `storage`) that
   * restores whole (older ones are tried if newer ones are damaged); empty if there
   * is none. The report says which checkpoint, its metadata and what was skipped.
   */
  static async openWithRecovery(
    opts: MemoryBackendOptions | undefined,
    recovery: RecoverySource,
  ): Promise<{ backend: MemoryBackend; report: RestoreReport }> {
    const source = recoverySource(recovery)
    const backend = new MemoryBackend(opts)
    return { backend, report: await restoreLatestIn(backend, source) }
  }
}
