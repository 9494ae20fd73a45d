/**
 * @module The Node adapter: node:http and node:http2 requests to the upload handler and back,
 * with 104 interim responses on both (HTTP/1.1 has no public API for arbitrary 1xx before
 * Node 24, so the status line is written raw, through the same path Node uses for 100
 * Continue), 100-continue sent only when the handler starts reading, backpressure on request
 * content, and connections closed cleanly when a response goes out before the content was read.
 */
import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import http from 'node:http'
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import type https from 'node:https'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { TLSSocket } from 'node:tls'
import { REASON_PHRASES } from '../protocol/constants.ts'
import type { HeaderMap, ResponseHead } from '../protocol/types.ts'
import type { HandlerResponse, UploadHandler } from '../server/handler.ts'

type NodeRequest = IncomingMessage | Http2ServerRequest
type NodeResponse = ServerResponse | Http2ServerResponse

export interface NodeListenerOptions {
  /** Bytes of request content buffered ahead of the store before pausing. @default 1 MiB */
  readonly bodyHighWaterMark?: number
  /** After an early response, discard at most this much unread content before closing. */
  readonly lingerBytes?: number
  /** ...and wait at most this long for it. @default 2000 */
  readonly lingerMs?: number
}

/** A request body as an async iterable that pauses the socket when the consumer falls behind. */
interface BodySource extends AsyncIterable<Uint8Array> {
  /** True once the consumer started reading. */
  readonly started: boolean
  /** Stops buffering (the handler is done with the content). */
  detach(): void
}

function bodySource(req: Readable, highWaterMark: number, onStart: () => void): BodySource {
  const queue: Uint8Array[] = []
  let queued = 0
  let ended = false
  let failure: unknown
  let started = false
  let detached = false
  let waiter:
    | { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: unknown) => void }
    | undefined

  const settle = (): void => {
    if (waiter === undefined) return
    const w = waiter
    const chunk = queue.shift()
    if (chunk !== undefined) {
      waiter = undefined
      queued -= chunk.byteLength
      if (queued < highWaterMark && req.isPaused() && !detached) req.resume()
      w.resolve({ value: chunk, done: false })
    } else if (failure !== undefined) {
      waiter = undefined
      w.reject(failure)
    } else if (ended) {
      waiter = undefined
      w.resolve({ value: undefined, done: true })
    }
  }
  const onData = (chunk: Uint8Array): void => {
    queue.push(chunk)
    queued += chunk.byteLength
    if (queued >= highWaterMark) req.pause()
    settle()
  }
  const onEnd = (): void => {
    ended = true
    settle()
  }
  const onError = (e: unknown): void => {
    failure ??= e ?? new Error('request aborted')
    settle()
  }
  const onClose = (): void => {
    if (!ended) failure ??= new Error('connection closed before the content was complete')
    settle()
  }
  const start = (): void => {
    if (started) return
    started = true
    onStart()
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  }
  return {
    get started() {
      return started
    },
    detach() {
      if (detached) return
      detached = true
      req.off('data', onData)
      req.off('end', onEnd)
      queue.length = 0
      queued = 0
    },
    [Symbol.asyncIterator]() {
      start()
      return {
        next: () =>
          new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
            if (detached) {
              resolve({ value: undefined, done: true })
              return
            }
            waiter = { resolve, reject }
            settle()
          }),
      }
    },
  }
}

/** Lower-case header map; repeated field lines joined with ", " (RFC 9110 §5.3). */
function headerMap(req: NodeRequest): Record<string, string> {
  const out: Record<string, string> = {}
  const distinct = (req as IncomingMessage).headersDistinct as
    | Record<string, string[] | undefined>
    | undefined
  if (distinct !== undefined) {
    for (const [name, values] of Object.entries(distinct)) {
      if (values !== undefined && !name.startsWith(':')) out[name] = values.join(', ')
    }
    return out
  }
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

function isHttp2(res: NodeResponse): res is Http2ServerResponse {
  return 'stream' in res
}

/** Whether the client can receive interim (1xx) responses: HTTP/1.1 and later. */
function interimAllowed(req: NodeRequest, h2: boolean): boolean {
  return h2 || req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1)
}

