#!/usr/bin/env node
/**
 * The statekit command line: see, check, move and restore checkpoints without code.
 * Machine output (`--json`) goes to stdout; progress and errors go to stderr.
 *
 * Exit codes: 0 ok, 64 usage, 65 damaged or invalid data, 66 missing input, 74 I/O
 * error, 75 locked.
 *
 * @packageDocumentation
 */
import { isUtf8 } from 'node:buffer'
import { promises as fsp, createReadStream, readFileSync } from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { Command, CommanderError, Option } from 'commander'
import cliProgress from 'cli-progress'
import { readCheckpointInfo, verifyCheckpoint, type CheckpointFileInfo } from './checkpoint.js'
import { StateError } from './errors.js'
import { chainIds, loadManifest, MANIFEST, retain, type ManifestEntry } from './manifest.js'
import { tryNewestFirst, type SkippedCheckpoint } from './recovery.js'
import { directoryStorage } from './storage/local.js'
import { isStorageUrl, listUrl, localFile, localSource, registerStorageCommands, storageFor, verifyUrl } from './cli-s3.js'
import { MemoryBackend } from './memory-backend.js'
import { addon } from './native.js'
import { SledBackend } from './sled-backend.js'

/** The documented exit codes. */
const EXIT = { ok: 0, usage: 64, data: 65, noInput: 66, io: 74, locked: 75 } as const

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) return e.exitCode
  const code = (e as { code?: string }).code
  const msg = String((e as Error)?.message ?? e)
  switch (code) {
    case 'ERR_STATEKIT_CORRUPT':
      return EXIT.data
    case 'ERR_STATEKIT_LOCKED':
    case 'ERR_STATEKIT_LEASE_HELD':
      return EXIT.locked
    case 'ERR_STATEKIT_INVALID_ARG':
      return EXIT.usage
    case 'ERR_STATEKIT_IO':
      return /ENOENT|No such file|not found/i.test(msg) ? EXIT.noInput : EXIT.io
    case 'ENOENT':
      return EXIT.noInput
    default:
      return EXIT.io
  }
}

type Encoding = 'utf8' | 'base64' | 'hex'
const ENCODINGS: readonly Encoding[] = ['utf8', 'base64', 'hex']
const encode = (b: Buffer, enc: Encoding): string => b.toString(enc)

/**
 * The first line of an export: what wrote it and how its keys and values are encoded,
 * so that `import` reads it back without being told.
 */
interface ExportHeader {
  statekit: 'export'
  version: 1
  encoding: Encoding
}

function isExportHeader(v: unknown): v is { statekit: 'export'; version: unknown; encoding: unknown } {
  return typeof v === 'object' && v !== null && (v as { statekit?: unknown }).statekit === 'export'
}

/** Bytes for an export: utf8 only when they are valid UTF-8, which a round trip needs. */
function exportText(b: Buffer, enc: Encoding, what: string, n: number): string {
  if (enc === 'utf8' && !isUtf8(b)) {
    throw new CliError(`record ${n}: the ${what} is not valid UTF-8; export with --encoding base64 or hex`, EXIT.data)
  }
  return encode(b, enc)
}
const decode = (s: unknown, enc: Encoding, what: string, line: number): Buffer => {
  if (typeof s !== 'string') throw new CliError(`line ${line}: ${what} must be a string`, EXIT.data)
  return Buffer.from(s, enc)
}

async function exists(p: string): Promise<'file' | 'dir' | null> {
  try {
    return (await fsp.stat(p)).isDirectory() ? 'dir' : 'file'
  } catch {
    return null
  }
}

/** An output file's directory must exist: writing into a missing one is an I/O error (74). */
async function outputDirExists(file: string): Promise<void> {
  const dir = path.dirname(path.resolve(file))
  if ((await exists(dir)) !== 'dir') throw new CliError(`cannot write ${file}: the directory ${dir} does not exist`, EXIT.io)
}

async function mustExist(p: string): Promise<'file' | 'dir'> {
  const kind = await exists(p)
  if (!kind) throw new CliError(`${p}: no such file or directory`, EXIT.noInput)
  return kind
}

