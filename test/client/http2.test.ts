/**
 * The client over HTTP/2 against Ferry (in process, real sockets), with TLS (ALPN h2) and h2c:
 * - `http2Transport`: tus, the draft at interop 10 (optimistic creation: the 104 captured as a
 *   HEADERS frame) and at interop 6, 0 B / 1 B / 5 MiB, chunked and not, every upload downloaded
 *   again with GET and compared by SHA-256; one session per origin, closed when idle.
 * - A connection cut mid-upload (the fault proxy in front of the TLS server) resumes on a new
 *   session; a pause resets only the stream (RST_STREAM CANCEL), the session stays.
 * - `nodeTransport` chooses HTTP/2 by ALPN (the server sees HTTP/2.0), HTTP/1.1 for a server
 *   whose ALPN says http/1.1 (asked once per origin), and h2c only when told.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import { after, before, describe, test } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { toNodeListener } from '../../src/adapters/node.ts'
import {
  Http2NotNegotiatedError,
  type Http2Transport,
  http2Transport,
  memoryStorage,
  nodeTransport,
  type Transport,
  type UploadOptions,
  upload,
} from '../../src/client/node/index.ts'
import { createUploadHandler } from '../../src/server/handler.ts'
import { createDiskStore } from '../../src/stores/disk/index.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import {
  type RunningServer,
  selfSignedCertificate,
  startServer,
  tempDir,
} from '../support/servers.ts'
import { download, MiB, sha256, traceOf } from './support.ts'

type Mode = { protocol: 'tus' } | { protocol: 'ietf'; interop: number }
const MODES: Mode[] = [
  { protocol: 'tus' },
  { protocol: 'ietf', interop: 10 },
  { protocol: 'ietf', interop: 6 },
]
const name = (m: Mode): string => (m.protocol === 'tus' ? 'tus' : `ietf-${m.interop}`)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits a while for a condition about the server (its events lag the client's). */
async function eventually(check: () => boolean, ms = 1000): Promise<boolean> {
  for (let waited = 0; waited < ms && !check(); waited += 20) await sleep(20)
  return check()
}

/** What a server saw: HTTP versions of requests, sessions opened and open, stream resets. */
interface Watch {
  versions: string[]
  sessions: number
  open: number
  resets: number[]
}

function watch(server: RunningServer): Watch {
  const w: Watch = { versions: [], sessions: 0, open: 0, resets: [] }
  server.node.on('request', (req: IncomingMessage) => w.versions.push(req.httpVersion))
  server.node.on('session', (session: http2.ServerHttp2Session) => {
    w.sessions++
    w.open++
    session.once('close', () => w.open--)
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      stream.once('close', () => {
        if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) w.resets.push(stream.rstCode)
      })
    })
  })
  return w
}

const cert = selfSignedCertificate()
const payloads = new Map<number, Buffer>([
  [0, Buffer.alloc(0)],
  [1, randomBytes(1)],
  [5 * MiB, randomBytes(5 * MiB)],
])

async function run(
  bytes: Buffer,
  options: Partial<UploadOptions> & { endpoint: string; transport: Transport },
): Promise<{ url: string; protocol: string; trace: string[] }> {
  const up = upload(bytes, { storage: memoryStorage(), retries: 0, ...options })
  const trace = traceOf(up)
  const result = await up
    .start()
    .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
  assert.ok(result.url !== undefined, 'an upload URL')
  return { url: result.url, protocol: result.protocol, trace }
}

/** GET over HTTP/2 (fetch does not speak it), compared by SHA-256. */
async function verify(url: string, expected: Buffer, label: string): Promise<void> {
  const target = new URL(url)
  const session = http2.connect(target.origin, { ca: cert.cert })
  try {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const stream = session.request({ ':method': 'GET', ':path': target.pathname })
      const parts: Buffer[] = []
      let status = 0
      stream.on('response', (h) => {
        status = Number(h[':status'])
      })
      stream.on('data', (c: Buffer) => parts.push(c))
      stream.on('end', () =>
        status === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`GET ${url}: ${status}`)),
      )
      stream.on('error', reject)
    })
    assert.equal(got.length, expected.length, label)
    assert.equal(sha256(got), sha256(expected), label)
  } finally {
    session.close()
  }
}

