// One worker of the workers suite: attaches to the shared statekit store (or fills a
// private lru-cache copy), waits at the start line, runs a timed loop of `ops` gets or
// puts of uniformly drawn keys, and reports the nanoseconds it took.
import { parentPort, workerData } from 'node:worker_threads'
import { LRUCache } from 'lru-cache'
import { MemoryBackend } from '../../dist/index.js'

const { kind, descriptor, n, op, ops, sab, seed, memoryOnly } = workerData
const key = (i) => `key:${String(i).padStart(11, '0')}`
const value = Buffer.alloc(100, 'v')
let get
let put
let held
if (kind === 'statekit') {
  const store = MemoryBackend.attach(descriptor)
  get = (k) => store.getSync(k)
  put = (k, v) => store.putSync(k, v)
  held = store
} else {
  // Each entry its own 100-byte value, as a cache of real values holds.
  const lru = new LRUCache({ max: n * 2 })
  for (let i = 0; i < n; i++) lru.set(key(i), Buffer.alloc(100, i & 0xff))
  get = (k) => lru.get(k)
  put = (k, v) => lru.set(k, v)
  held = lru
}
if (memoryOnly) {
  // The memory run: hold the store (or the copy), touch it, wait to be terminated.
  parentPort.postMessage({ ready: get(key(0)) !== undefined && held !== undefined })
  setInterval(() => {}, 1 << 30)
  await new Promise(() => {})
}
const keys = Array.from({ length: n }, (_, i) => key(i))
// Pre-drawn uniform indexes (a small LCG per worker, so threads differ).
const order = new Uint32Array(1 << 16)
let x = seed >>> 0
for (let i = 0; i < order.length; i++) {
  x = (Math.imul(x, 1664525) + 1013904223) >>> 0
  order[i] = x % n
}
const flag = new Int32Array(sab)
parentPort.postMessage('ready')
Atomics.wait(flag, 0, 0)
let sink = 0
const t0 = process.hrtime.bigint()
if (op === 'get') {
  for (let i = 0; i < ops; i++) sink += get(keys[order[i & 0xffff]]) === undefined ? 0 : 1
} else {
  for (let i = 0; i < ops; i++) put(keys[order[i & 0xffff]], value)
}
const ns = Number(process.hrtime.bigint() - t0)
parentPort.postMessage({ ns, sink })
