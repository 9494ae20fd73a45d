/**
 * @module Interruption and concurrency checks: content cut after N bytes (by the raw client, and
 * on the wire by the fault proxy), requests that arrive while an append still streams (HEAD, a
 * second PATCH, DELETE), offsets that never decrease, are never ahead of what was sent, and are
 * always usable (tus 1.0.0 §PATCH, T40/T41; draft §4.6 and the append rules, D26–D31, D34,
 * I10-09). A MUST and the SHOULD about the same experiment share one run of it: the second check
 * re-reads the first one's observations (and shows its trace) instead of repeating it.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { parseDictionary } from '../../protocol/codec/structured-fields.ts'
import { startFaultProxy } from '../../proxy/fault-proxy.ts'
import { Client, type Exchange, type Send } from '../client.ts'
import {
  ensure,
  expectStatus,
  expectSuccess,
  fail,
  sfInteger,
  skip,
  tusInteger,
} from '../expect.ts'
import {
  appendHeaders,
  cite,
  completion,
  draftHeaders,
  expectations,
  isMarkedComplete,
} from '../expectations.ts'
import { type RawResponse, ResponseParser } from '../raw-http.ts'
import type { CheckContext, CheckDefinition, Discovery } from '../types.ts'
import { draftCreate, OFFSET_STREAM, TUS, tusCreate } from './common.ts'

// ── sizes and timing ──────────────────────────────────────────────────────────────────────────

/** Content of an interrupted request, and where it is cut. */
const TOTAL = 256 * 1024
const CUT = 100_000
/** A slow append: 8 KiB every 25 ms (about 320 KiB/s) of 1.25 MiB, about 4 s if not stopped. */
const SLOW = { pieceBytes: 8 * 1024, delayMs: 25 } as const
const SLOW_TOTAL = 1280 * 1024
/** How long an append streams before another request for the upload is sent. */
const TAKEOVER_AFTER_MS = 120
/** A request that takes over a running append should be answered within this (draft §4.6). */
const TERMINATE_WITHIN_MS = 2000
/** The append whose progress 104s are watched: long enough for a 1 s progress interval. */
const PROGRESS = { pieceBytes: 8 * 1024, delayMs: 20, total: 512 * 1024 } as const

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ── the two protocols behind one interface ───────────────────────────────────────────────────

/** What the checks need from a protocol: creation, append headers, reading offsets. */
export interface Dialect {
  readonly protocol: 'tus' | 'ietf'
  /** Creates an upload (tus: with Upload-Length `length`; draft: careful creation). */
  create(ctx: CheckContext, length: number): Promise<URL>
  /** Headers of an append at `offset`; `last` marks the one that ends the upload (draft). */
  append(ctx: CheckContext, offset: number, last: boolean): Record<string, string>
  /** Headers of HEAD and DELETE. */
  plain(ctx: CheckContext): Record<string, string>
  /** The Upload-Offset of a response (fails if absent or malformed). */
  offset(r: RawResponse): number
  /** Whether a response marks the upload complete; undefined when it does not say. */
  complete(ctx: CheckContext, r: RawResponse): boolean | undefined
}

export const TUS_DIALECT: Dialect = {
  protocol: 'tus',
  create: (ctx, length) => tusCreate(ctx, length),
  append: (_ctx, offset) => ({
    ...TUS,
    'upload-offset': String(offset),
    'content-type': OFFSET_STREAM,
  }),
  plain: () => ({ ...TUS }),
  offset: (r) => tusInteger(r, 'upload-offset'),
  complete: () => undefined,
}

export const DRAFT_DIALECT: Dialect = {
  protocol: 'ietf',
  create: async (ctx) => (await draftCreate(ctx)).url,
  append: (ctx, offset, last) => appendHeaders(ctx.interop, offset, last),
  plain: (ctx) => draftHeaders(ctx.interop),
  offset: (r) => sfInteger(r, 'upload-offset'),
  complete: (ctx, r) => isMarkedComplete(ctx.interop, r.headers),
}

/** Fresh random content: no period, so bytes written at a wrong offset never look right. */
export function content(n: number): Buffer {
  return randomBytes(n)
}

/** The Upload-Offset of a progress 104, or undefined when it has none (or a malformed one). */
export function progressOffset(r: RawResponse): number | undefined {
  const value = r.headers['upload-offset']
  return value !== undefined && /^[0-9]+$/.test(value) ? Number(value) : undefined
}

// ── limits: checks that cannot stay within the server's announced limits are skipped ────────

function announced(d: Discovery): Map<string, number> {
  const out = new Map<string, number>()
  const dict = d.uploadLimit === undefined ? undefined : parseDictionary(d.uploadLimit)
  for (const [key, member] of dict ?? []) {
    if (member.kind === 'item' && member.value.type === 'integer') out.set(key, member.value.value)
  }
  return out
}

/** skipUnless: the server accepts uploads and appends of `size` bytes (as far as it says). */
export function fits(size: number): (d: Discovery) => string | undefined {
  return (d) => {
    const limits = announced(d)
    const maxSize = Math.min(
      limits.get('max-size') ?? Number.POSITIVE_INFINITY,
      d.tus?.maxSize ?? Number.POSITIVE_INFINITY,
    )
    if (maxSize < size)
      return `the server's maximum size (${maxSize}) is below the ${size} bytes this check sends`
    const maxAppend = limits.get('max-append-size')
    if (maxAppend !== undefined && maxAppend < size)
      return `max-append-size=${maxAppend} is below the ${size} bytes this check sends in one append`
    const minAppend = limits.get('min-append-size')
    if (minAppend !== undefined && minAppend > CUT)
      return `min-append-size=${minAppend} is above the ${CUT}-byte appends of this check`
    return undefined
  }
}

