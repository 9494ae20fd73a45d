/**
 * @module The protocol rules: intent + stored state + limits in, a plan or an `UploadError` out.
 * Pure: the clock arrives as `now`. Bodies are capped by the plan's `maxBytes`, never by
 * trusting Content-Length.
 */
import { UploadError } from './errors.ts'
import type {
  AppendIntent,
  CreateIntent,
  Dialect,
  Limits,
  StoredResponse,
  UploadInfo,
} from './types.ts'

/** What a store can do beyond the required operations; drives both rules and advertising. */
export interface Capabilities {
  readonly terminate: boolean
  readonly concatenate: boolean
  readonly read: boolean
  readonly expire: boolean
}

export interface RuleContext {
  /** Milliseconds since the epoch. */
  readonly now: number
  readonly limits: Limits
  readonly capabilities: Capabilities
}

/** Which limit caps a request body; decides the error when the body goes past it. */
export type CapReason = 'length' | 'max-size' | 'max-append-size'

/** How much content the server reads, and what bounds it. */
export interface BodyBounds {
  /** Most bytes to store from this request (Infinity when unbounded). */
  readonly maxBytes: number
  readonly capReason?: CapReason
  /** Bytes to hold back before writing anything: draft min-append-size for streamed content. */
  readonly minBytes: number
}

export interface CreatePlan extends BodyBounds {
  readonly length?: number
  readonly deferLength: boolean
  /** The request content completes the upload (draft ?1 or plain). */
  readonly complete: boolean
  /** Offer resumption: create an upload resource that is announced (draft 104 + Location). */
  readonly resumable: boolean
}

export type AppendPlan =
  | ({
      readonly kind: 'append'
      readonly offset: number
      /** A length to record before appending (declared by this request or derived). */
      readonly declareLength?: number
      /** The request completes the upload once its content is fully processed (draft ?1). */
      readonly complete: boolean
    } & BodyBounds)
  | { readonly kind: 'replay'; readonly response: StoredResponse }

/**
 * Whether an upload is complete: explicitly marked (draft-13 §4.1.2), or — with tus semantics —
 * once its offset reached its length (tus 1.0.0 has no completion signal). Stores report this.
 */
export function isComplete(upload: {
  readonly complete: boolean
  readonly completesAtLength?: boolean
  readonly length?: number
  readonly offset: number
}): boolean {
  return (
    upload.complete ||
    (upload.completesAtLength === true &&
      upload.length !== undefined &&
      upload.offset === upload.length)
  )
}

/** When an incomplete upload expires (ms since the epoch), or undefined if it never does. */
export function expiresAt(upload: UploadInfo, limits: Limits): number | undefined {
  if (upload.complete || limits.expireAfterMs === undefined) return undefined
  return upload.updatedAt + limits.expireAfterMs
}

/** Rejects access to an upload that was invalidated or has expired (tus §expiration: 410). */
export function checkAvailable(upload: UploadInfo, ctx: RuleContext): void {
  if (upload.invalid !== undefined) {
    throw new UploadError('ERR_UPLOAD_INVALID', `upload was invalidated: ${upload.invalid}`)
  }
  const end = expiresAt(upload, ctx.limits)
  // tus 1.0.0 §Expiration: a request for an expired upload SHOULD get 404 or 410.
  // draft-13 §4.1.4 max-age: after the lifetime the server might make the resource inaccessible.
  if (end !== undefined && ctx.now >= end) throw new UploadError('ERR_UPLOAD_GONE')
}

function isDraft(dialect: Dialect): boolean {
  return dialect.kind === 'ietf'
}

