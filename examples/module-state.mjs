// statekit example, after seed 003: a module state manager that persists a module's
// state (JSON values by key) to a directory or to S3. start() loads the latest state,
// get/set/delete/getAll/deleteAll work on it, flush() persists it on demand and every
// flushInterval, stop() flushes and stops. Each flush is a verified checkpoint, listed
// in the manifest only once whole, so a crash never leaves half-written state.
//
//   node examples/module-state.mjs                              ./module-state/ (a directory)
//   node examples/module-state.mjs /var/lib/app/state           another directory
//   node examples/module-state.mjs s3://my-bucket/modules       S3 (credentials and region from
//                                                               the usual AWS variables and files;
//                                                               AWS_ENDPOINT_URL for MinIO, Ceph, R2)
//
// Run it twice: the second run starts with what the first one stored.
import { CheckpointCoordinator, MemoryBackend, StateError, directoryStorage } from '../dist/index.js'

/** The module state manager of seed 003, on statekit. */
export class StateManager {
  #backend = new MemoryBackend()
  #state = this.#backend.namespace('state', { codec: 'json' })
  #coordinator
  #started = false

  /**
   * @param config - `name` (the module, also the storage prefix), `flushInterval` (ms),
   *   and `storage`: a directory path or an `s3://bucket/prefix` URL
   */
  constructor({ name, flushInterval = 60_000, storage = './module-state' }) {
    if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new StateError('ERR_STATEKIT_INVALID_ARG', `name must be a simple module name, got ${JSON.stringify(name)}`)
    this.name = name
    this.flushInterval = flushInterval
    this.storage = storage
  }

  async #storageOf(where) {
    if (!where.startsWith('s3://')) return directoryStorage(`${where.replace(/\/+$/, '')}/${this.name}`)
    // Loaded only for S3: the AWS SDK is an optional dependency of statekit.
    const { s3Storage } = await import('../dist/s3.js')
    const [, bucket, prefix = ''] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(where) ?? []
    return s3Storage({ bucket, prefix: `${prefix.replace(/\/+$/, '')}/${this.name}`.replace(/^\//, '') })
  }

  /** Initializes the manager and loads the existing state, if there is any. */
  async start() {
    if (this.#started) return
    this.#coordinator = new CheckpointCoordinator(this.#backend, { storage: await this.#storageOf(this.storage), interval: this.flushInterval, maxCheckpoints: 3 })
    this.#coordinator.on('error', (e) => console.error(`state ${this.name}: flush failed: ${e.message}`))
    const report = await this.#coordinator.restoreLatest()
    for (const s of report.skipped) console.error(`state ${this.name}: skipped a damaged flush: ${s.reason}`)
    this.#coordinator.start()
    this.#started = true
    return report
  }

  /** The value of `key`, or undefined. */
  async get(key) {
    return this.#state.get(key)
  }

  /** Stores `value` (anything JSON can hold) under `key`. */
  async set(key, value) {
    await this.#state.put(key, value)
  }

  /** Removes `key`. */
  async delete(key) {
    await this.#state.delete(key)
  }

  /** Every key and value, as a plain object. */
  async getAll() {
    const all = {}
    for await (const [k, v] of this.#state.entries()) all[k.toString()] = v
    return all
  }

  /** Removes every value. */
  async deleteAll() {
    await this.#state.clear()
  }

  /** Persists the state now. */
  async flush() {
    return this.#coordinator.createCheckpoint(undefined, { force: true })
  }

  /** Flushes the state and stops the periodic flush. */
  async stop() {
    if (!this.#started) return
    this.#started = false
    await this.#coordinator.shutdown()
    await this.#backend.close()
  }
}

// The demo: a module that counts its runs and remembers what it last saw.
if (import.meta.url === `file://${process.argv[1]}`) {
  const manager = new StateManager({ name: 'my-module', flushInterval: 60_000, storage: process.argv[2] ?? './module-state' })
  const report = await manager.start()
  console.log(report.restored ? `loaded state from ${report.checkpoint.file}` : 'no saved state yet: starting empty')
  const runs = ((await manager.get('runs')) ?? 0) + 1
  await manager.set('runs', runs)
  await manager.set('last-run', { at: new Date().toISOString(), pid: process.pid })
  await manager.set('scratch', 'temporary')
  await manager.delete('scratch')
  const info = await manager.flush()
  console.log(`flushed ${info.entries} keys (${info.bytes} bytes)`)
  console.log('state:', JSON.stringify(await manager.getAll()))
  await manager.stop()
}
