/**
 * @module The Upload: runs the pure machine (machine.ts) over a Transport and a Source. It owns
 * everything with time or side effects: backoff timers, stall detection, the header provider,
 * URL storage, events, and pause / resume / abort.
 */
import { UploadError, type UploadErrorCode } from './errors.ts'
import {
  type ChecksumAlgorithm,
  checksumField,
  createHasher,
  type DigestAlgorithm,
  digestField,
  type HashAlgorithm,
  type HasherFactory,
  hashOfDigest,
} from './hash.ts'
import { Listeners } from './listeners.ts'
import {
  type Effect,
  type Env,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  next,
  type ProtocolChoice,
  type RequestSpec,
  type Step,
  type Transition,
} from './machine.ts'
import { type ParallelDeps, ParallelRun, type RunInternals } from './parallel.ts'
import { RateMeter } from './progress.ts'
import {
  type Discovery,
  type HeaderRecord,
  type Protocol,
  parseProtocolName,
  protocolName,
  type ResponseHead,
} from './protocols.ts'
import { SourceError, toSource, type UploadInput, type UploadSource } from './sources.ts'
import type { UrlStorage } from './storage.ts'
import type { RequestBody, Transport } from './transport.ts'
import { defaultTransport } from './xhr.ts'

/** Extra request fields; called before every request (`refresh` after a 401). */
export type HeaderProvider = (context: {
  readonly refresh: boolean
  readonly method: string
  readonly url: string
}) => Record<string, string> | Promise<Record<string, string>>

export interface Progress {
  /** Bytes the server confirmed (offsets from responses, HEAD and 104 progress). */
  readonly acknowledged: number
  /** Body bytes this Upload handed to connections, re-sent bytes included. */
  readonly sent: number
  /** The end of the bytes sent by the current request (offset + bytes written). */
  readonly position: number
  /** Total size, when known. */
  readonly total: number | undefined
  /** Smoothed rate of acknowledged bytes per second (exponential moving average). */
  readonly rate: number
  /** Seconds left at that rate, once the rate is stable (else undefined). */
  readonly etaSeconds: number | undefined
}

export interface RetryInfo {
  /** Parallel uploads: the part (0-based) that retries. */
  readonly part?: number
  readonly attempt: number
  readonly delayMs: number
  readonly reason: string
  readonly status?: number
  /** Acknowledged bytes when the failure happened. */
  readonly acknowledged: number
}

export interface UploadResult {
  /** The upload's URL (undefined for a plain upload to a server without resumable uploads). */
  readonly url: string | undefined
  readonly size: number
  /** `tus` or `ietf-<interop>`. */
  readonly protocol: string
  /** The final response (of the request that completed the upload, or of the HEAD). */
  readonly response: ResponseHead
  readonly resumable: boolean
}

export interface RequestInfo {
  readonly method: string
  readonly url: string
  readonly headers: HeaderRecord
  /** Body range [offset, offset + length). */
  readonly offset?: number
  readonly length?: number
}

export interface RequestEnd extends RequestInfo {
  /** The response, or undefined after a network error / stall / pause. */
  readonly response?: ResponseHead
  readonly error?: string
  /** Body bytes handed to the connection. */
  readonly written: number
}

/** Parallel uploads: a part's partial upload. */
export interface PartInfo {
  /** 0-based. */
  readonly index: number
  /** The part's bytes in the source: [offset, offset + length). */
  readonly offset: number
  readonly length: number
  readonly url: string
}

export interface UploadEvents {
  progress: Progress
  part: PartInfo
  url: string
  retry: RetryInfo
  success: UploadResult
  error: UploadError
  protocol: string
  request: RequestInfo
  interim: ResponseHead
  response: RequestEnd
}

export type UploadStatus = 'idle' | 'running' | 'paused' | 'done' | 'failed' | 'aborted'

