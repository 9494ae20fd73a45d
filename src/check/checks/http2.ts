/**
 * @module The checks that matter, repeated over HTTP/2 when the server offers it (ALPN h2 on
 * https, or h2c with prior knowledge when discovery found it): a creation's 104 as a HEADERS
 * frame, a tus upload, a stream cancelled mid-content (RST_STREAM), progress 104s. RFC 9113 §8.1
 * allows interim responses before the final one, and a client may reset a stream at any time.
 * The HTTP/2 client helpers live here.
 */
import http2 from 'node:http2'
import { ensure, expectStatus, expectSuccess, fail, tusInteger } from '../expect.ts'
import { cite, completion, draftHeaders } from '../expectations.ts'
import { writeOrReset } from '../h2.ts'
import type { RawResponse } from '../raw-http.ts'
import type { CheckContext, CheckDefinition } from '../types.ts'
import { TUS } from './common.ts'
import {
  brief,
  content,
  type Dialect,
  DRAFT_DIALECT,
  experiment,
  fits,
  progressOffset,
  sleep,
  TUS_DIALECT,
} from './interruption.ts'

const TOTAL = 256 * 1024
const CUT = 100_000
/** A long append over HTTP/2: 512 KiB in 8 KiB pieces every 20 ms, about 1.3 s. */
const PROGRESS = { pieceBytes: 8 * 1024, delayMs: 20, total: 512 * 1024 } as const

// ── the HTTP/2 client ─────────────────────────────────────────────────────────────────────────

/** Opens an HTTP/2 session to the endpoint's origin (TLS with ALPN h2, or h2c). */
async function connect(ctx: CheckContext): Promise<http2.ClientHttp2Session> {
  const https = ctx.endpoint.protocol === 'https:'
  const session = http2.connect(
    ctx.endpoint.origin,
    https
      ? {
          ...(ctx.options.ca === undefined ? {} : { ca: ctx.options.ca }),
          rejectUnauthorized: ctx.options.insecure !== true,
        }
      : {},
  )
  session.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      session.destroy()
      reject(new Error('HTTP/2 connection timed out'))
    }, ctx.options.timeoutMs)
    session.once('connect', () => {
      clearTimeout(timer)
      resolve()
    })
    session.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
  ctx.note(`(HTTP/2 session to ${ctx.endpoint.origin}${https ? ', TLS' : ', h2c'})`)
  return session
}

/** Runs `fn` with a fresh HTTP/2 session, closed afterwards. */
async function withSession<T>(
  ctx: CheckContext,
  fn: (session: http2.ClientHttp2Session) => Promise<T>,
): Promise<T> {
  const session = await connect(ctx)
  try {
    return await fn(session)
  } finally {
    session.destroy()
  }
}

/** Header fields of an HTTP/2 header block as a raw-client response has them. */
function fields(headers: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':') || v === undefined) continue
    out[k] = Array.isArray(v) ? v.join(', ') : String(v)
  }
  return out
}

/** An HTTP/2 response in the shape of the raw client's (so the assertions apply unchanged). */
function asResponse(headers: http2.IncomingHttpHeaders, body: Buffer): RawResponse {
  const h = fields(headers)
  return {
    status: Number(headers[':status']),
    reason: '',
    headers: h,
    rawHeaders: Object.entries(h).map(([k, v]) => `${k}: ${v}`),
    body,
  }
}

interface H2Options {
  readonly body?: Buffer
  /** Content bytes per write, and the pause after each. */
  readonly pieceBytes?: number
  readonly delayMs?: number
  /** Send only this many content bytes, then cancel the stream (RST_STREAM CANCEL). */
  readonly cancelAfter?: number
}

interface H2Exchange {
  /** Undefined when the stream ended without a response (e.g. cancelled). */
  readonly final: RawResponse | undefined
  /** Interim (1xx) responses with the content bytes sent when each arrived. */
  readonly interim: { readonly response: RawResponse; readonly sent: number }[]
  /** Content bytes handed to the stream. */
  readonly sent: number
}

