import { EventEmitter } from 'node:events'
import { promises as fsp } from 'node:fs'
import path from 'node:path'
import type { CheckpointInfo } from './checkpoint.js'
import { describe, invalidArg, StateError } from './errors.js'
import { MANIFEST, readManifest, retain, writeManifest, type ManifestEntry } from './manifest.js'
import { restoreLatestIn, type RestoreReport } from './recovery.js'
import type { StateBackend } from './types.js'

/** Options of {@link CheckpointCoordinator}. */
export interface CoordinatorOptions {
  /** The checkpoint directory; created if missing. */
  dir: string
  /** Milliseconds between periodic checkpoints once `start()` is called. */
  interval: number
  /** How many checkpoints to keep (default 10); older ones are deleted unless a kept incremental checkpoint needs them. */
  maxCheckpoints?: number
  /** zstd-compress checkpoints (default true); false writes them uncompressed. */
  compress?: boolean
  /** The least time between two checkpoints, in ms (default 0); `createCheckpoint` honours it unless forced. */
  minInterval?: number
  /** Take a full checkpoint every `fullEvery` checkpoints, incremental ones between (default 1: always full). */
  fullEvery?: number
  /** Called for every checkpoint; its result (such as source offsets) is stored in it. */
  metadata?: () => Record<string, unknown> | Promise<Record<string, unknown>>
}

/** Options of {@link CheckpointCoordinator.createCheckpoint}. */
export interface CreateCheckpointOptions {
  /** Take it even if `minInterval` has not passed since the last one. */
  force?: boolean
}

/** Counters of a coordinator. */
export interface CoordinatorStats {
  checkpointsCreated: number
  checkpointFailures: number
  lastCheckpointDurationMs: number | null
  /** ms since the epoch of the last good checkpoint. */
  lastCheckpointAt: number | null
  lastCheckpointBytes: number | null
  restores: number
  lastRestoreDurationMs: number | null
}

/** The events of a coordinator. */
export interface CoordinatorEvents {
  checkpoint: [info: CheckpointInfo]
  restore: [report: RestoreReport]
  error: [error: StateError]
}

