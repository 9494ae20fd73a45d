/**
 * Readiness for load balancers: the handler's readiness() (store and locker checks, coalesced,
 * bounded in time, logged on change) and the node adapter's health path over HTTP/1.1 and h2c.
 * The S3 store's and the Redis locker's checks against the real services are in
 * test/stores/s3.test.ts and test/multi/faults.test.ts.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http2 from 'node:http2'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { createMemoryLocker } from '../../src/lock/memory.ts'
import type { Locker } from '../../src/lock/types.ts'
import { isUploadError } from '../../src/protocol/errors.ts'
import { createUploadHandler, READINESS_TIMEOUT_MS } from '../../src/server/handler.ts'
import type { Logger } from '../../src/server/options.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { UploadStore } from '../../src/store/types.ts'
import { createDiskStore } from '../../src/stores/disk/index.ts'
import { rawRequest } from '../support/raw-http.ts'
import { startServer } from '../support/servers.ts'

/** A memory store whose ping is whatever the test says now. */
function pingableStore(): UploadStore & {
  ping: () => Promise<void>
  pings: number
  fail: Error | undefined
} {
  const base = createMemoryStore()
  const store = Object.assign(Object.create(null) as object, base, {
    pings: 0,
    fail: undefined as Error | undefined,
    async ping(this: { pings: number; fail: Error | undefined }) {
      this.pings++
      await new Promise((r) => setTimeout(r, 20))
      if (this.fail !== undefined) throw this.fail
    },
  })
  return store as UploadStore & {
    ping: () => Promise<void>
    pings: number
    fail: Error | undefined
  }
}

function recordingLogger(): Logger & { events: { level: string; event: string }[] } {
  const events: { level: string; event: string }[] = []
  const at =
    (level: string) =>
    (event: string): void => {
      events.push({ level, event })
    }
  return { events, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

test('readiness: checks what the store and locker can check; a failure is logged once, the recovery too', async () => {
  // The memory store and locker have nothing to check: ready, no checks.
  const plain = createUploadHandler({ store: createMemoryStore() })
  assert.deepEqual(await plain.readiness(), { ready: true, draining: false, checks: {} })

  const store = pingableStore()
  const logger = recordingLogger()
  let lockFails = false
  const locker: Locker = Object.assign(createMemoryLocker(), {
    async ping() {
      if (lockFails) throw new Error('connection refused')
    },
  })
  const handler = createUploadHandler({ store, locker, logger })
  assert.deepEqual(await handler.readiness(), {
    ready: true,
    draining: false,
    checks: { store: 'ok', lock: 'ok' },
  })

  store.fail = new Error('bucket gone')
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await handler.readiness(), {
      ready: false,
      draining: false,
      checks: { store: 'unavailable', lock: 'ok' },
    })
  }
  lockFails = true
  assert.deepEqual((await handler.readiness()).checks, {
    store: 'unavailable',
    lock: 'unavailable',
  })
  store.fail = undefined
  lockFails = false
  assert.equal((await handler.readiness()).ready, true)
  const events = logger.events.filter((e) => e.event !== 'ResponseOutgoing')
  assert.deepEqual(
    events.map((e) => `${e.level} ${e.event}`),
    [
      'warn ReadinessCheckFailed', // the store, once for three probes
      'info ReadinessChanged', // not ready
      'warn ReadinessCheckFailed', // the locker
      'info ReadinessChanged', // ready again
    ],
  )
})

test('readiness: concurrent probes share one check; a check that hangs counts as unavailable after the limit', async () => {
  const store = pingableStore()
  const handler = createUploadHandler({ store })
  const all = await Promise.all([handler.readiness(), handler.readiness(), handler.readiness()])
  assert.equal(store.pings, 1)
  assert.ok(all.every((r) => r.ready))

  const hanging = createUploadHandler({
    store: Object.assign(createMemoryStore(), { ping: () => new Promise<void>(() => {}) }),
  })
  const started = Date.now()
  const r = await hanging.readiness()
  const took = Date.now() - started
  assert.deepEqual(r, { ready: false, draining: false, checks: { store: 'unavailable' } })
  assert.ok(took >= READINESS_TIMEOUT_MS - 50 && took < READINESS_TIMEOUT_MS + 1500, `${took} ms`)
})

