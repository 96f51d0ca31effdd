#!/usr/bin/env node
// Installs moto's S3 server (a real S3-compatible server, run on loopback by the tests)
// into a Python virtual environment under .cache/moto-venv, once. Idempotent: a venv
// whose marker names the pinned versions is left as it is. Run by `npm test` (pretest)
// and by .ci/run.
//
//   node scripts/moto.mjs          install if missing, print the server's path
//   node scripts/moto.mjs --check  exit 1 (with the reason) if it is not installed
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const venv = path.join(root, '.cache', 'moto-venv')
const PINS = ['moto[s3]==5.2.5', 'flask==3.1.3', 'flask-cors==6.0.5']
const marker = path.join(venv, 'statekit-pins.txt')
const bin = process.platform === 'win32' ? path.join(venv, 'Scripts') : path.join(venv, 'bin')
const server = path.join(bin, process.platform === 'win32' ? 'moto_server.exe' : 'moto_server')

const installed = () => fs.existsSync(server) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === PINS.join('\n')

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' })
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`)
}

const python = () => {
  for (const p of ['python3', 'python']) {
    const r = spawnSync(p, ['--version'], { encoding: 'utf8' })
    if (r.status === 0) return p
  }
  throw new Error('no python3 on the PATH: moto (the S3 server the tests use) needs Python 3.9 or newer')
}

function main() {
  if (process.argv.includes('--check')) {
    if (installed()) return console.log(server)
    console.error(`moto is not installed in ${venv}: run node scripts/moto.mjs`)
    process.exit(1)
  }
  if (installed()) return console.log(server)
  const py = python()
  // Debian ships the venv module separately; install it only where we may.
  if (spawnSync(py, ['-c', 'import venv, ensurepip']).status !== 0) {
    if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) run('apt-get', ['install', '-y', 'python3-venv'])
    else throw new Error(`${py} has no venv/ensurepip module: install python3-venv`)
  }
  fs.rmSync(venv, { recursive: true, force: true })
  fs.mkdirSync(path.dirname(venv), { recursive: true })
  console.error(`statekit: installing ${PINS.join(', ')} into ${venv}`)
  run(py, ['-m', 'venv', venv])
  run(path.join(bin, 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...PINS])
  fs.writeFileSync(marker, PINS.join('\n'))
  console.log(server)
}

try {
  main()
} catch (e) {
  console.error(`statekit: cannot install moto's S3 server: ${e.message}`)
  process.exit(1)
}