export interface UploadOptions {
  /** The creation endpoint. */
  readonly endpoint?: string
  /** Resume this upload URL instead of looking in the storage. */
  readonly uploadUrl?: string
  /** @default 'auto' (OPTIONS: tus when offered, else the draft) */
  readonly protocol?: ProtocolChoice
  /** Pin the draft's interop version (3..10); default: the newest, stepping down. */
  readonly interop?: number
  /** Largest content of one request; default: everything in one request (streams: 8 MiB). */
  readonly chunkSize?: number
  /** tus Upload-Metadata; for the draft also Content-Type (filetype) / Content-Disposition (filename). */
  readonly metadata?: Readonly<Record<string, string>>
  /** Extra fields for every request, or a provider called before each one. */
  readonly headers?: Readonly<Record<string, string>> | HeaderProvider
  /** @default defaultTransport(): XMLHttpRequest where it exists (upload progress), else fetch */
  readonly transport?: Transport
  /** Where URLs are kept for resuming; null: none. @default none (ferry/client/node: a file) */
  readonly storage?: UrlStorage | null
  /** Overrides the source's fingerprint; null: do not store. */
  readonly fingerprint?: string | null
  /** Look for a stored upload of the same source first. @default true */
  readonly resume?: boolean
  /** Attempts per failure streak; reset whenever the acknowledged offset grows. @default 10 */
  readonly retries?: number
  /** Base of the exponential backoff (full jitter). @default 500 */
  readonly retryDelayMs?: number
  /** Cap of the backoff. @default 30000 */
  readonly maxRetryDelayMs?: number
  /** No sign of life (bytes written, a 104, a response) this long aborts the request and resumes. @default 30000; 0 disables */
  readonly stallTimeoutMs?: number
  /** Size of a stream source, when known (otherwise the length is deferred). */
  readonly size?: number
  /** Optimistic creation: how long to wait for the 104 before sending content. @default 1000 */
  readonly interimWaitMs?: number
  /**
   * Parallel uploads (tus concatenation): above 1, the source is split into this many contiguous
   * parts, each a partial upload with its own retries, then joined by a final upload that carries
   * the metadata. Needs a server that lists `concatenation` (refused up front otherwise, and with
   * the IETF draft, which has none) and a source that can be read at any offset (not a stream).
   */
  readonly parallel?: number
  /**
   * tus: `Upload-Checksum` of every request's content (tus 1.0.0 §Checksum), if the server offers
   * the checksum extension and the algorithm (refused up front otherwise). A 460 sends the chunk
   * again, `integrityRetries` times. Costs one extra read of every chunk (it is hashed first).
   */
  readonly checksum?: ChecksumAlgorithm
  /**
   * The draft: `Content-Digest` of every request's content and, for sources that can be read
   * twice (bytes, Blobs, files), `Repr-Digest` of the whole content on the creation (RFC 9530).
   * Costs one extra read of every chunk, and one of the whole source before the creation.
   */
  readonly digest?: DigestAlgorithm
  /** Times one chunk is sent again after the server found it corrupted. @default 3 */
  readonly integrityRetries?: number
  /** Hash functions for checksums and digests. @default pure TypeScript (ferry/client/node: node:crypto) */
  readonly hasher?: HasherFactory
  onProgress?(progress: Progress): void
  onUrl?(url: string): void
  onRetry?(retry: RetryInfo): void
  onSuccess?(result: UploadResult): void
  onError?(error: UploadError): void
  /** Clock (tests). @default Date.now */
  readonly now?: () => number
  /** Random numbers in [0, 1) for jitter (tests). @default Math.random */
  readonly random?: () => number
}

export { UploadError, type UploadErrorCode }

export interface Upload {
  /** Settles once: the result, or an UploadError (ERR_ABORTED after `abort`). */
  readonly done: Promise<UploadResult>
  /** The upload URL, once known. */
  readonly url: string | undefined
  readonly status: UploadStatus
  /** The last progress. */
  readonly progress: Progress
  /** Starts (once); returns the Upload. */
  start(): Upload
  /** Stops the request in flight; stored state stays. Resolves once storage is written. */
  pause(): Promise<void>
  /** Continues after `pause` (asks the server for the offset first). */
  resume(): void
  /** Stops for good; `terminate` also deletes the upload on the server (DELETE). */
  abort(options?: { terminate?: boolean }): Promise<void>
  on<E extends keyof UploadEvents>(event: E, listener: (data: UploadEvents[E]) => void): () => void
}

/** OPTIONS answers per endpoint, for this process (0004: discovered once per endpoint). */
const discoveryCache = new Map<string, Discovery>()

/** Forgets every discovered endpoint (tests). */
export function clearDiscoveryCache(): void {
  discoveryCache.clear()
}

