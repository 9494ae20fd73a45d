/**
 * End-to-end behaviour over real HTTP/1.1 sockets (raw client, in-process server): progress
 * 104s, interrupted transfers, takeover of stalled requests, 100-continue with 104, early
 * rejections with unread content, keep-alive after interim responses, tus checksum trailers and
 * the idle timeout.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  type RawExchange,
  type RawResponse,
  ResponseParser,
  rawRequest,
} from '../support/raw-http.ts'
import { type RunningServer, startServer } from '../support/servers.ts'

const KiB = 1024
const MiB = 1024 * KiB

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** Whether `promise` settles within `ms` (the timer does not outlive the race). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([promise.then(() => true), expired])
  } finally {
    clearTimeout(timer)
  }
}
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

type Dialect = { readonly kind: 'tus' } | { readonly kind: 'ietf'; readonly version: number }

const TUS: Dialect = { kind: 'tus' }
const ietf = (version: number): Dialect => ({ kind: 'ietf', version })
const label = (d: Dialect): string => (d.kind === 'tus' ? 'tus 1.0.0' : `interop ${d.version}`)

/** Headers every request of the dialect carries. */
function base(d: Dialect): Record<string, string> {
  return d.kind === 'tus'
    ? { 'tus-resumable': '1.0.0' }
    : { 'upload-draft-interop-version': String(d.version) }
}

/** The completion field of an IETF request (interop 3 has the inverse Upload-Incomplete). */
function completion(version: number, complete: boolean): Record<string, string> {
  if (version === 3) return { 'upload-incomplete': complete ? '?0' : '?1' }
  return { 'upload-complete': complete ? '?1' : '?0' }
}

/** Headers of an append (PATCH) at `offset`. */
function appendHeaders(d: Dialect, offset: number, complete: boolean): Record<string, string> {
  if (d.kind === 'tus') {
    return {
      ...base(d),
      'content-type': 'application/offset+octet-stream',
      'upload-offset': String(offset),
    }
  }
  return {
    ...base(d),
    ...(d.version >= 6 ? { 'content-type': 'application/partial-upload' } : {}),
    'upload-offset': String(offset),
    ...completion(d.version, complete),
  }
}

/** Creates an empty upload (tus with a length, IETF with Upload-Complete: ?0); returns its path. */
async function create(port: number, d: Dialect, length: number): Promise<string> {
  const headers =
    d.kind === 'tus'
      ? { ...base(d), 'upload-length': String(length), 'content-length': '0' }
      : { ...base(d), ...completion(d.version, false), 'content-length': '0' }
  const r = await rawRequest({ port, method: 'POST', path: '/files/', headers })
  assert.equal(r.final?.status, 201, `creation (${label(d)}): ${describeExchange(r)}`)
  const location = r.final?.headers.location
  assert.ok(location !== undefined, 'creation response without Location')
  return new URL(location, `http://127.0.0.1:${port}`).pathname
}

async function headOffset(
  port: number,
  d: Dialect,
  path: string,
): Promise<{ status: number | undefined; offset: number; response: RawResponse | undefined }> {
  const r = await rawRequest({ port, method: 'HEAD', path, headers: base(d), timeoutMs: 10_000 })
  return {
    status: r.final?.status,
    offset: Number(r.final?.headers['upload-offset'] ?? Number.NaN),
    response: r.final,
  }
}

async function download(port: number, path: string): Promise<Buffer> {
  const r = await rawRequest({ port, method: 'GET', path, timeoutMs: 20_000 })
  assert.equal(r.final?.status, 200, `download: ${describeExchange(r)}`)
  return r.final?.body ?? Buffer.alloc(0)
}

/** A compact wire trace for assertion messages. */
function describeExchange(r: RawExchange): string {
  const line = (m: RawResponse): string => {
    const body = m.body.length > 0 ? ` ${m.body.toString('utf8', 0, 200)}` : ''
    return `${m.status} ${m.reason} {${m.rawHeaders.join('; ')}}${body}`
  }
  const parts = r.interim.map(line)
  parts.push(r.final === undefined ? 'no final response' : line(r.final))
  if (r.error !== undefined) parts.push(`error: ${r.error.message}`)
  return parts.join(' | ')
}

/** The request head exactly as rawRequest writes it (to count content bytes on the socket). */
function requestHeadBytes(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): number {
  let head = `${method} ${path} HTTP/1.1\r\n`
  for (const [k, v] of Object.entries({ host: `127.0.0.1:${port}`, ...headers }))
    head += `${k}: ${v}\r\n`
  return Buffer.byteLength(`${head}\r\n`, 'latin1')
}

