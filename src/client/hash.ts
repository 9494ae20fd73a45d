/**
 * @module SHA-1, SHA-256 and SHA-512 (FIPS 180-4), incremental, in plain TypeScript: browsers
 * have no incremental hash (Web Crypto's digest() takes the whole input at once), and the client
 * hashes chunks and whole files piece by piece without holding them in memory. Pure: no I/O,
 * only the ECMAScript library. Node uses node:crypto instead (ferry/client/node), which is faster.
 * Also the fields that carry digests: tus `Upload-Checksum` and RFC 9530 `Content-Digest` /
 * `Repr-Digest`.
 */
import { encodeBase64 } from '../protocol/codec/structured-fields.ts'

/** The hash functions the client uses (tus checksums: sha1, sha256; RFC 9530: sha-256, sha-512). */
export type HashAlgorithm = 'sha1' | 'sha256' | 'sha512'

/** An incremental hash: `update` any number of times, then `digest` once. */
export interface Hasher {
  update(data: Uint8Array): void
  digest(): Uint8Array
}

/** Creates hashers; `ferry/client/node` passes one on node:crypto. */
export type HasherFactory = (algorithm: HashAlgorithm) => Hasher

/** tus 1.0.0 §Checksum algorithms the client offers. */
export type ChecksumAlgorithm = 'sha1' | 'sha256'
/** RFC 9530 algorithms the client offers (IANA Hash Algorithms for HTTP Digest Fields). */
export type DigestAlgorithm = 'sha-256' | 'sha-512'

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['sha1', 'sha256']
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha-256', 'sha-512']

/** The hash function behind a digest algorithm name. */
export function hashOfDigest(algorithm: DigestAlgorithm): HashAlgorithm {
  return algorithm === 'sha-256' ? 'sha256' : 'sha512'
}

/** `Upload-Checksum: <algorithm> <base64>` (tus 1.0.0 §Checksum). */
export function checksumField(algorithm: ChecksumAlgorithm, digest: Uint8Array): string {
  return `${algorithm} ${encodeBase64(digest)}`
}

/** `Content-Digest` / `Repr-Digest`: a Dictionary with one sf-binary member (RFC 9530 §2, §3). */
export function digestField(algorithm: DigestAlgorithm, digest: Uint8Array): string {
  return `${algorithm}=:${encodeBase64(digest)}:`
}

/** A hasher in plain TypeScript. */
export function createHasher(algorithm: HashAlgorithm): Hasher {
  switch (algorithm) {
    case 'sha1':
      return new Sha1()
    case 'sha256':
      return new Sha256()
    case 'sha512':
      return new Sha512()
  }
}

/** The digest of `data` in one call. */
export function hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
  const h = createHasher(algorithm)
  h.update(data)
  return h.digest()
}

// ---------------------------------------------------------------------------------------------
// The Merkle–Damgård frame shared by the three: block buffering and padding (FIPS 180-4 §5.1).

abstract class BlockHash implements Hasher {
  readonly #block: Uint8Array
  readonly #blockLength: number
  /** Bytes of the length field at the end of the padding (8, or 16 for SHA-512). */
  readonly #lengthBytes: number
  #buffered = 0
  #total = 0
  #finished = false

  constructor(blockLength: number, lengthBytes: number) {
    this.#blockLength = blockLength
    this.#lengthBytes = lengthBytes
    this.#block = new Uint8Array(blockLength)
  }

  /** Processes one block of `blockLength` bytes at `offset`. */
  protected abstract compress(data: Uint8Array, offset: number): void
  /** The state as bytes (big-endian words). */
  protected abstract output(): Uint8Array

