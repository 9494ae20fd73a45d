/**
 * @module A store for the synchronous test harness (test/support/harness.ts, kind 's3'): the S3
 * store on a fresh bucket of the test gateway, created on first use.
 */
import type { UploadStore } from '../../src/store/types.ts'
import type { S3StoreOptions } from '../../src/stores/s3/index.ts'

/**
 * An S3 store on a fresh bucket of the test gateway, usable at once (the bucket is created on
 * first use): for synchronous test harnesses.
 */
export function lazyS3Store(options: Partial<S3StoreOptions> = {}): UploadStore {
  // Loaded on first use: test files that never use the S3 kind do not load the AWS SDK.
  const ready = Promise.all([
    import('../../src/stores/s3/index.ts'),
    import('./s3-service.ts').then((m) => m.s3()),
  ]).then(async ([{ createS3Store }, service]) =>
    createS3Store({
      bucket: await service.createBucket(),
      clientConfig: service.clientConfig(),
      partSize: 5 * 1024 * 1024,
      ...options,
    }),
  )
  // Not awaited yet: keep an early failure (no gateway) from being an unhandled rejection; the
  // first call reports it.
  ready.catch(() => undefined)
  return {
    create: async (upload) => (await ready).create(upload),
    get: async (id) => (await ready).get(id),
    append: async (id, offset, body, opts) => (await ready).append(id, offset, body, opts),
    update: async (id, changes, opts) => (await ready).update(id, changes, opts),
    terminate: async (id) => (await ready).terminate(id),
    concatenate: async (id) => (await ready).concatenate(id),
    async *read(id, range) {
      yield* (await ready).read(id, range)
    },
    async *expire(before) {
      yield* (await ready).expire(before)
    },
  }
}
