/**
 * @module The real services of the S3 and Redis tests: a Ceph RADOS Gateway and a redis-server.
 * scripts/test.mjs starts one of each for the whole run and passes them in the environment
 * (FERRY_TEST_S3_*, FERRY_TEST_REDIS_URL); a test file run alone starts its own through
 * scripts/services.mjs, stopped when the process exits. When the Debian packages are missing this
 * throws with what to install (.ci/run installs them): the heavy suites fail, never skip.
 */
import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { startRedis, startRgw } from '../../scripts/services.mjs'

export interface S3Service {
  readonly endpoint: string
  readonly region: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  /** S3ClientConfig for @aws-sdk/client-s3 (path-style, checksums only when required). */
  clientConfig(): S3ClientConfig
  /** Creates a fresh, empty bucket with a random name and returns its name. */
  createBucket(): Promise<string>
}

export interface RedisService {
  readonly url: string
  readonly port: number
  /** Only for private instances: stop (SIGTERM, wait) / start again on the same port (empty). */
  stop(): Promise<void>
  start(): Promise<void>
  /** Stop for good (private) / no-op (shared). */
  close(): Promise<void>
}

let s3: Promise<S3Service> | undefined
let sharedRedis: Promise<RedisService> | undefined

/** The shared gateway of this test run, or one started for this process when the env is unset. */
export function s3Service(): Promise<S3Service> {
  s3 ??= connectS3()
  return s3
}

async function connectS3(): Promise<S3Service> {
  const env = process.env
  const endpoint = env.FERRY_TEST_S3_ENDPOINT
  const coords =
    endpoint !== undefined && endpoint !== ''
      ? {
          endpoint,
          region: env.FERRY_TEST_S3_REGION || 'us-east-1',
          accessKeyId: required('FERRY_TEST_S3_ACCESS_KEY_ID'),
          secretAccessKey: required('FERRY_TEST_S3_SECRET_ACCESS_KEY'),
        }
      : await startRgw()
  const clientConfig = (): S3ClientConfig => ({
    endpoint: coords.endpoint,
    region: coords.region,
    credentials: { accessKeyId: coords.accessKeyId, secretAccessKey: coords.secretAccessKey },
    // RGW serves buckets by path only (no wildcard DNS on 127.0.0.1).
    forcePathStyle: true,
    // The SDK's default (aws-chunked bodies with a trailing CRC32) gets 411 from RGW 16 for
    // streamed bodies: see scripts/services.mjs.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  let client: S3Client | undefined
  return {
    endpoint: coords.endpoint,
    region: coords.region,
    accessKeyId: coords.accessKeyId,
    secretAccessKey: coords.secretAccessKey,
    clientConfig,
    async createBucket() {
      client ??= new S3Client(clientConfig())
      // Bucket names: 3-63 lowercase letters, digits, hyphens (AWS docs: "Bucket naming rules").
      const name = `ferry-test-${randomBytes(8).toString('hex')}`
      await client.send(new CreateBucketCommand({ Bucket: name }))
      return name
    },
  }
}

function required(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set, but FERRY_TEST_S3_ENDPOINT is: set all FERRY_TEST_S3_*`)
  }
  return value
}

/**
 * The shared redis-server of this run (env FERRY_TEST_REDIS_URL, or one started for this process),
 * or a private one with `{ private: true }`: its own redis-server on a free port, which the test
 * may stop and start again.
 */
export function redisService(options: { private?: boolean } = {}): Promise<RedisService> {
  if (options.private === true) return privateRedis()
  sharedRedis ??= sharedRedisService()
  return sharedRedis
}

async function sharedRedisService(): Promise<RedisService> {
  const fromEnv = process.env.FERRY_TEST_REDIS_URL
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (await startRedis()).url
  const port = Number(new URL(url).port)
  const refuse = (what: string) => () =>
    Promise.reject(
      new Error(`the shared redis-server cannot ${what}: use redisService({ private: true })`),
    )
  return {
    url,
    port,
    stop: refuse('be stopped'),
    start: refuse('be started'),
    close: () => Promise.resolve(),
  }
}

async function privateRedis(): Promise<RedisService> {
  const redis = await startRedis()
  return {
    url: redis.url,
    port: redis.port,
    stop: () => redis.stop(),
    start: () => redis.start(),
    close: () => redis.close(),
  }
}