/** Writes an interim response (104) before the final one. */
function writeInterim(res: NodeResponse, head: ResponseHead): void {
  if (res.headersSent) return
  if (isHttp2(res)) {
    if (res.stream.destroyed || res.stream.headersSent) return
    // RFC 9113 §8.1: interim responses are HEADERS frames with a 1xx :status.
    res.stream.additionalHeaders({ ':status': head.status, ...head.headers })
    return
  }
  const reason = REASON_PHRASES[head.status] ?? 'Informational'
  let text = `HTTP/1.1 ${head.status} ${reason}\r\n`
  for (const [name, value] of Object.entries(head.headers)) text += `${name}: ${value}\r\n`
  text += '\r\n'
  // Node's own writeContinue() uses _writeRaw, which queues correctly behind pipelined
  // responses; fall back to the socket for runtimes without it.
  const raw = (res as unknown as { _writeRaw?: (data: string, encoding: string) => boolean })
    ._writeRaw
  if (typeof raw === 'function') raw.call(res, text, 'latin1')
  else res.socket?.write(text, 'latin1')
}

/**
 * A node:http / node:http2 (compat API) request listener for the upload handler. For HTTP/1.1
 * 100-continue, register it on 'checkContinue' too, with `expectContinue` true (see
 * `createNodeServer`), so the 100 goes out only when the content is wanted.
 */
export function toNodeListener(
  handler: UploadHandler,
  options: NodeListenerOptions = {},
): (req: NodeRequest, res: NodeResponse, expectContinue?: boolean) => void {
  const highWaterMark = options.bodyHighWaterMark ?? 1024 * 1024
  const lingerBytes = options.lingerBytes ?? 4 * 1024 * 1024
  const lingerMs = options.lingerMs ?? 2000

  return (req, res, expectContinue = false) => {
    const controller = new AbortController()
    const abort = (): void => {
      if (!controller.signal.aborted) controller.abort(new Error('client went away'))
    }
    res.on('close', () => {
      if (!res.writableFinished) abort()
    })
    req.on('error', abort)
    const h2 = isHttp2(res)
    const headers = headerMap(req)
    const contentLength = headers['content-length']
    const method = req.method ?? 'GET'
    const hasBody =
      contentLength !== undefined
        ? contentLength !== '0'
        : h2
          ? !(req as Http2ServerRequest).stream.endAfterHeaders
          : headers['transfer-encoding'] !== undefined
    const body = bodySource(req, highWaterMark, () => {
      // RFC 9110 §10.1.1 (HTTP/1.1 and later): with a 'checkContinue' listener Node leaves the
      // 100 to us on HTTP/2 as well, and a 104 sent before does not replace it (draft-13 §5).
      if (expectContinue && !res.headersSent) res.writeContinue()
    })
    const socket = req.socket as Socket | TLSSocket
    const encrypted = h2
      ? (req as Http2ServerRequest).scheme === 'https'
      : 'encrypted' in socket && socket.encrypted === true
    const host = h2 ? (req as Http2ServerRequest).authority || headers.host : headers.host
    handler
      .handle({
        method,
        url: req.url ?? '/',
        headers,
        body: hasBody ? body : null,
        streamedBody: hasBody && contentLength === undefined,
        signal: controller.signal,
        origin: { protocol: encrypted ? 'https' : 'http', host },
        trailers: () => trailerMap(req),
        // RFC 9110 §15.2: a server MUST NOT send a 1xx response to an HTTP/1.0 client.
        ...(interimAllowed(req, h2) ? { sendInterim: (head) => writeInterim(res, head) } : {}),
        ...(socket.remoteAddress === undefined ? {} : { remoteAddress: socket.remoteAddress }),
      })
      .then(
        (response) => respond(req, res, response, body, h2),
        (e: unknown) => {
          // The handler never throws; this is a last line of defence.
          if (!res.headersSent) {
            res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
            res.end('internal server error\n')
          } else {
            res.destroy(e instanceof Error ? e : undefined)
          }
        },
      )
  }

  async function respond(
    req: NodeRequest,
    res: NodeResponse,
    response: HandlerResponse,
    body: BodySource,
    h2: boolean,
  ): Promise<void> {
    if (res.destroyed || res.writableEnded) return
    body.detach()
    const unread = !req.readableEnded && !(req as IncomingMessage).complete
    const headers: Record<string, string> = { ...response.headers }
    if (unread && !h2) headers.connection = 'close'
    if (!h2) (res as ServerResponse).statusMessage = REASON_PHRASES[response.status] ?? ''
    try {
      if (response.body === undefined) {
        // No content: say so, rather than leaving the framing to chunked encoding.
        if (
          response.status !== 204 &&
          response.status !== 304 &&
          headers['content-length'] === undefined
        ) {
          headers['content-length'] = '0'
        }
        res.writeHead(response.status, headers)
        res.end()
      } else if (typeof response.body === 'string' || response.body instanceof Uint8Array) {
        const bytes = typeof response.body === 'string' ? Buffer.from(response.body) : response.body
        headers['content-length'] = String(bytes.byteLength)
        res.writeHead(response.status, headers)
        res.end(bytes)
      } else {
        res.writeHead(response.status, headers)
        await pipeline(response.body, res as NodeJS.WritableStream)
      }
    } catch {
      res.destroy()
      return
    }
    if (unread) linger(req, res, h2)
  }

  /**
   * The response went out before the request content was read (an early rejection or an
   * interrupted transfer). Closing at once could make the client's TCP stack discard the
   * response (RST on unread data), so read and discard a bounded amount first, then close.
   */
  function linger(req: NodeRequest, res: NodeResponse, h2: boolean): void {
    if (h2) {
      // RFC 9113 §8.1: after a complete response, RST_STREAM(NO_ERROR) ends the request side.
      // Waiting for the response's 'finish' would wait forever: Http2ServerResponse emits it
      // only once the stream has closed, which is what this reset is for. Node resets on its own
      // only streams whose content was never read; this covers the others (a takeover, a
      // rejection after some content), at the same moment Node would: once the stream's
      // writable side finished, on the next turn.
      const stream = (res as Http2ServerResponse).stream
      const close = (): void => {
        if (!stream.destroyed && !stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR)
      }
      if (stream.writableFinished) setImmediate(close)
      else stream.once('finish', () => setImmediate(close))
      return
    }
    const socket = (req as IncomingMessage).socket
    let discarded = 0
    const timer = setTimeout(() => socket.destroy(), lingerMs)
    timer.unref()
    req.on('data', (chunk: Uint8Array) => {
      discarded += chunk.byteLength
      if (discarded > lingerBytes) socket.destroy()
    })
    req.once('end', () => clearTimeout(timer))
    req.once('close', () => clearTimeout(timer))
    req.resume()
  }
}

