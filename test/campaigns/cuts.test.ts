/**
 * Campaign 3 (issue 6), reduced: 10 uploads through the fault proxy, each cut 1-5 times at random bytes, Ferry's client and tus-js-client
 * (test/campaigns/cuts.ts; the full size: `npm run campaign -- cuts --full`). The seed is
 * random unless FERRY_CAMPAIGN_SEED is set, and printed: `--seed N` reproduces a run.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { run } from './cuts.ts'

test(
  'cuts: every upload cut 1-5 times completes with its original bytes (tus 1.0.0 §PATCH, draft-13 §4.4.2)',
  { timeout: 180_000 },
  async (t) => {
    const seed = Number(process.env.FERRY_CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.diagnostic(`seed ${seed}`)
    const figures = await run({ seed, uploads: 10, concurrency: 3, maxSizeBytes: 2 * 1024 * 1024 })
    t.diagnostic(figures.line)
    assert.deepEqual(figures.failures, [], `seed ${seed}: ${figures.line}`)
    assert.equal(figures.completed, figures.uploads)
    assert.ok(figures.cuts >= figures.uploads, `${figures.cuts} cuts`)
  },
)