for (const kind of ['tls', 'h2c'] as const) {
  describe(`http2Transport → Ferry over ${kind === 'tls' ? 'TLS (ALPN h2)' : 'h2c'}`, () => {
    let server: RunningServer
    let seen: Watch
    let transport: Http2Transport

    before(async () => {
      server = await startServer({
        transport:
          kind === 'tls' ? { tls: { cert: cert.cert, key: cert.key } } : { h2c: true as const },
      })
      seen = watch(server)
      transport = http2Transport(kind === 'tls' ? { ca: cert.cert } : { h2c: true })
    })
    after(async () => {
      transport.close()
      await server.close()
    })

    for (const mode of MODES) {
      test(`${name(mode)}: 0 B, 1 B, 5 MiB, chunked and not, verified by GET; one session`, async () => {
        for (const [size, bytes] of payloads) {
          for (const chunkSize of [undefined, 1 * MiB]) {
            const label = `${name(mode)} ${size} B ${chunkSize === undefined ? 'unchunked' : 'chunked'}`
            const { url, protocol, trace } = await run(bytes, {
              endpoint: server.endpoint,
              transport,
              ...mode,
              ...(chunkSize === undefined ? {} : { chunkSize }),
            })
            assert.equal(protocol, name(mode), label)
            await verify(url, bytes, `${label}\n${trace.join('\n')}`)
            if (size === 5 * MiB && chunkSize !== undefined) {
              const writes = trace.filter((l) => /^> (PATCH|POST) .*\[\d+\+[1-9]/.test(l))
              assert.equal(writes.length, 5, `${label}: 5 requests with content`)
            }
            if (mode.protocol === 'ietf' && mode.interop === 10 && size > 0) {
              // Optimistic creation: the content rides on the POST after the 104 (a HEADERS
              // frame with :status 104) gave the upload's URL.
              assert.match(trace[0] ?? '', /^> POST .*\[0\+[1-9]/, `${label}\n${trace.join('\n')}`)
              const interim = trace.findIndex(
                (l) => l.startsWith('< 104') && l.includes(`location: ${url}`),
              )
              const final = trace.findIndex((l) => /^< 20\d/.test(l))
              assert.ok(
                interim > 0 && interim < final,
                `a 104 with the Location before the final response\n${trace.join('\n')}`,
              )
            }
          }
        }
        assert.ok(seen.versions.length > 0)
        assert.deepEqual(new Set(seen.versions), new Set(['2.0']), 'every request over HTTP/2')
        // One session for the transport's requests (the other sessions are verify()'s GETs).
        assert.ok(
          await eventually(() => seen.open === 1),
          `the transport keeps one session to the origin (${seen.open} open)`,
        )
      })
    }
  })
}

describe('http2Transport: sessions, aborts, cuts', () => {
  let tlsServer: RunningServer
  let h2cServer: RunningServer
  before(async () => {
    tlsServer = await startServer({
      relativeLocation: true,
      transport: { tls: { cert: cert.cert, key: cert.key } },
    })
    h2cServer = await startServer({ transport: { h2c: true } })
  })
  after(async () => {
    await Promise.all([tlsServer.close(), h2cServer.close()])
  })

  test('a session idle for idleTimeoutMs is closed; the next request opens a new one', async () => {
    const seen = watch(h2cServer)
    const transport = http2Transport({ h2c: true, idleTimeoutMs: 300 })
    try {
      const bytes = payloads.get(1) as Buffer
      await run(bytes, { endpoint: h2cServer.endpoint, transport, protocol: 'tus' })
      await run(bytes, { endpoint: h2cServer.endpoint, transport, protocol: 'tus' })
      assert.equal(seen.sessions, 1, 'reused')
      await sleep(400)
      assert.ok(await eventually(() => seen.open === 0), 'closed when idle')
      await run(bytes, { endpoint: h2cServer.endpoint, transport, protocol: 'tus' })
      assert.equal(seen.sessions, 2)
    } finally {
      transport.close()
    }
    assert.ok(await eventually(() => seen.open === 0), 'close() closes the sessions')
  })

  test('http:// without h2c and an HTTP/1.1-only https server are refused clearly', async () => {
    const transport = http2Transport({ ca: cert.cert })
    const h1 = await http1OnlyServer()
    try {
      const signal = new AbortController().signal
      await assert.rejects(
        transport.request({ method: 'OPTIONS', url: h2cServer.endpoint, headers: {}, signal }),
        /h2c: true/,
      )
      await assert.rejects(
        transport.request({ method: 'OPTIONS', url: h1.endpoint, headers: {}, signal }),
        (e: unknown) => e instanceof Http2NotNegotiatedError && e.alpn === 'http/1.1',
      )
    } finally {
      transport.close()
      await h1.close()
    }
  })

  test('pause mid-content resets the stream (RST_STREAM CANCEL), not the session; resume completes', async () => {
    const seen = watch(h2cServer)
    // 8 MiB at about 8 MiB/s: slow enough to pause in the middle.
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: h2cServer.port },
      bytesPerSecond: 8 * MiB,
    })
    const transport = http2Transport({ h2c: true })
    try {
      const bytes = randomBytes(8 * MiB)
      const up = upload(bytes, {
        endpoint: proxy.url('/files/'),
        protocol: 'ietf',
        transport,
        storage: memoryStorage(),
        retries: 0,
      })
      const trace = traceOf(up)
      let paused = false
      const pausedAt = new Promise<void>((resolve) => {
        up.on('progress', (p) => {
          if (!paused && p.sent >= 2 * MiB) {
            paused = true
            void up.pause().then(resolve)
          }
        })
      })
      up.start()
      await pausedAt
      // The RST_STREAM frame waits behind the DATA frames already in the proxy's buffers.
      await eventually(() => seen.resets.length > 0, 5000)
      assert.deepEqual(seen.resets, [http2.constants.NGHTTP2_CANCEL], trace.join('\n'))
      up.resume()
      const result = await up.done.catch((e: Error) => assert.fail(`${e.message}\n${trace}`))
      assert.ok(
        trace.some((l) => l.startsWith('> HEAD')),
        `resumed with HEAD\n${trace.join('\n')}`,
      )
      assert.equal(proxy.stats.connections, 1, 'one connection: the session survived the reset')
      assert.equal(seen.sessions, 1)
      await verify(new URL(new URL(result.url ?? '').pathname, h2cServer.url).href, bytes, 'paused')
    } finally {
      transport.close()
      await proxy.close()
    }
  })

  for (const mode of [{ protocol: 'tus' as const }, { protocol: 'ietf' as const, interop: 10 }]) {
    test(`${name(mode)}: a TLS connection cut mid-content (fault proxy) resumes on a new session`, async () => {
      const proxy = await startFaultProxy({
        target: { host: '127.0.0.1', port: tlsServer.port },
        cutAfterBytes: 2 * MiB,
        cuts: 1,
      })
      const transport = http2Transport({ ca: cert.cert })
      try {
        const bytes = payloads.get(5 * MiB) as Buffer
        const { url, trace } = await run(bytes, {
          endpoint: `https://127.0.0.1:${proxy.port}/files/`,
          transport,
          ...mode,
          retries: 3,
          retryDelayMs: 20,
        })
        assert.equal(proxy.stats.cuts, 1)
        assert.equal(proxy.stats.connections, 2, 'a new connection after the cut')
        assert.ok(
          trace.some((l) => l.startsWith('! retry')),
          trace.join('\n'),
        )
        assert.equal(
          trace.filter((l) => l.startsWith('> POST')).length,
          1,
          `resumed, not restarted\n${trace.join('\n')}`,
        )
        const direct = new URL(new URL(url).pathname, tlsServer.url).href
        await verify(direct, bytes, trace.join('\n'))
      } finally {
        transport.close()
        await proxy.close()
      }
    })
  }
})

