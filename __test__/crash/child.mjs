// The processes the crash suite kills. Each prints one line per acknowledged step,
// after the step's Promise resolved, so the parent knows what must survive.
//
//   batches <dir> <start>       putMany of 20 keys then flush(), numbered from <start>
//   checkpoints <dir> <cpdir>   a sled store, checkpoints into <cpdir> in a loop
//   restore <dir> <a> <b>       restores <a>, then <b>, then <a>... into the sled store at <dir>
//   coordinator <dir> <cpdir>   a memory store with a coordinator writing every 20 ms
//   recover <dir> <cpdir>       SledBackend.openWithRecovery, then writes and flushes
//   changelog <logdir> <cpdir> <fsync>
//                               MemoryBackend.openWithRecovery with a change log and a
//                               coordinator checkpointing every 100 ms; each step is a
//                               putMany of 10 keys (plus 'next') and a put; prints
//                               "<step> <ms>" once both resolved and "cp" per checkpoint
import fs from 'node:fs'
import path from 'node:path'
import { CheckpointCoordinator, MemoryBackend, SledBackend } from '../../dist/index.js'

const [mode, dir, arg, arg2] = process.argv.slice(2)
const say = (s) => fs.writeSync(1, `${s}\n`)

if (mode === 'batches') {
  const store = await SledBackend.open({ path: dir, flushEveryMs: null })
  for (let b = Number(arg); ; b++) {
    const entries = []
    for (let i = 0; i < 20; i++) entries.push([`batch:${String(b).padStart(7, '0')}:${i}`, `${b}:${i}:${'p'.repeat(100)}`])
    await store.putMany(entries)
    await store.flush()
    say(b)
  }
} else if (mode === 'checkpoints') {
  const store = await SledBackend.open({ path: dir })
  await store.putMany(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, `v${i}:${'x'.repeat(60)}`]))
  for (let n = 0; ; n++) {
    await store.put('round', String(n))
    const info = await store.checkpoint(path.join(arg, `cp-${n}.skc`), { compression: n % 2 ? 'lz4' : 'zstd' })
    say(path.basename(info.path))
  }
} else if (mode === 'restore') {
  const store = await SledBackend.open({ path: dir, flushEveryMs: null })
  say('open')
  for (let n = 0; ; n++) {
    await store.restore(n % 2 ? arg2 : arg)
    say('restored')
  }
} else if (mode === 'coordinator') {
  const store = new MemoryBackend()
  let offset = 0
  const c = new CheckpointCoordinator(store, { dir: arg, interval: 20, maxCheckpoints: 5, fullEvery: 3, metadata: () => ({ offset }) })
  c.on('checkpoint', (info) => say(JSON.stringify({ id: info.id, offset: info.metadata.offset })))
  c.start()
  for (;;) {
    await store.putMany(Array.from({ length: 50 }, (_, i) => [`o${offset + i}`, String(offset + i)]))
    offset += 50
    await new Promise((r) => setTimeout(r, 2))
  }
} else if (mode === 'recover') {
  const { backend, report } = await SledBackend.openWithRecovery({ path: dir, flushEveryMs: null }, { checkpointDir: arg })
  say(JSON.stringify({ damaged: report.damaged, restored: report.restored }))
  for (let b = 0; ; b++) {
    await backend.put(`after:${b}`, String(b))
    await backend.flush()
    say(`after:${b}`)
  }
} else if (mode === 'changelog') {
  const fsync = process.argv[5]
  const { backend, report } = await MemoryBackend.openWithRecovery({ changeLog: { dir, fsync } }, { checkpointDir: arg })
  say(`recovered ${JSON.stringify(report.changeLog)}`)
  const c = new CheckpointCoordinator(backend, { dir: arg, interval: 100, maxCheckpoints: 3 })
  c.on('checkpoint', () => say('cp'))
  c.start()
  for (let n = Number(backend.getSync('next') ?? 0); ; n++) {
    await backend.putMany([...Array.from({ length: 10 }, (_, i) => [`b:${n}:${i}`, String(n)]), ['next', String(n + 1)]])
    await backend.put(`s:${n}`, String(n))
    say(`${n} ${Date.now()}`)
    if (n % 20 === 0) await new Promise((r) => setImmediate(r))
  }
} else {
  console.error(`unknown mode ${mode}`)
  process.exit(64)
}
