/**
 * @module The disk store, Ferry's default: one data file and one JSON sidecar per upload in a
 * directory.
 *
 * Durability: the offset of an upload is the size of its data file. An append writes at that
 * offset and fdatasyncs before it returns, so an acknowledged offset is always on disk; after a
 * crash the file holds exactly the bytes written before it (a process crash loses nothing that
 * reached the kernel). The sidecar is replaced atomically (write, fsync, rename, fsync dir).
 * Appends that must be verified (checksums, digests) are staged in `<id>.stage` and only
 * copied into the data file once verified, so a crash can never expose unverified bytes.
 * Concatenation hard-links the partial uploads' files: no byte passes through JavaScript.
 */
import { randomBytes } from 'node:crypto'
import { constants, createReadStream } from 'node:fs'
import {
  access,
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  rename,
  stat,
  statfs,
  unlink,
} from 'node:fs/promises'
import { join } from 'node:path'
import { UploadError } from '../../protocol/errors.ts'
import { isComplete } from '../../protocol/rules.ts'
import type { UploadInfo } from '../../protocol/types.ts'
import { type PersistedState, persistedFacts, storedDigests } from '../../store/persisted.ts'
import type {
  AppendOptions,
  ExpireOptions,
  NewUpload,
  UploadChanges,
  UploadStore,
} from '../../store/types.ts'

export interface DiskStoreOptions {
  /** Directory for the uploads; created if missing. */
  readonly directory: string
  /**
   * 'fsync' (default) syncs data before acknowledging it and syncs every state change;
   * 'none' leaves it to the OS: faster, but a power loss can lose acknowledged bytes.
   */
  readonly durability?: 'fsync' | 'none'
  /** Bytes gathered before one vectored write. @default 1 MiB */
  readonly writeBufferBytes?: number
}

/** Ids are 128 random bits in lower-case hex: nothing else can name a file here. */
const ID = /^[0-9a-f]{32}$/
/** Background fdatasync interval while an append runs (bytes). */
const SYNC_EVERY_BYTES = 16 * 1024 * 1024
/** A batch is written at least this often, however slowly content arrives (ms). */
const FLUSH_MS = 200
/**
 * Bytes all appends of a store may hold gathered before their writes (per process): with many
 * appends at once, each writes smaller batches rather than each holding `writeBufferBytes`.
 */
const GATHER_LIMIT = 16 * 1024 * 1024

/** The sidecar `<id>.json`. */
type InfoFile = PersistedState

function storeError(operation: string, cause: unknown): UploadError {
  return new UploadError('ERR_STORE', `disk store: ${operation} failed`, { cause })
}

function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT'
}