test('readiness: a shutting-down handler is draining (not ready) even though its store answers', async () => {
  const handler = createUploadHandler({ store: pingableStore() })
  await handler.close(100)
  assert.deepEqual(await handler.readiness(), {
    ready: false,
    draining: true,
    checks: { store: 'ok' },
  })
})

test('disk store ping: a usable directory answers; a directory that cannot exist (a file in its place) is ERR_STORE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-ping-'))
  try {
    await createDiskStore({ directory: join(dir, 'uploads') }).ping?.()
    writeFileSync(join(dir, 'file'), 'x')
    await assert.rejects(
      createDiskStore({ directory: join(dir, 'file', 'uploads') }).ping?.() ?? Promise.resolve(),
      (e: unknown) => isUploadError(e) && e.code === 'ERR_STORE',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('health path over HTTP/1.1: GET and HEAD answer 200 or 503 with a JSON status; other methods 405; other paths go to the handler', async () => {
  const store = pingableStore()
  const server = await startServer({ store, transport: { healthPath: '/healthz' } })
  try {
    const get = async (path = '/healthz', method = 'GET') => {
      const r = await rawRequest({ port: server.port, method, path, headers: {} })
      assert.ok(r.final !== undefined)
      return r.final
    }
    const ok = await get('/healthz?probe=lb')
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['content-type'], 'application/json')
    assert.equal(ok.headers['cache-control'], 'no-store')
    assert.deepEqual(JSON.parse(ok.body.toString('utf8')), {
      status: 'ready',
      checks: { store: 'ok' },
    })
    const head = await get('/healthz', 'HEAD')
    assert.equal(head.status, 200)
    assert.equal(head.body.length, 0)

    store.fail = new Error('gone')
    const down = await get()
    assert.equal(down.status, 503)
    assert.deepEqual(JSON.parse(down.body.toString('utf8')), {
      status: 'unavailable',
      checks: { store: 'unavailable' },
    })
    // The cause stays in the log: the body says which check, not why.
    assert.ok(!down.body.toString('utf8').includes('gone'))

    const post = await get('/healthz', 'POST')
    assert.equal(post.status, 405)
    assert.equal(post.headers.allow, 'GET, HEAD')
    assert.equal((await get('/healthz/more')).status, 404)
    assert.equal((await get('/files/', 'OPTIONS')).status, 204)
  } finally {
    await server.close()
  }
})

test('a prober that goes away while the checks run (HTTP/2 stream reset, HTTP/1.1 socket closed) does not hurt the server', async () => {
  const store = pingableStore() // each ping takes 20 ms
  const server = await startServer({ store, transport: { h2c: true, healthPath: '/ready' } })
  const h1 = await startServer({ store, transport: { healthPath: '/ready' } })
  const session = http2.connect(`http://127.0.0.1:${server.port}`)
  try {
    for (let i = 0; i < 5; i++) {
      const req = session.request({ ':path': '/ready' })
      req.on('error', () => undefined)
      req.close(http2.constants.NGHTTP2_CANCEL)
      const socket = net.connect(h1.port, '127.0.0.1')
      socket.on('error', () => undefined)
      socket.write('GET /ready HTTP/1.1\r\nhost: x\r\n\r\n', () => socket.destroy())
    }
    await new Promise((r) => setTimeout(r, 100))
    const after = await rawRequest({ port: h1.port, method: 'GET', path: '/ready' })
    assert.equal(after.final?.status, 200)
    const again = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/ready' })
      req.on('response', (h) => resolve(Number(h[':status'])))
      req.on('error', reject)
      req.resume()
    })
    assert.equal(again, 200)
  } finally {
    session.close()
    await Promise.all([server.close(), h1.close()])
  }
})

test('health path over h2c, and draining while the server closes', async () => {
  const server = await startServer({
    store: pingableStore(),
    transport: { h2c: true, healthPath: '/ready' },
  })
  const session = http2.connect(`http://127.0.0.1:${server.port}`)
  const get = (): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/ready' })
      let status = 0
      let body = ''
      req.on('response', (h) => {
        status = Number(h[':status'])
      })
      req.setEncoding('utf8')
      req.on('data', (d: string) => {
        body += d
      })
      req.on('end', () => resolve({ status, body }))
      req.on('error', reject)
    })
  try {
    const r = await get()
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.body).status, 'ready')
    await server.handler.close(100)
    const draining = await get()
    assert.equal(draining.status, 503)
    assert.equal(JSON.parse(draining.body).status, 'draining')
  } finally {
    session.close()
    await server.close()
  }
})
