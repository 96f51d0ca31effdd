/**
 * Replacing a damaged sled directory with one restored from a checkpoint, so that a
 * crash at any moment leaves either the damaged directory or the restored one in
 * place, and never an empty store that opens as if nothing had happened.
 *
 * 1. The restored store is built and flushed in a staging directory beside the store
 *    (`<dir>.restoring-<time>`); the damaged directory stays where it is, so a crash
 *    meanwhile still finds it damaged.
 * 2. A journal beside the store (`<dir>.statekit-recovering`) is written atomically:
 *    while it exists, every open of the store is `ERR_STATEKIT_CORRUPT`, whatever
 *    the directory holds, or if there is none.
 * 3. The damaged directory is renamed aside (kept), the staging one renamed into place.
 * 4. The journal is removed.
 *
 * An interrupted recovery is run again from the start by the next `openWithRecovery`.
 * @internal
 */
import { promises as fsp } from 'node:fs'
import path from 'node:path'
import { fsyncDir, writeAtomic } from './durable-file.js'
import { StateError } from './errors.js'

/** @internal The file beside `dir` that marks a recovery in progress (crates/statekit-core/src/sled/marker.rs reads it). */
export function journalOf(dir: string): string {
  return `${base(dir)}.statekit-recovering`
}

/** @internal A new staging directory's name beside `dir`. */
export function stagingName(dir: string): string {
  return `${base(dir)}.restoring-${process.pid}-${Date.now()}`
}

function base(dir: string): string {
  return dir.replace(/[\\/]+$/, '')
}

const exists = (p: string): Promise<boolean> =>
  fsp.stat(p).then(
    () => true,
    () => false,
  )

/**
 * @internal Removes the staging directories earlier interrupted recoveries of `dir` left: none
 * was ever renamed into place under that name, so none holds anything of the store's.
 */
export async function removeStaleStaging(dir: string): Promise<void> {
  const parent = path.dirname(base(dir))
  const prefix = `${path.basename(base(dir))}.restoring-`
  let names: string[]
  try {
    names = await fsp.readdir(parent)
  } catch {
    return
  }
  for (const n of names) if (n.startsWith(prefix)) await fsp.rm(path.join(parent, n), { recursive: true, force: true })
}

/**
 * @internal Steps 2 to 4: puts the whole, closed store in `staging` in place of `dir`, moving
 * what `dir` holds (if anything: an interrupted recovery may have moved it already) to
 * `movedTo`. Returns whether something was moved.
 */
export async function swapIn(dir: string, staging: string, movedTo: string): Promise<boolean> {
  const parent = path.dirname(base(dir))
  const journal = journalOf(dir)
  await writeAtomic(journal, `replacing ${dir} with ${staging}; what ${dir} held goes to ${movedTo}\n`)
  let moved = false
  try {
    if (await exists(dir)) {
      await fsp.rename(dir, movedTo)
      moved = true
    }
    await fsp.rename(staging, dir)
    await fsyncDir(parent)
    await fsp.rm(journal)
    await fsyncDir(parent)
  } catch (err) {
    throw new StateError('ERR_STATEKIT_IO', `cannot put the restored store in place of ${dir}: ${(err as Error).message} (the next openWithRecovery tries again)`, { cause: err })
  }
  return moved
}
