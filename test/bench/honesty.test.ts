/**
 * The numbers of `ferry bench` are computed honestly: each is checked against what a test server
 * (test-server.ts) did — how long it slept per request type, which requests it failed, what it
 * received through a cutting fault proxy, which byte it corrupted. Small sizes; the only timing
 * bounds are those the sleeping server makes certain (a latency is at least the sleep), with
 * generous upper bounds for a shared, slow machine.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runBench } from '../../src/bench/engine.ts'
import { startTestServer } from './test-server.ts'

/** Generous: the machine is shared; only lower bounds are certain. */
const SLACK_MS = 1500

test('latency percentiles per request type match the sleeps of the server', async () => {
  // Every 10th PATCH sleeps 300 ms, the others 100 ms: 20 PATCHes give p50 and p90 at ~100 ms
  // (nearest rank 10 and 18 of 20) and p99 and max at ~300 ms (rank 20).
  const server = await startTestServer({
    sleepMs: { POST: 50, PATCH: (n) => (n % 10 === 0 ? 300 : 100), HEAD: 0, OPTIONS: 0 },
  })
  try {
    const r = await runBench({
      endpoint: server.endpoint,
      uploads: 5,
      size: 64 * 1024,
      chunkSize: 16 * 1024,
      concurrency: 1,
      protocol: 'tus',
      verify: 'none',
    })
    assert.equal(r.uploads.completed, 5)
    const post = r.latencyMs.POST
    const patch = r.latencyMs.PATCH
    assert.ok(post !== undefined && patch !== undefined)
    assert.equal(post.count, 5)
    assert.equal(patch.count, 20)
    for (const v of [post.p50, post.p90, post.p99, post.max]) {
      assert.ok(v >= 50 && v < 50 + SLACK_MS, `POST ${v} ms`)
    }
    for (const v of [patch.p50, patch.p90]) {
      assert.ok(v >= 100 && v < 300, `PATCH p50/p90 ${v} ms: the 100 ms sleeps`)
    }
    for (const v of [patch.p99, patch.max]) {
      assert.ok(v >= 300 && v < 300 + SLACK_MS, `PATCH p99/max ${v} ms: the 300 ms sleeps`)
    }
    // Whole uploads: a POST and four PATCHes each, one of them maybe slow.
    assert.ok(r.uploadMs.p50 >= 50 + 4 * 100, `upload p50 ${r.uploadMs.p50} ms`)
  } finally {
    await server.close()
  }
})

test('throughput is payload bytes / elapsed, and elapsed covers every sleep', async () => {
  const server = await startTestServer({ sleepMs: { POST: 50, PATCH: 100 } })
  try {
    const t0 = performance.now()
    const r = await runBench({
      endpoint: server.endpoint,
      uploads: 4,
      size: 32 * 1024,
      concurrency: 1,
      protocol: 'tus',
      verify: 'none',
    })
    const wall = (performance.now() - t0) / 1000
    assert.equal(r.uploads.completed, 4)
    assert.equal(r.bytes.payload, 4 * 32 * 1024)
    assert.equal(r.throughputMBps, r.bytes.payload / 1e6 / r.elapsedSeconds)
    assert.equal(r.uploadsPerSecond, 4 / r.elapsedSeconds)
    // One at a time: four POSTs (50 ms) and four PATCHes (100 ms) lie inside `elapsed`.
    assert.ok(r.elapsedSeconds >= 4 * 0.15, `elapsed ${r.elapsedSeconds} s`)
    assert.ok(r.elapsedSeconds <= wall, `elapsed ${r.elapsedSeconds} s within ${wall} s`)
    assert.ok(r.elapsedSeconds < 4 * 0.15 + 10, `elapsed ${r.elapsedSeconds} s`)
    // The timeline ends at the payload, at the elapsed time.
    const last = r.timeline[r.timeline.length - 1]
    assert.deepEqual(last, { t: r.elapsedSeconds, bytes: r.bytes.payload })
    assert.equal(r.bytes.sent, r.bytes.payload)
    assert.equal(r.bytes.resent, 0)
    assert.equal(r.resumes, 0)
    assert.deepEqual(r.errors, {})
  } finally {
    await server.close()
  }
})

