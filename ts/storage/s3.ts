import { createReadStream, createWriteStream, promises as fsp } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { describe, invalidArg, StateError } from '../errors.js'
import { checkOptions } from '../options.js'
import { isCheckpointName, isStoredName, type CheckpointStorage, type DocumentName, type FetchedCheckpoints, type StoredCheckpoint, type StoredDocument } from './types.js'

/** Options of {@link s3Storage}. */
export interface S3StorageOptions {
  /** The bucket. It must exist. */
  bucket: string
  /**
   * The key prefix of this checkpoint set, such as `orders/partition-7`: one prefix per
   * partition. A trailing `/` is added. `''` uses the bucket's root.
   */
  prefix: string
  /** A configured client to use; the other connection options are then ignored. */
  client?: S3Client
  /**
   * The endpoint of an S3-compatible server, such as `http://127.0.0.1:9000`.
   * @default the SDK's (AWS S3, or `AWS_ENDPOINT_URL`)
   */
  endpoint?: string
  /**
   * The region.
   * @default the SDK's (`AWS_REGION`, the AWS config file), or `us-east-1` when an endpoint is given and neither says
   */
  region?: string
  /**
   * Credentials.
   * @default the SDK's chain (environment variables, the shared files, instance roles)
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /**
   * Address buckets as `endpoint/bucket` instead of `bucket.endpoint` (MinIO, Ceph and most self-hosted servers need it).
   * @default true when `endpoint` is given, else false
   */
  forcePathStyle?: boolean
  /**
   * Bytes of each part of a multipart upload; smaller files are uploaded in one request.
   * @default 16 MiB
   */
  partSize?: number
  /**
   * Parts uploaded at once.
   * @default 4
   */
  queueSize?: number
  /**
   * A local directory under which `statekit-s3-staging/<pid>/` holds checkpoints being
   * written before upload and downloads being restored; a dead process's is removed by
   * the next start.
   * @default the system's temp directory
   */
  stagingDir?: string
}

type ClientModule = typeof import('@aws-sdk/client-s3')
type StorageModule = typeof import('@aws-sdk/lib-storage')

function load<T>(name: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T
  } catch (e) {
    throw new StateError('ERR_STATEKIT_INVALID_ARG', `statekit/s3 needs the ${name} package: npm install @aws-sdk/client-s3 @aws-sdk/lib-storage`, { cause: e })
  }
}

const MIN_PART = 5 * 1024 * 1024

/** @internal Whether `bucket` is a valid S3 bucket name. */
export function validBucket(bucket: unknown): bucket is string {
  return typeof bucket === 'string' && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && !bucket.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(bucket)
}

/** @internal The normalized prefix (`''` or ending in `/`), or a reason it is invalid. */
export function normalizePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw invalidArg(`prefix must be a string, got ${describe(prefix)}`)
  const p = prefix.replace(/^\/+/, '').replace(/\/+$/, '')
  if (p === '') return ''
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(p) || p.split('/').some((s) => s === '' || s === '.' || s === '..') || p.length > 900) {
    throw invalidArg(`prefix ${JSON.stringify(prefix)} is not a valid key prefix: no empty, '.' or '..' segments, control characters or backslashes, at most 900 characters`)
  }
  return `${p}/`
}

interface AwsError {
  name?: string
  code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
}

const statusOf = (e: unknown): number | undefined => (e as AwsError)?.$metadata?.httpStatusCode
const nameOf = (e: unknown): string => String((e as AwsError)?.name ?? (e as AwsError)?.code ?? '')

class S3Storage implements CheckpointStorage {
  readonly location: string
  readonly #bucket: string
  readonly #prefix: string
  readonly #client: S3Client
  readonly #sdk: ClientModule
  readonly #partSize: number
  readonly #queueSize: number
  readonly #stagingRoot: string
  readonly #endpoint: string

