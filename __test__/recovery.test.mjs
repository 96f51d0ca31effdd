import test from 'ava'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CheckpointCoordinator, MemoryBackend, SledBackend, MANIFEST } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

test('a process killed while writing a checkpoint leaves the previous one restorable', async (t) => {
  t.timeout(60_000)
  const dir = tempDir(t)
  const child = spawn(process.execPath, [fixture('checkpoint-loop.mjs'), dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve) => child.stdout.on('data', (d) => String(d).includes('ready') && resolve()))
  // Kill it in the middle of writing a checkpoint: wait for a temp file to appear.
  const deadline = Date.now() + 20_000
  while (!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')) && Date.now() < deadline) await new Promise((r) => setImmediate(r))
  child.kill('SIGKILL')
  await new Promise((r) => child.once('exit', r))
  const leftovers = fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))
  t.log(`left behind: ${leftovers.join(', ') || 'nothing (the write had just finished)'}`)
  const b = new MemoryBackend()
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000 })
  const report = await c.restoreLatest()
  t.true(report.restored)
  t.deepEqual(report.skipped, [])
  t.is(b.stats().entryCount >= 300_000, true)
  t.false(fs.readdirSync(dir).some((f) => f.endsWith('.tmp')), 'the partial file is removed at start')
  const listed = await c.list()
  t.is(listed[0].id, report.checkpoint.id, 'the newest committed checkpoint was restored')
  await b.close()
})

test('recovery end to end: a damaged sled directory is moved aside and the newest checkpoint restored', async (t) => {
  const base = tempDir(t)
  const dbPath = path.join(base, 'db')
  const cps = path.join(base, 'checkpoints')
  const s = await SledBackend.open({ path: dbPath })
  const c = new CheckpointCoordinator(s, { dir: cps, interval: 60_000, metadata: () => ({ offset: 42 }) })
  await s.putMany(Array.from({ length: 2000 }, (_, i) => [`k${i}`, `v${i}`]))
  const cp = await c.createCheckpoint()
  await s.put('after-checkpoint', 'lost')
  await s.close()
  for (const f of fs.readdirSync(dbPath, { recursive: true })) {
    const p = path.join(dbPath, f)
    if (fs.statSync(p).isFile() && !f.endsWith('statekit.lock')) fs.writeFileSync(p, Buffer.alloc(Math.max(64, fs.statSync(p).size), 0x5a))
  }
  const { backend, report } = await SledBackend.openWithRecovery({ path: dbPath }, { checkpointDir: cps })
  t.true(report.damaged)
  t.true(report.restored)
  t.is(report.checkpoint.id, cp.id)
  t.deepEqual(report.checkpoint.metadata, { offset: 42 })
  t.regex(report.reason, /damaged/)
  t.true(fs.existsSync(report.movedTo), 'the damaged directory is kept, renamed aside')
  t.true(report.movedTo.startsWith(`${dbPath}.damaged-`))
  t.is(backend.stats().entryCount, 2000)
  t.is((await backend.get('k1999')).toString(), 'v1999')
  t.is(await backend.get('after-checkpoint'), undefined)
  await backend.close()
  // A healthy directory opens as it is.
  const again = await SledBackend.openWithRecovery({ path: dbPath }, { checkpointDir: cps })
  t.false(again.report.damaged)
  t.false(again.report.restored)
  t.is(again.backend.stats().entryCount, 2000)
  await again.backend.close()
})

