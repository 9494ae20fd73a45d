/**
 * @module `ferry proxy`: the TCP fault proxy (src/proxy/fault-proxy.ts) as a command, to try any
 * upload client against a bad network: cut connections after N bytes or at a random byte,
 * throttle, add latency.
 */
import { parseArgs } from 'node:util'
import { type FaultProxyOptions, startFaultProxy } from '../proxy/fault-proxy.ts'
import { parseDuration, parseSize } from './units.ts'

export const PROXY_HELP = `Usage: ferry proxy --listen [HOST:]PORT --target URL [options]

Forwards TCP connections to the target and misbehaves like a bad network: cuts connections
after N upstream (client → server) bytes or at a random byte, throttles, adds latency. A cut
delivers exactly the bytes before it to the server, then a FIN; the client gets a reset. TLS
passes through untouched (bytes are counted on the wire). Prints one line when listening and
one per cut to stderr; stops on SIGINT/SIGTERM.

Options:
  --listen [HOST:]PORT   where to listen (host defaults to 127.0.0.1)
  --target URL           the server: http://HOST:PORT, https://HOST:PORT or HOST:PORT
  --rate SIZE            throttle upstream to SIZE bytes/s per connection (e.g. 1MB)
  --down-rate SIZE       throttle downstream to SIZE bytes/s per connection
  --latency DUR          delay every chunk, both directions (e.g. 50ms)
  --cut-after N          cut a connection once N upstream bytes went through (N: a size)
  --cut-random MIN-MAX   cut at a random upstream byte in [MIN, MAX] (sizes)
  --cuts N               how many connections to cut, or "all"                  [1]
  --seed S               seed of --cut-random (the same seed gives the same cuts) [random]
  -h, --help             print this help

Example:
  ferry proxy --listen 1090 --target http://127.0.0.1:1080 --cut-random 100KB-2MB --cuts 3
`

const OPTIONS = {
  listen: { type: 'string' },
  target: { type: 'string' },
  rate: { type: 'string' },
  'down-rate': { type: 'string' },
  latency: { type: 'string' },
  'cut-after': { type: 'string' },
  'cut-random': { type: 'string' },
  cuts: { type: 'string' },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** "1090", "0.0.0.0:1090", "[::1]:1090" → host and port. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:]*):)?([0-9]+)$/.exec(text.trim())
  const port = Number(m?.[3])
  if (m === null || !Number.isInteger(port) || port > 65535)
    throw new Error(`invalid --listen "${text}" (examples: 1090, 0.0.0.0:1090, [::1]:1090)`)
  return { host: m[1] ?? (m[2] === undefined || m[2] === '' ? '127.0.0.1' : m[2]), port }
}

/** "http://host:port/files/", "https://host", "host:port" → host and port. */
export function parseTarget(text: string): { host: string; port: number } {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`)
  } catch {
    throw new Error(`invalid --target "${text}" (examples: http://127.0.0.1:1080, host:1080)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error('--target must be http://, https:// or HOST:PORT')
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port }
}

function parseRange(text: string): { min: number; max: number } {
  const m = /^\s*([^-\s]+)\s*-\s*([^-\s]+)\s*$/.exec(text)
  if (m === null) throw new Error(`invalid --cut-random "${text}" (example: 100KB-2MB)`)
  const min = parseSize(m[1] ?? '')
  const max = parseSize(m[2] ?? '')
  if (max < min) throw new Error(`--cut-random "${text}": MIN is larger than MAX`)
  return { min, max }
}

