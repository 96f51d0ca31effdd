// close(), restore() and iterators meeting each other: close waits for a running
// checkpoint or restore and every call after it gets ERR_STATEKIT_CLOSED; concurrent
// checkpoints and restores are BUSY on both tiers; a restore ends an iterator without
// mixing states; a store dropped without close() is freed.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MemoryBackend, SledBackend, StateError, verifyCheckpoint } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const code = (c) => ({ instanceOf: StateError, code: c })
const tiers = {
  memory: async () => new MemoryBackend(),
  sled: async (t) => SledBackend.open({ path: path.join(tempDir(t), 'db') }),
}

async function fill(b, n, tag = 'v') {
  for (let i = 0; i < n; i += 5000) {
    await b.putMany(Array.from({ length: Math.min(5000, n - i) }, (_, j) => [`k${String(i + j).padStart(7, '0')}`, `${tag}-${i + j}-${'x'.repeat(80)}`]))
  }
}

for (const [tier, open] of Object.entries(tiers)) {
  test(`${tier}: close() during a checkpoint waits for it; calls after close() starts are CLOSED`, async (t) => {
    const dir = tempDir(t)
    const b = await open(t)
    await fill(b, 100_000)
    const file = path.join(dir, 'cp.skc')
    const cp = b.checkpoint(file)
    const closing = b.close()
    t.true(b.closed)
    t.throws(() => b.getSync('k0000001'), code('ERR_STATEKIT_CLOSED'))
    await t.throwsAsync(b.put('x', 'y'), code('ERR_STATEKIT_CLOSED'))
    await t.throwsAsync(b.checkpoint(path.join(dir, 'other.skc')), code('ERR_STATEKIT_CLOSED'))
    t.is(b.close(), closing, 'a second close() returns the same Promise')
    const info = await cp
    await closing
    t.is(info.entries, 100_000)
    t.true((await verifyCheckpoint(file)).ok)
    if (tier === 'sled') {
      // The directory was unlocked: it opens again at once, with the data.
      const again = await SledBackend.open({ path: b.path ?? path.dirname(file) }).catch(() => null)
      if (again) await again.close()
    }
  })

  test(`${tier}: close() during a restore settles both, with no borrow error`, async (t) => {
    const dir = tempDir(t)
    const src = new MemoryBackend()
    await fill(src, 100_000, 'new')
    const file = (await src.checkpoint(path.join(dir, 'cp.skc'))).path
    await src.close()
    const b = await open(t)
    await fill(b, 1000, 'old')
    const restoring = b.restore(file)
    const closing = b.close()
    t.throws(() => b.getSync('k0000001'), code('ERR_STATEKIT_CLOSED'))
    const outcome = await restoring.then(
      (r) => ({ ok: true, r }),
      (e) => ({ ok: false, e }),
    )
    await closing
    if (!outcome.ok) {
      t.is(outcome.e.code, 'ERR_STATEKIT_CLOSED', outcome.e.message)
    } else {
      t.is(outcome.r.entries, 100_000)
    }
    t.true(b.closed)
  })

  test(`${tier}: two restores at once, or a checkpoint during a restore, are BUSY and change nothing`, async (t) => {
    const dir = tempDir(t)
    const src = new MemoryBackend()
    await fill(src, 100_000, 'new')
    const file = (await src.checkpoint(path.join(dir, 'cp.skc'))).path
    await src.close()
    const b = await open(t)
    await fill(b, 10, 'old')
    // The restore claims the store when it is called: whatever is started after it,
    // before it has finished, is BUSY.
    const first = b.restore(file)
    const second = b.restore(file)
    const during = b.checkpoint(path.join(dir, 'during.skc'))
    await t.throwsAsync(second, code('ERR_STATEKIT_BUSY'))
    await t.throwsAsync(during, code('ERR_STATEKIT_BUSY'))
    t.false(fs.existsSync(path.join(dir, 'during.skc')))
    t.is((await first).entries, 100_000)
    // Once the restore is in, checkpoints and restores work again.
    t.is((await b.checkpoint(path.join(dir, 'after.skc'))).entries, 100_000)
    t.is((await b.restore(file)).entries, 100_000)
    await b.close()
  })

  test(`${tier}: an iterator across a restore ends without mixing old and new entries`, async (t) => {
    const dir = tempDir(t)
    const src = new MemoryBackend()
    await fill(src, 5000, 'new')
    const file = (await src.checkpoint(path.join(dir, 'cp.skc'))).path
    await src.close()
    const b = await open(t)
    await fill(b, 5000, 'old')
    const seen = []
    const it = b.entries()
    for (let i = 0; i < 300; i++) seen.push((await it.next()).value)
    await b.restore(file)
    for (;;) {
      const r = await it.next()
      if (r.done) break
      seen.push(r.value)
    }
    t.false(b.closed)
    t.true(seen.length < 5000, `the iterator ended (${seen.length} entries)`)
    t.true(seen.every(([, v]) => v.toString().startsWith('old-')), 'every entry it gave is of the old state')
    // A new iterator reads the restored state, whole.
    let n = 0
    for await (const [, v] of b.entries()) {
      t.true(v.toString().startsWith('new-'))
      n++
    }
    t.is(n, 5000)
    await b.close()
    await t.throwsAsync(b.entries().next(), code('ERR_STATEKIT_CLOSED'))
  })
}

test('sled: close() during a checkpoint releases the directory once it resolves', async (t) => {
  const dir = path.join(tempDir(t), 'db')
  const b = await SledBackend.open({ path: dir })
  await fill(b, 50_000)
  const cp = b.checkpoint(path.join(tempDir(t), 'cp.skc'))
  await b.close()
  await cp
  const again = await SledBackend.open({ path: dir })
  t.is(again.stats().entryCount, 50_000)
  await again.close()
})

test('a store dropped without close() is freed when collected (RSS stays flat)', async (t) => {
  const script = fileURLToPath(new URL('./fixtures/dropped-stores.mjs', import.meta.url))
  const out = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', script], { timeout: 120_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  )
  const rss = out.trim().split('\n').map(Number)
  t.is(rss.length, 5)
  // 50 stores of about 2 MB a round: leaked, RSS grows by about 150 MB each round.
  t.true(rss[4] - rss[1] < 60, `RSS after rounds: ${rss.join(', ')} MB`)
})
