/**
 * @module The upload state machine, pure: (state, event) → (state, step, effects). It decides
 * every request of both protocols — discovery, creation, offset retrieval, appends, termination —
 * and every wait between them. No I/O, timers, clock or randomness: time and the random number
 * for jitter arrive with each event (`Env`). The runtime (upload.ts) executes the steps and feeds
 * back what happened. Rules are cited from docs/decisions/0004-client.md and the specs.
 */
import type { ChecksumAlgorithm, DigestAlgorithm } from './hash.ts'
import {
  appendRequest,
  type Concat,
  createRequest,
  type Discovery,
  discoverRequest,
  featuresOf,
  INTEROP_CANDIDATES,
  type Limits,
  metadataProblem,
  NEWEST_INTEROP,
  type Protocol,
  protocolName,
  type Reading,
  type RequestHead,
  type ResponseHead,
  readDiscovery,
  readResponse,
  retrieveRequest,
  terminateRequest,
} from './protocols.ts'

export type ProtocolChoice = 'auto' | 'tus' | 'ietf'

export interface MachineConfig {
  /** The creation endpoint. Needed unless `uploadUrl` is given (then only for starting over). */
  readonly endpoint?: string
  /** Resume this upload (HEAD first). */
  readonly uploadUrl?: string
  /** The protocol of `uploadUrl` (from stored state); without it, `auto` discovers first. */
  readonly uploadProtocol?: Protocol
  /** @default 'auto' */
  readonly protocol?: ProtocolChoice
  /** Pin the draft's interop version (no step-down). */
  readonly interop?: number
  /** Total size; undefined when unknown (deferred length). */
  readonly size?: number
  /** Largest content of one request; undefined: everything in one request. */
  readonly chunkSize?: number
  /** Chunk size when the size is unknown and `chunkSize` is not set. @default 8 MiB */
  readonly streamChunkSize?: number
  readonly metadata?: Readonly<Record<string, string>>
  /** The transport shows 104 interim responses (optimistic draft creation). */
  readonly interim?: boolean
  /** How long an optimistic creation waits for the 104 before sending content. @default 1000 */
  readonly interimWaitMs?: number
  /** Attempts per failure streak (reset when the offset grows). @default 10 */
  readonly retries?: number
  /** @default 500 */
  readonly retryBaseMs?: number
  /** @default 30000 */
  readonly retryMaxMs?: number
  /** A cached OPTIONS answer for `endpoint`. */
  readonly discovery?: Discovery
  /**
   * tus: `Upload-Checksum` on every request with content (tus 1.0.0 §Checksum). The server must
   * list `checksum` in Tus-Extension and the algorithm in Tus-Checksum-Algorithm.
   */
  readonly checksum?: ChecksumAlgorithm
  /**
   * The draft: `Content-Digest` on every request with content, and `Repr-Digest` on the creation
   * when the source can be read twice (RFC 9530; draft-05 §15).
   */
  readonly digest?: DigestAlgorithm
  /** The source can be read twice (a file, bytes, a Blob): Repr-Digest before the creation. */
  readonly rereadable?: boolean
  /** Integrity failures (460, a Content-Digest mismatch) of one chunk sent again. @default 3 */
  readonly integrityRetries?: number
  /** tus concatenation: this upload is a partial upload, or the final one (parallel uploads). */
  readonly concat?: Concat
}

interface Resolved {
  readonly endpoint: string | undefined
  readonly protocol: ProtocolChoice
  readonly interop: number | undefined
  readonly chunkSize: number | undefined
  readonly streamChunkSize: number
  readonly metadata: Readonly<Record<string, string>>
  readonly interim: boolean
  readonly interimWaitMs: number
  readonly retries: number
  readonly retryBaseMs: number
  readonly retryMaxMs: number
  readonly checksum: ChecksumAlgorithm | undefined
  readonly digest: DigestAlgorithm | undefined
  readonly rereadable: boolean
  readonly integrityRetries: number
  readonly concat: Concat | undefined
}

/** What the machine does next. */
export type Need = 'discover' | 'create' | 'retrieve' | 'append'

/** The request in flight, as the machine asked for it. */
export interface Pending {
  readonly kind: 'discover' | 'create' | 'retrieve' | 'append' | 'terminate'
  readonly url: string
  /** Offset of the body's first byte. */
  readonly offset: number
  /** Body length (0: no body). */
  readonly length: number
  /** The request completes the upload. */
  readonly complete: boolean
  /** The request declares the length (Upload-Length on a deferred upload). */
  readonly declaresLength: boolean
  /** A 104 announced the upload (optimistic creation). */
  readonly announced: boolean
}

/** The data of the last `read` (unknown size): bytes ready at `offset`. */
export interface ReadChunk {
  readonly offset: number
  readonly length: number
  readonly eof: boolean
}

export type FailureCode =
  | 'ERR_CONFIG'
  | 'ERR_NO_COMMON_PROTOCOL'
  | 'ERR_TOO_LARGE'
  | 'ERR_UPLOAD_GONE'
  | 'ERR_FORBIDDEN'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_HTTP'
  | 'ERR_NETWORK'
  | 'ERR_PROTOCOL'
  | 'ERR_SOURCE'
  | 'ERR_MISMATCH'
  /** The server lacks what the upload needs (concatenation, a checksum algorithm). */
  | 'ERR_UNSUPPORTED'
  /** The server rejected the content as corrupted (460, Content-Digest) too many times. */
  | 'ERR_INTEGRITY'

/** Why an upload failed. */
export interface Failure {
  readonly code: FailureCode
  readonly message: string
  readonly status?: number
  readonly response?: ResponseHead
}

