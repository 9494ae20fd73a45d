/**
 * @module An HTTP double for the parallel and integrity tests: it forwards every request to a
 * real server and records it, unless told to answer a request itself, or to corrupt the content on the way (one byte flipped, as a
 * bad link or a broken middlebox would).
 */
import http from 'node:http'
import type net from 'node:net'
import { Transform } from 'node:stream'

export interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  /** The status the client got (once answered). */
  status?: number
}

export interface DoubleRules {
  /** Answer this request with this status itself (its content is read, not forwarded). */
  readonly answer?: (req: Seen, index: number) => number | undefined
  /** Flip the content byte at this position (0-based) of this request on its way upstream. */
  readonly flip?: (req: Seen, index: number) => number | undefined
}

export interface ForwardDouble {
  readonly port: number
  url(path: string): string
  readonly seen: Seen[]
  close(): Promise<void>
}

export async function forwardDouble(
  target: { host: string; port: number },
  rules: DoubleRules = {},
): Promise<ForwardDouble> {
  const seen: Seen[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    const info: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers }
    const index = seen.push(info) - 1
    res.on('finish', () => {
      info.status = res.statusCode
    })
    const answer = rules.answer?.(info, index)
    if (answer !== undefined) {
      // The content is read first: a response while the client still writes would race with
      // the client's write errors (EPIPE).
      req.resume()
      req.once('end', () => {
        res.writeHead(answer, { 'tus-resumable': '1.0.0' })
        res.end()
      })
      return
    }
    const flipAt = rules.flip?.(info, index)
    const upstream = http.request(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined) res.setHeader(k, v)
        // 104s are not forwarded (the double is for tus and careful creation).
        res.writeHead(up.statusCode ?? 502)
        up.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.on('aborted', () => upstream.destroy())
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    if (flipAt === undefined) {
      req.pipe(upstream)
      return
    }
    let at = 0
    req
      .pipe(
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            if (flipAt >= at && flipAt < at + chunk.length) {
              const copy = Buffer.from(chunk)
              copy[flipAt - at] = (copy[flipAt - at] ?? 0) ^ 0xff
              chunk = copy
            }
            at += chunk.length
            done(null, chunk)
          },
        }),
      )
      .pipe(upstream)
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    seen,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}
