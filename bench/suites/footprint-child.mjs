// Fills one store with n entries (16-byte keys, 100-byte values) and prints the growth
// of RSS and of the V8 heap per entry. Run with --expose-gc.
import { LRUCache } from 'lru-cache'
import { MemoryBackend } from '../../dist/index.js'

const [which, nArg] = process.argv.slice(2)
const n = Number(nArg)
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await new Promise((r) => setTimeout(r, 20))
  }
}
await settle()
const before = process.memoryUsage()
let keep
if (which === 'statekit') {
  const s = new MemoryBackend({ ttl: 3_600_000 })
  for (let i = 0; i < n; i++) s.putSync(`user:${String(i).padStart(11, '0')}`, Buffer.alloc(100, i & 0xff))
  keep = s
} else if (which === 'Map') {
  const m = new Map()
  for (let i = 0; i < n; i++) m.set(`user:${String(i).padStart(11, '0')}`, Buffer.alloc(100, i & 0xff))
  keep = m
} else {
  const c = new LRUCache({ max: n * 2, ttl: 3_600_000 })
  for (let i = 0; i < n; i++) c.set(`user:${String(i).padStart(11, '0')}`, Buffer.alloc(100, i & 0xff))
  keep = c
}
await settle()
const after = process.memoryUsage()
process.stdout.write(JSON.stringify({
  rss: (after.rss - before.rss) / n,
  heap: (after.heapUsed - before.heapUsed) / n,
  external: (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / n,
  held: keep ? 1 : 0,
}))
