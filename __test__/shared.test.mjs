// One store shared by worker threads: share() and attach() on both tiers; writes of
// every thread visible to every other; a checkpoint taken while workers write is a cut
// of their completed batches; a restore reaches every thread; the owner's close
// reaches every attached handle; bad, foreign and stale descriptors; terminated
// workers; attach cycles that leak nothing.
import test from 'ava'
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { MemoryBackend, SledBackend, StateError } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const WORKER = fileURLToPath(new URL('./fixtures/shared-worker.mjs', import.meta.url))
const code = (c) => ({ instanceOf: StateError, code: c })
const tiers = {
  memory: async () => new MemoryBackend(),
  sled: async (t) => SledBackend.open({ path: path.join(tempDir(t), 'db'), flushEveryMs: null }),
}
const attachOf = { memory: MemoryBackend, sled: SledBackend }

function start(workerData) {
  const w = new Worker(WORKER, { workerData })
  const messages = []
  const waiters = []
  w.on('message', (m) => (waiters.length ? waiters.shift()(m) : messages.push(m)))
  const failed = new Promise((_, reject) => w.once('error', reject))
  failed.catch(() => {})
  return {
    worker: w,
    next: () => Promise.race([failed, new Promise((r) => (messages.length ? r(messages.shift()) : waiters.push(r)))]),
    exited: new Promise((r) => w.once('exit', r)),
  }
}

