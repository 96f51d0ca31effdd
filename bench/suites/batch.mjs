// Batches: getMany and putMany of 1000 keys, one boundary crossing each, against
// looping over a Map and lru-cache.
import { LRUCache } from 'lru-cache'
import { MemoryBackend } from '../../dist/index.js'
import { measure } from '../lib/measure.mjs'
import { fmt, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3
const TIME = quick ? 30 : 300
const N = quick ? 10_000 : 100_000
const BATCH = 1000
const keys = Array.from({ length: N }, (_, i) => `key:${String(i).padStart(11, '0')}`)
const value = Buffer.alloc(100, 'v')
const store = new MemoryBackend()
const map = new Map()
const lru = new LRUCache({ max: N * 2 })
for (const k of keys) {
  store.putSync(k, value)
  map.set(k, value)
  lru.set(k, value)
}
const batches = Array.from({ length: 64 }, () => Array.from({ length: BATCH }, () => keys[Math.floor(Math.random() * N)]))
const entries = batches.map((b) => b.map((k) => [k, value]))
let i = 0
let sink = 0
const r = await measure(
  {
    'getMany | statekit': () => { sink ^= store.getManySync(batches[i++ & 63]).length },
    'getMany | Map loop': () => { const b = batches[i++ & 63]; const out = new Array(BATCH); for (let j = 0; j < BATCH; j++) out[j] = map.get(b[j]); sink ^= out.length },
    'getMany | lru-cache loop': () => { const b = batches[i++ & 63]; const out = new Array(BATCH); for (let j = 0; j < BATCH; j++) out[j] = lru.get(b[j]); sink ^= out.length },
    'putMany | statekit': () => { store.putManySync(entries[i++ & 63]) },
    'putMany | Map loop': () => { for (const [k, v] of entries[i++ & 63]) map.set(k, v) },
    'putMany | lru-cache loop': () => { for (const [k, v] of entries[i++ & 63]) lru.set(k, v) },
  },
  { rounds: ROUNDS, time: TIME },
)
const rows = [...r].map(([name, m]) => {
  const [op, who] = name.split(' | ')
  return [op, who, fmt(m.ops * BATCH), fmt(m.p50 / 1000), fmt(m.p99 / 1000)]
})
const getKeys = r.get('getMany | statekit').ops * BATCH
const goal = table(['goal', 'measured (median)', 'met'], [[`getMany of ${BATCH} keys: at least 10 million keys per second`, `${fmt(getKeys / 1e6)} M keys/s`, getKeys >= 1e7 ? 'yes' : '**no**']])
writeSuite('batch', {
  title: 'Batches of 1000 keys',
  intro: `${N.toLocaleString('en-US')} keys, 100-byte values, random batches; median of ${ROUNDS} round(s) of ${TIME} ms. Reproduce: \`npm run bench -- --suite batch\`.`,
  sections: ['## Goals\n\n' + goal, '## Results\n\n' + table(['operation', 'store', 'keys/s', 'p50 µs per batch', 'p99 µs per batch'], rows)],
  chart: { title: 'Batches of 1000 keys', unit: 'keys/s', rows: [...r].map(([name, m]) => [name.replace(' | ', ': '), m.ops * BATCH]) },
  quick,
})
await store.close()
if (sink === 0.5) console.log(sink)
