// Types of scripts/services.mjs (plain JavaScript, so that scripts/test.mjs runs without tsx) for
// the TypeScript that imports it: test/support/services.ts and bench/.

export declare const RGW_PACKAGES: readonly string[]
export declare const REDIS_PACKAGES: readonly string[]
export declare const S3_ACCESS_KEY_ID: string
export declare const S3_SECRET_ACCESS_KEY: string
export declare const S3_REGION: string

export interface RgwOptions {
  /** Parent directory of the cluster's own directory (default: the OS temp dir). */
  dir?: string
  /** The S3 port (default: a free one). */
  port?: number
  /** The OSD's RAM cap, memstore_device_bytes (default 4 GiB, or FERRY_TEST_RGW_MEMORY_BYTES). */
  memoryBytes?: number
  /** Keep running after this process exits (the CLI's `start`). */
  detached?: boolean
}

export interface Rgw {
  readonly endpoint: string
  readonly region: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  /** The cluster's directory (config, logs, mon store), removed by stop(). */
  readonly dir: string
  readonly pids: Readonly<Record<string, number | undefined>>
  /** radosgw, then the OSD, then the mon: SIGTERM, wait, SIGKILL after a grace period. */
  stop(): Promise<void>
}

export interface RedisOptions {
  dir?: string
  port?: number
  detached?: boolean
}

export interface Redis {
  readonly url: string
  readonly port: number
  readonly dir: string
  readonly pid: number | undefined
  /** SIGTERM and wait; start() brings it back on the same port, empty. */
  stop(): Promise<void>
  start(): Promise<void>
  /** Stops for good and removes its directory. */
  close(): Promise<void>
}

export declare function startRgw(options?: RgwOptions): Promise<Rgw>
export declare function startRedis(options?: RedisOptions): Promise<Redis>
export declare function freePorts(n: number): Promise<number[]>
export declare function s3Request(request: {
  endpoint: string
  method: string
  path: string
  body?: Buffer
  accessKeyId: string
  secretAccessKey: string
  region?: string
}): Promise<{ status: number; body: string }>
