/**
 * @module The shared locker test suite: every locker runs it (`describeLocker`), so the contract
 * in src/lock/types.ts is checked the same way for all of them, third-party lockers included.
 * A distributed locker also gives `peer`, a second locker on the same backend (as another
 * instance would have), and the two-party tests then run across the two. Written for node:test;
 * no timing assertions: waits are bounded only by generous limits.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import type { Locker } from '../lock/types.ts'
import { isUploadError } from '../protocol/errors.ts'

export interface LockerFactory {
  /** A fresh locker. */
  create(): Promise<Locker> | Locker
  /**
   * Another locker sharing `locker`'s locks, as a second process would (distributed lockers).
   * Without it, the two-party tests use `locker` for both parties.
   */
  peer?(locker: Locker): Promise<Locker> | Locker
  /** Cleans up after one locker, or peer (optional). */
  dispose?(locker: Locker): Promise<void> | void
}

/** Long enough for any healthy locker on a busy machine; a test never waits this long when it passes. */
const PATIENT_MS = 20_000

const never = (): void => {}

/** A fresh upload-like id, so that lockers sharing a backend across tests never collide. */
const freshId = (): string => randomBytes(16).toString('hex')

/** Resolves when `fn` is called; `count` says how often it was. */
function signal(): { fn: () => void; called: Promise<void>; readonly count: number } {
  let count = 0
  let resolve: () => void = never
  const called = new Promise<void>((r) => {
    resolve = r
  })
  return {
    fn: () => {
      count++
      resolve()
    },
    called,
    get count() {
      return count
    },
  }
}

