// Memory per entry at 1M entries: RSS and V8 heap growth, each store in a fresh process.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { fmt, median, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const N = quick ? 50_000 : 1_000_000
const ROUNDS = quick ? 1 : 3
const child = fileURLToPath(new URL('./footprint-child.mjs', import.meta.url))
const res = {}
for (const which of ['statekit', 'Map', 'lru-cache']) {
  const runs = []
  for (let r = 0; r < ROUNDS; r++) runs.push(JSON.parse(execFileSync(process.execPath, ['--expose-gc', child, which, String(N)], { encoding: 'utf8' })))
  res[which] = { rss: median(runs.map((x) => x.rss)), heap: median(runs.map((x) => x.heap)) }
}
const s = res.statekit
const goals = [
  ['V8 heap growth at most 5 bytes per entry', `${fmt(s.heap)} B`, s.heap <= 5],
  ['total memory (RSS) per entry at most 0.75x lru-cache\'s', `${(s.rss / res['lru-cache'].rss).toFixed(2)}x`, s.rss <= 0.75 * res['lru-cache'].rss],
]
writeSuite('footprint', {
  title: 'Memory per entry',
  intro: `${N.toLocaleString('en-US')} entries of 16-byte string keys and 100-byte Buffer values, each store alone in a fresh process, growth after full GCs; median of ${ROUNDS} run(s). Reproduce: \`npm run bench -- --suite footprint\`.`,
  sections: [
    '## Goals\n\n' + table(['goal', 'measured (median)', 'met'], goals.map(([g, v, ok]) => [g, v, ok ? 'yes' : '**no**'])),
    '## Results (bytes per entry)\n\n' + table(['store', 'RSS', 'V8 heap'], Object.entries(res).map(([k, v]) => [k, fmt(v.rss), fmt(v.heap)])),
  ],
  chart: { title: 'RSS per entry', unit: 'bytes', rows: Object.entries(res).map(([k, v]) => [k, v.rss]) },
  quick,
})
