// Leases and fencing across two processes, on S3 (moto) and on a local directory.
import test from 'ava'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import fs from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CheckpointCoordinator, MemoryBackend, StateError, directoryStorage } from '../dist/index.js'
import { s3Storage } from '../dist/s3.js'
import { useMoto } from './helpers/moto.mjs'
import { owner } from './helpers/owner.mjs'
import { tempDir } from './helpers/tmp.mjs'

const moto = useMoto(test)
const run = promisify(execFile)

// Each scenario runs on both storages: where(t) returns the fixture's arguments, a
// storage for this process, and a reader of the raw manifest.
const kinds = {
  s3: async (t) => {
    const bucket = await moto.bucket(t)
    return {
      args: ['s3', bucket, 'part-3'],
      env: moto.env(),
      storage: () => s3Storage(moto.options(bucket, 'part-3')),
      manifest: async () => {
        const r = await moto.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'part-3/manifest.json' }))
        return r.Body.transformToString()
      },
    }
  },
  dir: async (t) => {
    const dir = tempDir(t)
    return { args: ['dir', dir], env: process.env, storage: () => directoryStorage(dir), manifest: async () => fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8') }
  },
}

for (const [kind, where] of Object.entries(kinds)) {
  test(`${kind}: a held lease refuses a second owner, naming it and when it ends; released, the second owner takes it`, async (t) => {
    const w = await where(t)
    const a = owner(t, w.args, w.env)
    const b = owner(t, w.args, w.env)
    const got = await a.call({ cmd: 'acquire', owner: 'host-a', ttl: 5000 })
    t.true(got.ok, got.message)
    t.is(got.result.owner, 'host-a')
    t.true(got.result.expiresAt > Date.now() + 3000)
    const refused = await b.call({ cmd: 'acquire', owner: 'host-b', ttl: 5000 })
    t.false(refused.ok)
    t.is(refused.code, 'ERR_STATEKIT_LEASE_HELD')
    t.true(refused.message.includes('"host-a"'), refused.message)
    t.true(refused.message.includes(new Date(got.result.expiresAt).toISOString()), refused.message)
    // Without a lease, B's checkpoint is refused too while A holds one.
    const unleased = await b.call({ cmd: 'checkpoint' })
    t.is(unleased.code, 'ERR_STATEKIT_LEASE_HELD')
    t.true((await a.call({ cmd: 'checkpoint', metadata: { by: 'a' } })).ok)
    const state = await a.call({ cmd: 'lease' })
    t.like(state.result.lease, { owner: 'host-a', held: true })
    t.deepEqual(state.result.stats, state.result.lease)
    t.is((await a.call({ cmd: 'release' })).result, true)
    t.is((await a.call({ cmd: 'release' })).result, false, 'none held any more')
    t.deepEqual(a.events.map((e) => e.event).filter((e) => e !== 'lease-renewed'), ['lease-acquired', 'lease-released'])
    t.like((await a.call({ cmd: 'lease' })).result.lease, { owner: 'host-a', held: false })
    const taken = await b.call({ cmd: 'acquire', owner: 'host-b', ttl: 5000 })
    t.true(taken.ok, taken.message)
    const restored = await b.call({ cmd: 'restore' })
    t.deepEqual(restored.result.checkpoint.metadata, { by: 'a' })
    t.true((await b.call({ cmd: 'checkpoint', metadata: { by: 'b' } })).ok)
    // A, without the lease now, is refused.
    t.is((await a.call({ cmd: 'checkpoint' })).code, 'ERR_STATEKIT_LEASE_HELD')
  })

  test(`${kind}: a lease renews itself; once its owner is paused past the ttl another takes it, and the paused writer is fenced and changes nothing`, async (t) => {
    const w = await where(t)
    const a = owner(t, w.args, w.env)
    const b = owner(t, w.args, w.env)
    // ttl 1500: renewed every 500 ms, with room for a loaded machine's slow fsync.
    t.true((await a.call({ cmd: 'acquire', owner: 'host-a', ttl: 1500 })).ok)
    await sleep(1700)
    t.true(a.events.some((e) => e.event === 'lease-renewed'), 'renewed in the background')
    t.is((await b.call({ cmd: 'acquire', owner: 'host-b', ttl: 1500 })).code, 'ERR_STATEKIT_LEASE_HELD', 'still held: A renews it')
    t.true((await a.call({ cmd: 'put', key: 'k', value: 'from-a' })).ok)
    t.true((await a.call({ cmd: 'checkpoint', metadata: { offset: 1 } })).ok)
    // A stops (a long GC pause, a stopped VM) until its lease has expired.
    a.child.kill('SIGSTOP')
    let taken
    for (let i = 0; i < 60; i++) {
      taken = await b.call({ cmd: 'acquire', owner: 'host-b', ttl: 10_000 })
      if (taken.ok) break
      t.is(taken.code, 'ERR_STATEKIT_LEASE_HELD')
      await sleep(100)
    }
    t.true(taken.ok, 'B took the expired lease')
    const before = await w.manifest()
    a.child.kill('SIGCONT')
    const fenced = await a.call({ cmd: 'checkpoint', metadata: { offset: 2 } })
    t.false(fenced.ok)
    t.is(fenced.code, 'ERR_STATEKIT_FENCED')
    t.is(await w.manifest(), before, 'the manifest is unchanged')
    t.true(a.events.some((e) => e.event === 'lease-lost'), 'A reports the lease lost')
    t.like((await a.call({ cmd: 'lease' })).result.lease, { owner: 'host-a', held: false })
    // B continues from A's checkpoint.
    const restored = await b.call({ cmd: 'restore' })
    t.deepEqual(restored.result.checkpoint.metadata, { offset: 1 })
    t.true((await b.call({ cmd: 'checkpoint', metadata: { offset: 2 } })).ok)
  })

  test(`${kind}: a writer whose lease was taken over (by its own owner name, as after a restart) is fenced and changes nothing`, async (t) => {
    const w = await where(t)
    const b = owner(t, w.args, w.env)
    const backend = new MemoryBackend()
    t.teardown(() => backend.close())
    const c = new CheckpointCoordinator(backend, { storage: w.storage(), interval: 60_000 })
    c.on('error', () => {})
    // A long ttl: the lease is still valid by this process's clock, so it is the
    // manifest (marked with the new holder's token) that fences this writer.
    await c.acquireLease({ owner: 'host-a', ttl: 60_000 })
    await backend.put('a', '1')
    const first = await c.createCheckpoint()
    const taken = await b.call({ cmd: 'acquire', owner: 'host-a', ttl: 60_000 })
    t.true(taken.ok, taken.message)
    const before = await w.manifest()
    await backend.put('b', '2')
    const err = await t.throwsAsync(c.createCheckpoint(undefined, { force: true }), { instanceOf: StateError, code: 'ERR_STATEKIT_FENCED' })
    t.regex(err.message, /taken over by "host-a"/)
    t.is(await w.manifest(), before, 'the manifest is unchanged')
    t.deepEqual((await c.list()).map((e) => e.id), [first.id], 'and only the first checkpoint is listed')
    t.deepEqual((await w.storage().listCheckpoints()).map((x) => x.name), [(await c.list())[0].file], 'the fenced checkpoint was removed')
    t.is(c.stats().checkpointFailures, 1)
    await c.releaseLease()
  })

  test(`${kind}: a process holding a lease exits by itself: renewals never keep it alive`, async (t) => {
    const w = await where(t)
    const started = Date.now()
    const { stdout } = await run(process.execPath, [new URL('./fixtures/lease-idle.mjs', import.meta.url).pathname, ...w.args], { env: w.env, timeout: 30_000 })
    t.regex(stdout, /held until \d+/)
    t.true(Date.now() - started < 30_000)
  })

  test(`${kind}: conditional document writes: create only if absent, replace only with the current etag`, async (t) => {
    const w = await where(t)
    const s = w.storage()
    t.is(await s.readDocument('lease.json'), null)
    const e1 = await s.writeDocument('lease.json', 'one', null)
    t.truthy(e1)
    t.is(await s.writeDocument('lease.json', 'two', null), null, 'it exists: not created again')
    const e2 = await s.writeDocument('lease.json', 'two', e1)
    t.truthy(e2)
    t.not(e2, e1)
    t.is(await s.writeDocument('lease.json', 'three', e1), null, 'a stale etag changes nothing')
    t.deepEqual(await s.readDocument('lease.json'), { text: 'two', etag: e2 })
    // Two writers racing with the same etag: exactly one wins. (Only checked on the
    // directory: moto checks a condition and writes without a lock between, so two
    // truly concurrent requests can both pass there; AWS S3 serializes them.)
    if (kind === 'dir') {
      const results = await Promise.all([s.writeDocument('lease.json', 'x', e2), w.storage().writeDocument('lease.json', 'y', e2)])
      t.is(results.filter((r) => r !== null).length, 1)
    }
  })
}

