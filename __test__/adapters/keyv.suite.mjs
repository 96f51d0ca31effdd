// keyv's compliance suite (@keyv/test-suite), unpatched, against KeyvStatekit on both
// tiers. The suite calls its store factory hundreds of times; every adapter it gets
// wraps one shared open backend per tier (a sled directory cannot be opened twice).
//
// keyvTestSuite (api, values, namespace) runs with stock Keyv. keyvIteratorTests runs
// with Keyv instances made by createKeyv: keyv 5 wires iterator() only for its own
// dialects, and createKeyv wires it for statekit (see ts/keyv.ts).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as test from 'vitest'
import Keyv from 'keyv'
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import { MemoryBackend, SledBackend } from '../../dist/index.js'
import { KeyvStatekit, createKeyv } from '../../dist/keyv.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-keyv-suite-'))
const tiers = {
  memory: new MemoryBackend(),
  sled: await SledBackend.open({ path: path.join(dir, 'sled') }),
}

test.afterAll(async () => {
  for (const backend of Object.values(tiers)) await backend.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

// A Keyv-compatible constructor for the suite: `new KeyvWithIterator({ store, ...opts })`
// is createKeyv(store, opts). One test of the suite makes a Keyv with no store (keyv's
// default Map); that one is a stock Keyv.
function KeyvWithIterator({ store, ...options } = {}) {
  return store === undefined ? new Keyv(options) : createKeyv(store, options)
}

// Tests and assertions per tier, printed at the end (vitest reports only tests).
const counts = {}
function counted(name, register) {
  counts[name] ??= { tests: 0, assertions: 0 }
  test.afterEach((ctx) => {
    counts[name].tests++
    counts[name].assertions += ctx.expect.getState().assertionCalls
  })
  register()
}
test.afterAll(() => {
  for (const [name, c] of Object.entries(counts)) console.log(`keyv suite, ${name}: ${c.tests} tests, ${c.assertions} assertions`)
})

for (const [tier, backend] of Object.entries(tiers)) {
  const store = () => new KeyvStatekit(backend)
  test.describe(`KeyvStatekit (${tier} tier) with Keyv`, () => {
    counted(`${tier} tier`, () => keyvTestSuite(test, Keyv, store))
  })
  test.describe(`KeyvStatekit (${tier} tier) with createKeyv`, () => {
    counted(`${tier} tier`, () => {
      keyvTestSuite(test, KeyvWithIterator, store)
      keyvIteratorTests(test, KeyvWithIterator, store)
    })
  })
}
