// Garbage collection: the event loop's p99 and maximum delay during a write-heavy load
// while 2M entries are held, statekit against lru-cache, each in a fresh process.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { fmt, median, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const N = quick ? 100_000 : 2_000_000
const MS = quick ? 500 : 5000
const ROUNDS = quick ? 1 : 3
const child = fileURLToPath(new URL('./gc-child.mjs', import.meta.url))
const res = {}
for (const which of ['statekit', 'lru-cache']) {
  const runs = []
  for (let r = 0; r < ROUNDS; r++) {
    runs.push(JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', child, which, String(N), String(MS)], { encoding: 'utf8' })))
  }
  res[which] = { max: median(runs.map((x) => x.max)), p99: median(runs.map((x) => x.p99)), writes: median(runs.map((x) => x.writes)) / (MS / 1000) }
}
const ratio = res.statekit.max / res['lru-cache'].max
writeSuite('gc', {
  title: 'Event-loop delay under writes while holding many entries',
  intro: `${N.toLocaleString('en-US')} entries held (16-byte keys, 100-byte values), then ${MS} ms of writes of fresh values to random keys, yielding every 2000 writes; a 1 ms timer measures the gaps. Each store in a fresh process; median of ${ROUNDS} run(s). Reproduce: \`npm run bench -- --suite gc\`.`,
  sections: [
    '## Goals\n\n' + table(['goal', 'measured (median)', 'met'], [["event loop's maximum delay at most a quarter of lru-cache's", `${ratio.toFixed(2)}x`, ratio <= 0.25 ? 'yes' : '**no**']]),
    '## Results\n\n' + table(['store', 'p99 delay ms', 'max delay ms', 'writes/s'], Object.entries(res).map(([k, v]) => [k, fmt(v.p99), fmt(v.max), fmt(v.writes)])),
  ],
  chart: { title: 'Maximum event-loop delay under writes', unit: 'ms', rows: Object.entries(res).map(([k, v]) => [k, v.max]) },
  quick,
})