/** Plans an upload creation (tus §Creation, draft-13 §4.2, or a plain upload). */
export function planCreate(intent: CreateIntent, dialect: Dialect, ctx: RuleContext): CreatePlan {
  const { limits, capabilities } = ctx
  const content = intent.content
  if (intent.concat !== undefined && !capabilities.concatenate) {
    throw new UploadError('ERR_UNSUPPORTED_EXTENSION', 'this server does not support concatenation')
  }
  // draft-13 §4.1.3: with Upload-Complete: ?1 the length is the offset (0) plus the content
  // length; both indicators present MUST match.
  let length = intent.length
  if (intent.complete && content.contentLength !== undefined) {
    if (length !== undefined && length !== content.contentLength) {
      throw new UploadError(
        'ERR_INCONSISTENT_LENGTH',
        `Upload-Length ${length} does not match Content-Length ${content.contentLength}`,
      )
    }
    length = content.contentLength
  }
  if (length !== undefined && limits.maxSize !== undefined && length > limits.maxSize) {
    // tus 1.0.0 §Creation: a length above Tus-Max-Size MUST get 413.
    // draft-13 §4.1.4 max-size: the server might not create the upload resource.
    throw new UploadError(
      'ERR_MAX_SIZE_EXCEEDED',
      `upload length ${length} exceeds the maximum size of ${limits.maxSize} bytes`,
      { details: { limitViolation: true } },
    )
  }
  let resumable = intent.resumable
  if (isDraft(dialect) && limits.minSize !== undefined && limits.minSize > 0) {
    // draft-13 §4.1.4 min-size: below it (or with no deducible length) resumption is not
    // offered; a complete request is still accepted as a plain upload.
    if (length === undefined || length < limits.minSize) {
      if (!intent.complete) {
        throw new UploadError(
          'ERR_BELOW_MIN_SIZE',
          `resumable uploads need a known length of at least ${limits.minSize} bytes`,
          { details: { limitViolation: true } },
        )
      }
      resumable = false
    }
  }
  const bounds = bodyBounds(dialect, ctx, {
    offset: 0,
    length,
    contentLength: content.contentLength,
    hasContent: content.hasContent,
    exemptFromMin: intent.complete || !content.hasContent,
    fail: (code, message) => new UploadError(code, message, { details: { limitViolation: true } }),
  })
  return {
    ...bounds,
    deferLength: intent.deferLength,
    complete: intent.complete,
    resumable,
    ...(length === undefined ? {} : { length }),
  }
}

/** Plans a final (concatenated) upload from its partial uploads (tus §Concatenation). */
export function planConcatenation(
  parts: readonly (UploadInfo | undefined)[],
  urls: readonly string[],
  ctx: RuleContext,
): { length?: number; finished: boolean } {
  let length = 0
  let lengthKnown = true
  let finished = true
  parts.forEach((part, i) => {
    const url = urls[i] ?? ''
    if (part === undefined) {
      throw new UploadError('ERR_INVALID_CONCAT', `partial upload ${url} does not exist`)
    }
    checkAvailable(part, ctx)
    if (part.concat?.kind !== 'partial') {
      throw new UploadError('ERR_CONCAT_NOT_PARTIAL', `${url} is not a partial upload`)
    }
    if (!part.complete) finished = false
    if (part.length === undefined) lengthKnown = false
    else length += part.length
  })
  // tus 1.0.0 §Concatenation: creating the final upload before its partials are complete is
  // only allowed with concatenation-unfinished, which this server offers with concatenation.
  if (lengthKnown && ctx.limits.maxSize !== undefined && length > ctx.limits.maxSize) {
    throw new UploadError(
      'ERR_MAX_SIZE_EXCEEDED',
      `the concatenated length ${length} exceeds the maximum size of ${ctx.limits.maxSize} bytes`,
    )
  }
  return { finished, ...(lengthKnown ? { length } : {}) }
}