// openWithRecovery builds the restored store beside the damaged one and swaps it in
// under a journal (<path>.statekit-recovering): a recovery killed at any moment leaves
// one of the states below, and each must open as CORRUPT, never as an empty or stale
// store, and recover whole. (Before the journal, a kill between moving the damaged
// directory aside and marking the fresh one left an empty store that opened silently.)
for (const state of ['the directory moved aside, none in its place', 'the damaged directory still in place', 'the restored store already in place']) {
  test(`an interrupted recovery (journal written, ${state}) is CORRUPT on open, touches nothing, and recovers whole`, async (t) => {
    const base = tempDir(t)
    const dbPath = path.join(base, 'db')
    const cps = path.join(base, 'cps')
    const s = await SledBackend.open({ path: dbPath })
    await s.putMany(Array.from({ length: 2000 }, (_, i) => [`k${i}`, `v${i}`]))
    const cp = await new CheckpointCoordinator(s, { dir: cps, interval: 60_000 }).createCheckpoint()
    await s.close()
    const journal = `${dbPath}.statekit-recovering`
    if (state.startsWith('the directory moved aside')) fs.renameSync(dbPath, `${dbPath}.damaged-earlier`)
    else if (state.startsWith('the damaged')) fs.writeFileSync(path.join(dbPath, 'db'), Buffer.alloc(4096, 0x5a))
    // (the restored store in place: the healthy store stands for it)
    fs.mkdirSync(`${dbPath}.restoring-1-1`)
    fs.writeFileSync(path.join(`${dbPath}.restoring-1-1`, 'db'), 'an unfinished staging store')
    fs.writeFileSync(journal, 'replacing\n')
    const before = fs.readdirSync(base).sort()

    const e = await t.throwsAsync(SledBackend.open({ path: dbPath }))
    t.is(e.code, 'ERR_STATEKIT_CORRUPT', e.message)
    t.regex(e.message, /recovery that was replacing it was interrupted/)
    t.deepEqual(fs.readdirSync(base).sort(), before, 'the failed open created nothing')

    const { backend, report } = await SledBackend.openWithRecovery({ path: dbPath }, { checkpointDir: cps })
    t.teardown(() => backend.close().catch(() => {}))
    t.true(report.damaged)
    t.true(report.restored)
    t.is(report.checkpoint.id, cp.id)
    t.is(backend.stats().entryCount, 2000)
    t.is((await backend.get('k1999')).toString(), 'v1999')
    t.false(fs.existsSync(journal), 'the journal is gone once the restored store is in place')
    const left = fs.readdirSync(base).filter((n) => n.startsWith('db.'))
    t.false(left.some((n) => n.startsWith('db.restoring-')), `no staging directory is left: ${left}`)
    if (state.startsWith('the directory moved aside')) t.is(report.movedTo, undefined)
    else t.true(fs.existsSync(report.movedTo), 'what was in place is kept aside')
    await backend.close()
    const again = await SledBackend.open({ path: dbPath })
    t.is(again.stats().entryCount, 2000)
    await again.close()
  })
}

test('the memory tier starts from the newest checkpoint', async (t) => {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  await b.put('k', 'v')
  await new CheckpointCoordinator(b, { dir, interval: 60_000 }).createCheckpoint({ offset: 7 })
  const { backend, report } = await MemoryBackend.openWithRecovery({}, { checkpointDir: dir })
  t.true(report.restored)
  t.deepEqual(report.checkpoint.metadata, { offset: 7 })
  t.is((await backend.get('k')).toString(), 'v')
  const empty = await MemoryBackend.openWithRecovery(undefined, { checkpointDir: path.join(dir, 'none') })
  t.false(empty.report.restored)
  await backend.close()
  await b.close()
})

test('a checkpoint into a read-only directory fails, is counted, and the next one succeeds', async (t) => {
  const { stdout } = await new Promise((resolve, reject) =>
    execFile(process.execPath, [fixture('readonly-dir.mjs')], { timeout: 30_000, cwd: os.tmpdir() }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr })) : resolve({ stdout }),
    ),
  )
  const r = JSON.parse(stdout)
  t.true(r.failedWhileReadOnly >= 1)
  t.is(r.createdWhileReadOnly, 1)
  t.is(r.errors[0].code, 'ERR_STATEKIT_IO')
  t.true(r.stats.checkpointsCreated >= 3, 'the next interval and the final checkpoint succeeded')
  t.true(r.files.includes(MANIFEST))
})

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} takes a final checkpoint and exits cleanly`, async (t) => {
    const dir = tempDir(t)
    const child = spawn(process.execPath, [fixture('signal-shutdown.mjs'), dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise((resolve) => child.stdout.on('data', (d) => String(d).includes('ready') && resolve()))
    child.kill(signal)
    const code = await new Promise((r) => child.once('exit', (c) => r(c)))
    t.is(code, 0)
    const b = new MemoryBackend()
    const report = await new CheckpointCoordinator(b, { dir, interval: 60_000 }).restoreLatest()
    t.true(report.restored)
    t.is(String(report.checkpoint.metadata.offset), (await b.get('offset')).toString(), 'the final state and its offset')
    await b.close()
  })
}
