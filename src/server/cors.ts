/**
 * @module CORS for browser clients: allowed origins get the headers that let them send the
 * protocol's request fields and read its response fields (Location, Upload-Offset, ...).
 */
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, H } from '../protocol/constants.ts'
import type { HeaderMap } from '../protocol/types.ts'
import type { CorsOptions } from './options.ts'

const METHODS = 'POST, HEAD, GET, PATCH, DELETE, OPTIONS, PUT'
const EXPOSED = CORS_EXPOSED_HEADERS.join(', ')
const ALLOWED = CORS_ALLOWED_HEADERS.join(', ')

/** Adds CORS headers to a response for an allowed Origin (preflights get the full set). */
export function applyCors<R extends { readonly headers: Record<string, string> }>(
  response: R,
  requestHeaders: HeaderMap,
  cors: CorsOptions | undefined,
): R {
  if (cors === undefined) return response
  const origin = requestHeaders[H.origin]
  if (origin === undefined) return response
  const allowed = cors.origins === '*' || cors.origins.includes(origin)
  const headers: Record<string, string> = { ...response.headers }
  headers[H.vary] = headers[H.vary] === undefined ? 'Origin' : `${headers[H.vary]}, Origin`
  if (!allowed) return { ...response, headers }
  headers['access-control-allow-origin'] = cors.origins === '*' ? '*' : origin
  if (cors.credentials === true) headers['access-control-allow-credentials'] = 'true'
  headers['access-control-expose-headers'] = EXPOSED
  if (requestHeaders['access-control-request-method'] !== undefined) {
    headers['access-control-allow-methods'] = METHODS
    // Echo what the browser asks for on top of the protocol's fields (custom auth headers).
    const asked = requestHeaders['access-control-request-headers']
    headers['access-control-allow-headers'] =
      asked === undefined ? ALLOWED : `${ALLOWED}, ${sanitizeList(asked)}`
    headers['access-control-max-age'] = String(cors.maxAgeSeconds ?? 600)
  }
  return { ...response, headers }
}

function sanitizeList(value: string): string {
  return value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(s))
    .join(', ')
}