export interface MachineState {
  readonly config: Resolved
  readonly protocol: Protocol | undefined
  readonly discovery: Discovery | undefined
  readonly need: Need
  readonly url: string | undefined
  /** The acknowledged offset (from the server). */
  readonly offset: number
  readonly size: number | undefined
  /** The server knows the length (declared on creation, by an append, or reported by HEAD). */
  readonly lengthDeclared: boolean
  readonly limits: Limits
  /** The append limit after 413s. */
  readonly shrunk: number | undefined
  /** Failed attempts in the current streak. */
  readonly attempt: number
  /** Integrity failures of the current chunk (reset when the offset grows). */
  readonly integrityAttempt: number
  /** The next request asks the header provider for fresh credentials (after a 401). */
  readonly refresh: boolean
  /** A 401 was already answered with a refresh (reset by a 2xx). */
  readonly refreshed: boolean
  readonly chunk: ReadChunk | undefined
  readonly pending: Pending | undefined
  readonly expiresAt: number | undefined
  readonly lastError: Failure | undefined
  /** An abort with termination is under way (DELETE, retried like the rest). */
  readonly terminating: boolean
  readonly finished: boolean
}

/** Time and randomness, passed in with each event. */
export interface Env {
  /** Milliseconds since the epoch. */
  readonly now: number
  /** A number in [0, 1) for jitter. */
  readonly random: number
}

export type MachineEvent =
  | { readonly type: 'start' }
  /** After a pause: the request in flight was abandoned. */
  | { readonly type: 'resume' }
  | { readonly type: 'response'; readonly response: ResponseHead }
  | { readonly type: 'interim'; readonly response: ResponseHead }
  | { readonly type: 'network-error'; readonly message: string; readonly stalled?: boolean }
  | { readonly type: 'waited' }
  | {
      readonly type: 'read'
      readonly offset: number
      readonly length: number
      readonly eof: boolean
    }
  | { readonly type: 'source-error'; readonly message: string }
  /** Abort and delete the upload on the server. */
  | { readonly type: 'terminate' }

/** A request the runtime sends. */
export interface RequestSpec extends RequestHead {
  /** Source bytes to send as the body: [offset, offset + length), with Content-Length. */
  readonly body?: { readonly offset: number; readonly length: number }
  /** Send the head, then wait this long for a 104 before sending the body. */
  readonly waitForInterimMs?: number
  /** Ask the header provider for fresh credentials (`{ refresh: true }`). */
  readonly refreshHeaders?: boolean
  /** Integrity fields the runtime computes from the bytes before sending the request. */
  readonly integrity?: Integrity
}

/** Which digests a request carries; the runtime hashes the bytes and adds the fields. */
export interface Integrity {
  /** tus `Upload-Checksum` of the body. */
  readonly checksum?: ChecksumAlgorithm
  /** RFC 9530 `Content-Digest` of the body. */
  readonly contentDigest?: DigestAlgorithm
  /** RFC 9530 `Repr-Digest` of the whole source (bytes [0, size)). */
  readonly reprDigest?: DigestAlgorithm
}

export interface MachineResult {
  readonly url: string | undefined
  readonly protocol: Protocol
  readonly size: number
  readonly response: ResponseHead
  /** False when a draft server took the content as a plain (non-resumable) upload. */
  readonly resumable: boolean
}

export type Step =
  | {
      readonly kind: 'discover' | 'create' | 'retrieve' | 'append' | 'terminate'
      readonly request: RequestSpec
    }
  | { readonly kind: 'read'; readonly offset: number; readonly maxLength: number }
  | { readonly kind: 'wait'; readonly ms: number }
  | { readonly kind: 'done'; readonly result: MachineResult }
  | { readonly kind: 'fail'; readonly error: Failure }
  /** Terminated (or nothing to terminate): the runtime settles as aborted. */
  | { readonly kind: 'aborted' }
  /** Nothing new (an interim response): keep waiting for the request in flight. */
  | { readonly kind: 'continue' }

export type Effect =
  | { readonly kind: 'discovered'; readonly endpoint: string; readonly discovery: Discovery }
  | { readonly kind: 'protocol'; readonly protocol: Protocol }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'progress'; readonly acknowledged: number }
  /** Store (or refresh) the resumable state. */
  | {
      readonly kind: 'save'
      readonly url: string
      readonly protocol: Protocol
      readonly size: number | undefined
      readonly expiresAt: number | undefined
    }
  /** Drop the stored state (success, gone, terminated). */
  | { readonly kind: 'forget' }
  | {
      readonly kind: 'retry'
      readonly attempt: number
      readonly delayMs: number
      readonly reason: string
      readonly status?: number
      /** The server found the content corrupted: hash it again before sending it again. */
      readonly integrity?: boolean
    }

export interface Transition {
  readonly state: MachineState
  readonly step: Step
  readonly effects: readonly Effect[]
}

export const DEFAULT_STREAM_CHUNK = 8 * 1024 * 1024
const STALL_REASON = 'no sign of life'
const EXPIRY_SLACK_MS = 60_000

// ---------------------------------------------------------------------------------------------
// Creation of the state

/** The state before the first event. Configuration errors surface as `fail` on `start`. */
export function initialState(config: MachineConfig): MachineState {
  const protocol = config.uploadUrl === undefined ? undefined : config.uploadProtocol
  const pinned = config.protocol === 'tus' ? { kind: 'tus' as const } : undefined
  return {
    config: {
      endpoint: config.endpoint,
      protocol: config.protocol ?? 'auto',
      interop: config.interop,
      chunkSize: config.chunkSize,
      streamChunkSize: config.streamChunkSize ?? DEFAULT_STREAM_CHUNK,
      metadata: config.metadata ?? {},
      interim: config.interim ?? false,
      interimWaitMs: config.interimWaitMs ?? 1000,
      retries: config.retries ?? 10,
      retryBaseMs: config.retryBaseMs ?? 500,
      retryMaxMs: config.retryMaxMs ?? 30_000,
      checksum: config.checksum,
      digest: config.digest,
      rereadable: config.rereadable ?? false,
      integrityRetries: config.integrityRetries ?? 3,
      concat: config.concat,
    },
    protocol: protocol ?? (config.uploadUrl === undefined ? undefined : pinned),
    discovery: config.discovery,
    need: config.uploadUrl === undefined ? 'create' : 'retrieve',
    url: config.uploadUrl,
    offset: 0,
    size: config.size,
    lengthDeclared: false,
    limits: config.discovery?.limits ?? {},
    shrunk: undefined,
    attempt: 0,
    integrityAttempt: 0,
    refresh: false,
    refreshed: false,
    chunk: undefined,
    pending: undefined,
    expiresAt: undefined,
    lastError: undefined,
    terminating: false,
    finished: false,
  }
}

