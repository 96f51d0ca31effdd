import test from 'ava'
import path from 'node:path'
import { Registry, register as globalRegistry } from 'prom-client'
import { CheckpointCoordinator, MemoryBackend, SledBackend } from '../dist/index.js'
import { registerMetrics } from '../dist/metrics.js'
import { tempDir } from './helpers/tmp.mjs'

// Parses the Prometheus text format into { 'name{labels}': value }.
function parse(text) {
  const out = {}
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out[line.slice(0, i)] = Number(line.slice(i + 1))
  }
  return out
}

test('metrics on a real prom-client Registry match stats()', async (t) => {
  const dir = tempDir(t)
  const b = await SledBackend.open({ path: path.join(dir, 'db') })
  const c = new CheckpointCoordinator(b, { dir: path.join(dir, 'cps'), interval: 60_000 })
  const registry = new Registry()
  const metrics = registerMetrics(registry, { backend: b, coordinator: c })
  await b.putMany([['a', '1'], ['b', '2'], ['c', '3']])
  await b.get('a')
  await b.get('missing')
  await b.delete('c')
  await b.put('short', 'x', { ttl: 1 })
  await new Promise((r) => setTimeout(r, 10))
  await b.get('short')
  const cp = await c.createCheckpoint()
  const s = b.stats()
  const m = parse(await registry.metrics())
  t.is(m['statekit_operations_total{op="get",result="hit"}'], s.hitCount)
  t.is(m['statekit_operations_total{op="get",result="miss"}'], s.missCount)
  t.is(m['statekit_operations_total{op="put",result="ok"}'], s.putCount)
  t.is(m['statekit_operations_total{op="delete",result="ok"}'], s.deleteCount)
  t.is(m.statekit_hits_total, s.hitCount)
  t.is(m.statekit_misses_total, s.missCount)
  t.is(m.statekit_expired_total, s.expiredCount)
  t.is(s.expiredCount, 1)
  t.is(m.statekit_entries, s.entryCount)
  t.is(m.statekit_memory_bytes, s.memoryBytes)
  t.true(m.statekit_disk_bytes > 0)
  t.is(m['statekit_checkpoints_total{result="success"}'], 1)
  t.is(m['statekit_checkpoints_total{result="failure"}'], 0)
  t.is(m.statekit_last_checkpoint_timestamp_seconds, cp.createdAt / 1000)
  t.is(m.statekit_checkpoint_duration_seconds_count, 1)
  t.is(m.statekit_checkpoint_size_bytes_count, 1)
  t.is(m.statekit_checkpoint_size_bytes_sum, cp.bytes)
  // Nothing on the global registry, and no default metrics.
  t.is((await globalRegistry.getMetricsAsJSON()).filter((x) => x.name.startsWith('statekit_')).length, 0)
  t.false('process_cpu_seconds_total' in m)
  metrics.unregister()
  t.false((await registry.metrics()).includes('statekit_'))
  await b.close()
})

test('a custom prefix, and a memory backend alone', async (t) => {
  const b = new MemoryBackend()
  const registry = new Registry()
  registerMetrics(registry, { backend: b, prefix: 'app_state_' })
  b.putSync('k', 'v')
  const m = parse(await registry.metrics())
  t.is(m.app_state_entries, 1)
  t.is(m['app_state_operations_total{op="put",result="ok"}'], 1)
  t.is(m.app_state_disk_bytes, 0)
  await b.close()
})

test('registerMetrics twice on one registry is a StateError that says so, and the first stays whole', async (t) => {
  const { StateError } = await import('../dist/index.js')
  const b = new MemoryBackend()
  const registry = new Registry()
  const first = registerMetrics(registry, { backend: b })
  const err = t.throws(() => registerMetrics(registry, { backend: b }), { instanceOf: StateError, code: 'ERR_STATEKIT_INVALID_ARG' })
  t.regex(err.message, /already registered/)
  t.truthy(registry.getSingleMetric('statekit_entries'), 'the first registration is untouched')
  // Another prefix, or after unregister(), works.
  const other = registerMetrics(registry, { backend: b, prefix: 'other_' })
  other.unregister()
  first.unregister()
  registerMetrics(registry, { backend: b }).unregister()
  await b.close()
})
