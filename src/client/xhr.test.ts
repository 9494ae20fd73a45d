/**
 * The XHR transport against a fake XMLHttpRequest (the real one runs in
 * test/browser/chromium.test.ts): fields, bodies, upload progress, responses, errors, abort.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_RESPONSE_BODY, type RequestBody } from './transport.ts'
import { defaultTransport, parseHeaders, type XhrLike, xhrTransport } from './xhr.ts'

type Listener = (event: { loaded: number }) => void

/** A scripted XMLHttpRequest: records what the transport does; the test fires the events. */
class FakeXhr implements XhrLike {
  static last: FakeXhr | undefined
  opened: [string, string, boolean] | undefined
  headers: [string, string][] = []
  body: unknown = 'not sent'
  aborted = false
  withCredentials = false
  status = 0
  responseText = ''
  responseHeaders = ''
  readonly listeners = new Map<string, (() => void)[]>()
  readonly uploadListeners = new Map<string, Listener[]>()
  readonly upload = {
    addEventListener: (type: string, listener: Listener): void => {
      this.uploadListeners.set(type, [...(this.uploadListeners.get(type) ?? []), listener])
    },
  }
  constructor() {
    FakeXhr.last = this
  }
  open(method: string, url: string, async: boolean): void {
    this.opened = [method, url, async]
  }
  setRequestHeader(name: string, value: string): void {
    this.headers.push([name, value])
  }
  send(body?: unknown): void {
    this.body = body
  }
  abort(): void {
    this.aborted = true
    this.fire('abort')
  }
  getAllResponseHeaders(): string {
    return this.responseHeaders
  }
  addEventListener(type: string, listener: () => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }
  fire(type: string): void {
    for (const l of this.listeners.get(type) ?? []) l()
  }
  fireUpload(type: string, loaded: number): void {
    for (const l of this.uploadListeners.get(type) ?? []) l({ loaded })
  }
  respond(status: number, headers: string, text = ''): void {
    this.status = status
    this.responseHeaders = headers
    this.responseText = text
    this.fire('load')
  }
}

/** The fake of the request in flight, once the transport has sent it (bodies are async). */
async function sent(): Promise<FakeXhr> {
  for (let i = 0; i < 100; i++) {
    const x = FakeXhr.last
    if (x !== undefined && x.body !== 'not sent') return x
    await new Promise((r) => setImmediate(r))
  }
  throw new Error('nothing sent')
}

function bytesBody(bytes: Uint8Array): RequestBody {
  return {
    length: bytes.length,
    bytes,
    async *stream() {
      yield bytes
    },
  }
}

const transport = () => xhrTransport({ XMLHttpRequest: FakeXhr })