/** Rejects after `ms` with `what`: the test fails clearly instead of hanging. */
async function within<T>(what: string, promise: Promise<T>, ms = PATIENT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing happened in ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Settles `promise` into a state the test can look at without awaiting it. */
function track<T>(promise: Promise<T>): { readonly state: 'pending' | 'resolved' | 'rejected' } {
  const box = { state: 'pending' as 'pending' | 'resolved' | 'rejected' }
  promise.then(
    () => {
      box.state = 'resolved'
    },
    () => {
      box.state = 'rejected'
    },
  )
  return box
}

const isCode = (code: string) => (e: unknown) => isUploadError(e) && e.code === code

/** Registers the contract tests for a locker. */
export function describeLocker(name: string, factory: LockerFactory): void {
  describe(`locker contract: ${name}`, () => {
    const withLockers = (title: string, fn: (a: Locker, b: Locker) => Promise<void>): void => {
      test(title, async () => {
        const a = await factory.create()
        const b = factory.peer === undefined ? a : await factory.peer(a)
        try {
          await fn(a, b)
        } finally {
          if (b !== a) await factory.dispose?.(b)
          await factory.dispose?.(a)
        }
      })
    }

    withLockers('a free lock is granted at once; nobody is asked to release', async (a) => {
      const asked = signal()
      const lock = await within(
        'acquire of a free lock',
        a.acquire(freshId(), { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn }),
      )
      await lock.release()
      assert.equal(asked.count, 0)
    })

    withLockers(
      'release requests reach the holder; the waiter gets the lock once it lets go',
      async (a, b) => {
        const id = freshId()
        const asked = signal()
        const first = await a.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn })
        const second = b.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: never })
        const waiting = track(second)
        await within('the holder being asked to release', asked.called)
        assert.equal(waiting.state, 'pending', 'the waiter must not get a lock that is still held')
        await first.release()
        const lock = await within('the waiter getting the released lock', second)
        await lock.release()
      },
    )

    withLockers(
      'ifFree: a held lock fails at once without asking its holder; a free one is granted',
      async (a, b) => {
        const id = freshId()
        const asked = signal()
        const first = await a.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn })
        await assert.rejects(
          within(
            'ifFree on a held lock',
            b.acquire(id, { timeoutMs: PATIENT_MS, ifFree: true, onReleaseRequested: never }),
          ),
          (e: unknown) => isUploadError(e) && e.code === 'ERR_LOCK_TIMEOUT',
        )
        // Give a release request time to arrive, if one had been sent.
        await new Promise((resolve) => setTimeout(resolve, 200))
        assert.equal(asked.count, 0, 'the holder was not asked to release')
        await first.release()
        const lock = await within(
          'ifFree on a free lock',
          b.acquire(id, { timeoutMs: PATIENT_MS, ifFree: true, onReleaseRequested: never }),
        )
        await lock.release()
      },
    )

    withLockers('mutual exclusion: contenders hold the lock one at a time', async (a, b) => {
      const id = freshId()
      let holders = 0
      let most = 0
      let turns = 0
      const contender = async (locker: Locker): Promise<void> => {
        let wanted = false
        let letGo: () => void = never
        const asked = new Promise<void>((resolve) => {
          letGo = resolve
        })
        const lock = await locker.acquire(id, {
          timeoutMs: PATIENT_MS,
          onReleaseRequested: () => {
            wanted = true
            letGo()
          },
        })
        holders++
        most = Math.max(most, holders)
        turns++
        // Hold until someone asks (or briefly, if nobody is left to ask).
        if (!wanted) await Promise.race([asked, new Promise((r) => setTimeout(r, 20))])
        holders--
        await lock.release()
      }
      await within(
        'six contenders taking turns',
        Promise.all([a, b, a, b, a, b].map((locker) => contender(locker))),
      )
      assert.equal(turns, 6)
      assert.equal(most, 1, 'two contenders held the lock at the same time')
    })

    withLockers(
      'a holder that never lets go makes the waiter fail with ERR_LOCK_TIMEOUT',
      async (a, b) => {
        const id = freshId()
        const asked = signal()
        const held = await a.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn })
        await within(
          'the waiter timing out',
          assert.rejects(
            b.acquire(id, { timeoutMs: 150, onReleaseRequested: never }),
            isCode('ERR_LOCK_TIMEOUT'),
          ),
        )
        await within('the holder being asked to release', asked.called)
        await held.release()
        const again = await within(
          'acquire after the release',
          b.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: never }),
        )
        await again.release()
      },
    )

    withLockers(
      'an aborted waiter stops waiting with the reason and never takes the lock later',
      async (a, b) => {
        const id = freshId()
        const asked = signal()
        const held = await a.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn })
        const controller = new AbortController()
        const waiting = b.acquire(id, {
          timeoutMs: PATIENT_MS,
          signal: controller.signal,
          onReleaseRequested: never,
        })
        await within('the holder being asked to release', asked.called)
        controller.abort(new Error('the client went away'))
        await within('the aborted waiter', assert.rejects(waiting, /the client went away/))
        await held.release()
        // Nobody holds it now (the aborted waiter must not have taken it): a short wait is
        // enough, since a free lock is granted without waiting.
        const lock = await a.acquire(id, { timeoutMs: 100, onReleaseRequested: never })
        await lock.release()
      },
    )

    withLockers('release, then acquire again; releasing twice is harmless', async (a, b) => {
      const id = freshId()
      const asked = signal()
      const first = await a.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn })
      await first.release()
      await first.release()
      const second = await within(
        'acquire after release',
        b.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn }),
      )
      await second.release()
      const third = await within(
        'acquire after the second release',
        a.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: asked.fn }),
      )
      await third.release()
      await third.release()
      assert.equal(asked.count, 0, 'a released lock is free: taking it again asks nobody')
    })

    withLockers('many ids are independent', async (a, b) => {
      const ids = Array.from({ length: 40 }, freshId)
      const asked = signal()
      const locks = await within(
        'forty acquires of different ids',
        Promise.all(
          ids.map((id, i) =>
            (i % 2 === 0 ? a : b).acquire(id, {
              timeoutMs: PATIENT_MS,
              onReleaseRequested: asked.fn,
            }),
          ),
        ),
      )
      assert.equal(asked.count, 0, 'holding one id must not ask for another')
      await Promise.all(locks.map((l) => l.release()))
      const again = await within(
        'the same ids again',
        Promise.all(
          ids.map((id, i) =>
            (i % 2 === 0 ? b : a).acquire(id, {
              timeoutMs: PATIENT_MS,
              onReleaseRequested: asked.fn,
            }),
          ),
        ),
      )
      await Promise.all(again.map((l) => l.release()))
      assert.equal(asked.count, 0)
    })

    withLockers(
      'leases (lockers that hand them out): fences grow, check() holds until release',
      async (a, b) => {
        const id = freshId()
        const first = await a.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: never })
        if (first.lease === undefined) {
          // A locker without leases (one process): nothing can be lost, stores check nothing.
          await first.release()
          return
        }
        await first.lease.check()
        const fence = first.lease.fence
        assert.ok(Number.isSafeInteger(fence) && fence > 0, `fence ${fence}`)
        await first.release()
        await assert.rejects(first.lease.check(), isCode('ERR_LOCK_LOST'))
        const second = await b.acquire(id, { timeoutMs: PATIENT_MS, onReleaseRequested: never })
        assert.ok(second.lease !== undefined)
        assert.ok(second.lease.fence > fence, `fence ${second.lease.fence} after ${fence}`)
        await second.lease.check()
        await second.release()
        const other = await a.acquire(freshId(), {
          timeoutMs: PATIENT_MS,
          onReleaseRequested: never,
        })
        await other.lease?.check()
        await other.release()
      },
    )
  })
}