/** Creates the disk store. */
export function createDiskStore(
  options: DiskStoreOptions,
): UploadStore & { readonly directory: string } {
  const dir = options.directory
  const sync = (options.durability ?? 'fsync') === 'fsync'
  const bufferBytes = options.writeBufferBytes ?? 1024 * 1024
  /** Bytes gathered by every running append and not yet handed to a write. */
  let gathered = 0
  let ready: Promise<void> | undefined
  const ensureDir = (): Promise<void> => {
    ready ??= mkdir(dir, { recursive: true }).then(() => undefined)
    return ready
  }

  const dataPath = (id: string): string => join(dir, id)
  const infoPath = (id: string): string => join(dir, `${id}.json`)
  const stagePath = (id: string): string => join(dir, `${id}.stage`)
  const partPath = (id: string, index: number): string => join(dir, `${id}.${index}.part`)

  async function syncDir(): Promise<void> {
    if (!sync) return
    const fh = await open(dir, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  }

  /**
   * Sidecars this process wrote or read, keyed by id, with the identity of the file they came
   * from (inode, modification time in ns, size). Every write is a new file renamed into place,
   * so a sidecar changed by anyone else — another process on a shared directory included — has
   * another identity: one stat tells whether the cached content is still the file's, instead of
   * open + fstat + read + close. Bounded; the oldest entries go first.
   */
  const sidecars = new Map<string, { identity: string; file: InfoFile }>()
  const SIDECAR_CACHE = 4096
  const identityOf = (st: { ino: bigint; mtimeNs: bigint; size: bigint }): string =>
    `${st.ino}:${st.mtimeNs}:${st.size}`
  const remember = (id: string, identity: string, file: InfoFile): void => {
    sidecars.delete(id)
    sidecars.set(id, { identity, file })
    if (sidecars.size > SIDECAR_CACHE) {
      const oldest = sidecars.keys().next().value
      if (oldest !== undefined) sidecars.delete(oldest)
    }
  }

  async function writeInfo(info: InfoFile): Promise<void> {
    const tmp = join(dir, `${info.id}.json.${randomBytes(4).toString('hex')}.tmp`)
    const fh = await open(tmp, 'wx')
    let identity: string
    try {
      await fh.writeFile(JSON.stringify(info))
      if (sync) await fh.datasync()
      // rename() keeps the inode and the modification time: this is the sidecar's identity.
      identity = identityOf(await fh.stat({ bigint: true }))
    } finally {
      await fh.close()
    }
    sidecars.delete(info.id)
    await rename(tmp, infoPath(info.id))
    await syncDir()
    remember(info.id, identity, info)
  }

  async function readInfo(id: string): Promise<InfoFile | undefined> {
    const cached = sidecars.get(id)
    if (cached !== undefined) {
      try {
        const st = await stat(infoPath(id), { bigint: true })
        if (identityOf(st) === cached.identity) return cached.file
      } catch (e) {
        if (isNotFound(e)) {
          sidecars.delete(id)
          return undefined
        }
        throw storeError('reading upload state', e)
      }
      sidecars.delete(id)
    }
    let text: string
    let identity: string
    try {
      const fh = await open(infoPath(id), 'r')
      try {
        identity = identityOf(await fh.stat({ bigint: true }))
        text = await fh.readFile('utf8')
      } finally {
        await fh.close()
      }
    } catch (e) {
      if (isNotFound(e)) return undefined
      throw storeError('reading upload state', e)
    }
    try {
      const parsed = JSON.parse(text) as InfoFile
      if (parsed.v !== 1 || parsed.id !== id) throw new Error('unexpected content')
      remember(id, identity, parsed)
      return parsed
    } catch {
      // draft-13 §4.1.1: a server that loses upload state MUST deactivate the upload resource.
      const t = Date.now()
      return {
        v: 1,
        id,
        complete: false,
        createdAt: t,
        updatedAt: t,
        invalid: 'the upload state is damaged',
      }
    }
  }

  function toInfo(file: InfoFile, offset: number, mtimeMs: number): UploadInfo {
    const { v: _v, reprDigests, ...rest } = file
    const base = { ...rest, offset, updatedAt: Math.max(file.updatedAt, Math.floor(mtimeMs)) }
    const info: UploadInfo = { ...base, complete: isComplete(base) }
    if (reprDigests === undefined) return info
    return {
      ...info,
      reprDigests: storedDigests(reprDigests),
    }
  }

  async function getInfo(id: string): Promise<UploadInfo | undefined> {
    if (!ID.test(id)) return undefined
    const file = await readInfo(id)
    if (file === undefined) return undefined
    if (file.concat?.kind === 'final') {
      // A final upload's bytes are its (linked) parts; its offset is known once concatenated.
      return toInfo(file, file.complete ? (file.length ?? 0) : 0, 0)
    }
    try {
      const st = await stat(dataPath(id))
      return toInfo(file, st.size, st.mtimeMs)
    } catch (e) {
      if (!isNotFound(e)) throw storeError('reading upload data', e)
      return { ...toInfo(file, 0, 0), invalid: file.invalid ?? 'the upload data is missing' }
    }
  }

  async function mustGetFile(id: string): Promise<InfoFile> {
    const file = ID.test(id) ? await readInfo(id) : undefined
    if (file === undefined) throw new UploadError('ERR_UPLOAD_NOT_FOUND')
    return file
  }

  /** Writes buffers at a position, all of them (vectored writes may be partial). */
  async function writeAll(fh: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
    let pos = position
    let rest = buffers
    while (rest.length > 0) {
      const { bytesWritten } = await fh.writev(rest, pos)
      pos += bytesWritten
      let skip = bytesWritten
      const next: Uint8Array[] = []
      for (const b of rest) {
        if (skip >= b.byteLength) {
          skip -= b.byteLength
          continue
        }
        next.push(skip > 0 ? b.subarray(skip) : b)
        skip = 0
      }
      rest = next
    }
  }

  /**
   * Streams `body` into `fh` from `start`: vectored writes of about `bufferBytes`, one write in
   * flight while the next batch gathers (a slow sender's bytes are written at least every
   * `FLUSH_MS`). With durability on, a background fdatasync runs every `SYNC_EVERY_BYTES` (or
   * when progress is due) while content keeps arriving, so the final sync is short; progress is
   * reported only for synced offsets. Returns the end position, and whether the body failed: a
   * body that throws ends the stream, and what was gathered before it is still written.
   */
  async function pump(
    fh: FileHandle,
    start: number,
    body: AsyncIterable<Uint8Array>,
    opts: {
      signal: AbortSignal
      onProgress?: (offset: number) => void
      progressIntervalMs?: number
    },
  ): Promise<{ end: number; failed: boolean }> {
    let position = start
    let written = start
    let durable = start
    let failed = false
    let batch: Uint8Array[] = []
    let batchBytes = 0
    let lastFlush = Date.now()
    let inFlight: Promise<void> = Promise.resolve()
    let syncing: Promise<void> | undefined
    let syncError: unknown
    let lastProgress = Date.now()
    const interval = opts.progressIntervalMs ?? 1000
    const progressDue = (): boolean =>
      opts.onProgress !== undefined && Date.now() - lastProgress >= interval
    const report = (offset: number): void => {
      if (!progressDue()) return
      lastProgress = Date.now()
      opts.onProgress?.(offset)
    }
    const afterWrite = (end: number): void => {
      written = end
      if (!sync) {
        report(written)
        return
      }
      if (syncing !== undefined || written === durable) return
      if (written - durable < SYNC_EVERY_BYTES && !progressDue()) return
      const upTo = written
      syncing = fh.datasync().then(
        () => {
          durable = upTo
          syncing = undefined
          report(durable)
        },
        (e: unknown) => {
          syncError ??= e
          syncing = undefined
        },
      )
    }
    const flush = async (): Promise<void> => {
      if (batchBytes === 0) return
      const buffers = batch
      const at = position
      gathered -= batchBytes
      position += batchBytes
      batch = []
      batchBytes = 0
      lastFlush = Date.now()
      await inFlight
      const end = position
      inFlight = writeAll(fh, buffers, at).then(() => afterWrite(end))
    }
    try {
      for await (const received of body) {
        // A small piece of a large buffer (a socket read of a slow sender) would keep the
        // whole buffer alive while it waits in the batch: keep a copy of just the piece.
        const chunk =
          received.byteLength * 4 < received.buffer.byteLength
            ? Uint8Array.prototype.slice.call(received)
            : received
        batch.push(chunk)
        batchBytes += chunk.byteLength
        gathered += chunk.byteLength
        if (
          batchBytes >= bufferBytes ||
          gathered >= GATHER_LIMIT ||
          Date.now() - lastFlush >= FLUSH_MS
        ) {
          await flush()
        }
        if (opts.signal.aborted) break
      }
    } catch {
      // The content source failed (connection lost): keep what arrived (draft-13 §4.4.2).
      failed = true
    }
    await flush()
    await inFlight
    await syncing
    if (syncError !== undefined) throw storeError('syncing upload data', syncError)
    return { end: position, failed }
  }

  async function append(
    id: string,
    offset: number,
    body: AsyncIterable<Uint8Array>,
    opts: AppendOptions,
  ): Promise<number> {
    const file = await mustGetFile(id)
    if (file.concat?.kind === 'final') throw new UploadError('ERR_MODIFY_FINAL')
    let fh: FileHandle
    try {
      fh = await open(dataPath(id), 'r+')
    } catch (e) {
      throw storeError('opening upload data', e)
    }
    try {
      const { size } = await fh.stat()
      // Defence in depth: the lock already serializes appends; the file is the truth.
      if (size !== offset) {
        throw new UploadError('ERR_MISMATCHED_OFFSET', undefined, {
          details: { uploadOffset: size, expectedOffset: size, providedOffset: offset },
        })
      }
      if (opts.verify === undefined) {
        let end: number
        try {
          ;({ end } = await pump(fh, offset, body, opts))
        } finally {
          if (sync) await fh.datasync()
        }
        return end
      }
      return await appendVerified(fh, id, offset, body, opts)
    } catch (e) {
      if (e instanceof UploadError) throw e
      throw storeError('writing upload data', e)
    } finally {
      await fh.close()
    }
  }

  /** Stages the content, and copies it into the data file only once `verify` accepts it. */
  async function appendVerified(
    data: FileHandle,
    id: string,
    offset: number,
    body: AsyncIterable<Uint8Array>,
    opts: AppendOptions,
  ): Promise<number> {
    const staging = stagePath(id)
    const stage = await open(staging, 'w+')
    try {
      const { end: length, failed } = await pump(stage, 0, body, { signal: opts.signal })
      // Content that did not arrive whole cannot be verified: none of it is kept.
      if (failed || !(await opts.verify?.())) return offset
      if (sync) await stage.datasync()
      const buffer = new Uint8Array(Math.min(bufferBytes, Math.max(length, 1)))
      let copied = 0
      while (copied < length) {
        const { bytesRead } = await stage.read(
          buffer,
          0,
          Math.min(buffer.byteLength, length - copied),
          copied,
        )
        if (bytesRead === 0) break
        await writeAll(data, [buffer.subarray(0, bytesRead)], offset + copied)
        copied += bytesRead
      }
      if (sync) await data.datasync()
      return offset + copied
    } finally {
      await stage.close()
      await unlink(staging).catch(() => undefined)
    }
  }

  async function terminate(id: string): Promise<void> {
    const file = await mustGetFile(id)
    // The sidecar goes first: once it is gone, the upload is gone.
    sidecars.delete(id)
    await unlink(infoPath(id))
    await unlink(dataPath(id)).catch(() => undefined)
    await unlink(stagePath(id)).catch(() => undefined)
    if (file.concat?.kind === 'final') {
      await Promise.all(
        file.concat.parts.map((_, i) => unlink(partPath(id, i)).catch(() => undefined)),
      )
    }
    await syncDir()
  }

  /** The directory exists, can be written, and its file system has room (readiness). */
  async function ping(): Promise<void> {
    try {
      await ensureDir()
      await access(dir, constants.W_OK | constants.X_OK)
      const fs = await statfs(dir)
      if (fs.bavail * fs.bsize < 1024 * 1024) throw new Error('less than 1 MiB free')
    } catch (e) {
      throw storeError(`checking ${dir}`, e)
    }
  }

  return {
    directory: dir,
    ping,

    async create(upload: NewUpload): Promise<UploadInfo> {
      await ensureDir()
      const id = randomBytes(16).toString('hex')
      const t = Date.now()
      const file: InfoFile = {
        v: 1,
        id,
        complete: false,
        createdAt: t,
        updatedAt: t,
        ...persistedFacts(upload),
      }
      try {
        if (upload.concat?.kind !== 'final') await (await open(dataPath(id), 'wx')).close()
        // The sidecar's rename is the commit point of the creation.
        await writeInfo(file)
      } catch (e) {
        throw storeError('creating upload', e)
      }
      return toInfo(file, 0, t)
    },

    get: getInfo,
    append,

    async update(id: string, changes: UploadChanges): Promise<UploadInfo> {
      const file = await mustGetFile(id)
      const next: InfoFile = {
        ...file,
        ...changes,
        updatedAt: Math.max(Date.now(), file.updatedAt),
      }
      try {
        await writeInfo(next)
      } catch (e) {
        throw storeError('updating upload state', e)
      }
      const info = await getInfo(id)
      if (info === undefined) throw new UploadError('ERR_UPLOAD_NOT_FOUND')
      return info
    },

    terminate,

    async concatenate(id: string): Promise<UploadInfo> {
      const file = await mustGetFile(id)
      const concat = file.concat
      if (concat?.kind !== 'final')
        throw new UploadError('ERR_INVALID_CONCAT', 'not a final upload')
      let length = 0
      for (const [i, part] of concat.parts.entries()) {
        const info = await getInfo(part)
        if (info?.complete !== true) throw new UploadError('ERR_CONCAT_UNFINISHED')
        const target = partPath(id, i)
        await unlink(target).catch(() => undefined)
        // A hard link shares the partial's (now immutable) bytes; deleting the partial later
        // leaves them to the final upload.
        await link(dataPath(part), target)
        length += info.offset
      }
      await syncDir()
      await writeInfo({ ...file, complete: true, length, updatedAt: Date.now() })
      const info = await getInfo(id)
      if (info === undefined) throw new UploadError('ERR_UPLOAD_NOT_FOUND')
      return info
    },

    async *read(id: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array> {
      const file = await mustGetFile(id)
      const files: string[] =
        file.concat?.kind === 'final'
          ? file.concat.parts.map((_, i) => partPath(id, i))
          : [dataPath(id)]
      const start = range?.start ?? 0
      const end = range?.end ?? Number.POSITIVE_INFINITY
      let base = 0
      for (const path of files) {
        const size = (await stat(path)).size
        const from = Math.max(start - base, 0)
        const to = Math.min(end - base, size)
        if (to > from) {
          for await (const chunk of createReadStream(path, {
            start: from,
            end: to - 1,
            highWaterMark: 1024 * 1024,
          })) {
            yield chunk as Uint8Array
          }
        }
        base += size
        if (base >= end) break
      }
    },

    async *expire(before: number, options?: ExpireOptions): AsyncIterable<string> {
      let names: string[]
      try {
        names = await readdir(dir)
      } catch (e) {
        if (isNotFound(e)) return
        throw storeError('listing uploads', e)
      }
      const ids = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)))
      for (const id of ids) {
        if (!ID.test(id)) continue
        const expired = async (): Promise<boolean> => {
          const info = await getInfo(id).catch(() => undefined)
          return info !== undefined && !info.complete && info.updatedAt < before
        }
        if (!(await expired())) continue
        const release = options?.claim === undefined ? undefined : await options.claim(id)
        if (options?.claim !== undefined && release === undefined) continue
        try {
          // Read again under the claim: a request may have written to it meanwhile.
          if (release !== undefined && !(await expired())) continue
          await terminate(id).catch(() => undefined)
        } finally {
          await release?.()
        }
        yield id
      }
      // Leftovers of crashes: data without a sidecar, stale staging and temporary files.
      for (const name of names) {
        const base = name.split('.')[0] ?? ''
        const orphan =
          (ID.test(name) && !ids.has(name)) || name.endsWith('.stage') || name.endsWith('.tmp')
        if (!orphan || !ID.test(base)) continue
        const st = await stat(join(dir, name)).catch(() => undefined)
        if (st !== undefined && st.mtimeMs < before)
          await unlink(join(dir, name)).catch(() => undefined)
      }
    },
  }
}
