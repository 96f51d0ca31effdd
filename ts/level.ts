/**
 * `statekit/level`: an abstract-level 3 database over either statekit tier.
 *
 * @packageDocumentation
 */
import { promises as fsp } from 'node:fs'
import {
  AbstractIterator,
  AbstractLevel,
  type AbstractBatchOperation,
  type AbstractBatchOptions,
  type AbstractChainedBatch,
  type AbstractDatabaseOptions,
  type AbstractIteratorOptions,
  type AbstractPutOptions,
} from 'abstract-level'
import { ttlOption } from './bytes.js'
import { describe, invalidArg, StateError } from './errors.js'
import { checkOptions } from './options.js'
import { MemoryBackend } from './memory-backend.js'
import { SledBackend, type SledBackendOptions } from './sled-backend.js'
import { isEmptyRange, seekRange, tagKey, taggedRange, untagKey, type EncodedKey, type LevelRange, type TaggedRange } from './level-keys.js'

/** The largest backend key (see the README's contract); a level key is one byte shorter. */
const MAX_BACKEND_KEY_BYTES = 64 * 1024
/** Keys deleted per `deleteMany` call by a range `clear()`. */
const CLEAR_CHUNK = 4096

/** Options of {@link StatekitLevel}: abstract-level's, plus where the data lives. */
export interface StatekitLevelOptions<K = string, V = string> extends AbstractDatabaseOptions<K, V> {
  /**
   * A directory for a persistent database on statekit's sled tier; created if missing
   * (unless `createIfMissing: false`). Absent: the memory tier, which lives as long as
   * the `StatekitLevel` object.
   *
   * @default undefined
   */
  location?: string | undefined
  /**
   * Default time to live of entries in milliseconds, applied natively by statekit;
   * absent, `0` or `Infinity`: entries never expire unless a write gives its own `ttl`.
   * Expired entries are never returned, counted by `has` or iterated.
   *
   * @default undefined
   */
  ttl?: number | undefined
  /**
   * Options of the sled tier (see `SledBackend.open`), besides its path and TTL; only
   * with `location`.
   *
   * @default undefined
   */
  sled?: Omit<SledBackendOptions, 'path' | 'ttl'> | undefined
}

/**
 * statekit's option on a write (`put`, a batch's put operations, or a whole `batch`):
 * a time to live.
 */
export interface StatekitWriteOptions {
  /**
   * Time to live of the entry in milliseconds, applied natively; absent: the database's
   * default `ttl`; `0` or `Infinity`: never expires.
   *
   * @default undefined
   */
  ttl?: number | undefined
}

/** A statekit error as a level error: the `LEVEL_*` code the ecosystem checks for, with the cause. */
function levelError(e: unknown): Error {
  if (!(e instanceof StateError)) return e instanceof Error ? e : new Error(String(e))
  let code: string
  switch (e.code) {
    case 'ERR_STATEKIT_INVALID_ARG':
      if (/^value\b/.test(e.message)) code = 'LEVEL_INVALID_VALUE'
      else if (/^key\b/.test(e.message)) code = 'LEVEL_INVALID_KEY'
      else return e // a bad option, such as a ttl: statekit's own error
      break
    case 'ERR_STATEKIT_CLOSED':
      code = 'LEVEL_DATABASE_NOT_OPEN'
      break
    case 'ERR_STATEKIT_LOCKED':
      code = 'LEVEL_LOCKED'
      break
    case 'ERR_STATEKIT_CORRUPT':
      code = 'LEVEL_CORRUPTION'
      break
    case 'ERR_STATEKIT_IO':
      code = 'LEVEL_IO_ERROR'
      break
    default:
      return e
  }
  // Sizes in statekit's messages count the tag byte; give them in level's terms.
  const m = /^key is (\d+) bytes; the maximum is (\d+)$/.exec(e.message)
  const message = m ? `key is ${Number(m[1]) - 1} bytes; a level key is at most ${Number(m[2]) - 1}` : e.message
  return Object.assign(new Error(message, { cause: e }), { code })
}

