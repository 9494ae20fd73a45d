/**
 * @module Deterministic upload content for `ferry bench`: the bytes of upload `index` of a run
 * with seed `seed` are an AES-128-CTR keystream (the key derived from seed and index by SHA-256),
 * so any range can be produced at any time without storing a copy: a resumed request re-creates
 * exactly the bytes it sends again, and verification re-creates the expected SHA-256. The
 * keystream is fast (AES-NI, GB/s) and looks random, so no store can compress or deduplicate it.
 */
import { createCipheriv, createHash } from 'node:crypto'
import type { RequestBody, UploadSource } from '../client/index.ts'

/** Largest piece handed to a connection at once. */
const PIECE = 256 * 1024
const ZEROS = Buffer.alloc(PIECE)

function keyOf(seed: number, index: number): Buffer {
  return createHash('sha256').update(`ferry-bench:${seed}:${index}`).digest().subarray(0, 16)
}

/** The keystream bytes [start, end) of upload `index`, in pieces of at most `piece` bytes. */
export async function* contentPieces(
  seed: number,
  index: number,
  start: number,
  end: number,
  piece = PIECE,
): AsyncGenerator<Buffer> {
  if (end <= start) return
  const cipher = cipherAt(seed, index, start)
  const size = Math.min(piece, PIECE)
  for (let at = start; at < end; ) {
    const n = Math.min(size, end - at)
    at += n
    yield cipher.update(ZEROS.subarray(0, n))
  }
}

function cipherAt(seed: number, index: number, start: number) {
  // CTR mode: block b is AES(key, counter b); the counter is the 128-bit big-endian block number.
  const block = Math.floor(start / 16)
  const iv = Buffer.alloc(16)
  iv.writeUInt32BE(Math.floor(block / 2 ** 32), 8)
  iv.writeUInt32BE(block % 2 ** 32, 12)
  const cipher = createCipheriv('aes-128-ctr', keyOf(seed, index), iv)
  const skip = start - block * 16
  if (skip > 0) cipher.update(ZEROS.subarray(0, skip))
  return cipher
}

/** The whole range at once (small bodies). */
export function contentBytes(seed: number, index: number, start: number, end: number): Buffer {
  return cipherAt(seed, index, start).update(Buffer.alloc(Math.max(0, end - start)))
}

/** SHA-256 (hex) of the whole content of upload `index`. */
export async function contentDigest(seed: number, index: number, size: number): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of contentPieces(seed, index, 0, size)) hash.update(piece)
  return hash.digest('hex')
}

export interface BenchSourceOptions {
  /**
   * Client-side pacing: each request's body is sent at about this many bytes per second (a slow
   * client held open by the server), in pieces of a quarter second.
   */
  readonly bytesPerSecond?: number
}

const sleep = (ms: number): Promise<void> =>
  ms <= 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms))

/** The content of upload `index` as a client source: any range, any number of times. */
export function benchSource(
  seed: number,
  index: number,
  size: number,
  options: BenchSourceOptions = {},
): UploadSource {
  const rate = options.bytesPerSecond
  const piece = rate === undefined ? PIECE : Math.max(1, Math.min(PIECE, Math.floor(rate / 4)))
  return {
    size,
    async slice(start, end): Promise<RequestBody> {
      const length = end - start
      if (rate === undefined && length <= 64 * 1024) {
        const bytes = contentBytes(seed, index, start, end)
        return {
          length,
          bytes,
          async *stream() {
            yield bytes
          },
        }
      }
      return {
        length,
        async *stream() {
          const t0 = performance.now()
          let sent = 0
          for await (const p of contentPieces(seed, index, start, end, piece)) {
            if (rate !== undefined) await sleep(t0 + (sent / rate) * 1000 - performance.now())
            sent += p.length
            yield p
          }
        },
      }
    },
  }
}
