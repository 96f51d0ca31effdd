// Faults on a real filesystem (issue 13): a full disk (a small tmpfs this file mounts)
// and a read-only directory (chattr +i, or a read-only remount), for checkpoints, sled
// writes, the coordinator and the CLI. Each must fail with ERR_STATEKIT_IO (the CLI
// with exit code 74), harm nothing written before, leave no temp or partial file, and
// succeed on the next attempt once space (or write access) returns.
//
// Runs as root (CI does): mounting and chattr need it. Not root is a failure, not a skip.
import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CheckpointCoordinator, MemoryBackend, SledBackend, verifyCheckpoint } from '../dist/index.js'
import {
  files,
  fillUp,
  freeSpace,
  hasStackTrace,
  leavePages,
  makeImmutable,
  makeWritable,
  mountTmpfs,
  remountReadOnly,
  requireRoot,
  track,
  tree,
} from './helpers/fault-fs.mjs'
import { snapshot } from './helpers/snapshot.mjs'
import { tempDir } from './helpers/tmp.mjs'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const SLED_FAULT = fileURLToPath(new URL('./fixtures/sled-fault.mjs', import.meta.url))
const ENOSPC = /No space left on device|ENOSPC/
const EPERM = /Operation not permitted|EPERM/
const EROFS = /Read-only file system|EROFS/

test('the fault tests run as root (they fail, not skip, without it)', (t) => {
  t.notThrows(requireRoot)
})

/** A backend of either tier holding 300 small entries; closed at teardown. */
async function filled(t, tier) {
  const b = tier === 'memory' ? new MemoryBackend() : await SledBackend.open({ path: path.join(tempDir(t), 'store'), flushEveryMs: null })
  t.teardown(() => b.close().catch(() => {}))
  await b.putMany(Array.from({ length: 300 }, (_, i) => [`k${String(i).padStart(3, '0')}`, `value ${i} `.repeat(8)]))
  return b
}

async function restoredSnapshot(file) {
  const r = new MemoryBackend()
  try {
    const info = await r.restore(file)
    return { info, entries: await snapshot(r) }
  } finally {
    await r.close()
  }
}

/** The three ways a directory refuses a write, each undone by `undo()`. */
const FAULTS = {
  'a full disk': { apply: (mnt) => fillUp(mnt), undo: (mnt, filler) => freeSpace(filler), message: ENOSPC },
  'an immutable directory': { apply: (mnt, dir) => makeImmutable(dir), undo: (mnt, _, dir) => makeWritable(dir), message: EPERM },
  'a read-only filesystem': { apply: (mnt) => remountReadOnly(mnt, true), undo: (mnt) => remountReadOnly(mnt, false), message: EROFS },
}

// ---------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------

for (const tier of ['memory', 'sled']) {
  for (const [faultName, fault] of Object.entries(FAULTS)) {
    test.serial(`${tier} checkpoint() onto ${faultName}: ERR_STATEKIT_IO, no temp or partial file, earlier checkpoints intact, the next one after it is undone succeeds`, async (t) => {
      const mnt = mountTmpfs(t)
      const cp = path.join(mnt, 'cp')
      fs.mkdirSync(cp)
      const b = await filled(t, tier)
      const first = await b.checkpoint(path.join(cp, '0001.skc'), { metadata: { offset: 1 } })
      const atFirst = await snapshot(b)
      const firstBytes = fs.readFileSync(first.path)
      await b.put('k007', 'changed')
      await b.delete('k008')

      const token = fault.apply(mnt, cp)
      for (const opts of [{}, { incremental: true }, { compression: 'none' }, { compression: 'lz4', metadata: { offset: 2 } }]) {
        const e = await t.throwsAsync(b.checkpoint(path.join(cp, '0002.skc'), opts), undefined, JSON.stringify(opts))
        t.is(e.code, 'ERR_STATEKIT_IO', `${JSON.stringify(opts)}: ${e.message}`)
        t.regex(e.message, fault.message)
        t.deepEqual(files(cp), ['0001.skc'], 'no temp file and no partial checkpoint')
      }
      t.is(b.stats().entryCount, 299, 'the backend is unharmed')
      fault.undo(mnt, token, cp)

      t.true(fs.readFileSync(first.path).equals(firstBytes), 'the earlier checkpoint is byte for byte the same')
      t.true((await verifyCheckpoint(first.path)).ok)
      t.deepEqual((await restoredSnapshot(first.path)).entries, atFirst)

      // The failed attempts did not disturb the incremental base either.
      const next = await b.checkpoint(path.join(cp, '0002.skc'), { incremental: true, metadata: { offset: 2 } })
      t.is(next.kind, 'incremental')
      t.is(next.baseId, first.id)
      t.true((await verifyCheckpoint(next.path)).ok)
      const r = await restoredSnapshot(next.path)
      t.deepEqual(r.info.chain, [first.id, next.id])
      t.deepEqual(r.entries, await snapshot(b))
      t.deepEqual(files(cp), ['0001.skc', '0002.skc'])
    })
  }
}

