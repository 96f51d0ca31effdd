// statekit/level beyond abstract-level's own suite (__test__/adapters/level.suite.cjs):
// bad input, exact range bounds at byte edges, close and reopen, the manifest, the
// directory lock, and a checkpoint of a level database.
import test from 'ava'
import path from 'node:path'
import { StatekitLevel } from '../dist/level.js'
import { tempDir } from './helpers/tmp.mjs'

const tiers = {
  memory: () => new StatekitLevel(),
  sled: (t) => new StatekitLevel({ location: path.join(tempDir(t), 'db') }),
}

const rawKeys = (db) => db.backend.listKeysSync().map((k) => k.toString('hex'))

for (const [tier, make] of Object.entries(tiers)) {
  test(`level (${tier}): gt, gte, lt and lte are exact at byte edges, forward and reverse`, async (t) => {
    const db = make(t)
    const keys = ['', 'a', 'a\x00', 'a\x00\x00', 'a\x01', 'b', '\xff']
    await db.batch(keys.map((key) => ({ type: 'put', key, value: JSON.stringify(key) })))
    const range = async (o) => (await db.keys(o).all())
    t.deepEqual(await range({}), keys)
    t.deepEqual(await range({ gt: 'a' }), ['a\x00', 'a\x00\x00', 'a\x01', 'b', '\xff'])
    t.deepEqual(await range({ gte: 'a' }), ['a', 'a\x00', 'a\x00\x00', 'a\x01', 'b', '\xff'])
    t.deepEqual(await range({ lte: 'a' }), ['', 'a'])
    t.deepEqual(await range({ lt: 'a\x00' }), ['', 'a'])
    t.deepEqual(await range({ gt: 'a\x00', lte: 'a\x01' }), ['a\x00\x00', 'a\x01'])
    t.deepEqual(await range({ gt: 'a', lt: 'b', reverse: true }), ['a\x01', 'a\x00\x00', 'a\x00'])
    t.deepEqual(await range({ gte: 'a', reverse: true, limit: 2 }), ['\xff', 'b'])
    t.deepEqual(await range({ lte: '' }), [''])
    t.deepEqual(await range({ gt: '' , limit: 1 }), ['a'])
    const bytes = await db.keys({ keyEncoding: 'buffer', gt: Buffer.from([0x61]), lt: Buffer.from([0x61, 0x01]) }).all()
    t.deepEqual(bytes, [Buffer.from([0x61, 0]), Buffer.from([0x61, 0, 0])])
    await db.close()
  })

  test(`level (${tier}): seek() stays inside the range`, async (t) => {
    const db = make(t)
    await db.batch(['a', 'b', 'c', 'd', 'e'].map((key) => ({ type: 'put', key, value: key })))
    const it = db.iterator({ gt: 'a', lt: 'e' })
    it.seek('c')
    t.deepEqual(await it.next(), ['c', 'c'])
    it.seek('0')
    t.deepEqual(await it.next(), ['b', 'b'])
    it.seek('z')
    t.is(await it.next(), undefined)
    await it.close()
    const rev = db.iterator({ reverse: true, lte: 'd' })
    rev.seek('bb')
    t.deepEqual(await rev.nextv(5), [['b', 'b'], ['a', 'a']])
    await rev.close()
    await db.close()
  })

  test(`level (${tier}): a bad range gets the encoding's error, an inverted one is empty, and nothing changes`, async (t) => {
    const db = make(t)
    await db.open()
    await db.batch(['a', 'b', 'c'].map((key) => ({ type: 'put', key, value: key })))
    const before = rawKeys(db)
    t.throws(() => db.iterator({ keyEncoding: 'json', gt: 1n }), { instanceOf: TypeError, message: /BigInt/ })
    await t.throwsAsync(db.clear({ keyEncoding: 'json', gt: 1n }), { instanceOf: TypeError })
    t.throws(() => db.iterator({ keyEncoding: 'no-such-encoding' }), { code: 'LEVEL_ENCODING_NOT_FOUND' })
    t.deepEqual(await db.keys({ gt: 'c', lt: 'a' }).all(), [])
    await db.clear({ gte: 'c', lt: 'a' })
    await db.clear({ limit: 0 })
    t.deepEqual(rawKeys(db), before)
    await db.clear({ gt: 'a', limit: 1 })
    t.deepEqual(await db.keys().all(), ['a', 'c'])
    await db.close()
  })

  test(`level (${tier}): an oversized key gets LEVEL_INVALID_KEY and a batch holding one writes nothing`, async (t) => {
    const db = make(t)
    await db.open()
    await db.put('kept', 'v')
    const before = rawKeys(db)
    const big = 'k'.repeat(65_536)
    const err = await t.throwsAsync(db.put(big, 'v'), { code: 'LEVEL_INVALID_KEY' })
    t.is(err.message, 'key is 65536 bytes; a level key is at most 65535')
    t.is(err.cause.code, 'ERR_STATEKIT_INVALID_ARG')
    await t.throwsAsync(db.batch([{ type: 'put', key: 'new', value: 'v' }, { type: 'put', key: big, value: 'v' }]), { code: 'LEVEL_INVALID_KEY' })
    await t.throwsAsync(db.batch([{ type: 'put', key: 'new', value: 'v' }, { type: 'del', key: big }]), { code: 'LEVEL_INVALID_KEY' })
    await t.throwsAsync(db.batch([{ type: 'del', key: 'kept' }, { type: 'put', key: null, value: 'v' }]), { code: 'LEVEL_INVALID_KEY' })
    t.deepEqual(rawKeys(db), before)
    await db.put('k'.repeat(65_535), 'fits')
    t.is(await db.get('k'.repeat(65_535)), 'fits')
    await db.close()
  })

  test(`level (${tier}): use after close gets abstract-level's errors`, async (t) => {
    const db = make(t)
    await db.put('a', '1')
    const it = db.iterator()
    await db.close()
    await t.throwsAsync(db.get('a'), { code: 'LEVEL_DATABASE_NOT_OPEN' })
    await t.throwsAsync(db.put('b', '2'), { code: 'LEVEL_DATABASE_NOT_OPEN' })
    await t.throwsAsync(db.batch([{ type: 'del', key: 'a' }]), { code: 'LEVEL_DATABASE_NOT_OPEN' })
    t.throws(() => db.getSync('a'), { code: 'LEVEL_DATABASE_NOT_OPEN' })
    await t.throwsAsync(it.next(), { code: 'LEVEL_ITERATOR_NOT_OPEN' })
    t.throws(() => db.iterator(), { code: 'LEVEL_DATABASE_NOT_OPEN' })
    // The memory tier keeps its backend (and data) for a later open(); sled releases its directory.
    t.is(db.backend === undefined, tier === 'sled')
  })

  test(`level (${tier}): close and open of the same instance keep the data`, async (t) => {
    const db = make(t)
    await db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '2' }])
    await db.close()
    await db.open()
    t.deepEqual(await db.iterator().all(), [['a', '1'], ['b', '2']])
    await db.close()
  })

  test(`level (${tier}): a batch applies in order, the last operation on a key winning`, async (t) => {
    const db = make(t)
    await db.put('x', 'old')
    await db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'del', key: 'a' },
      { type: 'del', key: 'b' },
      { type: 'put', key: 'b', value: '2' },
      { type: 'del', key: 'x' },
      { type: 'put', key: Buffer.from('c'), value: '3', keyEncoding: 'buffer' },
      { type: 'del', key: 'c' },
    ])
    t.deepEqual(await db.iterator().all(), [['b', '2']])
    await db.batch([{ type: 'put', key: 'b', value: '3' }, { type: 'put', key: 'b', value: '4' }])
    t.is(await db.get('b'), '4')
    await db.batch().put('d', '4').del('b').put('d', '5').write()
    t.deepEqual(await db.iterator().all(), [['d', '5']])
    await db.close()
  })

  test(`level (${tier}): TTLs: a default, per put, per batch operation and per batch, applied natively`, async (t) => {
    const location = tier === 'sled' ? { location: path.join(tempDir(t), 'db') } : {}
    const db = new StatekitLevel({ ...location, ttl: 1000 })
    await db.put('default', 'v')
    t.true(db.getSync('default') !== undefined)
    await db.put('never', 'v', { ttl: 0 })
    await db.put('own', 'v', { ttl: 60_000 })
    await db.batch([{ type: 'put', key: 'op-short', value: 'v', ttl: 1 }, { type: 'put', key: 'op-long', value: 'v', ttl: 60_000 }, { type: 'del', key: 'own' }])
    await db.batch([{ type: 'put', key: 'batch', value: 'v' }], { ttl: 1 })
    await db.batch().put('chained', 'v', { ttl: 1 }).put('chained-long', 'v', { ttl: 60_000 }).write()
    await db.sublevel('s').put('sub', 'v', { ttl: 1 })
    await new Promise((resolve) => setTimeout(resolve, 1100))
    t.deepEqual(await db.keys().all(), ['chained-long', 'never', 'op-long'])
    t.is(await db.get('default'), undefined)
    t.false(await db.has('batch'))
    t.is(db.getSync('chained'), undefined)
    await db.close()
  })

  test(`level (${tier}): a bad ttl is statekit's ERR_STATEKIT_INVALID_ARG, and nothing is written`, async (t) => {
    const db = make(t)
    await db.open()
    await t.throwsAsync(db.put('k', 'v', { ttl: -1 }), { code: 'ERR_STATEKIT_INVALID_ARG', message: /ttl/ })
    await t.throwsAsync(db.batch([{ type: 'put', key: 'a', value: 'v' }, { type: 'put', key: 'b', value: 'v', ttl: 'soon' }]), { code: 'ERR_STATEKIT_INVALID_ARG' })
    await t.throwsAsync(db.batch([{ type: 'put', key: 'a', value: 'v' }], { ttl: NaN }), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.deepEqual(rawKeys(db), [])
    await db.close()
  })

  test(`level (${tier}): getSync reads synchronously, has and hasMany, values in every encoding`, async (t) => {
    const db = make(t)
    await db.open()
    t.true(db.supports.getSync)
    await db.put('k', Buffer.from([0xde, 0xad]), { valueEncoding: 'buffer' })
    t.deepEqual(db.getSync('k', { valueEncoding: 'buffer' }), Buffer.from([0xde, 0xad]))
    const view = db.getSync('k', { valueEncoding: 'view' })
    t.true(view instanceof Uint8Array) // a Buffer, which abstract-level allows for 'view'
    t.deepEqual([...view], [0xde, 0xad])
    t.is(db.getSync('k', { valueEncoding: 'hex' }), 'dead')
    t.is(db.getSync('missing'), undefined)
    t.true(await db.has('k'))
    t.deepEqual(await db.hasMany(['k', 'missing']), [true, false])
    await db.put('j', { n: 1 }, { valueEncoding: 'json' })
    t.deepEqual(await db.getMany(['j', 'missing'], { valueEncoding: 'json' }), [{ n: 1 }, undefined])
    await db.close()
  })
}

