/**
 * @module Checks for tus 1.0.0 core and its extensions (tus-resumable-upload-protocol
 * protocol.md, version 1.0.0; ../shared/reference/protocol.md §3 and §4.4 give the T-cases).
 */
import { ensure, expectHeader, expectStatus, expectSuccess } from '../expect.ts'
import type { CheckDefinition } from '../types.ts'
import { bytes, TUS, tusCreate, tusOffset, tusPatch } from './common.ts'

export const TUS_CHECKS: readonly CheckDefinition[] = [
  {
    id: 'tus.options.version',
    title: 'tus 1.0.0 §OPTIONS: 200/204 with Tus-Version listing 1.0.0 (T01)',
    protocol: 'tus',
    level: 'MUST',
    async run(ctx) {
      const r = await ctx.client.send('OPTIONS', undefined)
      expectStatus(r.final, [200, 204])
      expectHeader(r.final, 'tus-version', /(^|,\s*)1\.0\.0(\s*,|$)/)
    },
  },
  {
    id: 'tus.creation.created',
    title:
      'tus 1.0.0 §Creation: POST with Upload-Length → 201 Created with Location and Tus-Resumable (T04)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const r = await ctx.client.send('POST', undefined, {
        headers: { ...TUS, 'upload-length': '100', 'content-length': '0' },
      })
      expectStatus(r.final, 201)
      expectHeader(r.final, 'location')
      expectHeader(r.final, 'tus-resumable', '1.0.0')
    },
  },
  {
    id: 'tus.head.fresh',
    title:
      'tus 1.0.0 §HEAD: Upload-Offset 0 and Upload-Length on a new upload, Cache-Control: no-store (T13)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const r = await ctx.client.send('HEAD', url, { headers: TUS })
      expectSuccess(r.final)
      expectHeader(r.final, 'upload-offset', '0')
      expectHeader(r.final, 'upload-length', '100')
      expectHeader(r.final, 'cache-control', /no-store/)
    },
  },
  {
    id: 'tus.patch.offset-mismatch',
    title: 'tus 1.0.0 §PATCH: Upload-Offset ≠ the offset → 409 Conflict, upload unchanged (T17)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      expectStatus((await tusPatch(ctx, url, 0, bytes(40))).final, 204, 'first PATCH')
      const r = await tusPatch(ctx, url, 10, bytes(5))
      expectStatus(r.final, 409)
      ensure((await tusOffset(ctx, url)) === 40, 'the offset changed after a rejected PATCH')
    },
  },
]
