// In-memory stores: get (hit, miss), put with TTL, and a 90/10 read/write mix, at 1K,
// 100K and 1M keys, uniform and Zipf-skewed access, 100-byte and 4-KiB values; and a
// namespace's json codec against decoding getSync's Buffer by hand. "get hit, key
// built per call" reads with a key string made for the call, as a service makes it
// from a request, rather than the very string object the store was filled with
// (which hands a JavaScript map the string's cached hash and an identity compare).
// Timed loops of at least 1M operations per task and round (see lib/loop.mjs), all
// peers in this process, medians of 5 rounds.
import { LRUCache } from 'lru-cache'
import { TTLCache } from '@isaacs/ttlcache'
import NodeCache from 'node-cache'
import QuickLRU from 'quick-lru'
import Keyv from 'keyv'
import { accessOrder } from '../lib/measure.mjs'
import { measureLoops, statekitModule } from '../lib/loop.mjs'
import { fmt, goalSection, table, writeSuite } from '../lib/report.mjs'

const { MemoryBackend } = await statekitModule()
const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5
const OPS = quick ? 20_000 : 1_000_000
const TTL = 3_600_000
const CONFIGS = quick
  ? [{ n: 10_000, dist: 'uniform', size: 100, all: true }]
  : [
      { n: 1_000, dist: 'uniform', size: 100 },
      { n: 100_000, dist: 'uniform', size: 100, all: true },
      { n: 100_000, dist: 'zipfian', size: 100 },
      { n: 100_000, dist: 'uniform', size: 4096 },
      { n: 1_000_000, dist: 'uniform', size: 100 },
      { n: 1_000_000, dist: 'zipfian', size: 100 },
    ]

function makeStores(n, all) {
  const statekit = new MemoryBackend({ ttl: TTL })
  const lru = new LRUCache({ max: n * 2, ttl: TTL })
  const map = new Map()
  const stores = {
    statekit: { get: (k) => statekit.getSync(k), set: (k, v) => statekit.putSync(k, v, { ttl: TTL }), close: () => statekit.close() },
    Map: { get: (k) => map.get(k), set: (k, v) => map.set(k, v) },
    'lru-cache': { get: (k) => lru.get(k), set: (k, v) => lru.set(k, v, { ttl: TTL }) },
  }
  if (!all) return stores
  const ttlcache = new TTLCache({ max: n * 2, ttl: TTL })
  const nodecache = new NodeCache({ stdTTL: TTL / 1000, useClones: false, checkperiod: 0 })
  const quicklru = new QuickLRU({ maxSize: n * 2, maxAge: TTL })
  const keyv = new Keyv({ ttl: TTL })
  return {
    ...stores,
    '@isaacs/ttlcache': { get: (k) => ttlcache.get(k), set: (k, v) => ttlcache.set(k, v, { ttl: TTL }) },
    'node-cache': { get: (k) => nodecache.get(k), set: (k, v) => nodecache.set(k, v, TTL / 1000) },
    'quick-lru': { get: (k) => quicklru.get(k), set: (k, v) => quicklru.set(k, v, { maxAge: TTL }) },
    // Awaited, so 5x fewer operations a round (each costs several µs).
    'keyv (memory)': { get: (k) => keyv.get(k), set: (k, v) => keyv.set(k, v, TTL), async: true },
  }
}

const sections = []
const goals = []
const ratios = {}
let chartRows = []
let sink = 0
for (const { n, dist, size, all } of CONFIGS) {
  const keyOf = (i) => `key:${String(i).padStart(11, '0')}`
  const keys = Array.from({ length: n }, (_, i) => keyOf(i))
  const missKeys = Array.from({ length: 1 << 12 }, (_, i) => `none:${String(i).padStart(10, '0')}`)
  const value = Buffer.alloc(size, 'v')
  const len = Math.min(1 << 20, Math.max(1 << 16, 2 ** Math.ceil(Math.log2(n)))) // a power of two: indexes are `j & (len - 1)`
  const mask = len - 1
  const order = accessOrder(n, dist, len)
  const stores = makeStores(n, all)
  for (const s of Object.values(stores)) for (const k of keys) await s.set(k, value)
  const tasks = {}
  for (const [name, s] of Object.entries(stores)) {
    const { get, set } = s
    if (s.async) {
      const o = { async: true, ops: OPS / 5 }
      tasks[`get hit | ${name}`] = { ...o, op: async (j) => { sink ^= (await get(keys[order[j & mask]])).length } }
      tasks[`get hit, key built per call | ${name}`] = { ...o, op: async (j) => { sink ^= (await get(keyOf(order[j & mask]))).length } }
      tasks[`get miss | ${name}`] = { ...o, op: async (j) => { sink ^= (await get(missKeys[j & 0xfff])) === undefined ? 1 : 0 } }
      tasks[`put | ${name}`] = { ...o, op: async (j) => { await set(keys[order[j & mask]], value) } }
      tasks[`mix 90/10 | ${name}`] = { ...o, op: async (j) => { if (j % 10 !== 9) sink ^= (await get(keys[order[j & mask]]))?.length ?? 0; else await set(keys[order[j & mask]], value) } }
    } else {
      tasks[`get hit | ${name}`] = (j) => { sink ^= get(keys[order[j & mask]]).length }
      tasks[`get hit, key built per call | ${name}`] = (j) => { sink ^= get(keyOf(order[j & mask])).length }
      tasks[`get miss | ${name}`] = (j) => { sink ^= get(missKeys[j & 0xfff]) === undefined ? 1 : 0 }
      tasks[`put | ${name}`] = (j) => { set(keys[order[j & mask]], value) }
      tasks[`mix 90/10 | ${name}`] = (j) => { if (j % 10 !== 9) sink ^= get(keys[order[j & mask]])?.length ?? 0; else set(keys[order[j & mask]], value) }
    }
  }
  const r = await measureLoops(tasks, { rounds: ROUNDS, ops: OPS })
  const rows = []
  for (const w of ['get hit', 'get hit, key built per call', 'get miss', 'put', 'mix 90/10']) {
    const ours = r.get(`${w} | statekit`).ns
    for (const name of Object.keys(stores)) {
      const m = r.get(`${w} | ${name}`)
      rows.push([w, name, fmt(m.ns), fmt(m.ops), fmt(m.p50), fmt(m.p99), name === 'statekit' ? '' : `${(m.ns / ours).toFixed(2)}x`])
    }
  }
  const label = `${n.toLocaleString('en-US')} keys, ${dist}, ${size}-byte values`
  sections.push(`## ${label}, TTL on\n\n` + table(['workload', 'store', 'ns/op', 'ops/s', 'p50 ns', 'p99 ns', 'statekit ÷ it (speed)'], rows))
  const key = `${n}/${dist}/${size}`
  ratios[key] = {
    get: r.get('get hit | lru-cache').ns / r.get('get hit | statekit').ns,
    put: r.get('put | lru-cache').ns / r.get('put | statekit').ns,
    getNs: r.get('get hit | statekit').ns,
    lruNs: r.get('get hit | lru-cache').ns,
  }
  if (all) chartRows = Object.keys(stores).flatMap((name) => [[`get hit: ${name}`, r.get(`get hit | ${name}`).ops], [`put: ${name}`, r.get(`put | ${name}`).ops]])
  await stores.statekit.close?.()
}

