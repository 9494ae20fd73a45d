/**
 * Campaign 1 (issue 6), reduced: SIGKILL at random moments during 8 uploads, and during concatenation, expiration cleanup and metadata writes
 * (test/campaigns/crash.ts; the full size: `npm run campaign -- crash --full`). The seed is
 * random unless FERRY_CAMPAIGN_SEED is set, and printed: `--seed N` reproduces a run.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { run } from './crash.ts'

test(
  'crash: every upload completes with its bytes, no acknowledged byte lost, no half state after a kill',
  { timeout: 300_000 },
  async (t) => {
    const seed = Number(process.env.FERRY_CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.diagnostic(`seed ${seed}`)
    const figures = await run({
      seed,
      uploads: 8,
      maxSizeBytes: 8 * 1024 * 1024,
      concurrency: 4,
      kills: 4,
      specialKills: 1,
    })
    t.diagnostic(figures.line)
    assert.deepEqual(figures.failures, [], `seed ${seed}: ${figures.line}`)
    assert.equal(figures.completed, figures.uploads)
    assert.equal(figures.maxOvershoot, 0)
    assert.ok(figures.kills >= 1, 'the server was never killed mid-upload')
  },
)
