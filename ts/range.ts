import { keyBytes } from './bytes.js'
import { describe, invalidArg } from './errors.js'
import type { RangeOptions } from './types.js'
import { checkOptions } from './options.js'

/** @internal The keys of {@link RangeOptions}. */
export const RANGE_OPTIONS = ['prefix', 'gte', 'lt', 'limit', 'reverse'] as const

/** @internal A range with every key as bytes, as the native cursor takes it. */
export interface NativeRange {
  prefix?: Buffer
  gte?: Buffer
  lt?: Buffer
  limit?: number
  reverse?: boolean
}

function asBuffer(key: unknown, what: string): Buffer | undefined {
  if (key === undefined) return undefined
  const bytes = keyBytes(key, what)
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** @internal Validates range options; a key prefix is prepended to every bound. */
export function nativeRange(opts: unknown, nsPrefix?: Uint8Array): NativeRange {
  if (opts === undefined) opts = {}
  if (opts === null || typeof opts !== 'object') {
    throw invalidArg(`range options must be an object, got ${describe(opts)}`)
  }
  const o = checkOptions(opts as RangeOptions, RANGE_OPTIONS, 'range')!
  const { limit, reverse } = o
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) {
    throw invalidArg(`limit must be a non-negative integer, got ${describe(limit)}`)
  }
  if (reverse !== undefined && typeof reverse !== 'boolean') {
    throw invalidArg(`reverse must be a boolean, got ${describe(reverse)}`)
  }
  const withNs = (b: Buffer | undefined): Buffer | undefined =>
    b === undefined || nsPrefix === undefined ? b : Buffer.concat([nsPrefix, b])
  let prefix = withNs(asBuffer(o.prefix, 'prefix'))
  if (prefix === undefined && nsPrefix !== undefined) prefix = Buffer.from(nsPrefix)
  const range: NativeRange = {}
  if (prefix !== undefined) range.prefix = prefix
  const gte = withNs(asBuffer(o.gte, 'gte'))
  if (gte !== undefined) range.gte = gte
  const lt = withNs(asBuffer(o.lt, 'lt'))
  if (lt !== undefined) range.lt = lt
  if (limit !== undefined) range.limit = Math.min(limit, 0xffffffff)
  if (reverse !== undefined) range.reverse = reverse
  return range
}
