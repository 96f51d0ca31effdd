// The StateBackend contract, written once and run against every tier (as keyv does
// for its adapters). `open()` returns a fresh, empty backend.
import { setTimeout as sleep } from 'node:timers/promises'
import { StateError } from '../../dist/index.js'

const buf = (s) => Buffer.from(s)
const str = (b) => (b === undefined ? undefined : b.toString())

async function collect(it) {
  const out = []
  for await (const [k, v] of it) out.push([k.toString(), v.toString()])
  return out
}

export function contractSuite(test, name, open) {
  const t = (title, fn) =>
    test(`${name}: ${title}`, async (tt) => {
      const b = await open(tt)
      try {
        await fn(tt, b)
      } finally {
        await b.close()
      }
    })

  t('put, get, has, delete (async)', async (tt, b) => {
    tt.is(await b.get('missing'), undefined)
    await b.put('a', 'one')
    const v = await b.get('a')
    tt.true(Buffer.isBuffer(v))
    tt.is(v.toString(), 'one')
    tt.true(await b.has('a'))
    tt.false(await b.has('b'))
    tt.true(await b.delete('a'))
    tt.false(await b.delete('a'))
    tt.is(await b.get('a'), undefined)
  })

  t('sync and async paths see the same data', async (tt, b) => {
    b.putSync('k', 'sync')
    tt.is(str(await b.get('k')), 'sync')
    await b.put('k2', 'async')
    tt.is(str(b.getSync('k2')), 'async')
    tt.true(b.hasSync('k2'))
    tt.true(b.deleteSync('k2'))
    tt.false(b.hasSync('k2'))
    tt.is(b.getSync('k2'), undefined)
  })

  t('a string key and the Buffer of its UTF-8 bytes are the same key', async (tt, b) => {
    await b.put('ключ-✓', 'v1')
    tt.is(str(await b.get(buf('ключ-✓'))), 'v1')
    await b.put(new Uint8Array(buf('ключ-✓')), 'v2')
    tt.is(str(await b.get('ключ-✓')), 'v2')
    tt.deepEqual((await b.listKeys()).map(String), ['ключ-✓'])
  })

  t('binary keys and values, empty values, large values', async (tt, b) => {
    const key = Buffer.from([0, 255, 1, 0])
    await b.put(key, Buffer.alloc(0))
    tt.deepEqual(await b.get(key), Buffer.alloc(0))
    const big = Buffer.alloc(1 << 20, 7)
    await b.put('big', big)
    tt.true((await b.get('big')).equals(big))
    tt.true(await b.has(key))
  })

  t('overwrite replaces the value', async (tt, b) => {
    await b.put('k', 'first')
    await b.put('k', 'second')
    tt.is(str(await b.get('k')), 'second')
    tt.is(b.stats().entryCount, 1)
  })

  t('getMany, putMany, deleteMany', async (tt, b) => {
    await b.putMany([['a', '1'], { key: 'b', value: '2' }, { key: buf('c'), value: buf('3'), ttl: 60_000 }])
    const got = await b.getMany(['a', 'x', 'b', buf('c')])
    tt.deepEqual(got.map(str), ['1', undefined, '2', '3'])
    tt.deepEqual(await b.deleteMany(['a', 'x', 'c']), [true, false, true])
    tt.deepEqual((await b.getMany(['a', 'b', 'c'])).map(str), [undefined, '2', undefined])
    tt.deepEqual(await b.getMany([]), [])
    await b.putMany([])
  })

  t('putMany is all or nothing', async (tt, b) => {
    await b.put('keep', 'v')
    const err = await tt.throwsAsync(b.putMany([['x', '1'], ['y', 2]]), { instanceOf: StateError })
    tt.is(err.code, 'ERR_STATEKIT_INVALID_ARG')
    tt.is(await b.get('x'), undefined)
    tt.deepEqual((await b.listKeys()).map(String), ['keep'])
  })

  t('listKeys in byte order, with a prefix', async (tt, b) => {
    for (const k of ['b:2', 'a:1', 'b:1', 'a:2', 'c', 'b']) await b.put(k, k)
    tt.deepEqual((await b.listKeys()).map(String), ['a:1', 'a:2', 'b', 'b:1', 'b:2', 'c'])
    tt.deepEqual((await b.listKeys('b:')).map(String), ['b:1', 'b:2'])
    tt.deepEqual((await b.listKeys(buf('a'))).map(String), ['a:1', 'a:2'])
    tt.deepEqual(await b.listKeys('zzz'), [])
  })

  t('entries: order, prefix, gte, lt, limit, reverse', async (tt, b) => {
    const keys = ['k05', 'k01', 'k03', 'j', 'k02', 'k04', 'l']
    await b.putMany(keys.map((k) => [k, `v-${k}`]))
    tt.deepEqual(
      (await collect(b.entries())).map(([k]) => k),
      ['j', 'k01', 'k02', 'k03', 'k04', 'k05', 'l'],
    )
    tt.deepEqual(await collect(b.entries({ prefix: 'k', gte: 'k02', lt: 'k05' })), [
      ['k02', 'v-k02'],
      ['k03', 'v-k03'],
      ['k04', 'v-k04'],
    ])
    tt.deepEqual(
      (await collect(b.entries({ prefix: 'k', reverse: true, limit: 2 }))).map(([k]) => k),
      ['k05', 'k04'],
    )
    tt.deepEqual(await collect(b.entries({ limit: 0 })), [])
    tt.deepEqual((await collect(b.entries({ gte: 'k04' }))).map(([k]) => k), ['k04', 'k05', 'l'])
  })

  t('entries pages through many entries in byte order', async (tt, b) => {
    const n = 2000
    const batch = []
    for (let i = 0; i < n; i++) batch.push([`key:${String(i).padStart(5, '0')}`, String(i)])
    await b.putMany(batch.reverse())
    let i = 0
    for await (const [k, v] of b.entries({ prefix: 'key:' })) {
      tt.is(k.toString(), `key:${String(i).padStart(5, '0')}`)
      tt.is(v.toString(), String(i))
      i++
    }
    tt.is(i, n)
  })

  t('entries skips an entry deleted before its page is read', async (tt, b) => {
    const batch = []
    for (let i = 0; i < 600; i++) batch.push([`k${String(i).padStart(3, '0')}`, 'v'])
    await b.putMany(batch)
    let n = 0
    for await (const [k] of b.entries()) {
      if (n === 0) await b.delete('k500')
      tt.not(k.toString(), 'k500')
      n++
    }
    tt.is(n, 599)
  })

  t('clear removes everything', async (tt, b) => {
    await b.putMany([['a', '1'], ['b', '2']])
    await b.clear()
    tt.deepEqual(await b.listKeys(), [])
    tt.is(b.stats().entryCount, 0)
  })

  t('stats count operations', async (tt, b) => {
    await b.put('a', '1')
    await b.putMany([['b', '2'], ['c', '3']])
    await b.get('a')
    b.getSync('nope')
    await b.getMany(['b', 'zz'])
    await b.delete('c')
    await b.delete('c')
    const s = b.stats()
    tt.like(s, { getCount: 4, hitCount: 2, missCount: 2, putCount: 3, deleteCount: 1, entryCount: 2 })
    tt.true(s.memoryBytes >= 4)
    for (const k of ['getCount', 'hitCount', 'missCount', 'putCount', 'deleteCount', 'expiredCount', 'entryCount', 'memoryBytes']) {
      tt.is(typeof s[k], 'number', k)
    }
  })

  t('per-put TTL expires in real time', async (tt, b) => {
    await b.put('short', 'v', { ttl: 400 })
    await b.put('long', 'v', { ttl: 60_000 })
    await b.put('forever', 'v', { ttl: 0 })
    await b.put('inf', 'v', { ttl: Infinity })
    tt.truthy(await b.get('short'))
    await sleep(450)
    tt.is(await b.get('short'), undefined)
    tt.false(await b.has('short'))
    tt.truthy(await b.get('long'))
    tt.truthy(await b.get('forever'))
    tt.truthy(await b.get('inf'))
    tt.deepEqual((await b.listKeys()).map(String), ['forever', 'inf', 'long'])
    tt.true(b.stats().expiredCount >= 1)
  })

  t('expired entries are not listed and cleanupExpired removes them', async (tt, b) => {
    await b.putMany([{ key: 'a', value: '1', ttl: 20 }, { key: 'b', value: '2', ttl: 20 }, ['c', '3']])
    await sleep(50)
    tt.deepEqual((await collect(b.entries())).map(([k]) => k), ['c'])
    tt.deepEqual(await b.getMany(['a', 'b']), [undefined, undefined])
    b.putSync('d', '4', { ttl: 20 })
    await sleep(50)
    // a and b were removed when the reads met them; the sweep finds only d.
    tt.is(b.stats().expiredCount, 2)
    tt.is(b.cleanupExpired(), 1)
    tt.is(b.stats().expiredCount, 3)
    tt.is(b.cleanupExpired(), 0)
    tt.is(b.stats().entryCount, 1)
  })

  t('startCleanupTask sweeps on a background thread and stops', async (tt, b) => {
    for (let i = 0; i < 100; i++) b.putSync(`e${i}`, 'v', { ttl: 10 })
    b.putSync('stay', 'v')
    const task = b.startCleanupTask(5)
    const deadline = Date.now() + 5000
    while (b.stats().entryCount > 1 && Date.now() < deadline) await sleep(10)
    tt.is(b.stats().entryCount, 1)
    tt.is(b.stats().expiredCount, 100)
    task.stop()
    task.stop()
  })

  t('close is idempotent and every later call fails with ERR_STATEKIT_CLOSED', async (tt, b) => {
    await b.put('a', '1')
    await b.close()
    await b.close()
    const code = { code: 'ERR_STATEKIT_CLOSED', instanceOf: StateError }
    tt.throws(() => b.getSync('a'), code)
    tt.throws(() => b.putSync('a', '1'), code)
    tt.throws(() => b.deleteSync('a'), code)
    tt.throws(() => b.hasSync('a'), code)
    tt.throws(() => b.stats(), code)
    tt.throws(() => b.cleanupExpired(), code)
    tt.throws(() => b.startCleanupTask(10), code)
    tt.throws(() => b.namespace('n'), code)
    await tt.throwsAsync(b.get('a'), code)
    await tt.throwsAsync(b.put('a', '1'), code)
    await tt.throwsAsync(b.delete('a'), code)
    await tt.throwsAsync(b.has('a'), code)
    await tt.throwsAsync(b.getMany(['a']), code)
    await tt.throwsAsync(b.putMany([['a', '1']]), code)
    await tt.throwsAsync(b.deleteMany(['a']), code)
    await tt.throwsAsync(b.listKeys(), code)
    await tt.throwsAsync(b.clear(), code)
    await tt.throwsAsync(collect(b.entries()), code)
  })
}
