/**
 * @module `ferry serve`: the standalone upload server, on the disk store by default, or on S3
 * with a Redis locker so that several instances serve the same uploads.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createNodeServer } from '../adapters/node.ts'
import type { Locker } from '../lock/types.ts'
import { createUploadHandler } from '../server/handler.ts'
import type { Logger, ServerOptions } from '../server/options.ts'
import type { UploadStore } from '../store/types.ts'
import { createDiskStore } from '../stores/disk/index.ts'
import { createCliLogger, isLogLevel } from './logger.ts'
import { parseDuration, parseSize } from './units.ts'

export const SERVE_HELP = `Usage: ferry serve [options]

Runs the upload server: tus 1.0.0 (all extensions) and the IETF draft "Resumable Uploads for
HTTP" (interop versions 3 to 10) on one endpoint, storing uploads on disk (or in S3, shared
by several instances through Redis). A completed upload can be downloaded with GET on its URL.

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
  --max-connections-per-ip N  open connections per client address;
                         beyond: 429 (0: no limit; not behind a proxy) [0]
  --lock-timeout DUR     how long a request waits for an upload    [20s]
  --durability MODE      fsync (acknowledged = on disk) or none    [fsync]
  --store KIND           disk or s3                                [disk]
  --s3-bucket NAME       bucket for --store s3 (required with it)
  --s3-endpoint URL      S3-compatible endpoint (path-style addressing) [AWS]
  --s3-region REGION     region                                    [AWS_REGION or us-east-1]
  --s3-prefix PREFIX     key prefix of every object                [none]
  --s3-part-size SIZE    size of every non-final part (>= 5MiB)    [8MiB]
  --s3-memory-budget SIZE part buffers held at once, per process   [4 parts]
  --s3-buffer-dir PATH   gather parts in files here instead of memory
  --redis URL            Redis for locks shared by instances (redis://host:port)
  --lock-lease DUR       how long a dead instance's lock lives     [15s]
  --health-path PATH     readiness for load balancers: GET → 200, or 503 when
                         the store or Redis does not answer or the server is
                         stopping ("none": no such path)           [/healthz]
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
  'max-connections-per-ip': { type: 'string' },
  'lock-timeout': { type: 'string' },
  durability: { type: 'string' },
  store: { type: 'string' },
  's3-bucket': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
  's3-prefix': { type: 'string' },
  's3-part-size': { type: 'string' },
  's3-memory-budget': { type: 'string' },
  's3-buffer-dir': { type: 'string' },
  redis: { type: 'string' },
  'lock-lease': { type: 'string' },
  'health-path': { type: 'string' },
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
  let backend: { store: UploadStore; locker?: Locker & { close(): Promise<void> } }
  try {
    backend = await createBackend(config, logger)
  } catch (e) {
    process.stderr.write(`ferry serve: ${(e as Error).message}\n`)
    return 2
  }
  const { store, locker } = backend
  const handler = createUploadHandler({
    ...config.server,
    store,
    ...(locker === undefined ? {} : { locker }),
    logger,
  })
  const server = createNodeServer({
    handler,
    idleTimeoutMs: config.idleTimeoutMs,
    maxHeaderBytes: config.maxHeaderBytes,
    ...(config.maxConnectionsPerIp > 0
      ? { maxConnectionsPerClient: config.maxConnectionsPerIp }
      : {}),
    ...(config.tls === undefined ? {} : { tls: config.tls }),
    ...(config.h2c ? { h2c: true } : {}),
    ...(config.healthPath === undefined ? {} : { healthPath: config.healthPath }),
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
    ...(config.s3 === undefined
      ? { dir: config.dir }
      : { store: `s3://${config.s3.bucket}/${config.s3.prefix ?? ''}` }),
    ...(config.redis === undefined ? {} : { locks: 'redis' }),
    ...(config.healthPath === undefined ? {} : { health: `${address.url}${config.healthPath}` }),
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
      server
        .close(10_000)
        .then(async () => {
          await locker?.close()
          await store.close?.()
        })
        .then(
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
  const storeKind = v.store ?? 'disk'
  if (storeKind !== 'disk' && storeKind !== 's3') throw new Error('--store must be disk or s3')
  const s3Flags = ['s3-bucket', 's3-endpoint', 's3-region', 's3-prefix', 's3-part-size']
    .concat(['s3-memory-budget', 's3-buffer-dir'])
    .filter((f) => v[f as keyof Values] !== undefined)
  if (storeKind !== 's3' && s3Flags.length > 0) {
    throw new Error(`--${s3Flags[0]} needs --store s3`)
  }
  if (storeKind === 's3' && v['s3-bucket'] === undefined) {
    throw new Error('--store s3 needs --s3-bucket')
  }
  if (storeKind === 's3' && v.dir !== undefined) throw new Error('--dir is for --store disk')
  if (storeKind === 's3' && v.durability !== undefined) {
    throw new Error('--durability is for --store disk (S3 acknowledges what it stored)')
  }
  if (v['lock-lease'] !== undefined && v.redis === undefined) {
    throw new Error('--lock-lease needs --redis')
  }
  const s3 =
    storeKind === 's3'
      ? {
          bucket: v['s3-bucket'] as string,
          ...(v['s3-endpoint'] === undefined ? {} : { endpoint: v['s3-endpoint'] }),
          ...(v['s3-region'] === undefined ? {} : { region: v['s3-region'] }),
          ...(v['s3-prefix'] === undefined ? {} : { prefix: v['s3-prefix'] }),
          ...(v['s3-part-size'] === undefined ? {} : { partSize: parseSize(v['s3-part-size']) }),
          ...(v['s3-memory-budget'] === undefined
            ? {}
            : { memoryBudgetBytes: parseSize(v['s3-memory-budget']) }),
          ...(v['s3-buffer-dir'] === undefined
            ? {}
            : { bufferDirectory: resolve(v['s3-buffer-dir']) }),
        }
      : undefined
  const redis =
    v.redis === undefined
      ? undefined
      : {
          url: v.redis,
          ...(v['lock-lease'] === undefined ? {} : { leaseMs: parseDuration(v['lock-lease']) }),
        }
  if (redis !== undefined && !/^rediss?:\/\//.test(redis.url)) {
    throw new Error('--redis must be a redis:// or rediss:// URL')
  }
  const expire = v['expire-after'] ?? '24h'
  const maxConnectionsPerIp = Number(v['max-connections-per-ip'] ?? '0')
  if (!Number.isSafeInteger(maxConnectionsPerIp) || maxConnectionsPerIp < 0) {
    throw new Error(`invalid --max-connections-per-ip "${v['max-connections-per-ip']}"`)
  }
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
    healthPath: healthPathOf(v['health-path'], server.basePath ?? '/files/'),
    dir: resolve(v.dir ?? './data'),
    durability: durability as 'fsync' | 'none',
    s3,
    redis,
    idleTimeoutMs: parseDuration(v['idle-timeout'] ?? '60s'),
    maxHeaderBytes: parseSize(v['max-header-size'] ?? '16KiB'),
    maxConnectionsPerIp,
    cleanupIntervalMs: Math.max(1000, parseDuration(v['cleanup-interval'] ?? '5m')),
    tls,
    h2c: v.h2c === true,
    logger: createCliLogger(logLevel, logFormat),
    server,
  }
}

type Config = ReturnType<typeof toConfig>

/**
 * The readiness path: absolute, outside the upload endpoint; "none" turns it off. The default,
 * /healthz, is left out when the endpoint contains it (--base-path /).
 */
