/**
 * @module Response rendering: outcomes in, response heads out, in the dialect of the request.
 * tus responses carry Tus-Resumable; draft responses carry the interop version, the completion
 * field of that version and RFC 9457 problem details for errors.
 */

import type { Dictionary } from './codec/structured-fields.ts'
import {
  integer,
  item,
  serializeDictionary,
  serializeItem,
  boolean as sfBoolean,
} from './codec/structured-fields.ts'
import { formatHttpDate, serializeUploadMetadata } from './codec/tus.ts'
import {
  H,
  MEDIA_TYPE,
  REASON_PHRASES,
  STATUS_UPLOAD_RESUMPTION_SUPPORTED,
  TUS_CHECKSUM_ALGORITHMS,
  TUS_VERSION,
  type TusExtension,
} from './constants.ts'
import type { UploadError } from './errors.ts'
import type { InteropFeatures } from './ietf-versions.ts'
import { expiresAt } from './rules.ts'
import type { Dialect, Limits, ResponseHead, StoredResponse, UploadInfo } from './types.ts'

/** What every rendering needs besides the outcome itself. */
export interface RenderContext {
  /** Milliseconds since the epoch. */
  readonly now: number
  readonly limits: Limits
  /** tus extensions this server offers (derived from the store's capabilities). */
  readonly tusExtensions: readonly TusExtension[]
}

type Headers = Record<string, string>

/** Upload-Limit for a dialect (draft-13 §4.1.4): `min-size=0` when there are no limits. */
export function uploadLimit(
  limits: Limits,
  lifetimeKey: 'max-age' | 'expires',
  lifetimeSeconds: number | undefined,
): string {
  const dict: Dictionary = new Map()
  const add = (key: string, value: number | undefined): void => {
    if (value !== undefined) dict.set(key, item(integer(value)))
  }
  add('max-size', limits.maxSize)
  add('min-size', limits.minSize === 0 ? undefined : limits.minSize)
  add('max-append-size', limits.maxAppendSize)
  add('min-append-size', limits.minAppendSize === 0 ? undefined : limits.minAppendSize)
  add(lifetimeKey, lifetimeSeconds)
  // draft-13 §4.1.4: a server that applies no limits MUST use min-size=0, never an empty value.
  if (dict.size === 0) dict.set('min-size', item(integer(0)))
  return serializeDictionary(dict)
}

/** Remaining lifetime of an upload in whole seconds, or undefined if it does not expire. */
function lifetimeSeconds(upload: UploadInfo | undefined, ctx: RenderContext): number | undefined {
  if (upload === undefined) {
    const ms = ctx.limits.expireAfterMs
    return ms === undefined ? undefined : Math.floor(ms / 1000)
  }
  const end = expiresAt(upload, ctx.limits)
  // draft-13 §4.1.4: rounding down keeps the implied end of life from moving later than it is.
  return end === undefined ? undefined : Math.max(0, Math.floor((end - ctx.now) / 1000))
}

function completionHeader(features: InteropFeatures, complete: boolean): Headers {
  // draft-01 §9.2: Upload-Incomplete is the inverse of Upload-Complete.
  const value = features.completionField === H.uploadIncomplete ? !complete : complete
  return { [features.completionField]: serializeItem(item(sfBoolean(value))) }
}

function ietfBase(features: InteropFeatures): Headers {
  // draft-13 Appendix B: the 104 MUST carry the interop version; echoing it on final responses
  // tells clients which version answered.
  return { [H.uploadDraftInteropVersion]: String(features.version) }
}

function ietfLimit(
  features: InteropFeatures,
  upload: UploadInfo | undefined,
  ctx: RenderContext,
): Headers {
  return {
    [H.uploadLimit]: uploadLimit(
      ctx.limits,
      features.lifetimeLimitKey,
      lifetimeSeconds(upload, ctx),
    ),
  }
}

/** The fields of a draft response that leaves the upload incomplete (creation or append). */
function ietfIncomplete(f: InteropFeatures, upload: UploadInfo, ctx: RenderContext): Headers {
  return {
    ...ietfBase(f),
    ...completionHeader(f, false),
    [H.uploadOffset]: String(upload.offset),
    ...ietfLimit(f, upload, ctx),
    [H.cacheControl]: 'no-store',
  }
}

