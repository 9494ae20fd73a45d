/**
 * Faults under `ferry serve` on S3 + Redis (issue 7, scope item 5), with real services only: Ceph's
 * RADOS Gateway, redis-server, Ferry's client, tus-js-client and raw HTTP/1.1 requests. Every
 * upload ends verified by download + SHA-256, and no offset a client was ever told goes back.
 *
 * - Redis restarted mid-upload (a private redis-server: stopped, started again empty): requests
 *   during the outage get 503 ERR_LOCK_UNAVAILABLE with Retry-After; both clients complete.
 * - The S3 endpoint stalling and cutting parts (a stall proxy and the fault proxy between the
 *   store and the gateway): 503 ERR_STORE_UNAVAILABLE, and HEAD right after each failure gives
 *   exactly what S3 holds (whole parts + the pending tail); the client retries and completes.
 * - The instance holding an upload's lock frozen (SIGSTOP) mid-PATCH: the other instance waits
 *   for the lease, takes over and appends; after SIGCONT the stale instance writes nothing that
 *   the upload's manifest names (its commit is refused), and the upload completes intact.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import {
  GetObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import * as tus from 'tus-js-client'
import { createNodeServer, type NodeServer } from '../../src/adapters/node.ts'
import { memoryStorage, nodeTransport, type Upload, upload } from '../../src/client/node/index.ts'
import { createRedisLocker, type RedisLocker } from '../../src/lock/redis.ts'
import { createUploadHandler } from '../../src/server/handler.ts'
import { createS3Store, type S3Store } from '../../src/stores/s3/index.ts'
import { download, MiB, type StallProxy, sha256, stallProxy, traceOf } from '../client/support.ts'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts'
import { type RoundRobin, startRoundRobin } from '../support/round-robin.ts'
import { type FerryProcess, s3ServeArgs, s3ServeEnv, spawnFerry } from '../support/servers.ts'
import { type RedisService, redisService, type S3Service, s3Service } from '../support/services.ts'

const PART = 5 * MiB
const PREFIX = 'uploads/'
const IETF = { 'upload-draft-interop-version': '10' } as const
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits for `condition` (polling), failing with `what` after `ms`. */
async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(25)
  }
}

/** `promise`, or a failure naming `what` after `ms` (the timer does not outlive it). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// reading S3 directly (not through Ferry, not through any proxy)

interface ManifestView {
  readonly offset: number
  readonly complete: boolean
  readonly stored: 'parts' | 'object'
  readonly uploadId?: string
  readonly parts: readonly (readonly [number, string, number])[]
  readonly partSize: number
  readonly pendingSize: number
  readonly pendingSlot: 0 | 1
  readonly pendingFence?: number
  readonly fence: number
}

class Bucket {
  readonly client: S3Client
  readonly name: string
  constructor(s3: S3Service, name: string) {
    this.client = new S3Client(s3.clientConfig())
    this.name = name
  }

  async text(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }))
      return (await out.Body?.transformToString('utf-8')) ?? ''
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey') return undefined
      throw e
    }
  }

  async bytes(key: string, start: number, end: number): Promise<Buffer> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.name, Key: key, Range: `bytes=${start}-${end - 1}` }),
    )
    return Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array(0))
  }

  async manifest(id: string): Promise<ManifestView> {
    const text = await this.text(`${PREFIX}${id}.info`)
    assert.ok(text !== undefined, `the manifest of ${id} exists`)
    return JSON.parse(text) as ManifestView
  }

  /** Part number → [ETag, size] of the parts S3 holds for a multipart upload. */
  async parts(id: string, uploadId: string): Promise<Map<number, [string, number]>> {
    const out = await this.client.send(
      new ListPartsCommand({ Bucket: this.name, Key: `${PREFIX}${id}`, UploadId: uploadId }),
    )
    return new Map((out.Parts ?? []).map((p) => [p.PartNumber ?? 0, [p.ETag ?? '', p.Size ?? 0]]))
  }

  async keys(prefix: string): Promise<string[]> {
    const out = await this.client.send(
      new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix }),
    )
    return (out.Contents ?? []).map((o) => o.Key ?? '')
  }

  /**
   * The offset the manifest claims is exactly what S3 holds: every part it names is stored with
   * its ETag and size, each of `partSize`, and the pending object it names holds the bytes after
   * the parts (compared with the source).
   */
  async assertHolds(id: string, source: Uint8Array, offset: number): Promise<ManifestView> {
    const m = await this.manifest(id)
    assert.equal(m.offset, offset, 'the offset reported is the manifest offset')
    assert.equal(m.stored, 'parts')
    assert.equal(m.offset, m.parts.length * m.partSize + m.pendingSize, 'parts + pending tail')
    if (m.parts.length > 0) {
      assert.ok(m.uploadId !== undefined)
      const stored = await this.parts(id, m.uploadId)
      for (const [n, etag, size] of m.parts) {
        assert.equal(size, m.partSize, `part ${n} has the part size`)
        assert.deepEqual(stored.get(n), [etag, size], `part ${n} is in S3 as the manifest says`)
      }
    }
    if (m.pendingSize > 0) {
      const from = m.parts.length * m.partSize
      // Written under a lease, the pending object's key carries the writer's fence.
      const name =
        m.pendingFence === undefined ? `${m.pendingSlot}` : `${m.pendingFence}.${m.pendingSlot}`
      const tail = await this.bytes(`${PREFIX}${id}.pending.${name}`, 0, m.pendingSize)
      assert.equal(
        sha256(tail),
        sha256(source.subarray(from, from + m.pendingSize)),
        `the pending object holds bytes ${from}..${from + m.pendingSize} of the source`,
      )
    }
    return m
  }

  close(): void {
    this.client.destroy()
  }
}

