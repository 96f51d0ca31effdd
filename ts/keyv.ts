/**
 * `statekit/keyv`: a keyv 5 storage adapter over either statekit tier.
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events'
import Keyv, { type KeyvOptions } from 'keyv'
import { describe, invalidArg, StateError } from './errors.js'
import { checkOptions } from './options.js'
import { NativeBackend } from './native-backend.js'
import { SledBackend } from './sled-backend.js'

/** Options of {@link KeyvStatekit}. */
export interface KeyvStatekitOptions {
  /**
   * Whether `disconnect()` also closes the backend. Leave it `false` when the backend
   * is shared with other code or other adapters.
   *
   * @default false
   */
  closeBackend?: boolean
}

/**
 * The `opts` object keyv reads from a store. keyv looks at `dialect` and `url` to
 * decide whether to wire its iterator (see {@link createKeyv}); `deserialize` may be
 * set by code that shares the store with a custom serializer.
 */
export interface KeyvStatekitOpts {
  /** Always `'statekit'`. */
  dialect: 'statekit'
  /** `'statekit://memory'` or `'statekit://sled'`: which tier the backend is. */
  url: string
  /** Whether `disconnect()` closes the backend. */
  closeBackend: boolean
  /** Set by keyv or by callers; not used by the adapter. */
  deserialize?: (data: string) => unknown
}

/** One entry of {@link KeyvStatekit.setMany}, as keyv passes it. */
export interface KeyvStatekitEntry {
  /** The key, with keyv's namespace prefix. */
  key: string
  /** keyv's serialized value. */
  value: string
  /** Time to live in milliseconds; absent: the backend's default TTL. */
  ttl?: number
}

/** The error events of {@link KeyvStatekit}: keyv forwards them to its own `error` listeners. */
export interface KeyvStatekitEvents {
  /** An error of the store. */
  error: [error: Error]
}

function keyArg(key: unknown): string {
  if (typeof key !== 'string') throw invalidArg(`keyv keys must be strings, got ${describe(key)}`)
  return key
}

function keyList(keys: unknown): string[] {
  if (!Array.isArray(keys)) throw invalidArg(`keys must be an array, got ${describe(keys)}`)
  for (const k of keys) keyArg(k)
  return keys as string[]
}

function valueArg(value: unknown): string {
  if (typeof value !== 'string') {
    throw invalidArg(
      `KeyvStatekit stores keyv's serialized strings; got ${describe(value)} (give keyv a serialize function that returns a string)`,
    )
  }
  return value
}

/**
 * A keyv 5 storage adapter over a statekit backend (`MemoryBackend` or `SledBackend`).
 * keyv serializes each value (with its `expires`) to a string; the adapter stores that
 * string under keyv's prefixed key and gives the TTL to statekit, which expires the
 * entry natively: no JavaScript timers or expiry bookkeeping.
 *
 * Several adapters (and other code) may share one backend: each keyv namespace is a
 * key prefix `namespace + ':'`, and `clear()` deletes only the keys under the
 * adapter's namespace (every key of the backend when keyv's namespace is empty).
 *
 * Errors reject with a {@link StateError} (`ERR_STATEKIT_INVALID_ARG` for a key or
 * value that is not a string, or a bad TTL, and nothing is written;
 * `ERR_STATEKIT_CLOSED` after `disconnect()` or once the backend is closed). keyv
 * turns the rejections of `set`, `setMany`, `delete`, `deleteMany` and `clear` into
 * `error` events on the `Keyv` instance (and returns `false`); `get` failures reach
 * those listeners through the adapter's own `error` event; `has` and `getMany`
 * reject.
 *
 * @example
 * ```ts
 * import Keyv from 'keyv'
 * import { MemoryBackend } from 'statekit'
 * import { KeyvStatekit } from 'statekit/keyv'
 *
 * const keyv = new Keyv(new KeyvStatekit(new MemoryBackend()), { namespace: 'sessions' })
 * await keyv.set('42', { user: 'ada' }, 60_000)
 * ```
 */
