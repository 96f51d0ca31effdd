import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { spawn, execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { SledBackend, StateError } from '../dist/index.js'
import { contractSuite } from './helpers/contract.mjs'
import { tempDir } from './helpers/tmp.mjs'

const fixture = fileURLToPath(new URL('./fixtures/sled-writer.mjs', import.meta.url))

contractSuite(test, 'SledBackend', (t) => SledBackend.open({ path: path.join(tempDir(t), 'db') }))

const code = (c) => ({ instanceOf: StateError, code: c })

function runChild(args, { until } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
      if (until && out.includes(until)) resolve({ child, out })
    })
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('exit', (status) => (status === 0 ? resolve({ child, out }) : reject(new Error(`child exited ${status}: ${err}`))))
  })
}

test('SledBackend: data and TTLs persist across processes', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const { out } = await runChild(['write', dir])
  t.true(out.includes('flushed'))
  await sleep(400) // 'short' expires while no process holds the store
  const store = await SledBackend.open({ path: dir })
  t.is((await store.get('plain')).toString(), 'value')
  t.is((await store.get('long')).toString(), 'stays')
  t.is(await store.get('short'), undefined)
  t.deepEqual((await store.listKeys('b:')).map(String), ['b:1', 'b:2'])
  t.deepEqual((await store.listKeys()).map(String), ['b:1', 'b:2', 'long', 'plain'])
  await store.close()
})

test('SledBackend: close() flushes and releases the directory at once', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const a = await SledBackend.open({ path: dir, flushEveryMs: null })
  await a.put('k', 'v')
  await a.close()
  const b = await SledBackend.open({ path: dir })
  t.is((await b.get('k')).toString(), 'v')
  await b.close()
})

test('SledBackend: a second open in the same process is LOCKED and names the path', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const a = await SledBackend.open({ path: dir })
  const err = await t.throwsAsync(SledBackend.open({ path: dir }), code('ERR_STATEKIT_LOCKED'))
  t.true(err.message.includes(dir))
  t.is(a.stats().entryCount, 0)
  await a.close()
})

test('SledBackend: a directory held by another process is LOCKED', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const { child } = await runChild(['hold', dir], { until: 'ready' })
  try {
    const err = await t.throwsAsync(SledBackend.open({ path: dir }), code('ERR_STATEKIT_LOCKED'))
    t.true(err.message.includes(dir))
  } finally {
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
  }
  // The kernel released the dead holder's lock.
  const store = await SledBackend.open({ path: dir })
  await store.close()
})

test('SledBackend: a path that is a file is an I/O error', async (t) => {
  const file = path.join(tempDir(t), 'file')
  fs.writeFileSync(file, 'not a directory')
  const err = await t.throwsAsync(SledBackend.open({ path: file }), code('ERR_STATEKIT_IO'))
  t.true(err.message.includes(file))
  t.is(fs.readFileSync(file, 'utf8'), 'not a directory')
})

test('SledBackend: a missing directory is created', async (t) => {
  const dir = path.join(tempDir(t), 'a', 'b', 'c')
  const store = await SledBackend.open({ path: dir })
  t.true(fs.statSync(dir).isDirectory())
  await store.close()
})

test('SledBackend: a damaged directory is CORRUPT and the process lives on', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const store = await SledBackend.open({ path: dir })
  await store.putMany(Array.from({ length: 2000 }, (_, i) => [`k${i}`, 'v'.repeat(100)]))
  await store.close()
  const files = fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, f))
  for (const f of files) {
    if (fs.statSync(f).isFile() && !f.endsWith('statekit.lock')) {
      fs.writeFileSync(f, Buffer.alloc(Math.max(64, fs.statSync(f).size), 0xa5))
    }
  }
  const err = await t.throwsAsync(SledBackend.open({ path: dir }), code('ERR_STATEKIT_CORRUPT'))
  t.true(err.message.includes(dir))
  // Still alive, and the directory is still there for inspection.
  t.true(fs.existsSync(dir))
  const other = await SledBackend.open({ path: path.join(tempDir(t), 'fresh') })
  await other.put('alive', 'yes')
  t.is((await other.get('alive')).toString(), 'yes')
  await other.close()
})

test('SledBackend: bad options are INVALID_ARG and touch nothing on disk', async (t) => {
  const base = tempDir(t)
  const p = path.join(base, 'never')
  const bad = [
    undefined,
    null,
    'path',
    {},
    { path: '' },
    { path: 42 },
    { path: p, cacheCapacity: -1 },
    { path: p, cacheCapacity: 1.5 },
    { path: p, cacheCapacity: '1' },
    { path: p, flushEveryMs: -1 },
    { path: p, flushEveryMs: 0 },
    { path: p, flushEveryMs: 2.5 },
    { path: p, ttl: -5 },
    { path: p, ttl: NaN },
    { path: p, compression: 'yes' },
    { path: p, mode: 'fast' },
  ]
  for (const config of bad) {
    await t.throwsAsync(SledBackend.open(config), code('ERR_STATEKIT_INVALID_ARG'), JSON.stringify(config))
  }
  t.deepEqual(fs.readdirSync(base), [])
})