const TUS_BASE: Headers = { [H.tusResumable]: TUS_VERSION }

function tusExpires(upload: UploadInfo, ctx: RenderContext): Headers {
  const end = expiresAt(upload, ctx.limits)
  // tus 1.0.0 §Expiration: Upload-Expires in every PATCH response and in the creation response.
  return end === undefined ? {} : { [H.uploadExpires]: formatHttpDate(end) }
}

/** OPTIONS: both vocabularies, since the request may come from either kind of client. */
export function renderOptions(dialect: Dialect, ctx: RenderContext): ResponseHead {
  const headers: Headers = {
    // tus 1.0.0 §OPTIONS: Tus-Version MUST be present; Tus-Extension lists what is offered.
    ...TUS_BASE,
    [H.tusVersion]: TUS_VERSION,
  }
  if (ctx.tusExtensions.length > 0) headers[H.tusExtension] = ctx.tusExtensions.join(',')
  // tus 1.0.0 §Headers: Tus-Max-Size SHOULD be sent when a hard limit exists.
  if (ctx.limits.maxSize !== undefined) headers[H.tusMaxSize] = String(ctx.limits.maxSize)
  if (ctx.tusExtensions.includes('checksum')) {
    // tus 1.0.0 §Checksum: OPTIONS MUST carry Tus-Checksum-Algorithm.
    headers[H.tusChecksumAlgorithm] = TUS_CHECKSUM_ALGORITHMS.join(',')
  }
  const features = dialect.kind === 'ietf' ? dialect.features : undefined
  // draft-13 §4.1.4: an OPTIONS response for a resource that can create uploads MUST carry
  // Upload-Limit. draft-10/-11 §4.1.4 also required Accept-Patch; harmless for the others.
  headers[H.uploadLimit] = uploadLimit(
    ctx.limits,
    features?.lifetimeLimitKey ?? 'max-age',
    lifetimeSeconds(undefined, ctx),
  )
  headers[H.acceptPatch] = `${MEDIA_TYPE.partialUpload}, ${MEDIA_TYPE.offsetOctetStream}`
  if (features !== undefined) Object.assign(headers, ietfBase(features))
  return { status: 204, headers }
}

/** The 104 that announces a new upload resource (draft-13 §4.2.2, §5). */
export function renderCreationInterim(
  features: InteropFeatures,
  location: string,
  upload: UploadInfo,
  ctx: RenderContext,
): ResponseHead {
  // draft-13 §4.2.2: it MUST include Location and Upload-Limit (when limits exist).
  // draft-01 §4: only Location is required; the other fields are unknown to -01 clients.
  return {
    status: STATUS_UPLOAD_RESUMPTION_SUPPORTED,
    headers: { ...ietfBase(features), [H.location]: location, ...ietfLimit(features, upload, ctx) },
  }
}

/** A progress 104 carrying the durable offset (draft-13 §4.4.2; draft-03 §4, §6). */
export function renderProgressInterim(features: InteropFeatures, offset: number): ResponseHead {
  // draft-13 §4.4.2: these interim responses MUST NOT include Location.
  return {
    status: STATUS_UPLOAD_RESUMPTION_SUPPORTED,
    headers: { ...ietfBase(features), [H.uploadOffset]: String(offset) },
  }
}

/** Response to a creation that leaves the upload incomplete (tus 201; draft ?0 → 201). */
export function renderCreated(
  dialect: Dialect,
  upload: UploadInfo,
  location: string,
  ctx: RenderContext,
): ResponseHead {
  if (dialect.kind === 'ietf') {
    const f = dialect.features
    // draft-13 §4.2.2: MUST include Location and Upload-Limit; 201 RECOMMENDED; SHOULD include
    // Upload-Complete. draft-01..-05 §4 also require Upload-Offset.
    return { status: 201, headers: { [H.location]: location, ...ietfIncomplete(f, upload, ctx) } }
  }
  // tus 1.0.0 §Creation: 201 with Location; §creation-with-upload: Upload-Offset.
  return {
    status: 201,
    headers: {
      ...TUS_BASE,
      [H.location]: location,
      [H.uploadOffset]: String(upload.offset),
      ...tusExpires(upload, ctx),
    },
  }
}

