/**
 * Campaign 1 (issue 6), crash: `ferry serve` as a child process, killed with SIGKILL at random
 * (seeded) moments and restarted on the same port and directory.
 *
 * Main phase: N uploads of mixed sizes with Ferry's Node client (retrying), in tus 1.0.0, IETF
 * interop 10 and an older interop version. After each kill, before the restart, the highest
 * offset each client had been told (responses, HEAD, progress 104s) is compared with the bytes
 * in the upload's data file: "max offset overshoot" must be 0 (no acknowledged byte lost). After
 * a restart no HEAD may report less than the client had been told. Every upload completes and
 * its download has the original SHA-256.
 *
 * Then kills at chosen moments (the disk store's commit points: sidecar renames, hard links):
 * - during tus concatenation (the final upload's creation: tus 1.0.0 §Concatenation);
 * - during expiration cleanup (--expire-after 1s, --cleanup-interval 1s: tus 1.0.0 §Expiration);
 * - during metadata writes (creations with ~7 KiB Upload-Metadata and deferred lengths, and
 *   PATCHes declaring the length: tus 1.0.0 §Upload-Defer-Length).
 * After each restart every upload on disk and every one a response announced is either there and
 * correct (HEAD 2xx with the sent metadata and a consistent offset/length, completes, downloads
 * exactly) or cleanly gone (404/410) — never a state that answers 5xx.
 *
 *   node --import tsx test/campaigns/crash.ts [--full] [--seed N] [--uploads N] [--kills N]
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { upload as ferryUpload, type Upload } from '../../src/client/node/index.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import { type RawResponse, rawRequest } from '../support/raw-http.ts'
import { type FerryProcess, spawnFerry, tempDir } from '../support/servers.ts'
import {
  type CampaignResult,
  cli,
  KiB,
  MiB,
  openRequest,
  type Rng,
  rng,
  seededBytes,
  sha256,
  sleep,
  within,
} from './_kit.ts'

export interface CrashOptions {
  /** Uploads of the main phase (full: 50). @default 8 */
  readonly uploads?: number
  /** Largest upload (log-uniform from 1 KiB; full: 64 MiB). @default 4 MiB */
  readonly maxSizeBytes?: number
  /** Uploads in flight at once. @default 4 */
  readonly concurrency?: number
  /** Most kills of the main phase (then the uploads finish undisturbed). @default 5 */
  readonly kills?: number
  /**
   * Upstream rate of each client connection (a throttling proxy in front of the server, so the
   * kills land while uploads run). @default 4 MiB/s
   */
  readonly bytesPerSecond?: number
  /** Kill moments are drawn from [min, max] ms after a (re)start. @default [150, 1200] */
  readonly killDelayMs?: readonly [number, number]
  /** Kills during concatenation, expiration cleanup and metadata writes, each. @default 3 */
  readonly specialKills?: number
  readonly seed?: number
}

export interface CrashFigures extends CampaignResult {
  readonly uploads: number
  readonly completed: number
  readonly kills: number
  readonly mismatches: number
  readonly maxOvershoot: number
  readonly specialKills: number
}

const TUS = { 'tus-resumable': '1.0.0' }
const idOf = (url: string): string => new URL(url, 'http://x').pathname.split('/').pop() ?? ''
const sidecars = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => /^[0-9a-f]{32}\.json$/.test(n))
    .map((n) => n.slice(0, 32))
const sizeOnDisk = (dir: string, id: string): number | undefined => {
  try {
    return statSync(join(dir, id)).size
  } catch {
    return undefined
  }
}
const b64 = (s: string): string => Buffer.from(s).toString('base64')

