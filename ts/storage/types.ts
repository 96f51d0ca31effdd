/**
 * Where checkpoints live: the small interface the coordinator, recovery, retention
 * and the CLI use, implemented for a local directory ({@link directoryStorage}) and for
 * S3-compatible object storage (`s3Storage` from `statekit/s3`). It knows nothing of
 * manifests or leases: those are JSON documents it reads and writes conditionally.
 */

/** A checkpoint object (or file) in a storage. */
export interface StoredCheckpoint {
  /** Its name inside the storage, such as `checkpoint-0001732250000000-1.skc`. */
  name: string
  /** Its size in bytes. */
  bytes: number
  /** When it was last written, ms since the epoch. */
  modifiedAt: number
}

/** A small document (the manifest, the lease) and its entity tag. */
export interface StoredDocument {
  /** The document's text. */
  text: string
  /** Its entity tag: changes whenever the document does. */
  etag: string
}

/** Checkpoints fetched to local files; `dispose()` removes what was downloaded. */
export interface FetchedCheckpoints {
  /** The local path of each fetched checkpoint, by name. All are in one directory, so an incremental chain resolves. */
  paths: Map<string, string>
  /** Removes the downloaded files (nothing for a local directory). Idempotent. */
  dispose(): Promise<void>
}

/** The names of the documents a storage holds beside its checkpoints. */
export type DocumentName = 'manifest.json' | 'lease.json'

/**
 * A place for a checkpoint set. Every method rejects with a `StateError`:
 * `ERR_STATEKIT_IO` for a storage that cannot be reached or refuses (wrong
 * credentials, a missing bucket), `ERR_STATEKIT_INVALID_ARG` for bad names.
 */
export interface CheckpointStorage {
  /** Where it is, for messages: a directory path or `s3://bucket/prefix`. */
  readonly location: string
  /** The directory, for local storage: checkpoints there are read in place. */
  readonly localDir?: string
  /**
   * The local path where a new checkpoint called `name` is written before
   * {@link CheckpointStorage.storeCheckpoint}: inside the directory for local storage,
   * in a staging directory for object storage.
   */
  stagingPath(name: string): Promise<string>
  /**
   * Makes the finished, verified file at `localPath` durable under `name`: nothing to do
   * for a file already in place, a copy for a file elsewhere; for object storage an
   * upload (multipart when large, with checksums). The local file is left as it is.
   */
  storeCheckpoint(name: string, localPath: string): Promise<void>
  /** Fetches checkpoints to local files in one directory. A missing one rejects (`ERR_STATEKIT_IO` from a directory, `ERR_STATEKIT_CORRUPT` from object storage, where the manifest listed it). */
  fetchCheckpoints(names: string[]): Promise<FetchedCheckpoints>
  /** Deletes a checkpoint; a missing one is not an error. */
  deleteCheckpoint(name: string): Promise<void>
  /** The checkpoint files or objects present, listed or not, oldest name first. */
  listCheckpoints(): Promise<StoredCheckpoint[]>
  /** Reads a document, or `null` if there is none. */
  readDocument(name: DocumentName): Promise<StoredDocument | null>
  /**
   * Replaces a document only if it is unchanged: `ifMatch` is the etag read before,
   * or `null` to create it only if it does not exist. Resolves the new etag, or
   * `null` (changing nothing) when the condition does not hold.
   */
  writeDocument(name: DocumentName, text: string, ifMatch: string | null): Promise<string | null>
  /**
   * Removes what an interrupted writer left: temp and staging files, incomplete
   * multipart uploads, and checkpoints not in `listed`. Call it only as the sole writer.
   */
  removeLeftovers(listed: ReadonlySet<string>): Promise<string[]>
}

/** @internal Whether a name is one the coordinator gives its checkpoints (what leftover cleanup may delete). */
export function isCheckpointName(name: string): boolean {
  return /^checkpoint-[0-9A-Za-z_.-]+\.skc$/.test(name)
}

/** @internal Whether a name may be stored as a checkpoint object: a plain `*.skc` file name. */
export function isStoredName(name: string): boolean {
  return /^[0-9A-Za-z_][0-9A-Za-z_.-]{0,200}\.skc$/.test(name)
}
