import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import { MemoryBackend, SledBackend, StateError, readCheckpointInfo, verifyCheckpoint } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'
import { snapshot } from './helpers/snapshot.mjs'

const TIERS = {
  memory: () => new MemoryBackend(),
  sled: (t) => SledBackend.open({ path: path.join(tempDir(t), 'db'), flushEveryMs: null }),
}
const CORRUPT = { instanceOf: StateError, code: 'ERR_STATEKIT_CORRUPT' }

// 100K random entries: binary keys, empty values, a few 1 MiB values.
function randomEntries(n) {
  const out = new Map()
  for (let i = 0; out.size < n; i++) {
    const key = crypto.randomBytes(4 + (i % 24))
    const len = out.size % 10 === 0 ? 0 : 1 + (out.size % 200)
    out.set(key.toString('hex'), [key, crypto.randomBytes(len)])
  }
  for (let i = 0; i < 4; i++) out.set(`big${i}`, [Buffer.from(`big:${i}`), crypto.randomBytes(1 << 20)])
  return [...out.values()]
}

async function fill(b, entries) {
  for (let i = 0; i < entries.length; i += 5000) await b.putMany(entries.slice(i, i + 5000))
}

async function digest(b) {
  const h = crypto.createHash('sha256')
  let n = 0
  for await (const [k, v] of b.entries()) {
    h.update(k).update('\0').update(v).update('\0')
    n++
  }
  return `${n}:${h.digest('hex')}`
}

const ENTRIES = randomEntries(100_000)
let expected
const combos = [
  ['memory', 'memory', 'zstd'],
  ['sled', 'sled', 'lz4'],
  ['memory', 'sled', 'none'],
  ['sled', 'memory', 'zstd'],
  ['memory', 'memory', 'lz4'],
  ['sled', 'sled', 'none'],
]
for (const [from, to, compression] of combos) {
  test.serial(`100K random entries round-trip ${from} -> ${to} with ${compression}`, async (t) => {
    const src = await TIERS[from](t)
    await fill(src, ENTRIES)
    expected ??= await digest(src)
    t.is(await digest(src), expected)
    const file = path.join(tempDir(t), `cp-${compression}.skc`)
    const info = await src.checkpoint(file, { compression, metadata: { offsets: { 0: 1234 } } })
    t.is(info.entries, ENTRIES.length)
    t.is(info.kind, 'full')
    t.is(info.path, path.resolve(file))
    t.deepEqual(info.metadata, { offsets: { 0: 1234 } })
    t.is(info.bytes, fs.statSync(file).size)
    const dst = await TIERS[to](t)
    await dst.put('will-be-replaced', 'x')
    const r = await dst.restore(file)
    t.is(r.entries, ENTRIES.length)
    t.is(r.expired, 0)
    t.is(r.id, info.id)
    t.deepEqual(r.metadata, { offsets: { 0: 1234 } })
    t.is(await digest(dst), expected)
    t.is(dst.stats().entryCount, ENTRIES.length)
    await src.close()
    await dst.close()
  })
}

