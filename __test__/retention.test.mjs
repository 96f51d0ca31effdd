// Retention by age in a local directory (the S3 side is in s3.test.mjs).
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CheckpointCoordinator, MemoryBackend, MANIFEST } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

test('retention by age drops old checkpoints from a directory, but never one a kept incremental needs', async (t) => {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000, maxAge: 4000, fullEvery: 10 })
  const full = await c.createCheckpoint()
  await b.put('a', '1')
  const inc1 = await c.createCheckpoint()
  t.is(inc1.kind, 'incremental')
  await sleep(4200)
  await b.put('b', '2')
  const inc2 = await c.createCheckpoint()
  t.is(inc2.kind, 'incremental')
  // Both older ones are past maxAge, but the newest needs them: all stay.
  const ids = () => JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')).checkpoints.map((e) => e.id)
  t.deepEqual(ids(), [full.id, inc1.id, inc2.id])
  t.is(fs.readdirSync(dir).filter((f) => f.endsWith('.skc')).length, 3)
  // Past maxAge again, a full checkpoint needs nothing older: only it is kept.
  await sleep(4200)
  const c2 = new CheckpointCoordinator(b, { dir, interval: 60_000, maxAge: 4000 })
  const next = await c2.createCheckpoint()
  t.is(next.kind, 'full')
  t.deepEqual(ids(), [next.id])
  t.is(fs.readdirSync(dir).filter((f) => f.endsWith('.skc')).length, 1)
})
