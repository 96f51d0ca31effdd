import { keyBytes, type Key } from './bytes.js'
import { Packr } from 'msgpackr'
import { encodeWith, jsonCodec, msgpackCodec, stringCodec, type Codec } from './codecs.js'
import { describe, invalidArg, StateError } from './errors.js'
import { checkOptions } from './options.js'
import { RANGE_OPTIONS } from './range.js'
import { peekValue, takeString, takeValue } from './native.js'
import type { NativeBackend } from './native-backend.js'
import type { PutOptions, RangeOptions } from './types.js'

/** Like the msgpack codec's, but copying binary values out of the bytes it reads. */
const copyingPackr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true })

/**
 * Decoders of the built-in codecs that read a value of `n` bytes in place, from the
 * shared value buffer, and keep nothing of it: no intermediate `Buffer`. Any other
 * codec gets a copy (one `Buffer`).
 */
const IN_PLACE = new Map<Codec<unknown>, (n: number) => unknown>([
  [jsonCodec, (n) => JSON.parse(takeString(n)) as unknown],
  [stringCodec as Codec<unknown>, (n) => takeString(n)],
  [msgpackCodec, (n) => copyingPackr.unpack(peekValue(n)) as unknown],
])

/**
 * A typed view of one namespace of a backend: every key is stored as
 * `prefix + ':' + key`, and values go through a codec. Keys given to and returned by
 * a TypedStore are relative to the namespace.
 *
 * @example
 * ```ts
 * const users = backend.namespace<{ spent: number }>('user', { codec: 'json' })
 * await users.put('42', { spent: 10 })   // stored under 'user:42'
 * (await users.get('42'))?.spent          // 10
 * ```
 */
export class TypedStore<T> {
  readonly #backend: NativeBackend
  readonly #prefix: Buffer
  readonly #codec: Codec<T>
  readonly #inPlace: (n: number) => T

  /** @internal Made by {@link NativeBackend.namespace}. */
  constructor(backend: NativeBackend, prefix: Buffer, codec: Codec<T>) {
    this.#backend = backend
    this.#prefix = prefix
    this.#codec = codec
    this.#inPlace = (IN_PLACE.get(codec as Codec<unknown>) as ((n: number) => T) | undefined) ?? ((n) => codec.decode(takeValue(n)))
  }

  /** The namespace prefix, including its trailing `':'`. */
  get prefix(): string {
    return this.#prefix.toString('utf8')
  }

  #key(key: Key): Buffer {
    return Buffer.concat([this.#prefix, keyBytes(key)])
  }

  #decode(bytes: Buffer | undefined, key: Key | Buffer): T | undefined {
    if (bytes === undefined) return undefined
    try {
      return this.#codec.decode(bytes)
    } catch (e) {
      throw this.#corrupt(e, key)
    }
  }

