/**
 * Campaign 6 (issue 6), graceful shutdown: SIGTERM to `ferry serve` (a child process) while N
 * uploads are in flight — raw PATCHes held open in the middle of their content, raw PATCHes
 * streaming, and Ferry's Node client uploading through a throttled proxy — in tus 1.0.0 and
 * IETF interop 10 and 6. Checks (README "SIGTERM / SIGINT shut down gracefully: running uploads
 * stop reading, keep what they received and answer"):
 * - every in-flight append answers (or its connection closes), never with a 5xx other than 503;
 * - every offset an answer announced is on disk once the process is gone (no overshoot);
 * - the process exits by itself, with status 0, within the shutdown timeout (10 s in
 *   src/cli/serve.ts, plus 1 s for the last sockets): the time is measured;
 * - after a restart on the same port and directory every upload resumes from the offset HEAD
 *   reports (at least what was announced, at most what was sent) and completes, and GET returns
 *   the original bytes (SHA-256).
 *
 *   node --import tsx test/campaigns/shutdown.ts [--full] [--seed N] [--uploads N]
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { upload as ferryUpload, type Upload } from '../../src/client/node/index.ts'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts'
import { type RawResponse, rawRequest } from '../support/raw-http.ts'
import { type FerryProcess, spawnFerry, tempDir } from '../support/servers.ts'
import {
  type CampaignResult,
  cli,
  KiB,
  MiB,
  type OpenRequest,
  openRequest,
  rng,
  seededBytes,
  sha256,
  sleep,
  within,
} from './_kit.ts'

export interface ShutdownOptions {
  /** Uploads in flight at the SIGTERM (full: 20). @default 6 */
  readonly uploads?: number
  /** Largest upload (log-uniform from 256 KiB). @default 4 MiB */
  readonly maxSizeBytes?: number
  readonly seed?: number
}

export interface ShutdownFigures extends CampaignResult {
  readonly uploads: number
  readonly completed: number
  readonly answered: number
  readonly closed: number
  readonly exitMs: number
  readonly exitCode: number | null
  readonly maxOvershoot: number
}

/** `ferry serve`'s shutdown timeout (src/cli/serve.ts: server.close(10_000)) + last sockets. */
const SHUTDOWN_LIMIT_MS = 10_000 + 1_000
/** Time to spare on a loaded machine for the process itself to exit once closed. */
const EXIT_SLACK_MS = 2_000

type Dialect = { kind: 'tus' } | { kind: 'ietf'; interop: number }
type Mode = 'held' | 'streaming' | 'client'

interface Running {
  readonly index: number
  readonly dialect: Dialect
  readonly mode: Mode
  readonly data: Buffer
  path?: string
  request?: OpenRequest
  client?: Upload
  clientAcked: number
  stop: boolean
  answer?: RawResponse | undefined
}

const dialectHeaders = (d: Dialect): Record<string, string> =>
  d.kind === 'tus'
    ? { 'tus-resumable': '1.0.0' }
    : { 'upload-draft-interop-version': String(d.interop) }

const patchHeaders = (
  d: Dialect,
  offset: number,
  length: number,
  complete: boolean,
): Record<string, string> => ({
  ...dialectHeaders(d),
  'content-type':
    d.kind === 'tus' ? 'application/offset+octet-stream' : 'application/partial-upload',
  'upload-offset': String(offset),
  'content-length': String(length),
  ...(d.kind === 'ietf' ? { 'upload-complete': complete ? '?1' : '?0' } : {}),
})

