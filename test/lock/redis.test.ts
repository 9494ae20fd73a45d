/**
 * The Redis locker against a real redis-server: the shared locker contract (one locker, and two
 * lockers on one Redis as two instances), then what only a distributed locker has to survive —
 * a holder that dies or pauses, Redis stopping and restarting, and nothing left behind.
 * redis-server must be installed (see .ci/run); these tests fail, never skip, without it.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import {
  createRedisLocker,
  type RedisLocker,
  type RedisLockerOptions,
} from '../../src/lock/redis.ts'
import type { Locker } from '../../src/lock/types.ts'
import { isUploadError } from '../../src/protocol/errors.ts'
import { createUploadHandler } from '../../src/server/handler.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { ExpireOptions, NewUpload, UploadStore } from '../../src/store/types.ts'
import { describeLocker } from '../../src/testing/locker-suite.ts'
import { harness } from '../support/harness.ts'
import { redisService } from '../support/services.ts'

const shared = await redisService()
after(() => shared.close())

const never = (): void => {}
const freshId = (): string => randomBytes(16).toString('hex')
const freshPrefix = (): string => `test-${randomBytes(6).toString('hex')}:`
const isCode = (code: string) => (e: unknown) => isUploadError(e) && e.code === code
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits for `condition` (polling), failing with `what` after `ms`. */
async function eventually(what: string, condition: () => Promise<boolean> | boolean, ms = 20_000) {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(25)
  }
}

// ---------------------------------------------------------------------------------------------
// the contract, in one instance and across two

const prefixes = new WeakMap<Locker, string>()
const opened = new Set<RedisLocker>()
const open = (options: Partial<RedisLockerOptions> & { keyPrefix: string }): RedisLocker => {
  const locker = createRedisLocker({ url: shared.url, leaseMs: 10_000, ...options })
  prefixes.set(locker, options.keyPrefix)
  opened.add(locker)
  return locker
}
after(async () => {
  await Promise.all([...opened].map((l) => l.close()))
})

describeLocker('redis (one instance)', {
  create: () => open({ keyPrefix: freshPrefix() }),
  dispose: (locker) => (locker as RedisLocker).close(),
})

describeLocker('redis (two instances on one Redis)', {
  create: () => open({ keyPrefix: freshPrefix() }),
  peer: (locker) => open({ keyPrefix: prefixes.get(locker) ?? '' }),
  dispose: (locker) => (locker as RedisLocker).close(),
})

// ---------------------------------------------------------------------------------------------
// another instance in its own process

interface HolderEvent {
  readonly event: string
  readonly fence?: number
  readonly ok?: boolean
  readonly code?: string
}

class HolderProcess {
  readonly child: ChildProcess
  readonly events: HolderEvent[] = []
  private readonly waiters = new Set<() => void>()
  private stderr = ''

  constructor(url: string, prefix: string, id: string, leaseMs: number) {
    const script = fileURLToPath(new URL('./holder.ts', import.meta.url))
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', script, url, prefix, id, String(leaseMs)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString()
    })
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream })
    lines.on('line', (line) => {
      this.events.push(JSON.parse(line) as HolderEvent)
      for (const w of this.waiters) w()
    })
  }

  /** The first event named `name` after the first `skip` of them. */
  async next(name: string, skip = 0): Promise<HolderEvent> {
    const find = () => this.events.filter((e) => e.event === name)[skip]
    const deadline = Date.now() + 30_000
    for (;;) {
      const found = find()
      if (found !== undefined) return found
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `holder process: no "${name}" event (exit ${this.child.exitCode}): ${this.stderr}`,
        )
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 200)
        function done(): void {
          clearTimeout(t)
          resolve()
        }
        this.waiters.add(done)
      }).finally(() => this.waiters.clear())
    }
  }

  send(command: string): void {
    this.child.stdin?.write(`${command}\n`)
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGKILL')
    await exited
  }
}

