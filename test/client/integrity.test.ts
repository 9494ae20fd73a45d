/**
 * Integrity over real sockets, against Ferry (which verifies all of them):
 * - tus `Upload-Checksum` (sha1, sha256) on every PATCH; a byte flipped on the way gets 460 and
 *   the chunk is sent again; a wrong checksum is hashed again; a link that corrupts every
 *   attempt fails with ERR_INTEGRITY;
 * - the draft (interop 8 and 10): `Content-Digest` on every request with content and
 *   `Repr-Digest` on the creation (sha-256, sha-512); a corrupted chunk (400) is sent again;
 *   a stream of unknown length gets Content-Digest only;
 * - @tus/server (no checksum extension): refused up front, nothing but OPTIONS sent.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import {
  fetchTransport,
  fileSource,
  type HashAlgorithm,
  memoryStorage,
  type NodeTransport,
  nodeHasher,
  nodeTransport,
  type RequestInfo,
  type Upload,
  type UploadOptions,
  type UploadResult,
  upload,
} from '../../src/client/node/index.ts'
import { type RunningServer, startServer, tempDir } from '../support/servers.ts'
import { forwardDouble } from './doubles.ts'
import { download, MiB, sha256, startTusServer, traceOf } from './support.ts'

let server: RunningServer
let transport: NodeTransport
const dir = tempDir('ferry-client-integrity-')
const bytes = randomBytes(3 * MiB + 123)
const path = join(dir.path, 'payload.bin')

before(async () => {
  server = await startServer({ relativeLocation: true })
  transport = nodeTransport({ proxy: null })
  writeFileSync(path, bytes)
})
after(async () => {
  transport.close()
  await server.close()
  dir.cleanup()
})

const target = (): { host: string; port: number } => ({ host: '127.0.0.1', port: server.port })
const direct = (url: string): string => new URL(new URL(url).pathname, server.url).href
const b64 = (algorithm: string, data: Uint8Array): string =>
  createHash(algorithm).update(data).digest('base64')

async function run(
  source: Parameters<typeof upload>[0],
  options: Partial<UploadOptions>,
): Promise<{ up: Upload; result: UploadResult; requests: RequestInfo[]; trace: string[] }> {
  const up = upload(source, {
    endpoint: server.endpoint,
    transport,
    storage: memoryStorage(),
    retryDelayMs: 10,
    ...options,
  })
  const trace = traceOf(up)
  const requests: RequestInfo[] = []
  up.on('request', (r) => requests.push(r))
  const result = await up
    .start()
    .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
  return { up, result, requests, trace }
}

describe('client integrity: tus checksums → Ferry', () => {
  test('sha1 and sha256, whole and chunked, from bytes and from a file: accepted', async () => {
    for (const checksum of ['sha1', 'sha256'] as const) {
      for (const chunkSize of [undefined, 1 * MiB]) {
        for (const source of [bytes, fileSource(path)]) {
          const { result, requests } = await run(source, {
            protocol: 'tus',
            checksum,
            ...(chunkSize === undefined ? {} : { chunkSize }),
          })
          const patches = requests.filter((r) => r.method === 'PATCH')
          assert.equal(patches.length, chunkSize === undefined ? 1 : 4)
          for (const p of patches) {
            const piece = bytes.subarray(p.offset, (p.offset ?? 0) + (p.length ?? 0))
            assert.equal(p.headers['upload-checksum'], `${checksum} ${b64(checksum, piece)}`)
          }
          assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
        }
      }
    }
  })

  test('a byte flipped on the way: 460, the same chunk again, then on', async () => {
    let patches = 0
    const double = await forwardDouble(target(), {
      flip: (req) => (req.method === 'PATCH' && ++patches === 2 ? 1000 : undefined),
    })
    try {
      const { result, requests, trace } = await run(bytes, {
        endpoint: double.url('/files/'),
        protocol: 'tus',
        checksum: 'sha256',
        chunkSize: 1 * MiB,
      })
      const statuses = double.seen.filter((r) => r.method === 'PATCH').map((r) => r.status)
      assert.deepEqual(statuses, [204, 460, 204, 204, 204], trace.join('\n'))
      const offsets = requests.filter((r) => r.method === 'PATCH').map((r) => r.offset)
      assert.deepEqual(offsets, [0, MiB, MiB, 2 * MiB, 3 * MiB], 'no HEAD needed: same offset')
      assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
    } finally {
      await double.close()
    }
  })

  test('a wrong checksum (the hashing failed once) is computed again after the 460', async () => {
    let calls = 0
    const flaky = (algorithm: HashAlgorithm) => {
      const h = nodeHasher(algorithm)
      const broken = ++calls === 1
      return {
        update: (d: Uint8Array) => h.update(d),
        digest: () => {
          const out = h.digest()
          if (broken) out[0] = (out[0] ?? 0) ^ 1
          return out
        },
      }
    }
    const retries: (number | undefined)[] = []
    const up = upload(bytes, {
      endpoint: server.endpoint,
      transport,
      storage: memoryStorage(),
      protocol: 'tus',
      checksum: 'sha1',
      hasher: flaky,
      onRetry: (r) => retries.push(r.status),
    })
    const result = await up.start().done
    assert.deepEqual(retries, [460])
    assert.equal(calls, 2)
    assert.equal(sha256(await download(result.url ?? '')), sha256(bytes))
  })

  test('a link that corrupts every attempt: ERR_INTEGRITY after integrityRetries', async () => {
    const double = await forwardDouble(target(), {
      flip: (req) => (req.method === 'PATCH' ? 7 : undefined),
    })
    try {
      const up = upload(bytes, {
        endpoint: double.url('/files/'),
        transport,
        storage: memoryStorage(),
        protocol: 'tus',
        checksum: 'sha1',
        integrityRetries: 2,
      })
      await assert.rejects(up.start().done, (e: Error & { code?: string; status?: number }) => {
        assert.equal(e.code, 'ERR_INTEGRITY')
        assert.equal(e.status, 460)
        return true
      })
      assert.equal(double.seen.filter((r) => r.method === 'PATCH').length, 3)
    } finally {
      await double.close()
    }
  })

  test('@tus/server (no checksum extension): refused up front, nothing but OPTIONS', async () => {
    const peer = await startTusServer()
    const double = await forwardDouble({
      host: '127.0.0.1',
      port: Number(new URL(peer.endpoint).port),
    })
    try {
      const up = upload(bytes, {
        endpoint: double.url('/files/'),
        transport,
        storage: memoryStorage(),
        protocol: 'tus',
        checksum: 'sha256',
      })
      await assert.rejects(up.start().done, (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_UNSUPPORTED')
        assert.match(e.message, /checksum extension, which the server does not offer/)
        return true
      })
      assert.deepEqual(
        double.seen.map((r) => r.method),
        ['OPTIONS'],
      )
    } finally {
      await double.close()
      await peer.stop()
    }
  })
})

describe('client integrity: digests with the draft → Ferry', () => {
  for (const interop of [8, 10]) {
    test(`interop ${interop}: Content-Digest on every request with content, Repr-Digest on the creation`, async () => {
      for (const digest of ['sha-256', 'sha-512'] as const) {
        const hashName = digest === 'sha-256' ? 'sha256' : 'sha512'
        const repr = `${digest}=:${b64(hashName, bytes)}:`
        for (const variant of ['optimistic', 'chunked', 'careful'] as const) {
          const label = `interop ${interop} ${digest} ${variant}`
          const { result, requests } = await run(fileSource(path), {
            protocol: 'ietf',
            interop,
            digest,
            ...(variant === 'chunked' ? { chunkSize: 1 * MiB } : {}),
            ...(variant === 'careful' ? { transport: fetchTransport() } : {}),
          })
          const creation = requests[0]
          assert.equal(creation?.method, 'POST', label)
          assert.equal(creation?.headers['repr-digest'], repr, label)
          const withContent = requests.filter((r) => (r.length ?? 0) > 0)
          assert.equal(withContent.length, variant === 'chunked' ? 4 : 1, label)
          for (const r of withContent) {
            const piece = bytes.subarray(r.offset, (r.offset ?? 0) + (r.length ?? 0))
            assert.equal(r.headers['content-digest'], `${digest}=:${b64(hashName, piece)}:`, label)
          }
          assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes), label)
        }
      }
    })
  }

  test('a corrupted chunk (400, Content-Digest mismatch): HEAD, the chunk again, then on', async () => {
    let appends = 0
    const double = await forwardDouble(target(), {
      flip: (req) => (req.method === 'PATCH' && ++appends === 2 ? 12345 : undefined),
    })
    try {
      const { result, trace } = await run(bytes, {
        endpoint: double.url('/files/'),
        protocol: 'ietf',
        interop: 10,
        digest: 'sha-256',
        chunkSize: 1 * MiB,
        transport: fetchTransport(),
      })
      const seen = double.seen.map((r) => `${r.method} ${r.status}`)
      assert.deepEqual(
        seen,
        ['POST 201', 'PATCH 204', 'PATCH 400', 'HEAD 204', 'PATCH 204', 'PATCH 204', 'PATCH 201'],
        trace.join('\n'),
      )
      assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
    } finally {
      await double.close()
    }
  })

  test('a stream of unknown length: Content-Digest on each chunk, no Repr-Digest', async () => {
    const { result, requests } = await run(Readable.from([bytes]), {
      protocol: 'ietf',
      digest: 'sha-256',
      chunkSize: 1 * MiB,
    })
    assert.ok(requests.every((r) => r.headers['repr-digest'] === undefined))
    const withContent = requests.filter((r) => (r.length ?? 0) > 0)
    assert.equal(withContent.length, 4)
    for (const r of withContent) {
      const piece = bytes.subarray(r.offset, (r.offset ?? 0) + (r.length ?? 0))
      assert.equal(r.headers['content-digest'], `sha-256=:${b64('sha256', piece)}:`)
    }
    assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
  })
})
