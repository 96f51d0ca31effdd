import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CheckpointCoordinator, MemoryBackend } from '../dist/index.js'
import { fillUp, freeSpace, mountTmpfs } from './helpers/fault-fs.mjs'
import { tempDir } from './helpers/tmp.mjs'

const WRITER = fileURLToPath(new URL('./fixtures/changelog-writer.mjs', import.meta.url))
const segments = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith('.clog')).sort()

async function dump(b) {
  const out = {}
  for await (const [k, v] of b.entries()) out[k.toString()] = v.toString()
  return out
}

test('every write path is logged and replays to the same state', async (t) => {
  const dir = tempDir(t)
  const logDir = path.join(dir, 'log')
  const cps = path.join(dir, 'cp')
  const b = new MemoryBackend({ changeLog: { dir: logDir } })
  for (let i = 0; i < 50; i++) b.putSync(`k${i}`, `v${i}`)
  await b.put('async', 'yes', { ttl: 60_000 })
  await b.putMany([['m1', '1'], { key: 'm2', value: '2', ttl: 60_000 }])
  t.true(b.deleteSync('k0'))
  await b.delete('k1')
  await b.deleteMany(['k2', 'k3', 'absent'])
  const want = await dump(b)
  // Records: 50 putSync, put, putMany, deleteSync, delete, deleteMany (one record).
  t.is(await b.flush(), 50 + 1 + 1 + 3)
  await b.close()

  const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir } }, { checkpointDir: cps })
  t.false(report.restored)
  t.deepEqual(report.changeLog, { segments: 1, records: 55, changes: 57, expired: 0 })
  t.deepEqual(await dump(backend), want)
  // A clear is logged too.
  await backend.clear()
  backend.putSync('after', 'clear')
  await backend.close()
  const again = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir } }, { checkpointDir: cps })
  t.deepEqual(await dump(again.backend), { after: 'clear' })
  await again.backend.close()
})

test('the coordinator truncates the log at each checkpoint; recovery restores it and replays what followed', async (t) => {
  const dir = tempDir(t)
  const logDir = path.join(dir, 'log')
  const cps = path.join(dir, 'cp')
  const b = new MemoryBackend({ changeLog: { dir: logDir, fsync: 'no' } })
  // A key of the reserved name given by the caller is replaced by the log's position.
  const co = new CheckpointCoordinator(b, { dir: cps, interval: 60_000, metadata: () => ({ offset: 7, statekitChangeLog: 'mine' }) })
  for (let round = 0; round < 3; round++) {
    await b.putMany(Array.from({ length: 100 }, (_, i) => [`r${round}:${i}`, String(i)]))
    const info = await co.createCheckpoint(undefined, { force: true })
    t.deepEqual(info.metadata, { offset: 7, statekitChangeLog: { segment: round + 2 } })
    // The segments before the checkpoint's are gone: one segment, written since.
    t.deepEqual(segments(logDir), [`${String(round + 2).padStart(20, '0')}.clog`])
  }
  b.putSync('after', 'checkpoint')
  b.deleteSync('r0:0')
  const want = await dump(b)
  // Closed without the coordinator's final checkpoint: those two are only in the log.
  await b.close()
  await co.shutdown().catch(() => {})

  const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir, fsync: 'no' } }, { checkpointDir: cps })
  t.true(report.restored)
  t.is(report.checkpoint.metadata.offset, 7)
  t.deepEqual(report.changeLog, { segments: 1, records: 2, changes: 2, expired: 0 })
  t.deepEqual(await dump(backend), want)
  // restore() would leave the log describing other data.
  const e = await t.throwsAsync(backend.restore(path.join(cps, fs.readdirSync(cps).find((f) => f.endsWith('.skc')))))
  t.is(e.code, 'ERR_STATEKIT_INVALID_ARG')
  await backend.close()
})

