/**
 * Campaign 6 (issue 6), reduced: SIGTERM to ferry serve during 6 active uploads
 * (test/campaigns/shutdown.ts; the full size: `npm run campaign -- shutdown --full`). The seed is
 * random unless FERRY_CAMPAIGN_SEED is set, and printed: `--seed N` reproduces a run.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { run } from './shutdown.ts'

test(
  'shutdown: in-flight appends persist and answer, the process exits within the shutdown timeout, every upload resumes',
  { timeout: 180_000 },
  async (t) => {
    const seed = Number(process.env.FERRY_CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.diagnostic(`seed ${seed}`)
    const figures = await run({ seed, uploads: 6, maxSizeBytes: 4 * 1024 * 1024 })
    t.diagnostic(figures.line)
    assert.deepEqual(figures.failures, [], `seed ${seed}: ${figures.line}`)
    assert.equal(figures.completed, figures.uploads)
    assert.equal(figures.exitCode, 0)
    assert.equal(figures.maxOvershoot, 0)
  },
)
