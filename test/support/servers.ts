/**
 * @module Test support: Ferry servers for end-to-end tests, in process (node:http on port 0) or
 * as a real `ferry serve` child process (for crash tests), plus temporary directories.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createNodeServer,
  type NodeServer,
  type NodeServerOptions,
} from '../../src/adapters/node.ts'
import { createUploadHandler, type UploadHandler } from '../../src/server/handler.ts'
import type { ServerOptions } from '../../src/server/options.ts'
import type { UploadStore } from '../../src/store/types.ts'
import { createDiskStore } from '../../src/stores/disk/index.ts'
import type { S3Service } from './services.ts'

const ROOT = new URL('../../', import.meta.url).pathname

/** A fresh temporary directory, removed by `cleanup()`. */
export function tempDir(prefix = 'ferry-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string
  readonly port: number
  /** The creation endpoint, e.g. http://127.0.0.1:41234/files/ */
  readonly endpoint: string
  readonly handler: UploadHandler
  readonly store: UploadStore
  readonly dir: string
  /** The node:http / node:http2 server (to watch its 'request', 'session' events). */
  readonly node: NodeServer['server']
  close(): Promise<void>
}

/**
 * Starts Ferry in this process on 127.0.0.1, port 0, with a disk store in a fresh directory
 * (unless `store` is given). Extra server and transport options pass through.
 */
export async function startServer(
  options: Partial<ServerOptions> & {
    transport?: Omit<NodeServerOptions, 'handler'>
  } = {},
): Promise<RunningServer> {
  const { transport, ...serverOptions } = options
  const dir = tempDir()
  const store = serverOptions.store ?? createDiskStore({ directory: dir.path })
  const handler = createUploadHandler({ ...serverOptions, store })
  const server = createNodeServer({ handler, ...transport })
  const address = await server.listen(0, '127.0.0.1')
  return {
    url: address.url,
    port: address.port,
    endpoint: `${address.url}${handler.options.basePath}`,
    handler,
    store,
    dir: dir.path,
    node: server.server,
    async close() {
      await server.close(2000)
      dir.cleanup()
    },
  }
}

export interface FerryProcess {
  readonly child: ChildProcess
  readonly endpoint: string
  readonly port: number
  /** Everything the process wrote to stderr so far. */
  log(): string
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>
}

/**
 * Runs `ferry serve` from the TypeScript sources as a child process (tsx), on `port` (0 picks a
 * free one; reuse the previous port to restart "the same" server), and waits until it listens.
 */
export async function spawnFerry(
  args: readonly string[],
  port = 0,
  env: Readonly<Record<string, string>> = {},
): Promise<FerryProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/run.ts'),
      'serve',
      '--port',
      String(port),
      '--log-format',
      'json',
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
  )
  let stderr = ''
  const started = new Promise<{ endpoint: string; port: number }>((resolve, reject) => {
    const onData = (data: Buffer): void => {
      stderr += data.toString()
      for (const line of stderr.split('\n')) {
        if (!line.includes('"ServerStarted"')) continue
        const event = JSON.parse(line) as { endpoint: string }
        child.stderr?.off('data', onData)
        child.stderr?.on('data', (more: Buffer) => {
          stderr += more.toString()
        })
        resolve({ endpoint: event.endpoint, port: Number(new URL(event.endpoint).port) })
        return
      }
    }
    child.stderr?.on('data', onData)
    child.once('exit', (code) =>
      reject(new Error(`ferry serve exited with ${code} before listening:\n${stderr}`)),
    )
  })
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const { endpoint, port: bound } = await started.finally(() => clearTimeout(timeout))
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })
  return {
    child,
    endpoint,
    port: bound,
    log: () => stderr,
    async stop() {
      child.kill('SIGTERM')
      return exited
    },
    async kill() {
      child.kill('SIGKILL')
      await exited
    },
  }
}

/** A self-signed certificate for 127.0.0.1 / localhost, made with openssl. */
export function selfSignedCertificate(): { cert: Buffer; key: Buffer; cleanup: () => void } {
  const dir = tempDir('ferry-cert-')
  const keyPath = join(dir.path, 'key.pem')
  const certPath = join(dir.path, 'cert.pem')
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  )
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`)
  return { cert: readFileSync(certPath), key: readFileSync(keyPath), cleanup: dir.cleanup }
}

/**
 * `ferry serve` on S3 and Redis as the multi-instance tests run it: the smallest part S3 allows
 * (so a few MiB cross several parts and instances), a short lease (a killed instance blocks its
 * uploads until it runs out), behind the tests' balancer, nothing expires.
 */
export function s3ServeArgs(
  s3: S3Service,
  bucket: string,
  redisUrl: string,
  prefix = 'uploads/',
): string[] {
  return [
    ...['--store', 's3', '--s3-bucket', bucket, '--s3-endpoint', s3.endpoint],
    ...['--s3-region', s3.region, '--s3-prefix', prefix, '--s3-part-size', '5MiB'],
    ...['--redis', redisUrl, '--lock-lease', '3s', '--lock-timeout', '15s'],
    ...['--behind-proxy', '--expire-after', 'never'],
  ]
}

/** The AWS environment of `ferry serve` for the test gateway. */
export function s3ServeEnv(s3: S3Service): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
  }
}