const parallelDeps: ParallelDeps = {
  runPart: (source, options, internals) => new UploadRun(source, options, internals),
  discovery: (endpoint) => discoveryCache.get(endpoint),
}

/** Creates an upload; call `start()` to begin. */
export function upload(input: UploadInput, options: UploadOptions): Upload {
  const source = toSource(input)
  if (options.parallel !== undefined && options.parallel !== 1) {
    return new ParallelRun(source, options, parallelDeps)
  }
  return new UploadRun(source, options)
}

class StallError extends Error {
  override readonly name = 'StallError'
}
class PauseSignal extends Error {
  override readonly name = 'PauseSignal'
}

const PROGRESS_EVERY_MS = 100

class UploadRun implements Upload {
  readonly done: Promise<UploadResult>
  #source: UploadSource
  #options: UploadOptions
  #transport: Transport
  #storage: UrlStorage | undefined
  #now: () => number
  #random: () => number
  #status: UploadStatus = 'idle'
  #machine: MachineState | undefined
  #gen = 0
  #controller: AbortController | undefined
  #wake: (() => void) | undefined
  #listeners = new Listeners<UploadEvents>()
  #resolve!: (r: UploadResult) => void
  #reject!: (e: UploadError) => void
  #fingerprint: string | undefined
  #storageOps: Promise<void> = Promise.resolve()
  #createdAt = 0
  #url: string | undefined
  #acknowledged = 0
  #sent = 0
  #position = 0
  #total: number | undefined
  #meter = new RateMeter()
  #lastEmit = 0
  #started = false
  #internals: RunInternals
  #hasher: HasherFactory
  /** Repr-Digest values, once computed (the source does not change). */
  #reprDigests = new Map<DigestAlgorithm, Uint8Array>()
  /** The digests of the last body hashed (a chunk sent again is not hashed again). */
  #lastHashed: { key: string; digests: Map<HashAlgorithm, Uint8Array> } | undefined

  constructor(source: UploadSource, options: UploadOptions, internals: RunInternals = {}) {
    this.#source = source
    this.#options = options
    this.#internals = internals
    this.#hasher = options.hasher ?? createHasher
    this.#transport = options.transport ?? defaultTransport()
    this.#storage = options.storage ?? undefined
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
    this.done = new Promise<UploadResult>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // Callers who only use events must not get an unhandled rejection.
    this.done.catch(() => {})
  }

  get url(): string | undefined {
    return this.#url
  }

  get status(): UploadStatus {
    return this.#status
  }

  get progress(): Progress {
    const remaining = this.#total === undefined ? undefined : this.#total - this.#acknowledged
    return {
      acknowledged: this.#acknowledged,
      sent: this.#sent,
      position: Math.max(this.#position, this.#acknowledged),
      total: this.#total,
      rate: this.#meter.rate,
      etaSeconds: this.#meter.eta(this.#now(), remaining),
    }
  }

  on<E extends keyof UploadEvents>(event: E, listener: (data: UploadEvents[E]) => void) {
    return this.#listeners.on(event, listener)
  }

  #emit<E extends keyof UploadEvents>(event: E, data: UploadEvents[E]): void {
    this.#listeners.emit(event, data)
  }

  start(): Upload {
    if (this.#started) return this
    this.#started = true
    this.#status = 'running'
    const gen = ++this.#gen
    void this.#begin(gen)
    return this
  }

  async #begin(gen: number): Promise<void> {
    let config: MachineConfig
    try {
      config = await this.#prepare()
    } catch (e) {
      this.#settleError(
        new UploadError({
          code: e instanceof SourceError ? 'ERR_SOURCE' : 'ERR_CONFIG',
          message: (e as Error).message,
        }),
      )
      return
    }
    // Paused (or aborted) while preparing: `resume()` prepares again.
    if (gen !== this.#gen) return
    this.#machine = initialState(config)
    await this.#run(gen, { type: 'start' })
  }

