/**
 * @module Checks for the IETF draft "Resumable Uploads for HTTP", each run once per interop
 * version it applies to (../shared/reference/protocol.md §1-2, §4.1-4.3, §7.7, §8.6-8.7; the
 * per-version answers of docs/protocol-matrix.md). A requirement that is MUST in some versions and
 * SHOULD in others is two definitions with one id (see `leveled`). Interrupted and concurrent
 * transfers are in interruption.ts.
 */
import { parseDictionary } from '../../protocol/codec/structured-fields.ts'
import { MEDIA_TYPE, PROBLEM_TYPE } from '../../protocol/constants.ts'
import type { Exchange } from '../client.ts'
import {
  ensure,
  expectClientError,
  expectHeader,
  expectNoHeader,
  expectStatus,
  expectSuccess,
  fail,
  sfInteger,
  skip,
} from '../expect.ts'
import { cite, draftHeaders, expectations, isMarkedComplete } from '../expectations.ts'
import type { RawResponse } from '../raw-http.ts'
import type { CheckContext, CheckDefinition } from '../types.ts'
import { bytes } from './common.ts'
import {
  announcedLimits,
  announcement,
  createCompleted,
  createIncomplete,
  describe,
  expectMarked,
  expectNotMarkedIncomplete,
  expectOffset,
  hasLimits,
  head,
  lengthHeader,
  leveled,
  lifetimeOf,
  needsLimit,
  observeOnce,
  offsetOf,
  patch,
  post,
  problemOf,
  sha256Field,
  sleep,
  slowAppend,
  statusIn,
  unit,
  unknownUrl,
  validLimit,
  versionsWhere,
} from './ietf-helpers.ts'

/** -01..-05: the versions whose texts give exact statuses and reject stray Upload-* fields. */
const EARLY = [3, 4, 5, 6]
/** From -04: Upload-Limit, problem types, application/partial-upload. */
const FROM6 = [6, 7, 8, 9, 10]
/** The version-independent checks run once, for the newest interop version. */
const ONCE = [10]
const EMPTY = Buffer.alloc(0)
/** Unknown or cancelled uploads: MUST 404 in -01..-05, 404 or 410 expected later. */
const INACTIVE_MUST = versionsWhere((e) => e.inactiveLevel === 'must')
const INACTIVE_SHOULD = versionsWhere((e) => e.inactiveLevel === 'should')
/** -03 on: progress 104s during an append. */
const PROGRESS = versionsWhere((e) => e.progressLevel !== 'none')

/** For titles: the completion field saying "more follows" and "this is the end" at `v`. */
function moreFollows(v: number): string {
  return v === 3 ? 'Upload-Incomplete: ?1' : 'Upload-Complete: ?0'
}
function completes(v: number): string {
  return v === 3 ? 'Upload-Incomplete: ?0' : 'Upload-Complete: ?1'
}
/** For titles: `text` when `condition` holds. */
function when(condition: boolean, text: string): string {
  return condition ? text : ''
}

function is2xx(r: RawResponse): boolean {
  return r.status >= 200 && r.status <= 299
}

/** The same upload resource: string-identical from -10 on, the same URL before. */
function sameLocation(ctx: CheckContext, a: string, b: string): boolean {
  if (expectations(ctx.interop).identicalLocation) return a === b
  return ctx.client.url(a).href === ctx.client.url(b).href
}

/** After completion: a 2xx HEAD shows it complete at `length`, or the upload is gone (404/410). */
async function expectCompleted(ctx: CheckContext, url: URL, length: number): Promise<void> {
  const v = ctx.interop
  const e = expectations(v)
  const r = await head(ctx, url)
  if (r.final.status === 404 || r.final.status === 410) return
  expectSuccess(r.final, 'offset retrieval after completion')
  const offset = sfInteger(r.final, 'upload-offset')
  ensure(
    offset === length,
    `offset retrieval after completion: offset ${offset}, expected ${length}`,
  )
  if (e.retrievalCompletionRequired)
    expectMarked(v, r.final, true, 'offset retrieval after completion')
}

/** The checks of a final response to a request that completed the upload (creation or append). */
function expectCompletingResponse(
  ctx: CheckContext,
  r: RawResponse,
  length: number,
  kind: 'creation' | 'append',
): void {
  const v = ctx.interop
  const e = expectations(v)
  expectSuccess(r, `completing ${kind}`)
  if (e.responseOffsetRequired) {
    // -01..-05 §4/§6: Upload-Offset equal to the end offset; never the "incomplete" value.
    const offset = sfInteger(r, 'upload-offset')
    ensure(offset === length, `completing ${kind}: Upload-Offset ${offset}, expected ${length}`)
    expectNotMarkedIncomplete(v, r, `completing ${kind}`)
  }
  const marked =
    kind === 'append' ? e.completingResponseMarked : e.completingCreationMarked === 'must'
  if (marked) expectMarked(v, r, true, `2xx to a completing ${kind}`)
}

/** Removes what a check created (best effort; the result does not matter). */
async function cancel(ctx: CheckContext, url: URL): Promise<void> {
  await ctx.client
    .exchange('DELETE', url, { headers: draftHeaders(ctx.interop) })
    .catch(() => undefined)
}

/**
 * Judges the 104s of a creation (version on each, Location on the first and Upload-Limit when
 * limits exist, no other Location later); returns the announced Location, if any 104 came.
 */
function check104s(ctx: CheckContext, r: Exchange): string | undefined {
  const v = ctx.interop
  const interim = r.interim.filter((i) => i.status === 104)
  const first = interim[0]
  if (first === undefined) return undefined
  interim.forEach((i, k) => {
    // Appendix B (-01 §4.2 on): every 104 carries the version.
    expectHeader(i, 'upload-draft-interop-version', String(v))
    if (k === 0) return
    const later = i.headers.location
    if (later === undefined) return
    // -03..-09: later 104s MUST NOT carry Location; -10 on: an identical one is allowed.
    if (v <= 7) fail(`104 #${k + 1} carries Location ("${later}"); only the first 104 may`)
    ensure(
      later === first.headers.location,
      `104 #${k + 1} carries Location "${later}", not the first 104's "${first.headers.location}"`,
    )
  })
  // -09 on: the announcing 104 MUST carry Upload-Limit when limits exist.
  if (expectations(v).creationLimit === 'must' && hasLimits(ctx.discovery))
    expectHeader(first, 'upload-limit')
  return expectHeader(first, 'location')
}