test('level: the manifest claims permanence and open options for sled only, and no snapshots', async (t) => {
  const mem = new StatekitLevel()
  const disk = new StatekitLevel({ location: path.join(tempDir(t), 'db') })
  for (const db of [mem, disk]) {
    t.false(db.supports.implicitSnapshots)
    t.false(db.supports.explicitSnapshots)
    t.true(db.supports.seek)
    t.true(db.supports.has)
  }
  t.false(mem.supports.permanence)
  t.false(mem.supports.createIfMissing)
  t.true(disk.supports.permanence)
  t.true(disk.supports.createIfMissing)
  t.true(disk.supports.errorIfExists)
  await Promise.all([mem.close(), disk.close()])
})

test('level: a sled directory held by an open database fails to open with LEVEL_LOCKED as the cause', async (t) => {
  const location = path.join(tempDir(t), 'db')
  const a = new StatekitLevel({ location })
  await a.put('k', 'v')
  const b = new StatekitLevel({ location })
  const err = await t.throwsAsync(b.open(), { code: 'LEVEL_DATABASE_NOT_OPEN' })
  t.is(err.cause.code, 'LEVEL_LOCKED')
  t.is(await a.get('k'), 'v')
  await a.close()
  await b.open()
  t.is(await b.get('k'), 'v')
  await b.close()
})

