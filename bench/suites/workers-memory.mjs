// A child process of the workers suite: the memory one approach needs for `n`
// entries served to `threads` worker threads, as RSS growth after full GCs. statekit:
// one store filled once and attached by every worker; lru-cache: a private copy
// filled in each worker. Prints { rss } in bytes.
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { MemoryBackend } from '../../dist/index.js'

const [kind, threadsArg, nArg] = process.argv.slice(2)
const threads = Number(threadsArg)
const n = Number(nArg)
const file = fileURLToPath(new URL('./workers-thread.mjs', import.meta.url))
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    global.gc()
    await new Promise((r) => setTimeout(r, 20))
  }
}
await settle()
const before = process.memoryUsage().rss
let store
let descriptor
if (kind === 'statekit') {
  store = new MemoryBackend()
  for (let i = 0; i < n; i++) store.putSync(`key:${String(i).padStart(11, '0')}`, Buffer.alloc(100, i & 0xff))
  descriptor = store.share()
}
const sab = new SharedArrayBuffer(4)
const workers = []
for (let t = 0; t < threads; t++) {
  const w = new Worker(file, { workerData: { kind, descriptor, n, memoryOnly: true, sab, seed: t + 1 } })
  await new Promise((r) => w.once('message', r))
  workers.push(w)
}
await settle()
const rss = process.memoryUsage().rss - before
for (const w of workers) await w.terminate()
process.stdout.write(JSON.stringify({ rss }))
