/**
 * The endpoints of the control server and what each does with the backend and the
 * coordinator. The HTTP side (auth, methods, bodies, timeouts) is in `control.ts`.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { CheckpointInfo } from './checkpoint.js'
import { redact, describeCoordinator } from './control-config.js'
import { HttpError } from './control-http.js'
import type { ControlMetrics } from './control-metrics.js'
import type { CheckpointCoordinator, CoordinatorStats } from './coordinator.js'
import { describe, invalidArg, StateError } from './errors.js'
import type { ManifestEntry } from './manifest.js'
import { MemoryBackend } from './memory-backend.js'
import type { RestoreReport } from './recovery.js'
import { SledBackend } from './sled-backend.js'
import type { BackendStats, StateBackend } from './types.js'

/** A lease on a checkpoint prefix, as a coordinator with lease support reports it. */
export interface LeaseInfo {
  /** Who holds (or held) it. */
  owner: string
  /** When it runs out unless renewed, ms since the epoch. */
  expiresAt: number
  /** Whether this coordinator holds it now. */
  held: boolean
}

/**
 * The lease members the control server uses when a coordinator has them (checked at
 * run time, so a coordinator without lease support works too): `lease` says which
 * lease is held, `releaseLease()` gives it up and resolves `false` when none was held.
 */
export interface LeaseSupport {
  /** The lease, or `undefined` when none was taken. */
  readonly lease?: LeaseInfo | undefined
  /** Gives up the lease; resolves whether one was held. */
  releaseLease?: () => Promise<boolean>
}

/** A coordinator as the control server sees it: the class, maybe with lease support. */
export type ControlCoordinator = CheckpointCoordinator & LeaseSupport

/** The storage tier of a backend, as `GET /` and `GET /config` report it. */
export type Tier = 'memory' | 'sled' | 'custom'

/** The answer of a route: JSON, or text with its content type. */
export type RouteResult = { status: number; json: unknown } | { status: number; text: string; contentType: string }

/** What `GET /` answers. */
export interface ControlStatus {
  /** statekit's version. */
  version: string
  /** The process id. */
  pid: number
  /** Seconds the process and the control server have been up. */
  uptime: { process: number; server: number }
  /** Which tier the backend is. */
  tier: Tier
  /** Whether the backend was closed. */
  closed: boolean
  /** Entries held (including expired ones not swept yet); null when closed. */
  entries: number | null
  /** `stats().memoryBytes`; null when closed. */
  memoryBytes: number | null
  /** Bytes on disk: the sled tier's store, else null. */
  diskBytes: number | null
  /** The backend's counters; null when closed. */
  backend: BackendStats | null
  /** The coordinator's counters; null without one. */
  coordinator: CoordinatorStats | null
  /** The newest committed checkpoint; null when there is none (or no coordinator). */
  lastCheckpoint: ManifestEntry | null
  /** Bytes of every committed checkpoint file; null without a coordinator. */
  checkpointBytes: number | null
  /** The lease; null when leases are not used. */
  lease: LeaseInfo | null
  /** Whether a restore through this server is running. */
  restoring: boolean
}

let version: string | undefined
function statekitVersion(): string {
  if (version === undefined) {
    try {
      version = (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version
    } catch {
      version = 'unknown'
    }
  }
  return version
}

/** @internal The tier of a backend. */
export function tierOf(backend: StateBackend): Tier {
  if (backend instanceof SledBackend) return 'sled'
  if (backend instanceof MemoryBackend) return 'memory'
  return 'custom'
}

function onlyKeys(body: Record<string, unknown> | undefined, allowed: string[]): void {
  if (!body) return
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw invalidArg(`unknown field '${k}' in the request body; allowed: ${allowed.join(', ') || 'none'}`)
  }
}

const RESTORE_BUSY_WAIT_MS = 30_000

