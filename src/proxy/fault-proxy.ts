/**
 * @module A TCP fault proxy on node:net: it forwards bytes between clients and a target server
 * and misbehaves on purpose, like a bad network (clients.md §3.5 and §11 — no toxiproxy needed).
 * It can cut a connection after an exact number of upstream (client → server) bytes, or at a
 * random byte in a range drawn from a seeded generator (reproducible), for a given number of
 * connections; throttle either direction to a byte rate; and delay every chunk by a fixed
 * latency (a time shift: throughput is not divided by the latency). Backpressure is propagated
 * both ways, and `close()` destroys every live socket. Used by the tests, by `ferry check`
 * (interruption checks) and by `ferry proxy`.
 */
import { randomInt } from 'node:crypto'
import net from 'node:net'

export interface FaultProxyOptions {
  readonly target: { readonly host: string; readonly port: number }
  /** Address to listen on. @default '127.0.0.1' */
  readonly host?: string
  /** Port to listen on; 0 picks a free one. @default 0 */
  readonly port?: number
  /**
   * Cut a connection once its upstream bytes, counted from the connection's start, reach this
   * number: exactly this many bytes reach the target, followed by a FIN (the target sees the
   * content end early), and the client socket is reset (it sees ECONNRESET). A function is called
   * once per new connection.
   */
  readonly cutAfterBytes?: number | (() => number)
  /**
   * Cut at a random upstream byte in [min, max] (inclusive), drawn per connection from a
   * generator seeded with `seed`: the same seed cuts the same connections at the same bytes.
   * Not together with `cutAfterBytes`.
   */
  readonly cutRandom?: { readonly min: number; readonly max: number }
  /** Seed of `cutRandom` (a 32-bit integer). @default a random one, reported as `proxy.seed` */
  readonly seed?: number
  /** How many connections to cut (the first ones to reach their threshold). @default 1 */
  readonly cuts?: number
  /** Throttle the upstream direction (client → server) of each connection to about this rate. */
  readonly bytesPerSecond?: number
  /** Throttle the downstream direction (server → client) of each connection to about this rate. */
  readonly downstreamBytesPerSecond?: number
  /** Delay added to every chunk, in both directions (one-way latency). */
  readonly latencyMs?: number
  /** Called after each cut. */
  readonly onCut?: (cut: FaultProxyCut) => void
}

/** One cut connection. */
export interface FaultProxyCut {
  /** The connection's number, from 1 in accept order. */
  readonly connection: number
  /** Upstream bytes the target received on that connection. */
  readonly bytes: number
  /** The cut's number, from 1. */
  readonly cut: number
}

export interface FaultProxyStats {
  /** Connections accepted so far. */
  connections: number
  /** Connections open now. */
  active: number
  /** Connections cut so far. */
  cuts: number
  /** Upstream bytes each cut connection delivered, in the order of the cuts. */
  cutPoints: number[]
  /** Bytes forwarded to the target (all connections). */
  bytesUp: number
  /** Bytes forwarded to the clients (all connections). */
  bytesDown: number
}

export interface FaultProxy {
  /** The address the proxy listens on. */
  readonly host: string
  readonly port: number
  /** The seed of `cutRandom` (undefined without it). */
  readonly seed: number | undefined
  /** `http://<host>:<port><path>`. */
  url(path: string): string
  readonly stats: Readonly<FaultProxyStats>
  /** Stops listening and destroys every live connection. */
  close(): Promise<void>
}

const sleep = (ms: number): Promise<void> =>
  ms <= 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms))

/** Resolves when `socket` can take more data or is gone. */
function drained(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done)
      socket.off('close', done)
      resolve()
    }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

/** Resolves once `data` was handed to the kernel (or the socket failed). */
function flushed(socket: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve()
    else socket.write(data, () => resolve())
  })
}

/** mulberry32: a small, fast 32-bit generator; good enough to place cuts reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Paces writes to `rate` bytes per second; idle time earns no credit. */
function pacer(rate: number): (bytes: number) => Promise<void> {
  let next = 0
  return async (bytes) => {
    const now = performance.now()
    const at = Math.max(next, now)
    next = at + (bytes / rate) * 1000
    await sleep(at - now)
  }
}