test('SledBackend: changing compression across restarts is refused', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const a = await SledBackend.open({ path: dir, compression: true })
  await a.put('k', 'v'.repeat(1000))
  await a.close()
  await t.throwsAsync(SledBackend.open({ path: dir, compression: false }), code('ERR_STATEKIT_INVALID_ARG'))
  const b = await SledBackend.open({ path: dir, compression: true })
  t.is((await b.get('k')).length, 1000)
  await b.close()
})

test('SledBackend: flush, sizeOnDisk and diskBytes', async (t) => {
  const store = await SledBackend.open({ path: path.join(tempDir(t), 'db'), flushEveryMs: null, mode: 'lowSpace', cacheCapacity: 8 << 20 })
  await store.putMany(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v'.repeat(100)]))
  t.true((await store.flush()) >= 0)
  const size = await store.sizeOnDisk()
  t.true(size > 0)
  const s = store.stats()
  t.is(typeof s.diskBytes, 'number')
  t.true(s.diskBytes > 0)
  t.is(s.entryCount, 1000)
  t.is(s.memoryBytes, 1000 * 100 + [...Array(1000).keys()].reduce((a, i) => a + `k${i}`.length, 0))
  await store.close()
  await t.throwsAsync(store.flush(), code('ERR_STATEKIT_CLOSED'))
  await t.throwsAsync(store.sizeOnDisk(), code('ERR_STATEKIT_CLOSED'))
})

test('SledBackend: the default TTL applies and survives reopen', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const a = await SledBackend.open({ path: dir, ttl: 200 })
  await a.put('default', 'v')
  await a.put('never', 'v', { ttl: 0 })
  await a.close()
  await sleep(250)
  const b = await SledBackend.open({ path: dir })
  t.is(await b.get('default'), undefined)
  t.truthy(await b.get('never'))
  await b.close()
})

test('SledBackend: no acknowledged batch is lost or torn across 20+ SIGKILLs', async (t) => {
  t.timeout(120_000)
  const dir = path.join(tempDir(t), 'db')
  let acked = -1
  const kills = 22
  for (let round = 0; round < kills; round++) {
    const child = spawn(process.execPath, [fixture, 'batches', dir, String(acked + 1)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let buf = ''
    let writing
    const started = new Promise((r) => (writing = r))
    child.stdout.on('data', (d) => {
      buf += d
      const lines = buf.split('\n')
      buf = lines.pop()
      for (const l of lines) if (l) acked = Math.max(acked, Number(l))
      writing()
    })
    // Kill at a random moment once it is writing (its first acknowledgement, or 10 s
    // on a machine too loaded to get that far).
    await Promise.race([started, new Promise((r) => setTimeout(r, 10_000))])
    await new Promise((r) => setTimeout(r, Math.random() * 250))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const store = await SledBackend.open({ path: dir, flushEveryMs: null })
    const byBatch = new Map()
    for await (const [k, v] of store.entries({ prefix: 'batch:' })) {
      const [, b, i] = k.toString().split(':')
      t.is(v.toString().split(':').slice(0, 2).join(':'), `${Number(b)}:${i}`)
      byBatch.set(Number(b), (byBatch.get(Number(b)) ?? 0) + 1)
    }
    for (let b = 0; b <= acked; b++) {
      if (byBatch.get(b) !== 20) t.fail(`round ${round}: acknowledged batch ${b} has ${byBatch.get(b) ?? 0} of 20 keys`)
    }
    for (const [b, n] of byBatch) if (n !== 20) t.fail(`round ${round}: batch ${b} is torn: ${n} of 20 keys`)
    await store.close()
  }
  t.true(acked > kills, `batches were acknowledged (${acked})`)
  t.log(`${kills} kills, ${acked + 1} batches acknowledged, all present and whole`)
})

test('entries that expired while the store was closed are not counted when it is opened again', async (t) => {
  const dir = path.join(fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'statekit-sled-')), 'db')
  t.teardown(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }))
  const a = await SledBackend.open({ path: dir })
  await a.put('short', 'x', { ttl: 30 })
  await a.put('long', 'y')
  await a.close()
  await sleep(80)
  const b = await SledBackend.open({ path: dir })
  const s = b.stats()
  t.is(s.entryCount, 1, 'only the live entry')
  t.is(s.memoryBytes, 'long'.length + 'y'.length)
  t.deepEqual((await b.listKeys()).map(String), ['long'])
  await b.close()
})
