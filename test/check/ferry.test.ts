/**
 * `ferry check` against a real `ferry serve`: every MUST holds, over HTTP/1.1 (all interop
 * versions, expiration checks included) and over TLS, where the HTTP/2 checks run. The runs go
 * side by side to stay within CI time, with the CLI once (exit status 0, valid JSON).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runChecks } from '../../src/check/runner.ts'
import type { Report } from '../../src/check/types.ts'
import {
  type FerryProcess,
  selfSignedCertificate,
  spawnFerry,
  tempDir,
} from '../support/servers.ts'

const ROOT = new URL('../../', import.meta.url).pathname

/** Every result that is not a PASS, one per line (with the last trace lines of failures). */
function notPassed(report: Report, traces = true): string {
  return report.results
    .filter((r) => r.status !== 'PASS')
    .map(
      (r) =>
        `${r.status} ${r.id}: ${r.reason ?? ''}${traces && r.status === 'FAIL' && r.trace !== undefined ? `\n    ${r.trace.slice(-12).join('\n    ')}` : ''}`,
    )
    .join('\n')
}

/** The report's summary and its WARN, SKIP and FAIL lines as test diagnostics. */
function diagnose(t: { diagnostic(message: string): void }, report: Report, ms: number): void {
  const s = report.summary
  t.diagnostic(
    `${report.results.length} checks in ${ms.toFixed(0)} ms: ${s.PASS} PASS, ${s.FAIL} FAIL, ${s.WARN} WARN, ${s.SKIP} SKIP`,
  )
  for (const line of notPassed(report, false).split('\n')) if (line !== '') t.diagnostic(line)
}

function assertConformant(report: Report, label: string): void {
  const s = report.summary
  const message = `${label}: ${s.PASS} PASS, ${s.FAIL} FAIL, ${s.WARN} WARN, ${s.SKIP} SKIP\n${notPassed(report)}`
  assert.equal(s.FAIL, 0, message)
  assert.ok(report.ok, message)
  assert.ok(s.PASS > 0, message)
}

describe('ferry check against ferry serve', { concurrency: true }, () => {
  const dirs = [tempDir('ferry-check-plain-'), tempDir('ferry-check-tls-'), tempDir('ferry-cert-')]
  const certificate = selfSignedCertificate()
  let plain: FerryProcess
  let secure: FerryProcess
  const certPath = join(dirs[2]?.path ?? '', 'cert.pem')
  const keyPath = join(dirs[2]?.path ?? '', 'key.pem')

  before(async () => {
    writeFileSync(certPath, certificate.cert)
    writeFileSync(keyPath, certificate.key)
    ;[plain, secure] = await Promise.all([
      spawnFerry(['--dir', dirs[0]?.path ?? '', '--expire-after', '2s']),
      spawnFerry([
        '--dir',
        dirs[1]?.path ?? '',
        '--expire-after',
        '2s',
        '--tls-cert',
        certPath,
        '--tls-key',
        keyPath,
      ]),
    ])
  })
  after(async () => {
    await Promise.all([plain?.stop(), secure?.stop()])
    for (const d of dirs) d.cleanup()
    certificate.cleanup()
  })

  test('HTTP/1.1, every interop version, expiration included: no MUST fails', async (t) => {
    const started = performance.now()
    const report = await runChecks(plain.endpoint, { timeoutMs: 10_000, expireWaitMs: 4000 })
    diagnose(t, report, performance.now() - started)
    assert.equal(report.discovery.ietf, 'interop 3, 4, 5, 6, 7, 8, 9, 10')
    assert.match(report.discovery.tus, /^1\.0\.0 \(creation/)
    assertConformant(report, 'ferry serve over HTTP/1.1')
  })

  test('TLS with ALPN h2: the HTTP/2 checks (and a cut through the fault proxy) pass', async (t) => {
    const started = performance.now()
    // HTTP/1.1 over TLS repeats what the first run proves (at ~50 ms per request, see the
    // report); the HTTP/2 checks are what TLS adds, plus a TLS connection cut on the wire.
    const report = await runChecks(secure.endpoint, {
      timeoutMs: 10_000,
      expireWaitMs: 0,
      only: '/(^|\\.)h2\\.|chunked-cut/',
      ca: certificate.cert,
    })
    diagnose(t, report, performance.now() - started)
    assert.equal(report.discovery.http2, true, 'discovery found HTTP/2 (ALPN h2)')
    const h2 = report.results.filter((r) => /(^|\.)h2\./.test(r.id))
    assert.ok(h2.length > 0, 'there are HTTP/2 checks')
    assert.deepEqual(
      h2.filter((r) => r.status === 'SKIP').map((r) => `${r.id}: ${r.reason ?? ''}`),
      [],
      'no HTTP/2 check is skipped',
    )
    assert.ok(
      report.results.some((r) => r.id.endsWith('chunked-cut') && r.status === 'PASS'),
      'a TLS connection cut by the fault proxy',
    )
    assertConformant(report, 'ferry serve over TLS')
  })

  test('the CLI: ferry check --json exits 0 and prints the report as JSON', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'src/cli/run.ts'),
        'check',
        plain.endpoint,
        '--json',
        '--protocol',
        'ietf',
        '--interop',
        '10',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    let report: Report
    try {
      report = JSON.parse(stdout) as Report
    } catch {
      assert.fail(`stdout is not JSON:\n${stdout.slice(0, 2000)}\n${stderr}`)
    }
    assert.equal(code, 0, `exit status ${code}\n${notPassed(report)}\n${stderr}`)
    assert.equal(report.ok, true)
    assert.equal(report.endpoint, plain.endpoint)
    assert.equal(report.discovery.ietf, 'interop 10')
    assert.ok(Array.isArray(report.results) && report.results.length > 0)
  })
})
