// Checkpoints on S3, against a real S3-compatible server (moto) on loopback.
import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { DeleteBucketPolicyCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { CheckpointCoordinator, MemoryBackend, StateError } from '../dist/index.js'
import { s3Storage } from '../dist/s3.js'
import { useMoto } from './helpers/moto.mjs'
import { startMoto } from '../scripts/moto-server.mjs'
import { tempDir } from './helpers/tmp.mjs'

const moto = useMoto(test)
const run = promisify(execFile)
const fixture = (name) => new URL(`./fixtures/${name}`, import.meta.url).pathname

async function keys(bucket, prefix) {
  const r = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (r.Contents ?? []).map((o) => o.Key.slice(prefix.length)).sort()
}
async function object(bucket, key) {
  const r = await moto.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return { body: Buffer.from(await r.Body.transformToByteArray()), etag: r.ETag }
}
const manifestOf = async (bucket, prefix) => JSON.parse((await object(bucket, `${prefix}manifest.json`)).body.toString())

test('checkpoints go to S3 under the prefix; retention by count keeps incremental chains whole; staging files are removed', async (t) => {
  const bucket = await moto.bucket(t)
  const staging = tempDir(t)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const storage = s3Storage(moto.options(bucket, 'svc/part-1', { stagingDir: staging }))
  t.is(storage.location, `s3://${bucket}/svc/part-1/`)
  const c = new CheckpointCoordinator(b, { storage, interval: 60_000, maxCheckpoints: 3, fullEvery: 4, metadata: () => ({ offset: b.stats().putCount }) })
  t.is(c.dir, `s3://${bucket}/svc/part-1/`)
  const made = []
  for (let i = 0; i < 10; i++) {
    await b.put(`k${i}`, String(i))
    made.push(await c.createCheckpoint())
  }
  t.deepEqual(made.map((m) => m.kind), ['full', 'incremental', 'incremental', 'incremental', 'full', 'incremental', 'incremental', 'incremental', 'full', 'incremental'])
  const m = await manifestOf(bucket, 'svc/part-1/')
  // The newest 3 (7, 8, 9) and what 7 needs (6, 5, 4).
  t.deepEqual(m.checkpoints.map((e) => made.findIndex((x) => x.id === e.id)), [4, 5, 6, 7, 8, 9])
  t.deepEqual(await keys(bucket, 'svc/part-1/'), [...m.checkpoints.map((e) => e.file), 'manifest.json'].sort())
  t.deepEqual(m.checkpoints.at(-1).metadata, { offset: 10 })
  t.is(c.stats().checkpointsCreated, 10)
  t.deepEqual((await c.list()).map((e) => e.id), m.checkpoints.map((e) => e.id).reverse())
  // Nothing is left in the staging directory.
  const left = fs.readdirSync(staging, { recursive: true }).filter((f) => f.endsWith('.skc') || f.endsWith('.tmp'))
  t.deepEqual(left, [])
})

test('retention by age drops checkpoints older than maxAge from S3', async (t) => {
  const bucket = await moto.bucket(t)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  // maxAge 5 s: wide enough for a loaded machine between the first two checkpoints.
  const c = new CheckpointCoordinator(b, { storage: s3Storage(moto.options(bucket, 'aged')), interval: 60_000, maxAge: 5000 })
  const first = await c.createCheckpoint({ n: 1 })
  await b.put('a', '1')
  const second = await c.createCheckpoint({ n: 2 })
  t.deepEqual((await manifestOf(bucket, 'aged/')).checkpoints.map((e) => e.id), [first.id, second.id])
  await sleep(5200)
  const third = await c.createCheckpoint({ n: 3 })
  const m = await manifestOf(bucket, 'aged/')
  t.deepEqual(m.checkpoints.map((e) => e.id), [third.id], 'both older than maxAge are gone')
  t.deepEqual(await keys(bucket, 'aged/'), [m.checkpoints[0].file, 'manifest.json'].sort(), 'their objects too')
})

test('a second process with an empty store restores the newest checkpoint and its incremental chain, with its metadata', async (t) => {
  const bucket = await moto.bucket(t)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  let offset = 0
  const c = new CheckpointCoordinator(b, { storage: s3Storage(moto.options(bucket, 'orders/7')), interval: 60_000, fullEvery: 3, metadata: () => ({ offsets: { 'orders-7': offset } }) })
  for (let i = 0; i < 5; i++) {
    offset += 100
    await b.putMany([[`key-${i}`, `v${i}`], ['last', String(i)]])
    if (i === 3) await b.delete('key-0')
    await c.createCheckpoint()
  }
  const listed = await c.list()
  t.deepEqual(listed.map((e) => e.kind), ['incremental', 'full', 'incremental', 'incremental', 'full'])
  const { stdout } = await run(process.execPath, [fixture('s3-restore.mjs'), bucket, 'orders/7'], { env: moto.env() })
  const { report, entries } = JSON.parse(stdout)
  t.true(report.restored)
  t.is(report.checkpoint.id, listed[0].id)
  t.is(report.checkpoint.file, `s3://${bucket}/orders/7/${listed[0].file}`)
  t.deepEqual(report.checkpoint.metadata, { offsets: { 'orders-7': 500 } })
  t.deepEqual(report.info.chain, [listed[1].id, listed[0].id], 'the full checkpoint, then the incremental one')
  t.deepEqual(entries, { 'key-1': 'v1', 'key-2': 'v2', 'key-3': 'v3', 'key-4': 'v4', last: '4' })
  t.deepEqual(report.skipped, [])
})

test('a damaged newest object is skipped with the reason, and the one before it is restored', async (t) => {
  const bucket = await moto.bucket(t)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const storage = s3Storage(moto.options(bucket, 'dmg'))
  const c = new CheckpointCoordinator(b, { storage, interval: 60_000 })
  await b.putMany(Array.from({ length: 2000 }, (_, i) => [`k${i}`, `value-${i}`]))
  const good = await c.createCheckpoint({ n: 1 })
  await b.put('newer', 'x')
  const bad = await c.createCheckpoint({ n: 2 })
  const file = (await c.list())[0].file
  const { body } = await object(bucket, `dmg/${file}`)
  body[Math.floor(body.length / 2)] ^= 0xff
  await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: `dmg/${file}`, Body: body }))
  const r = new MemoryBackend()
  t.teardown(() => r.close())
  const report = await new CheckpointCoordinator(r, { storage, interval: 60_000 }).restoreLatest()
  t.true(report.restored)
  t.is(report.checkpoint.id, good.id)
  t.is(report.skipped.length, 1)
  t.is(report.skipped[0].id, bad.id)
  t.regex(report.skipped[0].reason, /checksum|corrupt|damaged|crc/i)
  t.is(r.stats().entryCount, 2000)
  t.is(await r.get('newer'), undefined)
  // A truncated newest object, and a listed object that is missing, are skipped too.
  await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: `dmg/${file}`, Body: body.subarray(0, 100) }))
  const rep2 = await MemoryBackend.openWithRecovery(undefined, { storage })
  t.teardown(() => rep2.backend.close())
  t.is(rep2.report.checkpoint.id, good.id)
  t.is(rep2.report.skipped[0].id, bad.id)
})

