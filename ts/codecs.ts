import { Packr } from 'msgpackr'
import { describe, invalidArg, StateError } from './errors.js'

/** Encodes values of type `T` to bytes and back. */
export interface Codec<T> {
  /** Bytes of a value. Throw if the value cannot be encoded. */
  encode(value: T): Uint8Array
  /** The value of bytes written by `encode`. */
  decode(bytes: Buffer): T
}

/** The names of the built-in codecs. */
export type CodecName = 'json' | 'msgpack' | 'string' | 'binary'

/** JSON text in UTF-8. `undefined`, functions, symbols and BigInts cannot be encoded. */
export const jsonCodec: Codec<unknown> = {
  encode(value) {
    const text = JSON.stringify(value)
    if (text === undefined) throw new TypeError(`JSON cannot encode ${describe(value)}`)
    return Buffer.from(text, 'utf8')
  },
  decode(bytes) {
    return JSON.parse(bytes.toString('utf8')) as unknown
  },
}

const packr = new Packr({ useRecords: false, moreTypes: false })

/** Objects msgpack (without msgpackr's extensions) would read back as another type. */
const CHANGED_BY_MSGPACK: ReadonlyArray<[Function, string]> = [
  [Map, 'a Map'],
  [Set, 'a Set'],
  [RegExp, 'a RegExp'],
  [Error, 'an Error'],
  [WeakMap, 'a WeakMap'],
  [WeakSet, 'a WeakSet'],
  [Promise, 'a Promise'],
]

/**
 * Throws if `value` holds, at any depth, what msgpack cannot represent: a function or
 * a symbol (msgpackr would silently write `undefined` for a function inside an
 * object), an object that would read back as another type, or a cycle.
 */
function checkPackable(value: unknown, at: string, open: Set<object>): void {
  const type = typeof value
  if (type === 'function' || type === 'symbol') throw new TypeError(`msgpack cannot encode ${describe(value)} at ${at}`)
  if (value === null || type !== 'object') return
  const obj = value as object
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || obj instanceof Date) return
  for (const [ctor, name] of CHANGED_BY_MSGPACK) {
    if (obj instanceof ctor) throw new TypeError(`msgpack cannot encode ${name} at ${at}: it would read back as another type`)
  }
  if (open.has(obj)) throw new TypeError(`msgpack cannot encode a circular structure (at ${at})`)
  open.add(obj)
  if (Array.isArray(obj)) obj.forEach((v: unknown, i) => checkPackable(v, `${at}[${i}]`, open))
  else for (const k of Object.keys(obj)) checkPackable((obj as Record<string, unknown>)[k], `${at}.${k}`, open)
  open.delete(obj)
}

/**
 * MessagePack (msgpackr), without records so any reader can decode it. A value holding
 * a function or symbol at any depth, a `Map`, `Set`, `RegExp` or `Error` (which would
 * read back as another type) or a cycle cannot be encoded; nor can `undefined` on its own.
 */
export const msgpackCodec: Codec<unknown> = {
  encode(value) {
    if (value === undefined) throw new TypeError(`msgpack cannot encode ${describe(value)}`)
    checkPackable(value, 'the value', new Set())
    return packr.pack(value)
  },
  decode(bytes) {
    return packr.unpack(bytes) as unknown
  },
}

/** Strings as UTF-8. */
export const stringCodec: Codec<string> = {
  encode(value) {
    if (typeof value !== 'string') throw new TypeError(`expected a string, got ${describe(value)}`)
    return Buffer.from(value, 'utf8')
  },
  decode(bytes) {
    return bytes.toString('utf8')
  },
}

/** Bytes as they are. */
export const binaryCodec: Codec<Uint8Array> = {
  encode(value) {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`expected a Uint8Array, got ${describe(value)}`)
    }
    return value
  },
  decode(bytes) {
    return bytes
  },
}

const BUILTIN: Record<CodecName, Codec<unknown>> = {
  json: jsonCodec,
  msgpack: msgpackCodec,
  string: stringCodec as Codec<unknown>,
  binary: binaryCodec as Codec<unknown>,
}

/** @internal Resolves a codec option, rejecting unknown names and malformed codecs. */
export function resolveCodec<T>(codec: unknown): Codec<T> {
  if (codec === undefined) return jsonCodec as Codec<T>
  if (typeof codec === 'string') {
    if (Object.prototype.hasOwnProperty.call(BUILTIN, codec)) return BUILTIN[codec as CodecName] as Codec<T>
    throw invalidArg(`unknown codec '${codec}'; use json, msgpack, string, binary or {encode, decode}`)
  }
  const c = codec as Partial<Codec<T>> | null
  if (c && typeof c === 'object' && typeof c.encode === 'function' && typeof c.decode === 'function') {
    return c as Codec<T>
  }
  throw invalidArg(`codec must be a codec name or an object with encode and decode, got ${describe(codec)}`)
}

/** @internal Encodes with a codec, turning its failure into an invalid-argument error. */
export function encodeWith<T>(codec: Codec<T>, value: T): Uint8Array {
  let bytes: unknown
  try {
    bytes = codec.encode(value)
  } catch (err) {
    throw new StateError('ERR_STATEKIT_INVALID_ARG', `the codec cannot encode this value: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
  if (!(bytes instanceof Uint8Array)) {
    throw invalidArg(`codec.encode must return a Uint8Array, got ${describe(bytes)}`)
  }
  return bytes
}
