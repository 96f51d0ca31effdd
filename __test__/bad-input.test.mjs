// Every bad input gets ERR_STATEKIT_INVALID_ARG (thrown by sync calls, rejected by
// async ones) and leaves the stored data exactly as it was.
import test from 'ava'
import path from 'node:path'
import { MemoryBackend, SledBackend, StateError } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'
import { snapshot } from './helpers/snapshot.mjs'

const INVALID = { instanceOf: StateError, code: 'ERR_STATEKIT_INVALID_ARG' }
const BAD_KEYS = [
  ['a number', 42],
  ['null', null],
  ['undefined', undefined],
  ['an object', { a: 1 }],
  ['an array', ['k']],
  ['a boolean', true],
  ['over the maximum size', Buffer.alloc(64 * 1024 + 1, 1)],
  ['empty', ''],
]
const BAD_VALUES = [
  ['a number', 1],
  ['null', null],
  ['undefined', undefined],
  ['an object', { v: 1 }],
]
const BAD_TTLS = [
  ['negative', -1],
  ['NaN', NaN],
  ['-Infinity', -Infinity],
  ['a string', '100'],
  ['null', null],
  ['an object', {}],
]

const TIERS = [
  ['memory', () => new MemoryBackend()],
  ['sled', (t) => SledBackend.open({ path: path.join(tempDir(t), 'db') })],
]

async function seeded(t, open) {
  const b = await open(t)
  await b.putMany([['a', '1'], ['b', '2'], ['user:1', '{"n":1}']])
  return { b, before: await snapshot(b) }
}

