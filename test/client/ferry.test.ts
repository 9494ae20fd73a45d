/**
 * The client against Ferry (in process, real sockets): every protocol mode — tus 1.0.0 and the
 * draft at interop 3..10 — with 0 B, 1 B and 5 MiB, chunked and unchunked, from bytes and from
 * a file path; every upload is downloaded again with GET and compared by SHA-256.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  clearDiscoveryCache,
  fetchTransport,
  fileSource,
  memoryStorage,
  type NodeTransport,
  nodeTransport,
  type UploadOptions,
  type UploadSource,
  upload,
} from '../../src/client/node/index.ts'
import { type RunningServer, startServer, tempDir } from '../support/servers.ts'
import { download, MiB, sha256, traceOf } from './support.ts'

type Mode = { protocol: 'tus' } | { protocol: 'ietf'; interop: number }
const MODES: Mode[] = [
  { protocol: 'tus' },
  ...[3, 4, 5, 6, 7, 8, 9, 10].map((interop) => ({ protocol: 'ietf' as const, interop })),
]
const name = (m: Mode): string => (m.protocol === 'tus' ? 'tus' : `ietf-${m.interop}`)

let server: RunningServer
let transport: NodeTransport
const dir = tempDir('ferry-client-')
const payloads = new Map<number, { bytes: Buffer; path: string; hash: string }>()

before(async () => {
  server = await startServer()
  transport = nodeTransport({ proxy: null })
  for (const size of [0, 1, 5 * MiB]) {
    const bytes = randomBytes(size)
    const path = join(dir.path, `payload-${size}`)
    writeFileSync(path, bytes)
    payloads.set(size, { bytes, path, hash: sha256(bytes) })
  }
})
after(async () => {
  transport.close()
  await server.close()
  dir.cleanup()
})

async function run(
  source: Buffer | UploadSource,
  options: Partial<UploadOptions>,
): Promise<{ url: string; protocol: string; trace: string[] }> {
  const up = upload(source, {
    endpoint: server.endpoint,
    transport,
    storage: memoryStorage(),
    retries: 0,
    ...options,
  })
  const trace = traceOf(up)
  const result = await up
    .start()
    .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
  assert.ok(result.url !== undefined, 'an upload URL')
  return { url: result.url, protocol: result.protocol, trace }
}

describe('client → Ferry: every protocol mode, size, chunking and source', () => {
  for (const mode of MODES) {
    test(name(mode), async () => {
      for (const size of [0, 1, 5 * MiB]) {
        const payload = payloads.get(size)
        assert.ok(payload !== undefined)
        for (const chunkSize of [undefined, 1 * MiB]) {
          for (const from of ['bytes', 'file'] as const) {
            const label = `${name(mode)} ${size} B ${chunkSize === undefined ? 'unchunked' : 'chunked'} from ${from}`
            const { url, protocol, trace } = await run(
              from === 'bytes' ? payload.bytes : fileSource(payload.path),
              { ...mode, ...(chunkSize === undefined ? {} : { chunkSize }) },
            )
            assert.equal(protocol, name(mode), label)
            const got = await download(url)
            assert.equal(got.length, size, `${label}\n${trace.join('\n')}`)
            assert.equal(sha256(got), payload.hash, label)
            if (chunkSize !== undefined && size === 5 * MiB) {
              const writes = trace.filter((l) => /^> (PATCH|POST) .*\[\d+\+[1-9]/.test(l))
              assert.equal(
                writes.length,
                5,
                `${label}: 5 requests with content\n${trace.join('\n')}`,
              )
            }
          }
        }
      }
    })
  }
})

describe('client → Ferry: protocol choice', () => {
  test('auto discovers tus with OPTIONS (once per endpoint)', async () => {
    clearDiscoveryCache()
    const payload = payloads.get(1)!
    const first = await run(payload.bytes, {})
    assert.equal(first.protocol, 'tus')
    assert.match(first.trace[0] ?? '', /^> OPTIONS /)
    const second = await run(payload.bytes, {})
    assert.equal(second.protocol, 'tus')
    assert.match(second.trace[0] ?? '', /^> POST /, 'the answer is cached per endpoint')
  })

  test("protocol 'ietf' uses interop 10; the 104 is captured (optimistic creation)", async () => {
    const payload = payloads.get(5 * MiB)!
    const { url, protocol, trace } = await run(payload.bytes, { protocol: 'ietf' })
    assert.equal(protocol, 'ietf-10')
    assert.match(trace[0] ?? '', /^> POST .*\[0\+5242880\].*upload-draft-interop-version: 10/)
    const interim = trace.findIndex((l) => l.startsWith('< 104') && l.includes(`location: ${url}`))
    const final = trace.findIndex((l) => /^< 20\d/.test(l))
    assert.ok(
      interim > 0 && interim < final,
      `a 104 with the Location before the final response\n${trace.join('\n')}`,
    )
    assert.equal(trace.filter((l) => l.startsWith('> ')).length, 1, 'one request')
    assert.equal(sha256(await download(url)), payload.hash)
  })

  test('the fetch transport (no 104s) uses careful creation', async () => {
    const payload = payloads.get(5 * MiB)!
    for (const mode of [
      { protocol: 'ietf' as const },
      { protocol: 'ietf' as const, interop: 3 },
      { protocol: 'tus' as const },
    ]) {
      const { url, trace } = await run(payload.bytes, { ...mode, transport: fetchTransport() })
      assert.match(trace[0] ?? '', /^> POST [^[]*$/, `an empty creation first\n${trace.join('\n')}`)
      assert.ok(
        trace.some((l) => /^> PATCH .*\[0\+5242880\]/.test(l)),
        trace.join('\n'),
      )
      assert.equal(sha256(await download(url)), payload.hash)
    }
  })

  test('metadata reaches the server (tus Upload-Metadata; draft Content-Disposition)', async () => {
    const payload = payloads.get(1)!
    for (const mode of [{ protocol: 'tus' as const }, { protocol: 'ietf' as const }]) {
      const { url } = await run(payload.bytes, {
        ...mode,
        metadata: { filename: 'résumé.txt', filetype: 'text/plain' },
      })
      const response = await fetch(url)
      await response.arrayBuffer()
      assert.match(
        response.headers.get('content-disposition') ?? '',
        /filename\*=UTF-8''r%C3%A9sum%C3%A9\.txt/,
      )
    }
  })
})
