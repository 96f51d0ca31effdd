import { randomBytes } from 'node:crypto'
import { describe, invalidArg, StateError } from './errors.js'
import { checkOptions } from './options.js'
import type { CheckpointStorage } from './storage/types.js'

/** The name of the lease document beside the checkpoints. */
export const LEASE = 'lease.json'

/** Options of `acquireLease()`. */
export interface LeaseOptions {
  /** Who takes the lease: unique per running instance, such as `host-a:4123`. Reported to others. */
  owner: string
  /** How long the lease lasts without renewal, in ms (at least 100). It renews itself every `ttl / 3`. */
  ttl: number
}

/** A held lease on a checkpoint set. */
export interface Lease {
  /** Who holds it. */
  readonly owner: string
  /** When it ends unless renewed, ms since the epoch (updated by each renewal). */
  readonly expiresAt: number
  /** Gives the lease up, so another owner can take it at once. Idempotent. */
  release(): Promise<void>
}

/** The lease state a coordinator reports. */
export interface LeaseState {
  owner: string
  /** When it ends (or ended) unless renewed, ms since the epoch. */
  expiresAt: number
  /** Whether it is held now: false once released, expired or taken over. */
  held: boolean
}

/** @internal The lease document. */
export interface LeaseDocument {
  format: 1
  owner: string
  /** Random per acquisition: the fencing token the manifest's writer must carry. */
  token: string
  expiresAt: number
  acquiredAt: number
  ttl: number
  released?: boolean
}

/** @internal Reads the lease document, or null (an unreadable one counts as none). */
export async function readLease(storage: CheckpointStorage): Promise<{ doc: LeaseDocument; etag: string } | null> {
  const d = await storage.readDocument(LEASE)
  if (!d) return null
  try {
    const doc = JSON.parse(d.text) as LeaseDocument
    if (doc === null || typeof doc !== 'object' || typeof doc.owner !== 'string' || typeof doc.expiresAt !== 'number' || typeof doc.token !== 'string') throw new Error('bad lease')
    return { doc, etag: d.etag }
  } catch {
    return { doc: { format: 1, owner: '(unreadable)', token: '', expiresAt: 0, acquiredAt: 0, ttl: 0 }, etag: d.etag }
  }
}

/** @internal Whether a lease document is held now. */
export const isLive = (doc: LeaseDocument, now = Date.now()): boolean => !doc.released && doc.expiresAt > now

/** @internal A "held by another" error naming the holder and when the lease ends. */
export function leaseHeld(storage: CheckpointStorage, doc: LeaseDocument): StateError {
  return new StateError('ERR_STATEKIT_LEASE_HELD', `${storage.location}: the lease is held by ${JSON.stringify(doc.owner)} until ${new Date(doc.expiresAt).toISOString()}`)
}

/** @internal Validates lease options. */
export function leaseOptions(o: unknown): LeaseOptions {
  if (o === null || typeof o !== 'object') throw invalidArg(`lease options must be an object, got ${describe(o)}`)
  checkOptions(o, ['owner', 'ttl'], 'acquireLease')
  const { owner, ttl } = o as LeaseOptions
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 256) throw invalidArg(`owner must be a non-empty string of at most 256 characters, got ${describe(owner)}`)
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 100 || ttl > 2_147_483_647) {
    // It renews every ttl / 3 on a timer; Node's timers keep at most 2^31 - 1 ms.
    throw invalidArg(`ttl must be a number of ms from 100 to 2147483647, got ${describe(ttl)}`)
  }
  return { owner, ttl }
}

/** @internal What a {@link LeaseKeeper} reports. */
export interface LeaseListener {
  renewed(state: LeaseState): void
  lost(state: LeaseState, reason: string): void
}

/**
 * @internal Holds one lease: takes it with a conditional create (or a conditional
 * replace of an expired or released one), renews it in the background with
 * conditional replaces, and gives it up by marking it released. Loses it when a
 * renewal finds it changed or the renewals failed until it expired.
 */
