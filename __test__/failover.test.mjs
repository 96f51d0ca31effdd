// Failover: A owns a prefix and writes; A is killed with SIGKILL; B takes the lease
// once it expires, restores, and continues from A's last checkpoint offsets.
import test from 'ava'
import { spawn } from 'node:child_process'
import readline from 'node:readline'
import { CheckpointCoordinator, MemoryBackend } from '../dist/index.js'
import { s3Storage } from '../dist/s3.js'
import { useMoto } from './helpers/moto.mjs'

const moto = useMoto(test)
const worker = new URL('./fixtures/failover-worker.mjs', import.meta.url).pathname

function start(t, args) {
  const child = spawn(process.execPath, [worker, ...args], { env: moto.env(), stdio: ['ignore', 'pipe', 'inherit'] })
  const events = []
  const listeners = new Set()
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line))
    for (const l of listeners) l()
  })
  t.teardown(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'))
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })))
  const until = (pred, ms = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; events: ${JSON.stringify(events.slice(-5))}`)), ms)
      const check = () => {
        if (pred(events)) {
          clearTimeout(timer)
          listeners.delete(check)
          resolve(events)
        }
      }
      listeners.add(check)
      check()
    })
  return { child, events, until, exited }
}

test('failover: A is killed with SIGKILL; B takes the lease once it expires, restores, and continues from A\'s last checkpoint; nothing acknowledged is lost', async (t) => {
  const bucket = await moto.bucket(t)
  // A's lease lasts 10 s: longer than B takes to start on a loaded machine, so B must wait.
  const a = start(t, [bucket, 'orders/p0', 'host-a', '10000'])
  await a.until((ev) => ev.filter((e) => e.event === 'committed').length >= 5)
  a.child.kill('SIGKILL')
  const { signal } = await a.exited
  t.is(signal, 'SIGKILL')
  const acked = Math.max(...a.events.filter((e) => e.event === 'committed').map((e) => e.offset))
  const killedAt = Date.now()
  const b = start(t, [bucket, 'orders/p0', 'host-b', '4000', '300'])
  const events = await b.until((ev) => ev.some((e) => e.event === 'stopped'))
  const waited = events.filter((e) => e.event === 'waiting')
  t.true(waited.length > 0, 'B waited while A\'s lease was still live')
  t.regex(waited[0].reason, /held by "host-a"/)
  t.true(Date.now() - killedAt >= 300, 'B could not take the lease at once')
  const restored = events.find((e) => e.event === 'restored')
  t.true(restored.offset >= acked, `B resumes at ${restored.offset}, at or after A's last acknowledged ${acked}`)
  t.true(restored.complete, 'every record below the restored offset is in B\'s store')
  t.is(restored.entries, restored.offset)
  const stopped = events.find((e) => e.event === 'stopped')
  t.is(stopped.offset, restored.offset + 300)
  t.is((await b.exited).code, 0)
  // A third instance sees B's final checkpoint: the whole input, each record once.
  const c = new MemoryBackend()
  t.teardown(() => c.close())
  const coordinator = new CheckpointCoordinator(c, { storage: s3Storage(moto.options(bucket, 'orders/p0')), interval: 60_000 })
  const lease = await coordinator.acquireLease({ owner: 'host-c', ttl: 5000 })
  const report = await coordinator.restoreLatest()
  t.is(report.checkpoint.metadata.offset, stopped.offset)
  t.is(c.stats().entryCount, stopped.offset)
  t.is(String(await c.get(`k${acked - 1}`)), 'host-a')
  t.is(String(await c.get(`k${stopped.offset - 1}`)), 'host-b')
  await lease.release()
})