describe('redis locker: instances that die or pause', () => {
  test('a holder killed with SIGKILL blocks the upload only until its lease expires', async () => {
    const prefix = freshPrefix()
    const id = freshId()
    const holder = new HolderProcess(shared.url, prefix, id, 1_500)
    try {
      const { fence: first } = await holder.next('acquired')
      assert.ok(typeof first === 'number')
      await holder.kill()
      const b = open({ keyPrefix: prefix })
      const lock = await b.acquire(id, { timeoutMs: 20_000, onReleaseRequested: never })
      assert.ok(lock.lease !== undefined)
      assert.ok(lock.lease.fence > first, `fence ${lock.lease.fence} after ${first}`)
      await lock.lease.check()
      await lock.release()
      await b.close()
    } finally {
      await holder.kill()
    }
  })

  test('a paused holder loses its lease: the other instance takes over, the stale check() rejects and its release leaves the new lock alone', async () => {
    const prefix = freshPrefix()
    const id = freshId()
    const holder = new HolderProcess(shared.url, prefix, id, 1_500)
    const b = open({ keyPrefix: prefix })
    try {
      const { fence: first } = await holder.next('acquired')
      assert.ok(typeof first === 'number')
      holder.send('check')
      assert.equal((await holder.next('check')).ok, true, 'a fresh lease checks out')
      holder.child.kill('SIGSTOP')
      // The paused holder cannot renew nor answer: the request waits for the lease to expire.
      const lock = await b.acquire(id, { timeoutMs: 20_000, onReleaseRequested: never })
      assert.ok(lock.lease !== undefined)
      assert.ok(lock.lease.fence > first, `fence ${lock.lease.fence} after ${first}`)
      holder.child.kill('SIGCONT')
      holder.send('check')
      const stale = await holder.next('check', 1)
      assert.equal(stale.ok, false, 'the stale holder must not believe it still holds the lock')
      assert.equal(stale.code, 'ERR_LOCK_LOST')
      // It is told to stop (its request would answer and let go).
      await holder.next('asked')
      holder.send('release')
      await holder.next('released')
      // Its compare-and-DEL did not touch the new holder's key.
      await lock.lease.check()
      await lock.release()
    } finally {
      holder.child.kill('SIGCONT')
      await holder.kill()
      await b.close()
    }
  })

  test('two instances: a release request crosses them, and fences grow across instances', async () => {
    const prefix = freshPrefix()
    const id = freshId()
    const a = open({ keyPrefix: prefix })
    const b = open({ keyPrefix: prefix })
    const fences: number[] = []
    for (const [holder, waiter] of [
      [a, b],
      [b, a],
      [a, b],
    ] as const) {
      let asked: () => void = never
      const wasAsked = new Promise<void>((r) => {
        asked = r
      })
      const lock = await holder.acquire(id, {
        timeoutMs: 20_000,
        onReleaseRequested: () => asked(),
      })
      fences.push(lock.lease?.fence ?? Number.NaN)
      const next = waiter.acquire(id, { timeoutMs: 20_000, onReleaseRequested: never })
      await wasAsked
      await lock.release()
      const taken = await next
      fences.push(taken.lease?.fence ?? Number.NaN)
      await taken.release()
    }
    for (let i = 1; i < fences.length; i++) {
      assert.ok((fences[i] ?? 0) > (fences[i - 1] ?? 0), `fences ${fences.join(', ')}`)
    }
    await Promise.all([a.close(), b.close()])
  })
})

// ---------------------------------------------------------------------------------------------
// Redis going away

