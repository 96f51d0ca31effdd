// The shared-buffer fast path's new roads: short keys and values written with a
// JavaScript loop, putMany through the shared buffers, getString, getInto, and a
// namespace's in-place decode. Each must give the general path's results and errors
// for every key and value shape, including the ones that must leave the fast path.
import test from 'ava'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { MemoryBackend, SledBackend } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const MAX_KEY = 64 * 1024
const MIB = 1 << 20
const KEYS = [
  ['short ASCII', 'key:00000000001'],
  ['64 ASCII chars (the loop limit)', 'k'.repeat(64)],
  ['65 ASCII chars', 'k'.repeat(65)],
  ['long ASCII', 'long:'.repeat(500)],
  ['non-ASCII', 'clé:ünïcødé:✓'],
  ['ASCII then emoji', 'abc😀'],
  ['a lone surrogate', 'x\ud800y'],
  ['ASCII at the size limit', 'm'.repeat(MAX_KEY)],
  ['3-byte chars at the size limit', '€'.repeat(Math.floor(MAX_KEY / 3)) + 'a'],
  ['bytes at the size limit', Buffer.alloc(MAX_KEY, 7)],
  ['bytes', Uint8Array.from([0, 255, 128, 1])],
]
const VALUES = [
  ['empty', Buffer.alloc(0)],
  ['empty string', ''],
  ['16 bytes', Buffer.alloc(16, 3)],
  ['17 bytes', Buffer.alloc(17, 4)],
  ['100 bytes', Buffer.alloc(100, 'v')],
  ['non-ASCII string', 'värde ✓ 😀'],
  ['long ASCII string', 'v'.repeat(70)],
  ['1 MiB (the shared buffer)', Buffer.alloc(MIB, 5)],
  ['1 MiB + 1 (the general path)', Buffer.alloc(MIB + 1, 6)],
  ['1 MiB string of 3-byte chars', '€'.repeat(Math.floor(MIB / 3))],
]
const bytesOf = (v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v))

for (const [what, key] of KEYS) {
  test(`fast path: key ${what} round-trips with every value shape`, async (t) => {
    const b = new MemoryBackend()
    const target = Buffer.alloc(MIB + 8)
    for (const [, value] of VALUES) {
      b.putSync(key, value)
      const want = bytesOf(value)
      t.true(b.getSync(key).equals(want))
      t.is(b.getString(key), want.toString('utf8'))
      t.is(b.getInto(key, target), want.length)
      t.true(target.subarray(0, want.length).equals(want))
      // The same key given as bytes is the same key.
      t.true(b.getSync(bytesOf(key)).equals(want))
      t.true(b.getManySync([key, 'missing', key])[2].equals(want))
    }
    t.is(b.stats().entryCount, 1)
    await b.close()
  })
}

