// Issue 13's findings, each as it was reported: damaged sled directories are detected
// and recovered, bad options never move a healthy store aside, and the codes match
// the table.
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CheckpointCoordinator, MemoryBackend, SledBackend, StateError, restoreLatestIn } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const code = (c) => ({ instanceOf: StateError, code: c })
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const cli = (...args) =>
  new Promise((resolve) =>
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr })),
  )

function filesOf(dir) {
  const out = {}
  for (const f of fs.readdirSync(dir, { recursive: true })) {
    const p = path.join(dir, f)
    if (fs.statSync(p).isFile() && !f.endsWith('statekit.lock')) out[f] = fs.readFileSync(p).toString('base64')
  }
  return out
}

/** A closed sled store of 6,000 entries and a coordinator checkpoint of it. */
async function storeWithCheckpoint(t) {
  const root = tempDir(t)
  const dir = path.join(root, 'db')
  const cpDir = path.join(root, 'cp')
  const b = await SledBackend.open({ path: dir })
  await b.putMany(Array.from({ length: 6000 }, (_, i) => [`k${i}`, `v${i}-${'x'.repeat(40)}`]))
  const c = new CheckpointCoordinator(b, { dir: cpDir, interval: 60_000, metadata: () => ({ offset: 6000 }) })
  await c.createCheckpoint()
  await c.shutdown()
  await b.close()
  return { root, dir, cpDir }
}

const damages = {
  'one byte flipped at three quarters of db': (dir) => {
    const f = path.join(dir, 'db')
    const b = fs.readFileSync(f)
    b[Math.floor(b.length * 0.75)] ^= 0xff
    fs.writeFileSync(f, b)
  },
  'db deleted': (dir) => fs.rmSync(path.join(dir, 'db')),
  'db truncated to half': (dir) => {
    const f = path.join(dir, 'db')
    fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2))
  },
}

for (const [name, damage] of Object.entries(damages)) {
  test(`sled: ${name} is CORRUPT, left as it was, and openWithRecovery restores the checkpoint`, async (t) => {
    const { dir, cpDir } = await storeWithCheckpoint(t)
    damage(dir)
    const before = filesOf(dir)
    const err = await t.throwsAsync(SledBackend.open({ path: dir }), code('ERR_STATEKIT_CORRUPT'))
    t.true(err.message.includes(dir))
    t.deepEqual(filesOf(dir), before, 'the refused open changed nothing')
    const { backend, report } = await SledBackend.openWithRecovery({ path: dir }, { checkpointDir: cpDir })
    t.true(report.damaged)
    t.true(report.restored)
    t.is(report.checkpoint.metadata.offset, 6000)
    t.is(backend.stats().entryCount, 6000)
    t.is((await backend.get('k5999')).toString(), `v5999-${'x'.repeat(40)}`)
    t.deepEqual(filesOf(report.movedTo), before, 'the damaged directory was moved aside untouched')
    await backend.close()
  })
}

test('sled: an option sled would panic on is INVALID_ARG and never moves a healthy store aside', async (t) => {
  const { root, dir, cpDir } = await storeWithCheckpoint(t)
  const before = filesOf(dir)
  await t.throwsAsync(SledBackend.openWithRecovery({ path: dir, cacheCapacity: 100 }, { checkpointDir: cpDir }), code('ERR_STATEKIT_INVALID_ARG'))
  t.deepEqual(filesOf(dir), before)
  t.deepEqual(fs.readdirSync(root).sort(), ['cp', 'db'], 'nothing was moved aside')
  const fresh = path.join(root, 'fresh')
  await t.throwsAsync(SledBackend.open({ path: fresh, cacheCapacity: 100 }), code('ERR_STATEKIT_INVALID_ARG'))
  t.false(fs.existsSync(fresh), 'a bad option creates nothing')
  const b = await SledBackend.open({ path: dir })
  t.is(b.stats().entryCount, 6000)
  await b.close()
})

test('a path holding a NUL byte is INVALID_ARG everywhere', async (t) => {
  await t.throwsAsync(SledBackend.open({ path: path.join(tempDir(t), 'a\0b') }), code('ERR_STATEKIT_INVALID_ARG'))
  const m = new MemoryBackend()
  await t.throwsAsync(m.checkpoint(path.join(tempDir(t), 'x\0.skc')), code('ERR_STATEKIT_INVALID_ARG'))
  await t.throwsAsync(m.restore(path.join(tempDir(t), 'x\0.skc')), code('ERR_STATEKIT_INVALID_ARG'))
  await m.close()
})

