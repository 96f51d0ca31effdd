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
/** The fast calls as bare N-API functions (fast_calls.rs): no napi-rs machinery per call. */
const CALLS = addon.fastCalls()
/** @internal Reads the key's value into the value buffer; result: its length, or a code. */
export const fastGet: () => void = CALLS.get
/** @internal Result: 1 if the key has a live value, 0 if not. */
export const fastHas: () => void = CALLS.has
/** @internal Result: 1 if a live entry was removed, 0 if not. */
export const fastDelete: () => void = CALLS.delete
/** @internal Stores the value buffer's value under the key; result 0. */
export const fastPut: () => void = CALLS.put
/** @internal Reads the packed keys' values into the value buffer; result: their bytes. */
export const fastGetMany: () => void = CALLS.getMany
/** @internal Writes the packed batch; result 0. */
export const fastPutMany: () => void = CALLS.putMany

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

type Utf8Writable = Buffer & { utf8Write(text: string, offset: number, length?: number): number; utf8Slice(start: number, end: number): string }
const keyBuf = KEY_BUF as Utf8Writable
const valBuf = VAL_BUF as Utf8Writable
/** The shared buffers as plain bytes: element access and `set` without Buffer's methods. */
const KEY_U8 = new Uint8Array(KEY_BUF.buffer, KEY_BUF.byteOffset, MAX_KEY_BYTES)
const VAL_U8 = new Uint8Array(VAL_BUF.buffer, VAL_BUF.byteOffset, VALUE_BUFFER_BYTES)
/** The value buffer as 32-bit and 64-bit words (it is 8-byte aligned: allocUnsafeSlow). */
const VAL_I32 = new Int32Array(VAL_BUF.buffer, VAL_BUF.byteOffset, VALUE_BUFFER_BYTES / 4)
const VAL_F64 = new Float64Array(VAL_BUF.buffer, VAL_BUF.byteOffset, VALUE_BUFFER_BYTES / 8)
/**
 * Strings up to this many UTF-16 units are first tried as ASCII with a JavaScript
 * loop: for short strings it costs a fraction of `utf8Write`, a call into Node's C++.
 */
const ASCII_LOOP_CHARS = 64
/** Values up to this many bytes are copied out with a loop rather than `set`. */
const COPY_LOOP_BYTES = 16
/** Values up to this many bytes are copied out of a view kept per length (see {@link valueView}). */
const CACHED_VIEW_BYTES = 1024
const VIEWS: (Uint8Array | undefined)[] = []

/**
 * The first `n` bytes of the shared value buffer as a `Uint8Array` view to copy from.
 * Up to {@link CACHED_VIEW_BYTES}, one view per length is made once and kept: making
 * a `subarray` for every read cost about 16 ns of a 100-byte `getSync`'s ~70 ns copy.
 */
function valueView(n: number): Uint8Array {
  if (n > CACHED_VIEW_BYTES) return VAL_U8.subarray(0, n)
  return (VIEWS[n] ??= VAL_U8.subarray(0, n))
}

/**
 * Writes `text` as UTF-8 at `pos` of a shared buffer, with at most `room` bytes;
 * returns the bytes written, or -1 if it does not fit (nothing is then relied on).
 */
function writeText(bytes: Uint8Array, buf: Utf8Writable, text: string, pos: number, room: number): number {
  const n = text.length
  if (n > room) return -1
  if (n <= ASCII_LOOP_CHARS) {
    let i = 0
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x80) break
      bytes[pos + i] = c
    }
    if (i === n) return n
  }
  // At most 3 bytes a UTF-16 unit; beyond that, measure first.
  if (n * 3 > room && Buffer.byteLength(text, 'utf8') > room) return -1
  return buf.utf8Write(text, pos, room)
}

/**
 * @internal Writes a key into the shared key buffer and its length and the store's
 * handle into the control words; returns false if the key must take the general path
 * (not a string or bytes, empty, or too long).
 */