for (const [tier, open] of TIERS) {
  for (const [what, key] of BAD_KEYS) {
    test(`${tier}: a key that is ${what} is rejected by every method`, async (t) => {
      const { b, before } = await seeded(t, open)
      t.throws(() => b.getSync(key), INVALID)
      t.throws(() => b.putSync(key, 'v'), INVALID)
      t.throws(() => b.deleteSync(key), INVALID)
      t.throws(() => b.hasSync(key), INVALID)
      await t.throwsAsync(b.get(key), INVALID)
      await t.throwsAsync(b.put(key, 'v'), INVALID)
      await t.throwsAsync(b.delete(key), INVALID)
      await t.throwsAsync(b.has(key), INVALID)
      await t.throwsAsync(b.getMany(['a', key]), INVALID)
      await t.throwsAsync(b.putMany([['c', '3'], [key, 'v']]), INVALID)
      await t.throwsAsync(b.putMany([['c', '3'], { key, value: 'v' }]), INVALID)
      await t.throwsAsync(b.deleteMany(['a', key]), INVALID)
      t.deepEqual(await snapshot(b), before)
      t.is(b.stats().putCount, 3)
      t.is(b.stats().deleteCount, 0)
      await b.close()
    })
  }

  for (const [what, value] of BAD_VALUES) {
    test(`${tier}: a value that is ${what} is rejected`, async (t) => {
      const { b, before } = await seeded(t, open)
      t.throws(() => b.putSync('a', value), INVALID)
      await t.throwsAsync(b.put('a', value), INVALID)
      await t.throwsAsync(b.putMany([['c', '3'], ['a', value]]), INVALID)
      await t.throwsAsync(b.putMany([{ key: 'a', value }]), INVALID)
      t.deepEqual(await snapshot(b), before)
      await b.close()
    })
  }

  for (const [what, ttl] of BAD_TTLS) {
    test(`${tier}: a TTL that is ${what} is rejected`, async (t) => {
      const { b, before } = await seeded(t, open)
      t.throws(() => b.putSync('a', 'new', { ttl }), INVALID)
      await t.throwsAsync(b.put('a', 'new', { ttl }), INVALID)
      await t.throwsAsync(b.putMany([['c', '3'], { key: 'a', value: 'new', ttl }]), INVALID)
      t.throws(() => new MemoryBackend({ ttl }), INVALID)
      t.deepEqual(await snapshot(b), before)
      await b.close()
    })
  }

  test(`${tier}: options that are not objects are rejected`, async (t) => {
    const { b, before } = await seeded(t, open)
    t.throws(() => b.putSync('a', 'v', 5), INVALID)
    t.throws(() => new MemoryBackend(5), INVALID)
    t.throws(() => new MemoryBackend(null), INVALID)
    await t.throwsAsync(b.putMany('nope'), INVALID)
    await t.throwsAsync(b.putMany([42]), INVALID)
    await t.throwsAsync(b.putMany([['only-key']]), INVALID)
    await t.throwsAsync(b.getMany('a'), INVALID)
    await t.throwsAsync(b.deleteMany('a'), INVALID)
    t.deepEqual(await snapshot(b), before)
    await b.close()
  })

  test(`${tier}: bad range options are rejected`, async (t) => {
    const { b, before } = await seeded(t, open)
    const drain = async (opts) => {
      for await (const _ of b.entries(opts));
    }
    for (const opts of [{ limit: -1 }, { limit: 1.5 }, { limit: '3' }, { reverse: 'yes' }, { prefix: 5 }, { gte: null }, { lt: {} }, 7]) {
      await t.throwsAsync(drain(opts), INVALID, JSON.stringify(opts))
    }
    await t.throwsAsync(b.listKeys(42), INVALID)
    t.deepEqual(await snapshot(b), before)
    await b.close()
  })

  test(`${tier}: a bad cleanup interval is rejected`, async (t) => {
    const { b } = await seeded(t, open)
    for (const ms of [0, -5, NaN, Infinity, '10', undefined]) t.throws(() => b.startCleanupTask(ms), INVALID)
    await b.close()
  })

  test(`${tier}: a bad codec name or a malformed codec is rejected`, async (t) => {
    const { b, before } = await seeded(t, open)
    t.throws(() => b.namespace('user', { codec: 'yaml' }), INVALID)
    t.throws(() => b.namespace('user', { codec: { encode: () => Buffer.alloc(0) } }), INVALID)
    t.throws(() => b.namespace('user', { codec: 5 }), INVALID)
    t.throws(() => b.namespace('', {}), INVALID)
    t.throws(() => b.namespace(7), INVALID)
    t.deepEqual(await snapshot(b), before)
    await b.close()
  })

  test(`${tier}: a value the codec cannot encode is rejected and changes nothing`, async (t) => {
    const { b, before } = await seeded(t, open)
    const json = b.namespace('user', { codec: 'json' })
    const circular = {}
    circular.self = circular
    await t.throwsAsync(json.put('1', circular), INVALID)
    await t.throwsAsync(json.put('1', 10n), INVALID)
    await t.throwsAsync(json.put('1', undefined), INVALID)
    t.throws(() => json.putSync('1', () => 1), INVALID)
    await t.throwsAsync(json.putMany([['2', { ok: true }], ['1', circular]]), INVALID)
    const msgpack = b.namespace('user', { codec: 'msgpack' })
    await t.throwsAsync(msgpack.put('1', Symbol('s')), INVALID)
    await t.throwsAsync(msgpack.put('1', () => 1), INVALID)
    const string = b.namespace('user', { codec: 'string' })
    await t.throwsAsync(string.put('1', 5), INVALID)
    const binary = b.namespace('user', { codec: 'binary' })
    await t.throwsAsync(binary.put('1', 'text'), INVALID)
    const custom = b.namespace('user', {
      codec: {
        encode: () => {
          throw new Error('nope')
        },
        decode: (x) => x,
      },
    })
    await t.throwsAsync(custom.put('1', 1), INVALID)
    const wrongType = b.namespace('user', { codec: { encode: () => 'not bytes', decode: (x) => x } })
    await t.throwsAsync(wrongType.put('1', 1), INVALID)
    t.deepEqual(await snapshot(b), before)
    await b.close()
  })
}
