// In-memory stores: get (hit, miss), put with TTL, and a 90/10 read/write mix, at
// 100K and 1M keys, uniform and zipfian access, 100-byte and 4-KiB values.
import { LRUCache } from 'lru-cache'
import { TTLCache } from '@isaacs/ttlcache'
import NodeCache from 'node-cache'
import QuickLRU from 'quick-lru'
import Keyv from 'keyv'
import { MemoryBackend } from '../../dist/index.js'
import { accessOrder, measure } from '../lib/measure.mjs'
import { fmt, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3
const TIME = quick ? 30 : 250
const TTL = 3_600_000
const CONFIGS = quick
  ? [{ n: 10_000, dist: 'uniform', size: 100 }]
  : [
      { n: 100_000, dist: 'uniform', size: 100 },
      { n: 100_000, dist: 'zipfian', size: 100 },
      { n: 100_000, dist: 'uniform', size: 4096 },
      { n: 1_000_000, dist: 'uniform', size: 100 },
    ]

function makeStores(n) {
  const statekit = new MemoryBackend({ ttl: TTL })
  const lru = new LRUCache({ max: n * 2, ttl: TTL })
  const ttlcache = new TTLCache({ max: n * 2, ttl: TTL })
  const nodecache = new NodeCache({ stdTTL: TTL / 1000, useClones: false, checkperiod: 0 })
  const quicklru = new QuickLRU({ maxSize: n * 2, maxAge: TTL })
  const map = new Map()
  const keyv = new Keyv({ ttl: TTL })
  return {
    statekit: { get: (k) => statekit.getSync(k), set: (k, v) => statekit.putSync(k, v, { ttl: TTL }), close: () => statekit.close() },
    Map: { get: (k) => map.get(k), set: (k, v) => map.set(k, v) },
    'lru-cache': { get: (k) => lru.get(k), set: (k, v) => lru.set(k, v, { ttl: TTL }) },
    '@isaacs/ttlcache': { get: (k) => ttlcache.get(k), set: (k, v) => ttlcache.set(k, v, { ttl: TTL }) },
    'node-cache': { get: (k) => nodecache.get(k), set: (k, v) => nodecache.set(k, v, TTL / 1000) },
    'quick-lru': { get: (k) => quicklru.get(k), set: (k, v) => quicklru.set(k, v, { maxAge: TTL }) },
    'keyv (memory)': { get: (k) => keyv.get(k), set: (k, v) => keyv.set(k, v, TTL), async: true },
  }
}

const sections = []
const goals = []
let chartRows = []
for (const { n, dist, size } of CONFIGS) {
  const keys = Array.from({ length: n }, (_, i) => `key:${String(i).padStart(11, '0')}`)
  const missKeys = Array.from({ length: 1 << 12 }, (_, i) => `none:${String(i).padStart(10, '0')}`)
  const value = Buffer.alloc(size, 'v')
  const order = accessOrder(n, dist)
  const stores = makeStores(n)
  for (const s of Object.values(stores)) for (const k of keys) await s.set(k, value)
  const tasks = {}
  let i = 0
  let sink = 0
  const next = () => keys[order[i++ & 0xffff]]
  for (const [name, s] of Object.entries(stores)) {
    const { get, set } = s
    if (s.async) {
      tasks[`get hit | ${name}`] = async () => { sink ^= (await get(next())).length }
      tasks[`get miss | ${name}`] = async () => { sink ^= (await get(missKeys[i++ & 0xfff])) === undefined ? 1 : 0 }
      tasks[`put | ${name}`] = async () => { await set(next(), value) }
      tasks[`mix 90/10 | ${name}`] = async () => { if ((i & 15) < 14) sink ^= (await get(next()))?.length ?? 0; else await set(next(), value) }
    } else {
      tasks[`get hit | ${name}`] = () => { sink ^= get(next()).length }
      tasks[`get miss | ${name}`] = () => { sink ^= get(missKeys[i++ & 0xfff]) === undefined ? 1 : 0 }
      tasks[`put | ${name}`] = () => { set(next(), value) }
      tasks[`mix 90/10 | ${name}`] = () => { if ((i & 15) < 14) sink ^= get(next())?.length ?? 0; else set(next(), value) }
    }
  }
  const r = await measure(tasks, { rounds: ROUNDS, time: TIME })
  const rows = []
  for (const w of ['get hit', 'get miss', 'put', 'mix 90/10']) {
    const ours = r.get(`${w} | statekit`).ops
    for (const name of Object.keys(stores)) {
      const m = r.get(`${w} | ${name}`)
      rows.push([w, name, fmt(m.ops), fmt(m.p50), fmt(m.p99), name === 'statekit' ? '' : `${(ours / m.ops).toFixed(2)}x`])
    }
  }
  sections.push(`## ${n.toLocaleString('en-US')} keys, ${dist}, ${size}-byte values, TTL on\n\n` + table(['workload', 'store', 'ops/s', 'p50 ns', 'p99 ns', 'statekit ÷ it'], rows))
  if (n === (quick ? 10_000 : 100_000) && dist === 'uniform' && size === 100) {
    const get = r.get('get hit | statekit').ops / r.get('get hit | lru-cache').ops
    const put = r.get('put | statekit').ops / r.get('put | lru-cache').ops
    goals.push(['getSync, 100-byte values, 100K keys, uniform: at least 1.5x lru-cache get', `${get.toFixed(2)}x`, get >= 1.5])
    goals.push(['putSync with TTL: at least 1.5x lru-cache set', `${put.toFixed(2)}x`, put >= 1.5])
    chartRows = Object.keys(stores).flatMap((name) => [[`get hit: ${name}`, r.get(`get hit | ${name}`).ops], [`put: ${name}`, r.get(`put | ${name}`).ops]])
  }
  stores.statekit.close?.()
  if (sink === 0.5) console.log(sink)
}
sections.unshift('## Goals\n\n' + table(['goal', 'measured (median)', 'met'], goals.map(([g, v, ok]) => [g, v, ok ? 'yes' : '**no**'])))
writeSuite('memory', {
  title: 'In-memory stores',
  intro: `Median of ${ROUNDS} round(s) of ${TIME} ms per task, tasks interleaved. statekit is MemoryBackend's getSync/putSync (a Buffer back for every hit); keyv is async. "statekit ÷ it" is statekit's ops/s over the store's. Reproduce: \`npm run bench -- --suite memory\`.`,
  sections,
  chart: { title: 'get (hit) and put with TTL, 100K keys, 100-byte values', unit: 'ops/s', rows: chartRows },
  quick,
})