test('bad bucket, prefix and options are INVALID_ARG; a missing bucket or an unreachable endpoint is IO, and nothing is listed', async (t) => {
  const invalid = { instanceOf: StateError, code: 'ERR_STATEKIT_INVALID_ARG' }
  t.throws(() => s3Storage({ bucket: 'UPPER', prefix: 'p' }), invalid)
  t.throws(() => s3Storage({ bucket: 'ab', prefix: 'p' }), invalid)
  t.throws(() => s3Storage({ bucket: 'ok-bucket', prefix: 'a//b' }), invalid)
  t.throws(() => s3Storage({ bucket: 'ok-bucket', prefix: '../up' }), invalid)
  t.throws(() => s3Storage({ bucket: 'ok-bucket', prefix: 42 }), invalid)
  t.throws(() => s3Storage({ bucket: 'ok-bucket', prefix: 'p', endpoint: 'ftp://x' }), invalid)
  t.throws(() => s3Storage({ bucket: 'ok-bucket', prefix: 'p', partSize: 1024 }), invalid)
  t.throws(() => s3Storage({ bucket: 'ok-bucket', prefix: 'p', credentials: { accessKeyId: 1 } }), invalid)
  t.throws(() => s3Storage(null), invalid)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  t.throws(() => new CheckpointCoordinator(b, { interval: 1000 }), invalid)
  t.throws(() => new CheckpointCoordinator(b, { dir: 'x', storage: s3Storage(moto.options('ok-bucket', 'p')), interval: 1000 }), invalid)
  t.throws(() => new CheckpointCoordinator(b, { storage: {}, interval: 1000 }), invalid)
  t.throws(() => new CheckpointCoordinator(b, { dir: 'x', interval: 1000, maxAge: -1 }), invalid)

  await b.put('a', '1')
  const missing = new CheckpointCoordinator(b, { storage: s3Storage(moto.options('no-such-bucket-here', 'p')), interval: 60_000 })
  const errors = []
  missing.on('error', (e) => errors.push(e))
  const e1 = await t.throwsAsync(missing.createCheckpoint(), { instanceOf: StateError, code: 'ERR_STATEKIT_IO' })
  t.regex(e1.message, /no-such-bucket-here does not exist/)
  t.is(missing.stats().checkpointFailures, 1)
  t.is(errors.length, 1)
  const closedPort = await new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
  const unreachable = new CheckpointCoordinator(b, { storage: s3Storage({ ...moto.options('ok-bucket', 'p'), endpoint: `http://127.0.0.1:${closedPort}` }), interval: 60_000 })
  const e2 = await t.throwsAsync(unreachable.createCheckpoint(), { instanceOf: StateError, code: 'ERR_STATEKIT_IO' })
  t.regex(e2.message, /cannot reach http:\/\/127\.0\.0\.1/)
  await t.throwsAsync(unreachable.restoreLatest(), { instanceOf: StateError, code: 'ERR_STATEKIT_IO' })
})

