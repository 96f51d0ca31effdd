// One store shared by worker threads, beside lru-cache with a private copy per worker:
// total getSync and putSync throughput with 1 and 2 threads (more where the machine
// has more cores), and the memory each approach needs for 1M entries.
import os from 'node:os'
import { execFileSync } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { MemoryBackend } from '../../dist/index.js'
import { fmt, median, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const N = quick ? 10_000 : 100_000
const OPS = quick ? 100_000 : 1_000_000
const ROUNDS = quick ? 1 : 5
const MEM_N = quick ? 50_000 : 1_000_000
const cores = os.availableParallelism?.() ?? os.cpus().length
const THREADS = [1, 2, ...[4, 8].filter((t) => t <= cores)]
const threadFile = fileURLToPath(new URL('./workers-thread.mjs', import.meta.url))
const memoryFile = fileURLToPath(new URL('./workers-memory.mjs', import.meta.url))

const shared = new MemoryBackend()
const value = Buffer.alloc(100, 'v')
for (let i = 0; i < N; i++) shared.putSync(`key:${String(i).padStart(11, '0')}`, value)
const descriptor = shared.share()

/** Total ops/s of `threads` workers each running `OPS` operations from one start line. */
async function run(kind, threads, op) {
  const sab = new SharedArrayBuffer(4)
  const workers = Array.from({ length: threads }, (_, t) => new Worker(threadFile, { workerData: { kind, descriptor, n: N, op, ops: OPS, sab, seed: 7 + t } }))
  const next = (w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
  await Promise.all(workers.map(next))
  const done = workers.map(next)
  Atomics.store(new Int32Array(sab), 0, 1)
  Atomics.notify(new Int32Array(sab), 0)
  const results = await Promise.all(done)
  await Promise.all(workers.map((w) => w.terminate()))
  return (threads * OPS) / (Math.max(...results.map((r) => r.ns)) / 1e9)
}

const res = {}
for (let r = 0; r < ROUNDS; r++) {
  // Alternate the stores within each round, so drift on a shared machine hits both.
  for (const threads of THREADS) {
    for (const op of ['get', 'put']) {
      for (const kind of r % 2 ? ['lru-cache', 'statekit'] : ['statekit', 'lru-cache']) {
        const k = `${kind}|${threads}|${op}`
        ;(res[k] ??= []).push(await run(kind, threads, op))
      }
    }
  }
}
const ops = (kind, threads, op) => median(res[`${kind}|${threads}|${op}`])

const memory = {}
for (const kind of ['statekit', 'lru-cache']) {
  for (const threads of [1, 2]) {
    const runs = []
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      runs.push(JSON.parse(execFileSync(process.execPath, ['--expose-gc', memoryFile, kind, String(threads), String(MEM_N)], { encoding: 'utf8' })).rss)
    }
    memory[`${kind}|${threads}`] = median(runs)
  }
}
await shared.close()

const mops = (x) => `${fmt(x / 1e6)} M/s`
const mib = (x) => `${fmt(x / 2 ** 20)} MiB`
const rows = []
for (const threads of THREADS) {
  for (const op of ['get', 'put']) {
    const s = ops('statekit', threads, op)
    const l = ops('lru-cache', threads, op)
    rows.push([`${op}Sync / ${op === 'get' ? 'get' : 'set'}, ${threads} thread${threads > 1 ? 's' : ''}`, mops(s), mops(l), `${(s / l).toFixed(2)}x`])
  }
}
const scaling = (kind, op) => ops(kind, 2, op) / ops(kind, 1, op)
writeSuite('workers', {
  title: 'One store shared by worker threads',
  intro:
    `Each worker thread runs ${OPS.toLocaleString('en-US')} uniformly drawn getSync (or putSync) calls on ${N.toLocaleString('en-US')} keys (16-character keys, 100-byte values) from one start line; throughput is all threads' operations over the slowest thread's time. statekit: one store, filled once, attached by every worker; lru-cache: a private copy filled in each worker (writes in one worker are not seen by the others). ${cores} cores; median of ${ROUNDS} rounds, the stores alternating within each round. Memory: RSS growth of a fresh process holding ${MEM_N.toLocaleString('en-US')} entries for 1 and 2 workers (median of ${quick ? 1 : 3}). Reproduce: \`npm run bench -- --suite workers\`.`,
  sections: [
    '## Throughput (total, all threads)\n\n' + table(['operation', 'statekit (shared)', 'lru-cache (copy per worker)', 'ratio'], rows),
    `Scaling from 1 to 2 threads: statekit get ${scaling('statekit', 'get').toFixed(2)}x, put ${scaling('statekit', 'put').toFixed(2)}x; lru-cache get ${scaling('lru-cache', 'get').toFixed(2)}x, set ${scaling('lru-cache', 'put').toFixed(2)}x.`,
    `## Memory for ${MEM_N.toLocaleString('en-US')} entries\n\n` +
      table(['approach', '1 worker', '2 workers'], [
        ['statekit, one shared store', mib(memory['statekit|1']), mib(memory['statekit|2'])],
        ['lru-cache, a copy per worker', mib(memory['lru-cache|1']), mib(memory['lru-cache|2'])],
      ]),
  ],
  chart: {
    title: 'Total throughput with 2 worker threads',
    unit: 'M ops/s',
    rows: ['get', 'put'].flatMap((op) => [
      [`statekit shared ${op}Sync`, ops('statekit', 2, op) / 1e6],
      [`lru-cache per-worker ${op === 'get' ? 'get' : 'set'}`, ops('lru-cache', 2, op) / 1e6],
    ]),
  },
  quick,
})