/** Ferry behind a plain https server whose ALPN offers only http/1.1. */
async function http1OnlyServer(): Promise<{
  endpoint: string
  versions: string[]
  /** What ALPN chose on each connection. */
  alpn: (string | false)[]
  close(): Promise<void>
}> {
  const dir = tempDir('ferry-h1-')
  const handler = createUploadHandler({ store: createDiskStore({ directory: dir.path }) })
  const listener = toNodeListener(handler)
  const versions: string[] = []
  const alpn: (string | false)[] = []
  const server = https.createServer(
    { cert: cert.cert, key: cert.key, ALPNProtocols: ['http/1.1'] },
    (req, res) => {
      versions.push(req.httpVersion)
      listener(req, res)
    },
  )
  server.on('secureConnection', (s: TLSSocket) => alpn.push(s.alpnProtocol ?? false))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    endpoint: `https://127.0.0.1:${port}/files/`,
    versions,
    alpn,
    async close() {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      await handler.close(1000)
      dir.cleanup()
    },
  }
}

describe('nodeTransport: HTTP/2 by ALPN, HTTP/1.1 otherwise', () => {
  let h2Server: RunningServer
  let h2cServer: RunningServer
  before(async () => {
    h2Server = await startServer({ transport: { tls: { cert: cert.cert, key: cert.key } } })
    h2cServer = await startServer({ transport: { h2c: true } })
  })
  after(async () => {
    await Promise.all([h2Server.close(), h2cServer.close()])
    cert.cleanup()
  })

  test('an https server that chooses h2: the uploads go over HTTP/2 (the server sees 2.0)', async () => {
    const seen = watch(h2Server)
    const transport = nodeTransport({ proxy: null, ca: cert.cert })
    try {
      assert.equal(transport.httpVersion(h2Server.endpoint), undefined, 'not known before')
      for (const mode of MODES) {
        const bytes = payloads.get(5 * MiB) as Buffer
        const { url, trace } = await run(bytes, {
          endpoint: h2Server.endpoint,
          transport,
          ...mode,
        })
        await verify(url, bytes, name(mode))
        if (mode.protocol === 'ietf' && mode.interop === 10) {
          assert.ok(
            trace.some((l) => l.startsWith('< 104')),
            `the 104\n${trace.join('\n')}`,
          )
        }
      }
      // Parallel uploads (tus concatenation): the parts are concurrent streams of the session.
      const bytes = payloads.get(5 * MiB) as Buffer
      const { url, trace } = await run(bytes, {
        endpoint: h2Server.endpoint,
        transport,
        parallel: 4,
      })
      assert.equal(trace.filter((l) => /^> POST/.test(l)).length, 5, trace.join('\n'))
      await verify(url, bytes, 'parallel')
      assert.equal(transport.httpVersion(h2Server.endpoint), '2')
      assert.ok(seen.versions.length >= 6)
      assert.deepEqual(new Set(seen.versions), new Set(['2.0']))
      assert.ok(await eventually(() => seen.open === 1), `one session (${seen.open} open)`)
    } finally {
      transport.close()
    }
  })

  test('an https server whose ALPN says http/1.1: HTTP/1.1, asked once per origin', async () => {
    const h1 = await http1OnlyServer()
    const transport = nodeTransport({ proxy: null, ca: cert.cert })
    try {
      for (const mode of MODES) {
        const bytes = payloads.get(1) as Buffer
        const { trace } = await run(bytes, { endpoint: h1.endpoint, transport, ...mode })
        if (mode.protocol === 'ietf' && mode.interop === 10) {
          assert.ok(
            trace.some((l) => l.startsWith('< 104')),
            `the 104\n${trace.join('\n')}`,
          )
        }
      }
      assert.equal(transport.httpVersion(h1.endpoint), '1.1')
      assert.deepEqual(new Set(h1.versions), new Set(['1.1']))
      // The first connection only learnt the answer (ALPN offered h2 and http/1.1; the server
      // chose http/1.1); one keep-alive connection of node:https (no ALPN) did the rest.
      assert.deepEqual(h1.alpn, ['http/1.1', false])
    } finally {
      transport.close()
      await h1.close()
    }
  })

  test('h2c only when asked: http:// stays HTTP/1.1 by default', async () => {
    const seen = watch(h2cServer)
    const plain = await startServer()
    const seenPlain = watch(plain)
    const transport = nodeTransport({ proxy: null, h2c: true })
    const h1 = nodeTransport({ proxy: null })
    try {
      const bytes = payloads.get(5 * MiB) as Buffer
      const { url } = await run(bytes, { endpoint: h2cServer.endpoint, transport })
      await verify(url, bytes, 'h2c')
      assert.equal(transport.httpVersion(h2cServer.endpoint), '2')
      assert.deepEqual(new Set(seen.versions), new Set(['2.0']))
      const second = await run(bytes, { endpoint: plain.endpoint, transport: h1 })
      assert.equal(sha256(await download(second.url)), sha256(bytes))
      assert.equal(h1.httpVersion(plain.endpoint), '1.1')
      assert.deepEqual(new Set(seenPlain.versions), new Set(['1.1']))
    } finally {
      transport.close()
      h1.close()
      await plain.close()
    }
  })

  test('http2: false keeps HTTP/1.1 to an h2-capable https server', async () => {
    const seen = watch(h2Server)
    const transport = nodeTransport({ proxy: null, ca: cert.cert, http2: false })
    try {
      await run(payloads.get(1) as Buffer, { endpoint: h2Server.endpoint, transport })
      assert.equal(transport.httpVersion(h2Server.endpoint), '1.1')
      assert.deepEqual(new Set(seen.versions), new Set(['1.1']))
    } finally {
      transport.close()
    }
  })
})