for (const [tier, open] of Object.entries(tiers)) {
  test(`${tier}: workers write through attach and every thread sees every completed write`, async (t) => {
    const store = await open(t)
    await store.put('main', 'from-main')
    store.namespace('ns', { codec: 'json' }).putSync('k', { a: 1 })
    const d = store.share()
    t.deepEqual(store.share(), d, 'the same descriptor every time')
    t.deepEqual(structuredClone(d), d, 'structured-cloneable plain data')
    const n = 2000
    const workers = [1, 2, 3].map((id) => start({ descriptor: d, job: 'write', id, n }))
    const results = await Promise.all(workers.map((w) => w.next()))
    for (const r of results) t.deepEqual(r, { seen: n, fromMain: 'from-main', ns: { a: 1 } })
    for (const id of [1, 2, 3]) {
      for (let i = 0; i < n; i += 97) {
        t.is(store.getSync(`w${id}:s:${i}`)?.toString(), `${i}`)
        t.is(store.getSync(`w${id}:b:${i}`)?.toString(), `${i}`)
      }
    }
    const s = store.stats()
    t.is(s.entryCount, 2 + 3 * 2 * n)
    t.true(s.putCount >= 3 * 2 * n + 2, `every thread's puts are counted (${s.putCount})`)
    t.true(s.hitCount >= 3 * n, `every thread's reads are counted (${s.hitCount})`)
    await store.close()
  })

  test(`${tier}: a checkpoint taken while workers write holds every batch completed before it, whole`, async (t) => {
    const store = await open(t)
    const dir = tempDir(t)
    const d = store.share()
    const WRITERS = 2
    const KEYS = 40
    const sab = new SharedArrayBuffer(4 * (1 + 2 * WRITERS))
    const flags = new Int32Array(sab)
    const workers = Array.from({ length: WRITERS }, (_, id) => start({ descriptor: d, job: 'batches', id, keys: KEYS, sab }))
    const wait = (ms) => new Promise((r) => setTimeout(r, ms))
    await wait(50)
    for (let c = 0; c < 12; c++) {
      await wait(5)
      const file = path.join(dir, `cp-${c}.skc`)
      const done = Array.from({ length: WRITERS }, (_, id) => Atomics.load(flags, 2 + 2 * id))
      const pending = store.checkpoint(file)
      const started = Array.from({ length: WRITERS }, (_, id) => Atomics.load(flags, 1 + 2 * id))
      await pending
      const check = new MemoryBackend()
      await check.restore(file)
      for (let id = 0; id < WRITERS; id++) {
        const values = []
        for (let j = 0; j < KEYS; j++) values.push(Number(check.getSync(`w${id}:${String(j).padStart(3, '0')}`)?.toString() ?? 0))
        t.true(values.every((v) => v === values[0]), `checkpoint ${c}, worker ${id}: a torn batch ${values}`)
        t.true(values[0] >= done[id] && values[0] <= started[id], `checkpoint ${c}, worker ${id}: ${values[0]} not in [${done[id]}, ${started[id]}]`)
      }
      await check.close()
    }
    Atomics.store(flags, 0, 1)
    const ends = await Promise.all(workers.map((w) => w.next()))
    for (const e of ends) t.true(e.n > 10, `the workers kept writing (${e.n} batches)`)
    await store.close()
  })

  test(`${tier}: a restore switches every thread to the restored state at once`, async (t) => {
    const store = await open(t)
    const file = path.join(tempDir(t), 'cp.skc')
    await store.put('marker', 'restored')
    await store.put('only-in-checkpoint', 'yes')
    await store.checkpoint(file)
    await store.put('marker', 'live')
    await store.delete('only-in-checkpoint')
    const w = start({ descriptor: store.share(), job: 'watch', from: 'live' })
    t.is(await w.next(), 'ready')
    await store.restore(file)
    t.deepEqual(await w.next(), { value: 'restored', other: 'yes' })
    await store.close()
  })

  test(`${tier}: the owner's close reaches every attached thread; an attached close detaches only itself`, async (t) => {
    const store = await open(t)
    const d = store.share()
    const detacher = start({ descriptor: d, job: 'detach' })
    t.deepEqual(await detacher.next(), { after: 'ERR_STATEKIT_CLOSED', closed: true })
    t.is(store.getSync('from-worker')?.toString(), '1', 'the store lives on after a worker detaches')
    const w = start({ descriptor: d, job: 'waitThenCall' })
    t.is(await w.next(), 'attached')
    t.is(store.getSync('attached')?.toString(), 'yes')
    await store.close()
    w.worker.postMessage('go')
    t.deepEqual(await w.next(), {
      get: 'ERR_STATEKIT_CLOSED',
      put: 'ERR_STATEKIT_CLOSED',
      share: 'ERR_STATEKIT_CLOSED',
      again: 'ERR_STATEKIT_CLOSED',
      closed: true,
    })
    t.throws(() => attachOf[tier].attach(d), code('ERR_STATEKIT_CLOSED'))
  })

  test(`${tier}: bad, forged, foreign and stale descriptors are refused with a code`, async (t) => {
    const store = await open(t)
    const d = store.share()
    const Backend = attachOf[tier]
    const Other = tier === 'memory' ? SledBackend : MemoryBackend
    for (const bad of [undefined, null, 42, 'descriptor', {}, { ...d, kind: 'x' }, { ...d, id: 'one' }, { ...d, token: 7 }]) {
      t.throws(() => Backend.attach(bad), code('ERR_STATEKIT_INVALID_ARG'))
    }
    t.throws(() => Backend.attach({ ...d, pid: d.pid + 1 }), code('ERR_STATEKIT_INVALID_ARG'), 'from another process')
    t.throws(() => Backend.attach({ ...d, token: '0123456789abcdef' }), code('ERR_STATEKIT_INVALID_ARG'), 'a forged token')
    t.throws(() => Backend.attach({ ...d, token: 'not hex at all!!' }), code('ERR_STATEKIT_INVALID_ARG'))
    t.throws(() => Backend.attach({ ...d, id: 1e15 }), code('ERR_STATEKIT_INVALID_ARG'), 'an id never handed out')
    t.throws(() => Backend.attach({ ...d, id: -1 }), code('ERR_STATEKIT_INVALID_ARG'))
    t.throws(() => Backend.attach({ ...d, id: 1.5 }), code('ERR_STATEKIT_INVALID_ARG'))
    t.throws(() => Other.attach(d), code('ERR_STATEKIT_INVALID_ARG'), 'the other tier')
    const same = Backend.attach(d)
    same.putSync('k', 'v')
    t.is(store.getSync('k')?.toString(), 'v', 'attaching in the owner thread works too')
    await store.close()
    t.throws(() => Backend.attach(d), code('ERR_STATEKIT_CLOSED'), 'stale')
    t.throws(() => same.getSync('k'), code('ERR_STATEKIT_CLOSED'))
    t.true(same.closed)
    await same.close()
  })

  test(`${tier}: a worker terminated in the middle of putMany tears no batch`, async (t) => {
    const store = await open(t)
    const KEYS = 64
    const sab = new SharedArrayBuffer(4 * 3)
    const flags = new Int32Array(sab)
    for (let round = 0; round < 5; round++) {
      const w = start({ descriptor: store.share(), job: 'batches', id: 0, keys: KEYS, sab })
      while (Atomics.load(flags, 2) < 20 * (round + 1)) await new Promise((r) => setTimeout(r, 1))
      await w.worker.terminate()
      const values = new Set()
      for (let j = 0; j < KEYS; j++) values.add(store.getSync(`w0:${String(j).padStart(3, '0')}`)?.toString())
      t.is(values.size, 1, `round ${round}: one batch's value in every key, got ${[...values]}`)
    }
    t.is((await store.checkpoint(path.join(tempDir(t), 'after.skc'))).entries, KEYS)
    await store.close()
  })
}

