/**
 * The benchmark suite (`npm run bench`), every process measured side by side in one run,
 * interleaved, with ratios. Peak RSS (VmHWM) and CPU time come from /proc (servers) or from the
 * process itself (clients).
 *
 * - `single`: servers — Ferry, @tus/server 2.x (+ @tus/file-store) and a raw node:http server
 *   that writes the body to a file — each in its own process, one upload in one PATCH.
 * - `client`: clients — Ferry's Node client (dist/client/node, built here) and tus-js-client
 *   4.3.1, each in its own process, uploading the same file to one Ferry server process.
 * - `client-modes`: Ferry's Node client in every protocol mode — tus and the draft at interop 3
 *   to 10 — to one Ferry server process, and in tus mode to @tus/server 2.4.5; each upload
 *   checked by HEAD (size, completion) and by the SHA-256 of the file the server stored.
 * - `chunked` (issue 5, scenario 2): one upload of --size in 8 MiB PATCHes.
 * - `concurrent` (3): 200 concurrent uploads of 1 MiB (POST + PATCH each): uploads/s, peak RSS.
 * - `tiny` (4): 2,000 uploads of 1 KiB, 50 in flight, each in one request — tus
 *   creation-with-upload, the draft's `Upload-Complete: ?1` creation; Ferry with its default
 *   durability (fsync before acknowledging, as for large uploads).
 * - `held-open` (5): 1,000 concurrent slow uploads (each body paced by the client) held open:
 *   server peak RSS, no errors.
 *   These four use `ferry bench`'s engine (src/bench/engine.ts: Ferry's Node client through a
 *   recording transport, or one raw request per upload), generated content, and verify every
 *   upload afterwards (download + SHA-256); the raw server gets the same load from a raw loop.
 * - `s3` (issue 7): --size through `ferry serve --store s3` (from dist/, a fresh process per
 *   run) and directly with the AWS SDK's multipart upload (@aws-sdk/lib-storage `Upload`, and
 *   sequential CreateMultipartUpload + UploadPart + CompleteMultipartUpload), all to one Ceph
 *   RADOS Gateway started for the scenario; per part size (--s3-part-sizes, the first one is the
 *   table's). Ferry uploads are checked by HEAD and by the SHA-256 of the stored object; the S3
 *   requests of each run are counted from the gateway's access log.
 * At the end, the targets of issues 5 and 7 are printed as met or missed, with the measured ratios.
 *
 *   npm run bench                         # every scenario (3 rounds; client-modes, held-open: 1)
 *   npm run bench -- --only single --rounds 5 --size 1GiB
 *   npm run bench -- --only client --rounds 3 [--durability none]
 *   npm run bench -- --only client-modes [--rounds 1] [--durability none]
 *   npm run bench -- --only chunked,concurrent --rounds 1 --size 64MiB --scale 0.1   # a quick check
 *   npm run bench -- --only s3 --rounds 2 [--s3-part-sizes 8MiB,16MiB]
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Rgw } from '../scripts/services.mjs'
import { type BenchOptions, type BenchReport, runBench } from '../src/bench/engine.ts'
import { contentPieces } from '../src/bench/source.ts'
import { parseSize } from '../src/cli/units.ts'

const ROOT = new URL('..', import.meta.url).pathname
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    /** Rounds per scenario. @default 3 (client-modes: 1) */
    rounds: { type: 'string' },
    size: { type: 'string', default: '1GiB' },
    json: { type: 'boolean', default: false },
    /** Durability of the Ferry server of the `client` scenario (ferry serve's default: fsync). */
    durability: { type: 'string', default: 'fsync' },
    /** Multiplies the upload counts of concurrent, tiny and held-open (quick checks: 0.1). */
    scale: { type: 'string', default: '1' },
    /** Use dist/ as it is (by default it is compiled first: the servers run the current code). */
    'no-build': { type: 'boolean', default: false },
    /** Part sizes of the `s3` scenario; the first one is the table's (both sides use it). */
    's3-part-sizes': { type: 'string', default: '8MiB,16MiB' },
  },
})
const rounds = Number(values.rounds ?? 3)
const modeRounds = Number(values.rounds ?? 1)
const SCENARIOS = [
  'single',
  'chunked',
  'concurrent',
  'tiny',
  'held-open',
  'client',
  'client-modes',
  's3',
]
const only = values.only?.split(',').map((x) => x.trim())
for (const o of only ?? []) {
  if (!SCENARIOS.includes(o)) throw new Error(`--only must list some of ${SCENARIOS.join(', ')}`)
}
const runs = (scenario: string): boolean => only === undefined || only.includes(scenario)
const scale = Number(values.scale)
if (!(scale > 0)) throw new Error('--scale must be positive')
const scaled = (n: number): number => Math.max(1, Math.round(n * scale))
if (values.durability !== 'fsync' && values.durability !== 'none') {
  throw new Error('--durability must be fsync or none')
}
const size = parseSize(values.size ?? '1GiB')

type ServerKind = 'raw' | 'tus-server' | 'ferry' | 'ferry-nosync' | 'ferry-h2c'
const SERVERS: readonly ServerKind[] = ['raw', 'tus-server', 'ferry', 'ferry-nosync']
/** Script and extra arguments of each server process. */
const LAUNCH: Record<ServerKind, [string, ...string[]]> = {
  raw: ['raw.mjs'],
  'tus-server': ['tus-server.mjs'],
  ferry: ['ferry.mjs', 'fsync'],
  'ferry-nosync': ['ferry.mjs', 'none'],
  'ferry-h2c': ['ferry.mjs', values.durability, 'h2c'],
}

interface Running {
  readonly kind: ServerKind
  readonly port: number
  readonly child: ChildProcess
  readonly dir: string
}

/**
 * Servers listen on fixed ports below the ephemeral range (env.md §0, caveat 3: thousands of
 * TIME_WAIT sockets from the load make `listen()` on an ephemeral port fail), the next one when
 * a port is taken.
 */
let nextPort = 21000 + (process.pid % 400) * 2

async function startServer(kind: ServerKind): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `ferry-bench-${kind}-`))
  const [script, ...extra] = LAUNCH[kind]
  for (let attempt = 0; ; attempt++) {
    const child = fork(join(ROOT, 'bench/servers', script), [String(nextPort++), dir, ...extra], {
      stdio: ['ignore', 'ignore', attempt < 20 ? 'ignore' : 'inherit', 'ipc'],
    })
    if (nextPort >= 32000) nextPort = 21000
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.once('message', (m) => resolve((m as { port: number }).port))
        child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
      })
      return { kind, port, child, dir }
    } catch (e) {
      if (attempt >= 20) throw e
    }
  }
}

function procStats(pid: number): { peakRssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0)
  return { peakRssMb: hwm / 1024, cpuSeconds: ticks / 100 }
}

/**
 * Samples a process's anonymous resident memory (RssAnon: its heap, buffers and stacks; not the
 * pages of the node executable and shared libraries mapped from disk, which every node process
 * shares) every 20 ms; `stop` returns the peak in MiB. The kernel keeps no peak of it (VmHWM
 * counts both), hence the sampling.
 */
function anonSampler(pid: number): { stop(): number } {
  let peak = 0
  const read = (): void => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      peak = Math.max(peak, Number(/RssAnon:\s+(\d+) kB/.exec(status)?.[1] ?? 0))
    } catch {
      // The process has exited.
    }
  }
  read()
  const timer = setInterval(read, 20)
  return {
    stop() {
      clearInterval(timer)
      read()
      return peak / 1024
    },
  }
}

async function stopServer(s: Running): Promise<{ peakRssMb: number; cpuSeconds: number }> {
  const stats = procStats(s.child.pid ?? 0)
  s.child.kill('SIGKILL')
  await new Promise((r) => s.child.once('exit', r))
  rmSync(s.dir, { recursive: true, force: true })
  return stats
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })

