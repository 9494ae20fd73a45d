import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import {
  type FaultProxy,
  type FaultProxyCut,
  seededRandom,
  startFaultProxy,
} from './fault-proxy.ts'

/** What the target saw on one connection. */
interface Received {
  bytes: Buffer
  /** 'end' for a clean FIN, 'error' for a reset or another socket error. */
  how: 'end' | 'error' | 'close'
}

/**
 * A target that records what each connection sent and echoes it back (the echo ends when the
 * client half-closes).
 */
async function startEchoTarget(): Promise<{
  port: number
  received: Promise<Received>[]
  close(): Promise<void>
}> {
  const received: Promise<Received>[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket)
    const chunks: Buffer[] = []
    received.push(
      new Promise((resolve) => {
        let how: Received['how'] = 'close'
        socket.on('data', (d: Buffer) => {
          chunks.push(d)
          if (!socket.write(d)) socket.pause()
        })
        socket.on('drain', () => socket.resume())
        socket.on('end', () => {
          how = 'end'
          socket.end()
        })
        socket.on('error', () => {
          how = 'error'
        })
        socket.on('close', () => {
          sockets.delete(socket)
          resolve({ bytes: Buffer.concat(chunks), how })
        })
      }),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as net.AddressInfo
  return {
    port: address.port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Sends `payload` through a new connection to `port`, half-closes, collects the reply. */
function exchange(
  port: number,
  payload: Buffer,
): Promise<{ reply: Buffer; error: NodeJS.ErrnoException | undefined; ms: number }> {
  const started = performance.now()
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let error: NodeJS.ErrnoException | undefined
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e
    })
    socket.on('close', () =>
      resolve({ reply: Buffer.concat(chunks), error, ms: performance.now() - started }),
    )
    socket.end(payload)
  })
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