/** Response to an append that leaves the upload incomplete. */
export function renderAppended(
  dialect: Dialect,
  upload: UploadInfo,
  ctx: RenderContext,
): ResponseHead {
  if (dialect.kind === 'ietf') {
    const f = dialect.features
    // draft-01..-05 §6: 201 + completion field + Upload-Offset; draft-06 §4.4.2 on: 2xx with
    // Upload-Complete: ?0. draft-13 §4.1.1: an Upload-Offset sent here MUST be the new offset.
    return { status: f.incompleteAppendStatus, headers: ietfIncomplete(f, upload, ctx) }
  }
  // tus 1.0.0 §PATCH: 204 with the new Upload-Offset.
  return {
    status: 204,
    headers: { ...TUS_BASE, [H.uploadOffset]: String(upload.offset), ...tusExpires(upload, ctx) },
  }
}

/**
 * The response of the targeted resource once an upload is complete. For the draft it carries
 * Upload-Complete: ?1 (draft-13 §4.2.2, §4.4.2: never a 2xx with ?0 or without the field when
 * the request said ?1); tus keeps its fixed statuses (201 on creation, 204 on PATCH).
 */
export function renderCompleted(
  dialect: Dialect,
  upload: UploadInfo,
  target: StoredResponse,
  how: 'create' | 'append',
  location: string,
  ctx: RenderContext,
): ResponseHead {
  if (dialect.kind === 'tus') {
    return how === 'create'
      ? renderCreated(dialect, upload, location, ctx)
      : {
          status: 204,
          headers: { ...TUS_BASE, ...target.headers, [H.uploadOffset]: String(upload.offset) },
        }
  }
  const headers: Headers = { ...target.headers }
  if (dialect.kind === 'ietf') {
    Object.assign(headers, ietfBase(dialect.features), completionHeader(dialect.features, true))
    // draft-01..-05 §4, §6: a completing response MUST carry Upload-Offset.
    headers[H.uploadOffset] = String(upload.offset)
  }
  return target.body === undefined
    ? { status: target.status, headers }
    : { status: target.status, headers, body: target.body }
}

/** HEAD (offset retrieval; draft-12 on also GET). */
export function renderRetrieved(
  dialect: Dialect,
  upload: UploadInfo,
  ctx: RenderContext,
): ResponseHead {
  if (dialect.kind === 'ietf') {
    const f = dialect.features
    // draft-13 §4.3.2: MUST Upload-Offset and Upload-Limit, SHOULD Cache-Control: no-store.
    // draft-01..-12 also require the completion field and (-05 on) Upload-Length when known;
    // -13 merely allows them, so sending them serves every version.
    // draft-01/-02 §5: HEAD MUST answer 204.
    const headers: Headers = {
      ...ietfBase(f),
      [H.uploadOffset]: String(upload.offset),
      ...completionHeader(f, upload.complete),
      ...ietfLimit(f, upload, ctx),
      [H.cacheControl]: 'no-store',
    }
    if (upload.length !== undefined) headers[H.uploadLength] = String(upload.length)
    return { status: 204, headers }
  }
  // tus 1.0.0 §HEAD: MUST Upload-Offset (even 0), Upload-Length when known, Cache-Control:
  // no-store; §creation-defer-length: Upload-Defer-Length: 1 while the length is unknown;
  // §creation: Upload-Metadata as sent; §concatenation: Upload-Concat as received.
  const headers: Headers = { ...TUS_BASE, [H.cacheControl]: 'no-store', ...tusExpires(upload, ctx) }
  const concat = upload.concat
  // tus 1.0.0 §Concatenation: a final upload SHOULD NOT report Upload-Offset before it is done.
  if (!(concat?.kind === 'final' && !upload.complete))
    headers[H.uploadOffset] = String(upload.offset)
  if (upload.length !== undefined) headers[H.uploadLength] = String(upload.length)
  else if (concat?.kind !== 'final') headers[H.uploadDeferLength] = '1'
  if (upload.metadata !== undefined && upload.metadata.length > 0) {
    headers[H.uploadMetadata] = serializeUploadMetadata(upload.metadata)
  }
  if (concat !== undefined) {
    headers[H.uploadConcat] = concat.kind === 'partial' ? 'partial' : concat.header
  }
  return { status: 204, headers }
}

