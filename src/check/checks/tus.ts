/**
 * @module Checks for tus 1.0.0 core and its extensions (tus-resumable-upload-protocol
 * protocol.md, version 1.0.0; ../shared/reference/protocol.md §3 and §4.4 give the T-cases).
 * MUST and MUST NOT are MUST checks, SHOULD and RECOMMENDED are SHOULD checks; what the spec
 * leaves open (status codes it does not name, tusd behaviour) is a SHOULD at most, and accepts
 * every answer the text allows.
 */
import {
  ensure,
  expectClientError,
  expectHeader,
  expectNoHeader,
  expectStatus,
  expectSuccess,
  fail,
  skip,
  tusInteger,
} from '../expect.ts'
import type { RawResponse } from '../raw-http.ts'
import type { CheckContext, CheckDefinition, Discovery } from '../types.ts'
import { bytes, OFFSET_STREAM, TUS, tusCreate, tusOffset, tusPatch } from './common.ts'
import {
  createdUrl,
  expectOffset,
  expectRefusedUnchanged,
  imfFixdate,
  metadataPairs,
  pathOf,
  rawPatch,
  sha1,
  sleep,
  tusHead,
  tusPost,
  tusState,
  tusUpload,
  unknownUpload,
  unsupportedAlgorithm,
  unsupportedVersion,
} from './tus-helpers.ts'

/** Statuses the spec allows for an upload that does not exist (§HEAD: 404, 410 or 403). */
const GONE = [404, 410, 403] as const
/** Statuses the spec allows for an upload that was removed (§Expiration, §Termination). */
const REMOVED = [404, 410] as const

/** tus 1.0.0 §Termination: DELETE MUST answer 204 No Content. */
async function terminate(ctx: CheckContext, url: URL): Promise<void> {
  const r = await ctx.client.send('DELETE', url, { headers: { ...TUS, 'content-length': '0' } })
  expectStatus(r.final, 204, 'DELETE')
}

/** Checks of other extensions make their uploads with `creation`. */
const needsCreation = (d: Discovery): string | undefined =>
  d.tus?.extensions.has('creation') === true ? undefined : 'needs creation to make an upload'

/** A URL that names no upload: next to a fresh upload when creation is offered. */
async function unknownUrl(ctx: CheckContext): Promise<URL> {
  if (ctx.discovery.tus?.extensions.has('creation') === true)
    return unknownUpload(await tusCreate(ctx, 1))
  const base = ctx.client.url()
  if (!base.pathname.endsWith('/')) base.pathname += '/'
  return unknownUpload(base)
}

/** PATCH with an Upload-Offset that cannot match (tus 1.0.0 §PATCH: MUST equal the offset). */
function badOffset(id: string, what: string, offset: string | undefined): CheckDefinition {
  return {
    id: `tus.patch.offset-${id}`,
    title: `tus 1.0.0 §PATCH: Upload-Offset ${what} → 4xx (409 or 400), upload unchanged`,
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      const headers = offset === undefined ? {} : { 'upload-offset': offset }
      const r = await rawPatch(ctx, url, headers, bytes(5))
      await expectRefusedUnchanged(ctx, url, r, 10, `PATCH with Upload-Offset ${what}`)
    },
  }
}

/** POST with an Upload-Length that is not a non-negative integer (tus 1.0.0 §Upload-Length). */
function badLength(id: string, value: string): CheckDefinition {
  return {
    id: `tus.creation.length-${id}`,
    title: `tus 1.0.0 §Creation: Upload-Length: ${value} (not an integer ≥ 0) → 4xx, no upload`,
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const r = await tusPost(ctx, { 'upload-length': value })
      expectClientError(r.final, `creation with Upload-Length: ${value}`)
      expectNoHeader(r.final, 'location', 'the creation was refused')
    },
  }
}

/** Two partial uploads "hello" and " world", complete unless `unfinished` (then b has 2 of 6). */
async function partials(ctx: CheckContext, unfinished = false): Promise<[URL, URL]> {
  const a = await tusCreate(ctx, 5, { 'upload-concat': 'partial' })
  const b = await tusCreate(ctx, 6, { 'upload-concat': 'partial' })
  expectStatus((await tusPatch(ctx, a, 0, Buffer.from('hello'))).final, 204, 'PATCH partial a')
  const rest = unfinished ? Buffer.from(' w') : Buffer.from(' world')
  expectStatus((await tusPatch(ctx, b, 0, rest)).final, 204, 'PATCH partial b')
  return [a, b]
}

/** `final;<a> <b>` with the partials' absolute paths (tus 1.0.0 §Upload-Concat). */
function finalOf(a: URL, b: URL): string {
  return `final;${pathOf(a)} ${pathOf(b)}`
}

/** HEAD on a final upload until it carries Upload-Offset (the concatenation finished). */
async function concatenated(ctx: CheckContext, url: URL): Promise<RawResponse> {
  for (let i = 0; ; i++) {
    const r = await tusHead(ctx, url)
    expectSuccess(r.final, 'HEAD on the final upload')
    if (r.final.headers['upload-offset'] !== undefined || i >= 30) return r.final
    await sleep(100)
  }
}

/** An unfinished upload (100 bytes, two PATCHes of 10), with every response to read. */
async function expiring(
  ctx: CheckContext,
): Promise<{ url: URL; creation: RawResponse; patches: RawResponse[]; head: RawResponse }> {
  const created = await tusPost(ctx, { 'upload-length': '100' })
  const url = createdUrl(ctx, created)
  const patches: RawResponse[] = []
  for (const offset of [0, 10]) {
    const r = await tusPatch(ctx, url, offset, bytes(10))
    expectStatus(r.final, 204, `PATCH at ${offset}`)
    patches.push(r.final)
  }
  const head = await tusHead(ctx, url)
  return { url, creation: created.final, patches, head: head.final }
}

