/**
 * Server behaviour beyond the protocol tables: the authorization hook on every request, the
 * finish hook as the targeted resource, CORS, upload URLs behind proxies, downloads, shutdown.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { UploadError } from '../../src/protocol/errors.ts'
import { createUploadHandler } from '../../src/server/handler.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { createDiskStore } from '../../src/stores/disk/index.ts'
import { harness } from '../support/harness.ts'
import { tempDir } from '../support/servers.ts'

const TUS = { 'tus-resumable': '1.0.0' }
const PATCH = { ...TUS, 'content-type': 'application/offset+octet-stream' }

describe('hooks', () => {
  test('authorize is called for every request except OPTIONS and can reject with any status', async () => {
    const seen: string[] = []
    const h = harness('memory', {
      hooks: {
        authorize: (ctx) => {
          seen.push(`${ctx.method} ${ctx.intent}`)
          if (ctx.headers.authorization !== 'Bearer ok') throw new UploadError('ERR_UNAUTHORIZED')
        },
      },
    })
    try {
      const auth = { authorization: 'Bearer ok' }
      const created = await h.request('POST', '/files/', {
        headers: { ...TUS, ...auth, 'upload-length': '3' },
      })
      const path = h.path(created.headers.location)
      await h.request('HEAD', path, { headers: { ...TUS, ...auth } })
      await h.request('PATCH', path, {
        headers: { ...PATCH, ...auth, 'upload-offset': '0' },
        body: 'abc',
      })
      await h.request('GET', path, { headers: auth })
      await h.request('OPTIONS', '/files/')
      const denied = await h.request('HEAD', path, { headers: TUS })
      assert.equal(denied.status, 401)
      const deniedPatch = await h.request('PATCH', path, {
        headers: { ...PATCH, 'upload-offset': '3' },
        body: 'x',
      })
      assert.equal(deniedPatch.status, 401)
      await h.request('DELETE', path, { headers: { ...TUS, ...auth } })
      assert.deepEqual(seen, [
        'POST create',
        'HEAD retrieve',
        'PATCH append',
        'GET download',
        'HEAD retrieve',
        'PATCH append',
        'DELETE cancel',
      ])
    } finally {
      await h.close()
    }
  })

  test('onUploadFinish supplies the targeted resource response (draft) and is stored for replay', async () => {
    const h = harness('memory', {
      hooks: {
        onUploadFinish: (ctx) => ({
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: ctx.upload.id, size: ctx.upload.length }),
        }),
      },
    })
    try {
      const iv = { 'upload-draft-interop-version': '10' }
      const r = await h.request('POST', '/files/', {
        headers: { ...iv, 'upload-complete': '?1' },
        body: 'hello',
      })
      assert.equal(r.status, 200)
      assert.equal(r.headers['upload-complete'], '?1')
      const body = JSON.parse(r.body) as { size: number }
      assert.equal(body.size, 5)
      const path = h.path(r.interim[0]?.headers.location)
      const replay = await h.request('PATCH', path, {
        headers: {
          ...iv,
          'upload-complete': '?1',
          'upload-offset': '5',
          'content-type': 'application/partial-upload',
        },
        body: '',
      })
      assert.equal(replay.status, 200)
      assert.equal(replay.body, r.body)
    } finally {
      await h.close()
    }
  })

  test('onUploadFinish rejecting: the draft gets the rejection with ?1 (no resumption helps); HEAD then says gone', async () => {
    const h = harness('memory', {
      hooks: {
        onUploadFinish: () => {
          throw new UploadError('ERR_FORBIDDEN', 'quota exceeded')
        },
      },
    })
    try {
      const r = await h.request('POST', '/files/', {
        headers: { 'upload-draft-interop-version': '9', 'upload-complete': '?1' },
        body: 'x',
      })
      assert.equal(r.status, 403)
      assert.equal(r.headers['upload-complete'], '?1')
      assert.match(r.body, /quota exceeded/)
      const tus = await h.request('POST', '/files/', {
        headers: {
          ...TUS,
          'upload-length': '1',
          'content-type': 'application/offset+octet-stream',
        },
        body: 'x',
      })
      assert.equal(tus.status, 403)
    } finally {
      await h.close()
    }
  })

  test('onUploadCreate can refuse an upload before anything is stored', async () => {
    const h = harness('memory', {
      hooks: {
        onUploadCreate: (ctx) => {
          if ((ctx.upload.length ?? 0) > 3)
            throw new UploadError('ERR_FORBIDDEN', 'too big for this user', { status: 413 })
        },
      },
    })
    try {
      const r = await h.request('POST', '/files/', { headers: { ...TUS, 'upload-length': '4' } })
      assert.equal(r.status, 413)
      assert.equal((h.store as unknown as { size: number }).size, 0)
    } finally {
      await h.close()
    }
  })
})

describe('CORS (browser clients)', () => {
  test('preflight and simple responses expose the protocol headers to allowed origins only', async () => {
    const h = harness('memory', { cors: { origins: ['https://app.test'] } })
    try {
      const pre = await h.request('OPTIONS', '/files/', {
        headers: {
          origin: 'https://app.test',
          'access-control-request-method': 'PATCH',
          'access-control-request-headers': 'upload-offset, x-custom',
        },
      })
      assert.equal(pre.status, 204)
      assert.equal(pre.headers['access-control-allow-origin'], 'https://app.test')
      assert.match(pre.headers['access-control-allow-methods'] ?? '', /PATCH/)
      assert.match(pre.headers['access-control-allow-headers'] ?? '', /upload-offset.*x-custom/)
      assert.match(pre.headers.vary ?? '', /Origin/)
      const created = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '1', origin: 'https://app.test' },
      })
      assert.match(
        created.headers['access-control-expose-headers'] ?? '',
        /location.*upload-offset/,
      )
      const other = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '1', origin: 'https://evil.test' },
      })
      assert.equal(other.headers['access-control-allow-origin'], undefined)
    } finally {
      await h.close()
    }
  })
})

describe('upload URLs', () => {
  test('absolute from Host by default; relative on request; proxy headers only when trusted', async () => {
    const plain = harness('memory')
    const relative = harness('memory', { relativeLocation: true })
    const proxied = harness('memory', { trustProxy: true, basePath: '/uploads' })
    try {
      const fwd = {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'files.example.com',
        'x-forwarded-prefix': '/api',
      }
      const a = await plain.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '1', ...fwd },
      })
      assert.match(a.headers.location ?? '', /^http:\/\/uploads\.test\/files\/[0-9a-f]{32}$/)
      const b = await relative.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '1' },
      })
      assert.match(b.headers.location ?? '', /^\/files\/[0-9a-f]{32}$/)
      const c = await proxied.request('POST', '/uploads', {
        headers: { ...TUS, 'upload-length': '1', ...fwd },
      })
      assert.match(
        c.headers.location ?? '',
        /^https:\/\/files\.example\.com\/api\/uploads\/[0-9a-f]{32}$/,
      )
    } finally {
      await Promise.all([plain.close(), relative.close(), proxied.close()])
    }
  })
})

describe('downloads', () => {
  test('GET serves complete uploads with ranges; incomplete → 409; safe content types only inline', async () => {
    const h = harness('disk')
    try {
      const html = await h.request('POST', '/files/', {
        headers: {
          'upload-draft-interop-version': '10',
          'upload-complete': '?1',
          'content-type': 'text/html',
          'content-disposition': 'attachment; filename="x.html"',
        },
        body: '<script>alert(1)</script>',
      })
      const path = h.path(html.interim[0]?.headers.location)
      const get = await h.request('GET', path)
      assert.equal(get.status, 200)
      assert.equal(
        get.headers['content-type'],
        'application/octet-stream',
        'HTML is never served as HTML',
      )
      assert.match(get.headers['content-disposition'] ?? '', /^attachment; filename="x.html"/)
      assert.equal(get.headers['x-content-type-options'], 'nosniff')
      assert.match(get.headers['content-security-policy'] ?? '', /sandbox/)
      const range = await h.request('GET', path, { headers: { range: 'bytes=1-6' } })
      assert.equal(range.status, 206)
      assert.equal(range.body, 'script')
      assert.equal(range.headers['content-range'], 'bytes 1-6/25')
      const suffix = await h.request('GET', path, { headers: { range: 'bytes=-2' } })
      assert.equal(suffix.body, 't>')
      assert.equal((await h.request('GET', path, { headers: { range: 'bytes=99-' } })).status, 416)
      const head = await h.request('HEAD', path)
      assert.equal(head.headers['content-length'], '25')
      assert.equal(head.bytes.length, 0)
      const png = await h.request('POST', '/files/', {
        headers: {
          ...TUS,
          'upload-length': '3',
          'upload-metadata': `filetype ${Buffer.from('image/png').toString('base64')},filename ${Buffer.from('ü.png').toString('base64')}`,
          'content-type': 'application/offset+octet-stream',
        },
        body: 'png',
      })
      const pngGet = await h.request('GET', h.path(png.headers.location))
      assert.equal(pngGet.headers['content-type'], 'image/png')
      assert.match(
        pngGet.headers['content-disposition'] ?? '',
        /^inline; filename="_.png"; filename\*=UTF-8''%C3%BC\.png$/,
      )
      const partial = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '3' },
      })
      const incomplete = await h.request('GET', h.path(partial.headers.location))
      assert.equal(incomplete.status, 409)
      assert.match(incomplete.body, /0 bytes received of 3/)
    } finally {
      await h.close()
    }
  })
})

describe('shutdown', () => {
  test('after close(), new requests get 503 with Retry-After', async () => {
    const h = harness('memory')
    await h.handler.close(10)
    const r = await h.request('POST', '/files/', { headers: { ...TUS, 'upload-length': '1' } })
    assert.equal(r.status, 503)
    assert.equal(r.headers['retry-after'], '5')
    await h.close()
  })

  test('close() stops a running transfer, which persists what it received and answers', async () => {
    const h = harness('memory')
    try {
      const created = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '10' },
      })
      const path = h.path(created.headers.location)
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield new TextEncoder().encode('abc')
        await gate
        yield new TextEncoder().encode('def')
      }
      const pending = h.handler.handle({
        method: 'PATCH',
        url: path,
        headers: { ...PATCH, 'upload-offset': '0', 'content-length': '10' },
        body: slow(),
        signal: new AbortController().signal,
        origin: { protocol: 'http', host: 'uploads.test' },
      })
      await new Promise((r) => setTimeout(r, 20))
      await h.handler.close(1000)
      const answer = await pending
      release()
      assert.equal(answer.status, 503)
      assert.equal(answer.headers['upload-offset'], '3')
      assert.equal((await h.store.get(h.path(created.headers.location).slice(7)))?.offset, 3)
    } finally {
      await h.close()
    }
  })
})

describe('expiry', () => {
  for (const kind of ['memory', 'disk'] as const) {
    test(`${kind} store: cleanup never removes an upload a request is writing to (found by the crash campaign)`, async () => {
      // The disk store stamps changes with the real time: the test clock starts there.
      let clock = Date.now()
      const dir = kind === 'disk' ? tempDir() : undefined
      const store =
        dir === undefined
          ? createMemoryStore({ now: () => clock })
          : createDiskStore({ directory: dir.path })
      const handler = createUploadHandler({ store, expireAfterMs: 1000, now: () => clock })
      const send = (
        method: string,
        url: string,
        headers: Record<string, string>,
        body?: AsyncIterable<Uint8Array>,
      ) =>
        handler.handle({
          method,
          url,
          headers,
          body: body ?? null,
          streamedBody: false,
          signal: new AbortController().signal,
          origin: { protocol: 'http', host: 'uploads.test' },
          trailers: () => undefined,
          sendInterim: () => undefined,
        })
      try {
        const created = await send('POST', '/files/', { ...TUS, 'upload-length': '20' })
        const path = new URL(String(created.headers.location)).pathname
        // A PATCH whose content has not arrived yet when the upload's idle time runs out.
        let go: () => void = () => undefined
        const gate = new Promise<void>((resolve) => {
          go = resolve
        })
        let started: () => void = () => undefined
        const reading = new Promise<void>((resolve) => {
          started = resolve
        })
        async function* body(): AsyncGenerator<Uint8Array> {
          started()
          await gate
          yield Buffer.from('0123456789')
        }
        const patching = send(
          'PATCH',
          path,
          { ...PATCH, 'upload-offset': '0', 'content-length': '10' },
          body(),
        )
        await reading
        clock += 3_600_000
        assert.equal(await handler.cleanupExpired(), 0, 'the upload being written is not expired')
        go()
        const patched = await patching
        assert.equal(patched.status, 204)
        const stored = await store.get(path.split('/').pop() ?? '')
        assert.equal(stored?.offset, 10, 'the upload and its bytes are still there')
        // Once idle (no request holds it) it does expire.
        clock += 3_600_000
        assert.equal(await handler.cleanupExpired(), 1)
      } finally {
        await handler.close(1000)
        dir?.cleanup()
      }
    })
  }
})

describe('completion', () => {
  for (const kind of ['memory', 'disk'] as const) {
    test(`${kind} store: a tus PATCH whose chunked content goes past the length fills the upload, which completes (finish hook) though the request gets 413`, async () => {
      const finished: string[] = []
      const h = harness(kind, {
        hooks: {
          onUploadFinish: ({ upload }) => {
            finished.push(upload.id)
          },
        },
      })
      try {
        const created = await h.request('POST', '/files/', {
          headers: { ...TUS, 'upload-length': '5' },
        })
        const path = h.path(created.headers.location)
        const r = await h.request('PATCH', path, {
          headers: { ...PATCH, 'upload-offset': '0' },
          chunked: ['abc', 'defgh'],
        })
        assert.equal(r.status, 413)
        const head = await h.request('HEAD', path, { headers: TUS })
        assert.equal(head.headers['upload-offset'], '5')
        assert.equal(finished.length, 1, 'the finish hook ran for the upload that is complete')
        const got = await h.request('GET', path)
        assert.equal(got.body, 'abcde')
      } finally {
        await h.close()
      }
    })
  }
})