// ---------------------------------------------------------------------------------------------
// raw HTTP/1.1 requests (to see 104s, problem details and Retry-After exactly as sent)

interface RawResult {
  readonly status?: number
  readonly headers?: http.IncomingHttpHeaders
  readonly body?: string
  /** A network error before a whole response arrived. */
  readonly error?: string
  /** Upload-Offset of each 104 interim response. */
  readonly interimOffsets: readonly number[]
}

interface RawRequest {
  readonly done: Promise<RawResult>
  /** Body bytes handed to the socket so far. */
  written(): number
  /** Offsets of the 104s received so far. */
  interims(): readonly number[]
}

/**
 * One request on a fresh connection. The body is written in `chunk`-byte pieces with `delayMs`
 * between them (a paced client) and backpressure; writing stops once a response arrived.
 */
function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: { bytes: Uint8Array; chunk?: number; delayMs?: number },
): RawRequest {
  const interimOffsets: number[] = []
  let written = 0
  const done = new Promise<RawResult>((resolve) => {
    const req = http.request(url, {
      method,
      agent: false,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-length': String(body.bytes.byteLength) }),
      },
    })
    let answered = false
    req.on('information', (info) => {
      const offset = info.headers['upload-offset']
      if (info.statusCode === 104 && typeof offset === 'string') interimOffsets.push(Number(offset))
    })
    req.on('response', (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (e) => resolve({ error: e.message, interimOffsets }))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          interimOffsets,
        }),
      )
    })
    req.on('error', (e) => {
      if (!answered) resolve({ error: e.message, interimOffsets })
    })
    if (body === undefined) {
      req.end()
      return
    }
    const chunk = body.chunk ?? 256 * 1024
    void (async () => {
      for (let at = 0; at < body.bytes.byteLength && !answered && !req.destroyed; at += chunk) {
        const piece = body.bytes.subarray(at, Math.min(at + chunk, body.bytes.byteLength))
        const ok = req.write(piece)
        written += piece.byteLength
        if (!ok) {
          await new Promise<void>((r) => {
            const go = (): void => {
              req.off('drain', go)
              req.off('close', go)
              r()
            }
            req.on('drain', go)
            req.on('close', go)
          })
        }
        if (body.delayMs !== undefined) await sleep(body.delayMs)
      }
      if (!req.destroyed) req.end()
    })()
  })
  return { done, written: () => written, interims: () => interimOffsets }
}

/** Creates a draft (interop 10) upload with no content; returns its URL. */
async function createIetf(endpoint: string): Promise<string> {
  const r = await rawRequest(endpoint, 'POST', { ...IETF, 'upload-complete': '?0' }).done
  assert.equal(r.status, 201, `creation: ${r.status} ${r.error ?? r.body}`)
  const location = r.headers?.location
  assert.ok(typeof location === 'string')
  return new URL(location, endpoint).href
}

