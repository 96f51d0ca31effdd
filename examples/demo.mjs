// statekit demo, after seed 002: stateful purchase processing with checkpoints and
// recovery. Purchases from a stream update user profiles (total purchases, total
// spent, category by spend); profiles expire after inactivity; a checkpoint is taken
// every few seconds with the stream offset as metadata; a restart restores the latest
// checkpoint and resumes from its offset.
//
//   npm run demo              memory tier (the default)
//   npm run demo -- sled      sled tier
//   npm run demo -- memory
//   npm run demo -- process-state [options]   seed 000's process state manager with
//                                             the control server (examples/process-state.mjs)
//
// Run it twice: the second run says which checkpoint it restored and resumes there.
// State lives in ./demo-state/ (remove it to start fresh).
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CheckpointCoordinator, MemoryBackend, SledBackend } from '../dist/index.js'

const tier = process.argv[2] ?? 'memory'
if (tier === 'process-state') {
  const { main } = await import('./process-state.mjs')
  process.exit(await main(process.argv.slice(3)))
}
if (tier !== 'memory' && tier !== 'sled') {
  console.error(`usage: npm run demo -- [memory|sled|process-state]  (got '${tier}')`)
  process.exit(64)
}
const root = path.resolve('demo-state', tier)
const checkpointDir = path.join(root, 'checkpoints')
const INACTIVITY_TTL_MS = 24 * 3600 * 1000
const EVENTS_PER_RUN = 60

const log = (msg, fields = {}) =>
  console.log(`INFO  ${msg}`.padEnd(34), Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '))

function category(spent) {
  if (spent >= 10_000) return 'VIP'
  if (spent >= 1_000) return 'Premium'
  return 'Regular'
}

// The purchase stream: a pure function of the offset, like a replayable log.
function purchaseAt(offset) {
  const x = Math.sin(offset * 12.9898 + 78.233) * 43758.5453
  const r = x - Math.floor(x)
  return { userId: `user-${1 + (offset % 7)}`, amount: Math.round(r * 2_000_00) / 100 }
}

fs.mkdirSync(root, { recursive: true })
log('Starting State Backend Example', { tier })
let backend
let report
if (tier === 'sled') {
  ;({ backend, report } = await SledBackend.openWithRecovery({ path: path.join(root, 'state'), ttl: INACTIVITY_TTL_MS, flushEveryMs: 1000 }, { checkpointDir }))
  log('Sled state backend initialized', { path: path.join(root, 'state'), damaged: report.damaged })
} else {
  backend = new MemoryBackend({ ttl: INACTIVITY_TTL_MS })
  log('Memory state backend initialized', { ttl_ms: INACTIVITY_TTL_MS })
}

let offset = 0
const coordinator = new CheckpointCoordinator(backend, {
  dir: checkpointDir,
  interval: 1000,
  maxCheckpoints: 5,
  fullEvery: 3,
  metadata: () => ({ offset }),
})
coordinator.on('checkpoint', (info) =>
  log('Checkpoint created', { id: info.id, kind: info.kind, offset: info.metadata.offset, entries: info.entries, bytes: info.bytes }),
)
coordinator.on('error', (err) => log('Checkpoint failed', { code: err.code, message: err.message }))

// The sled tier's data survives on its own; the memory tier's comes from a checkpoint.
// Either way, the stream offset to resume from is in the latest checkpoint.
if (tier === 'memory') report = await coordinator.restoreLatest()
const latest = (await coordinator.list())[0]
if (tier === 'memory' && report.restored) {
  offset = Number(report.checkpoint.metadata.offset ?? 0)
  log('Restoring from checkpoint', { id: report.checkpoint.id, entries: report.info.entries })
  log('Successfully restored from checkpoint', { resume_offset: offset, skipped: report.skipped.length })
} else if (tier === 'sled' && latest) {
  offset = Number(latest.metadata.offset ?? 0)
  if (report.restored) log('Recovered damaged state from checkpoint', { id: report.checkpoint.id, moved_to: report.movedTo })
  log('Resuming from the latest checkpoint', { id: latest.id, resume_offset: offset })
} else {
  log('No checkpoint found, starting fresh')
}

coordinator.start()
const profiles = backend.namespace('profile', { codec: 'json' })
const end = offset + EVENTS_PER_RUN
for (; offset < end; offset++) {
  const { userId, amount } = purchaseAt(offset)
  const p = (await profiles.get(userId)) ?? { totalPurchases: 0, totalSpent: 0 }
  p.totalPurchases += 1
  p.totalSpent = Math.round((p.totalSpent + amount) * 100) / 100
  p.category = category(p.totalSpent)
  await profiles.put(userId, p) // renews the inactivity TTL
  log('Updated user profile', { offset, user_id: userId, total_purchases: p.totalPurchases, total_spent: p.totalSpent.toFixed(2), category: p.category })
  if ((offset + 1) % 20 === 0) {
    const s = backend.stats()
    log('State backend metrics', { gets: s.getCount, puts: s.putCount, deletes: s.deleteCount, entries: s.entryCount })
  }
  await sleep(40)
}

const final = await coordinator.shutdown()
log('Final checkpoint', { id: final?.id, offset: final?.metadata.offset })
const s = backend.stats()
const c = coordinator.stats()
log('Final metrics', {
  hit_rate: `${((100 * s.hitCount) / Math.max(1, s.getCount)).toFixed(1)}%`,
  puts: s.putCount,
  entries: s.entryCount,
  checkpoints: c.checkpointsCreated,
  checkpoint_failures: c.checkpointFailures,
})
await backend.close()
log('Run again to resume from this checkpoint', { next_offset: offset })
