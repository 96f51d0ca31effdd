/** Small files written so that a crash leaves the old content or the new, whole. */
import { randomBytes } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import path from 'node:path'

/** @internal Makes a directory's entries (a rename, a new or removed file) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const d = await fsp.open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}

/** @internal Writes `text` to `target` atomically: temp file, fsync, rename, directory fsync. */
export async function writeAtomic(target: string, text: string): Promise<void> {
  const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const fh = await fsp.open(tmp, 'w')
    try {
      await fh.writeFile(text)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fsp.rename(tmp, target)
    await fsyncDir(path.dirname(target))
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {})
    throw e
  }
}
