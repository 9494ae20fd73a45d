/**
 * Campaign 2 (issue 6), reduced: 30 rounds of PATCH+PATCH, PATCH+HEAD, PATCH+DELETE and creation+HEAD on one upload
 * (test/campaigns/races.ts; the full size: `npm run campaign -- races --full`). The seed is
 * random unless FERRY_CAMPAIGN_SEED is set, and printed: `--seed N` reproduces a run.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { run } from './races.ts'

test(
  'races: no interleaved or lost bytes, takeover under a second, no lock or fd left (draft-13 §4.6)',
  { timeout: 180_000 },
  async (t) => {
    const seed = Number(process.env.FERRY_CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.diagnostic(`seed ${seed}`)
    const figures = await run({ seed, rounds: 30 })
    t.diagnostic(figures.line)
    assert.deepEqual(figures.failures, [], `seed ${seed}: ${figures.line}`)
    assert.equal(figures.locksLeft, 0)
    assert.ok(figures.fdsAfter <= figures.fdsBefore, 'file descriptors leaked')
    assert.ok(figures.maxTakeoverMs < 1000, `takeover ${figures.maxTakeoverMs} ms`)
  },
)