test('level: bad constructor options are rejected', (t) => {
  t.throws(() => new StatekitLevel('./dir'), { code: 'ERR_STATEKIT_INVALID_ARG', message: /options must be an object/ })
  t.throws(() => new StatekitLevel({ location: '' }), { code: 'ERR_STATEKIT_INVALID_ARG', message: /location/ })
  t.throws(() => new StatekitLevel({ location: 7 }), { code: 'ERR_STATEKIT_INVALID_ARG', message: /location/ })
  t.throws(() => new StatekitLevel({ sled: { flushEveryMs: 10 } }), { code: 'ERR_STATEKIT_INVALID_ARG', message: /need a location/ })
  t.throws(() => new StatekitLevel({ ttl: -5 }), { code: 'ERR_STATEKIT_INVALID_ARG', message: /ttl/ })
})

test('level: a location that is a file fails the open with LEVEL_IO_ERROR as the cause', async (t) => {
  const { writeFileSync } = await import('node:fs')
  const location = path.join(tempDir(t), 'file')
  writeFileSync(location, 'not a directory')
  const err = await t.throwsAsync(new StatekitLevel({ location }).open(), { code: 'LEVEL_DATABASE_NOT_OPEN' })
  t.is(err.cause.code, 'LEVEL_IO_ERROR')
})

