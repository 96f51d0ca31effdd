/**
 * The control server (`statekit/control`): a small admin HTTP server to embed in a
 * service, for an operator, a deploy script or Prometheus: status, readiness,
 * metrics, checkpoints, restore and the lease, behind a bearer token.
 *
 * @packageDocumentation
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { checkAuthorization, isLoopback, resolveToken, type AuthFailure, type TokenSource } from './control-auth.js'
import { HttpError, MAX_BODY_BYTES, rawError, readJsonBody, sendError, sendJson, sendText } from './control-http.js'
import { ControlMetrics, type ControlMetricsRegistry, type ControlStats } from './control-metrics.js'
import { ControlApi, type ControlCoordinator, type RouteResult } from './control-routes.js'
import type { CheckpointCoordinator } from './coordinator.js'
import { describe, invalidArg, StateError } from './errors.js'
import { checkOptions } from './options.js'
import type { StateBackend } from './types.js'

export { isLoopback, MIN_TOKEN_LENGTH, type AuthFailure, type TokenSource } from './control-auth.js'
export { REDACTED, SECRET_KEY } from './control-config.js'
export { MAX_BODY_BYTES, type ControlErrorBody, type ControlErrorCode } from './control-http.js'
export type { ControlMetricsRegistry, ControlStats } from './control-metrics.js'
export type { ControlCoordinator, ControlStatus, LeaseInfo, LeaseSupport, Tier } from './control-routes.js'

/** Options of {@link createControlServer}. */
export interface ControlServerOptions {
  /** The store to report on, checkpoint and restore. Never closed by the server. */
  backend: StateBackend
  /**
   * The coordinator for `/checkpoints`, `POST /checkpoint`, `POST /restore` and the
   * lease. Without one those endpoints answer 501 (`/release-lease`: 409).
   */
  coordinator?: CheckpointCoordinator
  /**
   * The bearer token every endpoint but `/livez` and `/readyz` requires: at least 16
   * printable ASCII characters. Absent: `STATEKIT_CONTROL_TOKEN`, else the contents of
   * the file named by `STATEKIT_CONTROL_TOKEN_FILE`, else none, which is allowed only
   * on a loopback address (and then every endpoint is open to local processes).
   */
  token?: string
  /**
   * The address to listen on. Anything but loopback needs a token.
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * The port; 0 picks a free one (see `url`).
   * @default 0
   */
  port?: number
  /**
   * What `/metrics` serves. Absent: a registry the server builds with
   * `statekit/metrics` for the backend and the coordinator (needs prom-client).
   * The server's request and auth-failure counters are added to either.
   */
  registry?: ControlMetricsRegistry
  /**
   * A path prefix for every endpoint, such as `'/statekit'`.
   * @default ''
   */
  basePath?: string
  /**
   * The prefix of the metrics the server registers.
   * @default 'statekit_'
   */
  metricsPrefix?: string
  /**
   * Milliseconds to receive a request, headers and body; a slower one gets 408 and
   * its connection is closed.
   * @default 10000
   */
  requestTimeout?: number
  /**
   * Milliseconds `close()` lets requests in flight run before it cuts their connections.
   * @default 10000
   */
  shutdownTimeout?: number
  /** Your own settings to show under `app` in `GET /config` (secrets redacted). */
  config?: Record<string, unknown>
  /**
   * Where `STATEKIT_CONTROL_TOKEN` and `STATEKIT_CONTROL_TOKEN_FILE` are read.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv
  /** Called after each response, for an access log. Holds no header, query or body. */
  onRequest?: (entry: ControlRequestLog) => void
}

/** One answered request, as `onRequest` receives it. */
export interface ControlRequestLog {
  /** The HTTP method. */
  method: string
  /** The path, without the query string. */
  path: string
  /** The endpoint matched, or `'unknown'`. */
  endpoint: string
  /** The status answered. */
  status: number
  /** Milliseconds from the request's arrival to the end of the response. */
  durationMs: number
  /** The client's address. */
  remoteAddress: string | undefined
}

/** A running control server. */
export interface ControlServer {
  /** The base URL, such as `http://127.0.0.1:41234` (with `basePath` if any). */
  readonly url: string
  /** The bound address and port. */
  address(): AddressInfo
  /**
   * Stops accepting connections, lets requests in flight finish (up to
   * `shutdownTimeout`), closes idle keep-alive connections and unregisters the
   * server's metrics. Never closes the backend or the coordinator. Idempotent.
   */
  close(): Promise<void>
  /** Requests answered and auth failures, by endpoint, status and reason. */
  stats(): ControlStats
}