function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: NodeJS.ReadableStream,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
    })
    req.on('error', reject)
    if (body === undefined) req.end()
    else body.pipe(req)
  })
}

/** A request without content over HTTP/2 without TLS (the h2c server). */
function request2(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`)
    session.on('error', reject)
    const stream = session.request({ ':method': method, ':path': path, ...headers })
    let head: http2.IncomingHttpHeaders = {}
    stream.on('response', (h) => {
      head = h
    })
    stream.resume()
    stream.on('error', reject)
    stream.on('end', () => {
      session.close()
      resolve({ status: Number(head[':status']), headers: head as http.IncomingHttpHeaders })
    })
  })
}

/** One upload of `file` in a single request body (after a tus creation where there is one). */
async function singleUpload(s: Running, file: string): Promise<void> {
  const read = () => createReadStream(file, { highWaterMark: 1024 * 1024 })
  if (s.kind === 'raw') {
    const r = await request(s.port, 'PUT', '/upload', { 'content-length': String(size) }, read())
    if (r.status !== 204) throw new Error(`raw: ${r.status}`)
    return
  }
  const created = await request(s.port, 'POST', '/files/', {
    'tus-resumable': '1.0.0',
    'upload-length': String(size),
    'content-length': '0',
  })
  if (created.status !== 201) throw new Error(`${s.kind} create: ${created.status}`)
  const path = new URL(String(created.headers.location), `http://127.0.0.1:${s.port}`).pathname
  const patched = await request(
    s.port,
    'PATCH',
    path,
    {
      'tus-resumable': '1.0.0',
      'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
      'content-length': String(size),
    },
    read(),
  )
  if (patched.status !== 204 || patched.headers['upload-offset'] !== String(size)) {
    throw new Error(`${s.kind} patch: ${patched.status} offset ${patched.headers['upload-offset']}`)
  }
}

interface Sample {
  readonly server: ServerKind
  readonly mbPerSecond: number
  readonly seconds: number
  readonly peakRssMb: number
  readonly cpuSeconds: number
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0
    ? Number.NaN
    : (s[(s.length - 1) >> 1] as number) / 2 + (s[s.length >> 1] as number) / 2
}

async function scenarioSingle(file: string): Promise<Sample[]> {
  const samples: Sample[] = []
  for (let round = 0; round < rounds; round++) {
    for (const kind of SERVERS) {
      const s = await startServer(kind)
      const t0 = performance.now()
      await singleUpload(s, file)
      const seconds = (performance.now() - t0) / 1000
      const stats = await stopServer(s)
      samples.push({ server: kind, mbPerSecond: size / 1e6 / seconds, seconds, ...stats })
      if (!values.json) {
        process.stderr.write(
          `  round ${round + 1} ${kind.padEnd(10)} ${(size / 1e6 / seconds).toFixed(0).padStart(5)} MB/s  rss ${stats.peakRssMb.toFixed(0)} MB\n`,
        )
      }
    }
  }
  return samples
}

async function inputFile(): Promise<string> {
  const path = join(tmpdir(), `ferry-bench-input-${size}.bin`)
  if (existsSync(path) && statSync(path).size === size) return path
  process.stderr.write(`writing ${size} random bytes to ${path}\n`)
  const out = createWriteStream(path)
  for (let left = size; left > 0; ) {
    const n = Math.min(left, 1024 * 1024)
    left -= n
    if (!out.write(randomBytes(n))) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((resolve, reject) =>
    out.end((e?: Error | null) => (e ? reject(e) : resolve())),
  )
  return path
}

// ---------------------------------------------------------------------------------------------
// Scenario `client`: Ferry's Node client against tus-js-client, the same file, the same server.

type ClientKind = 'ferry-client' | 'tus-js-client'
const CLIENTS: readonly ClientKind[] = ['ferry-client', 'tus-js-client']
const CLIENT_SCRIPT: Record<ClientKind, string> = {
  'ferry-client': 'client-ferry.mjs',
  'tus-js-client': 'client-tus-js.mjs',
}

interface ClientSample {
  readonly client: ClientKind
  readonly mbPerSecond: number
  readonly seconds: number
  readonly peakRssMb: number
  readonly cpuSeconds: number
  readonly protocol: string
}

interface ClientReport {
  readonly ok: boolean
  readonly error?: string
  readonly url?: string
  readonly protocol?: string
  readonly seconds?: number
  readonly maxRssMb?: number
  readonly cpuSeconds?: number
}

/** Runs one client process to the end; its own timing (start to success) and resource usage. */
async function runClient(
  kind: ClientKind,
  endpoint: string,
  file: string,
  extra: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<ClientReport> {
  const child = fork(
    join(ROOT, 'bench/servers', CLIENT_SCRIPT[kind]),
    [endpoint, file, String(size), ...extra],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } },
  )
  const report = await new Promise<ClientReport>((resolve) => {
    child.once('message', (m) => resolve(m as ClientReport))
    child.once('exit', (code) => resolve({ ok: false, error: `${kind} exited with ${code}` }))
  })
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r))
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
  return report
}

/** The upload at `url` has `size` bytes (tus HEAD), then it is deleted (the disk stays free). */
async function verifyAndDelete(port: number, url: string): Promise<void> {
  const path = new URL(url).pathname
  const head = await request(port, 'HEAD', path, { 'tus-resumable': '1.0.0' })
  const offset = String(head.headers['upload-offset'])
  const length = String(head.headers['upload-length'])
  if (head.status !== 200 && head.status !== 204) throw new Error(`HEAD ${url}: ${head.status}`)
  if (offset !== String(size) || length !== String(size)) {
    throw new Error(`${url}: Upload-Offset ${offset}, Upload-Length ${length}, expected ${size}`)
  }
  await request(port, 'DELETE', path, { 'tus-resumable': '1.0.0' })
}

async function scenarioClient(file: string): Promise<ClientSample[]> {
  // One Ferry server process for the whole scenario, as `ferry serve` runs it (fsync), unless
  // --durability none takes the disk out of the measurement.
  const server = await startServer(values.durability === 'none' ? 'ferry-nosync' : 'ferry')
  // Both clients read the file from the page cache: the first one must not pay for the disk.
  for await (const _ of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
    // read and drop
  }
  const endpoint = `http://127.0.0.1:${server.port}/files/`
  const samples: ClientSample[] = []
  try {
    for (let round = 0; round < rounds; round++) {
      // Interleaved, and the order alternates so that neither client always goes first.
      const order = round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse()
      for (const kind of order) {
        const r = await runClient(kind, endpoint, file)
        if (!r.ok || r.url === undefined || r.seconds === undefined) {
          throw new Error(`${kind}: ${r.error ?? 'no result'}`)
        }
        await verifyAndDelete(server.port, r.url)
        const sample: ClientSample = {
          client: kind,
          mbPerSecond: size / 1e6 / r.seconds,
          seconds: r.seconds,
          peakRssMb: r.maxRssMb ?? Number.NaN,
          cpuSeconds: r.cpuSeconds ?? Number.NaN,
          protocol: r.protocol ?? '?',
        }
        samples.push(sample)
        if (!values.json) {
          process.stderr.write(
            `  round ${round + 1} ${kind.padEnd(13)} ${sample.mbPerSecond.toFixed(0).padStart(5)} MB/s  ${sample.seconds.toFixed(2)} s  rss ${sample.peakRssMb.toFixed(0)} MB  cpu ${sample.cpuSeconds.toFixed(2)} s  (${sample.protocol})\n`,
          )
        }
      }
    }
  } finally {
    await stopServer(server)
  }
  return samples
}

