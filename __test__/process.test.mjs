import test from 'ava'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { MemoryBackend, StateError } from '../dist/index.js'

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

test('the addon loads and works in worker_threads Workers, side by side', async (t) => {
  const run = (id) =>
    new Promise((resolve, reject) => {
      const w = new Worker(fixture('worker.mjs'), { workerData: { id, n: 5000 } })
      w.once('message', resolve)
      w.once('error', reject)
    })
  const results = await Promise.all([run(1), run(2), run(3)])
  const expected = (5000 * 4999) // sum of 2*i for i < 5000
  for (const r of results) {
    t.is(r.sum, expected)
    t.is(r.syncSum, expected)
    t.is(r.stats.entryCount, 5000)
    t.is(r.stats.hitCount, 10000)
  }
  // The main thread's addon instance is independent and still works.
  const b = new MemoryBackend()
  b.putSync('main', 'ok')
  t.is(b.getSync('main').toString(), 'ok')
  await b.close()
})

test('a process with a running cleanup task exits by itself', async (t) => {
  const started = Date.now()
  const { stdout } = await new Promise((resolve, reject) => {
    execFile(process.execPath, [fixture('cleanup-exit.mjs')], { timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr })) : resolve({ stdout }),
    )
  })
  const stats = JSON.parse(stdout)
  t.is(stats.entryCount, 0, 'the cleanup thread swept the expired entries')
  t.is(stats.expiredCount, 1000)
  t.true(Date.now() - started < 15_000)
})

test('a Rust panic reaches JavaScript as a thrown Error and the process lives on', (t) => {
  const native = createRequire(import.meta.url)('../native/index.js')
  const err = t.throws(() => native.__panicForTest(), { instanceOf: Error })
  t.regex(String(err.message), /statekit test panic/)
  t.false(err instanceof StateError, 'raw addon errors are mapped by the TypeScript layer')
  const b = new MemoryBackend()
  b.putSync('still', 'alive')
  t.is(b.getSync('still').toString(), 'alive')
})

test('a second instance of the module in the same thread works, on the general path', async (t) => {
  const require = createRequire(import.meta.url)
  const first = require('../dist/index.js')
  const a = new first.MemoryBackend()
  a.putSync('k', 'from the first instance')
  // Load fresh copies of the JavaScript modules (as a test runner that resets modules does).
  for (const id of Object.keys(require.cache)) if (id.includes('/dist/') || id.includes('/native/index.js')) delete require.cache[id]
  const second = require('../dist/index.js')
  t.not(second.MemoryBackend, first.MemoryBackend)
  const b = new second.MemoryBackend()
  b.putSync('k', 'from the second instance')
  t.is(a.getSync('k').toString(), 'from the first instance')
  t.is(b.getSync('k').toString(), 'from the second instance')
  t.deepEqual(b.getManySync(['k', 'x']).map((v) => v?.toString()), ['from the second instance', undefined])
  t.is(a.getManySync(['k'])[0].toString(), 'from the first instance')
  await a.close()
  await b.close()
})

test('a caught Rust panic prints nothing, even with RUST_BACKTRACE=1; its message is in the error', async (t) => {
  const script = `
    const native = require(${JSON.stringify(fileURLToPath(new URL('../native/index.js', import.meta.url)))})
    try { native.__panicForTest() } catch (e) { process.stdout.write(JSON.stringify({ message: e.message })) }
  `
  const { stdout, stderr } = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env: { ...process.env, RUST_BACKTRACE: '1' }, timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr })) : resolve({ stdout, stderr }),
    )
  })
  t.regex(JSON.parse(stdout).message, /statekit test panic/)
  t.is(stderr, '', 'nothing on stderr: no panic message, no backtrace')
})
