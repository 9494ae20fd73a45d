/**
 * End-to-end over HTTP/2, with TLS (ALPN h2) and without (h2c, prior knowledge): 104 interim
 * responses as HEADERS frames, progress 104s, a large tus upload downloaded intact, and a
 * cancelled stream (RST_STREAM) that keeps the bytes it delivered.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import http2, { type IncomingHttpHeaders } from 'node:http2'
import { after, before, describe, test } from 'node:test'
import { writeOrReset } from '../../src/check/h2.ts'
import { type RunningServer, selfSignedCertificate, startServer } from '../support/servers.ts'

const KiB = 1024
const MiB = 1024 * KiB

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

interface Reply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** Informational (1xx) header blocks, in arrival order. */
  readonly interim: IncomingHttpHeaders[]
  readonly body: Buffer
}

interface Interim {
  readonly headers: IncomingHttpHeaders
  /** Content bytes handed to the stream when the interim response arrived. */
  readonly sent: number
}

interface SendOptions {
  readonly body?: Buffer
  /** Send the content in pieces of this size with `delayMs` between them. */
  readonly pieceBytes?: number
  readonly delayMs?: number
  /** Send only this many bytes, then cancel the stream (RST_STREAM CANCEL). */
  readonly cancelAfter?: number
  readonly onInterim?: (interim: Interim) => void
  /** Hash the response body instead of keeping it (large downloads). */
  readonly hashBody?: boolean
}

/** One request on a session; resolves with the final response (undefined if cancelled). */
async function send(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  options: SendOptions = {},
): Promise<(Reply & { readonly sha256?: string }) | undefined> {
  const body = options.body
  const endStream = body === undefined || body.length === 0
  const stream = session.request(
    body === undefined ? headers : { 'content-length': String(body.length), ...headers },
    { endStream },
  )
  const interim: IncomingHttpHeaders[] = []
  let sent = 0
  stream.on('headers', (h: IncomingHttpHeaders) => {
    interim.push(h)
    options.onInterim?.({ headers: h, sent })
  })
  const chunks: Buffer[] = []
  const hash = createHash('sha256')
  const reply = new Promise<(Reply & { sha256?: string }) | undefined>((resolve, reject) => {
    let head: IncomingHttpHeaders | undefined
    stream.on('response', (h: IncomingHttpHeaders) => {
      head = h
    })
    stream.on('data', (chunk: Buffer) => {
      if (options.hashBody === true) hash.update(chunk)
      else chunks.push(chunk)
    })
    stream.on('error', (e) => {
      if (options.cancelAfter === undefined) reject(e)
    })
    let settled = false
    const settle = (): void => {
      if (settled) return
      settled = true
      if (head === undefined) {
        if (options.cancelAfter !== undefined) resolve(undefined)
        else reject(new Error(`stream closed without a response (rst ${stream.rstCode})`))
        return
      }
      resolve({
        status: Number(head[':status']),
        headers: head,
        interim,
        body: Buffer.concat(chunks),
        ...(options.hashBody === true ? { sha256: hash.digest('hex') } : {}),
      })
    }
    // The whole response arrived ('end'), or the stream is gone.
    stream.on('end', () => {
      if (head !== undefined) settle()
    })
    stream.on('close', settle)
  })
  // A failure is reported when the caller awaits the reply, not as an unhandled rejection.
  reply.catch(() => undefined)
  if (!endStream && body !== undefined) {
    const piece = options.pieceBytes ?? body.length
    const write = (part: Buffer): Promise<void> => writeOrReset(stream, part)
    for (let at = 0; at < body.length && !stream.destroyed && !stream.closed; at += piece) {
      let part = body.subarray(at, Math.min(body.length, at + piece))
      if (options.cancelAfter !== undefined && at + part.length >= options.cancelAfter) {
        part = part.subarray(0, options.cancelAfter - at)
        sent += part.length
        await write(part)
        // Let the bytes reach the server before the stream is reset.
        await sleep(100)
        stream.close(http2.constants.NGHTTP2_CANCEL)
        return reply
      }
      sent += part.length
      await write(part)
      if (options.delayMs !== undefined) await sleep(options.delayMs)
    }
    stream.end()
  }
  return reply
}

async function mustSend(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  options: SendOptions = {},
): Promise<Reply & { readonly sha256?: string }> {
  const reply = await send(session, headers, options)
  assert.ok(reply !== undefined, 'no response')
  return reply
}

function ok(reply: Reply): boolean {
  return reply.status >= 200 && reply.status < 300
}

