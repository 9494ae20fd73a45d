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
 *
 *   npm run bench                         # every scenario (3 rounds; client-modes: 1)
 *   npm run bench -- --only single --rounds 5 --size 1GiB
 *   npm run bench -- --only client --rounds 3 [--durability none]
 *   npm run bench -- --only client-modes [--rounds 1] [--durability none]
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
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
  },
})
const rounds = Number(values.rounds ?? 3)
const modeRounds = Number(values.rounds ?? 1)
const SCENARIOS = ['single', 'client', 'client-modes']
if (values.only !== undefined && !SCENARIOS.includes(values.only)) {
  throw new Error(`--only must be one of ${SCENARIOS.join(', ')}`)
}
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

async function startServer(kind: ServerKind): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `ferry-bench-${kind}-`))
  const [script, ...extra] = LAUNCH[kind]
  const child = fork(join(ROOT, 'bench/servers', script), ['0', dir, ...extra], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
  })
  return { kind, port, child, dir }
}

function procStats(pid: number): { peakRssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0)
  return { peakRssMb: hwm / 1024, cpuSeconds: ticks / 100 }
}

async function stopServer(s: Running): Promise<{ peakRssMb: number; cpuSeconds: number }> {
  const stats = procStats(s.child.pid ?? 0)
  s.child.kill('SIGKILL')
  await new Promise((r) => s.child.once('exit', r))
  rmSync(s.dir, { recursive: true, force: true })
  return stats
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

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

/** Compiles dist/ (the client scenarios run the compiled client, which must be current). */
function build(always: boolean): void {
  if (!always && existsSync(join(ROOT, 'dist/server/handler.js'))) return
  process.stderr.write('building dist/ (npm run build)\n')
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('build failed')
}

async function main(): Promise<void> {
  const clientScenario = values.only === undefined || values.only === 'client'
  const modesScenario = values.only === undefined || values.only === 'client-modes'
  build(clientScenario || modesScenario)
  const file = await inputFile()
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    size,
    rounds,
  }
  if (values.only === undefined || values.only === 'single') {
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
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  agent.destroy()
}

await main()
