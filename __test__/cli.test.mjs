import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CheckpointCoordinator, MemoryBackend, SledBackend } from '../dist/index.js'
import { tempDir } from './helpers/tmp.mjs'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

function cli(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 256 << 20, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    )
  })
}

// One 100K-entry checkpoint, made by the library, shared by the tests.
let big
test.before(async () => {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'statekit-cli-'))
  const b = new MemoryBackend()
  const batch = []
  for (let i = 0; i < 100_000; i++) batch.push([`user:${String(i).padStart(6, '0')}`, JSON.stringify({ n: i })])
  await b.putMany(batch)
  await b.put('expiring', 'soon', { ttl: 3_600_000 })
  const info = await b.checkpoint(path.join(dir, 'big.skc'), { metadata: { offsets: { 0: 100000 } } })
  await b.close()
  big = { dir, file: info.path, info }
})
test.after.always(() => fs.rmSync(big.dir, { recursive: true, force: true }))

test('--version, --help with an example on every command, and bad arguments', async (t) => {
  const v = await cli('--version')
  t.is(v.code, 0)
  t.regex(v.stdout, /^\d+\.\d+\.\d+/)
  for (const cmd of ['list', 'inspect', 'verify', 'restore', 'export', 'import', 'diff', 'prune', 'snapshot']) {
    const h = await cli(cmd, '--help')
    t.is(h.code, 0, cmd)
    t.regex(h.stdout, /Example:\n {2}statekit /, cmd)
  }
  const bad = await cli('restore', big.file)
  t.is(bad.code, 64)
  t.regex(bad.stderr, /--into/)
  t.regex(bad.stderr, /Usage: statekit restore/)
  t.notRegex(bad.stderr, /at .*\.js:\d+/, 'no stack trace')
  const unknown = await cli('frobnicate')
  t.is(unknown.code, 64)
  const keep = await cli('prune', big.dir, '--keep', 'zero')
  t.is(keep.code, 64)
  t.notRegex(keep.stderr, /at .*\.js:\d+/)
})

test('list and inspect a 100K-entry checkpoint', async (t) => {
  const l = await cli('list', big.dir, '--json')
  t.is(l.code, 0)
  const rows = JSON.parse(l.stdout)
  t.is(rows.length, 1)
  t.like(rows[0], { id: big.info.id, kind: 'full', entries: 100_001, quickCheck: 'ok' })
  const text = await cli('list', big.dir)
  t.regex(text.stdout, /ID +KIND +BASE +CREATED/)
  const i = await cli('inspect', big.file, '--json')
  const info = JSON.parse(i.stdout)
  t.deepEqual(info.metadata, { offsets: { 0: 100000 } })
  t.true(info.blocks.length >= 1)
  t.is(info.blocks.reduce((a, b) => a + b.records, 0), 100_001)
  t.true(info.ratio > 1)
  const k = await cli('inspect', big.file, '--keys', '--prefix', 'user:00001', '--limit', '5')
  t.is(k.code, 0)
  const keys = k.stdout.trim().split('\n').slice(-5)
  t.is(keys.length, 5)
  for (const key of keys) t.true(key.startsWith('user:00001'))
  t.regex(k.stdout, /compression +zstd/)
})