function trace(reply: Reply): string {
  const show = (h: IncomingHttpHeaders): string =>
    Object.entries(h)
      .map(([k, v]) => `${k}: ${String(v)}`)
      .join('; ')
  return [...reply.interim.map(show), show(reply.headers), reply.body.toString('utf8', 0, 200)]
    .filter((s) => s !== '')
    .join(' | ')
}

const pathOf = (location: unknown): string => new URL(String(location), 'http://x').pathname

for (const transport of ['tls', 'h2c'] as const) {
  describe(`HTTP/2 (${transport === 'tls' ? 'TLS, ALPN h2' : 'h2c, prior knowledge'})`, () => {
    let server: RunningServer
    /** The same transport with a short idle timeout. */
    let idle: RunningServer
    let session: http2.ClientHttp2Session
    let connect: (to: RunningServer) => Promise<http2.ClientHttp2Session>
    const sessions: http2.ClientHttp2Session[] = []
    let cleanupCert: (() => void) | undefined

    before(async () => {
      let transportOptions: { tls: { cert: Buffer; key: Buffer } } | { h2c: true }
      let ca: Buffer | undefined
      if (transport === 'tls') {
        const certificate = selfSignedCertificate()
        cleanupCert = certificate.cleanup
        ca = certificate.cert
        transportOptions = { tls: { cert: certificate.cert, key: certificate.key } }
      } else {
        transportOptions = { h2c: true }
      }
      server = await startServer({ progressIntervalMs: 50, transport: transportOptions })
      idle = await startServer({ transport: { ...transportOptions, idleTimeoutMs: 500 } })
      connect = async (to) => {
        const s =
          ca === undefined
            ? http2.connect(`http://127.0.0.1:${to.port}`)
            : http2.connect(to.url, { ca })
        sessions.push(s)
        s.on('error', () => undefined)
        await new Promise<void>((resolve, reject) => {
          s.once('connect', () => resolve())
          s.once('error', reject)
        })
        return s
      }
      session = await connect(server)
    })
    after(async () => {
      for (const s of sessions) s.destroy()
      await Promise.all([server.close(), idle.close()])
      cleanupCert?.()
    })

    test('RFC 9113 §8.1 / draft-13 §4.2.2 (D02, interop 8): a creation gets a 104 HEADERS frame with Location and the interop version', async () => {
      const body = randomBytes(1000)
      const reply = await mustSend(
        session,
        {
          ':method': 'POST',
          ':path': '/files/',
          'upload-draft-interop-version': '8',
          'upload-complete': '?1',
        },
        { body },
      )
      assert.equal(reply.interim.length, 1, trace(reply))
      const interim = reply.interim[0]!
      assert.equal(interim[':status'], 104, trace(reply))
      assert.equal(interim['upload-draft-interop-version'], '8', trace(reply))
      assert.match(String(interim.location), /\/files\/[0-9a-f]{32}$/, trace(reply))
      assert.ok(ok(reply), trace(reply))
      assert.equal(reply.headers['upload-complete'], '?1', trace(reply))
      const download = await mustSend(session, {
        ':method': 'GET',
        ':path': pathOf(interim.location),
      })
      assert.equal(download.status, 200)
      assert.equal(sha256(download.body), sha256(body))
    })

    test('draft-13 §4.4.2 (D33, interop 8): a 30 MiB append gets progress 104s with increasing Upload-Offset and no Location', async (t) => {
      const created = await mustSend(session, {
        ':method': 'POST',
        ':path': '/files/',
        'upload-draft-interop-version': '8',
        'upload-complete': '?0',
      })
      assert.equal(created.status, 201, trace(created))
      const path = pathOf(created.headers.location)
      const body = randomBytes(30 * MiB)
      const seen: Interim[] = []
      const reply = await mustSend(
        session,
        {
          ':method': 'PATCH',
          ':path': path,
          'upload-draft-interop-version': '8',
          'content-type': 'application/partial-upload',
          'upload-offset': '0',
          'upload-complete': '?1',
        },
        { body, pieceBytes: 512 * KiB, delayMs: 8, onInterim: (i) => seen.push(i) },
      )
      const text = trace(reply)
      t.diagnostic(`progress offsets: ${seen.map((i) => i.headers['upload-offset']).join(', ')}`)
      assert.ok(seen.length >= 2, `expected at least two progress 104s: ${text}`)
      let previous = -1
      for (const { headers, sent } of seen) {
        assert.equal(headers[':status'], 104, text)
        assert.equal(headers['upload-draft-interop-version'], '8', text)
        assert.equal(headers.location, undefined, `a progress 104 MUST NOT carry Location: ${text}`)
        assert.match(String(headers['upload-offset']), /^\d+$/, text)
        const offset = Number(headers['upload-offset'])
        assert.ok(offset > previous, `offsets must increase: ${text}`)
        assert.ok(offset <= sent, `offset ${offset} above the ${sent} bytes sent: ${text}`)
        previous = offset
      }
      assert.ok(ok(reply), text)
      assert.equal(reply.headers['upload-complete'], '?1', text)
      const download = await mustSend(
        session,
        { ':method': 'GET', ':path': path },
        { hashBody: true },
      )
      assert.equal(download.sha256, sha256(body))
    })

    test('Done-when / tus 1.0.0 §Core: a 64 MiB tus upload (POST + one PATCH) downloads with the same SHA-256', async () => {
      const body = randomBytes(64 * MiB)
      const created = await mustSend(session, {
        ':method': 'POST',
        ':path': '/files/',
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
      })
      assert.equal(created.status, 201, trace(created))
      const path = pathOf(created.headers.location)
      const patched = await mustSend(
        session,
        {
          ':method': 'PATCH',
          ':path': path,
          'tus-resumable': '1.0.0',
          'content-type': 'application/offset+octet-stream',
          'upload-offset': '0',
        },
        { body, pieceBytes: 4 * MiB },
      )
      assert.equal(patched.status, 204, trace(patched))
      assert.equal(patched.headers['upload-offset'], String(body.length))
      const download = await mustSend(
        session,
        { ':method': 'GET', ':path': path },
        { hashBody: true },
      )
      assert.equal(download.status, 200)
      assert.equal(download.headers['content-length'], String(body.length))
      assert.equal(download.sha256, sha256(body))
    })

    for (const dialect of ['tus', 'ietf'] as const) {
      test(`RFC 9113 §8.1 / ${dialect === 'tus' ? 'tus 1.0.0 (T40)' : 'draft-13 §4.4.2 (D26, interop 10)'}: a stream cancelled mid-content keeps its bytes`, async () => {
        const body = randomBytes(MiB)
        const cut = 400 * KiB
        const marker: http2.OutgoingHttpHeaders =
          dialect === 'tus'
            ? { 'tus-resumable': '1.0.0' }
            : { 'upload-draft-interop-version': '10' }
        const created = await mustSend(session, {
          ':method': 'POST',
          ':path': '/files/',
          ...marker,
          ...(dialect === 'tus'
            ? { 'upload-length': String(body.length) }
            : { 'upload-complete': '?0' }),
        })
        assert.equal(created.status, 201, trace(created))
        const path = pathOf(created.headers.location)
        const append = (offset: number, complete: boolean): http2.OutgoingHttpHeaders => ({
          ':method': 'PATCH',
          ':path': path,
          ...marker,
          'upload-offset': String(offset),
          ...(dialect === 'tus'
            ? { 'content-type': 'application/offset+octet-stream' }
            : {
                'content-type': 'application/partial-upload',
                'upload-complete': complete ? '?1' : '?0',
              }),
        })
        const cancelled = await send(session, append(0, true), {
          body,
          pieceBytes: 100 * KiB,
          cancelAfter: cut,
        })
        assert.equal(cancelled, undefined)
        await sleep(100)
        const head = await mustSend(session, { ':method': 'HEAD', ':path': path, ...marker })
        assert.ok(head.status === 200 || head.status === 204, trace(head))
        const offset = Number(head.headers['upload-offset'])
        assert.ok(offset > 0 && offset <= cut, `offset ${offset} not in (0, ${cut}]`)
        if (dialect === 'ietf') assert.equal(head.headers['upload-complete'], '?0')
        const rest = await mustSend(session, append(offset, true), {
          body: body.subarray(offset),
        })
        assert.ok(ok(rest), trace(rest))
        const download = await mustSend(session, { ':method': 'GET', ':path': path })
        assert.equal(sha256(download.body), sha256(body))
      })
    }

    test('draft-13 §5 (D44) / RFC 9110 §10.1.1: Expect: 100-continue gets the 104 with Location and also 100 Continue before the content', async (t) => {
      const body = randomBytes(64 * KiB)
      const stream = session.request({
        ':method': 'POST',
        ':path': '/files/',
        'upload-draft-interop-version': '10',
        'upload-complete': '?1',
        expect: '100-continue',
        'content-length': String(body.length),
      })
      const interim: IncomingHttpHeaders[] = []
      let gotBoth: () => void = () => undefined
      const both = new Promise<void>((resolve) => {
        gotBoth = resolve
      })
      stream.on('headers', (h: IncomingHttpHeaders) => {
        interim.push(h)
        const statuses = interim.map((i) => Number(i[':status']))
        if (statuses.includes(100) && statuses.includes(104)) gotBoth()
      })
      const final = new Promise<IncomingHttpHeaders>((resolve, reject) => {
        stream.on('response', resolve)
        stream.on('error', reject)
      })
      final.catch(() => undefined)
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      // A client waiting for 100 Continue sends the content only when it arrives (here: or
      // after a second, so that a missing 100 fails the assertions instead of hanging).
      let timer: NodeJS.Timeout | undefined
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000)
      })
      await Promise.race([both, waited])
      clearTimeout(timer)
      const before = interim.map((i) => Number(i[':status']))
      t.diagnostic(`interim before the content: ${before.join(', ')}`)
      stream.end(body)
      const head = await final
      const upload = interim.find((i) => Number(i[':status']) === 104)
      assert.ok(upload !== undefined, `no 104: ${before.join(', ')}`)
      assert.match(String(upload.location), /\/files\/[0-9a-f]{32}$/)
      assert.equal(upload['upload-draft-interop-version'], '10')
      assert.ok(
        before.includes(100),
        `100 Continue MUST NOT be omitted because a 104 was sent (got ${before.join(', ')})`,
      )
      assert.equal(head[':status'], 201)
      assert.equal(head['upload-complete'], '?1')
      const download = await mustSend(session, {
        ':method': 'GET',
        ':path': pathOf(upload.location),
      })
      assert.equal(sha256(download.body), sha256(body))
    })

    test('draft-13 §4.4.2 / RFC 9113 §8.1: a 409 for a wrong offset reaches the client despite 50 MiB of unread content, the stream is reset with NO_ERROR and the session stays usable', async () => {
      const created = await mustSend(session, {
        ':method': 'POST',
        ':path': '/files/',
        'upload-draft-interop-version': '10',
        'upload-complete': '?0',
      })
      assert.equal(created.status, 201, trace(created))
      const path = pathOf(created.headers.location)
      const append = (offset: number): http2.OutgoingHttpHeaders => ({
        ':method': 'PATCH',
        ':path': path,
        'upload-draft-interop-version': '10',
        'content-type': 'application/partial-upload',
        'upload-offset': String(offset),
        'upload-complete': '?0',
      })
      const stream = session.request({ ...append(4096), 'content-length': String(50 * MiB) })
      stream.on('error', () => undefined)
      const response = new Promise<IncomingHttpHeaders>((resolve) => stream.on('response', resolve))
      // RST_STREAM shows as 'aborted' (Node may delay 'close' while a write is pending).
      const closed = new Promise<void>((resolve) => {
        stream.once('aborted', () => resolve())
        stream.once('close', () => resolve())
      })
      stream.resume()
      const piece = Buffer.alloc(MiB, 1)
      let sent = 0
      while (sent < 50 * MiB && !stream.destroyed && !stream.closed) {
        await writeOrReset(stream, piece)
        sent += piece.length
      }
      let timer: NodeJS.Timeout | undefined
      const ended = await Promise.race([
        closed.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), 5000)
        }),
      ])
      clearTimeout(timer)
      assert.ok(ended, `the rejected stream was not closed (${sent} bytes written)`)
      const head = await response
      assert.equal(head[':status'], 409)
      assert.equal(head['upload-offset'], '0')
      assert.equal(head['upload-complete'], '?0')
      assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR)
      assert.ok(sent < 50 * MiB, 'the server read all the content of a rejected request')
      // The connection's flow-control window was not used up by the discarded content.
      const body = randomBytes(20 * MiB)
      const ok2 = await mustSend(session, append(0), { body, pieceBytes: MiB })
      assert.equal(ok2.status, 204, trace(ok2))
      assert.equal(ok2.headers['upload-offset'], String(body.length))
    })

    test('draft-13 §4.6 (D29), RFC 9113 §8.1: HEAD on another stream takes over a stalled PATCH stream in under a second; the stalled stream is answered and reset', async () => {
      const body = randomBytes(2 * MiB)
      const half = body.length / 2
      const marker = { 'upload-draft-interop-version': '10' }
      const created = await mustSend(session, {
        ':method': 'POST',
        ':path': '/files/',
        ...marker,
        'upload-complete': '?0',
      })
      assert.equal(created.status, 201, trace(created))
      const path = pathOf(created.headers.location)
      const append = (offset: number): http2.OutgoingHttpHeaders => ({
        ':method': 'PATCH',
        ':path': path,
        ...marker,
        'content-type': 'application/partial-upload',
        'upload-offset': String(offset),
        'upload-complete': '?1',
      })
      const stalled = session.request({ ...append(0), 'content-length': String(body.length) })
      stalled.on('error', () => undefined)
      stalled.resume()
      const stalledClosed = new Promise<void>((resolve) => {
        stalled.once('aborted', () => resolve())
        stalled.once('close', () => resolve())
      })
      await new Promise<void>((resolve) => stalled.write(body.subarray(0, half), () => resolve()))
      await sleep(300)
      const t0 = performance.now()
      const head = await mustSend(session, { ':method': 'HEAD', ':path': path, ...marker })
      const elapsed = performance.now() - t0
      assert.ok(elapsed < 1000, `HEAD took ${elapsed.toFixed(0)} ms`)
      const offset = Number(head.headers['upload-offset'])
      assert.ok(offset > 0 && offset <= half, `offset ${offset} of ${half} sent`)
      assert.equal(head.headers['upload-complete'], '?0')
      let timer: NodeJS.Timeout | undefined
      const ended = await Promise.race([
        stalledClosed.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), 3000)
        }),
      ])
      clearTimeout(timer)
      assert.ok(ended, 'the stalled stream was neither answered nor reset')
      const rest = await mustSend(session, append(offset), { body: body.subarray(offset) })
      assert.ok(ok(rest), trace(rest))
      assert.equal(rest.headers['upload-complete'], '?1')
      const download = await mustSend(session, { ':method': 'GET', ':path': path })
      assert.equal(sha256(download.body), sha256(body))
    })

    test('draft-13 §4.4.2: an upload that keeps sending for longer than the idle timeout is not cut', async () => {
      const s = await connect(idle)
      const body = randomBytes(2 * MiB)
      const created = await mustSend(s, {
        ':method': 'POST',
        ':path': '/files/',
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
      })
      assert.equal(created.status, 201, trace(created))
      const path = pathOf(created.headers.location)
      const t0 = performance.now()
      // 16 pieces 125 ms apart: about 2 s of steady traffic against a 500 ms idle timeout.
      const patched = await mustSend(
        s,
        {
          ':method': 'PATCH',
          ':path': path,
          'tus-resumable': '1.0.0',
          'content-type': 'application/offset+octet-stream',
          'upload-offset': '0',
        },
        { body, pieceBytes: 128 * KiB, delayMs: 125 },
      )
      assert.ok(performance.now() - t0 > 1500, 'the upload was not slow enough to test anything')
      assert.equal(patched.status, 204, trace(patched))
      assert.equal(patched.headers['upload-offset'], String(body.length))
      s.destroy()
    })

    test('draft-13 §13 (slowloris) / §4.4.2: a stalled stream is cancelled after the idle timeout and keeps its bytes', async () => {
      const s = await connect(idle)
      const body = randomBytes(MiB)
      const created = await mustSend(s, {
        ':method': 'POST',
        ':path': '/files/',
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
      })
      assert.equal(created.status, 201, trace(created))
      const path = pathOf(created.headers.location)
      const stream = s.request({
        ':method': 'PATCH',
        ':path': path,
        'tus-resumable': '1.0.0',
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
        'content-length': String(body.length),
      })
      stream.on('error', () => undefined)
      stream.resume()
      const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()))
      const t0 = performance.now()
      await new Promise<void>((resolve) =>
        stream.write(body.subarray(0, 200 * KiB), () => resolve()),
      )
      let timer: NodeJS.Timeout | undefined
      const ended = await Promise.race([
        closed.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), 3000)
        }),
      ])
      clearTimeout(timer)
      const elapsed = performance.now() - t0
      assert.ok(ended, 'the stalled stream was not ended within 3 s')
      assert.ok(elapsed >= 400, `ended after ${elapsed.toFixed(0)} ms, before the idle timeout`)
      const check = await connect(idle)
      const head = await mustSend(check, {
        ':method': 'HEAD',
        ':path': path,
        'tus-resumable': '1.0.0',
      })
      assert.equal(head.headers['upload-offset'], String(200 * KiB), trace(head))
      check.destroy()
      s.destroy()
    })
  })
}