function patchIetf(
  url: string,
  offset: number,
  bytes: Uint8Array,
  complete: boolean,
  pace?: { chunk: number; delayMs: number },
): RawRequest {
  return rawRequest(
    url,
    'PATCH',
    {
      ...IETF,
      'upload-offset': String(offset),
      'upload-complete': complete ? '?1' : '?0',
      'content-type': 'application/partial-upload',
    },
    { bytes, ...pace },
  )
}

/** HEAD (interop 10): the offset the server reports. */
async function headOffset(url: string): Promise<number> {
  const r = await rawRequest(url, 'HEAD', IETF).done
  assert.equal(r.status, 204, `HEAD: ${r.status} ${r.error ?? ''}`)
  return Number(r.headers?.['upload-offset'])
}

/** The problem-details code of a draft error response. */
function problemCode(r: RawResult): string | undefined {
  try {
    return (JSON.parse(r.body ?? '') as { code?: string }).code
  } catch {
    return undefined
  }
}

function describeRaw(r: RawResult): string {
  return r.error !== undefined ? `error ${r.error}` : `${r.status} ${r.body ?? ''}`
}

// ---------------------------------------------------------------------------------------------
// what clients were told

/** Upload-Offset values a Ferry client received (responses and 104s), in order. */
function offsetsOf(up: Upload): { told: number[]; acknowledged: number[] } {
  const told: number[] = []
  const acknowledged: number[] = []
  const take = (h: Record<string, string> | undefined): void => {
    const v = h?.['upload-offset']
    if (v !== undefined) told.push(Number(v))
  }
  up.on('interim', (r) => take(r.headers))
  up.on('response', (r) => take(r.response?.headers))
  up.on('progress', (p) => acknowledged.push(p.acknowledged))
  return { told, acknowledged }
}

/** No offset told later is below one told earlier (acknowledged bytes are never taken back). */
function assertNeverBack(what: string, offsets: readonly number[], size: number): void {
  let max = 0
  for (const [i, o] of offsets.entries()) {
    assert.ok(o >= max, `${what}: offset ${o} (#${i}) after ${max} was told: ${offsets.join(' ')}`)
    assert.ok(o <= size, `${what}: offset ${o} beyond the size ${size}`)
    max = o
  }
}

// =============================================================================================