// ── one experiment, several checks ───────────────────────────────────────────────────────────

type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown }

/**
 * Runs `run` once per ferry check run (keyed by the run's discovery) and interop version; a later
 * check asking for the same experiment gets its observations and its trace. The experiment uses
 * its own client whose trace goes to the first check and is kept for the others.
 */
export function experiment<T>(
  name: string,
  run: (ctx: CheckContext) => Promise<T>,
): (ctx: CheckContext) => Promise<T> {
  const runs = new WeakMap<
    Discovery,
    Map<number, Promise<{ outcome: Outcome<T>; lines: string[] }>>
  >()
  return async (ctx) => {
    let perVersion = runs.get(ctx.discovery)
    if (perVersion === undefined) {
      perVersion = new Map()
      runs.set(ctx.discovery, perVersion)
    }
    let pending = perVersion.get(ctx.interop)
    if (pending === undefined) {
      const lines: string[] = []
      const note = (line: string): void => {
        lines.push(line)
        ctx.note(line)
      }
      const client = new Client(ctx.endpoint, ctx.options, note)
      pending = run({ ...ctx, client, note }).then(
        (value): { outcome: Outcome<T>; lines: string[] } => ({
          outcome: { ok: true, value },
          lines,
        }),
        (error: unknown) => ({ outcome: { ok: false, error }, lines }),
      )
      perVersion.set(ctx.interop, pending)
      const { outcome } = await pending
      if (!outcome.ok) throw outcome.error
      return outcome.value
    }
    const { outcome, lines } = await pending
    ctx.note(`(observations of the "${name}" experiment, run once for this and a related check)`)
    for (const line of lines) ctx.note(line)
    if (!outcome.ok) throw outcome.error
    return outcome.value
  }
}

// ── a request that streams its content, observed while it runs ──────────────────────────────

const TRACED = [
  'location',
  'upload-offset',
  'upload-length',
  'upload-complete',
  'upload-incomplete',
  'upload-draft-interop-version',
  'content-length',
  'transfer-encoding',
]

export function brief(headers: Record<string, string | string[] | number | undefined>): string {
  return TRACED.filter((h) => headers[h] !== undefined)
    .map((h) => `${h}: ${String(headers[h])}`)
    .join(' | ')
}

export interface StreamOptions {
  /** Content bytes per write, and the pause after each. */
  readonly pieceBytes?: number
  readonly delayMs?: number
  /** Send the content as chunks (no Content-Length). */
  readonly chunked?: boolean
  /** Write only this many content bytes, then close the connection. */
  readonly cutAfter?: number
  /** Before the content, wait up to `ms` for an interim response that `match`es. */
  readonly awaitInterim?: { readonly match: (r: RawResponse) => boolean; readonly ms: number }
  /** Connect here instead of the URL's host (a proxy); TLS still verifies the URL's host. */
  readonly via?: { readonly host: string; readonly port: number }
}

/** A request in flight. */
export interface Streaming {
  /** Content bytes handed to the socket so far: the most the server can have received. */
  sent(): number
  /** Bytes of the request head (request line and header fields). */
  readonly headBytes: number
  /** Interim responses, each with the content bytes sent when it arrived. */
  readonly interim: { readonly response: RawResponse; readonly sent: number }[]
  /** The final response; undefined when the connection ended without one. */
  readonly final: Promise<RawResponse | undefined>
  /** True once a final response arrived or the connection closed. */
  ended(): boolean
  /** Resolves when the request ended (final response or closed connection). */
  readonly done: Promise<void>
  /** Resolves when the writer stopped (all content written, halted, cut or ended). */
  readonly written: Promise<void>
  /** Stops writing content until `resume()`; the connection stays open (a stalled body). */
  pause(): void
  resume(): void
  /** Closes the connection. */
  destroy(): void
}

