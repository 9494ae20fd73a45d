/**
 * @module Steps shared by the IETF draft checks: creations and appends sized to the limits the
 * server announced, offset and completion assertions that know each interop version's fields,
 * problem bodies, unknown upload URLs, and the slow append that the progress checks observe.
 */
import { createHash, randomBytes } from 'node:crypto'
import { parseDictionary } from '../../protocol/codec/structured-fields.ts'
import { MEDIA_TYPE } from '../../protocol/constants.ts'
import { Client, type Exchange, type Send } from '../client.ts'
import { ensure, expectHeader, expectSuccess, fail, sfInteger, skip } from '../expect.ts'
import {
  appendHeaders,
  completion,
  draftHeaders,
  expectations,
  INTEROP_VERSIONS,
  isMarkedComplete,
} from '../expectations.ts'
import type { RawResponse } from '../raw-http.ts'
import type { CheckContext, CheckDefinition, Discovery } from '../types.ts'
import { bytes } from './common.ts'

/** Integer members of the Upload-Limit the server announced in OPTIONS (discovery). */
export function announcedLimits(d: Discovery): Map<string, number> {
  const out = new Map<string, number>()
  const dict = d.uploadLimit === undefined ? undefined : parseDictionary(d.uploadLimit)
  for (const [key, member] of dict ?? []) {
    if (member.kind === 'item' && member.value.type === 'integer') out.set(key, member.value.value)
  }
  return out
}

/** Whether the server has limits: any announced member other than `min-size=0`. */
export function hasLimits(d: Discovery): boolean {
  for (const [key, n] of announcedLimits(d)) if (!(key === 'min-size' && n === 0)) return true
  return false
}

/** skipUnless for checks that need one announced limit. */
export function needsLimit(key: string): (d: Discovery) => string | undefined {
  return (d) =>
    announcedLimits(d).has(key)
      ? undefined
      : `the server announces no ${key} (OPTIONS Upload-Limit: ${d.uploadLimit ?? 'none'})`
}

/**
 * The size of one non-completing append: 100 bytes, raised to `min-append-size` and capped at
 * `max-append-size` when the server announces them, so that checks stay within the limits.
 */
export function unit(d: Discovery): number {
  const limits = announcedLimits(d)
  const min = limits.get('min-append-size') ?? 0
  const max = limits.get('max-append-size') ?? Number.POSITIVE_INFINITY
  return Math.max(1, Math.min(Math.max(100, min), max))
}

/** `Upload-Length: n` where the version has the field (-05 on), else nothing. */
export function lengthHeader(v: number, n: number | undefined): Record<string, string> {
  return n === undefined || !expectations(v).uploadLength ? {} : { 'upload-length': String(n) }
}

/** POST to the endpoint with the version and the completion field. */
export function post(
  ctx: CheckContext,
  complete: boolean,
  body: Buffer,
  headers: Record<string, string> = {},
  send: Send = {},
): Promise<Exchange> {
  const v = ctx.interop
  return ctx.client.send('POST', undefined, {
    ...send,
    headers: draftHeaders(v, { ...completion(v, complete), ...headers }),
    body,
  })
}

/** The first 104 of an exchange that announces an upload resource (carries Location). */
export function announcement(r: { interim: readonly RawResponse[] }): RawResponse | undefined {
  return r.interim.find((i) => i.status === 104 && i.headers.location !== undefined)
}

export interface Created {
  readonly url: URL
  readonly exchange: Exchange
}

/**
 * A creation that leaves the upload incomplete: `size` bytes of content (default none) and
 * optionally Upload-Length. Requires a 2xx and a Location (from the 104 or the final response).
 */
export async function createIncomplete(
  ctx: CheckContext,
  size = 0,
  length?: number,
  headers: Record<string, string> = {},
): Promise<Created> {
  const r = await post(ctx, false, bytes(size), {
    ...lengthHeader(ctx.interop, length),
    ...headers,
  })
  expectSuccess(r.final, 'creation')
  const location = announcement(r)?.headers.location ?? expectHeader(r.final, 'location')
  return { url: ctx.client.url(location), exchange: r }
}

/** A completed upload: a careful creation, then one append of `size` bytes that completes it. */
export async function createCompleted(ctx: CheckContext, size: number): Promise<URL> {
  const { url } = await createIncomplete(ctx)
  const r = await patch(ctx, url, 0, bytes(size, 3), true)
  expectSuccess(r.final, 'completing append')
  return url
}

