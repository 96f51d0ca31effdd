// statekit demo: stateful purchase processing on the memory tier, after seed 002.
// Purchases update user profiles (total purchases, total spent, category by spend);
// profiles expire after a period of inactivity; backend metrics are logged.
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryBackend } from '../dist/index.js'

const INACTIVITY_TTL_MS = 1_500 // a profile untouched this long expires
const EVENTS = 60
const USERS = 8

function category(spent) {
  if (spent >= 10_000) return 'VIP'
  if (spent >= 1_000) return 'Premium'
  return 'Regular'
}

const log = (msg, fields = {}) =>
  console.log(`INFO  ${msg}`.padEnd(32), Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '))

const backend = new MemoryBackend({ ttl: INACTIVITY_TTL_MS })
const profiles = backend.namespace('profile', { codec: 'json' })
const cleanup = backend.startCleanupTask(250)
log('Starting State Backend Example')
log('Using memory state backend', { ttl_ms: INACTIVITY_TTL_MS })

// A deterministic stream of purchases: user-1..user-5 keep buying, user-6..user-8 buy
// once early and then go quiet, so their profiles expire.
let seed = 42
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
for (let offset = 0; offset < EVENTS; offset++) {
  const userId = offset < USERS ? `user-${offset + 1}` : `user-${1 + Math.floor(rand() * 5)}`
  const amount = Math.round(rand() * 2_000_00) / 100
  const p = (await profiles.get(userId)) ?? { totalPurchases: 0, totalSpent: 0 }
  p.totalPurchases += 1
  p.totalSpent = Math.round((p.totalSpent + amount) * 100) / 100
  p.category = category(p.totalSpent)
  await profiles.put(userId, p) // each write renews the inactivity TTL
  log('Updated user profile', {
    offset,
    user_id: userId,
    total_purchases: p.totalPurchases,
    total_spent: p.totalSpent.toFixed(2),
    category: p.category,
  })
  if ((offset + 1) % 20 === 0) {
    const s = backend.stats()
    log('Memory backend metrics', { gets: s.getCount, hits: s.hitCount, puts: s.putCount, entries: s.entryCount })
  }
  await sleep(40)
}

await sleep(INACTIVITY_TTL_MS)
await profiles.put('user-1', { ...(await profiles.get('user-1')), lastSeen: 'now' })
await sleep(300) // let the cleanup task sweep
const active = (await profiles.listKeys()).map(String)
const s = backend.stats()
log('Profiles still active', { users: active.join(',') || '(none)' })
log('Final metrics', {
  gets: s.getCount,
  hit_rate: `${((100 * s.hitCount) / Math.max(1, s.getCount)).toFixed(1)}%`,
  puts: s.putCount,
  expired: s.expiredCount,
  entries: s.entryCount,
  memory_bytes: s.memoryBytes,
})
cleanup.stop()
await backend.close()
