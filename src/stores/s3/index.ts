/**
 * @module The S3 store (`ferry/stores/s3`): uploads in any S3-compatible object storage, shared
 * by any number of server processes. @aws-sdk/client-s3 is an optional peer dependency, loaded
 * the first time the store talks to S3.
 *
 * Layout, per upload `<id>` under `prefix` (see docs in manifest.ts):
 * - `<id>.info`      the manifest (JSON): state, metadata, multipart UploadId, parts, fence;
 * - `<id>`           the data object, once complete (Content-Type and an RFC 6266/8187
 *                    Content-Disposition);
 * - `<id>.pending.0|1`  the tail smaller than a part (AWS S3 API, UploadPart: every part but the
 *                    last is at least 5 MiB), joined with the next append's bytes. Two slots: an
 *                    append writes the slot the manifest does not name, so a crash between the
 *                    object write and the manifest write never changes the bytes the manifest
 *                    describes. Under a lease the key also carries the holder's fence
 *                    (`<id>.pending.<fence>.0|1`), so that a holder that lost its lock cannot
 *                    overwrite the tail a newer holder committed, even with a write that was
 *                    already on its way to S3 when it lost it.
 *
 * An append streams its content into a part buffer of exactly `partSize` bytes (the upload's
 * part size is constant for all non-final parts: Cloudflare R2 requires it, peers.md §3 item
 * 11). Each full buffer is sent with UploadPart; only when S3 acknowledged it is the manifest
 * written, and only then is the offset counted. The rest is written as the pending object. So
 * a small append costs: GetObject(manifest), GetObject(pending, if any), PutObject(pending),
 * PutObject(manifest) — never a ListParts.
 *
 * Verified appends (tus checksums, Content-Digest) upload their full parts as they arrive but
 * keep them out of the manifest until `verify()` accepts the content; rejected parts are left
 * unreferenced and overwritten by the next parts with the same numbers (AWS S3 API, UploadPart:
 * "If you upload a new part using the same part number that was used with a previous part, the
 * previously uploaded part is overwritten"), or dropped by CompleteMultipartUpload, which only
 * assembles the parts it lists. A multipart upload created by a rejected append is aborted.
 */

import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import type { Lease } from '../../lock/types.ts'
import {
  formatContentDisposition,
  sanitizeFilename,
} from '../../protocol/codec/content-disposition.ts'
import { UploadError } from '../../protocol/errors.ts'
import type { UploadInfo } from '../../protocol/types.ts'
import type {
  AppendOptions,
  ExpireOptions,
  NewUpload,
  UpdateOptions,
  UploadChanges,
  UploadStore,
} from '../../store/types.ts'
import { ByteBudget } from './budget.ts'
import { fileBuffer, memoryBuffer, type PartBuffer } from './buffer.ts'
import {
  damagedManifest,
  type Manifest,
  manifestComplete,
  newManifest,
  type PartRecord,
  parseManifest,
  toInfo,
} from './manifest.ts'
import { isMissing, loadSdk, type S3Sdk, unavailable } from './sdk.ts'

/** Structured logging, as the server's Logger (the store never writes to the console). */
export interface S3StoreLogger {
  debug(event: string, attrs?: Record<string, unknown>): void
  info(event: string, attrs?: Record<string, unknown>): void
  warn(event: string, attrs?: Record<string, unknown>): void
  error(event: string, attrs?: Record<string, unknown>): void
}

export interface S3StoreOptions {
  readonly bucket: string
  /** Key prefix of every object of this store (e.g. `uploads/`). @default '' */
  readonly prefix?: string
  /** A ready client. Otherwise one is made from `clientConfig`. */
  readonly client?: S3Client
  /**
   * Configuration of the client the store makes (endpoint, region, forcePathStyle, ...);
   * credentials come from the usual AWS environment variables unless given. The store sets
   * `requestChecksumCalculation` and `responseChecksumValidation` to 'WHEN_REQUIRED' unless
   * given: S3-compatible servers such as Ceph RGW answer 411 to the SDK's default streamed
   * checksums (env.md §2b).
   */
  readonly clientConfig?: S3ClientConfig
  /**
   * Size of every non-final part, in bytes (AWS S3 API, UploadPart: 5 MiB to 5 GiB). Larger
   * parts are chosen for uploads that 10,000 parts of this size could not hold.
   * @default 8 MiB
   */
  readonly partSize?: number
  /**
   * Bytes of part buffers all appends of this store may hold at once (per process). An append
   * reserves one part buffer before it reads into it; when the budget is spent, appends wait and
   * read nothing from their bodies (backpressure). At least `partSize`. @default 4 × partSize
   */
  readonly memoryBudgetBytes?: number
  /**
   * Gather parts in files of this directory instead of memory (the budget then bounds the disk
   * space). Each file is deleted as soon as its part is sent.
   */
  readonly bufferDirectory?: string
  /**
   * The largest upload the server accepts (its max-size), used to choose the part size of
   * uploads whose length is deferred. Without it, a deferred-length upload can grow to
   * 10,000 × partSize (78 GiB at 8 MiB); content beyond that is refused with
   * ERR_MAX_SIZE_EXCEEDED after what fits is stored.
   */
  readonly maxUploadSizeBytes?: number
  /** A request to S3 that takes longer than this fails (ERR_STORE_UNAVAILABLE). @default 60 s */
  readonly requestTimeoutMs?: number
  readonly logger?: S3StoreLogger
  /** Clock for createdAt/updatedAt (tests). @default Date.now */
  readonly now?: () => number
}

