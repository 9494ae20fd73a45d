/**
 * @module A transport on node:http / node:https / node:http2. It reports interim responses
 * (Node's 'information' event, or HTTP/2 HEADERS frames with a 1xx status: the draft's 104 with
 * Location and Upload-Offset, clients.md §3.6), the body bytes handed to the socket (a sign of
 * life for stall detection), honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY, and closes
 * connections idle for too long. https origins reached directly get HTTP/2 when their server
 * chooses `h2` by ALPN (remembered per origin), HTTP/1.1 otherwise; through a proxy, always
 * HTTP/1.1.
 */
import http from 'node:http'
import https from 'node:https'
import type { ResponseHead } from '../protocols.ts'
import { MAX_RESPONSE_BODY, type Transport, type TransportRequest } from '../transport.ts'
import { createHttp2Transport, Http2NotNegotiatedError, type Http2Transport } from './http2.ts'
import { type Environment, proxyAuthorization, proxyFor, TunnelAgent } from './proxy.ts'

export interface NodeTransportOptions {
  /** Destroy a connection without a byte in either direction for this long. @default 60000 */
  readonly idleTimeoutMs?: number
  /** Extra CA certificates (PEM) for https targets. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[]
  /** Accept any certificate (testing only). @default false */
  readonly insecure?: boolean
  /** Where proxy variables are read. @default process.env */
  readonly env?: Environment
  /** A proxy URL to use instead of the environment's; null: never a proxy. */
  readonly proxy?: string | null
  /** Keep connections open between requests. @default true */
  readonly keepAlive?: boolean
  /**
   * HTTP/2 for https origins reached without a proxy whose server chooses `h2` by ALPN (the
   * answer is remembered per origin); HTTP/1.1 where it chooses `http/1.1` or nothing. false:
   * always HTTP/1.1. @default true
   */
  readonly http2?: boolean
  /**
   * HTTP/2 without TLS (h2c, prior knowledge) for http:// origins reached without a proxy. Only
   * for servers known to speak it: there is no fallback. @default false
   */
  readonly h2c?: boolean
}

export interface NodeTransport extends Transport {
  /**
   * The HTTP version requests to this URL's origin use: '2' or '1.1', or undefined for an
   * https origin not reached yet (ALPN decides on the first connection).
   */
  httpVersion(url: string): '2' | '1.1' | undefined
  close(): void
}

class IdleTimeoutError extends Error {
  override readonly name = 'IdleTimeoutError'
}

