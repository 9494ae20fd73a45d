import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts'

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
