import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { createUploadHandler } from '../server/handler.ts'
import { createMemoryStore } from '../store/memory.ts'
import { routeHandlers, toFetchHandler } from './fetch.ts'

test('fetch adapter: a full tus upload through Request/Response, handler used unbound', async () => {
  const { POST, PATCH, HEAD, GET } = routeHandlers(
    toFetchHandler(createUploadHandler({ store: createMemoryStore() })),
  )
  const data = new Uint8Array(200_000).map((_, i) => i % 251)
  const created = await POST(
    new Request('https://app.test/files/', {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': String(data.length) },
    }),
  )
  assert.equal(created.status, 201)
  const location = created.headers.get('location') ?? ''
  assert.match(location, /^https:\/\/app\.test\/files\/[0-9a-f]{32}$/)
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data.subarray(0, 100_000))
      controller.enqueue(data.subarray(100_000))
      controller.close()
    },
  })
  const patched = await PATCH(
    new Request(location, {
      method: 'PATCH',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: stream,
      duplex: 'half',
    } as RequestInit),
  )
  assert.equal(patched.status, 204)
  assert.equal(patched.headers.get('upload-offset'), String(data.length))
  const head = await HEAD(
    new Request(location, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } }),
  )
  assert.equal(head.headers.get('upload-offset'), String(data.length))
  const got = new Uint8Array(await (await GET(new Request(location))).arrayBuffer())
  assert.equal(
    createHash('sha256').update(got).digest('hex'),
    createHash('sha256').update(data).digest('hex'),
  )
})

test('fetch adapter: draft creation without interim responses still returns the Location in the 201', async () => {
  const handle = toFetchHandler(createUploadHandler({ store: createMemoryStore() }))
  const r = await handle(
    new Request('http://app.test/files/', {
      method: 'POST',
      headers: { 'upload-draft-interop-version': '10', 'upload-complete': '?0' },
    }),
  )
  assert.equal(r.status, 201)
  assert.match(r.headers.get('location') ?? '', /\/files\/[0-9a-f]{32}$/)
  assert.equal(r.headers.get('upload-complete'), '?0')
})
