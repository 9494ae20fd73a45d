/**
 * @module Shared pieces of the fuzz, slowloris and security campaigns (issue 6, campaigns 4, 5,
 * 7): raw exchanges over node:net with full control of the bytes, process figures read from
 * /proc (resident memory, open file descriptors), the check for internal details leaking into
 * responses, and the command-line entry every campaign has.
 */
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { type RawResponse, ResponseParser } from '../support/raw-http.ts'
import { type FerryProcess, spawnFerry } from '../support/servers.ts'

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export interface WireResult {
  readonly interim: RawResponse[]
  readonly final: RawResponse | undefined
  /** Whether the server closed the connection (or it failed) before we gave up. */
  readonly closed: boolean
  /** We stopped waiting (no final response within the wait) and destroyed the socket. */
  readonly gaveUp: boolean
  readonly error?: string
}

/**
 * Writes `bytes` to a fresh connection and collects responses until the final one, the
 * connection's end, or `waitMs` (then the socket is destroyed: an interrupted request).
 */
export async function exchange(
  port: number,
  bytes: Buffer,
  options: { waitMs: number; headRequest?: boolean },
): Promise<WireResult> {
  const socket = net.connect(port, '127.0.0.1')
  const parser = new ResponseParser(options.headRequest === true)
  const interim: RawResponse[] = []
  let final: RawResponse | undefined
  let error: string | undefined
  let parseError = false
  return new Promise<WireResult>((resolve) => {
    let settled = false
    const finish = (closed: boolean, gaveUp: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({
        interim,
        final: final ?? (parseError ? undefined : safeFlush(parser)),
        closed,
        gaveUp,
        ...(error === undefined ? {} : { error }),
      })
    }
    const timer = setTimeout(() => finish(false, true), options.waitMs)
    socket.on('data', (data: Buffer) => {
      try {
        for (const msg of parser.push(data)) {
          if (msg.status < 200) interim.push(msg)
          else {
            final = msg
            finish(false, false)
            return
          }
        }
      } catch (e) {
        parseError = true
        error = `unparsable response: ${(e as Error).message}`
        finish(true, false)
      }
    })
    socket.on('error', (e) => {
      error = e.message
    })
    socket.on('close', () => finish(true, false))
    socket.on('connect', () => {
      socket.write(bytes)
    })
  })
}

function safeFlush(parser: ResponseParser): RawResponse | undefined {
  try {
    return parser.flushOnClose()
  } catch {
    return undefined
  }
}

/** Serializes a request head (name/value pairs in order, duplicates allowed). */
export function head(
  method: string,
  path: string,
  headers: readonly (readonly [string, string])[],
) {
  let text = `${method} ${path} HTTP/1.1\r\n`
  for (const [k, v] of headers) text += `${k}: ${v}\r\n`
  return Buffer.from(`${text}\r\n`, 'latin1')
}

// ---------------------------------------------------------------------------------------------
// process figures

/** Resident memory (bytes) and open file descriptors of a process, from /proc. */
export function processFigures(pid: number): { rss: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN)
  const fds = readdirSync(`/proc/${pid}/fd`).length
  return { rss: kb * 1024, fds }
}

const PRELOAD = new URL('./_gc-preload.mjs', import.meta.url).pathname

/**
 * Starts `ferry serve` with a preload that runs a full garbage collection on SIGUSR2 and
 * reports the heap on stderr, so that memory is compared after GC, not before.
 */
export function spawnMeasuredFerry(args: readonly string[]): Promise<FerryProcess> {
  const existing = process.env.NODE_OPTIONS ?? ''
  return spawnFerry(args, 0, {
    NODE_OPTIONS: `${existing} --expose-gc --import=${PRELOAD}`.trim(),
  })
}