for (const tier of ['memory', 'sled']) {
  test(`${tier}: a checkpoint is one instant: no putMany torn, nothing acknowledged missing`, async (t) => {
    const b = await TIERS[tier](t)
    const N = 2000
    const gen = (g) => {
      const batch = []
      for (let i = 0; i < N; i++) batch.push([`a:${i}`, String(g)], [`b:${i}`, String(g)])
      return batch
    }
    for (let g = 1; g <= 5; g++) await b.putMany(gen(g))
    await b.put('acked', 'yes')
    const file = path.join(tempDir(t), 'cut.skc')
    const pending = b.checkpoint(file) // the cut is here: generation 5
    let g = 6
    let stop = false
    const writer = (async () => {
      while (!stop) {
        await b.putMany(gen(g++))
        await b.delete('acked')
        await new Promise((r) => setImmediate(r))
      }
    })()
    await pending
    stop = true
    await writer
    t.true(g > 6, 'writes went on while the checkpoint ran')
    const r = new MemoryBackend()
    await r.restore(file)
    const seen = new Set()
    for await (const [k, v] of r.entries({ prefix: 'a:' })) {
      const i = k.toString().slice(2)
      t.is((await r.get(`b:${i}`)).toString(), v.toString())
      seen.add(v.toString())
    }
    t.deepEqual([...seen], ['5'])
    t.is((await r.get('acked')).toString(), 'yes')
    t.is(r.stats().entryCount, 2 * N + 1)
    await r.close()
    await b.close()
  })

  test(`${tier}: incremental checkpoints chain by id in their directory`, async (t) => {
    const b = await TIERS[tier](t)
    const dir = tempDir(t)
    await t.throwsAsync(b.checkpoint(path.join(dir, 'x.skc'), { incremental: true }), { code: 'ERR_STATEKIT_INVALID_ARG' })
    await b.putMany(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v1']))
    const full = await b.checkpoint(path.join(dir, 'full.skc'))
    await b.put('k1', 'v2')
    await b.delete('k2')
    await b.put('new', 'n')
    const inc1 = await b.checkpoint(path.join(dir, 'inc1.skc'), { incremental: true, compression: 'lz4' })
    t.is(inc1.kind, 'incremental')
    t.is(inc1.baseId, full.id)
    t.is(inc1.entries, 3)
    await b.put('k3', 'v3')
    const inc2 = await b.checkpoint(path.join(dir, 'inc2.skc'), { incremental: true })
    t.is(inc2.baseId, inc1.id)
    t.is(inc2.entries, 1)
    const r = new MemoryBackend()
    const info = await r.restore(inc2.path)
    t.deepEqual(info.chain, [full.id, inc1.id, inc2.id])
    t.is(await digest(r), await digest(b))
    const fileInfo = await readCheckpointInfo(inc2.path)
    t.like(fileInfo, { kind: 'incremental', baseId: inc1.id, entries: 1, id: inc2.id })
    fs.rmSync(inc1.path)
    const err = await t.throwsAsync(r.restore(inc2.path), CORRUPT)
    t.regex(err.message, /base/)
    await r.close()
    await b.close()
  })

  test(`${tier}: TTLs are absolute; expired entries are left out and dropped on restore`, async (t) => {
    const b = await TIERS[tier](t)
    await b.put('gone', 'x', { ttl: 1 })
    await b.put('soon', 'x', { ttl: 1500 })
    await b.put('stay', 'x')
    await new Promise((r) => setTimeout(r, 10))
    const file = path.join(tempDir(t), 'ttl.skc')
    const info = await b.checkpoint(file)
    t.is(info.entries, 2)
    await new Promise((r) => setTimeout(r, 1600))
    const r = await TIERS[tier](t)
    const res = await r.restore(file)
    t.is(res.expired, 1)
    t.is(res.entries, 1)
    t.deepEqual((await r.listKeys()).map(String), ['stay'])
    await r.close()
    await b.close()
  })

  test(`${tier}: damaged checkpoints are CORRUPT and leave the backend unchanged`, async (t) => {
    const b = await TIERS[tier](t)
    const dir = tempDir(t)
    await b.putMany(Array.from({ length: 5000 }, (_, i) => [`k${i}`, crypto.randomBytes(200)]))
    const good = await b.checkpoint(path.join(dir, 'good.skc'), { compression: 'zstd', metadata: { n: 1 } })
    const bytes = fs.readFileSync(good.path)
    const target = await TIERS[tier](t)
    await target.putMany([['mine', 'untouched'], ['other', 'also']])
    const before = await snapshot(target)
    const bad = path.join(dir, 'bad.skc')
    const damage = [
      ['header', 20],
      ['block', Math.floor(bytes.length / 2)],
      ['footer', bytes.length - 30],
    ]
    for (const [where, at] of damage) {
      const copy = Buffer.from(bytes)
      copy[at] ^= 0x10
      fs.writeFileSync(bad, copy)
      const err = await t.throwsAsync(target.restore(bad), CORRUPT, where)
      t.true(err.message.includes('bad.skc'), err.message)
      if (where === 'block') t.regex(err.message, /block \d+ at offset \d+/)
      t.deepEqual(await snapshot(target), before)
      const v = await verifyCheckpoint(bad)
      t.false(v.ok)
      t.true(v.error.includes('bad.skc'))
    }
    for (let cut = 0; cut < bytes.length; cut += Math.ceil(bytes.length / 40)) {
      fs.writeFileSync(bad, bytes.subarray(0, cut))
      await t.throwsAsync(target.restore(bad), CORRUPT, `truncated at ${cut}`)
    }
    t.deepEqual(await snapshot(target), before)
    t.is(target.stats().entryCount, 2)
    await target.close()
    await b.close()
  })
}

test('a PNG, an empty file and a missing file are clear errors', async (t) => {
  const dir = tempDir(t)
  const png = path.join(dir, 'image.png')
  fs.writeFileSync(png, Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(200)]))
  const empty = path.join(dir, 'empty.skc')
  fs.writeFileSync(empty, '')
  const b = new MemoryBackend()
  await b.put('k', 'v')
  for (const f of [png, empty]) {
    const err = await t.throwsAsync(b.restore(f), CORRUPT)
    t.regex(err.message, /not a statekit checkpoint/)
    await t.throwsAsync(readCheckpointInfo(f), CORRUPT)
    t.false((await verifyCheckpoint(f)).ok)
  }
  await t.throwsAsync(b.restore(path.join(dir, 'missing.skc')), { code: 'ERR_STATEKIT_IO' })
  await t.throwsAsync(verifyCheckpoint(path.join(dir, 'missing.skc')), { code: 'ERR_STATEKIT_IO' })
  t.is((await b.get('k')).toString(), 'v')
  await b.close()
})

