import { describe, invalidArg } from './errors.js'
import { checkOptions } from './options.js'

/**
 * When the change log makes records durable.
 *
 * - `'everysec'`: written every 20 ms, fsynced once a second: a killed process loses at
 *   most the last 20 ms of writes, a power loss about a second.
 * - `'always'`: every write returns only once its record is fsynced. An async write's
 *   Promise resolves then, without blocking the event loop; a sync call (`putSync`)
 *   blocks its thread until then. Writes waiting together share one fsync (group commit).
 * - `'no'`: written every 20 ms, fsynced only by `flush()`, at each checkpoint and at
 *   `close()`.
 */
export type ChangeLogFsync = 'everysec' | 'always' | 'no'

/** The `changeLog` option of {@link MemoryBackend}. */
export interface ChangeLogOptions {
  /** The directory of the log's segment files (created if missing; one store at a time). */
  dir: string
  /**
   * When records are made durable.
   * @default 'everysec'
   */
  fsync?: ChangeLogFsync
}

/** A torn last record (a crash during an append) that recovery cut off. */
export interface TornRecord {
  /** The segment file. */
  segment: string
  /** Where the torn record started: the segment's length now. */
  offset: number
  /** The bytes cut off. */
  bytes: number
}

/** What recovering a change log replayed. */
export interface ChangeLogRecovery {
  /** Segments read. */
  segments: number
  /** Records replayed (a `putMany` is one record). */
  records: number
  /** Changes replayed: each put, delete and clear, a batch's entries counted one by one. */
  changes: number
  /** Replayed puts whose entries had expired meanwhile (applied as deletes: TTLs are absolute). */
  expired: number
  /** The torn last record cut off, if there was one. */
  torn?: TornRecord
}

/** The metadata key under which a checkpoint records the log segment its replay starts from. */
export const CHANGE_LOG_METADATA_KEY = 'statekitChangeLog'

/** @internal Validates the `changeLog` option. */
export function changeLogOption(o: unknown): { dir: string; fsync: ChangeLogFsync } | undefined {
  if (o === undefined) return undefined
  const c = o as ChangeLogOptions | null
  if (c === null || typeof c !== 'object') throw invalidArg(`changeLog must be an object, got ${describe(o)}`)
  checkOptions(c, ['dir', 'fsync'], 'changeLog')
  if (typeof c.dir !== 'string' || c.dir === '') throw invalidArg(`changeLog.dir must be a non-empty string, got ${describe(c.dir)}`)
  const fsync = c.fsync ?? 'everysec'
  if (fsync !== 'everysec' && fsync !== 'always' && fsync !== 'no') {
    throw invalidArg(`changeLog.fsync must be 'everysec', 'always' or 'no', got ${describe(c.fsync)}`)
  }
  return { dir: c.dir, fsync }
}

/** @internal The log segment a checkpoint's metadata says its replay starts from. */
export function changeLogSegment(metadata: Record<string, unknown> | undefined): number | undefined {
  const pos = metadata?.[CHANGE_LOG_METADATA_KEY] as { segment?: unknown } | undefined
  return typeof pos?.segment === 'number' ? pos.segment : undefined
}