const CREATION: CheckDefinition[] = [
  {
    id: 'create.interim-104',
    title: (v) =>
      `${cite(v, 'interim')}: a creation with the completion field gets a 104 (Upload Resumption Supported) before the final response (D02)`,
    protocol: 'ietf',
    level: 'SHOULD',
    async run(ctx) {
      const n = unit(ctx.discovery)
      const r = await post(ctx, true, bytes(n), lengthHeader(ctx.interop, n))
      if (!r.interim.some((i) => i.status === 104))
        fail('no 104 (Upload Resumption Supported) before the final response')
      expectSuccess(r.final)
    },
  },
  {
    id: 'create.interim-104-fields',
    title: (v) =>
      `${cite(v, 'creation')}: the creation 104 carries Location and Upload-Draft-Interop-Version: ${v}${when(v >= 8, ' (and Upload-Limit when limits exist)')}${when(v >= 5, '; later 104s no other Location')} (D02, I3-01, I6-01, I9-01, I10-01)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const n = unit(ctx.discovery)
      const r = await post(ctx, true, bytes(n), lengthHeader(v, n))
      if (!r.interim.some((i) => i.status === 104))
        skip('the server sent no 104 (see create.interim-104)')
      check104s(ctx, r)
      expectSuccess(r.final)
    },
  },
  {
    id: 'create.complete',
    title: (v) =>
      `${cite(v, 'creation')}: a creation with ${completes(v)} and content → 2xx${v <= 6 ? ' with Upload-Offset = length, Location, never "incomplete"' : v >= 10 ? ' with Upload-Complete: ?1' : ''}; the upload is then complete (D02, I3-01, I6-01, I10-01)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const n = unit(ctx.discovery)
      const r = await post(ctx, true, bytes(n, 2), lengthHeader(v, n))
      const announced = check104s(ctx, r)
      expectCompletingResponse(ctx, r.final, n, 'creation')
      if (expectations(v).responseOffsetRequired && announced !== undefined) {
        // -01..-05 §4: a created upload resource MUST be named in the response's Location.
        const location = expectHeader(r.final, 'location')
        ensure(
          sameLocation(ctx, location, announced),
          `Location "${location}" differs from the 104's "${announced}"`,
        )
      }
      if (announced !== undefined) await expectCompleted(ctx, ctx.client.url(announced), n)
    },
  },
  {
    id: 'create.complete-marked',
    title: (v) =>
      `${cite(v, 'creation')}: the response to a completing creation carries Upload-Complete: ?1 (I9-01)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.completingCreationMarked === 'should'),
    async run(ctx) {
      const v = ctx.interop
      const n = unit(ctx.discovery)
      const r = await post(ctx, true, bytes(n, 2), lengthHeader(v, n))
      expectSuccess(r.final)
      expectMarked(v, r.final, true, 'completing creation')
    },
  },
  {
    id: 'create.empty-complete',
    title: (v) =>
      `${cite(v, 'creation')}: an empty creation with Upload-Complete: ?1 uploads an empty representation (2xx; offset 0, complete) (D07)`,
    protocol: 'ietf',
    level: 'MUST',
    // -03 on: "The request content MAY be empty".
    interop: [5, 6, 7, 8, 9, 10],
    async run(ctx) {
      const v = ctx.interop
      const r = await post(ctx, true, EMPTY)
      const announced = check104s(ctx, r)
      expectCompletingResponse(ctx, r.final, 0, 'creation')
      if (announced === undefined) return
      const url = ctx.client.url(announced)
      await expectCompleted(ctx, url, 0)
      const h = await head(ctx, url)
      // -05..-12: the length recorded from ?1 + Content-Length: 0 is reported.
      if (is2xx(h.final) && expectations(v).retrievalLengthRequired)
        expectHeader(h.final, 'upload-length', '0')
    },
  },
  {
    id: 'create.careful',
    title: (v) =>
      `${cite(v, 'creation')}: an empty creation with ${moreFollows(v)} → ${describe(expectations(v).incompleteCreationStatuses)} with Location${when(v <= 6, ', Upload-Offset: 0 and the "incomplete" value')}${when(v >= 8, ', Upload-Limit when limits exist')}; the upload then has offset 0 (D06, D46, I10-02)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const r = await post(ctx, false, EMPTY)
      ensure(
        statusIn(r.final, e.incompleteCreationStatuses),
        `creation: expected ${describe(e.incompleteCreationStatuses)}, got ${r.final.status}`,
      )
      const announced = check104s(ctx, r)
      const location = expectHeader(r.final, 'location')
      if (announced !== undefined)
        ensure(
          sameLocation(ctx, location, announced),
          `the final Location "${location}" differs from the 104's "${announced}" (D46)`,
        )
      if (e.responseOffsetRequired) {
        expectHeader(r.final, 'upload-offset', '0')
        expectMarked(v, r.final, false, 'incomplete creation')
      }
      if (e.creationLimit === 'must' && hasLimits(ctx.discovery))
        expectHeader(r.final, 'upload-limit')
      const url = ctx.client.url(location)
      const h = await head(ctx, url)
      ensure(
        statusIn(h.final, e.retrievalStatuses),
        `offset retrieval: expected ${describe(e.retrievalStatuses)}, got ${h.final.status}`,
      )
      expectHeader(h.final, 'upload-offset', '0')
      if (e.retrievalCompletionRequired) expectMarked(v, h.final, false, 'offset retrieval')
    },
  },
  {
    id: 'create.incomplete',
    title: (v) =>
      `${cite(v, 'creation')}: a creation with content and ${moreFollows(v)}${when(v >= 6, ' and Upload-Length')} → ${describe(expectations(v).incompleteCreationStatuses)} with the 104's Location${when(v <= 6, ' and Upload-Offset')}; the offset is the content's length (D05, D46, I3-02)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const r = await post(ctx, false, bytes(2 * n), lengthHeader(v, 5 * n))
      ensure(
        statusIn(r.final, e.incompleteCreationStatuses),
        `creation: expected ${describe(e.incompleteCreationStatuses)}, got ${r.final.status}`,
      )
      const announced = check104s(ctx, r)
      const location = expectHeader(r.final, 'location')
      if (announced !== undefined)
        ensure(
          sameLocation(ctx, location, announced),
          `the final Location "${location}" differs from the 104's "${announced}" (D46)`,
        )
      if (e.responseOffsetRequired) {
        expectHeader(r.final, 'upload-offset', String(2 * n))
        expectMarked(v, r.final, false, 'incomplete creation')
      }
      if (e.creationLimit === 'must' && hasLimits(ctx.discovery))
        expectHeader(r.final, 'upload-limit')
      const url = ctx.client.url(location)
      const h = await head(ctx, url)
      expectSuccess(h.final, 'offset retrieval')
      expectHeader(h.final, 'upload-offset', String(2 * n))
      if (e.retrievalLengthRequired) expectHeader(h.final, 'upload-length', String(5 * n))
    },
  },
  {
    id: 'create.incomplete-marked',
    title: (v) =>
      `${cite(v, 'creation')}: the response to a creation with Upload-Complete: ?0 carries Upload-Complete: ?0 (I10-02)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: [9, 10],
    async run(ctx) {
      const r = await post(ctx, false, EMPTY)
      expectSuccess(r.final)
      expectMarked(ctx.interop, r.final, false, 'incomplete creation')
    },
  },
  {
    id: 'create.upload-limit',
    title: (v) =>
      `${cite(v, 'creation')}: the response to a creation with Upload-Complete: ?0 carries Upload-Limit when limits exist (D05)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.creationLimit === 'should'),
    skipUnless: (d) => (hasLimits(d) ? undefined : 'the server announces no limits'),
    async run(ctx) {
      const r = await post(ctx, false, EMPTY)
      expectSuccess(r.final)
      expectHeader(r.final, 'upload-limit')
    },
  },
  {
    id: 'create.inconsistent-length',
    title: (v) =>
      `${cite(v, v <= 6 ? 'creation' : 'length')}: a creation whose Upload-Length differs from its Upload-Complete: ?1 content → ${v === 6 ? '400' : '4xx'} (D08)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: FROM6,
    async run(ctx) {
      const v = ctx.interop
      const n = unit(ctx.discovery)
      const r = await post(ctx, true, bytes(n), { 'upload-length': String(2 * n) })
      if (v === 6) expectStatus(r.final, 400)
      else expectClientError(r.final)
    },
  },
  {
    id: 'create.upload-offset',
    title: (v) =>
      `${cite(v, 'creation')}: a creation carrying Upload-Offset: 5 is rejected or the field ignored, never an upload at offset 5 (D45)`,
    protocol: 'ietf',
    // protocol.md §1.3 B.20 is an inference: the drafts only forbid the field to clients.
    level: 'SHOULD',
    async run(ctx) {
      const r = await post(ctx, false, EMPTY, { 'upload-offset': '5' })
      if (r.final.status >= 400 && r.final.status <= 499) return
      expectSuccess(r.final, 'creation with Upload-Offset')
      const location = announcement(r)?.headers.location ?? expectHeader(r.final, 'location')
      await expectOffset(ctx, ctx.client.url(location), 0, 'the created upload')
    },
  },
  {
    id: 'create.unique-locations',
    title: (v) =>
      `${cite(v, 'security')}: 20 creations get distinct, non-sequential upload URLs (D43)`,
    protocol: 'ietf',
    level: 'SHOULD',
    async run(ctx) {
      const urls: URL[] = []
      for (let i = 0; i < 20; i++) urls.push((await createIncomplete(ctx)).url)
      for (const url of urls) await cancel(ctx, url)
      const hrefs = urls.map((u) => u.href)
      ensure(new Set(hrefs).size === hrefs.length, 'two creations got the same upload URL')
      const sequential = sequentialPart(hrefs)
      if (sequential !== undefined)
        fail(`the upload URLs differ only by an increasing counter (${sequential})`)
    },
  },
  {
    id: 'create.expect-continue',
    title: (v) =>
      `${cite(v, 'interim')}: a creation with Expect: 100-continue still gets 100 (Continue) before its content, a 104 does not replace it (D44)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.continueRequired),
    async run(ctx) {
      const v = ctx.interop
      const n = unit(ctx.discovery)
      const wait = 400
      const arrivals: { status: number; ms: number }[] = []
      const t0 = performance.now()
      const r = await post(
        ctx,
        true,
        bytes(n),
        { ...lengthHeader(v, n), expect: '100-continue' },
        {
          waitBeforeBodyMs: wait,
          onInterim: (i) => arrivals.push({ status: i.status, ms: performance.now() - t0 }),
        },
      )
      // Measured from before the connection: anything earlier than `wait` came before the content.
      const early = arrivals.filter((a) => a.ms < wait).map((a) => a.status)
      ctx.note(`interim responses before the content: ${early.join(', ') || 'none'}`)
      ensure(
        early.includes(100),
        `no 100 (Continue) within ${wait} ms, before the content was sent${when(early.includes(104), ' (a 104 was sent)')}`,
      )
      expectSuccess(r.final)
    },
  },
]