test('verify: silent on success; damaged, truncated, empty and foreign files exit 65 naming the damage', async (t) => {
  const ok = await cli('verify', big.file)
  t.is(ok.code, 0)
  t.is(ok.stdout + ok.stderr, '')
  t.is((await cli('verify', big.dir)).code, 0)
  const dir = tempDir(t)
  const bytes = fs.readFileSync(big.file)
  const damaged = Buffer.from(bytes)
  damaged[Math.floor(bytes.length / 2)] ^= 0xff
  fs.writeFileSync(path.join(dir, 'damaged.skc'), damaged)
  fs.writeFileSync(path.join(dir, 'truncated.skc'), bytes.subarray(0, bytes.length - 1000))
  fs.writeFileSync(path.join(dir, 'empty.skc'), '')
  fs.writeFileSync(path.join(dir, 'image.png'), Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(100)]))
  const d = await cli('verify', path.join(dir, 'damaged.skc'))
  t.is(d.code, 65)
  t.regex(d.stderr, /damaged\.skc is damaged: block \d+ at offset \d+/)
  const tr = await cli('verify', path.join(dir, 'truncated.skc'))
  t.is(tr.code, 65)
  t.regex(tr.stderr, /truncated\.skc is damaged/)
  const e = await cli('verify', path.join(dir, 'empty.skc'))
  t.is(e.code, 65)
  t.regex(e.stderr, /empty\.skc is not a statekit checkpoint \(the file is empty\)/)
  const png = await cli('verify', path.join(dir, 'image.png'))
  t.is(png.code, 65)
  t.regex(png.stderr, /image\.png is not a statekit checkpoint/)
  const quick = await cli('verify', '--quick', path.join(dir, 'damaged.skc'))
  t.is(quick.code, 0, '--quick reads only the header, the footer and the sizes')
  const quickTrunc = await cli('verify', '--quick', path.join(dir, 'truncated.skc'))
  t.is(quickTrunc.code, 65)
  const missing = await cli('verify', path.join(dir, 'missing.skc'))
  t.is(missing.code, 66)
  const all = await cli('verify', dir, '--json')
  t.is(all.code, 65)
  t.is(JSON.parse(all.stdout).filter((r) => !r.ok).length, 3)
})

test('restore into a sled directory, then open it with SledBackend and find the same data', async (t) => {
  const into = path.join(tempDir(t), 'state')
  const dry = await cli('restore', big.file, '--into', into, '--dry-run', '--json')
  t.is(dry.code, 0)
  t.true(JSON.parse(dry.stdout).dryRun)
  t.false(fs.existsSync(into))
  const r = await cli('restore', big.dir, '--into', into, '--json')
  t.is(r.code, 0, r.stderr)
  t.is(JSON.parse(r.stdout).entries, 100_001)
  t.regex(r.stderr, /verify +\[.*\] 100%/, 'a progress bar on stderr')
  const s = await SledBackend.open({ path: into })
  t.is(s.stats().entryCount, 100_001)
  t.is((await s.get('user:012345')).toString(), '{"n":12345}')
  await s.close()
  const again = await cli('restore', big.file, '--into', into)
  t.is(again.code, 64)
  t.regex(again.stderr, /not empty; use --force/)
  const forced = await cli('restore', big.file, '--into', into, '--force')
  t.is(forced.code, 0)
  t.regex(forced.stdout, /restored 100001 entries/)
})

test('restore into a directory held by a running process exits 75', async (t) => {
  const into = path.join(tempDir(t), 'held')
  const child = spawn(process.execPath, [fixture('sled-writer.mjs'), 'hold', into], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve) => child.stdout.on('data', (d) => String(d).includes('ready') && resolve()))
  try {
    const r = await cli('restore', big.file, '--into', into, '--force')
    t.is(r.code, 75)
    t.regex(r.stderr, /held by another open store/)
    const snap = await cli('snapshot', into, '--out', path.join(tempDir(t), 'x.skc'))
    t.is(snap.code, 75)
  } finally {
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
  }
})