// ---------------------------------------------------------------------------------
// Sled writes (in a child process: a hang must not stall the run)
// ---------------------------------------------------------------------------------

/** Runs the sled fixture on `mnt`; resolves with its report and whether it exited by itself. */
function sledFault(mnt, ...args) {
  return new Promise((resolve, reject) => {
    const child = track(mnt, spawn(process.execPath, [SLED_FAULT, args[0], mnt, ...args.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] }))
    let stdout = ''
    let stderr = ''
    let report
    let killer
    const deadline = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.stdout.on('data', (d) => {
      stdout += d
      const m = /^REPORT (.*)$/m.exec(stdout)
      if (m && !report) {
        report = JSON.parse(m[1])
        // It asked to exit: give it a moment, then kill it.
        killer = setTimeout(() => child.kill('SIGKILL'), 2000)
      }
    })
    child.stderr.on('data', (d) => (stderr += d))
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(deadline)
      clearTimeout(killer)
      resolve({ report, exitedByItself: signal === null, code, signal, stderr })
    })
  })
}

// One run of the small-values scenario per flush mode, shared by the two tests that
// read it; its mount outlives them and is unmounted when the file ends.
const small = new Map()
const shared = { teardowns: [], teardown: (fn) => shared.teardowns.push(fn) }
test.after.always(() => shared.teardowns.reverse().forEach((fn) => fn()))
function smallRun(flushEveryMs) {
  if (!small.has(flushEveryMs)) small.set(flushEveryMs, sledFault(mountTmpfs(shared, '8m'), 'small', String(flushEveryMs)))
  return small.get(flushEveryMs)
}

