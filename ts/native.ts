import type { BackendStats } from './types.js'
import type { NativeRange } from './range.js'

/** @internal The shape shared by the native store classes. */
export interface NativeStore {
  get(key: Uint8Array): Buffer | null
  has(key: Uint8Array): boolean
  put(key: Uint8Array, value: Uint8Array, ttlMs?: number): void
  delete(key: Uint8Array): boolean
  getMany(keys: Uint8Array[]): unknown[]
  putMany(keys: Uint8Array[], values: Uint8Array[], ttls: (number | undefined)[]): void
  deleteMany(keys: Uint8Array[]): boolean[]
  cursor(range: NativeRange): NativeCursor
  clear(): void
  cleanupExpired(): number
  startCleanupTask(intervalMs: number): { stop(): void }
  stats(): BackendStats
  close(): void
  readonly closed: boolean
}

/** @internal A native ordered cursor. */
export interface NativeCursor {
  nextPage(max: number): unknown[]
  restKeys(): unknown[]
}

/** @internal The addon, loaded by the generated napi-rs loader. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const addon: typeof import('../native/index.js') = require('../native/index.js')
