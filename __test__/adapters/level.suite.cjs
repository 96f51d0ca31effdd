// abstract-level's compliance suite, unpatched, against StatekitLevel on one tier:
//   node __test__/adapters/level.suite.cjs memory|sled
// The suite makes about 800 databases and closes about half of them; they must be
// cheap and must not keep the process alive. Sled databases live in one temporary
// directory (in /dev/shm when there is one), removed when the process exits.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const test = require('tape')
const suite = require('abstract-level/test')
const { StatekitLevel } = require('../../dist/level.js')

const tier = process.argv[2]
if (tier !== 'memory' && tier !== 'sled') {
  console.error('usage: node __test__/adapters/level.suite.cjs memory|sled')
  process.exit(64)
}

let factory
if (tier === 'memory') {
  factory = (options) => new StatekitLevel(options)
} else {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()
  const root = fs.mkdtempSync(path.join(base, 'statekit-level-suite-'))
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }))
  let n = 0
  factory = (options) => new StatekitLevel({ ...options, location: path.join(root, String(n++)) })
}

// The TAP stream is about 6,000 lines a tier: print the failures with their
// diagnostics, then a summary of tests and assertions.
const started = Date.now()
let tests = 0
let assertions = 0
let failed = 0
let inFailure = false
test.createStream().on('data', (line) => {
  for (const l of String(line).split('\n')) {
    if (/^(not )?ok \d+/.test(l)) {
      assertions++
      inFailure = l.startsWith('not ok')
      if (inFailure) failed++
    } else if (/^# /.test(l) && !/^# (tests|pass|fail|ok)\b/.test(l)) {
      tests++
      inFailure = false
      continue
    }
    if (inFailure) console.log(l)
  }
})
test.onFinish(() => {
  const s = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`abstract-level suite, ${tier} tier: ${tests} tests, ${assertions} assertions, ${failed} failed, ${s} s`)
  if (failed > 0 || assertions === 0) process.exitCode = 1
})
suite({ test, factory })