test('memory: a worker terminated while its checkpoint runs leaves the store usable', async (t) => {
  const store = new MemoryBackend()
  const dir = tempDir(t)
  const batch = []
  for (let i = 0; i < 200_000; i++) batch.push({ key: `k${i}`, value: 'x'.repeat(50) })
  store.putManySync(batch)
  for (let round = 0; round < 3; round++) {
    const w = start({ descriptor: store.share(), job: 'checkpoint', path: path.join(dir, `w${round}.skc`) })
    t.is(await w.next(), 'started')
    await w.worker.terminate()
  }
  // The terminated workers' checkpoints finished or were dropped: neither leaves the
  // store busy, and a new checkpoint holds everything.
  let info
  for (let i = 0; i < 100; i++) {
    try {
      info = await store.checkpoint(path.join(dir, 'main.skc'))
      break
    } catch (e) {
      if (e.code !== 'ERR_STATEKIT_BUSY') throw e
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  t.is(info?.entries, 200_000)
  await store.close()
})

// Serial: AVA runs serial tests alone, before the others, so RSS is this test's.
test.serial('memory: 10,000 attach, write and detach cycles and 40 workers exiting attached leak nothing', async (t) => {
  const store = new MemoryBackend()
  const d = store.share()
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  const rss = () => process.memoryUsage().rss
  const run = async (id, rounds) => {
    const w = start({ descriptor: d, job: 'cycle', id, rounds })
    t.is(await w.next(), 'done')
    await w.exited
  }
  // Warm up: the first workers load the addon and grow the heaps once.
  for (let i = 0; i < 4; i++) await run(100 + i, 250)
  gc()
  const before = rss()
  for (let i = 0; i < 40; i++) await run(i, 250)
  gc()
  const grown = rss() - before
  t.is(store.stats().entryCount, 4 * 101 + 40 * 101)
  t.true(grown < 64 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB over 40 workers and 10,000 attach cycles`)
  t.log(`RSS growth over 40 workers and 10,000 attach cycles: ${(grown / 1048576).toFixed(1)} MiB`)
  await store.close()
})

test('sled: the directory is locked once for the process and released by the owner close', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const store = await SledBackend.open({ path: dir })
  const w = start({ descriptor: store.share(), job: 'write', id: 1, n: 200 })
  t.is((await w.next()).seen, 200)
  await t.throwsAsync(SledBackend.open({ path: dir }), code('ERR_STATEKIT_LOCKED'))
  await store.close()
  const again = await SledBackend.open({ path: dir })
  t.is(again.getSync('w1:s:199')?.toString(), '199', 'the worker\'s writes were flushed by the owner\'s close')
  await again.close()
})