function connectTo(ctx: CheckContext, url: URL, via: StreamOptions['via']): Promise<net.Socket> {
  const https = url.protocol === 'https:'
  const host = via?.host ?? url.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = via?.port ?? Number(url.port || (https ? 443 : 80))
  const name = url.hostname.replace(/^\[(.*)\]$/, '$1')
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = https
      ? tls.connect({
          host,
          port,
          ...(net.isIP(name) === 0 ? { servername: name } : {}),
          ALPNProtocols: ['http/1.1'],
          ...(ctx.options.ca === undefined ? {} : { ca: ctx.options.ca }),
          rejectUnauthorized: ctx.options.insecure !== true,
          checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
        })
      : net.connect(port, host)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connecting to ${host}:${port} timed out`))
    }, ctx.options.timeoutMs)
    const onError = (e: Error): void => {
      clearTimeout(timer)
      reject(e)
    }
    socket.once(https ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(socket)
    })
    socket.once('error', onError)
  })
}

/**
 * Sends a request whose content streams in pieces, and returns at once: the caller watches it
 * (bytes sent, interim responses, the end) while sending other requests for the same upload.
 */
export async function stream(
  ctx: CheckContext,
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
  options: StreamOptions = {},
): Promise<Streaming> {
  const socket = await connectTo(ctx, url, options.via)
  socket.on('error', () => {})
  const parser = new ResponseParser(method === 'HEAD')
  const interim: { response: RawResponse; sent: number }[] = []
  let sent = 0
  let ended = false
  let halted = false
  let paused: { promise: Promise<void>; resolve: () => void } | undefined
  let interimSeen: (() => void) | undefined
  const piece = options.pieceBytes ?? body.length
  const delay = options.delayMs ?? 0
  const allHeaders: Record<string, string> = {
    host: url.host,
    ...headers,
    ...(options.chunked === true
      ? { 'transfer-encoding': 'chunked' }
      : headers['content-length'] === undefined
        ? { 'content-length': String(body.length) }
        : {}),
  }
  ctx.note(
    `> ${method} ${url.pathname}${url.search} ${brief(allHeaders)} [${body.length} bytes in ${piece}-byte pieces${delay > 0 ? ` every ${delay} ms` : ''}${options.cutAfter === undefined ? '' : `, cut after ${options.cutAfter}`}${options.via === undefined ? '' : `, via ${options.via.host}:${options.via.port}`}]`,
  )
  const final = new Promise<RawResponse | undefined>((resolve) => {
    const limit = ctx.options.timeoutMs + Math.ceil(body.length / Math.max(1, piece)) * delay
    const timer = setTimeout(() => socket.destroy(), limit)
    const finish = (r: RawResponse | undefined): void => {
      if (ended) return
      ended = true
      clearTimeout(timer)
      socket.off('data', onData)
      // One request per connection: nothing may keep the process alive afterwards.
      socket.destroy()
      for (const i of interim)
        ctx.note(`< ${i.response.status} ${brief(i.response.headers)} (after ${i.sent} bytes)`)
      ctx.note(
        r === undefined
          ? `< (${method} ${url.pathname}: connection closed without a response, ${sent} bytes sent)`
          : `< ${r.status} ${brief(r.headers)} (${method} ${url.pathname}, ${sent} bytes sent)`,
      )
      resolve(r)
    }
    const onData = (data: Buffer): void => {
      let messages: RawResponse[]
      try {
        messages = parser.push(data)
      } catch {
        socket.destroy()
        return
      }
      for (const m of messages) {
        if (m.status < 200) {
          interim.push({ response: m, sent })
          interimSeen?.()
        } else {
          finish(m)
          return
        }
      }
    }
    socket.on('data', onData)
    socket.once('close', () => finish(parser.flushOnClose()))
  })
  const done = final.then(() => undefined)
  const write = (data: Buffer | string): Promise<void> =>
    new Promise((resolve) => {
      if (socket.destroyed) resolve()
      else socket.write(data, () => resolve())
    })
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`
  for (const [k, v] of Object.entries(allHeaders)) head += `${k}: ${v}\r\n`
  head += '\r\n'
  const headBytes = Buffer.byteLength(head)

  const writer = async (): Promise<void> => {
    await write(head)
    const wanted = options.awaitInterim
    if (wanted !== undefined && !interim.some((i) => wanted.match(i.response))) {
      await Promise.race([
        sleep(wanted.ms),
        done,
        new Promise<void>((resolve) => {
          interimSeen = () => {
            if (interim.some((i) => wanted.match(i.response))) resolve()
          }
        }),
      ])
    }
    const frame = (part: Buffer): Buffer =>
      options.chunked === true
        ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')])
        : part
    for (let at = 0; at < body.length; at += piece) {
      if (paused !== undefined) await Promise.race([paused.promise, done])
      if (halted || ended || socket.destroyed) return
      let part = body.subarray(at, Math.min(body.length, at + piece))
      const cut = options.cutAfter !== undefined && sent + part.length >= options.cutAfter
      if (cut) part = part.subarray(0, (options.cutAfter ?? 0) - sent)
      sent += part.length
      await write(frame(part))
      if (cut) {
        // Let the bytes reach the server before the connection goes away.
        await sleep(50)
        socket.destroy()
        return
      }
      if (delay > 0) await sleep(delay)
    }
    if (options.chunked === true && !halted && !ended) await write('0\r\n\r\n')
  }
  const written = writer().catch(() => undefined)
  return {
    sent: () => sent,
    headBytes,
    interim,
    final,
    ended: () => ended,
    done,
    written,
    pause: () => {
      if (paused !== undefined) return
      let resolve = (): void => {}
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      paused = { promise, resolve }
    },
    resume: () => {
      const p = paused
      paused = undefined
      p?.resolve()
    },
    destroy: () => {
      halted = true
      paused?.resolve()
      socket.destroy()
    },
  }
}

// ── steps ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Sends a request for an upload while `running` streams content to it. The running request
 * stalls as the new one goes out (a client that sends it has given up the old connection, and
 * the server cannot tell a stalled body from a slow one) — for TERMINATE_WITHIN_MS at most: a
 * server that serializes requests instead of terminating the running one gets the rest of the
 * content then, so that it can finish and answer. Returns the response and how long it took.
 */
