import { ttlOption, type Key, type Value } from './bytes.js'
import { changeLogOption, changeLogSegment, type ChangeLogOptions, type ChangeLogRecovery } from './change-log.js'
import { fromNative } from './errors.js'
import { checkOptions } from './options.js'
import { addon } from './native.js'
import { NativeBackend } from './native-backend.js'
import { attachNative, type SharedStoreDescriptor } from './shared.js'
import type { NativeStore } from './native.js'
import { recoverySource, restoreLatestIn, type RecoverySource, type RestoreReport } from './recovery.js'
import type { BatchEntry, PutOptions } from './types.js'

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
  /**
   * A change log: every put, delete, batch and clear is appended to segment files in
   * `dir` by a Rust writer thread, so a crash loses at most the last second
   * (`fsync: 'everysec'`, the default) or nothing (`'always'`). Checkpoints taken by a
   * {@link CheckpointCoordinator} truncate it; {@link MemoryBackend.openWithRecovery}
   * replays it. `new MemoryBackend` needs an empty (or new) directory; one that holds
   * a log is opened with `openWithRecovery`. Absent: no log, memory only.
   */
  changeLog?: ChangeLogOptions
}

/** What {@link MemoryBackend.openWithRecovery} restored and replayed. */
export interface MemoryRecoveryReport extends RestoreReport {
  /** What the change log replayed after the checkpoint (with the `changeLog` option). */
  changeLog?: ChangeLogRecovery
}

/**
 * The in-memory tier: entries live in Rust memory (a sharded hash map), off the V8
 * heap, each with an optional absolute expiry.
 *
 * With a `changeLog`, writes are also appended to a log on disk. In `fsync: 'always'`
 * mode every write returns only once its record is fsynced: a sync call (`putSync`,
 * `deleteSync`, ...) blocks the thread for that time, as Redis's `appendfsync always`
 * does; an async one (`put`, `putMany`, ...) waits on a worker thread, so its Promise
 * resolves once durable while the event loop goes on, and writes issued together share
 * one fsync.
 *
 * @example
 * ```ts
 * const store = new MemoryBackend({ ttl: 60_000 })
 * store.putSync('window:123', 'aggregated')
 * store.getSync('window:123') // <Buffer 61 67 ...>
 * ```
 */
export class MemoryBackend extends NativeBackend {
  /** Whether the change log is in `always` mode: async writes then resolve once durable without blocking. */
  #always = false

  /** @param opts - the default TTL and the change log */
  constructor(opts?: MemoryBackendOptions) {
    if (attaching !== undefined) {
      const native = attaching
      attaching = undefined
      super(native)
      // The owner's change log serves every thread: so does its fsync mode.
      this.#always = native.changeLogFsync === 'always'
      return
    }
    checkOptions(opts, ['ttl', 'changeLog'], 'MemoryBackend')
    const ttl = ttlOption(opts?.ttl)
    const log = changeLogOption(opts?.changeLog)
    let native
    try {
      native = addon.NativeStore.memory(ttl)
      if (log) native.attachChangeLog(log)
    } catch (e) {
      throw fromNative(e)
    }
    super(native)
    this.#always = log?.fsync === 'always'
  }

  /**
   * Runs a synchronous write without waiting for its change log record on this thread,
   * then waits for it on a worker thread: in `always` mode an async write's Promise
   * resolves once it is durable while the event loop goes on, and writes made meanwhile
   * share the fsync.
   */
  async #durably<T>(write: () => T): Promise<T> {
    addon.deferChangeLogAcks()
    let result: T
    let record: number
    try {
      result = write()
    } finally {
      record = addon.takeDeferredChangeLogAck()
    }
    if (record !== 0) {
      try {
        await this.native.waitChangeLog(record)
      } catch (e) {
        throw fromNative(e)
      }
    }
    return result
  }

  /** @inheritDoc */
  override async put(key: Key, value: Value, opts?: PutOptions): Promise<void> {
    if (!this.#always) return super.put(key, value, opts)
    return this.#durably(() => this.putSync(key, value, opts))
  }

  /** @inheritDoc */
  override async delete(key: Key): Promise<boolean> {
    if (!this.#always) return super.delete(key)
    return this.#durably(() => this.deleteSync(key))
  }

  /** @inheritDoc */
  override async putMany(entries: BatchEntry[]): Promise<void> {
    if (!this.#always) return super.putMany(entries)
    return this.#durably(() => this.putManySync(entries))
  }

  /** @inheritDoc */
  override async deleteMany(keys: Key[]): Promise<boolean[]> {
    if (!this.#always) return super.deleteMany(keys)
    return this.#durably(() => this.deleteManySync(keys))
  }

  /** @inheritDoc */
  override async clear(): Promise<void> {
    if (!this.#always) return super.clear()
    return this.#durably(() => this.clearSync())
  }

  /**
   * Makes every earlier write durable in the change log (fsync); resolves to the
   * number of records logged since the log was opened. Rejects with
   * `ERR_STATEKIT_INVALID_ARG` without a change log.
   */
  async flush(): Promise<number> {
    try {
      return await this.native.flush()
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * Deletes the change log segments before `segment`, which a committed checkpoint
   * covers (its metadata's `statekitChangeLog.segment`). A
   * {@link CheckpointCoordinator} calls it after each checkpoint it commits; resolves
   * to the number of segments deleted.
   */
  async truncateChangeLog(segment: number): Promise<number> {
    try {
      return await this.native.truncateChangeLog(segment)
    } catch (e) {
      throw fromNative(e)
    }
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
   * is none. With `opts.changeLog`, the log is then replayed from the segment that
   * checkpoint recorded (the whole log without a checkpoint): a torn last record is
   * cut off and reported in `report.changeLog.torn`; a damaged record, or a missing
   * segment, rejects with `ERR_STATEKIT_CORRUPT` naming the segment file and offset.
   * Entries that expired while the process was down are dropped. The report says
   * which checkpoint, its metadata, what was skipped and what the log replayed.
   */
  static async openWithRecovery(
    opts: MemoryBackendOptions | undefined,
    recovery: RecoverySource,
  ): Promise<{ backend: MemoryBackend; report: MemoryRecoveryReport }> {
    const source = recoverySource(recovery)
    const log = changeLogOption(opts?.changeLog)
    const backend = new MemoryBackend({ ...opts, changeLog: undefined })
    try {
      const report: MemoryRecoveryReport = await restoreLatestIn(backend, source)
      if (log) {
        const from = report.restored ? changeLogSegment(report.checkpoint?.metadata) : undefined
        try {
          const r = await backend.native.recoverChangeLog(log, from)
          backend.#always = log.fsync === 'always'
          report.changeLog = { segments: r.segments, records: r.records, changes: r.changes, expired: r.expired, ...(r.torn ? { torn: r.torn } : {}) }
        } catch (e) {
          throw fromNative(e)
        }
      }
      return { backend, report }
    } catch (e) {
      await backend.close().catch(() => {})
      throw e
    }
  }
}