function trailerMap(req: NodeRequest): HeaderMap {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.trailers ?? {})) {
    if (value !== undefined)
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}

export interface NodeServerOptions extends NodeListenerOptions {
  readonly handler: UploadHandler
  /** PEM certificate and key: serve HTTPS with HTTP/2 (ALPN h2, falling back to HTTP/1.1). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer }
  /** Serve HTTP/2 without TLS (prior knowledge, h2c) instead of HTTP/1.1. */
  readonly h2c?: boolean
  /**
   * Close a connection after this long without a byte in either direction (HTTP/2: cancel a
   * stream without a frame this long, close a session without one; TLS: also the longest
   * handshake). Node's default requestTimeout (300 s for the whole request) would kill long
   * uploads: it is turned off.
   * @default 60000
   */
  readonly idleTimeoutMs?: number
  /** HTTP/2 flow-control window per stream and connection. @default 16 MiB */
  readonly http2WindowBytes?: number
  /**
   * Largest request header section; larger ones get 431 (HTTP/1.1) or a refused stream
   * (HTTP/2). Upload-Metadata has its own, smaller limit in the handler. @default 16 KiB
   */
  readonly maxHeaderBytes?: number
  /**
   * Most connections open at once from one client address; 0 or absent: no limit. Beyond it,
   * an HTTP/1.x request gets 429 Too Many Requests (RFC 6585 §4) with Retry-After and the
   * connection closes; an HTTP/2 or TLS connection is closed at once. Behind a proxy every
   * connection comes from the proxy: cap there instead.
   */
  readonly maxConnectionsPerClient?: number
  /**
   * A path (outside the upload endpoint) that answers GET and HEAD with the handler's readiness:
   * 200 when the store and the locker answer, 503 when one does not or the server is shutting
   * down, with a JSON body `{"status":"ready"|"unavailable"|"draining","checks":{...}}`. For
   * load balancers' health checks. Absent: no such path.
   */
  readonly healthPath?: string
}

