// Where each nanosecond of getSync, putSync, getMany and putMany goes, at 1K, 100K and
// 1M keys (16-character ASCII keys, 100-byte values, uniform access).
//
//   node --expose-gc bench/breakdown.mjs [--quick] [--callgrind] [--keys 1000,100000]
//
// Each component is a timed loop of its own (lib/loop.mjs: alternating rounds,
// medians), built from the fast path's own pieces (dist/native.js), so a row is the
// cost of one step and the rows of an operation add up to about its total. With
// --callgrind it also runs the native calls under `valgrind --tool=callgrind
// --cache-sim=yes`, counting only inside the addon's callback: instructions, L1 data
// misses and last-level misses per call (the cache lines a lookup brings in from L2
// or beyond, and from memory), which are repeatable on a noisy machine (for getMany
// and putMany, per key; callgrind counts misses, not whether they overlap, so what a
// batch gains by prefetching shows in time only). --callgrind-only prints just those. It
// writes bench/results/breakdown.md (not in quick mode). STATEKIT_DIST=dir measures
// another build (a "before" copy of dist/).
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { LRUCache } from 'lru-cache'
import { accessOrder } from './lib/measure.mjs'
import { measureLoops, statekitModule } from './lib/loop.mjs'
import { fmt, machine, RESULTS, table } from './lib/report.mjs'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const ROUNDS = quick ? 1 : 5
const OPS = quick ? 20_000 : 1_000_000
const ki = args.indexOf('--keys')
const SIZES = ki !== -1 ? args[ki + 1].split(',').map(Number) : quick ? [1_000] : [1_000, 100_000, 1_000_000]
const BATCH = 1000
const TTL = 3_600_000
const { MemoryBackend } = await statekitModule()
const native = await statekitModule('native.js')
const { addon, KEY_BUF, VAL_BUF, CTL } = native
// The fast calls as the store makes them: bare N-API callbacks where the build has
// them (native.fastGet), else the #[napi] functions.
const fast = {
  get: native.fastGet ?? addon.fastGet,
  has: native.fastHas ?? addon.fastHas,
  put: native.fastPut ?? addon.fastPut,
}
const VAL_U8 = new Uint8Array(VAL_BUF.buffer, VAL_BUF.byteOffset, VAL_BUF.length)
const MAX_KEY = addon.MAX_KEY_BYTES
const C_HANDLE = addon.CTL_HANDLE
const C_KEY_LEN = addon.CTL_KEY_LEN
const C_VALUE_LEN = addon.CTL_VALUE_LEN
const C_RESULT = addon.CTL_RESULT
const CTL_TTL = new Float64Array(KEY_BUF.buffer, KEY_BUF.byteOffset + MAX_KEY + addon.CTL_TTL_OFFSET, 1)
const KEY_U8 = new Uint8Array(KEY_BUF.buffer, KEY_BUF.byteOffset, MAX_KEY)
/** A view of the value buffer's first 100 bytes made once, as `takeValue` keeps one per length. */
const VIEW_100 = VAL_U8.subarray(0, 100)
let sink = 0

/** Writes an ASCII key with a loop, as the fast path does for short keys. */
function asciiKey(k) {
  const n = k.length
  for (let i = 0; i < n; i++) KEY_U8[i] = k.charCodeAt(i)
  return n
}

// --callgrind child: one native call in a loop, for valgrind to count.
if (args[0] === '--child') {
  const [, what, nStr, opsStr] = args
  const n = Number(nStr)
  const ops = Number(opsStr)
  const store = new MemoryBackend({ ttl: TTL })
  const keys = Array.from({ length: n }, (_, i) => `key:${String(i).padStart(11, '0')}`)
  const value = Buffer.alloc(100, 'v')
  // Filled in batches, but with single puts when putMany is what is counted, so that
  // only the measured calls are.
  if (what === 'put_many') for (const k of keys) store.putSync(k, value)
  else for (let i = 0; i < n; i += 1000) store.putManySync(keys.slice(i, i + 1000).map((k) => [k, value]))
  const handle = store.native?.handle ?? handleOf(store, keys[0])
  const order = accessOrder(n, 'uniform', Math.min(1 << 20, Math.max(1 << 16, 2 ** Math.ceil(Math.log2(n)))))
  const mask = order.length - 1
  CTL_TTL[0] = TTL
  VAL_BUF.fill(118, 0, 100)
  if (what === 'get_many' || what === 'put_many') {
    // Batches of 1000 keys through the public API; only the native call is counted.
    for (let j = 0; j < ops; j += BATCH) {
      const batch = Array.from({ length: BATCH }, (_, i) => keys[order[(j + i) & mask]])
      if (what === 'get_many') sink ^= store.getManySync(batch).length
      else store.putManySync(batch.map((k) => [k, value]))
    }
    process.exit(sink === 0.5 ? 1 : 0)
  }
  for (let j = 0; j < ops; j++) {
    CTL[C_KEY_LEN] = asciiKey(keys[order[j & mask]])
    CTL[C_HANDLE] = handle
    if (what === 'get') fast.get()
    else { CTL[C_VALUE_LEN] = 100; fast.put() }
    sink ^= CTL[C_RESULT]
  }
  process.exit(sink === 0.5 ? 1 : 0)
}

