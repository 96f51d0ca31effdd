// First measurement of the sled tier: cached getSync, putSync, putMany, and flush
// cost. Median of several rounds. Usage: node bench/sled-micro.mjs [--rounds N]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SledBackend } from '../dist/index.js'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? dflt : Number(process.argv[i + 1])
}
const ROUNDS = arg('--rounds', 5)
const N = 100_000
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-bench-'))
const store = await SledBackend.open({ path: path.join(dir, 'db'), flushEveryMs: null })
const keys = Array.from({ length: N }, (_, i) => `key:${String(i).padStart(8, '0')}`)
const value = Buffer.alloc(100, 'v')
for (let i = 0; i < N; i += 1000) store.putManySync(keys.slice(i, i + 1000).map((k) => [k, value]))
await store.flush()

const order = Uint32Array.from({ length: 1 << 16 }, () => Math.floor(Math.random() * N))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
async function rate(fn, ops) {
  const runs = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    await fn()
    runs.push(ops / (Number(process.hrtime.bigint() - t0) / 1e9))
  }
  return median(runs)
}

const results = []
let j = 0
results.push(['getSync, cached, 100K keys', await rate(() => {
  for (let i = 0; i < 200_000; i++) store.getSync(keys[order[j++ & 0xffff]])
}, 200_000)])
results.push(['putSync, no flush', await rate(() => {
  for (let i = 0; i < 100_000; i++) store.putSync(keys[order[j++ & 0xffff]], value)
}, 100_000)])
results.push(['putMany of 1000, no flush (entries/s)', await rate(() => {
  for (let b = 0; b < 100; b++) store.putManySync(keys.slice(b * 1000, b * 1000 + 1000).map((k) => [k, value]))
}, 100_000)])
results.push(['put + flush every op', await rate(async () => {
  for (let i = 0; i < 200; i++) {
    store.putSync(keys[order[j++ & 0xffff]], value)
    await store.flush()
  }
}, 200)])
results.push(['put, flush every 1000 ops', await rate(async () => {
  for (let i = 0; i < 20_000; i++) {
    store.putSync(keys[order[j++ & 0xffff]], value)
    if (i % 1000 === 999) await store.flush()
  }
}, 20_000)])

console.log(`# SledBackend first measurement (${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version})`)
console.log(`100K keys, 100-byte values; median of ${ROUNDS} rounds\n`)
console.log('| operation | ops/s (median) |')
console.log('|---|---:|')
for (const [name, r] of results) console.log(`| ${name} | ${Math.round(r).toLocaleString('en-US')} |`)
await store.close()
fs.rmSync(dir, { recursive: true, force: true })