/** How long a cut upstream connection may wait for the target to close it. */
const CUT_LINGER_MS = 2000
/** Bytes read ahead of the writer (per direction and connection) before the reader pauses. */
const QUEUE_BYTES = 1024 * 1024

type PumpEnd = 'end' | 'source-failed' | 'sink-gone' | 'cut'

interface PumpOptions {
  readonly latencyMs: number
  readonly rate: number | undefined
  /** Upstream only: bytes this connection may still forward before the cut (undefined: no cut). */
  readonly budget?: () => number | undefined
  /** Upstream only: the pump decided to cut (called before the last bytes are flushed). */
  readonly cutting?: () => void
  readonly count: (bytes: number) => void
  /** True once the connection was cut (the other direction drops what it reads). */
  readonly dropped: () => boolean
}

/**
 * Forwards `from` → `to` chunk by chunk: each chunk is stamped when read and written no earlier
 * than its stamp plus the latency, sliced and paced when a rate is set. Resolves with how the
 * direction ended; the caller acts on it. With a budget, the last slice is shortened to it, sent,
 * flushed, and the pump resolves with 'cut'.
 */
function pump(from: net.Socket, to: net.Socket, options: PumpOptions): Promise<PumpEnd> {
  const queue: { data: Buffer; at: number }[] = []
  let queued = 0
  let ended = false
  let failed = false
  let wake: (() => void) | undefined
  const poke = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  from.on('data', (data: Buffer) => {
    queue.push({ data, at: performance.now() })
    queued += data.length
    if (queued >= QUEUE_BYTES) from.pause()
    poke()
  })
  from.once('end', () => {
    ended = true
    poke()
  })
  from.once('close', () => {
    if (!ended) failed = true
    poke()
  })
  const pace = options.rate === undefined ? undefined : pacer(options.rate)
  const slice = options.rate === undefined ? Infinity : Math.max(1, Math.floor(options.rate / 50))

  return (async (): Promise<PumpEnd> => {
    for (;;) {
      const item = queue.shift()
      if (item === undefined) {
        if (ended) return 'end'
        if (failed) return 'source-failed'
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        continue
      }
      queued -= item.data.length
      if (queued < QUEUE_BYTES && from.isPaused()) from.resume()
      if (options.dropped()) continue
      await sleep(item.at + options.latencyMs - performance.now())
      for (let at = 0; at < item.data.length; at += slice) {
        let part = item.data.subarray(at, Math.min(item.data.length, at + slice))
        if (pace !== undefined) await pace(part.length)
        if (to.destroyed || options.dropped()) return 'sink-gone'
        const budget = options.budget?.()
        if (budget !== undefined && part.length >= budget) {
          part = part.subarray(0, Math.max(0, budget))
          options.cutting?.()
          options.count(part.length)
          // The client learns of the cut only once the last bytes are on their way.
          await flushed(to, part)
          return 'cut'
        }
        options.count(part.length)
        if (!to.write(part)) await drained(to)
      }
    }
  })()
}