export class LeaseKeeper {
  readonly owner: string
  readonly ttl: number
  readonly token = randomBytes(12).toString('hex')
  #storage: CheckpointStorage
  #etag = ''
  #expiresAt = 0
  #held = false
  #timer: NodeJS.Timeout | undefined
  #listener: LeaseListener
  #renewing: Promise<void> | undefined

  constructor(storage: CheckpointStorage, opts: LeaseOptions, listener: LeaseListener) {
    this.#storage = storage
    this.owner = opts.owner
    this.ttl = opts.ttl
    this.#listener = listener
  }

  get state(): LeaseState {
    return { owner: this.owner, expiresAt: this.#expiresAt, held: this.valid() }
  }

  /** Held, and not expired by this process's clock. */
  valid(): boolean {
    return this.#held && Date.now() < this.#expiresAt
  }

  #doc(expiresAt: number, released = false): string {
    const d: LeaseDocument = { format: 1, owner: this.owner, token: this.token, expiresAt, acquiredAt: Date.now(), ttl: this.ttl }
    if (released) d.released = true
    return JSON.stringify(d) + '\n'
  }

  /** Takes the lease or rejects with `ERR_STATEKIT_LEASE_HELD`. */
  async acquire(): Promise<void> {
    const cur = await readLease(this.#storage)
    // The same owner may take its lease back (a restart); fencing keeps its old instance out.
    if (cur && isLive(cur.doc) && cur.doc.owner !== this.owner) throw leaseHeld(this.#storage, cur.doc)
    const expiresAt = Date.now() + this.ttl
    const etag = await this.#storage.writeDocument(LEASE, this.#doc(expiresAt), cur ? cur.etag : null)
    if (etag === null) {
      const now = await readLease(this.#storage)
      throw now ? leaseHeld(this.#storage, now.doc) : new StateError('ERR_STATEKIT_LEASE_HELD', `${this.#storage.location}: another owner took the lease at the same time`)
    }
    this.#etag = etag
    this.#expiresAt = expiresAt
    this.#held = true
    this.#schedule()
  }

  #schedule(): void {
    clearTimeout(this.#timer)
    if (!this.#held) return
    this.#timer = setTimeout(() => {
      this.#renewing = this.renew().finally(() => {
        this.#renewing = undefined
      })
    }, Math.max(10, this.ttl / 3))
    this.#timer.unref()
  }

  /** Declares the lease lost (once): stops renewing and reports it. */
  markLost(reason: string): void {
    this.#lose(reason)
  }

  #lose(reason: string): void {
    if (!this.#held) return
    this.#held = false
    clearTimeout(this.#timer)
    this.#listener.lost(this.state, reason)
  }

  /** Extends the lease by `ttl`; declares it lost if it expired or changed hands. */
  async renew(): Promise<void> {
    if (!this.#held) return
    if (Date.now() >= this.#expiresAt) return this.#lose(`it expired at ${new Date(this.#expiresAt).toISOString()} before it could be renewed`)
    const expiresAt = Date.now() + this.ttl
    let etag: string | null
    try {
      etag = await this.#storage.writeDocument(LEASE, this.#doc(expiresAt), this.#etag)
    } catch {
      // The storage is unreachable: try again soon; the lease is lost once it expires.
      if (Date.now() >= this.#expiresAt) return this.#lose('renewals failed until it expired')
      return this.#schedule()
    }
    if (!this.#held) return
    if (etag === null) return this.#lose('another owner took it over')
    this.#etag = etag
    this.#expiresAt = expiresAt
    this.#listener.renewed(this.state)
    this.#schedule()
  }

  /** Stops renewing and marks the lease released. Resolves whether it was held. */
  async release(): Promise<boolean> {
    clearTimeout(this.#timer)
    if (this.#renewing) await this.#renewing
    clearTimeout(this.#timer)
    if (!this.#held) return false
    this.#held = false
    if (Date.now() >= this.#expiresAt) return false
    const now = Date.now()
    const etag = await this.#storage.writeDocument(LEASE, this.#doc(now, true), this.#etag)
    this.#expiresAt = now
    return etag !== null
  }
}
