/**
 * @module Proxies from the environment, as curl reads them: HTTPS_PROXY for https targets,
 * HTTP_PROXY for http targets (lower-case names first), NO_PROXY for exceptions (host names with
 * their subdomains, `.suffix`, `host:port`, IP literals, `*`). http targets go through the proxy
 * as absolute-form requests; https targets through a CONNECT tunnel, then TLS to the target.
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'

export type Environment = Readonly<Record<string, string | undefined>>

function env(e: Environment, name: string): string | undefined {
  const v = e[name.toLowerCase()] ?? e[name.toUpperCase()]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

/** True when NO_PROXY exempts the target. */
export function bypassesProxy(target: URL, noProxy: string | undefined): boolean {
  if (noProxy === undefined) return false
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const port = target.port || (target.protocol === 'https:' ? '443' : '80')
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase()
    if (entry === '') continue
    if (entry === '*') return true
    let entryPort: string | undefined
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry)
    if (m !== null) {
      entry = m[1] as string
      entryPort = m[2]
    }
    entry = entry.replace(/^\[|\]$/g, '')
    if (entryPort !== undefined && entryPort !== port) continue
    if (entry.startsWith('*.')) entry = entry.slice(1)
    if (entry.startsWith('.')) {
      if (host.endsWith(entry) || host === entry.slice(1)) return true
    } else if (host === entry || (!net.isIP(host) && host.endsWith(`.${entry}`))) {
      return true
    }
  }
  return false
}

/** The proxy URL for a target, or undefined for a direct connection. */
export function proxyFor(target: URL, environment: Environment): URL | undefined {
  const name = target.protocol === 'https:' ? 'https_proxy' : 'http_proxy'
  const value = env(environment, name) ?? env(environment, 'all_proxy')
  if (value === undefined) return undefined
  if (bypassesProxy(target, env(environment, 'no_proxy'))) return undefined
  try {
    const url = new URL(value.includes('://') ? value : `http://${value}`)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    return url
  } catch {
    return undefined
  }
}

/** Proxy-Authorization from the proxy URL's user information. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined
  const user = decodeURIComponent(proxy.username)
  const pass = decodeURIComponent(proxy.password)
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
}

function connectToProxy(proxy: URL): (options: http.RequestOptions) => http.ClientRequest {
  return (options) =>
    (proxy.protocol === 'https:' ? https : http).request({
      ...options,
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
    })
}

/**
 * An https Agent whose connections are CONNECT tunnels through an http(s) proxy, with TLS to the
 * target inside (keep-alive works as usual: the Agent pools the tunnelled TLS sockets).
 */
export class TunnelAgent extends https.Agent {
  readonly #proxy: URL

  constructor(proxy: URL, options: https.AgentOptions) {
    super(options)
    this.#proxy = proxy
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = String(options.host ?? options.hostname ?? 'localhost').replace(/^\[|\]$/g, '')
    const port = Number(options.port ?? 443)
    const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`
    const headers: Record<string, string> = { host: authority }
    const auth = proxyAuthorization(this.#proxy)
    if (auth !== undefined) headers['proxy-authorization'] = auth
    const connect = connectToProxy(this.#proxy)({
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
    })
    const fail = (err: Error): void => {
      callback?.(err, undefined as unknown as Duplex)
    }
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy()
        fail(
          new Error(
            `the proxy ${this.#proxy.host} refused CONNECT ${authority}: ${res.statusCode}`,
          ),
        )
        return
      }
      const secure = tls.connect({
        ...(options as tls.ConnectionOptions),
        socket,
        servername: net.isIP(host) ? undefined : host,
      } as tls.ConnectionOptions)
      secure.once('secureConnect', () => callback?.(null, secure))
      secure.once('error', fail)
    })
    connect.once('error', fail)
    connect.end()
    return undefined
  }
}