export async function takeOver(
  ctx: CheckContext,
  running: Streaming,
  method: string,
  url: URL,
  send: Send,
): Promise<{ exchange: Exchange; ms: number }> {
  const started = performance.now()
  const pending = ctx.client.send(method, url, send)
  running.pause()
  const timer = setTimeout(() => {
    ctx.note(
      `(${method} not answered within ${TERMINATE_WITHIN_MS} ms: the running append resumes)`,
    )
    running.resume()
  }, TERMINATE_WITHIN_MS)
  try {
    const exchange = await pending
    return { exchange, ms: performance.now() - started }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Sends the rest of `data` from `offset` as the last append; it must be accepted (a 409 means
 * the offset the server returned was stale).
 */
export async function finish(
  ctx: CheckContext,
  d: Dialect,
  url: URL,
  data: Buffer,
  offset: number,
  why: string,
): Promise<RawResponse> {
  const r = await ctx.client.send('PATCH', url, {
    headers: d.append(ctx, offset, true),
    body: data.subarray(offset),
  })
  if (r.final.status === 409) {
    fail(
      `${why}: the PATCH from Upload-Offset ${offset}, the offset the server reported, got 409 (offset now ${r.final.headers['upload-offset'] ?? 'not given'}) — an offset the server returns must be accepted by the next append`,
    )
  }
  if (d.protocol === 'tus') {
    expectStatus(r.final, 204, `${why}: PATCH from ${offset}`)
    const now = tusInteger(r.final, 'upload-offset')
    ensure(
      now === data.length,
      `${why}: the PATCH from ${offset} with the remaining ${data.length - offset} bytes answered Upload-Offset ${now}, expected ${data.length}`,
    )
  } else {
    expectSuccess(r.final, `${why}: the completing PATCH from ${offset}`)
  }
  return r.final
}

/**
 * Compares the upload with `data` when the server serves it: a plain GET (no protocol fields)
 * answering 200 with a body of the upload's length. Other answers are noted, not judged (GET of
 * the content is not part of either protocol).
 */
export async function verifyContent(ctx: CheckContext, url: URL, data: Buffer): Promise<void> {
  const r = await ctx.client.exchange('GET', url)
  const got = r.final
  if (got === undefined || got.status !== 200 || got.body.length !== data.length) {
    ctx.note(
      `(content not verified: GET answered ${got === undefined ? 'nothing' : `${got.status} with ${got.body.length} bytes`}, not the ${data.length}-byte upload)`,
    )
    return
  }
  if (!got.body.equals(data)) {
    let i = 0
    while (i < data.length && got.body[i] === data[i]) i++
    fail(
      `the completed upload differs from the bytes sent, from byte ${i} on (GET returns the stored content): it was corrupted`,
    )
  }
  ctx.note('(content verified: GET returns exactly the bytes sent)')
}

/** The largest progress offset among interim responses (-1 when there is none). */
function lastProgress(interim: readonly RawResponse[]): number {
  return interim.reduce((max, i) => Math.max(max, progressOffset(i) ?? -1), -1)
}

// ── (a) interrupted append and creation ──────────────────────────────────────────────────────

interface Interrupted {
  readonly url: URL
  readonly data: Buffer
  /** Content bytes sent before the cut (the most the server can have). */
  readonly sent: number
  /** Upload-Offset of the HEAD after the cut. */
  readonly offset: number
  readonly head: RawResponse
  /** The largest offset a progress 104 reported before the cut (-1: none). */
  readonly progress: number
}

/** An append (Content-Length: TOTAL, "last" for the draft) cut after CUT bytes, then HEAD. */
async function cutAppend(ctx: CheckContext, d: Dialect): Promise<Interrupted> {
  const data = content(TOTAL)
  const url = await d.create(ctx, TOTAL)
  const r = await ctx.client.exchange('PATCH', url, {
    headers: d.append(ctx, 0, true),
    body: data,
    cutAfter: CUT,
  })
  if (r.final !== undefined)
    fail(
      `the PATCH was answered (${r.final.status}) before its content was cut; cannot interrupt it`,
    )
  const head = await ctx.client.send('HEAD', url, { headers: d.plain(ctx) })
  expectSuccess(head.final, 'HEAD after the interrupted PATCH')
  return {
    url,
    data,
    sent: CUT,
    offset: d.offset(head.final),
    head: head.final,
    progress: lastProgress(r.interim),
  }
}

/** A creation (draft, "last", Content-Length: TOTAL) cut after its 104 and CUT bytes, then HEAD. */
async function cutCreation(ctx: CheckContext): Promise<Interrupted> {
  const v = ctx.interop
  const data = content(TOTAL)
  const announces = (r: RawResponse): boolean =>
    r.status === 104 && r.headers.location !== undefined
  const s = await stream(
    ctx,
    'POST',
    ctx.client.url(),
    draftHeaders(v, { ...completion(v, true), 'content-length': String(TOTAL) }),
    data,
    { pieceBytes: 16 * 1024, cutAfter: CUT, awaitInterim: { match: announces, ms: 1000 } },
  )
  const final = await s.final
  if (final !== undefined)
    fail(
      `the creation was answered (${final.status}) before its content was cut; cannot interrupt it`,
    )
  const announcement = s.interim.find((i) => announces(i.response))
  const location = announcement?.response.headers.location
  if (location === undefined) {
    skip(
      'the creation got no 104 with Location before the cut, so the interrupted upload cannot be found (the 104 is a SHOULD, see create.interim-104)',
    )
  }
  const url = ctx.client.url(location)
  const head = await ctx.client.send('HEAD', url, { headers: draftHeaders(v) })
  expectSuccess(head.final, 'HEAD after the interrupted creation')
  return {
    url,
    data,
    sent: s.sent(),
    offset: DRAFT_DIALECT.offset(head.final),
    head: head.final,
    progress: lastProgress(s.interim.map((i) => i.response)),
  }
}

/** The MUSTs after an interruption: bounded, monotonic, not complete, resumable, intact. */
async function acknowledged(
  ctx: CheckContext,
  d: Dialect,
  cut: Interrupted,
  what: string,
): Promise<void> {
  ensure(
    cut.offset <= cut.sent,
    `after ${what} cut after ${cut.sent} content bytes, HEAD reports Upload-Offset ${cut.offset}: the server acknowledges bytes that were never sent`,
  )
  ensure(
    cut.offset >= cut.progress,
    `HEAD reports Upload-Offset ${cut.offset}, below the ${cut.progress} a progress 104 reported: offsets must never decrease`,
  )
  if (d.protocol === 'ietf') {
    ensure(
      d.complete(ctx, cut.head) !== true,
      `after ${what} whose content was cut, HEAD marks the upload complete: content that did not arrive whole must not complete an upload`,
    )
  }
  await finish(ctx, d, cut.url, cut.data, cut.offset, `after ${what} was cut`)
  await verifyContent(ctx, cut.url, cut.data)
}

function kept(cut: Interrupted, what: string): void {
  ensure(
    cut.offset > 0,
    `after ${what} cut after ${cut.sent} content bytes, HEAD reports Upload-Offset 0: the server dropped what it received instead of keeping it`,
  )
}

const tusCutAppend = experiment('tus PATCH cut after N bytes', (ctx) => cutAppend(ctx, TUS_DIALECT))
const draftCutAppend = experiment('append cut after N bytes', (ctx) =>
  cutAppend(ctx, DRAFT_DIALECT),
)
const draftCutCreation = experiment('creation cut after N bytes', cutCreation)

/** A chunked append ("last") through a fault proxy that cuts it at a random content byte. */
async function proxyCut(ctx: CheckContext): Promise<Interrupted & { readonly wire: number }> {
  const d = DRAFT_DIALECT
  const data = content(TOTAL)
  const url = await d.create(ctx, TOTAL)
  const https = url.protocol === 'https:'
  const target = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || (https ? 443 : 80)),
  }
  // Reproducible per version: the seed is the interop version. The head (and, on https, the
  // TLS handshake) comes first, so the range lies well inside the content.
  const proxy = await startFaultProxy({
    target,
    cutRandom: { min: 32 * 1024, max: 160 * 1024 },
    seed: ctx.interop,
  })
  let s: Streaming
  try {
    s = await stream(ctx, 'PATCH', url, d.append(ctx, 0, true), data, {
      chunked: true,
      pieceBytes: 16 * 1024,
      via: { host: proxy.host, port: proxy.port },
    })
    await s.written
    await Promise.race([s.done, sleep(ctx.options.timeoutMs)])
    s.destroy()
  } finally {
    await proxy.close()
  }
  const wire = proxy.stats.cutPoints[0]
  ctx.note(
    `(fault proxy, seed ${proxy.seed}: ${wire === undefined ? 'no cut' : `cut after ${wire} bytes on the wire`})`,
  )
  const final = await s.final
  if (wire === undefined || final !== undefined) {
    fail(
      `the chunked PATCH was ${final === undefined ? 'not cut' : `answered (${final.status})`} before the proxy cut it`,
    )
  }
  const head = await ctx.client.send('HEAD', url, { headers: d.plain(ctx) })
  expectSuccess(head.final, 'HEAD after the cut chunked PATCH')
  // What reached the server: the wire bytes minus the head (plain http; on https the TLS
  // records add more, so the wire count alone bounds it). Chunk framing only lowers it further.
  const delivered = Math.min(s.sent(), https ? wire : Math.max(0, wire - s.headBytes))
  return {
    url,
    data,
    sent: delivered,
    offset: d.offset(head.final),
    head: head.final,
    progress: lastProgress(s.interim.map((i) => i.response)),
    wire,
  }
}

