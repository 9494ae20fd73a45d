/**
 * @module Test support: the upload handler called in process (no sockets), with interim
 * responses captured, on the memory store, the disk store or the S3 store (a fresh bucket of the
 * test gateway).
 */
import type { ResponseHead } from '../../src/protocol/types.ts'
import { createUploadHandler, type UploadHandler } from '../../src/server/handler.ts'
import type { ServerOptions } from '../../src/server/options.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { UploadStore } from '../../src/store/types.ts'
import { createDiskStore } from '../../src/stores/disk/index.ts'
import { lazyS3Store } from '../stores/s3-lazy.ts'
import { tempDir } from './servers.ts'

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
  readonly bytes: Buffer
  readonly interim: ResponseHead[]
}

export interface Send {
  readonly headers?: Record<string, string>
  /** The content, sent with Content-Length (unless `chunked`). */
  readonly body?: string | Buffer
  /** Send the content without Content-Length, as a stream of these pieces. */
  readonly chunked?: readonly (string | Buffer)[]
  readonly trailers?: Record<string, string>
  /** Make the content source fail after it yields its pieces (a dropped connection). */
  readonly failAfterBody?: boolean
  readonly signal?: AbortSignal
}

export interface Harness {
  readonly handler: UploadHandler
  readonly store: UploadStore
  readonly origin: string
  request(method: string, path: string, send?: Send): Promise<Reply>
  /** The path of an upload URL (Location values are absolute). */
  path(location: string | undefined): string
  close(): Promise<void>
}

export type StoreKind = 'memory' | 'disk' | 's3'

/** Creates a handler on a fresh store of the given kind. */
export function harness(kind: StoreKind, options: Partial<ServerOptions> = {}): Harness {
  const dir = kind === 'disk' ? tempDir() : undefined
  const store: UploadStore =
    options.store ??
    (kind === 's3'
      ? lazyS3Store(options.now === undefined ? {} : { now: options.now })
      : dir === undefined
        ? createMemoryStore(options.now === undefined ? {} : { now: options.now })
        : createDiskStore({ directory: dir.path }))
  const handler = createUploadHandler({ ...options, store })
  const host = 'uploads.test'
  return {
    handler,
    store,
    origin: `http://${host}`,
    path(location) {
      if (location === undefined) throw new Error('no Location')
      return new URL(location, `http://${host}`).pathname
    },
    async request(method, path, send = {}) {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(send.headers ?? {})) headers[k.toLowerCase()] = v
      let pieces: Buffer[] = []
      let streamed = false
      if (send.body !== undefined) {
        const bytes = Buffer.from(send.body)
        headers['content-length'] ??= String(bytes.byteLength)
        pieces = [bytes]
      } else if (send.chunked !== undefined) {
        headers['transfer-encoding'] ??= 'chunked'
        pieces = send.chunked.map((p) => Buffer.from(p))
        streamed = true
      }
      const hasBody = send.body !== undefined ? Buffer.from(send.body).byteLength > 0 : streamed
      const interim: ResponseHead[] = []
      const controller = new AbortController()
      const response = await handler.handle({
        method,
        url: path,
        headers,
        body: hasBody ? source(pieces, send.failAfterBody === true) : null,
        streamedBody: streamed,
        signal: send.signal ?? controller.signal,
        origin: { protocol: 'http', host },
        trailers: () => send.trailers,
        sendInterim: (head) => interim.push(head),
      })
      let bytes: Buffer
      if (response.body === undefined) bytes = Buffer.alloc(0)
      else if (typeof response.body === 'string' || response.body instanceof Uint8Array)
        bytes = Buffer.from(response.body)
      else {
        const parts: Buffer[] = []
        for await (const chunk of response.body) parts.push(Buffer.from(chunk))
        bytes = Buffer.concat(parts)
      }
      return {
        status: response.status,
        headers: response.headers,
        body: bytes.toString(),
        bytes,
        interim,
      }
    },
    async close() {
      await handler.close(100)
      dir?.cleanup()
    },
  }
}

async function* source(pieces: readonly Buffer[], fail: boolean): AsyncGenerator<Uint8Array> {
  for (const p of pieces) yield new Uint8Array(p)
  if (fail) throw new Error('connection reset')
}
