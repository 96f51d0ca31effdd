import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const DIST = fileURLToPath(new URL('../dist/', import.meta.url))

// The public typings: every file the package's entry points export from.
const FILES = ['index.d.ts', 'types.d.ts', 'checkpoint.d.ts', 'memory-backend.d.ts', 'sled-backend.d.ts', 'native-backend.d.ts', 'coordinator.d.ts', 'recovery.d.ts', 'metrics.d.ts', 'shutdown.d.ts', 'codecs.d.ts', 'typed-store.d.ts', 'errors.d.ts']

function members(file) {
  const text = fs.readFileSync(path.join(DIST, file), 'utf8')
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const out = []
  const visit = (node, owner) => {
    if (ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) {
      const name = node.name?.text ?? '?'
      for (const m of node.members) {
        if (!m.name || ts.isConstructorDeclaration(m)) continue
        const modifiers = ts.getCombinedModifierFlags(m)
        if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue
        if (ts.isPrivateIdentifier(m.name)) continue
        const docs = ts.getJSDocCommentsAndTags(m).map((d) => d.getText(sf)).join('\n')
        out.push({ where: `${file}: ${name}.${m.name.getText(sf)}`, docs, internal: /@internal/.test(docs) })
      }
    }
    ts.forEachChild(node, (c) => visit(c, owner))
  }
  visit(sf)
  return out
}

test('every member of the public interfaces and classes has its own TSDoc', (t) => {
  const missing = FILES.flatMap(members).filter((m) => !m.internal && m.docs.trim() === '').map((m) => m.where)
  t.deepEqual(missing, [])
})

test('the sync methods are documented on their own, not as a link to the async ones', (t) => {
  const sync = members('types.d.ts').filter((m) => /StateBackend\.\w+Sync$/.test(m.where))
  t.is(sync.length, 4)
  for (const m of sync) {
    t.notRegex(m.docs, /^\/\*\*\s*\{@link [^}]+\}, synchronously\.\s*\*\/$/, m.where)
    t.true(m.docs.length > 80, `${m.where} says what it does`)
  }
})

test('CheckpointInfo.kind and durationMs, and RestoreInfo.durationMs, are documented', (t) => {
  const all = members('checkpoint.d.ts')
  for (const name of ['CheckpointInfo.kind', 'CheckpointInfo.durationMs', 'RestoreInfo.durationMs']) {
    const m = all.find((x) => x.where.endsWith(name))
    t.truthy(m?.docs.trim(), name)
  }
})
