/**
 * @module The in-memory store: the reference implementation of the store contract, with every
 * optional capability, and the fake for handler tests. Not for production (nothing survives a
 * restart, and bytes live in the heap).
 */
import { UploadError } from '../protocol/errors.ts'
import { isComplete } from '../protocol/rules.ts'
import type { UploadInfo } from '../protocol/types.ts'
import type {
  AppendOptions,
  ExpireOptions,
  NewUpload,
  UploadChanges,
  UploadStore,
} from './types.ts'

interface Record {
  info: UploadInfo
  chunks: Uint8Array[]
}

/** A fresh upload id: 128 random bits, hex (lower-case, so case-insensitive file systems agree). */
export function newUploadId(): string {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export interface MemoryStoreOptions {
  /** Clock for createdAt/updatedAt (tests). */
  readonly now?: () => number
}

/** Creates an in-memory store. */
export function createMemoryStore(options: MemoryStoreOptions = {}): UploadStore & {
  /** Number of uploads held (tests). */
  readonly size: number
} {
  const now = options.now ?? Date.now
  const records = new Map<string, Record>()

  const must = (id: string): Record => {
    const record = records.get(id)
    if (record === undefined) throw new UploadError('ERR_UPLOAD_NOT_FOUND')
    return record
  }

  const concatBytes = (chunks: readonly Uint8Array[]): Uint8Array => {
    const total = chunks.reduce((n, c) => n + c.byteLength, 0)
    const out = new Uint8Array(total)
    let at = 0
    for (const c of chunks) {
      out.set(c, at)
      at += c.byteLength
    }
    return out
  }

  return {
    get size() {
      return records.size
    },
    async create(upload: NewUpload): Promise<UploadInfo> {
      const t = now()
      const info: UploadInfo = {
        ...upload,
        id: newUploadId(),
        offset: 0,
        complete: false,
        createdAt: t,
        updatedAt: t,
      }
      records.set(info.id, { info, chunks: [] })
      return info
    },
    async get(id: string): Promise<UploadInfo | undefined> {
      const info = records.get(id)?.info
      return info === undefined ? undefined : { ...info, complete: isComplete(info) }
    },
    async append(id, offset, body, opts: AppendOptions): Promise<number> {
      const record = must(id)
      if (record.info.offset !== offset) {
        throw new UploadError('ERR_MISMATCHED_OFFSET', undefined, {
          details: { uploadOffset: record.info.offset },
        })
      }
      const staged: Uint8Array[] = []
      let ended = false
      try {
        for await (const chunk of body) {
          if (opts.signal.aborted) break
          staged.push(chunk.slice())
          if (opts.verify === undefined) commit([chunk.slice()])
        }
        ended = true
      } catch {
        // An interrupted body keeps what arrived (draft-13 §4.4.2), unless verification is due.
      }
      if (opts.verify !== undefined && ended && (await opts.verify())) {
        commit(staged)
      }
      return record.info.offset

      function commit(chunks: Uint8Array[]): void {
        const bytes = chunks.reduce((n, c) => n + c.byteLength, 0)
        if (bytes === 0) return
        record.chunks.push(...chunks)
        record.info = { ...record.info, offset: record.info.offset + bytes, updatedAt: now() }
      }
    },
    async update(id: string, changes: UploadChanges): Promise<UploadInfo> {
      const record = must(id)
      record.info = { ...record.info, ...changes, updatedAt: now() }
      return record.info
    },
    async terminate(id: string): Promise<void> {
      must(id)
      records.delete(id)
    },
    async concatenate(id: string): Promise<UploadInfo> {
      const record = must(id)
      const concat = record.info.concat
      if (concat?.kind !== 'final')
        throw new UploadError('ERR_INVALID_CONCAT', 'not a final upload')
      const parts = concat.parts.map((part) => must(part))
      if (parts.some((p) => !isComplete(p.info))) throw new UploadError('ERR_CONCAT_UNFINISHED')
      record.chunks = [concatBytes(parts.flatMap((p) => p.chunks))]
      const length = record.chunks[0]?.byteLength ?? 0
      record.info = { ...record.info, offset: length, length, complete: true, updatedAt: now() }
      return record.info
    },
    async *read(id: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array> {
      const all = concatBytes(must(id).chunks)
      yield range === undefined ? all : all.subarray(range.start, range.end)
    },
    async *expire(before: number, options?: ExpireOptions): AsyncIterable<string> {
      const expired = (id: string): boolean => {
        const record = records.get(id)
        return record !== undefined && !isComplete(record.info) && record.info.updatedAt < before
      }
      for (const id of [...records.keys()]) {
        if (!expired(id)) continue
        const release = options?.claim === undefined ? undefined : await options.claim(id)
        if (options?.claim !== undefined && release === undefined) continue
        try {
          // Read again under the claim: a request may have changed it meanwhile.
          if (!expired(id)) continue
          records.delete(id)
        } finally {
          await release?.()
        }
        yield id
      }
    },
  }
}
