import path from 'node:path'
import type { RestoreInfo } from './checkpoint.js'
import { StateError } from './errors.js'
import { readManifest } from './manifest.js'
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

/**
 * Restores into `backend` the newest checkpoint in `dir` that restores whole, falling
 * back to older ones when a newer one (or a file of its chain) is damaged or missing.
 * A damaged checkpoint leaves the backend unchanged, so each try starts clean.
 */
export async function restoreLatestIn(backend: StateBackend, dir: string): Promise<RestoreReport> {
  const { checkpoints } = await readManifest(dir)
  const skipped: SkippedCheckpoint[] = []
  for (const entry of [...checkpoints].reverse()) {
    const file = path.join(dir, entry.file)
    try {
      const info = await backend.restore(file)
      return { restored: true, checkpoint: { id: entry.id, file, metadata: info.metadata }, info, skipped }
    } catch (e) {
      const code = (e as StateError).code
      if (code !== 'ERR_STATEKIT_CORRUPT' && code !== 'ERR_STATEKIT_IO') throw e
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
