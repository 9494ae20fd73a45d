/**
 * @module `ferry serve`: the standalone upload server on the disk store.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createNodeServer } from '../adapters/node.ts'
import { createUploadHandler } from '../server/handler.ts'
import type { ServerOptions } from '../server/options.ts'
import { createDiskStore } from '../stores/disk/index.ts'
import { createCliLogger, isLogLevel } from './logger.ts'
import { parseDuration, parseSize } from './units.ts'

export const SERVE_HELP = `Usage: ferry serve [options]

Runs the upload server: tus 1.0.0 (all extensions) and the IETF draft "Resumable Uploads for
HTTP" (interop versions 3 to 10) on one endpoint, storing uploads on disk. A completed upload
can be downloaded with GET on its URL.

Options (each also as an environment variable, e.g. --max-size → FERRY_MAX_SIZE):
  --port N               port to listen on                         [1080]
  --host ADDR            address to bind                           [127.0.0.1]
  --dir PATH             directory for uploads                     [./data]
  --base-path PATH       URL path of the upload endpoint           [/files/]
  --max-size SIZE        largest upload (e.g. 10GB)                [unlimited]
  --min-size SIZE        smallest upload offered resumability      [0]
  --max-append-size SIZE largest content of one draft request      [unlimited]
  --min-append-size SIZE smallest content of one draft append      [0]
  --expire-after DUR     remove incomplete uploads idle this long  [24h]; "never" keeps them
  --cleanup-interval DUR how often to look for expired uploads     [5m]
  --tls-cert FILE        PEM certificate: serve HTTPS + HTTP/2
  --tls-key FILE         PEM private key for --tls-cert
  --h2c                  serve HTTP/2 without TLS (prior knowledge) instead of HTTP/1.1
  --behind-proxy         trust Forwarded / X-Forwarded-* for upload URLs
  --relative-location    send relative Location values
  --cors-origins LIST    allow browser uploads from these origins (comma list, or *)
  --idle-timeout DUR     close connections idle this long          [60s]
  --max-header-size SIZE largest request header section            [16KiB]
  --max-metadata-size SIZE largest Upload-Metadata value           [8KiB]
  --lock-timeout DUR     how long a request waits for an upload    [20s]
  --durability MODE      fsync (acknowledged = on disk) or none    [fsync]
  --log-level LEVEL      debug, info, warn, error                  [info]
  --log-format FORMAT    text or json                              [text]
  -h, --help             print this help
`

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  dir: { type: 'string' },
  'base-path': { type: 'string' },
  'max-size': { type: 'string' },
  'min-size': { type: 'string' },
  'max-append-size': { type: 'string' },
  'min-append-size': { type: 'string' },
  'expire-after': { type: 'string' },
  'cleanup-interval': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  h2c: { type: 'boolean' },
  'behind-proxy': { type: 'boolean' },
  'relative-location': { type: 'boolean' },
  'cors-origins': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'max-header-size': { type: 'string' },
  'max-metadata-size': { type: 'string' },
  'lock-timeout': { type: 'string' },
  durability: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

type Values = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string
}

/** Options from the environment (FERRY_MAX_SIZE for --max-size), overridden by the flags. */
function withEnvironment(values: Values, env: NodeJS.ProcessEnv): Values {
  const out: Record<string, string | boolean | undefined> = { ...values }
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if (out[name] !== undefined || name === 'help') continue
    const raw = env[`FERRY_${name.toUpperCase().replaceAll('-', '_')}`]
    if (raw === undefined) continue
    out[name] = spec.type === 'boolean' ? ['1', 'true', 'yes'].includes(raw.toLowerCase()) : raw
  }
  return out as Values
}