test('level: bad sled options fail the open with their cause, and nothing is created', async (t) => {
  const location = path.join(tempDir(t), 'db')
  const db = new StatekitLevel({ location, sled: { flushEveryMs: -5 } })
  const err = await t.throwsAsync(db.open(), { code: 'LEVEL_DATABASE_NOT_OPEN' })
  t.regex(err.cause.message, /flushEveryMs/)
  const { existsSync } = await import('node:fs')
  t.false(existsSync(location))
})

test('level: a statekit checkpoint of a level database restores into another', async (t) => {
  const dir = tempDir(t)
  const src = new StatekitLevel({ valueEncoding: 'json' })
  await src.batch([{ type: 'put', key: 'a', value: { n: 1 } }, { type: 'put', key: '', value: { n: 0 } }])
  await src.open()
  await src.backend.checkpoint(path.join(dir, 'level.skc'))
  const dst = new StatekitLevel({ location: path.join(dir, 'db'), valueEncoding: 'json' })
  await dst.open()
  await dst.backend.restore(path.join(dir, 'level.skc'))
  t.deepEqual(await dst.iterator().all(), [['', { n: 0 }], ['a', { n: 1 }]])
  await Promise.all([src.close(), dst.close()])
})

// statekit frees a backend only on close(); a level database nobody can reach any more
// closes its backend when it is garbage collected.
async function collect(done, probe = async () => {}) {
  const v8 = await import('node:v8')
  const vm = await import('node:vm')
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  for (let i = 0; i < 200 && !done(); i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 20))
    await probe()
  }
}

// Whether a backend was closed, seen through the public API: every call after close()
// fails with ERR_STATEKIT_CLOSED. (Reading `closed` while a close() is still running
// throws a napi borrow error, so the tests do not poll that getter.)
function isClosed(backend) {
  try {
    backend.hasSync('k')
    return false
  } catch (e) {
    return e.code === 'ERR_STATEKIT_CLOSED'
  }
}

test('level: a memory database, closed or not, frees its backend once garbage collected', async (t) => {
  const backends = []
  for (const close of [true, false]) {
    await (async () => {
      const db = new StatekitLevel()
      await db.put('k', Buffer.alloc(1 << 20))
      backends.push(db.backend)
      if (close) await db.close()
    })()
  }
  t.false(isClosed(backends[0]), 'close() keeps the data for a later open()')
  await collect(() => backends.every(isClosed))
  t.deepEqual(backends.map(isClosed), [true, true])
})

test('level: a sled database dropped without close() releases its directory once garbage collected', async (t) => {
  const location = path.join(tempDir(t), 'db')
  await (async () => {
    const db = new StatekitLevel({ location })
    await db.put('k', 'v')
  })()
  // Opening the directory again fails with LEVEL_LOCKED until the finalizer's close() ran.
  let again
  let opened = false
  await collect(() => opened, async () => {
    again = new StatekitLevel({ location })
    opened = await again.open().then(() => true, (e) => (t.is(e.cause?.code, 'LEVEL_LOCKED'), false))
  })
  t.true(opened)
  t.is(await again.get('k'), 'v')
  await again.close()
})
