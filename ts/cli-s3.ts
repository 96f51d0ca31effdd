/**
 * The statekit CLI on object storage: `s3://bucket/prefix[/object]` URLs for list,
 * inspect, verify, restore, prune and export, and the push and pull commands that copy
 * a checkpoint set between storages. Kept apart from cli.ts, which calls in at a few
 * points. Credentials and region come from the usual AWS environment variables and
 * files; the endpoint from `--endpoint` or `AWS_ENDPOINT_URL`.
 *
 * @internal
 * @packageDocumentation
 */
import { rmSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { verifyCheckpoint } from './checkpoint.js'
import { StateError, invalidArg } from './errors.js'
import { isLive, leaseHeld, readLease } from './lease.js'
import { chainIds, loadManifest, manifestLocation, storeManifest } from './manifest.js'
import { checkpointLocation } from './recovery.js'
import { directoryStorage } from './storage/local.js'
import { normalizePrefix, s3Storage, validBucket } from './storage/s3.js'
import { isStoredName, type CheckpointStorage } from './storage/types.js'

let endpointOption: () => string | undefined = () => undefined

/** Whether a CLI argument is an object storage URL. */
export function isStorageUrl(arg: unknown): arg is string {
  return typeof arg === 'string' && /^s3:\/\//i.test(arg)
}

/** A parsed `s3://bucket/prefix[/object]` URL. */
export interface StorageUrl {
  bucket: string
  /** The checkpoint set's prefix, `''` or ending in `/`. */
  prefix: string
  /** The checkpoint object's name, when the URL names one (it ends in `.skc`). */
  object?: string
}

/** Parses `s3://bucket/prefix[/object]`; a last segment ending in `.skc` is an object. */
export function parseStorageUrl(url: string): StorageUrl {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(url)
  if (!m || !validBucket(m[1])) throw invalidArg(`${url} is not a valid s3://bucket/prefix URL`)
  let rest = m[2]!
  let object: string | undefined
  const last = rest.replace(/\/+$/, '').split('/').pop() ?? ''
  if (last.endsWith('.skc')) {
    if (!isStoredName(last)) throw invalidArg(`${url}: ${last} is not a checkpoint name`)
    object = last
    rest = rest.replace(/\/+$/, '').slice(0, -last.length)
  }
  const out: StorageUrl = { bucket: m[1]!, prefix: normalizePrefix(rest) }
  if (object !== undefined) out.object = object
  return out
}

/** The storage an argument names: a directory, or an `s3://` URL (its prefix). */
export function storageFor(arg: string): CheckpointStorage {
  if (!isStorageUrl(arg)) return directoryStorage(arg)
  const u = parseStorageUrl(arg)
  const endpoint = endpointOption() ?? process.env.AWS_ENDPOINT_URL
  return s3Storage({ bucket: u.bucket, prefix: u.prefix, ...(endpoint ? { endpoint } : {}) })
}

const cleanups: string[] = []
process.once('exit', () => {
  for (const d of cleanups) rmSync(d, { recursive: true, force: true })
})

/** Removes downloads at exit, even when a command fails: this process's whole staging directory (`…/<pid>/fetch-…/<file>`). */
function keepUntilExit(fetchedPath: string): void {
  cleanups.push(path.dirname(path.dirname(fetchedPath)))
}

async function mustHave(storage: CheckpointStorage, name: string): Promise<void> {
  const found = (await storage.listCheckpoints()).some((c) => c.name === name)
  if (!found) throw new StateError('ERR_STATEKIT_IO', `${storage.location}${name}: not found`)
}

/**
 * For a command that reads one checkpoint file: an `s3://…/checkpoint-….skc` URL is
 * downloaded (with the chain the manifest says it needs) to a temporary directory,
 * removed at exit, and its local path returned. Other arguments are returned as they are.
 */
export async function localFile(arg: string): Promise<string> {
  if (!isStorageUrl(arg)) return arg
  const u = parseStorageUrl(arg)
  if (u.object === undefined) throw invalidArg(`${arg} names a prefix; name a checkpoint object (…/checkpoint-….skc)`)
  const storage = storageFor(arg)
  await mustHave(storage, u.object)
  const { manifest } = await loadManifest(storage)
  const byId = new Map(manifest.checkpoints.map((c) => [c.id, c]))
  const entry = manifest.checkpoints.find((c) => c.file === u.object)
  const names = entry ? chainIds(entry, byId).flatMap((id) => (byId.has(id) ? [byId.get(id)!.file] : [])) : [u.object]
  const fetched = await storage.fetchCheckpoints(names)
  const p = fetched.paths.get(u.object)!
  keepUntilExit(p)
  return p
}

/**
 * For `restore`: an `s3://` prefix resolves to the newest listed checkpoint whose chain
 * downloads and verifies whole (older ones are tried after a damaged one); an object
 * URL to that checkpoint. Returns the local path of the downloaded checkpoint.
 */
export async function localSource(arg: string): Promise<string> {
  if (!isStorageUrl(arg)) return arg
  const u = parseStorageUrl(arg)
  if (u.object !== undefined) return localFile(arg)
  const storage = storageFor(arg)
  const { manifest } = await loadManifest(storage)
  const byId = new Map(manifest.checkpoints.map((c) => [c.id, c]))
  for (const entry of [...manifest.checkpoints].reverse()) {
    const names = chainIds(entry, byId).flatMap((id) => (byId.has(id) ? [byId.get(id)!.file] : []))
    let fetched
    try {
      fetched = await storage.fetchCheckpoints(names)
    } catch (e) {
      if ((e as StateError).code !== 'ERR_STATEKIT_CORRUPT') throw e
      process.stderr.write(`statekit: skipping ${checkpointLocation(storage, entry.file)}: ${(e as Error).message}\n`)
      continue
    }
    let bad: string | undefined
    for (const p of fetched.paths.values()) {
      const v = await verifyCheckpoint(p)
      if (!v.ok) bad = v.error
    }
    if (bad === undefined) {
      const p = fetched.paths.get(entry.file)!
      keepUntilExit(p)
      return p
    }
    process.stderr.write(`statekit: skipping ${checkpointLocation(storage, entry.file)}: it does not verify: ${bad}\n`)
    await fetched.dispose()
  }
  throw new StateError('ERR_STATEKIT_CORRUPT', `${storage.location}: no checkpoint in it verifies`)
}

const out = (s: string): void => {
  process.stdout.write(s + '\n')
}

/** `statekit list s3://…`: the manifest's checkpoints, newest first, checked against the objects present. */
export async function listUrl(arg: string, o: { json?: boolean }): Promise<void> {
  const storage = storageFor(arg)
  const [{ manifest }, objects] = await Promise.all([loadManifest(storage), storage.listCheckpoints()])
  const sizes = new Map(objects.map((x) => [x.name, x.bytes]))
  const rows = [...manifest.checkpoints].reverse().map((c) => {
    const size = sizes.get(c.file)
    const check = size === undefined ? 'missing' : size !== c.bytes ? `damaged (${size} bytes, listed ${c.bytes})` : 'ok'
    return { ...c, path: checkpointLocation(storage, c.file), quickCheck: check }
  })
  const listed = new Set(manifest.checkpoints.map((c) => c.file))
  const unlisted = objects.filter((x) => !listed.has(x.name)).map((x) => ({ path: checkpointLocation(storage, x.name), bytes: x.bytes, quickCheck: 'unlisted' }))
  if (o.json) return out(JSON.stringify([...rows, ...unlisted], null, 2))
  const table = [['ID', 'KIND', 'BASE', 'CREATED', 'ENTRIES', 'BYTES', 'CHECK', 'OBJECT']]
  for (const r of rows) table.push([String(r.id), r.kind, r.kind === 'incremental' && r.baseId !== undefined ? String(r.baseId) : '-', new Date(r.createdAt).toISOString(), String(r.entries), String(r.bytes), r.quickCheck, r.file])
  for (const r of unlisted) table.push(['-', '-', '-', '-', '-', String(r.bytes), 'unlisted', path.posix.basename(r.path)])
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)))
  for (const r of table) out(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd())
}

