/**
 * statekit: a state store for latency-critical Node.js services. The data lives in a
 * Rust addon, off the V8 heap.
 *
 * @packageDocumentation
 */
export { StateError, type StateErrorCode } from './errors.js'
export type { Key, Value } from './bytes.js'
export {
  binaryCodec,
  jsonCodec,
  msgpackCodec,
  stringCodec,
  type Codec,
  type CodecName,
} from './codecs.js'
export type {
  BackendStats,
  BatchEntry,
  CleanupTaskHandle,
  NamespaceOptions,
  PutOptions,
  RangeOptions,
  StateBackend,
} from './types.js'
export { NativeBackend } from './native-backend.js'
export type { SharedStoreDescriptor } from './shared.js'
export { MemoryBackend, type MemoryBackendOptions, type MemoryRecoveryReport } from './memory-backend.js'
export { CHANGE_LOG_METADATA_KEY, type ChangeLogFsync, type ChangeLogOptions, type ChangeLogRecovery, type TornRecord } from './change-log.js'
export { SledBackend, type SledBackendOptions } from './sled-backend.js'
export { TypedStore } from './typed-store.js'
export {
  readCheckpointInfo,
  verifyCheckpoint,
  type CheckpointFileInfo,
  type CheckpointInfo,
  type CheckpointOptions,
  type RestoreInfo,
  type VerifyResult,
} from './checkpoint.js'
export {
  CheckpointCoordinator,
  type CoordinatorEvents,
  type CoordinatorOptions,
  type CoordinatorStats,
  type CreateCheckpointOptions,
} from './coordinator.js'
export { MANIFEST, type ManifestEntry } from './manifest.js'
export { restoreLatestIn, type RecoveryReport, type RecoverySource, type RestoreReport, type SkippedCheckpoint } from './recovery.js'
export { LEASE, type Lease, type LeaseOptions, type LeaseState } from './lease.js'
export { directoryStorage } from './storage/local.js'
export type { CheckpointStorage, DocumentName, FetchedCheckpoints, StoredCheckpoint, StoredDocument } from './storage/types.js'
export { checkpointOnSignals, type SignalOptions } from './shutdown.js'
