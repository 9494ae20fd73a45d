/**
 * @module What each interop version of the draft expects of a server, written down for the tester
 * from the draft texts (docs/protocol-matrix.md) — independently of the server's own table, so
 * that `ferry check` does not test Ferry's reading of the drafts against itself.
 */

import { parseBooleanField } from '../protocol/codec/structured-fields.ts'

export const INTEROP_VERSIONS = [3, 4, 5, 6, 7, 8, 9, 10] as const

/** The newest draft revision of each interop version: the text the checks cite. */
const DRAFT: Record<number, string> = {
  3: '01',
  4: '02',
  5: '03',
  6: '05',
  7: '08',
  8: '11',
  9: '12',
  10: '13',
}

export type Topic =
  | 'creation'
  | 'interim'
  | 'retrieval'
  | 'append'
  | 'cancellation'
  | 'concurrency'
  | 'limits'
  | 'problems'
  | 'version'
  | 'offset'
  | 'completion'
  | 'length'
  | 'digests'
  | 'redirect'
  | 'security'

/** Section numbers per draft layout: -01..-05, -06..-08, -09..-13. */
const SECTIONS: Record<'early' | 'i7' | 'late', Record<Topic, string>> = {
  early: {
    creation: '4',
    interim: '4.1',
    retrieval: '5',
    append: '6',
    cancellation: '7',
    concurrency: '6',
    limits: '8.2',
    problems: '10',
    version: '4.2',
    offset: '8.1',
    completion: '8.2',
    length: '8.4',
    // -05 numbering; -01..-04 are patched in cite().
    digests: '15',
    redirect: '12',
    security: '18',
  },
  i7: {
    creation: '4.2.2',
    interim: '4.2.2',
    retrieval: '4.3.2',
    append: '4.4.2',
    cancellation: '4.5.2',
    concurrency: '4.6',
    limits: '4.1.4',
    problems: '6',
    version: '4.2.3',
    offset: '4.1.1',
    completion: '4.1.2',
    length: '4.1.3',
    digests: '9',
    // -06..-08 state the 301/302 rule inside §4.3.2 (HEAD) and §4.5.2 (DELETE).
    redirect: '4.3.2',
    security: '12',
  },
  late: {
    creation: '4.2.2',
    interim: '5',
    retrieval: '4.3.2',
    append: '4.4.2',
    cancellation: '4.5.2',
    concurrency: '4.6',
    limits: '4.1.4',
    problems: '7',
    version: 'Appendix B',
    offset: '4.1.1',
    completion: '4.1.2',
    length: '4.1.3',
    // -09..-11 §10; -12 removed the section (the checks using it stop at interop 8).
    digests: '10',
    redirect: '4.3.2',
    security: '13',
  },
}

/** "draft-11 §4.4.2" for a topic at an interop version. */
export function cite(interop: number, topic: Topic): string {
  const draft = DRAFT[interop] ?? '13'
  const layout = interop <= 6 ? 'early' : interop === 7 ? 'i7' : 'late'
  let section = SECTIONS[layout][topic]
  // draft-01 numbers its field sections 9.x; -05 moved Upload-Complete to 8.3.
  if (interop === 3 && topic === 'offset') section = '9.1'
  if (interop === 3 && topic === 'completion') section = '9.2'
  if (interop === 6 && topic === 'completion') section = '8.3'
  // draft-01 §10 Redirection, §11 Security; -02/-03 §9 and §10.
  if (topic === 'redirect' && interop <= 5) section = interop === 3 ? '10' : '9'
  if (topic === 'security' && interop <= 5) section = interop === 3 ? '11' : '10'
  const where = section.startsWith('Appendix') ? section : `§${section}`
  return `draft-${draft} ${where} (interop ${interop})`
}