describe('redis locker: Redis stops and comes back', () => {
  test('a held lock: the holder is asked to stop, check() holds until the lease would have expired, then rejects; acquires fail fast with ERR_LOCK_UNAVAILABLE; after a restart lockers work again with larger fences', async () => {
    const leaseMs = 6_000
    const redis = await redisService({ private: true })
    const locker = createRedisLocker({
      url: redis.url,
      keyPrefix: freshPrefix(),
      leaseMs,
      renewIntervalMs: 1_000,
      commandTimeoutMs: 300,
    })
    try {
      const id = freshId()
      let asked = 0
      const acquiredAt = Date.now()
      const lock = await locker.acquire(id, {
        timeoutMs: 5_000,
        onReleaseRequested: () => asked++,
      })
      assert.ok(lock.lease !== undefined)
      const fence = lock.lease.fence
      await lock.lease.check()
      await redis.stop()
      // Redis is gone, but nobody else can take the lock before the lease runs out.
      await lock.lease.check()

      const started = Date.now()
      await assert.rejects(
        locker.acquire(freshId(), { timeoutMs: 5_000, onReleaseRequested: never }),
        isCode('ERR_LOCK_UNAVAILABLE'),
      )
      const waited = Date.now() - started
      assert.ok(waited < 10_000, `an acquire while Redis is down took ${waited} ms`)

      // Renewals fail: the holder is asked to stop while it can still persist.
      await eventually('the holder being asked to stop', () => asked > 0)
      const expired = acquiredAt + leaseMs - Date.now()
      if (expired > 0) await sleep(expired + 50)
      await assert.rejects(lock.lease.check(), isCode('ERR_LOCK_LOST'))
      await lock.release() // never throws; the key is gone with Redis anyway

      await redis.start()
      let again: Awaited<ReturnType<Locker['acquire']>> | undefined
      await eventually('an acquire after Redis restarted', async () => {
        try {
          again = await locker.acquire(id, { timeoutMs: 5_000, onReleaseRequested: never })
          return true
        } catch (e) {
          if (isCode('ERR_LOCK_UNAVAILABLE')(e)) return false
          throw e
        }
      })
      assert.ok(again?.lease !== undefined)
      // Redis restarted empty, yet the fence did not go back (it never falls below Redis's clock).
      assert.ok(again.lease.fence > fence, `fence ${again.lease.fence} after ${fence}`)
      await again.lease.check()
      await again.release()
    } finally {
      await locker.close()
      await redis.close()
    }
  })

  test('while Redis is down: a creation gets 503 ERR_LOCK_UNAVAILABLE and the upload it created is discarded (nobody has its URL); an append gets 503; HEAD answers the durable offset', async () => {
    const redis = await redisService({ private: true })
    const locker = createRedisLocker({
      url: redis.url,
      keyPrefix: freshPrefix(),
      commandTimeoutMs: 300,
    })
    const base = createMemoryStore()
    const created: string[] = []
    const store: UploadStore = Object.assign(Object.create(null) as object, base, {
      async create(upload: NewUpload) {
        const info = await base.create(upload)
        created.push(info.id)
        return info
      },
    }) as UploadStore
    const h = harness('memory', { store, locker })
    try {
      const tus = { 'tus-resumable': '1.0.0' }
      const before = await h.request('POST', '/files/', {
        headers: {
          ...tus,
          'upload-length': '10',
          'content-type': 'application/offset+octet-stream',
        },
        body: 'hello',
      })
      assert.equal(before.status, 201, before.body)
      const path = h.path(before.headers.location)
      created.length = 0
      await redis.stop()
      const head = await h.request('HEAD', path, { headers: tus })
      assert.equal(head.status, 204, head.body)
      assert.equal(head.headers['upload-offset'], '5')
      const patch = await h.request('PATCH', path, {
        headers: {
          ...tus,
          'upload-offset': '5',
          'content-type': 'application/offset+octet-stream',
        },
        body: 'world',
      })
      assert.equal(patch.status, 503, patch.body)
      assert.equal(patch.headers['retry-after'], '1')
      for (const headers of [
        {
          'tus-resumable': '1.0.0',
          'upload-length': '5',
          'content-type': 'application/offset+octet-stream',
        },
        { 'upload-draft-interop-version': '10', 'upload-complete': '?0' },
      ]) {
        const r = await h.request('POST', '/files/', { headers, body: 'hello' })
        assert.equal(r.status, 503, r.body)
        assert.match(r.body, /ERR_LOCK_UNAVAILABLE|lock/i)
        assert.equal(r.headers.location, undefined, 'no URL was handed out')
      }
      assert.equal(created.length, 2)
      for (const id of created) assert.equal(await base.get(id), undefined, `${id} discarded`)
    } finally {
      await locker.close()
      await redis.close()
    }
  })

  test('Redis restarted under a held lock: the holder learns at its next renewal that the lock is gone', async () => {
    const redis = await redisService({ private: true })
    const locker = createRedisLocker({
      url: redis.url,
      keyPrefix: freshPrefix(),
      leaseMs: 20_000,
      renewIntervalMs: 300,
      commandTimeoutMs: 300,
    })
    try {
      let asked = 0
      const lock = await locker.acquire(freshId(), {
        timeoutMs: 5_000,
        onReleaseRequested: () => asked++,
      })
      await redis.stop()
      await redis.start()
      await eventually('the holder being asked to stop', () => asked > 0)
      assert.ok(lock.lease !== undefined)
      await assert.rejects(lock.lease.check(), isCode('ERR_LOCK_LOST'))
      await lock.release()
    } finally {
      await locker.close()
      await redis.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------
// nothing left behind

describe('redis locker: resources', () => {
  test('after release nothing is left: no lock keys, no subscriptions, no timers; close() ends both connections', async () => {
    const redis = await redisService({ private: true })
    const probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    const prefix = freshPrefix()
    const locker = createRedisLocker({ url: redis.url, keyPrefix: prefix, leaseMs: 10_000 })
    const timeouts = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    try {
      // Warm up (connections, scripts) so that only the locks themselves are compared.
      await (
        await locker.acquire(freshId(), { timeoutMs: 1_000, onReleaseRequested: never })
      ).release()
      const baseline = timeouts()
      const ids = Array.from({ length: 5 }, freshId)
      const locks = await Promise.all(
        ids.map((id) => locker.acquire(id, { timeoutMs: 1_000, onReleaseRequested: never })),
      )
      const channels = locker.stats.channels
      assert.equal(channels.length, 5)
      assert.equal(locker.stats.held, 5)
      assert.ok(locker.stats.timers >= 5, 'each held lock renews')
      const subscribed = (await probe.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[]
      assert.deepEqual(
        subscribed.filter((_, i) => i % 2 === 1).map(Number),
        [1, 1, 1, 1, 1],
        'one subscription per held id',
      )
      // A waiter that times out and one that is aborted leave nothing behind either.
      await assert.rejects(
        locker.acquire(ids[0] ?? '', { timeoutMs: 100, onReleaseRequested: never }),
        isCode('ERR_LOCK_TIMEOUT'),
      )
      const controller = new AbortController()
      const aborted = locker.acquire(ids[1] ?? '', {
        timeoutMs: 10_000,
        signal: controller.signal,
        onReleaseRequested: never,
      })
      await sleep(50)
      controller.abort(new Error('gone'))
      await assert.rejects(aborted, /gone/)

      await Promise.all(locks.map((l) => l.release()))
      assert.deepEqual(locker.stats, { held: 0, waiting: 0, channels: [], timers: 0 })
      assert.deepEqual(await probe.keys(`${prefix}lock:*`), [], 'no lock key outlives its release')
      await eventually('the unsubscriptions', async () => {
        const counts = (await probe.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[]
        return counts.filter((_, i) => i % 2 === 1).every((n) => Number(n) === 0)
      })
      await eventually('the timers to be gone', () => timeouts() <= baseline, 5_000)

      await locker.close()
      await eventually('both connections closed', async () => {
        const list = String(await probe.call('CLIENT', 'LIST'))
        return !list.includes('name=ferry-lock')
      })
      await assert.rejects(
        locker.acquire(freshId(), { timeoutMs: 100, onReleaseRequested: never }),
        isCode('ERR_LOCK_UNAVAILABLE'),
      )
    } finally {
      await locker.close()
      probe.disconnect()
      await redis.close()
    }
  })

  test('fence counters expire a day after the last lock, and a counter that expired (or was lost) still gives a larger fence', async () => {
    const probe = new Redis(shared.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    const prefix = freshPrefix()
    const locker = open({ keyPrefix: prefix })
    const id = freshId()
    try {
      const first = await locker.acquire(id, { timeoutMs: 1_000, onReleaseRequested: never })
      const fence = first.lease?.fence ?? 0
      await first.release()
      const ttl = await probe.pttl(`${prefix}fence:{${id}}`)
      assert.ok(ttl > 23 * 3600_000 && ttl <= 24 * 3600_000, `fence TTL ${ttl} ms`)
      // The counter is gone (expired, or Redis restarted without persistence): the next fence
      // starts from Redis's clock again, above the last one.
      assert.equal(await probe.del(`${prefix}fence:{${id}}`), 1)
      const second = await locker.acquire(id, { timeoutMs: 1_000, onReleaseRequested: never })
      assert.ok((second.lease?.fence ?? 0) > fence, `${second.lease?.fence} after ${fence}`)
      await second.release()
      assert.ok((await probe.pttl(`${prefix}fence:{${id}}`)) > 0, 'the new counter expires too')
    } finally {
      probe.disconnect()
    }
  })

  test('expiry sweeps: one instance at a time; the other skips its sweep while one runs', async () => {
    const prefix = freshPrefix()
    const base = createMemoryStore()
    let sweeps = 0
    let go: () => void = never
    const gate = new Promise<void>((resolve) => {
      go = resolve
    })
    let entered: () => void = never
    const sweeping = new Promise<void>((resolve) => {
      entered = resolve
    })
    // One store shared by two instances; its sweep waits until the test lets it go.
    const store: UploadStore = Object.assign(Object.create(null) as object, base, {
      async *expire(before: number, options?: ExpireOptions): AsyncIterable<string> {
        sweeps++
        entered()
        await gate
        yield* base.expire?.(before, options) ?? []
      },
    }) as UploadStore
    let clock = Date.now()
    const instance = () =>
      createUploadHandler({
        store,
        locker: open({ keyPrefix: prefix }),
        expireAfterMs: 60_000,
        now: () => clock,
      })
    const [a, b] = [instance(), instance()]
    await base.create({ metadata: [], length: 10 })
    clock += 120_000
    const first = a.cleanupExpired()
    await sweeping
    // Without the sweep lock, b would enter the same (held) sweep and wait.
    let timer: NodeJS.Timeout | undefined
    const skipped = await Promise.race([
      b.cleanupExpired(),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('b waited for the running sweep'), 2_000)
      }),
    ])
    clearTimeout(timer)
    assert.equal(skipped, 0, 'b skips while a sweeps')
    assert.equal(sweeps, 1)
    go()
    assert.equal(await first, 1, 'a removed the expired upload')
    assert.equal(await b.cleanupExpired(), 0)
    assert.equal(sweeps, 2, 'b sweeps once a is done')
  })

  test('close() releases the locks it holds: another instance gets them at once', async () => {
    const prefix = freshPrefix()
    const a = open({ keyPrefix: prefix })
    const b = open({ keyPrefix: prefix })
    const id = freshId()
    await a.acquire(id, { timeoutMs: 1_000, onReleaseRequested: never })
    await a.close()
    // Free at once (not after the 10 s lease): a short wait suffices.
    const lock = await b.acquire(id, { timeoutMs: 1_000, onReleaseRequested: never })
    await lock.release()
    await b.close()
  })

  test('a caller-provided client: commands go through it, close() leaves it open', async () => {
    const client = new Redis(shared.url, { lazyConnect: true, enableOfflineQueue: false })
    await client.connect()
    const locker = createRedisLocker({ client, keyPrefix: freshPrefix(), leaseMs: 5_000 })
    try {
      const lock = await locker.acquire(freshId(), { timeoutMs: 1_000, onReleaseRequested: never })
      await lock.lease?.check()
      await lock.release()
      await locker.close()
      assert.equal(client.status, 'ready')
      assert.equal(await client.ping(), 'PONG')
    } finally {
      await locker.close()
      client.disconnect()
    }
  })

  test('configuration errors are UploadError ERR_INVALID_CONFIG', () => {
    for (const options of [
      {},
      { url: shared.url, client: new Redis({ lazyConnect: true }) },
      { url: shared.url, leaseMs: 0 },
      { url: shared.url, leaseMs: 1_000, renewIntervalMs: 1_000 },
      { url: shared.url, commandTimeoutMs: -1 },
    ] as RedisLockerOptions[]) {
      assert.throws(() => createRedisLocker(options), isCode('ERR_INVALID_CONFIG'))
    }
  })
})
