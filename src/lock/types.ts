/**
 * @module The locking contract. Every request that reads or changes an upload holds its lock;
 * locking cannot be turned off. A request that wants a held lock asks the holder to release it
 * (the holder stops reading, persists what it has, answers and lets go), as draft-13 §4.6
 * recommends: the newer request wins and a stuck request cannot block resumption.
 */

export interface AcquireOptions {
  /** Aborting it gives up waiting (the request went away). */
  readonly signal?: AbortSignal
  /** How long to wait for the holder before failing with ERR_LOCK_TIMEOUT. */
  readonly timeoutMs: number
  /** Called (possibly more than once) when another request wants this lock. */
  readonly onReleaseRequested: () => void
  /**
   * Only if nobody holds it: a held lock fails at once with ERR_LOCK_TIMEOUT, and its holder
   * is not asked to release (background work such as expiry must not interrupt a request).
   */
  readonly ifFree?: boolean
}

/**
 * What a store may check before it commits bytes or state under a lock held across machines
 * (a lease): a stale holder — one whose lease expired while it was paused or cut off — must not
 * overwrite what the newer holder wrote.
 */
export interface Lease {
  /** Grows with every acquisition of this upload's lock (a fencing token). */
  readonly fence: number
  /** Resolves while the lease is still held; rejects with ERR_LOCK_LOST once it is not. */
  check(): Promise<void>
}

export interface Lock {
  release(): Promise<void>
  /** Present for lockers whose locks can be lost (leases): what stores check before a commit. */
  readonly lease?: Lease
}

export interface Locker {
  acquire(id: string, options: AcquireOptions): Promise<Lock>
  /** Checks that a shared locker's service answers (readiness probes); rejects when not. */
  ping?(): Promise<void>
}