  #corrupt(e: unknown, key: Key | Buffer): unknown {
    if (e instanceof StateError) return e
    const shown = typeof key === 'string' ? key : Buffer.from(key).toString('utf8')
    return new StateError(
      'ERR_STATEKIT_CORRUPT',
      `the value of ${JSON.stringify(shown)} in namespace ${JSON.stringify(this.prefix)} cannot be decoded by its codec: ${(e as Error)?.message ?? String(e)}`,
      { cause: e },
    )
  }

  /**
   * The decoded value of `key`, or `undefined`. The `json`, `string` and `msgpack`
   * codecs decode straight from the bytes the store copied out, with no `Buffer`
   * made on the way.
   */
  getSync(key: Key): T | undefined {
    const n = this.#backend.fastRead(this.#prefix, key)
    if (n >= 0) {
      try {
        return this.#inPlace(n)
      } catch (e) {
        throw this.#corrupt(e, key)
      }
    }
    if (n === -1) return undefined
    return this.#decode(this.#backend.getSync(this.#key(key)), key)
  }

  /** Encodes and stores `value` under `key`. A value the codec cannot encode changes nothing. */
  putSync(key: Key, value: T, opts?: PutOptions): void {
    const k = this.#key(key)
    this.#backend.putSync(k, encodeWith(this.#codec, value), opts)
  }

  /** Removes `key`; returns whether a live entry was removed. */
  deleteSync(key: Key): boolean {
    return this.#backend.deleteSync(this.#key(key))
  }

  /** Whether `key` has a live value. */
  hasSync(key: Key): boolean {
    return this.#backend.hasSync(this.#key(key))
  }

  /** {@link TypedStore.getSync}, as a Promise. */
  async get(key: Key): Promise<T | undefined> {
    return this.getSync(key)
  }

  /** {@link TypedStore.putSync}, as a Promise. */
  async put(key: Key, value: T, opts?: PutOptions): Promise<void> {
    this.putSync(key, value, opts)
  }

  /** {@link TypedStore.deleteSync}, as a Promise. */
  async delete(key: Key): Promise<boolean> {
    return this.deleteSync(key)
  }

  /** {@link TypedStore.hasSync}, as a Promise. */
  async has(key: Key): Promise<boolean> {
    return this.hasSync(key)
  }

  /** The decoded values of `keys`, in one call. */
  async getMany(keys: Key[]): Promise<(T | undefined)[]> {
    if (!Array.isArray(keys)) throw invalidArg(`keys must be an array, got ${describe(keys)}`)
    const found = this.#backend.getManySync(keys.map((k) => this.#key(k)))
    return found.map((b, i) => this.#decode(b, keys[i]!))
  }

  /** Encodes and writes every entry, or none if any key or value is invalid. */
  async putMany(entries: Array<[Key, T] | { key: Key; value: T; ttl?: number }>): Promise<void> {
    if (!Array.isArray(entries)) throw invalidArg(`entries must be an array, got ${describe(entries)}`)
    const batch = entries.map((e: unknown, i) => {
      if (Array.isArray(e) && e.length === 2) {
        return { key: this.#key(e[0] as Key), value: encodeWith(this.#codec, e[1] as T) }
      }
      if (e !== null && typeof e === 'object' && !Array.isArray(e)) {
        const o = e as { key: Key; value: T; ttl?: number }
        const out: { key: Buffer; value: Uint8Array; ttl?: number } = {
          key: this.#key(o.key),
          value: encodeWith(this.#codec, o.value),
        }
        if (o.ttl !== undefined) out.ttl = o.ttl
        return out
      }
      throw invalidArg(`entry ${i} must be [key, value] or {key, value, ttl}, got ${describe(e)}`)
    })
    this.#backend.putManySync(batch)
  }

  /** Removes every key; resolves for each whether a live entry was removed. */
  async deleteMany(keys: Key[]): Promise<boolean[]> {
    if (!Array.isArray(keys)) throw invalidArg(`keys must be an array, got ${describe(keys)}`)
    return this.#backend.deleteManySync(keys.map((k) => this.#key(k)))
  }

  /** The keys of this namespace that start with `prefix`, relative to the namespace. */
  async listKeys(prefix?: Key): Promise<Buffer[]> {
    const full = prefix === undefined ? this.#prefix : this.#key(prefix)
    return this.#backend.listKeysSync(full).map((k) => k.subarray(this.#prefix.length))
  }

  /** The decoded entries of a range of this namespace, in key-byte order. */
  async *entries(opts?: RangeOptions): AsyncIterableIterator<[Buffer, T]> {
    const o = checkOptions(opts, RANGE_OPTIONS, 'range') ?? {}
    const scoped: RangeOptions = {
      prefix: o.prefix === undefined ? this.#prefix : this.#key(o.prefix),
    }
    if (o.gte !== undefined) scoped.gte = this.#key(o.gte)
    if (o.lt !== undefined) scoped.lt = this.#key(o.lt)
    if (o.limit !== undefined) scoped.limit = o.limit
    if (o.reverse !== undefined) scoped.reverse = o.reverse
    for await (const [k, v] of this.#backend.entries(scoped)) {
      const key = k.subarray(this.#prefix.length)
      yield [key, this.#decode(v, key) as T]
    }
  }

  /** Removes every entry of this namespace, and nothing outside it. */
  async clear(): Promise<void> {
    this.#backend.deleteManySync(this.#backend.listKeysSync(this.#prefix))
  }
}