function configProblem(s: MachineState): string | undefined {
  const c = s.config
  if (c.endpoint === undefined && s.url === undefined)
    return 'an endpoint or an upload URL is needed'
  if (c.interop !== undefined) {
    if (!INTEROP_CANDIDATES.includes(c.interop)) {
      return `interop version ${c.interop} is not supported (${INTEROP_CANDIDATES.at(-1)}..${NEWEST_INTEROP})`
    }
    if (c.protocol === 'tus') return 'an interop version goes with the draft, not with tus'
  }
  if (s.size !== undefined && !(Number.isSafeInteger(s.size) && s.size >= 0)) {
    return `invalid size ${s.size}`
  }
  for (const [name, v] of [
    ['chunkSize', c.chunkSize],
    ['streamChunkSize', c.streamChunkSize],
  ] as const) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
      return `${name} must be a positive integer, got ${v}`
    }
  }
  if (c.checksum !== undefined && c.checksum !== 'sha1' && c.checksum !== 'sha256') {
    return `checksum must be sha1 or sha256, got ${String(c.checksum)}`
  }
  if (c.digest !== undefined && c.digest !== 'sha-256' && c.digest !== 'sha-512') {
    return `digest must be sha-256 or sha-512, got ${String(c.digest)}`
  }
  const draft = c.protocol === 'ietf' || c.interop !== undefined
  if (c.concat !== undefined) {
    if (draft) {
      return 'parallel uploads need tus concatenation; the IETF draft has no concatenation'
    }
    if (c.concat.kind === 'partial' && s.size === undefined) {
      return 'parallel uploads need the size up front'
    }
  }
  if (c.checksum !== undefined && c.digest === undefined && draft) {
    return 'checksum (Upload-Checksum) belongs to tus; with the IETF draft use digest'
  }
  if (c.digest !== undefined && c.checksum === undefined && c.protocol === 'tus') {
    return 'digest (Content-Digest, Repr-Digest) belongs to the IETF draft; with tus use checksum'
  }
  return metadataProblem(c.metadata)
}

/** OPTIONS is needed before anything else: to check the server's tus extensions. */
function needsDiscovery(s: MachineState): boolean {
  const c = s.config
  if (s.discovery !== undefined || c.protocol === 'ietf' || c.interop !== undefined) return false
  return c.concat !== undefined || c.checksum !== undefined
}

/** What the chosen protocol and server lack for this upload, as a failure (0004: up front). */
function featureProblem(s: MachineState, p: Protocol): Failure | undefined {
  const c = s.config
  const unsupported = (message: string): Failure => ({ code: 'ERR_UNSUPPORTED', message })
  if (p.kind === 'ietf') {
    if (c.concat !== undefined) {
      return unsupported(
        'parallel uploads need tus concatenation, and the server speaks the IETF draft, which has none',
      )
    }
    if (c.checksum !== undefined && c.digest === undefined) {
      return unsupported(
        `the server speaks the IETF draft, which has no tus checksums: use digest instead of checksum ${c.checksum}`,
      )
    }
    return undefined
  }
  const d = s.discovery
  const extensions = d?.tusExtensions ?? []
  const offered = extensions.length === 0 ? 'none' : extensions.join(', ')
  if (c.concat !== undefined && !extensions.includes('concatenation')) {
    return unsupported(
      `parallel uploads need tus concatenation, which the server does not offer (Tus-Extension: ${offered})`,
    )
  }
  if (c.checksum !== undefined) {
    if (!extensions.includes('checksum')) {
      return unsupported(
        `checksum ${c.checksum} needs the tus checksum extension, which the server does not offer (Tus-Extension: ${offered})`,
      )
    }
    const algorithms = d?.checksumAlgorithms ?? []
    if (!algorithms.includes(c.checksum)) {
      return unsupported(
        `the server does not offer the checksum algorithm ${c.checksum} (Tus-Checksum-Algorithm: ${
          algorithms.length === 0 ? 'none' : algorithms.join(', ')
        })`,
      )
    }
  } else if (c.digest !== undefined) {
    return unsupported(
      `the server speaks tus, which has no Content-Digest / Repr-Digest: use checksum instead of digest ${c.digest}`,
    )
  }
  return undefined
}

/** The integrity fields of a request with `length` bytes of content (undefined: none). */
function integrityOf(
  s: MachineState,
  p: Protocol,
  length: number,
  creation: boolean,
): Integrity | undefined {
  const c = s.config
  if (p.kind === 'tus') {
    return c.checksum !== undefined && length > 0 ? { checksum: c.checksum } : undefined
  }
  if (c.digest === undefined) return undefined
  const out: { -readonly [K in keyof Integrity]: Integrity[K] } = {}
  if (length > 0) out.contentDigest = c.digest
  // draft-05 §15: Repr-Digest of the whole representation, known before it is sent only when
  // the source can be read twice and its size is known.
  if (creation && c.rereadable && s.size !== undefined) out.reprDigest = c.digest
  return out.contentDigest === undefined && out.reprDigest === undefined ? undefined : out
}

// ---------------------------------------------------------------------------------------------
// The transition function

/** The next step after `event`. */
export function next(state: MachineState, event: MachineEvent, env: Env): Transition {
  if (state.finished) return { state, step: { kind: 'aborted' }, effects: [] }
  switch (event.type) {
    case 'start': {
      const problem = configProblem(state)
      if (problem !== undefined) return fail(state, { code: 'ERR_CONFIG', message: problem })
      return proceed(state, [])
    }
    case 'resume':
      // The request in flight was abandoned: its fate is unknown, so ask the server.
      return proceed(
        { ...state, pending: undefined, need: state.url === undefined ? state.need : 'retrieve' },
        [],
      )
    case 'waited':
      return proceed(state, [])
    case 'read': {
      const chunk: ReadChunk = { offset: event.offset, length: event.length, eof: event.eof }
      const size = event.eof ? event.offset + event.length : state.size
      return proceed({ ...state, chunk, size }, [])
    }
    case 'source-error':
      return fail(state, { code: 'ERR_SOURCE', message: event.message })
    case 'terminate':
      return proceed({ ...state, terminating: true, pending: undefined }, [])
    case 'interim':
      return onInterim(state, event.response, env)
    case 'network-error':
      return onTransientFailure(
        state,
        env,
        event.stalled === true ? `${STALL_REASON}: ${event.message}` : event.message,
        undefined,
      )
    case 'response':
      return onResponse(state, event.response, env)
  }
}