for (const fsync of ['always', 'everysec', 'no']) {
  test(`fsync '${fsync}': acknowledged writes survive a SIGKILL`, async (t) => {
    const dir = tempDir(t)
    const logDir = path.join(dir, 'log')
    const r = spawnSync(process.execPath, [WRITER, logDir, fsync, '300'], { encoding: 'utf8' })
    t.is(r.signal, 'SIGKILL')
    const lines = r.stdout.trim().split('\n')
    t.is(lines.pop(), 'all')
    const acked = lines.map(Number)
    t.is(acked.length, 300)
    const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir, fsync } }, { checkpointDir: path.join(dir, 'cp') })
    // 'always': killed right after the last acknowledgement. The others: 200 ms later.
    const present = acked.filter((i) => backend.getSync(`k${i}`)?.toString() === `v${i}`)
    t.is(present.length, 300)
    for (let j = 0; j < 100; j++) t.is(backend.getSync(`p${j}`)?.toString(), `q${j}`)
    // A batch is all there or all missing.
    for (let i = 2; i < 300; i += 3) t.is(backend.hasSync(`batch${i}`), backend.hasSync(`k${i}`))
    t.is(report.changeLog.torn, undefined)
    await backend.close()
  })
}

test('a torn last record is cut off and reported; the recovered log goes on', async (t) => {
  const dir = tempDir(t)
  const logDir = path.join(dir, 'log')
  const b = new MemoryBackend({ changeLog: { dir: logDir } })
  b.putSync('a', '1')
  b.putSync('b', '2')
  await b.close()
  const [seg] = segments(logDir)
  const file = path.join(logDir, seg)
  const bytes = fs.readFileSync(file)
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 3))
  const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir } }, { checkpointDir: path.join(dir, 'cp') })
  t.is(report.changeLog.records, 1)
  t.is(report.changeLog.torn.segment, file)
  t.is(report.changeLog.torn.bytes, bytes.length - 3 - report.changeLog.torn.offset)
  t.deepEqual(await dump(backend), { a: '1' })
  backend.putSync('c', '3')
  await backend.close()
  const again = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir } }, { checkpointDir: path.join(dir, 'cp') })
  t.deepEqual(await dump(again.backend), { a: '1', c: '3' })
  t.is(again.report.changeLog.torn, undefined)
  await again.backend.close()
})

test('a damaged record or a missing segment stops recovery with ERR_STATEKIT_CORRUPT naming segment and offset', async (t) => {
  const dir = tempDir(t)
  const logDir = path.join(dir, 'log')
  const cps = path.join(dir, 'cp')
  const b = new MemoryBackend({ changeLog: { dir: logDir } })
  for (let i = 0; i < 10; i++) b.putSync(`k${i}`, 'v'.repeat(20))
  await b.close()
  const [seg] = segments(logDir)
  const file = path.join(logDir, seg)
  const good = fs.readFileSync(file)
  const bad = Buffer.from(good)
  bad[Math.floor(good.length / 2)] ^= 0x20
  fs.writeFileSync(file, bad)
  const opts = { changeLog: { dir: logDir } }
  let e = await t.throwsAsync(MemoryBackend.openWithRecovery(opts, { checkpointDir: cps }))
  t.is(e.code, 'ERR_STATEKIT_CORRUPT')
  t.regex(e.message, new RegExp(`${seg} is damaged at byte \\d+`))
  // A truncation in the middle of a segment that is not the last is damage too.
  fs.writeFileSync(file, good.subarray(0, good.length - 5))
  fs.copyFileSync(file, path.join(logDir, `${'2'.padStart(20, '0')}.clog`))
  fs.writeFileSync(path.join(logDir, `${'2'.padStart(20, '0')}.clog`), good.subarray(0, 24))
  e = await t.throwsAsync(MemoryBackend.openWithRecovery(opts, { checkpointDir: cps }))
  t.is(e.code, 'ERR_STATEKIT_CORRUPT')
  t.regex(e.message, /cut short in a segment that is not the last/)
  // A missing segment.
  fs.rmSync(file)
  e = await t.throwsAsync(MemoryBackend.openWithRecovery(opts, { checkpointDir: cps }))
  t.is(e.code, 'ERR_STATEKIT_CORRUPT')
  t.regex(e.message, new RegExp(`${seg} is damaged at byte 0: the segment is missing`))
})

test("fsync 'always': async writes resolve once durable without blocking the event loop", async (t) => {
  const dir = tempDir(t)
  const b = new MemoryBackend({ changeLog: { dir, fsync: 'always' } })
  let ticks = 0
  const timer = setInterval(() => ticks++, 0)
  const t0 = performance.now()
  // 500 writes issued together share fsyncs (group commit), waited for off the JS thread.
  await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 ? b.put(`k${i}`, 'v') : b.putMany([[`k${i}`, 'v'], [`m${i}`, 'w']]))))
  const together = performance.now() - t0
  clearInterval(timer)
  t.true(ticks > 0, 'the event loop ran while the writes waited for their fsync')
  // Every resolved write is in the log.
  await b.close()
  const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir, fsync: 'always' } }, { checkpointDir: path.join(dir, 'cp') })
  t.is(report.changeLog.records, 500)
  t.is(backend.stats().entryCount, 750)
  t.log(`500 writes issued together: ${together.toFixed(0)} ms`)
  await backend.close()
})

