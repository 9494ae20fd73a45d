/**
 * @module The rate and ETA of an upload's progress (0004, Progress): an exponential moving
 * average over acknowledged bytes, sampled at most every 500 ms, and an ETA only once the rate is
 * stable (three samples over two seconds). Shared by single and parallel uploads.
 */

const RATE_SAMPLE_MS = 500
const RATE_TAU_MS = 5000

export class RateMeter {
  #rate = 0
  #samples = 0
  #firstSampleAt: number | undefined
  #last: { at: number; acknowledged: number } | undefined

  /** Records the acknowledged bytes at `now` (ms). */
  sample(now: number, acknowledged: number): void {
    const last = this.#last
    if (last === undefined) {
      this.#last = { at: now, acknowledged }
      return
    }
    if (now - last.at < RATE_SAMPLE_MS) return
    const dt = now - last.at
    const instant = ((acknowledged - last.acknowledged) * 1000) / dt
    const alpha = 1 - Math.exp(-dt / RATE_TAU_MS)
    this.#rate = this.#samples === 0 ? instant : this.#rate + alpha * (instant - this.#rate)
    this.#samples++
    this.#firstSampleAt ??= now
    this.#last = { at: now, acknowledged }
  }

  /** Bytes per second. */
  get rate(): number {
    return this.#rate
  }

  /** Seconds left for `remaining` bytes, once the rate is stable; else undefined. */
  eta(now: number, remaining: number | undefined): number | undefined {
    const stable =
      this.#samples >= 3 &&
      this.#firstSampleAt !== undefined &&
      now - this.#firstSampleAt >= 2000 &&
      this.#rate > 0
    return remaining !== undefined && stable ? Math.max(0, remaining / this.#rate) : undefined
  }
}
