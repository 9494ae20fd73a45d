/**
 * The client on a bad network, against Ferry over real sockets:
 * - 100 MiB through the fault proxy, every connection cut at a random byte, five times: the
 *   upload completes, the bytes match, and the bytes sent again are no more than the bytes that
 *   were in flight (written by the client, not delivered to the server) at the cuts.
 * - HEAD answered 503 twice, then 204: retried, never restarted from zero.
 * - A server that stops answering mid-PATCH: the stall timeout aborts and the upload resumes.
 * - 401: the header provider is asked for fresh credentials (`refresh: true`), then one retry.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import {
  fileSource,
  memoryStorage,
  type NodeTransport,
  nodeTransport,
  type RequestEnd,
  upload,
} from '../../src/client/node/index.ts'
import { UploadError as ServerError } from '../../src/protocol/errors.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import { type RunningServer, startServer, tempDir } from '../support/servers.ts'
import { download, httpDouble, MiB, randomFile, sha256, stallProxy, traceOf } from './support.ts'

let server: RunningServer
let transport: NodeTransport
const dir = tempDir('ferry-client-faults-')

before(async () => {
  // Relative Location values keep the client on the proxy's address.
  server = await startServer({ relativeLocation: true })
  transport = nodeTransport({ proxy: null })
})
after(async () => {
  transport.close()
  await server.close()
  dir.cleanup()
})

const target = (): { host: string; port: number } => ({ host: '127.0.0.1', port: server.port })
const direct = (url: string): string => new URL(new URL(url).pathname, server.url).href

/**
 * The bound asserted for the cut test. Let W be the body bytes the client handed to its sockets
 * (all requests, `sent`), S the size, U the bytes the proxy delivered to the server (all
 * connections, request heads included) and H an upper bound of the request heads (1 KiB per
 * request). Bytes re-sent: R = W - S. Bytes in flight at the cuts (written by the client, never
 * delivered): F = W - (U - H) at least. Asserted: R <= F, i.e. U - H <= S: the server never got
 * a byte twice, so nothing was sent again that had already arrived.
 */
const HEAD_BOUND = 1024

