/**
 * @module Plain data shared by the protocol core, the server and the stores: request heads,
 * response heads, the state of an upload, limits, dialects and intents.
 */

import type { MetadataPair } from './codec/tus.ts'
import type { DigestAlgorithm, TusChecksumAlgorithm } from './constants.ts'
import type { InteropFeatures } from './ietf-versions.ts'

/** Request header fields: lower-case names; repeated field lines joined with ", ". */
export type HeaderMap = Readonly<Record<string, string | undefined>>

/** What the protocol core sees of a request. */
export interface RequestHead {
  readonly method: string
  /** The URL path, percent-encoded as received, without query. */
  readonly path: string
  readonly headers: HeaderMap
  /**
   * Content of unknown length may follow: chunked on HTTP/1.1, or an HTTP/2 stream without
   * Content-Length that did not end with its headers. The adapter knows; the head does not.
   */
  readonly streamedBody?: boolean
}

/** A response head (and a small body) as the core renders it. */
export interface ResponseHead {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body?: string
}

/** A response the target resource produced on completion, kept for replay (draft-13 §4.4.2). */
export interface StoredResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

/** A digest a client asked the server to verify (RFC 9530). */
export interface Digest {
  readonly algorithm: DigestAlgorithm
  readonly value: Uint8Array
}

/** Concatenation state of an upload (tus 1.0.0 §Concatenation). */
export type ConcatState =
  | { readonly kind: 'partial' }
  | {
      readonly kind: 'final'
      /** Ids of the partial uploads, in order. */
      readonly parts: readonly string[]
      /** The Upload-Concat value as received at creation (echoed on HEAD). */
      readonly header: string
    }

/**
 * The state of one upload, as the store reports it. The store is the only source of truth
 * between requests: nothing of this is cached in the server.
 */
export interface UploadInfo {
  readonly id: string
  /** Bytes durably stored. Never decreases (draft-13 §4.1.1). */
  readonly offset: number
  /** The representation's length once known (declared or derived). */
  readonly length?: number
  /**
   * True once the upload is complete: for the draft, after a request with Upload-Complete: ?1
   * was fully processed (draft-13 §4.1.2); for tus, when offset reached a known length.
   */
  readonly complete: boolean
  /** Milliseconds since the epoch. */
  readonly createdAt: number
  /** Last time bytes were appended or the state changed (ms); drives expiration. */
  readonly updatedAt: number
  /** tus Upload-Metadata pairs as the client sent them. */
  readonly metadata?: readonly MetadataPair[]
  readonly concat?: ConcatState
  /** Representation metadata from the creation request (draft-13 §4.2.1). */
  readonly contentType?: string
  readonly filename?: string
  /** Repr-Digest values the client announced, verified on completion. */
  readonly reprDigests?: readonly Digest[]
  /** Want-Repr-Digest: digest algorithms to report on completion, most wanted first. */
  readonly wantReprDigest?: readonly DigestAlgorithm[]
  /** The final response, for replay to a client that lost it. */
  readonly finalResponse?: StoredResponse
  /** Set when the upload was deactivated (draft-13 §4.4.2: exceeding the length). */
  readonly invalid?: string
  /** tus semantics: complete as soon as the offset reaches the length (no explicit signal). */
  readonly completesAtLength?: boolean
}

/** Limits the server enforces and announces (draft-13 §4.1.4 Upload-Limit, tus Tus-Max-Size). */
export interface Limits {
  readonly maxSize?: number
  readonly minSize?: number
  readonly maxAppendSize?: number
  readonly minAppendSize?: number
  /** Lifetime of an incomplete upload after its last change, in milliseconds. */
  readonly expireAfterMs?: number
}

/** The protocol a request speaks. */
export type Dialect =
  | { readonly kind: 'tus'; readonly version: string | undefined }
  | { readonly kind: 'ietf'; readonly features: InteropFeatures }
  /** Neither protocol: a conventional HTTP request. `interopVersion` is an unsupported one. */
  | { readonly kind: 'plain'; readonly interopVersion?: number }

/** Where a request points. */
export type Target =
  | { readonly kind: 'endpoint' }
  | { readonly kind: 'upload'; readonly id: string }

/** A tus checksum to verify over the request content. */
export interface ChecksumRequest {
  readonly algorithm: TusChecksumAlgorithm
  readonly digest: Uint8Array
}

/** Facts about the request content that rules need. */
export interface ContentFacts {
  /** Content-Length, when the request has one (undefined for chunked or absent). */
  readonly contentLength?: number
  /** True when the request has (or may have) content: Content-Length > 0 or chunked. */
  readonly hasContent: boolean
  readonly checksum?: ChecksumRequest
  /** The checksum arrives as a trailer (tus checksum-trailer). */
  readonly checksumInTrailer: boolean
  /** Content-Digest of this request's content (RFC 9530). */
  readonly contentDigests?: readonly Digest[]
}

export interface CreateIntent {
  readonly kind: 'create'
  readonly content: ContentFacts
  /** Declared length (tus Upload-Length, draft Upload-Length). */
  readonly length?: number
  /** tus Upload-Defer-Length: 1. */
  readonly deferLength: boolean
  /** The request content is the whole representation (draft Upload-Complete: ?1, or plain). */
  readonly complete: boolean
  /** The client asked for a resumable upload (tus, or the draft with a supported version). */
  readonly resumable: boolean
  readonly metadata?: readonly MetadataPair[]
  readonly concat?:
    | { readonly kind: 'partial' }
    | { readonly kind: 'final'; readonly urls: readonly string[]; readonly header: string }
  readonly contentType?: string
  readonly filename?: string
  readonly reprDigests?: readonly Digest[]
  readonly wantReprDigest?: readonly DigestAlgorithm[]
}

export interface AppendIntent {
  readonly kind: 'append'
  readonly id: string
  readonly content: ContentFacts
  readonly offset: number
  /** Length declared by this request (Upload-Length). */
  readonly length?: number
  /** The draft's Upload-Complete of this request; always false for tus. */
  readonly complete: boolean
}

export type Intent =
  | { readonly kind: 'options'; readonly preflight: boolean }
  | CreateIntent
  | { readonly kind: 'retrieve'; readonly id: string }
  | AppendIntent
  | { readonly kind: 'cancel'; readonly id: string }
  | { readonly kind: 'download'; readonly id: string; readonly range?: string }
