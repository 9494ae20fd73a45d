/**
 * @module The engine of `ferry bench`: N uploads of S bytes with C in flight against any
 * resumable-upload endpoint, with optional faults (Ferry's fault proxy, in process), and
 * integrity verification of every upload.
 *
 * The uploads run through Ferry's Node client (ferry/client/node) with a recording transport
 * (recorder.ts): the client does what a real client does — discovery, creation, appends, resumes
 * after cuts with HEAD, retries with backoff — and the recorder sees each of its requests with
 * its timing. `singleRequest` sends each upload as one raw request instead (raw.ts explains why).
 *
 * What is measured (bytes are 10^6 for MB):
 * - elapsed: from the start of the first upload to the end of the last one (success or
 *   failure); verification comes afterwards and is not part of it;
 * - throughput: payload bytes of the completed uploads / elapsed; uploads/s: completed / elapsed;
 * - request latency: from handing the request to the transport to its final response (its
 *   content included), per request type, percentiles by nearest rank (percentiles.ts);
 * - sent bytes: body bytes handed to connections (write callbacks), re-sent bytes: those of them
 *   at offsets the same upload had already sent (after a cut, the client sends again what the
 *   server did not keep, including bytes that were lost in the cut connection's buffers);
 * - resumes: retries of the client after a failed request (each resumes at the server's offset);
 * - errors: failed requests by kind (`HTTP 503`, `ECONNRESET`, `stall`, …), failed uploads
 *   (`upload ERR_…`) and verification failures (`integrity`).
 */

import { createHash } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import { nodeTransport, type Transport, type UploadResult, upload } from '../client/node/index.ts'
import { type FaultProxy, startFaultProxy } from '../proxy/fault-proxy.ts'
import { type LatencySummary, summarize } from './percentiles.ts'
import { SingleRequestError, singleRequestUpload } from './raw.ts'
import { errorKind, Recorder } from './recorder.ts'
import { benchSource, contentDigest } from './source.ts'

export type VerifyMethod = 'download' | 'digest' | 'none'

export interface FaultOptions {
  /** Cut connections after this many upstream bytes (see FaultProxyOptions.cutAfterBytes). */
  readonly cutAfterBytes?: number
  /** Cut at a random upstream byte in [min, max], seeded. */
  readonly cutRandom?: { readonly min: number; readonly max: number }
  /** How many connections to cut. @default 1 */
  readonly cuts?: number
  /** Throttle each connection's upstream direction to this many bytes per second. */
  readonly throttleBytesPerSecond?: number
  /** One-way latency added in both directions. */
  readonly latencyMs?: number
  /** Seed of cutRandom. */
  readonly seed?: number
}

export interface BenchOptions {
  readonly endpoint: string
  /** How many uploads. */
  readonly uploads: number
  /** Bytes per upload. */
  readonly size: number
  /** Uploads in flight at once. */
  readonly concurrency: number
  /** Largest content of one request. @default the client's: all in one request */
  readonly chunkSize?: number
  /** @default 'auto' (OPTIONS decides) */
  readonly protocol?: 'auto' | 'tus' | 'ietf'
  /** The draft's interop version. @default the client's (10, stepping down) */
  readonly interop?: number
  /** Each upload in one raw request (tus creation-with-upload, draft Upload-Complete: ?1). */
  readonly singleRequest?: boolean
  /** @default 'download' */
  readonly verify?: VerifyMethod
  /** Seed of the generated content. @default 1 */
  readonly seed?: number
  /** Client-side pacing of every request body (slow clients). */
  readonly bytesPerSecond?: number
  readonly headers?: Readonly<Record<string, string>>
  /** The client's retries per failure streak. @default 10 */
  readonly retries?: number
  /** The client's base backoff. @default 500 */
  readonly retryDelayMs?: number
  /** @default 30000 */
  readonly stallTimeoutMs?: number
  /** Faults injected by an in-process fault proxy between the client and the endpoint. */
  readonly faults?: FaultOptions
  /** Timeline resolution (and how often `onTick` is called). @default 250 */
  readonly sampleMs?: number
  onTick?(live: LiveProgress): void
}