/** Removes everything inside `dir`, keeping `dir`. */
async function emptyDir(dir: string): Promise<void> {
  const names = await fsp.readdir(dir).catch(() => [] as string[])
  for (const n of names) await fsp.rm(path.join(dir, n), { recursive: true, force: true }).catch(() => {})
}

const out = (s: string): void => {
  process.stdout.write(s + '\n')
}
const json = (v: unknown): void => out(JSON.stringify(v, null, 2))
const iso = (ms: number): string => new Date(ms).toISOString()
const ratio = (i: { rawBytes: number; bytes: number }): string => (i.bytes > 0 ? (i.rawBytes / i.bytes).toFixed(2) : '-')

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  for (const r of rows) out(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd())
}

/** The checkpoint files of a directory, newest first, with what a quick check says. */
async function listDir(dir: string): Promise<Array<{ file: string; info?: CheckpointFileInfo; error?: string }>> {
  const names = (await fsp.readdir(dir)).filter((n) => n !== MANIFEST && !n.endsWith('.tmp'))
  const rows: Array<{ file: string; info?: CheckpointFileInfo; error?: string }> = []
  for (const name of names) {
    const file = path.join(dir, name)
    if ((await exists(file)) !== 'file') continue
    try {
      rows.push({ file, info: await readCheckpointInfo(file) })
    } catch (e) {
      // Only files that look like checkpoints are listed as damaged.
      if (name.endsWith('.skc') || !/not a statekit checkpoint/.test((e as Error).message)) rows.push({ file, error: (e as Error).message })
    }
  }
  return rows.sort((a, b) => (b.info?.id ?? 0) - (a.info?.id ?? 0))
}

async function* records(file: string): AsyncGenerator<{ op: number; key: Buffer; value: Buffer | null; expiresAt: number }> {
  const stream = addon.CheckpointStream.open(file)
  for (;;) {
    const batch = stream.nextBatch(1024) as unknown[]
    if (batch.length === 0) return
    for (let i = 0; i < batch.length; i += 4) {
      yield { op: batch[i] as number, key: batch[i + 1] as Buffer, value: batch[i + 2] as Buffer | null, expiresAt: batch[i + 3] as number }
    }
    await new Promise((r) => setImmediate(r))
  }
}

/**
 * The keys of a checkpoint (with `prefix`, if given) in byte order, the first `limit`
 * of them if given. Blocks are each sorted but not the file, so every record is read;
 * with a limit only that many keys are held.
 */
async function smallestKeys(file: string, prefix: Buffer | undefined, limit: number | undefined): Promise<Array<{ key: Buffer; deleted: boolean }>> {
  const kept: Array<{ key: Buffer; deleted: boolean }> = []
  for await (const r of records(file)) {
    if (r.op === 2) continue
    if (prefix && !r.key.subarray(0, prefix.length).equals(prefix)) continue
    if (limit === undefined) {
      kept.push({ key: r.key, deleted: r.op === 1 })
      continue
    }
    if (kept.length === limit && Buffer.compare(r.key, kept[limit - 1]!.key) >= 0) continue
    // Binary search for its place among the smallest so far.
    let lo = 0
    let hi = kept.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (Buffer.compare(kept[mid]!.key, r.key) < 0) lo = mid + 1
      else hi = mid
    }
    kept.splice(lo, 0, { key: r.key, deleted: r.op === 1 })
    if (kept.length > limit) kept.pop()
  }
  if (limit === undefined) kept.sort((a, b) => Buffer.compare(a.key, b.key))
  return kept
}

async function write(line: string): Promise<void> {
  if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r))
}

/** Checkpoints with at least this many records show a progress bar while read. */
const PROGRESS_MIN = 100_000

/**
 * The chain `file` needs, the full checkpoint first and `file` last, found by id among
 * the checkpoints of its directory (as a restore finds them). `ERR_STATEKIT_CORRUPT` if
 * a checkpoint of it is missing.
 */
