/**
 * @module The client's protocol vocabulary, pure: request heads and response readings for
 * tus 1.0.0 and the IETF draft "Resumable Uploads for HTTP" at every interop version (3..10).
 * Everything that differs between draft versions comes from the server's interop table
 * (src/protocol/ietf-versions.ts); this file never compares version numbers itself.
 * No I/O, no clock, no randomness, no URL class (not in the ECMAScript library): the relative
 * reference resolution of RFC 3986 §5.2 is done here by hand.
 */
import { formatContentDisposition } from '../protocol/codec/content-disposition.ts'
import {
  encodeBase64,
  parseBooleanField,
  parseDictionary,
  parseNonNegativeIntegerField,
} from '../protocol/codec/structured-fields.ts'
import { parseTusInteger } from '../protocol/codec/tus.ts'
import { H, MEDIA_TYPE, TUS_VERSION } from '../protocol/constants.ts'
import {
  INTEROP_VERSIONS,
  type InteropFeatures,
  interopFeatures,
} from '../protocol/ietf-versions.ts'

/** The protocol an upload speaks: tus 1.0.0, or the draft at one interop version. */
export type Protocol =
  | { readonly kind: 'tus' }
  | { readonly kind: 'ietf'; readonly interop: number }

/** Interop versions the client speaks, newest first. */
export const INTEROP_CANDIDATES: readonly number[] = [...INTEROP_VERSIONS.keys()].sort(
  (a, b) => b - a,
)
/** The newest interop version (the default of `protocol: 'ietf'`). */
export const NEWEST_INTEROP: number = INTEROP_CANDIDATES[0] ?? 10

/** Header fields, names in lower case. */
export type HeaderRecord = Readonly<Record<string, string>>

/** A response (or an interim response) as the machine sees it. */
export interface ResponseHead {
  readonly status: number
  /** Field names in lower case. */
  readonly headers: HeaderRecord
  /** The start of the body (error responses), for messages. */
  readonly body?: string
}

/** Limits a server announced (Tus-Max-Size, Upload-Limit). */
export interface Limits {
  readonly maxSize?: number
  readonly minSize?: number
  readonly maxAppendSize?: number
  readonly minAppendSize?: number
}

/** What an OPTIONS answer says about the server. */
export interface Discovery {
  /** Tus-Version lists 1.0.0. */
  readonly tus: boolean
  readonly tusExtensions: readonly string[]
  /** Tus-Checksum-Algorithm (tus 1.0.0 §Checksum), lower case; absent when not sent. */
  readonly checksumAlgorithms?: readonly string[]
  /** Upload-Limit is present: a draft server (draft-13 §4.1.4: MUST on OPTIONS). */
  readonly ietf: boolean
  /** The interop version the server echoed, when it did. */
  readonly interop?: number
  readonly limits: Limits
}

/** What a response says about the upload. */
export interface Reading {
  readonly offset?: number
  readonly length?: number
  /** Draft: the completion field (polarity applied); undefined when absent. */
  readonly complete?: boolean
  /** tus: Upload-Defer-Length: 1. */
  readonly deferred?: boolean
  /** Location, resolved against the request URL. */
  readonly location?: string
  readonly limits?: Limits
  /** The end of the upload's life (ms since the epoch), from Upload-Expires or Upload-Limit. */
  readonly expiresAt?: number
  /** Retry-After, in ms from now. */
  readonly retryAfterMs?: number
  /** A draft problem type, when the body is RFC 9457 JSON with one. */
  readonly problemType?: string
}

/** A request head: method, absolute URL and protocol fields. */
export interface RequestHead {
  readonly method: 'OPTIONS' | 'POST' | 'HEAD' | 'PATCH' | 'DELETE'
  readonly url: string
  readonly headers: HeaderRecord
}

/** `tus` or `ietf-<interop>`: how a protocol is written in stored state. */
export function protocolName(p: Protocol): string {
  return p.kind === 'tus' ? 'tus' : `ietf-${p.interop}`
}