/**
 * A request that cannot be parsed (bad framing, an oversized head, garbage after a body).
 * Node's default answer goes out at once, even when a response to an earlier request on the
 * connection is still being prepared: the client then reads the 400 as the answer to that
 * request, which the handler goes on to carry out (a DELETE that deletes, an append that
 * appends) — found by the fuzz campaign. Responses keep their order (RFC 9112 §9.3.2): the
 * pending one goes out first, then the error, then the connection closes.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const reason = REASON_PHRASES[status] ?? 'Bad Request'
  const text = `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`
  const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  if (pending === undefined || pending === null || pending.writableFinished) {
    // A head that could not be parsed: no request was dispatched, so 400 (431, 408) is true.
    socket.write(text)
    socket.destroy()
    return
  }
  if (pending.req?.complete !== true) {
    // The content of the request being handled is malformed (a bad chunk, a bad trailer): the
    // handler already runs it and may carry it out (a DELETE reads no content), so a 400 could
    // be false. Close without a status: the handler sees the interruption, and the client
    // learns the outcome the way it does after any broken connection (HEAD).
    socket.destroy()
    return
  }
  // The pending request was read completely: the error is about what came after it.
  pending.once('finish', () =>
    setImmediate(() => {
      if (socket.writable) socket.end(text)
      setTimeout(() => socket.destroy(), 1000).unref()
    }),
  )
  pending.once('close', () => {
    if (!pending.writableFinished) socket.destroy()
  })
}

export interface NodeServer {
  readonly server: http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer
  /** Starts listening; resolves with the bound address. */
  listen(port: number, host?: string): Promise<{ port: number; host: string; url: string }>
  /** Stops accepting connections, lets running requests finish (up to `timeoutMs`), closes. */
  close(timeoutMs?: number): Promise<void>
}