test('re-sent bytes through a cutting proxy: what was sent beyond what the server kept', async () => {
  const server = await startTestServer()
  try {
    const size = 64 * 1024
    const chunk = 16 * 1024
    const r = await runBench({
      endpoint: server.endpoint,
      uploads: 3,
      size,
      chunkSize: chunk,
      concurrency: 1,
      protocol: 'tus',
      verify: 'download',
      retryDelayMs: 10,
      // Each of the first two connections is cut inside the body of its second PATCH.
      faults: { cutAfterBytes: 20_000, cuts: 2 },
    })
    assert.equal(r.uploads.completed, 3)
    assert.equal(r.verification.ok, 3)
    assert.equal(r.proxy?.cuts, 2)
    const cut = server.received.filter((x) => x.aborted)
    assert.equal(cut.length, 2, 'the server saw two PATCHes end early')
    // What the server received through the proxy: every payload byte exactly once (it keeps
    // the bytes of an interrupted PATCH) …
    const patches = server.received.filter((x) => x.method === 'PATCH')
    const delivered = patches.reduce((a, x) => a + x.received, 0)
    assert.equal(delivered, r.bytes.payload)
    // … so what the client sent again is what it had written into the cut connections beyond
    // what arrived: the rest of each cut chunk (a 16 KiB chunk is written at once).
    const lost = cut.reduce((a, x) => a + (x.declared - x.received), 0)
    assert.ok(lost > 0)
    assert.equal(r.bytes.resent, lost)
    assert.equal(r.bytes.sent, r.bytes.payload + r.bytes.resent)
    assert.equal(r.resumes, 2)
    assert.equal(r.latencyMs.HEAD?.count, 2, 'one HEAD per resume')
    assert.equal(r.errors.ECONNRESET, 2)
  } finally {
    await server.close()
  }
})

test('errors are counted by kind, as the server failed them; failed content counts as re-sent', async () => {
  const server = await startTestServer({
    // Every third PATCH answers 503 (its content dropped); the second POST answers 500.
    fail: (method, n) =>
      method === 'PATCH' && n % 3 === 0 ? 503 : method === 'POST' && n === 2 ? 500 : undefined,
  })
  try {
    const chunk = 8 * 1024
    const r = await runBench({
      endpoint: server.endpoint,
      uploads: 4,
      size: 32 * 1024,
      chunkSize: chunk,
      concurrency: 2,
      protocol: 'tus',
      verify: 'download',
      retryDelayMs: 10,
    })
    assert.equal(r.uploads.completed, 4)
    assert.equal(r.verification.ok, 4)
    const n503 = server.failures.get(503) ?? 0
    assert.ok(n503 >= 5, `${n503} PATCHes failed`)
    assert.deepEqual(r.errors, { 'HTTP 503': n503, 'HTTP 500': 1 })
    assert.equal(r.resumes, n503 + 1)
    // A failed PATCH's chunk was sent in full and dropped: it is sent again.
    assert.equal(r.bytes.resent, n503 * chunk)
    assert.equal(r.bytes.sent, r.bytes.payload + n503 * chunk)
  } finally {
    await server.close()
  }
})

test('failed uploads are counted by their error code', async () => {
  const server = await startTestServer({ fail: (method) => (method === 'PATCH' ? 503 : undefined) })
  try {
    const r = await runBench({
      endpoint: server.endpoint,
      uploads: 2,
      size: 1024,
      concurrency: 2,
      protocol: 'tus',
      verify: 'download',
      retries: 1,
      retryDelayMs: 1,
    })
    assert.equal(r.uploads.completed, 0)
    assert.equal(r.uploads.failed, 2)
    assert.equal(r.verification.checked, 0)
    assert.equal(r.throughputMBps, 0)
    assert.equal(Object.keys(r.errors).filter((k) => k.startsWith('upload ')).length, 1)
    const [kind, n] = Object.entries(r.errors).find(([k]) => k.startsWith('upload ')) ?? []
    assert.match(String(kind), /^upload ERR_/)
    assert.equal(n, 2)
    assert.equal(r.errors['HTTP 503'], server.failures.get(503))
  } finally {
    await server.close()
  }
})

test('verification downloads every upload and catches a corrupted byte', async () => {
  const server = await startTestServer({ corruptUpload: 2 })
  try {
    const r = await runBench({
      endpoint: server.endpoint,
      uploads: 4,
      size: 40_000,
      concurrency: 2,
      protocol: 'tus',
    })
    assert.equal(r.uploads.completed, 4, 'the uploads themselves succeeded')
    assert.equal(r.verification.checked, 4)
    assert.equal(r.verification.ok, 3)
    assert.equal(r.verification.failed, 1)
    assert.equal(r.errors.integrity, 1)
    assert.equal(r.latencyMs['GET (verify)']?.count, 4)
  } finally {
    await server.close()
  }
})
