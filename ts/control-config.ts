/**
 * What `GET /config` shows: the effective options of the backend, the coordinator
 * and its storage, and the control server's own, with secrets redacted.
 *
 * @packageDocumentation
 */
import { isToken } from './control-auth.js'

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]'

/**
 * Keys whose values are never shown: anything named like a secret, token, password,
 * credential, private or access key, API key, authorization header, cookie or
 * session. Matched case-insensitively, ignoring `-` and `_`.
 */
export const SECRET_KEY = /secret|token|passw(or)?d|passphrase|credential|authori[sz]ation|apikey|privatekey|accesskey|cookie|session|signature/i

const MAX_DEPTH = 6

/** @internal Whether a key names a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.replace(/[-_\s.]/g, ''))
}

/**
 * @internal A JSON-safe copy of `value` with every secret redacted: values under a
 * secret-like key, and any string equal to the control token. Functions are left
 * out; class instances (clients, sockets) are shown by their class name only, so
 * whatever they hold stays hidden; Buffers by their size.
 */
export function redact(value: unknown, tokenDigest: Buffer | null, depth = 0, seen = new Set<object>()): unknown {
  if (value === null || value === undefined) return value ?? null
  switch (typeof value) {
    case 'string':
      return isToken(value, tokenDigest) ? REDACTED : value
    case 'number':
      return Number.isFinite(value) ? value : String(value)
    case 'boolean':
      return value
    case 'bigint':
      return value.toString()
    case 'function':
    case 'symbol':
      return undefined
  }
  const obj = value as object
  if (Buffer.isBuffer(obj) || obj instanceof Uint8Array) return `<${(obj as Uint8Array).byteLength} bytes>`
  if (obj instanceof Date) return obj.toISOString()
  if (obj instanceof RegExp) return String(obj)
  if (seen.has(obj) || depth >= MAX_DEPTH) return '[…]'
  seen.add(obj)
  try {
    if (Array.isArray(obj)) return obj.map((v) => redact(v, tokenDigest, depth + 1, seen) ?? null)
    const proto = Object.getPrototypeOf(obj) as object | null
    if (proto !== null && proto !== Object.prototype) {
      const name = (obj.constructor as { name?: string } | undefined)?.name
      return `[${name || 'object'}]`
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(obj)) {
      if (isSecretKey(k)) {
        out[k] = REDACTED
        continue
      }
      const r = redact(v, tokenDigest, depth + 1, seen)
      if (r !== undefined) out[k] = r
    }
    return out
  } finally {
    seen.delete(obj)
  }
}

/**
 * @internal The effective options of a coordinator, read generically: an `options`
 * object if it exposes one, its `dir`, and its `storage` (by the storage's own
 * `describe()` if it has one, else its plain fields). All of it redacted.
 */
export function describeCoordinator(coordinator: object, tokenDigest: Buffer | null): Record<string, unknown> {
  const c = coordinator as { options?: unknown; dir?: unknown; storage?: unknown }
  const out: Record<string, unknown> = {}
  const options = safeGet(() => c.options)
  if (options !== null && typeof options === 'object') Object.assign(out, redact(options, tokenDigest) as object)
  const dir = safeGet(() => c.dir)
  if (typeof dir === 'string') out.dir = dir
  const storage = safeGet(() => c.storage)
  if (storage !== null && typeof storage === 'object') out.storage = describeStorage(storage, tokenDigest)
  return out
}

function describeStorage(storage: object, tokenDigest: Buffer | null): unknown {
  const s = storage as { describe?: unknown }
  if (typeof s.describe === 'function') {
    const d = safeGet(() => (s.describe as () => unknown).call(storage))
    if (d !== undefined) return redact(d, tokenDigest)
  }
  // The storage's own enumerable data fields, whatever its class.
  const out: Record<string, unknown> = { type: (storage.constructor as { name?: string } | undefined)?.name ?? 'object' }
  for (const [k, v] of Object.entries(storage)) {
    if (isSecretKey(k)) out[k] = REDACTED
    else {
      const r = redact(v, tokenDigest, 1)
      if (r !== undefined) out[k] = r
    }
  }
  return out
}

function safeGet<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}
