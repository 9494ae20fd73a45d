/**
 * @module The page of the Chromium test (test/browser/chromium.test.ts). Bundled by the test with
 * `ferry/client` left out: the import below becomes `/ferry.js`, the browser bundle built by
 * scripts/bundle-client.mjs, so the page exercises the very bundle whose size is reported.
 * Everything here runs in the browser; the test calls `window.ferryTest.run(...)`.
 */
import {
  fetchTransport,
  localStorageStorage,
  type Transport,
  type UploadOptions,
  upload,
  xhrTransport,
} from '../../src/client/index.ts'

export interface RunOptions {
  readonly endpoint: string
  readonly protocol: 'tus' | 'ietf'
  readonly size: number
  readonly chunkSize?: number
  /** 'default': no transport option (upload() picks). */
  readonly transport: 'xhr' | 'fetch' | 'default'
  /** Pause once this fraction is sent (acknowledged or not), then resume. */
  readonly pauseAt?: number
  /** Reload the page (abruptly, request in flight) once this fraction is acknowledged. */
  readonly reloadAt?: number
  /** Deterministic bytes from this seed (identical after a reload); else crypto-random. */
  readonly seed?: number
  /** Make a File of this name (fixed lastModified): fingerprinted, so localStorage resumes it. */
  readonly fileName?: string
}

export interface RequestSeen {
  readonly method: string
  readonly url: string
  readonly offset?: number
  readonly length?: number
}

export interface ProgressSeen {
  readonly acknowledged: number
  readonly position: number
  readonly sent: number
}

/** What the page saw when it reloaded itself. */
export interface BeforeReload {
  readonly acknowledged: number
  readonly url: string | undefined
  readonly requests: number
}

export interface RunReport {
  readonly sha256: string
  readonly url: string | undefined
  readonly protocol: string
  readonly requests: RequestSeen[]
  readonly progress: ProgressSeen[]
  /** What the transport's onSent saw (XHR upload progress). */
  readonly onSent: number[]
  /** Requests that ended without a response (the pause's abort, say). */
  readonly interrupted: string[]
  /** Index in `requests` of the first request after resume(). */
  readonly resumedAt?: number
  /** Acknowledged bytes when the pause took effect. */
  readonly pausedAt?: number
  /** What the page before the reload saw (set by the run after a reload). */
  readonly beforeReload?: BeforeReload
  readonly generateMs: number
  readonly uploadMs: number
  readonly error?: string
}

interface PageGlobals {
  ferryTest?: { run(options: RunOptions): Promise<RunReport> }
  location: { reload(): void }
  sessionStorage: {
    getItem(key: string): string | null
    setItem(key: string, value: string): void
    removeItem(key: string): void
  }
}
const page = globalThis as unknown as PageGlobals

const PIECE = 64 * 1024

/** `size` bytes as a Blob: crypto-random, or xorshift32 from a seed. */
function makeBlob(size: number, seed: number | undefined): Blob {
  const parts: Uint8Array[] = []
  let state = (seed ?? 1) >>> 0 || 1
  for (let at = 0; at < size; at += PIECE) {
    const n = Math.min(PIECE, size - at)
    const piece = new Uint8Array(n)
    if (seed === undefined) {
      crypto.getRandomValues(piece)
    } else {
      const words = new Uint32Array(piece.buffer, 0, n >>> 2)
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13
        state ^= state >>> 17
        state ^= state << 5
        words[i] = state >>> 0
      }
    }
    parts.push(piece)
  }
  return new Blob(parts)
}

async function sha256(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Wraps a transport to record what its onSent reports. */
function recording(transport: Transport, seen: number[]): Transport {
  return {
    interimResponses: transport.interimResponses,
    request: (req) =>
      transport.request({
        ...req,
        onSent: (bytes) => {
          seen.push(bytes)
          req.onSent?.(bytes)
        },
      }),
  }
}

const BEFORE_RELOAD = 'ferry-test:before-reload'

async function run(o: RunOptions): Promise<RunReport> {
  const t0 = performance.now()
  const blob = makeBlob(o.size, o.seed)
  const input =
    o.fileName === undefined ? blob : new File([blob], o.fileName, { lastModified: 1_700_000_000 })
  const hash = await sha256(blob)
  const generateMs = performance.now() - t0

  const onSent: number[] = []
  const requests: RequestSeen[] = []
  const progress: ProgressSeen[] = []
  const base =
    o.transport === 'xhr' ? xhrTransport() : o.transport === 'fetch' ? fetchTransport() : undefined
  const options: UploadOptions = {
    endpoint: o.endpoint,
    protocol: o.protocol,
    storage: localStorageStorage({ prefix: 'ferry-test::' }),
    retryDelayMs: 50,
    ...(o.chunkSize === undefined ? {} : { chunkSize: o.chunkSize }),
    ...(base === undefined ? {} : { transport: recording(base, onSent) }),
  }
  const up = upload(input, options)
  let resumedAt: number | undefined
  let pausedAt: number | undefined
  let pausing = false
  let reloading = false
  const interrupted: string[] = []
  up.on('request', (r) => {
    requests.push({
      method: r.method,
      url: r.url,
      ...(r.offset === undefined ? {} : { offset: r.offset }),
      ...(r.length === undefined ? {} : { length: r.length }),
    })
  })
  up.on('response', (r) => {
    if (r.error !== undefined)
      interrupted.push(`${r.method} [${r.offset}+${r.length}]: ${r.error} after ${r.written} B`)
  })
  up.on('progress', (p) => {
    progress.push({ acknowledged: p.acknowledged, position: p.position, sent: p.sent })
    // Pause once this much is sent (mid-request when the network is slow enough), then resume.
    if (o.pauseAt !== undefined && !pausing && p.position >= o.pauseAt * o.size) {
      pausing = true
      void up.pause().then(() => {
        pausedAt = up.progress.acknowledged
        setTimeout(() => {
          resumedAt = requests.length
          up.resume()
        }, 50)
      })
    }
    if (o.reloadAt !== undefined && !reloading && p.acknowledged >= o.reloadAt * o.size) {
      reloading = true
      page.sessionStorage.setItem(
        BEFORE_RELOAD,
        JSON.stringify({ acknowledged: p.acknowledged, url: up.url, requests: requests.length }),
      )
      // Abrupt, like a closed tab: whatever request is in flight dies with the page.
      page.location.reload()
    }
  })

  const before = page.sessionStorage.getItem(BEFORE_RELOAD)
  if (o.reloadAt === undefined) page.sessionStorage.removeItem(BEFORE_RELOAD)
  const t1 = performance.now()
  let error: string | undefined
  let result: Awaited<typeof up.done> | undefined
  try {
    result = await up.start().done
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`
  }
  return {
    sha256: hash,
    url: result?.url ?? up.url,
    protocol: result?.protocol ?? '',
    requests,
    progress,
    onSent,
    interrupted,
    generateMs,
    uploadMs: performance.now() - t1,
    ...(resumedAt === undefined ? {} : { resumedAt }),
    ...(pausedAt === undefined ? {} : { pausedAt }),
    ...(before === null ? {} : { beforeReload: JSON.parse(before) as BeforeReload }),
    ...(error === undefined ? {} : { error }),
  }
}

page.ferryTest = { run }