/** The part in which URLs differ, when it reads as an increasing (hex or decimal) counter. */
function sequentialPart(hrefs: readonly string[]): string | undefined {
  const first = hrefs[0] ?? ''
  let prefix = first.length
  let suffix = first.length
  for (const h of hrefs) {
    let i = 0
    while (i < prefix && i < h.length && h[i] === first[i]) i++
    prefix = i
    let j = 0
    while (j < suffix && j < h.length && h[h.length - 1 - j] === first[first.length - 1 - j]) j++
    suffix = j
  }
  const parts = hrefs.map((h) => h.slice(prefix, h.length - suffix))
  if (!parts.every((p) => /^[0-9a-f]{1,40}$/i.test(p))) return undefined
  const values = parts.map((p) => BigInt(`0x${p}`))
  for (let i = 1; i < values.length; i++) {
    const a = values[i - 1]
    const b = values[i]
    if (a === undefined || b === undefined || b <= a) return undefined
  }
  return `${parts[0]} … ${parts[parts.length - 1]}`
}

const VERSION: CheckDefinition[] = [
  {
    id: 'version.no-104-without-version',
    title:
      'draft-13 Appendix B (every interop version, draft-01 §4.2 on): no 104 to a creation without Upload-Draft-Interop-Version (D03)',
    protocol: 'ietf',
    level: 'MUST',
    interop: ONCE,
    anyServer: true,
    async run(ctx) {
      const n = unit(ctx.discovery)
      const r = await ctx.client.send('POST', undefined, {
        headers: { 'upload-complete': '?1' },
        body: bytes(n),
      })
      ensure(
        !r.interim.some((i) => i.status === 104),
        'a 104 answered a request without Upload-Draft-Interop-Version',
      )
    },
  },
  {
    id: 'version.no-104-unsupported-version',
    title:
      'draft-13 Appendix B (every interop version, draft-01 §4.2 on): no 104 to a creation with an interop version the server does not implement (99) or an invalid one (D04, I9-09, I10-08)',
    protocol: 'ietf',
    level: 'MUST',
    interop: ONCE,
    anyServer: true,
    async run(ctx) {
      const n = unit(ctx.discovery)
      for (const version of ['99', 'x']) {
        const r = await ctx.client.send('POST', undefined, {
          headers: { 'upload-draft-interop-version': version, 'upload-complete': '?1' },
          body: bytes(n),
        })
        ensure(
          !r.interim.some((i) => i.status === 104),
          `a 104 answered a request with Upload-Draft-Interop-Version: ${version}`,
        )
      }
    },
  },
  {
    id: 'version.no-104-invalid-complete',
    title:
      'draft-13 §4.1.2 (interop 8 on: an invalid field is ignored): no 104 to a request whose Upload-Complete is not an sf-boolean ("1") (D39)',
    protocol: 'ietf',
    level: 'MUST',
    interop: ONCE,
    anyServer: true,
    async run(ctx) {
      const n = unit(ctx.discovery)
      const r = await ctx.client.send('POST', undefined, {
        headers: draftHeaders(ctx.interop, { 'upload-complete': '1' }),
        body: bytes(n),
      })
      ensure(
        !r.interim.some((i) => i.status === 104),
        'a 104 answered a request with Upload-Complete: 1 (the field must be ignored)',
      )
    },
  },
]

