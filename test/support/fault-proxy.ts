/**
 * @module Test support: a TCP fault proxy on node:net for end-to-end tests of real clients. It
 * forwards bytes between a client and a target server and can cut a connection after an exact
 * number of upstream (client → server) bytes, throttle the upstream direction and add a delay
 * to every chunk. Backpressure is propagated both ways, and `close()` destroys every live socket.
 */
import net from 'node:net'

export interface FaultProxyOptions {
  readonly target: { readonly host: string; readonly port: number }
  /**
   * Cut a connection once its upstream bytes, counted from the connection's start, reach this
   * number: exactly this many bytes reach the target, followed by a FIN (the target sees the
   * content end early), and the client socket is reset (it sees ECONNRESET). A function is called
   * once per new connection.
   */
  readonly cutAfterBytes?: number | (() => number)
  /** How many connections to cut (the first ones to reach the threshold). @default 1 */
  readonly cuts?: number
  /** Throttle the upstream direction (client → server) to about this many bytes per second. */
  readonly bytesPerSecond?: number
  /** Delay added before each chunk is forwarded, in both directions. */
  readonly latencyMs?: number
}

export interface FaultProxyStats {
  /** Connections accepted so far. */
  connections: number
  /** Connections cut so far. */
  cuts: number
  /** Bytes forwarded to the target (all connections). */
  bytesUp: number
  /** Bytes forwarded to the clients (all connections). */
  bytesDown: number
}

export interface FaultProxy {
  readonly port: number
  /** `http://127.0.0.1:<proxy port><path>`. */
  url(path: string): string
  readonly stats: Readonly<FaultProxyStats>
  /** Stops listening and destroys every live connection. */
  close(): Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

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

/** How long a cut upstream connection may wait for the target to close it. */
const CUT_LINGER_MS = 2000

/**
 * The socket's chunks. Ending the loop does not destroy the socket (the default iterator would,
 * even at a clean end, and lose the bytes still to be written the other way).
 */
function chunksOf(socket: net.Socket): AsyncIterable<Buffer> {
  return { [Symbol.asyncIterator]: () => socket.iterator({ destroyOnReturn: false }) }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const stats: FaultProxyStats = { connections: 0, cuts: 0, bytesUp: 0, bytesDown: 0 }
  const maxCuts = options.cuts ?? 1
  const rate = options.bytesPerSecond
  const latency = options.latencyMs ?? 0
  const live = new Set<net.Socket>()

  const track = (socket: net.Socket): void => {
    live.add(socket)
    socket.once('close', () => live.delete(socket))
    // Errors end the connection (handled by 'close'); they must not crash the test process.
    socket.on('error', () => {})
  }

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    stats.connections++
    const upstream = net.connect({
      host: options.target.host,
      port: options.target.port,
      allowHalfOpen: true,
    })
    track(client)
    track(upstream)
    const threshold =
      typeof options.cutAfterBytes === 'function' ? options.cutAfterBytes() : options.cutAfterBytes
    let sentUp = 0
    let cut = false

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
      const timer = setTimeout(() => upstream.destroy(), CUT_LINGER_MS)
      timer.unref()
      upstream.once('close', () => clearTimeout(timer))
    }

    /** Forwards upstream bytes, cutting and throttling as configured. */
    const pumpUp = async (): Promise<void> => {
      for await (const data of chunksOf(client)) {
        let chunk = data
        const delay = latency + (rate === undefined ? 0 : (chunk.length / rate) * 1000)
        if (delay > 0) await sleep(delay)
        if (upstream.destroyed) {
          // The target went away: drop what the client still sends (pumpDown ends the client).
          client.resume()
          return
        }
        const cutHere =
          threshold !== undefined && stats.cuts < maxCuts && sentUp + chunk.length >= threshold
        if (cutHere) {
          chunk = chunk.subarray(0, Math.max(0, threshold - sentUp))
          cut = true
          stats.cuts++
          sentUp += chunk.length
          stats.bytesUp += chunk.length
          // The client learns of the cut only once the last bytes are on their way.
          await flushed(upstream, chunk)
          cutBoth()
          return
        }
        sentUp += chunk.length
        stats.bytesUp += chunk.length
        if (!upstream.write(chunk)) await drained(upstream)
      }
      // The client half-closed: pass the FIN on.
      upstream.end()
    }

    /** Forwards downstream bytes. */
    const pumpDown = async (): Promise<void> => {
      for await (const data of chunksOf(upstream)) {
        if (cut) continue
        if (latency > 0) await sleep(latency)
        if (client.destroyed) {
          upstream.destroy()
          return
        }
        stats.bytesDown += data.length
        if (!client.write(data)) await drained(client)
      }
      if (!client.destroyed) client.end()
    }

    // A premature close or error on one side (iteration throws) tears the other side down too.
    pumpUp().catch(() => {
      if (!cut) upstream.destroy()
    })
    pumpDown().catch(() => {
      if (!cut && !client.destroyed) client.resetAndDestroy()
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  const port = address.port

  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    stats,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of live) socket.destroy()
      await closed
    },
  }
}