async function chainOf(file: string): Promise<string[]> {
  const dir = path.dirname(path.resolve(file))
  const info = await readCheckpointInfo(file)
  const { manifest } = await loadManifest(directoryStorage(dir))
  const byId = new Map<number, ManifestEntry>(manifest.checkpoints.map((c) => [c.id, c]))
  const own: ManifestEntry = { id: info.id, file: path.basename(file), kind: info.kind, createdAt: info.createdAt, entries: info.entries, bytes: info.bytes, metadata: info.metadata }
  if (info.baseId !== undefined) own.baseId = info.baseId
  byId.set(own.id, own)
  const ids = chainIds(own, byId)
  const missing = ids.find((id) => !byId.has(id))
  if (missing !== undefined) throw new StateError('ERR_STATEKIT_CORRUPT', `${file} builds on checkpoint ${missing}, which is not in ${dir}`)
  return ids.reverse().map((id) => path.join(dir, byId.get(id)!.file))
}

/**
 * Reads every record of each file of a chain, which verifies every block and the
 * file's checksum; a progress bar on stderr for large ones, stopped on every path.
 * Rejects with `ERR_STATEKIT_CORRUPT` naming the damage.
 */
async function verifyChain(chain: string[]): Promise<void> {
  let total = 0
  for (const f of chain) total += (await readCheckpointInfo(f)).entries
  const bar =
    total >= PROGRESS_MIN
      ? new cliProgress.SingleBar({ stream: process.stderr, noTTYOutput: true, notTTYSchedule: 1000, format: 'verify  [{bar}] {percentage}% {value}/{total} records' }, cliProgress.Presets.shades_classic)
      : undefined
  bar?.start(total, 0)
  try {
    let seen = 0
    for (const f of chain) {
      for await (const _ of records(f)) {
        if (++seen % 10_000 === 0) bar?.update(seen)
      }
    }
    bar?.update(seen)
  } finally {
    bar?.stop()
  }
}

async function withBackend<T>(fn: (b: MemoryBackend) => Promise<T>): Promise<T> {
  const b = new MemoryBackend()
  try {
    return await fn(b)
  } finally {
    await b.close()
  }
}

function pkgVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

const program = new Command()
program
  .name('statekit')
  .description('Inspect, verify, move and restore statekit checkpoints.')
  .version(pkgVersion(), '-V, --version')
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .addHelpText('after', '\nExit codes: 0 ok, 64 usage, 65 damaged or invalid data, 66 missing input, 74 I/O error, 75 locked.')

const example = (cmd: Command, text: string): Command => cmd.addHelpText('after', `\nExample:\n  ${text}`)

example(
  program
    .command('list <dir>')
    .description('list the checkpoints in a directory, newest first')
    .option('--json', 'machine output')
    .action(async (dir: string, o: { json?: boolean }) => {
      if (isStorageUrl(dir)) return listUrl(dir, o)
      if ((await mustExist(dir)) !== 'dir') throw new CliError(`${dir} is not a directory`, EXIT.usage)
      const rows = await listDir(dir)
      if (o.json) return json(rows.map((r) => (r.info ? { ...r.info, quickCheck: 'ok' } : { path: r.file, quickCheck: 'damaged', error: r.error })))
      const table = [['ID', 'KIND', 'BASE', 'CREATED', 'ENTRIES', 'BYTES', 'RATIO', 'CHECK', 'FILE']]
      for (const r of rows) {
        const i = r.info
        table.push(i
          ? [String(i.id), i.kind, i.baseId !== undefined ? String(i.baseId) : '-', iso(i.createdAt), String(i.entries), String(i.bytes), ratio(i), 'ok', path.basename(r.file)]
          : ['-', '-', '-', '-', '-', '-', '-', 'damaged', path.basename(r.file)])
      }
      printTable(table)
    }),
  'statekit list /var/lib/app/checkpoints',
)

