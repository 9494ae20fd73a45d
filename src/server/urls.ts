/**
 * @module The public origin of a request, for absolute upload URLs. Proxy headers (Forwarded,
 * RFC 7239; X-Forwarded-Proto/-Host/-Port/-Prefix) count only when the operator trusts them.
 */
import type { HeaderMap } from '../protocol/types.ts'

export interface PublicOrigin {
  readonly protocol: 'http' | 'https'
  readonly host: string
  /** Path prefix a proxy strips before forwarding ('' when none). */
  readonly prefix: string
}

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/
const PREFIX = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/

/** The scheme, host and prefix clients use to reach this server, or undefined if unknown. */
export function publicOrigin(
  origin: { readonly protocol: 'http' | 'https'; readonly host: string | undefined },
  headers: HeaderMap,
  trustProxy: boolean,
): PublicOrigin | undefined {
  let protocol = origin.protocol
  let host = origin.host
  let prefix = ''
  if (trustProxy) {
    const forwarded = headers.forwarded
    if (forwarded !== undefined) {
      // RFC 7239 §4: the left-most element was added by the proxy nearest to the client.
      const first = (forwarded.split(',')[0] ?? '').split(';')
      for (const pair of first) {
        const eq = pair.indexOf('=')
        if (eq < 0) continue
        const key = pair.slice(0, eq).trim().toLowerCase()
        const value = pair
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1')
        if (key === 'proto' && (value === 'http' || value === 'https')) protocol = value
        if (key === 'host') host = value
      }
    } else {
      const proto = firstValue(headers['x-forwarded-proto'])?.toLowerCase()
      if (proto === 'http' || proto === 'https') protocol = proto
      const fwdHost = firstValue(headers['x-forwarded-host'])
      if (fwdHost !== undefined) host = fwdHost
      const port = firstValue(headers['x-forwarded-port'])
      if (host !== undefined && port !== undefined && /^[0-9]{1,5}$/.test(port)) {
        host = `${host.replace(/:[0-9]+$/, '')}:${port}`
      }
    }
    const p = firstValue(headers['x-forwarded-prefix'])?.replace(/\/+$/, '')
    if (
      p !== undefined &&
      PREFIX.test(p) &&
      !p.split('/').some((seg) => seg === '.' || seg === '..')
    ) {
      prefix = p
    }
  }
  if (host === undefined || !HOST.test(host)) return undefined
  // Default ports are implied by the scheme.
  if (
    (protocol === 'http' && host.endsWith(':80')) ||
    (protocol === 'https' && host.endsWith(':443'))
  ) {
    host = host.replace(/:[0-9]+$/, '')
  }
  return { protocol, host, prefix }
}

function firstValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const first = value.split(',')[0]?.trim()
  return first === '' ? undefined : first
}
