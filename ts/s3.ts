/**
 * Checkpoints on S3-compatible object storage (AWS S3, MinIO, Ceph, R2). The AWS SDK
 * (`@aws-sdk/client-s3` and `@aws-sdk/lib-storage`) is an optional peer dependency:
 * install it to use this entry point (`statekit/s3`).
 *
 * @packageDocumentation
 */
export { s3Storage, type S3StorageOptions } from './storage/s3.js'
export type { CheckpointStorage, FetchedCheckpoints, StoredCheckpoint, StoredDocument, DocumentName } from './storage/types.js'