function healthPathOf(chosen: string | undefined, basePath: string): string | undefined {
  const path = chosen ?? '/healthz'
  if (['none', 'off', ''].includes(path)) return undefined
  const base = basePath.endsWith('/') ? basePath : `${basePath}/`
  if (!path.startsWith('/') || /[?#\s]/.test(path)) {
    throw new Error(`--health-path must be an absolute URL path (e.g. /healthz), or none`)
  }
  if (`${path}/`.startsWith(base)) {
    if (chosen === undefined) return undefined
    throw new Error(`--health-path must be outside the upload endpoint ${basePath}`)
  }
  return path
}

/**
 * The store and locker the flags ask for. The S3 SDK and ioredis are optional dependencies,
 * loaded only here; a missing one is reported with the command that installs it.
 */
async function createBackend(
  config: Config,
  logger: Logger,
): Promise<{ store: UploadStore; locker?: Locker & { close(): Promise<void> } }> {
  let store: UploadStore
  if (config.s3 === undefined) {
    store = createDiskStore({ directory: config.dir, durability: config.durability })
  } else {
    const { createS3Store } = await import('../stores/s3/index.ts')
    const { bucket, endpoint, region, prefix, ...rest } = config.s3
    store = createS3Store({
      bucket,
      ...(prefix === undefined ? {} : { prefix }),
      clientConfig: {
        region: region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        // S3-compatible servers (Ceph RGW, MinIO, R2) are addressed path-style.
        ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
      },
      ...rest,
      ...(config.server.maxSizeBytes === undefined
        ? {}
        : { maxUploadSizeBytes: config.server.maxSizeBytes }),
      logger,
    })
    // Fail at start, not at the first upload: the SDK is installed and the bucket answers.
    await checkS3(store as import('../stores/s3/index.ts').S3Store, bucket)
  }
  if (config.redis === undefined) return { store }
  const { createRedisLocker } = await import('../lock/redis.ts')
  const locker = createRedisLocker({ ...config.redis, logger })
  try {
    await locker.ping()
  } catch (e) {
    await locker.close()
    throw new Error(`Redis at ${config.redis.url} is not usable: ${(e as Error).message}`)
  }
  return { store, locker }
}

async function checkS3(store: import('../stores/s3/index.ts').S3Store, bucket: string) {
  const client = await store.client()
  const { HeadBucketCommand } = await import('@aws-sdk/client-s3')
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }))
  } catch (e) {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string }
    const status = err.$metadata?.httpStatusCode
    throw new Error(
      `S3 bucket "${bucket}" is not usable (${status === undefined ? (err.name ?? 'error') : `HTTP ${status} ${err.name ?? ''}`.trim()}${err.message !== undefined && err.message !== 'UnknownError' ? `: ${err.message}` : ''}); check --s3-endpoint, --s3-region and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`,
    )
  }
}
