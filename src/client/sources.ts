/**
 * @module Upload sources: where the bytes come from. In-memory bytes, Blobs and Files (sliced
 * lazily), and streams (web ReadableStream, any async iterable such as a Node Readable) through
 * a bounded window: only the bytes of the current request (plus one byte of look-ahead to see
 * the end) are kept for retransmission.
 */
import type { RequestBody } from './transport.ts'

/** Bytes that cannot be provided (any more): the upload fails with ERR_SOURCE. */
export class SourceError extends Error {
  override readonly name = 'SourceError'
}

export interface UploadSource {
  /** Total size in bytes; undefined when unknown until the end (deferred length). */
  readonly size: number | undefined
  /** A stream: it cannot go back before the current request (needs a chunk size). */
  readonly streaming?: boolean
  /** Suggested metadata. */
  readonly name?: string
  readonly type?: string
  /** Called once before the upload starts (a file is opened and measured here). */
  open?(): Promise<void>
  /** Identifies the source for resuming across sessions; undefined when it cannot. */
  fingerprint?(endpoint: string): Promise<string | undefined>
  /**
   * Unknown size only: makes the bytes [offset, offset + max) ready and says how many there are
   * and whether the source ends right after them.
   */
  read?(offset: number, max: number): Promise<{ length: number; eof: boolean }>
  /** The bytes [start, end) as a request body. Throws SourceError when they are gone. */
  slice(start: number, end: number): Promise<RequestBody>
  close?(): Promise<void>
}

const PIECE = 256 * 1024

async function* pieces(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += PIECE) {
    yield bytes.subarray(at, Math.min(bytes.length, at + PIECE))
  }
}

/** In-memory bytes (Uint8Array, ArrayBuffer or any ArrayBufferView). */
export function bytesSource(data: Uint8Array | ArrayBuffer | ArrayBufferView): UploadSource {
  const bytes =
    data instanceof Uint8Array
      ? data
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return {
    size: bytes.length,
    async slice(start, end) {
      const part = bytes.subarray(start, end)
      return { length: part.length, bytes: part, stream: () => pieces(part) }
    },
  }
}

