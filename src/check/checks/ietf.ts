/**
 * @module Checks for the IETF draft "Resumable Uploads for HTTP", each run once per interop
 * version it applies to (../shared/reference/protocol.md §1-2, §4.1-4.3, §7.7, §8.6-8.7).
 */
import { ensure, expectHeader, expectStatus, expectSuccess, fail } from '../expect.ts'
import {
  appendHeaders,
  cite,
  completion,
  draftHeaders,
  expectations,
  isMarkedComplete,
} from '../expectations.ts'
import type { CheckDefinition } from '../types.ts'
import { bytes, draftCreate, draftOffset } from './common.ts'

export const IETF_CHECKS: readonly CheckDefinition[] = [
  {
    id: 'create.interim-104',
    title: (v) =>
      `${cite(v, 'interim')}: a creation gets 104 with Location and Upload-Draft-Interop-Version: ${v} before the final response (D02)`,
    protocol: 'ietf',
    level: 'SHOULD',
    async run(ctx) {
      const v = ctx.interop
      const r = await ctx.client.send('POST', undefined, {
        headers: draftHeaders(v, completion(v, true)),
        body: bytes(1000),
      })
      const interim = r.interim.filter((i) => i.status === 104)
      if (interim.length === 0)
        fail('no 104 (Upload Resumption Supported) before the final response')
      const first = interim[0]
      if (first === undefined) return
      // Appendix B / §4.2: the 104 MUST carry the version and Location.
      expectHeader(first, 'upload-draft-interop-version', String(v))
      expectHeader(first, 'location')
      expectSuccess(r.final)
    },
  },
  {
    id: 'append.offset-mismatch',
    title: (v) =>
      `${cite(v, 'append')}: an append at the wrong offset → 409 with the correct Upload-Offset (D13)`,
    protocol: 'ietf',
    level: 'MUST',
    async run(ctx) {
      const v = ctx.interop
      const e = expectations(v)
      const { url } = await draftCreate(ctx, {}, bytes(30))
      const r = await ctx.client.send('PATCH', url, {
        headers: appendHeaders(v, 90, false),
        body: bytes(10),
      })
      expectStatus(r.final, 409)
      expectHeader(r.final, 'upload-offset', '30')
      if (e.conflictCompletion)
        ensure(isMarkedComplete(v, r.final.headers) === false, '409 lacks Upload-Complete: ?0')
      ensure((await draftOffset(ctx, url)) === 30, 'the offset changed after a rejected append')
    },
  },
]