const RETRIEVAL: CheckDefinition[] = [
  {
    id: 'retrieval.fields',
    title: (v) => {
      const e = expectations(v)
      const fields = [
        'Upload-Offset',
        ...(e.retrievalCompletionRequired
          ? [v === 3 ? 'Upload-Incomplete' : 'Upload-Complete']
          : []),
        ...(e.retrievalLengthRequired ? ['Upload-Length'] : []),
        ...(e.limits === 'required' ? ['Upload-Limit'] : []),
      ]
      return `${cite(v, 'retrieval')}: HEAD on an incomplete upload → ${describe(e.retrievalStatuses)} with ${fields.join(', ')} (D10, I3-03, I6-03, I10-02)`
    },
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, 2 * n, 5 * n)
      const r = await head(ctx, url)
      ensure(
        statusIn(r.final, e.retrievalStatuses),
        `HEAD: expected ${describe(e.retrievalStatuses)}, got ${r.final.status}`,
      )
      const offset = sfInteger(r.final, 'upload-offset')
      ensure(offset === 2 * n, `Upload-Offset ${offset}, expected ${2 * n}`)
      if (e.retrievalCompletionRequired) expectMarked(v, r.final, false, 'HEAD')
      if (e.retrievalLengthRequired) expectHeader(r.final, 'upload-length', String(5 * n))
      else if (r.final.headers['upload-length'] !== undefined)
        expectHeader(r.final, 'upload-length', String(5 * n))
      if (e.limits === 'required') validLimit(expectHeader(r.final, 'upload-limit'), 'HEAD')
    },
  },
  {
    id: 'retrieval.no-store',
    title: (v) => `${cite(v, 'retrieval')}: HEAD responses carry Cache-Control: no-store (D10)`,
    protocol: 'ietf',
    level: 'SHOULD',
    async run(ctx) {
      const { url } = await createIncomplete(ctx)
      const r = await head(ctx, url)
      expectSuccess(r.final)
      const directives = (r.final.headers['cache-control'] ?? '')
        .split(',')
        .map((d) => d.trim().toLowerCase())
      ensure(
        directives.includes('no-store'),
        `Cache-Control is "${r.final.headers['cache-control'] ?? ''}", expected no-store`,
      )
    },
  },
  {
    id: 'retrieval.stable',
    title: (v) =>
      `${cite(v, 'retrieval')}: two offset retrievals with nothing appended in between give the same Upload-Offset (D47)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const a = await offsetOf(ctx, url)
      const b = await offsetOf(ctx, url)
      ensure(a === n && b === n, `offsets ${a} then ${b}, expected ${n} both times`)
    },
  },
  ...leveled(
    {
      id: 'retrieval.unknown',
      title: (v) =>
        `${cite(v, 'retrieval')}: HEAD on an unknown upload → ${expectations(v).inactiveStatuses.join(' or ')} without Upload-Offset (D11, I3-09)`,
      protocol: 'ietf',
      async run(ctx) {
        const e = expectations(ctx.interop)
        const { url } = await createIncomplete(ctx)
        const r = await head(ctx, unknownUrl(url))
        expectStatus(r.final, e.inactiveStatuses)
        expectNoHeader(r.final, 'upload-offset', 'there is no such upload')
      },
    },
    INACTIVE_MUST,
    INACTIVE_SHOULD,
  ),
  {
    id: 'retrieval.upload-fields-rejected',
    title: (v) =>
      `${cite(v, 'retrieval')}: HEAD carrying ${expectations(v)
        .retrievalForbids.map(fieldName)
        .join(', ')} → 400 (I3-04, I6-04)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: EARLY,
    async run(ctx) {
      const v = ctx.interop
      const { url } = await createIncomplete(ctx)
      for (const field of expectations(v).retrievalForbids) {
        const r = await ctx.client.send('HEAD', url, {
          headers: draftHeaders(v, { [field]: FIELD_VALUE[field] ?? '0' }),
        })
        expectStatus(r.final, 400, `HEAD with ${fieldName(field)}`)
      }
    },
  },
  {
    id: 'retrieval.get',
    title: (v) =>
      `${cite(v, 'retrieval')}: GET on the upload resource is an offset retrieval (2xx), HEAD being only RECOMMENDED (I9-04, I10-06)`,
    protocol: 'ietf',
    // -12 §4.3.1 lets clients use GET; §4.3.2 states what a successful GET carries, but no MUST
    // to answer GET successfully: SHOULD. The fields of a 2xx GET are retrieval.get-fields (MUST).
    level: 'SHOULD',
    interop: [9, 10],
    async run(ctx) {
      const { url } = await createIncomplete(ctx)
      const r = await ctx.client.send('GET', url, { headers: draftHeaders(ctx.interop) })
      expectSuccess(r.final, 'GET')
    },
  },
  {
    id: 'retrieval.get-fields',
    title: (v) =>
      `${cite(v, 'retrieval')}: a 2xx to GET carries the offset retrieval fields (Upload-Offset, Upload-Limit${when(v === 9, ', Upload-Complete, Upload-Length')}) (I9-04, I10-06)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: [9, 10],
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, 2 * n, 5 * n)
      const r = await ctx.client.send('GET', url, { headers: draftHeaders(v) })
      if (!is2xx(r.final)) skip(`GET got ${r.final.status} (see retrieval.get)`)
      const offset = sfInteger(r.final, 'upload-offset')
      ensure(offset === 2 * n, `GET: Upload-Offset ${offset}, expected ${2 * n}`)
      validLimit(expectHeader(r.final, 'upload-limit'), 'GET')
      if (e.retrievalCompletionRequired) expectMarked(v, r.final, false, 'GET')
      if (e.retrievalLengthRequired) expectHeader(r.final, 'upload-length', String(5 * n))
    },
  },
]

const FIELD_VALUE: Record<string, string> = {
  'upload-offset': '0',
  'upload-complete': '?0',
  'upload-incomplete': '?1',
  'upload-length': '100',
}

function fieldName(field: string): string {
  return field.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())
}

/** The 4xx an append may get when it is invalid; `exact` pins the status (-01..-05 texts). */
function expectRejected(r: RawResponse, exact: number | undefined, what: string): void {
  if (exact === undefined) expectClientError(r, what)
  else expectStatus(r, exact, what)
}

const APPEND: CheckDefinition[] = [
  {
    id: 'append.offset-mismatch',
    title: (v) =>
      `${cite(v, 'append')}: an append at the wrong offset → 409 with the correct Upload-Offset${when(expectations(v).conflictCompletion, ' and Upload-Complete: ?0')}${when(v >= 10, '; that offset is then accepted')} (D13, I3-07, I9-03, I10-04)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const r = await patch(ctx, url, 3 * n, bytes(n), false)
      expectStatus(r.final, 409)
      expectHeader(r.final, 'upload-offset', String(n))
      if (e.conflictCompletion) expectMarked(v, r.final, false, '409')
      await expectOffset(ctx, url, n, 'after the rejected append')
      if (e.conflictOffsetAccepted) {
        // -13 §4.6: the offset of a final response MUST be accepted by the next append.
        const next = await patch(ctx, url, n, bytes(n), false)
        expectSuccess(next.final, 'append at the offset from the 409')
      }
    },
  },
  {
    id: 'append.offset-behind',
    title: (v) =>
      `${cite(v, 'append')}: an append behind the offset → 409 with the correct Upload-Offset, nothing written (D14)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, 2 * n)
      const r = await patch(ctx, url, n, bytes(n, 4), false)
      expectStatus(r.final, 409)
      expectHeader(r.final, 'upload-offset', String(2 * n))
      await expectOffset(ctx, url, 2 * n, 'after the rejected append')
    },
  },
  {
    id: 'append.offset-mismatch-marked',
    title: (v) => `${cite(v, 'append')}: a 409 carries Upload-Complete: ?0 (D13)`,
    protocol: 'ietf',
    // -09 required it ("any response" to a non-completing append); -10/-11 dropped the rule.
    level: 'SHOULD',
    interop: versionsWhere((e) => !e.conflictCompletion && e.incompleteMarked === 'should'),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const r = await patch(ctx, url, 3 * n, bytes(n), false)
      expectStatus(r.final, 409)
      expectMarked(ctx.interop, r.final, false, '409')
    },
  },
  {
    id: 'append.mismatch-problem',
    title: (v) =>
      `${cite(v, 'problems')}: a 409 using the mismatching-upload-offset problem type populates expected-offset and provided-offset (D13)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.problemTypes),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const r = await patch(ctx, url, 3 * n, bytes(n), false)
      expectStatus(r.final, 409)
      const body = problemOf(r.final)
      if (body?.type !== PROBLEM_TYPE.mismatchingOffset)
        skip('the 409 does not use the mismatching-upload-offset problem type (optional)')
      ensure(
        body['expected-offset'] === n && body['provided-offset'] === 3 * n,
        `expected-offset ${String(body['expected-offset'])} and provided-offset ${String(body['provided-offset'])}, expected ${n} and ${3 * n}`,
      )
    },
  },
  {
    id: 'append.incomplete',
    title: (v) => {
      const e = expectations(v)
      return `${cite(v, 'append')}: an append with ${moreFollows(v)} at the offset → ${describe(e.incompleteAppendStatuses)}${e.incompleteMarked === 'must' ? ` with ${moreFollows(v)}` : ''}${when(e.responseOffsetRequired, ' and the new Upload-Offset')}${when(e.appendOffsetExact, ', any Upload-Offset equal to offset + length')}; the offset grows by the content (D12, I3-06, I6-06, I10-03)`
    },
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, 2 * n)
      const r = await patch(ctx, url, 2 * n, bytes(2 * n, 6), false)
      ensure(
        statusIn(r.final, e.incompleteAppendStatuses),
        `append: expected ${describe(e.incompleteAppendStatuses)}, got ${r.final.status}`,
      )
      if (e.incompleteMarked === 'must') expectMarked(v, r.final, false, 'incomplete append')
      if (
        e.responseOffsetRequired ||
        (e.appendOffsetExact && r.final.headers['upload-offset'] !== undefined)
      )
        expectHeader(r.final, 'upload-offset', String(4 * n))
      await expectOffset(ctx, url, 4 * n, 'after the append')
    },
  },
  {
    id: 'append.incomplete-marked',
    title: (v) =>
      `${cite(v, 'append')}: a 2xx to an append with Upload-Complete: ?0 carries Upload-Complete: ?0 (D12, I10-03)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.incompleteMarked === 'should'),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx)
      const r = await patch(ctx, url, 0, bytes(n), false)
      expectSuccess(r.final)
      expectMarked(ctx.interop, r.final, false, 'incomplete append')
    },
  },
  {
    id: 'append.complete',
    title: (v) =>
      `${cite(v, 'append')}: an append with ${completes(v)} and the rest → 2xx${v <= 6 ? ' with Upload-Offset = length, never "incomplete"' : ' with Upload-Complete: ?1'}; the upload is then complete (D18, I10-07)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, 2 * n, 5 * n)
      const r = await patch(ctx, url, 2 * n, bytes(3 * n, 7), true)
      expectCompletingResponse(ctx, r.final, 5 * n, 'append')
      await expectCompleted(ctx, url, 5 * n)
    },
  },
  {
    id: 'append.complete-empty',
    title: (v) =>
      `${cite(v, 'append')}: an empty append with Upload-Complete: ?1 after all content completes the upload (D19)`,
    protocol: 'ietf',
    level: 'MUST',
    // -03 on: "The request content MAY be empty".
    interop: [5, 6, 7, 8, 9, 10],
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, 2 * n, 2 * n)
      const r = await patch(ctx, url, 2 * n, EMPTY, true)
      expectCompletingResponse(ctx, r.final, 2 * n, 'append')
      await expectCompleted(ctx, url, 2 * n)
    },
  },
  {
    id: 'append.invalid-offset',
    title: (v) =>
      `${cite(v, 'append')}: an append without a valid Upload-Offset (missing, -5, abc, 16 digits) → 4xx, nothing appended (D15)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      for (const value of [undefined, '-5', 'abc', '1234567890123456']) {
        const what =
          value === undefined ? 'an append without Upload-Offset' : `Upload-Offset: ${value}`
        const r = await patch(
          ctx,
          url,
          undefined,
          bytes(n),
          false,
          value === undefined ? {} : { 'upload-offset': value },
        )
        expectClientError(r.final, what)
        await expectOffset(ctx, url, n, `after ${what}`)
      }
    },
  },
  {
    id: 'append.failure-offset',
    title: (v) =>
      `${cite(v, 'append')}: a rejected append to an active upload (no Upload-Offset, Upload-Offset: abc, wrong offset${when(v === 6, ', wrong media type')}) still carries the current Upload-Offset (D13, D15)`,
    protocol: 'ietf',
    level: 'MUST',
    // -01..-05 §6: "MUST send the Upload-Offset header field in the response if it considers the
    // upload active, either when the response is a success […], or when the response is a failure".
    interop: versionsWhere((e) => e.responseOffsetRequired),
    async run(ctx) {
      const e = expectations(ctx.interop)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const cases: { what: string; offset: number | undefined; headers: Record<string, string> }[] =
        [
          { what: 'an append without Upload-Offset', offset: undefined, headers: {} },
          { what: 'Upload-Offset: abc', offset: undefined, headers: { 'upload-offset': 'abc' } },
          { what: 'an append at the wrong offset', offset: 3 * n, headers: {} },
        ]
      if (e.appendMediaType !== undefined)
        cases.push({
          what: 'an append as application/octet-stream',
          offset: n,
          headers: { 'content-type': MEDIA_TYPE.octetStream },
        })
      const wrong: string[] = []
      for (const c of cases) {
        const r = await patch(ctx, url, c.offset, bytes(n), false, c.headers)
        // A 2xx is judged elsewhere; the upload must stay at n for the next case.
        if (is2xx(r.final)) fail(`${c.what} was accepted (${r.final.status})`)
        const value = r.final.headers['upload-offset']
        if (value !== String(n))
          wrong.push(
            `${c.what}: ${r.final.status} ${value === undefined ? 'without Upload-Offset' : `with Upload-Offset: ${value}`}`,
          )
      }
      if (wrong.length > 0) fail(`${wrong.join('; ')} (the upload is active at ${n})`)
    },
  },
  {
    id: 'append.invalid-complete',
    title: (v) =>
      `${cite(v, 'append')}: an append without a valid Upload-Complete (missing, "true", "1") → 4xx, nothing appended (D16, I10-05)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.missingCompletion === 'invalid'),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      for (const value of [undefined, 'true', '1']) {
        const what =
          value === undefined ? 'an append without Upload-Complete' : `Upload-Complete: ${value}`
        const r = await patch(
          ctx,
          url,
          n,
          bytes(n),
          undefined,
          value === undefined ? {} : { 'upload-complete': value },
        )
        expectClientError(r.final, what)
        await expectOffset(ctx, url, n, `after ${what}`)
      }
    },
  },
  {
    id: 'append.missing-complete',
    title: (v) =>
      v === 3
        ? `${cite(v, 'append')}: an append without Upload-Incomplete completes the upload (2xx, Upload-Offset = length) (I3-05)`
        : `${cite(v, 'append')}: an append without Upload-Complete appends without completing (201, Upload-Offset; still incomplete) (protocol-matrix 3b)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.missingCompletion !== 'invalid'),
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const r = await patch(ctx, url, n, bytes(n, 8), undefined)
      if (e.missingCompletion === 'complete') {
        expectCompletingResponse(ctx, r.final, 2 * n, 'append')
        await expectCompleted(ctx, url, 2 * n)
        return
      }
      ensure(
        statusIn(r.final, e.incompleteAppendStatuses),
        `append: expected ${describe(e.incompleteAppendStatuses)}, got ${r.final.status}`,
      )
      expectHeader(r.final, 'upload-offset', String(2 * n))
      const h = await head(ctx, url)
      expectSuccess(h.final, 'offset retrieval')
      expectHeader(h.final, 'upload-offset', String(2 * n))
      expectMarked(v, h.final, false, 'offset retrieval after an append without Upload-Complete')
    },
  },
  {
    id: 'append.any-media-type',
    title: (v) =>
      `${cite(v, 'append')}: an append with Content-Type: video/mp4 is accepted (no media type before -04) (I3-05)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.appendMediaType === undefined),
    async run(ctx) {
      const e = expectations(ctx.interop)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const r = await patch(ctx, url, n, bytes(n), false, { 'content-type': 'video/mp4' })
      ensure(
        statusIn(r.final, e.incompleteAppendStatuses),
        `append: expected ${describe(e.incompleteAppendStatuses)}, got ${r.final.status}`,
      )
      await expectOffset(ctx, url, 2 * n, 'after the append')
    },
  },
  {
    id: 'append.media-type',
    title: (v) =>
      `${cite(v, 'append')}: an append that is not application/partial-upload (application/octet-stream) → 4xx, nothing appended (D17, I6-05)`,
    protocol: 'ietf',
    // The drafts only oblige the client; the rejection is RFC 5789 practice (protocol.md E.6).
    level: 'SHOULD',
    interop: FROM6,
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n)
      const r = await patch(ctx, url, n, bytes(n), false, {
        'content-type': MEDIA_TYPE.octetStream,
      })
      expectClientError(r.final)
      await expectOffset(ctx, url, n, 'after the rejected append')
    },
  },
  {
    id: 'append.completed-upload',
    title: (v) => {
      const e = expectations(v)
      const outcome =
        e.completedAppend === 'reject-400'
          ? '400'
          : e.completedAppend === 'reject'
            ? '4xx'
            : 'the replayed final response (Upload-Complete: ?1) or a 4xx without Upload-Complete: ?1'
      return `${cite(v, 'append')}: appending to a completed upload (content with ?0, empty with ?1) → ${outcome}; the upload is unchanged (D20, D21, I6-08, I9-08, I10-07)`
    },
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.completedAppend !== 'none'),
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const url = await createCompleted(ctx, 2 * n)
      const cases = [
        { what: 'an append with content and Upload-Complete: ?0', body: bytes(n), complete: false },
        { what: 'an empty append with Upload-Complete: ?1', body: EMPTY, complete: true },
      ]
      for (const c of cases) {
        const r = await patch(ctx, url, 2 * n, c.body, c.complete)
        if (e.completedAppend === 'reject-400') {
          // -05 §6: 400; 404 if the server no longer considers the upload active.
          expectStatus(r.final, [400, 404], c.what)
        } else if (e.completedAppend === 'reject') {
          expectClientError(r.final, c.what)
        } else if (is2xx(r.final)) {
          expectMarked(v, r.final, true, `${c.what} (a replayed final response)`)
        } else {
          expectClientError(r.final, c.what)
          ensure(
            isMarkedComplete(v, r.final.headers) !== true,
            `${c.what}: a ${r.final.status} with Upload-Complete: ?1 is neither a replay nor a protocol error`,
          )
        }
        await expectCompleted(ctx, url, 2 * n)
      }
    },
  },
  {
    id: 'append.past-length',
    title: (v) =>
      `${cite(v, 'append')}: a chunked append past the recorded Upload-Length → ${v === 6 ? '400' : '4xx'}; the offset never exceeds the length (D22, I6-09)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.pastLengthStatus !== 'none'),
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n, 2 * n)
      const r = await patch(ctx, url, n, bytes(2 * n), false, {}, { chunked: true })
      expectRejected(
        r.final,
        e.pastLengthStatus === 400 ? 400 : undefined,
        'append past the length',
      )
      for (const m of [...r.interim, r.final]) {
        if (m.headers['upload-offset'] === undefined) continue
        const offset = sfInteger(m, 'upload-offset')
        ensure(offset <= 2 * n, `a ${m.status} reports offset ${offset}, past the length ${2 * n}`)
      }
      const h = await head(ctx, url)
      // -08 on: the upload resource is invalidated (4xx); before, it stops at the length.
      if (is2xx(h.final)) {
        const offset = sfInteger(h.final, 'upload-offset')
        ensure(offset <= 2 * n, `offset retrieval: ${offset}, past the length ${2 * n}`)
      }
    },
  },
  {
    id: 'append.inconsistent-length',
    title: (v) =>
      `${cite(v, v <= 6 ? 'append' : 'length')}: an append whose length disagrees with the recorded Upload-Length (${when(v >= 7, 'another Upload-Length; ')}?1 content ending elsewhere) → ${v === 6 ? '400' : '4xx'}, nothing appended (${when(v >= 7, 'D23, ')}D24)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: FROM6,
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n, 4 * n)
      if (e.appendUploadLength) {
        const r = await patch(ctx, url, n, bytes(n), false, { 'upload-length': String(5 * n) })
        expectClientError(r.final, 'append with another Upload-Length')
        await expectOffset(ctx, url, n, 'after the append with another Upload-Length')
      }
      const r = await patch(ctx, url, n, bytes(n), true)
      expectRejected(
        r.final,
        v === 6 ? 400 : undefined,
        'completing append ending before the length',
      )
      const h = await head(ctx, url)
      if (is2xx(h.final)) expectHeader(h.final, 'upload-offset', String(n))
    },
  },
  {
    id: 'append.length-problem',
    title: (v) =>
      `${cite(v, 'problems')}: a problem body for inconsistent lengths uses the inconsistent-upload-length type (D24)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.inconsistentLengthProblem),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n, 4 * n)
      const r = await patch(ctx, url, n, bytes(n), true)
      expectClientError(r.final)
      const body = problemOf(r.final)
      if (body === undefined) skip(`the ${r.final.status} has no problem details (optional)`)
      ensure(
        body.type === PROBLEM_TYPE.inconsistentLength,
        `problem type "${String(body.type)}", expected ${PROBLEM_TYPE.inconsistentLength}`,
      )
    },
  },
  {
    id: 'append.deferred-length',
    title: (v) =>
      `${cite(v, 'length')}: a length first given on an append (Upload-Length) is recorded${when(v <= 9, ' and reported by HEAD')}; none before (D25)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.appendUploadLength),
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx)
      const before = await head(ctx, url)
      expectSuccess(before.final, 'offset retrieval')
      expectNoHeader(before.final, 'upload-length', 'no length was supplied yet')
      const r = await patch(ctx, url, 0, bytes(n), false, { 'upload-length': String(10 * n) })
      expectSuccess(r.final, 'append with Upload-Length')
      const after = await head(ctx, url)
      expectSuccess(after.final, 'offset retrieval')
      if (e.retrievalLengthRequired || after.final.headers['upload-length'] !== undefined)
        expectHeader(after.final, 'upload-length', String(10 * n))
    },
  },
  {
    id: 'append.chunked-length',
    title: (v) =>
      `${cite(v, 'length')}: a chunked append with Upload-Complete: ?1 ending before the recorded Upload-Length → 4xx, the upload not completed (I9-06)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.actualLengthIndicates),
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx, n, 4 * n)
      const r = await patch(ctx, url, n, bytes(n), true, {}, { chunked: true })
      expectClientError(r.final, 'chunked completing append with the wrong length')
      const h = await head(ctx, url)
      if (!is2xx(h.final)) return
      const offset = sfInteger(h.final, 'upload-offset')
      ensure(offset <= 4 * n, `offset ${offset} past the length ${4 * n}`)
      if (e.retrievalCompletionRequired && isMarkedComplete(v, r.final.headers) !== true)
        expectMarked(v, h.final, false, 'offset retrieval after the rejected append')
    },
  },
  {
    id: 'append.progress',
    title: (v) =>
      `${cite(v, 'append')}: 104s during an append carry Upload-Draft-Interop-Version: ${v} and no Location; their Upload-Offset never decreases, never exceeds the bytes sent or the final offset (D33, D34)`,
    protocol: 'ietf',
    level: 'MUST',
    // -03 on: progress 104s (MAY; SHOULD from -09, see append.progress-104).
    interop: PROGRESS,
    async run(ctx) {
      const v = ctx.interop
      const s = await slowAppend(ctx, PROGRESS)
      expectSuccess(s.exchange.final, 'slow append')
      const interim = s.exchange.interim
      if (!interim.some((i) => i.status === 104)) skip('no 104 during the append (optional here)')
      let last = s.start
      interim.forEach((i, k) => {
        if (i.status !== 104) return
        expectHeader(i, 'upload-draft-interop-version', String(v))
        expectNoHeader(i, 'location', 'a 104 to an append')
        if (i.headers['upload-offset'] === undefined) return
        const offset = sfInteger(i, 'upload-offset')
        const at = s.arrivals[k] ?? Number.POSITIVE_INFINITY
        const sent = Math.min(s.total, (Math.floor(at / s.delayMs) + 1) * s.pieceBytes)
        ensure(offset >= last, `104 #${k + 1}: offset ${offset} after ${last}`)
        ensure(
          offset <= s.start + sent,
          `104 #${k + 1}: offset ${offset} at ${Math.round(at)} ms, when at most ${sent} bytes had been sent`,
        )
        last = offset
      })
      const h = await head(ctx, s.exchange.url)
      expectSuccess(h.final, 'offset retrieval after the append')
      const offset = sfInteger(h.final, 'upload-offset')
      ensure(offset >= last, `offset ${offset} after a 104 said ${last}`)
      ensure(offset === s.start + s.total, `offset ${offset}, expected ${s.start + s.total}`)
    },
  },
  {
    id: 'append.progress-104',
    title: (v) =>
      `${cite(v, 'append')}: an append whose content takes 1.5 s gets progress 104s with Upload-Offset (D33)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.progressLevel === 'should'),
    async run(ctx) {
      const s = await slowAppend(ctx, PROGRESS)
      expectSuccess(s.exchange.final, 'slow append')
      ensure(
        s.exchange.interim.some(
          (i) => i.status === 104 && i.headers['upload-offset'] !== undefined,
        ),
        'no 104 with Upload-Offset during the append',
      )
    },
  },
  ...leveled(
    {
      id: 'append.unknown',
      title: (v) =>
        `${cite(v, 'append')}: an append to an unknown upload → ${expectations(v).inactiveStatuses.join(' or ')} (D11 and I3-09 for PATCH)`,
      protocol: 'ietf',
      async run(ctx) {
        const e = expectations(ctx.interop)
        const n = unit(ctx.discovery)
        const { url } = await createIncomplete(ctx)
        const r = await patch(ctx, unknownUrl(url), 0, bytes(n), false)
        expectStatus(r.final, e.inactiveStatuses)
      },
    },
    INACTIVE_MUST,
    INACTIVE_SHOULD,
  ),
]

const CANCELLATION: CheckDefinition[] = [
  {
    id: 'cancel.status',
    title: (v) =>
      `${cite(v, 'cancellation')}: DELETE on an upload → ${describe(expectations(v).cancellationStatuses)}${when(v <= 6, ' (405: cancellation not supported)')} (D30, I3-08, I6-11)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const e = expectations(ctx.interop)
      const { url } = await createIncomplete(ctx)
      const r = await ctx.client.send('DELETE', url, { headers: draftHeaders(ctx.interop) })
      ensure(
        statusIn(r.final, e.cancellationStatuses),
        `DELETE: expected ${describe(e.cancellationStatuses)}, got ${r.final.status}`,
      )
    },
  },
  ...leveled(
    {
      id: 'cancel.deactivates',
      title: (v) =>
        `${cite(v, 'cancellation')}: after a successful DELETE, HEAD and PATCH on the upload → ${expectations(v).inactiveStatuses.join(' or ')} (D30, I3-08)`,
      protocol: 'ietf',
      async run(ctx) {
        const e = expectations(ctx.interop)
        const n = unit(ctx.discovery)
        const { url } = await createIncomplete(ctx, n)
        const d = await ctx.client.send('DELETE', url, { headers: draftHeaders(ctx.interop) })
        if (!is2xx(d.final)) skip(`DELETE got ${d.final.status} (see cancel.status)`)
        const h = await head(ctx, url)
        expectStatus(h.final, e.inactiveStatuses, 'HEAD after DELETE')
        const p = await patch(ctx, url, n, bytes(n), false)
        expectStatus(p.final, e.inactiveStatuses, 'PATCH after DELETE')
      },
    },
    INACTIVE_MUST,
    INACTIVE_SHOULD,
  ),
  ...leveled(
    {
      id: 'cancel.unknown',
      title: (v) =>
        `${cite(v, 'cancellation')}: DELETE on an unknown upload → ${expectations(v).inactiveStatuses.join(' or ')} (D32)`,
      protocol: 'ietf',
      async run(ctx) {
        const e = expectations(ctx.interop)
        const { url } = await createIncomplete(ctx)
        const r = await ctx.client.send('DELETE', unknownUrl(url), {
          headers: draftHeaders(ctx.interop),
        })
        expectStatus(r.final, e.inactiveStatuses)
      },
    },
    INACTIVE_MUST,
    INACTIVE_SHOULD,
  ),
  {
    id: 'cancel.upload-fields-rejected',
    title: (v) =>
      `${cite(v, 'cancellation')}: DELETE carrying ${expectations(v)
        .cancellationForbids.map(fieldName)
        .join(' or ')} → 400, the upload kept (I3-08, I6-11)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: EARLY,
    async run(ctx) {
      const v = ctx.interop
      const { url } = await createIncomplete(ctx)
      for (const field of expectations(v).cancellationForbids) {
        const r = await ctx.client.send('DELETE', url, {
          headers: draftHeaders(v, { [field]: FIELD_VALUE[field] ?? '0' }),
        })
        expectStatus(r.final, 400, `DELETE with ${fieldName(field)}`)
        await expectOffset(ctx, url, 0, `after DELETE with ${fieldName(field)}`)
      }
    },
  },
  ...leveled(
    {
      id: 'redirect.none',
      title: (v) =>
        `${cite(v, 'redirect')}: HEAD and DELETE on an upload are not answered with ${expectations(v).redirectCodes.join('/')} (D10, D30)`,
      protocol: 'ietf',
      async run(ctx) {
        const e = expectations(ctx.interop)
        const { url } = await createIncomplete(ctx)
        const h = await head(ctx, url)
        const d = await ctx.client.send('DELETE', url, { headers: draftHeaders(ctx.interop) })
        for (const [what, r] of [
          ['HEAD', h.final],
          ['DELETE', d.final],
        ] as const) {
          ensure(!e.redirectCodes.includes(r.status), `${what} was answered with ${r.status}`)
        }
      },
    },
    versionsWhere((e) => e.noRedirect === 'must'),
    versionsWhere((e) => e.noRedirect === 'should'),
  ),
]

/** Every Upload-Limit a version's ordinary exchanges carry, with where it was seen. */
async function collectLimits(ctx: CheckContext): Promise<{ where: string; value: string }[]> {
  const v = ctx.interop
  const n = unit(ctx.discovery)
  const out: { where: string; value: string }[] = []
  const add = (where: string, r: RawResponse): void => {
    const value = r.headers['upload-limit']
    if (value !== undefined) out.push({ where: `${where} (${r.status})`, value })
  }
  const o = await ctx.client.send('OPTIONS', undefined, { headers: draftHeaders(v) })
  add('OPTIONS', o.final)
  const created = await post(ctx, false, bytes(n), lengthHeader(v, 4 * n))
  for (const i of created.interim) add('creation interim', i)
  add('creation', created.final)
  expectSuccess(created.final, 'creation')
  const url = ctx.client.url(
    announcement(created)?.headers.location ?? expectHeader(created.final, 'location'),
  )
  add('HEAD', (await head(ctx, url)).final)
  add('append', (await patch(ctx, url, n, bytes(n), false)).final)
  add('409', (await patch(ctx, url, 4 * n, bytes(n), false)).final)
  return out
}

const OPTIONS: CheckDefinition[] = [
  ...leveled(
    {
      id: 'options.upload-limit',
      title: (v) =>
        `${cite(v, 'limits')}: OPTIONS on the creation resource carries Upload-Limit (min-size=0 when there are no limits, never empty) (D01, I6-02, I9-05)`,
      protocol: 'ietf',
      async run(ctx) {
        const r = await ctx.client.send('OPTIONS', undefined, {
          headers: draftHeaders(ctx.interop),
        })
        expectSuccess(r.final, 'OPTIONS')
        validLimit(expectHeader(r.final, 'upload-limit'), 'OPTIONS')
      },
    },
    versionsWhere((e) => e.optionsLimit === 'must'),
    versionsWhere((e) => e.optionsLimit === 'should'),
  ),
  {
    id: 'options.accept-patch',
    title: (v) =>
      `${cite(v, 'limits')}: OPTIONS on the creation resource carries Accept-Patch listing application/partial-upload (-10/-11 MUST, not in -09) (D01)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.acceptPatch),
    async run(ctx) {
      const r = await ctx.client.send('OPTIONS', undefined, { headers: draftHeaders(ctx.interop) })
      expectSuccess(r.final, 'OPTIONS')
      const types = expectHeader(r.final, 'accept-patch')
        .split(',')
        .map((t) => (t.split(';')[0] ?? '').trim().toLowerCase())
      ensure(
        types.includes(MEDIA_TYPE.partialUpload),
        `Accept-Patch "${r.final.headers['accept-patch'] ?? ''}" does not list application/partial-upload`,
      )
    },
  },
]