export async function run(options: CrashOptions = {}): Promise<CrashFigures> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const random = rng(seed)
  const failures: string[] = []
  const main = await mainPhase(options, rng(random.int(0, 2 ** 31 - 1)), failures)
  const specialKills = options.specialKills ?? 3
  let special = 0
  special += await concatPhase(specialKills, rng(random.int(0, 2 ** 31 - 1)), failures)
  special += await expiryPhase(specialKills, rng(random.int(0, 2 ** 31 - 1)), failures)
  special += await metadataPhase(specialKills, rng(random.int(0, 2 ** 31 - 1)), failures)
  const mismatches = failures.filter((f) => f.startsWith('mismatch')).length
  const line =
    `crash: ${main.completed}/${main.uploads} complete, ${main.kills} kills, ${mismatches} mismatches, ` +
    `max offset overshoot ${Math.max(0, main.maxOvershoot)} bytes, ${main.headChecks} HEADs after restarts ` +
    `(none may fall below the acknowledged offset), ${special} more kills during concatenation, ` +
    `expiration cleanup and metadata writes, ${failures.length} failures`
  return {
    line,
    failures,
    seed,
    uploads: main.uploads,
    completed: main.completed,
    kills: main.kills,
    mismatches,
    maxOvershoot: Math.max(0, main.maxOvershoot),
    specialKills: special,
  }
}

// ---------------------------------------------------------------------------------------------
// the main phase

interface Tracked {
  readonly index: number
  readonly data: Buffer
  readonly label: string
  upload?: Upload
  acked: number
  done: boolean
}

async function mainPhase(
  options: CrashOptions,
  random: Rng,
  failures: string[],
): Promise<{
  uploads: number
  completed: number
  kills: number
  maxOvershoot: number
  headChecks: number
}> {
  const count = options.uploads ?? 8
  const maxSize = options.maxSizeBytes ?? 4 * MiB
  const concurrency = options.concurrency ?? 4
  const maxKills = options.kills ?? 5
  const [minDelay, maxDelay] = options.killDelayMs ?? [150, 1200]
  const dir = tempDir('ferry-campaign-crash-')
  const older = [3, 4, 5, 6, 7, 8, 9]
  const tracked: Tracked[] = Array.from({ length: count }, (_, i) => {
    const protocol = i % 3
    const interop = protocol === 1 ? 10 : random.pick(older)
    return {
      index: i,
      // The first upload has the largest size: at the proxy's rate it outlasts the first kill's
      // delay, so that every run kills the server mid-upload at least once.
      data: seededBytes(
        random.int(0, 2 ** 31 - 1),
        i === 0 ? maxSize : random.logInt(KiB, maxSize),
      ),
      label: protocol === 0 ? 'tus' : `ietf ${interop}`,
      acked: 0,
      done: false,
    }
  })
  const chunkSizes = tracked.map(() => random.pick([undefined, undefined, 1 * MiB, 4 * MiB]))
  let ferry: FerryProcess = await spawnFerry(['--dir', dir.path])
  const port = ferry.port
  // The proxy outlives the server processes: while the server is down its connections fail.
  const proxy = await startFaultProxy({
    target: { host: '127.0.0.1', port },
    bytesPerSecond: options.bytesPerSecond ?? 4 * MiB,
  })
  let kills = 0
  let maxOvershoot = 0
  let headChecks = 0
  let completed = 0
  let next = 0
  let settled = 0
  try {
    const worker = async (): Promise<void> => {
      for (;;) {
        const t = tracked[next++]
        if (t === undefined) return
        const chunkSize = chunkSizes[t.index]
        const u = ferryUpload(t.data, {
          endpoint: proxy.url('/files/'),
          protocol: t.label === 'tus' ? 'tus' : 'ietf',
          ...(t.label === 'tus' ? {} : { interop: Number(t.label.slice(5)) }),
          ...(chunkSize === undefined ? {} : { chunkSize }),
          storage: null,
          fingerprint: null,
          retries: 200,
          retryDelayMs: 100,
          maxRetryDelayMs: 1000,
          stallTimeoutMs: 20_000,
          metadata: { filename: `crash-${t.index}.bin` },
        })
        t.upload = u
        u.on('progress', (p) => {
          t.acked = Math.max(t.acked, p.acknowledged)
        })
        u.on('response', (r) => {
          if (r.method !== 'HEAD' || r.response === undefined || r.response.status >= 300) return
          const offset = Number(r.response.headers['upload-offset'])
          if (!Number.isSafeInteger(offset)) return
          headChecks++
          if (offset < t.acked) {
            failures.push(
              `mismatch: upload ${t.index} (${t.label}): HEAD reported ${offset} after ${t.acked} had been acknowledged`,
            )
          }
        })
        try {
          await u.start().done
          t.done = true
        } catch (e) {
          failures.push(`upload ${t.index} (${t.label}): ${(e as Error).message}`)
        } finally {
          settled++
        }
      }
    }
    const workers = Promise.all(Array.from({ length: concurrency }, worker))
    while (settled < count && kills < maxKills) {
      await sleep(random.int(minDelay, maxDelay))
      if (settled >= count) break
      await ferry.kill()
      kills++
      // The process is gone: what every client was told must be in the data files.
      for (const t of tracked) {
        const url = t.upload?.url
        if (url === undefined || t.acked === 0) continue
        const onDisk = sizeOnDisk(dir.path, idOf(url)) ?? 0
        maxOvershoot = Math.max(maxOvershoot, t.acked - onDisk)
        if (t.acked > onDisk) {
          failures.push(
            `mismatch: upload ${t.index} (${t.label}): ${t.acked} bytes acknowledged, ${onDisk} on disk after kill ${kills}`,
          )
        }
      }
      ferry = await restart(dir.path, port)
    }
    await within(workers, 600_000, 'the uploads after the last kill')
    for (const t of tracked) {
      const url = t.upload?.url
      if (!t.done || url === undefined) continue
      const response = await fetch(new URL(new URL(url).pathname, ferry.endpoint))
      const stored = new Uint8Array(await response.arrayBuffer())
      if (response.status === 200 && sha256(stored) === sha256(t.data)) completed++
      else
        failures.push(
          `mismatch: upload ${t.index} (${t.label}): GET ${response.status}, ${stored.length} of ${t.data.length} bytes, SHA-256 differs`,
        )
    }
  } finally {
    for (const t of tracked) void t.upload?.abort()
    await proxy.close()
    await ferry.kill()
    dir.cleanup()
  }
  return { uploads: count, completed, kills, maxOvershoot, headChecks }
}

