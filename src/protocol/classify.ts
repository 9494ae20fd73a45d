/**
 * @module Request classification: which protocol a request speaks (tus 1.0.0, the IETF draft at
 * an interop version, or plain HTTP), where it points, and what it asks for. Pure: header values
 * in, an `Intent` out, or an `UploadError` thrown for a malformed request.
 */

import { parseContentDispositionFilename } from './codec/content-disposition.ts'
import {
  parseBooleanField,
  parseDictionary,
  parseIntegerField,
  parseNonNegativeIntegerField,
} from './codec/structured-fields.ts'
import {
  type MetadataPair,
  parseTusInteger,
  parseUploadChecksum,
  parseUploadConcat,
  parseUploadMetadata,
} from './codec/tus.ts'
import { DIGEST_ALGORITHMS, type DigestAlgorithm, H, MEDIA_TYPE, TUS_VERSION } from './constants.ts'
import { UploadError } from './errors.ts'
import { type InteropFeatures, interopFeatures } from './ietf-versions.ts'
import type {
  AppendIntent,
  ChecksumRequest,
  ContentFacts,
  CreateIntent,
  Dialect,
  Digest,
  HeaderMap,
  Intent,
  RequestHead,
  Target,
} from './types.ts'

/** Upload ids the router accepts: what stores generate, and nothing that could be a path. */
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/

/** Normalizes a base path to start and end with a slash. */
export function normalizeBasePath(basePath: string): string {
  let p = basePath.trim()
  if (!p.startsWith('/')) p = `/${p}`
  if (!p.endsWith('/')) p = `${p}/`
  return p
}

/** Where a path points relative to the (normalized) base path; undefined when outside it. */
export function resolveTarget(path: string, basePath: string): Target | undefined {
  if (path === basePath || `${path}/` === basePath) return { kind: 'endpoint' }
  if (!path.startsWith(basePath)) return undefined
  const rest = path.slice(basePath.length)
  return UPLOAD_ID.test(rest) ? { kind: 'upload', id: rest } : undefined
}