// ---------------------------------------------------------------------------------------------
// Scenario `client-modes`: Ferry's Node client once per protocol mode, each upload verified.

interface ModeRun {
  /** ferry-h2c: the same Ferry over HTTP/2 without TLS (the client's node:http2 transport). */
  readonly server: 'ferry' | 'tus-server' | 'ferry-h2c'
  readonly protocol: 'tus' | 'ietf'
  readonly interop?: number
}
const MODE_RUNS: readonly ModeRun[] = [
  { server: 'ferry', protocol: 'tus' },
  ...[3, 4, 5, 6, 7, 8, 9, 10].map((interop) => ({
    server: 'ferry' as const,
    protocol: 'ietf' as const,
    interop,
  })),
  { server: 'tus-server', protocol: 'tus' },
  // Not required by the comparison: the node:http2 transport at this size.
  { server: 'ferry-h2c', protocol: 'tus' },
  { server: 'ferry-h2c', protocol: 'ietf', interop: 10 },
]
const modeName = (m: ModeRun): string =>
  m.protocol === 'tus' ? 'tus' : `ietf-${String(m.interop)}`

interface ModeSample {
  readonly server: ModeRun['server']
  readonly mode: string
  readonly mbPerSecond: number
  readonly seconds: number
  readonly peakRssMb: number
  readonly cpuSeconds: number
  readonly sha256: string
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}

/**
 * The upload at `url` is complete with `size` bytes (HEAD in its own protocol), and the file the
 * server stored under the upload's id has the input's SHA-256; then it is deleted.
 */
async function verifyStored(
  s: Running,
  m: ModeRun,
  url: string,
  expected: string,
): Promise<string> {
  const path = new URL(url).pathname
  const fields: Record<string, string> =
    m.protocol === 'tus'
      ? { 'tus-resumable': '1.0.0' }
      : { 'upload-draft-interop-version': String(m.interop) }
  const send = s.kind === 'ferry-h2c' ? request2 : request
  const head = await send(s.port, 'HEAD', path, fields)
  const h = head.headers
  const problems: string[] = []
  if (head.status !== 200 && head.status !== 204) problems.push(`status ${head.status}`)
  if (h['upload-offset'] !== String(size)) problems.push(`Upload-Offset ${h['upload-offset']}`)
  if (m.protocol === 'tus' && h['upload-length'] !== String(size)) {
    problems.push(`Upload-Length ${h['upload-length']}`)
  }
  if (m.protocol === 'ietf') {
    // Interop 3: Upload-Incomplete (?0 = complete); 4 and later: Upload-Complete.
    const complete =
      m.interop === 3 ? h['upload-incomplete'] === '?0' : h['upload-complete'] === '?1'
    if (!complete) problems.push('not complete')
  }
  const id =
    path
      .split('/')
      .filter((p) => p !== '')
      .pop() ?? ''
  const data = join(s.dir, id)
  if (!existsSync(data)) problems.push(`no file ${data}`)
  else if (statSync(data).size !== size) problems.push(`${data}: ${statSync(data).size} bytes`)
  const got = problems.length === 0 ? await sha256File(data) : ''
  if (problems.length === 0 && got !== expected) problems.push(`SHA-256 ${got}, not ${expected}`)
  if (problems.length > 0) {
    throw new Error(`${s.kind} ${modeName(m)} ${url}: ${problems.join('; ')}`)
  }
  const deleted = await send(s.port, 'DELETE', path, fields)
  if (deleted.status !== 204) throw new Error(`DELETE ${url}: ${deleted.status}`)
  rmSync(data, { force: true })
  return got
}

async function scenarioClientModes(file: string): Promise<ModeSample[]> {
  process.stderr.write(`SHA-256 of the input: `)
  const expected = await sha256File(file)
  process.stderr.write(`${expected}\n`)
  const servers = {
    ferry: await startServer(values.durability === 'none' ? 'ferry-nosync' : 'ferry'),
    'tus-server': await startServer('tus-server'),
    'ferry-h2c': await startServer('ferry-h2c'),
  }
  const samples: ModeSample[] = []
  try {
    for (let round = 0; round < modeRounds; round++) {
      for (const m of MODE_RUNS) {
        const s = servers[m.server]
        const endpoint = `http://127.0.0.1:${s.port}/files/`
        const extra = m.interop === undefined ? [m.protocol] : [m.protocol, String(m.interop)]
        const h2c = m.server === 'ferry-h2c' ? { FERRY_BENCH_H2C: '1' } : {}
        const r = await runClient('ferry-client', endpoint, file, extra, h2c)
        if (!r.ok || r.url === undefined || r.seconds === undefined) {
          throw new Error(`${m.server} ${modeName(m)}: ${r.error ?? 'no result'}`)
        }
        if (r.protocol !== modeName(m)) {
          throw new Error(`${m.server} ${modeName(m)}: the client used ${r.protocol}`)
        }
        const digest = await verifyStored(s, m, r.url, expected)
        const sample: ModeSample = {
          server: m.server,
          mode: modeName(m),
          mbPerSecond: size / 1e6 / r.seconds,
          seconds: r.seconds,
          peakRssMb: r.maxRssMb ?? Number.NaN,
          cpuSeconds: r.cpuSeconds ?? Number.NaN,
          sha256: digest,
        }
        samples.push(sample)
        if (!values.json) {
          process.stderr.write(
            `  round ${round + 1} ${m.server.padEnd(10)} ${sample.mode.padEnd(8)} ${sample.mbPerSecond.toFixed(0).padStart(5)} MB/s  ${sample.seconds.toFixed(2)} s  rss ${sample.peakRssMb.toFixed(0)} MB  cpu ${sample.cpuSeconds.toFixed(2)} s  HEAD ok, SHA-256 ok\n`,
          )
        }
      }
    }
  } finally {
    for (const server of Object.values(servers)) await stopServer(server)
  }
  return samples
}

// ---------------------------------------------------------------------------------------------
// Scenarios 2-5 of issue 5: load from `ferry bench`'s engine, each server in its own process.

interface LoadSample {
  readonly server: string
  readonly round: number
  readonly seconds: number
  readonly mbPerSecond: number
  readonly uploadsPerSecond: number
  readonly completed: number
  readonly failed: number
  readonly errors: number
  readonly verified: string
  readonly peakRssMb: number
  readonly cpuSeconds: number
  /** Most uploads in flight at once (held-open). */
  readonly maxInFlight?: number
  readonly p50Ms?: number
  readonly p99Ms?: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * The raw server's share of a load: `uploads` PUTs of `size` generated bytes, `concurrency` at
 * a time, each body paced to `bytesPerSecond` if given. It has no protocol, so no verification.
 */
async function rawLoad(
  port: number,
  uploads: number,
  size: number,
  concurrency: number,
  bytesPerSecond?: number,
): Promise<{ seconds: number; failed: number; maxInFlight: number }> {
  let next = 0
  let failed = 0
  let inFlight = 0
  let maxInFlight = 0
  const piece = bytesPerSecond === undefined ? 1024 * 1024 : Math.max(1, bytesPerSecond / 4)
  const one = (index: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: '/upload',
          headers: { 'content-length': String(size) },
          agent,
        },
        (res) => {
          res.resume()
          res.on('end', () => {
            if (res.statusCode !== 204) failed++
            resolve()
          })
        },
      )
      req.on('error', () => {
        failed++
        resolve()
      })
      void (async () => {
        const t0 = performance.now()
        let sent = 0
        for await (const p of contentPieces(1, index, 0, size, piece)) {
          if (bytesPerSecond !== undefined) {
            await sleep(Math.max(0, t0 + (sent / bytesPerSecond) * 1000 - performance.now()))
          }
          sent += p.length
          if (!req.write(p)) await new Promise((r) => req.once('drain', r))
        }
        req.end()
      })()
    })
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(concurrency, uploads) }, async () => {
      for (let i = next++; i < uploads; i = next++) {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        await one(i)
        inFlight--
      }
    }),
  )
  return { seconds: (performance.now() - t0) / 1000, failed, maxInFlight }
}