const LIMITS: CheckDefinition[] = [
  {
    id: 'limits.syntax',
    title: (v) =>
      `${cite(v, 'limits')}: every Upload-Limit (OPTIONS, 104, creation, HEAD, append, 409) is a non-empty Dictionary with Integer limits (D38)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: versionsWhere((e) => e.uploadLimit),
    async run(ctx) {
      const seen = await collectLimits(ctx)
      if (seen.length === 0) skip('no response carried Upload-Limit')
      for (const { where, value } of seen) validLimit(value, where)
    },
  },
  {
    id: 'limits.lifetime-key',
    title: (v) =>
      `${cite(v, 'limits')}: the lifetime limit is named ${expectations(v).lifetimeKey}${v === 6 ? ' (max-age came with -06)' : ' (expires was -04/-05)'} (I6-10)`,
    protocol: 'ietf',
    // protocol.md I6-10 is an inference from the -06 rename.
    level: 'SHOULD',
    interop: versionsWhere((e) => e.uploadLimit),
    async run(ctx) {
      const e = expectations(ctx.interop)
      const other = e.lifetimeKey === 'expires' ? 'max-age' : 'expires'
      const seen = await collectLimits(ctx)
      let lifetime = false
      for (const { where, value } of seen) {
        const dict = parseDictionary(value)
        if (dict === undefined) continue
        ensure(
          !dict.has(other),
          `${where}: Upload-Limit "${value}" uses ${other}, not ${e.lifetimeKey}`,
        )
        lifetime ||= dict.has(e.lifetimeKey)
      }
      if (!lifetime) skip('no response announced a lifetime')
    },
  },
  {
    id: 'limits.max-append-size',
    title: (v) =>
      `${cite(v, 'limits')}: an append over max-append-size is appended whole or rejected with 4xx (413 typical)${when(v >= 9, ' carrying Upload-Limit')}, the offset unchanged (D35, I9-07)`,
    protocol: 'ietf',
    // The limit says the server "might reject" larger requests: no MUST either way.
    level: 'SHOULD',
    interop: FROM6,
    skipUnless: needsLimit('max-append-size'),
    async run(ctx) {
      const v = ctx.interop
      const max = announcedLimits(ctx.discovery).get('max-append-size') ?? 0
      const { url } = await createIncomplete(ctx)
      const size = max + Math.max(1, Math.min(1024, max))
      const r = await patch(ctx, url, 0, bytes(size), false)
      if (is2xx(r.final)) {
        await expectOffset(ctx, url, size, 'after the accepted append')
        return
      }
      expectClientError(r.final, 'append over max-append-size')
      if (v >= 9) expectHeader(r.final, 'upload-limit')
      await expectOffset(ctx, url, 0, 'after the rejected append')
    },
  },
  {
    id: 'limits.min-append-size',
    title: (v) =>
      `${cite(v, 'limits')}: min-append-size rejects neither an empty creation nor a completing append smaller than it (D36, I9-02)`,
    protocol: 'ietf',
    level: 'MUST',
    interop: FROM6,
    skipUnless: needsLimit('min-append-size'),
    async run(ctx) {
      const min = announcedLimits(ctx.discovery).get('min-append-size') ?? 0
      const { url } = await createIncomplete(ctx)
      const r = await patch(ctx, url, 0, bytes(Math.max(0, min - 1)), true)
      expectSuccess(r.final, `completing append of ${Math.max(0, min - 1)} bytes`)
    },
  },
  {
    id: 'limits.max-size',
    title: (v) =>
      `${cite(v, 'limits')}: a creation whose Upload-Length exceeds max-size → 4xx${when(v >= 9, ' carrying Upload-Limit')}, no 104 announcing an upload (D09)`,
    protocol: 'ietf',
    // "The server might not create an upload resource": SHOULD.
    level: 'SHOULD',
    interop: FROM6,
    skipUnless: needsLimit('max-size'),
    async run(ctx) {
      const v = ctx.interop
      const max = announcedLimits(ctx.discovery).get('max-size') ?? 0
      const r = await post(ctx, false, EMPTY, { 'upload-length': String(max + 1) })
      expectClientError(r.final, 'creation over max-size')
      ensure(announcement(r) === undefined, 'a 104 announced an upload that exceeds max-size')
      if (v >= 9) expectHeader(r.final, 'upload-limit')
    },
  },
  {
    id: 'limits.expiry',
    title: (v) =>
      `${cite(v, 'limits')}: after its ${expectations(v).lifetimeKey} lifetime an upload answers HEAD and PATCH with 404/410, or normally with an end of life that did not move earlier (D37, I10-10)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: FROM6,
    async run(ctx) {
      if (ctx.options.expireWaitMs === 0) skip('expiration checks are off (--expire-wait 0)')
      await observeOnce(ctx, 'expiry', FROM6, observeExpiry)
    },
  },
]

