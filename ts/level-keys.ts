/**
 * @internal How `statekit/level` lays its keys out in a statekit backend, and how a
 * level range (`gt`, `gte`, `lt`, `lte`) becomes a statekit range (`gte`, `lt`).
 *
 * statekit keys are 1 to 65,536 bytes; level allows the empty key. So every level key
 * is stored behind one tag byte, 0x00: `'' -> [0x00]`, `'a' -> [0x00, 0x61]`. A fixed
 * first byte keeps byte order, and a level key may be 65,535 bytes.
 *
 * Exclusive and inclusive bounds map exactly: in byte order the first key after `k` is
 * `k + [0x00]`, so `gt: k` is `gte: k + [0x00]` and `lte: k` is `lt: k + [0x00]`.
 */

import { describe, invalidArg } from './errors.js'

/** @internal The tag byte in front of every level key. */
export const TAG = 0x00
const TAG_STRING = '\u0000'
/** Every tagged key is at least this... */
const ALL_LOWER = Buffer.from([TAG])
/** ...and below this. */
const ALL_UPPER = Buffer.from([TAG + 1])

/** @internal A key as abstract-level hands it over: a string (`utf8`) or bytes (`buffer`). */
export type EncodedKey = string | Uint8Array

/** @internal The backend key of a level key: the tag byte, then the key. */
export function tagKey(key: EncodedKey): string | Buffer {
  if (typeof key === 'string') return TAG_STRING + key
  const out = Buffer.allocUnsafe(key.length + 1)
  out[0] = TAG
  out.set(key, 1)
  return out
}

/** @internal The level key of a backend key, in the format asked for. */
export function untagKey(key: Buffer, format: string): string | Buffer {
  return format === 'utf8' ? key.toString('utf8', 1) : key.subarray(1)
}

function tagBytes(key: unknown, extra: boolean): Buffer {
  // abstract-level encodes every bound with the key encoding before it gets here.
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw invalidArg(`a range bound must be encoded to a string or bytes, got ${describe(key)}`)
  }
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key
  const out = Buffer.allocUnsafe(bytes.length + (extra ? 2 : 1))
  out[0] = TAG
  out.set(bytes, 1)
  if (extra) out[out.length - 1] = 0
  return out
}

/** @internal A half-open byte range `[gte, lt)` of backend keys. */
export interface TaggedRange {
  gte: Buffer
  lt: Buffer
}

/** @internal The range options abstract-level hands to `_iterator` and `_clear`, encoded. */
export interface LevelRange {
  gt?: unknown
  gte?: unknown
  lt?: unknown
  lte?: unknown
}

const max = (a: Buffer, b: Buffer): Buffer => (Buffer.compare(a, b) >= 0 ? a : b)
const min = (a: Buffer, b: Buffer): Buffer => (Buffer.compare(a, b) <= 0 ? a : b)

/**
 * @internal The backend range of a level range. As in abstract-level (and its
 * sublevels), an inclusive bound takes precedence over an exclusive one on the same
 * side: `{ gte: '30', gt: '40' }` starts at `'30'`.
 */
export function taggedRange(o: LevelRange): TaggedRange {
  const gte = o.gte !== undefined ? tagBytes(o.gte, false) : o.gt !== undefined ? tagBytes(o.gt, true) : ALL_LOWER
  const lt = o.lte !== undefined ? tagBytes(o.lte, true) : o.lt !== undefined ? tagBytes(o.lt, false) : ALL_UPPER
  return { gte, lt }
}

/**
 * @internal The part of `range` an iterator visits after `seek(target)`: keys at or
 * after the target going forward, at or before it in reverse.
 */
export function seekRange(range: TaggedRange, target: EncodedKey, reverse: boolean): TaggedRange {
  return reverse
    ? { gte: range.gte, lt: min(range.lt, tagBytes(target, true)) }
    : { gte: max(range.gte, tagBytes(target, false)), lt: range.lt }
}

/** @internal Whether a range holds no key at all. */
export function isEmptyRange(range: TaggedRange): boolean {
  return Buffer.compare(range.gte, range.lt) >= 0
}