export interface LiveProgress {
  readonly elapsedSeconds: number
  readonly completed: number
  readonly failed: number
  readonly inFlight: number
  readonly total: number
  /** Bytes the server confirmed so far (all uploads). */
  readonly acknowledged: number
  readonly errors: number
}

export interface BenchReport {
  readonly endpoint: string
  /** What the uploads spoke: `tus`, `ietf-10`, … (several, comma-separated, if they differed). */
  readonly protocol: string
  readonly settings: {
    readonly uploads: number
    readonly size: number
    readonly concurrency: number
    readonly chunkSize: number | null
    readonly singleRequest: boolean
    readonly seed: number
    readonly bytesPerSecond: number | null
    readonly faults: FaultOptions | null
  }
  readonly startedAt: string
  readonly elapsedSeconds: number
  readonly uploads: {
    readonly total: number
    readonly completed: number
    readonly failed: number
  }
  /** Payload MB (10^6 bytes) of completed uploads per second of elapsed time. */
  readonly throughputMBps: number
  readonly uploadsPerSecond: number
  readonly bytes: {
    /** Payload bytes of the completed uploads. */
    readonly payload: number
    /** Body bytes handed to connections. */
    readonly sent: number
    /** Of those, bytes at offsets their upload had sent before. */
    readonly resent: number
  }
  readonly resumes: number
  /** Per request type, milliseconds. */
  readonly latencyMs: Readonly<Record<string, LatencySummary>>
  /** Whole uploads, milliseconds (completed ones). */
  readonly uploadMs: LatencySummary
  /** Failed requests by kind, failed uploads (`upload <code>`), verification failures. */
  readonly errors: Readonly<Record<string, number>>
  readonly verification: {
    readonly method: VerifyMethod
    readonly checked: number
    readonly ok: number
    readonly failed: number
    readonly seconds: number
  }
  /** Acknowledged bytes (all uploads) over time, one sample per `sampleMs`. */
  readonly timeline: readonly { readonly t: number; readonly bytes: number }[]
  readonly proxy: {
    readonly connections: number
    readonly cuts: number
    readonly cutPoints: readonly number[]
    readonly bytesUp: number
    readonly bytesDown: number
  } | null
}

interface Done {
  readonly index: number
  readonly url: string | undefined
  readonly ms: number
  readonly response: Readonly<Record<string, string>>
  readonly protocol: string
}

/** Re-points `url` from the proxy's origin to the endpoint's (verification bypasses faults). */
function direct(url: string, proxy: FaultProxy | undefined, endpoint: URL): string {
  if (proxy === undefined) return url
  const u = new URL(url)
  if (u.port === String(proxy.port)) {
    u.host = endpoint.host
    u.protocol = endpoint.protocol
  }
  return u.href
}

async function download(
  url: string,
  agent: http.Agent,
): Promise<{ status: number; sha256: string }> {
  const target = new URL(url)
  const module = target.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = module.get(target, { agent }, (res) => {
      const hash = createHash('sha256')
      res.on('data', (chunk: Buffer) => hash.update(chunk))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha256: hash.digest('hex') }))
    })
    req.on('error', reject)
  })
}