/** PATCH at `offset` (undefined: no Upload-Offset) with the version's append headers. */
export function patch(
  ctx: CheckContext,
  url: URL,
  offset: number | undefined,
  body: Buffer,
  complete: boolean | undefined,
  headers: Record<string, string> = {},
  send: Send = {},
): Promise<Exchange> {
  const base = appendHeaders(ctx.interop, offset ?? 0, complete)
  if (offset === undefined) delete base['upload-offset']
  return ctx.client.send('PATCH', url, { ...send, headers: { ...base, ...headers }, body })
}

/** HEAD with the version. */
export function head(ctx: CheckContext, url: URL): Promise<Exchange> {
  return ctx.client.send('HEAD', url, { headers: draftHeaders(ctx.interop) })
}

/** The offset from a successful HEAD (any 2xx, Upload-Offset a non-negative sf-integer). */
export async function offsetOf(ctx: CheckContext, url: URL): Promise<number> {
  const r = await head(ctx, url)
  expectSuccess(r.final, 'offset retrieval')
  return sfInteger(r.final, 'upload-offset')
}

/** The upload still has `expected` bytes (HEAD); `why` names what must not have changed it. */
export async function expectOffset(
  ctx: CheckContext,
  url: URL,
  expected: number,
  why: string,
): Promise<void> {
  const n = await offsetOf(ctx, url)
  ensure(n === expected, `${why}: the offset is ${n}, expected ${expected}`)
}

/** The completion field says `complete` (Upload-Incomplete inverted at interop 3). */
export function expectMarked(v: number, r: RawResponse, complete: boolean, what: string): void {
  const field = v === 3 ? 'upload-incomplete' : 'upload-complete'
  const want = completion(v, complete)[field]
  const got = r.headers[field]
  ensure(
    isMarkedComplete(v, r.headers) === complete,
    `${what}: expected ${field}: ${want}, got ${got === undefined ? 'no such field' : `"${got}"`}`,
  )
}

/** -01..-05: a completing response must not say "incomplete" (the field may be absent). */
export function expectNotMarkedIncomplete(v: number, r: RawResponse, what: string): void {
  const field = v === 3 ? 'upload-incomplete' : 'upload-complete'
  ensure(
    isMarkedComplete(v, r.headers) !== false,
    `${what}: a completing response carries ${field}: ${r.headers[field] ?? ''}`,
  )
}

/** A status check: one of a list, or any 2xx. */
export function statusIn(r: RawResponse, statuses: readonly number[] | 'any-2xx'): boolean {
  return statuses === 'any-2xx' ? r.status >= 200 && r.status <= 299 : statuses.includes(r.status)
}

export function describe(statuses: readonly number[] | 'any-2xx'): string {
  return statuses === 'any-2xx' ? '2xx' : statuses.join(' or ')
}