// ── (b) HEAD while an append streams ─────────────────────────────────────────────────────────

interface HeadDuring {
  readonly url: URL
  readonly data: Buffer
  readonly head: RawResponse
  readonly headMs: number
  /** Content bytes sent when the HEAD was answered. */
  readonly sentAtHead: number
  /** The running append ended (answered or closed) by the time the HEAD was answered. */
  readonly endedByHead: boolean
  /** ...or within 500 ms after it. */
  readonly endedSoonAfter: boolean
  readonly running: RawResponse | undefined
}

async function headDuring(ctx: CheckContext, d: Dialect): Promise<HeadDuring> {
  const data = content(SLOW_TOTAL)
  const url = await d.create(ctx, SLOW_TOTAL)
  const a = await stream(ctx, 'PATCH', url, d.append(ctx, 0, false), data, SLOW)
  await sleep(TAKEOVER_AFTER_MS)
  const { exchange: head, ms: headMs } = await takeOver(ctx, a, 'HEAD', url, {
    headers: d.plain(ctx),
  })
  const sentAtHead = a.sent()
  const endedByHead = a.ended()
  await Promise.race([a.done, sleep(500)])
  const endedSoonAfter = a.ended()
  // The client gives up the old connection, as one that resumes does.
  a.destroy()
  const running = await a.final
  ctx.note(`(HEAD answered after ${headMs.toFixed(0)} ms; ${sentAtHead} bytes of the append sent)`)
  return { url, data, head: head.final, headMs, sentAtHead, endedByHead, endedSoonAfter, running }
}

const draftHeadDuring = experiment('HEAD while an append streams', (ctx) =>
  headDuring(ctx, DRAFT_DIALECT),
)

/** HEAD answered, with an offset not ahead of the bytes sent. */
function headOffset(ctx: CheckContext, d: Dialect, h: HeadDuring): number {
  expectSuccess(h.head, 'HEAD while an append streams')
  const offset = d.offset(h.head)
  ensure(
    offset <= h.sentAtHead,
    `HEAD reports Upload-Offset ${offset} while only ${h.sentAtHead} bytes had been sent`,
  )
  if (d.protocol === 'ietf')
    ensure(d.complete(ctx, h.head) !== true, 'HEAD marks the upload complete mid-append')
  return offset
}

// ── (c) two appends at once ──────────────────────────────────────────────────────────────────

