// The memory tier's change log: putSync and putMany throughput with the log off and
// in each fsync mode, beside lru-cache and beside sled (flushEveryMs 500, and a flush
// per write), and replay speed after a crash with 1M entries logged.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { LRUCache } from 'lru-cache'
import { MemoryBackend, SledBackend } from '../../dist/index.js'
import { median, fmt, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3
const N = quick ? 10_000 : 100_000
const REPLAY = quick ? 20_000 : 1_000_000
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-clbench-'))
const keys = Array.from({ length: N }, (_, i) => `key:${String(i).padStart(11, '0')}`)
const value = Buffer.alloc(100, 'v')
const rnd = () => keys[Math.floor(Math.random() * N)]
const batch = () => Array.from({ length: 100 }, () => [rnd(), value])

/** Median ops/s of `ROUNDS` runs of `fn`, which does `ops` operations. */
async function rate(fn, ops) {
  const runs = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now()
    await fn()
    runs.push(ops / ((performance.now() - t0) / 1000))
  }
  return median(runs)
}

let n = 0
const memory = (fsync) => new MemoryBackend(fsync ? { changeLog: { dir: path.join(dir, `log-${fsync}-${n++}`), fsync } } : undefined)
const stores = {
  'statekit memory, no log': { open: async () => memory(undefined) },
  'statekit memory, log fsync no': { open: async () => memory('no') },
  'statekit memory, log fsync everysec': { open: async () => memory('everysec') },
  'statekit memory, log fsync always': { open: async () => memory('always'), slow: true },
  'lru-cache': { open: async () => { const c = new LRUCache({ max: N * 2 }); return { putSync: (k, v) => c.set(k, v), put: async (k, v) => { c.set(k, v) }, putMany: async (es) => { for (const [k, v] of es) c.set(k, v) }, close: async () => {} } } },
  'sled, flushEveryMs 500': { open: async () => SledBackend.open({ path: path.join(dir, `sled-${n++}`), flushEveryMs: 500 }) },
  'sled, flush per write': {
    open: async () => {
      const s = await SledBackend.open({ path: path.join(dir, `sled-${n++}`), flushEveryMs: null })
      return { putSync: (k, v) => s.putSync(k, v), put: (k, v) => s.put(k, v), putMany: (es) => s.putMany(es), flush: () => s.flush(), close: () => s.close() }
    },
    slow: true,
  },
}

const results = {}
for (const [name, def] of Object.entries(stores)) {
  const s = await def.open()
  const puts = def.slow ? (quick ? 50 : 500) : quick ? 5_000 : 200_000
  const batches = def.slow ? (quick ? 5 : 50) : quick ? 50 : 2_000
  const flushEach = name === 'sled, flush per write'
  const putSync = await rate(async () => {
    for (let j = 0; j < puts; j++) {
      s.putSync(rnd(), value)
      if (flushEach) await s.flush()
    }
  }, puts)
  const putMany = await rate(async () => {
    for (let j = 0; j < batches; j++) {
      await s.putMany(batch())
      if (flushEach) await s.flush()
    }
  }, batches * 100)
  // 100 async puts issued together (Promise.all): in 'always' mode they share fsyncs.
  const groups = def.slow ? (quick ? 5 : 30) : quick ? 50 : 1_000
  const putConcurrent = await rate(async () => {
    for (let j = 0; j < groups; j++) {
      await Promise.all(Array.from({ length: 100 }, async () => {
        await s.put(rnd(), value)
        if (flushEach) await s.flush()
      }))
    }
  }, groups * 100)
  results[name] = { putSync, putMany, putConcurrent }
  await s.close()
  console.error(`${name}: putSync ${fmt(putSync)}/s, putMany ${fmt(putMany)} entries/s, 100 concurrent puts ${fmt(putConcurrent)}/s`)
}

