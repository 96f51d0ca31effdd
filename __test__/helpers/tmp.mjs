import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

// A fresh temporary directory, removed when the test ends.
export function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-test-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}
