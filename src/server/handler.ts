/**
 * @module The request flow shared by both protocols and every runtime:
 * classify → authorize → lock → load → plan → transfer → decide → render.
 * It speaks plain data (a request with an async-iterable body and an AbortSignal in, a
 * response out); adapters connect it to node:http, node:http2 or the Fetch API.
 */
import { createHash, type Hash } from 'node:crypto'
import type { Lease, Lock } from '../lock/types.ts'
import {
  classify,
  detectDialect,
  resolveTarget,
  tusChecksum,
  uploadIdFromUrl,
} from '../protocol/classify.ts'
import {
  formatContentDisposition,
  sanitizeFilename,
} from '../protocol/codec/content-disposition.ts'
import { binary, item, serializeDictionary } from '../protocol/codec/structured-fields.ts'
import {
  H,
  MEDIA_TYPE,
  TUS_CHECKSUM_ALGORITHMS,
  type TusChecksumAlgorithm,
} from '../protocol/constants.ts'
import { isUploadError, UploadError } from '../protocol/errors.ts'
import {
  type ErrorSubject,
  type RenderContext,
  renderAppended,
  renderCancelled,
  renderCompleted,
  renderCreated,
  renderCreationInterim,
  renderError,
  renderOptions,
  renderProgressInterim,
  renderRetrieved,
} from '../protocol/render.ts'
import {
  afterTransfer,
  type BodyBounds,
  checkAvailable,
  isComplete,
  planAppend,
  planConcatenation,
  planCreate,
  type RuleContext,
} from '../protocol/rules.ts'
import type {
  AppendIntent,
  ContentFacts,
  CreateIntent,
  Dialect,
  Digest,
  HeaderMap,
  Intent,
  RequestHead,
  ResponseHead,
  StoredResponse,
  Target,
  UploadInfo,
} from '../protocol/types.ts'
import type { NewUpload } from '../store/types.ts'
import { boundBody, emptyBody } from './body.ts'
import { applyCors } from './cors.ts'
import {
  type RequestContext,
  type ResolvedOptions,
  resolveOptions,
  type ServerOptions,
} from './options.ts'
import { publicOrigin } from './urls.ts'

/** A request as adapters hand it to the handler. */
export interface HandlerRequest {
  readonly method: string
  /** Path and query, as in the request line. */
  readonly url: string
  /** Lower-case names; repeated lines joined with ", ". */
  readonly headers: HeaderMap
  /** The content; null when the request has none. The handler may stop reading early. */
  readonly body: AsyncIterable<Uint8Array> | null
  /** Content of unknown length may follow (HTTP/1.1 chunked, HTTP/2 without Content-Length). */
  readonly streamedBody?: boolean
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal
  /** Scheme and Host the request arrived with (before any proxy headers). */
  readonly origin: { readonly protocol: 'http' | 'https'; readonly host: string | undefined }
  /** Trailer fields, once the body was read (tus checksum-trailer). */
  readonly trailers?: () => HeaderMap | undefined
  /** Sends an interim (1xx) response, when the transport can. */
  readonly sendInterim?: (head: ResponseHead) => void
  readonly remoteAddress?: string
}

/** The final response. */
export interface HandlerResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body?: string | Uint8Array | AsyncIterable<Uint8Array>
}

export interface UploadHandler {
  /** Handles one request. Never throws: failures become responses. Safe to pass unbound. */
  readonly handle: (request: HandlerRequest) => Promise<HandlerResponse>
  /** Removes expired incomplete uploads; returns how many. */
  readonly cleanupExpired: () => Promise<number>
  /**
   * Graceful shutdown: new requests get 503, running transfers stop reading, persist what they
   * received and answer; resolves when all requests are done or after `timeoutMs`.
   */
  readonly close: (timeoutMs?: number) => Promise<void>
  /**
   * Readiness for load balancers: the store and the locker answer (each that can be checked,
   * within `READINESS_TIMEOUT_MS`), and the handler is not shutting down. Concurrent calls share
   * one check; a change of state is logged (ReadinessChanged), failures with their cause.
   */
  readonly readiness: () => Promise<Readiness>
  readonly options: ResolvedOptions
}

/** What a readiness probe reports: each check that applies, 'ok' or 'unavailable'. */
export interface Readiness {
  readonly ready: boolean
  /** The handler is shutting down: new requests get 503 (ready is false). */
  readonly draining: boolean
  readonly checks: { readonly store?: CheckResult; readonly lock?: CheckResult }
}
export type CheckResult = 'ok' | 'unavailable'

/**
 * The lock an expiry sweep holds, so that instances sharing a locker do not sweep at once. Not
 * an upload id (those are hex), so it never meets an upload's lock.
 */
export const EXPIRY_SWEEP_LOCK = 'expiry-sweep'

/** How long one readiness check (store, locker) may take before it counts as unavailable. */
export const READINESS_TIMEOUT_MS = 2_000

/** Per-request facts the error path needs. */
interface Scope {
  dialect: Dialect
  subject: ErrorSubject
  upload: UploadInfo | undefined
  /** The lease of the lock the request holds (distributed lockers), passed to every store write. */
  lease?: Lease | undefined
}

const HASH_NAMES: Record<TusChecksumAlgorithm | Digest['algorithm'], string> = {
  sha1: 'sha1',
  sha256: 'sha256',
  md5: 'md5',
  'sha-256': 'sha256',
  'sha-512': 'sha512',
}