test('a failed upload is a counted failure and an error event, and leaves the earlier checkpoints listed and whole', async (t) => {
  const bucket = await moto.bucket(t)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const storage = s3Storage(moto.options(bucket, 'fail'))
  const c = new CheckpointCoordinator(b, { storage, interval: 60_000 })
  await b.put('a', '1')
  const first = await c.createCheckpoint()
  const before = await object(bucket, 'fail/manifest.json')
  // A real fault: the server refuses the upload, by a bucket policy that denies it.
  await moto.client.send(new PutBucketPolicyCommand({
    Bucket: bucket,
    Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: ['s3:PutObject'], Resource: [`arn:aws:s3:::${bucket}/fail/checkpoint-*`] }] }),
  }))
  const errors = []
  c.on('error', (e) => errors.push(e))
  await b.put('b', '2')
  const denied = await c.createCheckpoint().then(() => null, (e) => e)
  await moto.client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }))
  t.truthy(denied, 'the upload was refused')
  t.is(denied.code, 'ERR_STATEKIT_IO')
  t.regex(denied.message, /access denied|AccessDenied/i)
  t.is(c.stats().checkpointFailures, 1)
  t.is(errors.length, 1)
  t.is(errors[0], denied)
  const after = await object(bucket, 'fail/manifest.json')
  t.is(after.etag, before.etag, 'the manifest is unchanged')
  t.deepEqual((await c.list()).map((e) => e.id), [first.id])
  t.deepEqual(await keys(bucket, 'fail/'), [(await c.list())[0].file, 'manifest.json'].sort())
  // The storage works again: the next checkpoint is full (its base was never listed) and restores.
  const next = await c.createCheckpoint()
  t.is(next.kind, 'full')
})

