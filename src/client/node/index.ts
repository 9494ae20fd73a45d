/**
 * @module `ferry/client/node`: everything of `ferry/client`, plus the Node parts — a
 * node:http(s) transport that sees 104s (optimistic draft creation), honours HTTPS_PROXY and
 * switches to HTTP/2 for https servers that choose `h2` by ALPN, a node:http2 transport,
 * file-path and Readable sources, and a file-backed URL storage. Its `upload()` takes a file
 * path or a Readable too, and defaults to that transport and to the file storage, so an upload
 * interrupted by a crash resumes in the next process.
 */
import type { Readable } from 'node:stream'
import { toSource, type UploadInput, type UploadSource } from '../sources.ts'
import { upload as baseUpload, type Upload, type UploadOptions } from '../upload.ts'
import { nodeHasher } from './hash.ts'
import { fileSource, readableSource } from './sources.ts'
import { fileUrlStorage } from './storage.ts'
import { type NodeTransport, nodeTransport } from './transport.ts'

export * from '../index.ts'
export { nodeHasher } from './hash.ts'
export {
  Http2NotNegotiatedError,
  type Http2Transport,
  type Http2TransportOptions,
  http2Transport,
} from './http2.ts'
export { bypassesProxy, proxyFor } from './proxy.ts'
export {
  type FileSourceOptions,
  fileSource,
  type ReadableSourceOptions,
  readableSource,
} from './sources.ts'
export { defaultStatePath, type FileStorageOptions, fileUrlStorage } from './storage.ts'
export { type NodeTransport, type NodeTransportOptions, nodeTransport } from './transport.ts'

let sharedTransport: NodeTransport | undefined

function isReadable(x: unknown): x is Readable {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Readable).pipe === 'function' &&
    typeof (x as Readable).on === 'function' &&
    typeof (x as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}

/**
 * An upload in Node: `input` may also be a file path or a Readable. Defaults: the Node
 * transport (shared, keep-alive; HTTP/2 for https servers that choose it by ALPN), the file
 * storage at `defaultStatePath()`, and node:crypto for checksums and digests.
 */
export function upload(input: UploadInput | string | Readable, options: UploadOptions): Upload {
  let source: UploadSource
  if (typeof input === 'string') source = fileSource(input)
  else if (isReadable(input)) {
    source = readableSource(input, options.size === undefined ? {} : { size: options.size })
  } else source = toSource(input)
  sharedTransport ??= nodeTransport()
  return baseUpload(source, {
    ...options,
    transport: options.transport ?? sharedTransport,
    storage: options.storage === undefined ? fileUrlStorage() : options.storage,
    hasher: options.hasher ?? nodeHasher,
  })
}
