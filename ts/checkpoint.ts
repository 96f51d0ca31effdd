import { resolve as resolvePath } from 'node:path'
import { describe, fromNative, invalidArg } from './errors.js'
import { addon } from './native.js'
import { checkOptions } from './options.js'

/** Options of `checkpoint()`. */
export interface CheckpointOptions {
  /**
   * How blocks are compressed: `'zstd'`, `'lz4'` or `'none'`.
   * @default 'zstd'
   */
  compression?: 'zstd' | 'lz4' | 'none'
  /**
   * The zstd level, 1 to 22.
   * @default 1 (the addon's `DEFAULT_ZSTD_LEVEL`)
   */
  level?: number
  /**
   * Stored in the header, such as the source offsets to resume from. Must be JSON.
   * @default {}
   */
  metadata?: Record<string, unknown>
  /**
   * Write only what changed since this backend's last checkpoint (puts and deletes),
   * naming it as the base. The backend must have taken or restored a checkpoint since
   * it was opened.
   * @default false
   */
  incremental?: boolean
}

/** What `checkpoint()` wrote. */
export interface CheckpointInfo {
  /** Unique and increasing: microseconds since the epoch at creation. */
  id: number
  /** The absolute path of the published file. */
  path: string
  /** `'full'`: every live entry; `'incremental'`: the puts and deletes since `baseId`. */
  kind: 'full' | 'incremental'
  /** The id of the checkpoint an incremental one builds on. */
  baseId?: number
  /** Records written: entries, plus tombstones in an incremental checkpoint. */
  entries: number
  /** Bytes of the file. */
  bytes: number
  /** Bytes of the records before compression. */
  rawBytes: number
  /** Milliseconds from the call to the published file: the cut, the scan, compression and I/O. */
  durationMs: number
  /** Creation time, ms since the epoch: the instant of the cut. */
  createdAt: number
  /** The metadata given to `checkpoint()` (such as source offsets); `{}` if none was. */
  metadata: Record<string, unknown>
}

/** What `restore()` did. */
export interface RestoreInfo {
  /** The id of the checkpoint restored. */
  id: number
  /** The ids applied, the full checkpoint first, then each incremental one. */
  chain: number[]
  /** Entries in the backend after the restore. */
  entries: number
  /** Entries left out because they had expired. */
  expired: number
  /** Milliseconds from the call until the restored state was in place: reading, verifying and loading every file of the chain. */
  durationMs: number
  /** The restored checkpoint's metadata. */
  metadata: Record<string, unknown>
}

/** What a checkpoint file's header and footer say. */
export interface CheckpointFileInfo {
  /** The absolute path of the file, as {@link CheckpointInfo.path} gives it. */
  path: string
  /** The checkpoint's id: microseconds since the epoch at creation, unique and increasing. */
  id: number
  /** `'full'`: every live entry; `'incremental'`: the puts and deletes since `baseId`. */
  kind: 'full' | 'incremental'
  /** The id of the checkpoint an incremental one builds on. */
  baseId?: number
  /** Creation time, ms since the epoch: the instant of the cut. */
  createdAt: number
  /** Records in the file. */
  entries: number
  /** How its blocks are compressed. */
  compression: 'zstd' | 'lz4' | 'none'
  /** The metadata given to `checkpoint()`; `{}` if none was. */
  metadata: Record<string, unknown>
  /** Bytes of the file. */
  bytes: number
  /** Bytes of the records before compression. */
  rawBytes: number
  /** Blocks in the body, each compressed and checksummed on its own. */
  blocks: number
}

/** The outcome of `verifyCheckpoint()`. */
export type VerifyResult =
  | { ok: true; info: CheckpointFileInfo }
  | { ok: false; /** What is damaged, naming the file, the block and the offset. */ error: string }