/** The fast-path handle of a store, found by writing a key through the public API and reading the control word. */
function handleOf(store, key) {
  store.hasSync(key)
  return CTL[C_HANDLE]
}

function callgrind(what, n) {
  const out = path.join(os.tmpdir(), `statekit-cg-${process.pid}-${what}-${n}.out`)
  const ops = 200_000
  const self = fileURLToPath(import.meta.url)
  // The cache this machine has (valgrind guesses a last level of 512 MiB here): 48 KiB
  // 12-way L1d, 32 MiB 16-way last level.
  const r = spawnSync('valgrind', ['--tool=callgrind', '--cache-sim=yes', '--D1=49152,12,64', '--LL=33554432,16,64', `--toggle-collect=*fast_${what}_c_callback*`, `--toggle-collect=*fast_calls::raw_${what}`, `--callgrind-out-file=${out}`, process.execPath, self, '--child', what, String(n), String(ops)], { encoding: 'utf8', env: process.env })
  if (r.status !== 0 || !fs.existsSync(out)) return null
  const text = fs.readFileSync(out, 'utf8')
  fs.rmSync(out, { force: true })
  const ev = text.match(/^events: (.*)$/m)?.[1].split(' ')
  const sum = text.match(/^summary: (.*)$/m)?.[1].split(' ').map(Number)
  if (!ev || !sum) return null
  // Callgrind leaves out trailing zero counts.
  const get = (name) => (sum[ev.indexOf(name)] ?? 0) / ops
  // D1 and LL misses of data reads and writes, per call.
  return { ir: get('Ir'), d1: get('D1mr') + get('D1mw'), ll: get('DLmr') + get('DLmw') }
}

// --callgrind-only: the callgrind counts per call (per key for batches), no timing.
if (args.includes('--callgrind-only')) {
  const out = []
  for (const n of SIZES) {
    for (const what of ['get', 'put', 'get_many', 'put_many']) {
      const c = callgrind(what, n)
      out.push([n.toLocaleString('en-US'), what, c ? `${fmt(c.ir)} instr, ${c.d1.toFixed(2)} L1d / ${c.ll.toFixed(2)} LL misses` : 'failed'])
    }
  }
  process.stdout.write(table(['keys', 'call', 'callgrind per call or key (inside the addon)'], out) + '\n')
  process.exit(0)
}

