// The seed 000 example (examples/process-state.mjs), run as a program and driven over
// real HTTP through its control server.
import test from 'ava'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parsePrometheus } from './helpers/control.mjs'
import { tempDir } from './helpers/tmp.mjs'

const example = fileURLToPath(new URL('../examples/process-state.mjs', import.meta.url))
const demo = fileURLToPath(new URL('../examples/demo.mjs', import.meta.url))

// Starts the example; resolves once its control server listens, with the URL, the
// token (read from the token file it wrote), its log lines so far and its exit.
function run(t, args, script = example) {
  const child = spawn(process.execPath, [script, ...args], { cwd: path.dirname(example), env: { ...process.env, STATEKIT_CONTROL_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  const lines = []
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })))
  readline.createInterface({ input: child.stdout }).on('line', (l) => lines.push(l))
  const ready = new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const line = lines.find((l) => l.includes('Control server listening'))
      if (line) {
        clearInterval(poll)
        const url = /url=(\S+)/.exec(line)[1]
        const tokenFile = /token_file=(\S+)/.exec(line)[1]
        resolve({ url, token: fs.readFileSync(tokenFile, 'utf8').trim(), tokenFile })
      }
    }, 20)
    exited.then((e) => {
      clearInterval(poll)
      reject(new Error(`the example exited before listening: ${JSON.stringify(e)} ${lines.join('\n')}`))
    })
  })
  return { child, lines, exited, ready }
}

async function get(url, token, p, init = {}) {
  const res = await fetch(`${url}${p}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } })
  const text = await res.text()
  return { status: res.status, text, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined }
}

test('the process-state example runs for a few seconds, serves its control API with a token, and exits 0; run again, it resumes and stops on SIGTERM', async (t) => {
  const dir = tempDir(t)
  // A TTL well over the time from the first run's last report to the second run's open
  // (with 1.5 s, a loaded machine let every record expire in between: entries=0).
  const r = run(t, ['--duration', '6', '--port', '0', '--dir', dir, '--ttl', '10000', '--processes', '5'])
  const { url, token, tokenFile } = await r.ready
  t.is(fs.statSync(tokenFile).mode & 0o777, 0o600)
  t.false(r.lines.join('\n').includes(token), 'the token is never printed')
  t.is((await get(url, 'wrong-token-0123456789abcdef', '/')).status, 401)
  t.is((await fetch(`${url}/readyz`)).status, 200)
  // Wait for the first records.
  let status
  for (let i = 0; i < 50; i++) {
    status = await get(url, token, '/')
    if (status.body.entries >= 5) break
    await new Promise((res) => setTimeout(res, 100))
  }
  t.is(status.status, 200)
  t.is(status.body.tier, 'sled')
  t.true(status.body.entries >= 5)
  const cp = await get(url, token, '/checkpoint', { method: 'POST', body: JSON.stringify({ metadata: { by: 'test' } }) })
  t.is(cp.status, 201)
  t.is(cp.body.metadata.by, 'test')
  t.true(cp.body.entries >= 5)
  const list = await get(url, token, '/checkpoints')
  t.is(list.body.checkpoints[0].id, cp.body.id)
  const metrics = await get(url, token, '/metrics')
  const { samples } = parsePrometheus(metrics.text)
  t.true(samples.process_state_entries >= 5)
  t.true(samples['process_state_checkpoints_total{result="success"}'] >= 1)
  const config = await get(url, token, '/config')
  t.like(config.body.app, { example: 'process-state', tier: 'sled', ttlMs: 10000 })
  t.false(config.text.includes(token))
  const { code, stderr } = await r.exited
  t.is(stderr, '')
  t.is(code, 0)
  const out = r.lines.join('\n')
  t.regex(out, /Final checkpoint/)
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'manifest.json'), 'utf8'))
  t.true(manifest.checkpoints.length >= 2)

  // A second run, until a signal, resumes the records the first left (sled keeps
  // them), restores through POST /restore, and shuts down on SIGTERM.
  const again = run(t, ['--duration', '0', '--port', '0', '--dir', dir, '--ttl', '60000', '--processes', '5'])
  const second = await again.ready
  t.regex(again.lines.join('\n'), /Store open +tier=sled entries=[1-9]/)
  const restored = await get(second.url, second.token, '/restore', { method: 'POST' })
  t.is(restored.status, 200)
  t.true(restored.body.restored)
  again.child.kill('SIGTERM')
  const end = await again.exited
  t.is(end.stderr, '')
  t.is(end.code, 0)
})

test('the example through npm run demo -- process-state on the memory tier restores on start and shuts down on SIGINT', async (t) => {
  const dir = tempDir(t)
  const first = run(t, ['process-state', '--tier', 'memory', '--duration', '2', '--port', '0', '--dir', dir], demo)
  await first.ready
  t.is((await first.exited).code, 0)
  const [, finalId, finalEntries] = /Final checkpoint +id=(\d+) tick=\d+ entries=(\d+)/.exec(first.lines.join('\n'))
  const second = run(t, ['process-state', '--tier', 'memory', '--duration', '0', '--port', '0', '--dir', dir], demo)
  const { url, token } = await second.ready
  t.regex(second.lines.join('\n'), new RegExp(`Restored from checkpoint +id=${finalId} entries=${finalEntries} `))
  const status = await get(url, token, '/')
  t.true(status.body.entries >= Number(finalEntries))
  second.child.kill('SIGINT')
  const { code, stderr } = await second.exited
  t.is(stderr, '')
  t.is(code, 0)
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'manifest.json'), 'utf8'))
  t.true(manifest.checkpoints.at(-1).id > Number(finalId), 'a final checkpoint on SIGINT')
  t.regex(second.lines.join('\n'), /Checkpoint created/)
})