test('export, import, then diff shows no difference', async (t) => {
  const dir = tempDir(t)
  const jsonl = path.join(dir, 'entries.jsonl')
  const ex = await cli('export', big.file, '--encoding', 'base64')
  t.is(ex.code, 0)
  fs.writeFileSync(jsonl, ex.stdout)
  const lines = ex.stdout.trim().split('\n')
  // A header line that names the encoding, then one line per record.
  t.is(lines.length, 100_002)
  t.deepEqual(JSON.parse(lines[0]), { statekit: 'export', version: 1, encoding: 'base64' })
  const first = JSON.parse(lines.find((l) => l.includes(Buffer.from('expiring').toString('base64'))))
  t.true(first.expiresAt > Date.now())
  const out = path.join(dir, 'imported.skc')
  const im = await cli('import', jsonl, '--out', out, '--encoding', 'base64')
  t.is(im.code, 0, im.stderr)
  const diff = await cli('diff', big.file, out, '--json')
  t.is(diff.code, 0)
  t.deepEqual(JSON.parse(diff.stdout), { added: [], removed: [], changed: [] })
  // A real difference is reported.
  const b = new MemoryBackend()
  await b.restore(out)
  await b.put('user:000001', 'changed')
  await b.delete('user:000002')
  await b.put('brand-new', 'x')
  await b.checkpoint(path.join(dir, 'changed.skc'))
  await b.close()
  const d2 = await cli('diff', out, path.join(dir, 'changed.skc'))
  t.regex(d2.stdout, /added 1, removed 1, changed 1/)
  t.regex(d2.stdout, /\+ brand-new/)
  // Bad input lines are data errors.
  fs.writeFileSync(path.join(dir, 'bad.jsonl'), '{"key":"a","value":"b"}\nnot json\n')
  const bad = await cli('import', path.join(dir, 'bad.jsonl'), '--out', path.join(dir, 'bad.skc'))
  t.is(bad.code, 65)
  t.regex(bad.stderr, /line 2 is not JSON/)
  t.false(fs.existsSync(path.join(dir, 'bad.skc')))
})

// Entries whose bytes each encoding must carry: binary ones for base64 and hex,
// text with non-ASCII characters for utf8.
async function roundTripSource(dir, encoding) {
  const b = new MemoryBackend()
  const entries = []
  for (let i = 0; i < 3000; i++) {
    if (encoding === 'utf8') entries.push([`clé:${i}:ü→✓`, `valeur ${i} 🙂`])
    else entries.push([Buffer.from([0xff, 0x00, i & 0xff, i >> 8, 0x80]), Buffer.from([0xc3, 0x28, i & 0xff, 0xfe])])
  }
  await b.putMany(entries)
  await b.put(encoding === 'utf8' ? 'ttl:ü' : Buffer.from([0xfe, 1]), 'x', { ttl: 3_600_000 })
  const info = await b.checkpoint(path.join(dir, `source-${encoding}.skc`))
  await b.close()
  return info.path
}

for (const encoding of ['utf8', 'base64', 'hex']) {
  test(`export --encoding ${encoding}, then a plain import, rebuilds the same entries`, async (t) => {
    const dir = tempDir(t)
    const source = await roundTripSource(dir, encoding)
    const ex = await cli('export', source, '--encoding', encoding)
    t.is(ex.code, 0, ex.stderr)
    const jsonl = path.join(dir, 'entries.jsonl')
    fs.writeFileSync(jsonl, ex.stdout)
    const out = path.join(dir, 'imported.skc')
    const im = await cli('import', jsonl, '--out', out)
    t.is(im.code, 0, im.stderr)
    const diff = await cli('diff', source, out, '--json')
    t.is(diff.code, 0, diff.stderr)
    t.deepEqual(JSON.parse(diff.stdout), { added: [], removed: [], changed: [] })
    const a = new MemoryBackend()
    const b = new MemoryBackend()
    t.is((await a.restore(source)).entries, (await b.restore(out)).entries)
    t.deepEqual(await b.listKeys(), await a.listKeys())
    await a.close()
    await b.close()
    // Import told another encoding than the header's is a usage error that writes nothing.
    const other = encoding === 'hex' ? 'base64' : 'hex'
    const clash = await cli('import', jsonl, '--out', path.join(dir, 'clash.skc'), '--encoding', other)
    t.is(clash.code, 64)
    t.regex(clash.stderr, new RegExp(`exported with --encoding ${encoding}`))
    t.false(fs.existsSync(path.join(dir, 'clash.skc')))
  })
}

