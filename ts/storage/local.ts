import { createHash } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fsyncDir, writeAtomic } from '../durable-file.js'
import { describe, invalidArg, StateError } from '../errors.js'
import { isCheckpointName, type CheckpointStorage, type DocumentName, type FetchedCheckpoints, type StoredCheckpoint, type StoredDocument } from './types.js'

const DOCUMENTS: ReadonlySet<string> = new Set(['manifest.json', 'lease.json'])
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 10_000

const io = (what: string, e: unknown): StateError =>
  e instanceof StateError ? e : new StateError('ERR_STATEKIT_IO', `${what}: ${(e as Error).message}`, { cause: e })

function checkName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name !== path.basename(name) || name === '.' || name === '..') {
    throw invalidArg(`a checkpoint name must be a plain file name, got ${typeof name === 'string' ? JSON.stringify(name) : describe(name)}`)
  }
  return name
}

const etagOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32)

/**
 * Holds `<file>.lock` (created exclusively) while `fn` runs, so that a read, compare
 * and replace of the file is atomic among processes. A lock left by a dead process is
 * taken over once it is {@link STALE_LOCK_MS} old.
 */
async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`
  const deadline = Date.now() + STALE_LOCK_MS * 2
  for (;;) {
    try {
      // Empty: creating it needs no free blocks, so a full disk never leaves it behind.
      await (await fsp.open(lock, 'wx')).close()
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const st = await fsp.stat(lock).catch(() => null)
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await fsp.rm(lock, { force: true })
      else if (Date.now() > deadline) throw new StateError('ERR_STATEKIT_BUSY', `${lock} is held by another process`)
      else await sleep(5 + Math.random() * 10)
    }
  }
  try {
    return await fn()
  } finally {
    await fsp.rm(lock, { force: true }).catch(() => {})
  }
}

class DirectoryStorage implements CheckpointStorage {
  readonly location: string
  readonly localDir: string

  constructor(dir: string) {
    this.localDir = path.resolve(dir)
    this.location = this.localDir
  }

  async #ensureDir(): Promise<void> {
    try {
      await fsp.mkdir(this.localDir, { recursive: true })
    } catch (e) {
      throw io(`cannot create ${this.localDir}`, e)
    }
  }

  async stagingPath(name: string): Promise<string> {
    await this.#ensureDir()
    return path.join(this.localDir, checkName(name))
  }

  async storeCheckpoint(name: string, localPath: string): Promise<void> {
    const target = path.join(this.localDir, checkName(name))
    if (path.resolve(localPath) === target) return
    try {
      await fsp.copyFile(localPath, `${target}.tmp`)
      const fh = await fsp.open(`${target}.tmp`, 'r+')
      try {
        await fh.sync()
      } finally {
        await fh.close()
      }
      await fsp.rename(`${target}.tmp`, target)
      await fsyncDir(this.localDir)
    } catch (e) {
      await fsp.rm(`${target}.tmp`, { force: true }).catch(() => {})
      throw io(`cannot store ${target}`, e)
    }
  }

  async fetchCheckpoints(names: string[]): Promise<FetchedCheckpoints> {
    const paths = new Map<string, string>()
    for (const name of names) {
      const p = path.join(this.localDir, checkName(name))
      try {
        await fsp.access(p)
      } catch (e) {
        throw io(`cannot read ${p}`, e)
      }
      paths.set(name, p)
    }
    return { paths, dispose: async () => {} }
  }

  async deleteCheckpoint(name: string): Promise<void> {
    const p = path.join(this.localDir, checkName(name))
    try {
      await fsp.rm(p, { force: true })
    } catch (e) {
      throw io(`cannot delete ${p}`, e)
    }
  }

  /** The names in the directory; none if it does not exist yet. */
  async #names(): Promise<string[]> {
    try {
      return await fsp.readdir(this.localDir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw io(`cannot read ${this.localDir}`, e)
    }
  }

  async listCheckpoints(): Promise<StoredCheckpoint[]> {
    const names = await this.#names()
    const out: StoredCheckpoint[] = []
    for (const name of names.sort()) {
      if (DOCUMENTS.has(name) || name.endsWith('.tmp') || name.endsWith('.lock')) continue
      const st = await fsp.stat(path.join(this.localDir, name)).catch(() => null)
      if (st?.isFile()) out.push({ name, bytes: st.size, modifiedAt: st.mtimeMs })
    }
    return out
  }

  async readDocument(name: DocumentName): Promise<StoredDocument | null> {
    const p = path.join(this.localDir, name)
    try {
      const text = await fsp.readFile(p, 'utf8')
      return { text, etag: etagOf(text) }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw io(`cannot read ${p}`, e)
    }
  }

  async writeDocument(name: DocumentName, text: string, ifMatch: string | null): Promise<string | null> {
    if (!DOCUMENTS.has(name)) throw invalidArg(`unknown document ${JSON.stringify(name)}`)
    const p = path.join(this.localDir, name)
    await this.#ensureDir()
    try {
      return await withFileLock(p, async () => {
        const cur = await this.readDocument(name)
        if ((cur?.etag ?? null) !== ifMatch) return null
        await writeAtomic(p, text)
        return etagOf(text)
      })
    } catch (e) {
      throw io(`cannot write ${p}`, e)
    }
  }

  async removeLeftovers(listed: ReadonlySet<string>): Promise<string[]> {
    const names = await this.#names()
    const removed: string[] = []
    for (const name of names) {
      const orphan = isCheckpointName(name) && !listed.has(name)
      if (name.endsWith('.tmp') || orphan) {
        await fsp.rm(path.join(this.localDir, name), { force: true }).catch((e: unknown) => {
          throw io(`cannot remove ${path.join(this.localDir, name)}`, e)
        })
        removed.push(name)
      }
    }
    return removed
  }
}

/**
 * Checkpoints in a local directory (created when first written). The manifest and the
 * lease are files beside them, replaced atomically under a short lock file, so that
 * their conditional writes hold among processes on one machine.
 *
 * @param dir - the checkpoint directory
 */
export function directoryStorage(dir: string): CheckpointStorage {
  if (typeof dir !== 'string' || dir.length === 0) throw invalidArg(`dir must be a non-empty string, got ${describe(dir)}`)
  return new DirectoryStorage(dir)
}
