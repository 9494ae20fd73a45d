/**
 * @module A transport on node:http2: one session per origin (TLS with ALPN `h2`, or h2c by prior
 * knowledge when asked), reused by every request to that origin and closed once idle; each
 * request is a stream. Interim responses arrive as HEADERS frames with a 1xx `:status` (RFC 9113
 * §8.1) and are reported like the HTTP/1.1 transport's: the draft's 104 with Location and
 * Upload-Offset (optimistic creation). Content is written with backpressure, each piece
 * reported once the stream took it (a sign of life for stall detection); an abort resets the
 * stream (RST_STREAM CANCEL), never the session.
 */
import http2 from 'node:http2'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import type { ResponseHead } from '../protocols.ts'
import { MAX_RESPONSE_BODY, type Transport, type TransportRequest } from '../transport.ts'

export interface Http2TransportOptions {
  /** Extra CA certificates (PEM) for https origins. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[]
  /** Accept any certificate (testing only). @default false */
  readonly insecure?: boolean
  /**
   * Cancel a stream without a frame in either direction for this long, and close a session
   * without a stream for this long. @default 60000
   */
  readonly idleTimeoutMs?: number
  /**
   * HTTP/2 without TLS (h2c, prior knowledge: RFC 9113 §3.3) for http:// origins. Without it,
   * requests to http:// origins are refused: there is no upgrade from HTTP/1.1.
   * @default false
   */
  readonly h2c?: boolean
}

export interface Http2Transport extends Transport {
  /** Closes every session (GOAWAY; streams still open finish first). */
  close(): void
}

/** The server of an https origin did not choose `h2` by ALPN (HTTP/1.1 only, or no ALPN). */
export class Http2NotNegotiatedError extends Error {
  override readonly name = 'Http2NotNegotiatedError'
  /** The origin, e.g. https://example.com:8443 */
  readonly origin: string
  /** What ALPN chose instead: `http/1.1`, or false for no ALPN at all. */
  readonly alpn: string | false

  constructor(origin: string, alpn: string | false) {
    super(
      `${origin} does not speak HTTP/2 (ALPN: ${alpn === false ? 'none' : alpn}); use the HTTP/1.1 transport`,
    )
    this.origin = origin
    this.alpn = alpn
  }
}

class IdleTimeoutError extends Error {
  override readonly name = 'IdleTimeoutError'
}

/** Not part of the public API: how the Node transport learns what ALPN chose per origin. */
export interface Http2Internals {
  /** Called once per new TLS connection with what ALPN chose (`h2`, `http/1.1`, or false). */
  onAlpn?(origin: string, alpn: string | false): void
  /** Close sessions without streams after this long (0: at once). @default idleTimeoutMs */
  readonly sessionIdleMs?: number
}

/** Connection-specific fields, forbidden in HTTP/2 (RFC 9113 §8.2.2); Host becomes :authority. */
const CONNECTION_FIELDS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'te',
])

interface Session {
  readonly h2: http2.ClientHttp2Session
  /** Streams open on it. */
  active: number
  idleTimer: ReturnType<typeof setTimeout> | undefined
  /** A PING is out to learn whether the connection still carries anything. */
  pinging: boolean
}

function flatten(headers: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}

function errorOf(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error('aborted')
}

/** A node:http2 transport that sees 104s. */
export function http2Transport(options: Http2TransportOptions = {}): Http2Transport {
  return createHttp2Transport(options)
}