describe('Redis restarted mid-upload', () => {
  let redis: RedisService
  let instances: FerryProcess[] = []
  let balancer: RoundRobin | undefined
  let throttle: FaultProxy | undefined
  const transport = nodeTransport({ proxy: null })

  before(async () => {
    const s3 = await s3Service()
    const bucket = await s3.createBucket()
    redis = await redisService({ private: true })
    const args = s3ServeArgs(s3, bucket, redis.url, PREFIX)
    instances = await Promise.all([0, 1].map(() => spawnFerry(args, 0, s3ServeEnv(s3))))
    balancer = await startRoundRobin(instances.map((i) => i.port))
    // Each connection's upload throttled, so the uploads are under way when Redis goes.
    throttle = await startFaultProxy({
      target: { host: '127.0.0.1', port: balancer.port },
      bytesPerSecond: 4 * MiB,
    })
  })

  after(async () => {
    transport.close()
    await throttle?.close()
    await balancer?.close()
    await Promise.all(instances.map((i) => i.stop()))
    await redis?.close()
  })

  test('two instances, Ferry client (draft) and tus-js-client: 503 ERR_LOCK_UNAVAILABLE with Retry-After during the outage, no acknowledged byte lost, both complete', async () => {
    assert.ok(throttle !== undefined)
    const endpoint = throttle.url('/files/')
    const size = 16 * MiB
    const bytes = randomBytes(size)
    const tusBytes = randomBytes(size)

    const up = upload(bytes, {
      endpoint,
      protocol: 'ietf',
      interop: 10,
      transport,
      storage: memoryStorage(),
      chunkSize: 2 * MiB,
      retries: 10,
      retryDelayMs: 200,
    })
    const trace = traceOf(up)
    const seen = offsetsOf(up)
    let ferry503 = 0
    const ferryRetryAfter: (string | undefined)[] = []
    up.on('response', (r) => {
      if (r.response?.status !== 503) return
      ferry503++
      ferryRetryAfter.push(r.response.headers['retry-after'])
    })

    const tusOffsets: number[] = []
    const tusStatuses: string[] = []
    const tusRetryAfter: (string | undefined)[] = []
    const tusDone = new Promise<string>((resolve, reject) => {
      const u = new tus.Upload(tusBytes as unknown as tus.Upload['file'], {
        endpoint,
        chunkSize: 2 * MiB,
        retryDelays: [200, 500, 1000, 1000, 2000, 2000, 3000, 5000],
        onAfterResponse: (req, res) => {
          tusStatuses.push(`${req.getMethod()} ${res.getStatus()}`)
          if (res.getStatus() === 503) tusRetryAfter.push(res.getHeader('Retry-After'))
          const offset = res.getHeader('Upload-Offset')
          if (offset !== undefined && offset !== '') tusOffsets.push(Number(offset))
        },
        onSuccess: () => resolve(u.url ?? ''),
        onError: reject,
      })
      u.start()
    })

    // The outage: from the moment the Ferry client has 4 MiB acknowledged until (at least 1 s,
    // and) the probes answered and the Ferry client met the outage too.
    let probe: RawResult | undefined
    let readProbe: RawResult | undefined
    let outage: Promise<void> | undefined
    /** The readiness path of instance 0 (ferry serve's default, /healthz). */
    const readiness = async (): Promise<{ status: number; body: unknown }> => {
      const r = await fetch(new URL('/healthz', instances[0]?.endpoint))
      return { status: r.status, body: await r.json() }
    }
    assert.deepEqual(await readiness(), {
      status: 200,
      body: { status: 'ready', checks: { store: 'ok', lock: 'ok' } },
    })
    let unready: { status: number; body: unknown } | undefined
    const startOutage = async (): Promise<void> => {
      await redis.stop()
      const stoppedAt = Date.now()
      // A load balancer probing the instance learns that it cannot take uploads now.
      const probing = readiness()
      const url = up.url
      assert.ok(url !== undefined)
      // Straight to one instance: an append needs the upload's lock; an offset retrieval is
      // answered from the store without it.
      const target = `${instances[0]?.endpoint}${new URL(url).pathname.split('/').pop() ?? ''}`
      probe = await patchIetf(target, 0, new Uint8Array(0), false).done
      readProbe = await rawRequest(target, 'HEAD', IETF).done
      unready = await probing
      await eventually('the Ferry client meeting the outage', () => ferry503 > 0, 20_000)
      await sleep(Math.max(0, 1000 - (Date.now() - stoppedAt)))
      await redis.start()
    }
    up.on('progress', (p) => {
      if (outage === undefined && p.acknowledged >= 4 * MiB) outage = startOutage()
    })

    const result = await up
      .start()
      .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
    const tusUrl = await tusDone
    assert.ok(outage !== undefined, 'Redis was stopped during the upload')
    await outage

    // The readiness probe during the outage said which dependency failed; after it, ready again.
    assert.deepEqual(unready, {
      status: 503,
      body: { status: 'unavailable', checks: { store: 'ok', lock: 'unavailable' } },
    })
    await eventually('instance 0 ready again', async () => (await readiness()).status === 200)

    // The write that met the outage: a clear 503. The read: the durable offset.
    assert.ok(probe !== undefined && readProbe !== undefined)
    assert.equal(probe.status, 503, describeRaw(probe))
    assert.equal(problemCode(probe), 'ERR_LOCK_UNAVAILABLE', describeRaw(probe))
    assert.equal(probe.headers?.['retry-after'], '1')
    assert.equal(readProbe.status, 204, describeRaw(readProbe))
    const heldOffset = Number(readProbe.headers?.['upload-offset'])
    assert.ok(heldOffset >= 4 * MiB && heldOffset <= size, describeRaw(readProbe))
    // tus-js-client starts a new upload when a HEAD gets a 5xx: none of its HEADs did.
    assert.deepEqual(
      tusStatuses.filter((x) => x.startsWith('HEAD') && !/ 2\d\d$/.test(x)),
      [],
      tusStatuses.join(' '),
    )
    // The clients met it too, and every 503 told them when to come back.
    assert.ok(ferry503 > 0, trace.join('\n'))
    for (const s of ferryRetryAfter) assert.equal(s, '1', 'Ferry client 503s carry Retry-After')
    for (const s of tusRetryAfter) assert.equal(s, '1', 'tus-js-client 503s carry Retry-After')

    // Acknowledged offsets never went back, across the outage, and the bytes are the source's.
    assertNeverBack('Ferry client, Upload-Offset', seen.told, size)
    assertNeverBack('Ferry client, acknowledged', seen.acknowledged, size)
    assertNeverBack('tus-js-client, Upload-Offset', tusOffsets, size)
    assert.equal(seen.told.at(-1), size)
    assert.equal(tusOffsets.at(-1), size)
    assert.equal(sha256(await download(result.url ?? '')), sha256(bytes), trace.join('\n'))
    assert.equal(sha256(await download(tusUrl)), sha256(tusBytes), tusStatuses.join(' '))
  })
})

