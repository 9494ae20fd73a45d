/**
 * @module The feature table of the IETF draft "Resumable Uploads for HTTP": one row per interop
 * version. Everything that differs between versions is a column here; code reads the row and
 * never compares version numbers. Supporting a new draft means adding a row (and its tests).
 * docs/protocol-matrix.md maps draft revisions to interop versions.
 */
import { H, MEDIA_TYPE } from './constants.ts'

/** What the server does with an append to an upload that is already complete. */
export type CompletedAppendRule =
  /** Reject with 400 (+ completed-upload problem): drafts -01..-08. */
  | 'reject'
  /** Non-empty content: 400 inconsistent length; empty content: 410 (completed-upload): -09..-11. */
  | 'gone-or-inconsistent'
  /** Replay the stored final response to an otherwise valid append, else reject: -12, -13. */
  | 'replay'

export interface InteropFeatures {
  /** The value of Upload-Draft-Interop-Version. */
  readonly version: number
  /** The draft revisions that use this interop version. */
  readonly drafts: string
  /**
   * The completion field. Interop 3 uses Upload-Incomplete, whose true value means "not the
   * last part" (draft-01 §4.1.1 / §8.2); interop 4 and later use Upload-Complete.
   */
  readonly completionField: typeof H.uploadComplete | typeof H.uploadIncomplete
  /**
   * An append without a (valid) completion field. draft-01 §5: an omitted Upload-Incomplete
   * means complete. draft-02 §5 (to -05): only Upload-Complete: ?1 completes, so an omitted
   * field appends without completing. draft-06 §4.4.1 on: the field MUST be present (400).
   */
  readonly appendWithoutCompletion: 'complete' | 'incomplete' | 'reject'
  /** The media type an append MUST carry: application/partial-upload from draft-04 (interop 6). */
  readonly appendMediaType: string | null
  /** Status of an append that leaves the upload incomplete: 201 up to interop 6, then 204. */
  readonly incompleteAppendStatus: 201 | 204
  /** Progress 104s carrying Upload-Offset while content is read (draft-03 / interop 5 on). */
  readonly progressInterim: boolean
  /** The Upload-Limit key for the remaining lifetime: `expires` in draft-04/-05, then `max-age`. */
  readonly lifetimeLimitKey: 'expires' | 'max-age'
  /** Fields a HEAD MUST NOT carry (400): draft-01..-05 §5. */
  readonly retrievalForbiddenFields: readonly string[]
  /** Fields a DELETE MUST NOT carry (400): draft-01..-05 §7. */
  readonly cancellationForbiddenFields: readonly string[]
  readonly completedAppend: CompletedAppendRule
  /** Content beyond a known length invalidates the upload resource (draft-08 / -09 on). */
  readonly invalidateOnExcessLength: boolean
  /** GET on the upload resource is an offset retrieval (draft-12 on); before, GET downloads. */
  readonly getRetrievesOffset: boolean
  /**
   * What the completion field says on an error response. Up to draft-11 it states whether the
   * upload is complete (draft-05 §8.3, draft-06 §4.1.2); draft-12 §4.1.2 redefines it on
   * responses as "from the targeted resource", so protocol errors say ?0.
   */
  readonly errorCompletion: 'upload-state' | 'false'
}

const IV3: InteropFeatures = {
  version: 3,
  drafts: '-01',
  completionField: H.uploadIncomplete,
  appendWithoutCompletion: 'complete',
  appendMediaType: null,
  incompleteAppendStatus: 201,
  progressInterim: false,
  lifetimeLimitKey: 'max-age',
  retrievalForbiddenFields: [H.uploadOffset, H.uploadIncomplete],
  cancellationForbiddenFields: [H.uploadOffset, H.uploadIncomplete],
  completedAppend: 'reject',
  invalidateOnExcessLength: false,
  getRetrievesOffset: false,
  errorCompletion: 'upload-state',
}

const IV4: InteropFeatures = {
  ...IV3,
  version: 4,
  drafts: '-02',
  completionField: H.uploadComplete,
  appendWithoutCompletion: 'incomplete',
  retrievalForbiddenFields: [H.uploadOffset, H.uploadComplete],
  cancellationForbiddenFields: [H.uploadOffset, H.uploadComplete],
}

const IV5: InteropFeatures = { ...IV4, version: 5, drafts: '-03', progressInterim: true }

const IV6: InteropFeatures = {
  ...IV5,
  version: 6,
  drafts: '-04, -05',
  appendMediaType: MEDIA_TYPE.partialUpload,
  lifetimeLimitKey: 'expires',
  // draft-05 §5 adds Upload-Length to the fields a HEAD must not carry (not to DELETE, §7).
  retrievalForbiddenFields: [H.uploadOffset, H.uploadComplete, H.uploadLength],
}

const IV7: InteropFeatures = {
  ...IV6,
  version: 7,
  drafts: '-06, -07, -08',
  appendWithoutCompletion: 'reject',
  incompleteAppendStatus: 204,
  lifetimeLimitKey: 'max-age',
  retrievalForbiddenFields: [],
  cancellationForbiddenFields: [],
}

const IV8: InteropFeatures = {
  ...IV7,
  version: 8,
  drafts: '-09, -10, -11',
  completedAppend: 'gone-or-inconsistent',
  invalidateOnExcessLength: true,
}

const IV9: InteropFeatures = {
  ...IV8,
  version: 9,
  drafts: '-12',
  completedAppend: 'replay',
  getRetrievesOffset: true,
  errorCompletion: 'false',
}

const IV10: InteropFeatures = { ...IV9, version: 10, drafts: '-13' }

/** Every interop version the server implements, oldest first. */
export const INTEROP_VERSIONS: ReadonlyMap<number, InteropFeatures> = new Map(
  [IV3, IV4, IV5, IV6, IV7, IV8, IV9, IV10].map((row) => [row.version, Object.freeze(row)]),
)

/** The row of an interop version, or undefined when the server does not implement it. */
export function interopFeatures(version: number): InteropFeatures | undefined {
  return INTEROP_VERSIONS.get(version)
}