export async function run(options: ShutdownOptions = {}): Promise<ShutdownFigures> {
  const count = options.uploads ?? 6
  const maxSize = options.maxSizeBytes ?? 4 * MiB
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const random = rng(seed)
  const dir = tempDir('ferry-campaign-shutdown-')
  const failures: string[] = []
  const dialects: Dialect[] = [
    { kind: 'tus' },
    { kind: 'ietf', interop: 10 },
    { kind: 'ietf', interop: 6 },
  ]
  const modes: Mode[] = ['held', 'streaming', 'client']
  const uploads: Running[] = Array.from({ length: count }, (_, i) => ({
    index: i,
    // Every mode with every dialect: tus/held, ietf 10/streaming, ietf 6/client, ietf 10/held...
    dialect: dialects[(i + Math.floor(i / modes.length)) % dialects.length] as Dialect,
    mode: modes[i % modes.length] as Mode,
    data: seededBytes(random.int(0, 2 ** 31 - 1), random.logInt(256 * KiB, maxSize)),
    clientAcked: 0,
    stop: false,
  }))
  let ferry: FerryProcess | undefined
  let proxy: FaultProxy | undefined
  let exitMs = 0
  let exitCode: number | null = null
  let maxOvershoot = 0
  let answered = 0
  let closed = 0
  let completed = 0
  const streams: Promise<void>[] = []
  try {
    ferry = await spawnFerry(['--dir', dir.path])
    const port = ferry.port
    // Client uploads go through a throttled proxy, so that they are mid-transfer at the signal.
    proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port },
      bytesPerSecond: 2 * MiB,
    })
    for (const u of uploads) {
      const size = u.data.length
      if (u.mode === 'client') {
        u.client = ferryUpload(u.data, {
          endpoint: proxy.url('/files/'),
          protocol: u.dialect.kind,
          ...(u.dialect.kind === 'ietf' ? { interop: u.dialect.interop } : {}),
          storage: null,
          fingerprint: null,
          retries: 40,
          retryDelayMs: 100,
          maxRetryDelayMs: 1000,
          stallTimeoutMs: 20_000,
        })
        u.client.on('progress', (p) => {
          u.clientAcked = Math.max(u.clientAcked, p.acknowledged)
        })
        u.client.start()
        continue
      }
      const created = await rawRequest({
        port,
        method: 'POST',
        path: '/files/',
        headers: {
          ...dialectHeaders(u.dialect),
          'content-length': '0',
          ...(u.dialect.kind === 'tus'
            ? { 'upload-length': String(size) }
            : { 'upload-complete': '?0' }),
        },
      })
      if (created.final?.status !== 201) {
        failures.push(`upload ${u.index}: creation answered ${created.final?.status}`)
        continue
      }
      u.path = new URL(created.final.headers.location ?? '', 'http://x').pathname
      const req = await openRequest(port, 'PATCH', u.path, patchHeaders(u.dialect, 0, size, true))
      u.request = req
      const k = random.int(1, size - 1)
      if (u.mode === 'held') {
        await req.write(u.data.subarray(0, k))
      } else {
        // Streams slowly until the answer comes (or the connection goes).
        streams.push(
          (async () => {
            let at = 0
            while (!u.stop && at < size - 1) {
              const end = Math.min(size - 1, at + 32 * KiB)
              await req.write(u.data.subarray(at, end))
              at = end
              await sleep(10)
            }
          })(),
        )
        void req.final.then(() => {
          u.stop = true
        })
      }
    }
    // Let every upload get going (client uploads: past their creation, into content).
    await sleep(800)
    const started = performance.now()
    exitCode = await within(ferry.stop(), 60_000, 'the SIGTERM-ed process')
    exitMs = performance.now() - started
    for (const u of uploads) u.stop = true
    await Promise.all(streams)
    if (exitCode !== 0) failures.push(`ferry serve exited with ${exitCode} after SIGTERM`)
    if (exitMs > SHUTDOWN_LIMIT_MS + EXIT_SLACK_MS) {
      failures.push(
        `ferry serve took ${exitMs.toFixed(0)} ms to exit (shutdown timeout ${SHUTDOWN_LIMIT_MS} ms)`,
      )
    }
    // The answers, and what is on disk now that the process is gone.
    for (const u of uploads) {
      const url = u.client?.url
      if (url !== undefined) {
        // What the client was told (responses, HEAD, progress 104s) is on disk.
        const onDisk = statSync(join(dir.path, url.split('/').pop() ?? '')).size
        maxOvershoot = Math.max(maxOvershoot, u.clientAcked - onDisk)
        if (u.clientAcked > onDisk)
          failures.push(
            `upload ${u.index}: client acknowledged ${u.clientAcked}, ${onDisk} on disk`,
          )
      }
      if (u.request === undefined || u.path === undefined) continue
      u.answer = await within(u.request.final, 5_000, `upload ${u.index}'s answer`).catch(
        () => undefined,
      )
      u.request.destroy()
      if (u.answer === undefined) closed++
      else answered++
      if (u.answer !== undefined && u.answer.status >= 500 && u.answer.status !== 503) {
        failures.push(`upload ${u.index}: the interrupted PATCH answered ${u.answer.status}`)
      }
      const announced = Number(u.answer?.headers['upload-offset'] ?? 0)
      const onDisk = statSync(join(dir.path, u.path.split('/').pop() ?? '')).size
      maxOvershoot = Math.max(maxOvershoot, announced - onDisk)
      if (announced > onDisk)
        failures.push(`upload ${u.index}: answered offset ${announced}, ${onDisk} bytes on disk`)
      if (onDisk > u.request.written)
        failures.push(`upload ${u.index}: ${onDisk} bytes on disk, ${u.request.written} sent`)
    }

    // Restart on the same port and directory; every upload resumes and completes.
    ferry = await spawnFerry(['--dir', dir.path], port)
    await Promise.all(
      uploads.map(async (u) => {
        try {
          const url = await within(finish(u, port), 120_000, `upload ${u.index}`)
          const response = await fetch(new URL(new URL(url, 'http://x').pathname, ferry?.endpoint))
          const stored = new Uint8Array(await response.arrayBuffer())
          if (response.status !== 200 || sha256(stored) !== sha256(u.data)) {
            failures.push(
              `upload ${u.index} (${u.mode}): GET ${response.status}, ${stored.length} bytes, SHA-256 ${sha256(stored) === sha256(u.data) ? 'equal' : 'different'}`,
            )
          } else completed++
        } catch (e) {
          failures.push(`upload ${u.index} (${u.mode}): ${(e as Error).message}`)
        }
      }),
    )
  } finally {
    for (const u of uploads) {
      u.request?.destroy()
      void u.client?.abort()
    }
    await proxy?.close()
    if (ferry !== undefined && ferry.child.exitCode === null && ferry.child.signalCode === null)
      await ferry.kill()
    dir.cleanup()
  }
  const line =
    `shutdown: ${completed}/${count} complete after restart (${uploads.filter((u) => u.mode === 'client').length} via Ferry's client), ` +
    `${answered} raw in-flight PATCHes answered, ${closed} closed, exit ${(exitMs / 1000).toFixed(2)} s after SIGTERM (status ${exitCode}), ` +
    `max offset overshoot ${Math.max(0, maxOvershoot)} bytes, ${failures.length} failures`
  return {
    line,
    failures,
    seed,
    uploads: count,
    completed,
    answered,
    closed,
    exitMs,
    exitCode,
    maxOvershoot: Math.max(0, maxOvershoot),
  }

  /** Resumes an upload after the restart and completes it; returns its URL. */
  async function finish(u: Running, port: number): Promise<string> {
    if (u.client !== undefined) {
      const result = await u.client.done
      if (result.url === undefined) throw new Error('the client finished without a URL')
      return result.url
    }
    const path = u.path
    if (path === undefined) throw new Error('never created')
    const head = await rawRequest({
      port,
      method: 'HEAD',
      path,
      headers: dialectHeaders(u.dialect),
    })
    const offset = Number(head.final?.headers['upload-offset'])
    if (!Number.isSafeInteger(offset)) throw new Error(`HEAD after restart: ${head.final?.status}`)
    const announced = Number(u.answer?.headers['upload-offset'] ?? 0)
    if (offset < announced)
      throw new Error(`HEAD after restart reports ${offset}, below the answered ${announced}`)
    if (offset > (u.request?.written ?? 0))
      throw new Error(`HEAD after restart reports ${offset}, above the ${u.request?.written} sent`)
    const rest = u.data.subarray(offset)
    const done = await rawRequest({
      port,
      method: 'PATCH',
      path,
      headers: patchHeaders(u.dialect, offset, rest.length, true),
      body: rest,
    })
    if (done.final === undefined || done.final.status >= 300)
      throw new Error(`the resuming PATCH answered ${done.final?.status}`)
    return path
  }
}

cli(import.meta.url, 'shutdown', ({ full, seed, numbers }) =>
  run({
    seed,
    uploads: numbers.uploads ?? (full ? 20 : 6),
    maxSizeBytes: numbers['max-size'] ?? (full ? 16 * MiB : 4 * MiB),
  }),
)
