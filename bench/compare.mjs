// Two builds of statekit side by side in one process: `before` (a copy of an older
// dist/, with its native/ beside it) and this one. Each loads its own addon, so both
// fast paths work; the tasks alternate in the same rounds, so the machine's load hits
// both alike, which a "before" run and an "after" run minutes apart on a shared
// machine cannot promise.
//
//   node --expose-gc bench/compare.mjs /path/to/before/dist [--quick] [--keys 1000,100000]
//
// Writes bench/results/before-after.md (not in quick mode).
import fs from 'node:fs'
import { LRUCache } from 'lru-cache'
import { accessOrder } from './lib/measure.mjs'
import { measureLoops } from './lib/loop.mjs'
import { fmt, machine, RESULTS, table } from './lib/report.mjs'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const beforeDir = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--keys')
if (!beforeDir) {
  console.error('usage: node --expose-gc bench/compare.mjs <before dist directory> [--quick]')
  process.exit(64)
}
const A = await import(`${beforeDir.replace(/\/?$/, '/')}index.js`)
const B = await import(new URL('../dist/index.js', import.meta.url).href)
const ROUNDS = quick ? 1 : 5
const OPS = quick ? 20_000 : 1_000_000
const ki = args.indexOf('--keys')
const SIZES = ki !== -1 ? args[ki + 1].split(',').map(Number) : quick ? [1_000] : [1_000, 100_000, 1_000_000]
const TTL = 3_600_000
const BATCH = 1000
let sink = 0
const sections = []
for (const n of SIZES) {
  const keys = Array.from({ length: n }, (_, i) => `key:${String(i).padStart(11, '0')}`)
  const value = Buffer.alloc(100, 'v')
  const json = { id: 1, name: 'user 1', spent: 3, tags: ['a', 'b'], active: true }
  const stores = { before: new A.MemoryBackend({ ttl: TTL }), after: new B.MemoryBackend({ ttl: TTL }) }
  const lru = new LRUCache({ max: n * 2, ttl: TTL })
  for (const s of Object.values(stores)) {
    for (let i = 0; i < n; i += BATCH) s.putManySync(keys.slice(i, i + BATCH).map((k) => [k, value]))
    s.namespace('j', { codec: 'json' }).putMany(keys.slice(0, Math.min(n, 10_000)).map((k) => [k, json]))
  }
  for (const k of keys) lru.set(k, value, { ttl: TTL })
  const len = Math.min(1 << 20, Math.max(1 << 16, 2 ** Math.ceil(Math.log2(n))))
  const mask = len - 1
  const order = accessOrder(n, 'uniform', len)
  const jn = Math.min(n, 10_000)
  const batches = Array.from({ length: 64 }, () => Array.from({ length: BATCH }, () => keys[Math.floor(Math.random() * n)]))
  const entries = batches.map((b) => b.map((k) => [k, value]))
  const tasks = {
    'get | lru-cache': (j) => { sink ^= lru.get(keys[order[j & mask]]).length },
    'set with TTL | lru-cache': (j) => { lru.set(keys[order[j & mask]], value, { ttl: TTL }) },
  }
  const batchTasks = {}
  for (const [who, s] of Object.entries(stores)) {
    const ns = s.namespace('j', { codec: 'json' })
    tasks[`getSync | ${who}`] = (j) => { sink ^= s.getSync(keys[order[j & mask]]).length }
    tasks[`putSync with TTL | ${who}`] = (j) => { s.putSync(keys[order[j & mask]], value, { ttl: TTL }) }
    tasks[`namespace json getSync | ${who}`] = (j) => { sink ^= ns.getSync(keys[order[j & mask] % jn]).id }
    batchTasks[`getMany of 1000 | ${who}`] = (j) => { sink ^= s.getManySync(batches[j & 63]).length }
    batchTasks[`putMany of 1000 | ${who}`] = (j) => { s.putManySync(entries[j & 63]) }
  }
  const r = await measureLoops(tasks, { rounds: ROUNDS, ops: OPS, samples: 100 })
  const rb = await measureLoops(batchTasks, { rounds: ROUNDS, ops: Math.max(20, OPS / BATCH), samples: 10 })
  const ns = (m, per = 1) => m.ns / per
  const row = (what, rr, per, peer) => {
    const a = ns(rr.get(`${what} | before`), per)
    const b = ns(rr.get(`${what} | after`), per)
    return [what, fmt(a), fmt(b), `${(a / b).toFixed(2)}x`, peer ? `${(ns(peer) / a).toFixed(2)}x → ${(ns(peer) / b).toFixed(2)}x` : '']
  }
  const rows = [
    row('getSync', r, 1, r.get('get | lru-cache')),
    row('putSync with TTL', r, 1, r.get('set with TTL | lru-cache')),
    row('namespace json getSync', r, 1),
    row('getMany of 1000', rb, BATCH),
    row('putMany of 1000', rb, BATCH),
  ]
  sections.push(`## ${n.toLocaleString('en-US')} keys\n\nlru-cache: get ${fmt(r.get('get | lru-cache').ns)} ns, set with TTL ${fmt(r.get('set with TTL | lru-cache').ns)} ns.\n\n` +
    table(['operation', 'before ns (per key)', 'after ns (per key)', 'after ÷ before (speed)', 'vs lru-cache, before → after'], rows))
  for (const s of Object.values(stores)) await s.close()
}
const md = ['# Before and after, in one process', '', `Machine: ${machine()}.`, '', `16-character ASCII keys, 100-byte values, uniform access, TTL on; the namespace reads 80-byte JSON values from 10,000 keys. Timed loops of ${OPS.toLocaleString('en-US')} operations (batches: ${Math.max(20, OPS / BATCH)} of 1000 keys), ${ROUNDS} alternating rounds, medians. "before" is ${beforeDir}. Reproduce: \`node --expose-gc bench/compare.mjs <before dist>\`.`, '', ...sections.flatMap((s) => [s, ''])].join('\n')
if (!quick && ki === -1) fs.writeFileSync(new URL('before-after.md', RESULTS), md)
process.stdout.write(md)
if (sink === 0.5) console.log(sink)
