import type { Key, Value } from './bytes.js'
import type { Codec, CodecName } from './codecs.js'
import type { TypedStore } from './typed-store.js'
import type { CheckpointInfo, CheckpointOptions, RestoreInfo } from './checkpoint.js'

/** Options of a single write. */
export interface PutOptions {
  /**
   * Time to live in milliseconds. Absent: the backend's default TTL. `0` or
   * `Infinity`: never expires. Fractions round up to the next millisecond.
   * @default the backend's default TTL
   */
  ttl?: number
}

/** One entry of a `putMany` batch, in either of its two shapes. */
export type BatchEntry = [Key, Value] | { key: Key; value: Value; ttl?: number }

/** Which entries `entries()` visits, in key-byte order. */
export interface RangeOptions {
  /**
   * Only keys that start with this.
   * @default every key
   */
  prefix?: Key
  /** Only keys greater than or equal to this (byte order). */
  gte?: Key
  /** Only keys less than this (byte order). */
  lt?: Key
  /**
   * At most this many entries.
   * @default no limit
   */
  limit?: number
  /**
   * Descending key order.
   * @default false
   */
  reverse?: boolean
}

/** Counters and sizes of a backend, from `stats()`. */
export interface BackendStats {
  /** Reads (`get`, `getSync`, and each key of `getMany`): hits plus misses. */
  getCount: number
  /** Reads that found a live value. */
  hitCount: number
  /** Reads that found nothing, or only an expired value. */
  missCount: number
  /** Entries written. */
  putCount: number
  /** Live entries removed by `delete` and `deleteMany`. */
  deleteCount: number
  /** Expired entries removed, on read or by a sweep. */
  expiredCount: number
  /** Entries held now, including expired ones not swept yet. */
  entryCount: number
  /**
   * Memory tier: bytes of keys and values plus a fixed per-entry overhead. Sled tier:
   * bytes of the live keys and values stored.
   */
  memoryBytes: number
  /** Sled tier only: bytes the store takes on disk (absent while sled is closed after a failed reopen). */
  diskBytes?: number
  /**
   * Sled tier only: times this store reopened sled behind its handle after an I/O
   * error (a full disk, say), dropping the writes not yet flushed, as a restart would.
   */
  reopenCount?: number
}

/** Options of `namespace()`. */
export interface NamespaceOptions<T> {
  /**
   * How values are encoded: a built-in codec's name or a custom codec.
   * @default 'json'
   */
  codec?: CodecName | Codec<T>
}

/** A handle on a running cleanup task. */
export interface CleanupTaskHandle {
  /** Stops the task. Calling it again is harmless. */
  stop(): void
}

/**
 * The contract every statekit backend implements. Async methods never throw
 * synchronously: bad input rejects with a {@link StateError}. The `*Sync` methods
 * throw instead.
 */
export interface StateBackend {
  /** The live value of `key`, or `undefined`. */
  get(key: Key): Promise<Buffer | undefined>
  /** Stores `value` under `key`. */
  put(key: Key, value: Value, opts?: PutOptions): Promise<void>
  /** Removes `key`; resolves whether a live entry was removed. */
  delete(key: Key): Promise<boolean>
  /** The live keys starting with `prefix` (all when absent), in byte order. */
  listKeys(prefix?: Key): Promise<Buffer[]>
  /** Whether `key` has a live value. Not counted as a get. */
  has(key: Key): Promise<boolean>
  /** The live values of `keys`, in one call. */
  getMany(keys: Key[]): Promise<(Buffer | undefined)[]>
  /** Writes every entry, or none if any is invalid; all become visible together. */
  putMany(entries: BatchEntry[]): Promise<void>
  /** Removes every key; resolves for each whether a live entry was removed. */
  deleteMany(keys: Key[]): Promise<boolean[]>
  /** The live entries of a range, in key-byte order. */
  entries(opts?: RangeOptions): AsyncIterableIterator<[Buffer, Buffer]>
  /** Removes every entry. */
  clear(): Promise<void>
  /** Counters and sizes. */
  stats(): BackendStats
  /** Writes a point-in-time checkpoint of the backend to `path`. */
  checkpoint(path: string, opts?: CheckpointOptions): Promise<CheckpointInfo>
  /** Replaces the backend's data with a checkpoint's; a damaged file changes nothing. */
  restore(path: string): Promise<RestoreInfo>
  /** Releases the backend; every later call fails with `ERR_STATEKIT_CLOSED`. Idempotent. */
  close(): Promise<void>
  /**
   * The live value of `key` as a `Buffer`, or `undefined`, returned directly (no
   * Promise): the fast path, through buffers shared with the addon. Throws a
   * {@link StateError} (`ERR_STATEKIT_INVALID_ARG` for a bad key,
   * `ERR_STATEKIT_CLOSED` after `close()`). Counted as a get.
   */
  getSync(key: Key): Buffer | undefined
  /**
   * Stores `value` under `key` before returning, visible to every later read. `ttl` in
   * `opts` is in milliseconds; absent, the backend's default TTL applies (`0` or
   * `Infinity`: never expires). Throws a {@link StateError} for a bad key, value, TTL
   * or option, and writes nothing then.
   */
  putSync(key: Key, value: Value, opts?: PutOptions): void
  /**
   * Removes `key` before returning; returns `true` if a live entry was removed.
   * Throws a {@link StateError} for a bad key or a closed backend.
   */
  deleteSync(key: Key): boolean
  /**
   * Whether `key` has a live (unexpired) value, returned directly. Not counted as a
   * get. Throws a {@link StateError} for a bad key or a closed backend.
   */
  hasSync(key: Key): boolean
  /** A typed view of the keys under `prefix + ':'`, with a codec for values. */
  namespace<T>(prefix: string, opts?: NamespaceOptions<T>): TypedStore<T>
}