/** Creates the upload handler. */
export function createUploadHandler(serverOptions: ServerOptions): UploadHandler {
  const options = resolveOptions(serverOptions)
  const { store, locker, logger, hooks, limits } = options
  const inflight = new Set<AbortController>()
  let shuttingDown = false

  const ruleContext = (): RuleContext => ({
    now: options.now(),
    limits,
    capabilities: options.capabilities,
  })
  const renderContext = (): RenderContext => ({
    now: options.now(),
    limits,
    tusExtensions: options.tusExtensions,
  })

  // -------------------------------------------------------------------------------------------
  // entry point

  const handle = async (req: HandlerRequest): Promise<HandlerResponse> => {
    const path = pathOf(req.url)
    const head: RequestHead = {
      method: req.method,
      path,
      headers: req.headers,
      ...(req.streamedBody === true ? { streamedBody: true } : {}),
    }
    const scope: Scope = {
      dialect: detectDialect(req.headers),
      subject: 'other',
      upload: undefined,
    }
    let response: HandlerResponse
    let intentKind = 'unknown'
    let target: Target | undefined
    try {
      if (shuttingDown)
        throw new UploadError('ERR_SHUTTING_DOWN', undefined, { details: { retryAfterSeconds: 5 } })
      target = resolveTarget(path, options.basePath)
      if (target === undefined) throw new UploadError('ERR_NOT_FOUND')
      const classified = classify(head, scope.dialect, target, options)
      const intent = classified.intent
      scope.dialect = classified.dialect
      intentKind = intent.kind
      if (intent.kind === 'create') scope.subject = 'create'
      if (intent.kind === 'append') scope.subject = 'append'
      if (intent.kind === 'options') {
        response = renderOptions(scope.dialect, renderContext())
      } else {
        const ctx = requestContext(req, scope.dialect, intent)
        await hooks.authorize?.(ctx)
        response = await dispatch(req, intent, scope, ctx)
      }
    } catch (e) {
      response = await errorResponse(e, scope, req, target)
    }
    response = applyCors(response, req.headers, options.cors)
    logger.debug('ResponseOutgoing', {
      method: req.method,
      path,
      intent: intentKind,
      status: response.status,
      id: scope.upload?.id,
    })
    return response
  }

  function requestContext(req: HandlerRequest, dialect: Dialect, intent: Intent): RequestContext {
    return {
      method: req.method,
      intent: intent.kind,
      dialect: dialect.kind,
      headers: req.headers,
      ...('id' in intent ? { uploadId: intent.id } : {}),
      ...(req.remoteAddress === undefined ? {} : { remoteAddress: req.remoteAddress }),
    }
  }

  async function errorResponse(
    e: unknown,
    scope: Scope,
    req: HandlerRequest,
    target: Target | undefined,
  ): Promise<HandlerResponse> {
    let error: UploadError
    if (isUploadError(e)) {
      error = e
    } else if (req.signal.aborted) {
      error = new UploadError('ERR_UPLOAD_INTERRUPTED', 'the client went away', { cause: e })
    } else {
      // Unknown failures never reach the client: the detail goes to the log only.
      logger.error('InternalError', { error: describe(e), method: req.method, url: req.url })
      error = new UploadError('ERR_INTERNAL', undefined, { cause: e })
    }
    if (error.status >= 500 && isUploadError(e)) {
      logger.warn('RequestFailed', { code: error.code, error: describe(error.cause ?? error) })
    }
    if (
      scope.dialect.kind === 'ietf' &&
      error.details.uploadOffset === undefined &&
      error.status >= 400 &&
      error.status < 500 &&
      error.status !== 404 &&
      target?.kind === 'upload'
    ) {
      // draft-01..-05 §6: a response to a request for an active upload MUST carry Upload-Offset,
      // failures included; the request may have been rejected before the upload was loaded.
      scope.upload ??= await store.get(target.id).catch(() => undefined)
      const upload = scope.upload
      if (upload !== undefined && !upload.complete && upload.invalid === undefined) {
        error = error.withDetails({ uploadOffset: upload.offset })
      }
    }
    return renderError(scope.dialect, error, scope.subject, renderContext(), scope.upload)
  }

  async function dispatch(
    req: HandlerRequest,
    intent: Exclude<Intent, { kind: 'options' }>,
    scope: Scope,
    ctx: RequestContext,
  ): Promise<HandlerResponse> {
    switch (intent.kind) {
      case 'create':
        return create(req, intent, scope, ctx)
      case 'append':
        return append(req, intent, scope, ctx)
      case 'retrieve': {
        const retrieve = async (concatenate: boolean): Promise<HandlerResponse> => {
          const upload = await mustLoad(intent.id, scope)
          checkAvailable(upload, ruleContext())
          const current = concatenate ? await finishConcatenation(upload, scope) : upload
          return renderRetrieved(scope.dialect, current, renderContext())
        }
        // Without the lock (locker down) no concatenation: an unfinished final upload says so.
        return withLock(intent.id, req, scope, () => retrieve(true), {
          readOnly: () => retrieve(false),
        })
      }
      case 'cancel':
        return withLock(intent.id, req, scope, async () => {
          await mustLoad(intent.id, scope)
          if (store.terminate === undefined) {
            throw new UploadError(
              'ERR_METHOD_NOT_ALLOWED',
              'this server does not support termination',
              {
                details: { allow: ['OPTIONS', 'HEAD', 'GET', 'PATCH'] },
              },
            )
          }
          await store.terminate(intent.id, leased(scope))
          scope.upload = undefined
          logger.info('UploadTerminated', { id: intent.id })
          return renderCancelled(scope.dialect)
        })
      case 'download':
        return download(req, intent.id, intent.range, scope)
    }
  }

  // -------------------------------------------------------------------------------------------
  // locking

  /**
   * Runs `fn` holding the upload's lock. Another request for the upload aborts `signal`: the
   * running transfer stops, persists and answers (draft-13 §4.6), then the lock moves on.
   */
  /**
   * Runs `fn` holding the upload's lock. When the lock cannot be had:
   * - `unannounced`: the upload was just created and nobody has its URL yet; it is discarded
   *   rather than left empty until it expires;
   * - `readOnly`: the locker itself is unavailable (ERR_LOCK_UNAVAILABLE, Redis down) and the
   *   request only reads: it is answered from the store without the lock. The durable state can
   *   only be behind what a running request is about to persist, never ahead, so a client that
   *   resumes from it re-sends bytes at worst. (tus-js-client starts a new upload when its HEAD
   *   gets a 5xx: without this, a Redis blip costs it all its progress.)
   */
  async function withLock<T>(
    id: string,
    req: HandlerRequest,
    scope: Scope,
    fn: (signal: AbortSignal) => Promise<T>,
    fallback: { unannounced?: UploadInfo; readOnly?: () => Promise<T> } = {},
  ): Promise<T> {
    const control = new AbortController()
    let lock: Lock
    try {
      lock = await locker.acquire(id, {
        signal: req.signal,
        timeoutMs: options.lockTimeoutMs,
        onReleaseRequested: () => {
          if (!control.signal.aborted) {
            logger.info('UploadInterrupted', { id, reason: 'another request for this upload' })
            control.abort(new UploadError('ERR_UPLOAD_INTERRUPTED'))
          }
        },
      })
    } catch (e) {
      if (fallback.unannounced !== undefined) await discard(fallback.unannounced)
      if (
        fallback.readOnly !== undefined &&
        isUploadError(e) &&
        e.code === 'ERR_LOCK_UNAVAILABLE'
      ) {
        logger.warn('ReadWithoutLock', { id, reason: e.message })
        return fallback.readOnly()
      }
      throw e
    }
    inflight.add(control)
    if (shuttingDown) control.abort(new UploadError('ERR_SHUTTING_DOWN'))
    // The store checks the lease before it commits (src/store/types.ts AppendOptions.lease).
    scope.lease = lock.lease
    try {
      return await fn(control.signal)
    } finally {
      scope.lease = undefined
      inflight.delete(control)
      await lock.release()
    }
  }

  /** Store options carrying the request's lease, when its lock has one. */
  function leased(scope: Scope): { lease?: Lease } {
    return scope.lease === undefined ? {} : { lease: scope.lease }
  }

  // -------------------------------------------------------------------------------------------
  // state

  /** Loads an upload (stores report tus uploads complete once their offset reaches their length). */
  function load(id: string): Promise<UploadInfo | undefined> {
    return store.get(id)
  }

  async function mustLoad(id: string, scope: Scope): Promise<UploadInfo> {
    const info = await load(id)
    // tus 1.0.0 §HEAD/§PATCH and draft-01 §5-§7: an unknown upload gets 404.
    if (info === undefined) throw new UploadError('ERR_UPLOAD_NOT_FOUND')
    scope.upload = info
    return info
  }

  /** Concatenates an unfinished final upload once all its partial uploads are complete. */
  async function finishConcatenation(upload: UploadInfo, scope: Scope): Promise<UploadInfo> {
    const concat = upload.concat
    if (concat?.kind !== 'final' || upload.complete || store.concatenate === undefined)
      return upload
    const parts = await Promise.all(concat.parts.map((id) => load(id)))
    if (!parts.every((p) => p?.complete === true)) return upload
    const done = await store.concatenate(upload.id, leased(scope))
    scope.upload = done
    logger.info('UploadConcatenated', {
      id: upload.id,
      parts: concat.parts.length,
      length: done.length,
    })
    return done
  }

  // -------------------------------------------------------------------------------------------
  // creation

  async function create(
    req: HandlerRequest,
    intent: CreateIntent,
    scope: Scope,
    ctx: RequestContext,
  ): Promise<HandlerResponse> {
    const { dialect } = scope
    const plan = planCreate(intent, dialect, ruleContext())
    if (intent.concat?.kind === 'final') return createFinal(req, intent, scope, ctx)
    const newUpload: NewUpload = {
      ...(plan.length === undefined ? {} : { length: plan.length }),
      ...(intent.metadata === undefined ? {} : { metadata: intent.metadata }),
      ...(intent.concat?.kind === 'partial' ? { concat: { kind: 'partial' } } : {}),
      ...(intent.contentType === undefined ? {} : { contentType: intent.contentType }),
      ...(intent.filename === undefined ? {} : { filename: intent.filename }),
      ...(intent.reprDigests === undefined ? {} : { reprDigests: intent.reprDigests }),
      ...(intent.wantReprDigest === undefined ? {} : { wantReprDigest: intent.wantReprDigest }),
      ...(dialect.kind === 'tus' ? { completesAtLength: true } : {}),
    }
    const { created, location } = await createUpload(req, newUpload, scope, ctx, {
      resumable: plan.resumable,
    })
    return withLock(
      created.id,
      req,
      scope,
      async (signal) => {
        if (dialect.kind === 'ietf' && plan.resumable) {
          // draft-13 §4.2.2: announce the upload resource with a 104 before reading the content.
          req.sendInterim?.(
            renderCreationInterim(dialect.features, location, created, renderContext()),
          )
        }
        let upload = created
        if (intent.content.hasContent) {
          const result = await transfer(req, upload, plan, intent.content, signal, scope)
          const settled = await settle(upload, plan, result, scope)
          upload = settled.upload
          if (settled.error !== undefined) {
            if (!plan.resumable) await discard(upload)
            else await completeAnyway(upload, 'create', location, scope, ctx)
            throw settled.error
          }
          if (settled.completeLength !== undefined) {
            return complete(upload, settled.completeLength, 'create', location, scope, ctx)
          }
          if (!result.fullyRead) {
            if (!plan.resumable) await discard(upload)
            throw interruption(signal, upload)
          }
        } else if (plan.complete || (dialect.kind === 'tus' && plan.length === 0)) {
          // An empty representation (draft ?1 with no content, tus Upload-Length: 0).
          return complete(upload, 0, 'create', location, scope, ctx)
        }
        if (!plan.resumable) {
          // A plain request that did not complete (e.g. content shorter than announced).
          await discard(upload)
          throw new UploadError(
            'ERR_UPLOAD_INTERRUPTED',
            'the content ended before the upload was complete',
          )
        }
        return renderCreated(dialect, upload, location, renderContext())
      },
      { unannounced: created },
    )
  }

  /** Asks the creation hook, creates the upload and logs it. */
  async function createUpload(
    req: HandlerRequest,
    newUpload: NewUpload,
    scope: Scope,
    ctx: RequestContext,
    attrs: Record<string, unknown>,
  ): Promise<{ created: UploadInfo; location: string }> {
    await hooks.onUploadCreate?.({ ...ctx, upload: newUpload })
    const created = await store.create(newUpload)
    scope.upload = created
    logger.info('UploadCreated', {
      id: created.id,
      dialect: dialectName(scope.dialect),
      length: created.length,
      concat: created.concat?.kind,
      ...attrs,
    })
    return { created, location: uploadUrl(req, created.id) }
  }

  async function createFinal(
    req: HandlerRequest,
    intent: CreateIntent,
    scope: Scope,
    ctx: RequestContext,
  ): Promise<HandlerResponse> {
    const concat = intent.concat
    if (concat?.kind !== 'final') throw new UploadError('ERR_INVALID_CONCAT')
    const ids = concat.urls.map((url) => {
      const id = uploadIdFromUrl(ownPath(req, url), options.basePath)
      if (id === undefined) {
        throw new UploadError(
          'ERR_INVALID_CONCAT',
          `${clip(url)} is not an upload URL of this server`,
        )
      }
      return id
    })
    const parts = await Promise.all(ids.map((id) => load(id)))
    const planned = planConcatenation(parts, concat.urls, ruleContext())
    const newUpload: NewUpload = {
      concat: { kind: 'final', parts: ids, header: concat.header },
      ...(planned.length === undefined ? {} : { length: planned.length }),
      ...(intent.metadata === undefined ? {} : { metadata: intent.metadata }),
    }
    const { created, location } = await createUpload(req, newUpload, scope, ctx, {
      parts: ids.length,
    })
    return withLock(
      created.id,
      req,
      scope,
      async () => {
        const upload = await finishConcatenation(created, scope)
        if (upload.complete) {
          return complete(upload, upload.length ?? upload.offset, 'create', location, scope, ctx)
        }
        return renderCreated(scope.dialect, upload, location, renderContext())
      },
      { unannounced: created },
    )
  }

  // -------------------------------------------------------------------------------------------
  // append

  async function append(
    req: HandlerRequest,
    intent: AppendIntent,
    scope: Scope,
    ctx: RequestContext,
  ): Promise<HandlerResponse> {
    return withLock(intent.id, req, scope, async (signal) => {
      let upload = await mustLoad(intent.id, scope)
      const plan = planAppend(intent, scope.dialect, upload, ruleContext())
      const location = uploadUrl(req, upload.id)
      if (plan.kind === 'replay') {
        // draft-12 §4.4.2: the client lost the final response; send it again.
        return renderCompleted(
          scope.dialect,
          upload,
          plan.response,
          'append',
          location,
          renderContext(),
        )
      }
      // tus 1.0.0 §creation-defer-length, draft-13 §4.1.3: the length a request declares is
      // recorded with its content. It goes first when the content needs room below it (a store
      // may size its parts by it); when the content is verified (a checksum or digest) or cannot
      // add a byte, it is recorded only once the content was accepted, so that a rejected
      // request changes nothing — before, a declared length equal to the offset completed the
      // upload even when the request was rejected, and no finish hook ran (fuzz campaign).
      const declared = plan.declareLength
      const first =
        declared !== undefined && declared > upload.offset && !verifiesContent(intent.content)
      if (first) {
        upload = await store.update(upload.id, { length: declared }, leased(scope))
        scope.upload = upload
      }
      const result = await transfer(req, upload, plan, intent.content, signal, scope)
      if (
        declared !== undefined &&
        !first &&
        result.verificationError === undefined &&
        !result.exceeded &&
        (result.fullyRead || result.offset > upload.offset)
      ) {
        upload = await store.update(upload.id, { length: declared }, leased(scope))
        scope.upload = upload
      }
      const settled = await settle(upload, plan, result, scope)
      upload = settled.upload
      if (settled.error !== undefined) {
        await completeAnyway(upload, 'append', location, scope, ctx)
        throw settled.error
      }
      if (settled.completeLength !== undefined) {
        return complete(upload, settled.completeLength, 'append', location, scope, ctx)
      }
      if (!result.fullyRead) throw interruption(signal, upload)
      return renderAppended(scope.dialect, upload, renderContext())
    })
  }

  // -------------------------------------------------------------------------------------------
  // transfer

  interface Transfer {
    readonly offset: number
    readonly fullyRead: boolean
    readonly exceeded: boolean
    readonly belowMinimum: boolean
    readonly verificationError?: UploadError
  }

  /** Streams the request content into the store, within the plan's bounds. */
  async function transfer(
    req: HandlerRequest,
    upload: UploadInfo,
    bounds: BodyBounds,
    content: ContentFacts,
    lockSignal: AbortSignal,
    scope: Scope,
  ): Promise<Transfer> {
    const signal = AbortSignal.any([req.signal, lockSignal])
    const hashes = new Map<string, Hash>()
    const want = (algorithm: string): void => {
      const name = HASH_NAMES[algorithm as keyof typeof HASH_NAMES]
      if (name !== undefined && !hashes.has(name)) hashes.set(name, createHash(name))
    }
    if (content.checksum !== undefined) want(content.checksum.algorithm)
    // tus checksum-trailer: the algorithm is only known at the end, so hash with all of them.
    if (content.checksumInTrailer) for (const a of TUS_CHECKSUM_ALGORITHMS) want(a)
    for (const d of content.contentDigests ?? []) want(d.algorithm)
    const observe =
      hashes.size === 0
        ? undefined
        : (chunk: Uint8Array) => {
            for (const h of hashes.values()) h.update(chunk)
          }
    const body = boundBody(req.body ?? emptyBody(), bounds, signal, observe)
    let verificationError: UploadError | undefined
    // All-or-nothing: content that did not arrive whole cannot be verified, so it is dropped.
    const verify =
      hashes.size === 0
        ? undefined
        : () => {
            if (!body.stats.ended || body.stats.exceeded) return false
            verificationError = verifyContent(content, hashes, req)
            return verificationError === undefined
          }
    const features = scope.dialect.kind === 'ietf' ? scope.dialect.features : undefined
    const progress =
      features?.progressInterim === true &&
      req.sendInterim !== undefined &&
      options.progressIntervalMs > 0
        ? (offset: number) => req.sendInterim?.(renderProgressInterim(features, offset))
        : undefined
    logger.debug('ChunkWriteStart', {
      id: upload.id,
      offset: upload.offset,
      maxBytes: bounds.maxBytes,
    })
    // The body ends itself when asked to stop (after reading what already arrived); the store
    // only needs to know when that happened for good.
    const offset = await store.append(upload.id, upload.offset, body.iterable, {
      signal: body.stopped,
      ...leased(scope),
      ...(verify === undefined ? {} : { verify }),
      ...(progress === undefined
        ? {}
        : { onProgress: progress, progressIntervalMs: options.progressIntervalMs }),
    })
    const s = body.stats
    logger.debug('ChunkWriteComplete', {
      id: upload.id,
      offset,
      bytes: offset - upload.offset,
      ended: s.ended,
      interrupted: !s.ended && !s.exceeded,
    })
    return {
      offset,
      fullyRead: s.ended && !s.exceeded && verificationError === undefined,
      exceeded: s.exceeded,
      belowMinimum: s.belowMinimum,
      ...(verificationError === undefined ? {} : { verificationError }),
    }
  }

  /** tus 1.0.0 §Checksum, RFC 9530 Content-Digest: compares what arrived with what was sent. */
  function verifyContent(
    content: ContentFacts,
    hashes: Map<string, Hash>,
    req: HandlerRequest,
  ): UploadError | undefined {
    const digestOf = (algorithm: string): Uint8Array | undefined => {
      const name = HASH_NAMES[algorithm as keyof typeof HASH_NAMES]
      return name === undefined ? undefined : hashes.get(name)?.copy().digest()
    }
    let checksum = content.checksum
    if (content.checksumInTrailer && checksum === undefined) {
      try {
        checksum = tusChecksum(req.trailers?.()?.[H.uploadChecksum])
      } catch (e) {
        return isUploadError(e) ? e : new UploadError('ERR_INVALID_CHECKSUM')
      }
      if (checksum === undefined) {
        return new UploadError(
          'ERR_INVALID_CHECKSUM',
          'the announced Upload-Checksum trailer is missing',
        )
      }
    }
    if (checksum !== undefined && !equalBytes(digestOf(checksum.algorithm), checksum.digest)) {
      // tus 1.0.0 §Checksum: 460, the chunk MUST be discarded and the offset MUST NOT change.
      return new UploadError(
        'ERR_CHECKSUM_MISMATCH',
        `${checksum.algorithm} checksum mismatch; the content was discarded`,
      )
    }
    for (const d of content.contentDigests ?? []) {
      if (!equalBytes(digestOf(d.algorithm), d.value)) {
        // draft-05 §15 / RFC 9530: a mismatching Content-Digest fails the transfer; nothing is appended.
        return new UploadError(
          'ERR_DIGEST_MISMATCH',
          `Content-Digest ${d.algorithm} mismatch; the content was discarded`,
        )
      }
    }
    return undefined
  }

  /**
   * Records what a transfer means for the upload: invalidation, completion, or an error that is
   * answered after the kept bytes are durable.
   */
  async function settle(
    before: UploadInfo,
    plan: BodyBounds & { readonly complete: boolean },
    result: Transfer,
    scope: Scope,
  ): Promise<{ upload: UploadInfo; error?: UploadError; completeLength?: number }> {
    // The store reported the new durable offset; nothing else changed.
    let upload: UploadInfo = { ...before, offset: result.offset, updatedAt: options.now() }
    upload = { ...upload, complete: isComplete(upload) }
    scope.upload = upload
    if (result.verificationError !== undefined) {
      return {
        upload,
        error: result.verificationError.withDetails({ uploadOffset: upload.offset }),
      }
    }
    const outcome = afterTransfer(scope.dialect, plan, upload.length, result, limits)
    if (outcome.invalidate !== undefined) {
      upload = await store.update(upload.id, { invalid: outcome.invalidate }, leased(scope))
      scope.upload = upload
      logger.info('UploadInvalidated', { id: upload.id, reason: outcome.invalidate })
    }
    if (outcome.error !== undefined) return { upload, error: outcome.error }
    return outcome.complete
      ? { upload, completeLength: outcome.length ?? upload.offset }
      : { upload }
  }

  function interruption(signal: AbortSignal, upload: UploadInfo): UploadError {
    const reason: unknown = signal.reason
    const base = isUploadError(reason)
      ? reason
      : new UploadError('ERR_UPLOAD_INTERRUPTED', 'the request content ended early')
    return base.withDetails({ uploadOffset: upload.offset })
  }

  /**
   * A request that failed (e.g. content beyond the upload's length: 413) may still have filled a
   * tus upload to its length — tus 1.0.0 §Core: it is complete then. It completes as any other
   * (finish hook, state), and the request still gets its error.
   */
  async function completeAnyway(
    upload: UploadInfo,
    how: 'create' | 'append',
    location: string,
    scope: Scope,
    ctx: RequestContext,
  ): Promise<void> {
    const length = upload.length
    if (!upload.complete || length === undefined || upload.offset !== length) return
    if (upload.finalResponse !== undefined) return
    await complete(upload, length, how, location, scope, ctx)
  }

  /** Removes an upload that a non-resumable request left incomplete. */
  async function discard(upload: UploadInfo): Promise<void> {
    if (store.terminate === undefined) return
    await store.terminate(upload.id).catch((e: unknown) => {
      logger.warn('DiscardFailed', { id: upload.id, error: describe(e) })
    })
    logger.debug('UploadDiscarded', { id: upload.id })
  }

  // -------------------------------------------------------------------------------------------
  // completion

  /**
   * Marks the upload complete and produces the targeted resource's response (draft-13 §4.2.2,
   * §4.4.2), which is stored for replay (draft-12 §4.4.2).
   */
  async function complete(
    upload: UploadInfo,
    length: number,
    how: 'create' | 'append',
    location: string,
    scope: Scope,
    ctx: RequestContext,
  ): Promise<HandlerResponse> {
    const { dialect } = scope
    // The targeted resource (the creation endpoint) creates a file at the upload's URL.
    let target: StoredResponse = {
      status: 201,
      headers: dialect.kind === 'tus' ? {} : { [H.location]: location },
    }
    const digests = await representationDigests(upload, length)
    const reprError = digests.error
    if (reprError !== undefined) {
      target = errorTarget(reprError)
      const failed = await store.update(
        upload.id,
        { invalid: reprError.message, complete: true, length, finalResponse: target },
        leased(scope),
      )
      scope.upload = failed
      return renderCompleted(dialect, failed, target, how, location, renderContext())
    }
    try {
      const finished = { ...upload, complete: true, length }
      const result = await hooks.onUploadFinish?.({ ...ctx, upload: finished, url: location })
      if (result !== undefined && result !== null) target = result
      if (digests.field !== undefined) {
        target = { ...target, headers: { ...target.headers, [H.reprDigest]: digests.field } }
      }
    } catch (e) {
      if (!isUploadError(e)) throw e
      // The targeted resource rejected the representation: the upload is complete (no resumption
      // helps) and the rejection is its final response (draft-13 §4.1.2).
      target = errorTarget(e)
      const rejected = await store.update(
        upload.id,
        { complete: true, length, invalid: e.message, finalResponse: target },
        leased(scope),
      )
      scope.upload = rejected
      if (dialect.kind === 'tus') throw e
      return renderCompleted(dialect, rejected, target, how, location, renderContext())
    }
    // tus uploads are complete by their offset alone (see load()); the rest records completion
    // and the response to replay.
    const done =
      dialect.kind === 'tus' && upload.completesAtLength === true
        ? { ...upload, complete: true, length }
        : await store.update(
            upload.id,
            { complete: true, length, finalResponse: storable(target) },
            leased(scope),
          )
    scope.upload = done
    logger.info('UploadFinished', { id: done.id, length, dialect: dialectName(dialect) })
    return renderCompleted(dialect, done, target, how, location, renderContext())
  }

  function errorTarget(error: UploadError): StoredResponse {
    return {
      status: error.status,
      headers: { [H.contentType]: MEDIA_TYPE.textPlain },
      body: `${error.message}\n`,
    }
  }

  /**
   * Hashes the complete representation once, when the client sent Repr-Digest (draft-05 §15:
   * a mismatch fails the upload) or Want-Repr-Digest (draft-05 §15.1: the response SHOULD carry
   * a Repr-Digest). Returns the failure, or the Repr-Digest field to send.
   */
  async function representationDigests(
    upload: UploadInfo,
    length: number,
  ): Promise<{ error?: UploadError; field?: string }> {
    const expected = upload.reprDigests ?? []
    const wanted = upload.wantReprDigest?.[0]
    if ((expected.length === 0 && wanted === undefined) || store.read === undefined) return {}
    const algorithms = new Set(expected.map((d) => d.algorithm))
    if (wanted !== undefined) algorithms.add(wanted)
    const hashes = new Map([...algorithms].map((a) => [a, createHash(HASH_NAMES[a])]))
    for await (const chunk of store.read(upload.id, { start: 0, end: length })) {
      for (const h of hashes.values()) h.update(chunk)
    }
    const digests = new Map([...hashes].map(([a, h]) => [a, new Uint8Array(h.digest())]))
    for (const d of expected) {
      if (!equalBytes(digests.get(d.algorithm), d.value)) {
        return {
          error: new UploadError(
            'ERR_DIGEST_MISMATCH',
            `Repr-Digest ${d.algorithm} does not match the uploaded representation`,
          ),
        }
      }
    }
    const value = wanted === undefined ? undefined : digests.get(wanted)
    if (wanted === undefined || value === undefined) return {}
    return { field: serializeDictionary(new Map([[wanted, item(binary(value))]])) }
  }

  // -------------------------------------------------------------------------------------------
  // download

  async function download(
    req: HandlerRequest,
    id: string,
    range: string | undefined,
    scope: Scope,
  ): Promise<HandlerResponse> {
    let upload = await mustLoad(id, scope)
    checkAvailable(upload, ruleContext())
    if (upload.concat?.kind === 'final' && !upload.complete) {
      upload = await withLock(id, req, scope, () => finishConcatenation(upload, scope))
    }
    if (!upload.complete) {
      throw new UploadError(
        'ERR_UPLOAD_INCOMPLETE',
        `upload is not complete yet: ${upload.offset} bytes received${upload.length === undefined ? '' : ` of ${upload.length}`}`,
      )
    }
    if (store.read === undefined) {
      throw new UploadError('ERR_METHOD_NOT_ALLOWED', 'this store cannot serve downloads', {
        details: { allow: ['OPTIONS', 'HEAD', 'PATCH', 'DELETE'] },
      })
    }
    const size = upload.offset
    const { type, disposition } = servedType(upload)
    const headers: Record<string, string> = {
      [H.contentType]: type,
      [H.contentDisposition]: disposition,
      [H.acceptRanges]: 'bytes',
      'x-content-type-options': 'nosniff',
      // Uploaded bytes are untrusted (draft-13 §13): never let them run as a page of this origin.
      'content-security-policy': "default-src 'none'; sandbox",
      [H.cacheControl]: 'private, no-cache',
      etag: `"${upload.id}-${size}"`,
    }
    let start = 0
    let end = size
    let status = 200
    const r = range === undefined ? undefined : parseRange(range, size)
    if (r === 'unsatisfiable') {
      return {
        status: 416,
        headers: { [H.contentRange]: `bytes */${size}`, [H.contentType]: MEDIA_TYPE.textPlain },
        body: 'range not satisfiable\n',
      }
    }
    if (r !== undefined) {
      start = r.start
      end = r.end
      status = 206
      headers[H.contentRange] = `bytes ${start}-${end - 1}/${size}`
    }
    headers[H.contentLength] = String(end - start)
    if (req.method.toUpperCase() === 'HEAD') return { status, headers }
    return { status, headers, body: store.read(id, { start, end }) }
  }

  // -------------------------------------------------------------------------------------------
  // URLs

  function uploadUrl(req: HandlerRequest, id: string): string {
    const path = `${options.basePath}${id}`
    if (options.relativeLocation) return path
    const origin = publicOrigin(req.origin, req.headers, options.trustProxy)
    if (origin === undefined) return path
    return `${origin.protocol}://${origin.host}${origin.prefix}${path}`
  }

  /**
   * The path of an upload URL named in Upload-Concat, if it is one of this server's. tus 1.0.0
   * §Concatenation: the URLs may be absolute or relative; an absolute one must name this
   * server's origin (the one its Location values carry, behind a trusted proxy with its
   * prefix) — an upload elsewhere with the same id is another upload (security campaign).
   */
  function ownPath(req: HandlerRequest, url: string): string {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url)
    if (m === null) return url
    const [, scheme = '', authority = '', rest = ''] = m
    const origin = publicOrigin(req.origin, req.headers, options.trustProxy)
    if (origin === undefined) return ''
    const port = /:[0-9]+$/.exec(authority)?.[0]
    const defaultPort = scheme.toLowerCase() === 'https' ? ':443' : ':80'
    const host = port === defaultPort ? authority.slice(0, -port.length) : authority
    if (
      scheme.toLowerCase() !== origin.protocol ||
      host.toLowerCase() !== origin.host.toLowerCase()
    ) {
      return ''
    }
    if (origin.prefix === '') return rest
    return rest.startsWith(`${origin.prefix}/`) ? rest.slice(origin.prefix.length) : ''
  }

  // -------------------------------------------------------------------------------------------
  // lifecycle

  const cleanupExpired = async (): Promise<number> => {
    const expireAfterMs = limits.expireAfterMs
    if (store.expire === undefined || expireAfterMs === undefined) return 0
    // One sweep at a time among the instances that share the locker: the others skip theirs
    // (a sweep reads the state of every upload; with S3, one GetObject each).
    let sweep: Lock
    try {
      sweep = await locker.acquire(EXPIRY_SWEEP_LOCK, {
        timeoutMs: 0,
        ifFree: true,
        onReleaseRequested: () => undefined,
      })
    } catch (e) {
      logger.debug('ExpirySweepSkipped', { reason: (e as Error).message })
      return 0
    }
    try {
      return await sweepExpired(expireAfterMs)
    } finally {
      await sweep.release().catch(() => undefined)
    }
  }

  const sweepExpired = async (expireAfterMs: number): Promise<number> => {
    if (store.expire === undefined) return 0
    let count = 0
    // An upload a request is working on is not removed under it: each candidate's lock is
    // taken if free (without interrupting its holder) and the store reads its state again.
    const claim = async (id: string): Promise<(() => Promise<void>) | undefined> => {
      try {
        const lock = await locker.acquire(id, {
          timeoutMs: 0,
          ifFree: true,
          onReleaseRequested: () => undefined,
        })
        return () => lock.release()
      } catch {
        return undefined
      }
    }
    for await (const id of store.expire(options.now() - expireAfterMs, { claim })) {
      count++
      logger.info('UploadExpired', { id })
    }
    return count
  }

  const close = async (timeoutMs = 10_000): Promise<void> => {
    shuttingDown = true
    for (const control of inflight) control.abort(new UploadError('ERR_SHUTTING_DOWN'))
    const deadline = Date.now() + timeoutMs
    while (inflight.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  let checking: Promise<Readiness> | undefined
  let lastReady: boolean | undefined
  /** Each check's last result: a failure is logged when it starts, not at every probe. */
  const lastResult: Partial<Record<'store' | 'lock', CheckResult>> = {}
  const check = async (
    name: 'store' | 'lock',
    ping: (() => Promise<void>) | undefined,
  ): Promise<CheckResult | undefined> => {
    if (ping === undefined) return undefined
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)),
            READINESS_TIMEOUT_MS,
          )
        }),
      ])
      lastResult[name] = 'ok'
      return 'ok'
    } catch (e) {
      if (lastResult[name] !== 'unavailable') {
        logger.warn('ReadinessCheckFailed', { check: name, error: (e as Error).message })
      }
      lastResult[name] = 'unavailable'
      return 'unavailable'
    } finally {
      clearTimeout(timer)
    }
  }
  const readiness = (): Promise<Readiness> => {
    checking ??= (async (): Promise<Readiness> => {
      const [storeResult, lockResult] = await Promise.all([
        check('store', store.ping?.bind(store)),
        check('lock', locker.ping?.bind(locker)),
      ])
      const checks = {
        ...(storeResult === undefined ? {} : { store: storeResult }),
        ...(lockResult === undefined ? {} : { lock: lockResult }),
      }
      const ready = !shuttingDown && storeResult !== 'unavailable' && lockResult !== 'unavailable'
      if (ready !== lastReady) {
        if (lastReady !== undefined) logger.info('ReadinessChanged', { ready, ...checks })
        lastReady = ready
      }
      return { ready, draining: shuttingDown, checks }
    })().finally(() => {
      checking = undefined
    })
    return checking
  }

  return Object.freeze({ handle, cleanupExpired, close, readiness, options })
}