test('bad change log options are INVALID_ARG and a directory holding a log is not overwritten', async (t) => {
  const dir = tempDir(t)
  for (const changeLog of [5, null, {}, { dir: '' }, { dir, fsync: 'sometimes' }, { dir, fsnyc: 'always' }]) {
    t.is(t.throws(() => new MemoryBackend({ changeLog })).code, 'ERR_STATEKIT_INVALID_ARG')
  }
  const b = new MemoryBackend({ changeLog: { dir } })
  // The directory is locked while a store has it.
  t.is(t.throws(() => new MemoryBackend({ changeLog: { dir } })).code, 'ERR_STATEKIT_LOCKED')
  b.putSync('a', '1')
  await b.close()
  const e = t.throws(() => new MemoryBackend({ changeLog: { dir } }))
  t.is(e.code, 'ERR_STATEKIT_INVALID_ARG')
  t.regex(e.message, /openWithRecovery/)
  const plain = new MemoryBackend()
  t.is((await t.throwsAsync(plain.flush())).code, 'ERR_STATEKIT_INVALID_ARG')
  t.is((await t.throwsAsync(plain.truncateChangeLog(1))).code, 'ERR_STATEKIT_INVALID_ARG')
  await plain.close()
})

test('a full disk fails writes with ERR_STATEKIT_IO, and the log keeps every write acknowledged before', async (t) => {
  // Needs root to mount a small tmpfs (CI runs as root), as the fault tests do.
  const mnt = mountTmpfs(t, '4m')
  for (const fsync of ['always', 'everysec']) {
    const logDir = path.join(mnt, `log-${fsync}`)
    const b = new MemoryBackend({ changeLog: { dir: logDir, fsync } })
    b.putSync('before', 'full')
    await b.flush()
    const filler = fillUp(mnt)
    // A write's record cannot reach the disk: 'always' reports it on that write,
    // 'everysec' on flush() and on every write once the writer thread has failed.
    let failed
    for (let i = 0; i < 2000 && !failed; i++) {
      try {
        b.putSync(`k${i}`, 'x'.repeat(1000))
        if (i % 50 === 49) await b.flush()
      } catch (e) {
        failed = e
      }
    }
    t.is(failed?.code, 'ERR_STATEKIT_IO', fsync)
    // From then on writes fail before they change anything.
    t.is(t.throws(() => b.putSync('after', 'failure')).code, 'ERR_STATEKIT_IO')
    t.is(b.getSync('after'), undefined)
    t.is((await t.throwsAsync(b.flush())).code, 'ERR_STATEKIT_IO')
    await b.close()
    freeSpace(filler)
    // What was acknowledged before the disk filled is recovered.
    const { backend } = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir, fsync } }, { checkpointDir: path.join(mnt, `cp-${fsync}`) })
    t.is(backend.getSync('before')?.toString(), 'full')
    await backend.close()
  }
})

test('writes from a worker attached to the store go to the owner\'s log', async (t) => {
  const dir = tempDir(t)
  const logDir = path.join(dir, 'log')
  const b = new MemoryBackend({ changeLog: { dir: logDir, fsync: 'always' } })
  b.putSync('owner', '1')
  const { Worker } = await import('node:worker_threads')
  const w = new Worker(new URL('./fixtures/changelog-attached.mjs', import.meta.url), { workerData: { descriptor: b.share() } })
  const msg = await new Promise((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  t.is(msg.fsync, 'always', 'the attached backend knows the log acknowledges only durable writes')
  await w.terminate()
  b.putSync('owner', '2')
  const want = await dump(b)
  t.is(want['worker:99'], '99')
  await b.close()
  const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir } }, { checkpointDir: path.join(dir, 'cp') })
  t.deepEqual(await dump(backend), want)
  t.is(report.changeLog.records, 2 + 50 + 49 + 1)
  await backend.close()
})
