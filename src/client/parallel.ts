/**
 * @module Parallel uploads (0004; issue 4, scope 6): the source is split into N contiguous
 * parts, each uploaded as a tus partial upload (`Upload-Concat: partial`) by its own run of the
 * machine — its own retries, stall detection and resume — and then joined by the final upload
 * (`Upload-Concat: final;<url> <url> …`), which carries the metadata. What tus-js-client gets
 * wrong (clients.md §2.6) is done here on purpose:
 *
 * - the server's capabilities are checked first: the first part asks OPTIONS and refuses before
 *   any content is sent when `concatenation` is not offered (or the server speaks the draft); the
 *   other parts start only once that check passed;
 * - a part that fails for good aborts its siblings (terminating them when the server offers
 *   termination) and the upload fails with that part's error;
 * - progress is the sum over the parts; the state stored for resuming lists every part's URL
 *   (and the final URL once created), so a later run HEADs each part and continues.
 */
import { UploadError } from './errors.ts'
import { Listeners } from './listeners.ts'
import { RateMeter } from './progress.ts'
import type { Concat, Discovery, ResponseHead } from './protocols.ts'
import type { UploadSource } from './sources.ts'
import type { StoredUpload, UrlStorage } from './storage.ts'
import { fetchTransport } from './transport.ts'
import type {
  Progress,
  RetryInfo,
  Upload,
  UploadEvents,
  UploadOptions,
  UploadResult,
  UploadStatus,
} from './upload.ts'

/** What the runtime gives a part's run instead of URL storage (internal). */
export interface RunInternals {
  /** tus concatenation role of the run. */
  readonly concat?: Concat
  /** The run's resumable state changed (a URL, an expiry). */
  readonly save?: (state: { url: string; expiresAt?: number }) => void
  /** The run's state is to be dropped (`success`: because it completed). */
  readonly forget?: (success: boolean) => void
}

/** What parallel.ts needs of upload.ts (passed in: no import cycle). */
export interface ParallelDeps {
  runPart(source: UploadSource, options: UploadOptions, internals: RunInternals): Upload
  discovery(endpoint: string): Discovery | undefined
}

/** The stored state of a parallel upload: a StoredUpload with its parts. */
interface ParallelEntry extends StoredUpload {
  /** Each part's upload URL (null: not created yet). */
  readonly parts: readonly (string | null)[]
  /** The final upload, once created. */
  readonly final?: string
}

function isParallelEntry(entry: StoredUpload | undefined, parts: number): entry is ParallelEntry {
  const e = entry as { parts?: unknown; final?: unknown } | undefined
  return (
    e !== undefined &&
    Array.isArray(e.parts) &&
    e.parts.length === parts &&
    e.parts.every((p) => p === null || typeof p === 'string') &&
    (e.final === undefined || typeof e.final === 'string')
  )
}

/** The contiguous ranges of `n` parts of `size` bytes (never an empty part, except for 0 B). */
export function splitParts(size: number, n: number): { offset: number; length: number }[] {
  const count = Math.max(1, Math.min(n, size))
  const out: { offset: number; length: number }[] = []
  for (let i = 0; i < count; i++) {
    const start = Math.floor((i * size) / count)
    const end = Math.floor(((i + 1) * size) / count)
    out.push({ offset: start, length: end - start })
  }
  return out
}

/** The bytes [offset, offset + length) of `source`, as a source of their own. */
function partSource(source: UploadSource, offset: number, length: number): UploadSource {
  return {
    size: length,
    slice: (start, end) => source.slice(offset + start, offset + end),
  }
}

/** The final upload's source: it has the total size and no content of its own. */
function finalSource(size: number): UploadSource {
  return {
    size,
    slice: async () => {
      throw new Error('the final upload of a concatenation carries no content')
    },
  }
}

const PROGRESS_EVERY_MS = 100
/** Upper bound of `parallel` (connections to one server). */
export const MAX_PARALLEL = 64

interface Part {
  readonly index: number
  readonly offset: number
  readonly length: number
  url: string | null
  expiresAt: number | undefined
  run: Upload | undefined
  acknowledged: number
  sent: number
  position: number
}