function validate(options: FaultProxyOptions): void {
  const positive = (value: number | undefined, name: string): void => {
    if (value !== undefined && !(value > 0)) throw new RangeError(`${name} must be positive`)
  }
  positive(options.bytesPerSecond, 'bytesPerSecond')
  positive(options.downstreamBytesPerSecond, 'downstreamBytesPerSecond')
  if (options.latencyMs !== undefined && !(options.latencyMs >= 0))
    throw new RangeError('latencyMs must not be negative')
  if (options.cuts !== undefined && !(options.cuts >= 0))
    throw new RangeError('cuts must not be negative')
  const r = options.cutRandom
  if (r !== undefined) {
    if (options.cutAfterBytes !== undefined)
      throw new RangeError('cutAfterBytes and cutRandom exclude each other')
    if (!Number.isSafeInteger(r.min) || !Number.isSafeInteger(r.max) || r.min < 0 || r.max < r.min)
      throw new RangeError('cutRandom needs integers 0 <= min <= max')
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  validate(options)
  const stats: FaultProxyStats = {
    connections: 0,
    active: 0,
    cuts: 0,
    cutPoints: [],
    bytesUp: 0,
    bytesDown: 0,
  }
  const maxCuts = options.cuts ?? 1
  const latencyMs = options.latencyMs ?? 0
  const random = options.cutRandom
  const seed = random === undefined ? undefined : (options.seed ?? randomInt(2 ** 31)) >>> 0
  const draw = seed === undefined ? undefined : seededRandom(seed)
  const live = new Set<net.Socket>()

  /** The cut threshold of a new connection (asked for every connection, cut or not). */
  const thresholdOf = (): number | undefined => {
    const cut = options.cutAfterBytes
    if (cut !== undefined) return typeof cut === 'function' ? cut() : cut
    if (random !== undefined && draw !== undefined)
      return random.min + Math.floor(draw() * (random.max - random.min + 1))
    return undefined
  }

  const track = (socket: net.Socket): void => {
    live.add(socket)
    socket.once('close', () => live.delete(socket))
    // Errors end the connection (handled by 'close'); they must not crash the process.
    socket.on('error', () => {})
  }

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    stats.connections++
    stats.active++
    const connection = stats.connections
    const upstream = net.connect({
      host: options.target.host,
      port: options.target.port,
      allowHalfOpen: true,
    })
    track(client)
    track(upstream)
    let closed = 0
    const onClose = (): void => {
      if (++closed === 2) stats.active--
    }
    client.once('close', onClose)
    upstream.once('close', onClose)
    const threshold = thresholdOf()
    let sentUp = 0
    let cut = false

    /** Reads and drops what a socket still sends. */
    const discard = (socket: net.Socket): void => {
      socket.removeAllListeners('data')
      socket.on('data', () => {})
      socket.resume()
    }

    /**
     * The cut: the client gets a reset, the target a FIN right after the last forwarded byte.
     * (Destroying the upstream socket while bytes from the target sit unread in it makes the
     * kernel send a RST instead, which drops forwarded bytes the target has not read yet.) What
     * the target still sends is read and dropped; the upstream socket is destroyed when the
     * target closes it, or after CUT_LINGER_MS.
     */
    const cutBoth = (): void => {
      client.resetAndDestroy()
      upstream.end()
      discard(upstream)
      const timer = setTimeout(() => upstream.destroy(), CUT_LINGER_MS)
      timer.unref()
      upstream.once('close', () => clearTimeout(timer))
    }

    const up = pump(client, upstream, {
      latencyMs,
      rate: options.bytesPerSecond,
      budget: () =>
        threshold !== undefined && stats.cuts < maxCuts && !cut ? threshold - sentUp : undefined,
      cutting: () => {
        // Reserved at once: connections that reach their thresholds together share `cuts`.
        cut = true
        stats.cuts++
      },
      count: (n) => {
        sentUp += n
        stats.bytesUp += n
      },
      dropped: () => false,
    })
    const down = pump(upstream, client, {
      latencyMs,
      rate: options.downstreamBytesPerSecond,
      count: (n) => {
        stats.bytesDown += n
      },
      dropped: () => cut,
    })

    void up.then((how) => {
      if (how === 'cut') {
        stats.cutPoints.push(sentUp)
        cutBoth()
        options.onCut?.({ connection, bytes: sentUp, cut: stats.cutPoints.length })
      } else if (how === 'end') {
        // The client half-closed: pass the FIN on.
        if (!upstream.destroyed) upstream.end()
      } else if (how === 'source-failed') {
        upstream.destroy()
      } else {
        // The target went away: drop what the client still sends (the other direction ends it).
        discard(client)
      }
    })
    void down.then((how) => {
      if (cut) return
      if (how === 'end') {
        if (!client.destroyed) client.end()
      } else if (how === 'source-failed') {
        if (!client.destroyed) client.resetAndDestroy()
      } else {
        upstream.destroy()
      }
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  const { port } = address
  const host = address.address
  const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`

  return {
    host,
    port,
    seed,
    url: (path) => `http://${authority}${path}`,
    stats,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of live) socket.destroy()
      await closed
    },
  }
}
