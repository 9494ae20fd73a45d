/**
 * @module Uploads in one request, sent raw (node:http), for `ferry bench --single-request`: the
 * fastest way each protocol allows for small uploads — tus creation-with-upload (tus 1.0.0
 * §creation-with-upload: a POST with Upload-Length and the content; the 201's Upload-Offset says
 * how much was accepted) and the draft's creation with `Upload-Complete: ?1` and the whole
 * content (draft-ietf-httpbis-resumable-upload-13 §4.2; interop 3 says `Upload-Incomplete: ?0`,
 * -01 §5.1). Ferry's client is not used here on purpose: for tus it always creates carefully (an
 * empty POST, then PATCH, so the URL is known before content is sent), and for the draft it
 * waits for the 104 before sending content; both cost a round trip that this measurement must
 * not contain. Nothing here resumes: a failed request is a failed upload.
 */
import http from 'node:http'
import https from 'node:https'
import { errorKind, type Recorder } from './recorder.ts'
import { contentPieces } from './source.ts'

export interface SingleRequestOptions {
  readonly endpoint: string
  readonly protocol: 'tus' | 'ietf'
  /** The draft's interop version (3..10). */
  readonly interop: number
  readonly headers: Readonly<Record<string, string>>
  readonly seed: number
  readonly index: number
  readonly size: number
  readonly agent: http.Agent
  readonly recorder: Recorder
}

export interface SingleRequestResult {
  readonly url: string | undefined
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
}

export class SingleRequestError extends Error {
  override readonly name = 'SingleRequestError'
  readonly kind: string
  constructor(kind: string, message: string) {
    super(message)
    this.kind = kind
  }
}

function flatten(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = String(v)
  return out
}

export function singleRequestUpload(o: SingleRequestOptions): Promise<SingleRequestResult> {
  const target = new URL(o.endpoint)
  const headers: Record<string, string> = {
    ...o.headers,
    'content-length': String(o.size),
  }
  if (o.protocol === 'tus') {
    headers['tus-resumable'] = '1.0.0'
    headers['upload-length'] = String(o.size)
    headers['content-type'] = 'application/offset+octet-stream'
  } else {
    headers['upload-draft-interop-version'] = String(o.interop)
    if (o.interop === 3) headers['upload-incomplete'] = '?0'
    else headers['upload-complete'] = '?1'
  }
  const module = target.protocol === 'https:' ? https : http
  return new Promise<SingleRequestResult>((resolve, reject) => {
    const t0 = performance.now()
    let sent = 0
    let location: string | undefined
    let settled = false
    const done = (status: number | undefined, error: string | undefined): void => {
      o.recorder.record({
        upload: o.index,
        type: 'POST',
        ms: performance.now() - t0,
        sent,
        ...(status === undefined ? {} : { status }),
        ...(error === undefined ? {} : { error }),
      })
    }
    const req = module.request({
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || (target.protocol === 'https:' ? 443 : 80),
      path: `${target.pathname}${target.search}`,
      method: 'POST',
      headers,
      agent: o.agent,
    })
    req.on('information', (info) => {
      // draft-13 §4.2: the 104 carries the upload's Location.
      const l = info.headers.location
      if (info.statusCode === 104 && typeof l === 'string') location = l
    })
    req.on('error', (e) => {
      if (settled) return
      settled = true
      const kind = errorKind(e)
      done(undefined, kind)
      reject(new SingleRequestError(kind, e.message))
    })
    req.on('response', (res) => {
      res.resume()
      res.on('error', () => {})
      res.on('end', () => {
        if (settled) return
        settled = true
        const status = res.statusCode ?? 0
        const h = flatten(res.headers)
        const url =
          h.location !== undefined
            ? new URL(h.location, o.endpoint).href
            : location === undefined
              ? undefined
              : new URL(location, o.endpoint).href
        if (status >= 400) {
          done(status, `HTTP ${status}`)
          reject(new SingleRequestError(`HTTP ${status}`, `POST ${o.endpoint}: ${status}`))
          return
        }
        // tus 1.0.0 §creation-with-upload: Upload-Offset is what the server accepted; draft:
        // a 2xx final response to a creation with Upload-Complete: ?1 completes the upload.
        const complete =
          o.protocol === 'tus'
            ? h['upload-offset'] === String(o.size)
            : status >= 200 && status < 300
        if (!complete) {
          done(status, 'incomplete')
          reject(
            new SingleRequestError(
              'incomplete',
              `POST ${o.endpoint}: ${status}, Upload-Offset ${h['upload-offset']} of ${o.size}`,
            ),
          )
          return
        }
        done(status, undefined)
        resolve({ url, status, headers: h })
      })
    })
    const write = async (): Promise<void> => {
      for await (const piece of contentPieces(o.seed, o.index, 0, o.size)) {
        if (req.destroyed) return
        const ok = req.write(piece, (err) => {
          if (err === null || err === undefined) sent += piece.length
          o.recorder.sentBytes += err === null || err === undefined ? piece.length : 0
        })
        if (!ok) {
          await new Promise<void>((r) => {
            const go = (): void => {
              req.off('drain', go)
              req.off('close', go)
              r()
            }
            req.on('drain', go)
            req.on('close', go)
          })
        }
      }
      req.end()
    }
    write().catch((e: unknown) => req.destroy(e instanceof Error ? e : new Error(String(e))))
  })
}
