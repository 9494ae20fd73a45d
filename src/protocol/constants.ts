/**
 * @module Header names, media types, status codes and version strings of tus 1.0.0 and the
 * IETF draft "Resumable Uploads for HTTP". Shared by the server, the client and the tools; the
 * only part of the protocol core that the conformance tester may import.
 */

/** Header field names, lower-case as they appear in Node's `IncomingMessage.headers`. */
export const H = {
  // tus 1.0.0 §Headers
  tusResumable: 'tus-resumable',
  tusVersion: 'tus-version',
  tusExtension: 'tus-extension',
  tusMaxSize: 'tus-max-size',
  tusChecksumAlgorithm: 'tus-checksum-algorithm',
  uploadOffset: 'upload-offset',
  uploadLength: 'upload-length',
  uploadDeferLength: 'upload-defer-length',
  uploadMetadata: 'upload-metadata',
  uploadConcat: 'upload-concat',
  uploadExpires: 'upload-expires',
  uploadChecksum: 'upload-checksum',
  methodOverride: 'x-http-method-override',
  // draft-ietf-httpbis-resumable-upload
  uploadDraftInteropVersion: 'upload-draft-interop-version',
  uploadComplete: 'upload-complete',
  uploadIncomplete: 'upload-incomplete',
  uploadLimit: 'upload-limit',
  reprDigest: 'repr-digest',
  contentDigest: 'content-digest',
  wantReprDigest: 'want-repr-digest',
  // HTTP
  location: 'location',
  contentType: 'content-type',
  contentLength: 'content-length',
  contentDisposition: 'content-disposition',
  contentRange: 'content-range',
  transferEncoding: 'transfer-encoding',
  trailer: 'trailer',
  expect: 'expect',
  cacheControl: 'cache-control',
  acceptPatch: 'accept-patch',
  allow: 'allow',
  retryAfter: 'retry-after',
  range: 'range',
  acceptRanges: 'accept-ranges',
  connection: 'connection',
  origin: 'origin',
  vary: 'vary',
} as const

/** The tus protocol version this server speaks (tus 1.0.0 §Tus-Resumable). */
export const TUS_VERSION = '1.0.0'

/** tus 1.0.0 extension names, in the order the server advertises them. */
export const TUS_EXTENSIONS = [
  'creation',
  'creation-with-upload',
  'creation-defer-length',
  'expiration',
  'checksum',
  'checksum-trailer',
  'termination',
  'concatenation',
  'concatenation-unfinished',
] as const
export type TusExtension = (typeof TUS_EXTENSIONS)[number]

/** Checksum algorithms of the tus checksum extension (tus 1.0.0 §Checksum: sha1 is required). */
export const TUS_CHECKSUM_ALGORITHMS = ['sha1', 'sha256', 'md5'] as const
export type TusChecksumAlgorithm = (typeof TUS_CHECKSUM_ALGORITHMS)[number]

/** Digest algorithms of RFC 9530 that the server verifies (Repr-Digest, Content-Digest). */
export const DIGEST_ALGORITHMS = ['sha-256', 'sha-512'] as const
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number]

export const MEDIA_TYPE = {
  /** tus 1.0.0 §PATCH: the only media type of PATCH bodies. */
  offsetOctetStream: 'application/offset+octet-stream',
  /** draft-13 §6: the media type of upload append requests (interop 6 and later). */
  partialUpload: 'application/partial-upload',
  /** RFC 9457 problem details. */
  problemJson: 'application/problem+json',
  octetStream: 'application/octet-stream',
  textPlain: 'text/plain; charset=utf-8',
} as const

/** draft-13 §7: problem types. */
export const PROBLEM_TYPE = {
  mismatchingOffset: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
  inconsistentLength: 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length',
  /** draft-04..-11 only; removed in -12. */
  completedUpload: 'https://iana.org/assignments/http-problem-types#completed-upload',
} as const

/** draft-13 §5: 104 (Upload Resumption Supported). */
export const STATUS_UPLOAD_RESUMPTION_SUPPORTED = 104
export const REASON_UPLOAD_RESUMPTION_SUPPORTED = 'Upload Resumption Supported'
/** tus 1.0.0 §Checksum: 460 Checksum Mismatch (not registered with IANA). */
export const STATUS_CHECKSUM_MISMATCH = 460

/** Reason phrases for the status codes Ferry sends (the HTTP/1.1 status line). */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Continue',
  104: REASON_UPLOAD_RESUMPTION_SUPPORTED,
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  206: 'Partial Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  423: 'Locked',
  429: 'Too Many Requests',
  460: 'Checksum Mismatch',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
}

/** Headers browsers may read from cross-origin responses (draft and tus). */
export const CORS_EXPOSED_HEADERS = [
  H.location,
  H.uploadOffset,
  H.uploadLength,
  H.uploadComplete,
  H.uploadIncomplete,
  H.uploadLimit,
  H.uploadDraftInteropVersion,
  H.uploadMetadata,
  H.uploadDeferLength,
  H.uploadConcat,
  H.uploadExpires,
  H.tusResumable,
  H.tusVersion,
  H.tusExtension,
  H.tusMaxSize,
  H.tusChecksumAlgorithm,
  H.reprDigest,
  H.contentDigest,
  H.retryAfter,
] as const

/** Request headers browsers may send cross-origin. */
export const CORS_ALLOWED_HEADERS = [
  H.contentType,
  H.uploadOffset,
  H.uploadLength,
  H.uploadComplete,
  H.uploadIncomplete,
  H.uploadDraftInteropVersion,
  H.uploadMetadata,
  H.uploadDeferLength,
  H.uploadConcat,
  H.uploadChecksum,
  H.tusResumable,
  H.methodOverride,
  H.reprDigest,
  H.contentDigest,
  H.wantReprDigest,
  H.contentDisposition,
  'authorization',
  'x-request-id',
] as const