/** Plans an append (tus §PATCH, draft-13 §4.4) to the stored upload. */
export function planAppend(
  intent: AppendIntent,
  dialect: Dialect,
  upload: UploadInfo,
  ctx: RuleContext,
): AppendPlan {
  checkAvailable(upload, ctx)
  const content = intent.content
  // tus 1.0.0 §Concatenation: PATCH to a final upload MUST get 403 and change nothing.
  if (upload.concat?.kind === 'final') throw new UploadError('ERR_MODIFY_FINAL')
  if (upload.complete && dialect.kind === 'ietf') {
    const rule = dialect.features.completedAppend
    // draft-12 §4.4.2 on: a valid append to a completed upload may get the final response again.
    if (
      rule === 'replay' &&
      upload.finalResponse !== undefined &&
      intent.offset === upload.offset &&
      intent.complete &&
      !content.hasContent
    ) {
      return { kind: 'replay', response: upload.finalResponse }
    }
    if (rule === 'gone-or-inconsistent') {
      // draft-10/-11 §4.4.2: non-empty content to a completed upload is an inconsistent length;
      // empty content gets 410 (Gone).
      if (content.hasContent) {
        throw new UploadError('ERR_INCONSISTENT_LENGTH', 'the upload is already complete', {
          details: { uploadOffset: upload.offset },
        })
      }
      throw new UploadError('ERR_UPLOAD_COMPLETED', undefined, {
        status: 410,
        details: { uploadOffset: upload.offset },
      })
    }
    if (rule === 'reject' || intent.offset === upload.offset) {
      // draft-04..-08: the server MUST reject appends to a completed upload (400).
      throw new UploadError('ERR_UPLOAD_COMPLETED', undefined, {
        details: { uploadOffset: upload.offset },
      })
    }
  }
  // tus 1.0.0 §PATCH / draft-13 §4.4.2: a mismatching offset MUST get 409 with the correct one.
  if (intent.offset !== upload.offset) {
    throw new UploadError(
      'ERR_MISMATCHED_OFFSET',
      `Upload-Offset is ${intent.offset} but the upload is at ${upload.offset}`,
      {
        details: {
          uploadOffset: upload.offset,
          expectedOffset: upload.offset,
          providedOffset: intent.offset,
        },
      },
    )
  }
  const atOffset = { uploadOffset: upload.offset }
  const inconsistent = (message: string): UploadError =>
    dialect.kind === 'tus'
      ? // tus 1.0.0 §creation-defer-length: the length MUST NOT change once set.
        new UploadError('ERR_INVALID_LENGTH', message, { details: atOffset })
      : // draft-13 §4.1.3: indicated lengths MUST stay consistent across requests.
        new UploadError('ERR_INCONSISTENT_LENGTH', message, { details: atOffset })
  let length = upload.length
  let declareLength: number | undefined
  if (intent.length !== undefined) {
    if (length !== undefined && intent.length !== length) {
      throw inconsistent(
        `Upload-Length ${intent.length} differs from the recorded length ${length}`,
      )
    }
    if (intent.length < upload.offset) {
      throw inconsistent(`Upload-Length ${intent.length} is below the offset ${upload.offset}`)
    }
    if (length === undefined) declareLength = intent.length
    length = intent.length
  }
  if (intent.complete && content.contentLength !== undefined) {
    const derived = upload.offset + content.contentLength
    if (length !== undefined && derived !== length) {
      throw inconsistent(
        `offset ${upload.offset} plus Content-Length ${content.contentLength} does not match the length ${length}`,
      )
    }
    if (length === undefined) declareLength = derived
    length = derived
  }
  if (declareLength !== undefined) checkMaxSize(declareLength, ctx.limits, atOffset)
  const bounds = bodyBounds(dialect, ctx, {
    offset: upload.offset,
    length,
    contentLength: content.contentLength,
    hasContent: content.hasContent,
    exemptFromMin: intent.complete,
    fail: (code, message) =>
      code === 'ERR_SIZE_EXCEEDED' && dialect.kind === 'ietf'
        ? inconsistent(message)
        : new UploadError(code, message, { details: { ...atOffset, limitViolation: true } }),
  })
  return {
    kind: 'append',
    offset: upload.offset,
    complete: intent.complete,
    ...bounds,
    ...(declareLength === undefined ? {} : { declareLength }),
  }
}

function checkMaxSize(length: number, limits: Limits, details: { uploadOffset: number }): void {
  if (limits.maxSize !== undefined && length > limits.maxSize) {
    throw new UploadError(
      'ERR_MAX_SIZE_EXCEEDED',
      `upload length ${length} exceeds the maximum size of ${limits.maxSize} bytes`,
      { details: { ...details, limitViolation: true } },
    )
  }
}

type LimitCode =
  | 'ERR_SIZE_EXCEEDED'
  | 'ERR_MAX_SIZE_EXCEEDED'
  | 'ERR_APPEND_TOO_LARGE'
  | 'ERR_APPEND_TOO_SMALL'

/** The body bounds of a creation or append; rejects up front what Content-Length already shows. */
function bodyBounds(
  dialect: Dialect,
  ctx: RuleContext,
  r: {
    offset: number
    length: number | undefined
    contentLength: number | undefined
    hasContent: boolean
    exemptFromMin: boolean
    fail: (code: LimitCode, message: string) => UploadError
  },
): BodyBounds {
  const { limits } = ctx
  let maxBytes = Number.POSITIVE_INFINITY
  let capReason: CapReason | undefined
  const cap = (bytes: number, reason: CapReason): void => {
    if (bytes < maxBytes) {
      maxBytes = bytes
      capReason = reason
    }
  }
  if (r.length !== undefined) cap(r.length - r.offset, 'length')
  if (limits.maxSize !== undefined) cap(Math.max(0, limits.maxSize - r.offset), 'max-size')
  // draft-13 §4.1.4: max-append-size / min-append-size bound each creation and append request.
  // They are draft limits: tus requests are bounded by length and Tus-Max-Size only.
  const draft = dialect.kind === 'ietf'
  if (draft && limits.maxAppendSize !== undefined) cap(limits.maxAppendSize, 'max-append-size')
  const cl = r.contentLength
  if (cl !== undefined && cl > maxBytes) {
    switch (capReason) {
      case 'max-append-size':
        throw r.fail(
          'ERR_APPEND_TOO_LARGE',
          `Content-Length ${cl} exceeds the maximum append size of ${limits.maxAppendSize} bytes`,
        )
      case 'max-size':
        throw r.fail(
          'ERR_MAX_SIZE_EXCEEDED',
          `offset ${r.offset} plus Content-Length ${cl} exceeds the maximum size of ${limits.maxSize} bytes`,
        )
      default:
        throw r.fail(
          'ERR_SIZE_EXCEEDED',
          `offset ${r.offset} plus Content-Length ${cl} exceeds the upload length ${r.length}`,
        )
    }
  }
  let minBytes = 0
  const min = limits.minAppendSize
  // draft-13 §4.1.4: min-append-size does not apply to empty creation requests or to requests
  // that complete the upload.
  if (draft && min !== undefined && min > 0 && !r.exemptFromMin && r.hasContent) {
    if (cl !== undefined && cl < min) {
      throw r.fail(
        'ERR_APPEND_TOO_SMALL',
        `Content-Length ${cl} is below the minimum append size of ${min} bytes`,
      )
    }
    if (cl === undefined) minBytes = min
  }
  return { maxBytes, minBytes, ...(capReason === undefined ? {} : { capReason }) }
}

