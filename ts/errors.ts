/**
 * The stable error codes of statekit, found on {@link StateError.code}.
 *
 * - `ERR_STATEKIT_INVALID_ARG`: a bad key, value, TTL or option; nothing was changed.
 * - `ERR_STATEKIT_CLOSED`: the backend was closed.
 * - `ERR_STATEKIT_LOCKED`: the directory is held by another open store.
 * - `ERR_STATEKIT_CORRUPT`: a file or directory is damaged; the message names it.
 * - `ERR_STATEKIT_IO`: the operating system refused an I/O operation.
 * - `ERR_STATEKIT_BUSY`: a checkpoint or restore of the backend is already running.
 * - `ERR_STATEKIT_INTERNAL`: a bug in statekit (a Rust panic, caught); the operation
 *   did not complete and the process is unharmed.
 * - `ERR_STATEKIT_LEASE_HELD`: another owner holds the lease; the message names it and
 *   when the lease ends.
 * - `ERR_STATEKIT_FENCED`: this writer lost its lease (it expired or was taken over), so
 *   its manifest write was refused and nothing was changed.
 */
export type StateErrorCode =
  | 'ERR_STATEKIT_INVALID_ARG'
  | 'ERR_STATEKIT_CLOSED'
  | 'ERR_STATEKIT_LOCKED'
  | 'ERR_STATEKIT_CORRUPT'
  | 'ERR_STATEKIT_IO'
  | 'ERR_STATEKIT_BUSY'
  | 'ERR_STATEKIT_INTERNAL'
  | 'ERR_STATEKIT_LEASE_HELD'
  | 'ERR_STATEKIT_FENCED'

const CODES: ReadonlySet<string> = new Set<StateErrorCode>([
  'ERR_STATEKIT_INVALID_ARG',
  'ERR_STATEKIT_CLOSED',
  'ERR_STATEKIT_LOCKED',
  'ERR_STATEKIT_CORRUPT',
  'ERR_STATEKIT_IO',
  'ERR_STATEKIT_BUSY',
  'ERR_STATEKIT_INTERNAL',
  'ERR_STATEKIT_LEASE_HELD',
  'ERR_STATEKIT_FENCED',
])

/** Every error statekit throws or rejects with. Switch on `code`, not on the message. */
export class StateError extends Error {
  /** The stable code of this error. */
  readonly code: StateErrorCode

  /**
   * @param code - one of the {@link StateErrorCode}s
   * @param message - what went wrong, for people
   * @param options - the underlying error, if any
   */
  constructor(code: StateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StateError'
    this.code = code
  }
}

/** @internal An invalid-argument error. */
export function invalidArg(message: string): StateError {
  return new StateError('ERR_STATEKIT_INVALID_ARG', message)
}

/**
 * @internal Turns an error thrown by the native addon, or a Promise's rejection from it,
 * into a StateError. Both carry the engine's code in `code`; nothing is read from the
 * message text.
 */
export function fromNative(err: unknown): StateError {
  if (err instanceof StateError) return err
  const e = err as { code?: unknown; message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (typeof e?.code === 'string' && CODES.has(e.code)) {
    return new StateError(e.code as StateErrorCode, message)
  }
  // napi-rs argument conversion errors carry the N-API status as their code.
  if (e?.code === 'InvalidArg' || e?.code === 'NumberExpected' || e?.code === 'ObjectExpected') {
    return new StateError('ERR_STATEKIT_INVALID_ARG', message, { cause: err })
  }
  return new StateError('ERR_STATEKIT_INTERNAL', `statekit internal error: ${message}`, {
    cause: err,
  })
}

/** The longest text of a value quoted in an error message. */
const SHOWN_MAX = 60

function clip(text: string): string {
  return text.length > SHOWN_MAX ? `${text.slice(0, SHOWN_MAX - 3)}...` : text
}

/**
 * @internal A value, shown for an error message: the value itself where it is short
 * (`'gzip'`, `the number 10`, `true`, `{"a":1}`), else its kind.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return `'${clip(value)}'`
    case 'number':
      return `the number ${value}`
    case 'bigint':
      return `the bigint ${value}n`
    case 'boolean':
      return String(value)
    case 'undefined':
      return 'undefined'
    case 'symbol':
      return value.toString()
    case 'function':
      return value.name ? `a function (${value.name})` : 'a function'
    default: {
      const proto = Object.getPrototypeOf(value) as unknown
      const plain = Array.isArray(value) || proto === Object.prototype || proto === null
      if (plain) {
        try {
          const text = JSON.stringify(value)
          if (text !== undefined) return `${Array.isArray(value) ? 'an array' : 'an object'} ${clip(text)}`
        } catch {
          // Circular, or holds a BigInt: say what it is instead.
        }
        return Array.isArray(value) ? 'an array' : 'an object'
      }
      return `an object (${(value as object).constructor?.name ?? 'Object'})`
    }
  }
}