test('a process killed in the middle of an upload: the manifest lists only whole checkpoints; the next start aborts the upload and cleans up', async (t) => {
  const bucket = await moto.bucket(t)
  const child = spawn(process.execPath, [fixture('s3-upload-killed.mjs'), bucket, 'killed'], { env: moto.env(), stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('part-uploaded')) {
        child.kill('SIGKILL')
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before an upload part was sent: ${out}`)))
  })
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)))
  const firstId = Number(/first (\d+)/.exec(out)[1])
  // The killed writer's staging directory (named by its pid) is still there.
  const staging = path.join(os.tmpdir(), 'statekit-s3-staging', String(child.pid))
  const stagingOf = () => (fs.existsSync(staging) ? [staging] : [])
  t.is(stagingOf().length, 1, 'the killed writer left its staging directory')
  const uploads = await moto.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'killed/' }))
  t.is(uploads.Uploads?.length, 1, 'the killed upload is incomplete')
  const m = await manifestOf(bucket, 'killed/')
  t.deepEqual(m.checkpoints.map((e) => e.id), [firstId], 'only the whole checkpoint is listed')
  // The next start: cleans up, and restores the whole one.
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const c = new CheckpointCoordinator(b, { storage: s3Storage(moto.options(bucket, 'killed')), interval: 60_000 })
  const report = await c.restoreLatest()
  t.is(report.checkpoint.id, firstId)
  t.is(b.stats().entryCount, 10)
  const after = await moto.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'killed/' }))
  t.is(after.Uploads?.length ?? 0, 0, 'the incomplete upload was aborted')
  t.deepEqual(stagingOf(), [], 'and its staging directory was removed')
  t.deepEqual(await keys(bucket, 'killed/'), [m.checkpoints[0].file, 'manifest.json'].sort())
})

test('the seed 003 example (examples/module-state.mjs) keeps a module\'s state across runs, on a directory and on S3', async (t) => {
  const example = new URL('../examples/module-state.mjs', import.meta.url).pathname
  const bucket = await moto.bucket(t)
  const cwd = tempDir(t)
  for (const where of [[], [`s3://${bucket}/modules`]]) {
    const first = await run(process.execPath, [example, ...where], { env: moto.env(), cwd })
    t.regex(first.stdout, /no saved state yet/)
    t.regex(first.stdout, /"runs":1/)
    const second = await run(process.execPath, [example, ...where], { env: moto.env(), cwd })
    t.regex(second.stdout, where.length ? new RegExp(`loaded state from s3://${bucket}/modules/my-module/checkpoint-`) : /loaded state from .*module-state\/my-module\/checkpoint-/)
    t.regex(second.stdout, /"runs":2/)
    t.notRegex(second.stdout, /scratch/)
  }
  t.true(fs.existsSync(`${cwd}/module-state/my-module/manifest.json`))
  t.true((await keys(bucket, 'modules/my-module/')).includes('manifest.json'))
})

test('without the AWS SDK installed, statekit, a directory coordinator and the CLI work, and s3Storage says what to install', async (t) => {
  const preload = fixture('no-aws-sdk.cjs')
  const { stdout } = await run(process.execPath, ['--require', preload, fixture('without-sdk.mjs')])
  const r = JSON.parse(stdout)
  t.is(r.entries, 1)
  t.is(r.error.code, 'ERR_STATEKIT_INVALID_ARG')
  t.regex(r.error.message, /npm install @aws-sdk\/client-s3 @aws-sdk\/lib-storage/)
  const dir = tempDir(t)
  const cli = new URL('../dist/cli.js', import.meta.url).pathname
  const listed = await run(process.execPath, ['--require', preload, cli, 'list', dir, '--json'])
  t.deepEqual(JSON.parse(listed.stdout), [])
  const s3 = await run(process.execPath, ['--require', preload, cli, 'list', 's3://some-bucket/p']).then(() => null, (e) => e)
  t.is(s3.code, 64)
  t.regex(s3.stderr, /needs the @aws-sdk\/client-s3 package/)
})

test('wrong credentials are ERR_STATEKIT_IO saying so (a second moto server that checks credentials)', async (t) => {
  await moto.bucket(t) // fails the test clearly if moto cannot run at all
  const { child, endpoint } = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '0' })
  t.teardown(() => child.kill('SIGKILL'))
  const storage = s3Storage({ bucket: 'any-bucket', prefix: 'p', endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIAWRONGWRONGWRONG1', secretAccessKey: 'wrong' } })
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const c = new CheckpointCoordinator(b, { storage, interval: 60_000 })
  const e = await t.throwsAsync(c.createCheckpoint(), { instanceOf: StateError, code: 'ERR_STATEKIT_IO' })
  t.regex(e.message, /access denied \(InvalidAccessKeyId\): check the credentials/)
  t.is(c.stats().checkpointFailures, 1)
  await t.throwsAsync(c.restoreLatest(), { instanceOf: StateError, code: 'ERR_STATEKIT_IO' })
})
