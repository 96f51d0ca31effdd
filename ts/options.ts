import { describe, invalidArg } from './errors.js'

/** The number of single-character edits that turn `a` into `b` (Levenshtein). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]!
}

/** @internal The valid key nearest to `key` by edit distance (case-insensitive), if one is close. */
export function nearestKey(key: string, valid: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const v of valid) {
    const d = editDistance(key.toLowerCase(), v.toLowerCase())
    if (d < bestDistance) {
      best = v
      bestDistance = d
    }
  }
  // Close enough to be a typo: a third of the longer name, and at least 2 edits.
  const limit = Math.max(2, Math.floor(Math.max(key.length, best?.length ?? 0) / 3))
  return bestDistance <= limit ? best : undefined
}

/**
 * @internal Rejects an options object (or `undefined`) that is not an object or has a
 * key not in `valid`, with `ERR_STATEKIT_INVALID_ARG` naming the key, the nearest valid
 * one and every valid one. `what` names the options in the message, such as
 * `'SledBackend.open'`. Returns the options, typed.
 */
export function checkOptions<T extends object>(opts: T | undefined, valid: readonly string[], what: string): T | undefined {
  if (opts === undefined) return undefined
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw invalidArg(`${what} options must be an object, got ${describe(opts)}`)
  }
  for (const key in opts) {
    if (!Object.prototype.hasOwnProperty.call(opts, key) || valid.includes(key)) continue
    const near = nearestKey(key, valid)
    throw invalidArg(
      `unknown ${what} option '${key}'${near !== undefined ? ` (did you mean '${near}'?)` : ''}; the options are ${valid.map((v) => `'${v}'`).join(', ')}`,
    )
  }
  return opts
}
