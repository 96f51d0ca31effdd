// Throughput as a user's own loop sees it: each task is one operation `op(j)`, run
// `ops` times in a tight loop of its own (a fresh function per task, so V8 inlines
// the operation as it would in the user's code, with no per-iteration harness cost),
// in alternating rounds (forward, then reverse order) so that drift on a shared
// machine hits every task alike. Latency percentiles come from a separate pass that
// times sampled single operations.
import { median } from './report.mjs'

// A loop function of its own per task: one call site, one operation.
const syncLoop = () => new Function('op', 'n', 'for (let j = 0; j < n; j++) op(j)')
const asyncLoop = () => new Function('op', 'n', 'return (async () => { for (let j = 0; j < n; j++) await op(j) })()')

const now = () => process.hrtime.bigint()

/** The cost of reading the clock twice, to subtract from sampled latencies (ns). */
function clockCost() {
  const xs = []
  for (let i = 0; i < 20_000; i++) {
    const t0 = now()
    xs.push(Number(now() - t0))
  }
  return median(xs)
}

/**
 * Runs every task in alternating rounds; returns name -> { ns, ops, p50, p99, opsRun }:
 * median ns per operation over the rounds, its ops/s, and sampled p50 and p99 latency
 * in ns. A task is a function `op(j)` (j counts 0, 1, 2, ...) or
 * `{ op, async: true, ops }` (awaited; `ops` overrides the count per round).
 */
export async function measureLoops(tasks, { rounds, ops, samples = 20_000 }) {
  const names = Object.keys(tasks)
  const spec = new Map(names.map((n) => {
    const t = typeof tasks[n] === 'function' ? { op: tasks[n] } : tasks[n]
    return [n, { ...t, loop: t.async ? asyncLoop() : syncLoop(), n: t.ops ?? ops, ns: [] }]
  }))
  // Warm up: let V8 optimise every loop before timing.
  for (const s of spec.values()) await s.loop(s.op, Math.min(s.n, 50_000))
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse()
    for (const name of order) {
      const s = spec.get(name)
      const t0 = now()
      await s.loop(s.op, s.n)
      s.ns.push(Number(now() - t0) / s.n)
    }
  }
  const clock = clockCost()
  const lat = new Map(names.map((n) => [n, []]))
  const per = Math.max(1, Math.floor(samples / 10))
  for (let k = 0; k < 10; k++) {
    for (const name of names) {
      const s = spec.get(name)
      const xs = lat.get(name)
      for (let j = 0; j < per; j++) {
        const t0 = now()
        if (s.async) await s.op(j)
        else s.op(j)
        xs.push(Math.max(0, Number(now() - t0) - clock))
      }
    }
  }
  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.min(s.length - 1, Math.floor(s.length * p))]
  }
  return new Map(names.map((n) => {
    const s = spec.get(n)
    const ns = median(s.ns)
    return [n, { ns, ops: 1e9 / ns, p50: pct(lat.get(n), 0.5), p99: pct(lat.get(n), 0.99), opsRun: s.n, rounds: s.ns }]
  }))
}

/** The statekit module to measure: `dist/` here, or the directory in STATEKIT_DIST (a "before" build). */
export function statekitModule(file = 'index.js') {
  const dir = process.env.STATEKIT_DIST ?? new URL('../../dist/', import.meta.url).pathname
  return import(`${dir.replace(/\/?$/, '/')}${file}`)
}