test('export --encoding utf8 of bytes that are not UTF-8 is a data error, not a lossy file', async (t) => {
  const dir = tempDir(t)
  const source = await roundTripSource(dir, 'base64')
  const ex = await cli('export', source, '--encoding', 'utf8')
  t.is(ex.code, 65)
  t.regex(ex.stderr, /not valid UTF-8; export with --encoding base64 or hex/)
})

/** Runs the CLI with its stdout read by a reader that goes away after the first chunk. */
function cliClosedEarly(...args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let first = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.stdout.once('data', (d) => {
      first = String(d).split('\n')[0]
      child.stdout.destroy()
    })
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, first }))
  })
}

test('a reader that closes the pipe early (| head) ends the command quietly', async (t) => {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  await b.restore(big.file)
  for (let i = 0; i < 50_000; i++) b.deleteSync(`user:${String(i * 2).padStart(6, '0')}`)
  const other = (await b.checkpoint(path.join(dir, 'other.skc'))).path
  await b.close()
  for (const args of [
    ['diff', big.file, other, '--json'],
    ['diff', big.file, other],
    ['export', big.file],
    ['inspect', big.file, '--keys'],
  ]) {
    const r = await cliClosedEarly(...args)
    t.is(r.stderr, '', `${args.join(' ')}: nothing on stderr`)
    t.is(r.code, 0, `${args.join(' ')} exits 0`)
    t.true(r.first.length > 0)
  }
})

test('an incremental chain: list shows bases, restore applies the chain, prune keeps it whole', async (t) => {
  const dir = tempDir(t)
  const b = new MemoryBackend()
  const c = new CheckpointCoordinator(b, { dir, interval: 60_000, fullEvery: 3, maxCheckpoints: 100 })
  const made = []
  for (let i = 0; i < 5; i++) {
    await b.put(`k${i}`, String(i))
    if (i === 3) await b.delete('k0')
    made.push(await c.createCheckpoint())
  }
  t.deepEqual(made.map((m) => m.kind), ['full', 'incremental', 'incremental', 'full', 'incremental'])
  const rows = JSON.parse((await cli('list', dir, '--json')).stdout)
  t.is(rows[0].id, made[4].id)
  t.is(rows[0].baseId, made[3].id)
  const into = path.join(tempDir(t), 'state')
  const r = await cli('restore', made[2].path, '--into', into, '--json')
  t.is(r.code, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout).chain, [made[0].id, made[1].id, made[2].id])
  const s = await SledBackend.open({ path: into })
  t.deepEqual((await s.listKeys()).map(String), ['k0', 'k1', 'k2'])
  await s.close()
  // Keep 1: the newest is incremental, so its full base stays too.
  const p = await cli('prune', dir, '--keep', '1', '--json')
  t.is(p.code, 0)
  t.is(JSON.parse(p.stdout).deleted.length, 3)
  const left = JSON.parse((await cli('list', dir, '--json')).stdout).map((x) => x.id)
  t.deepEqual(left, [made[4].id, made[3].id])
  t.is((await cli('verify', dir)).code, 0)
  await b.close()
})

test('snapshot of a sled directory no process holds', async (t) => {
  const base = tempDir(t)
  const s = await SledBackend.open({ path: path.join(base, 'db') })
  await s.putMany([['a', '1'], ['b', '2']])
  await s.close()
  const r = await cli('snapshot', path.join(base, 'db'), '--out', path.join(base, 'snap.skc'), '--json')
  t.is(r.code, 0, r.stderr)
  t.is(JSON.parse(r.stdout).entries, 2)
  const missing = await cli('snapshot', path.join(base, 'nope'), '--out', path.join(base, 'x.skc'))
  t.is(missing.code, 66)
})