/** @internal The endpoints' logic, with the state they share. */
export class ControlApi {
  readonly #backend: StateBackend
  readonly #coordinator: ControlCoordinator | undefined
  readonly #metrics: ControlMetrics
  readonly #tokenDigest: Buffer | null
  readonly #control: () => Record<string, unknown>
  readonly #appConfig: Record<string, unknown> | undefined
  readonly #startedAt = Date.now()
  #restoring = false
  #leaseSeen = false
  #closing = false
  #list: Promise<ManifestEntry[]> | undefined
  readonly #onCheckpoint = (): void => {
    this.#list = undefined
  }

  constructor(opts: {
    backend: StateBackend
    coordinator: ControlCoordinator | undefined
    metrics: ControlMetrics
    tokenDigest: Buffer | null
    control: () => Record<string, unknown>
    appConfig: Record<string, unknown> | undefined
  }) {
    this.#backend = opts.backend
    this.#coordinator = opts.coordinator
    this.#metrics = opts.metrics
    this.#tokenDigest = opts.tokenDigest
    this.#control = opts.control
    this.#appConfig = opts.appConfig
    this.#coordinator?.on('checkpoint', this.#onCheckpoint)
  }

  /** Marks the server as closing (readiness fails from now on). */
  closing(): void {
    this.#closing = true
  }

  /** Stops listening to the coordinator. */
  detach(): void {
    this.#coordinator?.off('checkpoint', this.#onCheckpoint)
  }

  #needCoordinator(): ControlCoordinator {
    if (!this.#coordinator) throw new HttpError(501, 'ERR_CONTROL_NO_COORDINATOR', 'this control server has no checkpoint coordinator')
    return this.#coordinator
  }

  #closed(): boolean {
    const closed = (this.#backend as { closed?: unknown }).closed
    if (typeof closed === 'boolean') return closed
    try {
      this.#backend.stats()
      return false
    } catch (e) {
      return (e as StateError).code === 'ERR_STATEKIT_CLOSED'
    }
  }

  #lease(): LeaseInfo | undefined {
    const c = this.#coordinator
    if (!c) return undefined
    let l: unknown
    try {
      l = c.lease
    } catch {
      return undefined
    }
    if (l === null || typeof l !== 'object') return undefined
    this.#leaseSeen = true
    const x = l as Partial<LeaseInfo>
    return { owner: String(x.owner), expiresAt: Number(x.expiresAt), held: x.held === true }
  }

  /** The committed checkpoints, newest first, read again after each checkpoint. */
  #checkpoints(): Promise<ManifestEntry[]> {
    const c = this.#needCoordinator()
    if (!this.#list) {
      const p = c.list()
      this.#list = p
      p.catch(() => {
        if (this.#list === p) this.#list = undefined
      })
    }
    return this.#list
  }

  /** `GET /livez` */
  livez(): RouteResult {
    return { status: 200, json: { live: true } }
  }

  /** `GET /readyz` */
  readyz(): RouteResult {
    const reasons: string[] = []
    if (this.#closing) reasons.push('the control server is shutting down')
    if (this.#closed()) reasons.push('the store is closed')
    if (this.#restoring) reasons.push('a restore is running')
    const lease = this.#lease()
    if (this.#leaseSeen && (!lease || !lease.held || lease.expiresAt <= Date.now())) reasons.push('the lease is not held')
    if (reasons.length > 0) {
      return { status: 503, json: { error: { code: 'ERR_CONTROL_NOT_READY', message: `not ready: ${reasons.join('; ')}` } } }
    }
    return { status: 200, json: { ready: true } }
  }

  /** `GET /` */
  async status(): Promise<RouteResult> {
    const closed = this.#closed()
    let stats: BackendStats | null = null
    if (!closed) {
      try {
        stats = this.#backend.stats()
      } catch {
        stats = null
      }
    }
    const c = this.#coordinator
    let list: ManifestEntry[] | null = null
    if (c) list = await this.#checkpoints().catch(() => null)
    const body: ControlStatus = {
      version: statekitVersion(),
      pid: process.pid,
      uptime: { process: process.uptime(), server: (Date.now() - this.#startedAt) / 1000 },
      tier: tierOf(this.#backend),
      closed,
      entries: stats?.entryCount ?? null,
      memoryBytes: stats?.memoryBytes ?? null,
      diskBytes: stats?.diskBytes ?? null,
      backend: stats,
      coordinator: c ? c.stats() : null,
      lastCheckpoint: list?.[0] ?? null,
      checkpointBytes: list ? list.reduce((n, e) => n + e.bytes, 0) : null,
      lease: this.#lease() ?? null,
      restoring: this.#restoring,
    }
    return { status: 200, json: body }
  }

  /** `GET /metrics` */
  async metrics(): Promise<RouteResult> {
    const r = this.#metrics.registry
    if (!r) {
      throw new HttpError(501, 'ERR_CONTROL_METRICS_UNAVAILABLE', 'no metrics registry: pass one as `registry`, or install prom-client')
    }
    return { status: 200, text: await r.metrics(), contentType: r.contentType }
  }

  /** `GET /checkpoints` */
  async checkpoints(): Promise<RouteResult> {
    const c = this.#needCoordinator()
    return { status: 200, json: { checkpoints: await c.list() } }
  }

  /** `POST /checkpoint` with an optional `{ metadata }`: overlapping calls share one. */
  async checkpoint(body: Record<string, unknown> | undefined): Promise<RouteResult> {
    const c = this.#needCoordinator()
    onlyKeys(body, ['metadata'])
    const metadata = body?.metadata
    if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
      throw invalidArg(`metadata must be a JSON object, got ${describe(metadata)}`)
    }
    if (this.#restoring) throw new StateError('ERR_STATEKIT_BUSY', 'a restore is running; take the checkpoint when it is done')
    const info: CheckpointInfo | null = await c.createCheckpoint(metadata as Record<string, unknown> | undefined, { force: true })
    if (!info) throw new StateError('ERR_STATEKIT_BUSY', 'the coordinator took no checkpoint')
    return { status: 201, json: info }
  }

  /**
   * `POST /restore` with an optional `{ id }`: that checkpoint, or the newest that
   * restores whole. One restore at a time (another gets 409); a checkpoint in flight
   * is waited for.
   */
  async restore(body: Record<string, unknown> | undefined): Promise<RouteResult> {
    const c = this.#needCoordinator()
    onlyKeys(body, ['id'])
    const id = body?.id
    if (id !== undefined && (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0)) {
      throw invalidArg(`id must be a checkpoint id (a positive integer), got ${describe(id)}`)
    }
    if (this.#restoring) throw new StateError('ERR_STATEKIT_BUSY', 'a restore is already running')
    this.#restoring = true
    try {
      const report = await this.#waitBusy(() => (id === undefined ? c.restoreLatest() : this.#restoreId(c, id)))
      this.#list = undefined
      if (!report.restored) {
        const why = report.skipped.length > 0 ? `${report.skipped.length} checkpoint(s) skipped as damaged: ${report.skipped.map((s) => s.reason).join('; ')}` : 'there are no checkpoints'
        throw new HttpError(409, 'ERR_CONTROL_NO_CHECKPOINT', `nothing restored: ${why}`)
      }
      return { status: 200, json: report }
    } finally {
      this.#restoring = false
    }
  }

  async #restoreId(c: ControlCoordinator, id: number): Promise<RestoreReport> {
    const entry = (await c.list()).find((e) => e.id === id)
    if (!entry) throw new HttpError(404, 'ERR_CONTROL_NOT_FOUND', `no committed checkpoint has id ${id}`)
    const dir = (c as { dir?: unknown }).dir
    if (typeof dir !== 'string') throw invalidArg('this coordinator cannot restore a chosen checkpoint; leave out id to restore the latest')
    const file = path.join(dir, entry.file)
    const info = await this.#backend.restore(file)
    return { restored: true, checkpoint: { id: entry.id, file, metadata: info.metadata }, info, skipped: [] }
  }

  /** Runs `fn`, trying again while the backend is busy with a checkpoint, up to 30 s. */
  async #waitBusy<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + RESTORE_BUSY_WAIT_MS
    for (;;) {
      try {
        return await fn()
      } catch (e) {
        if ((e as StateError).code !== 'ERR_STATEKIT_BUSY' || Date.now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 20))
      }
    }
  }

  /** `POST /release-lease`: 200, or 409 when no lease is held. */
  async releaseLease(): Promise<RouteResult> {
    const c = this.#coordinator
    if (!c || typeof c.releaseLease !== 'function') {
      throw new HttpError(409, 'ERR_CONTROL_NO_LEASE', c ? 'this coordinator has no lease support' : 'this control server has no coordinator, so no lease')
    }
    const before = this.#lease()
    const released = await c.releaseLease()
    if (!released) throw new HttpError(409, 'ERR_CONTROL_NO_LEASE', 'no lease is held')
    // Only a lease actually given up makes readiness follow leases (a coordinator that never took one stays ready).
    this.#leaseSeen = true
    return { status: 200, json: { released: true, owner: before?.owner ?? null } }
  }

  /** `GET /config` */
  config(): RouteResult {
    const b = this.#backend as { options?: unknown }
    const backend: Record<string, unknown> = { tier: tierOf(this.#backend), closed: this.#closed() }
    let options: unknown
    try {
      options = b.options
    } catch {
      options = undefined
    }
    if (options !== null && typeof options === 'object') backend.options = redact(options, this.#tokenDigest)
    return {
      status: 200,
      json: {
        backend,
        coordinator: this.#coordinator ? describeCoordinator(this.#coordinator, this.#tokenDigest) : null,
        control: redact(this.#control(), this.#tokenDigest),
        app: this.#appConfig === undefined ? null : redact(this.#appConfig, this.#tokenDigest),
      },
    }
  }
}