const MiB = 1024 * 1024
/** AWS S3 API, UploadPart: a part is 5 MiB to 5 GiB, except the last; at most 10,000 parts. */
const MIN_PART = 5 * MiB
const MAX_PART = 5 * 1024 * MiB
const MAX_PARTS = 10_000
/** Ids are 128 random bits in lower-case hex: nothing else can name an object here. */
const ID = /^[0-9a-f]{32}$/
const noop = (): void => {}
const silent: S3StoreLogger = { debug: noop, info: noop, warn: noop, error: noop }

/** An S3 store: the UploadStore contract plus what tests and tools need to see. */
export interface S3Store extends UploadStore {
  terminate(id: string, options?: UpdateOptions): Promise<void>
  concatenate(id: string, options?: UpdateOptions): Promise<UploadInfo>
  read(id: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array>
  expire(before: number, options?: ExpireOptions): AsyncIterable<string>
  readonly bucket: string
  readonly prefix: string
  /** The shared part-buffer budget (tests). */
  readonly budget: ByteBudget
  /** The SDK client in use (loads the SDK on first call). */
  client(): Promise<S3Client>
  /** The key of an upload's object: 'info' (manifest), 'data', 'pending0', 'pending1'. */
  key(id: string, kind: 'info' | 'data' | 'pending0' | 'pending1'): string
}

/** Creates an S3 store. No request is made (and the SDK is not loaded) until it is used. */
export function createS3Store(options: S3StoreOptions): S3Store {
  const bucket = options.bucket
  const prefix = options.prefix ?? ''
  const basePartSize = options.partSize ?? 8 * MiB
  if (!Number.isSafeInteger(basePartSize) || basePartSize < MIN_PART || basePartSize > MAX_PART) {
    throw new UploadError('ERR_INVALID_CONFIG', 'S3 store: partSize must be 5 MiB to 5 GiB')
  }
  const budget = new ByteBudget(options.memoryBudgetBytes ?? 4 * basePartSize)
  if (budget.capacity < basePartSize) {
    throw new UploadError(
      'ERR_INVALID_CONFIG',
      'S3 store: memoryBudgetBytes must hold at least one part (partSize)',
    )
  }
  const timeoutMs = options.requestTimeoutMs ?? 60_000
  const logger = options.logger ?? silent
  const now = options.now ?? Date.now

  let loading: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined
  const s3 = (): Promise<{ sdk: S3Sdk; client: S3Client }> => {
    loading ??= loadSdk().then((sdk) => ({
      sdk,
      client:
        options.client ??
        new sdk.S3Client({
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          ...options.clientConfig,
        }),
    }))
    // A failed load is retried next time (the package may be installed meanwhile).
    loading.catch(() => {
      loading = undefined
    })
    return loading
  }

  /** Sends one command; every SDK failure (after the SDK's own retries) becomes a 503. */
  async function send<T>(
    operation: string,
    make: (sdk: S3Sdk) => { readonly input: object },
  ): Promise<T> {
    const { sdk, client } = await s3()
    const { signal, done } = deadline()
    try {
      // The commands are built by the caller; the overloads of send() cannot name them all.
      return (await client.send(make(sdk) as never, { abortSignal: signal })) as T
    } catch (e) {
      throw unavailable(operation, e)
    } finally {
      done()
    }
  }

  /**
   * A request's time limit: from its start until its response head (a response body, such as a
   * long download, is not cut by it).
   */
  function deadline(): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController()
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    )
    return { signal: controller.signal, done: () => clearTimeout(timer) }
  }

  const keyOf = (id: string, kind: 'info' | 'data' | 'pending0' | 'pending1'): string => {
    switch (kind) {
      case 'info':
        return `${prefix}${id}.info`
      case 'data':
        return `${prefix}${id}`
      case 'pending0':
        return `${prefix}${id}.pending.0`
      case 'pending1':
        return `${prefix}${id}.pending.1`
    }
  }
  const pendingKey = (id: string, slot: 0 | 1, fence?: number): string =>
    fence === undefined
      ? keyOf(id, slot === 0 ? 'pending0' : 'pending1')
      : `${prefix}${id}.pending.${fence}.${slot}`
  /** The pending object a manifest names. */
  const namedPending = (m: Manifest): string => pendingKey(m.id, m.pendingSlot, m.pendingFence)
  /** A manifest naming the pending object of `slot` written under `lease`. */
  const withPending = (m: Manifest, slot: 0 | 1, lease: Lease | undefined): Manifest => {
    const { pendingFence: _f, ...rest } = m
    return lease === undefined
      ? { ...rest, pendingSlot: slot }
      : { ...rest, pendingSlot: slot, pendingFence: lease.fence }
  }
  // AWS S3 API, CopyObject/UploadPartCopy: x-amz-copy-source is "bucket/key", URL-encoded.
  const copySource = (key: string): string =>
    `${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`

  /** The part size of an upload of this length (or of a deferred one). */
  function partSizeFor(length: number | undefined): number {
    const target = length ?? options.maxUploadSizeBytes
    if (target === undefined) return basePartSize
    const need = Math.ceil(target / MAX_PARTS)
    if (need <= basePartSize) return basePartSize
    const size = Math.ceil(need / MiB) * MiB
    if (size > MAX_PART) {
      throw new UploadError(
        'ERR_MAX_SIZE_EXCEEDED',
        'the S3 store cannot hold an upload this large (10,000 parts of 5 GiB)',
      )
    }
    return size
  }

  // -------------------------------------------------------------------------------------------
  // manifests

  async function readManifest(id: string): Promise<Manifest | undefined> {
    if (!ID.test(id)) return undefined
    const { sdk, client } = await s3()
    let text: string
    const { signal, done } = deadline()
    try {
      const out = await client.send(
        new sdk.GetObjectCommand({ Bucket: bucket, Key: keyOf(id, 'info') }),
        { abortSignal: signal },
      )
      text = (await out.Body?.transformToString('utf-8')) ?? ''
    } catch (e) {
      if (isMissing(e)) return undefined
      throw unavailable('reading the upload manifest', e)
    } finally {
      done()
    }
    // draft-13 §4.1.1: a server that loses upload state MUST deactivate the upload resource.
    return parseManifest(text, id) ?? damagedManifest(id, now())
  }

  async function mustRead(id: string): Promise<Manifest> {
    const m = await readManifest(id)
    if (m === undefined) throw new UploadError('ERR_UPLOAD_NOT_FOUND')
    return m
  }

  /** A stale holder (lower fence than one that already committed) must not write. */
  function admit(m: Manifest, lease: Lease | undefined): void {
    if (lease !== undefined && lease.fence < m.fence) {
      throw new UploadError(
        'ERR_LOCK_LOST',
        `a newer lock holder (fence ${m.fence}) has written this upload; this one holds fence ${lease.fence}`,
      )
    }
  }

  /** Writes the manifest: the commit point of every change. The lease is checked first. */
  async function commit(m: Manifest, lease: Lease | undefined): Promise<Manifest> {
    admit(m, lease)
    await lease?.check()
    const next: Manifest = lease === undefined ? m : { ...m, fence: Math.max(m.fence, lease.fence) }
    await send('writing the upload manifest', (sdk) => {
      return new sdk.PutObjectCommand({
        Bucket: bucket,
        Key: keyOf(next.id, 'info'),
        Body: JSON.stringify(next),
        ContentType: 'application/json',
      })
    })
    return next
  }

  /**
   * Before a write that a newer holder may depend on (the short last part and the completion of
   * the multipart upload; pending tails, whose keys also carry the fence): the lease must still
   * hold. The check at the commit point comes too late there: a holder paused past its lease
   * would already have replaced what the newer holder committed (Kleppmann, "How to do
   * distributed locking": a stale holder's writes must be stopped, not only its last one). Full
   * parts need no check: part k always holds the bytes [(k-1) × partSize, k × partSize).
   */
  async function stillHeld(lease: Lease | undefined): Promise<void> {
    await lease?.check()
  }

  // -------------------------------------------------------------------------------------------
  // object attributes

  function metadataValue(m: Manifest, keys: readonly string[]): string | undefined {
    for (const key of keys) {
      const value = m.metadata?.find((p) => p.key === key)?.value
      if (value == null) continue
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(value, 'base64'))
      } catch {
        return undefined
      }
    }
    return undefined
  }

  /** Content-Type and Content-Disposition of the data object (RFC 6266 §4.3, RFC 8187). */
  function objectHeaders(m: Manifest): { ContentType?: string; ContentDisposition?: string } {
    const type = m.contentType ?? metadataValue(m, ['filetype', 'type', 'contentType'])
    const raw = m.filename ?? metadataValue(m, ['filename', 'name'])
    const name = raw === undefined ? undefined : sanitizeFilename(raw)
    return {
      // Only a plausible media type goes into a header (RFC 9110 §8.3.1).
      ...(type !== undefined && /^[\w.+-]+\/[\w.+-]+(\s*;[\x20-\x7e]*)?$/.test(type)
        ? { ContentType: type }
        : {}),
      ...(name === undefined
        ? {}
        : { ContentDisposition: formatContentDisposition('attachment', name) }),
    }
  }

  // -------------------------------------------------------------------------------------------
  // S3 operations

  async function createMultipart(m: Manifest): Promise<string> {
    const out = await send<{ UploadId?: string }>('starting a multipart upload', (sdk) => {
      return new sdk.CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: keyOf(m.id, 'data'),
        ...objectHeaders(m),
      })
    })
    if (out.UploadId === undefined) {
      throw unavailable('starting a multipart upload', new Error('no UploadId in the answer'))
    }
    return out.UploadId
  }

  async function uploadPart(
    m: Manifest,
    uploadId: string,
    partNumber: number,
    body: Uint8Array | Readable,
    size: number,
  ): Promise<PartRecord> {
    const out = await send<{ ETag?: string }>(`uploading part ${partNumber}`, (sdk) => {
      return new sdk.UploadPartCommand({
        Bucket: bucket,
        Key: keyOf(m.id, 'data'),
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentLength: size,
      })
    })
    logger.debug('S3PartUploaded', { id: m.id, partNumber, size })
    return [partNumber, out.ETag ?? '', size]
  }

  async function copyPart(
    m: Manifest,
    uploadId: string,
    partNumber: number,
    sourceKey: string,
    range: { start: number; end: number } | undefined,
    size: number,
  ): Promise<PartRecord> {
    const out = await send<{ CopyPartResult?: { ETag?: string } }>(
      `copying part ${partNumber}`,
      (sdk) => {
        return new sdk.UploadPartCopyCommand({
          Bucket: bucket,
          Key: keyOf(m.id, 'data'),
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: copySource(sourceKey),
          // AWS S3 API, UploadPartCopy: x-amz-copy-source-range "bytes=first-last" (inclusive).
          ...(range === undefined
            ? {}
            : { CopySourceRange: `bytes=${range.start}-${range.end - 1}` }),
        })
      },
    )
    return [partNumber, out.CopyPartResult?.ETag ?? '', size]
  }

  async function completeMultipart(
    m: Manifest,
    uploadId: string,
    parts: readonly PartRecord[],
  ): Promise<void> {
    await send('completing the multipart upload', (sdk) => {
      return new sdk.CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: keyOf(m.id, 'data'),
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map(([PartNumber, ETag]) => ({ PartNumber, ETag })) },
      })
    })
  }

  async function abortMultipart(key: string, uploadId: string): Promise<void> {
    await send('aborting a multipart upload', (sdk) => {
      return new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })
    }).catch((e: unknown) => {
      if (!isMissing((e as { cause?: unknown }).cause)) throw e
    })
  }

  async function putObject(
    key: string,
    body: Uint8Array | Readable | string,
    size: number,
    headers: { ContentType?: string; ContentDisposition?: string } = {},
  ): Promise<void> {
    await send(`writing ${key}`, (sdk) => {
      return new sdk.PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentLength: size,
        ...headers,
      })
    })
  }

  async function deleteObject(key: string): Promise<void> {
    await send(`deleting ${key}`, (sdk) => {
      return new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key })
    })
  }

  /** Streams `[start, end)` of an object. */
  async function* getRange(key: string, start: number, end: number): AsyncGenerator<Uint8Array> {
    if (end <= start) return
    const out = await send<{ Body?: AsyncIterable<Uint8Array> }>(`reading ${key}`, (sdk) => {
      // AWS S3 API, GetObject: Range "bytes=first-last" (RFC 9110 §14.1.2, inclusive).
      return new sdk.GetObjectCommand({
        Bucket: bucket,
        Key: key,
        Range: `bytes=${start}-${end - 1}`,
      })
    })
    if (out.Body === undefined) return
    try {
      for await (const chunk of out.Body) yield chunk
    } catch (e) {
      throw unavailable(`reading ${key}`, e)
    }
  }

  const newBuffer = (capacity: number): PartBuffer =>
    options.bufferDirectory === undefined
      ? memoryBuffer(capacity)
      : fileBuffer(options.bufferDirectory)

  // -------------------------------------------------------------------------------------------
  // finishing: all bytes into the data object

  /**
   * Moves every byte of the upload into its data object: the tail (`tail`, a buffer holding
   * exactly the bytes after the parts, or else the pending object) becomes the last part, then
   * CompleteMultipartUpload; an upload without parts becomes one PutObject (or a server-side
   * copy of its pending object). Writes and returns the manifest (stored: 'object').
   */
  async function finish(
    m: Manifest,
    parts: readonly PartRecord[],
    total: number,
    tail: PartBuffer | undefined,
    lease: Lease | undefined,
  ): Promise<Manifest> {
    // The tail becomes part n + 1 and the multipart upload is completed: nothing a stale holder
    // may do (it would replace a newer holder's part n + 1, or complete the upload short).
    await stillHeld(lease)
    const tailSize = total - parts.length * m.partSize
    const dataKey = keyOf(m.id, 'data')
    if (parts.length === 0) {
      if (tail !== undefined && tail.size > 0) {
        await putObject(dataKey, tail.body(), tail.size, objectHeaders(m))
      } else if (tailSize > 0) {
        await send('copying the pending bytes', (sdk) => {
          return new sdk.CopyObjectCommand({
            Bucket: bucket,
            Key: dataKey,
            CopySource: copySource(namedPending(m)),
            // AWS S3 API, CopyObject: REPLACE takes the headers of this request.
            MetadataDirective: 'REPLACE',
            ...objectHeaders(m),
          })
        })
      } else {
        // A 0-byte upload: an empty object (a multipart upload needs at least one part).
        await putObject(dataKey, new Uint8Array(0), 0, objectHeaders(m))
      }
      if (m.uploadId !== undefined) await abortMultipart(dataKey, m.uploadId)
    } else {
      const uploadId = m.uploadId
      if (uploadId === undefined)
        throw new UploadError('ERR_STORE', 'S3 store: parts without an UploadId')
      const all = [...parts]
      const n = parts.length + 1
      if (tail !== undefined && tail.size > 0) {
        all.push(await uploadPart(m, uploadId, n, tail.body(), tail.size))
      } else if (tailSize > 0) {
        all.push(await copyPart(m, uploadId, n, namedPending(m), undefined, tailSize))
      }
      await completeMultipart(m, uploadId, all)
    }
    const { uploadId: _u, ...rest } = m
    const done = await commit(
      {
        ...rest,
        stored: 'object',
        parts: [],
        pendingSize: 0,
        offset: total,
        updatedAt: Math.max(now(), m.updatedAt),
      },
      lease,
    )
    if (m.pendingUsed === true) await deletePending(m.id)
    return done
  }

  /** The keys under `keyPrefix`, page by page (ListObjectsV2 with continuation tokens). */
  async function* listKeys(keyPrefix: string, operation: string): AsyncGenerator<string> {
    let token: string | undefined
    do {
      const page = await send<{
        Contents?: { Key?: string }[]
        NextContinuationToken?: string
        IsTruncated?: boolean
      }>(operation, (sdk) => {
        return new sdk.ListObjectsV2Command({
          Bucket: bucket,
          Prefix: keyPrefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        })
      })
      for (const o of page.Contents ?? []) if (o.Key !== undefined) yield o.Key
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  /**
   * Deletes every pending object of an upload: the slots of each holder that wrote one (also a
   * stale holder's late write, which no manifest names), found by listing their common prefix.
   */
  async function deletePending(id: string): Promise<void> {
    const keys: string[] = []
    try {
      for await (const key of listKeys(`${prefix}${id}.pending.`, 'listing pending objects')) {
        keys.push(key)
      }
    } catch (e) {
      logger.warn('S3CleanupFailed', { id, error: String(e) })
      return
    }
    await Promise.all(
      keys.map((key) =>
        deleteObject(key).catch((e: unknown) => {
          logger.warn('S3CleanupFailed', { id, key, error: String(e) })
        }),
      ),
    )
  }

  /**
   * The reverse of a seal: an incomplete upload whose bytes were put into the data object (so
   * they could be read) gets a multipart upload again, its full parts copied server-side
   * (UploadPartCopy with ranges) and the tail copied into a pending object.
   */
  async function unseal(m: Manifest, lease: Lease | undefined): Promise<Manifest> {
    await stillHeld(lease)
    const uploadId = await createMultipart(m)
    const full = Math.floor(m.offset / m.partSize)
    const parts: PartRecord[] = []
    for (let i = 0; i < full; i++) {
      parts.push(
        await copyPart(
          m,
          uploadId,
          i + 1,
          keyOf(m.id, 'data'),
          { start: i * m.partSize, end: (i + 1) * m.partSize },
          m.partSize,
        ),
      )
    }
    const tail = m.offset - full * m.partSize
    const slot: 0 | 1 = m.pendingSlot === 0 ? 1 : 0
    if (tail > 0) {
      const out = await send<{ Body?: Readable }>('reopening a sealed upload', (sdk) => {
        return new sdk.GetObjectCommand({
          Bucket: bucket,
          Key: keyOf(m.id, 'data'),
          Range: `bytes=${full * m.partSize}-${m.offset - 1}`,
        })
      })
      if (out.Body === undefined)
        throw unavailable('reopening a sealed upload', new Error('no body'))
      // Streamed from GetObject into PutObject (Content-Length known): no buffer needed.
      await putObject(pendingKey(m.id, slot, lease?.fence), out.Body, tail)
    }
    return commit(
      {
        ...withPending(m, slot, lease),
        stored: 'parts',
        uploadId,
        parts,
        pendingSize: tail,
        pendingUsed: true,
      },
      lease,
    )
  }

  // -------------------------------------------------------------------------------------------
  // append

  async function append(
    id: string,
    offset: number,
    body: AsyncIterable<Uint8Array>,
    opts: AppendOptions,
  ): Promise<number> {
    let m = await mustRead(id)
    const lease = opts.lease
    if (m.concat?.kind === 'final') throw new UploadError('ERR_MODIFY_FINAL')
    if (m.invalid !== undefined && m.partSize === 0) throw new UploadError('ERR_UPLOAD_INVALID')
    admit(m, lease)
    if (m.offset !== offset) {
      throw new UploadError('ERR_MISMATCHED_OFFSET', undefined, {
        details: { uploadOffset: m.offset, expectedOffset: m.offset, providedOffset: offset },
      })
    }

    const verified = opts.verify !== undefined
    const partSize = m.partSize
    const cap = MAX_PARTS * partSize
    const start = m.offset
    const interval = opts.progressIntervalMs ?? 1000
    let lastProgress = Date.now()
    /** Parts uploaded by this verified append, not yet in the manifest. */
    const staged: PartRecord[] = []
    let uploadId = m.uploadId
    let createdUpload = false
    let accepted = 0
    let current: { buffer: PartBuffer; reserved: number } | undefined
    let firstBuffer = true
    /**
     * Parts go to S3 several at a time (up to `window`, as the budget allows), like the SDK's
     * own multipart upload; the manifest takes them strictly in order (`commits`, one write for
     * every run of consecutive parts that finished meanwhile), so an offset never counts a part
     * whose predecessors S3 has not acknowledged.
     */
    const window = Math.max(1, Math.min(4, Math.floor(budget.capacity / partSize) - 1))
    const uploading = new Set<Promise<void>>()
    /** Parts acknowledged by S3 and not yet committed (or staged), by number. */
    const acknowledged = new Map<number, PartRecord>()
    /** The number of the last part committed (or staged) by this append. */
    let settledPart: number | undefined
    /** The number the next dispatched part gets. */
    let nextPart: number | undefined
    let creating: Promise<string> | undefined
    let commits: Promise<void> = Promise.resolve()
    /** Every part upload and manifest write of this append so far has finished. */
    const drained = async (): Promise<void> => {
      while (uploading.size > 0) await Promise.allSettled([...uploading])
      await commits
    }
    let failure: unknown
    let failed = false
    let capped = false
    let opened = false
    const spare: { buffer: PartBuffer; reserved: number }[] = []

    const release = async (b: { buffer: PartBuffer; reserved: number }): Promise<void> => {
      await b.buffer.dispose()
      budget.release(b.reserved)
    }

    /** A part buffer with its reservation: waits for budget (backpressure on the body). */
    const obtain = async (): Promise<{ buffer: PartBuffer; reserved: number }> => {
      const reused = spare.pop()
      if (reused !== undefined) return reused
      while (uploading.size > 0) {
        // Another buffer while parts upload, only if the budget allows now; otherwise an upload
        // in flight frees its buffer for this one.
        const quick = budget.tryAcquire(partSize)
        if (quick > 0) return { buffer: newBuffer(partSize), reserved: quick }
        await Promise.race(uploading)
        const freed = spare.pop()
        if (freed !== undefined) return freed
      }
      const reserved = await budget.acquire(partSize)
      return { buffer: newBuffer(partSize), reserved }
    }

    /** Reads the pending tail into the first buffer, so the next part starts with it. */
    const loadPending = async (buffer: PartBuffer): Promise<void> => {
      if (m.pendingSize === 0) return
      for await (const chunk of getRange(namedPending(m), 0, m.pendingSize)) {
        await buffer.write(chunk)
      }
      if (buffer.size !== m.pendingSize) {
        throw unavailable(
          'reading the pending bytes',
          new Error(`got ${buffer.size} of ${m.pendingSize}`),
        )
      }
    }

    /**
     * Commits (or, for a verified append, stages) the parts that follow the last settled one
     * without a gap; one manifest write for all of them.
     */
    const settleParts = async (): Promise<void> => {
      const run: PartRecord[] = []
      let n = (settledPart ?? m.parts.length + staged.length) + 1
      for (let part = acknowledged.get(n); part !== undefined; part = acknowledged.get(n)) {
        acknowledged.delete(n)
        run.push(part)
        n++
      }
      if (run.length === 0) return
      if (verified) {
        staged.push(...run)
      } else {
        const parts = [...m.parts, ...run]
        m = await commit(
          {
            ...m,
            ...(uploadId === undefined ? {} : { uploadId }),
            parts,
            offset: parts.length * partSize,
            pendingSize: 0,
            updatedAt: Math.max(now(), m.updatedAt),
          },
          lease,
        )
        if (opts.onProgress !== undefined && Date.now() - lastProgress >= interval) {
          lastProgress = Date.now()
          opts.onProgress(m.offset)
        }
      }
      settledPart = n - 1
    }

    /** Uploads a full part (numbered in order of dispatch); its commit follows in order. */
    const sendPart = async (b: { buffer: PartBuffer; reserved: number }): Promise<void> => {
      // After a failed part, the next buffer's bytes are not that part's bytes: nothing more is
      // sent (nor counted at its offset); parts already on their way are never committed past
      // the gap.
      if (failure !== undefined) {
        await release(b)
        return
      }
      nextPart ??= m.parts.length + staged.length + 1
      const n = nextPart++
      try {
        if (uploadId === undefined) {
          creating ??= createMultipart(m).then((created) => {
            uploadId = created
            createdUpload = true
            return created
          })
        }
        const target = uploadId ?? (await (creating as Promise<string>))
        const part = await uploadPart(m, target, n, b.buffer.body(), b.buffer.size)
        await b.buffer.reset()
        spare.push(b)
        if (failure !== undefined) return
        acknowledged.set(n, part)
        commits = commits.then(settleParts).catch((e: unknown) => {
          failure ??= e
        })
        await commits
      } catch (e) {
        failure ??= e
        await release(b)
      }
    }

    /** Sends a full buffer, waiting while `window` parts are on their way. */
    const dispatch = async (b: { buffer: PartBuffer; reserved: number }): Promise<void> => {
      while (uploading.size >= window) await Promise.race(uploading)
      const sending = sendPart(b).finally(() => {
        uploading.delete(sending)
      })
      uploading.add(sending)
    }

    /**
     * Makes the bytes gathered so far durable as the pending object, so that progress can be
     * reported while a part is still filling (slow clients; draft 104 progress interim
     * responses carry durable offsets only).
     */
    const checkpoint = async (): Promise<void> => {
      await drained()
      if (failure !== undefined || current === undefined) return
      const slot: 0 | 1 = m.pendingSlot === 0 ? 1 : 0
      await stillHeld(lease)
      await putObject(
        pendingKey(id, slot, lease?.fence),
        current.buffer.body(),
        current.buffer.size,
      )
      m = await commit(
        {
          ...withPending(m, slot, lease),
          offset: start + accepted,
          pendingSize: current.buffer.size,
          pendingUsed: true,
          updatedAt: Math.max(now(), m.updatedAt),
        },
        lease,
      )
      lastProgress = Date.now()
      opts.onProgress?.(m.offset)
    }

    try {
      try {
        for await (const chunk of body) {
          let data = chunk
          while (data.byteLength > 0 && failure === undefined) {
            if (!opened) {
              opened = true
              // A complete upload takes no more bytes (an empty append is harmless).
              if (manifestComplete(m)) throw new UploadError('ERR_UPLOAD_COMPLETED')
              if (m.stored === 'object') m = await unseal(m, lease)
              uploadId = m.uploadId
            }
            if (current === undefined) {
              current = await obtain()
              if (firstBuffer) {
                firstBuffer = false
                await loadPending(current.buffer)
              }
            }
            const room = Math.min(partSize - current.buffer.size, cap - (start + accepted))
            if (room <= 0) {
              capped = true
              break
            }
            const piece = data.byteLength <= room ? data : data.subarray(0, room)
            await current.buffer.write(piece)
            accepted += piece.byteLength
            data = data.subarray(piece.byteLength)
            if (current.buffer.size === partSize) {
              const full = current
              current = undefined
              await dispatch(full)
            }
          }
          if (
            !verified &&
            opts.onProgress !== undefined &&
            current !== undefined &&
            start + accepted > m.offset &&
            Date.now() - lastProgress >= interval
          ) {
            await checkpoint()
          }
          if (failure !== undefined || capped || opts.signal.aborted) break
        }
      } catch (e) {
        if (e instanceof UploadError) throw e
        // The content source failed (connection lost): keep what arrived (draft-13 §4.4.2).
        failed = true
      }
      await drained()
      if (failure !== undefined) throw unavailable('storing the content', failure)

      const tail = current?.buffer
      const total = start + accepted
      if (verified) {
        const ok = !failed && !capped && (await opts.verify?.()) === true
        if (!ok) {
          // All or nothing: nothing of this append enters the manifest.
          if (createdUpload && uploadId !== undefined) {
            await abortMultipart(keyOf(id, 'data'), uploadId).catch(() => undefined)
          }
          return m.offset
        }
      }
      if (accepted === 0) return m.offset
      const parts = [...m.parts, ...staged]
      const base: Manifest = {
        ...m,
        ...(uploadId === undefined ? {} : { uploadId }),
        updatedAt: Math.max(now(), m.updatedAt),
      }
      const completes = m.completesAtLength === true && m.length !== undefined && total === m.length
      if (completes) {
        // tus 1.0.0 §Core: the upload is complete when its offset reaches its length.
        m = await finish(base, parts, total, tail, lease)
      } else {
        const tailSize = total - parts.length * partSize
        let next: Manifest = { ...base, parts, offset: total }
        if (tail !== undefined && tail.size > 0 && total !== m.offset) {
          const slot: 0 | 1 = m.pendingSlot === 0 ? 1 : 0
          await stillHeld(lease)
          await putObject(pendingKey(id, slot, lease?.fence), tail.body(), tail.size)
          next = { ...withPending(next, slot, lease), pendingSize: tail.size, pendingUsed: true }
        } else {
          next = { ...next, pendingSize: tailSize }
        }
        if (verified || next.offset !== m.offset || next.pendingSize !== m.pendingSize) {
          m = await commit(next, lease)
        }
      }
      if (capped) {
        throw new UploadError(
          'ERR_MAX_SIZE_EXCEEDED',
          `the S3 store holds at most ${cap} bytes for this upload (10,000 parts of ${partSize})`,
          { details: { uploadOffset: m.offset } },
        )
      }
      return m.offset
    } finally {
      await drained().catch(() => undefined)
      if (current !== undefined) await release(current)
      for (const b of spare.splice(0)) await release(b)
    }
  }

  // -------------------------------------------------------------------------------------------
  // the rest of the contract

  async function terminate(id: string, options?: UpdateOptions): Promise<void> {
    const m = await mustRead(id)
    const lease = options?.lease
    admit(m, lease)
    await lease?.check()
    // The manifest goes first: once it is gone, the upload is gone.
    await deleteObject(keyOf(id, 'info'))
    const rest: Promise<unknown>[] = [deleteObject(keyOf(id, 'data')), deletePending(id)]
    if (m.uploadId !== undefined) rest.push(abortMultipart(keyOf(id, 'data'), m.uploadId))
    const results = await Promise.allSettled(rest)
    for (const r of results) {
      if (r.status === 'rejected') logger.warn('S3CleanupFailed', { id, error: String(r.reason) })
    }
  }

  /**
   * Seals an incomplete upload that has parts: its bytes go into the data object (the parts of
   * a multipart upload cannot be read before it is completed — AWS S3 API, GetObject), so that
   * `read` can serve them. The next append reopens it (unseal).
   */
  async function readable(m: Manifest): Promise<Manifest> {
    if (m.stored === 'object' || m.parts.length === 0) return m
    logger.debug('S3UploadSealed', { id: m.id, offset: m.offset })
    return finish(m, m.parts, m.offset, undefined, undefined)
  }

  async function concatenate(id: string, options?: UpdateOptions): Promise<UploadInfo> {
    const m = await mustRead(id)
    const lease = options?.lease
    admit(m, lease)
    const concat = m.concat
    if (concat?.kind !== 'final') throw new UploadError('ERR_INVALID_CONCAT', 'not a final upload')
    const sources: { key: string; size: number }[] = []
    for (const part of concat.parts) {
      let p = await readManifest(part)
      if (p === undefined || !manifestComplete(p)) throw new UploadError('ERR_CONCAT_UNFINISHED')
      if (p.stored !== 'object') p = await readable(p)
      sources.push({ key: keyOf(part, 'data'), size: p.offset })
    }
    const total = sources.reduce((n, s) => n + s.size, 0)
    const partSize = partSizeFor(total)
    const target: Manifest = { ...m, partSize }
    const dataKey = keyOf(id, 'data')
    /** The pieces of `[from, to)` of the concatenation, per source. */
    const segments = (from: number, to: number): { key: string; start: number; end: number }[] => {
      const out: { key: string; start: number; end: number }[] = []
      let base = 0
      for (const s of sources) {
        const a = Math.max(from, base)
        const b = Math.min(to, base + s.size)
        if (b > a) out.push({ key: s.key, start: a - base, end: b - base })
        base += s.size
      }
      return out
    }
    /** Streams the segments of a range through a part buffer (budget permitting). */
    const gather = async (
      from: number,
      to: number,
    ): Promise<{ buffer: PartBuffer; reserved: number }> => {
      const reserved = await budget.acquire(to - from)
      const buffer = newBuffer(to - from)
      try {
        for (const seg of segments(from, to)) {
          for await (const chunk of getRange(seg.key, seg.start, seg.end)) await buffer.write(chunk)
        }
        return { buffer, reserved }
      } catch (e) {
        await buffer.dispose()
        budget.release(reserved)
        throw e
      }
    }
    const single = segments(0, total)
    if (total <= partSize) {
      const only = single.length === 1 ? single[0] : undefined
      if (only !== undefined && only.start === 0 && only.end === total) {
        // One source holds everything: a server-side copy (AWS S3 API, CopyObject).
        await send('copying a partial upload', (sdk) => {
          return new sdk.CopyObjectCommand({
            Bucket: bucket,
            Key: dataKey,
            CopySource: copySource(only.key),
            MetadataDirective: 'REPLACE',
            ...objectHeaders(m),
          })
        })
      } else {
        const b = await gather(0, total)
        try {
          await putObject(dataKey, b.buffer.body(), b.buffer.size, objectHeaders(m))
        } finally {
          await b.buffer.dispose()
          budget.release(b.reserved)
        }
      }
    } else {
      // Constant part size (R2): part k is [k × partSize, (k+1) × partSize). A part inside one
      // partial is copied server-side (UploadPartCopy with a range); a part that spans partials
      // is streamed through a part buffer (a part cannot be copied from two sources).
      const uploadId = await createMultipart(m)
      try {
        const parts: PartRecord[] = []
        for (let from = 0, n = 1; from < total; from += partSize, n++) {
          const to = Math.min(from + partSize, total)
          const segs = segments(from, to)
          const seg = segs.length === 1 ? segs[0] : undefined
          if (seg !== undefined) {
            parts.push(await copyPart(target, uploadId, n, seg.key, seg, to - from))
          } else {
            const b = await gather(from, to)
            try {
              parts.push(await uploadPart(target, uploadId, n, b.buffer.body(), b.buffer.size))
            } finally {
              await b.buffer.dispose()
              budget.release(b.reserved)
            }
          }
        }
        await completeMultipart(target, uploadId, parts)
      } catch (e) {
        await abortMultipart(dataKey, uploadId).catch(() => undefined)
        throw e
      }
    }
    const done = await commit(
      {
        ...target,
        complete: true,
        length: total,
        offset: total,
        stored: 'object',
        updatedAt: Math.max(now(), m.updatedAt),
      },
      lease,
    )
    return toInfo(done)
  }

  async function* read(
    id: string,
    range?: { start: number; end: number },
  ): AsyncIterable<Uint8Array> {
    let m = await mustRead(id)
    const start = Math.max(range?.start ?? 0, 0)
    const end = Math.min(range?.end ?? m.offset, m.offset)
    if (end <= start) return
    if (m.stored === 'parts' && m.parts.length === 0) {
      // Everything is still in the pending object.
      yield* getRange(namedPending(m), start, end)
      return
    }
    m = await readable(m)
    yield* getRange(keyOf(id, 'data'), start, end)
  }

  async function* expire(before: number, options?: ExpireOptions): AsyncIterable<string> {
    for await (const key of listKeys(prefix, 'listing uploads')) {
      if (!key.endsWith('.info')) continue
      const id = key.slice(prefix.length, -'.info'.length)
      if (!ID.test(id)) continue
      const expired = async (): Promise<boolean> => {
        const m = await readManifest(id).catch(() => undefined)
        return m !== undefined && !manifestComplete(m) && m.updatedAt < before
      }
      if (!(await expired())) continue
      const release = options?.claim === undefined ? undefined : await options.claim(id)
      if (options?.claim !== undefined && release === undefined) continue
      try {
        // Read again under the claim: a request may have committed to it meanwhile.
        if (release !== undefined && !(await expired())) continue
        await terminate(id)
      } catch (e) {
        logger.warn('S3ExpireFailed', { id, error: String(e) })
        continue
      } finally {
        await release?.()
      }
      yield id
    }
    // Multipart uploads no manifest names (a crash between CreateMultipartUpload and the first
    // manifest write) would cost storage forever: abort the old ones (AWS S3 API,
    // ListMultipartUploads, AbortMultipartUpload).
    let keyMarker: string | undefined
    let idMarker: string | undefined
    do {
      const page = await send<{
        Uploads?: { Key?: string; UploadId?: string; Initiated?: Date }[]
        IsTruncated?: boolean
        NextKeyMarker?: string
        NextUploadIdMarker?: string
      }>('listing multipart uploads', (sdk) => {
        return new sdk.ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: prefix,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(idMarker === undefined ? {} : { UploadIdMarker: idMarker }),
        })
      })
      for (const u of page.Uploads ?? []) {
        const id = (u.Key ?? '').slice(prefix.length)
        if (!ID.test(id) || u.UploadId === undefined) continue
        if ((u.Initiated?.getTime() ?? 0) >= before) continue
        const m = await readManifest(id).catch(() => undefined)
        if (m !== undefined && m.uploadId === u.UploadId) continue
        await abortMultipart(u.Key ?? '', u.UploadId).catch(() => undefined)
      }
      const more = page.IsTruncated === true
      keyMarker = more ? page.NextKeyMarker : undefined
      idMarker = more ? page.NextUploadIdMarker : undefined
    } while (keyMarker !== undefined)
  }

  return {
    bucket,
    prefix,
    budget,
    key: keyOf,
    async client() {
      return (await s3()).client
    },

    /** Closes the connections of a client the store made (a given client is the caller's). */
    async close(): Promise<void> {
      if (options.client !== undefined || loading === undefined) return
      const made = await loading.catch(() => undefined)
      made?.client.destroy()
    },

    async create(upload: NewUpload): Promise<UploadInfo> {
      const id = randomBytes(16).toString('hex')
      const m = newManifest(id, upload, partSizeFor(upload.length), now())
      // The manifest's write is the commit point of the creation; the multipart upload is
      // started with the first full part (small uploads never need one).
      return toInfo(await commit(m, undefined))
    },

    async get(id: string): Promise<UploadInfo | undefined> {
      const m = await readManifest(id)
      return m === undefined ? undefined : toInfo(m)
    },

    append,

    async update(
      id: string,
      changes: UploadChanges,
      updateOptions?: { readonly lease?: Lease },
    ): Promise<UploadInfo> {
      const m = await mustRead(id)
      const lease = updateOptions?.lease
      admit(m, lease)
      let next: Manifest = { ...m, ...changes, updatedAt: Math.max(now(), m.updatedAt) }
      if (changes.length !== undefined && m.stored === 'parts' && m.parts.length === 0) {
        // A declared length may call for larger parts; nothing was sent as a part yet.
        next = { ...next, partSize: Math.max(m.partSize, partSizeFor(changes.length)) }
      }
      if (manifestComplete(next) && next.stored === 'parts' && next.concat?.kind !== 'final') {
        // Completion (draft Upload-Complete: ?1, or a tus length that equals the offset).
        next = await finish(next, next.parts, next.offset, undefined, lease)
      } else {
        next = await commit(next, lease)
      }
      return toInfo(next)
    },

    terminate,
    concatenate,
    read,
    expire,
    // Readiness: the bucket answers with these credentials (one HeadBucket).
    async ping(): Promise<void> {
      await send('checking the bucket', (sdk) => new sdk.HeadBucketCommand({ Bucket: bucket }))
    },
  }
}