example(
  program
    .command('inspect <file>')
    .description('show a checkpoint: header, metadata, blocks, compression ratio; --keys lists keys')
    .option('--keys', 'list the keys')
    .option('--prefix <prefix>', 'only keys starting with this (with --keys)')
    .addOption(new Option('--limit <n>', 'at most n keys (with --keys)').argParser(positiveInt))
    .addOption(new Option('--encoding <enc>', 'how keys are printed').choices(ENCODINGS).default('utf8'))
    .option('--json', 'machine output')
    .action(async (file: string, o: { keys?: boolean; prefix?: string; limit?: number; encoding: Encoding; json?: boolean }) => {
      file = await localFile(file)
      await mustExist(file)
      const info = await readCheckpointInfo(file)
      const blocks = addon.checkpointBlocks(file)
      let keys: string[] | undefined
      if (o.keys) {
        const prefix = o.prefix === undefined ? undefined : Buffer.from(o.prefix, 'utf8')
        const found = await smallestKeys(file, prefix, o.limit)
        keys = found.map((r) => encode(r.key, o.encoding) + (r.deleted ? ' (deleted)' : ''))
      }
      if (o.json) return json({ ...info, ratio: info.bytes > 0 ? info.rawBytes / info.bytes : null, blocks, ...(keys ? { keys } : {}) })
      out(`file         ${info.path}`)
      out(`id           ${info.id}`)
      out(`kind         ${info.kind}${info.baseId !== undefined ? ` (base ${info.baseId})` : ''}`)
      out(`created      ${iso(info.createdAt)}`)
      out(`entries      ${info.entries}`)
      out(`compression  ${info.compression}`)
      out(`bytes        ${info.bytes} (raw ${info.rawBytes}, ratio ${ratio(info)})`)
      out(`metadata     ${JSON.stringify(info.metadata)}`)
      out(`blocks       ${blocks.length}`)
      blocks.forEach((b, i) => out(`  #${i}  offset ${b.offset}  raw ${b.rawBytes}  stored ${b.storedBytes}  records ${b.records}`))
      if (keys) for (const k of keys) out(k)
    }),
  'statekit inspect cp.skc --keys --prefix user: --limit 20',
)

example(
  program
    .command('verify <path>')
    .description('verify a checkpoint, or every checkpoint in a directory; silent on success')
    .option('--quick', 'check only the header, the footer and the sizes')
    .option('--json', 'machine output')
    .action(async (target: string, o: { quick?: boolean; json?: boolean }) => {
      if (isStorageUrl(target)) return verifyUrl(target, o)
      const kind = await mustExist(target)
      const files = kind === 'dir' ? (await listDir(target)).map((r) => r.file) : [target]
      const results: Array<{ path: string; ok: boolean; error?: string }> = []
      for (const f of files) {
        if (o.quick) {
          try {
            await readCheckpointInfo(f)
            results.push({ path: f, ok: true })
          } catch (e) {
            if ((e as StateError).code !== 'ERR_STATEKIT_CORRUPT') throw e
            results.push({ path: f, ok: false, error: (e as Error).message })
          }
        } else {
          const v = await verifyCheckpoint(f)
          results.push(v.ok ? { path: f, ok: true } : { path: f, ok: false, error: v.error })
        }
      }
      if (o.json) json(results)
      const bad = results.filter((r) => !r.ok)
      for (const r of bad) if (!o.json) process.stderr.write(`statekit: ${r.error}\n`)
      if (bad.length > 0) process.exitCode = EXIT.data
    }),
  'statekit verify /var/lib/app/checkpoints',
)

