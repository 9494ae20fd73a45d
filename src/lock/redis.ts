/**
 * @module The Redis locker (`ferry/lock/redis`): one lock per upload shared by every Ferry
 * instance that uses the same Redis, so that several `ferry serve` processes behind a load
 * balancer can serve the same uploads.
 *
 * - A lock is a lease: `SET lock:{id} "<token>:<fence>" PX leaseMs NX`, renewed every
 *   `renewIntervalMs` by a compare-and-PEXPIRE script, released by compare-and-DEL (only the
 *   owner's token). This is the single-instance scheme of the Redis documentation
 *   ("Distributed Locks with Redis", correct implementation with a single instance).
 * - Every acquisition gets a fencing token, monotonic per upload (Kleppmann, "How to do
 *   distributed locking", 2016): stores may record it and refuse writes with a lower one, which
 *   is what keeps a paused or cut-off holder from overwriting a newer holder's work.
 * - A request that finds the lock held publishes a release request on the upload's channel; the
 *   holder, on whatever instance, is asked to stop, persist and let go (draft-13 §4.6, as the
 *   memory locker does in process). Waiters wake on a "released" message and also retry with a
 *   short backoff, since pub/sub messages can be lost.
 *
 * The trade-off to choose with `leaseMs`: an instance that dies while it holds a lock blocks that
 * upload until the lease expires (at most `leaseMs`); a shorter lease frees it sooner, but every
 * holder must then reach Redis at least once per lease, and a holder cut off from Redis for a
 * whole lease loses its lock (its request stops and answers 503 ERR_LOCK_LOST; the client
 * resumes). 15 s by default: a crashed instance delays its uploads by up to 15 s, which is less
 * than the 20 s a request waits for a lock by default (`lockTimeoutMs`), so the request that
 * wants the upload next still gets it.
 *
 * When Redis cannot be reached: acquire fails within `commandTimeoutMs` with ERR_LOCK_UNAVAILABLE
 * (503); a holder whose renewals fail is asked to stop once less than one renewal interval of
 * its lease is left, and its `lease.check()` keeps resolving until the lease would have expired
 * (nobody else can take the key before then), then rejects with ERR_LOCK_LOST.
 *
 * Redis 5 or newer, one primary (no Redlock over several masters). Without persistence a Redis
 * restart (or a failover that lost writes) forgets locks: holders notice at their next renewal or
 * check() and stop, and fences stay monotonic because each is at least Redis's clock in
 * milliseconds (so fences are large numbers, below 2^53).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import { isUploadError, UploadError } from '../protocol/errors.ts'
import type { Logger } from '../server/options.ts'
import type { AcquireOptions, Lease, Lock, Locker } from './types.ts'

export interface RedisLockerOptions {
  /** `redis://` or `rediss://` URL; the locker opens its own two connections and closes them. */
  readonly url?: string
  /**
   * A client to send commands on instead of `url` (the caller keeps and closes it); the locker
   * duplicates it for its pub/sub connection. Best created with `enableOfflineQueue: false`, so
   * that no command waits for a reconnection and runs long after it was given up.
   */
  readonly client?: Redis
  /** Prefix of every key and channel. Default `ferry:`. */
  readonly keyPrefix?: string
  /**
   * How long a lock outlives its last renewal (the lease). Default 15 000 ms: shorter than the
   * server's default lockTimeoutMs (20 s), so a request waiting for the upload of an instance
   * that died still gets it within its wait.
   */
  readonly leaseMs?: number
  /** How often a held lock is renewed. Default `leaseMs / 3`. */
  readonly renewIntervalMs?: number
  /** Longest wait for a connection plus one Redis round trip. Default 2 000 ms. */
  readonly commandTimeoutMs?: number
  readonly logger?: Logger
}

export interface RedisLocker extends Locker {
  /** Releases every lock this locker holds, gives up waiting acquires, closes its connections. */
  close(): Promise<void>
  /** Connects (if not yet) and PINGs Redis; rejects with ERR_LOCK_UNAVAILABLE when it cannot. */
  ping(): Promise<void>
  /** What the locker holds right now (for tests and metrics). */
  readonly stats: {
    /** Locks held. */
    readonly held: number
    /** Acquires waiting for a lock held elsewhere. */
    readonly waiting: number
    /** Channels the pub/sub connection is subscribed to (or about to be). */
    readonly channels: readonly string[]
    /** Renewal and expiry timers running. */
    readonly timers: number
  }
}

