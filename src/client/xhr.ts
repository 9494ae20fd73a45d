/**
 * @module A transport on XMLHttpRequest, for browsers. Unlike fetch (which, over HTTP/1.1,
 * cannot stream a request body and says nothing until the response), XHR reports upload
 * progress: bytes leaving are progress events and signs of life for the stall timer. XHR hides
 * interim responses, so the draft uses careful creation over it (draft-13 §10.2).
 */
import type { HeaderRecord, ResponseHead } from './protocols.ts'
import { fetchTransport, MAX_RESPONSE_BODY, type RequestBody, type Transport } from './transport.ts'

/** The part of XMLHttpRequest this uses (the project compiles without the DOM library). */
export interface XhrLike {
  open(method: string, url: string, async: boolean): void
  setRequestHeader(name: string, value: string): void
  send(body?: unknown): void
  abort(): void
  getAllResponseHeaders(): string
  withCredentials: boolean
  readonly status: number
  readonly responseText: string
  readonly upload: {
    addEventListener(type: 'progress' | 'load', listener: (event: { loaded: number }) => void): void
  }
  addEventListener(type: 'load' | 'error' | 'abort' | 'timeout', listener: () => void): void
}

export interface XhrTransportOptions {
  /** @default globalThis.XMLHttpRequest */
  readonly XMLHttpRequest?: new () => XhrLike
  /** Send cookies and HTTP authentication cross-origin (the server must allow credentials). */
  readonly withCredentials?: boolean
}

/**
 * Request fields a browser sets itself and refuses from scripts (XHR logs an error for each):
 * Content-Length comes from the body.
 */
const BROWSER_CONTROLLED = new Set([
  'content-length',
  'connection',
  'keep-alive',
  'host',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
])

/** A transport on XMLHttpRequest: upload progress, abort; no 104s (careful creation). */
export function xhrTransport(options: XhrTransportOptions = {}): Transport {
  const Xhr =
    options.XMLHttpRequest ?? (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest
  if (Xhr === undefined) {
    throw new TypeError('xhrTransport: XMLHttpRequest is not available here (use fetchTransport)')
  }
  return {
    interimResponses: false,
    async request(req) {
      const body = req.body === undefined || req.body.length === 0 ? undefined : req.body
      const payload = body === undefined ? null : (body.blob ?? (await collect(body)))
      const signal = req.signal
      if (signal.aborted) throw signal.reason
      return new Promise<ResponseHead>((resolve, reject) => {
        const xhr = new Xhr()
        let settled = false
        const settle = (fn: () => void): void => {
          if (settled) return
          settled = true
          signal.removeEventListener('abort', onAbort)
          fn()
        }
        const onAbort = (): void => {
          settle(() => reject(signal.reason))
          xhr.abort()
        }
        signal.addEventListener('abort', onAbort)
        xhr.open(req.method, req.url, true)
        if (options.withCredentials === true) xhr.withCredentials = true
        for (const [name, value] of Object.entries(req.headers)) {
          if (!BROWSER_CONTROLLED.has(name.toLowerCase())) xhr.setRequestHeader(name, value)
        }
        if (body !== undefined) {
          // Listening to upload events makes every request preflighted cross-origin; the
          // protocol's fields already do.
          const sent = (loaded: number): void => {
            if (!settled) req.onSent?.(Math.min(loaded, body.length))
          }
          xhr.upload.addEventListener('progress', (e) => sent(e.loaded))
          xhr.upload.addEventListener('load', () => sent(body.length))
        }
        xhr.addEventListener('load', () => {
          settle(() =>
            resolve({
              status: xhr.status,
              headers: parseHeaders(xhr.getAllResponseHeaders()),
              body: xhr.responseText.slice(0, MAX_RESPONSE_BODY),
            }),
          )
        })
        xhr.addEventListener('error', () => {
          settle(() => reject(new TypeError(`${req.method} ${req.url}: network error (XHR)`)))
        })
        xhr.addEventListener('timeout', () => {
          settle(() => reject(new TypeError(`${req.method} ${req.url}: timed out (XHR)`)))
        })
        xhr.addEventListener('abort', () => {
          // Not ours (ours settled first): the page is going away, or the browser gave up.
          settle(() => reject(new TypeError(`${req.method} ${req.url}: aborted (XHR)`)))
        })
        xhr.send(payload)
      })
    },
  }
}

/**
 * The transport `upload()` should use when none is given: XHR where it exists (browsers: upload
 * progress, and stall detection that sees bytes leave), else fetch (Node, Deno, workers).
 */
export function defaultTransport(): Transport {
  const g = globalThis as { XMLHttpRequest?: unknown }
  return typeof g.XMLHttpRequest === 'function' ? xhrTransport() : fetchTransport()
}

/** `getAllResponseHeaders()` text → lower-case names (repeated fields joined with ", "). */
export function parseHeaders(text: string): HeaderRecord {
  const headers: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const before = headers[name]
    headers[name] = before === undefined ? value : `${before}, ${value}`
  }
  return headers
}

async function collect(body: RequestBody): Promise<Uint8Array> {
  if (body.bytes !== undefined) return body.bytes
  const out = new Uint8Array(body.length)
  let at = 0
  for await (const piece of body.stream()) {
    const take = piece.subarray(0, Math.max(0, out.length - at))
    out.set(take, at)
    at += take.length
  }
  return out
}
