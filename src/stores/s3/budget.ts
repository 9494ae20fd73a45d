/**
 * @module A byte budget shared by all appends of one S3 store: a FIFO counting semaphore. An
 * append reserves a whole part buffer before it reads a byte into it, so when the budget is
 * spent, appends wait — and while they wait they read nothing from their request bodies, which
 * is backpressure all the way to the clients (TCP flow control).
 *
 * Deadlock freedom: a blocking `acquire` is only ever made by an append that holds no other
 * reservation except one held by a part upload in flight, which finishes (and releases) on its
 * own. A second buffer for pipelining is only taken with `tryAcquire`.
 */

interface Waiter {
  readonly bytes: number
  readonly resolve: () => void
}

export class ByteBudget {
  readonly capacity: number
  #used = 0
  readonly #queue: Waiter[] = []

  constructor(capacity: number) {
    this.capacity = capacity
  }

  /** Bytes reserved now (tests, diagnostics). */
  get used(): number {
    return this.#used
  }

  /** Requests larger than the whole budget are clamped to it (they then run alone). */
  #clamp(bytes: number): number {
    return Math.min(bytes, this.capacity)
  }

  /** Reserves `bytes` if that is possible at once and nobody is waiting; returns the bytes or 0. */
  tryAcquire(bytes: number): number {
    const n = this.#clamp(bytes)
    if (this.#queue.length > 0 || this.#used + n > this.capacity) return 0
    this.#used += n
    return n
  }

  /** Waits (first come, first served) until `bytes` can be reserved; returns the bytes reserved. */
  async acquire(bytes: number): Promise<number> {
    const n = this.#clamp(bytes)
    if (this.#queue.length === 0 && this.#used + n <= this.capacity) {
      this.#used += n
      return n
    }
    await new Promise<void>((resolve) => this.#queue.push({ bytes: n, resolve }))
    return n
  }

  release(bytes: number): void {
    this.#used -= bytes
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as Waiter
      if (this.#used + next.bytes > this.capacity) break
      this.#queue.shift()
      this.#used += next.bytes
      next.resolve()
    }
  }
}
