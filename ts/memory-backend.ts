import { ttlOption } from './bytes.js'
import { changeLogOption, changeLogSegment, type ChangeLogOptions, type ChangeLogRecovery } from './change-log.js'
import { describe, fromNative, invalidArg } from './errors.js'
import { addon } from './native.js'
import { NativeBackend } from './native-backend.js'
import { recoverySource, restoreLatestIn, type RecoverySource, type RestoreReport } from './recovery.js'

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * Default time to live of entries, in milliseconds. Absent, `0` or `Infinity`:
   * entries never expire unless a write gives its own `ttl`.
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
 * mode every write, synchronous (`putSync`, `deleteSync`) or not, returns only once its
 * record is fsynced, as Redis's `appendfsync always` does: a sync call blocks the
 * thread for that time.
 *
 * @example
 * ```ts
 * const store = new MemoryBackend({ ttl: 60_000 })
 * store.putSync('window:123', 'aggregated')
 * store.getSync('window:123') // <Buffer 61 67 ...>
 * ```
 */
export class MemoryBackend extends NativeBackend {
  /** @param opts - the default TTL and the change log */
  constructor(opts?: MemoryBackendOptions) {
    if (opts !== undefined && (opts === null || typeof opts !== 'object')) {
      throw invalidArg(`options must be an object, got ${describe(opts)}`)
    }
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
