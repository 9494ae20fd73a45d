/**
 * @module Server options: one object, validated and resolved once into a frozen copy with the
 * defaults applied. The caller's object is never mutated.
 */

import { createMemoryLocker } from '../lock/memory.ts'
import type { Locker } from '../lock/types.ts'
import { normalizeBasePath } from '../protocol/classify.ts'
import type { TusExtension } from '../protocol/constants.ts'
import { UploadError } from '../protocol/errors.ts'
import type { Capabilities } from '../protocol/rules.ts'
import type {
  Dialect,
  HeaderMap,
  Intent,
  Limits,
  StoredResponse,
  UploadInfo,
} from '../protocol/types.ts'
import type { NewUpload, UploadStore } from '../store/types.ts'

/** Structured logging: `event` is a fixed PascalCase name, `attrs` plain data. */
export interface Logger {
  debug(event: string, attrs?: Record<string, unknown>): void
  info(event: string, attrs?: Record<string, unknown>): void
  warn(event: string, attrs?: Record<string, unknown>): void
  error(event: string, attrs?: Record<string, unknown>): void
}

const noop = (): void => {}
/** The default logger: says nothing. The library never writes to the console. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

/** What hooks learn about a request. */
export interface RequestContext {
  readonly method: string
  readonly intent: Intent['kind']
  readonly dialect: Dialect['kind']
  /** The upload the request addresses (absent for creation). */
  readonly uploadId?: string
  readonly headers: HeaderMap
  readonly remoteAddress?: string
}

export interface Hooks {
  /**
   * Called for every request except OPTIONS, before anything happens. Throw an `UploadError`
   * (e.g. ERR_UNAUTHORIZED, ERR_FORBIDDEN, or any code with a custom status) to reject.
   */
  authorize?(ctx: RequestContext): void | Promise<void>
  /** Called before an upload is created; throw an `UploadError` to refuse it. */
  onUploadCreate?(ctx: RequestContext & { readonly upload: NewUpload }): void | Promise<void>
  /**
   * Called once an upload is complete, before the final response. For the draft and plain
   * uploads the returned response is the targeted resource's response (draft-13 §4.2.2); for
   * tus only its headers are used. Throwing an `UploadError` rejects the upload. Re-check
   * authorization and quotas here (draft-13 §13: time-of-check to time-of-use).
   */
  onUploadFinish?(
    ctx: RequestContext & { readonly upload: UploadInfo; readonly url: string },
  ): void | StoredResponse | Promise<void | StoredResponse>
}

/** Cross-origin access for browser clients. */
export interface CorsOptions {
  /** Allowed origins, or '*' for any. */
  readonly origins: readonly string[] | '*'
  /** Allow credentials (cookies, Authorization) — never together with '*'. @default false */
  readonly credentials?: boolean
  /** Access-Control-Max-Age of preflight answers, seconds. @default 600 */
  readonly maxAgeSeconds?: number
}

export interface ServerOptions {
  /** Where uploads live. */
  readonly store: UploadStore
  /** Locks per upload. @default createMemoryLocker() */
  readonly locker?: Locker
  /** URL path of the creation endpoint; uploads live below it. @default '/files/' */
  readonly basePath?: string
  /** Largest representation in bytes (tus Tus-Max-Size, draft max-size). @default unlimited */
  readonly maxSizeBytes?: number
  /** Smallest representation offered resumability (draft min-size). @default 0 */
  readonly minSizeBytes?: number
  /** Largest content of one draft creation or append request (max-append-size). */
  readonly maxAppendSizeBytes?: number
  /** Smallest content of one draft append (min-append-size); at most 16 MiB. */
  readonly minAppendSizeBytes?: number
  /**
   * An incomplete upload expires this long after its last change (tus expiration, draft
   * max-age). `null` keeps incomplete uploads forever. @default 24 hours
   */
  readonly expireAfterMs?: number | null
  /** How long a request waits for the lock of an upload. @default 20000 */
  readonly lockTimeoutMs?: number
  /** Interval of draft progress 104s (interop 5+) and of their fsyncs; 0 disables. @default 1000 */
  readonly progressIntervalMs?: number
  /** Largest Upload-Metadata value in bytes. @default 8192 */
  readonly maxMetadataBytes?: number
  /** Send relative Location values instead of absolute ones. @default false */
  readonly relativeLocation?: boolean
  /** Trust Forwarded / X-Forwarded-Proto, -Host, -Port, -Prefix for URLs. @default false */
  readonly trustProxy?: boolean
  readonly cors?: CorsOptions
  readonly hooks?: Hooks
  readonly logger?: Logger
  /** Clock in ms since the epoch (tests). @default Date.now */
  readonly now?: () => number
}