for (const flushEveryMs of [null, 25]) {
  test.serial(`sled writes on a full disk (flushEveryMs ${flushEveryMs}): ERR_STATEKIT_IO, the process lives, every batch acknowledged by flush() survives reopening, and writes succeed after reopening`, async (t) => {
    const { report: r, stderr } = await smallRun(flushEveryMs)
    t.truthy(r, `the fixture reported (stderr: ${stderr})`)
    t.is(r.uncaught, undefined)
    t.truthy(r.failure, 'the disk filled up')
    t.is(r.failure.code, 'ERR_STATEKIT_IO', r.failure.message)
    t.regex(r.failure.message, ENOSPC)
    t.true(r.acked > 0, 'some batches were flushed before the disk filled')
    // sled can write as it reads (it tidies pages), so while the disk is full a read may
    // fail too; then the store tries to reopen, which needs room. It must not hang.
    t.true(r.readAfterFailure.ok || r.readAfterFailure.code === 'ERR_STATEKIT_IO', JSON.stringify(r.readAfterFailure))
    // close() may report that its last flush failed, but it must settle and release the directory.
    t.false(r.close.hang === true, 'close() settles')
    t.true(r.close.ok || r.close.code === 'ERR_STATEKIT_IO', JSON.stringify(r.close))
    t.true(r.closed)
    t.true(r.reopen.ok, JSON.stringify(r.reopen))
    t.is(r.missing, 0, 'no acknowledged batch is missing')
    t.is(r.wrong, 0, 'no acknowledged batch is torn or changed')
    t.true(r.writeAfterReopen.ok)
    t.true(r.flushAfterReopen.ok, JSON.stringify(r.flushAfterReopen))
    t.true(r.closeAfterReopen.ok)
  })

  // sled keeps its first I/O error for good; the tier reopens sled behind the handle
  // (crates/statekit-core/src/sled/recover.rs).
  test.serial(`sled on a full disk (flushEveryMs ${flushEveryMs}): once space returns, the same open store writes, flushes and closes again, with every acknowledged batch; a scan from before ends`, async (t) => {
    const { report: r, stderr } = await smallRun(flushEveryMs)
    t.truthy(r, `the fixture reported (stderr: ${stderr})`)
    t.truthy(r.failure)
    t.deepEqual(r.sameHandleWrite, { ok: true })
    t.deepEqual(r.sameHandleFlush, { ok: true })
    t.deepEqual(r.sameHandle, { missing: 0, wrong: 0 }, 'the same handle reads every acknowledged batch')
    t.true(r.reopenCount >= 0)
    if (r.scanBefore.ok) {
      t.deepEqual(r.scanAfterReopen, { ok: true })
      // Reopened: the scan gives the page it had read and ends; not reopened (the error
      // was statekit's flush record, and sled still flushed): it reads on.
      if (r.reopenCount > 0) t.true(r.acked * 20 > 256 && r.scanned <= 256, `the scan ended after the page it had read (${r.scanned} of ${r.acked * 20} entries)`)
      else t.true(r.scanned >= r.acked * 20, `the scan went on (${r.scanned} of ${r.acked * 20} entries)`)
    }
    t.deepEqual(r.close, { ok: true })
    t.is(r.afterSpace, 'returned', 'the write after space returned was flushed and survives reopening')
  })
}

for (const fault of ['full', 'immutable']) {
  // Published sled 0.34.7 never released its log buffer when a blob file (a value over
  // ~128 KB) failed to write, so every later flush() and close() hung; the vendored
  // sled carries the fix (vendor/sled/STATEKIT.md).
  test.serial(`a large value (a sled blob) on ${fault === 'full' ? 'a full disk' : 'an immutable store directory'}: ERR_STATEKIT_IO, flush and close settle, and writes succeed once it is undone`, async (t) => {
    const mnt = mountTmpfs(t)
    const { report: r, exitedByItself, stderr } = await sledFault(mnt, 'big', fault)
    t.truthy(r, `the fixture reported (stderr: ${stderr})`)
    t.is(r.uncaught, undefined)
    t.is(r.bigPut.code, 'ERR_STATEKIT_IO', JSON.stringify(r.bigPut))
    t.regex(r.bigPut.message, fault === 'full' ? ENOSPC : EPERM)
    t.false(r.flushAfterFault.hang === true, 'flush() after the failed write settles')
    t.true(r.flushAfterFault.ok || r.flushAfterFault.code === 'ERR_STATEKIT_IO', JSON.stringify(r.flushAfterFault))
    t.deepEqual(r.writeAfterUndo, { ok: true })
    t.deepEqual(r.bigPutAfterUndo, { ok: true })
    t.deepEqual(r.flushAfterUndo, { ok: true })
    t.deepEqual(r.readAfterUndo, { ok: true })
    t.deepEqual(r.close, { ok: true })
    t.true(exitedByItself, 'the process exits')
  })
}

test.serial('opening a sled store on a read-only filesystem: ERR_STATEKIT_IO, nothing changed; after remounting read-write it opens with every flushed entry', async (t) => {
  const mnt = mountTmpfs(t)
  const state = path.join(mnt, 'state')
  let s = await SledBackend.open({ path: state, flushEveryMs: null })
  await s.putMany(Array.from({ length: 50 }, (_, i) => [`k${i}`, `v${i}`]))
  await s.flush()
  const before = await snapshot(s)
  await s.close()
  const layout = tree(state)

  remountReadOnly(mnt, true)
  const e = await t.throwsAsync(SledBackend.open({ path: state }))
  t.is(e.code, 'ERR_STATEKIT_IO', e.message)
  t.regex(e.message, EROFS)
  const e2 = await t.throwsAsync(SledBackend.open({ path: path.join(mnt, 'new') }))
  t.is(e2.code, 'ERR_STATEKIT_IO', e2.message)
  remountReadOnly(mnt, false)

  t.deepEqual(tree(state), layout)
  t.false(fs.existsSync(path.join(mnt, 'new')))
  s = await SledBackend.open({ path: state, flushEveryMs: null })
  t.teardown(() => s.close().catch(() => {}))
  t.deepEqual(await snapshot(s), before)
  await s.put('after', 'rw')
  await s.flush()
  await s.close()
})

