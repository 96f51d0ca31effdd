// Time to upload and to restore a 1M-entry checkpoint through S3 (moto's server on
// loopback, started here) beside a local directory: a coordinator's createCheckpoint()
// (write, verify, upload, manifest) and restoreLatest() into an empty memory backend
// (download, verify, restore, remove the download). Medians of --rounds rounds (5).
// Usage: node --expose-gc bench/s3-checkpoint.mjs [--entries N] [--rounds N]
// Writes bench/results/s3-checkpoint.md.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3'
import { CheckpointCoordinator, MemoryBackend } from '../dist/index.js'
import { s3Storage } from '../dist/s3.js'
import { startMoto } from '../scripts/moto-server.mjs'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? dflt : Number(process.argv[i + 1])
}
const N = arg('--entries', 1_000_000)
const ROUNDS = arg('--rounds', 5)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = () => Number(process.hrtime.bigint()) / 1e6
const settle = async () => {
  globalThis.gc?.()
  await new Promise((r) => setTimeout(r, 100))
}

const { child, endpoint } = await startMoto()
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' }
const client = new S3Client({ endpoint, region: 'us-east-1', credentials, forcePathStyle: true })
await client.send(new CreateBucketCommand({ Bucket: 'statekit-bench' }))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-s3bench-'))

const store = new MemoryBackend()
for (let i = 0; i < N; i += 10_000) {
  const batch = []
  for (let j = i; j < Math.min(N, i + 10_000); j++) {
    batch.push([`user:${String(j).padStart(11, '0')}`, JSON.stringify({ id: j, total: (j * 37) % 10007, spent: ((j * 7919) % 100000) / 100, category: ['Regular', 'Premium', 'VIP'][j % 3], seen: 1700000000 + j })])
  }
  store.putManySync(batch)
}

const targets = {
  'local directory': () => ({ dir: path.join(tmp, 'dir') }),
  'S3 (moto, loopback)': () => ({ storage: s3Storage({ bucket: 'statekit-bench', prefix: 'bench', endpoint, region: 'us-east-1', credentials, stagingDir: tmp }) }),
}
const results = {}
for (const [name, where] of Object.entries(targets)) {
  const r = (results[name] = { upload: [], restore: [], bytes: 0 })
  const writer = new CheckpointCoordinator(store, { ...where(), interval: 3_600_000, maxCheckpoints: 1 })
  for (let round = 0; round < ROUNDS; round++) {
    await settle()
    let t0 = ms()
    const info = await writer.createCheckpoint(undefined, { force: true })
    r.upload.push(ms() - t0)
    r.bytes = info.bytes
    const target = new MemoryBackend()
    const reader = new CheckpointCoordinator(target, { ...where(), interval: 3_600_000 })
    await settle()
    t0 = ms()
    const report = await reader.restoreLatest()
    r.restore.push(ms() - t0)
    if (!report.restored || target.stats().entryCount !== N) throw new Error(`${name}: restored ${target.stats().entryCount} of ${N}`)
    await target.close()
  }
  console.error(`${name}: checkpoint+store ${r.upload.map((x) => x.toFixed(0)).join(' ')} ms; restore ${r.restore.map((x) => x.toFixed(0)).join(' ')} ms`)
}
child.kill('SIGKILL')
client.destroy()
await store.close()
fs.rmSync(tmp, { recursive: true, force: true })

const lines = [
  `# Checkpoint to S3 vs a local directory`,
  '',
  `${N.toLocaleString('en-US')} entries (16-byte keys, ~100-byte JSON values), memory tier, zstd; medians of ${ROUNDS} rounds.`,
  `Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}). S3 is moto's server on 127.0.0.1, so this`,
  'measures statekit\'s own cost of going through object storage (staging, multipart upload with CRC32C,',
  'download, conditional manifest writes), not a network. `node --expose-gc bench/s3-checkpoint.mjs`.',
  '',
  '| storage | checkpoint file | checkpoint + store (median) | restoreLatest (median) |',
  '|---|---:|---:|---:|',
]
for (const [name, r] of Object.entries(results)) {
  lines.push(`| ${name} | ${(r.bytes / 1048576).toFixed(1)} MiB | ${median(r.upload).toFixed(0)} ms | ${median(r.restore).toFixed(0)} ms |`)
}
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results', 's3-checkpoint.md')
fs.writeFileSync(out, lines.join('\n') + '\n')
console.log(lines.join('\n'))