/** The inverse of `protocolName`; undefined for anything else. */
export function parseProtocolName(name: string): Protocol | undefined {
  if (name === 'tus') return { kind: 'tus' }
  const m = /^ietf-(\d+)$/.exec(name)
  if (m === null) return undefined
  const interop = Number(m[1])
  return interopFeatures(interop) === undefined ? undefined : { kind: 'ietf', interop }
}

/** The feature row of a draft protocol (throws for a version the table does not have). */
export function featuresOf(interop: number): InteropFeatures {
  const f = interopFeatures(interop)
  if (f === undefined) throw new RangeError(`interop version ${interop} is not supported (3..10)`)
  return f
}

// ---------------------------------------------------------------------------------------------
// Requests

function versionHeaders(p: Protocol): Record<string, string> {
  // tus 1.0.0 §Tus-Resumable: every request except OPTIONS; draft-13 Appendix B: every request.
  return p.kind === 'tus'
    ? { [H.tusResumable]: TUS_VERSION }
    : { [H.uploadDraftInteropVersion]: String(p.interop) }
}

function completionField(f: InteropFeatures, complete: boolean): Record<string, string> {
  // draft-01 §9.2: Upload-Incomplete (interop 3) is the inverse of Upload-Complete.
  const value = f.completionField === H.uploadIncomplete ? !complete : complete
  return { [f.completionField]: value ? '?1' : '?0' }
}

/** OPTIONS on the endpoint (tus 1.0.0 §OPTIONS; draft-13 §4.1.4). */
export function discoverRequest(endpoint: string): RequestHead {
  // The interop version lets a draft server echo the version it answers in; tus ignores it.
  return {
    method: 'OPTIONS',
    url: endpoint,
    headers: { [H.uploadDraftInteropVersion]: String(NEWEST_INTEROP) },
  }
}

export interface CreateOptions {
  /** Total size, when known. */
  readonly size: number | undefined
  /** Bytes of content in this request (0: none). */
  readonly contentLength: number
  /** Draft: this request carries the whole representation (Upload-Complete: ?1). */
  readonly complete: boolean
  readonly metadata: Readonly<Record<string, string>>
  /** tus concatenation: a partial upload, or the final upload of these partial uploads. */
  readonly concat?: Concat
}

/** tus 1.0.0 §Concatenation: what an upload is. */
export type Concat =
  | { readonly kind: 'partial' }
  | { readonly kind: 'final'; readonly parts: readonly string[] }

/** The creation request (tus 1.0.0 §Creation; draft-13 §4.2.1). */
export function createRequest(p: Protocol, endpoint: string, o: CreateOptions): RequestHead {
  const headers: Record<string, string> = { ...versionHeaders(p) }
  const metadata = encodeMetadata(o.metadata)
  if (p.kind === 'tus') {
    if (o.concat?.kind === 'final') {
      // tus 1.0.0 §Concatenation: `final;` and the partial uploads' URLs, separated by spaces;
      // the final upload's creation MUST NOT carry Upload-Length.
      headers[H.uploadConcat] = `final;${o.concat.parts.join(' ')}`
    } else {
      // tus 1.0.0 §Creation: Upload-Length, or Upload-Defer-Length: 1 (creation-defer-length).
      if (o.size !== undefined) headers[H.uploadLength] = String(o.size)
      else headers[H.uploadDeferLength] = '1'
      if (o.concat?.kind === 'partial') headers[H.uploadConcat] = 'partial'
    }
    if (metadata !== '') headers[H.uploadMetadata] = metadata
    // tus 1.0.0 §creation-with-upload: content MUST be application/offset+octet-stream.
    if (o.contentLength > 0) headers[H.contentType] = MEDIA_TYPE.offsetOctetStream
    return { method: 'POST', url: endpoint, headers }
  }
  const f = featuresOf(p.interop)
  Object.assign(headers, completionField(f, o.complete))
  // draft-13 §4.1.3: Upload-Length when the size is known (a field older drafts ignore).
  if (o.size !== undefined) headers[H.uploadLength] = String(o.size)
  // draft-13 §4.2.1: the creation carries the representation's metadata: its media type and
  // a filename in Content-Disposition. Upload-Metadata too (Ferry and tus-aware servers read it).
  const type = o.metadata.filetype ?? o.metadata.type
  if (type !== undefined && /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+$/.test(type)) {
    headers[H.contentType] = type
  }
  const filename = o.metadata.filename ?? o.metadata.name
  if (filename !== undefined && filename !== '') {
    headers[H.contentDisposition] = formatContentDisposition('inline', filename)
  }
  if (metadata !== '') headers[H.uploadMetadata] = metadata
  return { method: 'POST', url: endpoint, headers }
}

