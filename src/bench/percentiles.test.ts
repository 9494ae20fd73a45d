import assert from 'node:assert/strict'
import { test } from 'node:test'
import { nearestRank, summarize } from './percentiles.ts'

const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
const hundred = Array.from({ length: 100 }, (_, i) => i + 1)

test('nearest rank: k = ceil(p/100 × n), the k-th smallest sample', () => {
  const table: [readonly number[], number, number][] = [
    [[42], 0, 42],
    [[42], 50, 42],
    [[42], 100, 42],
    [ten, 0, 1],
    [ten, 10, 1],
    [ten, 11, 2],
    [ten, 50, 5],
    [ten, 51, 6],
    [ten, 90, 9],
    [ten, 91, 10],
    [ten, 99, 10],
    [ten, 100, 10],
    [hundred, 50, 50],
    [hundred, 90, 90],
    [hundred, 99, 99],
    [hundred, 99.5, 100],
    [[1, 2], 50, 1],
    [[1, 2], 50.1, 2],
    [[5, 5, 5, 9], 75, 5],
    [[5, 5, 5, 9], 76, 9],
  ]
  for (const [sorted, p, expected] of table) {
    assert.equal(nearestRank(sorted, p), expected, `p${p} of ${sorted.length} samples`)
  }
})

test('nearest rank: no samples → NaN; a percentile outside [0, 100] is refused', () => {
  assert.ok(Number.isNaN(nearestRank([], 50)))
  assert.throws(() => nearestRank(ten, 101), RangeError)
  assert.throws(() => nearestRank(ten, -1), RangeError)
  assert.throws(() => nearestRank(ten, Number.NaN), RangeError)
})

test('summarize sorts a copy and reports count, p50, p90, p99, max and mean', () => {
  const samples = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]
  const s = summarize(samples)
  assert.deepEqual(s, { count: 10, p50: 5, p90: 9, p99: 10, max: 10, mean: 5.5 })
  assert.deepEqual(samples, [10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 'input untouched')
  const empty = summarize([])
  assert.equal(empty.count, 0)
  assert.ok(Number.isNaN(empty.p50) && Number.isNaN(empty.max) && Number.isNaN(empty.mean))
})