export class KeyvStatekit extends EventEmitter<KeyvStatekitEvents> {
  /** What keyv reads from a store: dialect, url and the adapter's options. */
  readonly opts: KeyvStatekitOpts
  /**
   * keyv's namespace, set by the `Keyv` that uses this adapter. `clear()` deletes only
   * keys starting with `namespace + ':'`; when it is absent or empty, every key.
   */
  namespace?: string | undefined
  readonly #backend: NativeBackend
  #disconnected = false

  /**
   * @param backend - the statekit backend to store keyv's entries in; the caller owns it
   * @param options - whether `disconnect()` closes the backend
   */
  constructor(backend: NativeBackend, options?: KeyvStatekitOptions) {
    super()
    if (!(backend instanceof NativeBackend)) {
      throw invalidArg(`backend must be a statekit MemoryBackend or SledBackend, got ${describe(backend)}`)
    }
    checkOptions(options, ['closeBackend'], 'KeyvStatekit')
    const closeBackend = options?.closeBackend ?? false
    if (typeof closeBackend !== 'boolean') {
      throw invalidArg(`closeBackend must be a boolean, got ${describe(closeBackend)}`)
    }
    this.#backend = backend
    this.opts = {
      dialect: 'statekit',
      url: backend instanceof SledBackend ? 'statekit://sled' : 'statekit://memory',
      closeBackend,
    }
  }

  /** The backend this adapter stores into. */
  get backend(): NativeBackend {
    return this.#backend
  }

  #open(): NativeBackend {
    if (this.#disconnected) throw new StateError('ERR_STATEKIT_CLOSED', 'the keyv adapter is disconnected')
    return this.#backend
  }

  /**
   * The serialized value stored under `key`, or `undefined` if there is none or it
   * expired. A failure rejects and is also emitted as an `error` event when there are
   * listeners: keyv 5's `get()` drops a store's rejection silently (unless
   * `throwOnErrors`), and forwards the store's `error` events to its own.
   */
  async get(key: string): Promise<string | undefined> {
    try {
      const v = this.#open().getSync(keyArg(key))
      return v === undefined ? undefined : v.toString('utf8')
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e as Error)
      throw e
    }
  }

  /** The serialized values of `keys` (`undefined` where there is none), in one call. */
  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    const ks = keyList(keys)
    const values = this.#open().getManySync(ks)
    return values.map((v) => (v === undefined ? undefined : v.toString('utf8')))
  }

  /**
   * Stores keyv's serialized `value` under `key`, expiring natively after `ttl`
   * milliseconds (absent: the backend's default TTL; `0`: never). Resolves `true`.
   */
  async set(key: string, value: string, ttl?: number): Promise<boolean> {
    const k = keyArg(key)
    const v = valueArg(value)
    this.#open().putSync(k, v, ttl === undefined ? undefined : { ttl })
    return true
  }

  /**
   * Stores every entry in one call: all of them or, if any is invalid, none. Resolves
   * `true` for each entry.
   */
  async setMany(entries: KeyvStatekitEntry[]): Promise<boolean[]> {
    if (!Array.isArray(entries)) throw invalidArg(`entries must be an array, got ${describe(entries)}`)
    const batch = entries.map((e, i) => {
      if (e === null || typeof e !== 'object') throw invalidArg(`entry ${i} must be {key, value, ttl?}, got ${describe(e)}`)
      const entry: { key: string; value: string; ttl?: number } = { key: keyArg(e.key), value: valueArg(e.value) }
      if (e.ttl !== undefined) entry.ttl = e.ttl
      return entry
    })
    this.#open().putManySync(batch)
    return batch.map(() => true)
  }

  /** Removes `key`; resolves `true` if a live entry was removed, `false` if there was none. */
  async delete(key: string): Promise<boolean> {
    const k = keyArg(key)
    return this.#open().deleteSync(k)
  }

  /**
   * Removes every key in one call; resolves `true` if each of them had a live entry
   * (as keyv's own fallback does), `false` otherwise.
   */
  async deleteMany(keys: string[]): Promise<boolean> {
    const ks = keyList(keys)
    const removed = this.#open().deleteManySync(ks)
    return removed.every(Boolean)
  }

  /** Whether `key` has a live entry. */
  async has(key: string): Promise<boolean> {
    const k = keyArg(key)
    return this.#open().hasSync(k)
  }

  /** Whether each of `keys` has a live entry. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    const ks = keyList(keys)
    const backend = this.#open()
    return ks.map((k) => backend.hasSync(k))
  }

  /**
   * Removes the entries of this adapter's namespace (the keys starting with
   * `namespace + ':'`), or every entry of the backend when there is no namespace.
   */
  async clear(): Promise<void> {
    const backend = this.#open()
    if (this.namespace === undefined || this.namespace === '') {
      backend.clearSync()
      return
    }
    const keys = backend.listKeysSync(`${this.namespace}:`)
    if (keys.length > 0) backend.deleteManySync(keys)
  }

  /**
   * The live entries as `[key, serializedValue]`, keys with their namespace prefix, in
   * key-byte order: those under `namespace + ':'`, or all when `namespace` is absent.
   * keyv calls it with its namespace; {@link createKeyv} wires it.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void> {
    if (namespace !== undefined && typeof namespace !== 'string') {
      throw invalidArg(`namespace must be a string, got ${describe(namespace)}`)
    }
    const range = namespace === undefined || namespace === '' ? undefined : { prefix: `${namespace}:` }
    for await (const [k, v] of this.#open().entries(range)) yield [k.toString('utf8'), v.toString('utf8')]
  }

  /**
   * Detaches the adapter: later calls reject with `ERR_STATEKIT_CLOSED`. Closes the
   * backend too when the adapter was made with `closeBackend: true`. Idempotent.
   */
  async disconnect(): Promise<void> {
    if (this.#disconnected) return
    this.#disconnected = true
    if (this.opts.closeBackend) await this.#backend.close()
  }
}

