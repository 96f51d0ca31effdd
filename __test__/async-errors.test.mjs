// A Promise that the addon rejects carries the engine error's own code on `code`,
// built in Rust from the error itself: these call the addon directly, with no
// TypeScript check or message parsing in between, then through the public API.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { MemoryBackend, SledBackend, StateError } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const addon = createRequire(import.meta.url)('../native/index.js')

/** A checkpoint file with one byte flipped in its body. */
async function damagedCheckpoint(t) {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  await b.putMany(Array.from({ length: 500 }, (_, i) => [`k${i}`, `value-${i}`.repeat(5)]))
  const file = path.join(dir, 'cp.skc')
  await b.checkpoint(file)
  await b.close()
  const bytes = fs.readFileSync(file)
  bytes[Math.floor(bytes.length / 2)] ^= 0x40
  fs.writeFileSync(file, bytes)
  return file
}

const stores = {
  memory: async () => addon.NativeStore.memory(),
  sled: async (t) => addon.openSled({ path: path.join(tempDir(t), 'db') }),
}

for (const [tier, open] of Object.entries(stores)) {
  test(`${tier}: a native restore of a damaged file rejects with code ERR_STATEKIT_CORRUPT`, async (t) => {
    const file = await damagedCheckpoint(t)
    const store = await open(t)
    const err = await t.throwsAsync(store.restore(file))
    t.is(err.code, 'ERR_STATEKIT_CORRUPT')
    t.false(err.message.startsWith('ERR_STATEKIT'), 'the code is not folded into the message')
    t.true(err.message.includes(file))
    await store.close()
  })

  test(`${tier}: a native checkpoint into a directory rejects with code ERR_STATEKIT_IO`, async (t) => {
    const dir = tempDir(t)
    const store = await open(t)
    store.put(Buffer.from('k'), Buffer.from('v'))
    const target = path.join(dir, 'taken')
    fs.mkdirSync(target)
    const err = await t.throwsAsync(store.checkpoint(target, {}))
    t.is(err.code, 'ERR_STATEKIT_IO')
    await store.close()
  })

  test(`${tier}: the public API rejects with a StateError carrying the native code`, async (t) => {
    const file = await damagedCheckpoint(t)
    const b = tier === 'memory' ? new MemoryBackend() : await SledBackend.open({ path: path.join(tempDir(t), 'db') })
    const err = await t.throwsAsync(b.restore(file), { instanceOf: StateError })
    t.is(err.code, 'ERR_STATEKIT_CORRUPT')
    t.false(err.message.startsWith('ERR_STATEKIT'))
    await b.close()
  })
}

test('sled: opening a path that is a file rejects natively with ERR_STATEKIT_IO', async (t) => {
  const file = path.join(tempDir(t), 'file')
  fs.writeFileSync(file, 'x')
  const err = await t.throwsAsync(addon.openSled({ path: file }))
  t.is(err.code, 'ERR_STATEKIT_IO')
  t.true(err.message.includes(file))
})

test('flush of a memory store rejects natively with ERR_STATEKIT_INVALID_ARG', async (t) => {
  const store = addon.NativeStore.memory()
  const err = await t.throwsAsync(store.flush())
  t.is(err.code, 'ERR_STATEKIT_INVALID_ARG')
  t.true(err.message.includes('sled'))
})
