/**
 * HTTP plumbing of the control server: JSON responses, the error body, reading a
 * bounded JSON body, and the mapping from statekit's error codes to HTTP statuses.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StateError } from './errors.js'

/** The largest request body the control server reads: 64 KiB. */
export const MAX_BODY_BYTES = 64 * 1024

/**
 * The codes of errors the control server itself answers with (HTTP-level problems);
 * errors from the store or the coordinator keep their `ERR_STATEKIT_*` code.
 *
 * - `ERR_CONTROL_UNAUTHORIZED` (401): no, a malformed, or a wrong bearer token.
 * - `ERR_CONTROL_NOT_FOUND` (404): no such endpoint, or no such checkpoint.
 * - `ERR_CONTROL_METHOD_NOT_ALLOWED` (405): the endpoint exists; the `Allow` header lists its methods.
 * - `ERR_CONTROL_BAD_REQUEST` (400): the request is not valid HTTP or its URL is malformed.
 * - `ERR_CONTROL_INVALID_JSON` (400): the body is not JSON.
 * - `ERR_CONTROL_BODY_TOO_LARGE` (413): the body is over 64 KiB.
 * - `ERR_CONTROL_TIMEOUT` (408): the request was not received in time.
 * - `ERR_CONTROL_NO_LEASE` (409): `POST /release-lease` with no lease held (or no lease support).
 * - `ERR_CONTROL_NO_CHECKPOINT` (409): `POST /restore` found no checkpoint that restores whole.
 * - `ERR_CONTROL_NO_COORDINATOR` (501): the endpoint needs a coordinator and the server has none.
 * - `ERR_CONTROL_METRICS_UNAVAILABLE` (501): no registry was passed and prom-client is not installed.
 * - `ERR_CONTROL_NOT_READY` (503): `GET /readyz` when the store is not ready.
 * - `ERR_CONTROL_INTERNAL` (500): an unexpected failure in a handler.
 */
export type ControlErrorCode =
  | 'ERR_CONTROL_UNAUTHORIZED'
  | 'ERR_CONTROL_NOT_FOUND'
  | 'ERR_CONTROL_METHOD_NOT_ALLOWED'
  | 'ERR_CONTROL_BAD_REQUEST'
  | 'ERR_CONTROL_INVALID_JSON'
  | 'ERR_CONTROL_BODY_TOO_LARGE'
  | 'ERR_CONTROL_TIMEOUT'
  | 'ERR_CONTROL_NO_LEASE'
  | 'ERR_CONTROL_NO_CHECKPOINT'
  | 'ERR_CONTROL_NO_COORDINATOR'
  | 'ERR_CONTROL_METRICS_UNAVAILABLE'
  | 'ERR_CONTROL_NOT_READY'
  | 'ERR_CONTROL_INTERNAL'

/** The body of every error response: `{ error: { code, message } }`. */
export interface ControlErrorBody {
  error: {
    /** A `ControlErrorCode`, or the `ERR_STATEKIT_*` code of the error behind it. */
    code: string
    /** What went wrong, for people. */
    message: string
  }
}

/** @internal An error answered with a status, a code and extra headers. */
export class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly headers: Record<string, string>

  constructor(status: number, code: ControlErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.code = code
    this.headers = headers
  }
}

/** @internal The HTTP status for an error from the store or the coordinator. */
export function statusOf(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message }
  const code = (err as { code?: unknown })?.code
  const message = err instanceof Error ? err.message : String(err)
  if (err instanceof StateError || (typeof code === 'string' && code.startsWith('ERR_STATEKIT_'))) {
    const c = code as string
    switch (c) {
      case 'ERR_STATEKIT_INVALID_ARG':
        return { status: 400, code: c, message }
      case 'ERR_STATEKIT_BUSY':
      case 'ERR_STATEKIT_LOCKED':
      case 'ERR_STATEKIT_LEASE_HELD':
      case 'ERR_STATEKIT_FENCED':
        return { status: 409, code: c, message }
      case 'ERR_STATEKIT_CLOSED':
        return { status: 503, code: c, message }
      default:
        return { status: 500, code: c, message }
    }
  }
  return { status: 500, code: 'ERR_CONTROL_INTERNAL', message: 'internal error in the control server' }
}

const BASE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
}

/** @internal Sends `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

/** @internal Sends plain text (the Prometheus exposition format). */
export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
  })
  res.end(text)
}

/** @internal Sends the error body for `err`. */
export function sendError(res: ServerResponse, err: unknown): number {
  const { status, code, message } = statusOf(err)
  const headers = err instanceof HttpError ? err.headers : {}
  const body: ControlErrorBody = { error: { code, message } }
  if (res.headersSent) {
    res.destroy()
    return status
  }
  sendJson(res, status, body, headers)
  return status
}

/** @internal The raw bytes of an HTTP error response, for a socket with no request object. */
export function rawError(status: number, reason: string, code: ControlErrorCode, message: string): string {
  const text = JSON.stringify({ error: { code, message } } satisfies ControlErrorBody) + '\n'
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`
  )
}

/**
 * @internal Reads the body (at most {@link MAX_BODY_BYTES}) and parses it as a JSON
 * object. An empty body is `undefined`. A body over the limit rejects with 413 (and
 * the connection is closed after the response, so the rest is never read); one that
 * is not JSON with 400; JSON that is not an object with 400 `ERR_STATEKIT_INVALID_ARG`.
 */
export function readJsonBody(req: IncomingMessage, res: ServerResponse, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): HttpError => {
      res.shouldKeepAlive = false
      return new HttpError(413, 'ERR_CONTROL_BODY_TOO_LARGE', `the request body is over the limit of ${MAX_BODY_BYTES} bytes`, { connection: 'close' })
    }
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
      reject(tooLarge())
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (err: HttpError | null, value?: Record<string, unknown>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      if (err) {
        // Stop reading what is left; the connection closes after the response.
        req.pause()
        reject(err)
      } else {
        resolve(value)
      }
    }
    const timer = setTimeout(() => {
      res.shouldKeepAlive = false
      finish(new HttpError(408, 'ERR_CONTROL_TIMEOUT', `the request body was not received within ${timeoutMs} ms`, { connection: 'close' }))
    }, timeoutMs)
    timer.unref()
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        finish(tooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      if (size === 0) {
        finish(null, undefined)
        return
      }
      let value: unknown
      try {
        value = JSON.parse(Buffer.concat(chunks, size).toString('utf8'))
      } catch (e) {
        finish(new HttpError(400, 'ERR_CONTROL_INVALID_JSON', `the request body is not JSON: ${(e as Error).message}`))
        return
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        finish(new HttpError(400, 'ERR_CONTROL_INVALID_JSON', 'the request body must be a JSON object'))
        return
      }
      finish(null, value as Record<string, unknown>)
    }
    const onError = (): void => {
      finish(new HttpError(400, 'ERR_CONTROL_BAD_REQUEST', 'the request body could not be read'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}