test('lease options and a second acquire are validated; a coordinator re-acquiring returns its lease; shutdown releases it', async (t) => {
  const dir = tempDir(t)
  const backend = new MemoryBackend()
  t.teardown(() => backend.close())
  const c = new CheckpointCoordinator(backend, { dir, interval: 60_000 })
  t.is(c.lease, undefined)
  t.is(c.stats().lease, null)
  t.is(await c.releaseLease(), false)
  const invalid = { instanceOf: StateError, code: 'ERR_STATEKIT_INVALID_ARG' }
  await t.throwsAsync(c.acquireLease({ owner: '', ttl: 1000 }), invalid)
  await t.throwsAsync(c.acquireLease({ owner: 'x', ttl: 10 }), invalid)
  await t.throwsAsync(c.acquireLease({ owner: 'x', ttl: NaN }), invalid)
  await t.throwsAsync(c.acquireLease(null), invalid)
  t.false(fs.existsSync(path.join(dir, 'lease.json')), 'nothing was written')
  const lease = await c.acquireLease({ owner: 'me', ttl: 30_000 })
  t.is((await c.acquireLease({ owner: 'me', ttl: 30_000 })).owner, 'me')
  await t.throwsAsync(c.acquireLease({ owner: 'other', ttl: 30_000 }), invalid)
  t.like(c.stats().lease, { owner: 'me', held: true, expiresAt: lease.expiresAt })
  const released = []
  c.on('lease-released', (s) => released.push(s))
  await c.shutdown()
  t.is(released.length, 1)
  t.false(c.lease.held)
  const d = JSON.parse(fs.readFileSync(path.join(dir, 'lease.json'), 'utf8'))
  t.true(d.released)
  // Released: another coordinator takes it at once.
  const c2 = new CheckpointCoordinator(backend, { dir, interval: 60_000 })
  await c2.acquireLease({ owner: 'next', ttl: 30_000 })
  await c2.releaseLease()
})
