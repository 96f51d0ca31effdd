// Holds n entries in one store, then writes hard (fresh 100-byte values, random keys)
// while a 1 ms timer probe measures the event loop. Prints p99 and max delay in ms.
import { LRUCache } from 'lru-cache'
import { MemoryBackend } from '../../dist/index.js'
import { gapProbe } from '../lib/probe.mjs'

const [which, nArg, msArg] = process.argv.slice(2)
const n = Number(nArg)
const key = (i) => `user:${String(i).padStart(11, '0')}`
let set
if (which === 'statekit') {
  const s = new MemoryBackend({ ttl: 3_600_000 })
  set = (k, v) => s.putSync(k, v)
} else {
  const c = new LRUCache({ max: n * 2, ttl: 3_600_000 })
  set = (k, v) => c.set(k, v)
}
for (let i = 0; i < n; i++) set(key(i), Buffer.alloc(100, i & 0xff))
globalThis.gc?.()
await new Promise((r) => setTimeout(r, 50))
const probe = gapProbe()
const until = performance.now() + Number(msArg)
let writes = 0
while (performance.now() < until) {
  for (let j = 0; j < 2000; j++) set(key(Math.floor(Math.random() * n)), Buffer.alloc(100, j & 0xff))
  writes += 2000
  await new Promise((r) => setImmediate(r))
}
const { max, p99 } = await probe.stop()
process.stdout.write(JSON.stringify({ max, p99, writes }))
