// Checkpoint benchmark, after seed 001's table: 1K, 100K and 1M entries of 16-byte keys
// and ~100-byte JSON values. statekit's checkpoint and restore (memory tier, zstd)
// against the pure-JS way (a Map, JSON.stringify, gzip level 1, a file, and back), in
// the same run, with the event loop's longest stall during each.
// Usage: node --expose-gc bench/suites/checkpoint.mjs [--quick] [--rounds N]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { gapProbe } from '../lib/probe.mjs'
import { MemoryBackend, SledBackend } from '../../dist/index.js'

const quick = process.argv.includes('--quick')
const roundsArg = process.argv.indexOf('--rounds')
const ROUNDS = roundsArg === -1 ? (quick ? 1 : 5) : Number(process.argv[roundsArg + 1])
const SIZES = quick ? [1_000, 100_000] : [1_000, 100_000, 1_000_000]
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-cpbench-'))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = () => Number(process.hrtime.bigint()) / 1e6

function makeEntries(n) {
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const key = `user:${String(i).padStart(11, '0')}` // 16 bytes
    const value = JSON.stringify({ id: i, total: (i * 37) % 10007, spent: ((i * 7919) % 100000) / 100, category: ['Regular', 'Premium', 'VIP'][i % 3], seen: 1700000000 + i })
    out[i] = [key, value]
  }
  return out
}

// Runs fn while a 1 ms timer probe watches the event loop; returns [ms, max stall ms].
async function timed(fn) {
  // Start each measurement from a settled heap, so the garbage of the previous step
  // (V8's concurrent GC threads, freeing a million-entry Map) does not compete for the
  // two cores.
  globalThis.gc?.()
  await new Promise((r) => setTimeout(r, 100))
  const probe = gapProbe()
  await new Promise((r) => setTimeout(r, 3))
  const t0 = ms()
  await fn()
  const elapsed = ms() - t0
  const { max } = await probe.stop()
  return [elapsed, max]
}

const rows = []
for (const n of SIZES) {
  const entries = makeEntries(n)
  const r = { n, ours: { cp: [], restore: [], stall: [], size: 0 }, sled: { cp: [], stall: [] }, js: { cp: [], restore: [], stall: [], size: 0 } }
  const store = new MemoryBackend()
  for (let i = 0; i < n; i += 10_000) store.putManySync(entries.slice(i, i + 10_000))
  const map = new Map(entries)
  for (let round = 0; round < ROUNDS; round++) {
    const file = path.join(dir, `ours-${n}.skc`)
    const [cp, stall] = await timed(() => store.checkpoint(file))
    r.ours.cp.push(cp)
    r.ours.stall.push(stall)
    r.ours.size = fs.statSync(file).size
    const target = new MemoryBackend()
    const [rs] = await timed(() => target.restore(file))
    r.ours.restore.push(rs)
    if (target.stats().entryCount !== n) throw new Error('restore lost entries')
    await target.close()


    const jfile = path.join(dir, `js-${n}.json.gz`)
    const [jcp, jstall] = await timed(async () => {
      fs.writeFileSync(jfile, zlib.gzipSync(JSON.stringify(Array.from(map)), { level: 1 }))
    })
    r.js.cp.push(jcp)
    r.js.stall.push(jstall)
    r.js.size = fs.statSync(jfile).size
    const [jrs] = await timed(async () => {
      const back = new Map(JSON.parse(zlib.gunzipSync(fs.readFileSync(jfile)).toString('utf8')))
      if (back.size !== n) throw new Error('pure-JS restore lost entries')
    })
    r.js.restore.push(jrs)
  }
  await store.close()
  // The sled tier on its own, so neither tier's background work runs during the
  // other's measurements.
  const sled = await SledBackend.open({ path: path.join(dir, `sled-${n}`), flushEveryMs: null })
  for (let i = 0; i < n; i += 10_000) sled.putManySync(entries.slice(i, i + 10_000))
  await sled.flush()
  for (let round = 0; round < ROUNDS; round++) {
    const [scp, sstall] = await timed(() => sled.checkpoint(path.join(dir, `sled-${n}.skc`)))
    r.sled.cp.push(scp)
    r.sled.stall.push(sstall)
  }
  await sled.close()
  rows.push(r)
}
fs.rmSync(dir, { recursive: true, force: true })

const f = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(0))
const kb = (b) => (b > 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} KB`)
const machine = `${os.cpus()[0]?.model}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`
const lines = [
  '# Checkpoint benchmark',
  '',
  `Machine: ${machine}. Median of ${ROUNDS} round(s)${quick ? ' (quick mode)' : ''}. Reproduce: \`npm run bench:checkpoint\`.`,
  '',
  'Entries of 16-byte keys and ~100-byte JSON values. statekit: MemoryBackend.checkpoint (zstd level 1, the default) and restore into a new MemoryBackend, and SledBackend.checkpoint. Pure JS: a Map to JSON.stringify to gzip level 1 to a file, and back. "Stall" is the longest gap between ticks of a 1 ms timer on the event loop while each checkpoint ran (see bench/lib/probe.mjs). The sled tier is measured on its own, after the memory tier is closed.',
  '',
  '| entries | statekit checkpoint | statekit restore | statekit size | statekit stall | sled checkpoint | sled stall | pure-JS checkpoint | pure-JS restore | gzip-1 size | pure-JS stall | checkpoint speed-up | restore speed-up | size ratio |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
]
for (const r of rows) {
  const m = (xs) => median(xs)
  lines.push(
    `| ${r.n.toLocaleString('en-US')} | ${f(m(r.ours.cp))} ms | ${f(m(r.ours.restore))} ms | ${kb(r.ours.size)} | ${f(m(r.ours.stall))} ms | ${f(m(r.sled.cp))} ms | ${f(m(r.sled.stall))} ms | ${f(m(r.js.cp))} ms | ${f(m(r.js.restore))} ms | ${kb(r.js.size)} | ${f(m(r.js.stall))} ms | ${(m(r.js.cp) / m(r.ours.cp)).toFixed(1)}x | ${(m(r.js.restore) / m(r.ours.restore)).toFixed(1)}x | ${(r.ours.size / r.js.size).toFixed(2)} |`,
  )
}
const big = rows.find((r) => r.n === 1_000_000)
if (big) {
  const m = median
  const goals = [
    ['checkpoint at least 5x faster than pure JS', m(big.js.cp) / m(big.ours.cp), (x) => x >= 5, (x) => `${x.toFixed(1)}x`],
    ['restore at least 5x faster than pure JS', m(big.js.restore) / m(big.ours.restore), (x) => x >= 5, (x) => `${x.toFixed(1)}x`],
    ['file no bigger than gzip level 1', big.ours.size / big.js.size, (x) => x <= 1, (x) => `${x.toFixed(2)} of it`],
    ['longest event-loop stall under 10 ms', m(big.ours.stall), (x) => x < 10, (x) => `${x.toFixed(2)} ms`],
  ]
  lines.push('', '## Goals at 1M entries', '', '| goal | measured | met |', '|---|---:|:---:|')
  for (const [goal, v, ok, show] of goals) lines.push(`| ${goal} | ${show(v)} | ${ok(v) ? 'yes' : '**no**'} |`)
}
const out = lines.join('\n') + '\n'
fs.mkdirSync(new URL('../results/', import.meta.url), { recursive: true })
if (!quick) fs.writeFileSync(new URL('../results/checkpoint.md', import.meta.url), out)
process.stdout.write(out)
