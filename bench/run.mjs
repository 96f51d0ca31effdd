// npm run bench [-- --quick] [-- --suite NAME]: runs each suite in its own process
// and writes bench/results/<suite>.md and .svg (not in quick mode, which CI runs as
// a smoke test). No timed assertions: the goals are reported, not enforced.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { writeGoals } from './lib/report.mjs'

const SUITES = ['memory', 'batch', 'persistent', 'footprint', 'gc', 'checkpoint', 'adapters', 'control', 'workers', 'changelog']
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const i = args.indexOf('--suite')
const chosen = i === -1 ? SUITES : [args[i + 1]]
for (const s of chosen) {
  if (!SUITES.includes(s)) {
    console.error(`unknown suite '${s}'; suites: ${SUITES.join(', ')}`)
    process.exit(64)
  }
}
for (const s of chosen) {
  console.error(`\n=== bench: ${s}${quick ? ' (quick)' : ''}`)
  const file = fileURLToPath(new URL(`./suites/${s}.mjs`, import.meta.url))
  const r = spawnSync(process.execPath, ['--expose-gc', file, ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
  if (r.status !== 0) {
    console.error(`bench suite ${s} failed (exit ${r.status ?? r.signal})`)
    process.exit(1)
  }
}
if (!quick) writeGoals(SUITES)