// =============================================================================================

describe('the S3 endpoint stalls and cuts parts', () => {
  let s3: S3Service
  let bucketName: string
  let direct: Bucket
  let cuts: FaultProxy
  let stall: StallProxy
  let store: S3Store
  let locker: RedisLocker
  let server: NodeServer
  let endpoint: string
  /** Connections the fault proxy still cuts (after 1 MiB upstream: only parts are that big). */
  let cutsLeft = 0
  /** The server's and the store's warnings, and the cuts (for failure messages). */
  const events: string[] = []
  const note =
    (level: string) =>
    (event: string, attrs?: Record<string, unknown>): void => {
      events.push(`${level} ${event} ${JSON.stringify(attrs ?? {})}`)
    }
  const recorder = {
    debug: (): void => {},
    info: (): void => {},
    warn: note('warn'),
    error: note('error'),
  }
  const transport = nodeTransport({ proxy: null })

  before(async () => {
    s3 = await s3Service()
    bucketName = await s3.createBucket()
    direct = new Bucket(s3, bucketName)
    const gateway = new URL(s3.endpoint)
    cuts = await startFaultProxy({
      target: { host: gateway.hostname, port: Number(gateway.port) },
      // Called per new connection; the store's connections are not reused (below), so arming
      // takes effect at the next request.
      cutAfterBytes: () => (cutsLeft > 0 ? MiB : Number.POSITIVE_INFINITY),
      cuts: 1_000,
      onCut: (c) => {
        events.push(`cut: connection ${c.connection} after ${c.bytes} bytes`)
        cutsLeft--
      },
    })
    // In front of it: the first connection that carries 5 MiB (the first part) freezes.
    stall = await stallProxy({ host: '127.0.0.1', port: cuts.port }, PART)
    store = createS3Store({
      bucket: bucketName,
      prefix: PREFIX,
      clientConfig: {
        ...s3.clientConfig(),
        endpoint: stall.url(''),
        // One connection per S3 request, so that each request meets the proxies' current plan.
        requestHandler: { httpAgent: new http.Agent({ keepAlive: false }) },
      },
      partSize: PART,
      // A stalled S3 request fails after this (ferry serve's default is 60 s).
      requestTimeoutMs: 5_000,
      logger: recorder,
    })
    locker = createRedisLocker({
      url: (await redisService()).url,
      keyPrefix: `faults-${randomBytes(4).toString('hex')}:`,
    })
    const handler = createUploadHandler({
      store,
      locker,
      lockTimeoutMs: 15_000,
      logger: recorder,
    })
    server = createNodeServer({ handler })
    endpoint = `${(await server.listen(0, '127.0.0.1')).url}/files/`
  })

  after(async () => {
    transport.close()
    await server?.close(2_000)
    await locker?.close()
    await store?.close?.()
    await stall?.close()
    await cuts?.close()
    direct?.close()
  })

  test('503 ERR_STORE_UNAVAILABLE on a stalled and on a cut part; HEAD then reports exactly what S3 holds; the client retries through more cuts and completes', async () => {
    const size = 24 * MiB
    const source = randomBytes(size)
    const url = await createIetf(endpoint)
    const id = new URL(url).pathname.split('/').pop() ?? ''

    // 3 MiB: less than a part, kept as the pending object.
    let r = await patchIetf(url, 0, source.subarray(0, 3 * MiB), false).done
    assert.equal(r.status, 204, describeRaw(r))
    await direct.assertHolds(id, source, 3 * MiB)

    // The first part (3 MiB pending + 2 MiB) stalls in S3: the request answers 503 once the S3
    // request's time limit passed, and HEAD still reports the 3 MiB S3 holds.
    r = await patchIetf(url, 3 * MiB, source.subarray(3 * MiB, 9 * MiB), false).done
    assert.ok(stall.stalledAt() !== undefined, 'the part stalled')
    if (r.error === undefined) {
      assert.equal(r.status, 503, describeRaw(r))
      assert.equal(problemCode(r), 'ERR_STORE_UNAVAILABLE', describeRaw(r))
    }
    assert.equal(await headOffset(url), 3 * MiB)
    await direct.assertHolds(id, source, 3 * MiB)

    // No fault: two parts and a 4 MiB tail.
    r = await patchIetf(url, 3 * MiB, source.subarray(3 * MiB, 14 * MiB), false).done
    assert.equal(r.status, 204, describeRaw(r))
    assert.equal(await headOffset(url), 14 * MiB)
    await direct.assertHolds(id, source, 14 * MiB)

    // Part 3 is cut on every attempt the SDK makes (3): 503, and HEAD reports 2 parts + 4 MiB.
    // Parts travel several at a time: part 4 may go out alongside part 3, and is cut as well
    // (6 cuts cover both); whatever of it S3 took is never committed past the gap.
    cutsLeft = 6
    r = await patchIetf(url, 14 * MiB, source.subarray(14 * MiB), true).done
    assert.ok(cutsLeft <= 3, `part 3 was cut on its three attempts (${cutsLeft} cuts left)`)
    cutsLeft = 0
    if (r.error === undefined) {
      assert.equal(r.status, 503, describeRaw(r))
      assert.equal(problemCode(r), 'ERR_STORE_UNAVAILABLE', describeRaw(r))
    }
    assert.equal(await headOffset(url), 2 * PART + 4 * MiB)
    const held = await direct.assertHolds(id, source, 2 * PART + 4 * MiB)
    assert.equal(held.parts.length, 2)

    // Ferry's client resumes the rest in 4 MiB requests while 6 more part uploads are cut (two
    // failed S3 requests after the SDK's own retries): it gets 503s, retries and completes.
    cutsLeft = 6
    const up = upload(source, {
      uploadUrl: url,
      protocol: 'ietf',
      interop: 10,
      transport,
      storage: memoryStorage(),
      chunkSize: 4 * MiB,
      retries: 10,
      retryDelayMs: 100,
    })
    const trace = traceOf(up)
    const seen = offsetsOf(up)
    const result = await up
      .start()
      .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
    assert.ok(cutsLeft <= 0, `every planned cut happened (${cutsLeft} left)`)
    const failures = trace.filter((l) => l.startsWith('< 503') || l.startsWith('< ('))
    assert.ok(failures.length > 0, `the client met the failures:\n${trace.join('\n')}`)
    assert.ok(
      trace.some((l) => l.startsWith('! retry')),
      trace.join('\n'),
    )
    assertNeverBack('Ferry client, Upload-Offset', seen.told, size)
    assertNeverBack('Ferry client, acknowledged', seen.acknowledged, size)
    assert.ok((seen.told[0] ?? 0) >= 2 * PART + 4 * MiB, 'the client resumed, not restarted')
    const got = await download(result.url ?? url).catch((e: Error) =>
      assert.fail(`${e.message}\n${events.slice(-20).join('\n')}`),
    )
    assert.equal(sha256(got), sha256(source), trace.join('\n'))
    // Nothing is left besides the manifest and the object: no pending tail, no open upload.
    assert.deepEqual((await direct.keys(`${PREFIX}${id}`)).sort(), [
      `${PREFIX}${id}`,
      `${PREFIX}${id}.info`,
    ])
  })
})