// ---------------------------------------------------------------------------------------------
// Planning: the next request from the state

function proceed(s: MachineState, effects: Effect[]): Transition {
  if (s.terminating) {
    if (s.url === undefined || s.protocol === undefined) {
      return { state: { ...s, finished: true }, step: { kind: 'aborted' }, effects }
    }
    return request(s, 'terminate', terminateRequest(s.protocol, s.url), noBody(), effects)
  }
  if (needsDiscovery(s)) {
    const target = s.config.endpoint ?? s.url
    if (target === undefined) return fail(s, { code: 'ERR_CONFIG', message: 'no endpoint' })
    return request(s, 'discover', discoverRequest(target), noBody(), effects)
  }
  if (s.protocol === undefined) {
    const chosen = choose(s, s.discovery)
    if (chosen === 'discover') {
      const target = s.config.endpoint ?? s.url
      if (target === undefined) return fail(s, { code: 'ERR_CONFIG', message: 'no endpoint' })
      return request(s, 'discover', discoverRequest(target), noBody(), effects)
    }
    return proceed({ ...s, protocol: chosen }, [...effects, { kind: 'protocol', protocol: chosen }])
  }
  const p = s.protocol
  const missing = featureProblem(s, p)
  if (missing !== undefined) return fail(s, missing, effects)
  const max = s.limits.maxSize
  if (s.size !== undefined && max !== undefined && s.size > max) {
    return fail(
      s,
      { code: 'ERR_TOO_LARGE', message: `${s.size} bytes exceed the server's limit of ${max}` },
      effects,
    )
  }
  switch (s.need) {
    case 'discover':
    case 'create':
      return planCreate(s, p, effects)
    case 'retrieve': {
      if (s.url === undefined) return planCreate({ ...s, need: 'create' }, p, effects)
      return request(s, 'retrieve', retrieveRequest(p, s.url), noBody(), effects)
    }
    case 'append':
      return planAppend(s, p, effects)
  }
}

/** The protocol to use, or 'discover' when OPTIONS must be asked first. */
function choose(s: MachineState, d: Discovery | undefined): Protocol | 'discover' {
  const c = s.config
  const ietf: Protocol = { kind: 'ietf', interop: c.interop ?? NEWEST_INTEROP }
  if (c.protocol === 'tus') return { kind: 'tus' }
  if (c.protocol === 'ietf') return ietf
  if (c.interop !== undefined) return ietf
  if (d === undefined) return 'discover'
  // 0004: Tus-Version with 1.0.0 → tus (broadest support); otherwise the draft, newest first
  // (a server that answers OPTIONS without either still gets the draft, stepping down).
  if (d.tus) return { kind: 'tus' }
  return ietf
}

/** A request without content (its kind is set by `request`). */
function noBody(): Omit<Pending, 'url' | 'announced'> {
  return { kind: 'retrieve', offset: 0, length: 0, complete: false, declaresLength: false }
}

/** Largest content of the next request. */
function appendLimit(s: MachineState): number {
  const c = s.config
  let limit = c.chunkSize ?? (s.size === undefined ? c.streamChunkSize : Infinity)
  const { maxAppendSize, minAppendSize } = s.limits
  if (s.shrunk !== undefined) limit = Math.min(limit, s.shrunk)
  // draft-13 §4.1.4: appends other than the last are at least min-append-size …
  if (minAppendSize !== undefined) limit = Math.max(limit, minAppendSize)
  // … and none exceeds max-append-size (which wins when the two conflict).
  if (maxAppendSize !== undefined) limit = Math.min(limit, maxAppendSize)
  return Math.max(1, limit)
}

/** The bytes of the next request at `offset`: a range, or a `read` first (unknown size). */
function range(
  s: MachineState,
  offset: number,
): { length: number; complete: boolean } | { read: number } {
  const limit = appendLimit(s)
  if (s.size !== undefined) {
    const length = Math.min(limit, s.size - offset)
    return { length, complete: offset + length === s.size }
  }
  if (s.chunk !== undefined && s.chunk.offset === offset) {
    return { length: s.chunk.length, complete: s.chunk.eof }
  }
  return { read: Number.isFinite(limit) ? limit : s.config.streamChunkSize }
}

function planCreate(s: MachineState, p: Protocol, effects: Effect[]): Transition {
  const endpoint = s.config.endpoint
  if (endpoint === undefined) {
    return fail(s, { code: 'ERR_CONFIG', message: 'cannot create an upload without an endpoint' })
  }
  const base = { ...s, need: 'create' as const, url: undefined, offset: 0, lengthDeclared: false }
  const meta = s.config.metadata
  if (p.kind === 'tus') {
    // Careful creation for tus: the URL is known before any content is sent (a creation with
    // content reveals it only at the end). creation-defer-length must be offered when needed.
    const ext = s.discovery?.tusExtensions
    if (s.size === undefined && ext !== undefined && !ext.includes('creation-defer-length')) {
      return fail(s, {
        code: 'ERR_PROTOCOL',
        message: 'the size is unknown and the server does not offer creation-defer-length',
      })
    }
    const concat = s.config.concat
    const head = createRequest(p, endpoint, {
      size: s.size,
      contentLength: 0,
      complete: false,
      metadata: meta,
      ...(concat === undefined ? {} : { concat }),
    })
    return request(
      base,
      'create',
      head,
      {
        kind: 'create',
        offset: 0,
        length: 0,
        // tus 1.0.0 §Concatenation: the final upload is complete once its parts are.
        complete: s.size === 0 || concat?.kind === 'final',
        declaresLength: s.size !== undefined,
      },
      effects,
    )
  }
  if (!s.config.interim) {
    // draft-13 §10.2 (careful): an empty creation, then appends. Complete at once when empty.
    const complete = s.size === 0
    const head = createRequest(p, endpoint, {
      size: s.size,
      contentLength: 0,
      complete,
      metadata: meta,
    })
    const integrity = integrityOf(base, p, 0, true)
    return request(
      base,
      'create',
      integrity === undefined ? head : { ...head, integrity },
      { kind: 'create', offset: 0, length: 0, complete, declaresLength: s.size !== undefined },
      effects,
    )
  }
  // draft-13 §10.1 (optimistic): content in the creation; the 104 makes it resumable.
  const r = range(base, 0)
  if ('read' in r) return readStep(base, 0, r.read, effects)
  const head = createRequest(p, endpoint, {
    size: base.size,
    contentLength: r.length,
    complete: r.complete,
    metadata: meta,
  })
  const integrity = integrityOf(base, p, r.length, true)
  const spec: RequestSpec = {
    ...head,
    body: { offset: 0, length: r.length },
    ...(r.length > 0 ? { waitForInterimMs: s.config.interimWaitMs } : {}),
    ...(integrity === undefined ? {} : { integrity }),
  }
  return request(
    base,
    'create',
    spec,
    {
      kind: 'create',
      offset: 0,
      length: r.length,
      complete: r.complete,
      declaresLength: base.size !== undefined,
    },
    effects,
  )
}