function toOptions(v: { [K in keyof typeof OPTIONS]?: string | boolean }): {
  listen: { host: string; port: number }
  proxy: FaultProxyOptions
} {
  const text = (name: keyof typeof OPTIONS): string | undefined => {
    const value = v[name]
    return typeof value === 'string' ? value : undefined
  }
  const listen = text('listen')
  const target = text('target')
  if (listen === undefined) throw new Error('--listen is required')
  if (target === undefined) throw new Error('--target is required')
  const cutAfter = text('cut-after')
  const cutRandom = text('cut-random')
  if (cutAfter !== undefined && cutRandom !== undefined)
    throw new Error('--cut-after and --cut-random exclude each other')
  const cuts = text('cuts')
  let cutCount: number | undefined
  if (cuts !== undefined) {
    cutCount = cuts === 'all' ? Number.POSITIVE_INFINITY : Number(cuts)
    if (!(cutCount >= 0) || (cuts !== 'all' && !Number.isInteger(cutCount)))
      throw new Error(`invalid --cuts "${cuts}" (a number, or "all")`)
  }
  const seed = text('seed')
  if (seed !== undefined && !/^[0-9]+$/.test(seed))
    throw new Error(`invalid --seed "${seed}" (a non-negative integer)`)
  if (seed !== undefined && cutRandom === undefined)
    throw new Error('--seed goes with --cut-random')
  const rate = text('rate')
  const downRate = text('down-rate')
  const latency = text('latency')
  const positive = (value: number, name: string): number => {
    if (value <= 0) throw new Error(`${name} must be more than 0`)
    return value
  }
  const address = parseListen(listen)
  return {
    listen: address,
    proxy: {
      target: parseTarget(target),
      host: address.host,
      port: address.port,
      ...(rate === undefined ? {} : { bytesPerSecond: positive(parseSize(rate), '--rate') }),
      ...(downRate === undefined
        ? {}
        : { downstreamBytesPerSecond: positive(parseSize(downRate), '--down-rate') }),
      ...(latency === undefined ? {} : { latencyMs: parseDuration(latency) }),
      ...(cutAfter === undefined ? {} : { cutAfterBytes: parseSize(cutAfter) }),
      ...(cutRandom === undefined ? {} : { cutRandom: parseRange(cutRandom) }),
      ...(cutCount === undefined ? {} : { cuts: cutCount }),
      ...(seed === undefined ? {} : { seed: Number(seed) % 2 ** 32 }),
    },
  }
}

function describe(o: FaultProxyOptions, seed: number | undefined): string {
  const parts: string[] = []
  if (o.bytesPerSecond !== undefined) parts.push(`upstream ${o.bytesPerSecond} B/s`)
  if (o.downstreamBytesPerSecond !== undefined)
    parts.push(`downstream ${o.downstreamBytesPerSecond} B/s`)
  if (o.latencyMs !== undefined && o.latencyMs > 0) parts.push(`latency ${o.latencyMs} ms`)
  const cuts = o.cuts ?? 1
  const many = cuts === Number.POSITIVE_INFINITY ? 'every connection' : `${cuts} connection(s)`
  if (typeof o.cutAfterBytes === 'number') parts.push(`cut ${many} after ${o.cutAfterBytes} bytes`)
  if (o.cutRandom !== undefined)
    parts.push(
      `cut ${many} at a random byte in ${o.cutRandom.min}-${o.cutRandom.max}, seed ${seed}`,
    )
  return parts.length === 0 ? 'no faults' : parts.join(', ')
}

/** Parses the arguments of `ferry proxy`; throws with a message for the user. */
export function parseProxyArgs(argv: readonly string[]): 'help' | ReturnType<typeof toOptions> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true })
  return values.help === true ? 'help' : toOptions(values)
}

export async function proxyCommand(argv: readonly string[]): Promise<number> {
  let config: ReturnType<typeof toOptions>
  try {
    const parsed = parseProxyArgs(argv)
    if (parsed === 'help') {
      process.stdout.write(PROXY_HELP)
      return 0
    }
    config = parsed
  } catch (e) {
    process.stderr.write(`ferry proxy: ${(e as Error).message}\n\n${PROXY_HELP}`)
    return 2
  }
  const { proxy: options } = config
  const target = options.target
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>
  try {
    proxy = await startFaultProxy({
      ...options,
      onCut: (cut) => {
        process.stderr.write(
          `ferry proxy: cut connection ${cut.connection} after ${cut.bytes} upstream bytes (cut ${cut.cut})\n`,
        )
      },
    })
  } catch (e) {
    process.stderr.write(
      `ferry proxy: cannot listen on ${config.listen.host}:${config.listen.port}: ${(e as Error).message}\n`,
    )
    return 1
  }
  const where = proxy.host.includes(':')
    ? `[${proxy.host}]:${proxy.port}`
    : `${proxy.host}:${proxy.port}`
  const to = target.host.includes(':')
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`
  process.stderr.write(
    `ferry proxy: listening on ${where}, forwarding to ${to} (${describe(options, proxy.seed)})\n`,
  )
  return new Promise<number>((resolveExit) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) process.exit(130)
      stopping = true
      const s = proxy.stats
      void proxy.close().then(() => {
        process.stderr.write(
          `ferry proxy: ${signal}, stopped after ${s.connections} connection(s), ${s.cuts} cut(s), ${s.bytesUp} bytes up, ${s.bytesDown} bytes down\n`,
        )
        resolveExit(0)
      })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}
