// The crash suite: SIGKILLs processes at random moments while they write, and checks
// after each kill that nothing acknowledged was lost, no batch was torn, and every
// checkpoint on disk verifies. `npm run test:crash` runs 200 kills (what CI runs), 100
// of them in the change log scenario; `npm run test:crash -- --long` runs 2,000, 1,000
// of them the change log's; `--only <scenario>` runs one. Exits non-zero at the end if
// any check failed.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CheckpointCoordinator, MemoryBackend, SledBackend, verifyCheckpoint } from '../../dist/index.js'

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url))
const long = process.argv.includes('--long')
const scale = long ? 10 : 1
const PLAN = { batches: 35 * scale, checkpoints: 20 * scale, restore: 15 * scale, coordinator: 15 * scale, recover: 15 * scale, changelog: 100 * scale }
// `--only <scenario>` runs one scenario (for local runs).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-crash-'))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const counts = Object.fromEntries(Object.keys(PLAN).map((k) => [k, 0]))
let failures = 0

function fail(scenario, message) {
  failures++
  console.error(`FAIL ${scenario}: ${message}`)
}

/** Starts a child; resolves its lines as they come. */
function run(args) {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = []
  let buf = ''
  let first
  const started = new Promise((r) => (first = r))
  child.stdout.on('data', (d) => {
    buf += d
    const parts = buf.split('\n')
    buf = parts.pop()
    for (const l of parts) if (l) lines.push(l)
    if (lines.length > 0) first()
  })
  const exited = new Promise((r) => child.once('exit', r))
  return { child, lines, started, exited }
}

/** Kills `c` with SIGKILL at a random moment up to `spread` ms after its first line; returns when. */
async function killSoon(c, spread) {
  await Promise.race([c.started, sleep(20_000)])
  await sleep(Math.random() * spread)
  const at = Date.now()
  c.child.kill('SIGKILL')
  await c.exited
  return at
}

async function batches(n) {
  const dir = path.join(root, 'batches')
  let acked = -1
  for (let k = 0; k < n; k++) {
    const c = run(['batches', dir, String(acked + 1)])
    await killSoon(c, 300)
    for (const l of c.lines) acked = Math.max(acked, Number(l))
    const store = await SledBackend.open({ path: dir, flushEveryMs: null })
    const per = new Map()
    for await (const [key, value] of store.entries({ prefix: 'batch:' })) {
      const [, b, i] = key.toString().split(':')
      if (!value.toString().startsWith(`${Number(b)}:${i}:`)) fail('batches', `${key} holds ${value}`)
      per.set(Number(b), (per.get(Number(b)) ?? 0) + 1)
    }
    for (const [b, count] of per) if (count !== 20) fail('batches', `batch ${b} is torn: ${count} of 20 keys`)
    for (let b = 0; b <= acked; b++) if (per.get(b) !== 20) fail('batches', `acknowledged batch ${b} is missing`)
    await store.close()
    counts.batches++
  }
  return `${acked + 1} batches acknowledged`
}

async function checkpoints(n) {
  const dir = path.join(root, 'cp-store')
  const cps = path.join(root, 'cp-files')
  fs.mkdirSync(cps, { recursive: true })
  let verified = 0
  for (let k = 0; k < n; k++) {
    const c = run(['checkpoints', dir, cps])
    await killSoon(c, 400)
    const acked = new Set(c.lines)
    for (const f of fs.readdirSync(cps)) {
      if (f.endsWith('.tmp')) continue
      const v = await verifyCheckpoint(path.join(cps, f))
      if (!v.ok) fail('checkpoints', `${f} was published but does not verify: ${v.error}`)
      verified++
    }
    for (const f of acked) if (!fs.existsSync(path.join(cps, f))) fail('checkpoints', `acknowledged ${f} is missing`)
    // The store itself survives a kill during a checkpoint.
    const store = await SledBackend.open({ path: dir })
    if (store.stats().entryCount < 20_000) fail('checkpoints', `the store lost entries: ${store.stats().entryCount}`)
    await store.close()
    for (const f of fs.readdirSync(cps)) fs.rmSync(path.join(cps, f))
    counts.checkpoints++
  }
  return `${verified} published checkpoints verified`
}