// =============================================================================================

describe('the instance holding the lock is frozen (SIGSTOP) mid-PATCH', () => {
  let s3: S3Service
  let direct: Bucket
  let a: FerryProcess
  let b: FerryProcess
  const transport = nodeTransport({ proxy: null })

  before(async () => {
    s3 = await s3Service()
    const bucket = await s3.createBucket()
    direct = new Bucket(s3, bucket)
    const redis = await redisService()
    const args = s3ServeArgs(s3, bucket, redis.url, PREFIX)
    ;[a, b] = (await Promise.all([0, 1].map(() => spawnFerry(args, 0, s3ServeEnv(s3))))) as [
      FerryProcess,
      FerryProcess,
    ]
  })

  after(async () => {
    transport.close()
    if (a !== undefined && a.child.exitCode === null) a.child.kill('SIGCONT')
    await Promise.all([a?.stop(), b?.stop()])
    direct?.close()
  })

  test('the other instance waits for the lease and takes over; after SIGCONT the stale instance changes nothing; the upload completes intact', async () => {
    const size = 20 * MiB
    const source = randomBytes(size)
    const url = await createIetf(a.endpoint)
    const id = new URL(url).pathname.split('/').pop() ?? ''
    const onB = `${b.endpoint}${id}`

    // The whole upload in one PATCH to A, paced (~10 MiB/s).
    const stale = patchIetf(url, 0, source, true, { chunk: 256 * 1024, delayMs: 25 })
    // A committed its first part and holds more bytes in its part buffer: freeze it.
    await eventually('A committing a part', async () => {
      const m = await direct.manifest(id)
      return m.parts.length >= 1
    })
    await eventually('A reading past its first part', () => stale.written() >= PART + 2 * MiB)
    a.child.kill('SIGSTOP')
    const told = [...stale.interims()]
    const frozen = await direct.manifest(id)

    // On B: HEAD waits until A's lease expired, then gets the lock (a new fence).
    const resumeAt = await headOffset(onB)
    assert.equal(resumeAt, frozen.offset, 'B sees what A committed')
    for (const o of told) assert.ok(o <= resumeAt, `A acknowledged ${o}, B resumes at ${resumeAt}`)
    // B appends up to 12 MiB (2 parts + a 2 MiB pending tail) and stops there.
    const r = await patchIetf(onB, resumeAt, source.subarray(resumeAt, 12 * MiB), false).done
    assert.equal(r.status, 204, describeRaw(r))
    const byB = await direct.assertHolds(id, source, 12 * MiB)
    assert.ok(byB.fence > frozen.fence, `B's fence ${byB.fence} above A's ${frozen.fence}`)

    // A wakes up with bytes of its own in memory: its lease is gone, nothing it does may count.
    a.child.kill('SIGCONT')
    const answer = await within(60_000, 'A answering its PATCH', stale.done)
    if (answer.error === undefined) {
      assert.equal(answer.status, 503, describeRaw(answer))
      const code = problemCode(answer)
      assert.ok(code === 'ERR_LOCK_LOST' || code === 'ERR_STORE_UNAVAILABLE', describeRaw(answer))
    }
    await eventually('A logging the lost lock', () => a.log().includes('"LockLost"'), 10_000)
    // What B committed is intact: same manifest, and the objects it names hold the right bytes.
    const afterA = await direct.assertHolds(id, source, 12 * MiB)
    assert.deepEqual(afterA, byB, 'A changed nothing the manifest names')

    // The upload completes through B (Ferry's client), and through either instance it is whole.
    const up = upload(source, {
      uploadUrl: onB,
      protocol: 'ietf',
      interop: 10,
      transport,
      storage: memoryStorage(),
      chunkSize: 4 * MiB,
      retries: 5,
      retryDelayMs: 100,
    })
    const trace = traceOf(up)
    const seen = offsetsOf(up)
    await up.start().done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
    assertNeverBack('Ferry client, Upload-Offset', [...told, ...seen.told], size)
    assert.equal(sha256(await download(onB)), sha256(source), trace.join('\n'))
    assert.equal(sha256(await download(url)), sha256(source), 'through A too')
    assert.deepEqual((await direct.keys(`${PREFIX}${id}`)).sort(), [
      `${PREFIX}${id}`,
      `${PREFIX}${id}.info`,
    ])
  })
})