/** Forces a GC in a process started by `spawnMeasuredFerry`; resolves with its heap after it. */
export async function collect(ferry: FerryProcess): Promise<{ heapUsed: number; rss: number }> {
  const before = ferry
    .log()
    .split('\n')
    .filter((l) => l.includes('"ferryCampaignGc"')).length
  ferry.child.kill('SIGUSR2')
  for (let i = 0; i < 200; i++) {
    const lines = ferry
      .log()
      .split('\n')
      .filter((l) => l.includes('"ferryCampaignGc"'))
    const last = lines[lines.length - 1]
    if (lines.length > before && last !== undefined) {
      const parsed = JSON.parse(last) as { ferryCampaignGc: { heapUsed: number; rss: number } }
      return parsed.ferryCampaignGc
    }
    await sleep(25)
  }
  throw new Error('the server did not report its heap after SIGUSR2 (preload missing?)')
}

// ---------------------------------------------------------------------------------------------
// leaks of internal details

/**
 * What must never appear in a response unless the request itself carried it: temporary and
 * installation paths, stack frames (" at fn (file:line:col)"), error class prefixes, source
 * file positions. (A bare " at " is too broad: "no upload at this path" is a fine message.)
 */
export const LEAK_MARKERS: readonly { readonly name: string; readonly re: RegExp }[] = [
  { name: '/tmp', re: /\/tmp\b/ },
  { name: 'node_modules', re: /node_modules/ },
  { name: 'stack frame', re: /\bat (?:\S+ \()?(?:file:\/\/|\/|node:)\S*:\d+(?::\d+)?|\n\s+at \S/ },
  { name: 'Error:', re: /\b[A-Za-z]*Error:/ },
  { name: '/work/', re: /\/work\// },
  { name: 'source position', re: /\.[cm]?[jt]s:\d+/ },
  { name: 'errno', re: /\bE(?:NOENT|ACCES|PERM|NOTDIR|ISDIR|MFILE|NOSPC|EXIST|IO)\b/ },
]

/** The markers found in a response (head and body) that the request did not contain. */
export function leaks(response: RawResponse, request: Buffer | string): string[] {
  const text = `${response.rawHeaders.join('\r\n')}\r\n\r\n${response.body.toString('latin1')}`
  const sent = typeof request === 'string' ? request : request.toString('latin1')
  return LEAK_MARKERS.filter((m) => m.re.test(text) && !m.re.test(sent)).map((m) => m.name)
}

// ---------------------------------------------------------------------------------------------
// command line

/** `--full`, `--seed N` and `--name value` options of a campaign's command line. */
export function parseCampaignArgs(argv: readonly string[]): {
  full: boolean
  seed: number | undefined
  values: Map<string, string>
} {
  const values = new Map<string, string>()
  let full = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (a === '--full') full = true
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      if (eq > 0) values.set(a.slice(2, eq), a.slice(eq + 1))
      else values.set(a.slice(2), argv[++i] ?? '')
    }
  }
  const seed = values.has('seed') ? Number(values.get('seed')) : undefined
  if (seed !== undefined && !Number.isSafeInteger(seed))
    throw new Error('--seed must be an integer')
  return { full, seed, values }
}

/** A fresh 31-bit seed (printed with the figures so that a run can be repeated). */
export function newSeed(): number {
  return (Date.now() ^ (process.pid << 8)) & 0x7fffffff
}

/** Runs a campaign's CLI: prints the figures line, then the failures; exit 1 on any failure. */
export async function main<F extends { readonly failures: readonly string[] }>(
  name: string,
  run: () => Promise<F>,
  line: (figures: F) => string,
): Promise<void> {
  const t0 = performance.now()
  try {
    const figures = await run()
    const seconds = ((performance.now() - t0) / 1000).toFixed(1)
    process.stdout.write(`${line(figures)} (${seconds} s)\n`)
    for (const f of figures.failures.slice(0, 50)) process.stdout.write(`  FAIL ${f}\n`)
    if (figures.failures.length > 50)
      process.stdout.write(`  ... ${figures.failures.length - 50} more failures\n`)
    process.exitCode = figures.failures.length === 0 ? 0 : 1
  } catch (e) {
    process.stderr.write(`${name}: ${(e as Error).stack ?? String(e)}\n`)
    process.exitCode = 1
  }
}

/** Files in a directory tree (relative paths). */
export function listTree(dir: string, prefix = ''): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`
    if (entry.isDirectory()) out.push(...listTree(dir, rel))
    else out.push(rel)
  }
  return out
}
