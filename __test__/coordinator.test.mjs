import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CheckpointCoordinator, MemoryBackend, SledBackend, MANIFEST, StateError } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const manifest = (dir) => JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8'))
const files = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith('.skc')).sort()

test.serial('periodic checkpoints, with metadata, on a timer that does not hold the process', async (t) => {
  const b = new MemoryBackend()
  const dir = tempDir(t)
  let offset = 0
  const c = new CheckpointCoordinator(b, { dir, interval: 40, metadata: () => ({ offset }) })
  const seen = []
  c.on('checkpoint', (info) => seen.push(info))
  c.start()
  // Ten writes 40 ms apart, going on (up to 5 s) until the timer has fired twice: a
  // loaded machine may run the timer late, never early.
  const deadline = Date.now() + 5000
  for (let i = 0; i < 10 || (seen.length < 2 && Date.now() < deadline); i++) {
    offset = Math.min(i, 9)
    await b.put(`k${Math.min(i, 9)}`, String(Math.min(i, 9)))
    await sleep(40)
  }
  const periodic = seen.length
  await c.shutdown()
  t.true(periodic >= 2, `${periodic} periodic checkpoints`)
  t.true(seen.length >= periodic + 1, 'and a final one')
  const s = c.stats()
  t.is(s.checkpointsCreated, seen.length)
  t.is(s.checkpointFailures, 0)
  t.is(s.lastCheckpointAt, seen.at(-1).createdAt)
  t.is(s.lastCheckpointBytes, seen.at(-1).bytes)
  t.true(s.lastCheckpointDurationMs >= 0)
  t.deepEqual(seen.at(-1).metadata, { offset: 9 })
  const listed = await c.list()
  t.is(listed[0].id, seen.at(-1).id, 'newest first')
  t.is(manifest(dir).checkpoints.length, Math.min(seen.length, 10), "the default maxCheckpoints is 10")
  await b.close()
})

test('retention keeps maxCheckpoints and every file a kept incremental needs', async (t) => {
  const b = new MemoryBackend()
  const dir = tempDir(t)
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000, maxCheckpoints: 3, fullEvery: 4 })
  const made = []
  for (let i = 0; i < 10; i++) {
    await b.put(`k${i}`, String(i))
    made.push(await c.createCheckpoint())
  }
  t.deepEqual(made.map((m) => m.kind), ['full', 'incremental', 'incremental', 'incremental', 'full', 'incremental', 'incremental', 'incremental', 'full', 'incremental'])
  // Kept: the newest 3 (ids 7, 8, 9 by position) and what they need: 7 needs 6, 5, 4.
  const kept = manifest(dir).checkpoints.map((e) => made.findIndex((m) => m.id === e.id))
  t.deepEqual(kept, [4, 5, 6, 7, 8, 9])
  t.is(files(dir).length, 6)
  const r = new MemoryBackend()
  const again = new CheckpointCoordinator(r, { dir, interval: 60_000 })
  const report = await again.restoreLatest()
  t.true(report.restored)
  t.is(report.checkpoint.id, made[9].id)
  t.deepEqual(report.info.chain, [made[8].id, made[9].id])
  t.is(r.stats().entryCount, 10)
  await r.close()
  await b.close()
})

test('minInterval skips early checkpoints unless forced; overlapping triggers coalesce', async (t) => {
  const b = new MemoryBackend()
  await b.putMany(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'x'.repeat(100)]))
  const dir = tempDir(t)
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000, minInterval: 10_000 })
  const [a, a2, a3] = await Promise.all([c.createCheckpoint(), c.createCheckpoint(), c.createCheckpoint()])
  t.truthy(a)
  t.is(a2, a)
  t.is(a3, a)
  t.is(await c.createCheckpoint(), null, 'within minInterval')
  const forced = await c.createCheckpoint({ note: 'forced' }, { force: true })
  t.deepEqual(forced.metadata, { note: 'forced' })
  t.is(c.stats().checkpointsCreated, 2)
  t.is(files(dir).length, 2)
  await b.close()
})

