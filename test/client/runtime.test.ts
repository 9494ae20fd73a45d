/**
 * The Upload runtime against Ferry over sockets: resuming a stored upload in a new Upload
 * object, pause / resume, abort with termination, a stored URL that is gone, progress with a
 * smoothed rate and an ETA that appears only once stable, streams.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import {
  memoryStorage,
  type NodeTransport,
  nodeTransport,
  type Progress,
  readableSource,
  streamSource,
  upload,
} from '../../src/client/node/index.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import { type RunningServer, startServer } from '../support/servers.ts'
import { download, MiB, sha256, traceOf } from './support.ts'

let server: RunningServer
let transport: NodeTransport

before(async () => {
  server = await startServer({ relativeLocation: true, progressIntervalMs: 200 })
  transport = nodeTransport({ proxy: null })
})
after(async () => {
  transport.close()
  await server.close()
})

const direct = (url: string): string => new URL(new URL(url).pathname, server.url).href

describe('client runtime', () => {
  test('a failed upload is resumed by a new Upload from the storage (HEAD first)', async () => {
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: server.port },
      cutAfterBytes: 3 * MiB,
      cuts: 1,
    })
    try {
      const bytes = randomBytes(8 * MiB)
      const storage = memoryStorage()
      const options = {
        endpoint: proxy.url('/files/'),
        protocol: 'tus' as const,
        transport,
        storage,
        fingerprint: 'fp-1',
      }
      const first = upload(bytes, { ...options, retries: 0 }).start()
      await assert.rejects(first.done, (e: Error & { code?: string }) => e.code === 'ERR_NETWORK')
      const stored = await storage.find('fp-1')
      assert.equal(stored?.url, first.url)
      assert.equal(stored?.protocol, 'tus')
      assert.ok((stored?.expiresAt ?? 0) > Date.now(), 'expiry from Upload-Expires')

      const second = upload(bytes, options)
      const trace = traceOf(second)
      const result = await second.start().done
      assert.match(trace[0] ?? '', /^> HEAD /, trace.join('\n'))
      assert.equal(result.url, first.url)
      assert.ok(!trace.some((l) => l.startsWith('> POST')), 'no new creation')
      assert.equal(await storage.find('fp-1'), undefined, 'removed on success')
      assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
    } finally {
      await proxy.close()
    }
  })

  test('a stored URL that is gone (404) starts over and replaces the entry', async () => {
    const storage = memoryStorage()
    await storage.save({
      fingerprint: 'fp-2',
      url: `${server.endpoint}nosuchupload`,
      protocol: 'ietf-9',
      createdAt: 1,
    })
    const bytes = randomBytes(1000)
    const up = upload(bytes, { endpoint: server.endpoint, transport, storage, fingerprint: 'fp-2' })
    const trace = traceOf(up)
    const result = await up.start().done
    assert.match(trace[0] ?? '', /^> HEAD .*nosuchupload/)
    assert.match(trace[2] ?? '', /^> POST .*upload-draft-interop-version: 9/, trace.join('\n'))
    assert.equal(result.protocol, 'ietf-9')
    assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
  })

  test('pause and resume; progress is acknowledged, smoothed, with an ETA once stable', async () => {
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: server.port },
      bytesPerSecond: 8 * MiB,
    })
    try {
      const bytes = randomBytes(24 * MiB)
      const up = upload(bytes, {
        endpoint: proxy.url('/files/'),
        protocol: 'ietf',
        transport,
        storage: memoryStorage(),
      })
      const trace = traceOf(up)
      const events: (Progress & { at: number })[] = []
      const start = Date.now()
      let paused = false
      up.on('progress', (p) => {
        events.push({ ...p, at: Date.now() - start })
        if (!paused && p.acknowledged >= 4 * MiB) {
          paused = true
          void up.pause().then(() => {
            assert.equal(up.status, 'paused')
            setTimeout(() => up.resume(), 300)
          })
        }
      })
      const result = await up.start().done
      assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
      const requests = trace.filter((l) => l.startsWith('> '))
      assert.match(requests[0] ?? '', /^> POST /)
      assert.match(requests[1] ?? '', /^> HEAD /, `resume asks the offset\n${trace.join('\n')}`)
      assert.match(requests[2] ?? '', /^> PATCH /)
      for (let i = 1; i < events.length; i++) {
        assert.ok(
          (events[i]?.acknowledged ?? 0) >= (events[i - 1]?.acknowledged ?? 0),
          'acknowledged never goes back',
        )
      }
      assert.equal(events.at(-1)?.acknowledged, bytes.length)
      assert.equal(events[0]?.etaSeconds, undefined, 'no ETA at first')
      const withEta = events.filter((e) => e.etaSeconds !== undefined)
      assert.ok(withEta.length > 0, 'an ETA once the rate is stable')
      assert.ok((withEta[0]?.at ?? 0) >= 2000, 'not before 2 s of samples')
      const rate = withEta.at(-1)?.rate ?? 0
      assert.ok(rate > 3 * MiB && rate < 16 * MiB, `rate ${rate} near the 8 MiB/s of the link`)
    } finally {
      await proxy.close()
    }
  })

  test('abort({ terminate: true }) deletes the upload and forgets it', async () => {
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: server.port },
      bytesPerSecond: 4 * MiB,
    })
    try {
      const storage = memoryStorage()
      const up = upload(randomBytes(8 * MiB), {
        endpoint: proxy.url('/files/'),
        protocol: 'tus',
        transport,
        storage,
        fingerprint: 'fp-3',
      })
      const trace = traceOf(up)
      up.start()
      await new Promise<void>((resolve) => up.on('progress', (p) => p.sent > MiB && resolve()))
      assert.ok(await storage.find('fp-3'))
      await up.abort({ terminate: true })
      await assert.rejects(up.done, (e: Error & { code?: string }) => e.code === 'ERR_ABORTED')
      assert.ok(
        trace.some((l) => l.startsWith('> DELETE ')),
        trace.join('\n'),
      )
      assert.equal(await storage.find('fp-3'), undefined)
      const head = await fetch(direct(up.url ?? ''), {
        method: 'HEAD',
        headers: { 'tus-resumable': '1.0.0' },
      })
      assert.ok(head.status === 404 || head.status === 410, String(head.status))
    } finally {
      await proxy.close()
    }
  })

  test('streams: a Node Readable of unknown length (draft) and a web ReadableStream of known size', async () => {
    const bytes = randomBytes(5 * MiB + 3)
    const pieces = Array.from({ length: 41 }, (_, i) =>
      bytes.subarray(i * 131_072, (i + 1) * 131_072),
    )
    const a = await upload(readableSource(Readable.from(pieces)), {
      endpoint: server.endpoint,
      protocol: 'ietf',
      chunkSize: 2 * MiB,
      transport,
      storage: memoryStorage(),
    }).start().done
    assert.equal(a.size, bytes.length)
    assert.equal(sha256(await download(direct(a.url ?? ''))), sha256(bytes))
    const web = new Blob([bytes]).stream() as ReadableStream<Uint8Array>
    const b = await upload(streamSource(web, { size: bytes.length }), {
      endpoint: server.endpoint,
      protocol: 'tus',
      transport,
      storage: memoryStorage(),
    }).start().done
    assert.equal(sha256(await download(direct(b.url ?? ''))), sha256(bytes))
  })
})
