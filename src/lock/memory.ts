/**
 * @module The in-process locker, the default. One lock per upload id; waiters queue in arrival
 * order, and each new waiter asks the current holder to release.
 */
import { UploadError } from '../protocol/errors.ts'
import type { AcquireOptions, Lock, Locker } from './types.ts'

interface Holder {
  readonly onReleaseRequested: () => void
}

interface Waiter extends Holder {
  grant(): void
}

interface Entry {
  holder: Holder
  readonly waiters: Waiter[]
}

/** Creates an in-process locker. Locks do not leave the process: one instance only. */
export function createMemoryLocker(): Locker & { readonly size: number } {
  const entries = new Map<string, Entry>()

  function makeLock(id: string, self: Holder): Lock {
    let released = false
    return {
      release: async () => {
        if (released) return
        released = true
        const entry = entries.get(id)
        if (entry === undefined || entry.holder !== self) return
        const next = entry.waiters.shift()
        if (next === undefined) {
          entries.delete(id)
          return
        }
        entry.holder = next
        next.grant()
        // A newer request is still waiting: the new holder is asked to finish quickly too.
        if (entry.waiters.length > 0) next.onReleaseRequested()
      },
    }
  }

  return {
    get size() {
      return entries.size
    },
    acquire(id: string, options: AcquireOptions): Promise<Lock> {
      const entry = entries.get(id)
      const self: Holder = { onReleaseRequested: options.onReleaseRequested }
      if (entry === undefined) {
        entries.set(id, { holder: self, waiters: [] })
        return Promise.resolve(makeLock(id, self))
      }
      if (options.signal?.aborted === true) return Promise.reject(options.signal.reason)
      if (options.ifFree === true) {
        return Promise.reject(
          new UploadError('ERR_LOCK_TIMEOUT', undefined, { details: { retryAfterSeconds: 1 } }),
        )
      }
      return new Promise<Lock>((resolve, reject) => {
        const cleanup = (): void => {
          clearTimeout(timer)
          options.signal?.removeEventListener('abort', onAbort)
        }
        const leave = (): void => {
          const index = entry.waiters.indexOf(waiter)
          if (index >= 0) entry.waiters.splice(index, 1)
        }
        const waiter: Waiter = {
          onReleaseRequested: options.onReleaseRequested,
          grant: () => {
            cleanup()
            resolve(makeLock(id, waiter))
          },
        }
        const onAbort = (): void => {
          cleanup()
          leave()
          reject(options.signal?.reason)
        }
        const timer = setTimeout(() => {
          cleanup()
          leave()
          reject(
            new UploadError('ERR_LOCK_TIMEOUT', undefined, { details: { retryAfterSeconds: 1 } }),
          )
        }, options.timeoutMs)
        options.signal?.addEventListener('abort', onAbort, { once: true })
        entry.waiters.push(waiter)
        entry.holder.onReleaseRequested()
      })
    },
  }
}