export const TUS_CHECKS: readonly CheckDefinition[] = [
  // ── §OPTIONS ───────────────────────────────────────────────────────────────────────────────
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
    id: 'tus.options.ignores-tus-resumable',
    title: 'tus 1.0.0 §OPTIONS: Tus-Resumable is ignored (an unsupported version still gets 2xx)',
    protocol: 'tus',
    level: 'MUST',
    async run(ctx) {
      const version = unsupportedVersion(ctx.discovery.tus?.versions ?? [])
      const r = await ctx.client.send('OPTIONS', undefined, {
        headers: { 'tus-resumable': version },
      })
      expectStatus(r.final, [200, 204], `OPTIONS with Tus-Resumable: ${version}`)
      expectHeader(r.final, 'tus-version')
    },
  },
  {
    id: 'tus.options.extension-list',
    title:
      'tus 1.0.0 §Tus-Extension: comma list, omitted if empty; creation-with-upload needs creation',
    protocol: 'tus',
    level: 'MUST',
    async run(ctx) {
      const r = await ctx.client.send('OPTIONS', undefined)
      const value = r.final.headers['tus-extension']
      if (value === undefined) return
      const names = value.split(',').map((s) => s.trim())
      ensure(
        names.every((n) => n !== '' && !/\s/.test(n)),
        `Tus-Extension "${value}" is not a comma list of names (omit it when empty)`,
      )
      ensure(
        !names.includes('creation-with-upload') || names.includes('creation'),
        `Tus-Extension "${value}" offers creation-with-upload without creation`,
      )
    },
  },
  {
    id: 'tus.options.max-size',
    title: 'tus 1.0.0 §Tus-Max-Size: a non-negative integer (T01)',
    protocol: 'tus',
    level: 'MUST',
    async run(ctx) {
      const r = await ctx.client.send('OPTIONS', undefined)
      if (r.final.headers['tus-max-size'] === undefined) skip('OPTIONS announces no Tus-Max-Size')
      tusInteger(r.final, 'tus-max-size')
    },
  },
  {
    id: 'tus.options.checksum-algorithm',
    title: 'tus 1.0.0 §Checksum: OPTIONS has Tus-Checksum-Algorithm, lower-case, with sha1 (T01)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'checksum',
    async run(ctx) {
      const r = await ctx.client.send('OPTIONS', undefined)
      const value = expectHeader(r.final, 'tus-checksum-algorithm')
      const names = value.split(',').map((s) => s.trim())
      for (const name of names) {
        ensure(
          /^[\x21-\x40\x5b-\x7e]+$/.test(name),
          `Tus-Checksum-Algorithm: "${name}" is not ASCII without uppercase letters`,
        )
      }
      ensure(names.includes('sha1'), `Tus-Checksum-Algorithm "${value}" does not list sha1`)
    },
  },

  // ── §Tus-Resumable ─────────────────────────────────────────────────────────────────────────
  {
    id: 'tus.resumable.unsupported-version',
    title:
      'tus 1.0.0 §Tus-Resumable: PATCH, unsupported version → 412 + Tus-Version, no change (T03)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const version = unsupportedVersion(ctx.discovery.tus?.versions ?? [])
      const r = await tusPatch(ctx, url, 0, bytes(10), { 'tus-resumable': version })
      expectStatus(r.final, 412, `PATCH with Tus-Resumable: ${version}`)
      expectHeader(r.final, 'tus-version')
      await expectOffset(ctx, url, 0, 'the PATCH with an unsupported version was processed')
    },
  },
  {
    id: 'tus.resumable.unsupported-version-creation',
    title:
      'tus 1.0.0 §Tus-Resumable: POST, unsupported version → 412 + Tus-Version, no upload (T03)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const version = unsupportedVersion(ctx.discovery.tus?.versions ?? [])
      const r = await tusPost(ctx, { 'tus-resumable': version, 'upload-length': '100' })
      expectStatus(r.final, 412, `POST with Tus-Resumable: ${version}`)
      expectHeader(r.final, 'tus-version')
      expectNoHeader(r.final, 'location', 'the server MUST NOT process the request')
    },
  },
  {
    id: 'tus.resumable.every-response',
    title: 'tus 1.0.0 §Tus-Resumable: every non-OPTIONS response has Tus-Resumable: 1.0.0 (T42)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const seen: [string, RawResponse][] = []
      const created = await tusPost(ctx, { 'upload-length': '20' })
      seen.push(['POST', created.final])
      const url = createdUrl(ctx, created)
      seen.push(['HEAD', (await tusHead(ctx, url)).final])
      seen.push(['PATCH', (await tusPatch(ctx, url, 0, bytes(10))).final])
      seen.push(['PATCH at a stale offset', (await tusPatch(ctx, url, 0, bytes(5))).final])
      seen.push(['HEAD of an unknown upload', (await tusHead(ctx, unknownUpload(url))).final])
      const version = unsupportedVersion(ctx.discovery.tus?.versions ?? [])
      const old = await ctx.client.send('HEAD', url, { headers: { 'tus-resumable': version } })
      seen.push([`HEAD with Tus-Resumable: ${version}`, old.final])
      for (const [what, r] of seen) {
        const got = r.headers['tus-resumable']
        ensure(
          got === '1.0.0',
          `${what} → ${r.status} without Tus-Resumable: 1.0.0 (got ${got ?? 'none'})`,
        )
      }
    },
  },

  // ── §HEAD ──────────────────────────────────────────────────────────────────────────────────
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
    id: 'tus.head.status',
    title: 'tus 1.0.0 §HEAD: success is acknowledged with 200 OK or 204 No Content (T13)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      expectStatus((await tusHead(ctx, url)).final, [200, 204], 'HEAD')
    },
  },
  {
    id: 'tus.head.complete',
    title: 'tus 1.0.0 §HEAD: Upload-Offset even when complete, Upload-Length, no-store (T13)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusUpload(ctx, 30, 30)
      const r = await tusHead(ctx, url)
      expectSuccess(r.final, 'HEAD')
      expectHeader(r.final, 'upload-offset', '30')
      expectHeader(r.final, 'upload-length', '30')
      expectHeader(r.final, 'cache-control', /no-store/)
    },
  },
  {
    id: 'tus.head.unknown',
    title: 'tus 1.0.0 §HEAD: an unknown upload → 404, 410 or 403 without Upload-Offset (T14)',
    protocol: 'tus',
    level: 'SHOULD',
    async run(ctx) {
      const r = await tusHead(ctx, await unknownUrl(ctx))
      expectStatus(r.final, GONE, 'HEAD of an unknown upload')
      expectNoHeader(r.final, 'upload-offset')
    },
  },

  // ── §PATCH ─────────────────────────────────────────────────────────────────────────────────
  {
    id: 'tus.patch.success',
    title: 'tus 1.0.0 §PATCH: success → 204 with Upload-Offset = old offset + bytes (T15)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const r = await tusPatch(ctx, url, 0, bytes(40))
      expectStatus(r.final, 204, 'PATCH of 40 bytes at 0')
      expectHeader(r.final, 'upload-offset', '40')
      const next = await tusPatch(ctx, url, 40, bytes(25, 2))
      expectStatus(next.final, 204, 'PATCH of 25 bytes at 40')
      expectHeader(next.final, 'upload-offset', '65')
      await expectOffset(ctx, url, 65, 'after two PATCHes')
    },
  },
  {
    id: 'tus.patch.content-type',
    title: 'tus 1.0.0 §PATCH: another Content-Type → 415 Unsupported Media Type (T16)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const r = await rawPatch(
        ctx,
        url,
        { 'upload-offset': '0', 'content-type': 'application/octet-stream' },
        bytes(10),
      )
      expectStatus(r.final, 415, 'PATCH with Content-Type: application/octet-stream')
    },
  },
  {
    id: 'tus.patch.content-type-unchanged',
    title: 'tus 1.0.0 §PATCH: a PATCH refused for its Content-Type changes nothing (T16)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      const r = await rawPatch(
        ctx,
        url,
        { 'upload-offset': '10', 'content-type': 'application/octet-stream' },
        bytes(10),
      )
      if (r.final.status >= 200 && r.final.status < 300)
        skip('the server accepted the PATCH (see tus.patch.content-type)')
      await expectRefusedUnchanged(
        ctx,
        url,
        r,
        10,
        'PATCH with Content-Type: application/octet-stream',
      )
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
  {
    id: 'tus.patch.offset-ahead',
    title:
      'tus 1.0.0 §PATCH: Upload-Offset ahead of the offset → 409 Conflict, upload unchanged (T17)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      const r = await tusPatch(ctx, url, 50, bytes(5))
      expectStatus(r.final, 409, 'PATCH at 50 while the offset is 10')
      await expectOffset(ctx, url, 10, 'after the 409')
    },
  },
  badOffset('negative', '-10 (negative)', '-10'),
  badOffset('non-numeric', '"abc" (not a number)', 'abc'),
  badOffset('missing', 'missing', undefined),
  {
    id: 'tus.patch.unknown',
    title: 'tus 1.0.0 §PATCH: PATCH of an unknown upload → 404 Not Found (410/403 tolerated) (T18)',
    protocol: 'tus',
    level: 'SHOULD',
    async run(ctx) {
      const r = await tusPatch(ctx, await unknownUrl(ctx), 0, bytes(10))
      expectStatus(r.final, GONE, 'PATCH of an unknown upload')
    },
  },
  {
    id: 'tus.patch.beyond-length',
    title: 'tus 1.0.0 §PATCH: a PATCH that would pass Upload-Length is refused with a 4xx (T19)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 40)
      const r = await tusPatch(ctx, url, 40, bytes(70))
      expectClientError(r.final, 'PATCH of 70 bytes at 40 into 100')
    },
  },
  {
    id: 'tus.patch.beyond-length-unchanged',
    title:
      'tus 1.0.0 §PATCH: offset never passes Upload-Length; a refused PATCH changes nothing (T19)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 40)
      const r = await tusPatch(ctx, url, 40, bytes(70))
      const state = await tusState(ctx, url)
      ensure(
        state.offset <= 100,
        `HEAD shows Upload-Offset ${state.offset} beyond Upload-Length 100`,
      )
      if (r.final.status >= 400 && r.final.status < 500) {
        ensure(
          state.offset === 40,
          `the refused PATCH changed the offset from 40 to ${state.offset}`,
        )
      } else if (r.final.status >= 200 && r.final.status < 300) {
        const reported = tusInteger(r.final, 'upload-offset')
        ensure(reported === state.offset, `PATCH said ${reported}, HEAD says ${state.offset}`)
      }
    },
  },
  {
    id: 'tus.patch.empty-at-end',
    title:
      'tus 1.0.0 §PATCH: an empty PATCH at the end of a complete upload → 204, same offset (T20)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const url = await tusUpload(ctx, 10, 10)
      const r = await tusPatch(ctx, url, 10, Buffer.alloc(0))
      expectStatus(r.final, 204, 'empty PATCH at 10 of 10')
      expectHeader(r.final, 'upload-offset', '10')
    },
  },

  // ── §X-HTTP-Method-Override ────────────────────────────────────────────────────────────────
  {
    id: 'tus.method-override.patch',
    title: 'tus 1.0.0 §X-HTTP-Method-Override: POST overridden to PATCH → 204, new offset (T38)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = await tusCreate(ctx, 20)
      const r = await ctx.client.send('POST', url, {
        headers: {
          ...TUS,
          'x-http-method-override': 'PATCH',
          'upload-offset': '0',
          'content-type': OFFSET_STREAM,
        },
        body: bytes(10),
      })
      expectStatus(r.final, 204, 'POST with X-HTTP-Method-Override: PATCH')
      expectHeader(r.final, 'upload-offset', '10')
      await expectOffset(ctx, url, 10, 'after the overridden PATCH')
    },
  },
  {
    id: 'tus.method-override.delete',
    title: 'tus 1.0.0 §X-HTTP-Method-Override: POST overridden to DELETE → 204, upload gone (T39)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'termination',
    skipUnless: needsCreation,
    async run(ctx) {
      const url = await tusUpload(ctx, 20, 5)
      const r = await ctx.client.send('POST', url, {
        headers: { ...TUS, 'x-http-method-override': 'DELETE', 'content-length': '0' },
      })
      expectStatus(r.final, 204, 'POST with X-HTTP-Method-Override: DELETE')
      const after = await tusHead(ctx, url)
      ensure(
        after.final.status >= 400,
        `the upload still answers HEAD with ${after.final.status} after the overridden DELETE`,
      )
    },
  },

  // ── §Creation ──────────────────────────────────────────────────────────────────────────────
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
    id: 'tus.creation.no-length',
    title:
      'tus 1.0.0 §Creation: neither Upload-Length nor Upload-Defer-Length → 4xx, no upload (T05)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const r = await tusPost(ctx, {})
      expectClientError(r.final, 'creation without a length')
      expectNoHeader(r.final, 'location', 'the creation was refused')
    },
  },
  badLength('negative', '-1'),
  badLength('non-numeric', 'abc'),
  {
    id: 'tus.creation.length-and-defer',
    title: 'tus 1.0.0 §Creation: Upload-Length with Upload-Defer-Length → 4xx, or coherent (T06)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const r = await tusPost(ctx, { 'upload-length': '5', 'upload-defer-length': '1' })
      if (r.final.status >= 400 && r.final.status < 500) return
      const url = createdUrl(ctx, r)
      const head = await tusHead(ctx, url)
      expectSuccess(head.final, 'HEAD')
      const length = head.final.headers['upload-length']
      const deferred = head.final.headers['upload-defer-length']
      const known = length === '5' && deferred === undefined
      ensure(
        known || (length === undefined && deferred === '1'),
        `HEAD: Upload-Length ${length ?? '(none)'}, Upload-Defer-Length ${deferred ?? '(none)'}; ` +
          'expected exactly one of Upload-Length: 5 and Upload-Defer-Length: 1',
      )
    },
  },
  {
    id: 'tus.creation.max-size',
    title: 'tus 1.0.0 §Creation: Upload-Length above Tus-Max-Size → 413 (T08)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    skipUnless: (d) =>
      d.tus?.maxSize === undefined ? 'OPTIONS announces no Tus-Max-Size' : undefined,
    async run(ctx) {
      const max = ctx.discovery.tus?.maxSize ?? 0
      const r = await tusPost(ctx, { 'upload-length': String(max + 1) })
      expectStatus(r.final, 413, `creation of ${max + 1} bytes (Tus-Max-Size ${max})`)
    },
  },
  {
    id: 'tus.creation.empty',
    title:
      'tus 1.0.0 §Creation: Upload-Length: 0 → 201, complete at once (offset 0, length 0) (T09)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const url = createdUrl(ctx, await tusPost(ctx, { 'upload-length': '0' }))
      const state = await tusState(ctx, url)
      ensure(state.offset === 0, `HEAD Upload-Offset ${state.offset}, expected 0`)
      ensure(state.length === 0, `HEAD Upload-Length ${state.length ?? 'absent'}, expected 0`)
    },
  },
  {
    id: 'tus.creation.metadata',
    title: 'tus 1.0.0 §Creation: HEAD echoes Upload-Metadata as sent, empty values included (T10)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation',
    async run(ctx) {
      const sent = 'filename aGVsbG8=,flag'
      const r = await tusPost(ctx, { 'upload-length': '10', 'upload-metadata': sent })
      if (r.final.status >= 400 && r.final.status < 500)
        skip(`the server refused the metadata with ${r.final.status} (it MAY reject on metadata)`)
      const head = await tusHead(ctx, createdUrl(ctx, r))
      expectSuccess(head.final, 'HEAD')
      const echoed = expectHeader(head.final, 'upload-metadata')
      if (echoed === sent) return
      const pairs = metadataPairs(echoed)
      ensure(
        pairs !== undefined &&
          pairs.size === 2 &&
          pairs.get('filename') === 'aGVsbG8=' &&
          pairs.get('flag') === '',
        `Upload-Metadata "${echoed}" is not the "${sent}" sent at creation`,
      )
    },
  },
  {
    id: 'tus.creation.metadata-not-base64',
    title: 'tus 1.0.0 §Upload-Metadata: a non-Base64 value → 400 or the pair ignored, no 5xx (T11)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const r = await tusPost(ctx, {
        'upload-length': '10',
        'upload-metadata': 'filename !!notbase64!!',
      })
      if (r.final.status >= 400 && r.final.status < 500) return
      const head = await tusHead(ctx, createdUrl(ctx, r))
      expectSuccess(head.final, 'HEAD of the upload')
    },
  },
  {
    id: 'tus.creation.metadata-smuggling',
    title: 'tus 1.0.0 §Upload-Metadata: decoded values never become header lines (T11)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const value = Buffer.from('a\r\nx-ferry-smuggled: 1\r\n').toString('base64')
      const r = await tusPost(ctx, {
        'upload-length': '10',
        'upload-metadata': `filename ${value}`,
      })
      expectNoHeader(r.final, 'x-ferry-smuggled', 'decoded metadata reached the headers')
      if (r.final.status >= 400 && r.final.status < 500) return
      const head = await tusHead(ctx, createdUrl(ctx, r))
      expectNoHeader(head.final, 'x-ferry-smuggled', 'decoded metadata reached the headers')
    },
  },
  {
    id: 'tus.creation.metadata-duplicate-key',
    title: 'tus 1.0.0 §Upload-Metadata: keys MUST be unique; a duplicate key → 4xx (T12)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const r = await tusPost(ctx, { 'upload-length': '10', 'upload-metadata': 'a YQ==,a Yg==' })
      expectClientError(r.final, 'creation with a duplicate metadata key')
    },
  },
  {
    id: 'tus.creation.metadata-key-space',
    title: 'tus 1.0.0 §Upload-Metadata: keys MUST NOT contain spaces; such a key → 4xx (T12)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation',
    async run(ctx) {
      const r = await tusPost(ctx, { 'upload-length': '10', 'upload-metadata': 'my key YQ==' })
      expectClientError(r.final, 'creation with a metadata key containing a space')
    },
  },

  // ── §Creation With Upload ──────────────────────────────────────────────────────────────────
  {
    id: 'tus.creation-with-upload.offset',
    title: 'tus 1.0.0 §Creation With Upload: 201 with Upload-Offset after the accepted bytes (T23)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation-with-upload',
    async run(ctx) {
      const r = await tusPost(
        ctx,
        { 'upload-length': '100', 'content-type': OFFSET_STREAM },
        Buffer.from('hello'),
      )
      const url = createdUrl(ctx, r)
      const offset = tusInteger(r.final, 'upload-offset')
      ensure(offset <= 5, `Upload-Offset ${offset} after a 5-byte body`)
      await expectOffset(ctx, url, offset, `the 201 said Upload-Offset ${offset}`)
    },
  },
  {
    id: 'tus.creation-with-upload.accepts-body',
    title: 'tus 1.0.0 §Creation With Upload: accepts as many bytes as possible (5 → 5) (T23)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation-with-upload',
    async run(ctx) {
      const r = await tusPost(
        ctx,
        { 'upload-length': '100', 'content-type': OFFSET_STREAM },
        Buffer.from('hello'),
      )
      createdUrl(ctx, r)
      expectHeader(r.final, 'upload-offset', '5')
    },
  },
  {
    id: 'tus.creation-with-upload.content-type',
    title: 'tus 1.0.0 §Creation With Upload: another Content-Type → 415, or body ignored (T24)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation-with-upload',
    async run(ctx) {
      const r = await tusPost(
        ctx,
        { 'upload-length': '100', 'content-type': 'text/plain' },
        Buffer.from('hello'),
      )
      if (r.final.status >= 400 && r.final.status < 500) return
      const url = createdUrl(ctx, r)
      const reported = r.final.headers['upload-offset']
      ensure(
        reported === undefined || reported === '0',
        `the text/plain body was stored: Upload-Offset ${reported} (415, or ignoring it, expected)`,
      )
      await expectOffset(ctx, url, 0, 'a text/plain body was stored')
    },
  },

  // ── §Creation: creation-defer-length ───────────────────────────────────────────────────────
  {
    id: 'tus.creation-defer-length.head',
    title: 'tus 1.0.0 §Creation: HEAD has Upload-Defer-Length: 1 while the length is unknown (T21)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation-defer-length',
    async run(ctx) {
      const url = await tusCreate(ctx, 'deferred')
      for (const offset of [0, 20]) {
        if (offset > 0) expectStatus((await tusPatch(ctx, url, 0, bytes(20))).final, 204, 'PATCH')
        const r = await tusHead(ctx, url)
        expectSuccess(r.final, 'HEAD')
        expectHeader(r.final, 'upload-defer-length', '1')
        expectHeader(r.final, 'upload-offset', String(offset))
        expectNoHeader(r.final, 'upload-length', 'the length is not known yet')
      }
    },
  },
  {
    id: 'tus.creation-defer-length.set-length',
    title: 'tus 1.0.0 §Creation: a PATCH sets Upload-Length; HEAD then has it, no defer (T21)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation-defer-length',
    async run(ctx) {
      const url = await tusUpload(ctx, 'deferred', 20)
      const r = await tusPatch(ctx, url, 20, bytes(30), { 'upload-length': '50' })
      expectStatus(r.final, 204, 'PATCH with Upload-Length: 50')
      expectHeader(r.final, 'upload-offset', '50')
      const head = await tusHead(ctx, url)
      expectSuccess(head.final, 'HEAD')
      expectHeader(head.final, 'upload-length', '50')
      expectHeader(head.final, 'upload-offset', '50')
      expectNoHeader(head.final, 'upload-defer-length', 'the length is known now')
    },
  },
  {
    id: 'tus.creation-defer-length.length-immutable',
    title: 'tus 1.0.0 §Creation: a set length never changes; a refused change alters nothing (T22)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'creation-defer-length',
    async run(ctx) {
      const url = await tusCreate(ctx, 'deferred')
      const first = await tusPatch(ctx, url, 0, bytes(10), { 'upload-length': '50' })
      expectStatus(first.final, 204, 'PATCH with Upload-Length: 50')
      const r = await tusPatch(ctx, url, 10, bytes(10), { 'upload-length': '60' })
      const state = await tusState(ctx, url)
      ensure(state.length === 50, `Upload-Length changed from 50 to ${state.length ?? 'absent'}`)
      if (r.final.status >= 400 && r.final.status < 500)
        ensure(state.offset === 10, `the refused PATCH moved the offset to ${state.offset}`)
    },
  },
  {
    id: 'tus.creation-defer-length.length-change-refused',
    title: 'tus 1.0.0 §Creation: a PATCH changing a set Upload-Length → 4xx (T22)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation-defer-length',
    async run(ctx) {
      const url = await tusCreate(ctx, 'deferred')
      const first = await tusPatch(ctx, url, 0, bytes(10), { 'upload-length': '50' })
      expectStatus(first.final, 204, 'PATCH with Upload-Length: 50')
      const r = await tusPatch(ctx, url, 10, bytes(10), { 'upload-length': '60' })
      expectClientError(r.final, 'PATCH changing Upload-Length from 50 to 60')
    },
  },
  {
    id: 'tus.creation-defer-length.invalid-value',
    title: 'tus 1.0.0 §Creation: Upload-Defer-Length other than 1 → 400 Bad Request (T07)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'creation-defer-length',
    async run(ctx) {
      const r = await tusPost(ctx, { 'upload-defer-length': '2' })
      expectStatus(r.final, 400, 'creation with Upload-Defer-Length: 2')
    },
  },

  // ── §Expiration ────────────────────────────────────────────────────────────────────────────
  {
    id: 'tus.expiration.format',
    title: 'tus 1.0.0 §Expiration: Upload-Expires is an RFC 9110 IMF-fixdate (T25)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'expiration',
    async run(ctx) {
      const { creation, patches, head } = await expiring(ctx)
      const values = [creation, ...patches, head]
        .map((r) => r.headers['upload-expires'])
        .filter((v) => v !== undefined)
      if (values.length === 0) skip('no response carries Upload-Expires')
      for (const v of values)
        ensure(imfFixdate(v) !== undefined, `Upload-Expires "${v}" is not an IMF-fixdate`)
    },
  },
  {
    id: 'tus.expiration.patch',
    title:
      'tus 1.0.0 §Expiration: every PATCH response has Upload-Expires if the upload expires (T25)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'expiration',
    async run(ctx) {
      const { creation, patches, head } = await expiring(ctx)
      if ([creation, ...patches, head].every((r) => r.headers['upload-expires'] === undefined))
        skip(
          'no creation, PATCH or HEAD response carries Upload-Expires: the upload does not expire',
        )
      for (const [i, r] of patches.entries()) {
        if (r.headers['upload-expires'] === undefined)
          fail(`the ${i === 0 ? 'first' : 'second'} PATCH response lacks Upload-Expires`)
      }
    },
  },
  {
    id: 'tus.expiration.creation',
    title: 'tus 1.0.0 §Expiration: the creation response has Upload-Expires when known (T25)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'expiration',
    async run(ctx) {
      const { creation, patches } = await expiring(ctx)
      if ([creation, ...patches].every((r) => r.headers['upload-expires'] === undefined))
        skip('no creation or PATCH response carries Upload-Expires: the upload does not expire')
      expectHeader(creation, 'upload-expires')
    },
  },
  {
    id: 'tus.expiration.expired',
    title: 'tus 1.0.0 §Expiration: after Upload-Expires, HEAD and PATCH → 404 or 410 (T26)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'expiration',
    async run(ctx) {
      const wait = ctx.options.expireWaitMs
      if (wait === 0) skip('expiration is checked with --expire-wait')
      const created = await tusPost(ctx, { 'upload-length': '100' })
      const url = createdUrl(ctx, created)
      const r = await tusPatch(ctx, url, 0, bytes(10))
      expectStatus(r.final, 204, 'PATCH')
      const value = r.final.headers['upload-expires'] ?? created.final.headers['upload-expires']
      if (value === undefined) skip('neither the creation nor the PATCH carries Upload-Expires')
      const at = imfFixdate(value)
      if (at === undefined) fail(`Upload-Expires "${value}" is not an IMF-fixdate`)
      const left = at - Date.now()
      if (left > wait)
        skip(`the upload expires in ${Math.ceil(left / 1000)} s, beyond --expire-wait`)
      // An HTTP-date has whole seconds: the instant may lie up to a second after the value.
      await sleep(Math.max(0, left) + 1250)
      expectStatus((await tusHead(ctx, url)).final, REMOVED, 'HEAD after Upload-Expires')
      const late = await tusPatch(ctx, url, 10, bytes(10))
      expectStatus(late.final, REMOVED, 'PATCH after Upload-Expires')
    },
  },

  // ── §Checksum ──────────────────────────────────────────────────────────────────────────────
  {
    id: 'tus.checksum.sha1',
    title: 'tus 1.0.0 §Checksum: a correct sha1 Upload-Checksum → 204, offset advanced (T27)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'checksum',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const body = bytes(30)
      const r = await tusPatch(ctx, url, 0, body, { 'upload-checksum': `sha1 ${sha1(body)}` })
      expectStatus(r.final, 204, 'PATCH with the right sha1')
      expectHeader(r.final, 'upload-offset', '30')
      await expectOffset(ctx, url, 30, 'after the verified PATCH')
    },
  },
  {
    id: 'tus.checksum.mismatch',
    title: 'tus 1.0.0 §Checksum: a wrong checksum → 4xx, chunk discarded, offset unchanged (T28)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'checksum',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      const r = await tusPatch(ctx, url, 10, bytes(20), {
        'upload-checksum': `sha1 ${sha1(bytes(20, 9))}`,
      })
      await expectRefusedUnchanged(ctx, url, r, 10, 'PATCH with a wrong sha1')
    },
  },
  {
    id: 'tus.checksum.mismatch-460',
    title: 'tus 1.0.0 §Checksum: a wrong checksum → 460 Checksum Mismatch (T28)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'checksum',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const r = await tusPatch(ctx, url, 0, bytes(20), {
        'upload-checksum': `sha1 ${sha1(bytes(20, 9))}`,
      })
      expectStatus(r.final, 460, 'PATCH with a wrong sha1')
    },
  },
  {
    id: 'tus.checksum.unsupported',
    title:
      'tus 1.0.0 §Checksum: unsupported algorithm → 4xx, chunk discarded, offset unchanged (T29)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'checksum',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      const name = unsupportedAlgorithm(ctx.discovery.tus?.checksumAlgorithms ?? [])
      const r = await tusPatch(ctx, url, 10, bytes(20), { 'upload-checksum': `${name} AAAA` })
      await expectRefusedUnchanged(ctx, url, r, 10, `PATCH with Upload-Checksum: ${name} AAAA`)
    },
  },
  {
    id: 'tus.checksum.unsupported-400',
    title: 'tus 1.0.0 §Checksum: an unsupported algorithm → 400 Bad Request (T29)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'checksum',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const name = unsupportedAlgorithm(ctx.discovery.tus?.checksumAlgorithms ?? [])
      const r = await tusPatch(ctx, url, 0, bytes(20), { 'upload-checksum': `${name} AAAA` })
      expectStatus(r.final, 400, `PATCH with Upload-Checksum: ${name} AAAA`)
    },
  },

  // ── §Checksum: checksum-trailer ────────────────────────────────────────────────────────────
  {
    id: 'tus.checksum-trailer.match',
    title: 'tus 1.0.0 §Checksum: chunked PATCH, right sha1 trailer → 204, offset advanced (T30)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'checksum-trailer',
    async run(ctx) {
      const url = await tusCreate(ctx, 100)
      const body = bytes(30)
      const r = await ctx.client.send('PATCH', url, {
        headers: {
          ...TUS,
          'upload-offset': '0',
          'content-type': OFFSET_STREAM,
          trailer: 'Upload-Checksum',
        },
        body: [body.subarray(0, 12), body.subarray(12)],
        chunked: true,
        trailers: { 'upload-checksum': `sha1 ${sha1(body)}` },
      })
      expectStatus(r.final, 204, 'chunked PATCH with the right sha1 trailer')
      expectHeader(r.final, 'upload-offset', '30')
      await expectOffset(ctx, url, 30, 'after the verified PATCH')
    },
  },
  {
    id: 'tus.checksum-trailer.mismatch',
    title: 'tus 1.0.0 §Checksum: chunked PATCH, wrong sha1 trailer → 4xx, offset unchanged (T30)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'checksum-trailer',
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      const body = bytes(30)
      const r = await ctx.client.send('PATCH', url, {
        headers: {
          ...TUS,
          'upload-offset': '10',
          'content-type': OFFSET_STREAM,
          trailer: 'Upload-Checksum',
        },
        body: [body.subarray(0, 12), body.subarray(12)],
        chunked: true,
        trailers: { 'upload-checksum': `sha1 ${sha1(bytes(30, 9))}` },
      })
      await expectRefusedUnchanged(ctx, url, r, 10, 'chunked PATCH with a wrong sha1 trailer')
    },
  },

  // ── §Termination ───────────────────────────────────────────────────────────────────────────
  {
    id: 'tus.termination.delete',
    title: 'tus 1.0.0 §Termination: DELETE of an unfinished upload → 204 No Content (T31)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'termination',
    skipUnless: needsCreation,
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      await terminate(ctx, url)
    },
  },
  {
    id: 'tus.termination.completed',
    title: 'tus 1.0.0 §Termination: DELETE of a completed upload → 204 No Content (T31)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'termination',
    skipUnless: needsCreation,
    async run(ctx) {
      const url = await tusUpload(ctx, 10, 10)
      await terminate(ctx, url)
    },
  },
  {
    id: 'tus.termination.gone',
    title: 'tus 1.0.0 §Termination: after DELETE, HEAD and PATCH → 404 or 410 (T31)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'termination',
    skipUnless: needsCreation,
    async run(ctx) {
      const url = await tusUpload(ctx, 100, 10)
      await terminate(ctx, url)
      expectStatus((await tusHead(ctx, url)).final, REMOVED, 'HEAD after DELETE')
      expectStatus((await tusPatch(ctx, url, 10, bytes(5))).final, REMOVED, 'PATCH after DELETE')
    },
  },

  // ── §Concatenation ─────────────────────────────────────────────────────────────────────────
  {
    id: 'tus.concatenation.final',
    title:
      'tus 1.0.0 §Concatenation: final a‖b → 201; length = offset = 11, Upload-Concat echoed (T32)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'concatenation',
    async run(ctx) {
      const [a, b] = await partials(ctx)
      const concat = finalOf(a, b)
      const url = createdUrl(ctx, await tusPost(ctx, { 'upload-concat': concat }), 'final')
      const head = await concatenated(ctx, url)
      expectHeader(head, 'upload-length', '11')
      expectHeader(head, 'upload-offset', '11')
      expectHeader(head, 'upload-concat', concat)
      // GET is not part of tus; when the server serves it, the content must be a‖b.
      const get = await ctx.client.send('GET', url)
      if (get.final.status === 200) {
        const text = get.final.body.toString('latin1')
        ensure(text === 'hello world', `GET of the final upload returned "${text.slice(0, 40)}"`)
      }
    },
  },
  {
    id: 'tus.concatenation.patch-final',
    title: 'tus 1.0.0 §Concatenation: PATCH of a final upload → 403, nothing changed (T33)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'concatenation',
    async run(ctx) {
      const [a, b] = await partials(ctx)
      const url = createdUrl(ctx, await tusPost(ctx, { 'upload-concat': finalOf(a, b) }), 'final')
      await concatenated(ctx, url)
      const r = await tusPatch(ctx, url, 11, bytes(5))
      expectStatus(r.final, 403, 'PATCH of the final upload')
      const head = await tusHead(ctx, url)
      expectHeader(head.final, 'upload-length', '11')
      expectHeader(head.final, 'upload-offset', '11')
      await expectOffset(ctx, a, 5, 'partial a after the PATCH of the final')
      await expectOffset(ctx, b, 6, 'partial b after the PATCH of the final')
    },
  },
  {
    id: 'tus.concatenation.partial-head',
    title:
      'tus 1.0.0 §Concatenation: HEAD of a partial: Upload-Offset, Upload-Concat: partial (T37)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'concatenation',
    async run(ctx) {
      const url = await tusUpload(ctx, 5, 2, { 'upload-concat': 'partial' })
      const r = await tusHead(ctx, url)
      expectSuccess(r.final, 'HEAD of the partial')
      expectHeader(r.final, 'upload-offset', '2')
      expectHeader(r.final, 'upload-concat', 'partial')
    },
  },
  {
    id: 'tus.concatenation.final-with-length',
    title: 'tus 1.0.0 §Concatenation: a final creation with Upload-Length → 4xx (T36)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'concatenation',
    async run(ctx) {
      const [a, b] = await partials(ctx)
      const r = await tusPost(ctx, { 'upload-concat': finalOf(a, b), 'upload-length': '11' })
      expectClientError(r.final, 'final creation with Upload-Length')
    },
  },
  {
    id: 'tus.concatenation.unfinished-refused',
    title: 'tus 1.0.0 §Concatenation: no concatenation-unfinished: final of unfinished → 4xx (T34)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'concatenation',
    skipUnless: (d) =>
      d.tus?.extensions.has('concatenation-unfinished') === true
        ? 'the server offers concatenation-unfinished (see T35)'
        : undefined,
    async run(ctx) {
      const [a, b] = await partials(ctx, true)
      const r = await tusPost(ctx, { 'upload-concat': finalOf(a, b) })
      expectClientError(r.final, 'final creation with partial b at 2 of 6')
    },
  },
  {
    id: 'tus.concatenation-unfinished.final',
    title:
      'tus 1.0.0 §Concatenation: final of unfinished partials → 201, offset = length later (T35)',
    protocol: 'tus',
    level: 'MUST',
    extension: 'concatenation-unfinished',
    skipUnless: (d) =>
      d.tus?.extensions.has('concatenation') === true ? undefined : 'concatenation not offered',
    async run(ctx) {
      const [a, b] = await partials(ctx, true)
      const concat = finalOf(a, b)
      const url = createdUrl(ctx, await tusPost(ctx, { 'upload-concat': concat }), 'final')
      const before = await tusHead(ctx, url)
      expectSuccess(before.final, 'HEAD of the final before b finished')
      expectHeader(before.final, 'upload-length', '11')
      expectHeader(before.final, 'upload-concat', concat)
      expectStatus((await tusPatch(ctx, b, 2, Buffer.from('orld'))).final, 204, 'finishing b')
      const after = await concatenated(ctx, url)
      expectHeader(after, 'upload-offset', '11')
      expectHeader(after, 'upload-length', '11')
    },
  },
  {
    id: 'tus.concatenation-unfinished.no-offset',
    title: 'tus 1.0.0 §Concatenation: HEAD of the final: no Upload-Offset before it is done (T35)',
    protocol: 'tus',
    level: 'SHOULD',
    extension: 'concatenation-unfinished',
    skipUnless: (d) =>
      d.tus?.extensions.has('concatenation') === true ? undefined : 'concatenation not offered',
    async run(ctx) {
      const [a, b] = await partials(ctx, true)
      const url = createdUrl(ctx, await tusPost(ctx, { 'upload-concat': finalOf(a, b) }), 'final')
      const r = await tusHead(ctx, url)
      expectSuccess(r.final, 'HEAD of the final before b finished')
      expectNoHeader(r.final, 'upload-offset', 'partial b is unfinished')
    },
  },
]