async function* blobPieces(blob: Blob): AsyncGenerator<Uint8Array> {
  const reader = blob.stream().getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

/** A Blob or File, read lazily slice by slice. Files are fingerprinted by name/size/type/mtime. */
export function blobSource(blob: Blob): UploadSource {
  const file = blob as Blob & { name?: unknown; lastModified?: unknown }
  const name = typeof file.name === 'string' ? file.name : undefined
  const lastModified = typeof file.lastModified === 'number' ? file.lastModified : undefined
  return {
    size: blob.size,
    ...(name === undefined ? {} : { name }),
    ...(blob.type === '' ? {} : { type: blob.type }),
    async fingerprint(endpoint) {
      if (name === undefined) return undefined
      return ['blob', name, blob.size, blob.type, lastModified ?? '', endpoint].join('\u0000')
    },
    async slice(start, end) {
      const part = blob.slice(start, end)
      return { length: part.size, blob: part, stream: () => blobPieces(part) }
    },
  }
}

type StreamInput = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>

function iteratorOf(input: StreamInput): AsyncIterator<Uint8Array | string> {
  if ('getReader' in input && typeof input.getReader === 'function') {
    const reader = input.getReader()
    return {
      next: async () => {
        const r = await reader.read()
        return r.done ? { done: true, value: undefined } : { done: false, value: r.value }
      },
      return: async () => {
        await reader.cancel().catch(() => {})
        return { done: true, value: undefined }
      },
    }
  }
  return (input as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]()
}

export interface StreamSourceOptions {
  /** The total size, when the caller knows it (then no deferred length is needed). */
  readonly size?: number
}

/**
 * A stream (web ReadableStream, Node Readable in any mode, any async iterable of bytes or
 * strings). The retransmission window holds the bytes of the current request and one byte of
 * look-ahead; bytes before the current request's start are released and cannot be sent again.
 */
export function streamSource(input: StreamInput, options: StreamSourceOptions = {}): UploadSource {
  const iterator = iteratorOf(input)
  const encoder = new TextEncoder()
  let base = 0
  let buffered: Uint8Array[] = []
  let bufferedBytes = 0
  let ended = false
  let queue: Promise<unknown> = Promise.resolve()

  const end = (): number => base + bufferedBytes

  const pull = async (): Promise<void> => {
    const r = await iterator.next()
    if (r.done === true) {
      ended = true
      return
    }
    const piece = typeof r.value === 'string' ? encoder.encode(r.value) : r.value
    if (piece.length === 0) return
    buffered.push(piece)
    bufferedBytes += piece.length
  }

  /** Drops the bytes before `offset`, reading forward when it is beyond the window. */
  const advance = async (offset: number): Promise<void> => {
    if (offset < base) {
      throw new SourceError(
        `the stream cannot go back to byte ${offset}: bytes before ${base} were already released (only the current request is kept for retransmission)`,
      )
    }
    for (;;) {
      while (buffered.length > 0) {
        const first = buffered[0] as Uint8Array
        const skip = offset - base
        if (skip <= 0) return
        if (first.length <= skip) {
          buffered.shift()
          base += first.length
          bufferedBytes -= first.length
        } else {
          buffered[0] = first.subarray(skip)
          base += skip
          bufferedBytes -= skip
          return
        }
      }
      if (base >= offset) return
      if (ended) throw new SourceError(`the stream ended at ${base} bytes, before byte ${offset}`)
      await pull()
    }
  }

  const fill = async (to: number): Promise<void> => {
    while (end() < to && !ended) await pull()
  }

  /** Runs one window operation at a time. */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => {})
    return run
  }

  return {
    size: options.size,
    streaming: true,
    read: (offset, max) =>
      serial(async () => {
        await advance(offset)
        await fill(offset + max + 1)
        const length = Math.min(max, end() - offset)
        return { length, eof: ended && end() === offset + length }
      }),
    slice: (start, stop) =>
      serial(async () => {
        await advance(start)
        await fill(stop)
        if (end() < stop) {
          throw new SourceError(
            `the stream ended at ${end()} bytes${options.size === undefined ? '' : `, but its size was given as ${options.size}`}`,
          )
        }
        const parts: Uint8Array[] = []
        let at = base
        for (const piece of buffered) {
          if (at >= stop) break
          const from = Math.max(0, start - at)
          const to = Math.min(piece.length, stop - at)
          if (to > from) parts.push(piece.subarray(from, to))
          at += piece.length
        }
        const length = stop - start
        async function* gen(): AsyncGenerator<Uint8Array> {
          for (const p of parts) yield* pieces(p)
        }
        return { length, stream: gen }
      }),
    async close() {
      buffered = []
      bufferedBytes = 0
      await iterator.return?.()
    },
  }
}

/** What `upload()` accepts as its first argument. */
export type UploadInput =
  | UploadSource
  | Uint8Array
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | ReadableStream<Uint8Array>

function isSource(x: unknown): x is UploadSource {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { slice?: unknown }).slice === 'function' &&
    'size' in x &&
    !(typeof Blob !== 'undefined' && x instanceof Blob)
  )
}

/** The source for an input. */
export function toSource(input: UploadInput): UploadSource {
  if (typeof Blob !== 'undefined' && input instanceof Blob) return blobSource(input)
  if (input instanceof Uint8Array || input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    return bytesSource(input as Uint8Array | ArrayBuffer | ArrayBufferView)
  }
  if (typeof ReadableStream !== 'undefined' && input instanceof ReadableStream) {
    return streamSource(input)
  }
  if (isSource(input)) return input
  throw new TypeError(
    'unsupported upload input: give bytes, a Blob/File, a ReadableStream or a source',
  )
}
