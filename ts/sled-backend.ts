import { ttlOption } from './bytes.js'
import { describe, fromNative, invalidArg } from './errors.js'
import { checkOptions } from './options.js'
import { addon, type NativeStore } from './native.js'
import { NativeBackend } from './native-backend.js'
import { attachNative, type SharedStoreDescriptor } from './shared.js'
import { promises as fsp } from 'node:fs'
import { removeStaleStaging, stagingName, swapIn } from './sled-recovery.js'
import { asideName, recoverySource, restoreLatestIn, type RecoveryReport, type RecoverySource } from './recovery.js'

const SLED_OPTIONS = ['path', 'ttl', 'cacheCapacity', 'compression', 'flushEveryMs', 'mode'] as const

/** Options of {@link SledBackend.open}. */
export interface SledBackendOptions {
  /** The store's directory. Created if missing; it must not be a file. */
  path: string
  /**
   * Default time to live of entries in milliseconds; absent, 0 or `Infinity`: none.
   * @default none: entries never expire unless a write gives its own `ttl`
   */
  ttl?: number
  /**
   * Bytes of sled's page cache.
   * @default 1073741824 (sled's 1 GiB)
   */
  cacheCapacity?: number
  /**
   * sled's zstd compression of its pages. It cannot change across restarts: opening a
   * store with the other setting fails with `ERR_STATEKIT_INVALID_ARG`.
   * @default false
   */
  compression?: boolean
  /**
   * Milliseconds between background flushes to disk. `null`: no periodic flush;
   * writes are durable only after `flush()` or `close()`.
   * @default 500 (the addon's `DEFAULT_FLUSH_EVERY_MS`)
   */
  flushEveryMs?: number | null
  /**
   * sled's write mode: `'highThroughput'` or `'lowSpace'`.
   * @default 'highThroughput'
   */
  mode?: 'highThroughput' | 'lowSpace'
}

/**
 * The persistent tier, on sled: the same contract as {@link MemoryBackend}, kept on
 * disk. Expiry is stored as absolute time with each value, so TTLs run on while the
 * store is closed.
 *
 * Durability: a write is applied when its call returns and durable after the next
 * flush: the periodic one (`flushEveryMs`), `flush()`, or `close()`. `putMany` is one
 * atomic batch: after a crash all of it or none of it is there.
 *
 * @example
 * ```ts
 * const store = await SledBackend.open({ path: './state', flushEveryMs: 1000 })
 * await store.put('window:123', 'state')
 * await store.flush()   // durable now
 * await store.close()   // flushes and releases the directory
 * ```
 */
export class SledBackend extends NativeBackend {
  private constructor(native: NativeStore) {
    super(native)
  }

  /**
   * A backend on the sled store another thread of this process shared with
   * {@link NativeBackend.share}: the same open database (its directory stays locked
   * once, by the owner), with the whole contract; its `close()` detaches it only. A
   * descriptor from another process, or not from `share()`, is
   * `ERR_STATEKIT_INVALID_ARG`; one whose store was closed is `ERR_STATEKIT_CLOSED`.
   */
  static attach(descriptor: SharedStoreDescriptor): SledBackend {
    return new SledBackend(attachNative(descriptor, 'sled'))
  }