example(
  program
    .command('restore <source>')
    .description('restore a checkpoint (or the newest valid one in a directory) into a sled directory')
    .requiredOption('--into <sled-dir>', 'the sled directory to restore into')
    .option('--dry-run', 'verify and report, change nothing')
    .option('--force', 'replace what a non-empty directory holds')
    .option('--json', 'machine output')
    .action(async (source: string, o: { into: string; dryRun?: boolean; force?: boolean; json?: boolean }) => {
      source = await localSource(source)
      const sourceKind = await mustExist(source)
      const target = o.into
      const targetKind = await exists(target)
      if (targetKind === 'file') throw new CliError(`${target} is a file, not a directory`, EXIT.usage)
      const nonEmpty = targetKind === 'dir' && (await fsp.readdir(target)).length > 0
      if (nonEmpty && (await exists(path.join(target, 'statekit.lock')))) {
        // Held by a running store? Opening tells (and fails with LOCKED if so).
        const probe = await SledBackend.open({ path: target })
        await probe.close()
      }
      if (nonEmpty && !o.force) throw new CliError(`${target} is not empty; use --force to replace its contents`, EXIT.usage)
      // Read every record of the checkpoint and of the chain it needs once: it verifies
      // them (a restore needs them all whole), and shows progress. From a directory, the
      // newest checkpoint whose chain verifies is chosen, as restoreLatest does.
      let file: string
      let skipped: SkippedCheckpoint[] = []
      if (sourceKind === 'dir') {
        const r = await tryNewestFirst(directoryStorage(source), async (c) => verifyChain(c.chain))
        skipped = r.skipped
        for (const s of skipped) process.stderr.write(`statekit: skipping ${s.file}: ${s.reason}\n`)
        if (!r.found) throw new CliError(`${source}: no checkpoint in it restores whole`, EXIT.data)
        file = r.found.candidate.path
      } else {
        file = source
        await verifyChain(await chainOf(file))
      }
      const info = await readCheckpointInfo(file)
      if (o.dryRun) {
        const summary = { dryRun: true, source: path.resolve(file), into: path.resolve(target), id: info.id, kind: info.kind, entries: info.entries, metadata: info.metadata, skipped }
        return o.json ? json(summary) : out(`would restore ${summary.source} (id ${info.id}, ${info.entries} records) into ${summary.into}`)
      }
      if (info.entries >= PROGRESS_MIN) process.stderr.write('restoring...\n')
      let r: Awaited<ReturnType<SledBackend['restore']>>
      try {
        const store = await SledBackend.open({ path: target })
        try {
          r = await store.restore(file)
          await store.flush()
        } finally {
          await store.close()
        }
      } catch (e) {
        // A failed restore into a directory that did not exist, or was empty, leaves
        // nothing behind (a full disk must not leave sled's files, which would also
        // make the next attempt need --force). A store that was there is left to sled,
        // which keeps its old state.
        if (targetKind === null) await fsp.rm(target, { recursive: true, force: true }).catch(() => {})
        else if (!nonEmpty) await emptyDir(target)
        throw e
      }
      const summary = { source: path.resolve(file), into: path.resolve(target), id: r.id, chain: r.chain, entries: r.entries, expired: r.expired, durationMs: Math.round(r.durationMs), metadata: r.metadata, skipped }
      if (o.json) json(summary)
      else out(`restored ${summary.entries} entries (${summary.expired} expired, left out) from ${summary.source} (id ${r.id}) into ${summary.into} in ${summary.durationMs} ms`)
    }),
  'statekit restore /var/lib/app/checkpoints --into /var/lib/app/state --force',
)

example(
  program
    .command('export <file>')
    .description(
      'stream the entries as JSON lines: a header {"statekit":"export","version":1,"encoding"}, then {"key","value","expiresAt"} (and {"key","deleted":true} in an incremental checkpoint)',
    )
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl']).default('jsonl'))
    .addOption(new Option('--encoding <enc>', 'how keys and values are written (utf8 needs valid UTF-8)').choices(ENCODINGS).default('utf8'))
    .action(async (file: string, o: { encoding: Encoding }) => {
      file = await localFile(file)
      await mustExist(file)
      const header: ExportHeader = { statekit: 'export', version: 1, encoding: o.encoding }
      await write(JSON.stringify(header) + '\n')
      let n = 0
      for await (const r of records(file)) {
        n++
        const key = exportText(r.key, o.encoding, 'key', n)
        const line =
          r.op === 0
            ? { key, value: exportText(r.value!, o.encoding, 'value', n), expiresAt: r.expiresAt === 0 ? null : r.expiresAt }
            : r.op === 1
              ? { key, deleted: true }
              : { clear: true }
        await write(JSON.stringify(line) + '\n')
      }
    }),
  'statekit export cp.skc --encoding base64 > entries.jsonl',
)

