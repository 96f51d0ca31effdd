/**
 * The control server's own counters (requests and auth failures) and the registry
 * `/metrics` serves: the one passed in, or one built with `statekit/metrics` when
 * prom-client is installed.
 *
 * @packageDocumentation
 */
import type { AuthFailure } from './control-auth.js'
import type { CheckpointCoordinator } from './coordinator.js'
import { invalidArg } from './errors.js'
import { registerMetrics } from './metrics.js'
import type { StateBackend } from './types.js'

/**
 * What `/metrics` reads: a prom-client `Registry`, or anything with the same
 * `metrics()` and `contentType`. The control server's own counters are registered on
 * it only if it is a prom-client registry.
 */
export interface ControlMetricsRegistry {
  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string>
  /** The content type of that text. */
  readonly contentType: string
}

/** Counters of a control server, from `server.stats()`. */
export interface ControlStats {
  /** Requests answered, by endpoint (`unknown` for no endpoint) and status. */
  requests: Record<string, Record<string, number>>
  /** Requests refused for auth, by reason. */
  authFailures: Record<AuthFailure, number>
}

type PromClient = typeof import('prom-client')
type PromRegistry = import('prom-client').Registry

function loadPromClient(): PromClient | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient
  } catch {
    return null
  }
}

function isPromRegistry(r: unknown): r is PromRegistry {
  const x = r as Partial<PromRegistry> | null
  return x !== null && typeof x === 'object' && typeof x.registerMetric === 'function' && typeof x.getSingleMetric === 'function' && typeof x.removeSingleMetric === 'function'
}

/** @internal The counters, and the metrics that export them. */
export class ControlMetrics {
  readonly requests = new Map<string, Map<number, number>>()
  readonly authFailures: Record<AuthFailure, number> = { missing: 0, scheme: 0, empty: 0, invalid: 0 }
  /** The registry `/metrics` serves, or null when there is none. */
  readonly registry: ControlMetricsRegistry | null
  readonly #cleanup: Array<() => void> = []

  /**
   * Registers the counters on `given` (when it is a prom-client registry), or builds a
   * registry with statekit's metrics for `backend` and `coordinator` plus the counters.
   * Throws `ERR_STATEKIT_INVALID_ARG` if `given` already has a metric of that name.
   */
  constructor(given: ControlMetricsRegistry | undefined, prefix: string, backend: StateBackend, coordinator: CheckpointCoordinator | undefined) {
    const prom = loadPromClient()
    let registry: ControlMetricsRegistry | null = given ?? null
    if (!given && prom) {
      const built = new prom.Registry()
      const m = registerMetrics(built, { backend, ...(coordinator ? { coordinator } : {}), prefix })
      this.#cleanup.push(() => m.unregister())
      registry = built
    }
    this.registry = registry
    if (!prom || !isPromRegistry(registry)) return
    const names = [`${prefix}control_requests_total`, `${prefix}control_auth_failures_total`]
    for (const n of names) {
      if (registry.getSingleMetric(n)) {
        throw invalidArg(`the registry already has a metric named ${n} (another control server?); pass a different metricsPrefix`)
      }
    }
    const self = this
    new prom.Counter({
      name: names[0]!,
      help: 'Requests the control server answered, by endpoint and status.',
      labelNames: ['endpoint', 'status'],
      registers: [registry],
      collect() {
        this.reset()
        for (const [endpoint, byStatus] of self.requests) {
          for (const [status, n] of byStatus) this.inc({ endpoint, status: String(status) }, n)
        }
      },
    })
    new prom.Counter({
      name: names[1]!,
      help: 'Requests the control server refused for a missing, malformed or wrong token, by reason.',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset()
        for (const [reason, n] of Object.entries(self.authFailures)) this.inc({ reason }, n)
      },
    })
    const reg = registry
    this.#cleanup.push(() => {
      for (const n of names) reg.removeSingleMetric(n)
    })
  }

  /** Counts an answered request. */
  count(endpoint: string, status: number): void {
    let byStatus = this.requests.get(endpoint)
    if (!byStatus) this.requests.set(endpoint, (byStatus = new Map()))
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
  }

  /** A copy of the counters. */
  snapshot(): ControlStats {
    const requests: ControlStats['requests'] = {}
    for (const [endpoint, byStatus] of this.requests) requests[endpoint] = Object.fromEntries([...byStatus].map(([s, n]) => [String(s), n]))
    return { requests, authFailures: { ...this.authFailures } }
  }

  /** Removes what was registered. */
  unregister(): void {
    for (const f of this.#cleanup.splice(0)) f()
  }
}