async function restore(n) {
  const dir = path.join(root, 'restore-store')
  // Two states a restore switches between: A (30,000 entries) and B (10,000).
  const make = async (tag, count) => {
    const m = new MemoryBackend()
    await m.putMany(Array.from({ length: count }, (_, i) => [`${tag}${i}`, `${tag}:${i}`]))
    const file = (await m.checkpoint(path.join(root, `restore-${tag}.skc`))).path
    await m.close()
    return file
  }
  const a = await make('a', 30_000)
  const b = await make('b', 10_000)
  const init = await SledBackend.open({ path: dir })
  await init.restore(b)
  await init.close()
  const seen = { a: 0, b: 0 }
  for (let k = 0; k < n; k++) {
    const c = run(['restore', dir, a, b])
    await killSoon(c, 800)
    const store = await SledBackend.open({ path: dir, flushEveryMs: null })
    const tags = new Set()
    let count = 0
    for await (const [, v] of store.entries()) {
      tags.add(v.toString().split(':')[0])
      count++
    }
    const side = [...tags].join(',')
    if (side === 'a' && count === 30_000) seen.a++
    else if (side === 'b' && count === 10_000) seen.b++
    else fail('restore', `the store is neither state A nor state B: ${count} entries of ${side}`)
    await store.close()
    counts.restore++
  }
  return `after the kill: state A ${seen.a}, state B ${seen.b}, mixed 0`
}

async function coordinator(n) {
  const cps = path.join(root, 'coord')
  let listed = 0
  for (let k = 0; k < n; k++) {
    const c = run(['coordinator', 'unused', cps])
    await killSoon(c, 400)
    const acked = c.lines.map((l) => JSON.parse(l))
    const b = new MemoryBackend()
    const co = new CheckpointCoordinator(b, { dir: cps, interval: 60_000 })
    for (const e of await co.list()) {
      const v = await verifyCheckpoint(e.path ?? path.join(cps, e.file))
      if (!v.ok) fail('coordinator', `listed checkpoint ${e.id} does not verify: ${v.error}`)
      listed++
    }
    const report = await co.restoreLatest()
    const last = acked.at(-1)
    if (last) {
      if (!report.restored) fail('coordinator', `nothing restored after ${acked.length} committed checkpoints`)
      else if (report.checkpoint.id < last.id) fail('coordinator', `restored ${report.checkpoint.id}, older than committed ${last.id}`)
      else if (b.stats().entryCount !== report.checkpoint.metadata.offset) {
        fail('coordinator', `restored ${b.stats().entryCount} entries at offset ${report.checkpoint.metadata.offset}: a batch is torn`)
      }
    }
    await co.shutdown().catch(() => {})
    await b.close()
    counts.coordinator++
  }
  return `${listed} listed checkpoints verified`
}

async function recover(n) {
  const pristine = path.join(root, 'recover-pristine')
  const cps = path.join(root, 'recover-cp')
  const s = await SledBackend.open({ path: pristine })
  await s.putMany(Array.from({ length: 3000 }, (_, i) => [`k${i}`, `v${i}`]))
  const co = new CheckpointCoordinator(s, { dir: cps, interval: 60_000 })
  await co.createCheckpoint()
  await co.shutdown()
  await s.close()
  let interrupted = 0
  const failuresBefore = failures
  for (let k = 0; k < n; k++) {
    const dir = path.join(root, `recover-${k}`)
    fs.cpSync(pristine, dir, { recursive: true })
    const db = path.join(dir, 'db')
    const bytes = fs.readFileSync(db)
    bytes[Math.floor(bytes.length * 0.75)] ^= 0xff
    fs.writeFileSync(db, bytes)
    const c = run(['recover', dir, cps])
    // Anywhere from before the recovery finishes to after it wrote a few entries.
    await sleep(Math.random() * 1500)
    c.child.kill('SIGKILL')
    await c.exited
    if (c.lines.length === 0) interrupted++
    const acked = c.lines.filter((l) => l.startsWith('after:'))
    const { backend } = await SledBackend.openWithRecovery({ path: dir, flushEveryMs: null }, { checkpointDir: cps })
    if (backend.stats().entryCount < 3000) fail('recover', `round ${k}: ${backend.stats().entryCount} entries after recovery`)
    for (const i of [0, 1500, 2999]) if (String(await backend.get(`k${i}`)) !== `v${i}`) fail('recover', `round ${k}: k${i} is wrong`)
    for (const a of acked) if ((await backend.get(a)) === undefined) fail('recover', `round ${k}: acknowledged ${a} is missing`)
    await backend.close()
    for (const f of fs.readdirSync(root)) if (f.startsWith(`recover-${k}`)) fs.rmSync(path.join(root, f), { recursive: true, force: true })
    counts.recover++
  }
  return `${interrupted} kills before the recovery reported, ${failures === failuresBefore ? 'all recovered whole' : `${failures - failuresBefore} violations`}`
}

