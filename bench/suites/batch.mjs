// Batches: getMany and putMany of 1000 keys, one boundary crossing each, against
// looping over a Map and lru-cache over the same keys. Timed loops of 1M keys per
// task and round (see lib/loop.mjs), alternating rounds, medians.
import { LRUCache } from 'lru-cache'
import { measureLoops, statekitModule } from '../lib/loop.mjs'
import { fmt, goalSection, table, writeSuite } from '../lib/report.mjs'

const { MemoryBackend } = await statekitModule()
const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5
const N = quick ? 10_000 : 100_000
const BATCH = 1000
const BATCHES = quick ? 20 : 1000
const TTL = 3_600_000
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
const withTtl = batches.map((b) => b.map((k) => ({ key: k, value, ttl: TTL })))
let sink = 0
const r = await measureLoops(
  {
    'getMany | statekit': (j) => { sink ^= store.getManySync(batches[j & 63]).length },
    'getMany | Map loop': (j) => { const b = batches[j & 63]; const out = new Array(BATCH); for (let i = 0; i < BATCH; i++) out[i] = map.get(b[i]); sink ^= out.length },
    'getMany | lru-cache loop': (j) => { const b = batches[j & 63]; const out = new Array(BATCH); for (let i = 0; i < BATCH; i++) out[i] = lru.get(b[i]); sink ^= out.length },
    'putMany | statekit': (j) => { store.putManySync(entries[j & 63]) },
    'putMany with TTL | statekit': (j) => { store.putManySync(withTtl[j & 63]) },
    'putMany | Map loop': (j) => { for (const [k, v] of entries[j & 63]) map.set(k, v) },
    'putMany | lru-cache loop': (j) => { for (const [k, v] of entries[j & 63]) lru.set(k, v) },
  },
  { rounds: ROUNDS, ops: BATCHES, samples: quick ? 100 : 2000 },
)
const keysPerSec = (name) => r.get(name).ops * BATCH
const rows = [...r].map(([name, m]) => {
  const [op, who] = name.split(' | ')
  return [op, who, fmt(m.ops * BATCH), fmt(m.ns / BATCH), fmt(m.p50 / 1000), fmt(m.p99 / 1000)]
})
const get = keysPerSec('getMany | statekit')
const getRatio = get / keysPerSec('getMany | lru-cache loop')
const put = keysPerSec('putMany | statekit')
const goals = [
  [`getMany of ${BATCH} keys over ${N.toLocaleString('en-US')} held`, `${fmt(get / 1e6)} M keys/s`, '≥ 5 M keys/s', get >= 5e6],
  [`getMany of ${BATCH} keys vs a loop of lru-cache get over the same keys`, `${getRatio.toFixed(2)}x`, '≥ 1.5x', getRatio >= 1.5],
  [`putMany of ${BATCH} entries`, `${fmt(put / 1e6)} M entries/s`, '≥ 3 M entries/s', put >= 3e6],
]
writeSuite('batch', {
  title: 'Batches of 1000 keys',
  intro: `${N.toLocaleString('en-US')} keys, 100-byte values, random batches; ${BATCHES.toLocaleString('en-US')} batches (${(BATCHES * BATCH).toLocaleString('en-US')} keys) per task and round, ${ROUNDS} alternating round(s), medians. Reproduce: \`npm run bench -- --suite batch\`.`,
  sections: [goalSection('batch', goals, quick), '## Results\n\n' + table(['operation', 'store', 'keys/s', 'ns per key', 'p50 µs per batch', 'p99 µs per batch'], rows)],
  chart: { title: 'Batches of 1000 keys', unit: 'keys/s', rows: [...r].map(([name, m]) => [name.replace(' | ', ': '), m.ops * BATCH]) },
  quick,
})
await store.close()
if (sink === 0.5) console.log(sink)