  constructor(o: S3StorageOptions) {
    checkOptions(o, ['bucket', 'prefix', 'client', 'endpoint', 'region', 'credentials', 'forcePathStyle', 'partSize', 'queueSize', 'stagingDir'], 's3Storage')
    if (o === undefined) throw invalidArg('s3Storage needs options: { bucket, prefix }')
    if (!validBucket(o.bucket)) throw invalidArg(`bucket must be a valid S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens), got ${typeof o.bucket === 'string' ? JSON.stringify(o.bucket) : describe(o.bucket)}`)
    this.#bucket = o.bucket
    this.#prefix = normalizePrefix(o.prefix)
    const opt = (name: string, v: unknown): void => {
      if (v !== undefined && (typeof v !== 'string' || v.length === 0)) throw invalidArg(`${name} must be a non-empty string, got ${describe(v)}`)
    }
    opt('endpoint', o.endpoint)
    opt('region', o.region)
    opt('stagingDir', o.stagingDir)
    if (o.endpoint !== undefined) {
      try {
        const u = new URL(o.endpoint)
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
      } catch {
        throw invalidArg(`endpoint must be an http(s) URL, got ${JSON.stringify(o.endpoint)}`)
      }
    }
    if (o.forcePathStyle !== undefined && typeof o.forcePathStyle !== 'boolean') throw invalidArg(`forcePathStyle must be a boolean, got ${describe(o.forcePathStyle)}`)
    if (o.credentials !== undefined) {
      const c = o.credentials
      if (c === null || typeof c !== 'object' || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string' || (c.sessionToken !== undefined && typeof c.sessionToken !== 'string')) {
        throw invalidArg('credentials must be { accessKeyId: string, secretAccessKey: string, sessionToken?: string }')
      }
    }
    const int = (name: string, v: unknown, dflt: number, min: number): number => {
      if (v === undefined) return dflt
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalidArg(`${name} must be an integer >= ${min}, got ${describe(v)}`)
      return v
    }
    this.#partSize = int('partSize', o.partSize, 16 * 1024 * 1024, MIN_PART)
    this.#queueSize = int('queueSize', o.queueSize, 4, 1)
    if (o.client !== undefined && (o.client === null || typeof o.client !== 'object' || typeof (o.client as { send?: unknown }).send !== 'function')) {
      throw invalidArg(`client must be an S3Client, got ${describe(o.client)}`)
    }
    this.#sdk = load<ClientModule>('@aws-sdk/client-s3')
    load<StorageModule>('@aws-sdk/lib-storage')
    if (o.client) {
      this.#client = o.client
    } else {
      const config: S3ClientConfig = { maxAttempts: 3 }
      if (o.endpoint !== undefined) config.endpoint = o.endpoint
      const region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION
      if (region !== undefined) config.region = region
      else if (o.endpoint !== undefined || process.env.AWS_ENDPOINT_URL) config.region = 'us-east-1'
      config.forcePathStyle = o.forcePathStyle ?? (o.endpoint !== undefined || !!process.env.AWS_ENDPOINT_URL)
      if (o.credentials) config.credentials = { ...o.credentials }
      this.#client = new this.#sdk.S3Client(config)
    }
    this.#endpoint = o.endpoint ?? process.env.AWS_ENDPOINT_URL ?? ''
    this.location = `s3://${this.#bucket}/${this.#prefix}`
    // One directory per process (by pid) under one root: leftovers of dead processes are found by pid.
    this.#stagingRoot = path.join(o.stagingDir ?? os.tmpdir(), 'statekit-s3-staging')
  }