/** Starts `ferry serve` again on the same port (retrying while the port is still taken). */
async function restart(
  dir: string,
  port: number,
  extra: readonly string[] = [],
): Promise<FerryProcess> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await spawnFerry(['--dir', dir, ...extra], port)
    } catch (e) {
      if (attempt >= 5) throw e
      await sleep(200)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// kills at the disk store's commit points

/** HEAD of a tus upload; a 5xx is a failure of the campaign. */
async function tusHead(port: number, id: string, failures: string[], what: string) {
  const r = await rawRequest({ port, method: 'HEAD', path: `/files/${id}`, headers: TUS })
  const status = r.final?.status ?? 0
  if (status === 0 || status >= 500)
    failures.push(`${what}: HEAD ${id} answered ${status || 'nothing'}`)
  return r.final
}

async function createTus(
  port: number,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<RawResponse | undefined> {
  const r = await rawRequest({
    port,
    method: 'POST',
    path: '/files/',
    headers: {
      ...TUS,
      ...headers,
      ...(body === undefined
        ? { 'content-length': '0' }
        : { 'content-type': 'application/offset+octet-stream' }),
    },
    ...(body === undefined ? {} : { body }),
  })
  return r.final
}

/** Kills `ferry` at a random moment in [0, windowMs] while `work` runs; returns the process. */
async function killDuring(
  ferry: FerryProcess,
  random: Rng,
  windowMs: number,
  work: () => Promise<void>,
): Promise<void> {
  const running = work().catch(() => undefined)
  await sleep(random.int(0, windowMs))
  await ferry.kill()
  await running
}

async function concatPhase(kills: number, random: Rng, failures: string[]): Promise<number> {
  const dir = tempDir('ferry-campaign-crash-concat-')
  let ferry = await spawnFerry(['--dir', dir.path])
  const port = ferry.port
  let made = 0
  const finals = new Map<string, Buffer>()
  try {
    for (let k = 0; k < kills; k++) {
      const what = `concatenation kill ${k}`
      // Partial uploads, complete (creation-with-upload).
      const parts: { id: string; data: Buffer }[] = []
      for (let i = 0, n = random.int(4, 16); i < n; i++) {
        const data = seededBytes(random.int(0, 2 ** 31 - 1), random.int(1, 64 * KiB))
        const r = await createTus(
          port,
          { 'upload-concat': 'partial', 'upload-length': String(data.length) },
          data,
        )
        if (r?.status !== 201) {
          failures.push(`${what}: partial creation answered ${r?.status}`)
          continue
        }
        parts.push({ id: idOf(r.headers.location ?? ''), data })
      }
      const whole = Buffer.concat(parts.map((p) => p.data))
      const tag = `final-${k}`
      const header = `final;${parts.map((p) => `/files/${p.id}`).join(' ')}`
      let announced: string | undefined
      // Several finals at once widen the window the kill can hit.
      await killDuring(ferry, random, 40, async () => {
        const requests = await Promise.all(
          [0, 1, 2].map(() =>
            openRequest(port, 'POST', '/files/', {
              ...TUS,
              'upload-concat': header,
              'upload-metadata': `tag ${b64(tag)}`,
              'content-length': '0',
            }),
          ),
        )
        const answers = await Promise.all(requests.map((r) => r.final))
        for (const a of answers) if (a?.status === 201) announced ??= a.headers.location
      })
      made++
      ferry = await restart(dir.path, port)
      // Every final upload on disk: there and complete with the right bytes, or cleanly gone.
      for (const id of sidecars(dir.path)) {
        const head = await tusHead(port, id, failures, what)
        if (head === undefined || head.status >= 300) continue
        if (head.headers['upload-concat']?.startsWith('final') !== true) continue
        const tagValue = head.headers['upload-metadata']?.split(' ')[1]
        const expected = tagValue === b64(tag) ? whole : finals.get(tagValue ?? '')
        if (tagValue === b64(tag)) finals.set(tagValue, whole)
        if (expected === undefined) continue
        await checkDownload(port, id, expected, failures, `${what}: final upload ${id}`)
      }
      if (announced !== undefined) {
        const head = await tusHead(port, idOf(announced), failures, what)
        if (head === undefined || head.status >= 300)
          failures.push(
            `${what}: the final upload announced before the kill answers ${head?.status}`,
          )
      }
      // The client tries again: the concatenation works after the restart.
      const again = await createTus(port, { 'upload-concat': header })
      if (again?.status !== 201)
        failures.push(`${what}: final creation after restart: ${again?.status}`)
      else await checkDownload(port, idOf(again.headers.location ?? ''), whole, failures, what)
    }
  } finally {
    await ferry.kill()
    dir.cleanup()
  }
  return made
}

async function checkDownload(
  port: number,
  id: string,
  expected: Buffer,
  failures: string[],
  what: string,
): Promise<void> {
  const r = await rawRequest({ port, method: 'GET', path: `/files/${id}` })
  const body = r.final?.body ?? Buffer.alloc(0)
  if (r.final?.status !== 200 || !body.equals(expected)) {
    failures.push(
      `mismatch: ${what}: GET ${r.final?.status}, ${body.length} of ${expected.length} bytes, content ${body.equals(expected) ? 'equal' : 'differs'}`,
    )
  }
}

async function expiryPhase(kills: number, random: Rng, failures: string[]): Promise<number> {
  const dir = tempDir('ferry-campaign-crash-expiry-')
  const expiring = ['--expire-after', '1s', '--cleanup-interval', '1s']
  let ferry = await spawnFerry(['--dir', dir.path, ...expiring])
  const port = ferry.port
  let made = 0
  try {
    for (let k = 0; k < kills; k++) {
      const what = `expiration kill ${k}`
      const uploads = new Map<string, Buffer>()
      for (let i = 0; i < 40; i++) {
        const data = seededBytes(random.int(0, 2 ** 31 - 1), random.int(1, 32 * KiB))
        const sent = data.subarray(0, random.int(0, data.length - 1))
        const r = await createTus(
          port,
          { 'upload-length': String(data.length), 'upload-metadata': `n ${b64(String(i))}` },
          sent,
        )
        if (r?.status !== 201) failures.push(`${what}: creation answered ${r?.status}`)
        else uploads.set(idOf(r.headers.location ?? ''), data)
      }
      // They expire one second after their last change; the cleanup runs every second.
      await sleep(random.int(900, 2200))
      await ferry.kill()
      made++
      // Inspect with expiration off: what the kill left must be consistent.
      ferry = await restart(dir.path, port, ['--expire-after', 'never'])
      let kept = 0
      for (const [id, data] of uploads) {
        const head = await tusHead(port, id, failures, what)
        if (head === undefined || head.status >= 500) continue
        if (head.status === 404 || head.status === 410) continue
        kept++
        const offset = Number(head.headers['upload-offset'])
        const onDisk = sizeOnDisk(dir.path, id)
        if (!Number.isSafeInteger(offset) || offset !== onDisk) {
          failures.push(`${what}: upload ${id}: HEAD offset ${offset}, ${onDisk} bytes on disk`)
          continue
        }
        const rest = await rawRequest({
          port,
          method: 'PATCH',
          path: `/files/${id}`,
          headers: {
            ...TUS,
            'content-type': 'application/offset+octet-stream',
            'upload-offset': String(offset),
          },
          body: data.subarray(offset),
        })
        if (rest.final?.status !== 204) {
          failures.push(`${what}: completing ${id}: PATCH answered ${rest.final?.status}`)
          continue
        }
        await checkDownload(port, id, data, failures, `${what}: upload ${id}`)
      }
      // Files without a sidecar are crash leftovers the next cleanup removes; they must not
      // answer as uploads.
      for (const name of readdirSync(dir.path)) {
        if (!/^[0-9a-f]{32}$/.test(name) || sidecars(dir.path).includes(name)) continue
        const head = await tusHead(port, name, failures, `${what} (leftover)`)
        if (head !== undefined && head.status < 300)
          failures.push(`${what}: data without a sidecar answers HEAD ${head.status}`)
      }
      void kept
      await ferry.kill()
      ferry = await restart(dir.path, port, expiring)
    }
  } finally {
    await ferry.kill()
    dir.cleanup()
  }
  return made
}

async function metadataPhase(kills: number, random: Rng, failures: string[]): Promise<number> {
  const dir = tempDir('ferry-campaign-crash-metadata-')
  let ferry = await spawnFerry(['--dir', dir.path])
  const port = ferry.port
  let made = 0
  // Every upload the campaign may find on disk, by its `n` metadata value.
  const expected = new Map<string, { data: Buffer; metadata: string }>()
  let serial = 0
  try {
    for (let k = 0; k < kills; k++) {
      const what = `metadata kill ${k}`
      const deferred: { id: string; n: string }[] = []
      // Deferred-length uploads to declare during the kill window.
      for (let i = 0; i < 8; i++) {
        const n = String(serial++)
        const data = seededBytes(random.int(0, 2 ** 31 - 1), random.int(1, 64 * KiB))
        const metadata = `n ${b64(n)},blob ${b64('x'.repeat(random.int(3000, 5000)))}`
        expected.set(n, { data, metadata })
        const r = await createTus(port, { 'upload-defer-length': '1', 'upload-metadata': metadata })
        if (r?.status !== 201) failures.push(`${what}: deferred creation answered ${r?.status}`)
        else deferred.push({ id: idOf(r.headers.location ?? ''), n })
      }
      await killDuring(ferry, random, 60, async () => {
        const work: Promise<unknown>[] = []
        for (let i = 0; i < 24; i++) {
          const n = String(serial++)
          const data = seededBytes(random.int(0, 2 ** 31 - 1), random.int(1, 64 * KiB))
          const metadata = `n ${b64(n)},blob ${b64('y'.repeat(random.int(3000, 5000)))}`
          expected.set(n, { data, metadata })
          const defer = random() < 0.5
          work.push(
            createTus(
              port,
              {
                ...(defer
                  ? { 'upload-defer-length': '1' }
                  : { 'upload-length': String(data.length) }),
                'upload-metadata': metadata,
              },
              data.subarray(0, random.int(0, data.length)),
            ),
          )
        }
        for (const d of deferred) {
          const e = expected.get(d.n)
          if (e === undefined) continue
          work.push(
            rawRequest({
              port,
              method: 'PATCH',
              path: `/files/${d.id}`,
              headers: {
                ...TUS,
                'content-type': 'application/offset+octet-stream',
                'upload-offset': '0',
                'upload-length': String(e.data.length),
              },
              body: e.data.subarray(0, random.int(0, e.data.length)),
            }),
          )
        }
        await Promise.all(work)
      })
      made++
      ferry = await restart(dir.path, port)
      for (const id of sidecars(dir.path)) {
        const head = await tusHead(port, id, failures, what)
        if (head === undefined || head.status >= 300) {
          if (head !== undefined && head.status !== 404 && head.status !== 410)
            failures.push(`${what}: upload ${id} on disk answers HEAD ${head.status}`)
          continue
        }
        const metadata = head.headers['upload-metadata'] ?? ''
        const n = Buffer.from(metadata.split(',')[0]?.split(' ')[1] ?? '', 'base64').toString()
        const e = expected.get(n)
        if (e === undefined || metadata !== e.metadata) {
          failures.push(`mismatch: ${what}: upload ${id}: its Upload-Metadata is not what was sent`)
          continue
        }
        const offset = Number(head.headers['upload-offset'])
        const length = head.headers['upload-length']
        const isDeferred = head.headers['upload-defer-length'] === '1'
        if (
          !Number.isSafeInteger(offset) ||
          offset > e.data.length ||
          (length === undefined) !== isDeferred ||
          (length !== undefined && Number(length) !== e.data.length) ||
          !(sizeOnDisk(dir.path, id) === offset) ||
          !e.data.subarray(0, offset).equals(await storedPrefix(dir.path, id, offset))
        ) {
          failures.push(
            `mismatch: ${what}: upload ${id}: offset ${offset}, length ${length ?? 'deferred'} (${e.data.length} planned), ${sizeOnDisk(dir.path, id)} bytes on disk`,
          )
          continue
        }
        if (offset === e.data.length && !isDeferred) {
          await checkDownload(port, id, e.data, failures, `${what}: upload ${id}`)
          continue
        }
        const rest = await rawRequest({
          port,
          method: 'PATCH',
          path: `/files/${id}`,
          headers: {
            ...TUS,
            'content-type': 'application/offset+octet-stream',
            'upload-offset': String(offset),
            ...(isDeferred ? { 'upload-length': String(e.data.length) } : {}),
          },
          body: e.data.subarray(offset),
        })
        if (rest.final?.status !== 204) {
          failures.push(`${what}: completing ${id}: PATCH answered ${rest.final?.status}`)
          continue
        }
        await checkDownload(port, id, e.data, failures, `${what}: upload ${id}`)
      }
    }
  } finally {
    await ferry.kill()
    dir.cleanup()
  }
  return made
}

async function storedPrefix(dir: string, id: string, n: number): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises')
  return (await readFile(join(dir, id))).subarray(0, n)
}

cli(import.meta.url, 'crash', ({ full, seed, numbers }) =>
  run({
    seed,
    uploads: numbers.uploads ?? (full ? 50 : 8),
    maxSizeBytes: numbers['max-size'] ?? (full ? 64 * MiB : 8 * MiB),
    bytesPerSecond: numbers['bytes-per-second'] ?? (full ? 8 * MiB : 4 * MiB),
    concurrency: numbers.concurrency ?? (full ? 6 : 4),
    kills: numbers.kills ?? (full ? 150 : 5),
    killDelayMs: full ? [300, 2500] : [150, 1200],
    specialKills: numbers['special-kills'] ?? (full ? 10 : 3),
  }),
)
