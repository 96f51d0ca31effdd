import test from 'ava'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { Counter, Registry } from 'prom-client'
import { CheckpointCoordinator, MemoryBackend, SledBackend, StateError } from '../dist/index.js'
import { createControlServer, isLoopback, MAX_BODY_BYTES } from '../dist/control.js'
import { AUTH, TOKEN, call, parsePrometheus, postChunked, raw, start } from './helpers/control.mjs'
import { tempDir } from './helpers/tmp.mjs'

const pkg = createRequire(import.meta.url)('../package.json')
const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

// A promise and the function that settles it.
function gate() {
  let open
  const p = new Promise((r) => (open = r))
  return { p, open }
}

// A coordinator whose checkpoints (or restores) wait for a gate; `entered` resolves when one is waiting.
function gatedCoordinator(which) {
  const g = gate()
  const entered = gate()
  class Gated extends CheckpointCoordinator {
    async createCheckpoint(metadata, opts) {
      if (which === 'checkpoint') {
        entered.open()
        await g.p
      }
      return super.createCheckpoint(metadata, opts)
    }
    async restoreLatest() {
      if (which === 'restore') {
        entered.open()
        await g.p
      }
      return super.restoreLatest()
    }
  }
  return { make: (b, dir) => new Gated(b, { dir, interval: 60_000 }), open: g.open, entered: entered.p }
}

test('GET /livez and /readyz answer without a token', async (t) => {
  const { url } = await start(t)
  const live = await call(`${url}/livez`, { headers: {} })
  t.is(live.status, 200)
  t.deepEqual(live.body, { live: true })
  const ready = await call(`${url}/readyz`, { headers: {} })
  t.is(ready.status, 200)
  t.deepEqual(ready.body, { ready: true })
  t.is(ready.headers.get('content-type'), 'application/json; charset=utf-8')
  t.is(ready.headers.get('cache-control'), 'no-store')
})

test('GET / reports tier, entries, bytes, coordinator stats, the last checkpoint, lease, version and uptime', async (t) => {
  const { url, backend, coordinator } = await start(t)
  backend.putManySync([['a', '1'], ['b', '22']])
  let s = await call(`${url}/`)
  t.is(s.status, 200)
  t.like(s.body, { version: pkg.version, pid: process.pid, tier: 'memory', closed: false, entries: 2, diskBytes: null, lastCheckpoint: null, lease: null, restoring: false, checkpointBytes: 0 })
  t.is(s.body.memoryBytes, backend.stats().memoryBytes)
  t.deepEqual(s.body.backend, backend.stats())
  t.deepEqual(s.body.coordinator, coordinator.stats())
  t.true(s.body.uptime.process > 0 && s.body.uptime.server >= 0)
  const cp = await call(`${url}/checkpoint`, { method: 'POST' })
  t.is(cp.status, 201)
  s = await call(`${url}/`)
  t.like(s.body.lastCheckpoint, { id: cp.body.id, kind: 'full', entries: 2, bytes: cp.body.bytes })
  t.is(s.body.checkpointBytes, cp.body.bytes)
  t.is(s.body.coordinator.checkpointsCreated, 1)
})

test('GET / on the sled tier reports its disk bytes', async (t) => {
  const backend = await SledBackend.open({ path: path.join(tempDir(t), 'db') })
  const { url } = await start(t, { backend })
  await backend.put('k', 'v')
  await backend.flush()
  const s = await call(`${url}/`)
  t.is(s.body.tier, 'sled')
  t.true(s.body.diskBytes > 0)
  t.is(s.body.entries, 1)
})

