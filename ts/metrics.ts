/**
 * Prometheus metrics for statekit, on a prom-client `Registry` you pass. prom-client
 * is an optional peer dependency: install it to use this entry point
 * (`statekit/metrics`). Nothing is registered on the global registry, and default
 * metrics are never collected.
 *
 * @packageDocumentation
 */
import type { Registry } from 'prom-client'
import type { CheckpointInfo } from './checkpoint.js'
import type { CheckpointCoordinator } from './coordinator.js'
import { describe, invalidArg, StateError } from './errors.js'
import { checkOptions } from './options.js'
import type { BackendStats } from './types.js'

/** What to export. */
export interface MetricsOptions {
  /** A backend: operation counters and sizes from its `stats()`. */
  backend?: { stats(): BackendStats }
  /** A coordinator: checkpoint counts, durations and sizes. */
  coordinator?: CheckpointCoordinator
  /**
   * Metric name prefix.
   * @default 'statekit_'
   */
  prefix?: string
}

/** Handle of registered metrics. */
export interface RegisteredMetrics {
  /** Removes the metrics from the registry and stops listening to the coordinator. */
  unregister(): void
}

type PromClient = typeof import('prom-client')

/** The metrics registered for a backend and for a coordinator, without the prefix. */
const BACKEND_METRICS = ['operations_total', 'hits_total', 'misses_total', 'expired_total', 'entries', 'memory_bytes', 'disk_bytes'] as const
const COORDINATOR_METRICS = ['checkpoints_total', 'last_checkpoint_timestamp_seconds', 'checkpoint_duration_seconds', 'checkpoint_size_bytes'] as const

function promClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient
  } catch (e) {
    throw new Error('statekit/metrics needs the prom-client package: npm install prom-client', { cause: e })
  }
}

/**
 * Registers statekit's metrics on `registry`:
 *
 * - counters: `<prefix>operations_total{op,result}` (get hit/miss, put ok, delete ok),
 *   `<prefix>hits_total`, `<prefix>misses_total`, `<prefix>expired_total`,
 *   `<prefix>checkpoints_total{result}` (success, failure);
 * - gauges: `<prefix>entries`, `<prefix>memory_bytes`, `<prefix>disk_bytes`,
 *   `<prefix>last_checkpoint_timestamp_seconds` (of the last good checkpoint);
 * - histograms: `<prefix>checkpoint_duration_seconds`, `<prefix>checkpoint_size_bytes`.
 *
 * Registering twice on one registry (with the same prefix) throws a `StateError`
 * (`ERR_STATEKIT_INVALID_ARG`) saying the metrics are already registered, and
 * registers nothing; call `unregister()` on the first result first, or use another
 * `prefix`. Unknown option keys are refused the same way.
 *
 * Counters and gauges are read from `stats()` at scrape time; histograms observe each
 * checkpoint the coordinator takes after registration.
 */