/** One request on the session; every interim and the final response are traced. */
async function request(
  ctx: CheckContext,
  session: http2.ClientHttp2Session,
  method: string,
  url: URL,
  headers: Record<string, string>,
  options: H2Options = {},
): Promise<H2Exchange> {
  const body = options.body
  const endStream = body === undefined || body.length === 0
  const path = `${url.pathname}${url.search}`
  const out: Record<string, string> = {
    ...(body === undefined || headers['content-length'] !== undefined
      ? {}
      : { 'content-length': String(body.length) }),
    ...headers,
  }
  ctx.note(
    `> h2 ${method} ${path} ${brief(out)}${body === undefined ? '' : ` [${body.length} bytes${options.cancelAfter === undefined ? '' : `, RST_STREAM after ${options.cancelAfter}`}]`}`,
  )
  const stream = session.request(
    { ':method': method, ':path': path, ':authority': url.host, ...out },
    { endStream },
  )
  const interim: { response: RawResponse; sent: number }[] = []
  let sent = 0
  stream.on('headers', (h: http2.IncomingHttpHeaders) => {
    interim.push({ response: asResponse(h, Buffer.alloc(0)), sent })
  })
  const chunks: Buffer[] = []
  const final = new Promise<RawResponse | undefined>((resolve) => {
    let head: http2.IncomingHttpHeaders | undefined
    const timer = setTimeout(
      () => stream.close(http2.constants.NGHTTP2_CANCEL),
      ctx.options.timeoutMs +
        (body === undefined
          ? 0
          : Math.ceil(body.length / (options.pieceBytes ?? body.length)) * (options.delayMs ?? 0)),
    )
    stream.on('response', (h: http2.IncomingHttpHeaders) => {
      head = h
    })
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.on('error', () => {})
    stream.once('close', () => {
      clearTimeout(timer)
      resolve(head === undefined ? undefined : asResponse(head, Buffer.concat(chunks)))
    })
  })
  if (!endStream && body !== undefined) {
    const piece = options.pieceBytes ?? body.length
    for (let at = 0; at < body.length && !stream.destroyed && !stream.closed; at += piece) {
      let part = body.subarray(at, Math.min(body.length, at + piece))
      const cancel = options.cancelAfter !== undefined && at + part.length >= options.cancelAfter
      if (cancel) part = part.subarray(0, (options.cancelAfter ?? 0) - at)
      sent += part.length
      await writeOrReset(stream, part)
      if (cancel) {
        // Let the bytes reach the server before the stream is reset.
        await sleep(100)
        stream.close(http2.constants.NGHTTP2_CANCEL)
        break
      }
      if (options.delayMs !== undefined) await sleep(options.delayMs)
    }
    if (options.cancelAfter === undefined) stream.end()
  }
  const response = await final
  for (const i of interim)
    ctx.note(`< h2 ${i.response.status} ${brief(i.response.headers)} (after ${i.sent} bytes)`)
  ctx.note(
    response === undefined
      ? `< h2 (no response: stream closed, rst code ${stream.rstCode ?? 'none'}, ${sent} bytes sent)`
      : `< h2 ${response.status} ${brief(response.headers)}`,
  )
  return { final: response, interim, sent }
}

/** A request that must get a final response. */
async function send(
  ctx: CheckContext,
  session: http2.ClientHttp2Session,
  method: string,
  url: URL,
  headers: Record<string, string>,
  options: H2Options = {},
): Promise<H2Exchange & { final: RawResponse }> {
  const r = await request(ctx, session, method, url, headers, options)
  if (r.final === undefined) fail(`h2 ${method} ${url.pathname}: no response`)
  return { ...r, final: r.final }
}

