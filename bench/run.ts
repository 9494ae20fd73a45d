/**
 * The benchmark suite (`npm run bench`): Ferry, @tus/server 2.x (+ @tus/file-store) and a raw
 * node:http server that writes the body to a file, each in its own process, measured side by
 * side in one run and interleaved, with ratios. Peak RSS (VmHWM) and CPU time come from /proc.
 *
 *   npm run bench                         # every scenario, 3 rounds
 *   npm run bench -- --only single --rounds 5 --size 1GiB
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
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
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseSize } from '../src/cli/units.ts'

const ROOT = new URL('..', import.meta.url).pathname
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    size: { type: 'string', default: '1GiB' },
    json: { type: 'boolean', default: false },
  },
})
const rounds = Number(values.rounds)
const size = parseSize(values.size ?? '1GiB')

type ServerKind = 'raw' | 'tus-server' | 'ferry' | 'ferry-nosync'
const SERVERS: readonly ServerKind[] = ['raw', 'tus-server', 'ferry', 'ferry-nosync']
/** Script and extra arguments of each server process. */
const LAUNCH: Record<ServerKind, [string, ...string[]]> = {
  raw: ['raw.mjs'],
  'tus-server': ['tus-server.mjs'],
  ferry: ['ferry.mjs', 'fsync'],
  'ferry-nosync': ['ferry.mjs', 'none'],
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

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/server/handler.js'))) {
    process.stderr.write('building dist/ (npm run build)\n')
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
    if (r.status !== 0) throw new Error('build failed')
  }
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
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  agent.destroy()
}

await main()