// ---------------------------------------------------------------------------------------------
// helpers

function pathOf(url: string): string {
  const q = url.search(/[?#]/)
  const path = q >= 0 ? url.slice(0, q) : url
  // An absolute-form request target (RFC 9112 §3.2.2) carries scheme and authority.
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/.exec(path)
  return abs === null ? path : path.slice(abs[0].length) || '/'
}

/** The request's content is checked before it counts (tus checksum, RFC 9530 Content-Digest). */
function verifiesContent(content: ContentFacts): boolean {
  return (
    content.checksum !== undefined ||
    content.checksumInTrailer ||
    (content.contentDigests?.length ?? 0) > 0
  )
}

function dialectName(dialect: Dialect): string {
  switch (dialect.kind) {
    case 'tus':
      return 'tus'
    case 'ietf':
      return `ietf-${dialect.features.version}`
    case 'plain':
      return 'plain'
  }
}

function equalBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

/** A stored final response is kept small: bodies over 64 KiB are not replayed. */
function storable(target: StoredResponse): StoredResponse {
  if (target.body !== undefined && target.body.length > 64 * 1024) {
    return { status: target.status, headers: target.headers }
  }
  return target
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`
  return String(e)
}

function clip(text: string): string {
  const safe = text.replace(/[^\x20-\x7e]/g, '?')
  return safe.length > 60 ? `${safe.slice(0, 60)}…` : safe
}

/** Media types a browser may show inline; everything else downloads as an attachment. */
const INLINE_TYPES =
  /^(image\/(png|jpeg|gif|webp|avif|bmp)|audio\/[a-z0-9.+-]+|video\/[a-z0-9.+-]+|text\/plain)$/

function servedType(upload: UploadInfo): { type: string; disposition: string } {
  const declared = upload.contentType ?? metadataValue(upload, ['filetype', 'type', 'contentType'])
  const filename = upload.filename ?? sanitizeOptional(metadataValue(upload, ['filename', 'name']))
  if (declared !== undefined && INLINE_TYPES.test(declared)) {
    return { type: declared, disposition: formatContentDisposition('inline', filename) }
  }
  return {
    type: MEDIA_TYPE.octetStream,
    disposition: formatContentDisposition('attachment', filename),
  }
}

function sanitizeOptional(name: string | undefined): string | undefined {
  return name === undefined ? undefined : sanitizeFilename(name)
}

function metadataValue(upload: UploadInfo, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const pair = upload.metadata?.find((p) => p.key === key)
    if (pair?.value != null) {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(
          Uint8Array.from(atob(pair.value), (c) => c.charCodeAt(0)),
        )
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

/** One byte range (RFC 9110 §14.1.2); multiple ranges are served as the whole file. */
function parseRange(
  value: string,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim())
  if (m === null) return undefined
  const [, a = '', b = ''] = m
  if (a === '' && b === '') return undefined
  if (a === '') {
    const n = Number(b)
    if (n === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size }
  }
  const start = Number(a)
  if (start >= size) return 'unsatisfiable'
  const end = b === '' ? size : Math.min(size, Number(b) + 1)
  if (end <= start) return undefined
  return { start, end }
}
