/**
 * @module What each interop version of the draft expects of a server, written down for the tester
 * from the draft texts (docs/protocol-matrix.md) — independently of the server's own table, so
 * that `ferry check` does not test Ferry's reading of the drafts against itself.
 */

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
  /** A 409 MUST carry Upload-Complete: ?0 (-12 on). */
  readonly conflictCompletion: boolean
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
    conflictCompletion: v >= 9,
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
  const value = field === '?1' ? true : field === '?0' ? false : undefined
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
