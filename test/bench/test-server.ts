/**
 * @module A small tus 1.0.0 server for the honesty tests of `ferry bench`, in memory, whose
 * behaviour the tests control and observe: how long each request type sleeps before answering,
 * which requests fail, a byte it corrupts, and what it received (body bytes per request, and
 * whether the request's content ended early). It keeps the bytes of an interrupted PATCH, as
 * tus 1.0.0 §PATCH allows ("the Server SHOULD accept the partial content"), so after a cut the
 * client resumes where the bytes stopped arriving.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  readonly method: string
  readonly upload: string
  /** The request's Content-Length. */
  readonly declared: number
  /** Body bytes that arrived. */
  readonly received: number
  /** The content ended before Content-Length (a cut connection). */
  readonly aborted: boolean
  /** The answer was a failure injected by the test (its bytes were dropped). */
  readonly failed: boolean
}

export interface TestServerOptions {
  /** Milliseconds to wait before answering, per method; a function sees the method's count (1-based). */
  readonly sleepMs?: Partial<Record<string, number | ((n: number) => number)>>
  /** Answer this status instead, dropping the content (the count is per method, 1-based). */
  readonly fail?: (method: string, n: number) => number | undefined
  /** Flip one byte of this upload's content (by creation order, 0-based) when it is downloaded. */
  readonly corruptUpload?: number
}

export interface TestServer {
  readonly endpoint: string
  readonly received: Received[]
  /** Failures injected, by status. */
  readonly failures: Map<number, number>
  close(): Promise<void>
}

const sleep = (ms: number): Promise<void> =>
  ms <= 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms))

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const uploads = new Map<string, { length: number; chunks: Buffer[]; offset: number; n: number }>()
  const counts = new Map<string, number>()
  const received: Received[] = []
  const failures = new Map<number, number>()
  let created = 0
  const tus = { 'tus-resumable': '1.0.0' }
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET'
    const n = (counts.get(method) ?? 0) + 1
    counts.set(method, n)
    const s = options.sleepMs?.[method]
    const wait = typeof s === 'function' ? s(n) : (s ?? 0)
    const id = (req.url ?? '/').split('/').filter((p) => p !== '')[1] ?? ''
    const declared = Number(req.headers['content-length'] ?? 0)
    const chunks: Buffer[] = []
    let bytes = 0
    let ended = false
    req.on('data', (c: Buffer) => {
      chunks.push(c)
      bytes += c.length
    })
    req.on('end', () => {
      ended = true
    })
    req.on('error', () => {})
    req.on('close', () => {
      void (async () => {
        const aborted = !ended
        const status = options.fail?.(method, n)
        received.push({
          method,
          upload: id,
          declared,
          received: bytes,
          aborted,
          failed: status !== undefined,
        })
        const u = uploads.get(id)
        if (status === undefined && method === 'PATCH' && u !== undefined) {
          u.chunks.push(...chunks)
          u.offset += bytes
        }
        await sleep(wait)
        if (aborted || res.destroyed) return
        if (status !== undefined) {
          failures.set(status, (failures.get(status) ?? 0) + 1)
          res.writeHead(status, { ...tus, 'content-length': '0' }).end()
          return
        }
        switch (method) {
          case 'OPTIONS':
            res
              .writeHead(204, { ...tus, 'tus-version': '1.0.0', 'tus-extension': 'creation' })
              .end()
            return
          case 'POST': {
            const key = `u${created}`
            uploads.set(key, {
              length: Number(req.headers['upload-length']),
              chunks: [],
              offset: 0,
              n: created++,
            })
            const location = `http://${req.headers.host}/files/${key}`
            res.writeHead(201, { ...tus, location, 'content-length': '0' }).end()
            return
          }
          case 'HEAD':
          case 'PATCH':
            if (u === undefined) {
              res.writeHead(404, { ...tus, 'content-length': '0' }).end()
              return
            }
            res
              .writeHead(method === 'HEAD' ? 200 : 204, {
                ...tus,
                'upload-offset': String(u.offset),
                'upload-length': String(u.length),
                'cache-control': 'no-store',
                'content-length': '0',
              })
              .end()
            return
          case 'GET': {
            if (u === undefined) {
              res.writeHead(404, { 'content-length': '0' }).end()
              return
            }
            const body = Buffer.concat(u.chunks)
            if (u.n === options.corruptUpload && body.length > 0) {
              body[body.length >> 1] = (body[body.length >> 1] as number) ^ 0xff
            }
            res.writeHead(200, { 'content-length': String(body.length) }).end(body)
            return
          }
          default:
            res.writeHead(405, { 'content-length': '0' }).end()
        }
      })()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}/files/`,
    received,
    failures,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