function flatten(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

/** A node:http(s) transport that sees 104s. */
export function nodeTransport(options: NodeTransportOptions = {}): NodeTransport {
  const idleMs = options.idleTimeoutMs ?? 60_000
  const keepAlive = options.keepAlive ?? true
  const tlsOptions: https.AgentOptions = {
    ...(options.ca === undefined
      ? {}
      : { ca: options.ca as string | Buffer | (string | Buffer)[] }),
    ...(options.insecure === true ? { rejectUnauthorized: false } : {}),
  }
  const httpAgent = new http.Agent({ keepAlive })
  const httpsAgent = new https.Agent({ keepAlive, ...tlsOptions })
  const proxyAgents = new Map<string, http.Agent>()
  const environment = options.env ?? process.env

  const proxyOf = (target: URL): URL | undefined => {
    if (options.proxy === null) return undefined
    if (options.proxy !== undefined) return new URL(options.proxy)
    return proxyFor(target, environment)
  }

  const agentFor = (target: URL, proxy: URL | undefined): http.Agent => {
    if (proxy === undefined) return target.protocol === 'https:' ? httpsAgent : httpAgent
    const key = `${target.protocol}${proxy.href}`
    let agent = proxyAgents.get(key)
    if (agent === undefined) {
      agent =
        target.protocol === 'https:'
          ? new TunnelAgent(proxy, { keepAlive, ...tlsOptions })
          : proxy.protocol === 'https:'
            ? new https.Agent({ keepAlive, ...tlsOptions })
            : new http.Agent({ keepAlive })
      proxyAgents.set(key, agent)
    }
    return agent
  }

  /** What ALPN chose per https origin: 'h2', or 'http/1.1' (also for no ALPN at all). */
  const alpn = new Map<string, 'h2' | 'http/1.1'>()
  const useHttp2 = options.http2 !== false
  let h2: Http2Transport | undefined
  const http2Transport = (): Http2Transport => {
    h2 ??= createHttp2Transport(
      {
        idleTimeoutMs: idleMs,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.insecure === true ? { insecure: true } : {}),
        ...(options.h2c === true ? { h2c: true } : {}),
      },
      {
        onAlpn: (origin, chosen) => alpn.set(origin, chosen === 'h2' ? 'h2' : 'http/1.1'),
        ...(keepAlive ? {} : { sessionIdleMs: 0 }),
      },
    )
    return h2
  }

  /** The HTTP version for a target: '2', '1.1', or undefined (ALPN will tell). */
  const versionFor = (target: URL): '2' | '1.1' | undefined => {
    if (proxyOf(target) !== undefined) return '1.1'
    if (target.protocol === 'http:') return options.h2c === true ? '2' : '1.1'
    if (!useHttp2) return '1.1'
    const known = alpn.get(target.origin)
    return known === undefined ? undefined : known === 'h2' ? '2' : '1.1'
  }

  const request = async (req: TransportRequest): Promise<ResponseHead> => {
    const target = new URL(req.url)
    const version = versionFor(target)
    if (version === '2' || (version === undefined && target.protocol === 'https:')) {
      try {
        return await http2Transport().request(req)
      } catch (e) {
        // ALPN chose HTTP/1.1 (now remembered): nothing of the request was sent yet.
        if (!(e instanceof Http2NotNegotiatedError) || target.protocol !== 'https:') throw e
      }
    }
    return http1Request(req)
  }

  const http1Request = (req: TransportRequest): Promise<ResponseHead> =>
    new Promise<ResponseHead>((resolve, reject) => {
      const target = new URL(req.url)
      const proxy = proxyOf(target)
      const headers: Record<string, string> = { ...req.headers }
      let opts: https.RequestOptions
      let module: typeof http | typeof https = target.protocol === 'https:' ? https : http
      if (proxy !== undefined && target.protocol === 'http:') {
        // Absolute-form request to the proxy (RFC 9112 §3.2.2).
        const auth = proxyAuthorization(proxy)
        if (auth !== undefined) headers['proxy-authorization'] = auth
        headers.host = target.host
        module = proxy.protocol === 'https:' ? https : http
        opts = {
          host: proxy.hostname.replace(/^\[|\]$/g, ''),
          port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
          path: target.href,
          method: req.method,
          headers,
          agent: agentFor(target, proxy),
        }
      } else {
        opts = {
          host: target.hostname.replace(/^\[|\]$/g, ''),
          port: target.port || (target.protocol === 'https:' ? 443 : 80),
          path: `${target.pathname}${target.search}`,
          method: req.method,
          headers,
          agent: agentFor(target, proxy),
          ...(target.protocol === 'https:' ? tlsOptions : {}),
        }
      }
      let settled = false
      let responded = false
      let interimSeen: (() => void) | undefined
      const finish = (err: Error | undefined, value?: ResponseHead): void => {
        if (settled) return
        settled = true
        req.signal.removeEventListener('abort', onAbort)
        if (err !== undefined) reject(err)
        else resolve(value as ResponseHead)
      }
      const r = module.request(opts)
      const onAbort = (): void => {
        const reason = req.signal.reason
        r.destroy(reason instanceof Error ? reason : new Error('aborted'))
      }
      if (req.signal.aborted) {
        onAbort()
      } else req.signal.addEventListener('abort', onAbort, { once: true })
      r.on('error', (err) => finish(err))
      r.setTimeout(idleMs, () => {
        r.destroy(new IdleTimeoutError(`no data for ${idleMs} ms`))
      })
      r.on('information', (info) => {
        const head: ResponseHead = { status: info.statusCode, headers: flatten(info.headers) }
        req.onInterim?.(head)
        if (info.statusCode === 104) interimSeen?.()
      })
      r.on('response', (res) => {
        responded = true
        interimSeen?.()
        const parts: Buffer[] = []
        let total = 0
        res.on('data', (chunk: Buffer) => {
          if (total < MAX_RESPONSE_BODY) parts.push(chunk)
          total += chunk.length
        })
        res.on('error', (err) => finish(err))
        res.on('end', () => {
          const body = Buffer.concat(parts).subarray(0, MAX_RESPONSE_BODY).toString('utf8')
          if (!r.writableFinished) {
            // An early response (e.g. 413 before the content was read): the connection cannot
            // carry another request.
            r.destroy()
          }
          finish(undefined, { status: res.statusCode ?? 0, headers: flatten(res.headers), body })
        })
      })
      const body = req.body
      if (body === undefined || body.length === 0) {
        r.end()
        return
      }
      const write = async (): Promise<void> => {
        if (req.waitForInterimMs !== undefined && req.waitForInterimMs > 0) {
          // Optimistic creation (draft-13 §10.1): the head first; the content once the 104 with
          // the upload's URL arrived (or after the wait), like 100-continue.
          r.flushHeaders()
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, req.waitForInterimMs)
            function done(): void {
              clearTimeout(timer)
              interimSeen = undefined
              resolve()
            }
            interimSeen = done
            r.once('close', done)
          })
        }
        let written = 0
        for await (const piece of body.stream()) {
          if (settled || responded || r.destroyed) return
          const ok = r.write(piece, (err) => {
            if (err !== null && err !== undefined) return
            written += piece.length
            req.onSent?.(written)
          })
          if (!ok) {
            await new Promise<void>((resolve) => {
              const go = (): void => {
                r.off('drain', go)
                r.off('close', go)
                resolve()
              }
              r.on('drain', go)
              r.on('close', go)
            })
          }
        }
        if (!settled && !r.destroyed) r.end()
      }
      write().catch((err: unknown) => {
        r.destroy(err instanceof Error ? err : new Error(String(err)))
      })
    })

  return {
    interimResponses: true,
    reportsProgress: true,
    request,
    httpVersion: (url) => versionFor(new URL(url)),
    close() {
      h2?.close()
      httpAgent.destroy()
      httpsAgent.destroy()
      for (const agent of proxyAgents.values()) agent.destroy()
      proxyAgents.clear()
    },
  }
}
