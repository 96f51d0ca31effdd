// Event-loop stall probes. `gapProbe` is a 1 ms timer that records the longest gap
// between its own ticks: a synchronous block of N ms shows as a gap of N ms.
// monitorEventLoopDelay is kept beside it, but on Node 20 it does not see a single
// long block (it reported ~1 ms for a 100 ms busy loop here), so gapProbe is the one
// the goals are judged by.
import { monitorEventLoopDelay } from 'node:perf_hooks'

const now = () => Number(process.hrtime.bigint()) / 1e6

export function gapProbe() {
  let last = now()
  let max = 0
  const gaps = []
  const timer = setInterval(() => {
    const t = now()
    const gap = t - last
    gaps.push(gap)
    if (gap > max) max = gap
    last = t
  }, 1)
  const eld = monitorEventLoopDelay({ resolution: 1 })
  eld.enable()
  return {
    /** Stops the probe: { max, p99 } gap in ms, and monitorEventLoopDelay's max. */
    async stop() {
      await new Promise((r) => setTimeout(r, 3))
      clearInterval(timer)
      eld.disable()
      const t = now()
      max = Math.max(max, t - last - 3)
      gaps.sort((a, b) => a - b)
      const p99 = gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * 0.99))] : 0
      return { max, p99, eldMax: eld.max / 1e6 }
    },
  }
}