export function fastKey(handle: number, key: unknown): boolean {
  if (!FAST) return false
  let n: number
  if (typeof key === 'string') {
    if (key.length === 0) return false
    n = writeText(KEY_U8, keyBuf, key, 0, MAX_KEY_BYTES)
    if (n < 0) return false
  } else if (key instanceof Uint8Array) {
    n = key.length
    if (n === 0 || n > MAX_KEY_BYTES) return false
    KEY_U8.set(key, 0)
  } else {
    return false
  }
  CTL[CTL_HANDLE] = handle
  CTL[CTL_KEY_LEN] = n
  return true
}

/**
 * @internal Like {@link fastKey} for `prefix` followed by `key` (a namespace's key);
 * false if the key must take the general path.
 */
export function fastPrefixedKey(handle: number, prefix: Uint8Array, key: unknown): boolean {
  if (!FAST) return false
  const p = prefix.length
  let n: number
  if (typeof key === 'string') {
    if (key.length === 0) return false
    n = writeText(KEY_U8, keyBuf, key, p, MAX_KEY_BYTES - p)
    if (n < 0) return false
  } else if (key instanceof Uint8Array) {
    n = key.length
    if (n === 0 || n > MAX_KEY_BYTES - p) return false
    KEY_U8.set(key, p)
  } else {
    return false
  }
  KEY_U8.set(prefix, 0)
  CTL[CTL_HANDLE] = handle
  CTL[CTL_KEY_LEN] = p + n
  return true
}

/** @internal Puts a value into the shared value buffer and its length into the control words; false if it does not fit. */
export function fastValue(value: unknown): boolean {
  let n: number
  if (typeof value === 'string') {
    n = writeText(VAL_U8, valBuf, value, 0, VALUE_BUFFER_BYTES)
    if (n < 0) return false
  } else if (value instanceof Uint8Array) {
    n = value.length
    if (n > VALUE_BUFFER_BYTES) return false
    VAL_U8.set(value, 0)
  } else {
    return false
  }
  CTL[CTL_VALUE_LEN] = n
  return true
}

/** @internal A copy of the first `n` bytes of the shared value buffer: one Buffer, one copy. */
export function takeValue(n: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  if (n <= COPY_LOOP_BYTES) {
    for (let i = 0; i < n; i++) out[i] = VAL_U8[i]!
  } else {
    out.set(valueView(n))
  }
  return out
}

/** @internal The first `n` bytes of the shared value buffer as UTF-8 text, with no Buffer made. */
export function takeString(n: number): string {
  return valBuf.utf8Slice(0, n)
}

/**
 * @internal The first `n` bytes of the shared value buffer as a Buffer view, valid only
 * until the next call into the fast path: for decoders that copy what they keep.
 */
export function peekValue(n: number): Buffer {
  return VAL_BUF.subarray(0, n)
}

/** @internal Copies the first `n` bytes of the shared value buffer into `target`. */
export function copyValueInto(n: number, target: Uint8Array): void {
  if (n <= COPY_LOOP_BYTES) {
    for (let i = 0; i < n; i++) target[i] = VAL_U8[i]!
  } else {
    target.set(valueView(n))
  }
}

/**
 * Writes a key at `pos` of the key buffer as a 2-byte length and its bytes; returns
 * the position after it, or -1 if it must take the general path.
 */
function packKey(key: unknown, pos: number): number {
  let n: number
  if (typeof key === 'string') {
    if (key.length === 0) return -1
    n = writeText(KEY_U8, keyBuf, key, pos + 2, Math.min(0xffff, MAX_KEY_BYTES - pos - 2))
    if (n < 0) return -1
  } else if (key instanceof Uint8Array) {
    n = key.length
    if (n === 0 || n > MAX_KEY_BYTES - pos - 2) return -1
    KEY_U8.set(key, pos + 2)
  } else {
    return -1
  }
  KEY_U8[pos] = n & 0xff
  KEY_U8[pos + 1] = n >>> 8
  return pos + 2 + n
}

/** Where {@link touchKeys} leaves what it read, so that the reads are not optimized away. */
let touched = 0