/** D37/I10-10 for one version: wait out an upload's lifetime, then HEAD and PATCH it. */
async function observeExpiry(ctx: CheckContext): Promise<void> {
  const e = expectations(ctx.interop)
  const wait = ctx.options.expireWaitMs
  const started = Date.now()
  const { url, exchange } = await createIncomplete(ctx)
  let lifetime = lifetimeOf(exchange.final, e.lifetimeKey)
  if (lifetime === undefined) lifetime = lifetimeOf((await head(ctx, url)).final, e.lifetimeKey)
  if (lifetime === undefined) skip(`the upload announces no ${e.lifetimeKey}`)
  const ms = lifetime * 1000 + 500
  if (ms > wait) skip(`its lifetime (${lifetime} s) exceeds --expire-wait (${wait} ms)`)
  const end = started + lifetime * 1000
  await sleep(ms)
  const h = await head(ctx, url)
  const p = () => patch(ctx, url, 0, bytes(unit(ctx.discovery)), false)
  if (h.final.status === 404 || h.final.status === 410) {
    expectStatus((await p()).final, [404, 410], 'PATCH on the expired upload')
    return
  }
  expectSuccess(h.final, 'HEAD after the lifetime')
  const left = lifetimeOf(h.final, e.lifetimeKey)
  if (left !== undefined)
    ensure(
      Date.now() + left * 1000 >= end - 1000,
      `the end of life moved earlier: ${e.lifetimeKey}=${left} after the announced ${lifetime} s passed`,
    )
  const r = (await p()).final
  ensure(
    is2xx(r) || r.status === 404 || r.status === 410,
    `PATCH after the lifetime got ${r.status}`,
  )
}

