/**
 * Regressions for the defects the hardening campaigns of issue 6 found (fuzz, slowloris,
 * security; see test/campaigns/): each test fails on the code before its fix.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { rawRequest } from '../support/raw-http.ts'
import { type RunningServer, startServer } from '../support/servers.ts'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const TUS = { 'tus-resumable': '1.0.0' }

describe('hardening regressions (issue 6 campaigns)', () => {
  let server: RunningServer
  let idle: RunningServer
  let capped: RunningServer
  const finished: string[] = []

  before(async () => {
    server = await startServer({
      hooks: {
        onUploadFinish(ctx) {
          finished.push(ctx.upload.id)
        },
      },
    })
    idle = await startServer({ transport: { idleTimeoutMs: 500 } })
    capped = await startServer({ transport: { maxConnectionsPerClient: 3 } })
  })
  after(async () => {
    await Promise.all([server.close(), idle.close(), capped.close()])
  })

  async function createDeferred(port: number, content: Buffer): Promise<string> {
    const r = await rawRequest({
      port,
      method: 'POST',
      path: '/files/',
      headers: {
        ...TUS,
        'upload-defer-length': '1',
        'content-type': 'application/offset+octet-stream',
      },
      body: content,
    })
    assert.equal(r.final?.status, 201)
    return new URL(r.final.headers.location ?? '').pathname
  }

  test('fuzz: a rejected PATCH whose Upload-Length equals the offset does not complete the upload (tus creation-defer-length)', async () => {
    const path = await createDeferred(server.port, Buffer.from('hello'))
    const wrong = createHash('sha256').update('x').digest('base64')
    const rejected = await rawRequest({
      port: server.port,
      method: 'PATCH',
      path,
      headers: {
        ...TUS,
        'upload-offset': '5',
        'upload-length': '5',
        'content-type': 'application/offset+octet-stream',
        'content-digest': `sha-256=:${wrong}:`,
      },
      body: Buffer.alloc(0),
    })
    assert.equal(rejected.final?.status, 400)
    const h = await rawRequest({ port: server.port, method: 'HEAD', path, headers: TUS })
    assert.equal(h.final?.headers['upload-defer-length'], '1', 'the length was recorded')
    assert.equal(h.final?.headers['upload-length'], undefined)
    const id = path.slice('/files/'.length)
    assert.ok(!finished.includes(id))
    // The same request with a matching digest completes it, and the finish hook runs.
    const right = createHash('sha256').update('').digest('base64')
    const ok = await rawRequest({
      port: server.port,
      method: 'PATCH',
      path,
      headers: {
        ...TUS,
        'upload-offset': '5',
        'upload-length': '5',
        'content-type': 'application/offset+octet-stream',
        'content-digest': `sha-256=:${right}:`,
      },
      body: Buffer.alloc(0),
    })
    assert.equal(ok.final?.status, 204)
    assert.ok(finished.includes(id), 'onUploadFinish did not run')
  })

  test('fuzz: a PATCH with a failing checksum does not record its Upload-Length (tus 1.0.0 §Checksum)', async () => {
    const path = await createDeferred(server.port, Buffer.from('abc'))
    const r = await rawRequest({
      port: server.port,
      method: 'PATCH',
      path,
      headers: {
        ...TUS,
        'upload-offset': '3',
        'upload-length': '6',
        'content-type': 'application/offset+octet-stream',
        'upload-checksum': `sha1 ${createHash('sha1').update('nope').digest('base64')}`,
      },
      body: Buffer.from('def'),
    })
    assert.equal(r.final?.status, 460)
    const h = await rawRequest({ port: server.port, method: 'HEAD', path, headers: TUS })
    assert.equal(h.final?.headers['upload-offset'], '3')
    assert.equal(h.final?.headers['upload-defer-length'], '1')
  })

  test("fuzz: garbage after a request body does not replace that request's answer with a 400 (RFC 9112 §9.3.2)", async () => {
    const r = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'upload-length': '3', 'content-type': 'application/offset+octet-stream' },
      body: Buffer.from('abc'),
    })
    const path = new URL(r.final?.headers.location ?? '').pathname
    // Content-Length 3, then three more bytes: Node's parser fails on them as the next request.
    const del = await rawRequest({
      port: server.port,
      method: 'DELETE',
      path,
      headers: { ...TUS, 'content-length': '3' },
      body: Buffer.from('xyzXYZ'),
    })
    assert.equal(del.final?.status, 204, 'the DELETE was answered with another status')
    const h = await rawRequest({ port: server.port, method: 'HEAD', path, headers: TUS })
    assert.equal(h.final?.status, 404)
  })

  test('fuzz: a malformed trailer after a DELETE that is carried out never gets a 400', async () => {
    const r = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'upload-length': '3', 'content-type': 'application/offset+octet-stream' },
      body: Buffer.from('abc'),
    })
    const path = new URL(r.final?.headers.location ?? '').pathname
    const del = await rawRequest({
      port: server.port,
      method: 'DELETE',
      path,
      headers: TUS,
      chunked: true,
      body: [],
      trailers: { 'no colon here\r\nx': 'y' },
    })
    await sleep(100)
    const h = await rawRequest({ port: server.port, method: 'HEAD', path, headers: TUS })
    if (h.final?.status === 404) {
      assert.notEqual(del.final?.status, 400, 'the DELETE was carried out but answered 400')
    } else {
      assert.equal(h.final?.headers['upload-offset'], '3')
    }
  })

  test('security: Upload-Concat URLs of another origin are refused; this origin, absolute or relative, works', async () => {
    const p = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: {
        ...TUS,
        'upload-concat': 'partial',
        'upload-length': '2',
        'content-type': 'application/offset+octet-stream',
      },
      body: Buffer.from('ab'),
    })
    assert.equal(p.final?.status, 201)
    const location = p.final.headers.location ?? ''
    const path = new URL(location).pathname
    for (const other of [
      `http://evil.example${path}`,
      `https://127.0.0.1:${server.port}${path}`,
      `http://127.0.0.1:1${path}`,
    ]) {
      const r = await rawRequest({
        port: server.port,
        method: 'POST',
        path: '/files/',
        headers: { ...TUS, 'upload-concat': `final;${other}` },
      })
      assert.equal(r.final?.status, 400, other)
    }
    const good = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: { ...TUS, 'upload-concat': `final;${location} ${path}` },
    })
    assert.equal(good.final?.status, 201)
  })

  test('slowloris: a header section trickled a byte at a time is closed after the idle timeout, not after 60 s', async () => {
    const socket = net.connect(idle.port, '127.0.0.1')
    socket.on('error', () => undefined)
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    let closed = false
    socket.once('close', () => {
      closed = true
    })
    const text = `POST /files/ HTTP/1.1\r\nhost: x\r\n${'x-pad: y\r\n'.repeat(100)}`
    const t0 = performance.now()
    for (let i = 0; i < text.length && !closed && performance.now() - t0 < 20_000; i++) {
      socket.write(text[i] as string)
      await sleep(100)
    }
    socket.destroy()
    assert.ok(closed, 'the trickling connection was still open after 20 s')
  })

  test('slowloris: connections beyond maxConnectionsPerClient get 429 with Retry-After (RFC 6585 §4)', async () => {
    const held: net.Socket[] = []
    for (let i = 0; i < 3; i++) {
      const s = net.connect(capped.port, '127.0.0.1')
      s.on('error', () => undefined)
      await new Promise<void>((resolve) => s.once('connect', resolve))
      held.push(s)
    }
    await sleep(100)
    const over = await rawRequest({
      port: capped.port,
      method: 'OPTIONS',
      path: '/files/',
      headers: TUS,
    })
    assert.equal(over.final?.status, 429)
    assert.equal(over.final.headers['retry-after'], '1')
    for (const s of held) s.destroy()
    await sleep(200)
    const ok = await rawRequest({
      port: capped.port,
      method: 'OPTIONS',
      path: '/files/',
      headers: TUS,
    })
    assert.equal(ok.final?.status, 204)
  })
})
