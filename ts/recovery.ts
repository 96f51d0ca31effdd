import path from 'node:path'
import type { RestoreInfo } from './checkpoint.js'
import { describe, invalidArg, type StateError } from './errors.js'
import { chainIds, loadManifest, storageOf, type ManifestEntry } from './manifest.js'
import type { CheckpointStorage } from './storage/types.js'
import type { StateBackend } from './types.js'

/** A checkpoint that `restoreLatest` passed over, and why. */
export interface SkippedCheckpoint {
  id: number
  file: string
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
  const storage = storageOf(where)
  const { manifest } = await loadManifest(storage)
  const { checkpoints } = manifest
  const byId = new Map<number, ManifestEntry>(checkpoints.map((c) => [c.id, c]))
  const skipped: SkippedCheckpoint[] = []
  for (const entry of [...checkpoints].reverse()) {
    const file = checkpointLocation(storage, entry.file)
    const names = chainIds(entry, byId).flatMap((id) => {
      const c = byId.get(id)
      return c ? [c.file] : []
    })
    try {
      const fetched = await storage.fetchCheckpoints(names)
      try {
        const info = await backend.restore(fetched.paths.get(entry.file)!)
        return { restored: true, checkpoint: { id: entry.id, file, metadata: info.metadata }, info, skipped }
      } finally {
        await fetched.dispose()
      }
    } catch (e) {
      const code = (e as StateError).code
      // From object storage an I/O error is the storage failing, not the checkpoint: it
      // is thrown, so a restore never silently falls back past a reachable newer one.
      if (code !== 'ERR_STATEKIT_CORRUPT' && (code !== 'ERR_STATEKIT_IO' || storage.localDir === undefined)) throw e
      skipped.push({ id: entry.id, file, reason: (e as Error).message })
    }
  }
  return { restored: false, skipped }
}

/** What opening with recovery found and did. */
export interface RecoveryReport extends RestoreReport {
  /** Whether the store's directory was damaged. */
  damaged: boolean
  /** Where the damaged directory was moved (it is never deleted). */
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
  if (r !== null && typeof r === 'object' && r.storage !== undefined && r.checkpointDir === undefined) return storageOf(r.storage)
  if (r === null || typeof r !== 'object' || typeof r.checkpointDir !== 'string' || r.checkpointDir === '' || r.storage !== undefined) {
    throw invalidArg(`recovery must be { checkpointDir: a non-empty string } or { storage }, got checkpointDir ${describe(r?.checkpointDir)}${r?.storage !== undefined ? ' and a storage' : ''}`)
  }
  return r.checkpointDir
}