/** The upload id in an upload URL (absolute or relative), if it is one of ours. */
export function uploadIdFromUrl(url: string, basePath: string): string | undefined {
  let path = url
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/.exec(url)
  if (scheme !== null) path = url.slice(scheme[0].length)
  const q = path.search(/[?#]/)
  if (q >= 0) path = path.slice(0, q)
  const target = resolveTarget(path, basePath)
  return target?.kind === 'upload' ? target.id : undefined
}

/** The method a request asks for: X-HTTP-Method-Override wins (tus 1.0.0 §Headers). */
export function effectiveMethod(head: RequestHead): string {
  const override = head.headers[H.methodOverride]?.trim()
  if (override !== undefined && /^[A-Za-z]+$/.test(override)) return override.toUpperCase()
  return head.method.toUpperCase()
}

// Fields that only tus uses: a request with any of them (and no dialect marker) is a tus
// request that forgot Tus-Resumable.
const TUS_ONLY_FIELDS = [
  H.uploadLength,
  H.uploadDeferLength,
  H.uploadMetadata,
  H.uploadConcat,
  H.uploadOffset,
  H.uploadChecksum,
]

/**
 * The dialect of a request (see docs/decisions/0001-dialects.md):
 * - `Tus-Resumable` present: tus (its version is checked later, tus 1.0.0 §Tus-Resumable).
 * - `Upload-Draft-Interop-Version` with a version we implement: the draft at that version.
 *   An unsupported version gets plain handling and never a 104 (draft-13 Appendix B).
 * - Neither: plain HTTP.
 */
export function detectDialect(headers: HeaderMap): Dialect {
  const tus = headers[H.tusResumable]
  if (tus !== undefined) return { kind: 'tus', version: tus.trim() }
  const version = parseIntegerField(headers[H.uploadDraftInteropVersion])
  if (version !== undefined) {
    const features = interopFeatures(version)
    return features === undefined
      ? { kind: 'plain', interopVersion: version }
      : { kind: 'ietf', features }
  }
  const completion = headers[H.uploadComplete] ?? headers[H.uploadIncomplete]
  if (completion === undefined && TUS_ONLY_FIELDS.some((f) => headers[f] !== undefined)) {
    return { kind: 'tus', version: undefined }
  }
  return { kind: 'plain' }
}

/** Configuration the classifier needs. */
export interface ClassifyOptions {
  readonly maxMetadataBytes: number
}

/**
 * What a request asks for, and the dialect it is answered in: a draft request that turns out
 * not to be one (a creation without a valid completion field) is answered as plain HTTP.
 * Throws `UploadError` for a malformed request; the caller renders it in `dialect`.
 */
export function classify(
  head: RequestHead,
  dialect: Dialect,
  target: Target,
  options: ClassifyOptions,
): { dialect: Dialect; intent: Intent } {
  const method = effectiveMethod(head)
  if (method === 'OPTIONS') {
    const preflight =
      head.headers[H.origin] !== undefined &&
      head.headers['access-control-request-method'] !== undefined
    return { dialect, intent: { kind: 'options', preflight } }
  }
  switch (dialect.kind) {
    case 'tus':
      return { dialect, intent: classifyTus(head, method, dialect.version, target, options) }
    case 'ietf': {
      if (target.kind === 'endpoint' && !isIetfCreation(head.headers, method, dialect.features)) {
        // draft-13 §4.2.1: only a request with a (valid) Upload-Complete creates an upload; the
        // field is otherwise ignored (§4.1.2), leaving a conventional request.
        return {
          dialect: { kind: 'plain' },
          intent: classifyPlain(head, method, undefined, target),
        }
      }
      return { dialect, intent: classifyIetf(head, method, dialect.features, target, options) }
    }
    case 'plain':
      return { dialect, intent: classifyPlain(head, method, dialect.interopVersion, target) }
  }
}

function isIetfCreation(h: HeaderMap, method: string, features: InteropFeatures): boolean {
  return completionOf(h, features) !== undefined && ['POST', 'PUT', 'PATCH'].includes(method)
}

function notAllowed(allow: readonly string[]): UploadError {
  return new UploadError('ERR_METHOD_NOT_ALLOWED', undefined, { details: { allow } })
}

const ENDPOINT_METHODS = ['OPTIONS', 'POST']
const UPLOAD_METHODS = ['OPTIONS', 'HEAD', 'GET', 'PATCH', 'DELETE']

// ---------------------------------------------------------------------------------------------
// tus 1.0.0

function classifyTus(
  head: RequestHead,
  method: string,
  version: string | undefined,
  target: Target,
  options: ClassifyOptions,
): Intent {
  // tus 1.0.0 §Tus-Resumable: an unsupported version MUST get 412 and MUST NOT be processed.
  if (version === undefined) throw new UploadError('ERR_MISSING_TUS_RESUMABLE')
  if (version !== TUS_VERSION) {
    throw new UploadError('ERR_UNSUPPORTED_VERSION', `unsupported Tus-Resumable "${clip(version)}"`)
  }
  const h = head.headers
  if (target.kind === 'endpoint') {
    if (method !== 'POST') throw notAllowed(ENDPOINT_METHODS)
    return classifyTusCreate(head, options)
  }
  switch (method) {
    case 'HEAD':
      return { kind: 'retrieve', id: target.id }
    case 'GET':
      return downloadIntent(target.id, h)
    case 'DELETE':
      return { kind: 'cancel', id: target.id }
    case 'PATCH': {
      // tus 1.0.0 §PATCH: Content-Type MUST be application/offset+octet-stream (else 415).
      if (mediaType(h) !== MEDIA_TYPE.offsetOctetStream) {
        throw new UploadError(
          'ERR_INVALID_CONTENT_TYPE',
          `PATCH requests must have Content-Type: ${MEDIA_TYPE.offsetOctetStream}`,
        )
      }
      const offset = parseTusInteger(h[H.uploadOffset])
      if (offset === undefined) throw new UploadError('ERR_INVALID_OFFSET')
      const intent: AppendIntent = {
        kind: 'append',
        id: target.id,
        content: contentFacts(head, true),
        offset,
        complete: false,
        ...optionalLength(tusLength(h)),
      }
      return intent
    }
    default:
      throw notAllowed(UPLOAD_METHODS)
  }
}

function tusLength(h: HeaderMap): number | undefined {
  const raw = h[H.uploadLength]
  if (raw === undefined) return undefined
  const length = parseTusInteger(raw)
  if (length === undefined) throw new UploadError('ERR_INVALID_LENGTH')
  return length
}

function classifyTusCreate(head: RequestHead, options: ClassifyOptions): CreateIntent {
  const h = head.headers
  const length = tusLength(h)
  const deferRaw = h[H.uploadDeferLength]
  // tus 1.0.0 §creation-defer-length: the value MUST be 1.
  if (deferRaw !== undefined && deferRaw.trim() !== '1') {
    throw new UploadError('ERR_INVALID_DEFER_LENGTH')
  }
  const deferLength = deferRaw !== undefined
  const concat = tusConcat(h)
  if (concat?.kind === 'final') {
    // tus 1.0.0 §Concatenation: the client MUST NOT include Upload-Length in the final creation.
    if (length !== undefined || deferLength) throw new UploadError('ERR_CONCAT_WITH_LENGTH')
  } else {
    // tus 1.0.0 §Creation: the request MUST include Upload-Length or Upload-Defer-Length: 1.
    if (length !== undefined && deferLength) throw new UploadError('ERR_AMBIGUOUS_LENGTH')
    if (length === undefined && !deferLength) throw new UploadError('ERR_MISSING_LENGTH')
  }
  let content = contentFacts(head, true)
  if (
    content.hasContent &&
    content.contentLength === undefined &&
    mediaType(h) !== MEDIA_TYPE.offsetOctetStream
  ) {
    // A stream of unknown length without the tus media type is a creation without data (an
    // HTTP/2 client may end its stream with an empty DATA frame): its content is not read.
    content = { ...content, hasContent: false }
  }
  if (content.hasContent) {
    // tus 1.0.0 §creation-with-upload: data in the POST MUST be application/offset+octet-stream.
    if (mediaType(h) !== MEDIA_TYPE.offsetOctetStream) {
      throw new UploadError(
        'ERR_INVALID_CONTENT_TYPE',
        `content of a creation request must have Content-Type: ${MEDIA_TYPE.offsetOctetStream}`,
      )
    }
    if (concat?.kind === 'final') {
      throw new UploadError('ERR_INVALID_CONCAT', 'a final upload cannot carry content')
    }
  }
  const metadata = tusMetadata(h, options)
  return {
    kind: 'create',
    content,
    deferLength,
    complete: false,
    resumable: true,
    ...optionalLength(length),
    ...(metadata === undefined ? {} : { metadata }),
    ...(concat === undefined ? {} : { concat }),
  }
}

function tusMetadata(h: HeaderMap, options: ClassifyOptions): MetadataPair[] | undefined {
  const raw = h[H.uploadMetadata]
  if (raw === undefined) return undefined
  if (raw.length > options.maxMetadataBytes) {
    throw new UploadError(
      'ERR_METADATA_TOO_LARGE',
      `Upload-Metadata is ${raw.length} bytes; the limit is ${options.maxMetadataBytes}`,
    )
  }
  const parsed = parseUploadMetadata(raw)
  if (!parsed.ok) throw new UploadError('ERR_INVALID_METADATA', `Upload-Metadata: ${parsed.reason}`)
  return parsed.value
}

function tusConcat(
  h: HeaderMap,
): { kind: 'partial' } | { kind: 'final'; urls: string[]; header: string } | undefined {
  const raw = h[H.uploadConcat]
  if (raw === undefined) return undefined
  const parsed = parseUploadConcat(raw)
  if (!parsed.ok) throw new UploadError('ERR_INVALID_CONCAT', `Upload-Concat: ${parsed.reason}`)
  if (parsed.value.kind === 'partial') return { kind: 'partial' }
  return { kind: 'final', urls: parsed.value.urls, header: raw.trim() }
}

// ---------------------------------------------------------------------------------------------
// IETF draft

/** The completion flag of a draft request, or undefined when the field is absent or invalid. */
export function completionOf(h: HeaderMap, features: InteropFeatures): boolean | undefined {
  const value = parseBooleanField(h[features.completionField])
  if (value === undefined) return undefined
  // draft-01 §4.1.1: Upload-Incomplete: ?1 means more data follows (inverse polarity).
  return features.completionField === H.uploadIncomplete ? !value : value
}

function classifyIetf(
  head: RequestHead,
  method: string,
  features: InteropFeatures,
  target: Target,
  options: ClassifyOptions,
): Intent {
  const h = head.headers
  if (target.kind === 'endpoint') {
    // draft-13 §4.2.1: any request that can carry content and has Upload-Complete creates an
    // upload (classify() routed the others to plain handling).
    return ietfCreate(head, completionOf(h, features) === true, options)
  }
  switch (method) {
    case 'HEAD':
      rejectStateFields(h, features.retrievalForbiddenFields)
      return { kind: 'retrieve', id: target.id }
    case 'DELETE':
      rejectStateFields(h, features.cancellationForbiddenFields)
      return { kind: 'cancel', id: target.id }
    case 'GET':
      // draft-12 §4.3: GET on the upload resource is an offset retrieval; earlier drafts do not
      // define GET, so it downloads like any GET.
      if (features.getRetrievesOffset) return { kind: 'retrieve', id: target.id }
      return downloadIntent(target.id, h)
    case 'PATCH':
      return ietfAppend(head, features, target.id)
    default:
      throw notAllowed(UPLOAD_METHODS)
  }
}

// draft-01..-05 §5 and §7 (interop 3..6): a HEAD or DELETE carrying Upload-Offset or the
// completion field (-05 HEAD: or Upload-Length) MUST be rejected with 400.
function rejectStateFields(h: HeaderMap, fields: readonly string[]): void {
  for (const field of fields) {
    if (h[field] !== undefined) {
      throw new UploadError('ERR_FORBIDDEN_STATE_FIELD', `${field} is not allowed on this request`)
    }
  }
}

function ietfCreate(head: RequestHead, complete: boolean, options: ClassifyOptions): CreateIntent {
  const h = head.headers
  // draft-01..-05: a creation request MUST NOT carry Upload-Offset; an upload always starts at 0.
  const offset = parseNonNegativeIntegerField(h[H.uploadOffset])
  if (offset !== undefined && offset !== 0) {
    throw new UploadError('ERR_FORBIDDEN_OFFSET', 'an upload creation request starts at offset 0')
  }
  const content = contentFacts(head, false)
  // draft-13 §4.1.3: Upload-Length is an sf-integer; other values make the field ignored.
  const length = parseNonNegativeIntegerField(h[H.uploadLength])
  // tus-js-client sends tus metadata in its draft modes as well; keep it when it is valid.
  let metadata: MetadataPair[] | undefined
  try {
    metadata = tusMetadata(h, options)
  } catch {
    metadata = undefined
  }
  const reprDigests = digests(h, H.reprDigest)
  const wantReprDigest = wantedDigests(h)
  return {
    kind: 'create',
    content,
    deferLength: false,
    complete,
    ...(wantReprDigest === undefined ? {} : { wantReprDigest }),
    resumable: true,
    ...optionalLength(length),
    ...(metadata === undefined ? {} : { metadata }),
    ...(reprDigests === undefined ? {} : { reprDigests }),
    ...representation(h),
  }
}

function ietfAppend(head: RequestHead, features: InteropFeatures, id: string): AppendIntent {
  const h = head.headers
  // draft-04 §6 (interop 6 on): appends use application/partial-upload. Before, the request
  // carried the representation's own media type (iOS 17 sends e.g. video/mp4): not checked.
  if (features.appendMediaType !== null && mediaType(h) !== features.appendMediaType) {
    throw new UploadError(
      'ERR_INVALID_CONTENT_TYPE',
      `upload append requests must have Content-Type: ${features.appendMediaType}`,
    )
  }
  // draft-13 §4.4.1: the request MUST include Upload-Offset.
  const offset = parseNonNegativeIntegerField(h[H.uploadOffset])
  if (offset === undefined) throw new UploadError('ERR_INVALID_OFFSET')
  let complete = completionOf(h, features)
  if (complete === undefined) {
    switch (features.appendWithoutCompletion) {
      case 'reject':
        // draft-06 §4.4.1 on: the request MUST include Upload-Complete.
        throw new UploadError(
          'ERR_INVALID_COMPLETE',
          `missing or invalid ${features.completionField} header`,
        )
      case 'complete':
        // draft-01 §5: an omitted Upload-Incomplete means the request completes the upload.
        complete = true
        break
      case 'incomplete':
        // draft-02 §5 (to -05): only Upload-Complete: ?1 completes an upload.
        complete = false
        break
    }
  }
  return {
    kind: 'append',
    id,
    content: contentFacts(head, false),
    offset,
    complete,
    ...optionalLength(parseNonNegativeIntegerField(h[H.uploadLength])),
  }
}

// ---------------------------------------------------------------------------------------------
// plain HTTP

function classifyPlain(
  head: RequestHead,
  method: string,
  interopVersion: number | undefined,
  target: Target,
): Intent {
  const h = head.headers
  if (target.kind === 'endpoint') {
    // A conventional upload: the content is the whole representation, stored as a complete
    // upload. This is how the draft's "plain handling" of unsupported versions looks here.
    if (method !== 'POST') throw notAllowed(ENDPOINT_METHODS)
    const reprDigests = digests(h, H.reprDigest)
    const content = contentFacts(head, false)
    return {
      kind: 'create',
      content,
      deferLength: false,
      complete: true,
      resumable: false,
      ...(reprDigests === undefined ? {} : { reprDigests }),
      ...representation(h),
    }
  }
  // A plain GET (or HEAD) downloads; a draft client of an unsupported version gets told so.
  if (method === 'GET' || (method === 'HEAD' && interopVersion === undefined)) {
    return downloadIntent(target.id, h)
  }
  if (interopVersion !== undefined) {
    throw new UploadError(
      'ERR_UNSUPPORTED_INTEROP_VERSION',
      `Upload-Draft-Interop-Version ${interopVersion} is not supported; this server speaks 3 to 10`,
    )
  }
  // A request to an upload URL without any protocol marker: tus requires Tus-Resumable.
  throw new UploadError(
    'ERR_MISSING_TUS_RESUMABLE',
    'requests to an upload need Tus-Resumable: 1.0.0 or Upload-Draft-Interop-Version',
  )
}

// ---------------------------------------------------------------------------------------------
// shared pieces

function downloadIntent(id: string, h: HeaderMap): Intent {
  const range = h[H.range]
  return range === undefined ? { kind: 'download', id } : { kind: 'download', id, range }
}

function optionalLength(length: number | undefined): { length?: number } {
  return length === undefined ? {} : { length }
}

/** The media type of Content-Type, lower-case, without parameters. */
export function mediaType(h: HeaderMap): string | undefined {
  const raw = h[H.contentType]
  if (raw === undefined) return undefined
  return (raw.split(';')[0] ?? '').trim().toLowerCase()
}

function contentFacts(head: RequestHead, tus: boolean): ContentFacts {
  const h = head.headers
  const clRaw = h[H.contentLength]
  let contentLength: number | undefined
  if (clRaw !== undefined) {
    contentLength = parseTusInteger(clRaw)
    if (contentLength === undefined)
      throw new UploadError('ERR_INVALID_HEADER', 'invalid Content-Length')
  }
  const chunked = /(^|,)\s*chunked\s*$/i.test(h[H.transferEncoding] ?? '')
  const hasContent =
    (contentLength ?? 0) > 0 ||
    (contentLength === undefined && (chunked || head.streamedBody === true))
  const facts: ContentFacts = {
    hasContent,
    checksumInTrailer: false,
    ...(contentLength === undefined ? {} : { contentLength }),
  }
  const contentDigests = digests(h, H.contentDigest)
  if (!tus) return contentDigests === undefined ? facts : { ...facts, contentDigests }
  const checksum = tusChecksum(h[H.uploadChecksum])
  const trailerFields = (h[H.trailer] ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
  return {
    ...facts,
    checksumInTrailer: trailerFields.includes(H.uploadChecksum),
    ...(checksum === undefined ? {} : { checksum }),
    ...(contentDigests === undefined ? {} : { contentDigests }),
  }
}

/** Parses Upload-Checksum for the tus checksum extension (400 when malformed or unsupported). */
export function tusChecksum(raw: string | undefined): ChecksumRequest | undefined {
  if (raw === undefined) return undefined
  const parsed = parseUploadChecksum(raw)
  if (parsed.ok) return parsed.value
  if ('unsupported' in parsed) {
    // tus 1.0.0 §Checksum: an unsupported algorithm MUST get 400.
    throw new UploadError(
      'ERR_UNSUPPORTED_CHECKSUM_ALGORITHM',
      `unsupported checksum algorithm "${clip(parsed.unsupported)}"; supported: sha1, sha256, md5`,
    )
  }
  throw new UploadError('ERR_INVALID_CHECKSUM', `Upload-Checksum: ${parsed.reason}`)
}

/**
 * RFC 9530 digests (Content-Digest, Repr-Digest): a Dictionary of algorithm to Byte Sequence.
 * Algorithms we do not implement are ignored; a malformed value for one we do is a 400.
 */
export function digests(h: HeaderMap, field: string): Digest[] | undefined {
  const raw = h[field]
  if (raw === undefined) return undefined
  const dict = parseDictionary(raw)
  if (dict === undefined)
    throw new UploadError('ERR_INVALID_DIGEST', `${field} is not a valid Dictionary`)
  const out: Digest[] = []
  for (const algorithm of DIGEST_ALGORITHMS) {
    const member = dict.get(algorithm)
    if (member === undefined) continue
    if (member.kind !== 'item' || member.value.type !== 'binary') {
      throw new UploadError('ERR_INVALID_DIGEST', `${field} ${algorithm} must be a Byte Sequence`)
    }
    out.push({ algorithm: algorithm as DigestAlgorithm, value: member.value.value })
  }
  return out.length === 0 ? undefined : out
}

/**
 * Want-Repr-Digest (RFC 9530 §4; draft-05 §15.1): a Dictionary of algorithm to preference
 * (0 = not acceptable, 1..10). The algorithms we implement that the client accepts, most
 * preferred first; undefined when none (or the field is malformed: it is only a preference).
 */
export function wantedDigests(h: HeaderMap): DigestAlgorithm[] | undefined {
  const raw = h[H.wantReprDigest]
  if (raw === undefined) return undefined
  const dict = parseDictionary(raw)
  if (dict === undefined) return undefined
  const wanted: [DigestAlgorithm, number][] = []
  for (const algorithm of DIGEST_ALGORITHMS) {
    const member = dict.get(algorithm)
    if (member?.kind === 'item' && member.value.type === 'integer' && member.value.value > 0) {
      wanted.push([algorithm, member.value.value])
    }
  }
  wanted.sort((a, b) => b[1] - a[1])
  return wanted.length === 0 ? undefined : wanted.map(([a]) => a)
}

/** Representation metadata: Content-Type and the filename (draft-13 §4.2.1). */
function representation(h: HeaderMap): { contentType?: string; filename?: string } {
  const out: { contentType?: string; filename?: string } = {}
  const type = mediaType(h)
  // tus-js-client labels the creation content application/partial-upload in -05 mode.
  if (type !== undefined && type !== MEDIA_TYPE.partialUpload && isMediaType(type)) {
    out.contentType = type
  }
  const disposition = h[H.contentDisposition]
  const filename =
    disposition === undefined ? undefined : parseContentDispositionFilename(disposition)
  if (filename !== undefined) out.filename = filename
  return out
}

function isMediaType(value: string): boolean {
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(value)
}

function clip(text: string): string {
  const safe = text.replace(/[^\x20-\x7e]/g, '?')
  return safe.length > 40 ? `${safe.slice(0, 40)}…` : safe
}
