/**
 * Campaign 5 (issue 6), CI size: 220 slow connections (stalled and trickling, in the head and in
 * the content) beside a normal upload, against `ferry serve --idle-timeout 2s`; every one is
 * closed by the server, the bytes they delivered are kept, the upload keeps its throughput
 * (only a generous bound), file descriptors return; the per-client cap answers 429. The full
 * run: `node --import tsx test/campaigns/slowloris.ts --full`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CI_OPTIONS, figuresLine, run } from './slowloris.ts'

test('slowloris: slow and idle connections are closed, keep their bytes and do not slow others down', async (t) => {
  const figures = await run(CI_OPTIONS)
  t.diagnostic(figuresLine(figures))
  assert.deepEqual(figures.failures, [], figures.failures.join('\n'))
  assert.equal(figures.notClosed, 0)
  assert.equal(figures.bytesKept, figures.bodyConnections)
})