// KEYS[1] lock, KEYS[2] fence; ARGV[1] owner token, ARGV[2] lease ms, ARGV[3] fence TTL ms.
// Returns the fence, or 0 when the lock is held. The fence is INCR of a counter raised first to
// Redis's clock in ms (TIME), so it keeps growing even if Redis lost the counter in a restart —
// or let it expire: the counter lives FENCE_TTL_MS after the upload's last lock, so the keys of
// finished and deleted uploads do not pile up, and a later fence is still larger.
const ACQUIRE = `
if redis.call('exists', KEYS[1]) == 1 then return 0 end
local t = redis.call('time')
local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = tonumber(redis.call('get', KEYS[2]) or '0') or 0
if current < floor then redis.call('set', KEYS[2], string.format('%d', floor - 1)) end
local fence = redis.call('incr', KEYS[2])
redis.call('pexpire', KEYS[2], ARGV[3])
redis.call('set', KEYS[1], ARGV[1] .. ':' .. string.format('%d', fence), 'PX', ARGV[2])
return fence
`
/**
 * How long a fence counter outlives the last lock of its upload. Any length keeps fences
 * monotonic (each is at least Redis's clock in ms, and a counter runs ahead of the clock by one
 * per acquisition at most); a day is far longer than a lease.
 */
const FENCE_TTL_MS = 24 * 60 * 60 * 1000
// KEYS[1] lock; ARGV[1] value, ARGV[2] lease ms. 1 when renewed, 0 when the value is not ours.
const RENEW = `
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
`
// KEYS[1] lock; ARGV[1] value, ARGV[2] channel, ARGV[3] message. Deletes only our own lock.
const RELEASE = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('publish', ARGV[2], ARGV[3])
  return 1
