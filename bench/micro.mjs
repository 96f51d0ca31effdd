// First micro-benchmark: MemoryBackend getSync/putSync against Map and lru-cache,
// 100-byte values, 100K keys, uniform random access. Several rounds; medians quoted.
// Usage: node bench/micro.mjs [--rounds N] [--time MS]
import os from 'node:os'
import { Bench } from 'tinybench'
import { LRUCache } from 'lru-cache'
import { MemoryBackend } from '../dist/index.js'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? dflt : Number(process.argv[i + 1])
}
const ROUNDS = arg('--rounds', 5)
const TIME = arg('--time', 300)
const N = 100_000
const keys = Array.from({ length: N }, (_, i) => `key:${String(i).padStart(8, '0')}`)
const value = Buffer.alloc(100, 'v')
const order = Uint32Array.from({ length: 1 << 16 }, () => Math.floor(Math.random() * N))

const ours = new MemoryBackend()
const map = new Map()
const lru = new LRUCache({ max: N * 2, ttl: 3_600_000 })
for (const k of keys) {
  ours.putSync(k, value)
  map.set(k, value)
  lru.set(k, value)
}

let i = 0
const next = () => keys[order[i++ & 0xffff]]
let sink = 0
const tasks = {
  'statekit getSync': () => (sink ^= ours.getSync(next()).length),
  'Map get': () => (sink ^= map.get(next()).length),
  'lru-cache get': () => (sink ^= lru.get(next()).length),
  'statekit putSync (ttl)': () => ours.putSync(next(), value, { ttl: 3_600_000 }),
  'Map set': () => map.set(next(), value),
  'lru-cache set (ttl)': () => lru.set(next(), value),
}

const rounds = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) {
  const bench = new Bench({ time: TIME, warmupTime: 50 })
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn)
  await bench.run()
  for (const t of bench.tasks) rounds[t.name].push(t.result.throughput.mean)
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const med = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, median(v)]))

console.log(`# MemoryBackend micro-benchmark (${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version})`)
console.log(`100K keys, 100-byte values, uniform access; median of ${ROUNDS} rounds of ${TIME} ms\n`)
console.log('| operation | ops/s (median) | vs Map | vs lru-cache |')
console.log('|---|---:|---:|---:|')
const row = (name, mapName, lruName) =>
  console.log(
    `| ${name} | ${Math.round(med[name]).toLocaleString('en-US')} | ${(med[name] / med[mapName]).toFixed(2)}x | ${(med[name] / med[lruName]).toFixed(2)}x |`,
  )
for (const n of ['statekit getSync', 'Map get', 'lru-cache get']) row(n, 'Map get', 'lru-cache get')
for (const n of ['statekit putSync (ttl)', 'Map set', 'lru-cache set (ttl)']) row(n, 'Map set', 'lru-cache set (ttl)')
if (sink === 0.5) console.log(sink)
await ours.close()