// A namespace with the json codec against decoding getSync's Buffer by hand.
{
  const n = quick ? 10_000 : 100_000
  const backend = new MemoryBackend({ ttl: TTL })
  const users = backend.namespace('user', { codec: 'json' })
  const keys = Array.from({ length: n }, (_, i) => String(i).padStart(8, '0'))
  const full = keys.map((k) => `user:${k}`)
  for (let i = 0; i < n; i++) users.putSync(keys[i], { id: i, name: `user ${i}`, spent: i * 3, tags: ['a', 'b'], active: true })
  const order = accessOrder(n, 'uniform', 1 << 16)
  const r = await measureLoops(
    {
      'namespace json getSync': (j) => { sink ^= users.getSync(keys[order[j & 0xffff]]).id },
      'JSON.parse(getSync(k).toString())': (j) => { sink ^= JSON.parse(backend.getSync(full[order[j & 0xffff]]).toString()).id },
    },
    { rounds: ROUNDS, ops: OPS },
  )
  const a = r.get('namespace json getSync')
  const b = r.get('JSON.parse(getSync(k).toString())')
  ratios.json = b.ns / a.ns
  sections.push(`## A namespace's json codec, ${n.toLocaleString('en-US')} keys, uniform, 80-byte JSON values\n\n` +
    table(['read', 'ns/op', 'ops/s', 'p50 ns', 'p99 ns'], [...r].map(([name, m]) => [name, fmt(m.ns), fmt(m.ops), fmt(m.p50), fmt(m.p99)])))
  await backend.close()
}

const x = (v) => `${v.toFixed(2)}x`
const g = (k) => ratios[k] ?? { get: NaN, put: NaN }
if (quick) {
  goals.push(['getSync vs lru-cache get, 10K keys uniform (quick)', x(g('10000/uniform/100').get), '–', true])
} else {
  goals.push(['getSync vs lru-cache get, 1M keys uniform', x(g('1000000/uniform/100').get), '≥ 1.0x', g('1000000/uniform/100').get >= 1])
  goals.push(['getSync vs lru-cache get, 100K keys uniform', x(g('100000/uniform/100').get), '≥ 0.8x', g('100000/uniform/100').get >= 0.8])
  goals.push(['getSync vs lru-cache get, 1K keys', x(g('1000/uniform/100').get), '≥ 0.25x', g('1000/uniform/100').get >= 0.25])
  goals.push(['putSync with TTL vs lru-cache set, 100K keys', x(g('100000/uniform/100').put), '≥ 1.0x', g('100000/uniform/100').put >= 1])
  goals.push(['putSync with TTL vs lru-cache set, 1M keys', x(g('1000000/uniform/100').put), '≥ 1.0x', g('1000000/uniform/100').put >= 1])
}
goals.push(['namespace getSync (json codec) vs JSON.parse(store.getSync(k).toString())', x(ratios.json), '≥ 1.3x', ratios.json >= 1.3])
sections.unshift(goalSection('memory', goals, quick))
writeSuite('memory', {
  title: 'In-memory stores',
  intro: `Each task is a timed loop of ${OPS.toLocaleString('en-US')} operations (keyv, awaited: ${(OPS / 5).toLocaleString('en-US')}), ${ROUNDS} alternating round(s), medians; p50 and p99 from ${'20,000'} sampled single operations (minus the clock's own cost). statekit is MemoryBackend's getSync/putSync (a Buffer back for every hit). "get hit" reads with the key strings the stores were filled with; "get hit, key built per call" builds the same key anew for each read (\`key:\${String(i).padStart(11, '0')}\`), as a service builds it from a request: every store pays the same building. "statekit ÷ it" is statekit's speed over the store's (its ns/op over ours). Reproduce: \`npm run bench -- --suite memory\`.`,
  sections,
  chart: { title: 'get (hit) and put with TTL, 100K keys, 100-byte values', unit: 'ops/s', rows: chartRows },
  quick,
})
if (sink === 0.5) console.log(sink)