async function parallelAppends(ctx: CheckContext, d: Dialect): Promise<void> {
  const data = content(SLOW_TOTAL)
  const url = await d.create(ctx, SLOW_TOTAL)
  // The same bytes at the same offset, as a client that retries over a new connection sends
  // them: whatever the server keeps, stored at the right offsets it is exactly `data`.
  const a = await stream(ctx, 'PATCH', url, d.append(ctx, 0, true), data, SLOW)
  await sleep(TAKEOVER_AFTER_MS)
  const { exchange: b } = await takeOver(ctx, a, 'PATCH', url, {
    headers: d.append(ctx, 0, true),
    body: data,
  })
  await Promise.race([a.done, sleep(500)])
  a.destroy()
  const first = await a.final
  const second = b.final
  ctx.note(
    `(first append: ${first === undefined ? 'no response' : first.status}; second: ${second.status})`,
  )
  const completedBy = [first, second].find(
    (r) =>
      r !== undefined &&
      r.status >= 200 &&
      r.status < 300 &&
      (d.protocol === 'tus'
        ? r.headers['upload-offset'] === String(data.length)
        : d.complete(ctx, r) === true),
  )
  const head = await ctx.client.send('HEAD', url, { headers: d.plain(ctx) })
  if (head.final.status === 404 || head.final.status === 410) {
    // A server may forget an upload once it completed.
    ensure(
      completedBy !== undefined,
      `HEAD answers ${head.final.status} after two overlapping appends, though neither completed the upload`,
    )
    await verifyContent(ctx, url, data)
    return
  }
  expectSuccess(head.final, 'HEAD after the overlapping appends')
  const offset = d.offset(head.final)
  ensure(
    offset <= data.length,
    `HEAD reports Upload-Offset ${offset} after two appends of the same ${data.length} bytes at offset 0: bytes were appended twice`,
  )
  const complete =
    d.protocol === 'tus' ? offset === data.length : d.complete(ctx, head.final) === true
  if (complete) {
    ensure(offset === data.length, `the upload is complete at ${offset} of ${data.length} bytes`)
  } else {
    await finish(ctx, d, url, data, offset, 'after the overlapping appends')
  }
  await verifyContent(ctx, url, data)
}

// ── (d) DELETE while an append streams ───────────────────────────────────────────────────────

interface DeleteDuring {
  readonly del: RawResponse
  readonly endedByDelete: boolean
  readonly endedSoonAfter: boolean
  readonly head: RawResponse
  readonly patch: RawResponse
}

async function deleteDuring(ctx: CheckContext, d: Dialect): Promise<DeleteDuring> {
  const data = content(SLOW_TOTAL)
  const url = await d.create(ctx, SLOW_TOTAL)
  const a = await stream(ctx, 'PATCH', url, d.append(ctx, 0, false), data, SLOW)
  await sleep(TAKEOVER_AFTER_MS)
  const { exchange: del } = await takeOver(ctx, a, 'DELETE', url, { headers: d.plain(ctx) })
  const endedByDelete = a.ended()
  await Promise.race([a.done, sleep(1000)])
  const endedSoonAfter = a.ended()
  // Whatever the running append still had in flight arrives now: it must not revive the upload.
  a.destroy()
  await a.final
  await sleep(100)
  const head = await ctx.client.send('HEAD', url, { headers: d.plain(ctx) })
  const patch = await ctx.client.send('PATCH', url, {
    headers: d.append(ctx, 0, false),
    body: data.subarray(0, 1000),
  })
  return { del: del.final, endedByDelete, endedSoonAfter, head: head.final, patch: patch.final }
}

const draftDeleteDuring = experiment('DELETE while an append streams', (ctx) =>
  deleteDuring(ctx, DRAFT_DIALECT),
)

function gone(d: Dialect, x: DeleteDuring): void {
  if (d.protocol === 'tus') expectStatus(x.del, 204, 'DELETE while a PATCH streams')
  else expectSuccess(x.del, 'DELETE while an append streams')
  ensure(
    x.head.status === 404 || x.head.status === 410,
    `HEAD after the cancellation answers ${x.head.status}${x.head.headers['upload-offset'] === undefined ? '' : ` with Upload-Offset ${x.head.headers['upload-offset']}`}, expected 404 or 410: the upload survived its cancellation`,
  )
  ensure(
    x.patch.status === 404 || x.patch.status === 410,
    `a PATCH after the cancellation answers ${x.patch.status}, expected 404 or 410`,
  )
}

// ── (e) offsets never decrease ───────────────────────────────────────────────────────────────

async function monotonic(ctx: CheckContext): Promise<void> {
  const v = ctx.interop
  const d = DRAFT_DIALECT
  const progress = expectations(v).progress
  const first = content(PROGRESS.total)
  const second = content(CUT)
  const url = await d.create(ctx, PROGRESS.total + CUT)
  const seen: { what: string; offset: number }[] = []
  const a = await stream(
    ctx,
    'PATCH',
    url,
    d.append(ctx, 0, false),
    first,
    progress ? PROGRESS : { pieceBytes: 64 * 1024 },
  )
  const r1 = await a.final
  if (r1 === undefined) fail('the first append got no response')
  expectSuccess(r1, 'first append')
  for (const { response, sent } of a.interim) {
    if (response.status !== 104) continue
    if (response.headers.location !== undefined)
      fail(`a progress 104 carries Location (${response.headers.location}): it MUST NOT`)
    const offset = progressOffset(response)
    if (offset === undefined) continue
    ensure(
      offset <= sent,
      `a progress 104 reports Upload-Offset ${offset} when only ${sent} bytes had been sent`,
    )
    seen.push({ what: `progress 104 (after ${sent} bytes)`, offset })
  }
  if (progress) ctx.note(`(${seen.length} progress 104s during a ${PROGRESS.total}-byte append)`)
  if (r1.headers['upload-offset'] !== undefined)
    seen.push({ what: 'the 2xx of the first append', offset: d.offset(r1) })
  const head = async (what: string): Promise<number> => {
    const r = await ctx.client.send('HEAD', url, { headers: d.plain(ctx) })
    expectSuccess(r.final, what)
    const offset = d.offset(r.final)
    seen.push({ what, offset })
    return offset
  }
  const h1 = await head('HEAD after the first append')
  const h2 = await head('a second HEAD')
  ensure(h1 === h2, `two HEADs with nothing in between report ${h1} and then ${h2}`)
  ensure(
    h1 === first.length,
    `HEAD reports Upload-Offset ${h1} after a 2xx to an append of all ${first.length} bytes`,
  )
  const r2 = await ctx.client.send('PATCH', url, {
    headers: d.append(ctx, h1, true),
    body: second,
  })
  expectSuccess(r2.final, 'the last append')
  if (r2.final.headers['upload-offset'] !== undefined)
    seen.push({ what: 'the 2xx of the last append', offset: d.offset(r2.final) })
  const after = await ctx.client.send('HEAD', url, { headers: d.plain(ctx) })
  if (after.final.status >= 200 && after.final.status < 300) {
    seen.push({ what: 'HEAD after completion', offset: d.offset(after.final) })
  }
  for (let i = 1; i < seen.length; i++) {
    const prev = seen[i - 1]
    const cur = seen[i]
    if (prev === undefined || cur === undefined) continue
    ensure(
      cur.offset >= prev.offset,
      `Upload-Offset decreased from ${prev.offset} (${prev.what}) to ${cur.offset} (${cur.what})`,
    )
  }
  ctx.note(`(offsets seen: ${seen.map((s) => s.offset).join(', ')})`)
}

