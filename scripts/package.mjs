// npm run package: builds the addon in release mode (unless it is built already and
// --reuse is given), generates the platform package npm/<platform>/ (os, cpu, libc)
// holding the .node file, stages the root package with an exact-version
// optionalDependency on it and no .node file and no install script, and packs both
// into npm/tarballs/. Prints the tarballs' paths and sizes.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)))
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
// The targets this machine builds and tests; package.json's napi.targets lists the
// others for a release pipeline.
const PLATFORM = { triple: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' }
const binary = `${pkg.napi.binaryName}.${PLATFORM.triple}.node`
const built = path.join(root, 'native', binary)
const run = (cmd, args, cwd = root) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })

if (!(process.argv.includes('--reuse') && fs.existsSync(built))) {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
}
if (!fs.existsSync(built)) throw new Error(`the build produced no ${built}`)

const npmDir = path.join(root, 'npm')
const out = path.join(npmDir, 'tarballs')
fs.rmSync(npmDir, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

// The platform package.
const platName = `${pkg.name}-${PLATFORM.triple}`
const platDir = path.join(npmDir, PLATFORM.triple)
fs.mkdirSync(platDir, { recursive: true })
fs.copyFileSync(built, path.join(platDir, binary))
fs.writeFileSync(path.join(platDir, 'package.json'), JSON.stringify({
  name: platName,
  version: pkg.version,
  description: `The ${PLATFORM.triple} binary of ${pkg.name}`,
  license: pkg.license,
  main: binary,
  files: [binary],
  os: [PLATFORM.os],
  cpu: [PLATFORM.cpu],
  libc: [PLATFORM.libc],
  engines: pkg.engines,
}, null, 2) + '\n')
fs.writeFileSync(path.join(platDir, 'README.md'), `# ${platName}\n\nThe prebuilt ${PLATFORM.triple} binary of [${pkg.name}](../../README.md). Install \`${pkg.name}\`, not this.\n`)

// The root package, staged: no scripts, no devDependencies, the platform package as
// an exact-version optional dependency.
const stage = path.join(npmDir, 'root')
fs.mkdirSync(path.join(stage, 'native'), { recursive: true })
fs.cpSync(path.join(root, 'dist'), path.join(stage, 'dist'), { recursive: true })
for (const f of ['native/index.js', 'native/index.d.ts', 'README.md']) fs.copyFileSync(path.join(root, f), path.join(stage, f))
const { scripts, devDependencies, allowScripts, ava, ...published } = pkg
published.optionalDependencies = { ...(pkg.optionalDependencies ?? {}), [platName]: pkg.version }
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(published, null, 2) + '\n')

const tarballs = []
for (const dir of [stage, platDir]) {
  const file = run('npm', ['pack', '--pack-destination', out, '--silent'], dir).trim().split('\n').pop()
  tarballs.push(path.join(out, file))
}
for (const t of tarballs) console.log(`${t}\t${fs.statSync(t).size} bytes`)
