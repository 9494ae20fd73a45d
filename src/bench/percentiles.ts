/**
 * @module Latency summaries for `ferry bench`: percentiles by the nearest-rank method, pure.
 *
 * Nearest rank (Hyndman & Fan definition 1, the "inverted empirical distribution"): for n sorted
 * samples x[1..n], the p-th percentile is x[k] with k = ceil(p / 100 × n), and k = 1 for p = 0.
 * Every reported value is a latency that was actually measured (no interpolation), p100 is the
 * maximum, and for n < 100 a high percentile is honestly the largest sample (p99 of 10 samples
 * is the slowest one, not a value between the two slowest).
 */

/** The nearest-rank percentile `p` (0..100) of `sorted` (ascending); NaN when it is empty. */
export function nearestRank(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in [0, 100]`)
  const n = sorted.length
  if (n === 0) return Number.NaN
  // The epsilon keeps p × n that is an integer in exact arithmetic (e.g. 0.9 × 10 = 9.000000000000002
  // in binary floating point) from rounding up to the next rank.
  const k = Math.max(1, Math.ceil((p / 100) * n - 1e-9))
  return sorted[Math.min(n, k) - 1] as number
}

export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

/** Count, p50 / p90 / p99 (nearest rank), max and mean of `samples` (any order, not modified). */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b)
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    count: sorted.length,
    p50: nearestRank(sorted, 50),
    p90: nearestRank(sorted, 90),
    p99: nearestRank(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  }
}