/**
 * Reads the first character of every string key of a batch (every `stride`-th item,
 * or the key of each entry), in a loop short enough that the CPU has many of these
 * reads in flight at once: the key strings of a large store are scattered over the
 * heap, and a string built by concatenation (a template literal) is a rope whose
 * characters live in a second object, so a key costs one or two cache misses. Read
 * one after another by the packing loop, which does more work per key, those misses
 * would be served one at a time; touched first, they overlap, and packing finds the
 * keys in cache.
 */
function touchKeys(items: unknown[], count: number, stride: 0 | 1): void {
  let acc = 0
  for (let i = 0; i < count; i++) {
    let k = items[i]
    if (stride === 0) k = Array.isArray(k) ? k[0] : (k as { key?: unknown } | null)?.key
    if (typeof k === 'string' && k.length > 0) acc ^= k.charCodeAt(0)
  }
  touched ^= acc
}

/**
 * @internal Writes keys into the shared key buffer as 2-byte lengths and bytes for
 * `fastGetMany`; returns false if any key must take the general path or they do
 * not fit.
 */
export function fastKeys(handle: number, keys: unknown[]): boolean {
  if (!FAST) return false
  let pos = 0
  const count = keys.length
  touchKeys(keys, count, 1)
  for (let i = 0; i < count; i++) {
    pos = packKey(keys[i], pos)
    if (pos < 0) return false
  }
  CTL[CTL_HANDLE] = handle
  CTL[CTL_KEY_LEN] = count
  return true
}

/** @internal The values `fastGetMany` wrote for `count` keys, `total` bytes of them: one copy, views of it. */
export function takeValues(count: number, total: number): (Buffer | undefined)[] {
  const all = Buffer.allocUnsafeSlow(total)
  all.set(VAL_U8.subarray(count * 4, count * 4 + total))
  const ab = all.buffer
  const base = all.byteOffset
  const out = new Array<Buffer | undefined>(count)
  let off = 0
  for (let i = 0; i < count; i++) {
    const n = VAL_I32[i]!
    if (n < 0) {
      out[i] = undefined
    } else {
      out[i] = Buffer.from(ab, base + off, n)
      off += n
    }
  }
  return out
}

/**
 * @internal Packs a batch of writes for `fastPutMany`: the keys into the key buffer as
 * for `fastKeys`; TTLs (-1: the store's default), value lengths and values into the
 * value buffer. Returns false if any entry must take the general path (malformed,
 * or the batch does not fit), which then reports the precise error.
 */
export function fastEntries(handle: number, entries: unknown[]): boolean {
  if (!FAST) return false
  const count = entries.length
  const lens = count * 2 // index of the first length in VAL_I32 (after count f64 TTLs)
  let vpos = count * 12
  if (vpos > VALUE_BUFFER_BYTES) return false
  touchKeys(entries, count, 0)
  let kpos = 0
  for (let i = 0; i < count; i++) {
    const e: unknown = entries[i]
    let key: unknown
    let value: unknown
    let ttl = -1
    if (Array.isArray(e)) {
      if (e.length !== 2) return false
      key = e[0]
      value = e[1]
    } else if (e !== null && typeof e === 'object') {
      const o = e as { key?: unknown; value?: unknown; ttl?: unknown }
      key = o.key
      value = o.value
      const t = o.ttl
      if (t !== undefined) {
        if (typeof t !== 'number' || !(t >= 0)) return false
        ttl = t
      }
    } else {
      return false
    }
    kpos = packKey(key, kpos)
    if (kpos < 0) return false
    let n: number
    if (typeof value === 'string') {
      n = writeText(VAL_U8, valBuf, value, vpos, VALUE_BUFFER_BYTES - vpos)
      if (n < 0) return false
    } else if (value instanceof Uint8Array) {
      n = value.length
      if (n > VALUE_BUFFER_BYTES - vpos) return false
      VAL_U8.set(value, vpos)
    } else {
      return false
    }
    VAL_F64[i] = ttl
    VAL_I32[lens + i] = n
    vpos += n
  }
  CTL[CTL_HANDLE] = handle
  CTL[CTL_KEY_LEN] = count
  return true
}
