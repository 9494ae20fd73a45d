/**
 * @module Discovery: what the server says it speaks, learned before any check runs. OPTIONS for
 * tus (Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm) and the draft's
 * Upload-Limit; a careful creation per interop version (the in-band signal: a 104 or a 201 with
 * the version's completion field, confirmed by an offset retrieval); ALPN for HTTP/2.
 */
import http2 from 'node:http2'
import tls from 'node:tls'
import type { Client } from './client.ts'
import { completion, draftHeaders, isMarkedComplete } from './expectations.ts'
import type { CheckOptions, Discovery } from './types.ts'

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/** Learns what the server at `client.endpoint` offers. */
export async function discover(
  client: Client,
  options: CheckOptions & { readonly interop: readonly number[]; readonly h2c?: boolean },
): Promise<Discovery> {
  const endpoint = client.endpoint
  const opts = await client.exchange('OPTIONS', endpoint)
  const o = opts.final
  let tus: Discovery['tus']
  if (o !== undefined && list(o.headers['tus-version']).includes('1.0.0')) {
    const maxSize = o.headers['tus-max-size']
    tus = {
      versions: list(o.headers['tus-version']),
      extensions: new Set(list(o.headers['tus-extension'])),
      ...(maxSize !== undefined && /^[0-9]+$/.test(maxSize) ? { maxSize: Number(maxSize) } : {}),
      checksumAlgorithms: list(o.headers['tus-checksum-algorithm']),
    }
  }
  const ietf = new Map<number, { supported: boolean; reason?: string }>()
  for (const v of options.interop) ietf.set(v, await probeDraft(client, v))
  return {
    endpoint,
    ...(tus === undefined ? {} : { tus }),
    ietf,
    ...(o?.headers['upload-limit'] === undefined ? {} : { uploadLimit: o.headers['upload-limit'] }),
    http2: await offersHttp2(endpoint, options),
  }
}

/**
 * Whether the server implements an interop version: a careful creation (empty, "more follows")
 * must yield an upload resource — announced by a 104 with that version, or by a 2xx with
 * Location and the version's completion field — whose offset retrieval answers 2xx with
 * Upload-Offset. The probe upload is cancelled afterwards.
 */
async function probeDraft(
  client: Client,
  v: number,
): Promise<{ supported: boolean; reason?: string }> {
  const r = await client.exchange('POST', client.endpoint, {
    headers: draftHeaders(v, { ...completion(v, false), 'content-length': '0' }),
  })
  const final = r.final
  const announced = r.interim.find(
    (i) =>
      i.status === 104 &&
      i.headers['upload-draft-interop-version'] === String(v) &&
      i.headers.location !== undefined,
  )
  if (final === undefined)
    return { supported: false, reason: `creation with interop ${v}: no response` }
  const location = announced?.headers.location ?? final.headers.location
  const marked = isMarkedComplete(v, final.headers) === false
  if (
    final.status < 200 ||
    final.status > 299 ||
    location === undefined ||
    (announced === undefined && !marked)
  ) {
    return {
      supported: false,
      reason: `a creation with Upload-Draft-Interop-Version: ${v} got ${final.status}${announced === undefined ? ', no 104' : ''}${final.headers.location === undefined ? ', no Location' : ''} — interop ${v} is not supported`,
    }
  }
  const head = await client.exchange('HEAD', location, { headers: draftHeaders(v) })
  await client.exchange('DELETE', location, { headers: draftHeaders(v) }).catch(() => undefined)
  if (
    head.final === undefined ||
    head.final.status < 200 ||
    head.final.status > 299 ||
    head.final.headers['upload-offset'] === undefined
  ) {
    return {
      supported: false,
      reason: `interop ${v}: the upload resource from the creation does not answer an offset retrieval (HEAD got ${head.final?.status ?? 'no response'})`,
    }
  }
  return { supported: true }
}

/** HTTP/2: ALPN h2 on https; on http only when the caller asks for h2c (prior knowledge). */
async function offersHttp2(
  endpoint: URL,
  options: CheckOptions & { readonly h2c?: boolean },
): Promise<boolean> {
  if (endpoint.protocol === 'https:') {
    return new Promise<boolean>((resolve) => {
      const socket = tls.connect({
        host: endpoint.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(endpoint.port || 443),
        ALPNProtocols: ['h2', 'http/1.1'],
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        rejectUnauthorized: options.insecure !== true,
      })
      const done = (value: boolean): void => {
        socket.destroy()
        resolve(value)
      }
      socket.once('secureConnect', () => done(socket.alpnProtocol === 'h2'))
      socket.once('error', () => done(false))
      socket.setTimeout(options.timeoutMs, () => done(false))
    })
  }
  if (options.h2c !== true) return false
  return new Promise<boolean>((resolve) => {
    const session = http2.connect(endpoint.origin)
    const done = (value: boolean): void => {
      session.destroy()
      resolve(value)
    }
    session.once('remoteSettings', () => done(true))
    session.once('error', () => done(false))
    session.setTimeout(options.timeoutMs, () => done(false))
  })
}
