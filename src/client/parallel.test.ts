/** Parallel uploads without a network: how a source is split, and what is refused up front. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { splitParts } from './parallel.ts'
import { streamSource } from './sources.ts'
import { memoryStorage } from './storage.ts'
import type { Transport } from './transport.ts'
import { upload } from './upload.ts'

const noNetwork: Transport = {
  interimResponses: false,
  request: () => Promise.reject(new Error('no request may be sent')),
}

describe('client parallel uploads: splitting and refusals', () => {
  test('contiguous parts covering the source, sizes within one byte, never empty', () => {
    assert.deepEqual(splitParts(10, 3), [
      { offset: 0, length: 3 },
      { offset: 3, length: 3 },
      { offset: 6, length: 4 },
    ])
    assert.deepEqual(splitParts(1, 4), [{ offset: 0, length: 1 }])
    assert.deepEqual(splitParts(0, 4), [{ offset: 0, length: 0 }])
    for (const [size, n] of [
      [20 * 2 ** 20, 3],
      [5 * 2 ** 20 + 1, 4],
      [7, 7],
      [100, 64],
    ] as const) {
      const parts = splitParts(size, n)
      assert.equal(parts.length, Math.min(n, size))
      let at = 0
      for (const p of parts) {
        assert.equal(p.offset, at)
        assert.ok(p.length > 0)
        at += p.length
      }
      assert.equal(at, size)
      const lengths = parts.map((p) => p.length)
      assert.ok(Math.max(...lengths) - Math.min(...lengths) <= 1)
    }
  })

  test('refused before any request: a stream, the draft, digest, uploadUrl, no endpoint, a bad count', async () => {
    const base = { endpoint: 'http://h/files/', transport: noNetwork, storage: memoryStorage() }
    const cases: [Parameters<typeof upload>[0], Parameters<typeof upload>[1], RegExp][] = [
      [streamSource((async function* () {})()), { ...base, parallel: 2 }, /not a stream/],
      [new Uint8Array(4), { ...base, parallel: 2, protocol: 'ietf' }, /IETF draft/],
      [new Uint8Array(4), { ...base, parallel: 2, interop: 8 }, /IETF draft/],
      [new Uint8Array(4), { ...base, parallel: 2, digest: 'sha-256' }, /use checksum/],
      [new Uint8Array(4), { ...base, parallel: 2, uploadUrl: 'http://h/files/x' }, /uploadUrl/],
      [new Uint8Array(4), { transport: noNetwork, parallel: 2 }, /need an endpoint/],
      [new Uint8Array(4), { ...base, parallel: 0 }, /whole number from 1 to 64/],
      [new Uint8Array(4), { ...base, parallel: 65 }, /whole number from 1 to 64/],
    ]
    for (const [input, options, message] of cases) {
      await assert.rejects(upload(input, options).start().done, message)
    }
  })
})
