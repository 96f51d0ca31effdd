import path from 'node:path'
import type { RestoreInfo } from './checkpoint.js'
import { describe, invalidArg, type StateError } from './errors.js'
import { checkOptions } from './options.js'
import { chainIds, loadManifest, storageOf, type ManifestEntry } from './manifest.js'
import type { CheckpointStorage } from './storage/types.js'
import type { StateBackend } from './types.js'

/** A checkpoint that `restoreLatest` passed over, and why. */
export interface SkippedCheckpoint {
  /** The checkpoint's id. */
  id: number
  /** Where it is: a path, or an `s3://` URL. */
  file: string
  /** Why it was passed over: the damage, or the missing checkpoint its chain needs. */
  reason: string
}

/** What `restoreLatest` did. */
export interface RestoreReport {
  /** Whether a checkpoint was restored. */
  restored: boolean
  /** The checkpoint restored: its id, file and metadata (the offsets to resume from). */
  checkpoint?: { id: number; file: string; metadata: Record<string, unknown> }
  /** What the restore did. */
  info?: RestoreInfo
  /** Newer checkpoints that could not be restored, newest first, with the reason. */
  skipped: SkippedCheckpoint[]
}

/** @internal Where a checkpoint of `storage` is, for reports: a path, or an `s3://` URL. */
export function checkpointLocation(storage: CheckpointStorage, name: string): string {
  return storage.localDir !== undefined ? path.join(storage.localDir, name) : `${storage.location}${name}`
}

/** @internal A checkpoint tried by {@link tryNewestFirst}. */
export interface Candidate {
  /** Its manifest entry. */
  entry: ManifestEntry
  /** Where it is, for reports: a path, or an `s3://` URL. */
  location: string
  /** Its local path (fetched, from object storage). */
  path: string
  /** The local paths of its chain, the full checkpoint first, itself last. */
  chain: string[]
}

/**
 * @internal Tries the checkpoints of `storage` newest first, each with its chain fetched
 * to local files, until `attempt` succeeds. A checkpoint whose chain is incomplete, or
 * whose attempt fails with `ERR_STATEKIT_CORRUPT` (or, from a directory,
 * `ERR_STATEKIT_IO`), is skipped with the reason; any other error is thrown. From
 * object storage an I/O error is the storage failing, not the checkpoint: it is thrown,
 * so nothing silently falls back past a reachable newer checkpoint. Downloads are
 * removed after each attempt.
 */
export async function tryNewestFirst<T>(
  storage: CheckpointStorage,
  attempt: (candidate: Candidate) => Promise<T>,
): Promise<{ found?: { candidate: Candidate; result: T }; skipped: SkippedCheckpoint[] }> {
  const { manifest } = await loadManifest(storage)
  const { checkpoints } = manifest
  const byId = new Map<number, ManifestEntry>(checkpoints.map((c) => [c.id, c]))
  const skipped: SkippedCheckpoint[] = []
  for (const entry of [...checkpoints].reverse()) {
    const location = checkpointLocation(storage, entry.file)
    const ids = chainIds(entry, byId)
    const missing = ids.find((id) => !byId.has(id))
    if (missing !== undefined) {
      skipped.push({ id: entry.id, file: location, reason: `the checkpoint it builds on (id ${missing}) is missing` })
      continue
    }
    const names = ids.map((id) => byId.get(id)!.file)
    try {
      const fetched = await storage.fetchCheckpoints(names)
      try {
        const chain = names.map((n) => fetched.paths.get(n)!).reverse()
        const result = await attempt({ entry, location, path: fetched.paths.get(entry.file)!, chain })
        return { found: { candidate: { entry, location, path: fetched.paths.get(entry.file)!, chain }, result }, skipped }
      } finally {
        await fetched.dispose()
      }
    } catch (e) {
      const code = (e as StateError).code
      if (code !== 'ERR_STATEKIT_CORRUPT' && (code !== 'ERR_STATEKIT_IO' || storage.localDir === undefined)) throw e
      skipped.push({ id: entry.id, file: location, reason: (e as Error).message })
    }
  }
  return { skipped }
}

/**
 * Restores into `backend` the newest checkpoint in `where` (a directory or a
 * {@link CheckpointStorage}) that restores whole, falling back to older ones when a
 * newer one (or a checkpoint of its chain) is damaged or missing. An object storage that
 * cannot be reached rejects with `ERR_STATEKIT_IO` instead of falling back. From object storage,
 * each try downloads the checkpoint and its chain to temporary files (streamed, never
 * whole in memory) and removes them afterwards. A damaged checkpoint leaves the
 * backend unchanged, so each try starts clean.
 */
export async function restoreLatestIn(backend: StateBackend, where: string | CheckpointStorage): Promise<RestoreReport> {
  const { found, skipped } = await tryNewestFirst(storageOf(where), (c) => backend.restore(c.path))
  if (!found) return { restored: false, skipped }
  const { candidate, result: info } = found
  return { restored: true, checkpoint: { id: candidate.entry.id, file: candidate.location, metadata: info.metadata }, info, skipped }
}

/** What opening with recovery found and did. */
export interface RecoveryReport extends RestoreReport {
  /** Whether the store's directory was damaged. */
  damaged: boolean
  /**
   * Where the damaged directory was moved (it is never deleted); absent if there was
   * none to move (an interrupted recovery had moved it already).
   */
  movedTo?: string
  /** Why the directory was judged damaged. */
  reason?: string
}

/** @internal A name beside `dir` for its damaged copy. */
export function asideName(dir: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  return `${dir.replace(/[\\/]+$/, '')}.damaged-${stamp}`
}

/** Where `openWithRecovery` finds checkpoints: a directory, or a storage such as `s3Storage()`. */
export interface RecoverySource {
  /** The checkpoint directory. Give this or `storage`. */
  checkpointDir?: string
  /** The checkpoint storage. Give this or `checkpointDir`. */
  storage?: CheckpointStorage
}

/** @internal Validates a recovery source. */
export function recoverySource(recovery: unknown): string | CheckpointStorage {
  const r = recovery as RecoverySource | null
  if (r !== null && typeof r === 'object') checkOptions(r, ['checkpointDir', 'storage'], 'openWithRecovery')
  if (r !== null && typeof r === 'object' && r.storage !== undefined && r.checkpointDir === undefined) return storageOf(r.storage)
  if (r === null || typeof r !== 'object' || typeof r.checkpointDir !== 'string' || r.checkpointDir === '' || r.storage !== undefined) {
    throw invalidArg(`recovery must be { checkpointDir: a non-empty string } or { storage }, got checkpointDir ${describe(r?.checkpointDir)}${r?.storage !== undefined ? ' and a storage' : ''}`)
  }
  return r.checkpointDir
}