function outValue(v: Buffer | undefined, format: string): string | Buffer | undefined {
  if (v === undefined) return undefined
  return format === 'utf8' ? v.toString('utf8') : v
}

function byteLength(k: string | Buffer): number {
  return typeof k === 'string' ? Buffer.byteLength(k, 'utf8') : k.length
}

async function isMissingOrEmpty(dir: string): Promise<boolean> {
  try {
    return (await fsp.readdir(dir)).length === 0
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return true
    if (code === 'ENOTDIR') return false // a file: SledBackend.open says so (ERR_STATEKIT_IO)
    throw e
  }
}

/**
 * Closes the backend of a database that was garbage collected without `close()` (and,
 * on the memory tier, of one that was closed: its data is kept for a later `open()`
 * until then). statekit frees a backend's memory, and sled its directory lock, only
 * on `close()`.
 */
const orphans = new FinalizationRegistry<MemoryBackend | SledBackend>((backend) => {
  backend.close().catch(() => {})
})

/** What `_iterator` gets from abstract-level: the range, already encoded, and formats. */
interface PrivateIteratorOptions extends LevelRange {
  reverse: boolean
  keys: boolean
  values: boolean
  limit: number
  keyEncoding: string
  valueEncoding: string
}

type Entry = [string | Buffer | undefined, string | Buffer | undefined]

/**
 * An iterator over a range of a {@link StatekitLevel}, on `backend.entries()`: the
 * range's keys are taken at the first read (or the first after a seek) and values are
 * read in pages as it goes, so it does not read from a snapshot; an entry deleted
 * before its page is read is skipped.
 */
class StatekitIterator<K, V> extends AbstractIterator<StatekitLevel<K, V>, K, V> {
  readonly #backend: MemoryBackend | SledBackend
  readonly #range: TaggedRange
  readonly #reverse: boolean
  readonly #keys: boolean
  readonly #values: boolean
  readonly #keyFormat: string
  readonly #valueFormat: string
  #current: TaggedRange
  #source: AsyncIterableIterator<[Buffer, Buffer]> | undefined

  constructor(db: StatekitLevel<K, V>, backend: MemoryBackend | SledBackend, options: PrivateIteratorOptions) {
    super(db, options as AbstractIteratorOptions<K, V>)
    this.#backend = backend
    this.#range = taggedRange(options)
    this.#current = this.#range
    this.#reverse = options.reverse
    this.#keys = options.keys
    this.#values = options.values
    this.#keyFormat = options.keyEncoding
    this.#valueFormat = options.valueEncoding
  }

  #open(): AsyncIterableIterator<[Buffer, Buffer]> | undefined {
    if (this.#source === undefined) {
      if (isEmptyRange(this.#current)) return undefined
      const remaining = this.limit === Infinity ? undefined : this.limit - this.count
      this.#source = this.#backend.entries({
        gte: this.#current.gte,
        lt: this.#current.lt,
        reverse: this.#reverse,
        ...(remaining === undefined ? {} : { limit: remaining }),
      })
    }
    return this.#source
  }

  #entry(k: Buffer, v: Buffer): Entry {
    return [this.#keys ? untagKey(k, this.#keyFormat) : undefined, this.#values ? outValue(v, this.#valueFormat) : undefined]
  }

  async _next(): Promise<Entry | undefined> {
    const source = this.#open()
    if (source === undefined) return undefined
    let r
    try {
      r = await source.next()
    } catch (e) {
      throw levelError(e)
    }
    return r.done ? undefined : this.#entry(r.value[0], r.value[1])
  }

  async _nextv(size: number): Promise<Entry[]> {
    const out: Entry[] = []
    const source = this.#open()
    if (source === undefined) return out
    try {
      while (out.length < size) {
        const r = await source.next()
        if (r.done) break
        out.push(this.#entry(r.value[0], r.value[1]))
      }
    } catch (e) {
      throw levelError(e)
    }
    return out
  }

  async _all(): Promise<Entry[]> {
    return this._nextv(Infinity)
  }

  _seek(target: EncodedKey): void {
    void this.#source?.return?.()
    this.#source = undefined
    this.#current = seekRange(this.#range, target, this.#reverse)
  }

  async _close(): Promise<void> {
    await this.#source?.return?.()
    this.#source = undefined
  }
}

