/**
 * @module Steps shared by checks: creating uploads in each protocol, reading their offset.
 */
import type { Exchange } from '../client.ts'
import { expectHeader, expectStatus, expectSuccess, fail } from '../expect.ts'
import { completion, draftHeaders } from '../expectations.ts'
import type { CheckContext } from '../types.ts'

export const TUS = { 'tus-resumable': '1.0.0' } as const
export const OFFSET_STREAM = 'application/offset+octet-stream'

/** Deterministic content of `n` bytes. */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff
  return b
}

/** tus creation (tus 1.0.0 §Creation); returns the upload URL. */
export async function tusCreate(
  ctx: CheckContext,
  length: number | 'deferred',
  headers: Record<string, string> = {},
): Promise<URL> {
  const r = await ctx.client.send('POST', undefined, {
    headers: {
      ...TUS,
      ...(length === 'deferred'
        ? { 'upload-defer-length': '1' }
        : { 'upload-length': String(length) }),
      'content-length': '0',
      ...headers,
    },
  })
  expectStatus(r.final, 201, 'tus creation')
  return ctx.client.url(expectHeader(r.final, 'location'))
}

/** tus PATCH of `body` at `offset`. */
export function tusPatch(
  ctx: CheckContext,
  url: URL,
  offset: number,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<Exchange> {
  return ctx.client.send('PATCH', url, {
    headers: { ...TUS, 'upload-offset': String(offset), 'content-type': OFFSET_STREAM, ...headers },
    body,
  })
}

/** The tus offset of an upload (HEAD). */
export async function tusOffset(ctx: CheckContext, url: URL): Promise<number> {
  const r = await ctx.client.send('HEAD', url, { headers: TUS })
  expectSuccess(r.final, 'HEAD')
  const value = expectHeader(r.final, 'upload-offset')
  if (!/^[0-9]+$/.test(value)) fail(`Upload-Offset "${value}" is not an integer`)
  return Number(value)
}

/**
 * A careful draft creation (empty content, "more follows"); returns the upload URL from the 104
 * or the 2xx.
 */
export async function draftCreate(
  ctx: CheckContext,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ url: URL; exchange: Exchange }> {
  const v = ctx.interop
  const r = await ctx.client.send('POST', undefined, {
    headers: draftHeaders(v, {
      ...completion(v, false),
      ...(body === undefined ? { 'content-length': '0' } : {}),
      ...headers,
    }),
    ...(body === undefined ? {} : { body }),
  })
  expectSuccess(r.final, 'creation')
  const interim = r.interim.find((i) => i.status === 104 && i.headers.location !== undefined)
  const location = interim?.headers.location ?? expectHeader(r.final, 'location')
  return { url: ctx.client.url(location), exchange: r }
}

/** The draft offset of an upload (HEAD with the interop version). */
export async function draftOffset(ctx: CheckContext, url: URL): Promise<number> {
  const r = await ctx.client.send('HEAD', url, { headers: draftHeaders(ctx.interop) })
  expectSuccess(r.final, 'offset retrieval')
  const value = expectHeader(r.final, 'upload-offset')
  if (!/^[0-9]+$/.test(value)) fail(`Upload-Offset "${value}" is not an integer`)
  return Number(value)
}