export interface AppendOptions {
  readonly offset: number
  /** Completes the upload (draft: Upload-Complete: ?1). */
  readonly complete: boolean
  /** Declare the total size in this request (deferred length: the completing request). */
  readonly declareLength: number | undefined
}

/** An append (tus 1.0.0 §PATCH; draft-13 §4.4.1). */
export function appendRequest(p: Protocol, url: string, o: AppendOptions): RequestHead {
  const headers: Record<string, string> = { ...versionHeaders(p) }
  headers[H.uploadOffset] = String(o.offset)
  if (o.declareLength !== undefined) headers[H.uploadLength] = String(o.declareLength)
  if (p.kind === 'tus') {
    headers[H.contentType] = MEDIA_TYPE.offsetOctetStream
    return { method: 'PATCH', url, headers }
  }
  const f = featuresOf(p.interop)
  // The completion field on every append: required from interop 7 (draft-06 §4.4.1), and the
  // meaning of an omitted field differs before (complete at 3, incomplete at 4..6).
  Object.assign(headers, completionField(f, o.complete))
  if (f.appendMediaType !== null) headers[H.contentType] = f.appendMediaType
  return { method: 'PATCH', url, headers }
}

/** Offset retrieval (tus 1.0.0 §HEAD; draft-13 §4.3.1): no state fields (draft-01..-05 §5). */
export function retrieveRequest(p: Protocol, url: string): RequestHead {
  return { method: 'HEAD', url, headers: versionHeaders(p) }
}

/** Termination / cancellation (tus 1.0.0 §Termination; draft-13 §4.5.1). */
export function terminateRequest(p: Protocol, url: string): RequestHead {
  return { method: 'DELETE', url, headers: versionHeaders(p) }
}

// ---------------------------------------------------------------------------------------------
// Responses

/** Reads the fields of a response (or a 104) in the protocol's vocabulary. */
export function readResponse(
  p: Protocol,
  head: ResponseHead,
  requestUrl: string,
  now: number,
): Reading {
  const h = head.headers
  const out: {
    -readonly [K in keyof Reading]: Reading[K]
  } = {}
  const location = h[H.location]
  if (location !== undefined && location.trim() !== '') {
    out.location = resolveReference(requestUrl, location.trim())
  }
  const retry = parseRetryAfter(h[H.retryAfter], now)
  if (retry !== undefined) out.retryAfterMs = retry
  if (p.kind === 'tus') {
    const offset = parseTusInteger(h[H.uploadOffset])
    if (offset !== undefined) out.offset = offset
    const length = parseTusInteger(h[H.uploadLength])
    if (length !== undefined) out.length = length
    if (h[H.uploadDeferLength]?.trim() === '1') out.deferred = true
    // tus 1.0.0 §Expiration: Upload-Expires is an RFC 9110 HTTP-date.
    const expires = parseHttpDate(h[H.uploadExpires])
    if (expires !== undefined) out.expiresAt = expires
    const max = parseTusInteger(h[H.tusMaxSize])
    if (max !== undefined) out.limits = { maxSize: max }
    return out
  }
  const f = featuresOf(p.interop)
  // draft-13 §4.1.1, §4.1.3: sf-integers. Older servers may send plain digits: same syntax.
  const offset = parseNonNegativeIntegerField(h[H.uploadOffset])
  if (offset !== undefined) out.offset = offset
  const length = parseNonNegativeIntegerField(h[H.uploadLength])
  if (length !== undefined) out.length = length
  const flag = parseBooleanField(h[f.completionField])
  if (flag !== undefined) out.complete = f.completionField === H.uploadIncomplete ? !flag : flag
  const limit = parseUploadLimit(h[H.uploadLimit], f.lifetimeLimitKey)
  if (limit !== undefined) {
    out.limits = limit.limits
    if (limit.lifetimeSeconds !== undefined) out.expiresAt = now + limit.lifetimeSeconds * 1000
  }
  const problem = problemTypeOf(head)
  if (problem !== undefined) out.problemType = problem
  return out
}