/** A node:http(s)/http2 server wired to the handler, with idle timeouts instead of deadlines. */
export function createNodeServer(options: NodeServerOptions): NodeServer {
  const listener = toNodeListener(options.handler, options)
  const idle = options.idleTimeoutMs ?? 60_000
  const window = options.http2WindowBytes ?? 16 * 1024 * 1024
  const sessions = new Set<http2.ServerHttp2Session>()
  const sockets = new Set<Socket>()
  let server: NodeServer['server']
  const idleArmed = new WeakSet<Socket>()
  /** Starts (or restarts) the idle timer of an HTTP/1.x connection. */
  const armIdle = (socket: Socket): void => {
    if (idle <= 0) return
    socket.setTimeout(idle)
    if (idleArmed.has(socket)) return
    idleArmed.add(socket)
    socket.on('timeout', () => socket.destroy())
  }
  /**
   * Idle timers per request: node:http turns the socket timeout off when a request arrives on a
   * kept-alive connection (it had armed its keep-alive timer), so HTTP/1.x re-arms it here; an
   * HTTP/2 stream gets its own timer (a stalled stream is cancelled; the session lives on).
   */
  const armRequest = (req: NodeRequest, res: NodeResponse): void => {
    if (idle <= 0) return
    if (!isHttp2(res)) {
      armIdle(req.socket as Socket)
      return
    }
    const stream = res.stream
    stream.setTimeout(idle, () => {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL)
    })
  }
  const perClient = options.maxConnectionsPerClient ?? 0
  /** Open connections per client address (only when capped). */
  const clients = new Map<string, number>()
  /** HTTP/1.x connections over the cap: their requests get 429. */
  const overCap = new WeakSet<Socket>()
  const tooMany = (req: NodeRequest, res: NodeResponse): boolean => {
    if (perClient <= 0 || !overCap.has(req.socket as Socket)) return false
    // RFC 6585 §4: 429 Too Many Requests, with Retry-After; the connection does not stay.
    const body = 'too many connections from this client\n'
    ;(res as ServerResponse).writeHead(429, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'retry-after': '1',
      connection: 'close',
    })
    res.end(body)
    return true
  }
  const healthPath = options.healthPath
  /** Answers a readiness probe; false when the request is not one. */
  const health = (req: NodeRequest, res: NodeResponse): boolean => {
    if (healthPath === undefined) return false
    const url = req.url ?? ''
    const query = url.indexOf('?')
    if ((query < 0 ? url : url.slice(0, query)) !== healthPath) return false
    const reply = (status: number, headers: Record<string, string>, body: string): void => {
      try {
        ;(res as ServerResponse).writeHead(status, {
          ...headers,
          'cache-control': 'no-store',
          'content-length': String(Buffer.byteLength(body)),
        })
        if (req.method === 'HEAD') res.end()
        else res.end(body)
      } catch {
        // The prober went away while the checks ran: nothing to answer, and nothing may
        // escape this promise chain as an unhandled rejection.
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // RFC 9110 §15.5.6: 405 lists the methods the target supports.
      reply(
        405,
        { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
        'GET or HEAD\n',
      )
      return true
    }
    options.handler.readiness().then(
      (r) => {
        const status = r.ready ? 'ready' : r.draining ? 'draining' : 'unavailable'
        const body = `${JSON.stringify({ status, checks: r.checks })}\n`
        reply(r.ready ? 200 : 503, { 'content-type': 'application/json' }, body)
      },
      () => reply(503, { 'content-type': 'application/json' }, '{"status":"unavailable"}\n'),
    )
    return true
  }
  const onRequest = (req: NodeRequest, res: NodeResponse): void => {
    armRequest(req, res)
    if (tooMany(req, res)) return
    if (health(req, res)) return
    listener(req, res)
  }
  const onContinue = (req: NodeRequest, res: NodeResponse): void => {
    armRequest(req, res)
    if (tooMany(req, res)) return
    if (health(req, res)) return
    listener(req, res, true)
  }
  const maxHeaderBytes = options.maxHeaderBytes ?? 16 * 1024
  const h2settings: http2.Settings = {
    initialWindowSize: window,
    maxHeaderListSize: maxHeaderBytes,
  }

  if (options.tls !== undefined) {
    server = http2.createSecureServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        allowHTTP1: true,
        settings: h2settings,
        // The idle timer starts once ALPN chose the protocol (see 'secureConnection' below).
        ...(idle > 0 ? { handshakeTimeout: Math.min(idle, 120_000) } : {}),
      },
      onRequest,
    )
  } else if (options.h2c === true) {
    server = http2.createServer({ settings: h2settings }, onRequest)
  } else {
    const s = http.createServer(
      {
        requestTimeout: 0,
        keepAliveTimeout: 5000,
        // A header section must arrive within the idle timeout (at most 60 s): a client that
        // trickles its headers a byte at a time never looks idle (slowloris, draft-13 §13).
        // Node checks this deadline every connectionsCheckingInterval.
        headersTimeout: idle > 0 ? Math.min(60_000, Math.max(idle, 1000)) : 60_000,
        connectionsCheckingInterval: idle > 0 ? Math.min(30_000, Math.max(250, idle / 4)) : 30_000,
        maxHeaderSize: maxHeaderBytes,
      },
      onRequest,
    )
    s.on('checkContinue', onContinue)
    s.on('clientError', onClientError)
    server = s
  }
  if (!(server instanceof http.Server)) {
    server.on('checkContinue', onContinue)
    server.on('session', (session: http2.ServerHttp2Session) => {
      sessions.add(session)
      session.once('close', () => sessions.delete(session))
      // RFC 9113 §6.9.2: a bigger connection window keeps fast uploads from stalling.
      session.once('localSettings', () => session.setLocalWindowSize(window))
      session.setTimeout(idle, () => session.close())
    })
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    if (perClient > 0) {
      const address = socket.remoteAddress ?? ''
      const open = clients.get(address) ?? 0
      if (open >= perClient) {
        // Not counted: it holds no upload. HTTP/1.x answers its request with 429 (above);
        // HTTP/2 and TLS cannot answer before a handshake, so they are closed now.
        if (!(server instanceof http.Server)) {
          socket.destroy()
          return
        }
        overCap.add(socket)
      } else {
        clients.set(address, open + 1)
        socket.once('close', () => {
          const left = (clients.get(address) ?? 1) - 1
          if (left <= 0) clients.delete(address)
          else clients.set(address, left)
        })
      }
    }
    // An idle timeout: a connection that moves no byte for `idle` ms is closed (slowloris,
    // dead peers). The handler keeps whatever content arrived before. Only plain HTTP/1.1
    // sockets get it here: HTTP/2 frames are read and written below JavaScript, so a timer on
    // the TCP socket would never see them and would cut active sessions (the session and its
    // streams have their own timers); TLS sockets are armed once ALPN chose HTTP/1.1.
    if (server instanceof http.Server) armIdle(socket)
  })
  if (options.tls !== undefined) {
    server.on('secureConnection', (socket: TLSSocket) => {
      // Small responses must not wait for the peer's delayed ACK (Nagle): node:http sets this
      // for plain sockets, not for HTTP/1.1 behind the TLS server of node:http2.
      socket.setNoDelay(true)
      if (socket.alpnProtocol !== 'h2') armIdle(socket)
    })
  }
  if (server instanceof http.Server) server.requestTimeout = 0

  return {
    server,
    async listen(port, host = '127.0.0.1') {
      server.listen(port, host)
      await once(server, 'listening')
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : port
      const scheme = options.tls === undefined ? 'http' : 'https'
      const h = host.includes(':') ? `[${host}]` : host
      return { port: bound, host, url: `${scheme}://${h}:${bound}` }
    },
    async close(timeoutMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      if (server instanceof http.Server) server.closeIdleConnections()
      for (const session of sessions) session.close()
      await options.handler.close(timeoutMs)
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy()
      }, 1000)
      await closed
      clearTimeout(timer)
    },
  }
}