/**
 * `statekit verify s3://…`: downloads each checkpoint (one at a time, newest first) and
 * checks every checksum. Sets exit code 65 if any is damaged or a listed one is missing.
 */
export async function verifyUrl(arg: string, o: { quick?: boolean; json?: boolean }): Promise<void> {
  const u = parseStorageUrl(arg)
  const storage = storageFor(arg)
  let names: string[]
  if (u.object !== undefined) {
    await mustHave(storage, u.object)
    names = [u.object]
  } else {
    const { manifest } = await loadManifest(storage)
    const listed = new Set(manifest.checkpoints.map((c) => c.file))
    names = [...[...manifest.checkpoints].reverse().map((c) => c.file), ...(await storage.listCheckpoints()).map((c) => c.name).filter((n) => !listed.has(n))]
  }
  const results: Array<{ path: string; ok: boolean; error?: string }> = []
  for (const name of names) {
    const where = checkpointLocation(storage, name)
    let fetched
    try {
      fetched = await storage.fetchCheckpoints([name])
    } catch (e) {
      if ((e as StateError).code !== 'ERR_STATEKIT_CORRUPT') throw e
      results.push({ path: where, ok: false, error: (e as Error).message })
      continue
    }
    try {
      const v = await verifyCheckpoint(fetched.paths.get(name)!)
      results.push(v.ok ? { path: where, ok: true } : { path: where, ok: false, error: `${where}: ${v.error}` })
    } finally {
      await fetched.dispose()
    }
  }
  if (o.json) out(JSON.stringify(results, null, 2))
  const bad = results.filter((r) => !r.ok)
  for (const r of bad) if (!o.json) process.stderr.write(`statekit: ${r.error}\n`)
  if (bad.length > 0) process.exitCode = 65
}

