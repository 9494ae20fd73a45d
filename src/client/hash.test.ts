/**
 * The client's SHA-1 / SHA-256 / SHA-512: FIPS 180-4 example vectors, then random inputs of many
 * lengths (every length around the block and padding boundaries), fed in random pieces, against
 * node:crypto.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { describe, test } from 'node:test'
import { checksumField, createHasher, digestField, type HashAlgorithm, hash } from './hash.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
const ALGORITHMS: readonly HashAlgorithm[] = ['sha1', 'sha256', 'sha512']

describe('client hashes', () => {
  test('FIPS 180-4 example vectors', () => {
    const vectors: [HashAlgorithm, string, string][] = [
      ['sha1', '', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
      ['sha1', 'abc', 'a9993e364706816aba3e25717850c26c9cd0d89d'],
      [
        'sha1',
        'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
        '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
      ],
      ['sha256', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['sha256', 'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      [
        'sha256',
        'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
        '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
      ],
      [
        'sha512',
        'abc',
        'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
      ],
      [
        'sha512',
        '',
        'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
      ],
      [
        'sha512',
        'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
        '8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909',
      ],
    ]
    for (const [algorithm, input, want] of vectors) {
      assert.equal(hex(hash(algorithm, ascii(input))), want, `${algorithm}("${input}")`)
    }
    // A million "a", fed in odd pieces.
    const million: Record<HashAlgorithm, string> = {
      sha1: '34aa973cd4c4daa4f61eeb2bdbad27316534016f',
      sha256: 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
      sha512:
        'e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b',
    }
    const a = new Uint8Array(1_000_000).fill(0x61)
    for (const algorithm of ALGORITHMS) {
      const h = createHasher(algorithm)
      for (let at = 0; at < a.length; at += 777) h.update(a.subarray(at, at + 777))
      assert.equal(hex(h.digest()), million[algorithm], `${algorithm}(1e6 × "a")`)
    }
  })

  test('random inputs of many lengths, in random pieces, match node:crypto', () => {
    const lengths = [
      ...Array.from({ length: 300 }, (_, i) => i),
      1000,
      4095,
      4096,
      4097,
      65_536 + 17,
      1_048_576 + 3,
    ]
    for (const length of lengths) {
      const data = randomBytes(length)
      for (const algorithm of ALGORITHMS) {
        const h = createHasher(algorithm)
        for (let at = 0; at < length; ) {
          const n = randomInt(0, Math.min(300, length - at) + 1)
          h.update(data.subarray(at, at + n))
          at += n
        }
        const want = createHash(algorithm).update(data).digest('hex')
        assert.equal(hex(h.digest()), want, `${algorithm} of ${length} bytes`)
      }
    }
  })

  test('a hasher is used once; field syntax', () => {
    const h = createHasher('sha256')
    h.update(ascii('abc'))
    h.digest()
    assert.throws(() => h.digest())
    assert.throws(() => h.update(ascii('x')))
    const d = hash('sha1', ascii('abc'))
    assert.equal(checksumField('sha1', d), `sha1 ${Buffer.from(d).toString('base64')}`)
    const s = hash('sha512', ascii('abc'))
    assert.equal(digestField('sha-512', s), `sha-512=:${Buffer.from(s).toString('base64')}:`)
  })
})
