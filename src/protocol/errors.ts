/**
 * @module The one error class of Ferry and the table of its stable codes. Every rejection a
 * client can see, and every failure a store or hook reports, is an `UploadError` with a code
 * from `ERROR_CODES`; consumers match on `err.code`. docs/errors.md mirrors this table.
 */
import { PROBLEM_TYPE } from './constants.ts'

interface ErrorSpec {
  readonly status: number
  readonly message: string
  /** RFC 9457 problem type for IETF responses (draft-13 §7); `about:blank` when absent. */
  readonly problemType?: string
}

/** Stable error codes: status code and default message. */
export const ERROR_CODES = {
  ERR_NOT_FOUND: { status: 404, message: 'no upload endpoint or upload at this path' },
  ERR_UPLOAD_NOT_FOUND: { status: 404, message: 'upload not found' },
  ERR_UPLOAD_GONE: { status: 410, message: 'upload expired' },
  ERR_UPLOAD_INVALID: { status: 410, message: 'upload was invalidated and accepts no requests' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed here' },
  ERR_UNSUPPORTED_VERSION: { status: 412, message: 'unsupported Tus-Resumable version' },
  ERR_MISSING_TUS_RESUMABLE: {
    status: 412,
    message: 'request carries tus headers but no Tus-Resumable header',
  },
  ERR_UNSUPPORTED_INTEROP_VERSION: {
    status: 400,
    message: 'unsupported Upload-Draft-Interop-Version',
  },
  ERR_INVALID_OFFSET: { status: 400, message: 'missing or invalid Upload-Offset header' },
  ERR_FORBIDDEN_OFFSET: {
    status: 400,
    message: 'Upload-Offset is not allowed on this request',
  },
  ERR_MISMATCHED_OFFSET: {
    status: 409,
    message: 'Upload-Offset does not match the offset of the upload',
    problemType: PROBLEM_TYPE.mismatchingOffset,
  },
  ERR_INVALID_COMPLETE: { status: 400, message: 'missing or invalid Upload-Complete header' },
  ERR_FORBIDDEN_STATE_FIELD: {
    status: 400,
    message: 'upload state fields are not allowed on this request',
  },
  ERR_INVALID_LENGTH: { status: 400, message: 'invalid Upload-Length header' },
  ERR_MISSING_LENGTH: {
    status: 400,
    message: 'missing Upload-Length or Upload-Defer-Length: 1 header',
  },
  ERR_AMBIGUOUS_LENGTH: {
    status: 400,
    message: 'Upload-Length and Upload-Defer-Length must not both be present',
  },
  ERR_INVALID_DEFER_LENGTH: { status: 400, message: 'Upload-Defer-Length must be 1' },
  ERR_INCONSISTENT_LENGTH: {
    status: 400,
    message: 'length indicators of the upload are inconsistent',
    problemType: PROBLEM_TYPE.inconsistentLength,
  },
  ERR_SIZE_EXCEEDED: { status: 413, message: 'content exceeds the length of the upload' },
  ERR_MAX_SIZE_EXCEEDED: { status: 413, message: 'upload length exceeds the maximum size' },
  ERR_BELOW_MIN_SIZE: {
    status: 400,
    message: 'the upload is below the minimum size for resumable uploads',
  },
  ERR_APPEND_TOO_LARGE: {
    status: 413,
    message: 'request content exceeds the maximum append size',
  },
  ERR_APPEND_TOO_SMALL: {
    status: 400,
    message: 'request content is below the minimum append size',
  },
  ERR_UPLOAD_COMPLETED: {
    status: 400,
    message: 'upload is already complete',
    problemType: PROBLEM_TYPE.completedUpload,
  },
  ERR_UPLOAD_INCOMPLETE: { status: 409, message: 'upload is not complete yet' },
  ERR_INVALID_CONTENT_TYPE: { status: 415, message: 'unsupported Content-Type' },
  ERR_INVALID_METADATA: { status: 400, message: 'invalid Upload-Metadata header' },
  ERR_METADATA_TOO_LARGE: { status: 400, message: 'Upload-Metadata is too large' },
  ERR_INVALID_CONCAT: { status: 400, message: 'invalid Upload-Concat header' },
  ERR_CONCAT_UNFINISHED: {
    status: 400,
    message: 'partial uploads of a final upload must be complete',
  },
  ERR_CONCAT_NOT_PARTIAL: { status: 400, message: 'Upload-Concat lists a non-partial upload' },
  ERR_CONCAT_WITH_LENGTH: {
    status: 400,
    message: 'a final upload must not carry Upload-Length',
  },
  ERR_MODIFY_FINAL: { status: 403, message: 'a final (concatenated) upload cannot be modified' },
  ERR_INVALID_CHECKSUM: { status: 400, message: 'invalid Upload-Checksum header' },
  ERR_UNSUPPORTED_CHECKSUM_ALGORITHM: {
    status: 400,
    message: 'unsupported checksum algorithm',
  },
  ERR_CHECKSUM_MISMATCH: { status: 460, message: 'checksum mismatch; the content was discarded' },
  ERR_INVALID_DIGEST: { status: 400, message: 'invalid digest header' },
  ERR_DIGEST_MISMATCH: { status: 400, message: 'digest mismatch' },
  ERR_UNSUPPORTED_EXTENSION: {
    status: 400,
    message: 'this server does not support the requested extension',
  },
  // 409 with the current Upload-Offset: tus clients and draft clients (draft-13 §4.7) both
  // resume from the offset after a 409, which is the right reaction to a takeover.
  ERR_UPLOAD_INTERRUPTED: {
    status: 409,
    message: 'the request was interrupted by another request for the same upload',
  },
  ERR_LOCK_TIMEOUT: {
    status: 503,
    message: 'another request holds this upload; try again shortly',
  },
  // A lease-based lock (several instances) expired or was taken while the request held it: it
  // must not commit, and the client resumes from the offset a HEAD gives.
  ERR_LOCK_LOST: {
    status: 503,
    message: 'the lock on this upload was lost; resume from the current offset',
  },
  ERR_LOCK_UNAVAILABLE: {
    status: 503,
    message: 'the lock service is unavailable; try again shortly',
  },
  ERR_STORE_UNAVAILABLE: {
    status: 503,
    message: 'the storage backend is unavailable; try again shortly',
  },
  ERR_RANGE_NOT_SATISFIABLE: { status: 416, message: 'range not satisfiable' },
  ERR_INVALID_HEADER: { status: 400, message: 'invalid request header' },
  ERR_FORBIDDEN: { status: 403, message: 'forbidden' },
  ERR_UNAUTHORIZED: { status: 401, message: 'unauthorized' },
  ERR_SHUTTING_DOWN: { status: 503, message: 'the server is shutting down' },
  ERR_STORE: { status: 500, message: 'storage failure' },
  ERR_INTERNAL: { status: 500, message: 'internal server error' },
  ERR_INVALID_CONFIG: { status: 500, message: 'invalid configuration' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERROR_CODES

/** Facts a response about this error must carry (rendered per dialect). */
export interface ErrorDetails {
  /** The upload's current, durable offset: sent as Upload-Offset when known. */
  readonly uploadOffset?: number
  /** draft-13 §7.1 extension members. */
  readonly expectedOffset?: number
  readonly providedOffset?: number
  /** Send Upload-Limit with the response (draft-13 §4.1.4: limit violations). */
  readonly limitViolation?: boolean
  /** Seconds for a Retry-After header. */
  readonly retryAfterSeconds?: number
  /** Methods for an Allow header (405). */
  readonly allow?: readonly string[]
}

const BRAND = Symbol.for('ferry.UploadError')

/** The error class of Ferry: a stable `code`, the HTTP `status`, and response details. */
export class UploadError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: ErrorDetails
  readonly problemType: string | undefined

  constructor(
    code: ErrorCode,
    message?: string,
    options?: { cause?: unknown; status?: number; details?: ErrorDetails },
  ) {
    const spec: ErrorSpec = ERROR_CODES[code]
    super(message ?? spec.message, options?.cause === undefined ? {} : { cause: options.cause })
    this.name = 'UploadError'
    this.code = code
    this.status = options?.status ?? spec.status
    this.details = options?.details ?? {}
    this.problemType = spec.problemType
    Object.defineProperty(this, BRAND, { value: true })
  }

  /** A copy with more response details (e.g. the current offset once the server knows it). */
  withDetails(details: ErrorDetails): UploadError {
    return new UploadError(this.code, this.message, {
      cause: this.cause,
      status: this.status,
      details: { ...this.details, ...details },
    })
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isUploadError(value)
  }
}

/** True for an `UploadError`, also one from another copy of this package. */
export function isUploadError(value: unknown): value is UploadError {
  return typeof value === 'object' && value !== null && BRAND in value
}