// DEFECT (engine, crates/statekit-core/src/sled/open.rs, and sled 0.34): opening a
// healthy store on a full disk fails with ERR_STATEKIT_IO as it should, but in about
// 1 of 2 to 1 of 12 tries sled has already created its next snapshot file and leaves
// it behind empty (snap.<lsn>.generating, its lsn above the last good snapshot's).
// Once space returns, every open of that healthy store fails with
// ERR_STATEKIT_CORRUPT "is damaged: corrupt data", so openWithRecovery would move it
// aside and fall back to a checkpoint; deleting the empty file opens it with every
// entry. The leftover is made directly here, so the test is deterministic.
test.serial('a healthy sled store with the empty snap.*.generating a failed open on a full disk leaves still opens, with its data, and is not moved aside', async (t) => {
  const state = path.join(tempDir(t), 'state')
  let s = await SledBackend.open({ path: state })
  await s.putMany(Array.from({ length: 40 }, (_, i) => [`k${i}`, `v${i}`]))
  await s.close()
  s = await SledBackend.open({ path: state })
  const before = await snapshot(s)
  await s.close()
  const snap = files(state).find((n) => /^snap\.[0-9A-F]{16}$/.test(n))
  t.truthy(snap, 'sled wrote a snapshot')
  const next = (BigInt(`0x${snap.slice(5)}`) + 0x150n).toString(16).toUpperCase().padStart(16, '0')
  fs.writeFileSync(path.join(state, `snap.${next}.generating`), '')
  const { backend, report } = await SledBackend.openWithRecovery({ path: state }, { checkpointDir: tempDir(t) })
  t.teardown(() => backend.close().catch(() => {}))
  t.false(report.damaged, JSON.stringify(report))
  t.deepEqual(await snapshot(backend), before)
})

test.serial('a sled restore() on a full disk: ERR_STATEKIT_IO and the store keeps its data', async (t) => {
  const mnt = mountTmpfs(t)
  const src = await filled(t, 'memory')
  const cp = await src.checkpoint(path.join(tempDir(t), 'src.skc'))
  const s = await SledBackend.open({ path: path.join(mnt, 'state'), flushEveryMs: null })
  t.teardown(() => s.close().catch(() => {}))
  await s.putMany(Array.from({ length: 40 }, (_, i) => [`old${i}`, `o${i}`]))
  await s.flush()
  const before = await snapshot(s)
  const filler = fillUp(mnt)
  const e = await t.throwsAsync(s.restore(cp.path))
  t.is(e.code, 'ERR_STATEKIT_IO', e.message)
  t.regex(e.message, ENOSPC)
  t.deepEqual(await snapshot(s), before, 'nothing of the old state changed')
  freeSpace(filler)
  // The same handle cannot be used again (see the sticky-error defect above): reopen.
  await s.close().catch(() => {})
  const again = await SledBackend.open({ path: path.join(mnt, 'state'), flushEveryMs: null })
  t.teardown(() => again.close().catch(() => {}))
  t.deepEqual(await snapshot(again), before, 'the flushed state survives')
  const r = await again.restore(cp.path)
  t.is(r.entries, 300)
  t.deepEqual(await snapshot(again), await snapshot(src))
  await again.close()
})

// ---------------------------------------------------------------------------------
// The coordinator
// ---------------------------------------------------------------------------------

function manifestFiles(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).checkpoints.map((c) => c.file)
}

