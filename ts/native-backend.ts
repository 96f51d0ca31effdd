import { keyBytes, ttlOf, ttlOption, valueBytes, type Key, type Value } from './bytes.js'
import { describe, fromNative, invalidArg, StateError } from './errors.js'
import {
  CTL,
  CTL_RESULT,
  CTL_TTL,
  FAST_MISS,
  copyValueInto,
  fastDelete,
  fastEntries,
  fastGet,
  fastGetMany,
  fastHas,
  fastKey,
  fastKeys,
  fastPrefixedKey,
  fastPut,
  fastPutMany,
  fastValue,
  takeString,
  takeValue,
  takeValues,
  type NativeStore,
} from './native.js'
import { nativeRange } from './range.js'
import { TypedStore } from './typed-store.js'
import { describeShared, type SharedStoreDescriptor } from './shared.js'
import type {
  BackendStats,
  BatchEntry,
  CleanupTaskHandle,
  NamespaceOptions,
  PutOptions,
  RangeOptions,
  StateBackend,
} from './types.js'
import { resolveCodec } from './codecs.js'
import { checkOptions } from './options.js'
import { checkpointInfo, nativeCheckpointOptions, pathArg, restoreInfo, type CheckpointInfo, type CheckpointOptions, type RestoreInfo } from './checkpoint.js'

const PAGE = 256

function tooSmall(target: Uint8Array, needed: number): StateError {
  return invalidArg(`target holds ${target.length} bytes; the value needs ${needed}`)
}

function keyList(keys: unknown): Uint8Array[] {
  if (!Array.isArray(keys)) throw invalidArg(`keys must be an array, got ${describe(keys)}`)
  return keys.map((k) => keyBytes(k))
}

/**
 * The {@link StateBackend} contract over a native store. The tiers extend it; it is
 * exported for `instanceof` checks, not to be constructed directly.
 */
export abstract class NativeBackend implements StateBackend {
  readonly #native: NativeStore
  readonly #handle: number
  #closing: Promise<void> | undefined

  /** @internal */
  protected constructor(native: NativeStore) {
    this.#native = native
    this.#handle = native.handle
  }