/** An upload of N partial uploads and their concatenation. */
export class ParallelRun implements Upload {
  readonly done: Promise<UploadResult>
  #source: UploadSource
  #options: UploadOptions
  #deps: ParallelDeps
  #partOptions: UploadOptions | undefined
  #status: UploadStatus = 'idle'
  #started = false
  #listeners = new Listeners<UploadEvents>()
  #resolve!: (r: UploadResult) => void
  #reject!: (e: UploadError) => void
  #parts: Part[] = []
  #final: Upload | undefined
  #finalUrl: string | undefined
  #total: number | undefined
  #meter = new RateMeter()
  #lastEmit = 0
  #now: () => number
  #storage: UrlStorage | undefined
  #key: string | undefined
  #createdAt = 0
  #storageOps: Promise<void> = Promise.resolve()
  /** Resolves when not paused. */
  #unpaused: Promise<void> = Promise.resolve()
  #unpause: (() => void) | undefined
  #settled = false

  constructor(source: UploadSource, options: UploadOptions, deps: ParallelDeps) {
    this.#source = source
    this.#options = options
    this.#deps = deps
    this.#now = options.now ?? Date.now
    this.#storage = options.storage ?? undefined
    this.done = new Promise<UploadResult>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.done.catch(() => {})
  }

  get url(): string | undefined {
    return this.#finalUrl
  }

  get status(): UploadStatus {
    return this.#status
  }

