/**
 * A load balancer for tests: an HTTP/1.1 reverse proxy that sends each request (not each
 * connection) to the next backend in turn, so one upload's requests land on different
 * instances. It adds `X-Forwarded-Host`/`-Proto` (the instances run with --behind-proxy and
 * build upload URLs that point back here), streams bodies both ways with backpressure, and
 * skips a backend that refuses the connection (nothing of the request was sent yet). Interim
 * responses are not forwarded, like many real load balancers: clients fall back to the final
 * response's Location.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream/promises'

export interface RoundRobin {
  readonly url: string
  readonly port: number
  /** Requests sent to each backend (by index), and requests no backend took. */
  readonly stats: { perBackend: number[]; refused: number; failed: number }
  close(): Promise<void>
}

/** Hop-by-hop fields (RFC 9110 §7.6.1) a proxy does not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

export async function startRoundRobin(backends: readonly number[]): Promise<RoundRobin> {
  let next = 0
  const stats = { perBackend: backends.map(() => 0), refused: 0, failed: 0 }
  const agent = new http.Agent({ keepAlive: true })

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, attempt: number): void => {
    const index = next++ % backends.length
    const headers: http.OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value
    }
    headers['x-forwarded-host'] = req.headers.host ?? ''
    headers['x-forwarded-proto'] = 'http'
    const upstream = http.request({
      host: '127.0.0.1',
      port: backends[index],
      method: req.method,
      path: req.url,
      headers,
      agent,
    })
    let connected = false
    // The request body is read only once a connection to the backend exists, so a refused
    // connection has consumed none of it and the next backend can take the whole request.
    const send = (): void => {
      connected = true
      req.pipe(upstream)
    }
    upstream.once('socket', (socket) => {
      if (!socket.connecting) send()
      else socket.once('connect', send)
    })
    upstream.on('response', (upstreamRes) => {
      stats.perBackend[index] = (stats.perBackend[index] ?? 0) + 1
      const out: http.OutgoingHttpHeaders = {}
      for (const [name, value] of Object.entries(upstreamRes.headers)) {
        if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value
      }
      res.writeHead(upstreamRes.statusCode ?? 502, out)
      pipeline(upstreamRes, res).catch(() => res.destroy())
      // An early answer (e.g. 409 before the body was read): stop forwarding the request body.
      if (!req.complete) req.unpipe(upstream)
    })
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && err.code === 'ECONNREFUSED' && attempt < backends.length) {
        // This backend is down and got nothing: the next one takes the request.
        stats.refused++
        forward(req, res, attempt + 1)
        return
      }
      stats.failed++
      // The backend died mid-request: the client sees its connection cut, as it would.
      if (res.headersSent) res.destroy()
      else req.socket.destroy()
    })
  }

  const server = http.createServer((req, res) => {
    req.on('error', () => undefined)
    res.on('error', () => undefined)
    forward(req, res, 0)
  })
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      agent.destroy()
    },
  }
}
