import test from 'ava'
import { MemoryBackend, TypedStore } from '../dist/index.js'

test('namespace keys live under prefix:key and are returned relative', async (t) => {
  const b = new MemoryBackend()
  const users = b.namespace('user')
  t.true(users instanceof TypedStore)
  t.is(users.prefix, 'user:')
  await users.put('1', { name: 'ann' })
  await b.put('other', 'x')
  t.deepEqual((await b.listKeys()).map(String), ['other', 'user:1'])
  t.deepEqual((await users.listKeys()).map(String), ['1'])
  t.deepEqual(JSON.parse((await b.get('user:1')).toString()), { name: 'ann' })
  await b.close()
})

const CASES = [
  ['json', { a: [1, 'two', null], nested: { ok: true } }],
  ['msgpack', { a: [1, 'two', null], bin: Buffer.from([1, 2]), date: new Date(0), n: 2 ** 40 }],
  ['string', 'héllo ✓'],
  ['binary', Buffer.from([0, 1, 255])],
]

for (const [codec, value] of CASES) {
  test(`codec ${codec} round-trips through every typed method`, async (t) => {
    const b = new MemoryBackend()
    const ns = b.namespace('n', { codec })
    await ns.put('k', value)
    t.deepEqual(await ns.get('k'), value)
    t.deepEqual(ns.getSync('k'), value)
    ns.putSync('k2', value, { ttl: 60_000 })
    t.true(ns.hasSync('k2'))
    t.true(await ns.has('k'))
    t.deepEqual(await ns.getMany(['k', 'missing', 'k2']), [value, undefined, value])
    await ns.putMany([['k3', value], { key: 'k4', value, ttl: 60_000 }])
    const seen = []
    for await (const [k, v] of ns.entries({ gte: 'k2', limit: 2 })) {
      seen.push(k.toString())
      t.deepEqual(v, value)
    }
    t.deepEqual(seen, ['k2', 'k3'])
    t.deepEqual(await ns.deleteMany(['k3', 'nope']), [true, false])
    t.true(ns.deleteSync('k4'))
    t.true(await ns.delete('k2'))
    t.is(await ns.get('k2'), undefined)
    await b.close()
  })
}

test('a custom codec is used for both directions', async (t) => {
  const b = new MemoryBackend()
  const calls = []
  const ns = b.namespace('c', {
    codec: {
      encode: (n) => {
        calls.push('encode')
        return Buffer.from(String(n * 2))
      },
      decode: (buf) => {
        calls.push('decode')
        return Number(buf.toString()) / 2
      },
    },
  })
  await ns.put('x', 21)
  t.is((await b.get('c:x')).toString(), '42')
  t.is(await ns.get('x'), 21)
  t.deepEqual(calls, ['encode', 'decode'])
  await b.close()
})

test('clear() of a namespace removes only its keys', async (t) => {
  const b = new MemoryBackend()
  const a = b.namespace('a')
  const ab = b.namespace('ab')
  await a.put('1', 1)
  await ab.put('1', 1)
  await b.put('a', 'bare')
  await a.clear()
  t.deepEqual((await b.listKeys()).map(String), ['a', 'ab:1'])
  await b.close()
})

test('namespace TTLs expire', async (t) => {
  const b = new MemoryBackend()
  const ns = b.namespace('t', { codec: 'string' })
  await ns.put('k', 'v', { ttl: 20 })
  await new Promise((r) => setTimeout(r, 50))
  t.is(await ns.get('k'), undefined)
  await b.close()
})

test('msgpack refuses, at any depth, what it cannot represent, and writes nothing', async (t) => {
  const b = new MemoryBackend()
  const ns = b.namespace('m', { codec: 'msgpack' })
  const refused = [
    { f() {}, a: 1 },
    { a: { b: [1, { g: () => 2 }] } },
    [Symbol('s')],
    { m: new Map([[1, 2]]) },
    { s: new Set([1]) },
    { e: new Error('x') },
  ]
  const circular = { a: 1 }
  circular.self = circular
  refused.push(circular)
  for (const value of refused) {
    const err = await t.throwsAsync(ns.put('k', value), { code: 'ERR_STATEKIT_INVALID_ARG' })
    t.regex(err.message, /msgpack cannot encode/)
    t.is(await ns.get('k'), undefined, 'nothing was written')
  }
  const fine = { a: 1, nested: { list: [1, 'two', null, true, Buffer.from([3])], when: new Date(0) } }
  await ns.put('k', fine)
  t.deepEqual(await ns.get('k'), fine)
  await b.close()
})

test('the msgpack codec works without msgpackr-extract, and the README says what it is', async (t) => {
  const { execFile } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const fs = await import('node:fs')
  const script = `
    const assert = require('node:assert')
    let loaded = true
    try { require('msgpackr-extract') } catch { loaded = false }
    const { MemoryBackend } = require(${JSON.stringify(fileURLToPath(new URL('../dist/index.js', import.meta.url)))})
    const ns = new MemoryBackend().namespace('m', { codec: 'msgpack' })
    const value = { name: 'ada'.repeat(40), list: ['x', 'y'.repeat(100), 3], nested: { s: 'z'.repeat(300) } }
    ns.put('k', value).then(() => ns.get('k')).then((back) => {
      assert.deepStrictEqual(back, value)
      process.stdout.write(JSON.stringify({ loaded }))
    })
  `
  const preload = fileURLToPath(new URL('./fixtures/no-msgpackr-extract.cjs', import.meta.url))
  const stdout = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['--require', preload, '-e', script], { timeout: 20_000 }, (err, out, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(out))),
  )
  t.deepEqual(JSON.parse(stdout), { loaded: false }, 'the codec round-trips with msgpackr-extract absent')
  const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const install = readme.slice(readme.indexOf('## Install'), readme.indexOf('## Use'))
  t.regex(install, /msgpackr-extract/)
  t.regex(install, /works without it/)
  t.regex(install, /Approving it/)
})