  /** Opens the source, looks up stored state, builds the machine's configuration. */
  async #prepare(): Promise<MachineConfig> {
    const o = this.#options
    const source = this.#source
    await source.open?.()
    const size = source.size ?? o.size
    this.#total = size
    const endpoint = o.endpoint
    const metadata = { ...o.metadata }
    let chunkSize = o.chunkSize
    if (chunkSize === undefined && source.streaming === true && size !== undefined) {
      // A stream keeps the current request for retransmission: bound it.
      chunkSize = 8 * 1024 * 1024
    }
    const config: {
      -readonly [K in keyof MachineConfig]: MachineConfig[K]
    } = {
      metadata,
      interim: this.#transport.interimResponses,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(o.protocol === undefined ? {} : { protocol: o.protocol }),
      ...(o.interop === undefined ? {} : { interop: o.interop }),
      ...(size === undefined ? {} : { size }),
      ...(chunkSize === undefined ? {} : { chunkSize }),
      ...(o.retries === undefined ? {} : { retries: o.retries }),
      ...(o.retryDelayMs === undefined ? {} : { retryBaseMs: o.retryDelayMs }),
      ...(o.maxRetryDelayMs === undefined ? {} : { retryMaxMs: o.maxRetryDelayMs }),
      ...(o.checksum === undefined ? {} : { checksum: o.checksum }),
      ...(o.digest === undefined ? {} : { digest: o.digest }),
      ...(o.integrityRetries === undefined ? {} : { integrityRetries: o.integrityRetries }),
      ...(this.#internals.concat === undefined ? {} : { concat: this.#internals.concat }),
      // Repr-Digest needs the whole content before the creation: sources that can be read twice.
      rereadable: source.streaming !== true && size !== undefined,
    }
    // The wait for the 104 is no sign of life: keep it well inside the stall timeout.
    const stallMs = o.stallTimeoutMs ?? 30_000
    const wait = o.interimWaitMs ?? 1000
    config.interimWaitMs = stallMs > 0 ? Math.min(wait, Math.floor(stallMs / 2)) : wait
    if (endpoint !== undefined) {
      const d = discoveryCache.get(endpoint)
      if (d !== undefined) config.discovery = d
    }
    if (o.uploadUrl !== undefined) {
      config.uploadUrl = o.uploadUrl
      if (o.protocol === 'tus') config.uploadProtocol = { kind: 'tus' }
      return config
    }
    if (this.#storage !== undefined && o.fingerprint !== null && endpoint !== undefined) {
      this.#fingerprint = o.fingerprint ?? (await source.fingerprint?.(endpoint))
    }
    this.#createdAt = this.#now()
    const fp = this.#fingerprint
    if (fp !== undefined && this.#storage !== undefined && o.resume !== false) {
      const entry = await this.#storage.find(fp).catch(() => undefined)
      const stored = entry === undefined ? undefined : parseProtocolName(entry.protocol)
      if (entry !== undefined && stored !== undefined && compatible(stored, o)) {
        if (entry.size === undefined || size === undefined || entry.size === size) {
          config.uploadUrl = entry.url
          config.uploadProtocol = stored
          this.#createdAt = entry.createdAt
          this.#setUrl(entry.url)
        }
      }
    }
    return config
  }