/** @internal Validates checkpoint options into the addon's form. */
export function nativeCheckpointOptions(opts: unknown): {
  compression?: string
  level?: number
  metadata?: string
  incremental?: boolean
} {
  if (opts === undefined) return {}
  if (opts === null || typeof opts !== 'object') throw invalidArg(`checkpoint options must be an object, got ${describe(opts)}`)
  const o = checkOptions(opts as CheckpointOptions, ['compression', 'level', 'metadata', 'incremental'], 'checkpoint')!
  const out: { compression?: string; level?: number; metadata?: string; incremental?: boolean } = {}
  if (o.compression !== undefined) {
    if (o.compression !== 'zstd' && o.compression !== 'lz4' && o.compression !== 'none') {
      throw invalidArg(`compression must be 'zstd', 'lz4' or 'none', got ${describe(o.compression)}`)
    }
    out.compression = o.compression
  }
  if (o.level !== undefined) {
    // The engine checks the range (1 to 22).
    if (typeof o.level !== 'number') throw invalidArg(`level must be a number, got ${describe(o.level)}`)
    out.level = o.level
  }
  if (o.metadata !== undefined) {
    if (o.metadata === null || typeof o.metadata !== 'object' || Array.isArray(o.metadata)) {
      throw invalidArg(`metadata must be a plain object, got ${describe(o.metadata)}`)
    }
    let text: string
    try {
      text = JSON.stringify(o.metadata)
    } catch (e) {
      throw invalidArg(`metadata must be JSON-serializable: ${(e as Error).message}`)
    }
    out.metadata = text
  }
  if (o.incremental !== undefined) {
    if (typeof o.incremental !== 'boolean') throw invalidArg(`incremental must be a boolean, got ${describe(o.incremental)}`)
    out.incremental = o.incremental
  }
  return out
}

/** @internal Checks a path argument. */
export function pathArg(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw invalidArg(`path must be a non-empty string, got ${describe(path)}`)
  return path
}

function parseMeta(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

type NativeFileInfo = Awaited<ReturnType<typeof addon.readCheckpointInfo>>

function fileInfo(n: NativeFileInfo): CheckpointFileInfo {
  const out: CheckpointFileInfo = {
    path: resolvePath(n.path),
    id: n.id,
    kind: n.kind as CheckpointFileInfo['kind'],
    createdAt: n.createdAt,
    entries: n.entries,
    compression: n.compression as CheckpointFileInfo['compression'],
    metadata: parseMeta(n.metadata),
    bytes: n.bytes,
    rawBytes: n.rawBytes,
    blocks: n.blocks,
  }
  if (n.baseId !== undefined && n.baseId !== null) out.baseId = n.baseId
  return out
}

/** @internal The addon's checkpoint result, in the public shape. */
export function checkpointInfo(n: {
  id: number
  path: string
  kind: string
  baseId?: number | null
  entries: number
  bytes: number
  rawBytes: number
  durationMs: number
  createdAt: number
  metadata: string
}): CheckpointInfo {
  const out: CheckpointInfo = {
    id: n.id,
    path: resolvePath(n.path),
    kind: n.kind as CheckpointInfo['kind'],
    entries: n.entries,
    bytes: n.bytes,
    rawBytes: n.rawBytes,
    durationMs: n.durationMs,
    createdAt: n.createdAt,
    metadata: parseMeta(n.metadata),
  }
  if (n.baseId !== undefined && n.baseId !== null) out.baseId = n.baseId
  return out
}

/** @internal The addon's restore result, in the public shape. */
export function restoreInfo(n: { id: number; chain: number[]; entries: number; expired: number; durationMs: number; metadata: string }): RestoreInfo {
  return { id: n.id, chain: n.chain, entries: n.entries, expired: n.expired, durationMs: n.durationMs, metadata: parseMeta(n.metadata) }
}

/**
 * Reads a checkpoint's header and footer, without reading its blocks: fast at any
 * size. Rejects with `ERR_STATEKIT_CORRUPT` for a file that is not a checkpoint or whose
 * header, footer or size is damaged, and `ERR_STATEKIT_IO` if it cannot be read.
 */
export async function readCheckpointInfo(path: string): Promise<CheckpointFileInfo> {
  const p = pathArg(path)
  try {
    return fileInfo(await addon.readCheckpointInfo(p))
  } catch (e) {
    throw fromNative(e)
  }
}

/**
 * Checks every checksum of a checkpoint, on a worker thread. Damage is the result,
 * not an error: `{ ok: false, error }` names the file, the block and the offset.
 * Rejects only if the file cannot be read (`ERR_STATEKIT_IO`).
 */
export async function verifyCheckpoint(path: string): Promise<VerifyResult> {
  const p = pathArg(path)
  try {
    const r = await addon.verifyCheckpoint(p)
    if (r.ok && r.info) return { ok: true, info: fileInfo(r.info) }
    return { ok: false, error: r.error ?? 'damaged' }
  } catch (e) {
    throw fromNative(e)
  }
}