/**
 * statekit's `ttl` on `put()` and `batch()`: abstract-level's signatures, with
 * {@link StatekitWriteOptions} accepted next to its options.
 */
export interface StatekitLevel<K = string, V = string> {
  /** Stores `value` under `key`. */
  put(key: K, value: V): Promise<void>
  /** Stores `value` under `key`; `options.ttl` expires it natively after that many milliseconds. */
  put<PK = K, PV = V>(key: PK, value: PV, options: AbstractPutOptions<PK, PV> & StatekitWriteOptions): Promise<void>
  /** Writes a batch; `ttl` on a put operation expires that entry natively. */
  batch(operations: Array<AbstractBatchOperation<this, K, V> & StatekitWriteOptions>): Promise<void>
  /** Writes a batch; `ttl` on a put operation, or in `options` for all of them, expires entries natively. */
  batch<BK = K, BV = V>(
    operations: Array<AbstractBatchOperation<this, BK, BV> & StatekitWriteOptions>,
    options: AbstractBatchOptions<BK, BV> & StatekitWriteOptions,
  ): Promise<void>
  /** A chained batch; the options of its `put()` may carry a `ttl` too. */
  batch(): AbstractChainedBatch<this, K, V>
}

/**
 * An [abstract-level](https://github.com/Level/abstract-level) 3 database on statekit:
 * `new StatekitLevel()` keeps its data in statekit's memory tier (off the V8 heap),
 * `new StatekitLevel({ location })` in a sled directory. It passes abstract-level's own
 * test suite on both tiers, sublevels, encodings, hooks and events included.
 *
 * - Reads: `get`, `getMany`, `has`, `hasMany` and a truly synchronous `getSync`.
 *   Iterators support `gt`, `gte`, `lt`, `lte`, `reverse`, `limit` and `seek()`; they
 *   do not read from a snapshot (`supports.implicitSnapshots` is `false`), and there
 *   are no explicit snapshots.
 * - `batch()` is atomic for JavaScript: it is validated first and then written with
 *   one `putMany` and one `deleteMany`, back to back in one synchronous step, so no
 *   code sees part of it. On sled the puts are one atomic sled batch, but
 *   `deleteMany` removes keys one by one: after a crash, a batch's deletes may be
 *   partly applied.
 * - `close()` and `open()` of the same instance keep the data on both tiers. The
 *   memory tier's data is freed when the database object is garbage collected; a sled
 *   database collected without `close()` is closed then (flushed, its directory lock
 *   released). Unclosed databases never keep the process alive.
 * - TTLs, which level lacks: a default `ttl` for the database, and `ttl` on `put()`, on
 *   a batch's put operations or on a whole `batch()`, all in milliseconds and applied
 *   natively (an expired entry is never read, counted by `has` or iterated).
 * - Keys are stored behind one tag byte (0x00), because statekit keys are not empty and
 *   level keys may be: a key is at most 65,535 bytes, a value 512 MiB. Longer keys are
 *   rejected with `LEVEL_INVALID_KEY` and nothing is written.
 *
 * @example
 * ```ts
 * import { StatekitLevel } from 'statekit/level'
 *
 * const db = new StatekitLevel({ location: './data', valueEncoding: 'json' })
 * await db.put('user:42', { spent: 10 })
 * for await (const [key, value] of db.iterator({ gt: 'user:', lt: 'user;' })) console.log(key, value)
 * await db.close()
 * ```
 */
export class StatekitLevel<K = string, V = string> extends AbstractLevel<string | Buffer, K, V> {
  readonly #location: string | undefined
  readonly #sled: Omit<SledBackendOptions, 'path' | 'ttl'> | undefined
  readonly #ttl: number | undefined
  #backend: MemoryBackend | SledBackend | undefined