/** How a body transfer ended, as the server observed it. */
export interface TransferResult {
  /** The durable offset after the transfer. */
  readonly offset: number
  /** All content was read (no interruption, no cap exceeded). */
  readonly fullyRead: boolean
  /** The body went past `maxBytes`. */
  readonly exceeded: boolean
  /** The body ended before `minBytes` were reached (nothing was written). */
  readonly belowMinimum: boolean
}

/** What happens to the upload after a transfer. */
export interface TransferOutcome {
  /** Mark the upload complete (and record its length). */
  readonly complete: boolean
  readonly length?: number
  /** Deactivate the upload resource with this reason. */
  readonly invalidate?: string
  /** Reject the request with this error (after persisting what the transfer kept). */
  readonly error?: UploadError
}

/**
 * Decides the upload's fate after its content was transferred (draft-13 §4.2.2, §4.4.2;
 * tus §PATCH). `length` is the upload's recorded length after the transfer, if any.
 */
export function afterTransfer(
  dialect: Dialect,
  plan: BodyBounds & { readonly complete: boolean },
  length: number | undefined,
  result: TransferResult,
  limits: Limits,
): TransferOutcome {
  const at = { uploadOffset: result.offset }
  if (result.exceeded) {
    switch (plan.capReason) {
      case 'max-append-size':
        return {
          complete: false,
          error: new UploadError(
            'ERR_APPEND_TOO_LARGE',
            `content exceeds the maximum append size of ${limits.maxAppendSize} bytes`,
            { details: { ...at, limitViolation: true } },
          ),
        }
      case 'max-size':
        return {
          complete: false,
          error: new UploadError(
            'ERR_MAX_SIZE_EXCEEDED',
            `content exceeds the maximum size of ${limits.maxSize} bytes`,
            { details: { ...at, limitViolation: true } },
          ),
        }
      default: {
        const message = `content goes past the upload length ${length}`
        if (dialect.kind !== 'ietf') {
          return {
            complete: false,
            error: new UploadError('ERR_SIZE_EXCEEDED', message, { details: at }),
          }
        }
        // draft-13 §4.4.2: once the offset would exceed the known length, reject the request,
        // mark the upload resource invalid and reject any further interaction (-08 on).
        const error = new UploadError('ERR_INCONSISTENT_LENGTH', message, { details: at })
        return dialect.features.invalidateOnExcessLength
          ? { complete: false, invalidate: message, error }
          : { complete: false, error }
      }
    }
  }
  if (result.belowMinimum) {
    return {
      complete: false,
      error: new UploadError(
        'ERR_APPEND_TOO_SMALL',
        `content is below the minimum append size of ${limits.minAppendSize} bytes`,
        { details: { ...at, limitViolation: true } },
      ),
    }
  }
  // draft-13 §4.2.2/§4.4.2: an interrupted request MUST NOT complete the upload.
  if (!result.fullyRead) return { complete: false }
  if (dialect.kind === 'tus') {
    // tus: an upload is complete when its offset reaches its length.
    return length !== undefined && result.offset === length
      ? { complete: true, length }
      : { complete: false }
  }
  if (!plan.complete) return { complete: false }
  // draft-13 §4.1.3: a completing request fixes the length at the final offset; it MUST match
  // any length recorded before.
  if (length !== undefined && length !== result.offset) {
    return {
      complete: false,
      error: new UploadError(
        'ERR_INCONSISTENT_LENGTH',
        `the upload completed at ${result.offset} bytes but its length is ${length}`,
        { details: at },
      ),
    }
  }
  return { complete: true, length: result.offset }
}