/** Creates an upload over HTTP/2 (tus with Upload-Length, draft careful creation). */
async function create(
  ctx: CheckContext,
  session: http2.ClientHttp2Session,
  d: Dialect,
  length: number,
): Promise<URL> {
  const v = ctx.interop
  const r = await send(
    ctx,
    session,
    'POST',
    ctx.endpoint,
    d.protocol === 'tus'
      ? { ...TUS, 'upload-length': String(length), 'content-length': '0' }
      : draftHeaders(v, { ...completion(v, false), 'content-length': '0' }),
  )
  if (d.protocol === 'tus') expectStatus(r.final, 201, 'h2 tus creation')
  else expectSuccess(r.final, 'h2 creation')
  const announced = r.interim.find((i) => i.response.status === 104)?.response.headers.location
  const location = announced ?? r.final.headers.location
  if (location === undefined) fail('h2 creation: no Location')
  return new URL(location, ctx.endpoint)
}

/** Compares the upload with `data` when a GET over HTTP/2 serves it (noted otherwise). */
async function verifyContent(
  ctx: CheckContext,
  session: http2.ClientHttp2Session,
  url: URL,
  data: Buffer,
): Promise<void> {
  const r = await request(ctx, session, 'GET', url, {})
  const got = r.final
  if (got === undefined || got.status !== 200 || got.body.length !== data.length) {
    ctx.note(
      `(content not verified: GET answered ${got === undefined ? 'nothing' : `${got.status} with ${got.body.length} bytes`})`,
    )
    return
  }
  if (!got.body.equals(data)) fail('GET over HTTP/2 returns other bytes than were uploaded')
  ctx.note('(content verified: GET returns exactly the bytes sent)')
}

// ── experiments ───────────────────────────────────────────────────────────────────────────────

interface Cancelled {
  readonly offset: number
  readonly sent: number
  readonly progress: number
  readonly marked: boolean | undefined
}

/**
 * An append (Content-Length: TOTAL, "last" for the draft) whose stream is cancelled after CUT
 * bytes; then HEAD, the rest from HEAD's offset, and the content — all on a new stream.
 */
async function cancelled(ctx: CheckContext, d: Dialect): Promise<Cancelled> {
  return withSession(ctx, async (session) => {
    const data = content(TOTAL)
    const url = await create(ctx, session, d, TOTAL)
    const r = await request(ctx, session, 'PATCH', url, d.append(ctx, 0, true), {
      body: data,
      cancelAfter: CUT,
    })
    if (r.final !== undefined)
      fail(`the PATCH was answered (${r.final.status}) before its stream was cancelled`)
    const head = await send(ctx, session, 'HEAD', url, d.plain(ctx))
    expectSuccess(head.final, 'h2 HEAD after RST_STREAM')
    const offset = d.offset(head.final)
    const progress = r.interim.reduce((m, i) => Math.max(m, progressOffset(i.response) ?? -1), -1)
    const result: Cancelled = {
      offset,
      sent: r.sent,
      progress,
      marked: d.complete(ctx, head.final),
    }
    if (offset > r.sent) return result
    const rest = await send(ctx, session, 'PATCH', url, d.append(ctx, offset, true), {
      body: data.subarray(offset),
    })
    if (rest.final.status === 409)
      fail(`the PATCH from the HEAD offset ${offset} got 409: the offset was not usable`)
    if (d.protocol === 'tus') {
      expectStatus(rest.final, 204, `h2 PATCH from ${offset}`)
      ensure(
        tusInteger(rest.final, 'upload-offset') === data.length,
        'the completing PATCH does not report the full length',
      )
    } else {
      expectSuccess(rest.final, `h2 completing PATCH from ${offset}`)
    }
    await verifyContent(ctx, session, url, data)
    return result
  })
}

function acknowledged(d: Dialect, c: Cancelled): void {
  ensure(
    c.offset <= c.sent,
    `after RST_STREAM with ${c.sent} content bytes sent, HEAD reports Upload-Offset ${c.offset}: bytes that were never sent are acknowledged`,
  )
  ensure(
    c.offset >= c.progress,
    `HEAD reports ${c.offset}, below the ${c.progress} of a progress 104: offsets must never decrease`,
  )
  if (d.protocol === 'ietf')
    ensure(c.marked !== true, 'HEAD marks the upload complete though its stream was cancelled')
}