export async function serveCommand(argv: readonly string[]): Promise<number> {
  let values: Values
  try {
    values = withEnvironment(
      parseArgs({ args: [...argv], options: OPTIONS, strict: true }).values,
      process.env,
    )
  } catch (e) {
    process.stderr.write(`ferry serve: ${(e as Error).message}\n\n${SERVE_HELP}`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(SERVE_HELP)
    return 0
  }
  let config: ReturnType<typeof toConfig>
  try {
    config = toConfig(values)
  } catch (e) {
    process.stderr.write(`ferry serve: ${(e as Error).message}\n`)
    return 2
  }
  const { logger } = config
  const store = createDiskStore({ directory: config.dir, durability: config.durability })
  const handler = createUploadHandler({ ...config.server, store, logger })
  const server = createNodeServer({
    handler,
    idleTimeoutMs: config.idleTimeoutMs,
    maxHeaderBytes: config.maxHeaderBytes,
    ...(config.tls === undefined ? {} : { tls: config.tls }),
    ...(config.h2c ? { h2c: true } : {}),
  })
  let address: { url: string }
  try {
    address = await server.listen(config.port, config.host)
  } catch (e) {
    logger.error('ListenFailed', {
      port: config.port,
      host: config.host,
      error: (e as Error).message,
    })
    return 1
  }
  const endpoint = `${address.url}${handler.options.basePath}`
  logger.info('ServerStarted', {
    endpoint,
    dir: config.dir,
    protocols: 'tus 1.0.0, ietf interop 3-10',
    transport: config.tls !== undefined ? 'https (h2, http/1.1)' : config.h2c ? 'h2c' : 'http/1.1',
    extensions: handler.options.tusExtensions.join(','),
  })
  const cleanup = async (): Promise<void> => {
    try {
      const removed = await handler.cleanupExpired()
      if (removed > 0) logger.info('ExpiredUploadsRemoved', { count: removed })
    } catch (e) {
      logger.warn('CleanupFailed', { error: (e as Error).message })
    }
  }
  void cleanup()
  const timer = setInterval(() => void cleanup(), config.cleanupIntervalMs)
  timer.unref()

  return new Promise<number>((resolveExit) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) {
        logger.warn('ForcedExit', { signal })
        process.exit(130)
      }
      stopping = true
      logger.info('ShutdownStarted', { signal })
      clearInterval(timer)
      server.close(10_000).then(
        () => {
          logger.info('ShutdownComplete')
          resolveExit(0)
        },
        (e: unknown) => {
          logger.error('ShutdownFailed', { error: (e as Error).message })
          resolveExit(1)
        },
      )
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}

function toConfig(v: Values) {
  const logLevel = v['log-level'] ?? 'info'
  if (!isLogLevel(logLevel)) throw new Error(`--log-level must be debug, info, warn or error`)
  const logFormat = v['log-format'] ?? 'text'
  if (logFormat !== 'text' && logFormat !== 'json')
    throw new Error('--log-format must be text or json')
  const durability = v.durability ?? 'fsync'
  if (durability !== 'fsync' && durability !== 'none')
    throw new Error('--durability must be fsync or none')
  const port = Number(v.port ?? '1080')
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid --port "${v.port}"`)
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) {
    throw new Error('--tls-cert and --tls-key go together')
  }
  const tls =
    v['tls-cert'] === undefined || v['tls-key'] === undefined
      ? undefined
      : { cert: readFileSync(v['tls-cert']), key: readFileSync(v['tls-key']) }
  if (tls !== undefined && v.h2c === true)
    throw new Error('--h2c is for plain-text HTTP/2; drop it with TLS')
  const expire = v['expire-after'] ?? '24h'
  const corsOrigins = v['cors-origins']
  const server: Omit<ServerOptions, 'store'> = {
    basePath: v['base-path'] ?? '/files/',
    expireAfterMs: ['never', 'off', '0'].includes(expire) ? null : parseDuration(expire),
    lockTimeoutMs: parseDuration(v['lock-timeout'] ?? '20s'),
    trustProxy: v['behind-proxy'] === true,
    relativeLocation: v['relative-location'] === true,
    maxMetadataBytes: parseSize(v['max-metadata-size'] ?? '8KiB'),
    ...(v['max-size'] === undefined ? {} : { maxSizeBytes: parseSize(v['max-size']) }),
    ...(v['min-size'] === undefined ? {} : { minSizeBytes: parseSize(v['min-size']) }),
    ...(v['max-append-size'] === undefined
      ? {}
      : { maxAppendSizeBytes: parseSize(v['max-append-size']) }),
    ...(v['min-append-size'] === undefined
      ? {}
      : { minAppendSizeBytes: parseSize(v['min-append-size']) }),
    ...(corsOrigins === undefined
      ? {}
      : {
          cors: {
            origins:
              corsOrigins.trim() === '*'
                ? '*'
                : corsOrigins
                    .split(',')
                    .map((o) => o.trim())
                    .filter(Boolean),
          },
        }),
  }
  return {
    port,
    host: v.host ?? '127.0.0.1',
    dir: resolve(v.dir ?? './data'),
    durability: durability as 'fsync' | 'none',
    idleTimeoutMs: parseDuration(v['idle-timeout'] ?? '60s'),
    maxHeaderBytes: parseSize(v['max-header-size'] ?? '16KiB'),
    cleanupIntervalMs: Math.max(1000, parseDuration(v['cleanup-interval'] ?? '5m')),
    tls,
    h2c: v.h2c === true,
    logger: createCliLogger(logLevel, logFormat),
    server,
  }
}
