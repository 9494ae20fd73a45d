import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { rawRequest } from '../support/raw-http.ts'
import { type RunningServer, startServer } from '../support/servers.ts'

describe('HTTP/1.1 on the wire', () => {
  let server: RunningServer
  before(async () => {
    server = await startServer()
  })
  after(async () => {
    await server.close()
  })

  test('draft-13 §4.2.2, §5: a creation request gets a 104 with Location and the interop version before the final response', async () => {
    const body = Buffer.alloc(1000, 7)
    const r = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: { 'upload-draft-interop-version': '10', 'upload-complete': '?1' },
      body,
    })
    assert.equal(r.interim.length, 1)
    const interim = r.interim[0]!
    assert.equal(interim.status, 104)
    assert.equal(interim.reason, 'Upload Resumption Supported')
    assert.equal(interim.headers['upload-draft-interop-version'], '10')
    assert.match(interim.headers.location ?? '', /\/files\/[0-9a-f]{32}$/)
    assert.equal(r.final?.status, 201)
    assert.equal(r.final?.headers['upload-complete'], '?1')
    const download = await fetch(interim.headers.location!)
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), body)
  })

  test('draft-13 Appendix B: no 104 without an interop version the server implements', async () => {
    for (const headers of [
      { 'upload-complete': '?1' },
      { 'upload-draft-interop-version': '11', 'upload-complete': '?1' },
    ]) {
      const r = await rawRequest({
        port: server.port,
        method: 'POST',
        path: '/files/',
        headers,
        body: Buffer.from('abc'),
      })
      assert.equal(r.interim.length, 0)
      assert.equal(r.final?.status, 201)
    }
  })

  test('header limits: a header section over 16 KiB gets 431, an oversized Upload-Metadata 400', async () => {
    const big = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '1', 'x-padding': 'a'.repeat(20_000) },
    })
    assert.equal(big.final?.status, 431)
    const meta = await rawRequest({
      port: server.port,
      method: 'POST',
      path: '/files/',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-length': '1',
        'upload-metadata': `k ${'A'.repeat(12_000)}`,
      },
    })
    assert.equal(meta.final?.status, 400)
    assert.match(
      meta.final?.body.toString() ?? '',
      /Upload-Metadata is 12002 bytes; the limit is 8192/,
    )
  })
})
