/** @internal The addon, loaded by the generated napi-rs loader. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const addon: typeof import('../native/index.js') = require('../native/index.js')

/** @internal A store of either tier, as the addon exposes it. */
export type NativeStore = import('../native/index.js').NativeStore

/** The largest value (in bytes) that goes through the shared value buffer. */
const VALUE_BUFFER_BYTES = addon.FAST_VALUE_BYTES
/** Bytes of control words after the largest key in the key buffer. */
const CONTROL_BYTES = addon.FAST_CONTROL_BYTES
/** The largest key, in bytes. */
const MAX_KEY_BYTES = addon.MAX_KEY_BYTES

/** @internal This thread's shared key buffer: room for the largest key, then the control words. */
export const KEY_BUF = Buffer.allocUnsafeSlow(MAX_KEY_BYTES + CONTROL_BYTES)
/** @internal This thread's shared value buffer. */
export const VAL_BUF = Buffer.allocUnsafeSlow(VALUE_BUFFER_BYTES)
/** Whether this module instance owns the thread's fast path (see fast_path.rs). */
const FAST = addon.registerBuffers(KEY_BUF, VAL_BUF)

/** @internal The control words as 32-bit integers, indexed by the `CTL_*` constants. */
export const CTL = new Int32Array(KEY_BUF.buffer, KEY_BUF.byteOffset + MAX_KEY_BYTES, CONTROL_BYTES / 4)
/** @internal The control word holding a write's TTL in ms (-1: the store's default). */
export const CTL_TTL = new Float64Array(KEY_BUF.buffer, KEY_BUF.byteOffset + MAX_KEY_BYTES + addon.CTL_TTL_OFFSET, 1)
const CTL_HANDLE = addon.CTL_HANDLE
const CTL_KEY_LEN = addon.CTL_KEY_LEN
const CTL_VALUE_LEN = addon.CTL_VALUE_LEN
/** @internal Index of the result control word. */
export const CTL_RESULT = addon.CTL_RESULT
/** @internal Fast-path result: not found. */
export const FAST_MISS = addon.FAST_MISS

type Utf8Writable = Buffer & { utf8Write(text: string, offset: number, length?: number): number }
const keyBuf = KEY_BUF as Utf8Writable
const valBuf = VAL_BUF as Utf8Writable
/** Strings of at most this many UTF-16 units always fit (3 bytes a unit at most). */
const FAST_KEY_CHARS = Math.floor(MAX_KEY_BYTES / 3)
const FAST_VALUE_CHARS = Math.floor(VALUE_BUFFER_BYTES / 3)

/**
 * @internal Writes a key into the shared key buffer and its length and the store's
 * handle into the control words; returns false if the key must take the general path
 * (not a string or bytes, empty, or too long).
 */
export function fastKey(handle: number, key: unknown): boolean {
  if (!FAST) return false
  let n: number
  if (typeof key === 'string') {
    if (key.length === 0 || key.length > FAST_KEY_CHARS) return false
    n = keyBuf.utf8Write(key, 0)
    if (n > MAX_KEY_BYTES) return false
  } else if (key instanceof Uint8Array) {
    n = key.length
    if (n === 0 || n > MAX_KEY_BYTES) return false
    KEY_BUF.set(key, 0)
  } else {
    return false
  }
  CTL[CTL_HANDLE] = handle
  CTL[CTL_KEY_LEN] = n
  return true
}

/** @internal Puts a value into the shared value buffer and its length into the control words; false if it does not fit. */
export function fastValue(value: unknown): boolean {
  let n: number
  if (typeof value === 'string') {
    if (value.length > FAST_VALUE_CHARS) return false
    n = valBuf.utf8Write(value, 0)
  } else if (value instanceof Uint8Array) {
    n = value.length
    if (n > VALUE_BUFFER_BYTES) return false
    VAL_BUF.set(value, 0)
  } else {
    return false
  }
  CTL[CTL_VALUE_LEN] = n
  return true
}

/** @internal A copy of the first `n` bytes of the shared value buffer. */
export function takeValue(n: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  VAL_BUF.copy(out, 0, 0, n)
  return out
}

/**
 * @internal Writes keys into the shared key buffer as 2-byte lengths and bytes for
 * `fastGetMany`; returns false if any key must take the general path or they do
 * not fit.
 */
export function fastKeys(handle: number, keys: unknown[]): boolean {
  if (!FAST) return false
  let pos = 0
  for (const key of keys) {
    let n: number
    if (typeof key === 'string') {
      if (key.length === 0 || pos + 2 + key.length * 3 > MAX_KEY_BYTES) return false
      n = keyBuf.utf8Write(key, pos + 2)
    } else if (key instanceof Uint8Array) {
      n = key.length
      if (n === 0 || pos + 2 + n > MAX_KEY_BYTES) return false
      KEY_BUF.set(key, pos + 2)
    } else {
      return false
    }
    if (n > 0xffff) return false
    KEY_BUF[pos] = n & 0xff
    KEY_BUF[pos + 1] = n >>> 8
    pos += 2 + n
  }
  CTL[CTL_HANDLE] = handle
  CTL[CTL_KEY_LEN] = keys.length
  return true
}

/** @internal The values `fastGetMany` wrote for `count` keys, `total` bytes of them. */
export function takeValues(count: number, total: number): (Buffer | undefined)[] {
  const lens = new Int32Array(VAL_BUF.buffer, VAL_BUF.byteOffset, count)
  const all = Buffer.allocUnsafeSlow(total)
  VAL_BUF.copy(all, 0, count * 4, count * 4 + total)
  const out = new Array<Buffer | undefined>(count)
  let off = 0
  for (let i = 0; i < count; i++) {
    const n = lens[i]!
    if (n < 0) {
      out[i] = undefined
    } else {
      out[i] = all.subarray(off, off + n)
      off += n
    }
  }
  return out
}