  /** @param options - `location` for the sled tier, and abstract-level's options */
  constructor(options?: StatekitLevelOptions<K, V>) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw invalidArg(`options must be an object, got ${describe(options)}`)
    }
    const { location, sled, ttl, ...rest } = options ?? {}
    if (location !== undefined && (typeof location !== 'string' || location === '')) {
      throw invalidArg(`location must be a non-empty string, got ${describe(location)}`)
    }
    if (sled !== undefined && (location === undefined || sled === null || typeof sled !== 'object')) {
      throw invalidArg(location === undefined ? 'sled options need a location' : `sled must be an object, got ${describe(sled)}`)
    }
    checkOptions(sled, ['cacheCapacity', 'compression', 'flushEveryMs', 'mode'], 'StatekitLevel sled')
    const defaultTtl = ttlOption(ttl)
    const persistent = location !== undefined
    // Only what is true: permanence and the open options on sled only; no snapshots;
    // getSync because reads are synchronous underneath. (level-supports' typings
    // predate getSync, hence the variable.)
    const manifest = {
      encodings: { buffer: true, utf8: true },
      has: true,
      getSync: true,
      seek: true,
      permanence: persistent,
      createIfMissing: persistent,
      errorIfExists: persistent,
      implicitSnapshots: false,
      explicitSnapshots: false,
      additionalMethods: {},
    }
    super(manifest, rest)
    this.#location = location
    this.#sled = sled
    this.#ttl = defaultTtl
  }

  /** The sled directory, or `undefined` on the memory tier. */
  get location(): string | undefined {
    return this.#location
  }

  /**
   * The statekit backend, for statekit's own features (`checkpoint()`, `restore()`,
   * `stats()`): `undefined` until the first open, and on the sled tier while closed.
   * Level keys are stored behind a 0x00 byte; write through the database, not the
   * backend.
   */
  get backend(): MemoryBackend | SledBackend | undefined {
    return this.#backend
  }

  #db(): MemoryBackend | SledBackend {
    // abstract-level calls the private methods only while the database is open.
    if (this.#backend === undefined) throw new StateError('ERR_STATEKIT_CLOSED', 'the database is not open')
    return this.#backend
  }

  /** @internal */
  async _open(options: { createIfMissing: boolean; errorIfExists: boolean }): Promise<void> {
    if (this.#location === undefined) {
      if (this.#backend === undefined) {
        this.#backend = new MemoryBackend(this.#ttl === undefined ? undefined : { ttl: this.#ttl })
        orphans.register(this, this.#backend)
      }
      return
    }
    const location = this.#location
    const missing = await isMissingOrEmpty(location)
    if (missing && !options.createIfMissing) {
      throw new StateError('ERR_STATEKIT_INVALID_ARG', `${location} does not exist (createIfMissing is false)`)
    }
    if (!missing && options.errorIfExists) {
      throw new StateError('ERR_STATEKIT_INVALID_ARG', `${location} exists (errorIfExists is true)`)
    }
    try {
      this.#backend = await SledBackend.open({ ...this.#sled, path: location, ...(this.#ttl === undefined ? {} : { ttl: this.#ttl }) })
      orphans.register(this, this.#backend, this.#backend)
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal */
  async _close(): Promise<void> {
    if (this.#backend instanceof SledBackend) {
      const backend = this.#backend
      this.#backend = undefined
      orphans.unregister(backend)
      await backend.close()
    }
  }

  /** @internal */
  async _get(key: EncodedKey, options: { valueEncoding: string }): Promise<string | Buffer | undefined> {
    return this._getSync(key, options)
  }

  /** @internal */
  _getSync(key: EncodedKey, options: { valueEncoding: string }): string | Buffer | undefined {
    try {
      return outValue(this.#db().getSync(tagKey(key)), options.valueEncoding)
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal */
  async _getMany(keys: EncodedKey[], options: { valueEncoding: string }): Promise<Array<string | Buffer | undefined>> {
    try {
      return this.#db().getManySync(keys.map(tagKey)).map((v) => outValue(v, options.valueEncoding))
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal */
  async _has(key: EncodedKey): Promise<boolean> {
    try {
      return this.#db().hasSync(tagKey(key))
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal */
  async _hasMany(keys: EncodedKey[]): Promise<boolean[]> {
    try {
      const backend = this.#db()
      return keys.map((k) => backend.hasSync(tagKey(k)))
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal */
  async _put(key: EncodedKey, value: string | Buffer, options: StatekitWriteOptions): Promise<void> {
    try {
      this.#db().putSync(tagKey(key), value, options.ttl === undefined ? undefined : { ttl: options.ttl })
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal */
  async _del(key: EncodedKey): Promise<void> {
    try {
      this.#db().deleteSync(tagKey(key))
    } catch (e) {
      throw levelError(e)
    }
  }

  /**
   * @internal A batch, in order: the last operation on a key wins. Puts go in one
   * `putMany`, deletes in one `deleteMany`, in one synchronous step.
   */
  async _batch(operations: Array<{ type: 'put' | 'del'; key: EncodedKey; value?: string | Buffer; ttl?: number }>): Promise<void> {
    const backend = this.#db()
    type Put = { key: string | Buffer; value: string | Buffer; ttl?: number }
    const put = (op: (typeof operations)[number]): Put => {
      const p: Put = { key: tagKey(op.key), value: op.value as string | Buffer }
      if (op.ttl !== undefined) p.ttl = op.ttl
      return p
    }
    let puts: Put[] = []
    let dels: Array<string | Buffer> = []
    let mixed = false
    for (const op of operations) {
      if (op.type === 'put') puts.push(put(op))
      else dels.push(tagKey(op.key))
      mixed ||= puts.length > 0 && dels.length > 0
    }
    if (mixed) {
      // Keep each key's last operation only, so the two calls cannot disagree.
      const last = new Map<string, [string | Buffer, Put | undefined]>()
      for (const op of operations) {
        const k = tagKey(op.key)
        last.set(typeof k === 'string' ? Buffer.from(k, 'utf8').toString('latin1') : k.toString('latin1'), [k, op.type === 'put' ? put(op) : undefined])
      }
      puts = []
      dels = []
      for (const [k, p] of last.values()) {
        if (p === undefined) dels.push(k)
        else puts.push(p)
      }
    }
    // putMany validates all of its entries before writing any; check the deletes'
    // keys before it too, so a bad key in either half writes nothing.
    for (const k of dels) {
      if (byteLength(k) > MAX_BACKEND_KEY_BYTES) {
        throw levelError(invalidArg(`key is ${byteLength(k) - 1} bytes; a level key is at most ${MAX_BACKEND_KEY_BYTES - 1}`))
      }
    }
    try {
      if (puts.length > 0) backend.putManySync(puts)
      if (dels.length > 0) backend.deleteManySync(dels)
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal Deletes a range's keys (all of them when it has no bounds and no limit). */
  async _clear(options: LevelRange & { reverse: boolean; limit: number }): Promise<void> {
    const backend = this.#db()
    const unbounded = options.gt === undefined && options.gte === undefined && options.lt === undefined && options.lte === undefined
    try {
      if (unbounded && options.limit === -1) {
        backend.clearSync()
        return
      }
      const range = taggedRange(options)
      if (isEmptyRange(range) || options.limit === 0) return
      const keys: Buffer[] = []
      const source = backend.entries({
        gte: range.gte,
        lt: range.lt,
        reverse: options.reverse,
        ...(options.limit >= 0 ? { limit: options.limit } : {}),
      })
      for await (const [k] of source) {
        keys.push(k)
        if (keys.length === CLEAR_CHUNK) backend.deleteManySync(keys.splice(0))
      }
      if (keys.length > 0) backend.deleteManySync(keys)
    } catch (e) {
      throw levelError(e)
    }
  }

  /** @internal */
  _iterator(options: PrivateIteratorOptions): StatekitIterator<K, V> {
    return new StatekitIterator(this, this.#db(), options)
  }
}