export interface ResolvedOptions {
  readonly store: UploadStore
  readonly locker: Locker
  readonly basePath: string
  readonly limits: Limits
  readonly lockTimeoutMs: number
  readonly progressIntervalMs: number
  readonly maxMetadataBytes: number
  readonly relativeLocation: boolean
  readonly trustProxy: boolean
  readonly cors: CorsOptions | undefined
  readonly hooks: Hooks
  readonly logger: Logger
  readonly now: () => number
  readonly capabilities: Capabilities
  /** tus extensions, derived from the store's capabilities. */
  readonly tusExtensions: readonly TusExtension[]
}

const DAY_MS = 24 * 60 * 60 * 1000

function nonNegative(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UploadError(
      'ERR_INVALID_CONFIG',
      `${name} must be a non-negative integer, got ${value}`,
    )
  }
  return value
}

/** Validates options and applies defaults. Throws `UploadError` ERR_INVALID_CONFIG. */
export function resolveOptions(options: ServerOptions): ResolvedOptions {
  const { store } = options
  if (store === undefined || typeof store.append !== 'function') {
    throw new UploadError('ERR_INVALID_CONFIG', 'options.store must be an UploadStore')
  }
  const expireAfterMs =
    options.expireAfterMs === null
      ? undefined
      : nonNegative('expireAfterMs', options.expireAfterMs ?? DAY_MS)
  const minAppend = nonNegative('minAppendSizeBytes', options.minAppendSizeBytes)
  if (minAppend !== undefined && minAppend > 16 * 1024 * 1024) {
    throw new UploadError(
      'ERR_INVALID_CONFIG',
      'minAppendSizeBytes is held in memory: at most 16 MiB',
    )
  }
  const limits: Limits = Object.freeze({
    ...opt('maxSize', nonNegative('maxSizeBytes', options.maxSizeBytes)),
    ...opt('minSize', nonNegative('minSizeBytes', options.minSizeBytes)),
    ...opt('maxAppendSize', nonNegative('maxAppendSizeBytes', options.maxAppendSizeBytes)),
    ...opt('minAppendSize', minAppend),
    ...opt('expireAfterMs', expireAfterMs),
  })
  if (options.cors?.origins === '*' && options.cors.credentials === true) {
    throw new UploadError(
      'ERR_INVALID_CONFIG',
      "CORS credentials cannot be combined with origins '*'",
    )
  }
  const capabilities: Capabilities = Object.freeze({
    terminate: typeof store.terminate === 'function',
    concatenate: typeof store.concatenate === 'function',
    read: typeof store.read === 'function',
    expire: typeof store.expire === 'function',
  })
  const tusExtensions: TusExtension[] = [
    'creation',
    'creation-with-upload',
    'creation-defer-length',
  ]
  // tus 1.0.0 §Expiration: list `expiration` only if incomplete uploads are really removed.
  if (capabilities.expire && expireAfterMs !== undefined) tusExtensions.push('expiration')
  tusExtensions.push('checksum', 'checksum-trailer')
  if (capabilities.terminate) tusExtensions.push('termination')
  if (capabilities.concatenate) tusExtensions.push('concatenation', 'concatenation-unfinished')
  return Object.freeze({
    store,
    locker: options.locker ?? createMemoryLocker(),
    basePath: normalizeBasePath(options.basePath ?? '/files/'),
    limits,
    lockTimeoutMs: nonNegative('lockTimeoutMs', options.lockTimeoutMs) ?? 20_000,
    progressIntervalMs: nonNegative('progressIntervalMs', options.progressIntervalMs) ?? 1000,
    maxMetadataBytes: nonNegative('maxMetadataBytes', options.maxMetadataBytes) ?? 8192,
    relativeLocation: options.relativeLocation ?? false,
    trustProxy: options.trustProxy ?? false,
    cors: options.cors,
    hooks: options.hooks ?? {},
    logger: options.logger ?? silentLogger,
    now: options.now ?? Date.now,
    capabilities,
    tusExtensions: Object.freeze(tusExtensions),
  })
}

function opt<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number }
}
