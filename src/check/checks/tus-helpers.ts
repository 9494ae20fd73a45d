/**
 * @module Steps shared by the tus 1.0.0 checks: raw creations and PATCHes, an upload's state as
 * HEAD reports it, URLs of uploads that do not exist, and the tester's own readings of HTTP-date,
 * Upload-Metadata and SHA-1 digests (derived from the tus text, never from the server's codecs).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Exchange } from '../client.ts'
import {
  ensure,
  expectClientError,
  expectStatus,
  expectSuccess,
  fail,
  tusInteger,
} from '../expect.ts'
import type { RawResponse } from '../raw-http.ts'
import type { CheckContext } from '../types.ts'
import { bytes, OFFSET_STREAM, TUS, tusCreate, tusPatch } from './common.ts'

/** A tus creation request with exactly these headers (Tus-Resumable added) and an optional body. */
export function tusPost(
  ctx: CheckContext,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Exchange> {
  return ctx.client.send('POST', undefined, {
    headers: { ...TUS, ...(body === undefined ? { 'content-length': '0' } : {}), ...headers },
    ...(body === undefined ? {} : { body }),
  })
}

/** A PATCH with Tus-Resumable, the tus media type and exactly these other headers. */
export function rawPatch(
  ctx: CheckContext,
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
): Promise<Exchange> {
  return ctx.client.send('PATCH', url, {
    headers: { ...TUS, 'content-type': OFFSET_STREAM, ...headers },
    body,
  })
}

/** HEAD with Tus-Resumable. */
export function tusHead(ctx: CheckContext, url: URL): Promise<Exchange> {
  return ctx.client.send('HEAD', url, { headers: TUS })
}

/** What a successful HEAD says about an upload. */
export interface TusState {
  readonly response: RawResponse
  readonly offset: number
  readonly length: number | undefined
}

/** HEAD: 2xx with an integer Upload-Offset (and Upload-Length when present). */
export async function tusState(ctx: CheckContext, url: URL): Promise<TusState> {
  const r = await tusHead(ctx, url)
  expectSuccess(r.final, 'HEAD')
  const offset = tusInteger(r.final, 'upload-offset')
  const length =
    r.final.headers['upload-length'] === undefined
      ? undefined
      : tusInteger(r.final, 'upload-length')
  return { response: r.final, offset, length }
}

/** HEAD must still show `offset` (after a request that must not have changed the upload). */
export async function expectOffset(
  ctx: CheckContext,
  url: URL,
  offset: number,
  why: string,
): Promise<void> {
  const now = (await tusState(ctx, url)).offset
  ensure(now === offset, `${why}: HEAD shows Upload-Offset ${now}, expected ${offset}`)
}

/**
 * A request the spec wants refused: a 4xx, and HEAD still at `offset` (nothing stored).
 * Returns the refusal for status checks of its own.
 */
export async function expectRefusedUnchanged(
  ctx: CheckContext,
  url: URL,
  r: Exchange,
  offset: number,
  what: string,
): Promise<RawResponse> {
  expectClientError(r.final, what)
  await expectOffset(ctx, url, offset, `after the refused ${what}`)
  return r.final
}

/** The Location of a 201 creation, resolved (fails otherwise). */
export function createdUrl(ctx: CheckContext, r: Exchange, what = 'creation'): URL {
  if (r.final.status !== 201) {
    const body = r.final.body.toString('utf8', 0, 200).trim()
    fail(`${what}: expected 201, got ${r.final.status}${body === '' ? '' : `: ${body}`}`)
  }
  const location = r.final.headers.location
  if (location === undefined) fail(`${what}: 201 without Location`)
  return ctx.client.url(location)
}

/** A URL next to `like` (same path, another last segment) that names no upload. */
export function unknownUpload(like: URL): URL {
  return new URL(`ferry${randomBytes(16).toString('hex')}`, like)
}

/** The absolute path (and query) of a URL: the reference a client lists in Upload-Concat. */
export function pathOf(url: URL): string {
  return `${url.pathname}${url.search}`
}

/** Base64 SHA-1 of `data` (tus 1.0.0 §Checksum: `sha1` is the algorithm every server has). */
export function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('base64')
}

/** An Upload-Checksum algorithm name that is not in `offered`. */
export function unsupportedAlgorithm(offered: readonly string[]): string {
  return ['foo123', 'ferry-unknown', 'x-none'].find((a) => !offered.includes(a)) ?? 'zz-unknown'
}

/** A Tus-Resumable version that is not in `versions` (the server's Tus-Version). */
export function unsupportedVersion(versions: readonly string[]): string {
  return ['0.2.2', '0.1.0', '99.0.0'].find((v) => !versions.includes(v)) ?? '999.999.999'
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const IMF_FIXDATE = /^([A-Z][a-z]{2}), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/

/**
 * An RFC 9110 §5.6.7 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form a sender may
 * generate; returns the instant in ms, or undefined when the text is not one.
 */
export function imfFixdate(value: string): number | undefined {
  const m = IMF_FIXDATE.exec(value)
  if (m === null) return undefined
  const [, weekday, day, month, year, hour, minute, second] = m
  const monthIndex = MONTHS.indexOf(month ?? '')
  if (monthIndex < 0) return undefined
  const ms = Date.UTC(
    Number(year),
    monthIndex,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  )
  const date = new Date(ms)
  const valid =
    date.getUTCDate() === Number(day) &&
    date.getUTCHours() === Number(hour) &&
    date.getUTCMinutes() === Number(minute) &&
    Number(second) <= 59 &&
    DAYS[date.getUTCDay()] === weekday
  return valid ? ms : undefined
}

/**
 * Upload-Metadata as pairs (tus 1.0.0 §Upload-Metadata: comma-separated `key value`, the space
 * and value optional); undefined when a key repeats or a pair has more than one space.
 */
export function metadataPairs(value: string): Map<string, string> | undefined {
  const out = new Map<string, string>()
  for (const element of value.split(',')) {
    const pair = element.trim()
    if (pair === '') continue
    const parts = pair.split(' ')
    const [key, encoded = ''] = parts
    if (key === undefined || parts.length > 2 || out.has(key)) return undefined
    out.set(key, encoded)
  }
  return out
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A new upload of `length` bytes with its first `filled` bytes uploaded (one PATCH). */
export async function tusUpload(
  ctx: CheckContext,
  length: number | 'deferred',
  filled = 0,
  headers: Record<string, string> = {},
): Promise<URL> {
  const url = await tusCreate(ctx, length, headers)
  if (filled > 0) {
    const r = await tusPatch(ctx, url, 0, bytes(filled))
    expectStatus(r.final, 204, 'first PATCH')
  }
  return url
}
