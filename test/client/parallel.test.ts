/**
 * Parallel uploads (tus concatenation) over real sockets:
 * - to Ferry with 1, 3 and 4 parts and 1 B, 5 MiB and 20 MiB, bytes verified by GET on the
 *   final URL;
 * - a part whose connection the fault proxy cuts resumes on its own (HEAD, then on);
 * - a part refused for good (403 on its PATCH) aborts and terminates its siblings, and the
 *   upload fails with that part's error;
 * - against @tus/server (no concatenation): refused up front, no request with content sent;
 * - paused and started again in a new Upload with the same storage: each part is HEADed and
 *   continues from its offset.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  fileSource,
  memoryStorage,
  type NodeTransport,
  nodeTransport,
  type Upload,
  type UploadResult,
  upload,
} from '../../src/client/node/index.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import { type RunningServer, startServer, tempDir } from '../support/servers.ts'
import { forwardDouble } from './doubles.ts'
import { download, MiB, randomFile, sha256, startTusServer, traceOf } from './support.ts'

let server: RunningServer
let transport: NodeTransport
const dir = tempDir('ferry-client-parallel-')
const files = new Map<number, { path: string; hash: string }>()

before(async () => {
  // Relative Location values keep the client on the proxy's (or double's) address.
  server = await startServer({ relativeLocation: true })
  transport = nodeTransport({ proxy: null })
  for (const size of [1, 5 * MiB, 20 * MiB]) files.set(size, await randomFile(dir.path, size))
})
after(async () => {
  transport.close()
  await server.close()
  dir.cleanup()
})

const target = (): { host: string; port: number } => ({ host: '127.0.0.1', port: server.port })
const direct = (url: string): string => new URL(new URL(url).pathname, server.url).href
const file = (size: number): { path: string; hash: string } => {
  const f = files.get(size)
  assert.ok(f !== undefined)
  return f
}

async function settle(up: Upload, trace: string[]): Promise<UploadResult> {
  return up.start().done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
}

describe('client parallel uploads → Ferry', () => {
  for (const parallel of [1, 3, 4]) {
    test(`${parallel} part(s): 1 B, 5 MiB, 20 MiB`, async () => {
      for (const size of [1, 5 * MiB, 20 * MiB]) {
        const f = file(size)
        const up = upload(fileSource(f.path), {
          endpoint: server.endpoint,
          transport,
          storage: memoryStorage(),
          parallel,
          metadata: { filename: 'parallel.bin' },
          retries: 0,
        })
        const trace = traceOf(up)
        let last = 0
        up.on('progress', (p) => {
          assert.ok(p.acknowledged >= last, 'progress never goes back')
          last = p.acknowledged
        })
        const result = await settle(up, trace)
        const label = `${parallel} × ${size} B\n${trace.join('\n')}`
        assert.ok(result.url !== undefined, label)
        assert.equal(result.size, size)
        assert.equal(last, size, 'progress summed over the parts reaches the size')
        assert.equal(sha256(await download(direct(result.url))), f.hash, label)
        const partials = trace.filter((l) => /^> POST .*upload-concat: partial/.test(l))
        const finals = trace.filter((l) => /^> POST .*upload-concat: final;/.test(l))
        if (parallel === 1) {
          assert.equal(partials.length + finals.length, 0, `no concatenation: ${label}`)
        } else {
          // 1 B cannot be split: one part (still a concatenation).
          assert.equal(partials.length, size === 1 ? 1 : parallel, label)
          assert.equal(finals.length, 1, label)
          assert.ok((finals[0] ?? '').includes('filename'), 'the metadata goes on the final upload')
        }
      }
    })
  }

  test('a part cut by the fault proxy resumes on its own', async () => {
    const f = file(20 * MiB)
    const proxy = await startFaultProxy({ target: target(), cutAfterBytes: 3 * MiB, cuts: 1 })
    try {
      const up = upload(fileSource(f.path), {
        endpoint: proxy.url('/files/'),
        transport,
        storage: memoryStorage(),
        parallel: 3,
        retryDelayMs: 20,
      })
      const trace = traceOf(up)
      const retries: (number | undefined)[] = []
      up.on('retry', (r) => retries.push(r.part))
      const result = await settle(up, trace)
      assert.equal(proxy.stats.cuts, 1)
      assert.equal(retries.length, 1, trace.join('\n'))
      assert.ok(retries[0] !== undefined, 'the retry names its part')
      assert.equal(trace.filter((l) => l.startsWith('> HEAD')).length, 1, trace.join('\n'))
      assert.equal(trace.filter((l) => /^> POST .*upload-concat: partial/.test(l)).length, 3)
      assert.equal(sha256(await download(direct(result.url ?? ''))), f.hash)
    } finally {
      await proxy.close()
    }
  })

  test('a part refused for good aborts and terminates its siblings; the upload fails with its error', async () => {
    const f = file(20 * MiB)
    // Slow connections keep the siblings busy while the victim is refused.
    const proxy = await startFaultProxy({ target: target(), bytesPerSecond: 2 * MiB })
    let victim: string | undefined
    const double = await forwardDouble(
      { host: '127.0.0.1', port: proxy.port },
      {
        answer: (req) => {
          if (req.method !== 'PATCH') return undefined
          victim ??= req.url
          return req.url === victim ? 403 : undefined
        },
      },
    )
    try {
      const up = upload(fileSource(f.path), {
        endpoint: double.url('/files/'),
        transport,
        storage: memoryStorage(),
        parallel: 4,
        retryDelayMs: 20,
      })
      const trace = traceOf(up)
      const started = Date.now()
      const error = await up.start().done.then(
        () => assert.fail(`the upload succeeded\n${trace.join('\n')}`),
        (e: Error & { code?: string; status?: number }) => e,
      )
      assert.equal(error.code, 'ERR_FORBIDDEN', error.message)
      assert.equal(error.status, 403)
      assert.match(error.message, /^part \d of 4 \(bytes \d+-\d+\): append refused/)
      // Each sibling needs 2.5 s for its 5 MiB: they were stopped midway.
      assert.ok(Date.now() - started < 2000, 'the siblings did not run to their end')
      assert.ok(up.progress.acknowledged < 10 * MiB, `acknowledged ${up.progress.acknowledged}`)
      const parts = double.seen.filter(
        (r) => r.method === 'POST' && r.headers['upload-concat'] === 'partial',
      )
      assert.equal(parts.length, 4)
      const deleted = double.seen.filter((r) => r.method === 'DELETE').map((r) => r.url)
      assert.equal(deleted.length, 3, `the 3 siblings are terminated\n${trace.join('\n')}`)
      assert.ok(!deleted.includes(victim ?? ''))
      for (const path of deleted) {
        const head = await fetch(`${server.url}${path}`, {
          method: 'HEAD',
          headers: { 'tus-resumable': '1.0.0' },
        })
        assert.equal(head.status, 404, `${path} is gone`)
      }
      assert.ok(!double.seen.some((r) => String(r.headers['upload-concat']).startsWith('final')))
      assert.equal(up.status, 'failed')
    } finally {
      await double.close()
      await proxy.close()
    }
  })

  test('paused, then resumed in a new Upload from storage: each part is HEADed and continues', async () => {
    const f = file(20 * MiB)
    const storage = memoryStorage()
    const options = {
      endpoint: server.endpoint,
      transport,
      storage,
      parallel: 3,
      chunkSize: 512 * 1024,
    }
    const first = upload(fileSource(f.path), options)
    const firstTrace = traceOf(first)
    const paused = new Promise<void>((resolve) => {
      first.on('progress', (p) => {
        if (p.acknowledged >= 6 * MiB && first.status === 'running') {
          void first.pause().then(resolve)
        }
      })
    })
    first.start()
    await paused
    const stored = [...storage.entries.values()]
    assert.equal(stored.length, 1, 'one entry for the parallel upload')
    const parts = (stored[0] as unknown as { parts: (string | null)[] }).parts
    assert.equal(parts.length, 3)
    assert.ok(
      parts.every((p) => typeof p === 'string'),
      `every part URL stored\n${firstTrace.join('\n')}`,
    )
    const acknowledged = first.progress.acknowledged
    assert.ok(acknowledged < 20 * MiB)

    const second = upload(fileSource(f.path), options)
    const trace = traceOf(second)
    const result = await settle(second, trace)
    const heads = trace.filter((l) => l.startsWith('> HEAD')).map((l) => l.split(' ')[2])
    assert.deepEqual(heads.sort(), [...parts].sort(), trace.join('\n'))
    assert.ok(
      !trace.some((l) => /^> POST .*upload-concat: partial/.test(l)),
      `no part created again\n${trace.join('\n')}`,
    )
    const firstPatches = trace.filter((l) => l.startsWith('> PATCH'))
    assert.ok(firstPatches.length > 0)
    assert.ok(
      second.progress.sent <= 20 * MiB - acknowledged + 3 * 512 * 1024,
      `only what was missing is sent (${second.progress.sent})`,
    )
    assert.equal(sha256(await download(result.url ?? '')), f.hash)
    assert.equal(storage.entries.size, 0, 'the entry is removed on success')
  })

  test('parallel with checksums: every part PATCH carries Upload-Checksum', async () => {
    const f = file(5 * MiB)
    const up = upload(fileSource(f.path), {
      endpoint: server.endpoint,
      transport,
      storage: memoryStorage(),
      parallel: 3,
      checksum: 'sha256',
      chunkSize: 1 * MiB,
    })
    const checksums: string[] = []
    up.on('request', (r) => {
      if (r.method === 'PATCH') checksums.push(r.headers['upload-checksum'] ?? '')
    })
    const trace = traceOf(up)
    const result = await settle(up, trace)
    assert.ok(checksums.length >= 6)
    assert.ok(checksums.every((c) => c.startsWith('sha256 ')))
    assert.equal(sha256(await download(result.url ?? '')), f.hash)
  })
})

describe('client parallel uploads → servers without concatenation', () => {
  test('@tus/server: refused up front with a clear error, no request with content', async () => {
    const peer = await startTusServer()
    const port = Number(new URL(peer.endpoint).port)
    const double = await forwardDouble({ host: '127.0.0.1', port })
    try {
      const up = upload(fileSource(file(5 * MiB).path), {
        endpoint: double.url('/files/'),
        transport,
        storage: memoryStorage(),
        parallel: 3,
      })
      await assert.rejects(up.start().done, (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_UNSUPPORTED')
        assert.match(
          e.message,
          /^parallel uploads need tus concatenation, which the server does not offer \(Tus-Extension: .*creation.*\)$/,
        )
        return true
      })
      assert.deepEqual(
        double.seen.map((r) => r.method),
        ['OPTIONS'],
        'nothing but the discovery',
      )
    } finally {
      await double.close()
      await peer.stop()
    }
  })

  test('the draft (protocol ietf): refused before any request', async () => {
    const double = await forwardDouble(target())
    try {
      const up = upload(new Uint8Array(10), {
        endpoint: double.url('/files/'),
        protocol: 'ietf',
        transport,
        storage: memoryStorage(),
        parallel: 2,
      })
      await assert.rejects(up.start().done, /IETF draft has no concatenation/)
      assert.equal(double.seen.length, 0)
    } finally {
      await double.close()
    }
  })
})
