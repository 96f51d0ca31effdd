import { ttlOption } from './bytes.js'
import { fromNative } from './errors.js'
import { checkOptions } from './options.js'
import { addon } from './native.js'
import { NativeBackend } from './native-backend.js'
import { attachNative, type SharedStoreDescriptor } from './shared.js'
import type { NativeStore } from './native.js'
import { recoverySource, restoreLatestIn, type RecoverySource, type RestoreReport } from './recovery.js'

/** Set by {@link MemoryBackend.attach} while it constructs the attached backend. */
let attaching: NativeStore | undefined

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
    if (attaching !== undefined) {
      const native = attaching
      attaching = undefined
      super(native)
      return
    }
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
   * A backend on the memory store another thread of this process shared with
   * {@link NativeBackend.share}. It has the whole contract on the same data; its
   * `close()` detaches it only. A descriptor from another process, or not from
   * `share()`, is `ERR_STATEKIT_INVALID_ARG`; one whose store was closed is
   * `ERR_STATEKIT_CLOSED`.
   *
   * @example
   * ```ts
   * // main thread
   * const store = new MemoryBackend()
   * new Worker('./worker.js', { workerData: store.share() })
   * // worker.js
   * const store = MemoryBackend.attach(workerData)
   * store.putSync('seen-by', 'every thread')
   * ```
   */
  static attach(descriptor: SharedStoreDescriptor): MemoryBackend {
    attaching = attachNative(descriptor, 'memory')
    try {
      return new MemoryBackend()
    } finally {
      attaching = undefined
    }
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