  /** @inheritDoc */
  getSync(key: Key): Buffer | undefined {
    if (fastKey(this.#handle, key)) {
      fastGet()
      const r = CTL[CTL_RESULT]!
      if (r >= 0) return takeValue(r)
      if (r === FAST_MISS) return undefined
    }
    const k = keyBytes(key)
    try {
      return this.#native.get(k) ?? undefined
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * The value of `key` decoded as UTF-8 text, or `undefined`: for string values, with
   * no `Buffer` made on the way (the text is decoded straight from the value the
   * store copied out).
   */
  getString(key: Key): string | undefined {
    if (fastKey(this.#handle, key)) {
      fastGet()
      const r = CTL[CTL_RESULT]!
      if (r >= 0) return takeString(r)
      if (r === FAST_MISS) return undefined
    }
    return this.getSync(key)?.toString('utf8')
  }

  /**
   * Copies the value of `key` into the start of `target` and returns its length in
   * bytes, or `undefined` if the key has no live value: a read that allocates
   * nothing. A value longer than `target` changes nothing in it and throws
   * `ERR_STATEKIT_INVALID_ARG` with the length it needs.
   */
  getInto(key: Key, target: Uint8Array): number | undefined {
    if (!(target instanceof Uint8Array)) throw invalidArg(`target must be a Uint8Array, got ${describe(target)}`)
    if (fastKey(this.#handle, key)) {
      fastGet()
      const r = CTL[CTL_RESULT]!
      if (r >= 0) {
        if (r > target.length) throw tooSmall(target, r)
        copyValueInto(r, target)
        return r
      }
      if (r === FAST_MISS) return undefined
    }
    const v = this.getSync(key)
    if (v === undefined) return undefined
    if (v.length > target.length) throw tooSmall(target, v.length)
    target.set(v)
    return v.length
  }

  /**
   * @internal Reads `prefix` + `key` through the shared value buffer for a namespace:
   * its length (the bytes are then at the start of the value buffer until the next
   * call), -1 for no live value, or -2 if the caller must take the general path.
   */
  fastRead(prefix: Uint8Array, key: unknown): number {
    if (!fastPrefixedKey(this.#handle, prefix, key)) return -2
    fastGet()
    const r = CTL[CTL_RESULT]!
    if (r >= 0) return r
    return r === FAST_MISS ? -1 : -2
  }

  /** @inheritDoc */
  putSync(key: Key, value: Value, opts?: PutOptions): void {
    const ttl = opts === undefined ? undefined : ttlOf(opts)
    if (fastKey(this.#handle, key) && fastValue(value)) {
      CTL_TTL[0] = ttl ?? -1
      fastPut()
      if (CTL[CTL_RESULT] === 0) return
    }
    const k = keyBytes(key)
    const v = valueBytes(value)
    try {
      this.#native.put(k, v, ttl)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** @inheritDoc */
  deleteSync(key: Key): boolean {
    if (fastKey(this.#handle, key)) {
      fastDelete()
      const r = CTL[CTL_RESULT]!
      if (r >= 0) return r === 1
    }
    const k = keyBytes(key)
    try {
      return this.#native.delete(k)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** @inheritDoc */
  hasSync(key: Key): boolean {
    if (fastKey(this.#handle, key)) {
      fastHas()
      const r = CTL[CTL_RESULT]!
      if (r >= 0) return r === 1
    }
    const k = keyBytes(key)
    try {
      return this.#native.has(k)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** {@link StateBackend.getMany}, synchronously. */
  getManySync(keys: Key[]): (Buffer | undefined)[] {
    if (Array.isArray(keys) && keys.length > 0 && fastKeys(this.#handle, keys)) {
      fastGetMany()
      const total = CTL[CTL_RESULT]!
      if (total >= 0) return takeValues(keys.length, total)
    }
    const ks = keyList(keys)
    let found: unknown[]
    try {
      found = this.#native.getMany(ks)
    } catch (e) {
      throw fromNative(e)
    }
    const out = new Array<Buffer | undefined>(ks.length)
    for (let i = 0; i < ks.length; i++) out[i] = (found[i] as Buffer | undefined) ?? undefined
    return out
  }

  /** {@link StateBackend.putMany}, synchronously. */
  putManySync(entries: BatchEntry[]): void {
    if (!Array.isArray(entries)) throw invalidArg(`entries must be an array, got ${describe(entries)}`)
    if (fastEntries(this.#handle, entries)) {
      fastPutMany()
      if (CTL[CTL_RESULT] === 0) return
    }
    const n = entries.length
    const keys = new Array<Uint8Array>(n)
    const values = new Array<Uint8Array>(n)
    const ttls = new Array<number | undefined>(n)
    for (let i = 0; i < n; i++) {
      const e: unknown = entries[i]
      if (Array.isArray(e)) {
        if (e.length !== 2) throw invalidArg(`entry ${i} must be [key, value], got ${e.length} items`)
        keys[i] = keyBytes(e[0])
        values[i] = valueBytes(e[1])
      } else if (e !== null && typeof e === 'object') {
        const o = e as { key?: unknown; value?: unknown; ttl?: unknown }
        keys[i] = keyBytes(o.key)
        values[i] = valueBytes(o.value)
        ttls[i] = ttlOption(o.ttl)
      } else {
        throw invalidArg(`entry ${i} must be [key, value] or {key, value, ttl}, got ${describe(e)}`)
      }
    }
    try {
      this.#native.putMany(keys, values, ttls)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** {@link StateBackend.deleteMany}, synchronously. */
  deleteManySync(keys: Key[]): boolean[] {
    const ks = keyList(keys)
    try {
      return this.#native.deleteMany(ks)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** {@link StateBackend.listKeys}, synchronously. */
  listKeysSync(prefix?: Key): Buffer[] {
    const range = nativeRange(prefix === undefined ? {} : { prefix })
    try {
      return this.#native.cursor(range).restKeys() as Buffer[]
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** {@link StateBackend.clear}, synchronously. */
  clearSync(): void {
    try {
      this.#native.clear()
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** @inheritDoc */
  async get(key: Key): Promise<Buffer | undefined> {
    return this.getSync(key)
  }

  /** @inheritDoc */
  async put(key: Key, value: Value, opts?: PutOptions): Promise<void> {
    this.putSync(key, value, opts)
  }

  /** @inheritDoc */
  async delete(key: Key): Promise<boolean> {
    return this.deleteSync(key)
  }

  /** @inheritDoc */
  async has(key: Key): Promise<boolean> {
    return this.hasSync(key)
  }

  /** @inheritDoc */
  async listKeys(prefix?: Key): Promise<Buffer[]> {
    return this.listKeysSync(prefix)
  }

  /** @inheritDoc */
  async getMany(keys: Key[]): Promise<(Buffer | undefined)[]> {
    return this.getManySync(keys)
  }

  /** @inheritDoc */
  async putMany(entries: BatchEntry[]): Promise<void> {
    this.putManySync(entries)
  }

  /** @inheritDoc */
  async deleteMany(keys: Key[]): Promise<boolean[]> {
    return this.deleteManySync(keys)
  }

  /** @inheritDoc */
  async clear(): Promise<void> {
    this.clearSync()
  }

  /**
   * The live entries of a range in key-byte order. The range's keys are taken when
   * iteration starts; values are read in pages of 256 as it proceeds, so an entry
   * deleted before its page is read is skipped, and a value changed meanwhile may be
   * seen old or new. A `restore()` ends the iteration: once the store has switched to
   * the restored state, the iterator is done, so it never mixes entries of the old and
   * the new state. After `close()` its next step throws `ERR_STATEKIT_CLOSED`.
   */
  async *entries(opts?: RangeOptions): AsyncIterableIterator<[Buffer, Buffer]> {
    const range = nativeRange(opts)
    let cursor
    try {
      cursor = this.#native.cursor(range)
    } catch (e) {
      throw fromNative(e)
    }
    for (;;) {
      if (this.#native.closed) throw new StateError('ERR_STATEKIT_CLOSED', 'the backend was closed while iterating')
      let page: unknown[]
      try {
        page = cursor.nextPage(PAGE)
      } catch (e) {
        throw fromNative(e)
      }
      if (page.length === 0) return
      for (let i = 0; i < page.length; i += 2) yield [page[i] as Buffer, page[i + 1] as Buffer]
    }
  }

  /** @inheritDoc */
  stats(): BackendStats {
    try {
      const s = this.#native.stats()
      if (s.diskBytes === undefined || s.diskBytes === null) delete s.diskBytes
      return s as BackendStats
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** Removes expired entries now; returns how many. */
  cleanupExpired(): number {
    try {
      return this.#native.cleanupExpired()
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * Sweeps expired entries every `intervalMs` milliseconds on a background thread,
   * which never keeps the process alive. Reads never return expired entries anyway;
   * the sweep frees their memory.
   */
  startCleanupTask(intervalMs: number): CleanupTaskHandle {
    // The engine checks the range (finite, at least 1).
    if (typeof intervalMs !== 'number') throw invalidArg(`cleanup interval must be a number, got ${describe(intervalMs)}`)
    try {
      const task = this.#native.startCleanupTask(intervalMs)
      return { stop: () => task.stop() }
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * Writes a checkpoint of this backend to `path`. The cut is taken when this is
   * called: every write that completed before is in it, none made after. Writers are
   * not blocked, and scanning, compression and I/O run on a worker thread. The file is
   * published atomically (temp file, fsync, rename, directory fsync). Only one
   * checkpoint or restore of a backend runs at a time; another rejects with
   * `ERR_STATEKIT_BUSY`.
   */
  async checkpoint(path: string, opts?: CheckpointOptions): Promise<CheckpointInfo> {
    const p = pathArg(path)
    const o = nativeCheckpointOptions(opts)
    let pending: Promise<Parameters<typeof checkpointInfo>[0]>
    try {
      pending = this.#native.checkpoint(p, o)
    } catch (e) {
      throw fromNative(e)
    }
    try {
      return checkpointInfo(await pending)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * Replaces this backend's data with the checkpoint at `path` (applying its chain if
   * it is incremental), verifying every block as it reads. The new state is built
   * aside and switched in only when all of it has verified: a damaged file rejects with
   * `ERR_STATEKIT_CORRUPT`, naming the file and block, and leaves the backend exactly
   * as it was. Entries that expired meanwhile are dropped and counted. A checkpoint
   * from either tier restores into either tier.
   */
  async restore(path: string): Promise<RestoreInfo> {
    const p = pathArg(path)
    try {
      const restored = await this.#native.restore(p)
      this.#native.adopt(restored)
      return restoreInfo(restored.summary)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * {@inheritDoc StateBackend.close}
   *
   * Calls made after `close()` starts fail with `ERR_STATEKIT_CLOSED`; a checkpoint or
   * restore already running finishes first, and the Promise resolves once it has and
   * the store is released (a sled store flushed and its directory unlocked). Calling it
   * again returns the same Promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#native.close().catch((e: unknown) => {
      throw fromNative(e)
    })
    return this.#closing
  }

  /**
   * Whether `close()` has been called (on an attached backend: or the store's owner
   * has closed the store).
   */
  get closed(): boolean {
    return this.#native.closed
  }

  /**
   * Shares this store with the other threads (`worker_threads`) of this process. Pass
   * the descriptor to a worker (`workerData`, `postMessage`) and attach there with
   * {@link MemoryBackend.attach} or {@link SledBackend.attach}: the attached backend
   * works on the same data, with the whole contract, its own sync fast path and
   * namespaces. A write is visible to every thread once its call returns; `putMany`
   * is seen whole or not at all; `stats()` counts every thread's operations; a
   * checkpoint taken in any thread is a cut of every thread's writes; a restore
   * switches every thread at once.
   *
   * The backend that opened the store owns it: its `close()` closes the store for
   * every thread (attached backends then get `ERR_STATEKIT_CLOSED`); an attached
   * backend's `close()` detaches only that backend. The descriptor is the same on
   * every call.
   */
  share(): SharedStoreDescriptor {
    return describeShared(this.#native)
  }

  /** Whether this backend is attached to a store another backend shared. */
  get attached(): boolean {
    return this.#native.attached
  }

  /** @internal The native store, for the tiers' own methods. */
  protected get native(): NativeStore {
    return this.#native
  }

  /** @inheritDoc */
  namespace<T>(prefix: string, opts?: NamespaceOptions<T>): TypedStore<T> {
    if (typeof prefix !== 'string' || prefix.length === 0) {
      throw invalidArg(`namespace prefix must be a non-empty string, got ${describe(prefix)}`)
    }
    checkOptions(opts, ['codec'], 'namespace')
    const codec = resolveCodec<T>(opts?.codec)
    if (this.#native.closed) throw new StateError('ERR_STATEKIT_CLOSED', 'the store is closed')
    return new TypedStore<T>(this, Buffer.from(`${prefix}:`, 'utf8'), codec)
  }
}