type Handler = (body: Record<string, unknown> | undefined) => RouteResult | Promise<RouteResult>
interface Route {
  name: string
  open: boolean
  methods: Partial<Record<'GET' | 'POST', Handler>>
}

const CONTROL_OPTIONS = ['backend', 'coordinator', 'token', 'host', 'port', 'registry', 'basePath', 'metricsPrefix', 'requestTimeout', 'shutdownTimeout', 'config', 'env', 'onRequest'] as const

function validate(o: ControlServerOptions): void {
  if (o === null || typeof o !== 'object') throw invalidArg(`options must be an object, got ${describe(o)}`)
  checkOptions(o, CONTROL_OPTIONS, 'createControlServer')
  const b = o.backend as Partial<StateBackend> | null | undefined
  if (b === null || typeof b !== 'object' || typeof b.stats !== 'function' || typeof b.restore !== 'function') {
    throw invalidArg(`backend must be a statekit backend, got ${describe(o.backend)}`)
  }
  const c = o.coordinator as Partial<CheckpointCoordinator> | null | undefined
  if (c !== undefined && (c === null || typeof c !== 'object' || typeof c.createCheckpoint !== 'function' || typeof c.list !== 'function' || typeof c.restoreLatest !== 'function')) {
    throw invalidArg(`coordinator must be a CheckpointCoordinator, got ${describe(o.coordinator)}`)
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) throw invalidArg(`host must be a non-empty string, got ${describe(o.host)}`)
  if (o.port !== undefined && (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) {
    throw invalidArg(`port must be an integer from 0 to 65535, got ${describe(o.port)}`)
  }
  if (o.basePath !== undefined && (typeof o.basePath !== 'string' || !/^(\/[A-Za-z0-9._~-]+)*$/.test(o.basePath))) {
    throw invalidArg(`basePath must be '' or a path like '/statekit' (no trailing slash), got ${typeof o.basePath === 'string' ? JSON.stringify(o.basePath) : describe(o.basePath)}`)
  }
  if (o.metricsPrefix !== undefined && (typeof o.metricsPrefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(o.metricsPrefix))) {
    throw invalidArg(`metricsPrefix must be a Prometheus name prefix, got ${describe(o.metricsPrefix)}`)
  }
  for (const k of ['requestTimeout', 'shutdownTimeout'] as const) {
    const v = o[k]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < (k === 'requestTimeout' ? 1 : 0))) {
      throw invalidArg(`${k} must be a finite number of milliseconds${k === 'requestTimeout' ? ' >= 1' : ' >= 0'}, got ${describe(v)}`)
    }
  }
  const r = o.registry as Partial<ControlMetricsRegistry> | null | undefined
  if (r !== undefined && (r === null || typeof r !== 'object' || typeof r.metrics !== 'function')) {
    throw invalidArg(`registry must be a prom-client Registry, got ${describe(o.registry)}`)
  }
  if (o.config !== undefined && (o.config === null || typeof o.config !== 'object' || Array.isArray(o.config))) {
    throw invalidArg(`config must be an object, got ${describe(o.config)}`)
  }
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) throw invalidArg(`env must be an object, got ${describe(o.env)}`)
  if (o.onRequest !== undefined && typeof o.onRequest !== 'function') throw invalidArg(`onRequest must be a function, got ${describe(o.onRequest)}`)
}

class Server implements ControlServer {
  readonly #http: http.Server
  readonly #api: ControlApi
  readonly #metrics: ControlMetrics
  readonly #routes: Map<string, Route>
  readonly #digest: Buffer | null
  readonly #basePath: string
  readonly #requestTimeout: number
  readonly #shutdownTimeout: number
  readonly #onRequest: ControlServerOptions['onRequest']
  #closing: Promise<void> | undefined
  #url = ''