describe('fault proxy', () => {
  let target: Awaited<ReturnType<typeof startEchoTarget>>
  const proxies: FaultProxy[] = []
  before(async () => {
    target = await startEchoTarget()
  })
  after(async () => {
    for (const p of proxies) await p.close()
    await target.close()
  })
  const proxy = async (
    options: Omit<Parameters<typeof startFaultProxy>[0], 'target'>,
  ): Promise<FaultProxy> => {
    const p = await startFaultProxy({
      target: { host: '127.0.0.1', port: target.port },
      ...options,
    })
    proxies.push(p)
    return p
  }

  test('passes bytes through unchanged in both directions, including the half-close', async () => {
    const p = await proxy({})
    const payload = randomBytes(3 * 1024 * 1024 + 17)
    const before = target.received.length
    const r = await exchange(p.port, payload)
    assert.equal(r.error, undefined)
    const seen = await target.received[before]!
    assert.equal(seen.how, 'end')
    assert.equal(sha256(seen.bytes), sha256(payload))
    assert.equal(sha256(r.reply), sha256(payload))
    assert.equal(p.stats.connections, 1)
    assert.equal(p.stats.cuts, 0)
    assert.equal(p.stats.bytesUp, payload.length)
    assert.equal(p.stats.bytesDown, payload.length)
  })

  test('cutAfterBytes delivers exactly N upstream bytes, then resets the client', async () => {
    const cutAt = 300_001
    const p = await proxy({ cutAfterBytes: cutAt })
    const payload = randomBytes(1024 * 1024)
    const before = target.received.length
    const r = await exchange(p.port, payload)
    assert.equal(r.error?.code, 'ECONNRESET')
    const seen = await target.received[before]!
    assert.equal(seen.bytes.length, cutAt)
    assert.equal(seen.how, 'end', 'the target got a FIN after the last byte')
    assert.deepEqual(seen.bytes, payload.subarray(0, cutAt))
    assert.equal(p.stats.cuts, 1)
    assert.equal(p.stats.bytesUp, cutAt)

    // Only one connection is cut by default: the next one passes through.
    const second = await exchange(p.port, payload)
    assert.equal(second.error, undefined)
    assert.equal(sha256(second.reply), sha256(payload))
    assert.equal(p.stats.cuts, 1)
    assert.equal(p.stats.connections, 2)
  })

  test('cuts counts connections to cut, and a function threshold is asked per connection', async () => {
    const thresholds = [1000, 2000, 3000]
    let asked = 0
    const p = await proxy({ cutAfterBytes: () => thresholds[asked++] ?? 0, cuts: 2 })
    const payload = randomBytes(10_000)
    const before = target.received.length
    const first = await exchange(p.port, payload)
    const second = await exchange(p.port, payload)
    const third = await exchange(p.port, payload)
    assert.equal(first.error?.code, 'ECONNRESET')
    assert.equal(second.error?.code, 'ECONNRESET')
    assert.equal(third.error, undefined)
    assert.equal((await target.received[before]!).bytes.length, 1000)
    assert.equal((await target.received[before + 1]!).bytes.length, 2000)
    assert.equal(sha256((await target.received[before + 2]!).bytes), sha256(payload))
    assert.equal(p.stats.cuts, 2)
    assert.equal(asked, 3)
  })

  test('bytesPerSecond slows the upstream direction to about that rate', async () => {
    const rate = 400_000
    const p = await proxy({ bytesPerSecond: rate })
    const payload = randomBytes(200_000)
    const r = await exchange(p.port, payload)
    assert.equal(r.error, undefined)
    assert.equal(sha256(r.reply), sha256(payload))
    // 200 kB at 400 kB/s takes at least ~0.5 s; unthrottled loopback takes a few ms. Only a
    // lower bound is asserted (with a generous margin): throttling can only make it slower.
    assert.ok(r.ms >= ((payload.length / rate) * 1000) / 2, `took only ${r.ms.toFixed(0)} ms`)
  })

  test('cutRandom cuts at a byte in [min, max]; the same seed cuts at the same bytes', async () => {
    const payload = randomBytes(64 * 1024)
    const run = async (seed: number): Promise<{ points: number[]; seen: number[] }> => {
      const events: FaultProxyCut[] = []
      const p = await proxy({
        cutRandom: { min: 1000, max: 50_000 },
        seed,
        cuts: 3,
        onCut: (c) => events.push(c),
      })
      assert.equal(p.seed, seed)
      const seen: number[] = []
      for (let i = 0; i < 4; i++) {
        const before = target.received.length
        const r = await exchange(p.port, payload)
        const received = await target.received[before]!
        seen.push(received.bytes.length)
        if (i < 3) {
          assert.equal(r.error?.code, 'ECONNRESET', `connection ${i + 1} is cut`)
          assert.deepEqual(received.bytes, payload.subarray(0, received.bytes.length))
        } else {
          assert.equal(r.error, undefined, 'the fourth connection passes: cuts is 3')
          assert.equal(received.bytes.length, payload.length)
        }
      }
      assert.deepEqual(
        events.map((e) => [e.connection, e.cut, e.bytes]),
        p.stats.cutPoints.map((b, i) => [i + 1, i + 1, b]),
      )
      return { points: [...p.stats.cutPoints], seen }
    }
    const a = await run(42)
    const b = await run(42)
    const c = await run(7)
    assert.equal(a.points.length, 3)
    for (const point of [...a.points, ...c.points]) assert.ok(point >= 1000 && point <= 50_000)
    assert.deepEqual(a.points, a.seen.slice(0, 3), 'the target got exactly the cut points')
    assert.deepEqual(a.points, b.points, 'same seed, same cuts')
    assert.notDeepEqual(a.points, c.points, 'another seed, other cuts')
    // The draws are the documented generator's: a reproduction needs only the seed.
    const next = seededRandom(42)
    assert.deepEqual(
      a.points,
      [0, 1, 2].map(() => 1000 + Math.floor(next() * 49_001)),
    )
  })

  test('a random seed is chosen and reported when none is given', async () => {
    const p = await proxy({ cutRandom: { min: 10, max: 20 } })
    assert.ok(Number.isInteger(p.seed))
    const plain = await proxy({})
    assert.equal(plain.seed, undefined)
  })

  test('bad options are rejected', async () => {
    const target = { host: '127.0.0.1', port: 1 }
    await assert.rejects(
      startFaultProxy({ target, cutAfterBytes: 5, cutRandom: { min: 1, max: 2 } }),
      /exclude each other/,
    )
    await assert.rejects(startFaultProxy({ target, cutRandom: { min: 5, max: 2 } }), /min <= max/)
    await assert.rejects(startFaultProxy({ target, bytesPerSecond: 0 }), /positive/)
    await assert.rejects(startFaultProxy({ target, latencyMs: -1 }), /negative/)
  })

  test('downstreamBytesPerSecond slows the downstream direction only', async () => {
    const rate = 400_000
    const p = await proxy({ downstreamBytesPerSecond: rate })
    const payload = randomBytes(200_000)
    const r = await exchange(p.port, payload)
    assert.equal(r.error, undefined)
    assert.equal(sha256(r.reply), sha256(payload))
    assert.ok(r.ms >= ((payload.length / rate) * 1000) / 2, `took only ${r.ms.toFixed(0)} ms`)
  })

  test('latencyMs delays each direction without dividing the throughput', async () => {
    const latency = 100
    const p = await proxy({ latencyMs: latency })
    const small = await exchange(p.port, Buffer.from('ping'))
    assert.equal(small.reply.toString(), 'ping')
    // There and back: at least two one-way delays.
    assert.ok(small.ms >= 2 * latency - 5, `round trip took only ${small.ms.toFixed(0)} ms`)
    // 8 MB through a 100 ms latency: chunks overlap in flight, so this takes about the round
    // trip, not (chunks × latency) — which would be tens of seconds.
    const payload = randomBytes(8 * 1024 * 1024)
    const big = await exchange(p.port, payload)
    assert.equal(sha256(big.reply), sha256(payload))
    assert.ok(big.ms < 5000, `8 MB took ${big.ms.toFixed(0)} ms`)
  })

  test('stats.active counts open connections', async () => {
    const p = await proxy({})
    const socket = net.connect(p.port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write('hello')
    await new Promise<void>((resolve) => socket.once('data', () => resolve()))
    assert.equal(p.stats.active, 1)
    socket.end()
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    for (let i = 0; i < 50 && p.stats.active > 0; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(p.stats.active, 0)
    assert.equal(p.stats.connections, 1)
  })

  test('close() destroys live connections', async () => {
    const p = await startFaultProxy({ target: { host: '127.0.0.1', port: target.port } })
    const socket = net.connect(p.port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write('hello')
    await new Promise<void>((resolve) => socket.once('data', () => resolve()))
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    await p.close()
    await closed
    assert.equal(socket.destroyed, true)
  })
})
