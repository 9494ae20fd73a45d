import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isUploadError } from '../protocol/errors.ts'
import { describeLocker } from '../testing/locker-suite.ts'
import { createMemoryLocker } from './memory.ts'

describeLocker('memory', { create: () => createMemoryLocker() })

test('locker: a second request asks the holder to release, then gets the lock', async () => {
  const locker = createMemoryLocker()
  let asked = 0
  const first = await locker.acquire('u', { timeoutMs: 1000, onReleaseRequested: () => asked++ })
  const second = locker.acquire('u', { timeoutMs: 1000, onReleaseRequested: () => {} })
  assert.equal(asked, 1)
  await first.release()
  const lock = await second
  await lock.release()
  assert.equal(locker.size, 0, 'no lock outlives its holders')
})

test('locker: waiters are served in arrival order; the new holder is asked to hurry when others wait', async () => {
  const locker = createMemoryLocker()
  const order: string[] = []
  let bAsked = 0
  const a = await locker.acquire('u', { timeoutMs: 1000, onReleaseRequested: () => {} })
  const b = locker
    .acquire('u', { timeoutMs: 1000, onReleaseRequested: () => bAsked++ })
    .then((l) => {
      order.push('b')
      return l
    })
  const c = locker.acquire('u', { timeoutMs: 1000, onReleaseRequested: () => {} }).then((l) => {
    order.push('c')
    return l
  })
  await a.release()
  const lb = await b
  assert.equal(bAsked, 1)
  await lb.release()
  await (await c).release()
  assert.deepEqual(order, ['b', 'c'])
})

test('locker: a holder that never lets go makes the waiter fail with ERR_LOCK_TIMEOUT', async () => {
  const locker = createMemoryLocker()
  const held = await locker.acquire('u', { timeoutMs: 1000, onReleaseRequested: () => {} })
  await assert.rejects(
    locker.acquire('u', { timeoutMs: 30, onReleaseRequested: () => {} }),
    (e: unknown) => isUploadError(e) && e.code === 'ERR_LOCK_TIMEOUT',
  )
  await held.release()
  assert.equal(locker.size, 0)
})

test('locker: an aborted waiter leaves the queue', async () => {
  const locker = createMemoryLocker()
  const held = await locker.acquire('u', { timeoutMs: 1000, onReleaseRequested: () => {} })
  const controller = new AbortController()
  const waiting = locker.acquire('u', {
    timeoutMs: 1000,
    signal: controller.signal,
    onReleaseRequested: () => {},
  })
  controller.abort(new Error('gone'))
  await assert.rejects(waiting, /gone/)
  await held.release()
  assert.equal(locker.size, 0)
  await (await locker.acquire('u', { timeoutMs: 10, onReleaseRequested: () => {} })).release()
})

test('locker: releasing twice is harmless', async () => {
  const locker = createMemoryLocker()
  const l = await locker.acquire('u', { timeoutMs: 10, onReleaseRequested: () => {} })
  await l.release()
  await l.release()
  assert.equal(locker.size, 0)
})