interface LoadRun {
  /** The row's name. */
  readonly name: string
  readonly server: ServerKind
  /** Engine options (without the endpoint); undefined for the raw server (rawLoad). */
  readonly engine?: Omit<BenchOptions, 'endpoint'>
}

/** One run: a fresh server process, the load, its peak RSS and CPU time from /proc. */
async function loadRound(
  run: LoadRun,
  round: number,
  load: { uploads: number; size: number; concurrency: number; bytesPerSecond?: number },
): Promise<LoadSample> {
  const s = await startServer(run.server)
  try {
    if (run.engine === undefined) {
      const r = await rawLoad(
        s.port,
        load.uploads,
        load.size,
        load.concurrency,
        load.bytesPerSecond,
      )
      const stats = await stopServer(s)
      const completed = load.uploads - r.failed
      return {
        server: run.name,
        round,
        seconds: r.seconds,
        mbPerSecond: (completed * load.size) / 1e6 / r.seconds,
        uploadsPerSecond: completed / r.seconds,
        completed,
        failed: r.failed,
        errors: r.failed,
        verified: 'n/a',
        maxInFlight: r.maxInFlight,
        ...stats,
      }
    }
    let maxInFlight = 0
    const report: BenchReport = await runBench({
      ...run.engine,
      endpoint: `http://127.0.0.1:${s.port}/files/`,
      onTick: (p) => {
        maxInFlight = Math.max(maxInFlight, p.inFlight)
      },
    })
    // The server's figures cover the load, not the verification downloads: read them now.
    const stats = procStats(s.child.pid ?? 0)
    await stopServer(s)
    const errors = Object.values(report.errors).reduce((a, b) => a + b, 0)
    const v = report.verification
    const main = report.latencyMs.PATCH ?? report.latencyMs.POST
    return {
      server: run.name,
      round,
      seconds: report.elapsedSeconds,
      mbPerSecond: report.throughputMBps,
      uploadsPerSecond: report.uploadsPerSecond,
      completed: report.uploads.completed,
      failed: report.uploads.failed,
      errors,
      verified: v.method === 'none' ? 'no' : `${v.ok}/${v.checked}`,
      maxInFlight,
      ...(main === undefined ? {} : { p50Ms: main.p50, p99Ms: main.p99 }),
      ...stats,
    }
  } catch (e) {
    if (s.child.exitCode === null) await stopServer(s)
    throw e
  }
}

/** Every run once per round, interleaved; a line per run on stderr. */
async function loadScenario(
  runsOf: readonly LoadRun[],
  rounds_: number,
  load: { uploads: number; size: number; concurrency: number; bytesPerSecond?: number },
): Promise<LoadSample[]> {
  const samples: LoadSample[] = []
  for (let round = 0; round < rounds_; round++) {
    for (const run of runsOf) {
      const x = await loadRound(run, round, load)
      samples.push(x)
      if (!values.json) {
        process.stderr.write(
          `  round ${round + 1} ${run.name.padEnd(22)} ${x.seconds.toFixed(2).padStart(6)} s ${x.mbPerSecond.toFixed(0).padStart(5)} MB/s ${x.uploadsPerSecond.toFixed(0).padStart(6)} uploads/s  rss ${x.peakRssMb.toFixed(0)} MB  cpu ${x.cpuSeconds.toFixed(2)} s  ${x.failed} failed, ${x.errors} errors, verified ${x.verified}\n`,
        )
      }
    }
  }
  return samples
}

interface LoadSummary {
  readonly name: string
  readonly mbPerSecond: number
  readonly uploadsPerSecond: number
  readonly peakRssMb: number
  readonly cpuSeconds: number
  readonly failed: number
  readonly errors: number
  readonly verified: string
  readonly maxInFlight: number
}

function summarizeLoad(runsOf: readonly LoadRun[], samples: readonly LoadSample[]): LoadSummary[] {
  return runsOf.map((run) => {
    const of = samples.filter((x) => x.server === run.name)
    return {
      name: run.name,
      mbPerSecond: median(of.map((x) => x.mbPerSecond)),
      uploadsPerSecond: median(of.map((x) => x.uploadsPerSecond)),
      peakRssMb: Math.max(...of.map((x) => x.peakRssMb)),
      cpuSeconds: median(of.map((x) => x.cpuSeconds)),
      failed: of.reduce((a, x) => a + x.failed, 0),
      errors: of.reduce((a, x) => a + x.errors, 0),
      verified: of.map((x) => x.verified).join(', '),
      maxInFlight: Math.max(...of.map((x) => x.maxInFlight ?? 0)),
    }
  })
}

const LABEL: Record<string, string> = {
  raw: 'raw node:http → file (1 MiB buffers)',
  'tus-server': '@tus/server 2.4.5 + @tus/file-store',
  ferry: 'Ferry (disk store, fsync)',
  'ferry-nosync': 'Ferry (disk store, --durability none)',
  'ferry-ietf': 'Ferry (disk store, fsync), draft interop 10',
}

