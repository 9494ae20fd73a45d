/**
 * @module Part buffers: where the bytes of one part gather before they are sent to S3 with a
 * known Content-Length. In memory (the default: no temporary files, peers.md §3 item 14), or in
 * a file of a configured directory, deleted as soon as the buffer is disposed.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { type FileHandle, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'

export interface PartBuffer {
  /** Bytes held. */
  readonly size: number
  /** Appends bytes (the caller keeps `size` within the part size). */
  write(chunk: Uint8Array): Promise<void>
  /** The bytes as a request body of `size` bytes (valid until the next write or reset). */
  body(): Uint8Array | Readable
  /** Forgets the bytes, keeps the storage. */
  reset(): Promise<void>
  /** Frees the storage (deletes the file). */
  dispose(): Promise<void>
}

/** A growable in-memory buffer (doubles up to 1 MiB, so tiny appends stay tiny; then the whole capacity). */
export function memoryBuffer(capacity: number): PartBuffer {
  let bytes = new Uint8Array(0)
  let size = 0
  return {
    get size() {
      return size
    },
    async write(chunk) {
      const need = size + chunk.byteLength
      if (need > bytes.byteLength) {
        let next = Math.max(bytes.byteLength * 2, 64 * 1024)
        while (next < need) next *= 2
        // Past 1 MiB the append is a large one: take the whole part at once rather than leave
        // 64 KiB + 128 KiB + … of outgrown buffers to the collector (the budget has reserved the
        // capacity anyway).
        if (next > 1024 * 1024) next = capacity
        const grown = new Uint8Array(Math.min(Math.max(next, need), Math.max(capacity, need)))
        grown.set(bytes.subarray(0, size))
        bytes = grown
      }
      bytes.set(chunk, size)
      size = need
    },
    body() {
      return bytes.subarray(0, size)
    },
    async reset() {
      size = 0
    },
    async dispose() {
      size = 0
      bytes = new Uint8Array(0)
    },
  }
}

/** A buffer in a file of `directory` (created on first write, deleted on dispose). */
export function fileBuffer(directory: string): PartBuffer {
  const path = join(directory, `ferry-s3-${randomBytes(8).toString('hex')}.part`)
  let fh: FileHandle | undefined
  let size = 0
  return {
    get size() {
      return size
    },
    async write(chunk) {
      fh ??= await open(path, 'w+')
      let done = 0
      while (done < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done, size + done)
        done += bytesWritten
      }
      size += chunk.byteLength
    },
    body() {
      if (size === 0) return new Uint8Array(0)
      return createReadStream(path, { start: 0, end: size - 1, highWaterMark: 1024 * 1024 })
    },
    async reset() {
      size = 0
    },
    async dispose() {
      size = 0
      const handle = fh
      fh = undefined
      if (handle !== undefined) {
        await handle.close().catch(() => undefined)
        await unlink(path).catch(() => undefined)
      }
    },
  }
}
