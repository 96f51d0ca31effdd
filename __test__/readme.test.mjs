// Runs every code example of README.md as written, extracted from the README itself
// (so a later edit of it is tested too), in a fresh directory against this package.
//
// Each fenced block with a language is one of:
// - run: a `ts`/`js` block, type-checked (TypeScript `strict`, `nodenext`) and run with
//   Node in a fresh directory, where `statekit` resolves to this checkout;
// - `<!-- readme-test: continues -->` on the line before: appended to the block before
//   it (imports merged), as a README section builds on its previous example;
// - `<!-- readme-test: skip: <reason> -->`: shown, not run (a reason is required).
// Any other block (a shell block without a marker, say) fails the test.
import test from 'ava'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')

/** The README's fenced blocks with a language, with the marker before each. */
function blocks(text) {
  const lines = text.split('\n')
  const out = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i])
    if (!open) {
      if (/^```\s*$/.test(lines[i])) {
        // A block without a language (a file tree): skip to its end.
        const end = lines.indexOf('```', i + 1)
        i = end === -1 ? lines.length : end
      }
      continue
    }
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l))
    if (end === -1) throw new Error(`README.md:${i + 1}: unclosed code block`)
    const marker = /^<!-- readme-test: (continues|skip: (.+)) -->$/.exec(lines[i - 1] ?? '')
    out.push({ line: i + 1, lang: open[1], code: lines.slice(i + 1, end).join('\n'), marker: marker?.[1]?.startsWith('skip') ? 'skip' : marker?.[1], reason: marker?.[2] })
    i = end
  }
  return out
}

/** Merges the import declarations of concatenated blocks, so a name is imported once. */
function mergeImports(code) {
  const named = new Map()
  const other = []
  const body = []
  for (const line of code.split('\n')) {
    const m = /^import \{([^}]*)\} from '([^']+)'/.exec(line)
    if (m) {
      const set = named.get(m[2]) ?? new Set()
      for (const n of m[1].split(',').map((s) => s.trim()).filter(Boolean)) set.add(n)
      named.set(m[2], set)
    } else if (/^import /.test(line)) {
      if (!other.includes(line)) other.push(line)
    } else body.push(line)
  }
  const imports = [...other, ...[...named].map(([from, names]) => `import { ${[...names].join(', ')} } from '${from}'`)]
  return [...imports, ...body].join('\n')
}

/** The runnable units: a block, plus the blocks that continue it. */
function units() {
  const out = []
  for (const b of blocks(README)) {
    if (b.marker === 'skip') {
      if (!b.reason?.trim()) throw new Error(`README.md:${b.line}: a skipped block needs a reason`)
      continue
    }
    if (b.lang !== 'ts' && b.lang !== 'js') throw new Error(`README.md:${b.line}: a \`${b.lang}\` block is neither run nor marked <!-- readme-test: skip: reason -->`)
    if (b.marker === 'continues') {
      const prev = out.at(-1)
      if (!prev) throw new Error(`README.md:${b.line}: nothing to continue`)
      prev.parts.push(b)
      prev.ts ||= b.lang === 'ts'
    } else out.push({ parts: [b], ts: b.lang === 'ts' })
  }
  return out.map((u) => ({ ...u, name: `README.md:${u.parts.map((p) => p.line).join('+')}`, code: mergeImports(u.parts.map((p) => p.code).join('\n')) }))
}

function run(cmd, args, cwd, timeout = 20_000) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout, killSignal: 'SIGKILL', env: { ...process.env, STATEKIT_CONTROL_TOKEN: '', STATEKIT_CONTROL_TOKEN_FILE: '' } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.killed ? 'timeout' : err.code) : 0, stdout, stderr }),
    )
  })
}

/** A fresh project directory where `statekit` (and the examples' other imports) resolve. */
function freshProject(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-readme-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'statekit'), 'dir')
  for (const dep of ['keyv', 'prom-client', '@types']) fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep), 'dir')
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-examples', private: true, type: 'module' }))
  return dir
}

const UNITS = units()

test('the README has runnable examples, and every block is run or skipped for a reason', (t) => {
  t.true(UNITS.length >= 7, `${UNITS.length} runnable examples`)
  t.true(blocks(README).some((b) => b.marker === 'continues'))
})

test('the README\'s TypeScript examples type-check under strict and nodenext', async (t) => {
  const dir = freshProject(t)
  const files = []
  UNITS.forEach((u, i) => {
    if (!u.ts) return
    const file = `example-${i}.mts`
    fs.writeFileSync(path.join(dir, file), `// ${u.name}\n${u.code}\nexport {}\n`)
    files.push(file)
  })
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'], skipLibCheck: true }, files }),
  )
  const r = await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir, 60_000)
  t.is(r.code, 0, r.stdout + r.stderr)
})

for (const [i, u] of UNITS.entries()) {
  test(`${u.name} runs as written in a fresh directory`, async (t) => {
    const dir = freshProject(t)
    const js = u.ts ? ts.transpileModule(u.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText : u.code
    fs.writeFileSync(path.join(dir, `example-${i}.mjs`), js)
    const r = await run(process.execPath, [`example-${i}.mjs`], dir)
    t.is(r.code, 0, `${u.name} failed:\n${r.stderr}`)
  })
}