function kept(c: Cancelled): void {
  ensure(
    c.offset > 0,
    `after RST_STREAM with ${c.sent} bytes sent, HEAD reports Upload-Offset 0: the bytes that arrived were dropped`,
  )
}

const tusCancelled = experiment('tus PATCH cancelled by RST_STREAM', (ctx) =>
  cancelled(ctx, TUS_DIALECT),
)
const draftCancelled = experiment('append cancelled by RST_STREAM', (ctx) =>
  cancelled(ctx, DRAFT_DIALECT),
)

interface Progress {
  readonly interim: { readonly response: RawResponse; readonly sent: number }[]
  readonly final: RawResponse
}

/** A slow append over HTTP/2 whose interim responses are watched. */
const progress = experiment(
  'a long append over HTTP/2',
  async (ctx): Promise<Progress> =>
    withSession(ctx, async (session) => {
      const d = DRAFT_DIALECT
      const data = content(PROGRESS.total)
      const url = await create(ctx, session, d, PROGRESS.total)
      const r = await send(ctx, session, 'PATCH', url, d.append(ctx, 0, true), {
        body: data,
        pieceBytes: PROGRESS.pieceBytes,
        delayMs: PROGRESS.delayMs,
      })
      expectSuccess(r.final, 'h2 append')
      return { interim: r.interim, final: r.final }
    }),
)

// ── the checks ────────────────────────────────────────────────────────────────────────────────