test('readCheckpointInfo and verifyCheckpoint describe a good file', async (t) => {
  const b = new MemoryBackend()
  await b.putMany(Array.from({ length: 3000 }, (_, i) => [`k${i}`, 'x'.repeat(500)]))
  const file = path.join(tempDir(t), 'ok.skc')
  const cp = await b.checkpoint(file, { compression: 'zstd', level: 9, metadata: { source: 'orders', offsets: { 0: 7 } } })
  const info = await readCheckpointInfo(file)
  t.like(info, { id: cp.id, kind: 'full', entries: 3000, compression: 'zstd', bytes: cp.bytes, rawBytes: cp.rawBytes, createdAt: cp.createdAt })
  t.deepEqual(info.metadata, { source: 'orders', offsets: { 0: 7 } })
  t.true(info.blocks >= 1)
  t.true(info.bytes * 10 < info.rawBytes, 'repetitive values compress')
  const v = await verifyCheckpoint(file)
  t.true(v.ok)
  t.is(v.info.id, cp.id)
  await b.close()
})

test('checkpoint options are validated and a second concurrent checkpoint is BUSY', async (t) => {
  const b = new MemoryBackend()
  await b.putMany(Array.from({ length: 20000 }, (_, i) => [`k${i}`, 'x'.repeat(100)]))
  const dir = tempDir(t)
  const INVALID = { code: 'ERR_STATEKIT_INVALID_ARG' }
  await t.throwsAsync(b.checkpoint(''), INVALID)
  await t.throwsAsync(b.checkpoint(5), INVALID)
  await t.throwsAsync(b.checkpoint(path.join(dir, 'a'), { compression: 'gzip' }), INVALID)
  await t.throwsAsync(b.checkpoint(path.join(dir, 'a'), { level: 0 }), INVALID)
  await t.throwsAsync(b.checkpoint(path.join(dir, 'a'), { compression: 'lz4', level: 3 }), INVALID)
  const circular = {}
  circular.self = circular
  await t.throwsAsync(b.checkpoint(path.join(dir, 'a'), { metadata: circular }), INVALID)
  await t.throwsAsync(b.checkpoint(path.join(dir, 'a'), { metadata: [1] }), INVALID)
  await t.throwsAsync(b.restore(''), INVALID)
  t.deepEqual(fs.readdirSync(dir), [])
  const first = b.checkpoint(path.join(dir, 'one.skc'))
  await t.throwsAsync(b.checkpoint(path.join(dir, 'two.skc')), { code: 'ERR_STATEKIT_BUSY', instanceOf: StateError })
  await first
  await b.checkpoint(path.join(dir, 'three.skc'))
  // A parent directory that cannot be made (a file is in the way) is an I/O error.
  await t.throwsAsync(b.checkpoint(path.join(dir, 'one.skc', 'sub', 'x.skc')), { code: 'ERR_STATEKIT_IO' })
  t.deepEqual(fs.readdirSync(dir).sort(), ['one.skc', 'three.skc'])
  await b.close()
  await t.throwsAsync(b.checkpoint(path.join(dir, 'closed.skc')), { code: 'ERR_STATEKIT_CLOSED' })
  await t.throwsAsync(b.restore(path.join(dir, 'one.skc')), { code: 'ERR_STATEKIT_CLOSED' })
})

test('a cleanup task keeps sweeping the memory tier after a restore', async (t) => {
  const b = new MemoryBackend()
  const task = b.startCleanupTask(5)
  const file = path.join(tempDir(t), 'c.skc')
  await b.put('k', 'v', { ttl: 60_000 })
  await b.checkpoint(file)
  await b.restore(file)
  for (let i = 0; i < 50; i++) b.putSync(`e${i}`, 'v', { ttl: 5 })
  const deadline = Date.now() + 5000
  while (b.stats().entryCount > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.is(b.stats().entryCount, 1)
  task.stop()
  await b.close()
})

for (const [tier, open] of Object.entries(TIERS)) {
  test(`${tier}: checkpoint() creates a missing parent directory, and readCheckpointInfo agrees on the absolute path`, async (t) => {
    const base = tempDir(t)
    const b = await open(t)
    await b.put('k', 'v')
    const rel = path.relative(process.cwd(), path.join(base, 'cp', 'nested', '0001.skc'))
    const info = await b.checkpoint(rel)
    t.true(path.isAbsolute(info.path))
    t.is(info.path, path.resolve(rel))
    t.true(fs.statSync(path.join(base, 'cp', 'nested')).isDirectory())
    const read = await readCheckpointInfo(rel)
    t.is(read.path, info.path, 'both report the same absolute path')
    t.true((await verifyCheckpoint(rel)).ok)
    await b.close()
  })

  test(`${tier}: a parent directory that cannot be made is named in the error, not a temp file`, async (t) => {
    const base = tempDir(t)
    fs.writeFileSync(path.join(base, 'file'), 'x')
    const b = await open(t)
    await b.put('k', 'v')
    const err = await t.throwsAsync(b.checkpoint(path.join(base, 'file', 'cp', '0001.skc')), { instanceOf: StateError, code: 'ERR_STATEKIT_IO' })
    t.regex(err.message, new RegExp(`directory ${path.join(base, 'file').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    t.notRegex(err.message, /\.tmp/)
    await b.close()
  })
}