  get progress(): Progress {
    let acknowledged = 0
    let sent = 0
    let position = 0
    for (const p of this.#parts) {
      acknowledged += p.acknowledged
      sent += p.sent
      position += Math.max(p.position, p.acknowledged)
    }
    const remaining = this.#total === undefined ? undefined : this.#total - acknowledged
    return {
      acknowledged,
      sent,
      position,
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
    this.#begin().catch((e: unknown) => {
      this.#fail(
        e instanceof UploadError
          ? e
          : new UploadError({ code: 'ERR_CONFIG', message: (e as Error).message }),
      )
    })
    return this
  }

  async pause(): Promise<void> {
    if (this.#status !== 'running') return
    this.#status = 'paused'
    this.#unpaused = new Promise((resolve) => {
      this.#unpause = resolve
    })
    await Promise.all(this.#runs().map((r) => r.pause()))
    await this.#storageOps
  }

  resume(): void {
    if (this.#status !== 'paused') return
    this.#status = 'running'
    for (const r of this.#runs()) r.resume()
    this.#unpause?.()
  }

  async abort(options: { terminate?: boolean } = {}): Promise<void> {
    if (this.#settled) return
    this.#settled = true
    this.#status = 'aborted'
    this.#unpause?.()
    await Promise.all(this.#runs().map((r) => r.abort(options)))
    if (options.terminate === true) this.#forget()
    await this.#storageOps
    await this.#source.close?.().catch(() => {})
    this.#reject(new UploadError({ code: 'ERR_ABORTED', message: 'the upload was aborted' }))
  }

  #runs(): Upload[] {
    const runs: Upload[] = []
    for (const p of this.#parts) if (p.run !== undefined) runs.push(p.run)
    if (this.#final !== undefined) runs.push(this.#final)
    return runs
  }

  // -------------------------------------------------------------------------------------------

  async #begin(): Promise<void> {
    const o = this.#options
    const n = o.parallel ?? 1
    const config = (message: string): UploadError =>
      new UploadError({ code: 'ERR_CONFIG', message })
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PARALLEL) {
      throw config(`parallel must be a whole number from 1 to ${MAX_PARALLEL}, got ${n}`)
    }
    const endpoint = o.endpoint
    if (endpoint === undefined) throw config('parallel uploads need an endpoint')
    if (o.uploadUrl !== undefined) {
      throw config('parallel uploads resume from their stored parts, not from one uploadUrl')
    }
    if (o.protocol === 'ietf' || o.interop !== undefined) {
      throw new UploadError({
        code: 'ERR_UNSUPPORTED',
        message: 'parallel uploads need tus concatenation; the IETF draft has no concatenation',
      })
    }
    if (o.digest !== undefined && o.checksum === undefined) {
      throw new UploadError({
        code: 'ERR_UNSUPPORTED',
        message: `parallel uploads are tus uploads, which have no Content-Digest / Repr-Digest: use checksum instead of digest ${o.digest}`,
      })
    }
    const source = this.#source
    if (source.streaming === true) {
      throw config(
        'parallel uploads need a source that can be read at any offset (bytes, a Blob, a file), not a stream',
      )
    }
    await source.open?.()
    if (this.#settled) return
    const size = source.size ?? o.size
    if (size === undefined) throw config('parallel uploads need the size up front')
    this.#total = size
    const ranges = splitParts(size, n)
    this.#parts = ranges.map((r, index) => ({
      index,
      offset: r.offset,
      length: r.length,
      url: null,
      expiresAt: undefined,
      run: undefined,
      acknowledged: 0,
      sent: 0,
      position: 0,
    }))

    // Stored state: keyed by the source's fingerprint and the number of parts.
    this.#createdAt = this.#now()
    if (this.#storage !== undefined && o.fingerprint !== null) {
      const fp = o.fingerprint ?? (await source.fingerprint?.(endpoint))
      if (fp !== undefined) this.#key = `${fp}\u0000parallel ${ranges.length}`
    }
    if (this.#key !== undefined && o.resume !== false) {
      const entry = await this.#storage?.find(this.#key).catch(() => undefined)
      if (isParallelEntry(entry, ranges.length) && (entry.size ?? size) === size) {
        this.#createdAt = entry.createdAt
        entry.parts.forEach((url, i) => {
          const part = this.#parts[i]
          if (part !== undefined) part.url = url
        })
        if (entry.final !== undefined) this.#setFinalUrl(entry.final)
      }
    }

    // One transport for all parts (connections are pooled per transport).
    this.#partOptions = {
      endpoint,
      protocol: 'tus',
      transport: o.transport ?? fetchTransport(),
      storage: null,
      fingerprint: null,
      resume: false,
      ...pick(o, [
        'chunkSize',
        'headers',
        'retries',
        'retryDelayMs',
        'maxRetryDelayMs',
        'stallTimeoutMs',
        'checksum',
        'integrityRetries',
        'hasher',
        'now',
        'random',
      ]),
    }

    if (this.#settled) return
    if (this.#finalUrl === undefined) {
      const results = await this.#uploadParts()
      if (results === undefined) return
      for (const [i, r] of results.entries()) {
        const part = this.#parts[i]
        if (part !== undefined && r.url !== undefined) part.url = r.url
      }
    }
    await this.#unpaused
    if (this.#settled) return
    const urls = this.#parts.map((p) => p.url ?? '')
    await this.#concatenate(urls, size)
  }

  /** Runs every part; undefined when the upload failed or was aborted meanwhile. */
  async #uploadParts(): Promise<UploadResult[] | undefined> {
    const [first, ...rest] = this.#parts
    if (first === undefined) return []
    // The first part asks OPTIONS and checks the server (concatenation, checksum algorithm):
    // the others start once it sent anything else, so a refusal happens before any content.
    const firstDone = this.#startPart(first)
    const checked = await Promise.race([
      new Promise<boolean>((resolve) => {
        const off = first.run?.on('request', (r) => {
          if (r.method === 'OPTIONS') return
          off?.()
          resolve(true)
        })
      }),
      firstDone.then(
        () => true,
        () => false,
      ),
    ])
    const failure = (index: number, e: unknown): Promise<undefined> => this.#partFailed(index, e)
    if (!checked) return firstDone.catch((e: unknown) => failure(0, e)).then(() => undefined)
    const max = this.#deps.discovery(this.#options.endpoint ?? '')?.limits.maxSize
    if (max !== undefined && (this.#total ?? 0) > max) {
      await this.#partFailed(
        0,
        new UploadError({
          code: 'ERR_TOO_LARGE',
          message: `${this.#total} bytes exceed the server's limit of ${max}`,
        }),
      )
      return undefined
    }
    await this.#unpaused
    if (this.#settled) return undefined
    const all = [firstDone, ...rest.map((p) => this.#startPart(p))]
    // The first failure decides; the others are aborted.
    let failed = false
    const results = await Promise.all(
      all.map((d, i) =>
        d.catch(async (e: unknown) => {
          if (!failed && !this.#settled) {
            failed = true
            await this.#partFailed(i, e)
          }
          return undefined
        }),
      ),
    )
    if (failed || this.#settled) return undefined
    return results as UploadResult[]
  }

  #startPart(part: Part): Promise<UploadResult> {
    const partOptions = this.#partOptions as UploadOptions
    const options: UploadOptions = {
      ...partOptions,
      ...(part.url === null ? {} : { uploadUrl: part.url }),
    }
    const run = this.#deps.runPart(partSource(this.#source, part.offset, part.length), options, {
      concat: { kind: 'partial' },
      save: (state) => {
        const fresh = part.url !== state.url
        part.url = state.url
        part.expiresAt = state.expiresAt ?? part.expiresAt
        if (fresh) {
          this.#emit('part', {
            index: part.index,
            offset: part.offset,
            length: part.length,
            url: state.url,
          })
        }
        this.#save()
      },
      forget: (success) => {
        // A completed part stays stored until the final upload exists; a gone one is dropped.
        if (success) return
        part.url = null
        this.#save()
      },
    })
    part.run = run
    this.#forward(run, part)
    const done = run.start().done
    if (this.#status === 'paused') void run.pause()
    return done
  }

  #forward(run: Upload, part: Part): void {
    run.on('progress', (p) => {
      part.acknowledged = p.acknowledged
      part.sent = p.sent
      part.position = p.position
      this.#progress(false)
    })
    run.on('retry', (r) => {
      const info: RetryInfo = { ...r, part: part.index, acknowledged: this.progress.acknowledged }
      this.#emit('retry', info)
      this.#options.onRetry?.(info)
    })
    run.on('request', (r) => this.#emit('request', r))
    run.on('response', (r) => this.#emit('response', r))
    run.on('interim', (r) => this.#emit('interim', r))
  }

  /** Aborts the siblings of a part that failed for good, then fails with its error. */
  async #partFailed(index: number, e: unknown): Promise<undefined> {
    if (this.#settled) return undefined
    const error =
      e instanceof UploadError
        ? e
        : new UploadError({ code: 'ERR_NETWORK', message: (e as Error).message })
    if (error.code === 'ERR_ABORTED') return undefined
    const part = this.#parts[index]
    const terminate =
      this.#deps.discovery(this.#options.endpoint ?? '')?.tusExtensions.includes('termination') ??
      false
    const siblings = this.#parts.flatMap((p) =>
      p.index === index || p.run === undefined ? [] : [p.run],
    )
    await Promise.all(siblings.map((run) => run.abort({ terminate })))
    this.#forget()
    // Refusals before any content (configuration, capabilities, size) concern the whole upload.
    const whole = ['ERR_CONFIG', 'ERR_UNSUPPORTED', 'ERR_TOO_LARGE'].includes(error.code)
    const where =
      part === undefined || this.#parts.length === 1 || whole
        ? ''
        : `part ${index + 1} of ${this.#parts.length} (bytes ${part.offset}-${
            part.offset + part.length - 1
          }): `
    this.#fail(
      new UploadError({
        code: error.code,
        message: `${where}${error.message}`,
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.response === undefined ? {} : { response: error.response }),
      }),
    )
    return undefined
  }

  /** The final upload: `Upload-Concat: final;<urls>` with the metadata (retried like any creation). */
  async #concatenate(urls: string[], size: number): Promise<void> {
    const o = this.#options
    const options: UploadOptions = {
      ...(this.#partOptions as UploadOptions),
      ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
      ...(this.#finalUrl === undefined ? {} : { uploadUrl: this.#finalUrl }),
    }
    // The final upload has no content: chunking and checksums do not apply.
    const run = this.#deps.runPart(finalSource(size), omit(options, ['chunkSize', 'checksum']), {
      concat: { kind: 'final', parts: urls },
      save: (state) => {
        this.#setFinalUrl(state.url)
        this.#save()
      },
      forget: () => {},
    })
    this.#final = run
    run.on('request', (r) => this.#emit('request', r))
    run.on('response', (r) => this.#emit('response', r))
    run.on('retry', (r) => {
      const info: RetryInfo = { ...r, acknowledged: this.progress.acknowledged }
      this.#emit('retry', info)
      this.#options.onRetry?.(info)
    })
    if (this.#status === 'paused') void run.pause()
    let result: UploadResult
    try {
      result = await run.start().done
    } catch (e) {
      if (this.#settled) return
      const error = e as UploadError
      if (error.code === 'ERR_ABORTED') return
      this.#fail(
        new UploadError({
          code: error.code,
          message: `the concatenation of the ${urls.length} parts failed: ${error.message}`,
          ...(error.status === undefined ? {} : { status: error.status }),
          ...(error.response === undefined ? {} : { response: error.response }),
        }),
      )
      return
    }
    if (result.url !== undefined) this.#setFinalUrl(result.url)
    this.#succeed(result, size)
  }

  #setFinalUrl(url: string): void {
    if (url === this.#finalUrl) return
    this.#finalUrl = url
    this.#emit('url', url)
    this.#options.onUrl?.(url)
  }

  #progress(force: boolean): void {
    const now = this.#now()
    const p = this.progress
    this.#meter.sample(now, p.acknowledged)
    if (!force && now - this.#lastEmit < PROGRESS_EVERY_MS) return
    this.#lastEmit = now
    const current = this.progress
    this.#emit('progress', current)
    this.#options.onProgress?.(current)
  }

  // -------------------------------------------------------------------------------------------
  // Storage

  #save(): void {
    const storage = this.#storage
    const key = this.#key
    if (storage === undefined || key === undefined || this.#settled) return
    const parts = this.#parts.map((p) => p.url)
    const first = this.#finalUrl ?? parts.find((u) => u !== null)
    if (first === undefined || first === null) return
    const expiries = this.#parts.flatMap((p) => (p.expiresAt === undefined ? [] : [p.expiresAt]))
    const entry: ParallelEntry = {
      fingerprint: key,
      url: first,
      protocol: 'tus',
      createdAt: this.#createdAt,
      ...(this.#total === undefined ? {} : { size: this.#total }),
      ...(expiries.length === 0 ? {} : { expiresAt: Math.min(...expiries) }),
      parts,
      ...(this.#finalUrl === undefined ? {} : { final: this.#finalUrl }),
    }
    this.#storageOps = this.#storageOps.then(() => storage.save(entry)).catch(() => {})
  }

  #forget(): void {
    const storage = this.#storage
    const key = this.#key
    if (storage === undefined || key === undefined) return
    this.#storageOps = this.#storageOps.then(() => storage.remove(key)).catch(() => {})
  }

  // -------------------------------------------------------------------------------------------
  // Settling

  #succeed(final: UploadResult, size: number): void {
    if (this.#settled) return
    this.#settled = true
    this.#status = 'done'
    for (const p of this.#parts) p.acknowledged = p.length
    this.#progress(true)
    this.#forget()
    const result: UploadResult = {
      url: final.url,
      size,
      protocol: 'tus',
      response: final.response as ResponseHead,
      resumable: true,
    }
    void this.#finish().then(() => {
      this.#emit('success', result)
      this.#options.onSuccess?.(result)
      this.#resolve(result)
    })
  }

  #fail(error: UploadError): void {
    if (this.#settled) return
    this.#settled = true
    this.#status = 'failed'
    void this.#finish().then(() => {
      this.#emit('error', error)
      this.#options.onError?.(error)
      this.#reject(error)
    })
  }

  async #finish(): Promise<void> {
    await this.#storageOps
    await this.#source.close?.().catch(() => {})
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k]
  return out
}

function omit<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Omit<T, K> {
  const out = { ...o }
  for (const k of keys) delete out[k]
  return out
}
