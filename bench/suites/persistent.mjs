// Persistent stores: writes per second with a flush (durable commit) after every op
// and after every 1000 ops, puts without waiting for durability, and cached reads.
// statekit's SledBackend against lmdb, classic-level, better-sqlite3 as a key-value
// table, and a pure-JS file store (a Map saved with JSON.stringify, as node-persist
// or lowdb do).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open as openLmdb } from 'lmdb'
import { ClassicLevel } from 'classic-level'
import Database from 'better-sqlite3'
import { statekitModule } from '../lib/loop.mjs'
import { median, fmt, goalSection, table, writeSuite } from '../lib/report.mjs'

const { SledBackend } = await statekitModule()

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5
const N = quick ? 2_000 : 100_000
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-pbench-'))
const keys = Array.from({ length: N }, (_, i) => `key:${String(i).padStart(11, '0')}`)
const value = Buffer.alloc(100, 'v')
const rnd = () => keys[Math.floor(Math.random() * N)]

async function rate(fn, ops) {
  const runs = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now()
    await fn()
    runs.push(ops / ((performance.now() - t0) / 1000))
  }
  return median(runs)
}

const sled = await SledBackend.open({ path: path.join(dir, 'sled'), flushEveryMs: null })
const lmdb = openLmdb({ path: path.join(dir, 'lmdb'), encoding: 'binary' })
const level = new ClassicLevel(path.join(dir, 'level'), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
await level.open()
const sqlite = new Database(path.join(dir, 'sqlite.db'))
sqlite.pragma('journal_mode = WAL')
sqlite.pragma('synchronous = FULL')
sqlite.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID')
const sqlPut = sqlite.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)')
const sqlGet = sqlite.prepare('SELECT v FROM kv WHERE k = ?').pluck()
const sqlMany = sqlite.transaction((ks) => { for (const k of ks) sqlPut.run(k, value) })
const jsonPath = path.join(dir, 'store.json')
const jsonMap = new Map()
const jsonSave = () => {
  const fd = fs.openSync(jsonPath + '.tmp', 'w')
  fs.writeSync(fd, JSON.stringify(Object.fromEntries([...jsonMap].map(([k, v]) => [k, v.toString('base64')]))))
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(jsonPath + '.tmp', jsonPath)
}

// Fill each store.
for (let i = 0; i < N; i += 1000) {
  const chunk = keys.slice(i, i + 1000)
  sled.putManySync(chunk.map((k) => [k, value]))
  await lmdb.transaction(() => { for (const k of chunk) lmdb.put(k, value) })
  await level.batch(chunk.map((k) => ({ type: 'put', key: k, value })))
  sqlMany(chunk)
  for (const k of chunk) jsonMap.set(k, value)
}
await sled.flush()
jsonSave()

const stores = {
  statekit: {
    durableEach: async () => { sled.putSync(rnd(), value); await sled.flush() },
    durable1000: async () => { for (let j = 0; j < 1000; j++) sled.putSync(rnd(), value); await sled.flush() },
    put: () => sled.putSync(rnd(), value),
    get: () => sled.getSync(rnd()),
  },
  lmdb: {
    durableEach: async () => { await lmdb.put(rnd(), value) },
    durable1000: async () => { let last; for (let j = 0; j < 1000; j++) last = lmdb.put(rnd(), value); await last },
    put: () => lmdb.put(rnd(), value),
    get: () => lmdb.get(rnd()),
  },
  'classic-level': {
    durableEach: async () => { await level.put(rnd(), value, { sync: true }) },
    durable1000: async () => { await level.batch(Array.from({ length: 1000 }, () => ({ type: 'put', key: rnd(), value })), { sync: true }) },
    put: () => level.put(rnd(), value),
    get: () => level.get(rnd()),
  },
  'better-sqlite3': {
    durableEach: async () => { sqlPut.run(rnd(), value) },
    durable1000: async () => { sqlMany(Array.from({ length: 1000 }, rnd)) },
    put: () => sqlPut.run(rnd(), value),
    get: () => sqlGet.get(rnd()),
  },
  'JSON file': {
    durableEach: async () => { jsonMap.set(rnd(), value); jsonSave() },
    durable1000: async () => { for (let j = 0; j < 1000; j++) jsonMap.set(rnd(), value); jsonSave() },
    put: () => jsonMap.set(rnd(), value),
    get: () => jsonMap.get(rnd()),
  },
}

const results = {}
for (const [name, s] of Object.entries(stores)) {
  const each = name === 'JSON file' ? (quick ? 5 : 20) : quick ? 50 : 300
  const r = {}
  r.durableEach = await rate(async () => { for (let j = 0; j < each; j++) await s.durableEach() }, each)
  const batches = name === 'JSON file' ? 2 : quick ? 2 : 20
  r.durable1000 = await rate(async () => { for (let j = 0; j < batches; j++) await s.durable1000() }, batches * 1000)
  results[name] = r
}
// put and cached get: timed loops, every store in each round, alternating order.
const PUTS = quick ? 5_000 : 500_000
const GETS = quick ? 10_000 : 1_000_000
const timed = Object.fromEntries(Object.keys(stores).map((n) => [n, { put: [], get: [] }]))
for (let round = 0; round < ROUNDS; round++) {
  const names = Object.keys(stores)
  for (const name of round % 2 === 0 ? names : names.reverse()) {
    const s = stores[name]
    for (const [op, count] of [['put', PUTS], ['get', GETS]]) {
      const t0 = performance.now()
      let last
      for (let j = 0; j < count; j++) last = s[op]()
      await last
      timed[name][op].push(count / ((performance.now() - t0) / 1000))
    }
  }
}
for (const [name, t] of Object.entries(timed)) {
  results[name].put = median(t.put)
  results[name].get = median(t.get)
}

await sled.close()
await lmdb.close()
await level.close()
sqlite.close()
fs.rmSync(dir, { recursive: true, force: true })

const names = Object.keys(stores)
const ratio = (a, b) => `${(a / b).toFixed(2)}x`
const rows = names.map((n) => [n, fmt(results[n].durableEach), fmt(results[n].durable1000), fmt(results[n].put), fmt(results[n].get)])
const s = results.statekit
const goals = [
  ['SledBackend cached getSync vs lmdb\'s sync get', ratio(s.get, results.lmdb.get), '≥ 1.2x', s.get >= 1.2 * results.lmdb.get],
  ['SledBackend put vs classic-level put', ratio(s.put, results['classic-level'].put), '≥ 3x', s.put >= 3 * results['classic-level'].put],
]
writeSuite('persistent', {
  title: 'Persistent stores',
  intro: `${N.toLocaleString('en-US')} keys, 100-byte values, random keys; median of ${ROUNDS} round(s); put and cached get are loops of ${PUTS.toLocaleString('en-US')} and ${GETS.toLocaleString('en-US')} operations, every store in each round, alternating order. "durable" rows wait for a flush to disk: statekit \`flush()\`, lmdb's committed write, classic-level \`sync: true\`, SQLite WAL with \`synchronous = FULL\`, the JSON file fsynced and renamed. "put" does not wait for durability. Reproduce: \`npm run bench -- --suite persistent\`.`,
  sections: [
    goalSection('persistent', goals, quick),
    '## Results (ops/s)\n\n' + table(['store', 'durable, flush every op', 'durable, flush every 1000 ops', 'put', 'cached get'], rows),
  ],
  chart: { title: 'Persistent stores: put and cached get', unit: 'ops/s', rows: names.flatMap((n) => [[`put: ${n}`, results[n].put], [`get: ${n}`, results[n].get]]) },
  quick,
})
