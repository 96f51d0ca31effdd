// The adapters: keyv over statekit (statekit/keyv) against keyv's default Map store
// and @keyv/bigmap (an official in-memory keyv store), and abstract-level over
// statekit (statekit/level) against memory-level and classic-level. Every operation
// goes through the ecosystem's own API, so the rows compare what an application sees.
// @keyv/sqlite is not here: its sqlite3 dependency needs an install script, which
// package.json's allowScripts denies.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Keyv from 'keyv'
import { createKeyv as createBigMapKeyv } from '@keyv/bigmap'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import { MemoryBackend, SledBackend } from '../../dist/index.js'
import { createKeyv } from '../../dist/keyv.js'
import { StatekitLevel } from '../../dist/level.js'
import { measure } from '../lib/measure.mjs'
import { fmt, table, writeSuite } from '../lib/report.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3
const TIME = quick ? 30 : 300
const N = quick ? 2_000 : 50_000
const TTL = 3_600_000
const RANGE = 100
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-abench-'))
const keys = Array.from({ length: N }, (_, i) => `key:${String(i).padStart(11, '0')}`)
const rnd = () => keys[Math.floor(Math.random() * N)]
let sink = 0

// keyv: the same JSON value through each store; keyv serializes it.
const keyvValue = { user: 'ada', visits: 42, tags: ['a', 'b', 'c'], note: 'x'.repeat(40) }
const memoryBackend = new MemoryBackend()
const sledBackend = await SledBackend.open({ path: path.join(dir, 'keyv-sled') })
const keyvs = {
  'Keyv (default Map)': new Keyv(),
  '@keyv/bigmap': createBigMapKeyv(),
  'statekit/keyv, memory': createKeyv(memoryBackend),
  'statekit/keyv, sled': createKeyv(sledBackend),
}
for (const kv of Object.values(keyvs)) {
  for (let i = 0; i < N; i += 1000) await kv.setMany(keys.slice(i, i + 1000).map((key) => ({ key, value: keyvValue, ttl: TTL })))
}
const keyvTasks = {}
for (const [name, kv] of Object.entries(keyvs)) {
  keyvTasks[`get | ${name}`] = async () => { sink ^= (await kv.get(rnd())).visits }
  keyvTasks[`set with TTL | ${name}`] = async () => { await kv.set(rnd(), keyvValue, TTL) }
  keyvTasks[`getMany of ${RANGE} | ${name}`] = async () => { const i = Math.floor(Math.random() * (N - RANGE)); sink ^= (await kv.getMany(keys.slice(i, i + RANGE))).length }
}
const kr = await measure(keyvTasks, { rounds: ROUNDS, time: TIME })

// level: 100-byte values, utf8 keys, buffer values.
const value = Buffer.alloc(100, 'v')
const levels = {
  'memory-level': new MemoryLevel({ valueEncoding: 'buffer' }),
  'classic-level': new ClassicLevel(path.join(dir, 'classic'), { valueEncoding: 'buffer' }),
  'statekit/level, memory': new StatekitLevel({ valueEncoding: 'buffer' }),
  'statekit/level, sled': new StatekitLevel({ location: path.join(dir, 'level-sled'), valueEncoding: 'buffer' }),
}
for (const db of Object.values(levels)) {
  await db.open()
  for (let i = 0; i < N; i += 1000) await db.batch(keys.slice(i, i + 1000).map((key) => ({ type: 'put', key, value })))
}
const levelTasks = {}
for (const [name, db] of Object.entries(levels)) {
  levelTasks[`get | ${name}`] = async () => { sink ^= (await db.get(rnd())).length }
  levelTasks[`put | ${name}`] = async () => { await db.put(rnd(), value) }
  levelTasks[`batch of ${RANGE} puts | ${name}`] = async () => { const i = Math.floor(Math.random() * (N - RANGE)); await db.batch(keys.slice(i, i + RANGE).map((key) => ({ type: 'put', key, value }))) }
  levelTasks[`iterate ${RANGE} entries | ${name}`] = async () => { sink ^= (await db.iterator({ gte: rnd(), limit: RANGE }).all()).length }
}
const lr = await measure(levelTasks, { rounds: ROUNDS, time: TIME })

function rows(r, stores, perOp) {
  const out = []
  const ops = [...new Set([...r.keys()].map((k) => k.split(' | ')[0]))]
  for (const op of ops) {
    for (const name of Object.keys(stores)) {
      const m = r.get(`${op} | ${name}`)
      out.push([op, name, fmt(m.ops * (perOp[op] ?? 1)), fmt(m.p50 / 1000), fmt(m.p99 / 1000)])
    }
  }
  return out
}
const head = ['operation', 'store', 'ops/s (keys/s for batches)', 'p50 µs', 'p99 µs']
writeSuite('adapters', {
  title: 'Adapters: keyv and abstract-level',
  intro: `${N.toLocaleString('en-US')} keys per store; median of ${ROUNDS} round(s) of ${TIME} ms per task, tasks interleaved. Every call goes through the ecosystem's API (async). keyv values are a ~100-byte JSON object that keyv serializes; level values are 100-byte buffers. The sled rows and classic-level do not wait for durability. @keyv/sqlite is left out: its sqlite3 dependency needs an install script, which allowScripts denies. Reproduce: \`npm run bench -- --suite adapters\`.`,
  sections: [
    '## keyv\n\n' + table(head, rows(kr, keyvs, { [`getMany of ${RANGE}`]: RANGE })),
    '## abstract-level\n\n' + table(head, rows(lr, levels, { [`batch of ${RANGE} puts`]: RANGE, [`iterate ${RANGE} entries`]: RANGE })),
  ],
  chart: {
    title: 'keyv get and abstract-level get through each store',
    unit: 'ops/s',
    rows: [
      ...Object.keys(keyvs).map((name) => [`keyv get: ${name}`, kr.get(`get | ${name}`).ops]),
      ...Object.keys(levels).map((name) => [`level get: ${name}`, lr.get(`get | ${name}`).ops]),
    ],
  },
  quick,
})

for (const db of Object.values(levels)) await db.close()
await memoryBackend.close()
await sledBackend.close()
fs.rmSync(dir, { recursive: true, force: true })
if (sink === 0.5) console.log(sink)
