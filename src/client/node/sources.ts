/**
 * @module Node sources: a file by path (re-opened for every request at its offset, so any
 * offset can be resumed, even in a later process) and Node Readables (stdin) through the stream
 * window of ../sources.ts.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Readable } from 'node:stream'
import { SourceError, streamSource, type UploadSource } from '../sources.ts'

export interface FileSourceOptions {
  /**
   * How the file is identified for resuming: `stat` (path, size, mtime — cheap), or `content`
   * (SHA-256 of the bytes — survives renames and touches, reads the whole file once).
   * @default 'stat'
   */
  readonly fingerprint?: 'stat' | 'content'
}

/** A file by path. Its size and mtime are read on `open()` and checked before every request. */
export function fileSource(path: string, options: FileSourceOptions = {}): UploadSource {
  let size: number | undefined
  let mtimeMs = 0
  let real = path
  const check = async (): Promise<void> => {
    const s = await stat(path).catch((e: Error) => {
      throw new SourceError(`cannot read ${path}: ${e.message}`)
    })
    if (!s.isFile()) throw new SourceError(`${path} is not a regular file`)
    if (size !== undefined && (s.size !== size || s.mtimeMs !== mtimeMs)) {
      throw new SourceError(`${path} changed during the upload`)
    }
    size = s.size
    mtimeMs = s.mtimeMs
  }
  return {
    get size() {
      return size
    },
    name: basename(path),
    async open() {
      await check()
      real = await realpath(path).catch(() => path)
    },
    async fingerprint(endpoint) {
      if (options.fingerprint === 'content') {
        const hash = createHash('sha256')
        for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
        return ['sha256', hash.digest('hex'), size, endpoint].join('\u0000')
      }
      return ['file', real, size, Math.trunc(mtimeMs), endpoint].join('\u0000')
    },
    async slice(start, end) {
      await check()
      const length = end - start
      return {
        length,
        async *stream() {
          if (length === 0) return
          const stream = createReadStream(path, { start, end: end - 1, highWaterMark: 256 * 1024 })
          let read = 0
          for await (const chunk of stream) {
            const piece = chunk as Buffer
            read += piece.length
            yield piece
          }
          if (read !== length)
            throw new SourceError(`${path} ended early (read ${read} of ${length} bytes)`)
        },
      }
    },
  }
}

export interface ReadableSourceOptions {
  /** The total size, when known (otherwise the length is deferred). */
  readonly size?: number
}

/** A Node Readable (stdin, a pipe, any mode): needs deferred length unless `size` is given. */
export function readableSource(
  readable: Readable,
  options: ReadableSourceOptions = {},
): UploadSource {
  return streamSource(readable as AsyncIterable<Uint8Array | string>, options)
}