const DIGESTS: CheckDefinition[] = [
  {
    id: 'digest.content-mismatch',
    title: (v) =>
      `${cite(v, 'digests')}: an append whose Content-Digest does not match its content fails, nothing appended (D40)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.digests),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const { url } = await createIncomplete(ctx)
      const r = await patch(ctx, url, 0, bytes(n), false, {
        'content-digest': sha256Field(bytes(n, 9)),
      })
      expectClientError(r.final)
      await expectOffset(ctx, url, 0, 'after the append with a wrong Content-Digest')
    },
  },
  {
    id: 'digest.repr-mismatch',
    title: (v) =>
      `${cite(v, 'digests')}: a completed upload whose Repr-Digest does not match is not processed and the failure is signalled (D41)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.digests),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const r = await post(ctx, true, bytes(n), { 'repr-digest': sha256Field(bytes(n, 9)) })
      ensure(
        r.final.status >= 400,
        `a ${r.final.status} answered an upload with a wrong Repr-Digest`,
      )
    },
  },
  {
    id: 'digest.want-repr',
    title: (v) =>
      `${cite(v, 'digests')}: with Want-Repr-Digest: sha-256=10 the completing response carries the correct Repr-Digest (D42)`,
    protocol: 'ietf',
    level: 'SHOULD',
    interop: versionsWhere((e) => e.digests),
    async run(ctx) {
      const n = unit(ctx.discovery)
      const content = bytes(n, 10)
      const r = await post(ctx, true, content, { 'want-repr-digest': 'sha-256=10' })
      expectSuccess(r.final)
      const value = expectHeader(r.final, 'repr-digest')
      const member = parseDictionary(value)?.get('sha-256')
      if (member?.kind !== 'item' || member.value.type !== 'binary')
        fail(`Repr-Digest "${value}" has no sha-256 Byte Sequence`)
      ensure(
        `sha-256=:${Buffer.from(member.value.value).toString('base64')}:` === sha256Field(content),
        `Repr-Digest "${value}" is not the SHA-256 of the content`,
      )
    },
  },
]

export const IETF_CHECKS: readonly CheckDefinition[] = [
  ...OPTIONS,
  ...CREATION,
  ...VERSION,
  ...RETRIEVAL,
  ...APPEND,
  ...CANCELLATION,
  ...LIMITS,
  ...DIGESTS,
]
