// The CLI on s3:// URLs, against moto's S3 server on loopback.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { CheckpointCoordinator, MemoryBackend, SledBackend } from '../dist/index.js'
import { s3Storage } from '../dist/s3.js'
import { useMoto } from './helpers/moto.mjs'
import { tempDir } from './helpers/tmp.mjs'

const moto = useMoto(test)
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

function cli(args, env = moto.env()) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, maxBuffer: 64 << 20, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }))
  })
}

// A checkpoint set on S3: full, incremental, full, incremental (fullEvery 2).
async function checkpointSet(t, prefix = 'svc/p1') {
  const bucket = await moto.bucket(t)
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  let n = 0
  const c = new CheckpointCoordinator(b, { storage: s3Storage(moto.options(bucket, prefix)), interval: 60_000, fullEvery: 2, metadata: () => ({ offset: n }) })
  for (let i = 0; i < 4; i++) {
    await b.putMany(Array.from({ length: 100 }, (_, j) => [`k${i}-${j}`, `v${i}-${j}`]))
    n += 100
    await c.createCheckpoint()
  }
  return { bucket, url: `s3://${bucket}/${prefix}`, list: await c.list() }
}

test('list, inspect and export read checkpoints on S3; an incremental object is read with its chain', async (t) => {
  const { url, list } = await checkpointSet(t)
  const l = await cli(['list', url, '--json'])
  t.is(l.code, 0, l.stderr)
  const rows = JSON.parse(l.stdout)
  t.deepEqual(rows.map((r) => r.id), list.map((e) => e.id))
  t.deepEqual(rows.map((r) => r.quickCheck), ['ok', 'ok', 'ok', 'ok'])
  t.is(rows[0].path, `${url}/${list[0].file}`)
  const table = await cli(['list', `${url}/`])
  t.is(table.code, 0)
  t.regex(table.stdout, /incremental/)
  const i = await cli(['inspect', `${url}/${list[0].file}`, '--json', '--keys', '--limit', '3'])
  t.is(i.code, 0, i.stderr)
  const info = JSON.parse(i.stdout)
  t.is(info.id, list[0].id)
  t.is(info.kind, 'incremental')
  t.deepEqual(info.metadata, { offset: 400 })
  t.is(info.keys.length, 3)
  const e = await cli(['export', `${url}/${list[1].file}`])
  t.is(e.code, 0, e.stderr)
  const [header, ...lines] = e.stdout.trim().split('\n').map((x) => JSON.parse(x))
  t.like(header, { statekit: 'export', encoding: 'utf8' })
  t.is(lines.length, 300)
  t.true(lines.some((x) => x.key === 'k2-99' && x.value === 'v2-99'))
  // Missing objects and prefixes where an object is needed are clear errors.
  const missing = await cli(['inspect', `${url}/checkpoint-0000000000001-1-aaaaaa.skc`])
  t.is(missing.code, 66, missing.stderr)
  t.regex(missing.stderr, /not found/)
  const prefixOnly = await cli(['export', url])
  t.is(prefixOnly.code, 64)
  const badUrl = await cli(['list', 's3://NO/x'])
  t.is(badUrl.code, 64)
  t.regex(badUrl.stderr, /not a valid s3:\/\/bucket\/prefix URL/)
})

