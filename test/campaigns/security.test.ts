/**
 * Campaign 7 (issue 6): the security review as a test — upload ids, path traversal (ids,
 * metadata, Upload-Concat, base path), oversize requests, CORS, no internal details in error
 * responses, the authorization hook. The same size runs in CI and in full.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { figuresLine, run } from './security.ts'

test('security: ids, traversal, limits, CORS, leaks and the authorization hook', async (t) => {
  const figures = await run({ ids: 1000 })
  t.diagnostic(figuresLine(figures))
  assert.deepEqual(figures.failures, [], figures.failures.join('\n'))
  assert.equal(figures.ids.distinct, 1000)
  assert.equal(figures.leaks, 0)
})