/** DELETE: 204 (tus §Termination MUST; draft-01..-08 MUST, later the example status). */
export function renderCancelled(dialect: Dialect): ResponseHead {
  if (dialect.kind === 'ietf') return { status: 204, headers: ietfBase(dialect.features) }
  return { status: 204, headers: dialect.kind === 'tus' ? { ...TUS_BASE } : {} }
}

/** Which request an error answers: draft errors to creations and appends carry ?0. */
export type ErrorSubject = 'create' | 'append' | 'other'

/**
 * An error response. tus: plain-text reason and Tus-Resumable (412 adds Tus-Version).
 * Draft: RFC 9457 problem details, the interop version, `?0` for creation/append requests
 * (draft-13 §4.2.2 / §4.4.2: 409 MUST carry Upload-Complete: ?0), Upload-Offset when known,
 * Upload-Limit for limit violations (draft-13 §4.1.4).
 */
export function renderError(
  dialect: Dialect,
  error: UploadError,
  subject: ErrorSubject,
  ctx: RenderContext,
  upload?: UploadInfo,
): ResponseHead {
  const headers: Headers = {}
  const d = error.details
  if (d.allow !== undefined) headers[H.allow] = d.allow.join(', ')
  if (d.retryAfterSeconds !== undefined) headers[H.retryAfter] = String(d.retryAfterSeconds)
  if (error.code === 'ERR_INVALID_CONTENT_TYPE') {
    // RFC 5789 §2.2: a 415 to PATCH should list the accepted patch document formats.
    headers[H.acceptPatch] =
      dialect.kind === 'tus' ? MEDIA_TYPE.offsetOctetStream : MEDIA_TYPE.partialUpload
  }
  if (d.uploadOffset !== undefined) headers[H.uploadOffset] = String(d.uploadOffset)
  if (dialect.kind === 'ietf') {
    const f = dialect.features
    Object.assign(headers, ietfBase(f))
    if (subject !== 'other') {
      const complete = f.errorCompletion === 'upload-state' && upload?.complete === true
      Object.assign(headers, completionHeader(f, complete))
    }
    if (d.limitViolation === true) Object.assign(headers, ietfLimit(f, upload, ctx))
    headers[H.contentType] = MEDIA_TYPE.problemJson
    return { status: error.status, headers, body: problemBody(error, f) }
  }
  if (dialect.kind === 'tus' || error.status === 412) {
    Object.assign(headers, TUS_BASE)
    // tus 1.0.0 §Tus-Resumable: a 412 MUST carry Tus-Version.
    if (error.status === 412) headers[H.tusVersion] = TUS_VERSION
  }
  headers[H.contentType] = MEDIA_TYPE.textPlain
  return { status: error.status, headers, body: `${error.message}\n` }
}

function problemBody(error: UploadError, features: InteropFeatures): string {
  let type = error.problemType
  // The completed-upload problem type exists in draft-04..-11 only (removed by draft-12 §7).
  if (type?.endsWith('#completed-upload') === true && features.completedAppend === 'replay') {
    type = undefined
  }
  const body: Record<string, string | number> = {
    type: type ?? 'about:blank',
    title: REASON_PHRASES[error.status] ?? 'Error',
    status: error.status,
    detail: error.message,
    code: error.code,
  }
  // draft-13 §7.1: the mismatching-offset problem SHOULD carry both offsets.
  if (error.details.expectedOffset !== undefined)
    body['expected-offset'] = error.details.expectedOffset
  if (error.details.providedOffset !== undefined)
    body['provided-offset'] = error.details.providedOffset
  return JSON.stringify(body)
}