  constructor(opts: ControlServerOptions, digest: Buffer | null, source: TokenSource) {
    const host = opts.host ?? '127.0.0.1'
    this.#digest = digest
    this.#basePath = opts.basePath ?? ''
    this.#requestTimeout = opts.requestTimeout ?? 10_000
    this.#shutdownTimeout = opts.shutdownTimeout ?? 10_000
    this.#onRequest = opts.onRequest
    const coordinator = opts.coordinator as ControlCoordinator | undefined
    this.#metrics = new ControlMetrics(opts.registry, opts.metricsPrefix ?? 'statekit_', opts.backend, coordinator)
    const metricsSource = opts.registry ? 'given' : this.#metrics.registry ? 'built' : 'none'
    this.#api = new ControlApi({
      backend: opts.backend,
      coordinator,
      metrics: this.#metrics,
      tokenDigest: digest,
      appConfig: opts.config,
      control: () => ({
        url: this.#url,
        host,
        port: this.#http.listening ? (this.#http.address() as AddressInfo).port : (opts.port ?? 0),
        basePath: this.#basePath,
        auth: { required: digest !== null, scheme: 'Bearer', source },
        requestTimeoutMs: this.#requestTimeout,
        shutdownTimeoutMs: this.#shutdownTimeout,
        maxBodyBytes: MAX_BODY_BYTES,
        metrics: metricsSource,
      }),
    })
    const api = this.#api
    const routes: Route[] = [
      { name: 'livez', open: true, methods: { GET: () => api.livez() } },
      { name: 'readyz', open: true, methods: { GET: () => api.readyz() } },
      { name: 'status', open: false, methods: { GET: () => api.status() } },
      { name: 'metrics', open: false, methods: { GET: () => api.metrics() } },
      { name: 'checkpoints', open: false, methods: { GET: () => api.checkpoints() } },
      { name: 'checkpoint', open: false, methods: { POST: (b) => api.checkpoint(b) } },
      { name: 'restore', open: false, methods: { POST: (b) => api.restore(b) } },
      { name: 'release-lease', open: false, methods: { POST: () => api.releaseLease() } },
      { name: 'config', open: false, methods: { GET: () => api.config() } },
    ]
    this.#routes = new Map(routes.map((r) => [r.name === 'status' ? '/' : `/${r.name}`, r]))
    this.#http = http.createServer({
      // Node answers a request not received in time through 'clientError' below; the
      // body reader's own timer (the same length) usually answers first.
      requestTimeout: this.#requestTimeout + 1000,
      headersTimeout: this.#requestTimeout,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(this.#requestTimeout / 4))),
      keepAliveTimeout: 5000,
      maxHeaderSize: 16 * 1024,
    })
    this.#http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch(() => res.destroy())
    })
    this.#http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy()
        return
      }
      // A request being handled (its body still arriving) is answered by the body
      // reader's own timer, and its connection closes after that answer.
      if ((socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage) return
      const out =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? rawError(408, 'Request Timeout', 'ERR_CONTROL_TIMEOUT', `the request was not received within ${this.#requestTimeout} ms`)
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? rawError(431, 'Request Header Fields Too Large', 'ERR_CONTROL_BAD_REQUEST', 'the request headers are too large')
            : rawError(400, 'Bad Request', 'ERR_CONTROL_BAD_REQUEST', 'the request is not valid HTTP')
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.#metrics.count('unknown', 408)
      socket.end(out)
    })
  }

  get url(): string {
    return this.#url
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(new StateError(e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL' ? 'ERR_STATEKIT_IO' : 'ERR_STATEKIT_INTERNAL', `the control server cannot listen on ${host}:${port}: ${e.code ?? e.message}`, { cause: e }))
      }
      this.#http.once('error', onError)
      this.#http.listen(port, host, () => {
        this.#http.off('error', onError)
        resolve()
      })
    })
    const a = this.address()
    const h = a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]` : a.address
    this.#url = `http://${h}:${a.port}${this.#basePath}`
  }

  address(): AddressInfo {
    const a = this.#http.address()
    if (a === null || typeof a === 'string') throw new StateError('ERR_STATEKIT_CLOSED', 'the control server is not listening')
    return a
  }

  stats(): ControlStats {
    return this.#metrics.snapshot()
  }

  /** Releases what the server registered; called when it could not start. */
  dispose(): void {
    this.#api.detach()
    this.#metrics.unregister()
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#api.closing()
      const force = setTimeout(() => this.#http.closeAllConnections(), this.#shutdownTimeout)
      force.unref()
      this.#http.close(() => {
        clearTimeout(force)
        this.dispose()
        resolve()
      })
      this.#http.closeIdleConnections()
    })
    return this.#closing
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    let endpoint = 'unknown'
    let pathname = ''
    res.once('finish', () => {
      this.#metrics.count(endpoint, res.statusCode)
      if (this.#closing) this.#http.closeIdleConnections()
      if (this.#onRequest) {
        try {
          this.#onRequest({ method: req.method ?? '', path: pathname, endpoint, status: res.statusCode, durationMs: performance.now() - started, remoteAddress: req.socket.remoteAddress })
        } catch {
          // A failing access log never fails a request.
        }
      }
    })
    const send = (result: RouteResult): void => {
      if (this.#closing) res.shouldKeepAlive = false
      if ('json' in result) sendJson(res, result.status, result.json)
      else sendText(res, result.status, result.text, result.contentType)
    }
    const fail = (err: unknown): void => {
      if (this.#closing) res.shouldKeepAlive = false
      sendError(res, err)
    }
    try {
      const target = req.url ?? '/'
      if (target.startsWith('/')) {
        pathname = target.replace(/[?#].*$/s, '')
      } else {
        // The absolute form, `GET http://host/path HTTP/1.1`.
        try {
          pathname = new URL(target).pathname
        } catch {
          throw new HttpError(400, 'ERR_CONTROL_BAD_REQUEST', 'the request target is malformed')
        }
      }
      let rel: string | null = pathname
      if (this.#basePath) rel = pathname === this.#basePath ? '/' : pathname.startsWith(this.#basePath + '/') ? pathname.slice(this.#basePath.length) : null
      const route = rel === null ? undefined : this.#routes.get(rel)
      if (route) endpoint = route.name
      if (!route?.open && this.#digest !== null) {
        const failure: AuthFailure | null = checkAuthorization(req.headers.authorization, this.#digest)
        if (failure !== null) {
          this.#metrics.authFailures[failure]++
          const challenge = failure === 'invalid' ? 'Bearer realm="statekit", error="invalid_token"' : 'Bearer realm="statekit"'
          const message = failure === 'missing' ? 'an Authorization: Bearer token is required' : failure === 'scheme' ? 'the Authorization header must use the Bearer scheme' : failure === 'empty' ? 'the bearer token is empty' : 'the bearer token is wrong'
          throw new HttpError(401, 'ERR_CONTROL_UNAUTHORIZED', message, { 'www-authenticate': challenge })
        }
      }
      if (!route) throw new HttpError(404, 'ERR_CONTROL_NOT_FOUND', `no endpoint at ${pathname}`)
      const method = req.method === 'HEAD' ? 'GET' : req.method
      const handler = method === 'GET' || method === 'POST' ? route.methods[method] : undefined
      if (!handler) {
        const allow = Object.keys(route.methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ')
        throw new HttpError(405, 'ERR_CONTROL_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${pathname}; use ${allow}`, { allow })
      }
      let body: Record<string, unknown> | undefined
      if (method === 'POST') body = await readJsonBody(req, res, this.#requestTimeout)
      else req.resume()
      send(await handler(body))
    } catch (e) {
      fail(e)
    }
  }
}

/**
 * Starts a control server for a backend (and optionally its coordinator). Resolves
 * once it listens.
 *
 * Endpoints (JSON unless noted): `GET /livez`, `GET /readyz` (both without auth),
 * `GET /` (status), `GET /metrics` (Prometheus text), `GET /checkpoints`,
 * `POST /checkpoint` (`{ metadata? }`; 201), `POST /restore` (`{ id? }`),
 * `POST /release-lease`, `GET /config` (secrets redacted). Errors are
 * `{ error: { code, message } }`.
 *
 * Rejects with `ERR_STATEKIT_INVALID_ARG` for bad options, a bad token, or a
 * non-loopback `host` without a token; `ERR_STATEKIT_IO` if the address is taken.
 *
 * @example
 * ```ts
 * import { createControlServer } from 'statekit/control'
 * const control = await createControlServer({ backend: store, coordinator, token: process.env.ADMIN_TOKEN, port: 9464 })
 * // curl -H "Authorization: Bearer $ADMIN_TOKEN" http://127.0.0.1:9464/
 * checkpointOnSignals(coordinator, { servers: [control], close: [store] })
 * ```
 */
export async function createControlServer(options: ControlServerOptions): Promise<ControlServer> {
  validate(options)
  const host = options.host ?? '127.0.0.1'
  const { digest, source } = resolveToken(options.token, options.env ?? process.env)
  if (digest === null && !isLoopback(host)) {
    throw invalidArg(`the control server needs a token to listen on ${host}, which is not a loopback address: pass token, or set STATEKIT_CONTROL_TOKEN or STATEKIT_CONTROL_TOKEN_FILE`)
  }
  const server = new Server(options, digest, source)
  try {
    await server.listen(host, options.port ?? 0)
  } catch (e) {
    server.dispose()
    throw e
  }
  return server
}
