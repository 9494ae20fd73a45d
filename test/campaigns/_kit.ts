/**
 * @module Shared pieces of the crash, races, cuts and shutdown campaigns (issue 6): seeded
 * randomness and content, a raw HTTP/1.1 request whose content is written on demand (to hold a
 * request open mid-body), open file descriptors, and the command-line entry every campaign uses.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'
import net from 'node:net'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { seededRandom } from '../../src/proxy/fault-proxy.ts'
import { type RawResponse, ResponseParser } from '../support/raw-http.ts'

export const KiB = 1024
export const MiB = 1024 * KiB

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

/** A seeded generator with helpers (mulberry32 underneath: the same seed, the same draws). */
export interface Rng {
  (): number
  /** An integer in [min, max]. */
  int(min: number, max: number): number
  /** One of `items`. */
  pick<T>(items: readonly T[]): T
  /** An integer in [min, max], uniform in its logarithm (sizes from bytes to megabytes). */
  logInt(min: number, max: number): number
}

export function rng(seed: number): Rng {
  const next = seededRandom(seed)
  const r = (() => next()) as Rng
  r.int = (min, max) => min + Math.floor(next() * (max - min + 1))
  r.pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T
  r.logInt = (min, max) =>
    Math.min(max, Math.round(Math.exp(Math.log(min) + next() * (Math.log(max) - Math.log(min)))))
  return r
}

/** `n` pseudo-random bytes from a seed (AES-256-CTR over zeros: fast and reproducible). */
export function seededBytes(seed: number, n: number): Buffer {
  const key = createHash('sha256').update(`ferry-campaign-${seed}`).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return Buffer.concat([cipher.update(Buffer.alloc(n)), cipher.final()])
}

/** Open file descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

/**
 * A request whose head goes out at once and whose content is written by the caller, piece by
 * piece, so that it can be held open in the middle of its body. Every interim response and the
 * final one are collected as they arrive.
 */
export interface OpenRequest {
  /** Writes content; resolves once handed to the kernel (or the socket is gone). */
  write(data: Uint8Array): Promise<void>
  /** Content bytes written so far. */
  readonly written: number
  readonly interim: RawResponse[]
  /** Resolves with the final response, or undefined if the connection ended first. */
  readonly final: Promise<RawResponse | undefined>
  /** Resolves when an interim response matching `test` arrived (or the connection ended). */
  interimWhere(test: (r: RawResponse) => boolean): Promise<RawResponse | undefined>
  destroy(): void
}

export async function openRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<OpenRequest> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => undefined)
  const parser = new ResponseParser(method === 'HEAD')
  const interim: RawResponse[] = []
  const watchers: { test: (r: RawResponse) => boolean; resolve: (r?: RawResponse) => void }[] = []
  let resolveFinal: (r: RawResponse | undefined) => void = () => undefined
  const final = new Promise<RawResponse | undefined>((resolve) => {
    resolveFinal = resolve
  })
  socket.on('data', (data: Buffer) => {
    let messages: RawResponse[]
    try {
      messages = parser.push(data)
    } catch {
      socket.destroy()
      return
    }
    for (const msg of messages) {
      if (msg.status < 200) {
        interim.push(msg)
        for (const w of watchers.splice(0)) {
          if (w.test(msg)) w.resolve(msg)
          else watchers.push(w)
        }
      } else resolveFinal(msg)
    }
  })
  socket.once('close', () => {
    resolveFinal(parser.flushOnClose())
    for (const w of watchers.splice(0)) w.resolve(undefined)
  })
  let head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  let written = 0
  const send = (data: Uint8Array | string): Promise<void> =>
    new Promise((resolve) => {
      if (socket.destroyed) resolve()
      else socket.write(data, () => resolve())
    })
  await send(`${head}\r\n`)
  return {
    async write(data) {
      written += data.byteLength
      await send(data)
    },
    get written() {
      return written
    },
    interim,
    final,
    interimWhere(test) {
      const found = interim.find(test)
      if (found !== undefined) return Promise.resolve(found)
      if (socket.destroyed) return Promise.resolve(undefined)
      return new Promise((resolve) => watchers.push({ test, resolve }))
    },
    destroy: () => socket.destroy(),
  }
}

/** Resolves with `promise`, or rejects after `ms` with `what` in the message. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** What every campaign returns: its figures line, and every failure found (none: it passed). */
export interface CampaignResult {
  readonly line: string
  readonly failures: readonly string[]
  readonly seed: number
}

/**
 * The command-line entry of a campaign module: `node --import tsx test/campaigns/<name>.ts
 * [--full] [--seed N] [--<option> N ...]`. Prints the failures (at most 20) and the figures line,
 * exits 1 on any failure. Runs only when the module is the main script.
 */
export function cli(
  moduleUrl: string,
  name: string,
  run: (options: {
    full: boolean
    seed: number
    numbers: Record<string, number>
  }) => Promise<CampaignResult>,
): void {
  const main = process.argv[1]
  if (main === undefined || pathToFileURL(main).href !== moduleUrl) return
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { full: { type: 'boolean' }, seed: { type: 'string' } },
    strict: false,
  })
  // Campaign-specific numbers: --name N (or --name=N).
  const numbers: Record<string, number> = {}
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(args[i] ?? '')
    if (m === null || m[1] === 'full' || m[1] === 'seed') continue
    const raw = m[2] ?? args[++i]
    const n = Number(raw)
    if (raw === undefined || !Number.isFinite(n)) throw new Error(`--${m[1]} needs a number`)
    numbers[m[1] as string] = n
  }
  const seed =
    typeof values.seed === 'string' ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
  const started = Date.now()
  run({ full: values.full === true, seed, numbers }).then(
    (result) => {
      for (const f of result.failures.slice(0, 20)) process.stderr.write(`FAIL ${f}\n`)
      if (result.failures.length > 20)
        process.stderr.write(`... and ${result.failures.length - 20} more failures\n`)
      process.stdout.write(
        `${result.line} (seed ${result.seed}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
      )
      process.exit(result.failures.length === 0 ? 0 : 1)
    },
    (e: unknown) => {
      process.stderr.write(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
      process.exit(1)
    },
  )
}