  /**
   * Opens (or creates) the store in `config.path`, on a worker thread. Fails with
   * `ERR_STATEKIT_LOCKED` if another open store (in this process or another) holds
   * the directory, `ERR_STATEKIT_IO` if the path is a file, `ERR_STATEKIT_CORRUPT` if
   * the directory is damaged, and `ERR_STATEKIT_INVALID_ARG` for bad options (then
   * nothing on disk is touched).
   */
  static async open(config: SledBackendOptions): Promise<SledBackend> {
    if (config === null || typeof config !== 'object') {
      throw invalidArg(`config must be an object, got ${describe(config)}`)
    }
    checkOptions(config, SLED_OPTIONS, 'SledBackend.open')
    const { path, cacheCapacity, compression, flushEveryMs, mode } = config
    if (typeof path !== 'string' || path.length === 0) {
      throw invalidArg(`path must be a non-empty string, got ${describe(path)}`)
    }
    const ttl = ttlOption(config.ttl)
    if (cacheCapacity !== undefined && (typeof cacheCapacity !== 'number' || !Number.isSafeInteger(cacheCapacity) || cacheCapacity < 0)) {
      throw invalidArg(`cacheCapacity must be a non-negative integer, got ${describe(cacheCapacity)}`)
    }
    if (compression !== undefined && typeof compression !== 'boolean') {
      throw invalidArg(`compression must be a boolean, got ${describe(compression)}`)
    }
    if (flushEveryMs !== undefined && flushEveryMs !== null && (typeof flushEveryMs !== 'number' || !Number.isSafeInteger(flushEveryMs) || flushEveryMs < 1)) {
      throw invalidArg(`flushEveryMs must be a positive integer or null, got ${describe(flushEveryMs)}`)
    }
    if (mode !== undefined && mode !== 'highThroughput' && mode !== 'lowSpace') {
      throw invalidArg(`mode must be 'highThroughput' or 'lowSpace', got ${describe(mode)}`)
    }
    try {
      const native = await addon.openSled({
        path,
        ...(ttl !== undefined ? { ttl } : {}),
        ...(cacheCapacity !== undefined ? { cacheCapacity } : {}),
        ...(compression !== undefined ? { compression } : {}),
        ...(typeof flushEveryMs === 'number' ? { flushEveryMs } : {}),
        ...(flushEveryMs === null ? { noPeriodicFlush: true } : {}),
        ...(mode !== undefined ? { mode } : {}),
      })
      return new SledBackend(native)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * Opens the store like {@link SledBackend.open}; if its directory is damaged
   * (`ERR_STATEKIT_CORRUPT`), restores the newest checkpoint in `checkpointDir` (or
   * `storage`) that restores whole into a fresh store beside it, then puts that store
   * in its place and moves the damaged directory aside (never deleting it). A crash at
   * any moment leaves the damaged directory or the restored one in place, and a file
   * beside the store (`<path>.statekit-recovering`) makes every open of an interrupted
   * recovery `ERR_STATEKIT_CORRUPT`, so the next call runs it again. The report says
   * what happened: whether the directory was damaged, where it went, which checkpoint
   * was restored (with its metadata, the offsets to resume from) and which were
   * skipped. Other errors (locked, I/O) reject as usual.
   */
  static async openWithRecovery(
    config: SledBackendOptions,
    recovery: RecoverySource,
  ): Promise<{ backend: SledBackend; report: RecoveryReport }> {
    const source = recoverySource(recovery)
    try {
      return { backend: await SledBackend.open(config), report: { damaged: false, restored: false, skipped: [] } }
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_STATEKIT_CORRUPT') throw e
      // The restored store is built beside the damaged one (see sled-recovery.ts).
      await removeStaleStaging(config.path)
      const staging = stagingName(config.path)
      const built = await SledBackend.open({ ...config, path: staging })
      let restored: Awaited<ReturnType<typeof restoreLatestIn>>
      try {
        restored = await restoreLatestIn(built, source)
        await built.close()
      } catch (err) {
        await built.close().catch(() => {})
        await fsp.rm(staging, { recursive: true, force: true }).catch(() => {})
        throw err
      }
      const movedTo = asideName(config.path)
      const moved = await swapIn(config.path, staging, movedTo)
      const backend = await SledBackend.open(config)
      return { backend, report: { ...restored, damaged: true, ...(moved ? { movedTo } : {}), reason: (e as Error).message } }
    }
  }

  /**
   * Resolves when every earlier write is on disk; returns the bytes written. Runs on
   * a worker thread, never blocking the event loop.
   */
  async flush(): Promise<number> {
    try {
      return await this.native.flush()
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** Bytes the store takes on disk. */
  async sizeOnDisk(): Promise<number> {
    try {
      return await this.native.sizeOnDisk()
    } catch (e) {
      throw fromNative(e)
    }
  }
}