/** What a server must do at one interop version, as the drafts say. */
export interface DraftExpectations {
  readonly interop: number
  /** The completion field; interop 3's Upload-Incomplete has the inverse polarity (draft-01 §9.2). */
  readonly completionField: 'upload-complete' | 'upload-incomplete'
  /** Statuses of a successful offset retrieval: exactly 204 in -01/-02, 200/204 in -03..-05, any 2xx later. */
  readonly retrievalStatuses: readonly number[] | 'any-2xx'
  /** Statuses of an append that leaves the upload incomplete: 201 (MUST) up to -05, any 2xx later. */
  readonly incompleteAppendStatuses: readonly number[] | 'any-2xx'
  /** PATCH media type: application/partial-upload from -04. */
  readonly appendMediaType?: string
  /** Fields whose presence on HEAD makes the request invalid (400), -01..-05 §5. */
  readonly retrievalForbids: readonly string[]
  /** The same for DELETE (-01..-05 §7). */
  readonly cancellationForbids: readonly string[]
  /** Progress 104s with Upload-Offset exist from -03 (MAY/SHOULD, never required). */
  readonly progress: boolean
  /** Upload-Limit exists from -04; MUST on HEAD and the ?0 creation response from -09. */
  readonly limits: 'none' | 'optional' | 'required'
  /** The lifetime key of Upload-Limit: `expires` in -04/-05, `max-age` after. */
  readonly lifetimeKey: 'expires' | 'max-age'
  /** Upload-Length exists from -05. */
  readonly uploadLength: boolean
  /** Offset-retrieval responses MUST carry Upload-Length when one was supplied (-05..-12). */
  readonly retrievalLengthRequired: boolean
  /** Offset-retrieval responses MUST carry the completion field (-01..-12). */
  readonly retrievalCompletionRequired: boolean
  /**
   * A 409 MUST carry the completion field false: -06..-09 ("any response" to a request that did
   * not complete the upload) and -12 on. -10/-11 dropped the blanket rule, so interop 8 (-09..-11)
   * is only `incompleteMarked: 'should'`.
   */
  readonly conflictCompletion: boolean
  /**
   * A response to an append that does not complete the upload carries the completion field false:
   * -01 MUST (Upload-Incomplete: ?1 on the 201); -02..-05 say "true" for the 201 (an erratum), so
   * nothing is checked; -06..-08 MUST ("any response, successful or not"); -09 MUST but -10/-11 only
   * describe it, -12/-13 SHOULD include Upload-Complete.
   */
  readonly incompleteMarked: 'must' | 'should' | 'none'
  /** Statuses of a creation with "more follows" that succeeded: 201 (MUST) up to -05. */
  readonly incompleteCreationStatuses: readonly number[] | 'any-2xx'
  /**
   * Creation and append responses MUST carry Upload-Offset while the upload is active, success or
   * failure, equal to the end offset (-01..-05 §4, §6).
   */
  readonly responseOffsetRequired: boolean
  /** A 2xx `?0` append's Upload-Offset, if sent, MUST be offset + content length (-13 §4.1.1). */
  readonly appendOffsetExact: boolean
  /** The offset of a 409 MUST be accepted by the next append (-13 §4.6; -12 only for HEAD). */
  readonly conflictOffsetAccepted: boolean
  /**
   * A completing creation response carries Upload-Complete: ?1: -12 SHOULD include the field,
   * -13 MUST NOT send a 2xx with ?0 or without it. -01..-05 only forbid the "incomplete" value.
   */
  readonly completingCreationMarked: 'must' | 'should' | 'none'
  /** A PATCH without the completion field: -01 completes, -02..-05 do not, -06 on invalid. */
  readonly missingCompletion: 'complete' | 'incomplete' | 'invalid'
  /**
   * An append to a completed upload: -04/-05 MUST 400; -06..-11 MUST reject; -12/-13 may replay the
   * final response instead. -01..-03 say nothing.
   */
  readonly completedAppend: 'none' | 'reject-400' | 'reject' | 'reject-or-replay'
  /** Exceeding a recorded length is rejected with exactly 400 (-05) or any rejection (-06 on). */
  readonly pastLengthStatus: 400 | '4xx' | 'none'
  /** Upload-Length on an append request (-06 on; -05 defines it for creation only). */
  readonly appendUploadLength: boolean
  /** A `?1` request's actual (e.g. chunked) content length fixes the length (-12 on). */
  readonly actualLengthIndicates: boolean
  /** Upload-Limit on the `?0` creation response: -06..-08 SHOULD, -09 on MUST (when limits exist). */
  readonly creationLimit: 'must' | 'should' | 'none'
  /** DELETE statuses: exactly 204 up to -08 (-01..-05 also 405 when unsupported), then any 2xx. */
  readonly cancellationStatuses: readonly number[] | 'any-2xx'
  /** An unknown or inactive upload: MUST 404 (-01..-05); later unspecified (404 or 410 expected). */
  readonly inactiveStatuses: readonly number[]
  readonly inactiveLevel: 'must' | 'should'
  /** Status codes HEAD and DELETE must not use (303 added in -12). */
  readonly redirectCodes: readonly number[]
  /** Progress 104s on appends: MAY (-03..-08), SHOULD (-09 on). */
  readonly progressLevel: 'should' | 'may' | 'none'
  /** The 100 (Continue) must not be omitted because of a 104 (-10 §5 on). */
  readonly continueRequired: boolean
  /** Integrity digests section (Repr-Digest, Content-Digest, Want-Repr-Digest): -04..-11. */
  readonly digests: boolean
  /** Accept-Patch listing application/partial-upload on OPTIONS: -10/-11 MUST, -09 none. */
  readonly acceptPatch: boolean
  /** Problem types exist (-04 on); inconsistent-upload-length from -06. */
  readonly problemTypes: boolean
  readonly inconsistentLengthProblem: boolean
  /** The 104 and the final `?0` creation response carry string-identical Locations (-10 on). */
  readonly identicalLocation: boolean
  /** Upload-Limit exists (-04 on). */
  readonly uploadLimit: boolean
  /** Every 2xx to a ?1 request MUST carry Upload-Complete: ?1 (-13; -06 on for appends). */
  readonly completingResponseMarked: boolean
  /** OPTIONS MUST carry Upload-Limit (-05 on; -10/-11 only SHOULD, with Accept-Patch MUST). */
  readonly optionsLimit: 'none' | 'must' | 'should'
  /** GET is an offset retrieval (-12 on). */
  readonly getRetrieval: boolean
  /** HEAD and DELETE must not be answered with 301/302 (MUST NOT -01..-08, SHOULD NOT later). */
  readonly noRedirect: 'must' | 'should'
}