export const HTTP2_CHECKS: readonly CheckDefinition[] = [
  {
    id: 'tus.h2.upload',
    title:
      'RFC 9113 / tus 1.0.0 §Creation, §PATCH, §HEAD: over HTTP/2, POST → 201 with Location, PATCH → 204 with the new offset, HEAD shows it (T04, T15, T13)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    http2: true,
    skipUnless: fits(TOTAL),
    async run(ctx) {
      await withSession(ctx, async (session) => {
        const data = content(TOTAL)
        const url = await create(ctx, session, TUS_DIALECT, TOTAL)
        const patch = await send(ctx, session, 'PATCH', url, TUS_DIALECT.append(ctx, 0, true), {
          body: data,
        })
        expectStatus(patch.final, 204, 'h2 PATCH')
        ensure(
          tusInteger(patch.final, 'upload-offset') === TOTAL,
          `the PATCH of ${TOTAL} bytes answered Upload-Offset ${patch.final.headers['upload-offset']}`,
        )
        const head = await send(ctx, session, 'HEAD', url, TUS)
        expectSuccess(head.final, 'h2 HEAD')
        ensure(
          tusInteger(head.final, 'upload-offset') === TOTAL,
          `HEAD shows Upload-Offset ${head.final.headers['upload-offset']}, expected ${TOTAL}`,
        )
        await verifyContent(ctx, session, url, data)
      })
    },
  },
  {
    id: 'tus.h2.rst-stream.acknowledged',
    title: `RFC 9113 §8.1 / tus 1.0.0 §PATCH: a PATCH stream reset (RST_STREAM) after ${CUT} bytes → HEAD offset ≤ ${CUT}, and a PATCH from it completes the upload (T40)`,
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    http2: true,
    skipUnless: fits(TOTAL),
    async run(ctx) {
      acknowledged(TUS_DIALECT, await tusCancelled(ctx))
    },
  },
  {
    id: 'tus.h2.rst-stream.kept',
    title: `RFC 9113 §8.1 / tus 1.0.0 §PATCH: a PATCH stream reset after ${CUT} bytes keeps what arrived (HEAD offset > 0, T40, SHOULD)`,
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    http2: true,
    skipUnless: fits(TOTAL),
    async run(ctx) {
      kept(await tusCancelled(ctx))
    },
  },
  {
    id: 'h2.create.interim-104',
    title: (v) =>
      `RFC 9113 §8.1 / ${cite(v, 'interim')}: over HTTP/2 a creation gets its 104 (a HEADERS frame) with Location and Upload-Draft-Interop-Version: ${v} before the final response (D02)`,
    protocol: 'ietf',
    level: 'SHOULD',
    http2: true,
    async run(ctx) {
      const v = ctx.interop
      await withSession(ctx, async (session) => {
        const r = await send(
          ctx,
          session,
          'POST',
          ctx.endpoint,
          draftHeaders(v, completion(v, true)),
          { body: content(1000) },
        )
        const first = r.interim.find((i) => i.response.status === 104)?.response
        if (first === undefined) fail('no 104 HEADERS frame before the final response')
        ensure(
          first.headers['upload-draft-interop-version'] === String(v),
          `the 104 carries Upload-Draft-Interop-Version "${first.headers['upload-draft-interop-version'] ?? ''}", expected ${v}`,
        )
        ensure(first.headers.location !== undefined, 'the 104 lacks Location')
        expectSuccess(r.final, 'h2 creation')
      })
    },
  },
  {
    id: 'h2.rst-stream.acknowledged',
    title: (v) =>
      `RFC 9113 §8.1 / ${cite(v, 'append')}: an append stream reset (RST_STREAM) after ${CUT} bytes → HEAD offset ≤ ${CUT}, not complete, and a PATCH from it completes the upload (D26)`,
    protocol: 'ietf',
    level: 'MUST',
    http2: true,
    skipUnless: fits(TOTAL),
    async run(ctx) {
      acknowledged(DRAFT_DIALECT, await draftCancelled(ctx))
    },
  },
  {
    id: 'h2.rst-stream.kept',
    title: (v) =>
      `RFC 9113 §8.1 / ${cite(v, 'append')}: an append stream reset after ${CUT} bytes keeps what arrived (HEAD offset > 0, D26, SHOULD)`,
    protocol: 'ietf',
    level: 'SHOULD',
    http2: true,
    skipUnless: fits(TOTAL),
    async run(ctx) {
      kept(await draftCancelled(ctx))
    },
  },
  {
    id: 'h2.append.progress-104',
    title: (v) =>
      `${cite(v, 'append')}: over HTTP/2 a long append gets progress 104s with Upload-Offset (D33, SHOULD)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: [8, 9, 10],
    http2: true,
    skipUnless: fits(PROGRESS.total),
    async run(ctx) {
      const p = await progress(ctx)
      const offsets = p.interim.filter(
        (i) => i.response.status === 104 && progressOffset(i.response) !== undefined,
      )
      ensure(
        offsets.length > 0,
        `no progress 104 during a ${PROGRESS.total}-byte append that took over a second`,
      )
    },
  },
  {
    id: 'h2.append.progress-offsets',
    title: (v) =>
      `${cite(v, 'offset')}: over HTTP/2 progress 104s carry no Location, and their offsets never decrease nor exceed the bytes sent (D33, D34)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: [8, 9, 10],
    http2: true,
    skipUnless: fits(PROGRESS.total),
    async run(ctx) {
      const p = await progress(ctx)
      let previous = -1
      for (const { response, sent } of p.interim) {
        if (response.status !== 104) continue
        ensure(
          response.headers.location === undefined,
          `a progress 104 carries Location (${response.headers.location ?? ''}): it MUST NOT`,
        )
        const offset = progressOffset(response)
        if (offset === undefined) continue
        ensure(offset <= sent, `a progress 104 reports ${offset} when only ${sent} bytes were sent`)
        ensure(offset >= previous, `progress offsets decreased from ${previous} to ${offset}`)
        previous = offset
      }
      const final = p.final.headers['upload-offset']
      if (final !== undefined)
        ensure(Number(final) >= previous, `the final Upload-Offset ${final} is below ${previous}`)
    },
  },
]