function planAppend(s: MachineState, p: Protocol, effects: Effect[]): Transition {
  const url = s.url
  if (url === undefined) return planCreate({ ...s, need: 'create' }, p, effects)
  if (s.config.concat?.kind === 'final') {
    // tus 1.0.0 §Concatenation: a final upload takes no PATCH.
    return fail(
      s,
      {
        code: 'ERR_PROTOCOL',
        message: `the final upload ${url} is not complete, although its partial uploads are`,
      },
      effects,
    )
  }
  const r = range(s, s.offset)
  if ('read' in r) return readStep(s, s.offset, r.read, effects)
  const size = s.size
  // The completing request of a deferred upload carries the length (tus 1.0.0
  // §creation-defer-length: "once known"; draft-13 §4.1.3).
  const declare = r.complete && !s.lengthDeclared && size !== undefined ? size : undefined
  const head = appendRequest(p, url, {
    offset: s.offset,
    complete: r.complete,
    declareLength: declare,
  })
  const integrity = integrityOf(s, p, r.length, false)
  return request(
    s,
    'append',
    {
      ...head,
      body: { offset: s.offset, length: r.length },
      ...(integrity === undefined ? {} : { integrity }),
    },
    {
      kind: 'append',
      offset: s.offset,
      length: r.length,
      complete: r.complete,
      declaresLength: declare !== undefined,
    },
    effects,
  )
}

function readStep(s: MachineState, offset: number, max: number, effects: Effect[]): Transition {
  return {
    state: { ...s, pending: undefined },
    step: { kind: 'read', offset, maxLength: max },
    effects,
  }
}

function request(
  s: MachineState,
  kind: Pending['kind'],
  head: RequestSpec,
  pending: Omit<Pending, 'url' | 'announced'>,
  effects: Effect[] = [],
): Transition {
  const spec: RequestSpec = s.refresh ? { ...head, refreshHeaders: true } : head
  const need: Need = kind === 'terminate' ? s.need : kind
  return {
    state: {
      ...s,
      need,
      refresh: false,
      pending: { ...pending, kind, url: head.url, announced: false },
    },
    step: { kind, request: spec },
    effects,
  }
}

// ---------------------------------------------------------------------------------------------
// Outcomes

function fail(s: MachineState, error: Failure, effects: Effect[] = []): Transition {
  return {
    state: { ...s, finished: true, lastError: error, pending: undefined },
    step: { kind: 'fail', error },
    effects,
  }
}

function done(s: MachineState, response: ResponseHead, resumable = true): Transition {
  const p = s.protocol ?? { kind: 'tus' }
  const size = s.size ?? s.offset
  const effects: Effect[] = []
  if (s.offset !== size) effects.push({ kind: 'progress', acknowledged: size })
  effects.push({ kind: 'forget' })
  return {
    state: { ...s, offset: size, finished: true, pending: undefined },
    step: { kind: 'done', result: { url: s.url, protocol: p, size, response, resumable } },
    effects,
  }
}

/** Applies a new acknowledged offset: progress resets the retry budget (0004). */
function acknowledge(s: MachineState, offset: number, effects: Effect[]): MachineState {
  if (offset === s.offset) return s
  effects.push({ kind: 'progress', acknowledged: offset })
  return offset > s.offset ? { ...s, offset, attempt: 0, integrityAttempt: 0 } : { ...s, offset }
}

/** Saves the resumable state when the URL or the expiry changed. */
function remember(
  s: MachineState,
  url: string,
  expiresAt: number | undefined,
  effects: Effect[],
): MachineState {
  const p = s.protocol
  if (p === undefined) return s
  // A sliding lifetime (max-age counts down) moves the expiry by seconds on every response:
  // only a change of more than a minute is worth writing to the storage.
  const moved =
    expiresAt !== undefined &&
    (s.expiresAt === undefined || Math.abs(expiresAt - s.expiresAt) > EXPIRY_SLACK_MS)
  const next = { ...s, url, expiresAt: moved ? expiresAt : s.expiresAt }
  if (url !== s.url) effects.push({ kind: 'url', url })
  if (url !== s.url || moved) {
    effects.push({ kind: 'save', url, protocol: p, size: s.size, expiresAt: next.expiresAt })
  }
  return next
}

function mergeLimits(s: MachineState, r: Reading): MachineState {
  return r.limits === undefined ? s : { ...s, limits: { ...s.limits, ...r.limits } }
}

function describe(response: ResponseHead): string {
  const body = (response.body ?? '').trim().replace(/\s+/g, ' ')
  return body === '' ? `HTTP ${response.status}` : `HTTP ${response.status}: ${body.slice(0, 200)}`
}