function positive(name: string, v: unknown, integer: boolean, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw invalidArg(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${describe(v)}`)
  }
  return v
}

/**
 * Takes checkpoints of a backend into a directory: periodically, on demand, and a
 * final one at shutdown; keeps the newest `maxCheckpoints` (never breaking an
 * incremental chain); restores the newest that verifies. A manifest in the directory
 * is the commit point: a checkpoint counts once the manifest lists it, and files a
 * crash left behind are removed at start.
 *
 * Failures (a full disk, a removed or read-only directory) never throw from the
 * timer: they are counted, emitted as `'error'` (if anyone listens), and the next
 * interval tries again. Timers never keep the process alive.
 *
 * @example
 * ```ts
 * const coordinator = new CheckpointCoordinator(store, {
 *   dir: '/var/lib/app/checkpoints', interval: 300_000, maxCheckpoints: 24,
 *   metadata: () => ({ offsets: consumer.offsets() }),
 * })
 * const report = await coordinator.restoreLatest()   // resume from report.checkpoint?.metadata
 * coordinator.start()
 * process.once('SIGTERM', () => coordinator.shutdown().then(() => process.exit(0)))
 * ```
 */
export class CheckpointCoordinator extends EventEmitter<CoordinatorEvents> {
  readonly #backend: StateBackend
  readonly #dir: string
  readonly #interval: number
  readonly #max: number
  readonly #compress: boolean
  readonly #minInterval: number
  readonly #fullEvery: number
  readonly #metadata: CoordinatorOptions['metadata']
  #timer: NodeJS.Timeout | undefined
  #inflight: Promise<CheckpointInfo | null> | undefined
  #prepared: Promise<void> | undefined
  #sinceFull = Infinity
  #seq = 0
  #stopped = false
  readonly #stats: CoordinatorStats = {
    checkpointsCreated: 0,
    checkpointFailures: 0,
    lastCheckpointDurationMs: null,
    lastCheckpointAt: null,
    lastCheckpointBytes: null,
    restores: 0,
    lastRestoreDurationMs: null,
  }

  /**
   * @param backend - the backend to checkpoint
   * @param options - where and how often
   */
  constructor(backend: StateBackend, options: CoordinatorOptions) {
    super()
    if (backend === null || typeof backend !== 'object' || typeof backend.checkpoint !== 'function') {
      throw invalidArg(`backend must be a statekit backend, got ${describe(backend)}`)
    }
    if (options === null || typeof options !== 'object') throw invalidArg(`options must be an object, got ${describe(options)}`)
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalidArg(`dir must be a non-empty string, got ${describe(options.dir)}`)
    this.#backend = backend
    this.#dir = path.resolve(options.dir)
    this.#interval = positive('interval', options.interval, false, 1)
    this.#max = positive('maxCheckpoints', options.maxCheckpoints ?? 10, true, 1)
    if (options.compress !== undefined && typeof options.compress !== 'boolean') throw invalidArg(`compress must be a boolean, got ${describe(options.compress)}`)
    this.#compress = options.compress ?? true
    this.#minInterval = positive('minInterval', options.minInterval ?? 0, false, 0)
    this.#fullEvery = positive('fullEvery', options.fullEvery ?? 1, true, 1)
    if (options.metadata !== undefined && typeof options.metadata !== 'function') throw invalidArg(`metadata must be a function, got ${describe(options.metadata)}`)
    this.#metadata = options.metadata
  }

  /** The checkpoint directory (absolute). */
  get dir(): string {
    return this.#dir
  }

  /** Creates the directory and removes what a crash left behind: temp files, and checkpoint files the manifest does not list. */
  #prepare(): Promise<void> {
    this.#prepared ??= (async () => {
      try {
        await fsp.mkdir(this.#dir, { recursive: true })
        const manifest = await readManifest(this.#dir)
        const listed = new Set(manifest.checkpoints.map((c) => c.file))
        const hasManifest = await fsp.stat(path.join(this.#dir, MANIFEST)).then(() => true, () => false)
        for (const name of await fsp.readdir(this.#dir)) {
          const orphan = hasManifest && /^checkpoint-.*\.skc$/.test(name) && !listed.has(name)
          if (name.endsWith('.tmp') || orphan) await fsp.rm(path.join(this.#dir, name), { force: true })
        }
      } catch (e) {
        this.#prepared = undefined
        throw e instanceof StateError ? e : new StateError('ERR_STATEKIT_IO', `cannot prepare ${this.#dir}: ${(e as Error).message}`, { cause: e })
      }
    })()
    return this.#prepared
  }

  /** Starts periodic checkpoints every `interval` ms. The timer does not keep the process alive. */
  start(): void {
    if (this.#timer || this.#stopped) return
    this.#timer = setInterval(() => {
      this.createCheckpoint().catch(() => {
        // Counted and emitted by createCheckpoint; the next interval tries again.
      })
    }, this.#interval)
    this.#timer.unref()
  }

  /**
   * Takes a checkpoint now, with `metadata` merged over the `metadata` option's.
   * Resolves `null` without one when `minInterval` has not passed (unless forced).
   * While one runs, another call joins it instead of starting a second.
   */
  createCheckpoint(metadata?: Record<string, unknown>, opts?: CreateCheckpointOptions): Promise<CheckpointInfo | null> {
    if (this.#inflight) return this.#inflight
    const last = this.#stats.lastCheckpointAt
    if (!opts?.force && this.#minInterval > 0 && last !== null && Date.now() - last < this.#minInterval) {
      return Promise.resolve(null)
    }
    const run = this.#run(metadata).finally(() => {
      this.#inflight = undefined
    })
    this.#inflight = run
    return run
  }

  async #run(extra: Record<string, unknown> | undefined): Promise<CheckpointInfo> {
    try {
      await this.#prepare()
      const metadata = { ...(this.#metadata ? await this.#metadata() : {}), ...(extra ?? {}) }
      const incremental = this.#sinceFull < this.#fullEvery - 1
      const file = `checkpoint-${String(Date.now()).padStart(13, '0')}-${++this.#seq}.skc`
      const target = path.join(this.#dir, file)
      const compression = this.#compress ? 'zstd' : 'none'
      let info: CheckpointInfo
      try {
        info = await this.#backend.checkpoint(target, { compression, metadata, incremental })
      } catch (e) {
        // The backend has no base (a restart, a restore elsewhere): take a full one.
        if (!incremental || (e as StateError).code !== 'ERR_STATEKIT_INVALID_ARG') throw e
        info = await this.#backend.checkpoint(target, { compression, metadata })
      }
      try {
        await this.#commit(info, file)
      } catch (e) {
        await fsp.rm(target, { force: true }).catch(() => {})
        throw e
      }
      this.#sinceFull = info.kind === 'full' ? 0 : this.#sinceFull + 1
      Object.assign(this.#stats, {
        checkpointsCreated: this.#stats.checkpointsCreated + 1,
        lastCheckpointDurationMs: info.durationMs,
        lastCheckpointAt: info.createdAt,
        lastCheckpointBytes: info.bytes,
      })
      this.emit('checkpoint', info)
      return info
    } catch (e) {
      const err = e instanceof StateError ? e : new StateError('ERR_STATEKIT_IO', String((e as Error)?.message ?? e), { cause: e })
      this.#stats.checkpointFailures++
      if (this.listenerCount('error') > 0) this.emit('error', err)
      throw err
    }
  }

  /** Lists the checkpoint in the manifest, then applies retention. */
  async #commit(info: CheckpointInfo, file: string): Promise<void> {
    const manifest = await readManifest(this.#dir)
    const entry: ManifestEntry = { id: info.id, file, kind: info.kind, createdAt: info.createdAt, entries: info.entries, bytes: info.bytes, metadata: info.metadata }
    if (info.baseId !== undefined) entry.baseId = info.baseId
    // A directory without a manifest was indexed from its files, this one included.
    manifest.checkpoints = manifest.checkpoints.filter((c) => c.file !== file)
    manifest.checkpoints.push(entry)
    await writeManifest(this.#dir, manifest)
    await retain(this.#dir, manifest, this.#max)
  }

  /**
   * Restores the newest checkpoint that restores whole, falling back to older ones if
   * newer ones are damaged. Reports which it used, its metadata (the offsets to resume
   * from) and what it skipped and why.
   */
  async restoreLatest(): Promise<RestoreReport> {
    await this.#prepare()
    const started = performance.now()
    const report = await restoreLatestIn(this.#backend, this.#dir)
    if (report.restored) {
      this.#stats.restores++
      this.#stats.lastRestoreDurationMs = performance.now() - started
      this.#sinceFull = Infinity
    }
    this.emit('restore', report)
    return report
  }

  /** The committed checkpoints, newest first. */
  async list(): Promise<ManifestEntry[]> {
    await this.#prepare()
    return (await readManifest(this.#dir)).checkpoints.reverse()
  }

  /** The coordinator's counters. */
  stats(): CoordinatorStats {
    return { ...this.#stats }
  }

  /**
   * Stops the timer, waits for a checkpoint in flight, and takes a final one (even
   * within `minInterval`). Resolves with the final checkpoint; rejects if it failed.
   */
  async shutdown(): Promise<CheckpointInfo | null> {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#inflight) await this.#inflight.catch(() => {})
    return this.createCheckpoint(undefined, { force: true })
  }
}
