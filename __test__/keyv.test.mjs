// statekit/keyv beyond keyv's own suite (__test__/adapters/keyv.suite.mjs): bad input,
// native TTLs, namespaces next to other data, disconnect, and the sled tier across a
// restart.
import test from 'ava'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Keyv from 'keyv'
import { MemoryBackend, SledBackend } from '../dist/index.js'
import { KeyvStatekit, createKeyv } from '../dist/keyv.js'
import { tempDir } from './helpers/tmp.mjs'

const keysOf = (backend) => backend.listKeysSync().map((k) => k.toString('utf8'))

test('keyv: a non-string key gets keyv\'s TypeError or ERR_STATEKIT_INVALID_ARG, and nothing changes', async (t) => {
  const backend = new MemoryBackend()
  const keyv = new Keyv(new KeyvStatekit(backend))
  await keyv.set('kept', 'v')
  const before = keysOf(backend)
  // With a namespace, keyv itself rejects the key before the store sees it.
  await t.throwsAsync(keyv.set(42, 'x'), { instanceOf: TypeError })
  await t.throwsAsync(keyv.get(42), { instanceOf: TypeError })
  // Without one, the key reaches the store, which rejects it; keyv emits the error.
  const bare = new Keyv(new KeyvStatekit(backend), { namespace: '' })
  const errors = []
  bare.on('error', (e) => errors.push(e))
  t.false(await bare.set(42, 'x'))
  t.false(await bare.set(Buffer.from('k'), 'x'))
  // keyv's get() drops the store's rejection; the adapter's error event still reaches keyv's listeners.
  t.is(await bare.get(42), undefined)
  t.is(errors.length, 3)
  t.deepEqual(errors.map((e) => e.code), ['ERR_STATEKIT_INVALID_ARG', 'ERR_STATEKIT_INVALID_ARG', 'ERR_STATEKIT_INVALID_ARG'])
  t.regex(errors[0].message, /keyv keys must be strings, got the number 42/)
  await t.throwsAsync(bare.has(null), { code: 'ERR_STATEKIT_INVALID_ARG' })
  const strict = new Keyv(new KeyvStatekit(backend), { namespace: '', throwOnErrors: true })
  await t.throwsAsync(strict.get(42), { code: 'ERR_STATEKIT_INVALID_ARG' })
  await t.throwsAsync(strict.set(42, 'x'), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.deepEqual(keysOf(backend), before)
  t.is(await keyv.get('kept'), 'v')
  await backend.close()
})

test('keyv: the store rejects non-string values and bad TTLs, and setMany writes all or nothing', async (t) => {
  const backend = new MemoryBackend()
  const store = new KeyvStatekit(backend)
  await t.throwsAsync(store.set('a', { not: 'serialized' }), { code: 'ERR_STATEKIT_INVALID_ARG', message: /serialized strings/ })
  await t.throwsAsync(store.set('a', 'v', -1), { code: 'ERR_STATEKIT_INVALID_ARG', message: /ttl/ })
  await t.throwsAsync(store.set('a', 'v', 'soon'), { code: 'ERR_STATEKIT_INVALID_ARG' })
  await t.throwsAsync(store.set('', 'v'), { code: 'ERR_STATEKIT_INVALID_ARG', message: /empty/ })
  await t.throwsAsync(store.setMany([{ key: 'a', value: 'v' }, { key: 'b', value: 7 }]), { code: 'ERR_STATEKIT_INVALID_ARG' })
  await t.throwsAsync(store.setMany([{ key: 'a', value: 'v' }, { key: 'b', value: 'v', ttl: NaN }]), { code: 'ERR_STATEKIT_INVALID_ARG' })
  await t.throwsAsync(store.setMany('a'), { code: 'ERR_STATEKIT_INVALID_ARG' })
  await t.throwsAsync(store.getMany(['a', 1]), { code: 'ERR_STATEKIT_INVALID_ARG' })
  await t.throwsAsync(store.deleteMany('a'), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.deepEqual(keysOf(backend), [])
  t.deepEqual(await store.setMany([{ key: 'a', value: '1' }, { key: 'b', value: '2', ttl: 60_000 }]), [true, true])
  t.deepEqual(await store.getMany(['a', 'b', 'c']), ['1', '2', undefined])
  t.deepEqual(await store.hasMany(['a', 'c']), [true, false])
  t.false(await store.deleteMany(['a', 'c']))
  t.true(await store.deleteMany(['b']))
  t.deepEqual(keysOf(backend), [])
  await backend.close()
})

test('keyv: bad constructor arguments are rejected', (t) => {
  t.throws(() => new KeyvStatekit(new Map()), { code: 'ERR_STATEKIT_INVALID_ARG', message: /MemoryBackend or SledBackend/ })
  t.throws(() => new KeyvStatekit(undefined), { code: 'ERR_STATEKIT_INVALID_ARG' })
  const backend = new MemoryBackend()
  t.throws(() => new KeyvStatekit(backend, 'close'), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.throws(() => new KeyvStatekit(backend, { closeBackend: 'yes' }), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.throws(() => createKeyv(backend, 5), { code: 'ERR_STATEKIT_INVALID_ARG' })
  t.is(new KeyvStatekit(backend).opts.url, 'statekit://memory')
})

test('keyv: TTLs expire natively, in the backend', async (t) => {
  const backend = new MemoryBackend()
  const keyv = new Keyv(new KeyvStatekit(backend), { namespace: 'sess' })
  await keyv.set('short', 'v', 1000)
  t.true(backend.hasSync('sess:short'))
  await keyv.set('long', 'v', 60_000)
  await keyv.set('forever', 'v')
  await sleep(1100)
  // The backend itself no longer has it: statekit expired it, not keyv on read.
  t.false(backend.hasSync('sess:short'))
  t.true(backend.hasSync('sess:long'))
  t.true(backend.hasSync('sess:forever'))
  t.is(await keyv.get('short'), undefined)
  await backend.close()
})

test('keyv: clear() removes only its namespace; other data in the backend stays', async (t) => {
  const backend = new MemoryBackend()
  await backend.put('app:config', 'x')
  const a = new Keyv(new KeyvStatekit(backend), { namespace: 'a' })
  const b = new Keyv(new KeyvStatekit(backend), { namespace: 'b' })
  await a.set('1', 1)
  await b.set('1', 2)
  await a.clear()
  t.deepEqual(keysOf(backend), ['app:config', 'b:1'])
  t.is(await b.get('1'), 2)
  await backend.close()
})

test('keyv: createKeyv wires iterator(); a stock Keyv over the adapter has none', async (t) => {
  const backend = new MemoryBackend()
  t.is(new Keyv(new KeyvStatekit(backend)).iterator, undefined)
  const keyv = createKeyv(backend, { namespace: 'n' })
  const other = createKeyv(backend, { namespace: 'm' })
  await keyv.set('b', { v: 2 })
  await keyv.set('a', { v: 1 })
  await other.set('a', 'other')
  const seen = []
  for await (const entry of keyv.iterator()) seen.push(entry)
  t.deepEqual(seen, [['a', { v: 1 }], ['b', { v: 2 }]])
  await backend.close()
})

test('keyv: disconnect() detaches the adapter; closeBackend also closes the backend', async (t) => {
  const shared = new MemoryBackend()
  const keyv = createKeyv(shared)
  await keyv.set('k', 'v')
  await keyv.disconnect()
  await t.throwsAsync(keyv.store.get('keyv:k'), { code: 'ERR_STATEKIT_CLOSED' })
  await t.throwsAsync(keyv.has('k'), { code: 'ERR_STATEKIT_CLOSED' })
  t.false(shared.closed)
  t.true(shared.hasSync('keyv:k'))
  const owned = new MemoryBackend()
  const keyv2 = createKeyv(new KeyvStatekit(owned, { closeBackend: true }))
  await keyv2.disconnect()
  await keyv2.disconnect()
  t.true(owned.closed)
  await shared.close()
})

test('keyv: a closed backend turns writes and gets into error events; has and getMany reject', async (t) => {
  const backend = new MemoryBackend()
  const keyv = createKeyv(backend)
  const errors = []
  keyv.on('error', (e) => errors.push(e))
  await backend.close()
  t.false(await keyv.set('k', 'v'))
  t.false(await keyv.delete('k'))
  await keyv.clear()
  t.is(await keyv.get('k'), undefined)
  t.deepEqual(errors.map((e) => e.code), ['ERR_STATEKIT_CLOSED', 'ERR_STATEKIT_CLOSED', 'ERR_STATEKIT_CLOSED', 'ERR_STATEKIT_CLOSED'])
  await t.throwsAsync(keyv.getMany(['k']), { code: 'ERR_STATEKIT_CLOSED' })
})

test('keyv: on the sled tier, entries and their TTLs survive a restart', async (t) => {
  const dir = path.join(tempDir(t), 'sled')
  let backend = await SledBackend.open({ path: dir })
  let keyv = createKeyv(backend, { namespace: 'c' })
  t.is(new KeyvStatekit(backend).opts.url, 'statekit://sled')
  await keyv.set('kept', { n: 1 })
  await keyv.set('expiring', 'x', 100)
  await backend.close()
  await sleep(150)
  backend = await SledBackend.open({ path: dir })
  keyv = createKeyv(backend, { namespace: 'c' })
  t.deepEqual(await keyv.get('kept'), { n: 1 })
  t.false(backend.hasSync('c:expiring'))
  await backend.close()
})