/** A network error, a stall, a 5xx, 408, 423, 429 or 409: back off, then ask or try again. */
function onTransientFailure(
  s: MachineState,
  env: Env,
  reason: string,
  response: ResponseHead | undefined,
  retryAfterMs?: number,
): Transition {
  const pending = s.pending
  const error: Failure =
    response === undefined
      ? { code: 'ERR_NETWORK', message: reason }
      : { code: 'ERR_HTTP', message: reason, status: response.status, response }
  const attempt = s.attempt + 1
  if (attempt > s.config.retries) {
    const what = pending === undefined ? 'request' : pending.kind
    return fail(s, {
      ...error,
      message: `${what} failed after ${s.config.retries} retries: ${reason}`,
    })
  }
  // Exponential backoff with full jitter; Retry-After is a floor.
  const ceiling = Math.min(s.config.retryMaxMs, s.config.retryBaseMs * 2 ** (attempt - 1))
  const delayMs = Math.max(Math.floor(env.random * ceiling), retryAfterMs ?? 0)
  // What to do after the wait: the fate of an append (or an announced creation) is unknown.
  let need: Need = s.need
  if (pending !== undefined) {
    switch (pending.kind) {
      case 'discover':
        need = 'discover'
        break
      case 'create':
        need = s.url === undefined ? 'create' : 'retrieve'
        break
      case 'retrieve':
      case 'append':
        need = 'retrieve'
        break
      case 'terminate':
        need = s.need
        break
    }
  }
  const effects: Effect[] = [
    {
      kind: 'retry',
      attempt,
      delayMs,
      reason,
      ...(response === undefined ? {} : { status: response.status }),
    },
  ]
  return {
    state: { ...s, attempt, need, lastError: error, pending: undefined },
    step: { kind: 'wait', ms: delayMs },
    effects,
  }
}

const TRANSIENT = new Set([408, 423, 429])

function onInterim(s: MachineState, head: ResponseHead, env: Env): Transition {
  const p = s.protocol
  const pending = s.pending
  // Only the draft's 104 (Upload Resumption Supported) means anything here.
  if (p === undefined || p.kind !== 'ietf' || head.status !== 104 || pending === undefined) {
    return { state: s, step: { kind: 'continue' }, effects: [] }
  }
  const r = readResponse(p, head, pending.url, env.now)
  const effects: Effect[] = []
  let next = mergeLimits(s, r)
  if (pending.kind === 'create' && r.location !== undefined) {
    // draft-13 §4.2.2: the 104 carries the upload resource's URL: resumable from now on.
    next = remember(next, r.location, r.expiresAt, effects)
    next = { ...next, pending: { ...pending, announced: true } }
  }
  if (r.offset !== undefined && next.url !== undefined && r.offset > next.offset) {
    // draft-13 §4.4.2: progress 104s carry the offset the server has received.
    next = acknowledge(next, r.offset, effects)
  }
  return { state: next, step: { kind: 'continue' }, effects }
}

function onResponse(s: MachineState, response: ResponseHead, env: Env): Transition {
  const pending = s.pending
  const p = s.protocol
  if (pending === undefined)
    return fail(s, { code: 'ERR_PROTOCOL', message: 'unexpected response' })
  if (pending.kind === 'discover') return onDiscovery(s, response, env)
  if (p === undefined) return fail(s, { code: 'ERR_PROTOCOL', message: 'no protocol' })
  const status = response.status
  const r = readResponse(p, response, pending.url, env.now)
  let st = mergeLimits(s, r)
  if (status >= 200 && status < 300) st = { ...st, refreshed: false }

  if (pending.kind === 'terminate') {
    // tus §Termination: 204; a gone upload is as good as terminated.
    if ((status >= 200 && status < 300) || status === 404 || status === 410) {
      return {
        state: { ...st, finished: true },
        step: { kind: 'aborted' },
        effects: [{ kind: 'forget' }],
      }
    }
    if (status >= 500 || TRANSIENT.has(status)) {
      return onTransientFailure(st, env, describe(response), response, r.retryAfterMs)
    }
    return fail(st, {
      code: 'ERR_HTTP',
      message: `termination failed: ${describe(response)}`,
      status,
      response,
    })
  }

  // Shared answers (every request but discovery and termination).
  if (status === 401) {
    // 0004: ask the header provider for fresh credentials, then try once more.
    if (st.refreshed) {
      return fail(st, {
        code: 'ERR_UNAUTHORIZED',
        message: `unauthorized even with refreshed credentials: ${describe(response)}`,
        status,
        response,
      })
    }
    const need: Need = pending.kind === 'create' && st.url === undefined ? 'create' : st.need
    return proceed({ ...st, refresh: true, refreshed: true, need, pending: undefined }, [])
  }
  if (status >= 500 || TRANSIENT.has(status)) {
    return onTransientFailure(st, env, describe(response), response, r.retryAfterMs)
  }

  switch (pending.kind) {
    case 'create':
      return onCreated(st, p, pending, response, r)
    case 'retrieve':
      return onRetrieved(st, p, response, r)
    case 'append':
      return onAppended(st, p, pending, response, r, env)
  }
}

function onDiscovery(s: MachineState, response: ResponseHead, env: Env): Transition {
  const status = response.status
  if (status >= 500 || TRANSIENT.has(status)) {
    return onTransientFailure(s, env, describe(response), response)
  }
  const target = s.pending?.url ?? ''
  // A server without OPTIONS (older drafts did not require it) is tried with the draft.
  const discovery: Discovery =
    status >= 200 && status < 300
      ? readDiscovery(response)
      : { tus: false, tusExtensions: [], ietf: false, limits: {} }
  const effects: Effect[] = [{ kind: 'discovered', endpoint: target, discovery }]
  const chosen = choose(s, discovery)
  // A resumed upload keeps its protocol (discovery was only asked for the server's extensions).
  const protocol: Protocol = s.protocol ?? (chosen === 'discover' ? { kind: 'tus' } : chosen)
  if (s.protocol === undefined) effects.push({ kind: 'protocol', protocol })
  return proceed(
    {
      ...s,
      discovery,
      protocol,
      limits: { ...s.limits, ...discovery.limits },
      pending: undefined,
      need: s.url === undefined ? 'create' : 'retrieve',
    },
    effects,
  )
}