test('shutdown waits for a checkpoint in flight and takes a final one', async (t) => {
  const b = new MemoryBackend()
  await b.putMany(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'x'.repeat(100)]))
  const dir = tempDir(t)
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000 })
  const first = c.createCheckpoint()
  await b.put('last', 'write')
  const final = await c.shutdown()
  const firstInfo = await first
  t.true(final.id > firstInfo.id)
  t.is(c.stats().checkpointsCreated, 2)
  const r = new MemoryBackend()
  await r.restore(final.path)
  t.is((await r.get('last')).toString(), 'write')
  c.start() // a stopped coordinator does not restart
  await r.close()
  await b.close()
})

test('restoreLatest skips a damaged newest checkpoint and says why', async (t) => {
  const b = new MemoryBackend()
  const dir = tempDir(t)
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000, metadata: () => ({ offset: b.stats().putCount }) })
  await b.put('a', '1')
  const good = await c.createCheckpoint()
  await b.put('b', '2')
  const newest = await c.createCheckpoint()
  const bytes = fs.readFileSync(newest.path)
  bytes[Math.floor(bytes.length / 2)] ^= 0xff
  fs.writeFileSync(newest.path, bytes)
  const r = new MemoryBackend()
  const rc = new CheckpointCoordinator(r, { dir, interval: 60_000 })
  const restores = []
  rc.on('restore', (rep) => restores.push(rep))
  const report = await rc.restoreLatest()
  t.true(report.restored)
  t.is(report.checkpoint.id, good.id)
  t.deepEqual(report.checkpoint.metadata, { offset: 1 })
  t.is(report.skipped.length, 1)
  t.is(report.skipped[0].id, newest.id)
  t.regex(report.skipped[0].reason, /damaged/)
  t.deepEqual((await r.listKeys()).map(String), ['a'])
  t.is(rc.stats().restores, 1)
  t.true(rc.stats().lastRestoreDurationMs >= 0)
  t.is(restores.length, 1)
  await r.close()
  await b.close()
})

test('an empty directory restores nothing', async (t) => {
  const c = new CheckpointCoordinator(new MemoryBackend(), { dir: tempDir(t), interval: 1000 })
  const report = await c.restoreLatest()
  t.false(report.restored)
  t.deepEqual(report.skipped, [])
})

test('temp files and unlisted checkpoints left by a crash are removed at start', async (t) => {
  const b = new MemoryBackend()
  const dir = tempDir(t)
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000 })
  await b.put('k', 'v')
  const kept = await c.createCheckpoint()
  fs.writeFileSync(path.join(dir, 'checkpoint-9999999999999-7.skc.123-456.tmp'), 'partial')
  fs.copyFileSync(kept.path, path.join(dir, 'checkpoint-9999999999999-8.skc')) // published, never committed
  const c2 = new CheckpointCoordinator(b, { dir, interval: 60_000 })
  t.deepEqual((await c2.list()).map((e) => e.id), [kept.id])
  t.deepEqual(fs.readdirSync(dir).sort(), [path.basename(kept.path), MANIFEST].sort())
  await b.close()
})

test('bad options are rejected', (t) => {
  const b = new MemoryBackend()
  const INVALID = { instanceOf: StateError, code: 'ERR_STATEKIT_INVALID_ARG' }
  t.throws(() => new CheckpointCoordinator(b, { dir: '', interval: 10 }), INVALID)
  t.throws(() => new CheckpointCoordinator(b, { dir: 'x', interval: 0 }), INVALID)
  t.throws(() => new CheckpointCoordinator(b, { dir: 'x', interval: 10, maxCheckpoints: 0 }), INVALID)
  t.throws(() => new CheckpointCoordinator(b, { dir: 'x', interval: 10, fullEvery: 1.5 }), INVALID)
  t.throws(() => new CheckpointCoordinator(b, { dir: 'x', interval: 10, minInterval: -1 }), INVALID)
  t.throws(() => new CheckpointCoordinator(b, { dir: 'x', interval: 10, metadata: {} }), INVALID)
  t.throws(() => new CheckpointCoordinator({}, { dir: 'x', interval: 10 }), INVALID)
})