const sections = []
const summary = []
for (const n of SIZES) {
  const store = new MemoryBackend({ ttl: TTL })
  const keys = Array.from({ length: n }, (_, i) => `key:${String(i).padStart(11, '0')}`)
  const value = Buffer.alloc(100, 'v')
  for (const k of keys) store.putSync(k, value)
  const handle = handleOf(store, keys[0])
  const len = Math.min(1 << 20, Math.max(1 << 16, 2 ** Math.ceil(Math.log2(n)))) // a power of two: indexes are `j & (len - 1)`
  const mask = len - 1
  const order = accessOrder(n, 'uniform', len)
  const batches = Array.from({ length: 64 }, () => Array.from({ length: BATCH }, () => keys[Math.floor(Math.random() * n)]))
  const entries = batches.map((b) => b.map((k) => [k, value]))
  const key = (j) => keys[order[j & mask]]
  // The same keys three ways: the template literals the store was filled with (ropes:
  // a header and the characters in a second object), flat copies of them, and a key
  // built anew for each call, as a service builds it from a request.
  const flat = keys.map((k) => Buffer.from(k, 'latin1').toString('latin1'))
  const flatKey = (j) => flat[order[j & mask]]
  const built = (j) => `key:${String(order[j & mask]).padStart(11, '0')}`
  // lru-cache and Map filled with the stored keys (the single gets and the batches'
  // loops read them), and an lru-cache filled with the flat copies.
  const lru = new LRUCache({ max: n * 2, ttl: TTL })
  const lruFlat = new LRUCache({ max: n * 2, ttl: TTL })
  const map = new Map()
  for (let i = 0; i < n; i++) { lru.set(keys[i], value); lruFlat.set(flat[i], value); map.set(keys[i], value) }
  const tasks = {
    'empty loop': (j) => { sink ^= j },
    'loop and key pick': (j) => { sink ^= key(j).length },
    'key: utf8Write': (j) => { sink ^= KEY_BUF.utf8Write(key(j), 0) },
    'key: JS loop': (j) => { sink ^= asciiKey(key(j)) },
    'call floor (fastHas, no store)': (j) => { CTL[C_HANDLE] = 0x7fffffff; CTL[C_KEY_LEN] = 16; fast.has(); sink ^= CTL[C_RESULT] },
    'key JS loop + fastGet': (j) => { CTL[C_KEY_LEN] = asciiKey(key(j)); CTL[C_HANDLE] = handle; fast.get(); sink ^= CTL[C_RESULT] },
    'key JS loop + fastPut (TTL)': (j) => { CTL[C_KEY_LEN] = asciiKey(key(j)); CTL[C_HANDLE] = handle; CTL[C_VALUE_LEN] = 100; CTL_TTL[0] = TTL; fast.put(); sink ^= CTL[C_RESULT] },
    'value in: VAL_BUF.set(100 B)': (j) => { VAL_BUF.set(value, 0); sink ^= j },
    'result: allocUnsafe + copy': (j) => { const b = Buffer.allocUnsafe(100); VAL_BUF.copy(b, 0, 0, 100); sink ^= b[j & 63] },
    'result: allocUnsafe only': (j) => { const b = Buffer.allocUnsafe(100); sink ^= b.length + j },
    'result: allocUnsafe + set(subarray)': (j) => { const b = Buffer.allocUnsafe(100); b.set(VAL_BUF.subarray(0, 100)); sink ^= b[j & 63] },
    'result: allocUnsafe + set(Uint8Array subarray)': (j) => { const b = Buffer.allocUnsafe(100); b.set(VAL_U8.subarray(0, 100)); sink ^= b[j & 63] },
    'result: allocUnsafe + set(cached view)': (j) => { const b = Buffer.allocUnsafe(100); b.set(VIEW_100); sink ^= b[j & 63] },
    'result: JS-loop copy': (j) => { const b = Buffer.allocUnsafe(100); for (let i = 0; i < 100; i++) b[i] = VAL_BUF[i]; sink ^= b[j & 63] },
    'result: string (latin1Slice)': (j) => { sink ^= VAL_BUF.latin1Slice(0, 100).length + j },
    'result: string (utf8Slice)': (j) => { sink ^= VAL_BUF.utf8Slice(0, 100).length + j },
    'getSync': (j) => { sink ^= store.getSync(key(j)).length },
    'key: JS loop, flat key': (j) => { sink ^= asciiKey(flatKey(j)) },
    'key built per call': (j) => { sink ^= built(j).length },
    'getSync, flat key': (j) => { sink ^= store.getSync(flatKey(j)).length },
    'getSync, key built per call': (j) => { sink ^= store.getSync(built(j)).length },
    'lru-cache get': (j) => { sink ^= lru.get(key(j)).length },
    'lru-cache get, flat key': (j) => { sink ^= lruFlat.get(flatKey(j)).length },
    'lru-cache get, key built per call': (j) => { sink ^= lru.get(built(j)).length },
    'putSync (TTL)': (j) => { store.putSync(key(j), value, { ttl: TTL }) },
  }
  if (typeof store.getString === 'function') tasks['getString'] = (j) => { sink ^= store.getString(key(j)).length }
  if (typeof store.getInto === 'function') {
    const target = Buffer.alloc(1024)
    tasks['getInto'] = (j) => { sink ^= store.getInto(key(j), target) }
  }
  const r = await measureLoops(tasks, { rounds: ROUNDS, ops: OPS, samples: 1000 })
  lruFlat.clear()
  // The batches step by step, with the loops of single gets they replace (per key).
  const batchHandle = handleOf(store, keys[0])
  const rb = await measureLoops(
    {
      'getMany (1000 keys)': (j) => { sink ^= store.getManySync(batches[j & 63]).length },
      'getMany: fastKeys (pack keys)': (j) => { sink ^= native.fastKeys(batchHandle, batches[j & 63]) ? 1 : 0 },
      'getMany: fastKeys + fastGetMany': (j) => { native.fastKeys(batchHandle, batches[j & 63]); native.fastGetMany(); sink ^= CTL[C_RESULT] },
      'lru-cache get, loop over the batch': (j) => { const b = batches[j & 63]; for (let i = 0; i < BATCH; i++) sink ^= lru.get(b[i]).length },
      'Map get, loop over the batch': (j) => { const b = batches[j & 63]; for (let i = 0; i < BATCH; i++) sink ^= map.get(b[i]).length },
      'putMany (1000 entries)': (j) => { store.putManySync(entries[j & 63]) },
      'putMany: fastEntries (pack)': (j) => { sink ^= native.fastEntries(batchHandle, entries[j & 63]) ? 1 : 0 },
      'putMany: fastEntries + fastPutMany': (j) => { native.fastEntries(batchHandle, entries[j & 63]); native.fastPutMany(); sink ^= CTL[C_RESULT] },
    },
    { rounds: ROUNDS, ops: Math.max(20, OPS / BATCH), samples: 100 },
  )
  lru.clear()
  map.clear()
  const per = (name) => rb.get(name).ns / BATCH
  const t = (name) => r.get(name)?.ns ?? NaN
  // Rows that read a key subtract the loop with the key pick (at 1M keys the pick
  // itself misses cache); the others subtract the empty loop.
  const base = t('loop and key pick')
  const empty = t('empty loop')
  const floor = t('call floor (fastHas, no store)') - empty
  const keyJs = t('key: JS loop') - base
  const getCall = t('key JS loop + fastGet') - t('key: JS loop')
  const putCall = t('key JS loop + fastPut (TTL)') - t('key: JS loop')
  const e = (name) => fmt(t(name) - empty)
  const cg = args.includes('--callgrind')
    ? { get: callgrind('get', n), put: callgrind('put', n), getMany: callgrind('get_many', n), putMany: callgrind('put_many', n) }
    : {}
  const cgCell = (c) => (c ? `${fmt(c.ir)} instr, ${c.d1.toFixed(2)} L1d / ${c.ll.toFixed(2)} LL misses` : '')
  const rows = [
    ['all', 'empty loop / loop and key pick (subtracted below)', `${fmt(empty)} / ${fmt(base)}`, ''],
    ['get, put', 'key encoding: `utf8Write` (a call into C++)', fmt(t('key: utf8Write') - base), ''],
    ['get, put', 'key encoding: JavaScript loop', fmt(keyJs), ''],
    ['get, put', 'the call: N-API floor (fastHas on no store)', fmt(floor), ''],
    ['get', 'fastGet: call + lookup + copy into the value buffer', fmt(getCall), cgCell(cg.get)],
    ['get', '… of which lookup + copy (fastGet − floor)', fmt(getCall - floor), ''],
    ['get', 'result Buffer: `allocUnsafe` only', e('result: allocUnsafe only'), ''],
    ['get', 'result Buffer: `allocUnsafe` + `Buffer.copy` (a call into C++)', e('result: allocUnsafe + copy'), ''],
    ['get', 'result Buffer: `allocUnsafe` + `set(Buffer subarray)`', e('result: allocUnsafe + set(subarray)'), ''],
    ['get', 'result Buffer: `allocUnsafe` + `set(Uint8Array subarray)`', e('result: allocUnsafe + set(Uint8Array subarray)'), ''],
    ['get', 'result Buffer: `allocUnsafe` + `set` from a view kept per length (what `getSync` does)', e('result: allocUnsafe + set(cached view)'), ''],
    ['get', 'result Buffer: `allocUnsafe` + JavaScript loop', e('result: JS-loop copy'), ''],
    ['get', 'result string: `latin1Slice` / `utf8Slice`', `${e('result: string (latin1Slice)')} / ${e('result: string (utf8Slice)')}`, ''],
    ['get', '**getSync, total**', `**${fmt(t('getSync') - base)}**`, ''],
  ]
  // These rows subtract only the empty loop: picking a stored key (reading the rope's
  // header misses cache at 100K keys and more) or building one is part of what they compare.
  rows.push(
    ['get, key strings', 'picking a stored key (rope) / building a key for the call (template literal), minus the empty loop', `${e('loop and key pick')} / ${e('key built per call')}`, ''],
    ['get, key strings', 'key encoding: JavaScript loop, rope key / flat key', `${fmt(keyJs)} / ${fmt(t('key: JS loop, flat key') - base)}`, ''],
    ['get, key strings', 'getSync with the pick or the build, minus the empty loop: rope key / flat key / key built per call', `${e('getSync')} / ${e('getSync, flat key')} / ${e('getSync, key built per call')}`, ''],
    ['get, key strings', 'lru-cache `get` with the pick or the build, minus the empty loop: rope key / flat key / key built per call', `${e('lru-cache get')} / ${e('lru-cache get, flat key')} / ${e('lru-cache get, key built per call')}`, ''],
  )
  if (r.has('getString')) rows.push(['get', '**getString, total**', `**${fmt(t('getString') - base)}**`, ''])
  if (r.has('getInto')) rows.push(['get', '**getInto, total**', `**${fmt(t('getInto') - base)}**`, ''])
  rows.push(
    ['put', 'value in: `VAL_BUF.set` of 100 bytes', e('value in: VAL_BUF.set(100 B)'), ''],
    ['put', 'fastPut with TTL: call + insert', fmt(putCall), cgCell(cg.put)],
    ['put', '… of which insert (fastPut − floor)', fmt(putCall - floor), ''],
    ['put', '**putSync with TTL, total**', `**${fmt(t('putSync (TTL)') - base)}**`, ''],
    ['getMany', 'keys in: `fastKeys` (touch, then pack 1000 keys), per key', fmt(per('getMany: fastKeys (pack keys)')), ''],
    ['getMany', 'fastGetMany: call + lookups + copies into the value buffer, per key', fmt(per('getMany: fastKeys + fastGetMany') - per('getMany: fastKeys (pack keys)')), cgCell(cg.getMany)],
    ['getMany', 'results: `takeValues` (one copy, a `Buffer` view per value; the rest of the total), per key', fmt(per('getMany (1000 keys)') - per('getMany: fastKeys + fastGetMany')), ''],
    ['getMany', '**getMany of 1000 keys, per key**', `**${fmt(per('getMany (1000 keys)'))}**`, ''],
    ['getMany', 'peer: lru-cache `get` in a loop over the same keys, per key', fmt(per('lru-cache get, loop over the batch')), ''],
    ['getMany', 'peer: `Map` `get` in a loop over the same keys, per key', fmt(per('Map get, loop over the batch')), ''],
    ['putMany', 'entries in: `fastEntries` (touch, then pack keys, TTLs and values), per entry', fmt(per('putMany: fastEntries (pack)')), ''],
    ['putMany', 'fastPutMany: call + inserts, per entry', fmt(per('putMany: fastEntries + fastPutMany') - per('putMany: fastEntries (pack)')), cgCell(cg.putMany)],
    ['putMany', '**putMany of 1000 entries, per entry**', `**${fmt(per('putMany (1000 entries)'))}**`, ''],
  )
  sections.push(`## ${n.toLocaleString('en-US')} keys\n\n` + table(['operation', 'step', 'ns (median)', 'callgrind, per call (inside the addon)'], rows))
  summary.push([n.toLocaleString('en-US'), fmt(t('getSync') - base), fmt(getCall), fmt(floor), fmt(t('putSync (TTL)') - base), fmt(putCall), fmt(per('getMany (1000 keys)')), fmt(per('lru-cache get, loop over the batch')), fmt(per('putMany (1000 entries)'))])
  await store.close()
}
const md = [
  '# Per-operation cost breakdown',
  '',
  `Machine: ${machine()}.`,
  '',
  `16-character ASCII keys, 100-byte values, uniform access, TTL on. Each step is a timed loop of ${OPS.toLocaleString('en-US')} operations, ${ROUNDS} alternating round(s), medians, minus the loop's own cost. The machine is shared: read the rows of one table against each other. Reproduce: \`node --expose-gc bench/breakdown.mjs --callgrind\`.`,
  '',
  table(['keys', 'getSync', 'fastGet call', 'N-API floor', 'putSync (TTL)', 'fastPut call', 'getMany / key', 'lru-cache get loop / key', 'putMany / entry'], summary),
  '',
  ...sections.flatMap((s) => [s, '']),
].join('\n')
if (!quick && ki === -1) {
  const file = process.env.BREAKDOWN_OUT ?? 'breakdown.md'
  fs.writeFileSync(new URL(file, RESULTS), md)
}
process.stdout.write(md)
if (sink === 0.5) console.log(sink)