/** The manifest lists `expected` (or just whole files), each verifies, and nothing else is in the directory. */
async function assertWholeManifest(t, dir, expected) {
  const listed = manifestFiles(dir)
  if (expected) t.deepEqual(listed, expected)
  for (const f of listed) {
    const p = path.join(dir, f)
    t.true(fs.existsSync(p), `${f} is listed and present`)
    if (fs.existsSync(p)) t.true((await verifyCheckpoint(p)).ok, `${f} verifies`)
  }
  t.deepEqual(files(dir), [...listed, 'manifest.json'].sort(), 'no temp file, no unlisted checkpoint')
  return listed
}

async function until(cond, ms = 5000) {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 10))
  }
  return true
}

for (const faultName of ['a full disk', 'an immutable directory']) {
  const fault = FAULTS[faultName]
  test.serial(`coordinator onto ${faultName}: an 'error' event and a counted failure, the manifest lists only whole checkpoints, and the next checkpoint after it is undone succeeds`, async (t) => {
    const mnt = mountTmpfs(t)
    const dir = path.join(mnt, 'cp')
    const b = await filled(t, 'memory')
    let offset = 0
    const c = new CheckpointCoordinator(b, { dir, interval: 30, maxCheckpoints: 3, metadata: () => ({ offset }) })
    t.teardown(() => c.shutdown().catch(() => {}))
    const errors = []
    c.on('error', (e) => errors.push(e))
    for (let i = 0; i < 3; i++) {
      await b.put('offset', String(++offset))
      await c.createCheckpoint()
    }
    const committed = await assertWholeManifest(t, dir)
    t.is(committed.length, 3)
    const bytes = Object.fromEntries(committed.map((f) => [f, fs.readFileSync(path.join(dir, f))]))

    const token = fault.apply(mnt, dir)
    await b.put('offset', String(++offset))
    const e = await t.throwsAsync(c.createCheckpoint())
    t.is(e.code, 'ERR_STATEKIT_IO', e.message)
    t.regex(e.message, fault.message)
    t.is(errors.length, 1)
    t.is(errors[0], e, 'the rejection is the emitted error')
    t.like(c.stats(), { checkpointsCreated: 3, checkpointFailures: 1 })
    await assertWholeManifest(t, dir, committed)

    if (faultName === 'a full disk') {
      // Room for the checkpoint file but not for the manifest: the commit fails, and
      // the written file is removed.
      leavePages(token, Math.ceil(c.stats().lastCheckpointBytes / 4096))
      const e2 = await t.throwsAsync(c.createCheckpoint())
      t.is(e2.code, 'ERR_STATEKIT_IO', e2.message)
      t.regex(e2.message, /manifest\.json/, 'it was the manifest that did not fit')
      t.like(c.stats(), { checkpointsCreated: 3, checkpointFailures: 2 })
      await assertWholeManifest(t, dir, committed)
      fillUp(mnt)
    }

    // Periodic checkpoints keep failing quietly (counted and emitted, never thrown).
    const failures = c.stats().checkpointFailures
    c.start()
    t.true(await until(() => c.stats().checkpointFailures >= failures + 2), 'the timer tries again')
    t.is(c.stats().checkpointsCreated, 3)
    t.true(errors.every((x) => x.code === 'ERR_STATEKIT_IO'))
    await assertWholeManifest(t, dir, committed)
    for (const f of committed) if (fs.existsSync(path.join(dir, f))) t.true(fs.readFileSync(path.join(dir, f)).equals(bytes[f]), `${f} unchanged`)

    fault.undo(mnt, faultName === 'a full disk' ? { file: path.join(mnt, 'filler') } : token, dir)
    t.true(await until(() => c.stats().checkpointsCreated >= 4), 'the next interval succeeds')
    const last = await c.shutdown()
    t.truthy(last)
    const listed = await assertWholeManifest(t, dir)
    t.true(listed.length <= 3 && listed.includes(path.basename(last.path)))
    const r = new MemoryBackend()
    t.teardown(() => r.close())
    const report = await new CheckpointCoordinator(r, { dir, interval: 60_000 }).restoreLatest()
    t.true(report.restored)
    t.is(report.checkpoint.metadata.offset, offset)
    t.deepEqual(await snapshot(r), await snapshot(b))
  })
}

