import { promises as fsp } from 'node:fs'
import path from 'node:path'
import { readCheckpointInfo } from './checkpoint.js'
import { StateError } from './errors.js'

/** One committed checkpoint, as the manifest lists it. */
export interface ManifestEntry {
  id: number
  /** The file's name inside the checkpoint directory. */
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
}

/**
 * @internal Reads the manifest of `dir`. A directory without one (checkpoints copied
 * by hand, say) is indexed from its files' headers instead.
 */
export async function readManifest(dir: string): Promise<Manifest> {
  let text: string
  try {
    text = await fsp.readFile(path.join(dir, MANIFEST), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { format: 1, checkpoints: await indexFiles(dir) }
    throw new StateError('ERR_STATEKIT_IO', `cannot read ${path.join(dir, MANIFEST)}: ${(e as Error).message}`)
  }
  try {
    const m = JSON.parse(text) as Manifest
    if (m.format !== 1 || !Array.isArray(m.checkpoints)) throw new Error('unknown manifest format')
    return { format: 1, checkpoints: [...m.checkpoints].sort((a, b) => a.id - b.id) }
  } catch (e) {
    throw new StateError('ERR_STATEKIT_CORRUPT', `${path.join(dir, MANIFEST)} is damaged: ${(e as Error).message}`)
  }
}

async function indexFiles(dir: string): Promise<ManifestEntry[]> {
  let names: string[]
  try {
    names = await fsp.readdir(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new StateError('ERR_STATEKIT_IO', `cannot read ${dir}: ${(e as Error).message}`)
  }
  const out: ManifestEntry[] = []
  for (const file of names) {
    if (file === MANIFEST || file.endsWith('.tmp')) continue
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

/** @internal Writes the manifest atomically: temp file, fsync, rename, directory fsync. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const target = path.join(dir, MANIFEST)
  const tmp = `${target}.${process.pid}.tmp`
  try {
    const fh = await fsp.open(tmp, 'w')
    try {
      await fh.writeFile(JSON.stringify(manifest, null, 2) + '\n')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fsp.rename(tmp, target)
    const d = await fsp.open(dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {})
    throw new StateError('ERR_STATEKIT_IO', `cannot write ${target}: ${(e as Error).message}`, { cause: e })
  }
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

/**
 * @internal Keeps the newest `keep` checkpoints and every checkpoint their chains need;
 * commits the shorter manifest, then deletes the other files. Returns the dropped.
 */
export async function retain(dir: string, manifest: Manifest, keep: number): Promise<ManifestEntry[]> {
  const all = manifest.checkpoints
  if (all.length <= keep) return []
  const byId = new Map(all.map((c) => [c.id, c]))
  const needed = new Set<number>()
  for (const c of all.slice(-keep)) for (const id of chainIds(c, byId)) needed.add(id)
  const kept = all.filter((c) => needed.has(c.id))
  const dropped = all.filter((c) => !needed.has(c.id))
  if (dropped.length === 0) return []
  await writeManifest(dir, { format: 1, checkpoints: kept })
  for (const c of dropped) await fsp.rm(path.join(dir, c.file), { force: true })
  return dropped
}
