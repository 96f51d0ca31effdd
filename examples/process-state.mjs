// statekit example, after seed 000: the process state manager of a dashboard builder.
// Each monitored process has a ProcessState record (pid, name, importance score, EWMA
// values of cpu and memory, ring assignment, metadata), kept in a namespace with the
// msgpack codec; a record expires after a TTL unless the process reports again, so
// processes that went away disappear by themselves. Checkpoints are taken periodically
// and kept for a set age; on start the state is opened with recovery (a damaged store
// is moved aside and the newest checkpoint that restores whole is restored). Metrics go
// to a Prometheus registry, and a control server on loopback, behind a token, serves
// status, metrics, checkpoints and restore.
//
//   npm run demo -- process-state [options]      or      node examples/process-state.mjs [options]
//
//   --tier sled|memory   the store (default sled: the seed's BadgerDB is persistent)
//   --duration SECONDS   run this long, then shut down (default 60; 0: until Ctrl-C or SIGTERM)
//   --port N             the control server's port on 127.0.0.1 (default 7070; 0: any free one)
//   --dir DIR            where state, checkpoints and the token file live (default ./demo-state/process-state)
//   --ttl MS             a record's time to live (default 10000; the seed's default is 24 h)
//   --processes N        how many processes are monitored at a time (default 12)
//
// The control token is STATEKIT_CONTROL_TOKEN if set, else a random one written to
// DIR/control-token (mode 0600); it is never printed. With the demo running:
//
//   TOKEN=$(cat demo-state/process-state/control-token)
//   curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7070/
//
// Run it again: it resumes from the state the last run left.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Registry } from 'prom-client'
import { CheckpointCoordinator, MemoryBackend, SledBackend, checkpointOnSignals } from '../dist/index.js'
import { createControlServer } from '../dist/control.js'
import { registerMetrics } from '../dist/metrics.js'

const USAGE = 'usage: node examples/process-state.mjs [--tier sled|memory] [--duration SECONDS] [--port N] [--dir DIR] [--ttl MS] [--processes N]'
const TICK_MS = 250
const CHECKPOINT_INTERVAL_MS = 2_000
// The seed's CheckpointTTL (7 days there): checkpoints older than this are deleted.
const CHECKPOINT_MAX_AGE_MS = 20_000
const EWMA_ALPHA = 0.3
const RINGS = 4