// DEFECT (ts/coordinator.ts #run / ts/manifest.ts retain): when retention cannot delete
// an old checkpoint file (here it is immutable), #commit has already written the
// manifest that lists the new checkpoint; #run then deletes that new file, so the
// manifest lists a checkpoint that does not exist. The error is also a raw
// "ENOTDIR: not a directory, scandir '<old file>'" (fs.rm's retry as a directory).
test.serial('coordinator: a checkpoint the manifest lists is never deleted, even if retention cannot delete an old one', async (t) => {
  const mnt = mountTmpfs(t)
  const dir = path.join(mnt, 'cp')
  const b = await filled(t, 'memory')
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000, maxCheckpoints: 2 })
  c.on('error', () => {})
  await c.createCheckpoint()
  await c.createCheckpoint()
  const [oldest] = manifestFiles(dir)
  makeImmutable(path.join(dir, oldest))
  await b.put('k000', 'newest')
  await c.createCheckpoint().catch(() => {})
  makeWritable(path.join(dir, oldest))
  for (const f of manifestFiles(dir)) {
    t.true(fs.existsSync(path.join(dir, f)), `${f} is listed, so it must exist`)
  }
  const r = new MemoryBackend()
  t.teardown(() => r.close())
  await new CheckpointCoordinator(r, { dir, interval: 60_000 }).restoreLatest()
  t.is(String(await r.get('k000')), 'newest', 'the newest state is restorable')
})

// ---------------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------------

function cli(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr }),
    )
  })
}

/** Sources off the faulty filesystem: checkpoints, JSON lines (small, and over two 4 MiB blocks), a closed sled store. */
async function cliSources(t) {
  const src = tempDir(t)
  const m = await filled(t, 'memory')
  const cp = await m.checkpoint(path.join(src, 'src.skc'))
  const expected = await snapshot(m)
  fs.writeFileSync(path.join(src, 'small.jsonl'), expected.map(([k, v]) => JSON.stringify({ key: Buffer.from(k, 'hex').toString(), value: Buffer.from(v, 'hex').toString() })).join('\n') + '\n')
  const v = 'x'.repeat(1000)
  // Over two 4 MiB blocks: the write fails while records are still being added, not only at the end.
  fs.writeFileSync(path.join(src, 'big.jsonl'), Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ key: `big${i}`, value: v })).join('\n') + '\n')
  // Restores of about 1 MB: more than sled can place in the space a store already holds.
  const big = new MemoryBackend()
  t.teardown(() => big.close())
  await big.putMany(Array.from({ length: 2000 }, (_, i) => [`r${String(i).padStart(4, '0')}`, `${i} `.repeat(200)]))
  const bigCp = await big.checkpoint(path.join(src, 'restore.skc'))
  const restored = await snapshot(big)
  const sled = await SledBackend.open({ path: path.join(src, 'sled') })
  await sled.putMany(Array.from({ length: 300 }, (_, i) => [`s${i}`, `v${i}`]))
  await sled.close()
  return { src, cp: cp.path, bigCp: bigCp.path, restored, expected, small: path.join(src, 'small.jsonl'), big: path.join(src, 'big.jsonl'), sled: path.join(src, 'sled') }
}

function assertIoExit(t, r, what, message) {
  t.is(r.code, 74, `${what}: ${r.stderr}`)
  t.regex(r.stderr, /^statekit: /, `${what}: a message on stderr`)
  t.regex(r.stderr, message, what)
  t.false(hasStackTrace(r.stderr), `${what}: no stack trace`)
  t.is(r.stdout, '', `${what}: nothing on stdout`)
}

async function sledSnapshot(dir) {
  const s = await SledBackend.open({ path: dir })
  try {
    return await snapshot(s)
  } finally {
    await s.close()
  }
}

