import path from 'node:path'
import { readCheckpointInfo } from './checkpoint.js'
import { describe, invalidArg, StateError } from './errors.js'
import { directoryStorage } from './storage/local.js'
import type { CheckpointStorage } from './storage/types.js'

/** One committed checkpoint, as the manifest lists it. */
export interface ManifestEntry {
  id: number
  /** The file's (or object's) name inside the checkpoint directory (or prefix). */
  file: string
  kind: 'full' | 'incremental'
  /** The checkpoint an incremental one needs. */
  baseId?: number
  createdAt: number
  entries: number
  bytes: number
  metadata: Record<string, unknown>
}

/** The name of the manifest in a checkpoint directory: the commit point. */
export const MANIFEST = 'manifest.json'

/** @internal The manifest's contents, oldest checkpoint first. */
export interface Manifest {
  format: 1
  checkpoints: ManifestEntry[]
  /** The lease holder that wrote it last: a writer whose lease token differs is fenced. */
  writer?: { owner: string; token: string }
}

/** @internal A manifest as read, with the etag its conditional replacement needs. */
export interface LoadedManifest {
  manifest: Manifest
  /** The etag, or `null` when there is no manifest document (yet). */
  etag: string | null
}

/** @internal The storage `where` names: a directory path, or a storage. */
export function storageOf(where: string | CheckpointStorage): CheckpointStorage {
  if (typeof where === 'string') return directoryStorage(where)
  if (where === null || typeof where !== 'object' || typeof (where as CheckpointStorage).readDocument !== 'function') {
    throw invalidArg(`expected a directory or a checkpoint storage, got ${describe(where)}`)
  }
  return where
}

/** @internal Parses a manifest document. */
export function parseManifest(text: string, where: string): Manifest {
  try {
    const m = JSON.parse(text) as Manifest
    if (m === null || typeof m !== 'object' || m.format !== 1 || !Array.isArray(m.checkpoints)) throw new Error('unknown manifest format')
    for (const c of m.checkpoints as unknown[]) {
      const e = c as Partial<ManifestEntry> | null
      if (e === null || typeof e !== 'object' || typeof e.id !== 'number' || typeof e.file !== 'string') {
        throw new Error(`a listed checkpoint is not an entry: ${JSON.stringify(c)}`)
      }
    }
    const out: Manifest = { format: 1, checkpoints: [...m.checkpoints].sort((a, b) => a.id - b.id) }
    if (m.writer && typeof m.writer.owner === 'string' && typeof m.writer.token === 'string') out.writer = { owner: m.writer.owner, token: m.writer.token }
    return out
  } catch (e) {
    throw new StateError('ERR_STATEKIT_CORRUPT', `${where} is damaged: ${(e as Error).message}`)
  }
}

/**
 * @internal Reads the manifest of a storage with its etag. A local directory without
 * one (checkpoints copied by hand, say) is indexed from its files' headers instead.
 */
export async function loadManifest(storage: CheckpointStorage): Promise<LoadedManifest> {
  const doc = await storage.readDocument(MANIFEST)
  if (doc) return { manifest: parseManifest(doc.text, manifestLocation(storage)), etag: doc.etag }
  return { manifest: { format: 1, checkpoints: storage.localDir !== undefined ? await indexFiles(storage, storage.localDir) : [] }, etag: null }
}

/** @internal Where the manifest of `storage` is, for messages. */
export function manifestLocation(storage: CheckpointStorage): string {
  return storage.localDir !== undefined ? path.join(storage.localDir, MANIFEST) : `${storage.location}${MANIFEST}`
}

/** @internal Reads the manifest of a directory or storage. */
export async function readManifest(where: string | CheckpointStorage): Promise<Manifest> {
  return (await loadManifest(storageOf(where))).manifest
}

async function indexFiles(storage: CheckpointStorage, dir: string): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = []
  for (const { name: file } of await storage.listCheckpoints()) {
    try {
      const info = await readCheckpointInfo(path.join(dir, file))
      const entry: ManifestEntry = { id: info.id, file, kind: info.kind, createdAt: info.createdAt, entries: info.entries, bytes: info.bytes, metadata: info.metadata }
      if (info.baseId !== undefined) entry.baseId = info.baseId
      out.push(entry)
    } catch {
      // Not a checkpoint (or a damaged one): not listed.
    }
  }
  return out.sort((a, b) => a.id - b.id)
}

/**
 * @internal Replaces the manifest if it still has `etag` (`null`: only if there is none).
 * Resolves the new etag, or `null` when another writer changed it (nothing written).
 */
export async function storeManifest(storage: CheckpointStorage, manifest: Manifest, etag: string | null): Promise<string | null> {
  return storage.writeDocument(MANIFEST, JSON.stringify(manifest, null, 2) + '\n', etag)
}

/** @internal The ids `entry` needs to be restored: itself and its chain of bases. */
export function chainIds(entry: ManifestEntry, byId: Map<number, ManifestEntry>): number[] {
  const ids = [entry.id]
  let cur: ManifestEntry | undefined = entry
  while (cur?.kind === 'incremental' && cur.baseId !== undefined) {
    ids.push(cur.baseId)
    cur = byId.get(cur.baseId)
  }
  return ids
}

/** How many checkpoints, and how old, to keep. */
export interface RetentionPolicy {
  /** Keep the newest this many. */
  maxCheckpoints?: number
  /** Drop checkpoints older than this many ms (the newest is always kept). */
  maxAge?: number
}

/**
 * @internal Splits the checkpoints into kept and dropped: the newest `maxCheckpoints`
 * that are younger than `maxAge` (and always the newest one), plus every checkpoint
 * their chains need.
 */
export function retentionPlan(all: ManifestEntry[], policy: RetentionPolicy, now = Date.now()): { kept: ManifestEntry[]; dropped: ManifestEntry[] } {
  if (all.length === 0) return { kept: [], dropped: [] }
  const byId = new Map(all.map((c) => [c.id, c]))
  let wanted = policy.maxCheckpoints !== undefined ? all.slice(-policy.maxCheckpoints) : all
  if (policy.maxAge !== undefined) wanted = wanted.filter((c) => now - c.createdAt <= policy.maxAge!)
  if (wanted.length === 0) wanted = all.slice(-1)
  const needed = new Set<number>()
  for (const c of wanted) for (const id of chainIds(c, byId)) needed.add(id)
  return { kept: all.filter((c) => needed.has(c.id)), dropped: all.filter((c) => !needed.has(c.id)) }
}

/**
 * @internal Applies a retention policy to a checkpoint set: commits the shorter
 * manifest with a conditional write (retrying if another writer changed it
 * meanwhile), then deletes the dropped checkpoints. Returns the dropped.
 * The `manifest` argument is ignored but kept for callers that read it first.
 */
export async function retain(where: string | CheckpointStorage, _manifest: Manifest | undefined, policy: number | RetentionPolicy): Promise<ManifestEntry[]> {
  const storage = storageOf(where)
  const p = typeof policy === 'number' ? { maxCheckpoints: policy } : policy
  for (let attempt = 0; attempt < 5; attempt++) {
    const { manifest, etag } = await loadManifest(storage)
    const { kept, dropped } = retentionPlan(manifest.checkpoints, p)
    if (dropped.length === 0) return []
    if ((await storeManifest(storage, { ...manifest, checkpoints: kept }, etag)) === null) continue
    for (const c of dropped) await storage.deleteCheckpoint(c.file)
    return dropped
  }
  throw new StateError('ERR_STATEKIT_BUSY', `${manifestLocation(storage)} kept changing while it was pruned; try again`)
}