/** `http2Transport` with the Node transport's hooks. */
export function createHttp2Transport(
  options: Http2TransportOptions,
  internals: Http2Internals = {},
): Http2Transport {
  const idleMs = options.idleTimeoutMs ?? 60_000
  const sessionIdleMs = internals.sessionIdleMs ?? idleMs
  const tlsOptions: tls.ConnectionOptions = {
    ...(options.ca === undefined
      ? {}
      : { ca: options.ca as string | Buffer | (string | Buffer)[] }),
    ...(options.insecure === true ? { rejectUnauthorized: false } : {}),
  }
  const sessions = new Map<string, Promise<Session>>()

  /** A connected socket to the origin: TLS with ALPN h2 (http/1.1 offered to learn the answer). */
  const connectSocket = (target: URL): Promise<Duplex> =>
    new Promise<Duplex>((resolve, reject) => {
      const host = target.hostname.replace(/^\[|\]$/g, '')
      const secure = target.protocol === 'https:'
      const port = Number(target.port || (secure ? 443 : 80))
      const socket: net.Socket = secure
        ? tls.connect({
            ...tlsOptions,
            host,
            port,
            ...(net.isIP(host) === 0 ? { servername: host } : {}),
            // Both, so that an HTTP/1.1-only server answers `http/1.1` instead of failing the
            // handshake: the Node transport remembers it and uses HTTP/1.1 for that origin.
            ALPNProtocols: ['h2', 'http/1.1'],
          })
        : net.connect({ host, port })
      const fail = (err: Error): void => {
        socket.destroy()
        reject(err)
      }
      socket.setTimeout(idleMs > 0 ? idleMs : 0, () => {
        fail(new IdleTimeoutError(`no connection to ${target.origin} within ${idleMs} ms`))
      })
      socket.once('error', fail)
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        socket.off('error', fail)
        socket.setTimeout(0)
        socket.setNoDelay(true)
        if (secure) {
          const alpn = (socket as tls.TLSSocket).alpnProtocol ?? false
          internals.onAlpn?.(target.origin, alpn)
          if (alpn !== 'h2') {
            // A clean close (close_notify, FIN) rather than a reset in the server's face.
            socket.on('error', () => undefined)
            socket.end()
            setTimeout(() => socket.destroy(), 1000).unref()
            reject(new Http2NotNegotiatedError(target.origin, alpn))
            return
          }
        }
        resolve(socket)
      })
    })

  const openSession = async (target: URL): Promise<Session> => {
    const socket = await connectSocket(target)
    const h2 = http2.connect(target.origin, {
      createConnection: () => socket,
      settings: { enablePush: false },
    })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        h2.destroy()
        reject(err)
      }
      const onClose = (): void => reject(new Error(`${target.origin}: the HTTP/2 session closed`))
      h2.once('error', onError)
      h2.once('close', onClose)
      h2.once('connect', () => {
        h2.off('error', onError)
        h2.off('close', onClose)
        resolve()
      })
    })
    // Failures reach the streams; the session is only dropped.
    h2.on('error', () => undefined)
    return { h2, active: 0, idleTimer: undefined, pinging: false }
  }

  const sessionFor = (target: URL): Promise<Session> => {
    const origin = target.origin
    const existing = sessions.get(origin)
    if (existing !== undefined) return existing
    const opening = openSession(target)
    sessions.set(origin, opening)
    const forget = (): void => {
      if (sessions.get(origin) === opening) sessions.delete(origin)
    }
    opening.then((s) => {
      // A GOAWAY (the server closes gracefully) or the end: new requests open a new session.
      s.h2.once('goaway', forget)
      s.h2.once('close', forget)
      if (s.h2.closed || s.h2.destroyed) forget()
      idle(s)
    }, forget)
    return opening
  }

  /** A session without streams is closed after a while, and does not keep Node running. */
  const idle = (s: Session): void => {
    if (s.active > 0 || s.h2.closed || s.h2.destroyed) return
    s.h2.unref()
    if (s.idleTimer !== undefined) clearTimeout(s.idleTimer)
    s.idleTimer = setTimeout(() => {
      if (s.active === 0) s.h2.close()
    }, sessionIdleMs)
    s.idleTimer.unref()
  }

  /**
   * After a stream was cancelled for silence (a stall, an idle timeout) or an abort: is the
   * connection itself dead (a black hole)? With HTTP/1.1 the socket would be gone; here the
   * session is shared, so a PING decides — unanswered within `pingMs`, the session is destroyed
   * (its streams fail as network errors) and the next request opens a new one.
   */
  const pingMs = Math.min(idleMs > 0 ? idleMs : 10_000, 10_000)
  const checkAlive = (s: Session): void => {
    if (s.pinging || s.h2.closed || s.h2.destroyed) return
    s.pinging = true
    const timer = setTimeout(() => {
      s.h2.destroy(new IdleTimeoutError(`no answer to an HTTP/2 PING within ${pingMs} ms`))
    }, pingMs)
    timer.unref()
    const sent = s.h2.ping((err) => {
      clearTimeout(timer)
      s.pinging = false
      if (err !== null) s.h2.destroy()
    })
    if (!sent) {
      clearTimeout(timer)
      s.pinging = false
    }
  }

  const busy = (s: Session): void => {
    s.active++
    if (s.idleTimer !== undefined) clearTimeout(s.idleTimer)
    s.idleTimer = undefined
    s.h2.ref()
  }

  const request = async (req: TransportRequest): Promise<ResponseHead> => {
    const target = new URL(req.url)
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      throw new Error(`unsupported URL scheme: ${target.protocol}`)
    }
    if (target.protocol === 'http:' && options.h2c !== true) {
      throw new Error(`${target.origin}: HTTP/2 over cleartext needs h2c: true`)
    }
    if (req.signal.aborted) throw errorOf(req.signal.reason)
    let opening = sessionFor(target)
    let session = await abortable(opening, req.signal)
    if (session.h2.closed || session.h2.destroyed) {
      // The session went away between its creation and this request: a new one, once.
      if (sessions.get(target.origin) === opening) sessions.delete(target.origin)
      opening = sessionFor(target)
      session = await abortable(opening, req.signal)
      if (session.h2.closed || session.h2.destroyed) {
        throw new Error(`${target.origin}: the HTTP/2 session closed`)
      }
    }
    return streamRequest(session, target, req)
  }

  const streamRequest = (
    session: Session,
    target: URL,
    req: TransportRequest,
  ): Promise<ResponseHead> =>
    new Promise<ResponseHead>((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = {
        ':method': req.method,
        ':scheme': target.protocol.slice(0, -1),
        ':authority': req.headers.host ?? target.host,
        ':path': `${target.pathname}${target.search}`,
      }
      for (const [name, value] of Object.entries(req.headers)) {
        const lower = name.toLowerCase()
        if (!CONNECTION_FIELDS.has(lower)) headers[lower] = value
      }
      const body = req.body
      const hasBody = body !== undefined && body.length > 0
      let stream: http2.ClientHttp2Stream
      try {
        stream = session.h2.request(headers, { endStream: !hasBody })
      } catch (e) {
        reject(errorOf(e))
        return
      }
      busy(session)
      stream.once('close', () => {
        session.active--
        idle(session)
      })

      let settled = false
      let head: ResponseHead | undefined
      let interimSeen: (() => void) | undefined
      const parts: Buffer[] = []
      let total = 0
      const cancel = (): void => {
        if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL)
      }
      const finish = (err: Error | undefined): void => {
        if (settled) return
        settled = true
        req.signal.removeEventListener('abort', onAbort)
        stream.setTimeout(0)
        interimSeen?.()
        if (err !== undefined) {
          const cancelled = !stream.closed && !stream.destroyed
          cancel()
          if (cancelled) checkAlive(session)
          reject(err)
          return
        }
        const text = Buffer.concat(parts).subarray(0, MAX_RESPONSE_BODY).toString('utf8')
        // An early response (e.g. 409 before the content was sent): the rest is not wanted.
        if (!stream.writableEnded) cancel()
        resolve({ ...(head as ResponseHead), body: text })
      }
      const onAbort = (): void => finish(errorOf(req.signal.reason))
      if (req.signal.aborted) {
        onAbort()
        return
      }
      req.signal.addEventListener('abort', onAbort, { once: true })
      if (idleMs > 0) {
        stream.setTimeout(idleMs, () => {
          finish(new IdleTimeoutError(`no data for ${idleMs} ms`))
        })
      }

      stream.on('headers', (h: http2.IncomingHttpHeaders) => {
        const status = Number(h[':status'])
        if (status === 100 || settled) return
        req.onInterim?.({ status, headers: flatten(h) })
        if (status === 104) interimSeen?.()
      })
      stream.on('response', (h: http2.IncomingHttpHeaders) => {
        head = { status: Number(h[':status']), headers: flatten(h) }
        interimSeen?.()
      })
      stream.on('data', (chunk: Buffer) => {
        if (total < MAX_RESPONSE_BODY) parts.push(chunk)
        total += chunk.length
      })
      stream.on('end', () => {
        if (head !== undefined) finish(undefined)
      })
      stream.on('error', (err) => {
        // A reset after the whole response head (the server ending a request it answered
        // early) still leaves that response.
        finish(head === undefined ? err : undefined)
      })
      stream.on('close', () => {
        if (head !== undefined) finish(undefined)
        else {
          finish(
            new Error(
              `the HTTP/2 stream closed without a response (RST_STREAM code ${stream.rstCode})`,
            ),
          )
        }
      })

      if (!hasBody) return
      const gone = (): boolean => settled || head !== undefined || stream.destroyed || stream.closed
      /** Resolves on 'drain', or when the stream is gone (a pending write may never complete). */
      const drained = (): Promise<void> =>
        new Promise<void>((resume) => {
          const go = (): void => {
            stream.off('drain', go)
            stream.off('close', go)
            stream.off('aborted', go)
            stream.off('response', go)
            resume()
          }
          stream.on('drain', go)
          stream.on('close', go)
          stream.on('aborted', go)
          stream.on('response', go)
        })
      const write = async (): Promise<void> => {
        if (req.waitForInterimMs !== undefined && req.waitForInterimMs > 0) {
          // Optimistic creation (draft-13 §10.1): the HEADERS frame went out; the content
          // follows once the 104 with the upload's URL arrived (or after the wait).
          await new Promise<void>((go) => {
            const timer = setTimeout(done, req.waitForInterimMs)
            function done(): void {
              clearTimeout(timer)
              interimSeen = undefined
              stream.off('close', done)
              go()
            }
            interimSeen = done
            stream.once('close', done)
          })
        }
        let written = 0
        for await (const piece of body.stream()) {
          if (gone()) return
          const ok = stream.write(piece, (err) => {
            if (err !== null && err !== undefined) return
            written += piece.length
            if (!settled) req.onSent?.(written)
          })
          if (!ok) await drained()
        }
        if (!gone()) stream.end()
      }
      write().catch((err: unknown) => finish(errorOf(err)))
    })

  return {
    interimResponses: true,
    reportsProgress: true,
    request,
    close() {
      const all = [...sessions.values()]
      sessions.clear()
      for (const opening of all) {
        opening.then(
          (s) => {
            if (s.idleTimer !== undefined) clearTimeout(s.idleTimer)
            if (!s.h2.closed && !s.h2.destroyed) s.h2.close()
          },
          () => undefined,
        )
      }
    },
  }
}

/** The promise, or the signal's reason once it aborts (the promise goes on: sessions are shared). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(errorOf(signal.reason))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(errorOf(signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(errorOf(err))
      },
    )
  })
}