/** An RFC 9457 problem body, when the response has one. */
export function problemOf(r: RawResponse): Record<string, unknown> | undefined {
  if (!(r.headers['content-type'] ?? '').startsWith(MEDIA_TYPE.problemJson)) return undefined
  try {
    const parsed: unknown = JSON.parse(r.body.toString('utf8'))
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** A URL like `url` whose last path segment is random: an upload that does not exist. */
export function unknownUrl(url: URL): URL {
  const out = new URL(url.href)
  const parts = out.pathname.split('/')
  let i = parts.length - 1
  while (i > 0 && parts[i] === '') i--
  const id = parts[i] ?? ''
  parts[i] = randomBytes(Math.max(16, id.length)).toString('hex').slice(0, Math.max(16, id.length))
  out.pathname = parts.join('/')
  out.search = ''
  return out
}

/** `sha-256=:<base64>:` of some content (RFC 9530). */
export function sha256Field(content: Buffer): string {
  return `sha-256=:${createHash('sha256').update(content).digest('base64')}:`
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Two definitions sharing an id: MUST for some versions, SHOULD for others. */
export function leveled(
  def: Omit<CheckDefinition, 'level' | 'interop'>,
  must: readonly number[],
  should: readonly number[],
): CheckDefinition[] {
  const out: CheckDefinition[] = []
  if (must.length > 0) out.push({ ...def, level: 'MUST', interop: must })
  if (should.length > 0) out.push({ ...def, level: 'SHOULD', interop: should })
  return out
}

/** Interop versions matching a predicate on their expectations. */
export function versionsWhere(
  predicate: (e: ReturnType<typeof expectations>) => boolean,
): number[] {
  return INTEROP_VERSIONS.filter((v) => predicate(expectations(v)))
}

/**
 * An observation several checks or versions share, made once per run of checks. On first use it
 * starts for every given version the server supports, all at once, so that waiting (a slow body,
 * an upload's lifetime) is paid once rather than per version. Each check gets its version's result
 * and trace; a failure or skip inside the observation becomes that check's result.
 */
export async function observeOnce<T>(
  ctx: CheckContext,
  key: string,
  versions: readonly number[],
  observe: (ctx: CheckContext) => Promise<T>,
): Promise<T> {
  let perRun = observations.get(ctx.discovery)
  if (perRun === undefined) {
    perRun = new Map()
    observations.set(ctx.discovery, perRun)
  }
  const supported = versions.filter((v) => ctx.discovery.ietf.get(v)?.supported === true)
  for (const v of new Set([ctx.interop, ...supported])) {
    const id = `${key}@${v}`
    if (perRun.has(id)) continue
    const lines: string[] = []
    const note = (line: string): void => {
      lines.push(line)
    }
    const sub: CheckContext = {
      ...ctx,
      interop: v,
      client: new Client(ctx.endpoint, ctx.options, note),
      note,
    }
    // Settled into a value, so that a version whose check runs later leaves no rejection pending.
    perRun.set(
      id,
      observe(sub).then(
        (value): Observed => ({ ok: true, value, lines }),
        (error: unknown): Observed => ({ ok: false, error, lines }),
      ),
    )
  }
  const observed = await perRun.get(`${key}@${ctx.interop}`)
  if (observed === undefined) return fail(`no ${key} observation for interop ${ctx.interop}`)
  for (const line of observed.lines) ctx.note(line)
  if (!observed.ok) throw observed.error
  return observed.value as T
}

type Observed =
  | { readonly ok: true; readonly value: unknown; readonly lines: readonly string[] }
  | { readonly ok: false; readonly error: unknown; readonly lines: readonly string[] }

const observations = new WeakMap<Discovery, Map<string, Promise<Observed>>>()

/** What a slow append showed: its exchange and when each interim response arrived. */
export interface SlowAppend {
  readonly exchange: Exchange
  /** The offset the append started at and the content it sent. */
  readonly start: number
  readonly total: number
  readonly pieceBytes: number
  readonly delayMs: number
  /** Milliseconds from just before the request to the arrival of each interim response. */
  readonly arrivals: readonly number[]
}

/**
 * A careful creation, then an append whose content takes about 1.5 s to send (30 pieces 50 ms
 * apart), within the announced append limits: observed once per version (see observeOnce) for the
 * two progress checks.
 */
export function slowAppend(ctx: CheckContext, versions: readonly number[]): Promise<SlowAppend> {
  return observeOnce(ctx, 'slow append', versions, observeSlowAppend)
}

async function observeSlowAppend(ctx: CheckContext): Promise<SlowAppend> {
  const limits = announcedLimits(ctx.discovery)
  const total = Math.min(60 * 1024, limits.get('max-append-size') ?? Number.POSITIVE_INFINITY)
  if (total < (limits.get('min-append-size') ?? 0)) skip('the announced append limits conflict')
  const pieceBytes = Math.max(1, Math.ceil(total / 30))
  const delayMs = 50
  const { url } = await createIncomplete(ctx)
  const arrivals: number[] = []
  const t0 = performance.now()
  const exchange = await patch(
    ctx,
    url,
    0,
    bytes(total, 5),
    false,
    {},
    {
      pieceBytes,
      delayMs,
      onInterim: () => arrivals.push(performance.now() - t0),
      timeoutMs: Math.max(ctx.options.timeoutMs, 10_000),
    },
  )
  return { exchange, start: 0, total, pieceBytes, delayMs, arrivals }
}

/**
 * Every Upload-Limit must be a non-empty Dictionary whose known keys are Integers (draft-05 §8.2,
 * draft-09 on §4.1.4); returns the keys it carries.
 */
export function validLimit(value: string, where: string): Set<string> {
  if (value.trim() === '') fail(`${where}: Upload-Limit is empty (no limits is "min-size=0")`)
  const dict = parseDictionary(value)
  if (dict === undefined)
    fail(`${where}: Upload-Limit "${value}" is not a Structured Field Dictionary`)
  for (const key of LIMIT_KEYS) {
    const member = dict.get(key)
    if (member === undefined) continue
    if (member.kind !== 'item' || member.value.type !== 'integer' || member.value.value < 0)
      fail(`${where}: Upload-Limit ${key} is not a non-negative Integer in "${value}"`)
  }
  return new Set(dict.keys())
}

const LIMIT_KEYS = [
  'max-size',
  'min-size',
  'max-append-size',
  'min-append-size',
  'max-age',
  'expires',
]

/** A lifetime (seconds) from an Upload-Limit: `expires` (-04/-05) or `max-age` (-06 on). */
export function lifetimeOf(r: RawResponse, key: 'expires' | 'max-age'): number | undefined {
  const value = r.headers['upload-limit']
  const member = value === undefined ? undefined : parseDictionary(value)?.get(key)
  return member?.kind === 'item' && member.value.type === 'integer' ? member.value.value : undefined
}
