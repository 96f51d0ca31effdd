// Starts moto's S3 server (installed by scripts/moto.mjs) on 127.0.0.1 at a free port
// and waits until it answers. Used by the tests and the S3 benchmark.
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Resolves { child, endpoint } once GET /moto-api/ answers; rejects with the reason.
 * `env` adds environment variables (INITIAL_NO_AUTH_ACTION_COUNT=0 makes it check credentials).
 */
export async function startMoto(env = {}) {
  const check = spawnSync(process.execPath, [path.join(root, 'scripts', 'moto.mjs'), '--check'], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`moto's S3 server is not installed (${check.stderr.trim()}); run: node scripts/moto.mjs`)
  const bin = check.stdout.trim()
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true', ...env } })
  let log = ''
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`moto's S3 server did not start within 30 s:\n${log}`)), 30_000)
    const onData = (d) => {
      log += d
      const m = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('error', (e) => reject(new Error(`cannot start moto's S3 server ${bin}: ${e.message}`)))
    child.once('exit', (code) => reject(new Error(`moto's S3 server exited with ${code} before it was ready:\n${log}`)))
  })
  child.stdout.resume()
  child.stderr.resume()
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/moto-api/`)
      if (r.ok) break
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`moto's S3 server at ${endpoint} never answered GET /moto-api/`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, endpoint }
}