example(
  program
    .command('import <jsonl>')
    .description('build a full checkpoint from JSON lines {"key","value","expiresAt"?}, as `export` writes them')
    .requiredOption('--out <checkpoint>', 'the checkpoint file to write')
    .addOption(
      new Option('--encoding <enc>', "how keys and values are written in the input (default: the export header's, else utf8)").choices(ENCODINGS),
    )
    .addOption(new Option('--compression <c>', 'block compression').choices(['zstd', 'lz4', 'none']).default('zstd'))
    .option('--json', 'machine output')
    .action(async (input: string, o: { out: string; encoding?: Encoding; compression: string; json?: boolean }) => {
      await mustExist(input)
      let encoding: Encoding = o.encoding ?? 'utf8'
      await outputDirExists(o.out)
      const builder = addon.CheckpointBuilder.create(o.out, o.compression, JSON.stringify({ importedFrom: path.basename(input) }))
      let keys: Buffer[] = []
      let values: Buffer[] = []
      let expires: number[] = []
      let line = 0
      const flush = (): void => {
        builder.add(keys, values, expires)
        keys = []
        values = []
        expires = []
      }
      try {
        for await (const text of readline.createInterface({ input: createReadStream(input), crlfDelay: Infinity })) {
          line++
          if (text.trim() === '') continue
          let rec: { key?: unknown; value?: unknown; expiresAt?: unknown; deleted?: unknown; clear?: unknown }
          try {
            rec = JSON.parse(text) as typeof rec
          } catch {
            throw new CliError(`${input}: line ${line} is not JSON`, EXIT.data)
          }
          if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
            throw new CliError(`${input}: line ${line} is not an entry object: ${text.slice(0, 80)}`, EXIT.data)
          }
          if (isExportHeader(rec)) {
            const h = rec as { version: unknown; encoding: unknown }
            if (line !== 1) throw new CliError(`${input}: line ${line}: an export header belongs on the first line`, EXIT.data)
            if (h.version !== 1 || !ENCODINGS.includes(h.encoding as Encoding)) {
              throw new CliError(`${input}: line 1: unsupported export header ${text}`, EXIT.data)
            }
            if (o.encoding !== undefined && o.encoding !== h.encoding) {
              throw new CliError(`${input} was exported with --encoding ${String(h.encoding)}, not ${o.encoding}`, EXIT.usage)
            }
            encoding = h.encoding as Encoding
            continue
          }
          if (rec.deleted || rec.clear) throw new CliError(`${input}: line ${line}: import builds a full checkpoint and takes entries only`, EXIT.data)
          const exp = rec.expiresAt ?? 0
          if (typeof exp !== 'number' || !(exp >= 0)) throw new CliError(`${input}: line ${line}: expiresAt must be a number or null`, EXIT.data)
          keys.push(decode(rec.key, encoding, 'key', line))
          values.push(decode(rec.value, encoding, 'value', line))
          expires.push(exp)
          if (keys.length === 1000) flush()
        }
        flush()
      } catch (e) {
        builder.abort()
        await fsp.rm(o.out, { force: true }).catch(() => {})
        if (e instanceof CliError) throw e
        throw new CliError(`${input}: line ${line}: ${(e as Error).message}`, exitCodeOf(e) === EXIT.usage ? EXIT.data : exitCodeOf(e))
      }
      builder.finish()
      const info = await readCheckpointInfo(o.out)
      if (o.json) json(info)
      else out(`wrote ${info.entries} entries to ${info.path} (${info.bytes} bytes)`)
    }),
  'statekit import entries.jsonl --out migrated.skc',
)

