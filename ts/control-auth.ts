/**
 * Bearer-token auth of the control server: where the token comes from, the
 * constant-time check, and which addresses count as loopback. The token itself is
 * kept only as its SHA-256 digest, so it cannot leak into a log line, an error,
 * `/config` or `/metrics`.
 *
 * @packageDocumentation
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { invalidArg, StateError } from './errors.js'

/** Where the token came from. */
export type TokenSource = 'option' | 'env' | 'file' | 'none'

/** Why a request failed auth; the label of the auth-failure metric. */
export type AuthFailure = 'missing' | 'scheme' | 'empty' | 'invalid'

/** The least length of a token, in characters. */
export const MIN_TOKEN_LENGTH = 16

/** @internal The resolved token: its digest and where it came from. */
export interface ResolvedToken {
  digest: Buffer | null
  source: TokenSource
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

function check(token: string, from: string): string {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw invalidArg(`the control token (${from}) must be at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`)
  }
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw invalidArg(`the control token (${from}) must be printable ASCII without spaces`)
  }
  return token
}

/**
 * @internal The token from the option, else `STATEKIT_CONTROL_TOKEN`, else the file
 * named by `STATEKIT_CONTROL_TOKEN_FILE` (trailing whitespace trimmed). Errors name
 * where the token came from, never the token.
 */
export function resolveToken(option: unknown, env: NodeJS.ProcessEnv): ResolvedToken {
  if (option !== undefined) {
    if (typeof option !== 'string') throw invalidArg(`token must be a string, got ${option === null ? "null" : typeof option}`)
    return { digest: sha256(check(option, 'the token option')), source: 'option' }
  }
  const fromEnv = env.STATEKIT_CONTROL_TOKEN
  if (fromEnv !== undefined && fromEnv !== '') {
    return { digest: sha256(check(fromEnv, 'STATEKIT_CONTROL_TOKEN')), source: 'env' }
  }
  const file = env.STATEKIT_CONTROL_TOKEN_FILE
  if (file !== undefined && file !== '') {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      throw new StateError('ERR_STATEKIT_IO', `cannot read the token file named by STATEKIT_CONTROL_TOKEN_FILE (${file}): ${(e as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    return { digest: sha256(check(text.replace(/\s+$/, ''), `the file ${file}`)), source: 'file' }
  }
  return { digest: null, source: 'none' }
}

/**
 * @internal Checks an `Authorization` header against the token's digest. Both sides
 * are hashed to 32 bytes and compared with `timingSafeEqual`, so the time taken says
 * nothing about the token, not even its length.
 */
export function checkAuthorization(header: string | undefined, digest: Buffer): AuthFailure | null {
  if (header === undefined) return 'missing'
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(header.trim())
  if (!m || m[1]!.toLowerCase() !== 'bearer') return 'scheme'
  const presented = (m[2] ?? '').trim()
  if (presented === '') return 'empty'
  return timingSafeEqual(sha256(presented), digest) ? null : 'invalid'
}

/** @internal Whether a string equals the token (for redaction), by digest. */
export function isToken(value: string, digest: Buffer | null): boolean {
  if (digest === null || value.length < MIN_TOKEN_LENGTH) return false
  return timingSafeEqual(sha256(value), digest)
}

/**
 * Whether `host` is a loopback address: `localhost`, `127.0.0.0/8`, `::1`, or an
 * IPv4-mapped `::ffff:127.x.y.z`. A server on any other address needs a token.
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost') return true
  const v = isIP(h)
  if (v === 4) return h.startsWith('127.')
  if (v === 6) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
    return mapped !== null && mapped[1]!.startsWith('127.')
  }
  return false
}