export function expectations(interop: number): DraftExpectations {
  const v = interop
  return {
    interop: v,
    completionField: v === 3 ? 'upload-incomplete' : 'upload-complete',
    retrievalStatuses: v <= 4 ? [204] : v <= 6 ? [200, 204] : 'any-2xx',
    incompleteAppendStatuses: v <= 6 ? [201] : 'any-2xx',
    ...(v >= 6 ? { appendMediaType: 'application/partial-upload' } : {}),
    retrievalForbids:
      v === 3
        ? ['upload-offset', 'upload-incomplete']
        : v <= 5
          ? ['upload-offset', 'upload-complete']
          : v === 6
            ? ['upload-offset', 'upload-complete', 'upload-length']
            : [],
    cancellationForbids:
      v === 3
        ? ['upload-offset', 'upload-incomplete']
        : v <= 6
          ? ['upload-offset', 'upload-complete']
          : [],
    progress: v >= 5,
    limits: v <= 5 ? 'none' : v <= 7 ? 'optional' : 'required',
    lifetimeKey: v === 6 ? 'expires' : 'max-age',
    uploadLength: v >= 6,
    retrievalLengthRequired: v >= 6 && v <= 9,
    retrievalCompletionRequired: v <= 9,
    conflictCompletion: v === 7 || v >= 9,
    incompleteMarked: v === 3 || v === 7 ? 'must' : v >= 8 ? 'should' : 'none',
    incompleteCreationStatuses: v <= 6 ? [201] : 'any-2xx',
    responseOffsetRequired: v <= 6,
    appendOffsetExact: v >= 10,
    conflictOffsetAccepted: v >= 10,
    completingCreationMarked: v >= 10 ? 'must' : v === 9 ? 'should' : 'none',
    missingCompletion: v === 3 ? 'complete' : v <= 6 ? 'incomplete' : 'invalid',
    completedAppend:
      v <= 5 ? 'none' : v === 6 ? 'reject-400' : v <= 8 ? 'reject' : 'reject-or-replay',
    pastLengthStatus: v <= 5 ? 'none' : v === 6 ? 400 : '4xx',
    appendUploadLength: v >= 7,
    actualLengthIndicates: v >= 9,
    creationLimit: v >= 8 ? 'must' : v === 7 ? 'should' : 'none',
    cancellationStatuses: v <= 6 ? [204, 405] : v === 7 ? [204] : 'any-2xx',
    inactiveStatuses: v <= 6 ? [404] : [404, 410],
    inactiveLevel: v <= 6 ? 'must' : 'should',
    redirectCodes: v >= 9 ? [301, 302, 303] : [301, 302],
    progressLevel: v >= 8 ? 'should' : v >= 5 ? 'may' : 'none',
    continueRequired: v >= 8,
    digests: v >= 6 && v <= 8,
    acceptPatch: v === 8,
    problemTypes: v >= 6,
    inconsistentLengthProblem: v >= 7,
    identicalLocation: v >= 8,
    uploadLimit: v >= 6,
    completingResponseMarked: v >= 7,
    optionsLimit: v <= 5 ? 'none' : v === 8 ? 'should' : 'must',
    getRetrieval: v >= 9,
    noRedirect: v <= 7 ? 'must' : 'should',
  }
}

/** The completion field and value saying "complete" (true) or "more follows" (false). */
export function completion(interop: number, complete: boolean): Record<string, string> {
  // draft-01 §9.2: Upload-Incomplete: ?1 means more data follows.
  return interop === 3
    ? { 'upload-incomplete': complete ? '?0' : '?1' }
    : { 'upload-complete': complete ? '?1' : '?0' }
}

/** Reads "complete?" from a response's completion field; undefined when absent or invalid. */
export function isMarkedComplete(
  interop: number,
  headers: Record<string, string>,
): boolean | undefined {
  const field = interop === 3 ? headers['upload-incomplete'] : headers['upload-complete']
  // An sf-boolean, parameters allowed (RFC 9651 §3.3.6); anything else is no field at all.
  const value = parseBooleanField(field)
  if (value === undefined) return undefined
  return interop === 3 ? !value : value
}

/** Headers every draft request of this version carries. */
export function draftHeaders(
  interop: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { 'upload-draft-interop-version': String(interop), ...extra }
}

/** Headers of an append at `offset`. */
export function appendHeaders(
  interop: number,
  offset: number,
  complete: boolean | undefined,
): Record<string, string> {
  const e = expectations(interop)
  return {
    ...draftHeaders(interop),
    'upload-offset': String(offset),
    ...(complete === undefined ? {} : completion(interop, complete)),
    ...(e.appendMediaType === undefined ? {} : { 'content-type': e.appendMediaType }),
  }
}
