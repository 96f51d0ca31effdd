// The service side of the control benchmark: a memory store of N entries (16-byte
// keys, ~100-byte JSON values), a coordinator in DIR, and a control server on
// 127.0.0.1 with the token from STATEKIT_CONTROL_TOKEN. Prints its URL, then runs
// until stdin closes; then prints the coordinator's stats and exits.
import { CheckpointCoordinator, MemoryBackend } from '../../dist/index.js'
import { createControlServer } from '../../dist/control.js'

const [nArg, dir] = process.argv.slice(2)
const n = Number(nArg)
const store = new MemoryBackend()
const batch = []
for (let i = 0; i < n; i++) {
  batch.push([`user:${String(i).padStart(11, '0')}`, JSON.stringify({ id: i, total: (i * 37) % 10007, spent: ((i * 7919) % 100000) / 100, category: ['Regular', 'Premium', 'VIP'][i % 3], seen: 1700000000 + i })])
  if (batch.length === 10_000) store.putManySync(batch.splice(0))
}
if (batch.length) store.putManySync(batch)
const coordinator = new CheckpointCoordinator(store, { dir, interval: 3_600_000, maxCheckpoints: 3 })
const control = await createControlServer({ backend: store, coordinator })
process.stdout.write(JSON.stringify({ url: control.url, entries: store.stats().entryCount }) + '\n')
process.stdin.resume()
process.stdin.on('end', async () => {
  await control.close()
  process.stdout.write(JSON.stringify({ stats: coordinator.stats() }) + '\n')
  await store.close()
  process.exit(0)
})