example(
  program
    .command('diff <a> <b>')
    .description('keys added, removed and changed from checkpoint a to checkpoint b')
    .addOption(new Option('--encoding <enc>', 'how keys are printed').choices(ENCODINGS).default('utf8'))
    .option('--json', 'machine output')
    .action(async (a: string, b: string, o: { encoding: Encoding; json?: boolean }) => {
      await mustExist(a)
      await mustExist(b)
      const result = await withBackend(async (ba) =>
        withBackend(async (bb) => {
          await ba.restore(a)
          await bb.restore(b)
          const added: string[] = []
          const removed: string[] = []
          const changed: string[] = []
          const ia = ba.entries()
          const ib = bb.entries()
          let ea = await ia.next()
          let eb = await ib.next()
          while (!ea.done || !eb.done) {
            const c = ea.done ? 1 : eb.done ? -1 : Buffer.compare(ea.value[0], eb.value[0])
            if (c < 0) {
              removed.push(encode(ea.value![0], o.encoding))
              ea = await ia.next()
            } else if (c > 0) {
              added.push(encode(eb.value![0], o.encoding))
              eb = await ib.next()
            } else {
              if (!ea.value![1].equals(eb.value![1])) changed.push(encode(ea.value![0], o.encoding))
              ea = await ia.next()
              eb = await ib.next()
            }
          }
          return { added, removed, changed }
        }),
      )
      if (o.json) return json(result)
      out(`added ${result.added.length}, removed ${result.removed.length}, changed ${result.changed.length}`)
      for (const k of result.added) out(`+ ${k}`)
      for (const k of result.removed) out(`- ${k}`)
      for (const k of result.changed) out(`~ ${k}`)
    }),
  'statekit diff yesterday.skc today.skc --json',
)

example(
  program
    .command('prune <dir>')
    .description('delete all but the newest N checkpoints, never one a kept incremental checkpoint needs')
    .addOption(new Option('--keep <n>', 'how many to keep').argParser(positiveInt).makeOptionMandatory())
    .option('--json', 'machine output')
    .action(async (dir: string, o: { keep: number; json?: boolean }) => {
      if (!isStorageUrl(dir) && (await mustExist(dir)) !== 'dir') throw new CliError(`${dir} is not a directory`, EXIT.usage)
      const dropped = await retain(storageFor(dir), undefined, o.keep)
      if (o.json) return json({ deleted: dropped.map((d) => d.file) })
      for (const d of dropped) out(`deleted ${d.file}`)
    }),
  'statekit prune /var/lib/app/checkpoints --keep 5',
)

example(
  program
    .command('snapshot <sled-dir>')
    .description('take a checkpoint of a sled directory that no process holds')
    .requiredOption('--out <file>', 'the checkpoint file to write')
    .addOption(new Option('--compression <c>', 'block compression').choices(['zstd', 'lz4', 'none']).default('zstd'))
    .option('--json', 'machine output')
    .action(async (dir: string, o: { out: string; compression: 'zstd' | 'lz4' | 'none'; json?: boolean }) => {
      if ((await mustExist(dir)) !== 'dir') throw new CliError(`${dir} is not a directory`, EXIT.usage)
      await outputDirExists(o.out)
      const store = await SledBackend.open({ path: dir })
      try {
        const info = await store.checkpoint(o.out, { compression: o.compression })
        if (o.json) json(info)
        else out(`wrote ${info.entries} entries to ${info.path} (${info.bytes} bytes)`)
      } finally {
        await store.close()
      }
    }),
  'statekit snapshot /var/lib/app/state --out state.skc',
)

registerStorageCommands(program, example)

function positiveInt(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new CliError(`expected a positive integer, got '${v}'`, EXIT.usage)
  return n
}

/**
 * A reader that stops early (`statekit export f | head`) closes our stdout; end quietly
 * with success then, as Unix tools do, instead of dying on an unhandled EPIPE.
 */
function endQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok)
    process.stderr.write(`statekit: cannot write the output: ${e.message}\n`)
    process.exit(EXIT.io)
  })
}

async function main(): Promise<void> {
  endQuietlyOnClosedPipe()
  try {
    // An argument too many is a usage error (64), never silently ignored.
    for (const c of program.commands) c.allowExcessArguments(false)
    await program.parseAsync(process.argv)
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; a bad argument has been printed with the usage.
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage
      return
    }
    const code = exitCodeOf(e)
    process.stderr.write(`statekit: ${(e as Error)?.message ?? String(e)}\n`)
    if (code === EXIT.usage && !(e instanceof CliError)) process.stderr.write(`${program.helpInformation().split('\n')[0]}\n`)
    process.exitCode = code
  }
}

void main()