interface Stalled {
  readonly socket: net.Socket
  /** Content bytes written (and flushed to the socket). */
  readonly sent: number
  readonly interim: RawResponse[]
  /** The final response, or undefined when the connection closed first. */
  readonly response: Promise<RawResponse | undefined>
  /** Resolves when the connection is closed. */
  readonly closed: Promise<void>
}

/** Sends a request head and the first part of its content, then stalls (the socket stays open). */
async function stalledRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  first: Buffer,
  reuse?: net.Socket,
): Promise<Stalled> {
  const socket = reuse ?? net.connect(port, '127.0.0.1')
  if (reuse === undefined) {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
  }
  socket.on('error', () => undefined)
  const parser = new ResponseParser(method === 'HEAD')
  const interim: RawResponse[] = []
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const response = new Promise<RawResponse | undefined>((resolve) => {
    socket.on('data', (data: Buffer) => {
      for (const msg of parser.push(data)) {
        if (msg.status < 200) interim.push(msg)
        else resolve(msg)
      }
    })
    void closed.then(() => resolve(undefined))
  })
  let head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  head += '\r\n'
  await new Promise<void>((resolve) => socket.write(head, () => resolve()))
  await new Promise<void>((resolve) => socket.write(first, () => resolve()))
  return { socket, sent: first.length, interim, response, closed }
}