// ── the checks ────────────────────────────────────────────────────────────────────────────────

const tusHeadDuring = experiment('HEAD while a tus PATCH streams', (ctx) =>
  headDuring(ctx, TUS_DIALECT),
)

export const INTERRUPTION_CHECKS: readonly CheckDefinition[] = [
  // ── tus 1.0.0 ──────────────────────────────────────────────────────────────────────────────
  {
    id: 'tus.interrupt.patch.acknowledged',
    title: `tus 1.0.0 §PATCH: a PATCH cut after ${CUT} of ${TOTAL} bytes → HEAD offset ≤ ${CUT}, and a PATCH from that offset completes the upload with the right bytes (T40)`,
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    skipUnless: fits(TOTAL),
    async run(ctx) {
      await acknowledged(ctx, TUS_DIALECT, await tusCutAppend(ctx), 'a PATCH')
    },
  },
  {
    id: 'tus.interrupt.patch.kept',
    title: `tus 1.0.0 §PATCH: a PATCH cut after ${CUT} bytes keeps what arrived — the server SHOULD store as much of it as possible (HEAD offset > 0, T40)`,
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    skipUnless: fits(TOTAL),
    async run(ctx) {
      kept(await tusCutAppend(ctx), 'a PATCH')
    },
  },
  {
    id: 'tus.concurrency.head-during-patch',
    title:
      'tus 1.0.0 §HEAD/§PATCH: a HEAD while a PATCH streams is answered with an offset ≤ the bytes sent, and the upload resumes from a HEAD offset with the right bytes (T41)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    skipUnless: fits(SLOW_TOTAL),
    async run(ctx) {
      const d = TUS_DIALECT
      const h = await tusHeadDuring(ctx)
      let offset = headOffset(ctx, d, h)
      // tus has no rule that the running PATCH must stop first: a 409 or 423 to the immediate
      // PATCH is allowed; then a fresh HEAD's offset must be usable.
      const next = await ctx.client.send('PATCH', h.url, {
        headers: d.append(ctx, offset, true),
        body: h.data.subarray(offset),
      })
      if (next.final.status === 409 || next.final.status === 423) {
        ctx.note(
          `(the PATCH from the HEAD offset got ${next.final.status}; resuming from a new HEAD)`,
        )
        const again = await ctx.client.send('HEAD', h.url, { headers: d.plain(ctx) })
        expectSuccess(again.final, 'HEAD after the running PATCH ended')
        offset = d.offset(again.final)
        await finish(ctx, d, h.url, h.data, offset, 'after a HEAD during a PATCH')
      } else {
        expectStatus(next.final, 204, `PATCH from the HEAD offset ${offset}`)
        const now = tusInteger(next.final, 'upload-offset')
        ensure(now === h.data.length, `the completing PATCH answered Upload-Offset ${now}`)
      }
      await verifyContent(ctx, h.url, h.data)
    },
  },
  {
    id: 'tus.concurrency.parallel-patches',
    title:
      'tus 1.0.0 §PATCH: a second PATCH at the same offset while one streams causes no corruption — afterwards a HEAD offset is accepted and the content is one consistent stream (T41)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    skipUnless: fits(SLOW_TOTAL),
    async run(ctx) {
      await parallelAppends(ctx, TUS_DIALECT)
    },
  },
  {
    id: 'tus.termination.during-patch',
    title:
      'tus 1.0.0 §Termination: DELETE while a PATCH streams → 204, and the terminated upload stays gone — a running PATCH does not bring it back (HEAD, PATCH → 404/410) (T31, D31)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'termination',
    skipUnless: (d) =>
      d.tus?.extensions.has('creation') === true
        ? fits(SLOW_TOTAL)(d)
        : 'extension "creation" is not advertised',
    async run(ctx) {
      gone(TUS_DIALECT, await deleteDuring(ctx, TUS_DIALECT))
    },
  },

  // ── the draft, per interop version ─────────────────────────────────────────────────────────
  {
    id: 'interrupt.append.acknowledged',
    title: (v) =>
      `${cite(v, 'append')}: an append cut after ${CUT} of ${TOTAL} bytes → HEAD offset ≤ ${CUT}, upload not complete though the append was the last, and a PATCH from that offset completes it with the right bytes (D26)`,
    protocol: 'ietf',
    level: 'MUST',
    skipUnless: fits(TOTAL),
    async run(ctx) {
      await acknowledged(ctx, DRAFT_DIALECT, await draftCutAppend(ctx), 'an append')
    },
  },
  {
    id: 'interrupt.append.kept',
    title: (v) =>
      `${cite(v, 'append')}: an append cut after ${CUT} bytes keeps what arrived — the server SHOULD append as much of it as possible (HEAD offset > 0, D26)`,
    protocol: 'ietf',
    level: 'SHOULD',
    skipUnless: fits(TOTAL),
    async run(ctx) {
      kept(await draftCutAppend(ctx), 'an append')
    },
  },
  {
    id: 'interrupt.create.acknowledged',
    title: (v) =>
      `${cite(v, 'creation')}: a creation cut after its 104 and ${CUT} of ${TOTAL} bytes → HEAD offset ≤ ${CUT} and ≥ any progress offset, not complete, and a PATCH from it completes the upload (D27, I10-09)`,
    protocol: 'ietf',
    level: 'MUST',
    skipUnless: fits(TOTAL),
    async run(ctx) {
      await acknowledged(ctx, DRAFT_DIALECT, await draftCutCreation(ctx), 'a creation')
    },
  },
  {
    id: 'interrupt.create.kept',
    title: (v) =>
      `${cite(v, 'creation')}: a creation cut after ${CUT} bytes keeps what arrived (HEAD offset > 0, D27, SHOULD)`,
    protocol: 'ietf',
    level: 'SHOULD',
    skipUnless: fits(TOTAL),
    async run(ctx) {
      kept(await draftCutCreation(ctx), 'a creation')
    },
  },
  {
    id: 'interrupt.append.chunked-cut',
    title: (v) =>
      `${cite(v, 'append')}: a chunked append cut on the wire at a random byte (fault proxy, seed ${v}) → offset ≤ the bytes delivered, not complete, and resumable from it (D26, D22)`,
    protocol: 'ietf',
    level: 'MUST',
    skipUnless: fits(TOTAL),
    async run(ctx) {
      const cut = await proxyCut(ctx)
      await acknowledged(ctx, DRAFT_DIALECT, cut, 'a chunked append')
    },
  },
  {
    id: 'concurrency.head-during-append',
    title: (v) =>
      `${cite(v, 'concurrency')}: a HEAD while an append streams is answered, and the offset it returns is accepted by an immediate PATCH (D29)`,
    protocol: 'ietf',
    level: 'MUST',
    skipUnless: fits(SLOW_TOTAL),
    async run(ctx) {
      const h = await draftHeadDuring(ctx)
      const offset = headOffset(ctx, DRAFT_DIALECT, h)
      await finish(ctx, DRAFT_DIALECT, h.url, h.data, offset, 'right after the HEAD')
      await verifyContent(ctx, h.url, h.data)
    },
  },
  {
    id: 'concurrency.head-terminates',
    title: (v) =>
      `${cite(v, 'concurrency')}: a HEAD while an append streams SHOULD terminate the running append first — HEAD answered within ${TERMINATE_WITHIN_MS / 1000} s and the append ended (D29)`,
    protocol: 'ietf',
    level: 'SHOULD',
    skipUnless: fits(SLOW_TOTAL),
    async run(ctx) {
      const h = await draftHeadDuring(ctx)
      ensure(
        h.headMs <= TERMINATE_WITHIN_MS,
        `the HEAD took ${h.headMs.toFixed(0)} ms while an append was streaming: the server waited for it instead of terminating it first`,
      )
      ensure(
        h.endedSoonAfter,
        `the running append was still open ${h.headMs.toFixed(0)} ms + 500 ms after the HEAD was answered: it was not terminated`,
      )
    },
  },
  {
    id: 'concurrency.parallel-appends',
    title: (v) =>
      `${cite(v, 'concurrency')}: a second append at the same offset while one streams causes no corruption — afterwards a HEAD offset is accepted and the content is one consistent stream (D28)`,
    protocol: 'ietf',
    level: 'MUST',
    skipUnless: fits(SLOW_TOTAL),
    async run(ctx) {
      await parallelAppends(ctx, DRAFT_DIALECT)
    },
  },
  {
    id: 'concurrency.delete-during-append',
    title: (v) =>
      `${cite(v, 'cancellation')}: DELETE while an append streams succeeds, and the upload stays gone — a running append does not bring it back (HEAD, PATCH → 404/410) (D31, D30)`,
    protocol: 'ietf',
    level: 'MUST',
    skipUnless: fits(SLOW_TOTAL),
    async run(ctx) {
      gone(DRAFT_DIALECT, await draftDeleteDuring(ctx))
    },
  },
  {
    id: 'concurrency.delete-aborts-append',
    title: (v) =>
      `${cite(v, 'cancellation')}: DELETE while an append streams SHOULD abort the running append (D31)`,
    protocol: 'ietf',
    level: 'SHOULD',
    skipUnless: fits(SLOW_TOTAL),
    async run(ctx) {
      const x = await draftDeleteDuring(ctx)
      expectSuccess(x.del, 'DELETE while an append streams')
      ensure(
        x.endedSoonAfter,
        'the running append was still open 1 s after the DELETE was answered: it was not aborted',
      )
    },
  },
  {
    id: 'offset.monotonic',
    title: (v) =>
      `${cite(v, 'offset')}: Upload-Offset never decreases across ${expectations(v).progress ? 'progress 104s, ' : ''}final responses and HEADs, and is never ahead of the bytes sent (D34)`,
    protocol: 'ietf',
    level: 'MUST',
    skipUnless: fits(PROGRESS.total + CUT),
    async run(ctx) {
      await monotonic(ctx)
    },
  },
]
