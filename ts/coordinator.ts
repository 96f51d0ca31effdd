import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { promises as fsp } from 'node:fs'
import { changeLogSegment } from './change-log.js'
import { verifyCheckpoint, type CheckpointInfo } from './checkpoint.js'
import { describe, invalidArg, StateError } from './errors.js'
import { checkOptions } from './options.js'
import { isLive, LeaseKeeper, leaseHeld, leaseOptions, readLease, type Lease, type LeaseOptions, type LeaseState } from './lease.js'
import { loadManifest, manifestLocation, retentionPlan, storeManifest, type Manifest, type ManifestEntry } from './manifest.js'
import { restoreLatestIn, type RestoreReport } from './recovery.js'
import { directoryStorage } from './storage/local.js'
import type { CheckpointStorage } from './storage/types.js'
import type { StateBackend } from './types.js'

/** Options of {@link CheckpointCoordinator}. */
export interface CoordinatorOptions {
  /** The checkpoint directory; created if missing. Shorthand for `storage: directoryStorage(dir)`; give `dir` or `storage`. */
  dir?: string
  /** Where checkpoints go: {@link directoryStorage}, or `s3Storage()` from `statekit/s3`. Give `dir` or `storage`. */
  storage?: CheckpointStorage
  /** Milliseconds between periodic checkpoints once `start()` is called. */
  interval: number
  /**
   * How many checkpoints to keep; older ones are deleted unless a kept incremental checkpoint needs them.
   * @default 10
   */
  maxCheckpoints?: number
  /**
   * Delete checkpoints older than this many ms (the newest is always kept, and so is every checkpoint a kept incremental one needs).
   * @default no age limit
   */
  maxAge?: number
  /**
   * zstd-compress checkpoints; false writes them uncompressed.
   * @default true
   */
  compress?: boolean
  /**
   * The least time between two checkpoints, in ms; `createCheckpoint` honours it unless forced.
   * @default 0
   */
  minInterval?: number
  /**
   * Take a full checkpoint every `fullEvery` checkpoints, incremental ones between (1: always full).
   * @default 1
   */
  fullEvery?: number
  /**
   * Called for every checkpoint; its result (such as source offsets) is stored in it.
   * A function that returns synchronously is called in the same tick as the cut is
   * taken, so the offsets match the captured state exactly; a returned Promise is
   * awaited first, and writes made while it is pending are in the checkpoint.
   */
  metadata?: () => Record<string, unknown> | Promise<Record<string, unknown>>
}

/** Options of {@link CheckpointCoordinator.createCheckpoint}. */
export interface CreateCheckpointOptions {
  /** Take it even if `minInterval` has not passed since the last one. */
  force?: boolean
}

/** Counters of a coordinator. */
export interface CoordinatorStats {
  /** Checkpoints committed (listed in the manifest) by this coordinator. */
  checkpointsCreated: number
  /** Checkpoints that failed (each also an `error` event). */
  checkpointFailures: number
  /** Milliseconds the last good checkpoint took, or `null` before the first. */
  lastCheckpointDurationMs: number | null
  /** ms since the epoch of the last good checkpoint. */
  lastCheckpointAt: number | null
  /** Bytes of the last good checkpoint's file, or `null` before the first. */
  lastCheckpointBytes: number | null
  /** Restores done by `restoreLatest()`. */
  restores: number
  /** Milliseconds the last restore took, or `null` before the first. */
  lastRestoreDurationMs: number | null
  /** The lease this coordinator holds or held, or `null` if it never took one. */
  lease: LeaseState | null
}