test('verify on S3 is silent when whole and exits 65 naming a damaged object; restore skips it and uses the one before', async (t) => {
  const { bucket, url, list } = await checkpointSet(t)
  const ok = await cli(['verify', url])
  t.is(ok.code, 0, ok.stderr)
  t.is(ok.stdout, '')
  const key = `svc/p1/${list[0].file}`
  const obj = await moto.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  const body = Buffer.from(await obj.Body.transformToByteArray())
  body[body.length - 40] ^= 0x55
  await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
  const bad = await cli(['verify', url, '--json'])
  t.is(bad.code, 65)
  const results = JSON.parse(bad.stdout)
  t.deepEqual(results.map((r) => r.ok), [false, true, true, true])
  t.true(results[0].path.endsWith(list[0].file))
  const one = await cli(['verify', `${url}/${list[0].file}`])
  t.is(one.code, 65)
  t.true(one.stderr.includes(list[0].file))
  const into = path.join(tempDir(t), 'state')
  const r = await cli(['restore', url, '--into', into, '--json'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stderr, /skipping .* does not verify/)
  const summary = JSON.parse(r.stdout)
  t.is(summary.id, list[1].id)
  t.deepEqual(summary.metadata, { offset: 300 })
  const s = await SledBackend.open({ path: into })
  t.teardown(() => s.close())
  t.is(s.stats().entryCount, 300)
})

test('prune on S3 keeps the newest N and the chains they need; push and pull copy a set, manifest last', async (t) => {
  const { bucket, url, list } = await checkpointSet(t)
  const p = await cli(['prune', url, '--keep', '1', '--json'])
  t.is(p.code, 0, p.stderr)
  // The newest is incremental: its full base stays.
  t.deepEqual(JSON.parse(p.stdout).deleted.sort(), [list[2].file, list[3].file].sort())
  const left = JSON.parse((await cli(['list', url, '--json'])).stdout)
  t.deepEqual(left.map((r) => r.id), [list[0].id, list[1].id])
  // pull to a directory, then push to another prefix through --endpoint (no AWS_ENDPOINT_URL).
  const dir = tempDir(t)
  const pulled = await cli(['pull', url, dir, '--json'])
  t.is(pulled.code, 0, pulled.stderr)
  t.deepEqual(JSON.parse(pulled.stdout).copied.sort(), [list[0].file, list[1].file].sort())
  t.true(fs.existsSync(path.join(dir, 'manifest.json')))
  const r = new MemoryBackend()
  t.teardown(() => r.close())
  const rep = await new CheckpointCoordinator(r, { dir, interval: 60_000 }).restoreLatest()
  t.is(rep.checkpoint.id, list[0].id)
  t.is(r.stats().entryCount, 400)
  const env = { ...moto.env() }
  delete env.AWS_ENDPOINT_URL
  const pushed = await cli(['push', dir, `s3://${bucket}/copy/p1`, '--endpoint', moto.endpoint], env)
  t.is(pushed.code, 0, pushed.stderr)
  const again = await cli(['push', dir, `s3://${bucket}/copy/p1`, '--endpoint', moto.endpoint, '--json'], env)
  t.deepEqual(JSON.parse(again.stdout).copied, [], 'nothing to copy twice')
  const r2 = new MemoryBackend()
  t.teardown(() => r2.close())
  const rep2 = await new CheckpointCoordinator(r2, { storage: s3Storage(moto.options(bucket, 'copy/p1')), interval: 60_000 }).restoreLatest()
  t.is(rep2.checkpoint.id, list[0].id)
  t.is(r2.stats().entryCount, 400)
  // A destination another owner holds is refused, and nothing is copied.
  const holder = new CheckpointCoordinator(new MemoryBackend(), { storage: s3Storage(moto.options(bucket, 'held')), interval: 60_000 })
  const lease = await holder.acquireLease({ owner: 'host-z', ttl: 30_000 })
  const refused = await cli(['push', dir, `s3://${bucket}/held`])
  t.is(refused.code, 75, 'held, like a locked directory')
  t.regex(refused.stderr, /held by "host-z"/)
  t.deepEqual(await s3Storage(moto.options(bucket, 'held')).listCheckpoints(), [])
  await lease.release()
  // A directory of checkpoints named by hand (no manifest) is pushed as it is indexed.
  const hand = tempDir(t)
  const hb = new MemoryBackend()
  t.teardown(() => hb.close())
  await hb.put('hand', 'made')
  const made = await hb.checkpoint(path.join(hand, 'cp-0001.skc'))
  const handPush = await cli(['push', hand, `s3://${bucket}/hand`, '--json'])
  t.is(handPush.code, 0, handPush.stderr)
  t.deepEqual(JSON.parse(handPush.stdout).copied, ['cp-0001.skc'])
  const hr = new MemoryBackend()
  t.teardown(() => hr.close())
  const hrep = await new CheckpointCoordinator(hr, { storage: s3Storage(moto.options(bucket, 'hand')), interval: 60_000 }).restoreLatest()
  t.is(hrep.checkpoint.id, made.id)
  t.is(String(await hr.get('hand')), 'made')
  const names = JSON.parse((await cli(['list', `s3://${bucket}/hand`, '--json'])).stdout).map((r) => r.path)
  t.deepEqual(names, [`s3://${bucket}/hand/cp-0001.skc`])
  // Bad arguments.
  t.is((await cli(['push', dir, dir])).code, 64)
  t.is((await cli(['pull', `${url}/${list[0].file}`, dir])).code, 64)
})
