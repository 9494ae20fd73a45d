/**
 * @module What `ferry bench` measures, per request: a Transport wrapper that times every
 * request the client makes (from the call to the final response, content included), counts the
 * body bytes handed to the connection, and classifies failures. One Recorder per run; one
 * wrapper per upload, so every record names its upload.
 */
import type { ResponseHead, Transport, TransportRequest } from '../client/index.ts'

export interface RequestRecord {
  /** The upload's number (0-based). */
  readonly upload: number
  /** The request type: POST, PATCH, HEAD, OPTIONS, DELETE, GET (verification downloads). */
  readonly type: string
  /** Milliseconds from the start of the request to its final response (or failure). */
  readonly ms: number
  /** Body bytes handed to the connection. */
  readonly sent: number
  readonly status?: number
  /** The failure kind, when it failed: `HTTP <status>` (≥ 400) or a network error kind. */
  readonly error?: string
}

/** The kind of a network failure: its error code (ECONNRESET, …), or its name. */
export function errorKind(e: unknown): string {
  if (!(e instanceof Error)) return 'error'
  if (e.name === 'StallError') return 'stall'
  const code = (e as { code?: unknown }).code
  if (typeof code === 'string') return code
  const cause = (e as { cause?: unknown }).cause
  if (cause instanceof Error) {
    const inner = (cause as { code?: unknown }).code
    if (typeof inner === 'string') return inner
  }
  if (/socket hang up/i.test(e.message)) return 'ECONNRESET'
  return e.name === 'Error' ? 'network error' : e.name
}

export class Recorder {
  readonly records: RequestRecord[] = []
  /** Body bytes handed to connections so far (all requests, finished or not). */
  sentBytes = 0
  /** Of those, bytes at offsets their upload had already sent before. */
  resentBytes = 0

  record(r: RequestRecord): void {
    this.records.push(r)
  }

  /** A transport for upload `index` that records every request it passes to `inner`. */
  wrap(inner: Transport, index: number): Transport {
    const recorder = this
    // The end of the bytes this upload sent so far: the client sends contiguous ranges, so a
    // byte below it was sent before.
    let highWater = 0
    return {
      interimResponses: inner.interimResponses,
      ...(inner.reportsProgress === undefined ? {} : { reportsProgress: inner.reportsProgress }),
      async request(req: TransportRequest): Promise<ResponseHead> {
        const t0 = performance.now()
        let sent = 0
        // The body's offset: Upload-Offset of an append (tus 1.0.0 §PATCH, draft-13 §4.4), 0 for
        // a creation with content.
        const offset = Number(req.headers['upload-offset'] ?? 0)
        const onSent = req.onSent
        const timed: TransportRequest = {
          ...req,
          onSent(bytes) {
            // Cumulative per request: count only what is new.
            if (bytes > sent) {
              const before = Math.max(0, Math.min(offset + bytes, highWater) - (offset + sent))
              recorder.sentBytes += bytes - sent
              recorder.resentBytes += before
              sent = bytes
              highWater = Math.max(highWater, offset + bytes)
            }
            onSent?.(bytes)
          },
        }
        try {
          const response = await inner.request(timed)
          recorder.record({
            upload: index,
            type: req.method,
            ms: performance.now() - t0,
            sent,
            status: response.status,
            ...(response.status >= 400 ? { error: `HTTP ${response.status}` } : {}),
          })
          return response
        } catch (e) {
          const reason = req.signal.aborted ? req.signal.reason : e
          recorder.record({
            upload: index,
            type: req.method,
            ms: performance.now() - t0,
            sent,
            error: errorKind(reason),
          })
          throw e
        }
      },
    }
  }
}