// Replay: REPLAY entries logged (putMany of 1000, fsync 'no', then a SIGKILL-equivalent:
// the process keeps running, but the store is dropped by close() without a checkpoint),
// then openWithRecovery replays them into a fresh store.
const replayRuns = []
for (let r = 0; r < ROUNDS; r++) {
  const logDir = path.join(dir, `replay-${r}`)
  const b = new MemoryBackend({ changeLog: { dir: logDir, fsync: 'no' } })
  for (let i = 0; i < REPLAY; i += 1000) {
    await b.putMany(Array.from({ length: 1000 }, (_, j) => [`k:${String(i + j).padStart(9, '0')}`, value]))
  }
  await b.close()
  const t0 = performance.now()
  const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir, fsync: 'no' } }, { checkpointDir: path.join(dir, `replay-cp-${r}`) })
  const secs = (performance.now() - t0) / 1000
  if (report.changeLog.changes !== REPLAY || backend.stats().entryCount !== REPLAY) throw new Error(`replayed ${report.changeLog.changes} of ${REPLAY}`)
  replayRuns.push(REPLAY / secs)
  await backend.close()
  fs.rmSync(logDir, { recursive: true, force: true })
}
const replayRate = median(replayRuns)
fs.rmSync(dir, { recursive: true, force: true })

const names = Object.keys(stores)
const off = results['statekit memory, no log']
const ratio = (a, b) => (a / b >= 0.01 ? `${(a / b).toFixed(2)}x` : `${(a / b).toPrecision(2)}x`)
const rows = names.map((k) => [k, fmt(results[k].putSync), ratio(results[k].putSync, off.putSync), fmt(results[k].putMany), ratio(results[k].putMany, off.putMany), fmt(results[k].putConcurrent), ratio(results[k].putConcurrent, off.putConcurrent)])
const ev = results['statekit memory, log fsync everysec']
const goals = [
  ['putSync with the log in everysec mode: at least half the speed without the log', `${(ev.putSync / off.putSync).toFixed(2)}x`, ev.putSync >= 0.5 * off.putSync],
  ['putSync with the log in everysec mode: faster than sled with flushEveryMs 500', `${(ev.putSync / results['sled, flushEveryMs 500'].putSync).toFixed(2)}x`, ev.putSync > results['sled, flushEveryMs 500'].putSync],
  ['putSync with the log in always mode: faster than sled with a flush per write', `${(results['statekit memory, log fsync always'].putSync / results['sled, flush per write'].putSync).toFixed(2)}x`, results['statekit memory, log fsync always'].putSync > results['sled, flush per write'].putSync],
]
writeSuite('changelog', {
  title: 'The memory tier\'s change log',
  intro: `${N.toLocaleString('en-US')} keys, 100-byte values, random keys, one thread; median of ${ROUNDS} round(s). putMany writes batches of 100 (entries/s); "100 concurrent puts" awaits \`Promise.all\` of 100 async \`put\`s. "always" waits for an fsync per putSync, per putMany, and per group of concurrent puts (they share it); "sled, flush per write" awaits \`flush()\` after each write. Replay: ${REPLAY.toLocaleString('en-US')} entries logged by putMany of 1,000, then \`MemoryBackend.openWithRecovery\` with no checkpoint. The machine is shared, so read ratios within one run. Reproduce: \`npm run bench -- --suite changelog\`.`,
  sections: [
    '## Goals\n\n' + table(['goal', 'measured (median)', 'met'], goals.map(([g, v, ok]) => [g, v, ok ? 'yes' : '**no**'])),
    '## Writes\n\n' + table(['store', 'putSync ops/s', 'vs no log', 'putMany entries/s', 'vs no log', '100 concurrent puts, ops/s', 'vs no log'], rows),
    `## Replay\n\n${table(['entries logged', 'replayed entries/s (median)'], [[REPLAY.toLocaleString('en-US'), fmt(replayRate)]])}`,
  ],
  chart: { title: 'putSync with a change log', unit: 'ops/s', rows: names.map((k) => [k, results[k].putSync]) },
  quick,
})
