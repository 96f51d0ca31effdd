import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MemoryBackend, SledBackend } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

// Runs the CLI; a command that does not end within the timeout is killed and reported.
function cli(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20, timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, killed: Boolean(err?.killed || err?.signal), stdout, stderr }),
    )
  })
}

function damage(file) {
  const bytes = fs.readFileSync(file)
  bytes[Math.floor(bytes.length / 2)] ^= 0xff
  fs.writeFileSync(file, bytes)
}

test('every command ends with its exit code on every failing path, a damaged 100K-record checkpoint included', async (t) => {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  const batch = []
  for (let i = 0; i < 120_000; i++) batch.push([`user:${String(i).padStart(6, '0')}`, JSON.stringify({ n: i })])
  await b.putMany(batch)
  const bad = path.join(dir, 'bad.skc')
  await b.checkpoint(bad)
  damage(bad)
  const good = path.join(dir, 'good', 'good.skc')
  await b.put('late', 'x')
  await b.checkpoint(good)
  await b.close()
  const none = path.join(dir, 'none')
  const jsonl = path.join(dir, 'bad.jsonl')
  fs.writeFileSync(jsonl, '{"key":"a","value":"1"}\nnot json\n')
  const runs = [
    [['list', none], 66],
    [['list', bad], 64],
    [['inspect', none], 66],
    [['inspect', bad, '--keys'], 65],
    [['verify', bad], 65],
    [['restore', bad, '--into', path.join(dir, 'into1')], 65],
    [['restore', bad, '--into', path.join(dir, 'into2'), '--dry-run'], 65],
    [['restore', path.dirname(bad), '--into', path.join(dir, 'into3')], 65],
    [['restore', good, '--into', bad], 64],
    [['export', bad], 65],
    [['import', jsonl, '--out', path.join(dir, 'imported.skc')], 65],
    [['import', path.join(dir, 'none.jsonl'), '--out', path.join(dir, 'x.skc')], 66],
    [['diff', bad, good], 65],
    [['prune', none, '--keep', '1'], 66],
    [['snapshot', none, '--out', path.join(dir, 's.skc')], 66],
    [['push', path.dirname(good), 's3://'], 64],
    [['pull', 's3://bucket-x/p', path.join(dir, 'pulled'), '--endpoint', 'http://127.0.0.1:9'], 74],
  ]
  for (const [args, code] of runs) {
    const r = await cli(...args)
    t.false(r.killed, `statekit ${args.join(' ')} ended by itself`)
    t.is(r.code, code, `statekit ${args.join(' ')}: ${r.stderr}`)
    t.notRegex(r.stderr, /at .*\.js:\d+/, 'no stack trace')
  }
  for (const n of ['into1', 'into2', 'into3', 'imported.skc', 'pulled']) t.false(fs.existsSync(path.join(dir, n)), `${n} left nothing behind`)
})

// A directory of checkpoints: an older full one, then a full one (damaged) and two
// incremental ones on it that pass their own checksums.
async function brokenChain(t) {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  await b.put('a', 'old')
  const f0 = await b.checkpoint(path.join(dir, '0-full.skc'))
  await b.put('a', 'new')
  const f1 = await b.checkpoint(path.join(dir, '1-full.skc'))
  await b.put('b', '1')
  const i1 = await b.checkpoint(path.join(dir, '2-inc.skc'), { incremental: true })
  await b.put('c', '1')
  const i2 = await b.checkpoint(path.join(dir, '3-inc.skc'), { incremental: true })
  await b.close()
  damage(f1.path)
  return { dir, f0, f1, i1, i2 }
}

test('restore <dir> is chain-aware: it falls back past incremental checkpoints whose base is damaged, and says so', async (t) => {
  const { dir, f0, f1, i1, i2 } = await brokenChain(t)
  const into = path.join(tempDir(t), 'state')
  const dry = await cli('restore', dir, '--into', into, '--dry-run', '--json')
  t.is(dry.code, 0, dry.stderr)
  const plan = JSON.parse(dry.stdout)
  t.is(plan.id, f0.id, 'the newest checkpoint whose whole chain verifies')
  t.deepEqual(plan.skipped.map((s) => s.id), [i2.id, i1.id, f1.id])
  t.regex(dry.stderr, /skipping .*3-inc\.skc/)
  t.false(fs.existsSync(into))
  const r = await cli('restore', dir, '--into', into, '--json')
  t.is(r.code, 0, r.stderr)
  t.is(JSON.parse(r.stdout).id, f0.id)
  const s = await SledBackend.open({ path: into })
  t.deepEqual((await s.listKeys()).map(String), ['a'])
  t.is((await s.get('a')).toString(), 'old')
  await s.close()
})

test('restore of an incremental checkpoint whose base is damaged exits 65 and leaves nothing behind', async (t) => {
  const { i2 } = await brokenChain(t)
  const into = path.join(tempDir(t), 'state')
  const dry = await cli('restore', i2.path, '--into', into, '--dry-run')
  t.is(dry.code, 65, 'a dry run does not claim it would restore')
  t.notRegex(dry.stdout, /would restore/)
  const r = await cli('restore', i2.path, '--into', into)
  t.is(r.code, 65)
  t.regex(r.stderr, /1-full\.skc/, 'names the damaged base')
  t.false(fs.existsSync(into), 'no directory was left behind')
  const empty = path.join(tempDir(t), 'empty')
  fs.mkdirSync(empty)
  t.is((await cli('restore', i2.path, '--into', empty)).code, 65)
  t.deepEqual(fs.readdirSync(empty), [], 'an empty directory is left empty')
})

test('inspect --keys --prefix --limit lists keys in byte order, across blocks', async (t) => {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  const keys = []
  for (let i = 0; i < 2000; i++) keys.push(`k:${String((i * 7919) % 2000).padStart(5, '0')}`)
  await b.putMany(keys.map((k) => [k, 'v'.repeat(3000)]))
  await b.put('other', 'x')
  for (const compression of ['none', 'zstd']) {
    const file = path.join(dir, `${compression}.skc`)
    await b.checkpoint(file, { compression })
    const r = await cli('inspect', file, '--keys', '--prefix', 'k:', '--limit', '7', '--json')
    t.is(r.code, 0, r.stderr)
    t.deepEqual(JSON.parse(r.stdout).keys, ['k:00000', 'k:00001', 'k:00002', 'k:00003', 'k:00004', 'k:00005', 'k:00006'], compression)
    const all = JSON.parse((await cli('inspect', file, '--keys', '--json')).stdout).keys
    t.deepEqual(all, [...keys, 'other'].sort(), `${compression}: every key, sorted`)
  }
  await b.close()
})