/** Reads an OPTIONS answer. */
export function readDiscovery(head: ResponseHead): Discovery {
  const h = head.headers
  const versions = (h[H.tusVersion] ?? '').split(',').map((v) => v.trim())
  const extensions = (h[H.tusExtension] ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
  const limit = parseUploadLimit(h[H.uploadLimit], 'max-age')
  const tusMax = parseTusInteger(h[H.tusMaxSize])
  const limits: { -readonly [K in keyof Limits]: Limits[K] } = { ...(limit?.limits ?? {}) }
  if (tusMax !== undefined && limits.maxSize === undefined) limits.maxSize = tusMax
  const interop = parseNonNegativeIntegerField(h[H.uploadDraftInteropVersion])
  const algorithms = h[H.tusChecksumAlgorithm]
  return {
    tus: versions.includes(TUS_VERSION),
    tusExtensions: extensions,
    ...(algorithms === undefined
      ? {}
      : {
          checksumAlgorithms: algorithms
            .split(',')
            .map((v) => v.trim().toLowerCase())
            .filter((v) => v !== ''),
        }),
    ietf: limit !== undefined,
    ...(interop !== undefined && interopFeatures(interop) !== undefined ? { interop } : {}),
    limits,
  }
}

/** Upload-Limit (draft-13 §4.1.4; `expires` instead of `max-age` at interop 6). */
export function parseUploadLimit(
  value: string | undefined,
  lifetimeKey: 'max-age' | 'expires',
): { limits: Limits; lifetimeSeconds?: number } | undefined {
  if (value === undefined) return undefined
  const dict = parseDictionary(value)
  if (dict === undefined) return undefined
  const int = (key: string): number | undefined => {
    const member = dict.get(key)
    return member?.kind === 'item' && member.value.type === 'integer' && member.value.value >= 0
      ? member.value.value
      : undefined
  }
  const limits: { -readonly [K in keyof Limits]: Limits[K] } = {}
  const maxSize = int('max-size')
  if (maxSize !== undefined) limits.maxSize = maxSize
  const minSize = int('min-size')
  if (minSize !== undefined) limits.minSize = minSize
  const maxAppend = int('max-append-size')
  if (maxAppend !== undefined) limits.maxAppendSize = maxAppend
  const minAppend = int('min-append-size')
  if (minAppend !== undefined) limits.minAppendSize = minAppend
  const lifetime = int(lifetimeKey)
  return lifetime === undefined ? { limits } : { limits, lifetimeSeconds: lifetime }
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; ms from `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = parseHttpDate(text)
  return at === undefined ? undefined : Math.max(0, at - now)
}

/** An HTTP-date (RFC 9110 §5.6.7) in ms since the epoch. */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  // Date.parse reads IMF-fixdate and the two obsolete forms; it is a pure function of its input.
  const ms = Date.parse(value.trim())
  return Number.isFinite(ms) ? ms : undefined
}

function problemTypeOf(head: ResponseHead): string | undefined {
  const type = head.headers[H.contentType]
  if (head.body === undefined || type === undefined || !type.includes('json')) return undefined
  try {
    const parsed = JSON.parse(head.body) as unknown
    if (typeof parsed === 'object' && parsed !== null && 'type' in parsed) {
      const t = (parsed as { type: unknown }).type
      return typeof t === 'string' ? t : undefined
    }
  } catch {
    // not JSON after all
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Metadata

// tus 1.0.0 §Upload-Metadata: keys without spaces and commas, not empty, ASCII.
const METADATA_KEY = /^[\x21-\x2b\x2d-\x7e]+$/

/** Checks metadata keys; returns the first problem, or undefined. */
export function metadataProblem(metadata: Readonly<Record<string, string>>): string | undefined {
  for (const key of Object.keys(metadata)) {
    if (!METADATA_KEY.test(key)) {
      return `metadata key "${key}" is invalid: printable ASCII without spaces and commas`
    }
  }
  return undefined
}

/** Upload-Metadata (tus 1.0.0 §Upload-Metadata): `key base64(utf-8 value)` pairs. */
export function encodeMetadata(metadata: Readonly<Record<string, string>>): string {
  return Object.entries(metadata)
    .map(([key, value]) => (value === '' ? key : `${key} ${encodeBase64(utf8(value))}`))
    .join(',')
}

/** UTF-8 bytes of a string (TextEncoder is not part of the ECMAScript library). */
export function utf8(text: string): Uint8Array {
  const out: number[] = []
  for (const ch of text) {
    let c = ch.codePointAt(0) ?? 0xfffd
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd // a lone surrogate
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
  }
  return Uint8Array.from(out)
}

// ---------------------------------------------------------------------------------------------
// URLs (RFC 3986 §5.2)

interface UriParts {
  scheme?: string
  authority?: string
  path: string
  query?: string
  fragment?: string
}

function splitUri(ref: string): UriParts {
  const m =
    /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(ref)
  const parts: UriParts = { path: m?.[3] ?? '' }
  if (m?.[1] !== undefined) parts.scheme = m[1]
  if (m?.[2] !== undefined) parts.authority = m[2]
  if (m?.[4] !== undefined) parts.query = m[4]
  if (m?.[5] !== undefined) parts.fragment = m[5]
  return parts
}

function removeDotSegments(path: string): string {
  const input = path.split('/')
  const out: string[] = []
  for (let i = 0; i < input.length; i++) {
    const seg = input[i] as string
    const last = i === input.length - 1
    if (seg === '.') {
      if (last) out.push('')
    } else if (seg === '..') {
      if (out.length > 1) out.pop()
      if (last) out.push('')
    } else out.push(seg)
  }
  return out.join('/')
}

/** Resolves a URI reference (a Location value) against an absolute base URL (RFC 3986 §5.2.2). */
export function resolveReference(base: string, ref: string): string {
  const r = splitUri(ref)
  const b = splitUri(base)
  let scheme: string | undefined
  let authority: string | undefined
  let path: string
  let query: string | undefined
  if (r.scheme !== undefined) {
    scheme = r.scheme
    authority = r.authority
    path = removeDotSegments(r.path)
    query = r.query
  } else {
    scheme = b.scheme
    if (r.authority !== undefined) {
      authority = r.authority
      path = removeDotSegments(r.path)
      query = r.query
    } else {
      authority = b.authority
      if (r.path === '') {
        path = b.path
        query = r.query ?? b.query
      } else {
        if (r.path.startsWith('/')) path = removeDotSegments(r.path)
        else {
          // RFC 3986 §5.2.3: merge with the base path.
          const merged =
            b.authority !== undefined && b.path === ''
              ? `/${r.path}`
              : `${b.path.slice(0, b.path.lastIndexOf('/') + 1)}${r.path}`
          path = removeDotSegments(merged)
        }
        query = r.query
      }
    }
  }
  let out = scheme === undefined ? '' : `${scheme}:`
  if (authority !== undefined) out += `//${authority}`
  out += path
  if (query !== undefined) out += `?${query}`
  return out
}