/** The events of a coordinator. */
export interface CoordinatorEvents {
  /** A checkpoint was committed. */
  checkpoint: [info: CheckpointInfo]
  /** `restoreLatest()` ended; the report says which checkpoint it restored, if any, and what it skipped. */
  restore: [report: RestoreReport]
  /** A checkpoint failed; counted in `checkpointFailures`, and the next interval tries again. */
  error: [error: StateError]
  /** A lease was taken (and the manifest marked with its fencing token). */
  'lease-acquired': [lease: LeaseState]
  /** The lease was extended by a background renewal. */
  'lease-renewed': [lease: LeaseState]
  /** The lease was lost (it expired before a renewal, or another owner took it over): manifest writes are fenced. */
  'lease-lost': [lease: LeaseState, reason: string]
  /** The lease was given up by `releaseLease()`, `Lease.release()` or `shutdown()`. */
  'lease-released': [lease: LeaseState]
}

/** The longest delay Node's timers keep: a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647

function positive(name: string, v: unknown, integer: boolean, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw invalidArg(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${describe(v)}`)
  }
  return v
}

/**
 * Takes checkpoints of a backend into a directory or object storage: periodically, on
 * demand, and a final one at shutdown; keeps the newest `maxCheckpoints` (and none
 * older than `maxAge`), never breaking an incremental chain; restores the newest that
 * verifies. A manifest beside the checkpoints is the commit point: a checkpoint counts
 * once the manifest lists it, and what a crash left behind is removed at start. Every
 * manifest write is conditional on the manifest being unchanged since it was read.
 *
 * One coordinator at a time may own a checkpoint set through {@link acquireLease}:
 * once its lease is lost (it expired, or another owner took it over) its manifest
 * writes fail with `ERR_STATEKIT_FENCED` and change nothing.
 *
 * Failures (a full disk, a removed or read-only directory, an unreachable bucket) never
 * throw from the timer: they are counted, emitted as `'error'` (if anyone listens), and
 * the next interval tries again. Timers never keep the process alive.
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
  readonly #storage: CheckpointStorage
  readonly #interval: number
  readonly #max: number
  readonly #maxAge: number | undefined
  readonly #compress: boolean
  readonly #minInterval: number
  readonly #fullEvery: number
  readonly #metadata: CoordinatorOptions['metadata']
  #timer: NodeJS.Timeout | undefined
  #inflight: Promise<CheckpointInfo | null> | undefined
  #prepared: Promise<void> | undefined
  #sinceFull = Infinity
  /** The id of the last checkpoint this coordinator committed: an incremental one's base. */
  #lastId: number | undefined
  #seq = 0
  #stopped = false
  /** The lease held (or lost: then writes are fenced until it is released). */
  #keeper: LeaseKeeper | undefined
  /** The last lease state, once the keeper is gone. */
  #lastLease: LeaseState | undefined
  readonly #stats: Omit<CoordinatorStats, 'lease'> = {
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
    checkOptions(options, ['dir', 'storage', 'interval', 'maxCheckpoints', 'maxAge', 'compress', 'minInterval', 'fullEvery', 'metadata'], 'CheckpointCoordinator')
    if (options.storage !== undefined && options.dir !== undefined) throw invalidArg('give dir or storage, not both')
    if (options.storage !== undefined) {
      const st = options.storage as Partial<CheckpointStorage> | null
      if (st === null || typeof st !== 'object' || typeof st.readDocument !== 'function' || typeof st.storeCheckpoint !== 'function') {
        throw invalidArg(`storage must be a checkpoint storage (directoryStorage() or s3Storage()), got ${describe(options.storage)}`)
      }
      this.#storage = options.storage
    } else {
      if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalidArg(`dir must be a non-empty string, got ${describe(options.dir)}`)
      this.#storage = directoryStorage(options.dir)
    }
    this.#backend = backend
    this.#interval = positive('interval', options.interval, false, 1)
    if (this.#interval > MAX_TIMER_MS) {
      throw invalidArg(`interval must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest timer Node keeps), got ${this.#interval}`)
    }
    this.#max = positive('maxCheckpoints', options.maxCheckpoints ?? 10, true, 1)
    this.#maxAge = options.maxAge === undefined ? undefined : positive('maxAge', options.maxAge, false, 1)
    if (options.compress !== undefined && typeof options.compress !== 'boolean') throw invalidArg(`compress must be a boolean, got ${describe(options.compress)}`)
    this.#compress = options.compress ?? true
    this.#minInterval = positive('minInterval', options.minInterval ?? 0, false, 0)
    this.#fullEvery = positive('fullEvery', options.fullEvery ?? 1, true, 1)
    if (options.metadata !== undefined && typeof options.metadata !== 'function') throw invalidArg(`metadata must be a function, got ${describe(options.metadata)}`)
    this.#metadata = options.metadata
  }

  /** The checkpoint directory (absolute), or the storage's location (`s3://bucket/prefix/`). */
  get dir(): string {
    return this.#storage.localDir ?? this.#storage.location
  }

  /** Where the checkpoints are. */
  get storage(): CheckpointStorage {
    return this.#storage
  }

  /**
   * Creates the directory and removes what a crash left behind: temp files, incomplete
   * uploads, and checkpoints the manifest does not list. Leaves them alone while another
   * owner holds the lease: they may be its checkpoint in progress.
   */
  #prepare(): Promise<void> {
    this.#prepared ??= (async () => {
      try {
        if (this.#storage.localDir !== undefined) await fsp.mkdir(this.#storage.localDir, { recursive: true })
        await this.#removeLeftovers()
      } catch (e) {
        this.#prepared = undefined
        throw e instanceof StateError ? e : new StateError('ERR_STATEKIT_IO', `cannot prepare ${this.#storage.location}: ${(e as Error).message}`, { cause: e })
      }
    })()
    return this.#prepared
  }

  async #removeLeftovers(): Promise<void> {
    if (!this.#keeper?.valid()) {
      const lease = await readLease(this.#storage)
      if (lease && isLive(lease.doc)) return
    }
    const { manifest, etag } = await loadManifest(this.#storage)
    // Without a manifest nothing is known to be an orphan: only temp files go.
    const listed = etag === null ? new Set((await this.#storage.listCheckpoints()).map((c) => c.name)) : new Set(manifest.checkpoints.map((c) => c.file))
    await this.#storage.removeLeftovers(listed)
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
   * Rejects with `ERR_STATEKIT_FENCED` (changing nothing) once this coordinator's
   * lease is lost, and `ERR_STATEKIT_LEASE_HELD` without a lease while another owner
   * holds one.
   */
  createCheckpoint(metadata?: Record<string, unknown>, opts?: CreateCheckpointOptions): Promise<CheckpointInfo | null> {
    if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
      return Promise.reject(invalidArg(`metadata must be a plain object, got ${describe(metadata)}`))
    }
    try {
      checkOptions(opts, ['force'], 'createCheckpoint')
    } catch (e) {
      return Promise.reject(e)
    }
    if (opts?.force !== undefined && typeof opts.force !== 'boolean') return Promise.reject(invalidArg(`force must be a boolean, got ${describe(opts.force)}`))
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

  /** Marks the lease lost (emitting `'lease-lost'` once) and returns the fencing error. */
  #lost(keeper: LeaseKeeper, why: string): StateError {
    keeper.markLost(why)
    return new StateError('ERR_STATEKIT_FENCED', `${manifestLocation(this.#storage)}: not written: the lease of ${JSON.stringify(keeper.owner)} was lost: ${why}`)
  }

  async #run(extra: Record<string, unknown> | undefined): Promise<CheckpointInfo> {
    let name: string | undefined
    let stored = false
    try {
      await this.#prepare()
      if (this.#keeper && !this.#keeper.valid()) throw this.#lost(this.#keeper, 'it expired before it was renewed')
      // An incremental checkpoint needs its base where a restore finds it: if the base is
      // no longer listed (the directory was removed or emptied, the manifest replaced),
      // a full one is taken instead, so no listed chain is ever broken.
      const incremental = this.#sinceFull < this.#fullEvery - 1 && (await this.#baseListed())
      name = `checkpoint-${String(Date.now()).padStart(13, '0')}-${++this.#seq}-${randomBytes(3).toString('hex')}.skc`
      const target = await this.#storage.stagingPath(name)
      const compression = this.#compress ? 'zstd' : 'none'
      // The metadata (the source offsets to resume from) is read in the same tick as the
      // cut is taken, so no write can land between the two. A metadata function that
      // returns a Promise is awaited first: writes made while it is pending are in the cut.
      const produced = this.#metadata ? this.#metadata() : {}
      const own = typeof (produced as PromiseLike<unknown>).then === 'function' ? await produced : produced
      const metadata = { ...own, ...(extra ?? {}) }
      let info: CheckpointInfo
      try {
        try {
          info = await this.#backend.checkpoint(target, { compression, metadata, incremental })
        } catch (e) {
          // The backend has no base (a restart, a restore elsewhere): take a full one.
          if (!incremental || (e as StateError).code !== 'ERR_STATEKIT_INVALID_ARG') throw e
          info = await this.#backend.checkpoint(target, { compression, metadata })
        }
      } catch (e) {
        if (this.#storage.localDir === undefined) await fsp.rm(target, { force: true }).catch(() => {})
        throw e
      }
      // From here the backend counts it as its latest: if it is not committed, the next one is full.
      const sinceFull = this.#sinceFull
      this.#sinceFull = Infinity
      try {
        // A file that leaves this machine is checked in full first: every block's checksum and the file's.
        if (this.#storage.localDir === undefined) {
          const v = await verifyCheckpoint(target)
          if (!v.ok) throw new StateError('ERR_STATEKIT_CORRUPT', `the checkpoint written for ${this.#storage.location}${name} does not verify, so it was not uploaded: ${v.error}`)
        }
        await this.#storage.storeCheckpoint(name, target)
        stored = true
      } finally {
        // A staging file is removed whether or not it was stored.
        if (this.#storage.localDir === undefined) await fsp.rm(target, { force: true }).catch(() => {})
      }
      await this.#commit(info, name)
      await this.#truncateChangeLog(info)
      this.#sinceFull = info.kind === 'full' ? 0 : sinceFull + 1
      this.#lastId = info.id
      Object.assign(this.#stats, {
        checkpointsCreated: this.#stats.checkpointsCreated + 1,
        lastCheckpointDurationMs: info.durationMs,
        lastCheckpointAt: info.createdAt,
        lastCheckpointBytes: info.bytes,
      })
      this.emit('checkpoint', info)
      return info
    } catch (e) {
      // A checkpoint written or uploaded but not listed is removed: it changes nothing.
      // (A manifest write whose answer was lost may have listed it: then it stays; and
      // if the manifest cannot be read now, the next start removes it if unlisted.)
      if (name !== undefined && (stored || this.#storage.localDir !== undefined)) {
        const file = name
        const listed = await loadManifest(this.#storage).then((m) => m.etag !== null && m.manifest.checkpoints.some((c) => c.file === file), () => true)
        if (!listed) await this.#storage.deleteCheckpoint(file).catch(() => {})
      }
      const err = e instanceof StateError ? e : new StateError('ERR_STATEKIT_IO', String((e as Error)?.message ?? e), { cause: e })
      this.#stats.checkpointFailures++
      if (this.listenerCount('error') > 0) this.emit('error', err)
      throw err
    }
  }

  /** Whether the last checkpoint committed, the next incremental one's base, is still listed. */
  async #baseListed(): Promise<boolean> {
    const id = this.#lastId
    if (id === undefined) return false
    const { manifest } = await loadManifest(this.#storage)
    return manifest.checkpoints.some((c) => c.id === id)
  }

  /**
   * Once a checkpoint is committed, deletes the change log segments it covers (a
   * memory backend with a `changeLog`). A failure is emitted as an `error` and leaves
   * the segments for the next checkpoint: the checkpoint itself stands.
   */
  async #truncateChangeLog(info: CheckpointInfo): Promise<void> {
    const segment = changeLogSegment(info.metadata)
    const backend = this.#backend as StateBackend & { truncateChangeLog?: (segment: number) => Promise<number> }
    if (segment === undefined || typeof backend.truncateChangeLog !== 'function') return
    try {
      await backend.truncateChangeLog(segment)
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e instanceof StateError ? e : new StateError('ERR_STATEKIT_IO', String(e), { cause: e }))
    }
  }

  /**
   * Checks that this writer may write the manifest: with a lease, that it is still held
   * and the manifest carries its token; without one, that no other owner holds one.
   */
  async #checkWriter(manifest: Manifest): Promise<void> {
    const keeper = this.#keeper
    if (keeper) {
      if (!keeper.valid()) throw this.#lost(keeper, 'it expired before it was renewed')
      if (manifest.writer?.token !== keeper.token) throw this.#lost(keeper, `it was taken over by ${JSON.stringify(manifest.writer?.owner ?? 'another owner')}`)
    } else if (manifest.writer) {
      const lease = await readLease(this.#storage)
      if (lease && isLive(lease.doc)) throw leaseHeld(this.#storage, lease.doc)
    }
  }

  /**
   * Lists the checkpoint in the manifest and applies retention, in one conditional
   * write; retries when another writer changed the manifest meanwhile (fencing is
   * checked again on each try). Then deletes what retention dropped.
   */
  async #commit(info: CheckpointInfo, file: string): Promise<void> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const { manifest, etag } = await loadManifest(this.#storage)
      await this.#checkWriter(manifest)
      const entry: ManifestEntry = { id: info.id, file, kind: info.kind, createdAt: info.createdAt, entries: info.entries, bytes: info.bytes, metadata: info.metadata }
      if (info.baseId !== undefined) entry.baseId = info.baseId
      // A directory without a manifest was indexed from its files, this one included.
      const all = manifest.checkpoints.filter((c) => c.file !== file)
      all.push(entry)
      const { kept, dropped } = retentionPlan(all, this.#maxAge === undefined ? { maxCheckpoints: this.#max } : { maxCheckpoints: this.#max, maxAge: this.#maxAge })
      const next: Manifest = { format: 1, checkpoints: kept }
      if (this.#keeper) next.writer = { owner: this.#keeper.owner, token: this.#keeper.token }
      else if (manifest.writer) next.writer = manifest.writer
      if ((await storeManifest(this.#storage, next, etag)) === null) continue
      // Committed; a file that cannot be deleted now is an orphan the next start removes.
      for (const c of dropped) await this.#storage.deleteCheckpoint(c.file).catch(() => {})
      return
    }
    throw new StateError('ERR_STATEKIT_BUSY', `${manifestLocation(this.#storage)} kept changing under this writer; not written`)
  }

  /**
   * Restores the newest checkpoint that restores whole, falling back to older ones if
   * newer ones are damaged. Reports which it used, its metadata (the offsets to resume
   * from) and what it skipped and why.
   */
  async restoreLatest(): Promise<RestoreReport> {
    await this.#prepare()
    const started = performance.now()
    const report = await restoreLatestIn(this.#backend, this.#storage)
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
    return (await loadManifest(this.#storage)).manifest.checkpoints.reverse()
  }

  /**
   * Takes the lease on this checkpoint set for `owner`, for `ttl` ms, renewed in the
   * background every `ttl / 3` (the timer never keeps the process alive). The lease is a
   * document beside the checkpoints, created with a conditional create (or a conditional
   * replace of an expired or released one); the manifest is then marked with the
   * lease's fencing token, so a former owner's writes are refused. Leftovers of an
   * interrupted writer are removed. Emits `'lease-acquired'`.
   *
   * Rejects with `ERR_STATEKIT_LEASE_HELD`, naming the holder and when its lease ends,
   * while another owner holds it. The same owner may take its own lease back (after a
   * restart); its old instance is then fenced. Resolves the held lease at once if this
   * coordinator already holds it for `owner`.
   */
  async acquireLease(options: LeaseOptions): Promise<Lease> {
    const opts = leaseOptions(options)
    if (this.#keeper?.valid()) {
      if (this.#keeper.owner !== opts.owner) throw invalidArg(`this coordinator already holds the lease as ${JSON.stringify(this.#keeper.owner)}`)
      return this.#handle(this.#keeper)
    }
    // A lease that ran out unnoticed is declared lost before a new one is taken.
    this.#keeper?.markLost('it expired before it was renewed')
    const keeper = new LeaseKeeper(this.#storage, opts, {
      renewed: (state) => this.emit('lease-renewed', state),
      lost: (state, reason) => this.emit('lease-lost', state, reason),
    })
    await keeper.acquire()
    try {
      await this.#markWriter(keeper)
    } catch (e) {
      await keeper.release().catch(() => {})
      throw e
    }
    this.#keeper = keeper
    this.#lastLease = undefined
    // The set may have changed since this backend's last checkpoint: the next one is full.
    this.#sinceFull = Infinity
    // As the sole writer now, clean up; but not under a checkpoint of ours in flight.
    if (this.#inflight) await this.#inflight.catch(() => {})
    this.#prepared = undefined
    await this.#prepare().catch((e: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', e as StateError)
    })
    this.emit('lease-acquired', keeper.state)
    return this.#handle(keeper)
  }

  /** Writes the new owner's fencing token into the manifest (retrying on a concurrent change). */
  async #markWriter(keeper: LeaseKeeper): Promise<void> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const { manifest, etag } = await loadManifest(this.#storage)
      if (!keeper.valid()) throw new StateError('ERR_STATEKIT_LEASE_HELD', `${this.#storage.location}: the lease expired while it was being taken`)
      if ((await storeManifest(this.#storage, { ...manifest, writer: { owner: keeper.owner, token: keeper.token } }, etag)) !== null) return
    }
    throw new StateError('ERR_STATEKIT_BUSY', `${manifestLocation(this.#storage)} kept changing while the lease was taken`)
  }

  #handle(keeper: LeaseKeeper): Lease {
    return {
      owner: keeper.owner,
      get expiresAt() {
        return keeper.state.expiresAt
      },
      release: async () => {
        if (this.#keeper === keeper) await this.releaseLease()
      },
    }
  }

  /**
   * Gives up the lease, so another owner can take it at once, and stops renewing it.
   * Resolves false when none is held (never taken, already released, or lost). Emits
   * `'lease-released'`. Without a lease, this coordinator's writes are refused with
   * `ERR_STATEKIT_LEASE_HELD` while another owner holds one.
   */
  async releaseLease(): Promise<boolean> {
    const keeper = this.#keeper
    if (!keeper) return false
    this.#keeper = undefined
    const held = await keeper.release()
    this.#lastLease = keeper.state
    if (held) this.emit('lease-released', keeper.state)
    return held
  }

  /** The lease this coordinator holds or held last, or `undefined` if it never took one. */
  get lease(): LeaseState | undefined {
    return this.#keeper?.state ?? this.#lastLease
  }

  /** The coordinator's counters. */
  stats(): CoordinatorStats {
    return { ...this.#stats, lease: this.lease ?? null }
  }

  /**
   * Stops the timer, waits for a checkpoint in flight, takes a final one (even within
   * `minInterval`), and gives up the lease if one is held. Resolves with the final
   * checkpoint; rejects if it failed (the lease is released all the same).
   */
  async shutdown(): Promise<CheckpointInfo | null> {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#inflight) await this.#inflight.catch(() => {})
    try {
      return await this.createCheckpoint(undefined, { force: true })
    } finally {
      if (this.#keeper) await this.releaseLease().catch(() => false)
    }
  }
}