  update(data: Uint8Array): void {
    if (this.#finished) throw new Error('digest() was called already')
    const size = this.#blockLength
    const block = this.#block
    this.#total += data.length
    let at = 0
    if (this.#buffered > 0) {
      const take = Math.min(size - this.#buffered, data.length)
      block.set(data.subarray(0, take), this.#buffered)
      this.#buffered += take
      at = take
      if (this.#buffered < size) return
      this.compress(block, 0)
      this.#buffered = 0
    }
    for (; data.length - at >= size; at += size) this.compress(data, at)
    if (at < data.length) {
      block.set(data.subarray(at), 0)
      this.#buffered = data.length - at
    }
  }

  digest(): Uint8Array {
    if (this.#finished) throw new Error('digest() was called already')
    this.#finished = true
    const size = this.#blockLength
    const block = this.#block
    // A 1 bit, zeros, then the message length in bits, big-endian, at the end of a block.
    block[this.#buffered++] = 0x80
    if (this.#buffered > size - this.#lengthBytes) {
      block.fill(0, this.#buffered)
      this.compress(block, 0)
      this.#buffered = 0
    }
    block.fill(0, this.#buffered)
    const bits = this.#total * 8
    const high = Math.floor(bits / 0x100000000)
    const low = bits >>> 0
    const view = new DataView(block.buffer, block.byteOffset, block.byteLength)
    view.setUint32(size - 8, high)
    view.setUint32(size - 4, low)
    this.compress(block, 0)
    return this.output()
  }
}

function wordsToBytes(words: Int32Array, count: number): Uint8Array {
  const out = new Uint8Array(count * 4)
  const view = new DataView(out.buffer)
  for (let i = 0; i < count; i++) view.setInt32(i * 4, words[i] as number)
  return out
}

// ---------------------------------------------------------------------------------------------
// SHA-1 (FIPS 180-4 §6.1)

class Sha1 extends BlockHash {
  readonly #h = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0])
  readonly #w = new Int32Array(80)

  constructor() {
    super(64, 8)
  }

  protected compress(d: Uint8Array, o: number): void {
    const w = this.#w
    for (let t = 0; t < 16; t++, o += 4) {
      w[t] =
        ((d[o] as number) << 24) |
        ((d[o + 1] as number) << 16) |
        ((d[o + 2] as number) << 8) |
        (d[o + 3] as number)
    }
    for (let t = 16; t < 80; t++) {
      const x =
        (w[t - 3] as number) ^ (w[t - 8] as number) ^ (w[t - 14] as number) ^ (w[t - 16] as number)
      w[t] = (x << 1) | (x >>> 31)
    }
    const h = this.#h
    let a = h[0] as number
    let b = h[1] as number
    let c = h[2] as number
    let e = h[4] as number
    let dd = h[3] as number
    for (let t = 0; t < 80; t++) {
      let f: number
      let k: number
      if (t < 20) {
        f = (b & c) | (~b & dd)
        k = 0x5a827999
      } else if (t < 40) {
        f = b ^ c ^ dd
        k = 0x6ed9eba1
      } else if (t < 60) {
        f = (b & c) | (b & dd) | (c & dd)
        k = 0x8f1bbcdc
      } else {
        f = b ^ c ^ dd
        k = 0xca62c1d6
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + (w[t] as number)) | 0
      e = dd
      dd = c
      c = (b << 30) | (b >>> 2)
      b = a
      a = temp
    }
    h[0] = ((h[0] as number) + a) | 0
    h[1] = ((h[1] as number) + b) | 0
    h[2] = ((h[2] as number) + c) | 0
    h[3] = ((h[3] as number) + dd) | 0
    h[4] = ((h[4] as number) + e) | 0
  }

  protected output(): Uint8Array {
    return wordsToBytes(this.#h, 5)
  }
}

// ---------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4 §6.2): constants are the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes (K) and of the square roots of the first 8 primes (H).

const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])

class Sha256 extends BlockHash {
  readonly #h = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ])
  readonly #w = new Int32Array(64)

  constructor() {
    super(64, 8)
  }

  protected compress(d: Uint8Array, o: number): void {
    const w = this.#w
    for (let t = 0; t < 16; t++, o += 4) {
      w[t] =
        ((d[o] as number) << 24) |
        ((d[o + 1] as number) << 16) |
        ((d[o + 2] as number) << 8) |
        (d[o + 3] as number)
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15] as number
      const y = w[t - 2] as number
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
      w[t] = ((w[t - 16] as number) + s0 + (w[t - 7] as number) + s1) | 0
    }
    const h = this.#h
    let a = h[0] as number
    let b = h[1] as number
    let c = h[2] as number
    let dd = h[3] as number
    let e = h[4] as number
    let f = h[5] as number
    let g = h[6] as number
    let hh = h[7] as number
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const ch = (e & f) ^ (~e & g)
      const t1 = (hh + S1 + ch + (K256[t] as number) + (w[t] as number)) | 0
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const maj = (a & b) ^ (a & c) ^ (b & c)
      const t2 = (S0 + maj) | 0
      hh = g
      g = f
      f = e
      e = (dd + t1) | 0
      dd = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    h[0] = ((h[0] as number) + a) | 0
    h[1] = ((h[1] as number) + b) | 0
    h[2] = ((h[2] as number) + c) | 0
    h[3] = ((h[3] as number) + dd) | 0
    h[4] = ((h[4] as number) + e) | 0
    h[5] = ((h[5] as number) + f) | 0
    h[6] = ((h[6] as number) + g) | 0
    h[7] = ((h[7] as number) + hh) | 0
  }

  protected output(): Uint8Array {
    return wordsToBytes(this.#h, 8)
  }
}

// ---------------------------------------------------------------------------------------------
// SHA-512 (FIPS 180-4 §6.4) on 32-bit halves: each 64-bit word is a (high, low) pair at indices
// 2i and 2i + 1. Constants: 64 bits of the fractional parts of the cube roots of the first 80
// primes (K) and of the square roots of the first 8 primes (H).

const K512 = new Int32Array([
  0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc,
  0x3956c25b, 0xf348b538, 0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118,
  0xd807aa98, 0xa3030242, 0x12835b01, 0x45706fbe, 0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2,
  0x72be5d74, 0xf27b896f, 0x80deb1fe, 0x3b1696b1, 0x9bdc06a7, 0x25c71235, 0xc19bf174, 0xcf692694,
  0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3, 0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65,
  0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc, 0xbd41fbd4, 0x76f988da, 0x831153b5,
  0x983e5152, 0xee66dfab, 0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f, 0xbf597fc7, 0xbeef0ee4,
  0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725, 0x06ca6351, 0xe003826f, 0x14292967, 0x0a0e6e70,
  0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed, 0x53380d13, 0x9d95b3df,
  0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b,
  0xa2bfe8a1, 0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30,
  0xd192e819, 0xd6ef5218, 0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8,
  0x19a4c116, 0xb8d2d0c8, 0x1e376c08, 0x5141ab53, 0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8,
  0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb, 0x5b9cca4f, 0x7763e373, 0x682e6ff3, 0xd6b2b8a3,
  0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814, 0xa1f0ab72, 0x8cc70208, 0x1a6439ec,
  0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915, 0xc67178f2, 0xe372532b,
  0xca273ece, 0xea26619c, 0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f, 0xee6ed178,
  0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6, 0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b,
  0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc, 0x431d67c4, 0x9c100d4c,
  0x4cc5d4be, 0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
])

const TWO_32 = 0x100000000

class Sha512 extends BlockHash {
  readonly #h = new Int32Array([
    0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
    0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
  ])
  readonly #w = new Int32Array(160)

  constructor() {
    super(128, 16)
  }

  protected compress(d: Uint8Array, o: number): void {
    const w = this.#w
    for (let i = 0; i < 32; i++, o += 4) {
      w[i] =
        ((d[o] as number) << 24) |
        ((d[o + 1] as number) << 16) |
        ((d[o + 2] as number) << 8) |
        (d[o + 3] as number)
    }
    for (let t = 16; t < 80; t++) {
      // σ0(w[t-15]) = rotr1 ^ rotr8 ^ shr7
      const xh = w[2 * (t - 15)] as number
      const xl = w[2 * (t - 15) + 1] as number
      const s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7)
      const s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^ ((xl >>> 7) | (xh << 25))
      // σ1(w[t-2]) = rotr19 ^ rotr61 ^ shr6
      const yh = w[2 * (t - 2)] as number
      const yl = w[2 * (t - 2) + 1] as number
      const s1h = ((yh >>> 19) | (yl << 13)) ^ ((yl >>> 29) | (yh << 3)) ^ (yh >>> 6)
      const s1l = ((yl >>> 19) | (yh << 13)) ^ ((yh >>> 29) | (yl << 3)) ^ ((yl >>> 6) | (yh << 26))
      const low =
        (s0l >>> 0) +
        (s1l >>> 0) +
        ((w[2 * (t - 7) + 1] as number) >>> 0) +
        ((w[2 * (t - 16) + 1] as number) >>> 0)
      const high =
        s0h + s1h + (w[2 * (t - 7)] as number) + (w[2 * (t - 16)] as number) + ((low / TWO_32) | 0)
      w[2 * t] = high | 0
      w[2 * t + 1] = low | 0
    }
    const h = this.#h
    let ah = h[0] as number
    let al = h[1] as number
    let bh = h[2] as number
    let bl = h[3] as number
    let ch = h[4] as number
    let cl = h[5] as number
    let dh = h[6] as number
    let dl = h[7] as number
    let eh = h[8] as number
    let el = h[9] as number
    let fh = h[10] as number
    let fl = h[11] as number
    let gh = h[12] as number
    let gl = h[13] as number
    let hh = h[14] as number
    let hl = h[15] as number
    for (let t = 0; t < 80; t++) {
      // Σ1(e) = rotr14 ^ rotr18 ^ rotr41
      const S1h =
        ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23))
      const S1l =
        ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23))
      const chh = (eh & fh) ^ (~eh & gh)
      const chl = (el & fl) ^ (~el & gl)
      // t1 = h + Σ1 + ch + K[t] + w[t]
      const t1low =
        (hl >>> 0) +
        (S1l >>> 0) +
        (chl >>> 0) +
        ((K512[2 * t + 1] as number) >>> 0) +
        ((w[2 * t + 1] as number) >>> 0)
      const t1h =
        (hh + S1h + chh + (K512[2 * t] as number) + (w[2 * t] as number) + ((t1low / TWO_32) | 0)) |
        0
      const t1l = t1low | 0
      // Σ0(a) = rotr28 ^ rotr34 ^ rotr39
      const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25))
      const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25))
      const majh = (ah & bh) ^ (ah & ch) ^ (bh & ch)
      const majl = (al & bl) ^ (al & cl) ^ (bl & cl)
      const t2low = (S0l >>> 0) + (majl >>> 0)
      const t2h = (S0h + majh + ((t2low / TWO_32) | 0)) | 0
      const t2l = t2low | 0
      hh = gh
      hl = gl
      gh = fh
      gl = fl
      fh = eh
      fl = el
      // e = d + t1
      const elow = (dl >>> 0) + (t1l >>> 0)
      eh = (dh + t1h + ((elow / TWO_32) | 0)) | 0
      el = elow | 0
      dh = ch
      dl = cl
      ch = bh
      cl = bl
      bh = ah
      bl = al
      // a = t1 + t2
      const alow = (t1l >>> 0) + (t2l >>> 0)
      ah = (t1h + t2h + ((alow / TWO_32) | 0)) | 0
      al = alow | 0
    }
    const add = (i: number, xh: number, xl: number): void => {
      const low = ((h[i + 1] as number) >>> 0) + (xl >>> 0)
      h[i] = ((h[i] as number) + xh + ((low / TWO_32) | 0)) | 0
      h[i + 1] = low | 0
    }
    add(0, ah, al)
    add(2, bh, bl)
    add(4, ch, cl)
    add(6, dh, dl)
    add(8, eh, el)
    add(10, fh, fl)
    add(12, gh, gl)
    add(14, hh, hl)
  }

  protected output(): Uint8Array {
    return wordsToBytes(this.#h, 16)
  }
}