test('fast path: keys over the size limit keep their error code', async (t) => {
  const b = new MemoryBackend()
  for (const key of ['m'.repeat(MAX_KEY + 1), '€'.repeat(Math.ceil((MAX_KEY + 1) / 3)), Buffer.alloc(MAX_KEY + 1)]) {
    t.throws(() => b.putSync(key, 'v'), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.throws(() => b.getSync(key), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.throws(() => b.getString(key), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.throws(() => b.getInto(key, Buffer.alloc(8)), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.throws(() => b.putManySync([['ok', 'v'], [key, 'v']]), { code: 'ERR_STATEKIT_INVALID_ARG' })
  }
  for (const key of ['', Buffer.alloc(0), 42, null]) {
    t.throws(() => b.getString(key), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.throws(() => b.getInto(key, Buffer.alloc(8)), { code: 'ERR_STATEKIT_INVALID_ARG' })
  }
  t.is(b.stats().entryCount, 0)
  await b.close()
})

test('getString and getInto: misses, a target too small, a bad target', async (t) => {
  const b = new MemoryBackend()
  t.is(b.getString('none'), undefined)
  t.is(b.getInto('none', Buffer.alloc(4)), undefined)
  b.putSync('k', 'hello')
  const small = Buffer.alloc(4, 0xee)
  const err = t.throws(() => b.getInto('k', small), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.regex(err.message, /needs 5/)
  t.true(small.equals(Buffer.alloc(4, 0xee)), 'a target too small is left as it was')
  t.throws(() => b.getInto('k', 'not bytes'), { code: 'ERR_STATEKIT_INVALID_ARG' })
  const u8 = new Uint8Array(8)
  t.is(b.getInto('k', u8), 5)
  t.is(Buffer.from(u8.subarray(0, 5)).toString(), 'hello')
  // A big value (past the shared buffer) goes the general path with the same rules.
  b.putSync('big', Buffer.alloc(MIB + 10, 1))
  t.throws(() => b.getInto('big', Buffer.alloc(MIB)), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.is(b.getInto('big', Buffer.alloc(MIB + 10)), MIB + 10)
  t.is(b.getString('big').length, MIB + 10)
  const s = b.stats()
  t.is(s.hitCount, 5)
  t.is(s.missCount, 2)
  await b.close()
  t.throws(() => b.getString('k'), { code: 'ERR_STATEKIT_CLOSED' })
  t.throws(() => b.getInto('k', Buffer.alloc(8)), { code: 'ERR_STATEKIT_CLOSED' })
})

test('a Buffer from getSync is its own copy: later reads do not change it', async (t) => {
  const b = new MemoryBackend()
  b.putSync('a', Buffer.alloc(100, 1))
  b.putSync('b', Buffer.alloc(100, 2))
  const a = b.getSync('a')
  const many = b.getManySync(['a', 'b'])
  b.getSync('b')
  b.getManySync(['b', 'b'])
  t.true(a.equals(Buffer.alloc(100, 1)))
  t.true(many[0].equals(Buffer.alloc(100, 1)))
  t.true(many[1].equals(Buffer.alloc(100, 2)))
  await b.close()
})

test('reads copy out exactly their own bytes around the per-length views (16, 17, 1024, 1025 bytes), in any order', async (t) => {
  const b = new MemoryBackend()
  const lengths = [0, 1, 16, 17, 100, 1023, 1024, 1025, 4096, 100, 17, 1024]
  // Each length its own content, so a view of another length or a stale copy shows.
  const valueOf = (n, i) => Buffer.from(Array.from({ length: n }, (_, j) => (n * 7 + i * 13 + j) & 0xff))
  lengths.forEach((n, i) => b.putSync(`k${i}`, valueOf(n, i)))
  const target = Buffer.alloc(8192, 0xaa)
  for (const order of [lengths.map((_, i) => i), lengths.map((_, i) => lengths.length - 1 - i)]) {
    const got = order.map((i) => [i, b.getSync(`k${i}`)])
    for (const [i, v] of got) t.true(v.equals(valueOf(lengths[i], i)), `getSync of ${lengths[i]} bytes`)
    for (const i of order) {
      t.is(b.getInto(`k${i}`, target), lengths[i])
      t.true(target.subarray(0, lengths[i]).equals(valueOf(lengths[i], i)), `getInto of ${lengths[i]} bytes`)
    }
  }
  await b.close()
})

test('putMany through the shared buffers: every entry shape, TTLs, all or nothing', async (t) => {
  const b = new MemoryBackend({ ttl: 60_000 })
  const entries = [
    ...KEYS.filter(([w]) => !w.includes('size limit')).map(([, k], i) => [k, VALUES[i % 7][1]]),
    { key: 'with ttl', value: 'x', ttl: 30 },
    { key: 'never', value: Buffer.from('y'), ttl: 0 },
    { key: 'infinite', value: 'z', ttl: Infinity },
    { key: 'default', value: 'w' },
  ]
  b.putManySync(entries)
  for (const e of entries) {
    const [k, v] = Array.isArray(e) ? e : [e.key, e.value]
    t.true(b.getSync(k).equals(bytesOf(v)))
  }
  await new Promise((r) => setTimeout(r, 60))
  t.is(b.getSync('with ttl'), undefined)
  t.is(b.getString('never'), 'y')
  t.is(b.getString('infinite'), 'z')
  t.is(b.getString('default'), 'w')
  const before = b.stats().entryCount
  for (const bad of [
    [['ok1', 'v'], ['', 'v']],
    [['ok1', 'v'], ['k', 42]],
    [['ok1', 'v'], { key: 'k', value: 'v', ttl: -1 }],
    [['ok1', 'v'], { key: 'k', value: 'v', ttl: NaN }],
    [['ok1', 'v'], { key: 'k', value: 'v', ttl: '5' }],
    [['ok1', 'v'], ['k', 'v', 'extra']],
    [['ok1', 'v'], null],
  ]) {
    t.throws(() => b.putManySync(bad), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.is(b.getSync('ok1'), undefined, 'a batch with a bad entry writes nothing')
  }
  t.is(b.stats().entryCount, before)
  await b.close()
  t.throws(() => b.putManySync([['k', 'v']]), { code: 'ERR_STATEKIT_CLOSED' })
})

test('putMany: batches larger than the shared buffers take the general path whole', async (t) => {
  const b = new MemoryBackend()
  // Values past 1 MiB in all, keys past 64 KiB in all, and one value of exactly 1 MiB.
  const big = Array.from({ length: 3 }, (_, i) => [`big${i}`, Buffer.alloc(MIB / 2, i)])
  const manyKeys = Array.from({ length: 40 }, (_, i) => [`${i}:`.padEnd(2000, 'k'), 'v'])
  const exact = [['exact', Buffer.alloc(MIB - 12, 9)]]
  const empty = [['e1', ''], ['e2', Buffer.alloc(0)]]
  for (const batch of [big, manyKeys, exact, empty]) {
    b.putManySync(batch)
    for (const [k, v] of batch) t.true(b.getSync(k).equals(bytesOf(v)))
  }
  t.is(b.stats().entryCount, 3 + 40 + 1 + 2)
  b.putManySync([])
  await b.close()
})

test('getMany and putMany batched by shard: one key, many shards, duplicates, misses, expiry, values past the buffer', async (t) => {
  const b = new MemoryBackend({ ttl: 60_000 })
  // Many shards: 3000 keys, every other one written, then read back in a shuffled batch.
  const keys = Array.from({ length: 3000 }, (_, i) => `key:${String(i).padStart(11, '0')}`)
  const written = keys.filter((_, i) => i % 2 === 0)
  b.putManySync(written.map((k) => [k, `value of ${k}`]))
  const batch = Array.from({ length: 1000 }, (_, i) => keys[(i * 7919) % 3000])
  batch.push(batch[0], batch[0], batch[1])
  const before = b.stats()
  const got = b.getManySync(batch)
  t.is(got.length, batch.length)
  for (let i = 0; i < batch.length; i++) {
    const want = b.getSync(batch[i])
    t.deepEqual(got[i], want, batch[i])
  }
  const hits = got.filter((v) => v !== undefined).length
  t.true(hits > 100 && hits < batch.length)
  const after = b.stats()
  t.is(after.hitCount - before.hitCount, 2 * hits)
  t.is(after.missCount - before.missCount, 2 * (batch.length - hits))
  // One key, many times (one shard), and a batch of misses only.
  b.putSync('only', 'one')
  t.deepEqual(b.getManySync(Array(50).fill('only')).map(String), Array(50).fill('one'))
  t.deepEqual(b.getManySync(['nope', 'nada']), [undefined, undefined])
  // Duplicates in a putMany: the last one wins; values of the same length overwrite.
  b.putManySync([['dup', 'first'], ['dup', 'later'], ['dup', 'last!']])
  t.is(b.getString('dup'), 'last!')
  const size = b.stats().memoryBytes
  b.putManySync([['dup', 'again']])
  t.is(b.getString('dup'), 'again')
  t.is(b.stats().memoryBytes, size, 'an overwrite of the same length keeps the bytes held')
  // Expired keys in a batch are misses, and are removed.
  b.putManySync([{ key: 'soon', value: 's', ttl: 20 }, { key: 'later', value: 'l', ttl: 60_000 }])
  t.deepEqual(b.getManySync(['soon', 'later']).map((v) => v?.toString()), ['s', 'l'])
  await new Promise((r) => setTimeout(r, 60))
  const entries = b.stats().entryCount
  t.deepEqual(b.getManySync(['soon', 'later', 'soon']).map((v) => v?.toString()), [undefined, 'l', undefined])
  t.is(b.stats().entryCount, entries - 1)
  // Values past the shared value buffer: the whole batch takes the general path.
  b.putManySync([['big1', Buffer.alloc(MIB * 0.75, 1)], ['big2', Buffer.alloc(MIB * 0.75, 2)]])
  const big = b.getManySync(['big1', 'missing', 'big2', 'only'])
  t.true(big[0].equals(Buffer.alloc(MIB * 0.75, 1)))
  t.is(big[1], undefined)
  t.true(big[2].equals(Buffer.alloc(MIB * 0.75, 2)))
  t.is(big[3].toString(), 'one')
  await b.close()
})

test('putMany through the shared buffers on the sled tier', async (t) => {
  const dir = tempDir(t)
  const b = await SledBackend.open({ path: dir })
  b.putManySync([['a', 'x'], { key: 'clé', value: Buffer.alloc(100, 1) }])
  t.is(b.getString('a'), 'x')
  t.true(b.getSync('clé').equals(Buffer.alloc(100, 1)))
  t.throws(() => b.putManySync([['b', 'y'], [Buffer.alloc(0), 'z']]), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.is(b.getSync('b'), undefined)
  await b.close()
})

test('a namespace decodes in place: json, string and msgpack, hits, misses, corrupt values', async (t) => {
  const b = new MemoryBackend()
  const json = b.namespace('j', { codec: 'json' })
  const str = b.namespace('s', { codec: 'string' })
  const mp = b.namespace('m', { codec: 'msgpack' })
  const custom = b.namespace('c', { codec: { encode: (v) => Buffer.from(String(v)), decode: (buf) => `<${buf.toString()}>` } })
  for (const [, key] of KEYS.filter(([w]) => !w.includes('size limit'))) {
    json.putSync(key, { key: String(key), n: [1, 2], s: 'ünï' })
    t.deepEqual(json.getSync(key), { key: String(key), n: [1, 2], s: 'ünï' })
    str.putSync(key, 'värde')
    t.is(str.getSync(key), 'värde')
    custom.putSync(key, 7)
    t.is(custom.getSync(key), '<7>')
  }
  mp.putSync('k', { bin: Buffer.from([1, 2, 3]), n: 5 })
  const got = mp.getSync('k')
  t.true(Buffer.isBuffer(got.bin))
  b.putSync('other', Buffer.alloc(100, 0xaa))
  b.getSync('other')
  t.deepEqual([...got.bin], [1, 2, 3], 'a binary value is a copy, not a view of the shared buffer')
  t.is(json.getSync('missing'), undefined)
  t.is(mp.getSync('missing'), undefined)
  b.putSync('j:bad', '{not json')
  t.throws(() => json.getSync('bad'), { code: 'ERR_STATEKIT_CORRUPT' })
  // A namespace key that would pass the size limit with its prefix keeps its code.
  t.throws(() => json.getSync('x'.repeat(MAX_KEY)), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.throws(() => json.getSync(42), { code: 'ERR_STATEKIT_INVALID_ARG' })
  // A value past the shared buffer decodes through the general path.
  str.putSync('big', 'b'.repeat(MIB + 1))
  t.is(str.getSync('big').length, MIB + 1)
  await b.close()
  t.throws(() => json.getSync('k'), { code: 'ERR_STATEKIT_CLOSED' })
})

test('the new fast paths in worker threads, side by side, each on its own buffers', async (t) => {
  const file = fileURLToPath(new URL('./fixtures/fast-worker.mjs', import.meta.url))
  const run = (id) => new Promise((resolve, reject) => {
    const w = new Worker(file, { workerData: { id, n: 200 } })
    w.once('message', resolve)
    w.once('error', reject)
  })
  const main = new MemoryBackend()
  const mainWork = (async () => {
    let bad = 0
    for (let round = 0; round < 50; round++) {
      main.putManySync(Array.from({ length: 200 }, (_, i) => [`k${i}`, `main:${i}:${round}`]))
      for (let i = 0; i < 200; i++) if (main.getString(`k${i}`) !== `main:${i}:${round}`) bad++
      await new Promise((r) => setImmediate(r))
    }
    return { bad }
  })()
  const results = await Promise.all([run(1), run(2), run(3), mainWork])
  for (const r of results) t.is(r.bad, 0)
  await main.close()
})
