/**
 * `ferry check` follows Locations to another origin (draft-13 §13.1: the upload resource may live
 * on a different origin than the resource the creation targeted): the endpoint answers on one
 * port, and every upload URL points to a second listener of the same handler.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createNodeServer, type NodeServer } from '../../src/adapters/node.ts'
import { runChecks } from '../../src/check/runner.ts'
import type { UploadHandler } from '../../src/server/handler.ts'
import { createUploadHandler } from '../../src/server/handler.ts'
import { createDiskStore } from '../../src/stores/disk/index.ts'
import { tempDir } from '../support/servers.ts'

let endpointServer: NodeServer
let uploadServer: NodeServer
let endpoint = ''
let uploadOrigin = ''
const seen = { endpoint: 0, upload: 0 }
const dir = tempDir()

before(async () => {
  const handler = createUploadHandler({ store: createDiskStore({ directory: dir.path }) })
  uploadServer = createNodeServer({ handler: counting(handler, 'upload') })
  uploadOrigin = (await uploadServer.listen(0)).url
  // The endpoint's responses point at the upload origin.
  const rewriting: UploadHandler = {
    ...handler,
    handle: async (req) => {
      seen.endpoint++
      const response = await handler.handle({
        ...req,
        ...(req.sendInterim === undefined
          ? {}
          : {
              sendInterim: (head) => req.sendInterim?.({ ...head, headers: moved(head.headers) }),
            }),
      })
      return { ...response, headers: moved(response.headers) }
    },
  }
  endpointServer = createNodeServer({ handler: rewriting })
  endpoint = `${(await endpointServer.listen(0)).url}/files/`
})

after(async () => {
  await endpointServer.close(1000)
  await uploadServer.close(1000)
  dir.cleanup()
})

function moved(headers: Record<string, string>): Record<string, string> {
  const location = headers.location
  if (location === undefined) return headers
  return { ...headers, location: `${uploadOrigin}${new URL(location, 'http://x').pathname}` }
}

function counting(handler: UploadHandler, key: 'upload'): UploadHandler {
  return {
    ...handler,
    handle: (req) => {
      seen[key]++
      return handler.handle(req)
    },
  }
}

test('ferry check: uploads whose Location is on another origin are checked there', async () => {
  const report = await runChecks(endpoint, {
    timeoutMs: 5000,
    expireWaitMs: 0,
    interop: [10],
    only: '/^(tus\\.(head|patch|termination)|ietf10\\.(create|append|retrieval))/',
  })
  const failed = report.results.filter((r) => r.status === 'FAIL' || r.status === 'WARN')
  assert.deepEqual(
    failed.map((r) => `${r.id}: ${r.reason}`),
    [],
  )
  assert.ok(report.results.filter((r) => r.status === 'PASS').length > 30)
  assert.ok(seen.upload > 50, `requests to the upload origin: ${seen.upload}`)
  assert.ok(seen.endpoint > 10, `requests to the endpoint: ${seen.endpoint}`)
})