for (const faultName of ['a full disk', 'an immutable directory']) {
  const fault = FAULTS[faultName]
  test.serial(`CLI import, snapshot and restore onto ${faultName}: exit 74, a message and no stack trace, no partial output, nothing earlier harmed; they succeed once it is undone`, async (t) => {
    const s = await cliSources(t)
    const mnt = mountTmpfs(t, '32m')
    const out = path.join(mnt, 'out')
    fs.mkdirSync(out)
    fs.mkdirSync(path.join(out, 'empty'))
    // A live store beside them, which `restore --force` must not harm.
    const live = path.join(out, 'live')
    const l = await SledBackend.open({ path: live })
    await l.putMany(Array.from({ length: 40 }, (_, i) => [`old${i}`, `o${i}`]))
    await l.close()
    const liveBefore = await sledSnapshot(live)
    const sledBefore = await sledSnapshot(s.sled)
    const before = tree(out)

    const token = fault.apply(mnt, out)
    if (faultName === 'an immutable directory') makeImmutable(path.join(out, 'empty'))
    const attempts = [
      ['import', () => cli('import', s.small, '--out', path.join(out, 'x.skc'))],
      ['import of more than one block', () => cli('import', s.big, '--compression', 'none', '--out', path.join(out, 'big.skc'))],
      ['snapshot', () => cli('snapshot', s.sled, '--out', path.join(out, 'y.skc'))],
      ['restore into a new directory', () => cli('restore', s.bigCp, '--into', path.join(out, 'state'))],
      ['restore into an empty directory', () => cli('restore', s.bigCp, '--into', path.join(out, 'empty'))],
    ]
    if (faultName === 'a full disk') attempts.push(['restore --force over a live store', () => cli('restore', s.bigCp, '--into', live, '--force')])
    for (const [what, run] of attempts) {
      assertIoExit(t, await run(), what, fault.message)
      // Inside the live store, sled's own files may change; what is in it is checked below.
      const outside = (names) => names.filter((n) => !n.startsWith(`live${path.sep}`))
      t.deepEqual(outside(tree(out)), outside(before), `${what}: no partial output left`)
    }
    if (faultName === 'an immutable directory') makeWritable(path.join(out, 'empty'))
    fault.undo(mnt, token, out)

    // A failed open of the live store on the full disk sometimes leaves an empty
    // snap.*.generating in it, which makes the next open fail as damaged: the defect
    // the sled-snapshot-leftover test below pins down. Removed here, so that this test
    // checks the rest; it says so in its log.
    const leftovers = files(live).filter((n) => n.endsWith('.generating'))
    if (leftovers.length > 0) t.log(`sled left ${leftovers.join(', ')} in the live store (see the failing test on it)`)
    for (const n of leftovers) fs.rmSync(path.join(live, n))
    t.deepEqual(await sledSnapshot(live), liveBefore, 'the live store is unharmed')
    t.deepEqual(await sledSnapshot(s.sled), sledBefore, 'the snapshotted store is unharmed')

    const ok = {
      'import': await cli('import', s.small, '--out', path.join(out, 'x.skc')),
      'import of more than one block': await cli('import', s.big, '--compression', 'none', '--out', path.join(out, 'big.skc')),
      'snapshot': await cli('snapshot', s.sled, '--out', path.join(out, 'y.skc')),
      'restore into a new directory': await cli('restore', s.bigCp, '--into', path.join(out, 'state')),
      'restore into an empty directory': await cli('restore', s.bigCp, '--into', path.join(out, 'empty')),
      'restore --force over a live store': await cli('restore', s.bigCp, '--into', live, '--force'),
    }
    for (const [what, r] of Object.entries(ok)) t.is(r.code, 0, `${what} after the fault is undone: ${r.stderr}`)
    t.deepEqual((await restoredSnapshot(path.join(out, 'x.skc'))).entries, s.expected)
    t.true((await verifyCheckpoint(path.join(out, 'big.skc'))).ok)
    t.is((await restoredSnapshot(path.join(out, 'y.skc'))).entries.length, 300)
    for (const d of ['state', 'empty', 'live']) t.deepEqual(await sledSnapshot(path.join(out, d)), s.restored, `${d} holds the restored state`)
    t.deepEqual(
      tree(out).filter((f) => /\.tmp$|\.generating$/.test(f)),
      [],
      'no temp file anywhere, sled snapshots included',
    )
  })
}