describe('HTTP/1.1 behaviour on the wire', () => {
  let server: RunningServer
  let progress: RunningServer
  let idle: RunningServer
  const sockets: net.Socket[] = []

  before(async () => {
    server = await startServer()
    progress = await startServer({ progressIntervalMs: 50 })
    idle = await startServer({ transport: { idleTimeoutMs: 300 } })
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    await Promise.all([server.close(), progress.close(), idle.close()])
  })

  // -------------------------------------------------------------------------------------------
  // progress 104s

  test('draft-13 §4.4.2 (D33, interop 5+): a slow append gets progress 104s with IV and increasing Upload-Offset, never Location', async (t) => {
    const d = ietf(8)
    const path = await create(progress.port, d, 0)
    const body = randomBytes(20 * MiB)
    const headers = {
      ...appendHeaders(d, 0, true),
      'content-length': String(body.length),
    }
    const headBytes = requestHeadBytes(progress.port, 'PATCH', path, headers)
    const socket = net.connect(progress.port, '127.0.0.1')
    sockets.push(socket)
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    // What the client had written when each 104 arrived: an offset can never be above it.
    const sentAt: number[] = []
    const r = await rawRequest({
      port: progress.port,
      socket,
      method: 'PATCH',
      path,
      headers,
      body,
      pieceBytes: 256 * KiB,
      delayMs: 10,
      onInterim: () => sentAt.push(socket.bytesWritten - headBytes),
    })
    socket.destroy()
    const trace = describeExchange(r)
    assert.ok(r.interim.length >= 2, `expected at least two progress 104s: ${trace}`)
    let previous = -1
    for (const [i, m] of r.interim.entries()) {
      assert.equal(m.status, 104, trace)
      assert.equal(m.headers['upload-draft-interop-version'], '8', trace)
      assert.equal(
        m.headers.location,
        undefined,
        `a progress 104 MUST NOT carry Location: ${trace}`,
      )
      const raw = m.headers['upload-offset']
      assert.match(raw ?? '', /^\d+$/, trace)
      const offset = Number(raw)
      assert.ok(offset > previous, `offsets must increase: ${trace}`)
      assert.ok(offset <= (sentAt[i] ?? 0), `offset ${offset} > ${sentAt[i]} bytes sent: ${trace}`)
      assert.ok(offset <= body.length, trace)
      previous = offset
    }
    t.diagnostic(`progress offsets: ${r.interim.map((m) => m.headers['upload-offset']).join(', ')}`)
    assert.ok(r.final !== undefined && r.final.status >= 200 && r.final.status < 300, trace)
    assert.equal(r.final.headers['upload-complete'], '?1', trace)
    assert.equal(sha256(await download(progress.port, path)), sha256(body))
  })

  for (const version of [3, 4]) {
    test(`draft-0${version - 2} (interop ${version}, progressInterim false): no progress 104 during a slow append`, async () => {
      const d = ietf(version)
      const path = await create(progress.port, d, 0)
      const body = randomBytes(8 * MiB)
      const r = await rawRequest({
        port: progress.port,
        method: 'PATCH',
        path,
        headers: appendHeaders(d, 0, true),
        body,
        pieceBytes: 256 * KiB,
        delayMs: 10,
      })
      const trace = describeExchange(r)
      assert.equal(r.interim.length, 0, `no 104 expected for interop ${version}: ${trace}`)
      assert.ok(r.final !== undefined && r.final.status >= 200 && r.final.status < 300, trace)
      assert.equal(r.final.headers['upload-offset'], String(body.length), trace)
    })
  }

  // -------------------------------------------------------------------------------------------
  // interrupted transfers

  for (const d of [TUS, ietf(6), ietf(10)]) {
    test(`${d.kind === 'tus' ? 'tus 1.0.0 (T40)' : `draft-13 §4.4.2 (D26, ${label(d)})`}: an interrupted PATCH keeps its bytes and a PATCH from the offset completes`, async () => {
      const body = randomBytes(MiB)
      const cut = 400 * KiB
      const path = await create(server.port, d, body.length)
      const interrupted = await rawRequest({
        port: server.port,
        method: 'PATCH',
        path,
        headers: appendHeaders(d, 0, true),
        body,
        cutAfter: cut,
      })
      assert.equal(interrupted.final, undefined, describeExchange(interrupted))
      const h = await headOffset(server.port, d, path)
      assert.ok(h.status === 200 || h.status === 204, `HEAD: ${h.status}`)
      assert.ok(h.offset > 0 && h.offset <= cut, `offset ${h.offset} not in (0, ${cut}]`)
      if (d.kind === 'tus') {
        assert.equal(h.response?.headers['upload-length'], String(body.length))
      } else {
        // draft-13 §4.4.2: an interrupted append MUST NOT complete the upload, even with ?1.
        assert.equal(h.response?.headers['upload-complete'], '?0')
      }
      const rest = await rawRequest({
        port: server.port,
        method: 'PATCH',
        path,
        headers: appendHeaders(d, h.offset, true),
        body: body.subarray(h.offset),
      })
      const trace = describeExchange(rest)
      assert.ok(
        rest.final !== undefined && rest.final.status >= 200 && rest.final.status < 300,
        trace,
      )
      if (d.kind === 'tus') assert.equal(rest.final.headers['upload-offset'], String(body.length))
      else assert.equal(rest.final.headers['upload-complete'], '?1', trace)
      assert.equal(sha256(await download(server.port, path)), sha256(body))
    })
  }

  // -------------------------------------------------------------------------------------------
  // takeover (draft-13 §4.6)

  test('draft-13 §4.6 (D29): HEAD takes over a stalled PATCH in under a second, and its offset is accepted', async (t) => {
    const d = ietf(10)
    const body = randomBytes(2 * MiB)
    const half = body.length / 2
    const path = await create(server.port, d, body.length)
    const stalled = await stalledRequest(
      server.port,
      'PATCH',
      path,
      { ...appendHeaders(d, 0, true), 'content-length': String(body.length) },
      body.subarray(0, half),
    )
    sockets.push(stalled.socket)
    await sleep(300)
    const t0 = performance.now()
    const h = await headOffset(server.port, d, path)
    const elapsed = performance.now() - t0
    t.diagnostic(`HEAD after ${elapsed.toFixed(0)} ms: offset ${h.offset} of ${stalled.sent} sent`)
    assert.ok(elapsed < 1000, `HEAD took ${elapsed.toFixed(0)} ms`)
    assert.ok(h.status === 200 || h.status === 204, `HEAD: ${h.status}`)
    assert.ok(h.offset > 0 && h.offset <= stalled.sent, `offset ${h.offset} of ${stalled.sent}`)
    assert.equal(h.response?.headers['upload-complete'], '?0')
    // The stalled PATCH was answered (or closed) rather than left hanging.
    assert.ok(
      await within(stalled.response, 3000),
      'the stalled PATCH was neither answered nor closed',
    )
    t.diagnostic(`stalled PATCH: ${(await stalled.response)?.status ?? 'closed without response'}`)
    stalled.socket.destroy()
    const rest = await rawRequest({
      port: server.port,
      method: 'PATCH',
      path,
      headers: appendHeaders(d, h.offset, true),
      body: body.subarray(h.offset),
    })
    const trace = describeExchange(rest)
    assert.notEqual(rest.final?.status, 409, trace)
    assert.ok(
      rest.final !== undefined && rest.final.status >= 200 && rest.final.status < 300,
      trace,
    )
    assert.equal(rest.final.headers['upload-complete'], '?1', trace)
    assert.equal(sha256(await download(server.port, path)), sha256(body))
  })

  for (const d of [ietf(10), TUS]) {
    test(`draft-13 §4.6 (D28, ${label(d)}): a second PATCH takes over a stalled PATCH and succeeds`, async () => {
      const body = randomBytes(2 * MiB)
      const half = body.length / 2
      const path = await create(server.port, d, body.length)
      const stalled = await stalledRequest(
        server.port,
        'PATCH',
        path,
        { ...appendHeaders(d, 0, true), 'content-length': String(body.length) },
        body.subarray(0, half),
      )
      sockets.push(stalled.socket)
      await sleep(300)
      const t0 = performance.now()
      const second = await rawRequest({
        port: server.port,
        method: 'PATCH',
        path,
        headers: appendHeaders(d, half, true),
        body: body.subarray(half),
      })
      const elapsed = performance.now() - t0
      const trace = describeExchange(second)
      assert.ok(
        second.final !== undefined && second.final.status >= 200 && second.final.status < 300,
        trace,
      )
      assert.ok(elapsed < 2000, `the second PATCH took ${elapsed.toFixed(0)} ms`)
      if (d.kind === 'tus') assert.equal(second.final.headers['upload-offset'], String(body.length))
      else assert.equal(second.final.headers['upload-complete'], '?1', trace)
      stalled.socket.destroy()
      assert.equal(sha256(await download(server.port, path)), sha256(body))
    })
  }

  test('draft-13 §4.5, §4.6 (D31): DELETE while a PATCH streams gets 204, then HEAD gets 404', async () => {
    const d = ietf(10)
    const body = randomBytes(2 * MiB)
    const path = await create(server.port, d, body.length)
    const stalled = await stalledRequest(
      server.port,
      'PATCH',
      path,
      { ...appendHeaders(d, 0, true), 'content-length': String(body.length) },
      body.subarray(0, MiB),
    )
    sockets.push(stalled.socket)
    await sleep(200)
    const t0 = performance.now()
    const del = await rawRequest({ port: server.port, method: 'DELETE', path, headers: base(d) })
    const elapsed = performance.now() - t0
    assert.equal(del.final?.status, 204, describeExchange(del))
    assert.ok(elapsed < 1000, `DELETE took ${elapsed.toFixed(0)} ms`)
    const h = await headOffset(server.port, d, path)
    assert.equal(h.status, 404)
    // The in-flight PATCH is ended (SHOULD): answered or closed.
    assert.ok(
      await within(stalled.response, 3000),
      'the streaming PATCH was neither answered nor closed',
    )
    stalled.socket.destroy()
  })

  // -------------------------------------------------------------------------------------------
  // 100-continue and 104

  test('draft-13 §5 (D44): Expect: 100-continue gets the 104 with Location and also 100 Continue before the content', async (t) => {
    const body = randomBytes(64 * KiB)
    const wait = 500
    const arrivals: { status: number; at: number }[] = []
    const t0 = performance.now()
    const r = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: {
        'upload-draft-interop-version': '10',
        'upload-complete': '?1',
        expect: '100-continue',
        'content-length': String(body.length),
      },
      body,
      waitBeforeBodyMs: wait,
      onInterim: (m) => arrivals.push({ status: m.status, at: performance.now() - t0 }),
    })
    const trace = describeExchange(r)
    const upload = r.interim.find((m) => m.status === 104)
    assert.ok(upload !== undefined, `no 104: ${trace}`)
    assert.match(upload.headers.location ?? '', /\/files\/[0-9a-f]{32}$/, trace)
    assert.equal(upload.headers['upload-draft-interop-version'], '10', trace)
    assert.ok(
      r.interim.some((m) => m.status === 100),
      `100 Continue MUST NOT be omitted because a 104 was sent: ${trace}`,
    )
    t.diagnostic(
      `interim order: ${arrivals.map((a) => `${a.status}@${a.at.toFixed(0)}ms`).join(', ')}`,
    )
    for (const a of arrivals) {
      assert.ok(a.at < wait, `${a.status} arrived after the content was sent (${a.at} ms)`)
    }
    assert.equal(r.final?.status, 201, trace)
    assert.equal(r.final.headers['upload-complete'], '?1', trace)
    const location = upload.headers.location ?? ''
    assert.equal(sha256(await download(server.port, new URL(location).pathname)), sha256(body))
  })

  test('RFC 9110 §15.2: no 1xx (neither the creation 104 nor progress 104s) to an HTTP/1.0 client', async () => {
    const body = randomBytes(4 * MiB)
    const socket = net.connect(progress.port, '127.0.0.1')
    sockets.push(socket)
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    const parser = new ResponseParser(false)
    const messages: RawResponse[] = []
    socket.on('data', (data: Buffer) => messages.push(...parser.push(data)))
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    const head = [
      'POST /files/ HTTP/1.0',
      `host: 127.0.0.1:${progress.port}`,
      'upload-draft-interop-version: 10',
      'upload-complete: ?1',
      `content-length: ${body.length}`,
    ].join('\r\n')
    socket.write(`${head}\r\n\r\n`)
    // Slowly, so that progress 104s would be due (progressIntervalMs: 50).
    for (let at = 0; at < body.length; at += 256 * KiB) {
      await new Promise<void>((resolve) =>
        socket.write(body.subarray(at, at + 256 * KiB), () => resolve()),
      )
      await sleep(10)
    }
    assert.ok(await within(closed, 5000), 'no response to the HTTP/1.0 request')
    const statuses = messages.map((m) => `${m.status} ${m.reason}`)
    assert.deepEqual(
      messages.filter((m) => m.status < 200).map((m) => m.status),
      [],
      `an HTTP/1.0 client got interim responses: ${statuses.join(', ')}`,
    )
    assert.equal(messages.length, 1, statuses.join(', '))
    const final = messages[0]!
    assert.equal(final.status, 201)
    assert.equal(final.headers['upload-complete'], '?1')
    const location = final.headers.location ?? ''
    assert.equal(sha256(await download(progress.port, new URL(location).pathname)), sha256(body))
  })

  // -------------------------------------------------------------------------------------------
  // early rejection with unread content

  for (const d of [ietf(10), TUS]) {
    test(`draft-13 §4.4.2 / tus §PATCH (${label(d)}): a 409 for a wrong offset reaches the client despite 50 MiB of unread content, then the connection closes`, async () => {
      const path = await create(server.port, d, 100 * MiB)
      const socket = net.connect(server.port, '127.0.0.1')
      sockets.push(socket)
      await new Promise<void>((resolve) => socket.once('connect', resolve))
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      socket.on('error', () => undefined)
      const t0 = performance.now()
      const r = await rawRequest({
        port: server.port,
        socket,
        method: 'PATCH',
        path,
        headers: appendHeaders(d, 4096, false),
        body: Buffer.alloc(50 * MiB, 1),
        pieceBytes: MiB,
      })
      const trace = describeExchange(r)
      assert.equal(r.final?.status, 409, trace)
      assert.equal(r.final.headers['upload-offset'], '0', trace)
      assert.equal(r.final.headers.connection, 'close', trace)
      if (d.kind === 'ietf') assert.equal(r.final.headers['upload-complete'], '?0', trace)
      assert.ok(await within(closed, 5000), 'the server did not close the connection')
      assert.ok(performance.now() - t0 < 6000)
      const h = await headOffset(server.port, d, path)
      assert.equal(h.offset, 0)
    })
  }

  // -------------------------------------------------------------------------------------------
  // keep-alive

  test('RFC 9110 §15.2 / draft-13 §4.2.2: the connection stays usable after a 104 (creation then HEAD on one socket)', async () => {
    const socket = net.connect(server.port, '127.0.0.1')
    sockets.push(socket)
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    const body = randomBytes(1000)
    const created = await rawRequest({
      port: server.port,
      socket,
      method: 'POST',
      path: '/files/',
      headers: { 'upload-draft-interop-version': '10', 'upload-complete': '?0' },
      body,
    })
    const trace = describeExchange(created)
    assert.equal(created.interim.length, 1, trace)
    assert.equal(created.interim[0]?.status, 104, trace)
    assert.equal(created.final?.status, 201, trace)
    assert.notEqual(created.final.headers.connection, 'close', trace)
    const location = created.final.headers.location ?? ''
    assert.equal(created.interim[0]?.headers.location, location, trace)
    const h = await rawRequest({
      port: server.port,
      socket,
      method: 'HEAD',
      path: new URL(location).pathname,
      headers: { 'upload-draft-interop-version': '10' },
    })
    assert.equal(h.final?.status, 204, describeExchange(h))
    assert.equal(h.final.headers['upload-offset'], '1000')
    assert.equal(socket.destroyed, false)
    socket.destroy()
  })

  // -------------------------------------------------------------------------------------------
  // tus checksum-trailer

  test('tus 1.0.0 §Checksum (T30): checksum-trailer over chunked encoding, correct → 204, wrong → 460 and the offset is unchanged', async () => {
    const first = randomBytes(300 * KiB)
    const second = randomBytes(200 * KiB)
    const path = await create(server.port, TUS, first.length + second.length)
    const pieces = (b: Buffer): Buffer[] => [b.subarray(0, 100 * KiB), b.subarray(100 * KiB)]
    const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('base64')
    const ok = await rawRequest({
      port: server.port,
      method: 'PATCH',
      path,
      headers: { ...appendHeaders(TUS, 0, false), trailer: 'Upload-Checksum' },
      body: pieces(first),
      chunked: true,
      trailers: { 'upload-checksum': `sha1 ${sha1(first)}` },
    })
    assert.equal(ok.final?.status, 204, describeExchange(ok))
    assert.equal(ok.final.headers['upload-offset'], String(first.length))
    const bad = await rawRequest({
      port: server.port,
      method: 'PATCH',
      path,
      headers: { ...appendHeaders(TUS, first.length, false), trailer: 'Upload-Checksum' },
      body: pieces(second),
      chunked: true,
      trailers: { 'upload-checksum': `sha1 ${sha1(first)}` },
    })
    assert.equal(bad.final?.status, 460, describeExchange(bad))
    const h = await headOffset(server.port, TUS, path)
    assert.equal(h.offset, first.length)
    const good = await rawRequest({
      port: server.port,
      method: 'PATCH',
      path,
      headers: { ...appendHeaders(TUS, first.length, false), trailer: 'Upload-Checksum' },
      body: pieces(second),
      chunked: true,
      trailers: { 'upload-checksum': `sha1 ${sha1(second)}` },
    })
    assert.equal(good.final?.status, 204, describeExchange(good))
    assert.equal(sha256(await download(server.port, path)), sha256(Buffer.concat([first, second])))
  })

  // -------------------------------------------------------------------------------------------
  // idle timeout

  test('draft-13 §13 (slowloris) / draft-13 §4.4.2: an idle connection is closed and the bytes it delivered are kept', async () => {
    const d = TUS
    const body = randomBytes(MiB)
    const path = await create(idle.port, d, body.length)
    const t0 = performance.now()
    const stalled = await stalledRequest(
      idle.port,
      'PATCH',
      path,
      { ...appendHeaders(d, 0, false), 'content-length': String(body.length) },
      body.subarray(0, 100 * KiB),
    )
    sockets.push(stalled.socket)
    const closedInTime = await within(stalled.closed, 3000)
    const elapsed = performance.now() - t0
    assert.ok(closedInTime, 'the server did not close the idle connection within 3 s')
    assert.ok(elapsed >= 250, `closed after ${elapsed.toFixed(0)} ms, before the idle timeout`)
    await sleep(100)
    const h = await headOffset(idle.port, d, path)
    assert.equal(h.offset, 100 * KiB)
  })

  test('draft-13 §13 (slowloris): the idle timeout also applies to a later request on a kept-alive connection', async () => {
    const d = TUS
    const body = randomBytes(MiB)
    const socket = net.connect(idle.port, '127.0.0.1')
    sockets.push(socket)
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    const created = await rawRequest({
      port: idle.port,
      socket,
      method: 'POST',
      path: '/files/',
      headers: { ...base(d), 'upload-length': String(body.length), 'content-length': '0' },
    })
    assert.equal(created.final?.status, 201, describeExchange(created))
    const path = new URL(created.final.headers.location ?? '').pathname
    const t0 = performance.now()
    const stalled = await stalledRequest(
      idle.port,
      'PATCH',
      path,
      { ...appendHeaders(d, 0, false), 'content-length': String(body.length) },
      body.subarray(0, 100 * KiB),
      socket,
    )
    const closedInTime = await within(stalled.closed, 3000)
    const elapsed = performance.now() - t0
    assert.ok(closedInTime, 'the kept-alive connection was not closed within 3 s of idling')
    assert.ok(elapsed >= 250, `closed after ${elapsed.toFixed(0)} ms, before the idle timeout`)
    await sleep(100)
    const h = await headOffset(idle.port, d, path)
    assert.equal(h.offset, 100 * KiB)
  })
})
