/**
 * Campaign 4 (issue 6), CI size: 2,000 generated malformed requests against `ferry serve`; no
 * 5xx, no crash, no change to an upload on a rejected request, no leaked internals, memory and
 * file descriptors back at their baseline. The full run: `node --import tsx
 * test/campaigns/fuzz.ts --full` (20,000). A failure prints its seed: rerun with `--seed N`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CI_REQUESTS, figuresLine, run } from './fuzz.ts'

test('fuzz: malformed requests never get a 5xx, crash the server or change an upload', async (t) => {
  const figures = await run({ requests: CI_REQUESTS })
  t.diagnostic(figuresLine(figures))
  assert.deepEqual(
    figures.failures,
    [],
    `seed ${figures.seed}: ${figures.failures.slice(0, 10).join('\n')}`,
  )
  assert.equal(figures.requests, CI_REQUESTS)
})