export function registerMetrics(registry: Registry, opts: MetricsOptions): RegisteredMetrics {
  if (registry === null || typeof registry !== 'object' || typeof (registry as Partial<Registry>).getSingleMetric !== 'function') {
    throw invalidArg(`registry must be a prom-client Registry, got ${describe(registry)}`)
  }
  if (opts === undefined) throw invalidArg('registerMetrics needs options: { backend?, coordinator?, prefix? }')
  checkOptions(opts, ['backend', 'coordinator', 'prefix'], 'registerMetrics')
  if (opts.prefix !== undefined && (typeof opts.prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(opts.prefix))) {
    throw invalidArg(`prefix must be a Prometheus name prefix, got ${describe(opts.prefix)}`)
  }
  const p = opts.prefix ?? 'statekit_'
  const { backend, coordinator } = opts
  // A second registration on the same registry is refused before anything is
  // registered, so the first one stays whole.
  const planned = [...(backend ? BACKEND_METRICS : []), ...(coordinator ? COORDINATOR_METRICS : [])].map((n) => `${p}${n}`)
  const taken = planned.filter((n) => registry.getSingleMetric(n) !== undefined)
  if (taken.length > 0) {
    throw new StateError(
      'ERR_STATEKIT_INVALID_ARG',
      `statekit's metrics are already registered on this registry (${taken.join(', ')}): call unregister() on the first registerMetrics() result, or give another prefix`,
    )
  }
  const prom = promClient()
  const names: string[] = []
  const reg = { registers: [registry] }
  const track = <T,>(name: string, m: T): T => {
    names.push(name)
    return m
  }
  if (backend) {
    track(`${p}operations_total`, new prom.Counter({
      name: `${p}operations_total`,
      help: 'Operations on the backend, by operation and result.',
      labelNames: ['op', 'result'],
      ...reg,
      collect() {
        const s = backend.stats()
        this.reset()
        this.inc({ op: 'get', result: 'hit' }, s.hitCount)
        this.inc({ op: 'get', result: 'miss' }, s.missCount)
        this.inc({ op: 'put', result: 'ok' }, s.putCount)
        this.inc({ op: 'delete', result: 'ok' }, s.deleteCount)
      },
    }))
    const counter = (name: string, help: string, read: (s: BackendStats) => number): void => {
      track(`${p}${name}`, new prom.Counter({
        name: `${p}${name}`,
        help,
        ...reg,
        collect() {
          this.reset()
          this.inc(read(backend.stats()))
        },
      }))
    }
    counter('hits_total', 'Reads that found a live value.', (s) => s.hitCount)
    counter('misses_total', 'Reads that found nothing.', (s) => s.missCount)
    counter('expired_total', 'Expired entries removed.', (s) => s.expiredCount)
    const gauge = (name: string, help: string, read: (s: BackendStats) => number | undefined): void => {
      track(`${p}${name}`, new prom.Gauge({
        name: `${p}${name}`,
        help,
        ...reg,
        collect() {
          const v = read(backend.stats())
          if (v !== undefined) this.set(v)
        },
      }))
    }
    gauge('entries', 'Entries held.', (s) => s.entryCount)
    gauge('memory_bytes', 'Bytes of keys and values (plus per-entry overhead in memory).', (s) => s.memoryBytes)
    gauge('disk_bytes', 'Bytes on disk (sled tier).', (s) => s.diskBytes ?? 0)
  }
  let detach = (): void => {}
  if (coordinator) {
    track(`${p}checkpoints_total`, new prom.Counter({
      name: `${p}checkpoints_total`,
      help: 'Checkpoints taken, by result.',
      labelNames: ['result'],
      ...reg,
      collect() {
        const s = coordinator.stats()
        this.reset()
        this.inc({ result: 'success' }, s.checkpointsCreated)
        this.inc({ result: 'failure' }, s.checkpointFailures)
      },
    }))
    track(`${p}last_checkpoint_timestamp_seconds`, new prom.Gauge({
      name: `${p}last_checkpoint_timestamp_seconds`,
      help: 'When the last good checkpoint was taken, in seconds since the epoch.',
      ...reg,
      collect() {
        const at = coordinator.stats().lastCheckpointAt
        if (at !== null) this.set(at / 1000)
      },
    }))
    const duration = track(`${p}checkpoint_duration_seconds`, new prom.Histogram({
      name: `${p}checkpoint_duration_seconds`,
      help: 'Time to take a checkpoint.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      ...reg,
    }))
    const size = track(`${p}checkpoint_size_bytes`, new prom.Histogram({
      name: `${p}checkpoint_size_bytes`,
      help: 'Size of each checkpoint file.',
      buckets: prom.exponentialBuckets(1024, 4, 12),
      ...reg,
    }))
    const onCheckpoint = (info: CheckpointInfo): void => {
      duration.observe(info.durationMs / 1000)
      size.observe(info.bytes)
    }
    coordinator.on('checkpoint', onCheckpoint)
    detach = () => coordinator.off('checkpoint', onCheckpoint)
  }
  return {
    unregister() {
      detach()
      for (const n of names) registry.removeSingleMetric(n)
    },
  }
}