test('coordinator: an interval past what Node timers keep is refused; createCheckpoint takes only an object', async (t) => {
  const b = new MemoryBackend()
  const dir = tempDir(t)
  t.throws(() => new CheckpointCoordinator(b, { dir, interval: 2 ** 31 }), code('ERR_STATEKIT_INVALID_ARG'))
  t.throws(() => new CheckpointCoordinator(b, { dir, interval: 30 * 86_400_000 }), code('ERR_STATEKIT_INVALID_ARG'))
  const c = new CheckpointCoordinator(b, { dir, interval: 2 ** 31 - 1 })
  await b.put('k', 'v')
  for (const bad of ['str', 42, ['a'], null]) {
    await t.throwsAsync(c.createCheckpoint(bad), code('ERR_STATEKIT_INVALID_ARG'))
  }
  t.deepEqual(fs.readdirSync(dir), [], 'nothing was written')
  const info = await c.createCheckpoint({ ok: 1 })
  t.deepEqual(info.metadata.ok, 1)
  await c.shutdown()
  await b.close()
})

test('codecs: a value the codec cannot decode is a StateError that keeps the cause', async (t) => {
  const b = new MemoryBackend()
  const ns = b.namespace('n', { codec: 'json' })
  b.putSync('n:bad', '{not json')
  const e1 = t.throws(() => ns.getSync('bad'), code('ERR_STATEKIT_CORRUPT'))
  t.true(e1.cause instanceof SyntaxError)
  t.regex(e1.message, /"bad"/)
  await t.throwsAsync(ns.getMany(['bad']), code('ERR_STATEKIT_CORRUPT'))
  await t.throwsAsync(async () => {
    for await (const _ of ns.entries()) void _
  }, code('ERR_STATEKIT_CORRUPT'))
  const boom = new Error('custom decoder refused')
  const custom = b.namespace('c', { codec: { encode: (v) => Buffer.from(String(v)), decode: () => { throw boom } } })
  custom.putSync('x', 'y')
  const e2 = t.throws(() => custom.getSync('x'), code('ERR_STATEKIT_CORRUPT'))
  t.is(e2.cause, boom)
  await b.close()
})

test('a manifest that is not one (or lists a non-entry) is CORRUPT, not an I/O error', async (t) => {
  const b = new MemoryBackend()
  for (const text of ['[null]', '{"format":1,"checkpoints":[null]}', '{"format":1,"checkpoints":[{"id":"x"}]}', 'not json']) {
    const dir = tempDir(t)
    fs.writeFileSync(path.join(dir, 'manifest.json'), text)
    const err = await t.throwsAsync(restoreLatestIn(b, dir), code('ERR_STATEKIT_CORRUPT'))
    t.false(/TypeError|Cannot read/.test(err.message), err.message)
  }
  await b.close()
})

test('CLI: extra arguments 64, a null line 65, a missing output directory 74, a foreign snapshot source refused untouched', async (t) => {
  const dir = tempDir(t)
  t.is((await cli('list', dir, 'extra')).code, 64)
  fs.writeFileSync(path.join(dir, 'null.jsonl'), 'null\n')
  const nul = await cli('import', path.join(dir, 'null.jsonl'), '--out', path.join(dir, 'x.skc'))
  t.is(nul.code, 65, nul.stderr)
  fs.writeFileSync(path.join(dir, 'ok.jsonl'), '{"key":"a","value":"b"}\n')
  const missing = await cli('import', path.join(dir, 'ok.jsonl'), '--out', path.join(dir, 'nodir', 'x.skc'))
  t.is(missing.code, 74, missing.stderr)
  t.regex(missing.stderr, /nodir does not exist/)
  t.deepEqual(fs.readdirSync(dir).sort(), ['null.jsonl', 'ok.jsonl'], 'no output and no temporary file left')
  const foreign = path.join(dir, 'foreign')
  fs.mkdirSync(foreign)
  fs.writeFileSync(path.join(foreign, 'n.txt'), 'mine')
  const snap = await cli('snapshot', foreign, '--out', path.join(dir, 's.skc'))
  t.is(snap.code, 64, snap.stderr)
  t.regex(snap.stderr, /not a statekit store/)
  t.deepEqual(fs.readdirSync(foreign), ['n.txt'])
  t.false(fs.existsSync(path.join(dir, 's.skc')))
  const sled = path.join(dir, 'sled')
  const s = await SledBackend.open({ path: sled })
  await s.put('k', 'v')
  await s.close()
  const snapMissing = await cli('snapshot', sled, '--out', path.join(dir, 'nodir', 's.skc'))
  t.is(snapMissing.code, 74, snapMissing.stderr)
})
