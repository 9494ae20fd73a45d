/**
 * @module `ferry/server`: the runtime-neutral upload handler, its options and hooks, the store
 * and locker contracts, and the in-memory store and locker.
 *
 * @example
 * import { createUploadHandler } from 'ferry/server'
 * import { createDiskStore } from 'ferry/stores/disk'
 * import { createNodeServer } from 'ferry/node'
 *
 * const handler = createUploadHandler({ store: createDiskStore({ directory: './data' }) })
 * await createNodeServer({ handler }).listen(1080)
 */
export { createMemoryLocker } from '../lock/memory.ts'
export type { AcquireOptions, Lock, Locker } from '../lock/types.ts'
export { ERROR_CODES, type ErrorCode, isUploadError, UploadError } from '../protocol/errors.ts'
export { createMemoryStore, newUploadId } from '../store/memory.ts'
export type { AppendOptions, NewUpload, UploadChanges, UploadStore } from '../store/types.ts'
export {
  type CheckResult,
  createUploadHandler,
  type HandlerRequest,
  type HandlerResponse,
  READINESS_TIMEOUT_MS,
  type Readiness,
  type UploadHandler,
} from './handler.ts'
export {
  type CorsOptions,
  type Hooks,
  type Logger,
  type RequestContext,
  type ResolvedOptions,
  resolveOptions,
  type ServerOptions,
  silentLogger,
} from './options.ts'
