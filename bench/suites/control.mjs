// The control server under load: authenticated GET / (status) from 50 connections
// over loopback, with no checkpoints running and with POST /checkpoint every 200 ms, on
// a 500K-entry memory store. The server runs in its own process (control-child.mjs),
// autocannon and the checkpoint requests in this one. Reports requests per second and
// latency percentiles, medians of the rounds, and checks that no request failed and
// that every committed checkpoint verifies whole. Quick mode (CI's smoke test): 50K
// entries, 2,000 requests, one round.
// Usage: node bench/suites/control.mjs [--quick] [--rounds N]
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { verifyCheckpoint } from '../../dist/index.js'
import { fmt, median, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const roundsArg = process.argv.indexOf('--rounds')
const ROUNDS = roundsArg === -1 ? (quick ? 1 : 3) : Number(process.argv[roundsArg + 1])
const N = quick ? 50_000 : 500_000
const REQUESTS = quick ? 2_000 : 20_000
const CONNECTIONS = 50
const CHECKPOINT_EVERY_MS = 200
const token = crypto.randomBytes(24).toString('base64url')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-controlbench-'))

const child = spawn(process.execPath, [fileURLToPath(new URL('./control-child.mjs', import.meta.url)), String(N), dir], {
  env: { ...process.env, STATEKIT_CONTROL_TOKEN: token },
  stdio: ['pipe', 'pipe', 'inherit'],
})
const lines = readline.createInterface({ input: child.stdout })
const nextLine = () => new Promise((resolve, reject) => {
  lines.once('line', (l) => resolve(JSON.parse(l)))
  child.once('exit', (code) => reject(new Error(`the server process exited (${code})`)))
})
const { url } = await nextLine()
const headers = { authorization: `Bearer ${token}` }

async function post(p) {
  const res = await fetch(`${url}${p}`, { method: 'POST', headers })
  await res.arrayBuffer()
  return res.status
}

// autocannon's own duration is counted in whole ticks of a 1 s timer; requests per
// second here are over the time from the start to the last response.
function cannon(amount) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let last = started
    const instance = autocannon({ url: `${url}/`, headers, connections: CONNECTIONS, amount }, (err, r) => (err ? reject(err) : resolve({ ...r, seconds: (last - started) / 1000 })))
    instance.on('response', () => {
      last = performance.now()
    })
  })
}

// One load run; with checkpoints, POST /checkpoint every 200 ms while it lasts.
async function load(withCheckpoints) {
  const statuses = []
  const pending = []
  const ticker = withCheckpoints ? setInterval(() => pending.push(post('/checkpoint').then((s) => statuses.push(s), () => statuses.push('error'))), CHECKPOINT_EVERY_MS) : null
  if (withCheckpoints) pending.push(post('/checkpoint').then((s) => statuses.push(s), () => statuses.push('error')))
  const r = await cannon(REQUESTS)
  if (ticker) clearInterval(ticker)
  await Promise.all(pending)
  return {
    rps: r.requests.total / r.seconds,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    checkpointRequests: statuses.length,
    checkpointFailures: statuses.filter((s) => s !== 201).length,
  }
}

// Warm up, then alternate the two loads so drift on a shared machine hits both alike.
await cannon(Math.min(REQUESTS, 2_000))
const runs = { idle: [], checkpoints: [] }
for (let round = 0; round < ROUNDS; round++) {
  runs.idle.push(await load(false))
  runs.checkpoints.push(await load(true))
}

// Every committed checkpoint restores whole: verify each one's checksums and count.
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
const verified = []
for (const c of manifest.checkpoints) {
  const v = await verifyCheckpoint(path.join(dir, c.file))
  verified.push(v.ok && v.info.entries === N)
}
child.stdin.end()
const { stats } = await nextLine()
fs.rmSync(dir, { recursive: true, force: true })

const m = (xs, k) => median(xs.map((x) => x[k]))
const sum = (xs, k) => xs.reduce((n, x) => n + x[k], 0)
const row = (name, xs) => [name, fmt(m(xs, 'rps')), `${fmt(m(xs, 'p50'))} ms`, `${fmt(m(xs, 'p99'))} ms`, `${fmt(m(xs, 'max'))} ms`, String(sum(xs, 'total')), String(sum(xs, 'non2xx')), String(sum(xs, 'errors')), String(sum(xs, 'checkpointRequests'))]
const failures = sum(runs.idle, 'non2xx') + sum(runs.idle, 'errors') + sum(runs.checkpoints, 'non2xx') + sum(runs.checkpoints, 'errors') + sum(runs.checkpoints, 'checkpointFailures') + stats.checkpointFailures
const torn = verified.filter((ok) => !ok).length
const slowdown = m(runs.idle, 'rps') / m(runs.checkpoints, 'rps')
writeSuite('control', {
  title: 'Control server under load',
  intro: `Authenticated \`GET /\` (status) from ${CONNECTIONS} connections over loopback (autocannon, ${REQUESTS.toLocaleString('en-US')} requests per run) against a ${N.toLocaleString('en-US')}-entry memory store, with no checkpoints running and with \`POST /checkpoint\` every ${CHECKPOINT_EVERY_MS} ms (overlapping requests share one checkpoint). The server runs in its own process; the load generator in another. Medians of ${ROUNDS} round(s)${quick ? ' (quick mode)' : ''}, runs alternated. Reproduce: \`npm run bench -- --suite control\`.`,
  sections: [
    '## Results\n\n' + table(['load', 'requests/s', 'p50', 'p99', 'max', 'requests', 'non-2xx', 'errors', 'checkpoint requests'], [row('GET / alone', runs.idle), row(`GET / + POST /checkpoint every ${CHECKPOINT_EVERY_MS} ms`, runs.checkpoints)]),
    `Checkpoints taken by the coordinator: ${stats.checkpointsCreated} (failures: ${stats.checkpointFailures}); last one ${fmt(stats.lastCheckpointDurationMs ?? 0)} ms, ${((stats.lastCheckpointBytes ?? 0) / 1e6).toFixed(1)} MB. Committed checkpoints kept (maxCheckpoints 3): ${verified.length}, each verified whole with ${N.toLocaleString('en-US')} entries: ${torn === 0 ? 'yes' : `**no** (${torn} failed)`}. Throughput with checkpoints running is ${(100 / slowdown).toFixed(0)}% of that without.`,
  ],
  chart: { title: 'GET / requests per second', unit: 'requests/s', rows: [['GET / alone', m(runs.idle, 'rps')], ['GET / + checkpoints', m(runs.checkpoints, 'rps')]] },
  quick,
})
if (failures > 0 || torn > 0) {
  console.error(`control bench: ${failures} failed requests or checkpoints, ${torn} checkpoints that do not verify`)
  process.exit(1)
}