describe('xhrTransport', () => {
  test('sends method, URL and fields, but not the ones the browser sets itself', async () => {
    FakeXhr.last = undefined
    const done = transport().request({
      method: 'HEAD',
      url: 'https://up.example/files/1',
      headers: { 'tus-resumable': '1.0.0', 'content-length': '0', authorization: 'Bearer x' },
      signal: new AbortController().signal,
    })
    const x = await sent()
    assert.deepEqual(x.opened, ['HEAD', 'https://up.example/files/1', true])
    assert.deepEqual(x.headers, [
      ['tus-resumable', '1.0.0'],
      ['authorization', 'Bearer x'],
    ])
    assert.equal(x.body, null)
    assert.equal(x.withCredentials, false)
    x.respond(200, 'Upload-Offset: 5\r\nTUS-Resumable: 1.0.0\r\n', 'hi')
    assert.deepEqual(await done, {
      status: 200,
      headers: { 'upload-offset': '5', 'tus-resumable': '1.0.0' },
      body: 'hi',
    })
  })

  test('a Blob body is sent as the Blob; upload progress reaches onSent, capped at the length', async () => {
    FakeXhr.last = undefined
    const blob = new Blob([new Uint8Array(10)])
    const seen: number[] = []
    const done = transport().request({
      method: 'PATCH',
      url: 'https://up.example/files/1',
      headers: {},
      body: { length: 10, blob, stream: () => (async function* () {})() },
      signal: new AbortController().signal,
      onSent: (n) => seen.push(n),
    })
    const x = await sent()
    assert.equal(x.body, blob)
    x.fireUpload('progress', 4)
    x.fireUpload('progress', 12)
    x.fireUpload('load', 10)
    x.respond(204, '')
    await done
    x.fireUpload('progress', 10)
    assert.deepEqual(seen, [4, 10, 10], 'nothing after the response')
  })

  test('bytes are sent as they are; a stream body is collected; an empty body sends nothing', async () => {
    const t = transport()
    const bytes = new Uint8Array([1, 2, 3])
    FakeXhr.last = undefined
    const a = t.request({
      method: 'PATCH',
      url: 'u',
      headers: {},
      body: bytesBody(bytes),
      signal: new AbortController().signal,
    })
    const x = await sent()
    assert.equal(x.body, bytes)
    x.respond(204, '')
    await a
    FakeXhr.last = undefined
    const b = t.request({
      method: 'PATCH',
      url: 'u',
      headers: {},
      body: {
        length: 4,
        async *stream() {
          yield new Uint8Array([1, 2])
          yield new Uint8Array([3, 4, 5])
        },
      },
      signal: new AbortController().signal,
    })
    const y = await sent()
    assert.deepEqual(y.body, new Uint8Array([1, 2, 3, 4]))
    y.respond(204, '')
    await b
    FakeXhr.last = undefined
    const c = t.request({
      method: 'POST',
      url: 'u',
      headers: {},
      body: bytesBody(new Uint8Array(0)),
      signal: new AbortController().signal,
    })
    const z = await sent()
    assert.equal(z.body, null)
    z.respond(201, 'Location: /files/2')
    assert.equal((await c).headers.location, '/files/2')
  })

  test('network errors reject; long response bodies are cut', async () => {
    FakeXhr.last = undefined
    const failing = transport().request({
      method: 'PATCH',
      url: 'https://up.example/files/1',
      headers: {},
      signal: new AbortController().signal,
    })
    ;(await sent()).fire('error')
    await assert.rejects(failing, /network error/)
    FakeXhr.last = undefined
    const big = transport().request({
      method: 'POST',
      url: 'u',
      headers: {},
      signal: new AbortController().signal,
    })
    ;(await sent()).respond(500, '', 'x'.repeat(MAX_RESPONSE_BODY + 10))
    assert.equal((await big).body?.length, MAX_RESPONSE_BODY)
  })

  test("abort: the XHR is aborted and the request rejects with the signal's reason", async () => {
    FakeXhr.last = undefined
    const controller = new AbortController()
    const done = transport().request({
      method: 'PATCH',
      url: 'u',
      headers: {},
      body: bytesBody(new Uint8Array(5)),
      signal: controller.signal,
    })
    const x = await sent()
    const reason = new Error('paused')
    controller.abort(reason)
    await assert.rejects(done, (e) => e === reason)
    assert.equal(x.aborted, true)
    FakeXhr.last = undefined
    await assert.rejects(
      transport().request({ method: 'HEAD', url: 'u', headers: {}, signal: controller.signal }),
      (e) => e === reason,
    )
    assert.equal(FakeXhr.last, undefined, 'an aborted signal opens nothing')
  })

  test('withCredentials; no XMLHttpRequest: a clear error', async () => {
    FakeXhr.last = undefined
    const done = xhrTransport({ XMLHttpRequest: FakeXhr, withCredentials: true }).request({
      method: 'HEAD',
      url: 'u',
      headers: {},
      signal: new AbortController().signal,
    })
    const x = await sent()
    assert.equal(x.withCredentials, true)
    x.respond(200, '')
    await done
    assert.throws(() => xhrTransport(), /XMLHttpRequest is not available/)
  })

  test('defaultTransport: XHR where it exists, else fetch', async () => {
    const g = globalThis as { XMLHttpRequest?: unknown }
    assert.equal(g.XMLHttpRequest, undefined)
    g.XMLHttpRequest = FakeXhr
    try {
      FakeXhr.last = undefined
      const done = defaultTransport().request({
        method: 'HEAD',
        url: 'u',
        headers: {},
        signal: new AbortController().signal,
      })
      const x = await sent()
      x.respond(204, '')
      await done
    } finally {
      delete g.XMLHttpRequest
    }
    assert.equal(defaultTransport().interimResponses, false)
  })
})

test('parseHeaders: lower-case names, values trimmed, repeats joined, junk ignored', () => {
  assert.deepEqual(
    parseHeaders('Location: /a\r\nVary: Origin\r\nvary:  Accept \r\nno colon\r\n: empty\r\n'),
    { location: '/a', vary: 'Origin, Accept' },
  )
})
