/**
 * @module The tester's HTTP client: raw HTTP/1.1 exchanges against the endpoint's origin, URLs
 * resolved per RFC 3986 (relative Locations work), every exchange written to the check's trace.
 */
import { type RawExchange, type RawRequest, type RawResponse, rawRequest } from './raw-http.ts'
import { CheckFailure, type CheckOptions } from './types.ts'

/** What a check sends; everything but the address of a raw request. */
export type Send = Omit<RawRequest, 'port' | 'host' | 'tls' | 'authority' | 'method' | 'path'>

/** An exchange that produced a final response. */
export interface Exchange extends RawExchange {
  readonly final: RawResponse
  /** The absolute URL the request went to. */
  readonly url: URL
}

const TRACED = [
  'location',
  'upload-offset',
  'upload-length',
  'upload-complete',
  'upload-incomplete',
  'upload-limit',
  'upload-draft-interop-version',
  'upload-defer-length',
  'upload-concat',
  'upload-metadata',
  'upload-expires',
  'tus-resumable',
  'tus-version',
  'tus-extension',
  'content-type',
  'content-length',
  'cache-control',
  'repr-digest',
]

function brief(headers: Record<string, string>): string {
  return TRACED.filter((h) => headers[h] !== undefined)
    .map((h) => `${h}: ${clip(headers[h] ?? '')}`)
    .join(' | ')
}

function clip(text: string, n = 80): string {
  return text.length > n ? `${text.slice(0, n)}…` : text
}

export class Client {
  readonly endpoint: URL
  private readonly options: CheckOptions
  private readonly note: (line: string) => void

  constructor(endpoint: URL, options: CheckOptions, note: (line: string) => void) {
    this.endpoint = endpoint
    this.options = options
    this.note = note
  }

  /** Resolves a URL (absolute, or relative to the endpoint as RFC 3986 §5 says). */
  url(target: string | URL = this.endpoint): URL {
    return new URL(String(target), this.endpoint)
  }

  /** Sends a request; the connection may end without a final response (then `final` is undefined). */
  async exchange(
    method: string,
    target: string | URL | undefined,
    send: Send = {},
  ): Promise<RawExchange & { url: URL }> {
    const url = this.url(target)
    const https = url.protocol === 'https:'
    const port = Number(url.port || (https ? 443 : 80))
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    this.note(
      `> ${method} ${url.pathname}${url.search} ${brief(send.headers ?? {})}${describeBody(send)}`,
    )
    const r = await rawRequest({
      ...send,
      method,
      path: `${url.pathname}${url.search}`,
      port,
      host,
      authority: url.host,
      timeoutMs: send.timeoutMs ?? this.options.timeoutMs,
      ...(https
        ? {
            tls: {
              ...(this.options.ca === undefined ? {} : { ca: this.options.ca }),
              rejectUnauthorized: this.options.insecure !== true,
            },
          }
        : {}),
    })
    for (const i of r.interim) this.note(`< ${i.status} ${brief(i.headers)}`)
    if (r.final !== undefined) this.note(`< ${r.final.status} ${brief(r.final.headers)}`)
    else this.note(`< (no response${r.error === undefined ? '' : `: ${r.error.message}`})`)
    return { ...r, url }
  }

  /** Sends a request and requires a final response. */
  async send(method: string, target: string | URL | undefined, send: Send = {}): Promise<Exchange> {
    const r = await this.exchange(method, target, send)
    if (r.final === undefined) {
      throw new CheckFailure(
        `${method} ${r.url.pathname}: no response${r.error === undefined ? '' : ` (${r.error.message})`}`,
      )
    }
    return { ...r, final: r.final }
  }
}

function describeBody(send: Send): string {
  if (send.body !== undefined) {
    const n = Buffer.isBuffer(send.body)
      ? send.body.length
      : send.body.reduce((a, b) => a + b.length, 0)
    return ` [${n} bytes${send.cutAfter === undefined ? '' : `, cut after ${send.cutAfter}`}]`
  }
  return ''
}
