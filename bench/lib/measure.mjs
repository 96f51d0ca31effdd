// Throughput with tinybench, several rounds, medians of ops/s, p50 and p99.
import { Bench } from 'tinybench'
import { median } from './report.mjs'

/**
 * Runs each task for `time` ms per round, `rounds` times, interleaving the tasks so
 * that drift on a shared machine hits them alike. Returns name -> { ops, p50, p99 }
 * (ops/s, latency in ns), medians over the rounds.
 */
export async function measure(tasks, { rounds, time }) {
  const acc = new Map(Object.keys(tasks).map((k) => [k, { ops: [], p50: [], p99: [] }]))
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({ time, warmupTime: Math.min(100, time / 2) })
    for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn)
    await bench.run()
    for (const t of bench.tasks) {
      const a = acc.get(t.name)
      a.ops.push(t.result.throughput.mean)
      a.p50.push(t.result.latency.p50 * 1e6)
      a.p99.push(t.result.latency.p99 * 1e6)
    }
  }
  return new Map([...acc].map(([k, v]) => [k, { ops: median(v.ops), p50: median(v.p50), p99: median(v.p99) }]))
}

/** Uniform and zipfian (s = 0.99) key indexes, pre-drawn. */
export function accessOrder(n, kind, count = 1 << 16) {
  const out = new Uint32Array(count)
  if (kind === 'uniform') {
    for (let i = 0; i < count; i++) out[i] = Math.floor(Math.random() * n)
    return out
  }
  // Zipf by inverse CDF over a precomputed table.
  const s = 0.99
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s)
  for (let i = 0; i < count; i++) {
    const u = Math.random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    // Spread the hot keys over the key space.
    out[i] = (lo * 2654435761) % n
  }
  return out
}