/** draft: the next older interop version, when stepping down is allowed. */
function stepDown(s: MachineState, p: Protocol, response: ResponseHead): Transition {
  const version = p.kind === 'ietf' ? p.interop : undefined
  const pinned = s.config.interop !== undefined
  const older = INTEROP_CANDIDATES.filter((v) => version !== undefined && v < version)[0]
  if (pinned || older === undefined || version === undefined) {
    const tried = pinned ? `interop ${version}` : `interop ${NEWEST_INTEROP} down to ${version}`
    return fail(s, {
      code: 'ERR_NO_COMMON_PROTOCOL',
      message: `no common protocol: the server answered the draft's upload creation (${tried}) without ${
        version === undefined ? 'the completion field' : featuresOf(version).completionField
      } (last answer: ${describe(response)})`,
      status: response.status,
      response,
    })
  }
  const protocol: Protocol = { kind: 'ietf', interop: older }
  return proceed(
    { ...s, protocol, url: undefined, offset: 0, need: 'create', pending: undefined },
    [{ kind: 'protocol', protocol }],
  )
}

function onCreated(
  s: MachineState,
  p: Protocol,
  pending: Pending,
  response: ResponseHead,
  r: Reading,
): Transition {
  const status = response.status
  const ok = status >= 200 && status < 300
  const effects: Effect[] = []
  if (isDigestMismatch(s, p, pending, response, r)) {
    return onIntegrityFailure(s, response, s.url === undefined ? 'create' : 'retrieve')
  }
  if (p.kind === 'ietf' && r.complete === undefined && status !== 403 && status !== 413) {
    // 0004: a creation answered without this version's completion field comes from a server
    // that does not know the version. A 2xx to a request that carried everything is a finished
    // (plain, non-resumable) upload; anything else steps down to the next older version.
    if (ok && pending.complete) {
      return done({ ...s, offset: pending.offset + pending.length }, response, false)
    }
    if (!pending.announced) return stepDown(s, p, response)
  }
  if (!ok) {
    if (status === 413) return onTooLarge(s, pending, response)
    if (status === 403) {
      return fail(s, {
        code: 'ERR_FORBIDDEN',
        message: `creation refused: ${describe(response)}`,
        status,
        response,
      })
    }
    if (pending.announced && s.url !== undefined) {
      // The upload exists (104); ask it where it stands.
      return proceed({ ...s, need: 'retrieve', pending: undefined }, effects)
    }
    return fail(s, {
      code: 'ERR_HTTP',
      message: `creation failed: ${describe(response)}`,
      status,
      response,
    })
  }
  const url = r.location ?? s.url
  let st: MachineState = { ...s, pending: undefined, lengthDeclared: pending.declaresLength }
  if (url !== undefined) st = remember(st, url, r.expiresAt, effects)
  if (p.kind === 'ietf' && r.complete === true) {
    return withEffects(done(st, response), effects)
  }
  if (url === undefined) {
    return fail(
      st,
      {
        code: 'ERR_PROTOCOL',
        message: `the creation response has no Location (${describe(response)})`,
        status,
        response,
      },
      effects,
    )
  }
  if (p.kind === 'tus') {
    if (s.config.concat?.kind === 'final') {
      // tus 1.0.0 §Concatenation: the final upload is created from complete partial uploads.
      return withEffects(done(st, response), effects)
    }
    const offset = r.offset ?? 0
    st = acknowledge(st, offset, effects)
    if (st.size !== undefined && pending.declaresLength && offset === st.size) {
      return withEffects(done(st, response), effects)
    }
    return proceed({ ...st, need: 'append' }, effects)
  }
  // draft ?0: the offset the server has; without it, ask.
  if (r.offset === undefined) return proceed({ ...st, need: 'retrieve' }, effects)
  st = acknowledge(st, r.offset, effects)
  return proceed({ ...st, need: 'append' }, effects)
}

function onRetrieved(s: MachineState, p: Protocol, response: ResponseHead, r: Reading): Transition {
  const status = response.status
  const effects: Effect[] = []
  if (status === 404 || status === 410) {
    // 0004: only "gone" starts over (tus-js-client #895: never on a 5xx).
    effects.push({ kind: 'forget' })
    if (s.config.endpoint === undefined) {
      return fail(
        s,
        {
          code: 'ERR_UPLOAD_GONE',
          message: `the upload is gone (${describe(response)})`,
          status,
          response,
        },
        effects,
      )
    }
    const fresh: MachineState = {
      ...s,
      url: undefined,
      offset: 0,
      lengthDeclared: false,
      need: 'create',
      pending: undefined,
      chunk: undefined,
      expiresAt: undefined,
    }
    if (s.offset > 0) effects.push({ kind: 'progress', acknowledged: 0 })
    return proceed(fresh, effects)
  }
  if (status === 403) {
    return fail(s, {
      code: 'ERR_FORBIDDEN',
      message: `offset retrieval refused: ${describe(response)}`,
      status,
      response,
    })
  }
  if (status < 200 || status >= 300) {
    return fail(s, {
      code: 'ERR_HTTP',
      message: `offset retrieval failed: ${describe(response)}`,
      status,
      response,
    })
  }
  if (r.offset === undefined) {
    return fail(s, {
      code: 'ERR_PROTOCOL',
      message: 'the offset retrieval response has no Upload-Offset',
      status,
      response,
    })
  }
  let st: MachineState = { ...s, pending: undefined }
  if (r.length !== undefined) {
    if (st.size !== undefined && r.length !== st.size) {
      return fail(st, {
        code: 'ERR_MISMATCH',
        message: `the upload at ${st.url} has length ${r.length}, the source ${st.size} bytes`,
        status,
        response,
      })
    }
    st = { ...st, size: st.size ?? r.length, lengthDeclared: true }
  }
  if (st.url !== undefined && r.expiresAt !== undefined)
    st = remember(st, st.url, r.expiresAt, effects)
  // draft-13 §4.3.1: the offset is used as given, even when larger than what was sent.
  if (st.size !== undefined && r.offset > st.size) {
    return fail(st, {
      code: 'ERR_MISMATCH',
      message: `the server's offset ${r.offset} is beyond the size ${st.size}`,
      status,
      response,
    })
  }
  st = acknowledge(st, r.offset, effects)
  if (p.kind === 'ietf') {
    if (r.complete === true) return withEffects(done(st, response), effects)
    if (r.complete === undefined) {
      return fail(st, {
        code: 'ERR_PROTOCOL',
        message: `the offset retrieval response has no ${featuresOf(p.interop).completionField}`,
        status,
        response,
      })
    }
  } else if (st.lengthDeclared && st.size !== undefined && r.offset === st.size) {
    // tus 1.0.0 §HEAD: complete when the offset reaches a known length.
    return withEffects(done(st, response), effects)
  }
  return proceed({ ...st, need: 'append' }, effects)
}

