import test from 'ava'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryBackend, NativeBackend } from '../dist/index.js'
import { contractSuite } from './helpers/contract.mjs'

contractSuite(test, 'MemoryBackend', () => new MemoryBackend())

test('MemoryBackend: default TTL applies when a put gives none', async (t) => {
  const b = new MemoryBackend({ ttl: 30 })
  await b.put('default', 'v')
  await b.put('own', 'v', { ttl: 60_000 })
  await b.put('never', 'v', { ttl: 0 })
  await sleep(60)
  t.is(await b.get('default'), undefined)
  t.truthy(await b.get('own'))
  t.truthy(await b.get('never'))
  await b.close()
})

test('MemoryBackend: default TTL of 0 or Infinity means no expiry', async (t) => {
  for (const ttl of [0, Infinity, undefined]) {
    const b = new MemoryBackend({ ttl })
    await b.put('k', 'v')
    await sleep(5)
    t.truthy(await b.get('k'))
    await b.close()
  }
})

test('MemoryBackend is a NativeBackend and keeps its data off the V8 heap', async (t) => {
  const b = new MemoryBackend()
  t.true(b instanceof NativeBackend)
  const before = process.memoryUsage().heapUsed
  const batch = []
  for (let i = 0; i < 20_000; i++) {
    batch.push([`key:${i}`, Buffer.alloc(1000, i % 256)])
    if (batch.length === 1000) {
      b.putManySync(batch.splice(0))
    }
  }
  global.gc?.()
  const stats = b.stats()
  t.is(stats.entryCount, 20_000)
  t.true(stats.memoryBytes > 20_000 * 1000)
  // 20 MB of values went to Rust; the heap must not have grown by anything like that.
  t.true(process.memoryUsage().heapUsed - before < 10_000_000)
  await b.close()
})

test('MemoryBackend: a key over the maximum size is rejected', async (t) => {
  const b = new MemoryBackend()
  const err = t.throws(() => b.putSync(Buffer.alloc(64 * 1024 + 1), 'v'))
  t.is(err.code, 'ERR_STATEKIT_INVALID_ARG')
  b.putSync(Buffer.alloc(64 * 1024, 1), 'v')
  t.is(b.stats().entryCount, 1)
  await b.close()
})

test('a closed backend never reaches a store opened after it', async (t) => {
  const a = new MemoryBackend()
  await a.put('k', 'from a')
  await a.close()
  const b = new MemoryBackend()
  await b.put('k', 'from b')
  t.throws(() => a.getSync('k'), { code: 'ERR_STATEKIT_CLOSED' })
  t.throws(() => a.putSync('k', 'x'), { code: 'ERR_STATEKIT_CLOSED' })
  t.throws(() => a.getManySync(['k']), { code: 'ERR_STATEKIT_CLOSED' })
  t.is((await b.get('k')).toString(), 'from b')
  await b.close()
})

test('a value larger than the shared buffer is returned whole and counted once', async (t) => {
  const b = new MemoryBackend()
  const big = Buffer.alloc(3 << 20, 9)
  b.putSync('big', big)
  t.true(b.getSync('big').equals(big))
  t.true((await b.getMany(['big', 'small']))[0].equals(big))
  const s = b.stats()
  t.is(s.hitCount, 2)
  t.is(s.missCount, 1)
  await b.close()
})

test('memoryBytes counts keys, values and the per-entry overhead the README states', (t) => {
  const { ENTRY_OVERHEAD_BYTES } = createRequire(import.meta.url)('../native/index.js')
  const b = new MemoryBackend()
  b.putSync('abc', '0123456789')
  t.is(b.stats().memoryBytes, 3 + 10 + ENTRY_OVERHEAD_BYTES)
  const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const stated = /estimated (\d+) bytes of overhead per entry/.exec(readme.replace(/\s+/g, ' '))
  t.truthy(stated, 'the README states the overhead')
  t.is(Number(stated[1]), ENTRY_OVERHEAD_BYTES, 'the README and the code agree')
})