  async pause(): Promise<void> {
    if (this.#status !== 'running' || this.#machine?.finished === true) return
    this.#status = 'paused'
    this.#gen++
    this.#controller?.abort(new PauseSignal('paused'))
    this.#wake?.()
    await this.#storageOps
  }

  resume(): void {
    if (this.#status !== 'paused') return
    this.#status = 'running'
    const gen = ++this.#gen
    if (this.#machine === undefined) void this.#begin(gen)
    else void this.#run(gen, { type: 'resume' })
  }

  async abort(options: { terminate?: boolean } = {}): Promise<void> {
    if (this.#status === 'done' || this.#status === 'failed' || this.#status === 'aborted') return
    const gen = ++this.#gen
    this.#controller?.abort(new PauseSignal('aborted'))
    this.#wake?.()
    if (options.terminate === true && this.#machine !== undefined) {
      this.#status = 'running'
      await this.#run(gen, { type: 'terminate' })
      if (this.#fingerprint !== undefined) this.#store((s, fp) => s.remove(fp))
    } else {
      this.#settleAborted()
    }
    await this.#storageOps
  }

  // -------------------------------------------------------------------------------------------

  #env(): Env {
    return { now: this.#now(), random: this.#random() }
  }

  #feed(event: MachineEvent): Transition {
    const state = this.#machine
    if (state === undefined) throw new Error('not started')
    const t = next(state, event, this.#env())
    this.#machine = t.state
    for (const effect of t.effects) this.#apply(effect, t.step.kind === 'done')
    return t
  }

  async #run(gen: number, first: MachineEvent): Promise<void> {
    let t = this.#feed(first)
    for (;;) {
      const step: Step = t.step
      // A final step settles even if a listener paused meanwhile (e.g. on the last progress).
      switch (step.kind) {
        case 'done':
          this.#settleSuccess(step.result)
          return
        case 'fail':
          this.#settleError(new UploadError(step.error))
          return
        case 'aborted':
          this.#settleAborted()
          return
        default:
      }
      if (gen !== this.#gen) return
      switch (step.kind) {
        case 'continue':
          return
        case 'wait': {
          await this.#sleep(step.ms)
          if (gen !== this.#gen) return
          t = this.#feed({ type: 'waited' })
          break
        }
        case 'read': {
          let event: MachineEvent
          try {
            const read = this.#source.read
            if (read === undefined)
              throw new SourceError('the source has no size and cannot be read ahead')
            const r = await read.call(this.#source, step.offset, step.maxLength)
            event = { type: 'read', offset: step.offset, length: r.length, eof: r.eof }
          } catch (e) {
            event = { type: 'source-error', message: (e as Error).message }
          }
          if (gen !== this.#gen) return
          t = this.#feed(event)
          break
        }
        default: {
          const event = await this.#send(step, gen)
          if (event === undefined || gen !== this.#gen) return
          t = this.#feed(event)
        }
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done(): void {
        clearTimeout(timer)
        if (self.#wake === done) self.#wake = undefined
        resolve()
      }
      this.#wake = done
    })
  }

  async #headers(refresh: boolean, method: string, url: string): Promise<Record<string, string>> {
    const h = this.#options.headers
    if (h === undefined) return {}
    if (typeof h === 'function') return { ...(await h({ refresh, method, url })) }
    return { ...h }
  }

  /** Sends one request; the machine event it produced, or undefined when paused / aborted. */
  async #send(
    step: Extract<Step, { request: unknown }>,
    gen: number,
  ): Promise<MachineEvent | undefined> {
    const spec = step.request
    let headers: Record<string, string>
    try {
      const extra = await this.#headers(spec.refreshHeaders === true, spec.method, spec.url)
      headers = {}
      for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v
      // Protocol fields win over caller fields.
      Object.assign(headers, spec.headers)
    } catch (e) {
      return {
        type: 'network-error',
        message: `the header provider failed: ${(e as Error).message}`,
      }
    }
    let body: RequestBody | undefined
    if (spec.body !== undefined) {
      try {
        body = await this.#source.slice(spec.body.offset, spec.body.offset + spec.body.length)
      } catch (e) {
        return { type: 'source-error', message: (e as Error).message }
      }
      headers['content-length'] = String(spec.body.length)
    } else if (spec.method === 'POST' || spec.method === 'PATCH') {
      headers['content-length'] = '0'
    }
    if (spec.integrity !== undefined) {
      if (gen !== this.#gen) return undefined
      try {
        Object.assign(headers, await this.#integrityFields(spec))
      } catch (e) {
        return { type: 'source-error', message: (e as Error).message }
      }
    }
    if (gen !== this.#gen) return undefined
    const info: RequestInfo = {
      method: spec.method,
      url: spec.url,
      headers,
      ...(spec.body === undefined ? {} : { offset: spec.body.offset, length: spec.body.length }),
    }
    this.#emit('request', info)
    // A 'request' listener may have paused the upload.
    if (gen !== this.#gen) return undefined
    const controller = new AbortController()
    this.#controller = controller
    // Without progress reports while the body is sent, silence is not a stall: no timer then.
    const blind = this.#transport.reportsProgress === false && (body?.length ?? 0) > 0
    const stallMs = blind ? 0 : (this.#options.stallTimeoutMs ?? 30_000)
    let stallTimer: ReturnType<typeof setTimeout> | undefined
    let ended = false
    const alive = (): void => {
      // Late callbacks (a write completing after the response) must not re-arm the timer.
      if (ended || stallMs <= 0 || !Number.isFinite(stallMs)) return
      if (stallTimer !== undefined) clearTimeout(stallTimer)
      stallTimer = setTimeout(() => {
        controller.abort(new StallError(`no sign of life for ${stallMs} ms`))
      }, stallMs)
    }
    alive()
    const start = spec.body?.offset ?? 0
    let written = 0
    try {
      const response = await this.#transport.request({
        method: spec.method,
        url: spec.url,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: controller.signal,
        ...(spec.waitForInterimMs === undefined ? {} : { waitForInterimMs: spec.waitForInterimMs }),
        onInterim: (head) => {
          if (gen !== this.#gen) return
          alive()
          this.#emit('interim', head)
          this.#feed({ type: 'interim', response: head })
        },
        onSent: (bytes) => {
          if (gen !== this.#gen || ended) return
          alive()
          if (bytes > written) {
            this.#sent += bytes - written
            written = bytes
            this.#position = start + written
            this.#progress(false)
          }
        },
      })
      this.#emit('response', { ...info, response, written })
      return { type: 'response', response }
    } catch (e) {
      const reason = controller.signal.aborted ? controller.signal.reason : e
      this.#emit('response', { ...info, error: (reason as Error).message, written })
      if (gen !== this.#gen || reason instanceof PauseSignal) return undefined
      if (reason instanceof StallError) {
        return { type: 'network-error', message: reason.message, stalled: true }
      }
      return { type: 'network-error', message: describeError(e) }
    } finally {
      ended = true
      if (stallTimer !== undefined) clearTimeout(stallTimer)
      if (this.#controller === controller) this.#controller = undefined
    }
  }

  /**
   * The integrity fields of a request: the body is read once more and hashed before it is sent
   * (a digest field precedes the content), and the whole source once for Repr-Digest.
   */
  async #integrityFields(spec: RequestSpec): Promise<Record<string, string>> {
    const integrity = spec.integrity ?? {}
    const out: Record<string, string> = {}
    const body = spec.body
    const size = this.#machine?.size
    if (integrity.reprDigest !== undefined && size !== undefined) {
      const algorithm = integrity.reprDigest
      let digest = this.#reprDigests.get(algorithm)
      if (digest === undefined) {
        const hashName = hashOfDigest(algorithm)
        digest = (await this.#hashRange(0, size, [hashName])).get(hashName)
        if (digest === undefined) throw new Error('no digest')
        this.#reprDigests.set(algorithm, digest)
      }
      out['repr-digest'] = digestField(algorithm, digest)
    }
    if (body !== undefined && (integrity.checksum ?? integrity.contentDigest) !== undefined) {
      const end = body.offset + body.length
      const names = new Set<HashAlgorithm>()
      if (integrity.checksum !== undefined) names.add(integrity.checksum)
      const content = integrity.contentDigest
      // A body that is the whole source has the representation's digest.
      const whole = body.offset === 0 && end === size
      const known = content === undefined || !whole ? undefined : this.#reprDigests.get(content)
      if (content !== undefined && known === undefined) names.add(hashOfDigest(content))
      const digests = names.size === 0 ? new Map() : await this.#hashRange(body.offset, end, names)
      if (integrity.checksum !== undefined) {
        const d = digests.get(integrity.checksum)
        if (d !== undefined) out['upload-checksum'] = checksumField(integrity.checksum, d)
      }
      if (content !== undefined) {
        const d = known ?? digests.get(hashOfDigest(content))
        if (d !== undefined) out['content-digest'] = digestField(content, d)
      }
    }
    return out
  }

  /** Hashes the source's bytes [start, end) with each algorithm, reading them once. */
  async #hashRange(
    start: number,
    end: number,
    algorithms: Iterable<HashAlgorithm>,
  ): Promise<Map<HashAlgorithm, Uint8Array>> {
    const names = [...algorithms].sort()
    const key = `${start}-${end}-${names.join(',')}`
    if (this.#lastHashed?.key === key) return this.#lastHashed.digests
    const hashers = names.map((name) => [name, this.#hasher(name)] as const)
    const body = await this.#source.slice(start, end)
    if (body.bytes !== undefined) {
      for (const [, h] of hashers) h.update(body.bytes)
    } else {
      for await (const piece of body.stream()) for (const [, h] of hashers) h.update(piece)
    }
    const digests = new Map(hashers.map(([name, h]) => [name, h.digest()] as const))
    this.#lastHashed = { key, digests }
    return digests
  }

  #apply(effect: Effect, success: boolean): void {
    switch (effect.kind) {
      case 'discovered':
        discoveryCache.set(effect.endpoint, effect.discovery)
        return
      case 'protocol':
        this.#emit('protocol', protocolName(effect.protocol))
        return
      case 'url':
        this.#setUrl(effect.url)
        return
      case 'progress':
        this.#acknowledged = effect.acknowledged
        if (this.#machine?.size !== undefined) this.#total = this.#machine.size
        this.#progress(true)
        return
      case 'save': {
        if (this.#internals.save !== undefined) {
          this.#internals.save({
            url: effect.url,
            ...(effect.expiresAt === undefined ? {} : { expiresAt: effect.expiresAt }),
          })
          return
        }
        const fp = this.#fingerprint
        if (fp === undefined) return
        this.#store((s) =>
          s.save({
            fingerprint: fp,
            url: effect.url,
            protocol: protocolName(effect.protocol),
            createdAt: this.#createdAt,
            ...(effect.size === undefined ? {} : { size: effect.size }),
            ...(effect.expiresAt === undefined ? {} : { expiresAt: effect.expiresAt }),
          }),
        )
        return
      }
      case 'forget':
        if (this.#internals.forget !== undefined) this.#internals.forget(success)
        else if (this.#fingerprint !== undefined) this.#store((s, fp) => s.remove(fp))
        return
      case 'retry': {
        // Content the server found corrupted is read and hashed again (the read may have been
        // the fault).
        if (effect.integrity === true) this.#lastHashed = undefined
        const info: RetryInfo = {
          attempt: effect.attempt,
          delayMs: effect.delayMs,
          reason: effect.reason,
          acknowledged: this.#acknowledged,
          ...(effect.status === undefined ? {} : { status: effect.status }),
        }
        this.#emit('retry', info)
        this.#options.onRetry?.(info)
        return
      }
    }
  }

  #setUrl(url: string): void {
    if (url === this.#url) return
    this.#url = url
    this.#emit('url', url)
    this.#options.onUrl?.(url)
  }

  #store(op: (storage: UrlStorage, fingerprint: string) => Promise<void>): void {
    const storage = this.#storage
    const fp = this.#fingerprint
    if (storage === undefined || fp === undefined) return
    this.#storageOps = this.#storageOps.then(() => op(storage, fp)).catch(() => {})
  }

  #progress(force: boolean): void {
    const now = this.#now()
    this.#meter.sample(now, this.#acknowledged)
    if (!force && now - this.#lastEmit < PROGRESS_EVERY_MS) return
    this.#lastEmit = now
    const p = this.progress
    this.#emit('progress', p)
    this.#options.onProgress?.(p)
  }

  #settleSuccess(machineResult: {
    url: string | undefined
    protocol: Protocol
    size: number
    response: ResponseHead
    resumable: boolean
  }): void {
    this.#status = 'done'
    this.#total = machineResult.size
    if (this.#acknowledged !== machineResult.size) {
      this.#acknowledged = machineResult.size
      this.#progress(true)
    }
    const result: UploadResult = {
      url: machineResult.url,
      size: machineResult.size,
      protocol: protocolName(machineResult.protocol),
      response: machineResult.response,
      resumable: machineResult.resumable,
    }
    void this.#finish().then(() => {
      this.#emit('success', result)
      this.#options.onSuccess?.(result)
      this.#resolve(result)
    })
  }

  #settleError(error: UploadError): void {
    this.#status = 'failed'
    void this.#finish().then(() => {
      this.#emit('error', error)
      this.#options.onError?.(error)
      this.#reject(error)
    })
  }

  #settleAborted(): void {
    this.#status = 'aborted'
    this.#gen++
    const error = new UploadError({ code: 'ERR_ABORTED', message: 'the upload was aborted' })
    void this.#finish().then(() => this.#reject(error))
  }

  async #finish(): Promise<void> {
    await this.#storageOps
    await this.#source.close?.().catch(() => {})
  }
}

function compatible(stored: Protocol, o: UploadOptions): boolean {
  if (o.protocol === 'tus') return stored.kind === 'tus'
  if (o.protocol === 'ietf' || o.interop !== undefined) {
    return stored.kind === 'ietf' && (o.interop === undefined || stored.interop === o.interop)
  }
  return true
}

function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e)
  const code = (e as { code?: unknown }).code
  const cause = (e as { cause?: unknown }).cause
  let message = e.message
  if (cause instanceof Error && cause.message !== '' && !message.includes(cause.message)) {
    message = `${message}: ${cause.message}`
  }
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message
}