/**
 * A `Keyv` over a statekit backend (or an existing {@link KeyvStatekit}), with
 * `keyv.iterator()` wired.
 *
 * Why a helper: keyv 5 wires `iterator()` only for stores whose `opts.dialect` or
 * `opts.url` names one of its own adapters (sqlite, postgres, mysql, mongo, redis,
 * valkey, etcd). `new Keyv(new KeyvStatekit(backend))` works for everything else, but
 * its `iterator` is `undefined`; this helper sets it from the adapter's
 * {@link KeyvStatekit.iterator} through keyv's own `generateIterator`, rather than
 * claiming another store's dialect.
 *
 * @param store - a `MemoryBackend` or `SledBackend`, or an adapter made earlier
 * @param options - keyv's options (`namespace`, `ttl`, `serialize`, ...) except `store`
 * @returns a `Keyv` whose `iterator()` yields `[key, value]` of its namespace
 *
 * @example
 * ```ts
 * const keyv = createKeyv<number>(await SledBackend.open({ path: './cache' }), { namespace: 'hits' })
 * await keyv.set('home', 1)
 * for await (const [key, value] of keyv.iterator()) console.log(key, value)
 * ```
 */
export function createKeyv<Value = unknown>(
  store: NativeBackend | KeyvStatekit,
  options?: Omit<KeyvOptions, 'store'>,
): KeyvWithIterator<Value> {
  const adapter = store instanceof KeyvStatekit ? store : new KeyvStatekit(store)
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalidArg(`options must be an object, got ${describe(options)}`)
  }
  const keyv = new Keyv<Value>(adapter, options)
  keyv.iterator = keyv.generateIterator(adapter.iterator.bind(adapter))
  return keyv as KeyvWithIterator<Value>
}

/**
 * A `Keyv` whose `iterator` is set (by {@link createKeyv}): it takes no argument and
 * yields `[key, value]` of the Keyv's namespace, in key order.
 */
export type KeyvWithIterator<Value> = Keyv<Value> & {
  /** The entries of this Keyv's namespace, `[key, value]`, in key order. */
  iterator: () => AsyncGenerator<[string, Value], void>
}
