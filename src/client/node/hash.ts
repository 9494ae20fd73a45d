/**
 * @module Hashers on node:crypto for checksums and digests: the same interface as the plain
 * TypeScript ones of ../hash.ts, many times faster (OpenSSL, with the CPU's SHA instructions).
 */
import { createHash } from 'node:crypto'
import type { HashAlgorithm, Hasher } from '../hash.ts'

/** A hasher on node:crypto. */
export function nodeHasher(algorithm: HashAlgorithm): Hasher {
  const h = createHash(algorithm)
  return {
    update(data) {
      h.update(data)
    },
    digest() {
      return new Uint8Array(h.digest())
    },
  }
}