function onAppended(
  s: MachineState,
  p: Protocol,
  pending: Pending,
  response: ResponseHead,
  r: Reading,
  env: Env,
): Transition {
  const status = response.status
  const effects: Effect[] = []
  if (status === 409) {
    // 0004: a conflict (offset mismatch, a lock) → ask the offset, after a backoff.
    return onTransientFailure(s, env, describe(response), response, r.retryAfterMs)
  }
  if (status === 413) return onTooLarge(s, pending, response)
  if (status === 460 && p.kind === 'tus' && s.config.checksum !== undefined) {
    // tus 1.0.0 §Checksum: the chunk was discarded and the offset did not move: send it again.
    return onIntegrityFailure(s, response, 'append')
  }
  if (isDigestMismatch(s, p, pending, response, r)) {
    // The draft does not say what the server kept: ask, then send again.
    return onIntegrityFailure(s, response, 'retrieve')
  }
  if (status === 404 || status === 410) {
    // Gone, or completed already (draft-09..-11 answer 410 to appends to completed uploads):
    // the offset retrieval tells which.
    return proceed({ ...s, need: 'retrieve', pending: undefined }, effects)
  }
  if (status === 403) {
    return fail(s, {
      code: 'ERR_FORBIDDEN',
      message: `append refused: ${describe(response)}`,
      status,
      response,
    })
  }
  if (status < 200 || status >= 300) {
    return fail(s, {
      code: 'ERR_HTTP',
      message: `append failed: ${describe(response)}`,
      status,
      response,
    })
  }
  let st: MachineState = {
    ...s,
    pending: undefined,
    lengthDeclared: s.lengthDeclared || pending.declaresLength,
  }
  if (st.url !== undefined && r.expiresAt !== undefined)
    st = remember(st, st.url, r.expiresAt, effects)
  if (p.kind === 'tus') {
    if (r.offset === undefined) {
      return fail(
        st,
        {
          code: 'ERR_PROTOCOL',
          message: 'the PATCH response has no Upload-Offset',
          status,
          response,
        },
        effects,
      )
    }
    st = acknowledge(st, r.offset, effects)
    if (st.lengthDeclared && st.size !== undefined && r.offset === st.size) {
      return withEffects(done(st, response), effects)
    }
    return proceed(
      { ...st, need: r.offset === pending.offset + pending.length ? 'append' : 'retrieve' },
      effects,
    )
  }
  // draft: completion is what Upload-Complete says, never a length comparison.
  if (r.complete === true) {
    if (r.offset !== undefined) st = acknowledge(st, r.offset, effects)
    return withEffects(done(st, response), effects)
  }
  if (r.complete === undefined) {
    // A 2xx without the completion field: ask rather than guess.
    return proceed({ ...st, need: 'retrieve' }, effects)
  }
  if (pending.complete) {
    // We said ?1 and the server says ?0: it did not take everything; ask where it stands.
    return proceed({ ...st, need: 'retrieve' }, effects)
  }
  st = acknowledge(st, r.offset ?? pending.offset + pending.length, effects)
  return proceed({ ...st, need: 'append' }, effects)
}

/**
 * A draft server's answer to a Content-Digest that did not match: RFC 9530 defines no status,
 * Ferry answers 400 and names the digest. A 400 whose body mentions a digest, to a request that
 * carried Content-Digest, and that did not complete the upload (a Repr-Digest mismatch fails the
 * whole upload, draft-05 §15), counts as a corrupted transfer.
 */
function isDigestMismatch(
  s: MachineState,
  p: Protocol,
  pending: Pending,
  response: ResponseHead,
  r: Reading,
): boolean {
  return (
    p.kind === 'ietf' &&
    s.config.digest !== undefined &&
    response.status === 400 &&
    pending.length > 0 &&
    r.complete !== true &&
    /digest/i.test(response.body ?? '')
  )
}

/** Content rejected as corrupted (460, Content-Digest): sent again, a bounded number of times. */
function onIntegrityFailure(s: MachineState, response: ResponseHead, need: Need): Transition {
  const attempt = s.integrityAttempt + 1
  if (attempt > s.config.integrityRetries) {
    return fail(s, {
      code: 'ERR_INTEGRITY',
      message: `the server rejected the content as corrupted ${attempt} times in a row: ${describe(response)}`,
      status: response.status,
      response,
    })
  }
  return proceed({ ...s, integrityAttempt: attempt, need, pending: undefined }, [
    {
      kind: 'retry',
      attempt,
      delayMs: 0,
      reason: `integrity check failed: ${describe(response)}`,
      status: response.status,
      integrity: true,
    },
  ])
}

/** 413: halve the append (never below min-append-size) and retry (0004). */
function onTooLarge(s: MachineState, pending: Pending, response: ResponseHead): Transition {
  const min = Math.max(1, s.limits.minAppendSize ?? 1)
  if (pending.length <= min || pending.length === 0) {
    return fail(s, {
      code: 'ERR_TOO_LARGE',
      message: `the server refused the request as too large: ${describe(response)}`,
      status: response.status,
      response,
    })
  }
  const shrunk = Math.max(min, Math.floor(pending.length / 2))
  const need: Need = s.url === undefined ? 'create' : 'retrieve'
  return proceed({ ...s, shrunk, need, pending: undefined, chunk: undefined }, [])
}

function withEffects(t: Transition, before: Effect[]): Transition {
  return before.length === 0 ? t : { ...t, effects: [...before, ...t.effects] }
}

/** A short description of a protocol, for messages. */
export function describeProtocol(p: Protocol): string {
  return p.kind === 'tus' ? 'tus 1.0.0' : `IETF draft, interop ${p.interop}`
}

export { protocolName }
