// The control server under load (a small version of bench/suites/control.mjs):
// authenticated GET / from many connections while POST /checkpoint runs every 200 ms
// and a writer updates pairs of keys atomically. No error responses, and no checkpoint
// holds half of a pair update (no torn checkpoint).
import test from 'ava'
import autocannon from 'autocannon'
import path from 'node:path'
import { MemoryBackend, verifyCheckpoint } from '../dist/index.js'
import { AUTH, call, start } from './helpers/control.mjs'

const PAIRS = 10_000

test('GET / under load while POST /checkpoint runs every 200 ms: no errors, no torn checkpoint', async (t) => {
  const { url, backend, coordinator, dir } = await start(t)
  const init = []
  for (let i = 0; i < PAIRS; i++) init.push([`pair:${i}:a`, '0'], [`pair:${i}:b`, '0'])
  backend.putManySync(init)
  // The writer: both keys of a pair change together, in one putMany.
  let version = 0
  const writer = setInterval(() => {
    for (let n = 0; n < 50; n++) {
      const i = Math.floor(Math.random() * PAIRS)
      const v = String(++version)
      backend.putManySync([[`pair:${i}:a`, v], [`pair:${i}:b`, v]])
    }
  }, 2)
  const checkpoints = []
  const ticker = setInterval(() => {
    checkpoints.push(call(`${url}/checkpoint`, { method: 'POST', body: { metadata: { version } } }))
  }, 200)
  const totals = { requests: 0, non2xx: 0, errors: 0, timeouts: 0 }
  // At least 3,000 requests and at least 3 checkpoints while they run.
  while (totals.requests < 3000 || checkpoints.length < 3) {
    const r = await autocannon({ url: `${url}/`, headers: AUTH, connections: 20, amount: 1000 })
    totals.requests += r.requests.total
    totals.non2xx += r.non2xx
    totals.errors += r.errors
    totals.timeouts += r.timeouts
  }
  clearInterval(ticker)
  clearInterval(writer)
  const answers = await Promise.all(checkpoints)
  t.deepEqual(totals, { requests: totals.requests, non2xx: 0, errors: 0, timeouts: 0 })
  t.true(totals.requests >= 3000)
  t.deepEqual([...new Set(answers.map((a) => a.status))], [201])
  t.is(coordinator.stats().checkpointFailures, 0)
  const listed = (await call(`${url}/checkpoints`)).body.checkpoints
  t.true(listed.length >= 3)
  for (const c of listed) {
    const file = path.join(dir, c.file)
    const v = await verifyCheckpoint(file)
    t.true(v.ok, v.error)
    t.is(v.info.entries, 2 * PAIRS)
    // Restore it aside and check every pair is whole.
    const copy = new MemoryBackend()
    await copy.restore(file)
    const values = new Map()
    for await (const [k, val] of copy.entries()) values.set(k.toString(), val.toString())
    await copy.close()
    t.is(values.size, 2 * PAIRS)
    let torn = 0
    for (let i = 0; i < PAIRS; i++) if (values.get(`pair:${i}:a`) !== values.get(`pair:${i}:b`)) torn++
    t.is(torn, 0, `checkpoint ${c.id}: ${torn} pairs torn`)
  }
  t.log(`${totals.requests} requests, ${answers.length} checkpoint requests, ${listed.length} checkpoints kept, ${version} pair updates`)
})
