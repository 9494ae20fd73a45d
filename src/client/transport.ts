/**
 * @module Transports move one request and its response; they make no protocol decisions. The
 * interface, and a transport on `fetch` for browsers and Node (no 104s: fetch hides interim
 * responses, so the machine uses careful creation over it).
 */
import type { HeaderRecord, ResponseHead } from './protocols.ts'

/** The content of a request: `length` bytes, as bytes, a Blob or a stream of pieces. */
export interface RequestBody {
  readonly length: number
  /** The bytes at once (small or in-memory sources). */
  readonly bytes?: Uint8Array
  /** A Blob (browsers send it without reading it into memory). */
  readonly blob?: Blob
  /** The bytes as pieces; called once per request. */
  stream(): AsyncIterable<Uint8Array>
}

export interface TransportRequest {
  readonly method: string
  readonly url: string
  readonly headers: HeaderRecord
  readonly body?: RequestBody
  readonly signal: AbortSignal
  /** Send the head, wait up to this long for a 104 (or any response), then send the body. */
  readonly waitForInterimMs?: number
  /** Interim (1xx) responses other than 100, as they arrive. */
  onInterim?(head: ResponseHead): void
  /** Body bytes handed to the connection so far (cumulative for this request). */
  onSent?(bytes: number): void
}

export interface Transport {
  /** True when `onInterim` sees 104 responses (Node's http client); enables optimistic creation. */
  readonly interimResponses: boolean
  /**
   * False when `onSent` is only called once the whole body was sent (fetch without streaming
   * bodies): the upload then cannot tell a slow request from a stalled one while it sends.
   * @default true
   */
  readonly reportsProgress?: boolean
  /** Sends the request; resolves with the final response, rejects on network errors or abort. */
  request(request: TransportRequest): Promise<ResponseHead>
  /** Releases connections (keep-alive sockets). */
  close?(): void
}

/** Largest response body kept (error messages only). */
export const MAX_RESPONSE_BODY = 64 * 1024

export interface FetchTransportOptions {
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch
  /**
   * Send stream bodies as a ReadableStream (`duplex: 'half'`). Needed in Node for progress and
   * stall detection; browsers other than Chromium cannot stream request bodies. @default true
   * when the runtime is Node.js, else false (bodies are sent as Blobs / bytes).
   */
  readonly streamBodies?: boolean
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process
  return typeof p?.versions?.node === 'string'
}

/** A transport on fetch: browsers and Node. It cannot see 104s. */
export function fetchTransport(options: FetchTransportOptions = {}): Transport {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis)
  const streamBodies = options.streamBodies ?? isNode()
  return {
    interimResponses: false,
    reportsProgress: streamBodies,
    async request(req) {
      const init: RequestInit & { duplex?: 'half' } = {
        method: req.method,
        headers: { ...req.headers },
        signal: req.signal,
        redirect: 'follow',
      }
      const body = req.body
      if (body !== undefined && body.length > 0) {
        if (streamBodies) {
          init.body = toReadableStream(body, req.onSent)
          init.duplex = 'half'
          // Node's fetch sends Content-Length when asked; browsers ignore it (forbidden).
          ;(init.headers as Record<string, string>)['content-length'] = String(body.length)
        } else {
          init.body = (body.blob ?? (await collect(body))) as NonNullable<RequestInit['body']>
        }
      }
      const response = await doFetch(req.url, init)
      const headers: Record<string, string> = {}
      response.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value
      })
      const text = await readText(response)
      if (!streamBodies && body !== undefined) req.onSent?.(body.length)
      return { status: response.status, headers, body: text }
    },
  }
}

async function collect(body: RequestBody): Promise<Uint8Array> {
  if (body.bytes !== undefined) return body.bytes
  const out = new Uint8Array(body.length)
  let at = 0
  for await (const piece of body.stream()) {
    out.set(piece.subarray(0, Math.max(0, out.length - at)), at)
    at += piece.length
  }
  return out
}

function toReadableStream(
  body: RequestBody,
  onSent: ((bytes: number) => void) | undefined,
): ReadableStream<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array> | undefined
  let sent = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      iterator ??= body.stream()[Symbol.asyncIterator]()
      // The previous piece was taken by the connection: a sign of life.
      if (sent > 0) onSent?.(sent)
      const { value, done } = await iterator.next()
      if (done === true) {
        controller.close()
        return
      }
      sent += value.length
      controller.enqueue(value)
    },
    async cancel() {
      await iterator?.return?.()
    },
  })
}

async function readText(response: Response): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      if (total < MAX_RESPONSE_BODY) parts.push(value)
      total += value.length
    }
  } finally {
    reader.releaseLock()
  }
  const all = new Uint8Array(Math.min(total, MAX_RESPONSE_BODY))
  let at = 0
  for (const p of parts) {
    const piece = p.subarray(0, all.length - at)
    all.set(piece, at)
    at += piece.length
  }
  return new TextDecoder().decode(all)
}