function loadTable(title: string, rows: readonly LoadSummary[], rss = true): string {
  return [
    '',
    `| ${title} | MB/s | uploads/s | server peak RSS | server CPU | failed / errors | verified |`,
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${LABEL[r.name] ?? r.name} | ${r.mbPerSecond.toFixed(0)} | ${r.uploadsPerSecond.toFixed(1)} | ${rss ? `${r.peakRssMb.toFixed(0)} MB` : '-'} | ${r.cpuSeconds.toFixed(2)} s | ${r.failed} / ${r.errors} | ${r.verified} |`,
    ),
    '',
  ].join('\n')
}

interface Target {
  readonly scenario: string
  readonly text: string
  readonly measured: string
  readonly met: boolean
}
const targets: Target[] = []
const target = (scenario: string, text: string, value: number, min: number, unit = '×') => {
  targets.push({
    scenario,
    text,
    measured: `${value.toFixed(2)}${unit}`,
    met: value >= min,
  })
}
const targetMax = (scenario: string, text: string, value: number, max: number, unit: string) => {
  targets.push({ scenario, text, measured: `${value.toFixed(0)} ${unit}`, met: value <= max })
}

// ---------------------------------------------------------------------------------------------
// Scenario `s3` (issue 7): `ferry serve --store s3` against the AWS SDK's own multipart upload,
// both to one Ceph RADOS Gateway (single node, memstore OSD) started for the scenario.

interface S3Run {
  readonly name: string
  readonly side: 'ferry' | 'lib-storage' | 'sequential'
  readonly partSize: number
  /** Ferry: the client's protocol (tus: creation, then the whole file in one PATCH). */
  readonly protocol?: 'tus' | 'ietf'
  /** Direct: parts in flight at once (lib-storage's queueSize; sequential: 1). */
  readonly queue?: number
}

interface S3Sample {
  readonly name: string
  readonly round: number
  readonly mbPerSecond: number
  readonly seconds: number
  /** Ferry: the server process (VmHWM, utime + stime); direct: the uploading process. */
  readonly peakRssMb: number
  /** The same process's peak anonymous memory (RssAnon, sampled every 20 ms). */
  readonly peakAnonMb: number
  readonly cpuSeconds: number
  /** The run's S3 requests by operation, from the gateway's access log. */
  readonly requests: Record<string, number>
}

const S3_BUCKET = 'ferry-bench'
const mib = (n: number): string => `${+(n / 2 ** 20).toFixed(2)} MiB`
/** The memory budget Ferry runs with: ferry serve's default, 4 part buffers. */
const s3Budget = (partSize: number): number => 4 * partSize

/** `ferry serve --store s3` from dist/ (bin/ferry.js), as a user starts it. */
async function startFerryS3(
  rgw: Rgw,
  prefix: string,
  partSize: number,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = nextPort++
    if (nextPort >= 32000) nextPort = 21000
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/ferry.js'),
        'serve',
        ...['--port', String(port), '--store', 's3', '--s3-bucket', S3_BUCKET],
        ...['--s3-endpoint', rgw.endpoint, '--s3-region', rgw.region, '--s3-prefix', prefix],
        ...['--s3-part-size', String(partSize), '--s3-memory-budget', String(s3Budget(partSize))],
        ...['--expire-after', 'never', '--log-format', 'json'],
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: rgw.accessKeyId,
          AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
        },
      },
    )
    const lines: string[] = []
    let rest = ''
    const started = new Promise<void>((resolve, reject) => {
      // The log is read to its end (a full pipe would stop the server); the last lines are kept
      // for the error message.
      child.stderr?.on('data', (d: Buffer) => {
        const parts = (rest + d.toString('utf8')).split('\n')
        rest = parts.pop() ?? ''
        for (const line of parts) {
          lines.push(line)
          if (lines.length > 30) lines.shift()
          if (line.includes('"event":"ServerStarted"')) resolve()
        }
      })
      child.once('exit', (code) =>
        reject(new Error(`ferry serve --store s3 exited with ${code}:\n${lines.join('\n')}`)),
      )
    })
    try {
      await started
      return { child, port }
    } catch (e) {
      // A taken port (ListenFailed) is retried on the next one.
      if (attempt >= 20 || !lines.some((l) => l.includes('ListenFailed'))) throw e
    }
  }
}

/** The access-log lines of radosgw (beast) from byte `from`, once the log stopped growing. */
async function rgwRequests(
  rgw: Rgw,
  from: number,
  prefix: string,
): Promise<{ end: number; requests: Record<string, number> }> {
  const path = join(rgw.dir, 'log', 'client.rgw.a.log')
  // Ceph writes its log asynchronously: wait until the size is stable.
  let end = statSync(path).size
  for (let i = 0; i < 25; i++) {
    await sleep(200)
    const now = statSync(path).size
    if (now === end && i >= 1) break
    end = now
  }
  const buffer = Buffer.alloc(end - from)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, buffer, 0, buffer.length, from)
  } finally {
    closeSync(fd)
  }
  const requests: Record<string, number> = {}
  const mine = `/${S3_BUCKET}/${prefix}`
  for (const line of buffer.toString('utf8').split('\n')) {
    // beast: 0x…: 127.0.0.1 - user [date] "PUT /bucket/key?partNumber=1&… HTTP/1.1" 200 …
    const hit = / beast: .*"([A-Z]+) (\/\S*) HTTP\/[\d.]+" (\d+)/.exec(line)
    if (hit === null) continue
    const [, method = '', target = '', status = ''] = hit
    if (!target.startsWith(mine)) continue
    const op = s3Operation(method, target, Number(status))
    requests[op] = (requests[op] ?? 0) + 1
  }
  return { end, requests }
}

/** The S3 operation of a request line (the SDK names most in `x-id`; AWS S3 API names). */
function s3Operation(method: string, target: string, status: number): string {
  const [path = '', query = ''] = target.split('?')
  const q = new URLSearchParams(query)
  let op =
    q.get('x-id') ??
    (method === 'POST' && q.has('uploads')
      ? 'CreateMultipartUpload'
      : method === 'POST' && q.has('uploadId')
        ? 'CompleteMultipartUpload'
        : method === 'DELETE' && q.has('uploadId')
          ? 'AbortMultipartUpload'
          : method === 'HEAD'
            ? 'HeadObject'
            : method)
  if (path.endsWith('.info')) op += ' (manifest)'
  else if (/\.pending\.[01]$/.test(path)) op += ' (pending)'
  return status >= 300 ? `${op} → ${status}` : op
}

const requestCount = (r: Record<string, number>): number =>
  Object.values(r).reduce((a, b) => a + b, 0)
const requestText = (r: Record<string, number>): string =>
  `${requestCount(r)}: ${Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${n} ${op}`)
    .join(', ')}`

async function scenarioS3(file: string, s3Rounds: number): Promise<Record<string, unknown>> {
  const partSizes = (values['s3-part-sizes'] ?? '8MiB').split(',').map((x) => parseSize(x.trim()))
  const main = partSizes[0]
  if (main === undefined || partSizes.some((p) => p < 5 * 2 ** 20)) {
    throw new Error('--s3-part-sizes: sizes of at least 5MiB (AWS S3 API, UploadPart)')
  }
  const runsS3: S3Run[] = partSizes.flatMap((p, i): S3Run[] => [
    { name: `ferry-tus-${p}`, side: 'ferry', partSize: p, protocol: 'tus' },
    { name: `lib-storage-${p}`, side: 'lib-storage', partSize: p, queue: 4 },
    { name: `sequential-${p}`, side: 'sequential', partSize: p, queue: 1 },
    // The draft at the table's part size only (the store does the same for both protocols).
    ...(i === 0
      ? [{ name: `ferry-ietf-${p}`, side: 'ferry', partSize: p, protocol: 'ietf' } as const]
      : []),
  ])
  process.stderr.write('SHA-256 of the input: ')
  const expected = await sha256File(file)
  process.stderr.write(`${expected}\n`)
  const sdk = await import('@aws-sdk/client-s3')
  const { startRgw } = await import('../scripts/services.mjs')
  const t0 = performance.now()
  const rgw = await startRgw()
  process.stderr.write(
    `  Ceph RGW ${rgw.endpoint} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  )
  const client = new sdk.S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  const logPath = join(rgw.dir, 'log', 'client.rgw.a.log')
  /** Deletes every object and multipart upload under `prefix`, then frees their space at once. */
  const clean = async (prefix: string): Promise<void> => {
    const listed = await client.send(
      new sdk.ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: prefix }),
    )
    for (const o of listed.Contents ?? []) {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: S3_BUCKET, Key: o.Key }))
    }
    const uploads = await client.send(
      new sdk.ListMultipartUploadsCommand({ Bucket: S3_BUCKET, Prefix: prefix }),
    )
    for (const u of uploads.Uploads ?? []) {
      await client.send(
        new sdk.AbortMultipartUploadCommand({
          Bucket: S3_BUCKET,
          Key: u.Key,
          UploadId: u.UploadId,
        }),
      )
    }
    // RGW deletes an object's data later, in its garbage collector (rgw_gc_obj_min_wait: 2 h);
    // the memstore OSD holds at most 4 GiB, so the space is reclaimed now.
    const gc = spawnSync(
      'radosgw-admin',
      ['-c', join(rgw.dir, 'ceph.conf'), 'gc', 'process', '--include-all'],
      { stdio: 'ignore', timeout: 120_000 },
    )
    if (gc.status !== 0) throw new Error(`radosgw-admin gc process: exit ${gc.status}`)
  }
  const samples: S3Sample[] = []
  try {
    await client.send(new sdk.CreateBucketCommand({ Bucket: S3_BUCKET }))
    for (let round = 0; round < s3Rounds; round++) {
      const order = round % 2 === 0 ? runsS3 : [...runsS3].reverse()
      for (const run of order) {
        const prefix = `r${round}-${run.name}/`
        const from = statSync(logPath).size
        let seconds: number
        let stats: { peakRssMb: number; peakAnonMb: number; cpuSeconds: number }
        let verified: string
        let requests: Record<string, number>
        if (run.side === 'ferry') {
          const server = await startFerryS3(rgw, prefix, run.partSize)
          const anon = anonSampler(server.child.pid ?? 0)
          try {
            const endpoint = `http://127.0.0.1:${server.port}/files/`
            const extra = run.protocol === 'ietf' ? ['ietf', '10'] : ['tus']
            const r = await runClient('ferry-client', endpoint, file, extra)
            if (!r.ok || r.url === undefined || r.seconds === undefined) {
              throw new Error(`${run.name}: ${r.error ?? 'no result'}`)
            }
            seconds = r.seconds
            stats = { ...procStats(server.child.pid ?? 0), peakAnonMb: anon.stop() }
            // Counted before the verification's own requests (HEAD reads the manifest).
            requests = (await rgwRequests(rgw, from, prefix)).requests
            const path = new URL(r.url).pathname
            const head = await request(
              server.port,
              'HEAD',
              path,
              run.protocol === 'ietf'
                ? { 'upload-draft-interop-version': '10' }
                : { 'tus-resumable': '1.0.0' },
            )
            const complete =
              run.protocol === 'ietf'
                ? head.headers['upload-complete'] === '?1'
                : head.headers['upload-length'] === String(size)
            if (head.headers['upload-offset'] !== String(size) || !complete) {
              throw new Error(
                `${run.name} ${r.url}: HEAD ${head.status}, Upload-Offset ${head.headers['upload-offset']}`,
              )
            }
            // The data object of the upload (S3 store layout: <prefix><id>) has the file's bytes.
            const id = path.split('/').filter(Boolean).pop() ?? ''
            const got = await client.send(
              new sdk.GetObjectCommand({ Bucket: S3_BUCKET, Key: `${prefix}${id}` }),
            )
            const hash = createHash('sha256')
            for await (const chunk of got.Body as AsyncIterable<Uint8Array>) hash.update(chunk)
            const digest = hash.digest('hex')
            if (got.ContentLength !== size || digest !== expected) {
              throw new Error(
                `${run.name}: the stored object has ${got.ContentLength} bytes, SHA-256 ${digest}`,
              )
            }
            verified = 'HEAD + SHA-256'
          } finally {
            anon.stop()
            server.child.kill('SIGKILL')
            if (server.child.exitCode === null) {
              await new Promise((r) => server.child.once('exit', r))
            }
          }
        } else {
          const key = `${prefix}direct`
          const child = fork(
            join(ROOT, 'bench/servers/s3-direct.mjs'),
            [
              rgw.endpoint,
              S3_BUCKET,
              key,
              file,
              String(size),
              String(run.partSize),
              run.side,
            ].concat([String(run.queue ?? 1)]),
            {
              stdio: ['ignore', 'inherit', 'ignore', 'ipc'],
              env: {
                ...process.env,
                AWS_ACCESS_KEY_ID: rgw.accessKeyId,
                AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
                AWS_REGION: rgw.region,
              },
            },
          )
          const anon = anonSampler(child.pid ?? 0)
          const r = await new Promise<ClientReport>((resolve) => {
            child.once('message', (m) => resolve(m as ClientReport))
            child.once('exit', (code) => resolve({ ok: false, error: `exited with ${code}` }))
          })
          const peakAnonMb = anon.stop()
          if (child.exitCode === null) await new Promise((r_) => child.once('exit', r_))
          if (!r.ok || r.seconds === undefined) {
            throw new Error(`${run.name}: ${r.error ?? 'no result'}`)
          }
          seconds = r.seconds
          stats = {
            peakRssMb: r.maxRssMb ?? Number.NaN,
            peakAnonMb,
            cpuSeconds: r.cpuSeconds ?? Number.NaN,
          }
          requests = (await rgwRequests(rgw, from, prefix)).requests
          const head = await client.send(new sdk.HeadObjectCommand({ Bucket: S3_BUCKET, Key: key }))
          if (head.ContentLength !== size) {
            throw new Error(`${run.name}: the object has ${head.ContentLength} bytes`)
          }
          verified = 'HeadObject size'
        }
        await clean(prefix)
        const sample: S3Sample = {
          name: run.name,
          round,
          mbPerSecond: size / 1e6 / seconds,
          seconds,
          ...stats,
          requests,
        }
        samples.push(sample)
        if (!values.json) {
          process.stderr.write(
            `  round ${round + 1} ${run.name.padEnd(22)} ${sample.mbPerSecond.toFixed(0).padStart(5)} MB/s  ${seconds.toFixed(2)} s  rss ${sample.peakRssMb.toFixed(0)} MB (anon ${sample.peakAnonMb.toFixed(0)})  cpu ${sample.cpuSeconds.toFixed(2)} s  S3 requests ${requestCount(requests)}  ${verified} ok\n`,
          )
        }
      }
    }
  } finally {
    client.destroy()
    await rgw.stop()
  }
  const rows = runsS3.map((run) => {
    const of = samples.filter((x) => x.name === run.name)
    return {
      ...run,
      mbPerSecond: median(of.map((x) => x.mbPerSecond)),
      rounds: of.map((x) => x.mbPerSecond),
      peakRssMb: Math.max(...of.map((x) => x.peakRssMb)),
      peakAnonMb: Math.max(...of.map((x) => x.peakAnonMb)),
      cpuSeconds: median(of.map((x) => x.cpuSeconds)),
      requests: of[of.length - 1]?.requests ?? {},
    }
  })
  const row = (name: string) => rows.find((r) => r.name === name)
  // The targets of issue 7, per part size (the first one is the table's): Ferry (tus, one PATCH)
  // against both direct uploads with the same part size, and the Ferry server's peak RSS.
  for (const p of partSizes) {
    const ferry = row(`ferry-tus-${p}`)
    const lib = row(`lib-storage-${p}`)
    const seq = row(`sequential-${p}`)
    if (ferry === undefined || lib === undefined || seq === undefined) continue
    const parts = `${mib(p)} parts`
    target(
      'S3',
      `${parts}: Ferry ≥ 0.8× direct lib-storage Upload (queueSize 4)`,
      ferry.mbPerSecond / lib.mbPerSecond,
      0.8,
    )
    target(
      'S3',
      `${parts}: Ferry ≥ 0.8× direct sequential multipart upload`,
      ferry.mbPerSecond / seq.mbPerSecond,
      0.8,
    )
    const budgetMb = s3Budget(p) / 2 ** 20
    const ferryRows = rows.filter((r) => r.side === 'ferry' && r.partSize === p)
    // The server's memory is what the process allocated (anonymous); the node executable's
    // pages (~40 MB, file-backed, shared by every node process) are reported beside it.
    targetMax(
      'S3',
      `${parts}: Ferry server peak memory (anonymous) ≤ 64 MB + part budget (${budgetMb} MiB); peak RSS with the node executable ${Math.max(...ferryRows.map((r) => r.peakRssMb)).toFixed(0)} MB`,
      Math.max(...ferryRows.map((r) => r.peakAnonMb)),
      64 + budgetMb,
      'MB',
    )
  }
  const ferry = row(`ferry-tus-${main}`)
  const lib = row(`lib-storage-${main}`)
  const seq = row(`sequential-${main}`)
  if (!values.json) {
    const label = (r: (typeof rows)[number]): string =>
      r.side === 'ferry'
        ? `Ferry: ferry serve --store s3 (budget ${mib(s3Budget(r.partSize))}) ← Ferry client, ${r.protocol === 'tus' ? 'tus, one PATCH' : 'draft interop 10, one request'}`
        : r.side === 'lib-storage'
          ? `direct: @aws-sdk/lib-storage Upload, queueSize ${r.queue}`
          : 'direct: CreateMultipartUpload, UploadPart one at a time, Complete'
    process.stdout.write(
      [
        '',
        `| ${values.size} → Ceph RGW (median of ${s3Rounds}) | part size | MB/s | rounds (MB/s) | peak memory (anon) | peak RSS | CPU | S3 requests (one run) |`,
        '|---|---:|---:|---|---:|---:|---:|---|',
        ...rows.map(
          (r) =>
            `| ${label(r)} | ${mib(r.partSize)} | ${r.mbPerSecond.toFixed(0)} | ${r.rounds.map((x) => x.toFixed(0)).join(', ')} | ${r.peakAnonMb.toFixed(0)} MB | ${r.peakRssMb.toFixed(0)} MB | ${r.cpuSeconds.toFixed(2)} s | ${requestText(r.requests)} |`,
        ),
        '',
        'Peak memory: the anonymous resident memory (RssAnon, sampled every 20 ms) of the Ferry server process or of the direct uploading process; peak RSS adds the pages of the node executable and shared libraries (VmHWM; getrusage for the direct process). CPU: utime + stime. Every Ferry upload: HEAD offset/completion and the SHA-256 of the stored object.',
        ...(ferry !== undefined && lib !== undefined && seq !== undefined
          ? [
              `Ferry / lib-storage: ${(ferry.mbPerSecond / lib.mbPerSecond).toFixed(2)}×   Ferry / sequential: ${(ferry.mbPerSecond / seq.mbPerSecond).toFixed(2)}×`,
            ]
          : []),
        '',
      ].join('\n'),
    )
  }
  return { rows, samples }
}