/** `sha-256=:<base64>:` of a Repr-Digest field (RFC 9530 §3), as hex; undefined if absent. */
function reprDigestHex(field: string | undefined): string | undefined {
  const m = /(?:^|,)\s*sha-256\s*=\s*:([A-Za-z0-9+/=]+):/.exec(field ?? '')
  return m?.[1] === undefined ? undefined : Buffer.from(m[1], 'base64').toString('hex')
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const {
    uploads: total,
    size,
    concurrency,
    seed = 1,
    verify = 'download',
    sampleMs = 250,
    singleRequest = false,
  } = options
  if (!(Number.isSafeInteger(total) && total >= 1)) throw new RangeError('uploads must be ≥ 1')
  if (!(Number.isSafeInteger(size) && size >= 0)) throw new RangeError('size must be ≥ 0')
  if (!(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
    throw new RangeError('concurrency must be ≥ 1')
  }
  if (singleRequest && options.protocol !== 'tus' && options.protocol !== 'ietf') {
    throw new RangeError('singleRequest needs protocol tus or ietf')
  }
  if (singleRequest && options.faults !== undefined) {
    const f = options.faults
    if (f.cutAfterBytes !== undefined || f.cutRandom !== undefined) {
      throw new RangeError('cuts need resumption: not with singleRequest')
    }
  }
  if (verify === 'digest' && options.protocol !== 'ietf') {
    throw new RangeError('digest verification needs the draft (protocol ietf): Repr-Digest')
  }
  const endpoint = new URL(options.endpoint)
  let proxy: FaultProxy | undefined
  const f = options.faults
  if (f !== undefined) {
    proxy = await startFaultProxy({
      target: {
        host: endpoint.hostname.replace(/^\[|\]$/g, ''),
        port: Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80)),
      },
      ...(f.cutAfterBytes === undefined ? {} : { cutAfterBytes: f.cutAfterBytes }),
      ...(f.cutRandom === undefined ? {} : { cutRandom: f.cutRandom }),
      ...(f.seed === undefined ? {} : { seed: f.seed }),
      ...(f.cuts === undefined ? {} : { cuts: f.cuts }),
      ...(f.throttleBytesPerSecond === undefined
        ? {}
        : { bytesPerSecond: f.throttleBytesPerSecond }),
      ...(f.latencyMs === undefined ? {} : { latencyMs: f.latencyMs }),
    })
  }
  const target = new URL(endpoint.href)
  if (proxy !== undefined) {
    target.hostname = proxy.host
    target.port = String(proxy.port)
  }
  const headers: Record<string, string> = { ...options.headers }
  if (verify === 'digest') headers['want-repr-digest'] = 'sha-256=10'

  const recorder = new Recorder()
  const transport: Transport = nodeTransport({ proxy: null })
  const agent = new (target.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true })
  const acknowledged = new Map<number, number>()
  let acknowledgedTotal = 0
  const setAck = (index: number, bytes: number): void => {
    acknowledgedTotal += bytes - (acknowledged.get(index) ?? 0)
    acknowledged.set(index, bytes)
  }
  const errors: Record<string, number> = {}
  const count = (kind: string): void => {
    errors[kind] = (errors[kind] ?? 0) + 1
  }
  const completed: Done[] = []
  let failed = 0
  let inFlight = 0
  let resumes = 0
  let next = 0
  const protocols = new Set<string>()

  const startedAt = new Date()
  const t0 = performance.now()
  const timeline: { t: number; bytes: number }[] = [{ t: 0, bytes: 0 }]
  const live = (): LiveProgress => ({
    elapsedSeconds: (performance.now() - t0) / 1000,
    completed: completed.length,
    failed,
    inFlight,
    total,
    acknowledged: acknowledgedTotal,
    errors: Object.values(errors).reduce((a, b) => a + b, 0),
  })
  const ticker = setInterval(() => {
    timeline.push({ t: (performance.now() - t0) / 1000, bytes: acknowledgedTotal })
    options.onTick?.(live())
  }, sampleMs)

  const one = async (index: number): Promise<void> => {
    const started = performance.now()
    if (singleRequest) {
      try {
        const r = await singleRequestUpload({
          endpoint: target.href,
          protocol: options.protocol as 'tus' | 'ietf',
          interop: options.interop ?? 10,
          headers,
          seed,
          index,
          size,
          agent,
          recorder,
        })
        setAck(index, size)
        const protocol = options.protocol === 'tus' ? 'tus' : `ietf-${options.interop ?? 10}`
        protocols.add(protocol)
        completed.push({
          index,
          url: r.url,
          ms: performance.now() - started,
          response: r.headers,
          protocol,
        })
      } catch (e) {
        failed++
        count(`upload ${e instanceof SingleRequestError ? e.kind : errorKind(e)}`)
      }
      return
    }
    const u = upload(
      benchSource(
        seed,
        index,
        size,
        options.bytesPerSecond === undefined ? {} : { bytesPerSecond: options.bytesPerSecond },
      ),
      {
        endpoint: target.href,
        transport: recorder.wrap(transport, index),
        storage: null,
        fingerprint: null,
        headers,
        ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
        ...(options.interop === undefined ? {} : { interop: options.interop }),
        ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
        ...(options.retries === undefined ? {} : { retries: options.retries }),
        ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
        ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
      },
    )
    u.on('progress', (p) => setAck(index, p.acknowledged))
    u.on('retry', () => {
      resumes++
    })
    try {
      const r: UploadResult = await u.start().done
      setAck(index, r.size)
      protocols.add(r.protocol)
      completed.push({
        index,
        url: r.url,
        ms: performance.now() - started,
        response: r.response.headers,
        protocol: r.protocol,
      })
    } catch (e) {
      failed++
      const code = (e as { code?: unknown }).code
      count(`upload ${typeof code === 'string' ? code : errorKind(e)}`)
    }
  }

  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++
      if (index >= total) return
      inFlight++
      try {
        await one(index)
      } finally {
        inFlight--
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker))
  } finally {
    clearInterval(ticker)
  }
  const elapsedSeconds = (performance.now() - t0) / 1000
  timeline.push({ t: elapsedSeconds, bytes: acknowledgedTotal })
  options.onTick?.(live())
  const proxyStats =
    proxy === undefined
      ? null
      : {
          connections: proxy.stats.connections,
          cuts: proxy.stats.cuts,
          cutPoints: [...proxy.stats.cutPoints],
          bytesUp: proxy.stats.bytesUp,
          bytesDown: proxy.stats.bytesDown,
        }
  await proxy?.close()
  transport.close?.()

  for (const r of recorder.records) if (r.error !== undefined) count(r.error)

  // Verification, after the timed part: the expected SHA-256 is re-created from the seed.
  const v0 = performance.now()
  let ok = 0
  let bad = 0
  if (verify !== 'none') {
    const queue = [...completed]
    const verifier = async (): Promise<void> => {
      for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
        const expected = await contentDigest(seed, d.index, size)
        let got: string | undefined
        if (verify === 'digest') {
          got = reprDigestHex(d.response['repr-digest'])
          if (got === undefined) count('verify: no Repr-Digest')
        } else if (d.url === undefined) {
          count('verify: no upload URL')
        } else {
          const v = performance.now()
          try {
            const r = await download(direct(d.url, proxy, endpoint), agent)
            recorder.record({
              upload: d.index,
              type: 'GET (verify)',
              ms: performance.now() - v,
              sent: 0,
              status: r.status,
            })
            if (r.status === 200) got = r.sha256
            else count(`verify: HTTP ${r.status}`)
          } catch (e) {
            count(`verify: ${errorKind(e)}`)
          }
        }
        if (got === expected) ok++
        else {
          bad++
          if (got !== undefined) count('integrity')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(8, concurrency) }, verifier))
  }
  agent.destroy()

  const byType = new Map<string, number[]>()
  for (const r of recorder.records) {
    const list = byType.get(r.type) ?? []
    list.push(r.ms)
    byType.set(r.type, list)
  }
  const latencyMs: Record<string, LatencySummary> = {}
  for (const [type, list] of byType) latencyMs[type] = summarize(list)
  const payload = completed.length * size
  return {
    endpoint: endpoint.href,
    protocol: [...protocols].sort().join(', ') || '?',
    settings: {
      uploads: total,
      size,
      concurrency,
      chunkSize: options.chunkSize ?? null,
      singleRequest,
      seed,
      bytesPerSecond: options.bytesPerSecond ?? null,
      faults: options.faults ?? null,
    },
    startedAt: startedAt.toISOString(),
    elapsedSeconds,
    uploads: { total, completed: completed.length, failed },
    throughputMBps: payload / 1e6 / elapsedSeconds,
    uploadsPerSecond: completed.length / elapsedSeconds,
    bytes: { payload, sent: recorder.sentBytes, resent: recorder.resentBytes },
    resumes,
    latencyMs,
    uploadMs: summarize(completed.map((d) => d.ms)),
    errors,
    verification: {
      method: verify,
      checked: verify === 'none' ? 0 : completed.length,
      ok,
      failed: bad,
      seconds: (performance.now() - v0) / 1000,
    },
    timeline,
    proxy: proxyStats,
  }
}
