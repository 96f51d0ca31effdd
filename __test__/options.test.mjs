import test from 'ava'
import path from 'node:path'
import { Registry } from 'prom-client'
import { CheckpointCoordinator, MemoryBackend, SledBackend, StateError, checkpointOnSignals } from '../dist/index.js'
import { createControlServer } from '../dist/control.js'
import { KeyvStatekit } from '../dist/keyv.js'
import { StatekitLevel } from '../dist/level.js'
import { registerMetrics } from '../dist/metrics.js'
import { s3Storage } from '../dist/s3.js'
import { tempDir } from './helpers/tmp.mjs'

const INVALID = { instanceOf: StateError, code: 'ERR_STATEKIT_INVALID_ARG' }

// Every options object of the public API: a typo is refused, naming the key and the
// nearest valid one, and nothing is done.
const cases = [
  ['entries', (b) => b.entries({ prefx: 'a' }).next(), 'prefx', 'prefix'],
  ['MemoryBackend', () => new MemoryBackend({ tll: 5 }), 'tll', 'ttl'],
  ['put', (b) => b.put('k', 'v', { tll: 5 }), 'tll', 'ttl'],
  ['putSync', (b) => b.putSync('k', 'v', { tll: 5 }), 'tll', 'ttl'],
  ['checkpoint', (b, dir) => b.checkpoint(path.join(dir, 'a.skc'), { compresion: 'lz4' }), 'compresion', 'compression'],
  ['namespace', (b) => b.namespace('n', { codek: 'json' }), 'codek', 'codec'],
  ['namespace entries', (b) => b.namespace('n').entries({ limt: 1 }).next(), 'limt', 'limit'],
  ['SledBackend.open', (b, dir) => SledBackend.open({ path: path.join(dir, 'db'), flushEvery: 10 }), 'flushEvery', 'flushEveryMs'],
  ['SledBackend.openWithRecovery', (b, dir) => SledBackend.openWithRecovery({ path: path.join(dir, 'db') }, { checkpointDirectory: dir }), 'checkpointDirectory', 'checkpointDir'],
  ['MemoryBackend.openWithRecovery', (b, dir) => MemoryBackend.openWithRecovery({}, { checkpointdir: dir }), 'checkpointdir', 'checkpointDir'],
  ['CheckpointCoordinator', (b, dir) => new CheckpointCoordinator(b, { dir, interval: 1000, bogus: 1 }), 'bogus', undefined],
  ['CheckpointCoordinator typo', (b, dir) => new CheckpointCoordinator(b, { dir, interval: 1000, maxCheckpoint: 3 }), 'maxCheckpoint', 'maxCheckpoints'],
  ['createCheckpoint', (b, dir) => new CheckpointCoordinator(b, { dir, interval: 1000 }).createCheckpoint(undefined, { forse: true }), 'forse', 'force'],
  ['acquireLease', (b, dir) => new CheckpointCoordinator(b, { dir, interval: 1000 }).acquireLease({ owner: 'a', ttl: 1000, ttlMs: 5 }), 'ttlMs', 'ttl'],
  ['checkpointOnSignals', (b, dir) => checkpointOnSignals(new CheckpointCoordinator(b, { dir, interval: 1000 }), { exitt: false }), 'exitt', 'exit'],
  ['registerMetrics', (b) => registerMetrics(new Registry(), { backend: b, prefx: 'x_' }), 'prefx', 'prefix'],
  ['createControlServer', (b) => createControlServer({ backend: b, prot: 1234 }), 'prot', 'port'],
  ['s3Storage', () => s3Storage({ bucket: 'abc', prefix: 'p', regoin: 'eu-west-1' }), 'regoin', 'region'],
  ['KeyvStatekit', (b) => new KeyvStatekit(b, { closeBackends: true }), 'closeBackends', 'closeBackend'],
  ['StatekitLevel sled', (b, dir) => new StatekitLevel({ location: path.join(dir, 'lvl'), sled: { flushEvery: 5 } }), 'flushEvery', 'flushEveryMs'],
]

for (const [name, call, bad, near] of cases) {
  test(`${name}: an unknown option key is refused, naming it${near ? ' and the nearest valid one' : ''}`, async (t) => {
    const dir = tempDir(t)
    const b = new MemoryBackend()
    await b.put('k', 'before')
    const err = await t.throwsAsync(async () => call(b, dir), INVALID)
    t.true(err.message.includes(`'${bad}'`), err.message)
    if (near) t.true(err.message.includes(`did you mean '${near}'`), err.message)
    else t.false(err.message.includes('did you mean'), err.message)
    t.is((await b.get('k')).toString(), 'before', 'nothing was written')
    await b.close()
  })
}

test('error messages show the bad value itself, not only its type', async (t) => {
  const b = new MemoryBackend()
  const dir = tempDir(t)
  let err = await t.throwsAsync(b.checkpoint(path.join(dir, 'a.skc'), { compression: 'gzip' }), INVALID)
  t.is(err.message, "compression must be 'zstd', 'lz4' or 'none', got 'gzip'")
  err = await t.throwsAsync(SledBackend.open({ path: path.join(dir, 'db'), mode: 'fast' }), INVALID)
  t.regex(err.message, /got 'fast'/)
  err = t.throws(() => new CheckpointCoordinator(b, { dir, interval: 1000, compress: 'yes' }), INVALID)
  t.regex(err.message, /got 'yes'/)
  err = await t.throwsAsync(b.entries({ limit: -1 }).next(), INVALID)
  t.regex(err.message, /got the number -1/)
  err = t.throws(() => b.namespace('n', { codec: 'yaml' }), INVALID)
  t.regex(err.message, /'yaml'/)
  err = t.throws(() => new MemoryBackend({ ttl: { ms: 5 } }), INVALID)
  t.regex(err.message, /got an object \{"ms":5\}/)
  await b.close()
})
