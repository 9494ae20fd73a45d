/**
 * @module What a store that writes upload state as JSON keeps of a new upload (the disk store's
 * sidecar, the S3 store's manifest): the optional facts of `NewUpload`, with digest values in
 * base64 (RFC 9651 byte sequences' text form), and back.
 */
import { decodeBase64, encodeBase64 } from '../protocol/codec/structured-fields.ts'
import type { ConcatState, Digest, UploadInfo } from '../protocol/types.ts'
import type { NewUpload } from './types.ts'

/** A digest as stored: its value in base64. */
export interface StoredDigest {
  readonly algorithm: Digest['algorithm']
  readonly value: string
}

/** The facts of `NewUpload` as JSON keeps them (absent ones stay absent). */
export type PersistedFacts = Omit<NewUpload, 'reprDigests'> & {
  readonly reprDigests?: readonly StoredDigest[]
}

/** The state of an upload as a JSON-state store writes it (v1); stores add their own fields. */
export interface PersistedState {
  readonly v: 1
  readonly id: string
  readonly length?: number
  /** Explicit completion (draft Upload-Complete: ?1, concatenation); tus derives it. */
  readonly complete: boolean
  readonly createdAt: number
  readonly updatedAt: number
  readonly metadata?: NonNullable<UploadInfo['metadata']>
  readonly concat?: ConcatState
  readonly contentType?: string
  readonly filename?: string
  readonly reprDigests?: readonly StoredDigest[]
  readonly wantReprDigest?: readonly Digest['algorithm'][]
  readonly finalResponse?: NonNullable<UploadInfo['finalResponse']>
  readonly invalid?: string
  readonly completesAtLength?: boolean
}

export function persistedFacts(upload: NewUpload): PersistedFacts {
  return {
    ...(upload.length === undefined ? {} : { length: upload.length }),
    ...(upload.metadata === undefined ? {} : { metadata: upload.metadata }),
    ...(upload.concat === undefined ? {} : { concat: upload.concat }),
    ...(upload.contentType === undefined ? {} : { contentType: upload.contentType }),
    ...(upload.filename === undefined ? {} : { filename: upload.filename }),
    ...(upload.completesAtLength === undefined
      ? {}
      : { completesAtLength: upload.completesAtLength }),
    ...(upload.wantReprDigest === undefined ? {} : { wantReprDigest: upload.wantReprDigest }),
    ...(upload.reprDigests === undefined
      ? {}
      : {
          reprDigests: upload.reprDigests.map((d) => ({
            algorithm: d.algorithm,
            value: encodeBase64(d.value),
          })),
        }),
  }
}

/** Stored digests back to bytes (an undecodable one is dropped). */
export function storedDigests(digests: readonly StoredDigest[]): Digest[] {
  return digests.flatMap((d) => {
    const value = decodeBase64(d.value)
    return value === undefined ? [] : [{ algorithm: d.algorithm, value }]
  })
}
