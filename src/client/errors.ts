/**
 * @module The error an upload fails with (in its own module: upload.ts and parallel.ts both
 * create them).
 */
import type { FailureCode } from './machine.ts'
import type { ResponseHead } from './protocols.ts'

export type UploadErrorCode = FailureCode | 'ERR_ABORTED'

export class UploadError extends Error {
  override readonly name = 'UploadError'
  readonly code: UploadErrorCode
  readonly status: number | undefined
  readonly response: ResponseHead | undefined
  constructor(failure: {
    readonly code: UploadErrorCode
    readonly message: string
    readonly status?: number
    readonly response?: ResponseHead
  }) {
    super(failure.message)
    this.code = failure.code
    this.status = failure.status
    this.response = failure.response
  }
}