/** What {@link copySet} copied. */
export interface CopyResult {
  copied: string[]
  skipped: string[]
  manifest: string
}

/**
 * Copies a checkpoint set between storages: each listed checkpoint that the
 * destination lacks (by name and size) is verified and stored, and the manifest is
 * written last, conditionally, so the destination lists only whole checkpoints. Refuses
 * a destination whose lease another owner holds.
 */
export async function copySet(from: CheckpointStorage, to: CheckpointStorage, progress: (s: string) => void = () => {}): Promise<CopyResult> {
  const { manifest } = await loadManifest(from)
  const lease = await readLease(to)
  if (lease && isLive(lease.doc)) throw leaseHeld(to, lease.doc)
  const present = new Map((await to.listCheckpoints()).map((c) => [c.name, c.bytes]))
  const copied: string[] = []
  const skipped: string[] = []
  for (const c of manifest.checkpoints) {
    if (present.get(c.file) === c.bytes) {
      skipped.push(c.file)
      continue
    }
    const fetched = await from.fetchCheckpoints([c.file])
    try {
      const p = fetched.paths.get(c.file)!
      const v = await verifyCheckpoint(p)
      if (!v.ok) throw new StateError('ERR_STATEKIT_CORRUPT', `${checkpointLocation(from, c.file)} does not verify, nothing copied past it: ${v.error}`)
      progress(`copying ${c.file} (${c.bytes} bytes)`)
      await to.storeCheckpoint(c.file, p)
      copied.push(c.file)
    } finally {
      await fetched.dispose()
    }
  }
  const dest = await loadManifest(to)
  const next = { format: 1 as const, checkpoints: manifest.checkpoints }
  if ((await storeManifest(to, dest.manifest.writer ? { ...next, writer: dest.manifest.writer } : next, dest.etag)) === null) {
    throw new StateError('ERR_STATEKIT_BUSY', `${manifestLocation(to)} changed during the copy; run it again`)
  }
  return { copied, skipped, manifest: manifestLocation(to) }
}

/**
 * Adds `--endpoint` and the `push` and `pull` commands to the CLI.
 * @param example - adds an example to a command's help
 */
export function registerStorageCommands(program: Command, example: (cmd: Command, text: string) => Command): void {
  program.option('--endpoint <url>', 'the S3-compatible endpoint for s3:// URLs (default: AWS_ENDPOINT_URL, else AWS S3)')
  program.addHelpText('after', '\nlist, inspect, verify, restore, prune and export also take s3://bucket/prefix[/checkpoint-….skc] URLs;\ncredentials and region come from the usual AWS environment variables and files.')
  endpointOption = () => program.opts<{ endpoint?: string }>().endpoint
  const copy = async (from: string, to: string, o: { json?: boolean }): Promise<void> => {
    const r = await copySet(storageFor(from), storageFor(to), (s) => process.stderr.write(`${s}\n`))
    if (o.json) return out(JSON.stringify(r, null, 2))
    out(`copied ${r.copied.length} checkpoints (${r.skipped.length} already there), then ${r.manifest}`)
  }
  example(
    program
      .command('push <dir> <url>')
      .description('copy a checkpoint set from a directory to s3://bucket/prefix (checkpoints verified first, manifest last)')
      .option('--json', 'machine output')
      .action(async (dir: string, url: string, o: { json?: boolean }) => {
        if (!isStorageUrl(url)) throw invalidArg(`push copies to an s3:// URL, got ${url}`)
        if (parseStorageUrl(url).object !== undefined) throw invalidArg(`${url} names an object; push copies to a prefix`)
        await copy(dir, url, o)
      }),
    'statekit push /var/lib/app/checkpoints s3://app-state/orders/partition-7',
  )
  example(
    program
      .command('pull <url> <dir>')
      .description('copy a checkpoint set from s3://bucket/prefix to a directory (checkpoints verified first, manifest last)')
      .option('--json', 'machine output')
      .action(async (url: string, dir: string, o: { json?: boolean }) => {
        if (!isStorageUrl(url)) throw invalidArg(`pull copies from an s3:// URL, got ${url}`)
        if (parseStorageUrl(url).object !== undefined) throw invalidArg(`${url} names an object; pull copies a prefix`)
        await copy(url, dir, o)
      }),
    'statekit pull s3://app-state/orders/partition-7 /var/lib/app/checkpoints',
  )
}