/**
 * The change log: a memory store with a coordinator, killed while it writes, alternately
 * in 'always' and 'everysec' mode. After each kill: no batch is torn; with 'always' every
 * acknowledged step is there; with 'everysec' every step acknowledged more than 1.5 s
 * before the kill is; and once two checkpoints were committed in a round, the log holds
 * no more than the steps since the one before the last (one checkpoint interval).
 */
async function changelog(n) {
  let base
  let worst = 0
  let torn = 0
  for (let k = 0; k < n; k++) {
    // A fresh directory every 5 rounds, so the state (and the checks) stay small.
    if (k % 5 === 0) base = fs.mkdtempSync(path.join(root, 'changelog-'))
    const logDir = path.join(base, 'log')
    const cps = path.join(base, 'cp')
    const fsync = k % 2 === 0 ? 'always' : 'everysec'
    const c = run(['changelog', logDir, cps, fsync])
    const killedAt = await killSoon(c, 400)
    const rec = c.lines.find((l) => l.startsWith('recovered '))
    if (rec && JSON.parse(rec.slice(10))?.torn) torn++
    const steps = c.lines.filter((l) => /^\d+ \d+$/.test(l)).map((l) => l.split(' ').map(Number))
    const cpLines = c.lines.map((l, i) => (l === 'cp' ? i : -1)).filter((i) => i >= 0)
    let recovered
    try {
      recovered = await MemoryBackend.openWithRecovery({ changeLog: { dir: logDir, fsync } }, { checkpointDir: cps })
    } catch (e) {
      fail('changelog', `round ${k} (${fsync}): recovery failed: ${e.code} ${e.message}`)
      continue
    }
    const { backend, report } = recovered
    const per = new Map()
    for await (const [key] of backend.entries({ prefix: 'b:' })) {
      const step = Number(key.toString().split(':')[1])
      per.set(step, (per.get(step) ?? 0) + 1)
    }
    for (const [step, count] of per) if (count !== 10) fail('changelog', `round ${k} (${fsync}): batch ${step} is torn: ${count} of 10 keys`)
    for (const [step, at] of steps) {
      const must = fsync === 'always' || at < killedAt - 1500
      if (must && (per.get(step) !== 10 || backend.getSync(`s:${step}`) === undefined)) {
        fail('changelog', `round ${k} (${fsync}): step ${step}, acknowledged ${killedAt - at} ms before the kill, is missing`)
      }
    }
    if (cpLines.length >= 2) {
      const since = c.lines.slice(cpLines.at(-2)).filter((l) => /^\d+ \d+$/.test(l)).length
      const bound = 2 * (since + 1)
      const records = report.changeLog?.records ?? 0
      worst = Math.max(worst, records / bound)
      if (records > bound) fail('changelog', `round ${k}: the log held ${records} records, more than the ${bound} written since the checkpoint before the last`)
    }
    await backend.close()
    counts.changelog++
  }
  return `${torn} torn tails cut off and reported; log size at most ${(worst * 100).toFixed(0)}% of one checkpoint interval's writes`
}

const started = Date.now()
const notes = {}
try {
  for (const [name, fn] of Object.entries({ batches, checkpoints, restore, coordinator, recover, changelog })) {
    if (only !== undefined && name !== only) continue
    const t0 = Date.now()
    notes[name] = await fn(PLAN[name])
    console.log(`crash suite: ${name}: ${counts[name]} kills, ${notes[name]} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
const kills = Object.values(counts).reduce((a, b) => a + b, 0)
console.log(`crash suite: ${kills} kills in ${((Date.now() - started) / 1000).toFixed(0)} s, ${failures} violations`)
console.log(`${kills - Math.min(kills, failures)} passed, ${failures} failed`)
process.exit(failures === 0 ? 0 : 1)