test('401 for no token, a wrong token, a wrong scheme and an empty token, each counted in a metric', async (t) => {
  const { url, server } = await start(t)
  const cases = [
    [{}, 'missing', 'Bearer realm="statekit"'],
    [{ authorization: 'Bearer wrong-token-0123456789abcdef' }, 'invalid', 'Bearer realm="statekit", error="invalid_token"'],
    [{ authorization: `Bearer ${TOKEN}x` }, 'invalid', 'Bearer realm="statekit", error="invalid_token"'],
    [{ authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` }, 'scheme', 'Bearer realm="statekit"'],
    [{ authorization: TOKEN }, 'scheme', 'Bearer realm="statekit"'],
    [{ authorization: 'Bearer ' }, 'empty', 'Bearer realm="statekit"'],
    [{ authorization: 'Bearer' }, 'empty', 'Bearer realm="statekit"'],
  ]
  for (const [headers, reason, challenge] of cases) {
    for (const [method, p] of [['GET', '/'], ['POST', '/checkpoint'], ['GET', '/metrics'], ['GET', '/config'], ['GET', '/no-such-endpoint']]) {
      const r = await call(`${url}${p}`, { method, headers })
      t.is(r.status, 401, `${reason} ${method} ${p}`)
      t.is(r.headers.get('www-authenticate'), challenge)
      t.is(r.body.error.code, 'ERR_CONTROL_UNAUTHORIZED')
      t.false(r.text.includes(TOKEN))
    }
  }
  t.deepEqual(server.stats().authFailures, { missing: 5, invalid: 10, scheme: 10, empty: 10 })
  // The scheme is case-insensitive; the right token passes.
  t.is((await call(`${url}/`, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200)
  const m = await call(`${url}/metrics`)
  const { samples } = parsePrometheus(m.text)
  t.is(samples['statekit_control_auth_failures_total{reason="missing"}'], 5)
  t.is(samples['statekit_control_auth_failures_total{reason="invalid"}'], 10)
  t.is(samples['statekit_control_auth_failures_total{reason="scheme"}'], 10)
  t.is(samples['statekit_control_auth_failures_total{reason="empty"}'], 10)
  t.is(samples['statekit_control_requests_total{endpoint="status",status="401"}'], 7)
  t.false(m.text.includes(TOKEN))
})

test('404 for an unknown path, 405 with Allow for a wrong method, HEAD on GET endpoints', async (t) => {
  const { url } = await start(t)
  for (const p of ['/nope', '/checkpoints/1', '/livez/', '//']) {
    const r = await call(`${url}${p}`)
    t.is(r.status, 404, p)
    t.is(r.body.error.code, 'ERR_CONTROL_NOT_FOUND')
  }
  const cases = [
    ['POST', '/', 'GET, HEAD'],
    ['DELETE', '/checkpoints', 'GET, HEAD'],
    ['GET', '/checkpoint', 'POST'],
    ['PUT', '/restore', 'POST'],
    ['GET', '/release-lease', 'POST'],
    ['POST', '/livez', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
  ]
  for (const [method, p, allow] of cases) {
    const r = await call(`${url}${p}`, { method })
    t.is(r.status, 405, `${method} ${p}`)
    t.is(r.headers.get('allow'), allow)
    t.is(r.body.error.code, 'ERR_CONTROL_METHOD_NOT_ALLOWED')
  }
  // /livez and /readyz answer 405 without auth too.
  t.is((await call(`${url}/readyz`, { method: 'POST', headers: {} })).status, 405)
  const head = await fetch(`${url}/`, { method: 'HEAD', headers: AUTH })
  t.is(head.status, 200)
  t.is(await head.text(), '')
})

test('400 for a body that is not JSON or not an object, or has unknown or bad fields', async (t) => {
  const { url } = await start(t)
  for (const body of ['{bad', 'null', '[1,2]', '"text"', '42']) {
    const r = await call(`${url}/checkpoint`, { method: 'POST', body })
    t.is(r.status, 400, body)
    t.is(r.body.error.code, 'ERR_CONTROL_INVALID_JSON')
  }
  const bad = [
    ['/checkpoint', { metadata: 'x' }],
    ['/checkpoint', { metadata: [1] }],
    ['/checkpoint', { other: 1 }],
    ['/restore', { id: 'abc' }],
    ['/restore', { id: -1 }],
    ['/restore', { id: 1.5 }],
    ['/restore', { id: 1, force: true }],
  ]
  for (const [p, body] of bad) {
    const r = await call(`${url}${p}`, { method: 'POST', body })
    t.is(r.status, 400, JSON.stringify(body))
    t.is(r.body.error.code, 'ERR_STATEKIT_INVALID_ARG')
  }
  // An empty body is no body.
  t.is((await call(`${url}/checkpoint`, { method: 'POST', body: '' })).status, 201)
})

test('413 for a body over 64 KiB, declared or chunked', async (t) => {
  const { url, coordinator } = await start(t)
  const big = JSON.stringify({ metadata: { pad: 'x'.repeat(MAX_BODY_BYTES) } })
  const r = await call(`${url}/checkpoint`, { method: 'POST', body: big })
  t.is(r.status, 413)
  t.is(r.body.error.code, 'ERR_CONTROL_BODY_TOO_LARGE')
  const chunked = await postChunked(`${url}/checkpoint`, 1 << 20)
  t.is(chunked.status, 413)
  t.is(chunked.body.error.code, 'ERR_CONTROL_BODY_TOO_LARGE')
  t.is(chunked.connection, 'close')
  // Just under the limit is read.
  const fits = JSON.stringify({ metadata: { pad: 'x'.repeat(MAX_BODY_BYTES - 100) } })
  t.is((await call(`${url}/checkpoint`, { method: 'POST', body: fits })).status, 201)
  t.is(coordinator.stats().checkpointsCreated, 1)
})

// Serial, so no other test of this file blocks the event loop while the short timeouts run.
test.serial('a request whose body never arrives, whose headers never end, or that never comes gets 408', async (t) => {
  const { url } = await start(t, { requestTimeout: 500 })
  const started = Date.now()
  const body = await raw(url, [`POST /checkpoint HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100\r\n\r\n{"meta`], { waitMs: 15_000 })
  t.regex(body, /^HTTP\/1\.1 408 /)
  t.regex(body, /"code":"ERR_CONTROL_TIMEOUT"/)
  const headers = await raw(url, ['GET / HTTP/1.1\r\n', 'Host: x\r\n'], { waitMs: 15_000 })
  t.regex(headers, /^HTTP\/1\.1 408 /)
  t.regex(headers, /"code":"ERR_CONTROL_TIMEOUT"/)
  const silent = await raw(url, [], { waitMs: 15_000 })
  t.regex(silent, /^HTTP\/1\.1 408 [^]*"code":"ERR_CONTROL_TIMEOUT"/, 'a connection that never sends a request')
  t.true(Date.now() - started < 15_000)
})

test('a malformed request gets 400 with the error body; the absolute form is served', async (t) => {
  const { url } = await start(t)
  const absolute = await raw(url, [`GET http://x/livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`])
  t.regex(absolute, /^HTTP\/1\.1 200 /)
  const star = await raw(url, [`OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`])
  t.regex(star, /^HTTP\/1\.1 400 [^]*"code":"ERR_CONTROL_BAD_REQUEST"/)
  const garbage = await raw(url, ['NOT HTTP AT ALL\r\n\r\n'])
  t.regex(garbage, /^HTTP\/1\.1 400 /)
  t.regex(garbage, /"code":"ERR_CONTROL_BAD_REQUEST"/)
  const huge = await raw(url, [`GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`])
  t.regex(huge, /^HTTP\/1\.1 431 [^]*"code":"ERR_CONTROL_BAD_REQUEST"/)
})

test('a port already taken is ERR_STATEKIT_IO, and nothing stays registered', async (t) => {
  const registry = new Registry()
  const { server, backend } = await start(t)
  const err = await t.throwsAsync(createControlServer({ backend, port: server.address().port, registry, env: {} }), { instanceOf: StateError })
  t.is(err.code, 'ERR_STATEKIT_IO')
  t.regex(err.message, /EADDRINUSE/)
  t.is(await registry.metrics(), '\n')
})

test('refuses to start on a non-loopback address without a token', async (t) => {
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.internal']) {
    const err = await t.throwsAsync(createControlServer({ backend: b, host, env: {} }), { instanceOf: StateError })
    t.is(err.code, 'ERR_STATEKIT_INVALID_ARG', host)
    t.regex(err.message, /needs a token/)
  }
  t.true(isLoopback('127.0.0.1') && isLoopback('127.8.0.1') && isLoopback('::1') && isLoopback('localhost') && isLoopback('::ffff:127.0.0.1'))
  t.false(isLoopback('0.0.0.0') || isLoopback('::') || isLoopback('10.0.0.1') || isLoopback('::ffff:10.0.0.1'))
  // With a token it starts there.
  const s = await createControlServer({ backend: b, host: '0.0.0.0', token: TOKEN, env: {} })
  t.is(s.address().address, '0.0.0.0')
  await s.close()
  // On loopback without a token every endpoint is open.
  const open = await createControlServer({ backend: b, env: {} })
  t.is((await call(`${open.url}/`, { headers: {} })).status, 200)
  await open.close()
})

test('the token comes from the option, STATEKIT_CONTROL_TOKEN or STATEKIT_CONTROL_TOKEN_FILE, and never shows in errors', async (t) => {
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const fromEnv = await createControlServer({ backend: b, env: { STATEKIT_CONTROL_TOKEN: TOKEN } })
  t.is((await call(`${fromEnv.url}/`)).status, 200)
  t.is((await call(`${fromEnv.url}/`, { headers: {} })).status, 401)
  t.is((await call(`${fromEnv.url}/config`)).body.control.auth.source, 'env')
  await fromEnv.close()
  const file = path.join(tempDir(t), 'token')
  fs.writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 })
  const fromFile = await createControlServer({ backend: b, env: { STATEKIT_CONTROL_TOKEN_FILE: file } })
  t.is((await call(`${fromFile.url}/`)).status, 200)
  t.is((await call(`${fromFile.url}/config`)).body.control.auth.source, 'file')
  await fromFile.close()
  // The option wins over the environment.
  const both = await createControlServer({ backend: b, token: TOKEN, env: { STATEKIT_CONTROL_TOKEN: 'another-token-0123456789' } })
  t.is((await call(`${both.url}/`)).status, 200)
  await both.close()
  const missing = await t.throwsAsync(createControlServer({ backend: b, env: { STATEKIT_CONTROL_TOKEN_FILE: path.join(file, 'nope') } }), { instanceOf: StateError })
  t.is(missing.code, 'ERR_STATEKIT_IO')
  const short = 'short-secret'
  for (const token of [short, `${TOKEN} with spaces`, '']) {
    const err = await t.throwsAsync(createControlServer({ backend: b, token, env: {} }), { instanceOf: StateError })
    t.is(err.code, 'ERR_STATEKIT_INVALID_ARG')
    if (token) t.false(err.message.includes(token))
  }
  const envShort = await t.throwsAsync(createControlServer({ backend: b, env: { STATEKIT_CONTROL_TOKEN: short } }), { instanceOf: StateError })
  t.false(envShort.message.includes(short))
})

test('bad options are rejected with ERR_STATEKIT_INVALID_ARG', async (t) => {
  const b = new MemoryBackend()
  t.teardown(() => b.close())
  const bad = [
    undefined,
    {},
    { backend: {} },
    { backend: b, coordinator: {} },
    { backend: b, port: -1 },
    { backend: b, port: 70000 },
    { backend: b, port: '80' },
    { backend: b, host: '' },
    { backend: b, basePath: 'admin' },
    { backend: b, basePath: '/admin/' },
    { backend: b, requestTimeout: 0 },
    { backend: b, shutdownTimeout: -1 },
    { backend: b, metricsPrefix: '1bad' },
    { backend: b, registry: {} },
    { backend: b, config: [] },
    { backend: b, onRequest: 'log' },
    { backend: b, token: 42 },
  ]
  for (const o of bad) {
    const err = await t.throwsAsync(createControlServer(o), { instanceOf: StateError }, JSON.stringify(o))
    t.is(err.code, 'ERR_STATEKIT_INVALID_ARG')
  }
})

test('POST /checkpoint takes one (201) with metadata; GET /checkpoints lists them newest first', async (t) => {
  const { url, backend, dir } = await start(t)
  backend.putSync('k', 'v')
  const a = await call(`${url}/checkpoint`, { method: 'POST', body: { metadata: { offset: 7 } } })
  t.is(a.status, 201)
  t.like(a.body, { kind: 'full', entries: 1, metadata: { offset: 7 } })
  t.true(fs.existsSync(a.body.path))
  t.is(path.dirname(a.body.path), dir)
  const b = await call(`${url}/checkpoint`, { method: 'POST' })
  t.is(b.status, 201)
  const list = await call(`${url}/checkpoints`)
  t.is(list.status, 200)
  t.deepEqual(list.body.checkpoints.map((c) => c.id), [b.body.id, a.body.id])
  t.deepEqual(list.body.checkpoints[1].metadata, { offset: 7 })
})

test('overlapping POST /checkpoint calls share one checkpoint', async (t) => {
  const g = gatedCoordinator('checkpoint')
  const { url, coordinator } = await start(t, { coordinator: g.make })
  const first = call(`${url}/checkpoint`, { method: 'POST' })
  await g.entered
  const rest = Array.from({ length: 4 }, () => call(`${url}/checkpoint`, { method: 'POST' }))
  await sleep(50)
  g.open()
  const all = await Promise.all([first, ...rest])
  t.deepEqual(all.map((r) => r.status), [201, 201, 201, 201, 201])
  t.is(new Set(all.map((r) => r.body.id)).size, 1)
  t.is(coordinator.stats().checkpointsCreated, 1)
})

test('POST /restore brings back the data of the latest checkpoint, or of the one named by id', async (t) => {
  const { url, backend } = await start(t)
  backend.putManySync([['a', '1'], ['b', '1']])
  const first = await call(`${url}/checkpoint`, { method: 'POST', body: { metadata: { offset: 1 } } })
  backend.putSync('a', '2')
  backend.deleteSync('b')
  backend.putSync('c', '2')
  const second = await call(`${url}/checkpoint`, { method: 'POST', body: { metadata: { offset: 2 } } })
  backend.putSync('a', '3')
  backend.putSync('d', '3')
  const latest = await call(`${url}/restore`, { method: 'POST' })
  t.is(latest.status, 200)
  t.like(latest.body, { restored: true, checkpoint: { id: second.body.id, metadata: { offset: 2 } }, info: { entries: 2 }, skipped: [] })
  t.deepEqual((await backend.listKeys()).map(String), ['a', 'c'])
  t.is(backend.getSync('a').toString(), '2')
  const byId = await call(`${url}/restore`, { method: 'POST', body: { id: first.body.id } })
  t.is(byId.status, 200)
  t.like(byId.body, { restored: true, checkpoint: { id: first.body.id, metadata: { offset: 1 } } })
  t.deepEqual((await backend.listKeys()).map(String), ['a', 'b'])
  t.is(backend.getSync('a').toString(), '1')
  const unknown = await call(`${url}/restore`, { method: 'POST', body: { id: 12345 } })
  t.is(unknown.status, 404)
  t.is(unknown.body.error.code, 'ERR_CONTROL_NOT_FOUND')
})

test('POST /restore with no checkpoint is a 409 and changes nothing', async (t) => {
  const { url, backend } = await start(t)
  backend.putSync('keep', 'me')
  const r = await call(`${url}/restore`, { method: 'POST' })
  t.is(r.status, 409)
  t.is(r.body.error.code, 'ERR_CONTROL_NO_CHECKPOINT')
  t.is(backend.getSync('keep').toString(), 'me')
})

test('while a restore runs: another restore and a checkpoint get 409, /readyz is 503', async (t) => {
  const g = gatedCoordinator('restore')
  const { url, backend } = await start(t, { coordinator: g.make })
  backend.putSync('k', 'v1')
  t.is((await call(`${url}/checkpoint`, { method: 'POST' })).status, 201)
  backend.putSync('k', 'v2')
  const restoring = call(`${url}/restore`, { method: 'POST' })
  await g.entered
  const again = await call(`${url}/restore`, { method: 'POST' })
  t.is(again.status, 409)
  t.is(again.body.error.code, 'ERR_STATEKIT_BUSY')
  const cp = await call(`${url}/checkpoint`, { method: 'POST' })
  t.is(cp.status, 409)
  t.is(cp.body.error.code, 'ERR_STATEKIT_BUSY')
  const ready = await call(`${url}/readyz`, { headers: {} })
  t.is(ready.status, 503)
  t.is(ready.body.error.code, 'ERR_CONTROL_NOT_READY')
  t.regex(ready.body.error.message, /restore is running/)
  t.true((await call(`${url}/`)).body.restoring)
  g.open()
  t.is((await restoring).status, 200)
  t.is(backend.getSync('k').toString(), 'v1')
  t.is((await call(`${url}/readyz`, { headers: {} })).status, 200)
})

test('a restore waits for a checkpoint in flight instead of failing (sled, where they exclude each other)', async (t) => {
  const backend = await SledBackend.open({ path: path.join(tempDir(t), 'db'), flushEveryMs: null })
  const { url, coordinator } = await start(t, { backend })
  // In batches, so this test does not block the event loop the other tests share.
  for (let i = 0; i < 100_000; i += 5_000) {
    await backend.putMany(Array.from({ length: 5_000 }, (_, j) => [`key:${i + j}`, `value:${i + j}`]))
    await new Promise((r) => setImmediate(r))
  }
  t.is((await call(`${url}/checkpoint`, { method: 'POST' })).status, 201)
  backend.putSync('key:0', 'changed')
  // The sled tier runs one checkpoint or restore at a time: a direct restore now is refused...
  const file = path.join(coordinator.dir, (await coordinator.list())[0].file)
  const cp = backend.checkpoint(path.join(tempDir(t), 'aside.skc'))
  await t.throwsAsync(backend.restore(file), { code: 'ERR_STATEKIT_BUSY' })
  // ...while POST /restore waits for the checkpoint and then restores.
  const r = await call(`${url}/restore`, { method: 'POST' })
  await cp
  t.is(r.status, 200)
  t.is(backend.stats().entryCount, 100_000)
  t.is(coordinator.stats().checkpointFailures, 0)
})

test('GET /metrics is Prometheus text of a registry the server builds', async (t) => {
  const { url, backend, coordinator } = await start(t)
  backend.putManySync([['a', '1'], ['b', '2']])
  backend.getSync('a')
  await call(`${url}/checkpoint`, { method: 'POST' })
  const r = await call(`${url}/metrics`)
  t.is(r.status, 200)
  t.regex(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const { samples, types } = parsePrometheus(r.text)
  t.is(samples.statekit_entries, 2)
  t.is(samples['statekit_operations_total{op="get",result="hit"}'], 1)
  t.is(samples['statekit_checkpoints_total{result="success"}'], coordinator.stats().checkpointsCreated)
  t.is(samples.statekit_checkpoint_duration_seconds_count, 1)
  t.is(types.statekit_checkpoint_duration_seconds, 'histogram')
  t.is(types.statekit_control_requests_total, 'counter')
  t.is(samples['statekit_control_requests_total{endpoint="checkpoint",status="201"}'], 1)
  t.false(r.text.includes(TOKEN))
})

test('GET /metrics serves the registry passed in, with the control counters added and removed on close', async (t) => {
  const registry = new Registry()
  new Counter({ name: 'app_jobs_total', help: 'Jobs.', registers: [registry] }).inc(3)
  const { url, server, backend } = await start(t, { registry })
  const r = await call(`${url}/metrics`)
  const { samples } = parsePrometheus(r.text)
  t.is(samples.app_jobs_total, 3)
  t.false('statekit_entries' in samples, 'only what was registered on it, plus the control counters')
  t.true('statekit_control_auth_failures_total{reason="missing"}' in samples)
  // A second server on the same registry needs its own prefix.
  const clash = await t.throwsAsync(createControlServer({ backend, registry, token: TOKEN, env: {} }), { instanceOf: StateError })
  t.is(clash.code, 'ERR_STATEKIT_INVALID_ARG')
  const other = await createControlServer({ backend, registry, token: TOKEN, env: {}, metricsPrefix: 'second_' })
  t.true((await registry.metrics()).includes('second_control_requests_total'))
  await other.close()
  t.false((await registry.metrics()).includes('second_control_requests_total'))
  await server.close()
  t.false((await registry.metrics()).includes('statekit_control_'))
  t.true((await registry.metrics()).includes('app_jobs_total'))
})

test('GET /config shows the effective options with secrets redacted', async (t) => {
  class WithStorage extends CheckpointCoordinator {
    get storage() {
      return { bucket: 'state', prefix: 'p/0', region: 'eu-1', endpoint: 'http://minio:9000', credentials: { accessKeyId: 'AKIA123', secretAccessKey: 'SECRET-S3' }, client: new (class S3Client { constructor() { this.config = { secret: 'SECRET-CLIENT' } } })() }
    }
  }
  const { url, dir } = await start(t, {
    coordinator: (b, d) => new WithStorage(b, { dir: d, interval: 60_000 }),
    basePath: '/admin',
    config: { service: 'api', db: { password: 'SECRET-PW', host: 'db' }, apiKey: 'SECRET-KEY', webhook_token: 'SECRET-TOK', echo: TOKEN, list: [{ secret_key: 'SECRET-LIST' }] },
  })
  const r = await call(`${url}/config`)
  t.is(r.status, 200)
  t.deepEqual(r.body.backend, { tier: 'memory', closed: false })
  t.is(r.body.coordinator.dir, dir)
  t.like(r.body.coordinator.storage, { bucket: 'state', prefix: 'p/0', region: 'eu-1', endpoint: 'http://minio:9000', credentials: '[redacted]', client: '[S3Client]' })
  t.like(r.body.control, { host: '127.0.0.1', basePath: '/admin', auth: { required: true, scheme: 'Bearer', source: 'option' }, maxBodyBytes: MAX_BODY_BYTES, metrics: 'built' })
  t.is(r.body.control.url, url)
  t.deepEqual(r.body.app, { service: 'api', db: { password: '[redacted]', host: 'db' }, apiKey: '[redacted]', webhook_token: '[redacted]', echo: '[redacted]', list: [{ secret_key: '[redacted]' }] })
  t.false(r.text.includes(TOKEN))
  t.notRegex(r.text, /SECRET|AKIA/)
})

test('basePath prefixes every endpoint', async (t) => {
  const { url } = await start(t, { basePath: '/ops/statekit' })
  t.true(url.endsWith('/ops/statekit'))
  t.is((await call(`${url}/livez`, { headers: {} })).status, 200)
  t.is((await call(url)).status, 200)
  t.is((await call(`${url}/`)).status, 200)
  const origin = new URL(url).origin
  t.is((await call(`${origin}/livez`, { headers: {} })).status, 401, 'outside the base path nothing is open')
  t.is((await call(`${origin}/livez`)).status, 404)
})

test('without a coordinator: checkpoint endpoints answer 501, release-lease 409', async (t) => {
  const { url } = await start(t, { coordinator: null })
  for (const [method, p] of [['GET', '/checkpoints'], ['POST', '/checkpoint'], ['POST', '/restore']]) {
    const r = await call(`${url}${p}`, { method })
    t.is(r.status, 501, p)
    t.is(r.body.error.code, 'ERR_CONTROL_NO_COORDINATOR')
  }
  const lease = await call(`${url}/release-lease`, { method: 'POST' })
  t.is(lease.status, 409)
  t.is(lease.body.error.code, 'ERR_CONTROL_NO_LEASE')
  const s = await call(`${url}/`)
  t.like(s.body, { coordinator: null, lastCheckpoint: null, checkpointBytes: null, lease: null })
  t.is((await call(`${url}/config`)).body.coordinator, null)
})

test('POST /release-lease is 409 when the coordinator never took a lease; /readyz ignores leases then', async (t) => {
  const { url } = await start(t)
  const r = await call(`${url}/release-lease`, { method: 'POST' })
  t.is(r.status, 409)
  t.deepEqual(r.body, { error: { code: 'ERR_CONTROL_NO_LEASE', message: 'no lease is held' } })
  t.is((await call(`${url}/readyz`, { headers: {} })).status, 200)
  t.is((await call(`${url}/`)).body.lease, null)
})

test('with a coordinator that has the lease contract: status shows it, release-lease gives it up, readyz follows', async (t) => {
  // The contract of issue 14 (lease getter, releaseLease() resolving false when none is held).
  class Leasing extends CheckpointCoordinator {
    #lease = { owner: 'instance-a', expiresAt: Date.now() + 60_000, held: true }
    get lease() {
      return this.#lease
    }
    async releaseLease() {
      if (!this.#lease?.held) return false
      this.#lease = undefined
      return true
    }
  }
  const { url, coordinator } = await start(t, { coordinator: (b, dir) => new Leasing(b, { dir, interval: 60_000 }) })
  t.is((await call(`${url}/readyz`, { headers: {} })).status, 200)
  t.deepEqual((await call(`${url}/`)).body.lease, coordinator.lease)
  const r = await call(`${url}/release-lease`, { method: 'POST' })
  t.is(r.status, 200)
  t.deepEqual(r.body, { released: true, owner: 'instance-a' })
  const ready = await call(`${url}/readyz`, { headers: {} })
  t.is(ready.status, 503)
  t.regex(ready.body.error.message, /lease is not held/)
  const again = await call(`${url}/release-lease`, { method: 'POST' })
  t.is(again.status, 409)
  t.deepEqual(again.body.error, { code: 'ERR_CONTROL_NO_LEASE', message: 'no lease is held' })
})

test('with a real lease (issue 14): status shows it, release-lease gives it up and another owner can take it, readyz follows', async (t) => {
  const { url, coordinator, dir } = await start(t)
  const lease = await coordinator.acquireLease({ owner: 'instance-a', ttl: 60_000 })
  t.is((await call(`${url}/readyz`, { headers: {} })).status, 200)
  const s = (await call(`${url}/`)).body
  t.deepEqual(s.lease, { owner: 'instance-a', expiresAt: lease.expiresAt, held: true })
  const other = new CheckpointCoordinator(new MemoryBackend(), { dir, interval: 60_000 })
  await t.throwsAsync(other.acquireLease({ owner: 'instance-b', ttl: 60_000 }), { code: 'ERR_STATEKIT_LEASE_HELD' })
  const r = await call(`${url}/release-lease`, { method: 'POST' })
  t.is(r.status, 200)
  t.deepEqual(r.body, { released: true, owner: 'instance-a' })
  t.like((await call(`${url}/`)).body.lease, { owner: 'instance-a', held: false })
  const ready = await call(`${url}/readyz`, { headers: {} })
  t.is(ready.status, 503)
  t.regex(ready.body.error.message, /lease is not held/)
  t.is((await call(`${url}/release-lease`, { method: 'POST' })).status, 409)
  const taken = await other.acquireLease({ owner: 'instance-b', ttl: 60_000 })
  t.is(taken.owner, 'instance-b')
  await taken.release()
})

test('a closed backend: /readyz is 503 and / says closed', async (t) => {
  const { url, backend } = await start(t)
  await backend.close()
  const ready = await call(`${url}/readyz`, { headers: {} })
  t.is(ready.status, 503)
  t.regex(ready.body.error.message, /store is closed/)
  const s = await call(`${url}/`)
  t.is(s.status, 200)
  t.like(s.body, { closed: true, entries: null, backend: null })
  const cp = await call(`${url}/checkpoint`, { method: 'POST' })
  t.is(cp.status, 503)
  t.is(cp.body.error.code, 'ERR_STATEKIT_CLOSED')
})

test('close() with a request in flight: stops accepting, lets it finish, leaves the backend open', async (t) => {
  const g = gatedCoordinator('checkpoint')
  // A long shutdownTimeout: on a loaded machine the checkpoint may take seconds.
  const { url, server, backend } = await start(t, { coordinator: g.make, shutdownTimeout: 120_000 })
  backend.putSync('k', 'v')
  // An idle keep-alive connection, which close() must not wait for.
  t.is((await call(`${url}/livez`)).status, 200)
  const inflight = call(`${url}/checkpoint`, { method: 'POST' })
  await g.entered
  let closed = false
  const closing = server.close().then(() => (closed = true))
  await sleep(100)
  t.false(closed, 'close() waits for the request in flight')
  await t.throwsAsync(fetch(`${url}/livez`), undefined, 'no new connections')
  g.open()
  const r = await inflight
  t.is(r.status, 201)
  t.is(r.headers.get('connection'), 'close')
  await closing
  t.true(closed)
  t.is(backend.getSync('k').toString(), 'v', 'the backend stays open')
  t.false(backend.closed)
  await server.close() // idempotent
})

test('several servers run in one process, each on its own store', async (t) => {
  const one = await start(t)
  const two = await start(t)
  one.backend.putSync('x', '1')
  two.backend.putManySync([['x', '1'], ['y', '2']])
  t.not(one.url, two.url)
  t.is((await call(`${one.url}/`)).body.entries, 1)
  t.is((await call(`${two.url}/`)).body.entries, 2)
  await call(`${one.url}/`, { headers: {} })
  t.is(one.server.stats().authFailures.missing, 1)
  t.is(two.server.stats().authFailures.missing, 0)
})

test('onRequest gets an access log with no token, header or query in it', async (t) => {
  const log = []
  const { url } = await start(t, { onRequest: (e) => log.push(e) })
  await call(`${url}/?token=${TOKEN}`)
  await call(`${url}/nope`, { headers: { authorization: `Bearer ${TOKEN}-wrong` } })
  await sleep(20)
  t.is(log.length, 2)
  t.like(log[0], { method: 'GET', path: '/', endpoint: 'status', status: 200, remoteAddress: '127.0.0.1' })
  t.like(log[1], { path: '/nope', endpoint: 'unknown', status: 401 })
  t.true(log[0].durationMs >= 0)
  t.false(JSON.stringify(log).includes(TOKEN))
})

test('checkpointOnSignals with the control server: SIGTERM lets the request in flight finish, stops accepting, then takes the final checkpoint and exits 0', async (t) => {
  const dir = tempDir(t)
  const child = spawn(process.execPath, [fixture('control-signal.mjs'), dir], { env: { ...process.env, STATEKIT_CONTROL_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] })
  const events = []
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const lines = readline.createInterface({ input: child.stdout })
  const url = await new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const o = JSON.parse(line)
      if (o.url) resolve(o.url)
      else events.push(o)
    })
    child.on('exit', () => reject(new Error(`the fixture exited early: ${stderr}`)))
  })
  t.is((await call(`${url}/`)).status, 200)
  const inflight = call(`${url}/checkpoint`, { method: 'POST', body: { metadata: { slow: true } } })
  while (!events.some((e) => e.event === 'slow-checkpoint-started')) await sleep(10)
  child.kill('SIGTERM')
  const r = await inflight
  t.is(r.status, 201, 'the request in flight got its answer')
  t.deepEqual(r.body.metadata, { slow: true })
  t.deepEqual(await exited, { code: 0, signal: null })
  t.is(stderr, '')
  t.deepEqual(events.map((e) => e.event), ['slow-checkpoint-started', 'checkpoint', 'server-closed', 'checkpoint'])
  const final = events.at(-1)
  const { checkpoints } = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
  t.is(checkpoints.at(-1).id, final.id, 'the final checkpoint is committed')
  t.is(checkpoints.at(-1).entries, 2)
  await t.throwsAsync(fetch(`${url}/livez`), undefined, 'nothing listens any more')
})
