import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { parseListen, parseProxyArgs, parseTarget } from './proxy.ts'

const RUN = new URL('./run.ts', import.meta.url).pathname

/** A target that records the bytes of each connection and answers "ok" when the client ends. */
async function startTarget(): Promise<{
  port: number
  received: Promise<Buffer>[]
  close(): Promise<void>
}> {
  const received: Promise<Buffer>[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket)
    const chunks: Buffer[] = []
    received.push(
      new Promise((resolve) => {
        socket.on('data', (d: Buffer) => chunks.push(d))
        socket.on('end', () => socket.end('ok'))
        socket.on('error', () => {})
        socket.on('close', () => {
          sockets.delete(socket)
          resolve(Buffer.concat(chunks))
        })
      }),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Starts `ferry proxy` and waits for its "listening" line; returns the port and the log. */
async function startProxy(args: readonly string[]): Promise<{
  child: ChildProcess
  port: number
  log: () => string
  exited: Promise<number | null>
}> {
  const child = spawn(process.execPath, ['--import', 'tsx', RUN, 'proxy', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${stderr}`)), 20_000)
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr)
      if (m !== null) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    void exited.then((code) => reject(new Error(`ferry proxy exited with ${code}:\n${stderr}`)))
  })
  return { child, port, log: () => stderr, exited }
}

/** Sends `payload` through `port`, half-closes, and collects the reply or the error. */
function exchange(
  port: number,
  payload: Buffer,
): Promise<{ reply: string; error: NodeJS.ErrnoException | undefined }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let error: NodeJS.ErrnoException | undefined
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e
    })
    socket.on('close', () => resolve({ reply: Buffer.concat(chunks).toString(), error }))
    socket.end(payload)
  })
}

describe('ferry proxy', () => {
  let target: Awaited<ReturnType<typeof startTarget>>
  before(async () => {
    target = await startTarget()
  })
  after(async () => {
    await target.close()
  })

  test('cuts the first connection after --cut-after bytes, passes the next, stops on SIGTERM', async () => {
    const proxy = await startProxy([
      '--listen',
      '127.0.0.1:0',
      '--target',
      `http://127.0.0.1:${target.port}`,
      '--cut-after',
      '10KB',
      '--latency',
      '5ms',
    ])
    try {
      assert.match(proxy.log(), /cut 1 connection\(s\) after 10000 bytes/)
      const payload = randomBytes(100_000)
      const first = target.received.length
      const cut = await exchange(proxy.port, payload)
      assert.equal(cut.error?.code, 'ECONNRESET', 'the client sees a reset')
      const delivered = await target.received[first]!
      assert.equal(delivered.length, 10_000)
      assert.deepEqual(delivered, payload.subarray(0, 10_000))
      for (let i = 0; i < 100 && !proxy.log().includes('cut connection'); i++)
        await new Promise((r) => setTimeout(r, 10))
      assert.match(proxy.log(), /cut connection 1 after 10000 upstream bytes \(cut 1\)/)

      const second = await exchange(proxy.port, payload)
      assert.equal(second.error, undefined)
      assert.equal(second.reply, 'ok')
      assert.equal((await target.received[first + 1]!).length, payload.length)
    } finally {
      proxy.child.kill('SIGTERM')
    }
    assert.equal(await proxy.exited, 0)
    assert.match(proxy.log(), /SIGTERM, stopped after 2 connection\(s\), 1 cut\(s\)/)
  })

  test('--cut-random with --seed cuts at the same byte every run', async () => {
    const cutsOf = async (): Promise<number> => {
      const proxy = await startProxy([
        '--listen',
        '0',
        '--target',
        `127.0.0.1:${target.port}`,
        '--cut-random',
        '1KB-60KB',
        '--seed',
        '1234',
      ])
      try {
        assert.match(proxy.log(), /at a random byte in 1000-60000, seed 1234/)
        const first = target.received.length
        await exchange(proxy.port, randomBytes(80_000))
        return (await target.received[first]!).length
      } finally {
        proxy.child.kill('SIGINT')
        assert.equal(await proxy.exited, 0)
      }
    }
    const a = await cutsOf()
    const b = await cutsOf()
    assert.ok(a >= 1000 && a <= 60_000, String(a))
    assert.equal(a, b)
  })

  test('bad options: a clear message (exit status 2 from the command)', () => {
    const table: [string[], RegExp][] = [
      [[], /--listen is required/],
      [['--listen', '1090'], /--target is required/],
      [['--listen', 'x:y', '--target', 'h:1'], /invalid --listen/],
      [['--listen', '1090', '--target', 'ftp://h'], /--target must be/],
      [['--listen', '1090', '--target', 'h:1', '--rate', 'fast'], /invalid size "fast"/],
      [['--listen', '1090', '--target', 'h:1', '--rate', '0'], /--rate must be more than 0/],
      [['--listen', '1090', '--target', 'h:1', '--latency', 'soon'], /invalid duration/],
      [
        ['--listen', '1090', '--target', 'h:1', '--cut-after', '1', '--cut-random', '1-2'],
        /exclude each other/,
      ],
      [['--listen', '1090', '--target', 'h:1', '--cut-random', '9-2'], /MIN is larger/],
      [['--listen', '1090', '--target', 'h:1', '--cut-random', '9'], /invalid --cut-random/],
      [['--listen', '1090', '--target', 'h:1', '--cuts', 'some'], /invalid --cuts/],
      [['--listen', '1090', '--target', 'h:1', '--seed', '5'], /--seed goes with --cut-random/],
      [['--listen', '1090', '--target', 'h:1', '--bogus'], /Unknown option '--bogus'/],
    ]
    for (const [args, message] of table) assert.throws(() => parseProxyArgs(args), message)
    const parsed = parseProxyArgs([
      '--listen',
      '1090',
      '--target',
      'h:1',
      '--rate',
      '1MB',
      '--down-rate',
      '2KiB',
      '--latency',
      '50ms',
      '--cut-random',
      '1KB-2KB',
      '--cuts',
      'all',
      '--seed',
      '9',
    ])
    assert.notEqual(parsed, 'help')
    if (parsed === 'help') return
    assert.deepEqual(parsed.proxy, {
      target: { host: 'h', port: 1 },
      host: '127.0.0.1',
      port: 1090,
      bytesPerSecond: 1_000_000,
      downstreamBytesPerSecond: 2048,
      latencyMs: 50,
      cutRandom: { min: 1000, max: 2000 },
      cuts: Number.POSITIVE_INFINITY,
      seed: 9,
    })

    const bad = spawnSync(process.execPath, ['--import', 'tsx', RUN, 'proxy', '--cuts', 'x'], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    assert.equal(bad.status, 2)
    assert.match(bad.stderr, /ferry proxy: --listen is required/)
    const help = spawnSync(process.execPath, ['--import', 'tsx', RUN, 'proxy', '--help'], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    assert.equal(help.status, 0)
    for (const flag of ['--listen', '--target', '--rate', '--latency', '--cut-random', '--seed'])
      assert.match(help.stdout, new RegExp(flag))
  })

  test('parseListen and parseTarget', () => {
    assert.deepEqual(parseListen('1090'), { host: '127.0.0.1', port: 1090 })
    assert.deepEqual(parseListen('0.0.0.0:1090'), { host: '0.0.0.0', port: 1090 })
    assert.deepEqual(parseListen('[::1]:1090'), { host: '::1', port: 1090 })
    assert.throws(() => parseListen('70000'), /invalid --listen/)
    assert.deepEqual(parseTarget('http://example.org/files/'), { host: 'example.org', port: 80 })
    assert.deepEqual(parseTarget('https://example.org'), { host: 'example.org', port: 443 })
    assert.deepEqual(parseTarget('[::1]:8080'), { host: '::1', port: 8080 })
    assert.deepEqual(parseTarget('localhost:1080'), { host: 'localhost', port: 1080 })
  })
})