/** Compiles dist/ (the client scenarios run the compiled client, which must be current). */
function build(always: boolean): void {
  if (!always && existsSync(join(ROOT, 'dist/server/handler.js'))) return
  process.stderr.write('building dist/ (npm run build)\n')
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('build failed')
}

async function main(): Promise<void> {
  const clientScenario = runs('client')
  const modesScenario = runs('client-modes')
  // Every scenario runs Ferry from dist/, which must be current.
  build(values['no-build'] !== true)
  const file =
    runs('single') || clientScenario || modesScenario || runs('s3') ? await inputFile() : ''
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    size,
    rounds,
  }
  if (runs('single')) {
    process.stderr.write(
      `scenario 1: one ${values.size} upload in a single PATCH (${rounds} rounds, interleaved)\n`,
    )
    const samples = await scenarioSingle(file)
    const by = (k: ServerKind) => samples.filter((s) => s.server === k)
    const rate = (k: ServerKind) => median(by(k).map((s) => s.mbPerSecond))
    const rss = (k: ServerKind) => Math.max(...by(k).map((s) => s.peakRssMb))
    const summary = {
      rawMBps: rate('raw'),
      tusServerMBps: rate('tus-server'),
      ferryMBps: rate('ferry'),
      ferryVsRaw: rate('ferry') / rate('raw'),
      ferryVsTusServer: rate('ferry') / rate('tus-server'),
      ferryNoSyncMBps: rate('ferry-nosync'),
      ferryNoSyncVsRaw: rate('ferry-nosync') / rate('raw'),
      peakRssMb: {
        raw: rss('raw'),
        tusServer: rss('tus-server'),
        ferry: rss('ferry'),
        ferryNoSync: rss('ferry-nosync'),
      },
    }
    results.single = { summary, samples }
    target('1', 'one PATCH: Ferry ≥ 0.95× the tuned raw limit', summary.ferryVsRaw, 0.95)
    target('1', 'one PATCH: Ferry ≥ 1.25× @tus/server', summary.ferryVsTusServer, 1.25)
    if (!values.json) {
      process.stdout.write(
        [
          '',
          `| 1 GiB in one PATCH (median of ${rounds}) | MB/s | peak RSS |`,
          '|---|---:|---:|',
          `| raw node:http → file (1 MiB buffers) | ${summary.rawMBps.toFixed(0)} | ${summary.peakRssMb.raw.toFixed(0)} MB |`,
          `| @tus/server 2.4.5 + @tus/file-store | ${summary.tusServerMBps.toFixed(0)} | ${summary.peakRssMb.tusServer.toFixed(0)} MB |`,
          `| Ferry (disk store, fsync: acknowledged = on disk) | ${summary.ferryMBps.toFixed(0)} | ${summary.peakRssMb.ferry.toFixed(0)} MB |`,
          `| Ferry (disk store, --durability none) | ${summary.ferryNoSyncMBps.toFixed(0)} | ${summary.peakRssMb.ferryNoSync.toFixed(0)} MB |`,
          '',
          `Ferry / raw limit: ${summary.ferryVsRaw.toFixed(2)}× (without fsync: ${summary.ferryNoSyncVsRaw.toFixed(2)}×)   Ferry / @tus/server: ${summary.ferryVsTusServer.toFixed(2)}×`,
          '',
        ].join('\n'),
      )
    }
  }
  const MiB = 1024 * 1024
  if (runs('chunked')) {
    const chunkRuns: LoadRun[] = (['tus-server', 'ferry', 'ferry-nosync'] as const).map((k) => ({
      name: k,
      server: k,
      engine: {
        uploads: 1,
        size,
        concurrency: 1,
        chunkSize: 8 * MiB,
        protocol: 'tus',
        verify: 'download',
      },
    }))
    process.stderr.write(
      `scenario 2: one ${values.size} upload in 8 MiB PATCHes (${rounds} rounds, interleaved)\n`,
    )
    const samples = await loadScenario(chunkRuns, rounds, { uploads: 1, size, concurrency: 1 })
    const rows = summarizeLoad(chunkRuns, samples)
    results.chunked = { rows, samples }
    const by = (n: string) => rows.find((r) => r.name === n) as LoadSummary
    if (!values.json) {
      process.stdout.write(loadTable(`${values.size} in 8 MiB PATCHes (median of ${rounds})`, rows))
    }
    target(
      '2',
      '8 MiB PATCHes: Ferry ≥ 1.4× @tus/server',
      by('ferry').mbPerSecond / by('tus-server').mbPerSecond,
      1.4,
    )
  }
  if (runs('concurrent')) {
    const n = scaled(200)
    const load = { uploads: n, size: MiB, concurrency: n }
    const engine = { ...load, protocol: 'tus', verify: 'download' } as const
    const cRuns: LoadRun[] = [
      { name: 'raw', server: 'raw' },
      { name: 'tus-server', server: 'tus-server', engine },
      { name: 'ferry', server: 'ferry', engine },
    ]
    process.stderr.write(
      `scenario 3: ${n} concurrent uploads of 1 MiB, POST + PATCH each (${rounds} rounds, interleaved)\n`,
    )
    const samples = await loadScenario(cRuns, rounds, load)
    const rows = summarizeLoad(cRuns, samples)
    results.concurrent = { rows, samples }
    const by = (x: string) => rows.find((r) => r.name === x) as LoadSummary
    if (!values.json) {
      process.stdout.write(loadTable(`${n} concurrent × 1 MiB (median of ${rounds})`, rows))
    }
    target(
      '3',
      `${n} × 1 MiB: Ferry ≥ 2× @tus/server uploads/s`,
      by('ferry').uploadsPerSecond / by('tus-server').uploadsPerSecond,
      2,
    )
    targetMax('3', `${n} × 1 MiB: Ferry peak RSS ≤ 150 MB`, by('ferry').peakRssMb, 150, 'MB')
  }
  if (runs('tiny')) {
    const n = scaled(2000)
    const load = { uploads: n, size: 1024, concurrency: 50 }
    const one = (protocol: 'tus' | 'ietf') =>
      ({ ...load, protocol, singleRequest: true, verify: 'download' }) as const
    const tRuns: LoadRun[] = [
      { name: 'raw', server: 'raw' },
      { name: 'tus-server', server: 'tus-server', engine: one('tus') },
      { name: 'ferry', server: 'ferry', engine: one('tus') },
      { name: 'ferry-ietf', server: 'ferry', engine: one('ietf') },
    ]
    process.stderr.write(
      `scenario 4: ${n} uploads of 1 KiB, 50 in flight, one request each (${rounds} rounds, interleaved)\n`,
    )
    const samples = await loadScenario(tRuns, rounds, load)
    const rows = summarizeLoad(tRuns, samples)
    results.tiny = { rows, samples }
    const by = (x: string) => rows.find((r) => r.name === x) as LoadSummary
    if (!values.json) {
      process.stdout.write(
        loadTable(
          `${n} × 1 KiB, 50 in flight, one request each: tus creation-with-upload / draft Upload-Complete: ?1 (median of ${rounds})`,
          rows,
        ),
      )
    }
    target(
      '4',
      'tiny uploads: Ferry (tus) ≥ 3× @tus/server uploads/s',
      by('ferry').uploadsPerSecond / by('tus-server').uploadsPerSecond,
      3,
    )
  }
  if (runs('held-open')) {
    const n = scaled(1000)
    // Each PATCH body is paced to 8 KiB/s by the client: 64 KiB take about 8 s, so all n uploads
    // are open at the server at once.
    const load = { uploads: n, size: 64 * 1024, concurrency: n, bytesPerSecond: 8 * 1024 }
    const engine = { ...load, protocol: 'tus', verify: 'download', stallTimeoutMs: 60_000 } as const
    const hRuns: LoadRun[] = [
      { name: 'raw', server: 'raw' },
      { name: 'tus-server', server: 'tus-server', engine },
      { name: 'ferry', server: 'ferry', engine },
    ]
    const hRounds = Number(values.rounds ?? 1)
    process.stderr.write(
      `scenario 5: ${n} concurrent slow uploads (64 KiB at 8 KiB/s each) held open (${hRounds} round${hRounds === 1 ? '' : 's'})\n`,
    )
    const samples = await loadScenario(hRuns, hRounds, load)
    const rows = summarizeLoad(hRuns, samples)
    results.heldOpen = { rows, samples }
    const by = (x: string) => rows.find((r) => r.name === x) as LoadSummary
    if (!values.json) {
      process.stdout.write(
        loadTable(
          `${n} slow uploads held open (most in flight: ${rows.map((r) => `${r.name} ${r.maxInFlight}`).join(', ')})`,
          rows,
        ),
      )
    }
    targetMax('5', `${n} open uploads: Ferry peak RSS ≤ 200 MB`, by('ferry').peakRssMb, 200, 'MB')
    targets.push({
      scenario: '5',
      text: `${n} open uploads: no errors`,
      measured: `${by('ferry').failed} failed, ${by('ferry').errors} errors`,
      met: by('ferry').failed === 0 && by('ferry').errors === 0,
    })
  }
  if (clientScenario) {
    process.stderr.write(
      `scenario client: Ferry's Node client and tus-js-client 4.3.1, ${values.size} from a file to one Ferry server (durability ${values.durability}; ${rounds} rounds, interleaved)\n`,
    )
    const samples = await scenarioClient(file)
    const by = (k: ClientKind) => samples.filter((s) => s.client === k)
    const rate = (k: ClientKind) => median(by(k).map((s) => s.mbPerSecond))
    const rss = (k: ClientKind) => Math.max(...by(k).map((s) => s.peakRssMb))
    const cpu = (k: ClientKind) => median(by(k).map((s) => s.cpuSeconds))
    const summary = {
      ferryClientMBps: rate('ferry-client'),
      tusJsClientMBps: rate('tus-js-client'),
      ferryVsTusJsClient: rate('ferry-client') / rate('tus-js-client'),
      peakRssMb: { ferryClient: rss('ferry-client'), tusJsClient: rss('tus-js-client') },
      cpuSeconds: { ferryClient: cpu('ferry-client'), tusJsClient: cpu('tus-js-client') },
    }
    results.client = { summary, samples }
    target('6', 'Ferry client ≥ 1.0× tus-js-client', summary.ferryVsTusJsClient, 1.0)
    if (!values.json) {
      const rounds_ = (k: ClientKind) =>
        by(k)
          .map((s) => s.mbPerSecond.toFixed(0))
          .join(', ')
      process.stdout.write(
        [
          '',
          `| ${values.size} file → one Ferry server, durability ${values.durability} (median of ${rounds}) | MB/s | rounds (MB/s) | client CPU | client peak RSS |`,
          '|---|---:|---|---:|---:|',
          `| Ferry Node client (dist/client/node, path source, auto → tus) | ${summary.ferryClientMBps.toFixed(0)} | ${rounds_('ferry-client')} | ${summary.cpuSeconds.ferryClient.toFixed(2)} s | ${summary.peakRssMb.ferryClient.toFixed(0)} MB |`,
          `| tus-js-client 4.3.1 (fs.createReadStream, chunkSize Infinity) | ${summary.tusJsClientMBps.toFixed(0)} | ${rounds_('tus-js-client')} | ${summary.cpuSeconds.tusJsClient.toFixed(2)} s | ${summary.peakRssMb.tusJsClient.toFixed(0)} MB |`,
          '',
          `Ferry client / tus-js-client: ${summary.ferryVsTusJsClient.toFixed(2)}×`,
          '',
        ].join('\n'),
      )
    }
  }
  if (modesScenario) {
    process.stderr.write(
      `scenario client-modes: Ferry's Node client, ${values.size} from a file, once per protocol mode to a Ferry server (durability ${values.durability}) and in tus mode to @tus/server 2.4.5 (${modeRounds} round${modeRounds === 1 ? '' : 's'})\n`,
    )
    const samples = await scenarioClientModes(file)
    results.clientModes = { samples }
    if (!values.json) {
      const rows = MODE_RUNS.map((m) => {
        const of = samples.filter((x) => x.server === m.server && x.mode === modeName(m))
        const server =
          m.server === 'tus-server'
            ? '@tus/server 2.4.5 + @tus/file-store'
            : `ferry (disk store, durability ${values.durability}${m.server === 'ferry-h2c' ? ', h2c' : ''})`
        return `| ${server} | ${modeName(m)} | ${median(of.map((x) => x.mbPerSecond)).toFixed(0)} | ${median(of.map((x) => x.seconds)).toFixed(2)} s | ${median(of.map((x) => x.cpuSeconds)).toFixed(2)} s | ${Math.max(...of.map((x) => x.peakRssMb)).toFixed(0)} MB | ✓ |`
      })
      process.stdout.write(
        [
          '',
          `| ${values.size} from a file, Ferry Node client → server | mode | MB/s | time | client CPU | client peak RSS | HEAD + SHA-256 of the stored file |`,
          '|---|---|---:|---:|---:|---:|:---:|',
          ...rows,
          '',
        ].join('\n'),
      )
    }
  }
  if (runs('s3')) {
    const s3Rounds = Number(values.rounds ?? 2)
    process.stderr.write(
      `scenario s3: ${values.size} through ferry serve --store s3 and directly with the AWS SDK, to one Ceph RGW (${s3Rounds} round${s3Rounds === 1 ? '' : 's'}, interleaved)\n`,
    )
    results.s3 = await scenarioS3(file, s3Rounds)
  }
  results.targets = targets
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  else if (targets.length > 0) {
    process.stdout.write(
      [
        '',
        '| target (issue 5; S3: issue 7) | measured | |',
        '|---|---:|:---:|',
        ...targets.map(
          (t) => `| ${t.scenario}. ${t.text} | ${t.measured} | ${t.met ? 'met' : 'MISSED'} |`,
        ),
        '',
      ].join('\n'),
    )
  }
  agent.destroy()
}

await main()
