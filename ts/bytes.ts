import { describe, invalidArg } from './errors.js'
import { checkOptions } from './options.js'

const PUT_OPTIONS = ['ttl'] as const

/** A key: a string (its UTF-8 bytes) or raw bytes. `'a'` and `Buffer.from('a')` are the same key. */
export type Key = string | Uint8Array

/** A value: a string (stored as UTF-8) or raw bytes. Values always come back as `Buffer`. */
export type Value = string | Uint8Array

/** @internal The bytes of a key, or an invalid-argument error. */
export function keyBytes(key: unknown, what = 'key'): Uint8Array {
  if (typeof key === 'string') return Buffer.from(key, 'utf8')
  if (key instanceof Uint8Array) return key
  throw invalidArg(`${what} must be a string or Uint8Array, got ${describe(key)}`)
}

/** @internal The bytes of a value, or an invalid-argument error. */
export function valueBytes(value: unknown): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (value instanceof Uint8Array) return value
  throw invalidArg(`value must be a string or Uint8Array, got ${describe(value)}`)
}

/**
 * @internal A TTL option: `undefined` (use the default) or a non-negative number of
 * milliseconds; 0 and `Infinity` mean "never expires".
 */
export function ttlOption(ttl: unknown): number | undefined {
  if (ttl === undefined) return undefined
  if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) {
    throw invalidArg(`ttl must be a non-negative number of milliseconds, got ${describe(ttl)}`)
  }
  return ttl
}

/** @internal Reads the `ttl` of an options object, rejecting a non-object. */
export function ttlOf(opts: unknown): number | undefined {
  if (opts === undefined) return undefined
  if (opts === null || typeof opts !== 'object') {
    throw invalidArg(`options must be an object, got ${describe(opts)}`)
  }
  for (const k in opts) if (k !== 'ttl') checkOptions(opts, PUT_OPTIONS, 'put')
  return ttlOption((opts as { ttl?: unknown }).ttl)
}

/** @internal Concatenates a namespace prefix and a key. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.concat([a, b])
}