test.serial('a failed checkpoint is an error event and a failure; the next one succeeds', async (t) => {
  const b = new MemoryBackend()
  await b.put('k', 'v')
  const base = tempDir(t)
  const dir = path.join(base, 'cps')
  const c = new CheckpointCoordinator(b, { dir, interval: 30 })
  const errors = []
  c.on('error', (e) => errors.push(e))
  await c.createCheckpoint()
  // The directory is removed under the coordinator (as an operator might).
  fs.rmSync(dir, { recursive: true })
  fs.writeFileSync(dir, 'now a file')
  c.start()
  const deadline = Date.now() + 5000
  while (c.stats().checkpointFailures < 2 && Date.now() < deadline) await sleep(10)
  t.true(c.stats().checkpointFailures >= 2, 'failures are counted and the timer keeps trying')
  t.true(errors.length >= 2)
  t.true(errors[0] instanceof StateError)
  fs.rmSync(dir)
  fs.mkdirSync(dir)
  while (c.stats().checkpointsCreated < 2 && Date.now() < deadline + 5000) await sleep(10)
  t.true(c.stats().checkpointsCreated >= 2, 'the next interval succeeds')
  await c.shutdown()
  await b.close()
})

test('a coordinator on the sled tier checkpoints and restores it', async (t) => {
  const base = tempDir(t)
  const s = await SledBackend.open({ path: path.join(base, 'db') })
  const c = new CheckpointCoordinator(s, { dir: path.join(base, 'cps'), interval: 60_000, fullEvery: 2 })
  await s.putMany([['a', '1'], ['b', '2']])
  await c.createCheckpoint()
  await s.delete('a')
  const inc = await c.createCheckpoint()
  t.is(inc.kind, 'incremental')
  await s.put('c', 'late')
  const report = await c.restoreLatest()
  t.is(report.checkpoint.id, inc.id)
  t.deepEqual((await s.listKeys()).map(String), ['b'])
  await s.close()
})

test('a coordinator whose directory was removed recreates it with a full checkpoint, so every listed chain stays whole', async (t) => {
  const b = new MemoryBackend()
  const dir = path.join(tempDir(t), 'cps')
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000, fullEvery: 6 })
  const errors = []
  c.on('error', (e) => errors.push(e))
  await b.put('a', '1')
  t.is((await c.createCheckpoint()).kind, 'full')
  await b.put('b', '2')
  t.is((await c.createCheckpoint()).kind, 'incremental')
  fs.rmSync(dir, { recursive: true })
  await b.put('c', '3')
  const next = await c.createCheckpoint()
  t.is(next.kind, 'full', 'its base is gone: a full one')
  t.true(fs.statSync(dir).isDirectory(), 'the directory was made again')
  await b.put('d', '4')
  t.is((await c.createCheckpoint()).kind, 'incremental', 'then incremental again, on the new base')
  await c.shutdown()
  t.deepEqual(errors, [])
  for (const entry of await c.list()) {
    const other = new MemoryBackend()
    await t.notThrowsAsync(other.restore(path.join(dir, entry.file)), `checkpoint ${entry.id} restores whole`)
    await other.close()
  }
  const other = new MemoryBackend()
  const report = await new CheckpointCoordinator(other, { dir, interval: 60_000 }).restoreLatest()
  t.deepEqual(report.skipped, [])
  t.deepEqual((await other.listKeys()).map(String), ['a', 'b', 'c', 'd'])
  await other.close()
  await b.close()
})
