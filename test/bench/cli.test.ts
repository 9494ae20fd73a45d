/**
 * `ferry bench` end to end against a real Ferry server (in this process, disk store): the JSON
 * report's shape, the SVG chart, one-request uploads in both protocols, digest verification, and
 * the exit status when an upload does not verify.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { startServer, tempDir } from '../support/servers.ts'
import { startTestServer } from './test-server.ts'

const RUN = new URL('../../src/cli/run.ts', import.meta.url).pathname

/** Runs the CLI asynchronously (the servers live in this process). */
function bench(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN, 'bench', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

test('ferry bench --json against Ferry: the report shape, every upload verified, an SVG chart', async () => {
  const server = await startServer()
  const dir = tempDir()
  try {
    const svg = join(dir.path, 'chart.svg')
    const r = await bench([
      server.endpoint,
      '-n',
      '6',
      '-s',
      '300KiB',
      '-c',
      '3',
      '--chunk-size',
      '128KiB',
      '--protocol',
      'ietf',
      '--interop',
      '8',
      '--json',
      '--plot',
      svg,
    ])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr, '', 'no progress line when stderr is not a terminal')
    const report = JSON.parse(r.stdout) as Record<string, unknown>
    assert.deepEqual(Object.keys(report).sort(), [
      'bytes',
      'elapsedSeconds',
      'endpoint',
      'errors',
      'latencyMs',
      'protocol',
      'proxy',
      'resumes',
      'settings',
      'startedAt',
      'throughputMBps',
      'timeline',
      'uploadMs',
      'uploads',
      'uploadsPerSecond',
      'verification',
    ])
    assert.equal(report.protocol, 'ietf-8')
    assert.deepEqual(report.uploads, { total: 6, completed: 6, failed: 0 })
    assert.deepEqual(report.bytes, { payload: 6 * 300 * 1024, sent: 6 * 300 * 1024, resent: 0 })
    const v = report.verification as Record<string, unknown>
    assert.equal(v.method, 'download')
    assert.equal(v.ok, 6)
    assert.equal(v.failed, 0)
    const latency = report.latencyMs as Record<string, Record<string, number>>
    // 300 KiB in 128 KiB requests: a creation with the first chunk (104 seen), two appends.
    assert.equal(latency.POST?.count, 6)
    assert.equal(latency.PATCH?.count, 12)
    assert.equal(latency['GET (verify)']?.count, 6)
    for (const s of Object.values(latency)) {
      assert.deepEqual(Object.keys(s).sort(), ['count', 'max', 'mean', 'p50', 'p90', 'p99'])
      assert.ok((s.p50 as number) <= (s.p90 as number) && (s.p90 as number) <= (s.max as number))
    }
    assert.equal(report.proxy, null)
    const chart = readFileSync(svg, 'utf8')
    assert.match(chart, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    assert.match(chart, /<polyline /)
    assert.match(chart, /MB\/s/)
  } finally {
    dir.cleanup()
    await server.close()
  }
})

test('ferry bench --single-request: tus creation-with-upload and draft Upload-Complete: ?1, one POST each', async () => {
  const server = await startServer()
  try {
    for (const protocol of ['tus', 'ietf']) {
      const r = await bench([
        server.endpoint,
        '-n',
        '20',
        '-s',
        '1KiB',
        '-c',
        '5',
        '--protocol',
        protocol,
        '--single-request',
        '--json',
      ])
      assert.equal(r.status, 0, r.stderr)
      const report = JSON.parse(r.stdout) as {
        uploads: { completed: number }
        latencyMs: Record<string, { count: number }>
        verification: { ok: number }
      }
      assert.equal(report.uploads.completed, 20)
      assert.deepEqual(Object.keys(report.latencyMs).sort(), ['GET (verify)', 'POST'])
      assert.equal(report.latencyMs.POST?.count, 20)
      assert.equal(report.verification.ok, 20)
    }
  } finally {
    await server.close()
  }
})

test('ferry bench --verify digest: the Repr-Digest Ferry confirms on completion', async () => {
  const server = await startServer()
  try {
    const r = await bench([
      server.endpoint,
      '-n',
      '3',
      '-s',
      '100KB',
      '--protocol',
      'ietf',
      '--verify',
      'digest',
    ])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /verified 3\/3 \(Repr-Digest sha-256/)
    assert.doesNotMatch(r.stdout, /GET \(verify\)/)
  } finally {
    await server.close()
  }
})

test('ferry bench exits 1 when an upload does not verify, and says so', async () => {
  const server = await startTestServer({ corruptUpload: 0 })
  try {
    const r = await bench([server.endpoint, '-n', '2', '-s', '10KB', '--protocol', 'tus'])
    assert.equal(r.status, 1)
    assert.match(r.stdout, /verified 1\/2 .*1 FAILED/)
    assert.match(r.stdout, /errors {7}integrity: 1/)
  } finally {
    await server.close()
  }
})
