/**
 * The Node transport behind an HTTP proxy, as the environment says (HTTP_PROXY, HTTPS_PROXY,
 * NO_PROXY): absolute-form requests for http targets, a CONNECT tunnel with TLS inside for https
 * targets (Ferry over TLS with a self-signed certificate), HTTP/1.1 inside it even though the
 * server offers h2.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  bypassesProxy,
  memoryStorage,
  nodeTransport,
  proxyFor,
  upload,
} from '../../src/client/node/index.ts'
import { type RunningServer, selfSignedCertificate, startServer } from '../support/servers.ts'
import { MiB, sha256 } from './support.ts'

interface ForwardProxy {
  readonly url: string
  readonly connects: string[]
  readonly absolute: string[]
  readonly auth: (string | undefined)[]
  close(): Promise<void>
}

/** A minimal forward proxy: CONNECT tunnels and absolute-form requests. */
async function forwardProxy(): Promise<ForwardProxy> {
  const connects: string[] = []
  const absolute: string[] = []
  const auth: (string | undefined)[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    absolute.push(`${req.method} ${req.url}`)
    auth.push(req.headers['proxy-authorization'])
    const target = new URL(req.url ?? '')
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('information', () => {})
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    connects.push(req.url ?? '')
    auth.push(req.headers['proxy-authorization'])
    const [host, port] = (req.url ?? '').split(':')
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    for (const s of [socket, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.once('close', () => sockets.delete(s))
    }
    upstream.once('close', () => socket.destroy())
    socket.once('close', () => upstream.destroy())
  })
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  return {
    url: `http://user:p%40ss@127.0.0.1:${port}`,
    connects,
    absolute,
    auth,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

let plain: RunningServer
let secure: RunningServer
let cert: ReturnType<typeof selfSignedCertificate>
let proxy: ForwardProxy

before(async () => {
  cert = selfSignedCertificate()
  plain = await startServer()
  secure = await startServer({ transport: { tls: { cert: cert.cert, key: cert.key } } })
  proxy = await forwardProxy()
})
after(async () => {
  await proxy.close()
  await plain.close()
  await secure.close()
  cert.cleanup()
})

const expectedAuth = `Basic ${Buffer.from('user:p@ss').toString('base64')}`

describe('client behind a proxy (environment variables)', () => {
  test('HTTP_PROXY: absolute-form requests with Proxy-Authorization', async () => {
    const transport = nodeTransport({ env: { HTTP_PROXY: proxy.url } })
    try {
      const bytes = randomBytes(2 * MiB)
      const result = await upload(bytes, {
        endpoint: plain.endpoint,
        protocol: 'tus',
        transport,
        storage: memoryStorage(),
        retries: 0,
      }).start().done
      assert.ok(
        proxy.absolute.some((l) => l.startsWith(`POST ${plain.endpoint}`)),
        proxy.absolute.join('\n'),
      )
      assert.ok(proxy.absolute.some((l) => l.startsWith(`PATCH ${result.url}`)))
      assert.ok(proxy.auth.every((a) => a === expectedAuth))
      const got = Buffer.from(await (await fetch(result.url ?? '')).arrayBuffer())
      assert.equal(sha256(got), sha256(bytes))
    } finally {
      transport.close()
    }
  })

  test('HTTPS_PROXY: a CONNECT tunnel, TLS to the target inside, the 104 still seen', async () => {
    const transport = nodeTransport({ env: { https_proxy: proxy.url }, ca: cert.cert })
    // The server speaks h2 too (ALPN), but HTTP/2 is not tunnelled through a proxy.
    const versions: string[] = []
    const onRequest = (req: http.IncomingMessage): void => {
      versions.push(req.httpVersion)
    }
    secure.node.on('request', onRequest)
    try {
      const bytes = randomBytes(2 * MiB)
      const up = upload(bytes, {
        endpoint: secure.endpoint,
        protocol: 'ietf',
        transport,
        storage: memoryStorage(),
        retries: 0,
      })
      const interim: number[] = []
      up.on('interim', (r) => interim.push(r.status))
      const result = await up.start().done
      assert.match(secure.endpoint, /^https:/)
      assert.deepEqual(proxy.connects, [`127.0.0.1:${secure.port}`], 'one tunnel (keep-alive)')
      assert.ok(interim.includes(104), 'the 104 through the tunnel')
      assert.equal(result.protocol, 'ietf-10')
      const check = await upload(bytes, {
        uploadUrl: result.url ?? '',
        protocol: 'ietf',
        transport,
        storage: memoryStorage(),
      }).start().done
      assert.equal(check.size, bytes.length, 'a HEAD through the tunnel confirms the upload')
      assert.equal(transport.httpVersion(secure.endpoint), '1.1')
      assert.deepEqual(new Set(versions), new Set(['1.1']), 'HTTP/1.1 through the tunnel')
    } finally {
      secure.node.off('request', onRequest)
      transport.close()
    }
  })

  test('NO_PROXY and the choice of variable', () => {
    const env = {
      HTTP_PROXY: 'http://p:1',
      https_proxy: 'p2:2',
      NO_PROXY: 'localhost,.internal.example, 10.0.0.1, h:8080',
    }
    const of = (u: string): string | undefined => proxyFor(new URL(u), env)?.host
    assert.equal(of('http://a.example/'), 'p:1')
    assert.equal(of('https://a.example/'), 'p2:2')
    assert.equal(of('http://localhost:1080/'), undefined)
    assert.equal(of('http://x.internal.example/'), undefined)
    assert.equal(of('http://internal.example/'), undefined)
    assert.equal(of('http://10.0.0.1/'), undefined)
    assert.equal(of('http://10.0.0.12/'), 'p:1')
    assert.equal(of('http://h:8080/'), undefined)
    assert.equal(of('http://h:8081/'), 'p:1')
    assert.equal(bypassesProxy(new URL('http://sub.example.org/'), 'example.org'), true)
    assert.equal(bypassesProxy(new URL('http://notexample.org/'), 'example.org'), false)
    assert.equal(bypassesProxy(new URL('http://any/'), '*'), true)
    assert.equal(proxyFor(new URL('http://a/'), {}), undefined)
  })
})
