// The checkpoint damage suite through the Node API, for one compression (lz4): every
// single-bit flip and every truncation of a small checkpoint is reported by
// verifyCheckpoint and refused with ERR_STATEKIT_CORRUPT by a restore into a
// MemoryBackend and into a SledBackend, each of which keeps exactly what it held.
// The Rust suite (crates/statekit-core/tests/checkpoint_damage.rs) does the same for
// every compression, incrementals and chains.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { MemoryBackend, SledBackend, StateError, verifyCheckpoint } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'
import { snapshot } from './helpers/snapshot.mjs'

const CORRUPT = 'ERR_STATEKIT_CORRUPT'
const HOUR = 3_600_000

test('every bit flip and every truncation of a small lz4 checkpoint is refused by verifyCheckpoint and by restores into both tiers', async (t) => {
  t.timeout(120_000)
  const dir = tempDir(t)
  const src = new MemoryBackend()
  for (let i = 0; i < 8; i++) {
    await src.put(`user:${i}`, JSON.stringify({ name: `n${i}`, n: i }), i % 2 === 0 ? { ttl: HOUR } : undefined)
  }
  const file = path.join(dir, 'c.skc')
  await src.checkpoint(file, { compression: 'lz4' })
  const good = fs.readFileSync(file)
  t.true((await verifyCheckpoint(file)).ok)

  const memory = new MemoryBackend()
  const sled = await SledBackend.open({ path: path.join(dir, 'db'), flushEveryMs: null })
  for (const b of [memory, sled]) {
    for (let i = 0; i < 6; i++) await b.put(`live:${i}`, `value ${i}`, i % 3 === 0 ? { ttl: HOUR } : undefined)
    await b.put('user:3', 'the live value')
  }
  const before = { memory: await snapshot(memory), sled: await snapshot(sled) }
  t.notDeepEqual(before.memory, await snapshot(src))

  let variants = 0
  const failures = []
  const check = async (bytes, what) => {
    fs.writeFileSync(file, bytes)
    const v = await verifyCheckpoint(file)
    if (v.ok) failures.push(`${what}: verifyCheckpoint accepted it`)
    for (const [name, b] of [['memory', memory], ['sled', sled]]) {
      try {
        await b.restore(file)
        failures.push(`${what}: the ${name} restore accepted it`)
      } catch (e) {
        if (!(e instanceof StateError) || e.code !== CORRUPT) failures.push(`${what}: ${name}: ${e.code} ${e.message}`)
      }
    }
    // Both stores keep every entry and value, and their counts.
    if (memory.stats().entryCount !== 7 || sled.stats().entryCount !== 7) failures.push(`${what}: an entry count changed`)
    if (JSON.stringify(await snapshot(memory)) !== JSON.stringify(before.memory)) failures.push(`${what}: memory contents changed`)
    if (JSON.stringify(await snapshot(sled)) !== JSON.stringify(before.sled)) failures.push(`${what}: sled contents changed`)
    variants++
  }
  const bytes = Buffer.from(good)
  for (let at = 0; at < good.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      bytes[at] ^= 1 << bit
      await check(bytes, `bit ${bit} of byte ${at} flipped`)
      bytes[at] ^= 1 << bit
    }
  }
  const flips = variants
  for (let cut = 0; cut < good.length; cut++) await check(good.subarray(0, cut), `truncated to ${cut} bytes`)
  t.deepEqual(failures, [])
  t.deepEqual(await snapshot(memory), before.memory)
  t.deepEqual(await snapshot(sled), before.sled)
  t.log(`a ${good.length}-byte lz4 checkpoint: ${flips} bit flips and ${variants - flips} truncations refused by verifyCheckpoint and by memory and sled restores`)

  // The good file still restores: the checks above would have seen a restore go through.
  fs.writeFileSync(file, good)
  await sled.restore(file)
  t.deepEqual(await snapshot(sled), await snapshot(src))
  await sled.close()
  await memory.close()
  await src.close()
})