  /** A StateError for an SDK error, naming what was being done. */
  #fail(what: string, e: unknown): StateError {
    if (e instanceof StateError) return e
    const status = statusOf(e)
    const name = nameOf(e)
    const msg = String((e as AwsError)?.message ?? e)
    let why: string
    if (name === 'NoSuchBucket') why = `bucket ${this.#bucket} does not exist`
    else if (status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken/.test(name)) why = `access denied (${name || status}): check the credentials`
    else if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|socket hang up/i.test(`${name} ${msg} ${(e as AwsError)?.code ?? ''}`)) why = `cannot reach ${this.#endpoint || 'the S3 endpoint'}: ${msg}`
    else if (/Region is missing|Could not load credentials|credential/i.test(msg)) why = msg
    else why = `${name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${msg}`
    return new StateError('ERR_STATEKIT_IO', `${this.location}: cannot ${what}: ${why}`, { cause: e })
  }

  #key(name: string): string {
    return this.#prefix + name
  }

  #checkName(name: string): string {
    if (typeof name !== 'string' || !(isStoredName(name) || name === 'manifest.json' || name === 'lease.json')) {
      throw invalidArg(`${typeof name === 'string' ? JSON.stringify(name) : describe(name)} is not a checkpoint name (letters, digits, '_', '.', '-', ending in .skc)`)
    }
    return name
  }

  /** This process's staging directory. */
  async #staging(): Promise<string> {
    const dir = path.join(this.#stagingRoot, String(process.pid))
    try {
      await fsp.mkdir(dir, { recursive: true })
    } catch (e) {
      throw new StateError('ERR_STATEKIT_IO', `cannot create the staging directory ${dir}: ${(e as Error).message}`, { cause: e })
    }
    return dir
  }

  async stagingPath(name: string): Promise<string> {
    return path.join(await this.#staging(), this.#checkName(name))
  }

  async storeCheckpoint(name: string, localPath: string): Promise<void> {
    this.#checkName(name)
    const { Upload } = load<StorageModule>('@aws-sdk/lib-storage')
    try {
      const upload = new Upload({
        client: this.#client,
        params: { Bucket: this.#bucket, Key: this.#key(name), Body: createReadStream(localPath), ChecksumAlgorithm: 'CRC32C', ContentType: 'application/octet-stream' },
        partSize: this.#partSize,
        queueSize: this.#queueSize,
        leavePartsOnError: false,
      })
      await upload.done()
    } catch (e) {
      throw this.#fail(`upload ${name}`, e)
    }
  }

  async fetchCheckpoints(names: string[]): Promise<FetchedCheckpoints> {
    for (const n of names) this.#checkName(n)
    const dir = await fsp.mkdtemp(path.join(await this.#staging(), 'fetch-'))
    let disposed = false
    const dispose = async (): Promise<void> => {
      if (disposed) return
      disposed = true
      await fsp.rm(dir, { recursive: true, force: true }).catch(() => {})
    }
    const paths = new Map<string, string>()
    try {
      for (const name of names) {
        const file = path.join(dir, name)
        let res
        try {
          res = await this.#client.send(new this.#sdk.GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }))
        } catch (e) {
          if (nameOf(e) === 'NoSuchKey') throw new StateError('ERR_STATEKIT_CORRUPT', `${this.location}${name} is missing`, { cause: e })
          throw this.#fail(`download ${name}`, e)
        }
        if (!(res.Body instanceof Readable)) throw new StateError('ERR_STATEKIT_IO', `${this.location}${name}: the S3 client returned no stream`)
        try {
          await pipeline(res.Body, createWriteStream(file))
        } catch (e) {
          throw this.#fail(`download ${name}`, e)
        }
        const got = (await fsp.stat(file)).size
        if (res.ContentLength !== undefined && got !== res.ContentLength) {
          throw new StateError('ERR_STATEKIT_CORRUPT', `${this.location}${name}: downloaded ${got} of ${res.ContentLength} bytes`)
        }
        paths.set(name, file)
      }
    } catch (e) {
      await dispose()
      throw e
    }
    return { paths, dispose }
  }

  async deleteCheckpoint(name: string): Promise<void> {
    this.#checkName(name)
    try {
      await this.#client.send(new this.#sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }))
    } catch (e) {
      if (nameOf(e) === 'NoSuchKey') return
      throw this.#fail(`delete ${name}`, e)
    }
  }

  async listCheckpoints(): Promise<StoredCheckpoint[]> {
    const out: StoredCheckpoint[] = []
    let token: string | undefined
    try {
      do {
        const res = await this.#client.send(new this.#sdk.ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix, Delimiter: '/', ContinuationToken: token }))
        for (const o of res.Contents ?? []) {
          const name = (o.Key ?? '').slice(this.#prefix.length)
          if (isStoredName(name)) out.push({ name, bytes: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 })
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined
      } while (token)
    } catch (e) {
      throw this.#fail('list the checkpoints', e)
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  async readDocument(name: DocumentName): Promise<StoredDocument | null> {
    try {
      const res = await this.#client.send(new this.#sdk.GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(this.#checkName(name)) }))
      const text = res.Body ? await (res.Body as { transformToString(): Promise<string> }).transformToString() : ''
      return { text, etag: res.ETag ?? '' }
    } catch (e) {
      if (nameOf(e) === 'NoSuchKey') return null
      throw this.#fail(`read ${name}`, e)
    }
  }

  async writeDocument(name: DocumentName, text: string, ifMatch: string | null): Promise<string | null> {
    try {
      const res = await this.#client.send(
        new this.#sdk.PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(this.#checkName(name)),
          Body: text,
          ContentType: 'application/json',
          ...(ifMatch === null ? { IfNoneMatch: '*' } : { IfMatch: ifMatch }),
        }),
      )
      return res.ETag ?? ''
    } catch (e) {
      const status = statusOf(e)
      // 412: the condition failed; 409: a concurrent conditional write won the race.
      if (status === 412 || status === 409 || nameOf(e) === 'PreconditionFailed' || (ifMatch !== null && nameOf(e) === 'NoSuchKey')) return null
      throw this.#fail(`write ${name}`, e)
    }
  }

  async removeLeftovers(listed: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = []
    // Checkpoints uploaded but never listed (the writer died before its manifest write).
    for (const c of await this.listCheckpoints()) {
      if (listed.has(c.name) || !isCheckpointName(c.name)) continue
      await this.deleteCheckpoint(c.name)
      removed.push(c.name)
    }
    // Multipart uploads a killed writer left incomplete.
    try {
      let keyMarker: string | undefined
      let idMarker: string | undefined
      do {
        const res = await this.#client.send(new this.#sdk.ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: this.#prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }))
        for (const u of res.Uploads ?? []) {
          const name = (u.Key ?? '').slice(this.#prefix.length)
          if (!isCheckpointName(name) || listed.has(name)) continue
          await this.#client.send(new this.#sdk.AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: u.Key, UploadId: u.UploadId }))
          removed.push(`${name} (incomplete upload)`)
        }
        keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined
        idMarker = res.IsTruncated ? res.NextUploadIdMarker : undefined
      } while (keyMarker)
    } catch (e) {
      throw this.#fail('clean up incomplete uploads', e)
    }
    // Staging files of processes that are gone.
    for (const pid of await fsp.readdir(this.#stagingRoot).catch(() => [] as string[])) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid || alive(Number(pid))) continue
      await fsp.rm(path.join(this.#stagingRoot, pid), { recursive: true, force: true }).catch(() => {})
    }
    return removed
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Checkpoints under a prefix of an S3 bucket: pass it as a coordinator's `storage`.
 * Each checkpoint is written and verified locally in `stagingDir`, uploaded (multipart
 * when large, with CRC32C checksums), and only then listed in `<prefix>manifest.json`,
 * which is replaced with conditional writes (`If-Match` its ETag, `If-None-Match: *` for
 * the first), so two writers never silently overwrite each other. The lease is
 * `<prefix>lease.json`, also written conditionally. Works with AWS S3 and with servers
 * that support conditional writes (MinIO, Ceph, R2).
 *
 * Throws `ERR_STATEKIT_INVALID_ARG` for a bad bucket name, prefix or option, or when
 * the AWS SDK is not installed. Operations reject with `ERR_STATEKIT_IO` naming the
 * cause (a missing bucket, wrong credentials, an unreachable endpoint).
 *
 * @example
 * ```ts
 * import { s3Storage } from 'statekit/s3'
 * const coordinator = new CheckpointCoordinator(store, {
 *   storage: s3Storage({ bucket: 'app-state', prefix: `orders/partition-${partition}` }),
 *   interval: 60_000,
 * })
 * ```
 */
export function s3Storage(options: S3StorageOptions): CheckpointStorage {
  return new S3Storage(options)
}

