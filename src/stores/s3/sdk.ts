/**
 * @module Loading @aws-sdk/client-s3 (an optional peer dependency) on first use, and turning SDK
 * failures into Ferry's errors.
 */
import { UploadError } from '../../protocol/errors.ts'

export type S3Sdk = typeof import('@aws-sdk/client-s3')

/**
 * Imports the SDK; a missing package is a configuration error that says what to install.
 * `specifier` exists for the test of that message.
 */
export async function loadSdk(specifier = '@aws-sdk/client-s3'): Promise<S3Sdk> {
  try {
    return (await import(specifier)) as S3Sdk
  } catch (e) {
    const code = (e as { code?: unknown }).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new UploadError(
        'ERR_INVALID_CONFIG',
        `the S3 store needs the AWS SDK: npm install @aws-sdk/client-s3 (${specifier} could not be loaded)`,
        { cause: e },
      )
    }
    throw e
  }
}

/** The S3 error name (NoSuchKey, NoSuchUpload, ...) of an SDK failure, if any. */
export function s3ErrorName(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined
  const name = (e as { name?: unknown }).name
  const code = (e as { Code?: unknown }).Code
  return typeof code === 'string' ? code : typeof name === 'string' ? name : undefined
}

/** HTTP status of an SDK failure, if the service answered. */
export function s3Status(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined
  const status = (e as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode
  return typeof status === 'number' ? status : undefined
}

/** A missing object or upload (GetObject/HeadObject 404, NoSuchKey; RGW says NoSuchKey for uploads). */
export function isMissing(e: unknown): boolean {
  const name = s3ErrorName(e)
  return (
    name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || s3Status(e) === 404
  )
}

/**
 * An SDK failure after its own retries: the backend is unavailable for now (503). The cause is
 * kept for the logs; nothing of the failed request was acknowledged.
 */
export function unavailable(operation: string, e: unknown): UploadError {
  if (e instanceof UploadError) return e
  const name = s3ErrorName(e) ?? 'Error'
  const status = s3Status(e)
  const message = e instanceof Error ? e.message : String(e)
  return new UploadError(
    'ERR_STORE_UNAVAILABLE',
    `S3 store: ${operation} failed (${name}${status === undefined ? '' : ` ${status}`}: ${message})`,
    { cause: e },
  )
}