end
return 0
`

interface Script {
  readonly lua: string
  readonly sha: string
}
const script = (lua: string): Script => ({
  lua,
  sha: createHash('sha1').update(lua).digest('hex'),
})
const SCRIPTS = { acquire: script(ACQUIRE), renew: script(RENEW), release: script(RELEASE) }

const REQUEST = 'request'
const RELEASED = 'released'

interface Held {
  readonly id: string
  readonly token: string
  readonly value: string
  readonly fence: number
  readonly onReleaseRequested: () => void
  /** performance.now() until which no other holder can exist (the lease, minus clock drift). */
  validUntil: number
  lost: boolean
  released: boolean
  /** Renewals that failed in a row (logged as a warning once, then at debug level). */
  failures: number
  renewTimer: NodeJS.Timeout | undefined
  expiryTimer: NodeJS.Timeout | undefined
  release: () => Promise<void>
}

interface Channel {
  readonly id: string
  readonly name: string
  refs: number
  subscribed: Promise<void> | undefined
  readonly holders: Set<Held>
  readonly wakers: Set<() => void>
}

interface Connections {
  readonly commands: Redis
  readonly subscriber: Redis
}

const noop = (): void => {}
const silent: Logger = { debug: noop, info: noop, warn: noop, error: noop }
const now = (): number => performance.now()

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) {
    throw new UploadError('ERR_INVALID_CONFIG', `${name} must be a positive number of ms`)
  }
  return value
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}

/**
 * Creates a locker on Redis. It connects on first use; ioredis is imported then (an optional
 * peer dependency: `npm install ioredis`).
 */
export function createRedisLocker(options: RedisLockerOptions): RedisLocker {
  if ((options.url === undefined) === (options.client === undefined)) {
    throw new UploadError('ERR_INVALID_CONFIG', 'the Redis locker needs either `url` or `client`')
  }
  const prefix = options.keyPrefix ?? 'ferry:'
  const leaseMs = Math.ceil(positive('leaseMs', options.leaseMs, 15_000))
  const renewMs = positive('renewIntervalMs', options.renewIntervalMs, Math.floor(leaseMs / 3))
  if (renewMs >= leaseMs) {
    throw new UploadError('ERR_INVALID_CONFIG', 'renewIntervalMs must be shorter than leaseMs')
  }
  const commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs, 2_000)
  // Redis counts the lease from when it ran the command, which is after we sent it; clocks
  // drift a little: the Redis locking documentation ("Distributed Locks with Redis", safety
  // arguments) subtracts 1 % of the lease plus 2 ms from the validity.
  const driftMs = Math.floor(leaseMs * 0.01) + 2
  const retryMs = Math.min(renewMs, 500)
  const logger = options.logger ?? silent

  const lockKey = (id: string): string => `${prefix}lock:{${id}}`
  const fenceKey = (id: string): string => `${prefix}fence:{${id}}`
  const channelName = (id: string): string => `${prefix}lock-events:${id}`

  const channels = new Map<string, Channel>()
  const byName = new Map<string, Channel>()
  const held = new Set<Held>()
  const timers = new Set<NodeJS.Timeout>()
  let waiting = 0
  let closed = false
  // A function, so that TypeScript does not narrow it across awaits.
  const isClosed = (): boolean => closed
  let started: Promise<Connections> | undefined
  let connected: Connections | undefined

  // -------------------------------------------------------------------------------------------
  // connections

  function start(): Promise<Connections> {
    started ??= connect().catch((e: unknown) => {
      started = undefined
      throw e
    })
    return started
  }

  async function connect(): Promise<Connections> {
    const retryStrategy = (attempt: number): number => Math.min(100 * attempt, 1_000)
    let commands: Redis
    let subscriber: Redis
    if (options.client !== undefined) {
      commands = options.client
      subscriber = options.client.duplicate({
        lazyConnect: true,
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        connectionName: 'ferry-lock-sub',
      })
    } else {
      const RedisClass = await importIoredis()
      const url = options.url ?? ''
      const common: RedisOptions = {
        lazyConnect: true,
        connectTimeout: commandTimeoutMs,
        retryStrategy,
      }
      commands = new RedisClass(url, {
        ...common,
        // Commands are sent only on a ready connection (whenReady, bounded by the command
        // timeout); none waits in ioredis's offline queue to run after its caller gave up
        // (an acquire that would take the lock long after its request answered 503).
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        commandTimeout: commandTimeoutMs,
        connectionName: 'ferry-lock',
      })
      // The subscriber keeps (un)subscriptions queued in order across reconnections, so that
      // its final set of channels is the one wanted; ioredis resubscribes after a reconnection.
      subscriber = new RedisClass(url, {
        ...common,
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        connectionName: 'ferry-lock-sub',
      })
      watch(commands, 'commands')
    }
    watch(subscriber, 'subscriber')
    subscriber.on('message', onMessage)
    connected = { commands, subscriber }
    return connected
  }

  /** Connection events go to the logger (ioredis would print unhandled ones on the console). */
  function watch(client: Redis, role: string): void {
    let healthy = true
    client.on('error', (e: unknown) => {
      if (healthy) logger.warn('RedisConnectionError', { role, error: describe(e) })
      else logger.debug('RedisConnectionError', { role, error: describe(e) })
      healthy = false
    })
    client.on('ready', () => {
      if (!healthy) logger.info('RedisConnectionRestored', { role })
      healthy = true
    })
  }

  /** Resolves once the connection is ready (one pair of listeners, however many wait). */
  const readiness = new WeakMap<Redis, Promise<void>>()
  function whenReady(client: Redis): Promise<void> {
    if (client.status === 'ready') return Promise.resolve()
    if (client.status === 'end') return Promise.reject(new Error('the Redis connection is closed'))
    let waiting = readiness.get(client)
    if (waiting === undefined) {
      if (client.status === 'wait') client.connect().catch(noop)
      waiting = new Promise<void>((resolve, reject) => {
        const settle = (error?: Error): void => {
          client.off('ready', onReady)
          client.off('end', onEnd)
          readiness.delete(client)
          if (error === undefined) resolve()
          else reject(error)
        }
        const onReady = (): void => settle()
        const onEnd = (): void => settle(new Error('the Redis connection closed'))
        client.once('ready', onReady)
        client.once('end', onEnd)
      })
      waiting.catch(noop)
      readiness.set(client, waiting)
    }
    return waiting
  }

  /**
   * One command within `ms`, waiting for the connection included; rejects with a plain Error.
   * A command whose time ran out while it waited for the connection is never sent.
   */
  async function bounded<T>(ms: number, run: (client: Redis) => Promise<T>): Promise<T> {
    const { commands } = await start()
    let expired = false
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true
        reject(new Error(`no answer from Redis within ${ms} ms (${commands.status})`))
      }, ms)
    })
    try {
      return await Promise.race([
        whenReady(commands).then(() => {
          if (expired) throw new Error('gave up before the connection was ready')
          return run(commands)
        }),
        timeout,
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  /** EVALSHA, falling back to EVAL once when Redis does not know the script (fresh server). */
  async function evaluate(
    client: Redis,
    s: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(s.sha, keys.length, ...keys, ...args)
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e
      return client.eval(s.lua, keys.length, ...keys, ...args)
    }
  }

  function unavailable(e: unknown): UploadError {
    if (isUploadError(e)) return e
    return new UploadError('ERR_LOCK_UNAVAILABLE', undefined, {
      cause: e,
      details: { retryAfterSeconds: 1 },
    })
  }

  // -------------------------------------------------------------------------------------------
  // channels: one pub/sub connection, subscribed to the ids held or waited for

  async function join(id: string): Promise<Channel> {
    const { subscriber } = await start()
    let ch = channels.get(id)
    if (ch === undefined) {
      ch = {
        id,
        name: channelName(id),
        refs: 0,
        subscribed: undefined,
        holders: new Set(),
        wakers: new Set(),
      }
      channels.set(id, ch)
      byName.set(ch.name, ch)
    }
    ch.refs++
    const entry = ch
    ch.subscribed ??= withTimeout(commandTimeoutMs, subscriber.subscribe(ch.name).then(noop))
    const subscribed = ch.subscribed
    try {
      await subscribed
      return ch
    } catch (e) {
      if (entry.subscribed === subscribed) entry.subscribed = undefined
      leave(entry)
      throw e
    }
  }

  function leave(ch: Channel): void {
    ch.refs--
    if (ch.refs > 0) return
    channels.delete(ch.id)
    byName.delete(ch.name)
    // Sent now, so it goes out before any later SUBSCRIBE to the same channel, and queued in
    // order after the SUBSCRIBE even across a reconnection (the subscriber's offline queue).
    connected?.subscriber
      .unsubscribe(ch.name)
      .catch((e: unknown) => logger.debug('LockUnsubscribeFailed', { error: describe(e) }))
  }

  function onMessage(channel: string, message: string): void {
    const ch = byName.get(channel)
    if (ch === undefined) return
    const [kind, from] = message.split(' ')
    if (kind === REQUEST) {
      for (const h of ch.holders) {
        // Our own request, published while we were still waiting, is not a request to us.
        if (h.token !== from) ask(h)
      }
    } else if (kind === RELEASED) {
      wake(ch)
    }
  }

  function wake(ch: Channel): void {
    for (const w of [...ch.wakers]) w()
  }

  // -------------------------------------------------------------------------------------------
  // holding

  function ask(h: Held): void {
    try {
      h.onReleaseRequested()
    } catch (e) {
      logger.error('LockCallbackFailed', { id: h.id, error: describe(e) })
    }
  }

  function timer(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      timers.delete(t)
      fn()
    }, ms)
    // A forgotten lock must not keep the process alive.
    t.unref()
    timers.add(t)
    return t
  }

  function clear(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return
    clearTimeout(t)
    timers.delete(t)
  }

  function stopTimers(h: Held): void {
    clear(h.renewTimer)
    clear(h.expiryTimer)
    h.renewTimer = undefined
    h.expiryTimer = undefined
  }

  function extend(h: Held, sentAt: number): void {
    h.validUntil = sentAt + leaseMs - driftMs
    clear(h.expiryTimer)
    h.expiryTimer = timer(
      () => lose(h, 'the lease expired before it could be renewed'),
      Math.max(0, h.validUntil - now()),
    )
  }

  function lose(h: Held, reason: string): void {
    if (h.lost || h.released) return
    h.lost = true
    stopTimers(h)
    logger.warn('LockLost', { id: h.id, fence: h.fence, reason })
    ask(h)
  }

  function scheduleRenewal(h: Held, ms: number): void {
    clear(h.renewTimer)
    h.renewTimer = timer(() => void renew(h), ms)
  }

  async function renew(h: Held): Promise<void> {
    h.renewTimer = undefined
    if (h.lost || h.released) return
    const sentAt = now()
    let result: unknown
    try {
      result = await bounded(Math.min(commandTimeoutMs, Math.max(1, h.validUntil - sentAt)), (c) =>
        evaluate(c, SCRIPTS.renew, [lockKey(h.id)], [h.value, leaseMs]),
      )
    } catch (e) {
      if (h.lost || h.released) return
      const remaining = h.validUntil - now()
      const attrs = { id: h.id, remainingMs: Math.round(remaining), error: describe(e) }
      if (h.failures++ === 0) logger.warn('LockRenewalFailed', attrs)
      else logger.debug('LockRenewalFailed', attrs)
      if (remaining <= 0) {
        lose(h, 'Redis was unreachable for the whole lease')
        return
      }
      // The next renewal may not come in time: the request stops now, while it can still
      // persist under the lease (check() holds until the lease would have expired).
      if (remaining < renewMs) ask(h)
      scheduleRenewal(h, Math.min(retryMs, remaining))
      return
    }
    if (h.lost || h.released) return
    if (Number(result) !== 1) {
      lose(h, 'the lock is no longer ours (it expired, or Redis lost it)')
      return
    }
    h.failures = 0
    extend(h, sentAt)
    scheduleRenewal(h, renewMs)
  }

  function lostError(cause?: unknown): UploadError {
    return new UploadError(
      'ERR_LOCK_LOST',
      undefined,
      cause === undefined
        ? { details: { retryAfterSeconds: 1 } }
        : { cause, details: { retryAfterSeconds: 1 } },
    )
  }

  function makeLease(h: Held): Lease {
    return {
      fence: h.fence,
      check: async () => {
        if (h.released || h.lost) throw lostError()
        if (now() >= h.validUntil) {
          lose(h, 'the lease expired')
          throw lostError()
        }
        let value: unknown
        try {
          value = await bounded(
            Math.min(commandTimeoutMs, Math.max(1, h.validUntil - now())),
            (c) => c.get(lockKey(h.id)),
          )
        } catch (e) {
          // Redis did not answer. Nobody else can hold the lock before our key expires, which is
          // not before validUntil: the lease holds until then (that is what a lease is for).
          if (!h.lost && !h.released && now() < h.validUntil) return
          lose(h, 'the lease expired while Redis was unreachable')
          throw lostError(e)
        }
        if (value !== h.value) {
          lose(h, 'the lock is no longer ours (it expired, or Redis lost it)')
          throw lostError()
        }
        if (h.lost || h.released || now() >= h.validUntil) throw lostError()
      },
    }
  }

  function hold(
    ch: Channel,
    token: string,
    fence: number,
    sentAt: number,
    options: AcquireOptions,
  ): Lock {
    const h: Held = {
      id: ch.id,
      token,
      value: `${token}:${fence}`,
      fence,
      onReleaseRequested: options.onReleaseRequested,
      validUntil: sentAt + leaseMs - driftMs,
      lost: false,
      released: false,
      failures: 0,
      renewTimer: undefined,
      expiryTimer: undefined,
      release: () => Promise.resolve(),
    }
    ch.holders.add(h)
    held.add(h)
    extend(h, sentAt)
    scheduleRenewal(h, renewMs)
    logger.debug('LockAcquired', { id: ch.id, fence })
    const release = async (): Promise<void> => {
      if (h.released) return
      h.released = true
      stopTimers(h)
      ch.holders.delete(h)
      held.delete(h)
      try {
        // Even a lost lease tries: compare-and-DEL removes the key only if it is still ours.
        await bounded(commandTimeoutMs, (c) =>
          evaluate(
            c,
            SCRIPTS.release,
            [lockKey(ch.id)],
            [h.value, ch.name, `${RELEASED} ${token}`],
          ),
        )
      } catch (e) {
        // The key expires by itself after leaseMs; waiters get it then.
        logger.warn('LockReleaseFailed', { id: ch.id, error: describe(e) })
      } finally {
        wake(ch)
        leave(ch)
      }
    }
    h.release = release
    return { release, lease: makeLease(h) }
  }

  // -------------------------------------------------------------------------------------------
  // acquiring

  /** Resolves on a "released" message, after `ms`, or rejects when `signal` aborts. */
  function pause(ch: Channel, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(t)
        ch.wakers.delete(done)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        clearTimeout(t)
        ch.wakers.delete(done)
        reject(signal?.reason)
      }
      const t = setTimeout(done, ms)
      ch.wakers.add(done)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  function closedError(): UploadError {
    return new UploadError('ERR_LOCK_UNAVAILABLE', 'the Redis locker is closed', {
      details: { retryAfterSeconds: 1 },
    })
  }

  const acquire = async (id: string, acquireOptions: AcquireOptions): Promise<Lock> => {
    const { signal, timeoutMs } = acquireOptions
    if (closed) throw closedError()
    if (signal?.aborted === true) throw signal.reason
    const deadline = now() + timeoutMs
    const token = randomBytes(16).toString('hex')
    let ch: Channel
    try {
      // Subscribed before the first attempt: a release request sent right after we get the
      // lock, or a "released" message sent while we wait, is not missed.
      ch = await join(id)
    } catch (e) {
      throw unavailable(e)
    }
    let holding = false
    waiting++
    try {
      for (let attempt = 0; ; attempt++) {
        if (isClosed()) throw closedError()
        const sentAt = now()
        let fence: number
        try {
          fence = Number(
            await bounded(commandTimeoutMs, (c) =>
              evaluate(
                c,
                SCRIPTS.acquire,
                [lockKey(id), fenceKey(id)],
                [token, leaseMs, Math.max(FENCE_TTL_MS, 4 * leaseMs)],
              ),
            ),
          )
        } catch (e) {
          throw unavailable(e)
        }
        if (fence > 0) {
          const lock = hold(ch, token, fence, sentAt, acquireOptions)
          holding = true
          if (isAborted(signal) || isClosed()) {
            // The request went away while the lock was being taken: give it back.
            await lock.release()
            throw isClosed() ? closedError() : signal?.reason
          }
          return lock
        }
        if (isAborted(signal)) throw signal?.reason
        if (acquireOptions.ifFree === true) {
          throw new UploadError('ERR_LOCK_TIMEOUT', undefined, {
            details: { retryAfterSeconds: 1 },
          })
        }
        // Asked on every round, even the last: a lost message only costs one round, and
        // repeat requests are harmless to the holder.
        try {
          await bounded(commandTimeoutMs, (c) => c.publish(ch.name, `${REQUEST} ${token}`))
        } catch (e) {
          throw unavailable(e)
        }
        const left = deadline - now()
        if (left <= 0) {
          throw new UploadError('ERR_LOCK_TIMEOUT', undefined, {
            details: { retryAfterSeconds: 1 },
          })
        }
        const backoff = Math.min(50 * 2 ** attempt, 1_000) * (0.5 + Math.random() / 2)
        await pause(ch, Math.min(backoff, left), signal)
      }
    } finally {
      waiting--
      if (!holding) leave(ch)
    }
  }

  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    for (const ch of channels.values()) wake(ch)
    await Promise.all([...held].map((h) => h.release()))
    const connections = await started?.catch(() => undefined)
    if (connections === undefined) return
    const quit = async (client: Redis): Promise<void> => {
      try {
        await withTimeout(commandTimeoutMs, client.quit())
      } catch {
        client.disconnect()
      }
    }
    const { commands, subscriber } = connections
    await Promise.all([
      quit(subscriber),
      options.client === undefined ? quit(commands) : Promise.resolve(),
    ])
  }

  async function ping(): Promise<void> {
    try {
      await bounded(commandTimeoutMs, (client) => client.ping())
    } catch (e) {
      if (e instanceof UploadError) throw e
      throw new UploadError('ERR_LOCK_UNAVAILABLE', `Redis did not answer: ${describe(e)}`, {
        cause: e,
      })
    }
  }

  return {
    acquire,
    close,
    ping,
    get stats() {
      return {
        held: held.size,
        waiting,
        channels: [...channels.values()].map((c) => c.name),
        timers: timers.size,
      }
    },
  }
}

/** Read through a function, so that TypeScript does not narrow it across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

function withTimeout<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

type RedisConstructor = new (url: string, options: RedisOptions) => Redis

async function importIoredis(): Promise<RedisConstructor> {
  try {
    const mod = (await import('ioredis')) as unknown as {
      Redis?: RedisConstructor
      default?: RedisConstructor | { Redis?: RedisConstructor }
    }
    const found =
      mod.Redis ??
      (typeof mod.default === 'function' ? mod.default : mod.default?.Redis) ??
      undefined
    if (found === undefined) throw new Error('ioredis exports no Redis class')
    return found
  } catch (e) {
    throw new UploadError(
      'ERR_INVALID_CONFIG',
      'the Redis locker needs the ioredis package: npm install ioredis',
      { cause: e },
    )
  }
}