const log = (msg, fields = {}) =>
  console.log(`INFO  ${msg}`.padEnd(36), Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '))

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      tier: { type: 'string', default: 'sled' },
      duration: { type: 'string', default: '60' },
      port: { type: 'string', default: '7070' },
      dir: { type: 'string', default: path.join('demo-state', 'process-state') },
      ttl: { type: 'string', default: '10000' },
      processes: { type: 'string', default: '12' },
    },
    strict: true,
  })
  const num = (name, min) => {
    const v = Number(values[name])
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got '${values[name]}'`)
    return v
  }
  if (values.tier !== 'sled' && values.tier !== 'memory') throw new Error(`--tier must be sled or memory, got '${values.tier}'`)
  return {
    tier: values.tier,
    duration: num('duration', 0),
    port: num('port', 0),
    dir: path.resolve(values.dir),
    ttl: num('ttl', 1),
    processes: num('processes', 1),
  }
}

// A deterministic stream of pseudo-random numbers in [0, 1).
function random(seed) {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
}

const NAMES = ['api-gateway', 'auth', 'billing', 'postgres', 'redis', 'nginx', 'worker', 'scheduler', 'search', 'metrics-agent', 'log-shipper', 'cron']

// The importance score: busy, memory-heavy, long-running processes matter more.
function importance(ewma, ageSeconds) {
  const score = 0.5 * (ewma.cpu / 100) + 0.3 * (ewma.memory / 100) + 0.2 * Math.min(1, ageSeconds / 60)
  return Math.round(score * 1000) / 1000
}

// Ring 0 holds the most important processes, ring 3 the least.
const RING_FLOORS = [0.6, 0.45, 0.3]
const ringOf = (score) => {
  const ring = RING_FLOORS.findIndex((floor) => score >= floor)
  return ring === -1 ? RINGS - 1 : ring
}

/**
 * Runs the state manager. Resolves with the exit code when a bounded run ends; on a
 * signal, checkpointOnSignals shuts down and exits the process itself.
 */
export async function main(argv = process.argv.slice(2)) {
  let opts
  try {
    opts = options(argv)
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`)
    return 64
  }
  const checkpointDir = path.join(opts.dir, 'checkpoints')
  fs.mkdirSync(opts.dir, { recursive: true })
  log('Starting process state manager', { tier: opts.tier, ttl_ms: opts.ttl, dir: opts.dir })

  // Open with recovery: a damaged sled directory is moved aside and the newest checkpoint
  // that restores whole is restored; the memory tier starts from that checkpoint.
  const { backend, report } =
    opts.tier === 'sled'
      ? await SledBackend.openWithRecovery({ path: path.join(opts.dir, 'state'), ttl: opts.ttl, flushEveryMs: 500 }, { checkpointDir })
      : await MemoryBackend.openWithRecovery({ ttl: opts.ttl }, { checkpointDir })
  if (report.damaged) log('Recovered a damaged store', { moved_to: report.movedTo, reason: report.reason })
  if (report.restored) log('Restored from checkpoint', { id: report.checkpoint.id, entries: report.info.entries, expired: report.info.expired, tick: report.checkpoint.metadata.tick })
  for (const s of report.skipped) log('Skipped a damaged checkpoint', { id: s.id, reason: s.reason })
  log('Store open', { tier: opts.tier, entries: backend.stats().entryCount })

  // Typed ProcessState records under 'process:<pid>', msgpack-encoded, each with the TTL.
  const states = backend.namespace('process', { codec: 'msgpack' })
  const saveProcessState = (ps) => states.put(String(ps.pid), ps, { ttl: opts.ttl })
  const loadProcessState = (pid) => states.get(String(pid))
  const loadAllProcessStates = async () => {
    const out = []
    for await (const [, ps] of states.entries()) out.push(ps)
    return out
  }

  let tick = 0
  // Checkpoints every 2 s, kept for CHECKPOINT_MAX_AGE_MS (`maxAge`);
  // `maxCheckpoints` bounds the same window by count.
  const coordinator = new CheckpointCoordinator(backend, {
    dir: checkpointDir,
    interval: CHECKPOINT_INTERVAL_MS,
    maxAge: CHECKPOINT_MAX_AGE_MS,
    maxCheckpoints: Math.ceil(CHECKPOINT_MAX_AGE_MS / CHECKPOINT_INTERVAL_MS),
    metadata: () => ({ tick }),
  })
  coordinator.on('checkpoint', (info) => log('Checkpoint created', { id: info.id, entries: info.entries, bytes: info.bytes, tick: info.metadata.tick }))
  coordinator.on('error', (err) => log('Checkpoint failed', { code: err.code, message: err.message }))

  const registry = new Registry()
  registerMetrics(registry, { backend, coordinator, prefix: 'process_state_' })

  let tokenFile = null
  let token = process.env.STATEKIT_CONTROL_TOKEN
  if (!token) {
    token = crypto.randomBytes(24).toString('base64url')
    tokenFile = path.join(opts.dir, 'control-token')
    fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
    fs.chmodSync(tokenFile, 0o600)
  }
  const control = await createControlServer({
    backend,
    coordinator,
    token,
    port: opts.port,
    registry,
    config: { example: 'process-state', tier: opts.tier, ttlMs: opts.ttl, checkpointIntervalMs: CHECKPOINT_INTERVAL_MS, checkpointMaxAgeMs: CHECKPOINT_MAX_AGE_MS },
  })
  log('Control server listening', { url: control.url, token_file: tokenFile ?? '(STATEKIT_CONTROL_TOKEN)' })

  // The monitored processes: those restored first (their EWMA values carry on), then
  // new ones as others exit.
  const rand = random(Date.now())
  const live = new Map()
  for (const ps of await loadAllProcessStates()) live.set(ps.pid, ps)
  if (live.size > 0) log('Resuming monitored processes', { count: live.size, pids: [...live.keys()].join(',') })
  let nextPid = Math.max(1000, ...live.keys()) + 1
  const spawnProcess = () => {
    const pid = nextPid++
    const name = NAMES[Math.floor(rand() * NAMES.length)]
    return { pid, name, importanceScore: 0, ewmaValues: { cpu: 0, memory: 0 }, ringAssignment: RINGS - 1, metadata: { version: `1.${Math.floor(rand() * 10)}.0`, startedAt: Date.now() } }
  }
  while (live.size < opts.processes) {
    const ps = spawnProcess()
    live.set(ps.pid, ps)
  }

  const step = async () => {
    tick++
    for (const ps of live.values()) {
      // A process may exit: it stops reporting, and its record expires after the TTL.
      if (rand() < 0.01) {
        live.delete(ps.pid)
        log('Process exited; its state will expire', { pid: ps.pid, name: ps.name })
        const fresh = spawnProcess()
        live.set(fresh.pid, fresh)
        continue
      }
      const sample = { cpu: Math.min(100, rand() * 60 + (ps.pid % 3) * 15), memory: Math.min(100, 20 + rand() * 50) }
      for (const k of ['cpu', 'memory']) ps.ewmaValues[k] = Math.round((EWMA_ALPHA * sample[k] + (1 - EWMA_ALPHA) * ps.ewmaValues[k]) * 100) / 100
      ps.importanceScore = importance(ps.ewmaValues, (Date.now() - ps.metadata.startedAt) / 1000)
      ps.ringAssignment = ringOf(ps.importanceScore)
      await saveProcessState(ps)
    }
    if (tick % 8 === 0) {
      const all = await loadAllProcessStates()
      const top = all.sort((a, b) => b.importanceScore - a.importanceScore)[0]
      const again = top ? await loadProcessState(top.pid) : undefined
      const s = backend.stats()
      log('Process states', { stored: all.length, live: live.size, top_pid: again?.pid ?? '-', top_score: again?.importanceScore ?? '-', rings: [0, 1, 2, 3].map((r) => all.filter((p) => p.ringAssignment === r).length).join('/'), expired: s.expiredCount, entries: s.entryCount })
    }
  }
  let stepping = Promise.resolve()
  const timer = setInterval(() => {
    stepping = stepping.then(step).catch((e) => log('Update failed', { code: e.code, message: e.message }))
  }, TICK_MS)
  coordinator.start()

  // Graceful shutdown on SIGTERM or SIGINT: stop updating, close the control server
  // (it finishes requests in flight), take a final checkpoint, close the store, exit 0.
  for (const s of ['SIGTERM', 'SIGINT']) process.once(s, () => clearInterval(timer))
  checkpointOnSignals(coordinator, { servers: [control], close: [backend], onError: (e) => log('Shutdown error', { message: e.message }) })

  if (opts.duration === 0) {
    log('Running until Ctrl-C or SIGTERM')
    return new Promise(() => {})
  }
  log('Running', { seconds: opts.duration, hint: '--duration 0 runs until Ctrl-C' })
  await new Promise((r) => setTimeout(r, opts.duration * 1000))
  clearInterval(timer)
  await stepping
  await control.close()
  const final = await coordinator.shutdown()
  const c = coordinator.stats()
  log('Final checkpoint', { id: final?.id, tick: final?.metadata.tick, entries: final?.entries })
  log('Final metrics', { checkpoints: c.checkpointsCreated, failures: c.checkpointFailures, entries: backend.stats().entryCount, expired: backend.stats().expiredCount })
  await backend.close()
  log('Run again to resume from this state')
  return 0
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main()
}