describe('client under faults', () => {
  test('100 MiB through a proxy that cuts every connection at a random byte, 5 times', async () => {
    const size = 100 * MiB
    const file = await randomFile(dir.path, size)
    const proxy = await startFaultProxy({
      target: target(),
      cutRandom: { min: 1 * MiB, max: 16 * MiB },
      cuts: 5,
      seed: 20_261_121,
    })
    try {
      const up = upload(fileSource(file.path), {
        endpoint: proxy.url('/files/'),
        protocol: 'ietf',
        transport,
        storage: memoryStorage(),
        retryDelayMs: 50,
      })
      const trace = traceOf(up)
      const ends: RequestEnd[] = []
      up.on('response', (r) => ends.push(r))
      const result = await up
        .start()
        .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
      assert.ok(result.url !== undefined)
      assert.equal(sha256(await download(direct(result.url))), file.hash)
      assert.equal(proxy.stats.cuts, 5, `5 cuts\n${trace.join('\n')}`)

      const written = ends.reduce((n, e) => n + e.written, 0)
      assert.equal(written, up.progress.sent)
      const resent = written - size
      const delivered = proxy.stats.bytesUp - ends.length * HEAD_BOUND
      const inFlight = written - delivered
      // Per cut: what the client wrote on the cut request, and where it resumed.
      const withBody = ends.filter((e) => e.offset !== undefined)
      const perCut = withBody.flatMap((e, i) => {
        if (e.response !== undefined) return []
        const resumedAt = withBody[i + 1]?.offset ?? size
        return [
          {
            offset: e.offset ?? 0,
            written: e.written,
            lost: (e.offset ?? 0) + e.written - resumedAt,
          },
        ]
      })
      const report = {
        cutPoints: proxy.stats.cutPoints,
        perCut,
        written,
        resent,
        inFlightAtLeast: inFlight,
        bytesUp: proxy.stats.bytesUp,
        requests: ends.length,
      }
      console.log(`# faults: ${JSON.stringify(report)}`)
      assert.ok(
        resent <= inFlight,
        `re-sent ${resent} > in flight ${inFlight}\n${JSON.stringify(report)}`,
      )
      assert.equal(
        perCut.reduce((n, c) => n + c.lost, 0),
        resent,
      )
      assert.equal(
        trace.filter((l) => l.startsWith('> POST')).length,
        1,
        'one creation, never restarted',
      )
      for (let i = 1; i < withBody.length; i++) {
        assert.ok(
          (withBody[i]?.offset ?? 0) >= (withBody[i - 1]?.offset ?? 0),
          'offsets never go back',
        )
      }
    } finally {
      await proxy.close()
    }
  })

  test('HEAD answered 503 twice, then OK: retried, not restarted from zero', async () => {
    // client → fault proxy (cuts the first PATCH) → HTTP double (503 to two HEADs) → Ferry
    let heads = 0
    const double = await httpDouble(target(), (req) => {
      if (req.method === 'HEAD' && ++heads <= 2) {
        return { status: 503, headers: { 'tus-resumable': '1.0.0' } }
      }
      return undefined
    })
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: double.port },
      cutAfterBytes: 4 * MiB,
      cuts: 1,
    })
    try {
      const bytes = randomBytes(16 * MiB)
      const up = upload(bytes, {
        endpoint: proxy.url('/files/'),
        protocol: 'tus',
        transport,
        storage: memoryStorage(),
        retryDelayMs: 20,
      })
      const trace = traceOf(up)
      const retries: number[] = []
      up.on('retry', (r) => retries.push(r.status ?? 0))
      const result = await up
        .start()
        .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
      // The cut (a network error), then the two 503s of the offset retrieval.
      assert.deepEqual(retries, [0, 503, 503], trace.join('\n'))
      const seen = double.seen.map((r) => r.method)
      assert.deepEqual(seen, ['POST', 'PATCH', 'HEAD', 'HEAD', 'HEAD', 'PATCH'], trace.join('\n'))
      const resumedAt = Number(double.seen[5]?.headers['upload-offset'])
      assert.ok(resumedAt > 0, `resumed at ${resumedAt}, not 0\n${trace.join('\n')}`)
      assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
    } finally {
      await proxy.close()
      await double.close()
    }
  })

  test('a server that stops answering mid-PATCH: stall timeout, resume, complete', async () => {
    const stall = await stallProxy(target(), 3 * MiB)
    try {
      const bytes = randomBytes(24 * MiB)
      const up = upload(bytes, {
        endpoint: stall.url('/files/'),
        protocol: 'tus',
        transport,
        storage: memoryStorage(),
        stallTimeoutMs: 1000,
        retryDelayMs: 20,
      })
      const trace = traceOf(up)
      const reasons: string[] = []
      up.on('retry', (r) => reasons.push(r.reason))
      const started = Date.now()
      const result = await up
        .start()
        .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
      assert.ok(stall.stalledAt() !== undefined, 'the proxy stalled a connection')
      assert.equal(reasons.length, 1, trace.join('\n'))
      assert.match(reasons[0] ?? '', /no sign of life/)
      assert.ok(Date.now() - started >= 1000)
      assert.equal(sha256(await download(direct(result.url ?? ''))), sha256(bytes))
    } finally {
      await stall.close()
    }
  })

  test('401: the header provider refreshes the token (refresh: true), one retry, also mid-upload', async () => {
    let valid = 'token-1'
    let requests = 0
    const auth = await startServer({
      hooks: {
        authorize: (ctx) => {
          if (ctx.method === 'GET') return
          requests++
          // The token rotates after the third request (mid-upload expiry).
          if (requests === 4) valid = 'token-2'
          if (ctx.headers.authorization !== `Bearer ${valid}`)
            throw new ServerError('ERR_UNAUTHORIZED')
        },
      },
    })
    try {
      let current = 'stale'
      const calls: boolean[] = []
      const bytes = randomBytes(4 * MiB)
      const up = upload(bytes, {
        endpoint: auth.endpoint,
        protocol: 'tus',
        chunkSize: 1 * MiB,
        transport,
        storage: memoryStorage(),
        headers: async ({ refresh }) => {
          calls.push(refresh)
          if (refresh) current = valid
          return { Authorization: `Bearer ${current}` }
        },
      })
      const trace = traceOf(up)
      const result = await up
        .start()
        .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
      assert.equal(sha256(await download(result.url ?? '')), sha256(bytes))
      // POST 401, POST (refresh), PATCH, PATCH 401 (rotated), PATCH (refresh), PATCH, PATCH.
      assert.deepEqual(calls, [false, true, false, false, true, false, false], trace.join('\n'))
    } finally {
      await auth.close()
    }
  })

  test('401 twice in a row fails with ERR_UNAUTHORIZED', async () => {
    const auth = await startServer({
      hooks: {
        authorize: () => {
          throw new ServerError('ERR_UNAUTHORIZED')
        },
      },
    })
    try {
      const up = upload(randomBytes(10), {
        endpoint: auth.endpoint,
        protocol: 'tus',
        transport,
        storage: memoryStorage(),
        headers: () => ({ authorization: 'Bearer x' }),
      })
      await assert.rejects(
        up.start().done,
        (e: Error & { code?: string }) => e.code === 'ERR_UNAUTHORIZED',
      )
    } finally {
      await auth.close()
    }
  })
})
